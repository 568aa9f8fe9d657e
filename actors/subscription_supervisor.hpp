// SPDX-License-Identifier: MIT
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "actors/engine_refs.hpp"

#include <caf/actor_system.hpp>

namespace regcore::actors {

/// Spawns the subscription supervisor: it checks a new subscription against
/// the target's policy and the limits, assigns its id, and wires it into the
/// watcher's user (add_watching) and the target's user (add_watcher). It
/// keeps the presence policies but no user state: refreshes and
/// unsubscriptions go straight to the target's shard, found from the id.
/// What a restarted supervisor starts from (read back from the journal).
struct supervisor_restore {
  std::unordered_map<std::string, core::presence_policy> policies;
  /// The highest subscription number in use: new ids continue above it.
  uint64_t last_id = 0;
};

subscription_supervisor_actor
spawn_subscription_supervisor(caf::actor_system& sys,
                              std::shared_ptr<const engine_refs> refs,
                              supervisor_restore initial = {});

/// The number of a subscription id ("<target>;sub=<n>" -> n), 0 when it
/// has none.
uint64_t subscription_number(std::string_view id) noexcept;

/// Subscription ids name their target: "<target AOR>;sub=<n>". Returns the
/// target, or "" when `id` has no such form.
std::string_view target_of_subscription(std::string_view id) noexcept;

} // namespace regcore::actors
