// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <memory>

#include "messages/interfaces.hpp"

#include <caf/actor_system.hpp>

namespace regcore::actors {

/// Spawns the roster actor: for each domain, the set of presence-enabled
/// registered users (auto-buddy lists). Membership costs O(users) memory in
/// all; "every member watches every other member" is answered from the set
/// when asked, never stored as N^2 subscriptions. Each join or leave is
/// published once as a buddy_list_updated event for the domain.
/// `interest` is the bus's interest mask (engine_refs::interest): without a
/// BuddyListUpdated subscriber no event is built.
roster_actor spawn_roster(caf::actor_system& sys, event_bus_actor bus,
                          std::shared_ptr<std::atomic<uint32_t>> interest = nullptr);

} // namespace regcore::actors
