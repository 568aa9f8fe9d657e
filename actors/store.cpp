// SPDX-License-Identifier: MIT
#include "actors/store.hpp"

#include <spdlog/spdlog.h>

#include <caf/all.hpp>

#include "core/errc.hpp"
#include "messages/error.hpp"

namespace regcore::actors {

namespace {

struct store_state {
  std::shared_ptr<journal> j;
  /// Entries of the open group, in arrival order.
  std::vector<journal_entry> entries;
  /// Who waits for the open group's commit.
  std::vector<caf::typed_response_promise<caf::ok_atom>> waiting;
  bool flush_pending = false;
  uint64_t commits = 0;
  uint64_t written = 0;
  static inline const char* name = "regcore.store";
};

using store_self = store_actor::stateful_pointer<store_state>;

void commit(store_self self) {
  auto& st = self->state;
  st.flush_pending = false;
  if (st.waiting.empty())
    return;
  std::string error;
  auto n = st.entries.size();
  bool ok = st.j->write(std::move(st.entries), error);
  if (ok) {
    ++st.commits;
    st.written += n;
    for (auto& rp : st.waiting)
      rp.deliver(caf::ok_atom::value);
  } else {
    // Nothing of the group was applied; every owner hears it (a SIP client
    // gets a 500, not a 200 for a change that is not durable).
    spdlog::error("store: {}", error);
    auto err = core::make_caf_error(core::errc::storage_failed, "Journal write failed: " + error);
    for (auto& rp : st.waiting)
      rp.deliver(err);
  }
  st.entries.clear();
  st.waiting.clear();
  // The fold (journal.hpp) runs on a helper thread; between two group
  // commits the store only starts it or takes its result.
  if (!st.j->fold_due())
    return;
  auto folds = st.j->folds();
  if (!st.j->fold_step(error))
    spdlog::error("store: {}", error);
  else if (st.j->folds() != folds)
    spdlog::info("store: folded {} keys of the log into the keyed table in {} ms",
                 st.j->last_fold_keys(), st.j->last_fold_us() / 1000);
}

store_actor::behavior_type store(store_self self, std::shared_ptr<journal> j) {
  self->state.j = std::move(j);
  return {
    [=](journal_batch& batch) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      for (auto& e : batch.entries)
        st.entries.push_back(std::move(e));
      auto rp = self->make_response_promise<caf::ok_atom>();
      st.waiting.push_back(rp);
      if (!st.flush_pending) {
        st.flush_pending = true;
        self->send(self, flush_atom::value);
      }
      return rp;
    },
    [=](flush_atom) { commit(self); },
    [=](stats_atom) -> caf::result<uint64_t, uint64_t> {
      return {self->state.commits, self->state.written};
    },
  };
}

} // namespace

store_actor spawn_store(caf::actor_system& sys, std::shared_ptr<journal> j,
                        bool own_thread) {
  if (own_thread)
    return sys.spawn<caf::detached>(store, std::move(j));
  return sys.spawn(store, std::move(j));
}

} // namespace regcore::actors
