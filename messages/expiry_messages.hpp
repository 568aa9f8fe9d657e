// SPDX-License-Identifier: MIT
#pragma once

// Messages of the expiry supervisor, the engine's only timer source.
//
// Protocol (see docs/ARCHITECTURE.md, "Time and expiry"):
//   owner -> expiry supervisor : expiry_schedule{owner, key, deadline}
//   expiry supervisor -> owner : expiry_due{entries}   (one per owner per tick)
// An owner schedules only its *next* deadline per key and keeps the deadline
// it scheduled; a wake-up whose deadline is not the one it last scheduled is
// stale (the owner re-checked or refreshed since). On every wake-up the owner
// expires whatever is due at its `now` and schedules its next deadline. So
// nothing is ever cancelled (CAF 0.17 cannot cancel timers anyway), and the
// supervisor's heap holds O(owners' keys) entries, not one per refresh.

#include <cstdint>
#include <string>
#include <vector>

#include "core/time.hpp"

#include <caf/meta/type_name.hpp>
#include <caf/typed_actor.hpp>

namespace regcore {

/// One due key: the key and the deadline it was scheduled for.
struct expiry_entry {
  std::string key;
  core::time_point deadline{};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, expiry_entry& x) {
  return f(caf::meta::type_name("expiry_entry"), x.key, x.deadline);
}

/// Sent by the expiry supervisor to an owner: these keys are due.
struct expiry_due {
  std::vector<expiry_entry> entries;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, expiry_due& x) {
  return f(caf::meta::type_name("expiry_due"), x.entries);
}

/// Anything that owns deadlines: user actors, directory shards.
using expiry_owner_actor = caf::typed_actor<caf::reacts_to<expiry_due>>;

/// Asks the supervisor to wake `owner` for `key` at `deadline`.
struct expiry_schedule {
  expiry_owner_actor owner;
  std::string key;
  core::time_point deadline{};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, expiry_schedule& x) {
  return f(caf::meta::type_name("expiry_schedule"), x.owner, x.key,
           x.deadline);
}

/// Several schedules at once (what a shard batched in one run).
struct expiry_schedule_batch {
  std::vector<expiry_schedule> items;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, expiry_schedule_batch& x) {
  return f(caf::meta::type_name("expiry_schedule_batch"), x.items);
}

/// Counters of the expiry supervisor.
struct expiry_stats {
  /// Entries in the heap.
  uint64_t pending = 0;
  /// Entries delivered so far.
  uint64_t fired = 0;
  /// expiry_due messages sent so far (one per owner per tick).
  uint64_t batches = 0;
  /// Ticks that ran.
  uint64_t ticks = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, expiry_stats& x) {
  return f(caf::meta::type_name("expiry_stats"), x.pending, x.fired,
           x.batches, x.ticks);
}

} // namespace regcore
