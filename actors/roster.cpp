// SPDX-License-Identifier: MIT
#include "actors/roster.hpp"

#include <unordered_set>
#include <algorithm>
#include <string>
#include <unordered_map>

#include "core/sip_uri.hpp"

#include <caf/all.hpp>

namespace regcore::actors {

namespace {

struct roster_state {
  event_bus_actor bus;
  std::shared_ptr<std::atomic<uint32_t>> interest;
  std::unordered_map<std::string, std::unordered_set<std::string>> domains;
  static inline const char* name = "regcore.roster";
};

using roster_self = roster_actor::stateful_pointer<roster_state>;

void apply(roster_self self, roster_update& x) {
  auto& st = self->state;
  auto domain = std::string{core::aor_domain(x.aor)};
  bool notify = st.interest
                && (st.interest->load(std::memory_order_relaxed)
                    & event_bit(event_kind::buddy_list_updated));
  std::string member = notify ? x.aor : std::string{};
  auto& members = st.domains[domain];
  // A join moves the AOR into the set (the update is ours to consume).
  bool changed = x.joined ? members.insert(std::move(x.aor)).second
                          : members.erase(x.aor) > 0;
  if (members.empty())
    st.domains.erase(domain);
  if (changed && notify) {
    buddy_list_updated_event ev;
    ev.domain = std::move(domain);
    ev.member = std::move(member);
    ev.joined = x.joined;
    self->send(st.bus, make_event(std::move(ev)));
  }
}

roster_actor::behavior_type roster(roster_self self, event_bus_actor bus,
                                   std::shared_ptr<std::atomic<uint32_t>> interest) {
  self->state.interest = std::move(interest);
  self->state.bus = std::move(bus);
  return {
    [=](roster_update& x) { apply(self, x); },
    [=](roster_batch& xs) {
      for (auto& x : xs.updates)
        apply(self, x);
    },
    [=](roster_query& x) -> user_list {
      user_list result;
      auto& st = self->state;
      auto i = st.domains.find(std::string{core::aor_domain(x.aor)});
      if (i == st.domains.end())
        return result;
      result.users.reserve(i->second.size());
      for (auto& m : i->second)
        if (m != x.aor)
          result.users.push_back(m);
      std::sort(result.users.begin(), result.users.end());
      return result;
    },
  };
}

} // namespace

roster_actor spawn_roster(caf::actor_system& sys, event_bus_actor bus,
                          std::shared_ptr<std::atomic<uint32_t>> interest) {
  return sys.spawn(roster, std::move(bus), std::move(interest));
}

} // namespace regcore::actors
