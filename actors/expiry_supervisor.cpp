// SPDX-License-Identifier: MIT
#include "actors/expiry_supervisor.hpp"

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

namespace regcore::actors {

namespace {

struct heap_entry {
  core::time_point deadline;
  expiry_owner_actor owner;
  std::string key;
};

struct later_first {
  bool operator()(const heap_entry& x, const heap_entry& y) const noexcept {
    return x.deadline > y.deadline;
  }
};

struct expiry_state {
  std::priority_queue<heap_entry, std::vector<heap_entry>, later_first> heap;
  expiry_config cfg;
  /// Time of the armed tick; epoch while none is armed. Ticks for other
  /// times are leftovers of an earlier arming (timers cannot be cancelled).
  core::time_point armed_at{};
  bool armed = false;
  /// Set until resume_atom (expiry_config::held): no tick is armed.
  bool held = false;
  expiry_stats stats;
  static inline const char* name = "regcore.expiry_supervisor";
};

using expiry_self = expiry_supervisor_actor::stateful_pointer<expiry_state>;

/// Rounds `x` up to the configured granularity.
core::time_point slot_of(const expiry_config& cfg, core::time_point x) {
  auto g = std::chrono::duration_cast<core::duration>(cfg.granularity);
  if (g.count() <= 0)
    return x;
  auto since = x.time_since_epoch();
  auto slots = (since.count() + g.count() - 1) / g.count();
  return core::time_point{core::duration{slots * g.count()}};
}

/// Makes sure a tick comes no later than the slot of `deadline`.
void arm(expiry_self self, core::time_point deadline) {
  auto& st = self->state;
  if (st.held)
    return; // resume_atom arms the earliest
  auto now = self->clock().now();
  auto when = std::max(slot_of(st.cfg, deadline), now);
  if (st.armed && st.armed_at <= when)
    return; // an earlier (or the same) tick is already on its way
  st.armed = true;
  st.armed_at = when;
  self->delayed_send(self, when - now, tick_atom::value, when);
}

void fire_due(expiry_self self) {
  auto& st = self->state;
  auto now = self->clock().now();
  // Group by owner: one expiry_due per owner per tick.
  std::unordered_map<caf::actor_addr, std::pair<expiry_owner_actor, expiry_due>>
    batches;
  while (!st.heap.empty() && st.heap.top().deadline <= now) {
    // priority_queue::top is const; the entry is popped right after.
    auto& top = const_cast<heap_entry&>(st.heap.top());
    auto& slot = batches[top.owner.address()];
    if (!slot.first)
      slot.first = top.owner;
    slot.second.entries.push_back(expiry_entry{std::move(top.key), top.deadline});
    st.heap.pop();
    ++st.stats.fired;
  }
  for (auto& kvp : batches) {
    self->send(kvp.second.first, std::move(kvp.second.second));
    ++st.stats.batches;
  }
}

void add(expiry_self self, expiry_schedule& x) {
  if (!x.owner)
    return;
  auto deadline = x.deadline;
  self->state.heap.push(heap_entry{deadline, std::move(x.owner), std::move(x.key)});
  arm(self, deadline);
}

expiry_supervisor_actor::behavior_type
expiry_supervisor(expiry_self self, expiry_config cfg) {
  self->state.cfg = cfg;
  self->state.held = cfg.held;
  return {
    [=](expiry_schedule& x) { add(self, x); },
    [=](expiry_schedule_batch& xs) {
      for (auto& x : xs.items)
        add(self, x);
    },
    [=](tick_atom, core::time_point when) {
      auto& st = self->state;
      if (st.armed && st.armed_at == when)
        st.armed = false;
      ++st.stats.ticks;
      fire_due(self);
      if (!st.heap.empty())
        arm(self, st.heap.top().deadline);
    },
    [=](resume_atom) {
      auto& st = self->state;
      if (!st.held)
        return;
      st.held = false;
      if (!st.heap.empty())
        arm(self, st.heap.top().deadline);
    },
    [=](stats_atom) {
      auto result = self->state.stats;
      result.pending = self->state.heap.size();
      return result;
    },
  };
}

} // namespace

expiry_supervisor_actor spawn_expiry_supervisor(caf::actor_system& sys,
                                                expiry_config cfg) {
  return sys.spawn(expiry_supervisor, cfg);
}

} // namespace regcore::actors
