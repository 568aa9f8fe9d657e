// SPDX-License-Identifier: MIT
#pragma once

// Helpers shared by the actor test suites: a config that knows every message
// type, and an event-bus subscriber that records what it gets. The SIP ones
// are in sip_support.hpp (include that before caf/test/dsl.hpp: its
// `allow` macro would clash with sip_message::allow()).

#include <string>
#include <utility>
#include <vector>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <unistd.h>

#include "actors/journal.hpp"
#include "messages/event_messages.hpp"
#include "messages/types.hpp"

#include <caf/all.hpp>

namespace regcore::test_support {

/// An actor system config that knows every message type of the system.
struct registered_types_config : caf::actor_system_config {
  registered_types_config() {
    messages::register_types(*this);
  }
};

// -- a recording event subscriber -------------------------------------------------

struct recorder_state {
  std::vector<caf::message> events;
};

/// Subscribe it to the bus (bus_subscribe{recorder, mask}); it keeps every
/// event and acknowledges every batch.
inline caf::behavior recorder(caf::stateful_actor<recorder_state>* self) {
  return {
    [=](event_batch& batch) {
      for (auto& m : batch.events)
        self->state.events.push_back(std::move(m));
      self->send(caf::actor_cast<caf::actor>(self->current_sender()), event_ack{});
    },
  };
}

// -- a temporary journal file ---------------------------------------------------------

/// A journal file name in the temporary directory, removed (with its WAL
/// files) before and after use.
struct temp_db {
  std::string path;
  temp_db() {
    static int n = 0;
    path = (std::filesystem::temp_directory_path()
            / ("regcore-persistence-" + std::to_string(getpid()) + "-"
               + std::to_string(++n) + ".db"))
             .string();
    remove_files();
  }
  ~temp_db() { remove_files(); }
  void remove_files() {
    auto logs = actors::journal::log_files(path);
    for (auto& file : {path, actors::journal::schema3_log_path(path)})
      for (auto suffix : {"", "-wal", "-shm"})
        std::remove((file + suffix).c_str());
    for (auto& file : logs)
      std::remove(file.c_str());
  }
};

/// Opens the journal at `path` (throws when it cannot: the test fails).
inline std::shared_ptr<actors::journal> open_journal(const std::string& path,
                                                     durability mode = durability::sync) {
  std::string err;
  auto j = actors::journal::open(path, mode, err);
  if (!j)
    throw std::runtime_error("cannot open journal: " + err);
  return std::shared_ptr<actors::journal>{std::move(j)};
}

} // namespace regcore::test_support
