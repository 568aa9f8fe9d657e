// SPDX-License-Identifier: MIT
#pragma once

// Turns the cluster's membership into the engine's routes (issue 8): a
// subscriber of the cluster node (actors/cluster.hpp) that, after every
// membership_changed, gives the engine the members whose engine handles it
// holds (engine::set_routes) and tells the SIP edge (cluster_routes: it
// listens to every member's bus for NotifyRequired). Every node computes
// the same owners from the same member list (core::owner_of).

#include <string>

#include "actors/engine.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

namespace regcore::actors {

/// Spawns the router of `eng` (this node is `node_id`), subscribed to the
/// cluster node `cluster_node`; `edge` (may be null) gets every new
/// cluster_routes too.
caf::actor spawn_cluster_router(caf::actor_system& sys, engine eng, std::string node_id,
                                caf::actor cluster_node, caf::actor edge);

} // namespace regcore::actors
