// SPDX-License-Identifier: MIT
#include "actors/event_bus.hpp"

#include <deque>
#include <unordered_map>

#include <caf/all.hpp>

namespace regcore::actors {

namespace {

struct subscriber_slot {
  caf::actor hdl;
  uint32_t mask = 0;
  std::deque<caf::message> queue;
  size_t in_flight = 0;
  uint64_t dropped = 0; // since the last batch
};

struct bus_state {
  event_bus_config cfg;
  std::shared_ptr<std::atomic<uint32_t>> interest;
  std::unordered_map<caf::actor_addr, subscriber_slot> subs;
  bus_stats stats;
  static inline const char* name = "regcore.event_bus";
};

using bus_self = event_bus_actor::stateful_pointer<bus_state>;

void update_interest(bus_self self) {
  auto& st = self->state;
  if (!st.interest)
    return;
  uint32_t mask = 0;
  for (auto& kvp : st.subs)
    mask |= kvp.second.mask;
  st.interest->store(mask, std::memory_order_relaxed);
}

void pump(bus_self self, subscriber_slot& s) {
  auto& st = self->state;
  while (s.in_flight < st.cfg.max_in_flight && !s.queue.empty()) {
    event_batch batch;
    auto n = std::min(s.queue.size(), st.cfg.max_batch);
    batch.events.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      batch.events.push_back(std::move(s.queue.front()));
      s.queue.pop_front();
    }
    batch.dropped = s.dropped;
    s.dropped = 0;
    ++s.in_flight;
    st.stats.delivered += n;
    ++st.stats.batches;
    // Sent as the bus so the subscriber can answer with event_ack.
    caf::send_as(caf::actor_cast<caf::actor>(self), s.hdl, std::move(batch));
  }
}

void publish(bus_self self, publish_event& x) {
  auto& st = self->state;
  ++st.stats.published;
  auto bit = event_bit(x.kind);
  for (auto& kvp : st.subs) {
    auto& s = kvp.second;
    if ((s.mask & bit) == 0)
      continue;
    if (s.queue.size() >= st.cfg.max_queue) {
      s.queue.pop_front();
      ++s.dropped;
      ++st.stats.dropped;
    }
    s.queue.push_back(x.event); // copy-on-write: shares the payload
    pump(self, s);
  }
}

event_bus_actor::behavior_type
event_bus(bus_self self, event_bus_config cfg,
          std::shared_ptr<std::atomic<uint32_t>> interest) {
  self->state.cfg = cfg;
  self->state.interest = std::move(interest);
  update_interest(self);
  self->set_down_handler([=](caf::down_msg& dm) {
    self->state.subs.erase(dm.source);
    update_interest(self);
  });
  return {
    [=](publish_event& x) { publish(self, x); },
    [=](publish_batch& xs) {
      for (auto& x : xs.events)
        publish(self, x);
    },
    [=](bus_subscribe& x) -> caf::result<caf::ok_atom> {
      if (!x.subscriber)
        return caf::make_error(caf::sec::invalid_argument, "no subscriber");
      auto addr = x.subscriber.address();
      auto& st = self->state;
      auto i = st.subs.find(addr);
      if (i == st.subs.end()) {
        self->monitor(x.subscriber); // once per subscriber (monitor is not idempotent)
        subscriber_slot s;
        s.hdl = std::move(x.subscriber);
        s.mask = x.mask;
        st.subs.emplace(addr, std::move(s));
      } else {
        i->second.mask = x.mask;
      }
      update_interest(self);
      return caf::ok_atom::value;
    },
    [=](bus_unsubscribe& x) {
      auto& st = self->state;
      auto i = st.subs.find(x.subscriber.address());
      if (i == st.subs.end())
        return;
      self->demonitor(i->second.hdl);
      st.subs.erase(i);
      update_interest(self);
    },
    [=](event_ack& x) {
      auto& st = self->state;
      auto sender = self->current_sender();
      if (!sender)
        return;
      auto i = st.subs.find(caf::actor_cast<caf::actor_addr>(sender));
      if (i == st.subs.end())
        return;
      auto& s = i->second;
      s.in_flight -= std::min<size_t>(s.in_flight, x.batches);
      pump(self, s);
    },
    [=](stats_atom) {
      auto result = self->state.stats;
      result.subscribers = self->state.subs.size();
      return result;
    },
  };
}

} // namespace

event_bus_actor spawn_event_bus(caf::actor_system& sys, event_bus_config cfg,
                                std::shared_ptr<std::atomic<uint32_t>> interest) {
  return sys.spawn(event_bus, cfg, std::move(interest));
}

} // namespace regcore::actors
