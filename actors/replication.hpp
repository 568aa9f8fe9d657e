// SPDX-License-Identifier: MIT
#pragma once

// Cluster replication (issue 8): every change of a user also reaches the
// users' replica nodes, and when an owner is lost its replica takes its
// users over.
//
// - The replicator stands where the store stands (engine_refs::store): the
//   shards, user actors and the subscription supervisor send it their
//   journal rows as always. It passes them to the local store (if this
//   node journals) and, grouped per node, to the replica actor of every
//   other node of each user's replica set (core::replica_set over the
//   current routes, engine_config::replication copies). A batch's ok (and
//   so, with replication_sync, the client's 2xx) leaves once the local
//   store and every replica confirmed; a replica that does not answer
//   because its node is gone does not hold it back.
// - The replica keeps the newest row of every user it holds a copy of. On
//   take_over_atom (the cluster router sends it after every new route
//   table) it restores, into this node's shards, the users it holds that
//   this node now owns and that the shards do not have, drops their copies
//   and sends their rows to their new replicas.

#include <memory>

#include "actors/engine_refs.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

namespace regcore::actors {

/// Router -> replica: the routes changed; take over what is now ours.
using take_over_atom = caf::atom_constant<caf::atom("takeover")>;

/// The replicator in front of `local` (this node's store; may be null).
store_actor spawn_replicator(caf::actor_system& sys, std::shared_ptr<const engine_refs> refs,
                             store_actor local);

/// This node's replica. stats_atom answers the number of users held,
/// (get_atom, AOR) whether it holds a copy of that user.
caf::actor spawn_replica(caf::actor_system& sys, std::shared_ptr<const engine_refs> refs);

} // namespace regcore::actors
