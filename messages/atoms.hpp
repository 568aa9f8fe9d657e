// SPDX-License-Identifier: MIT
#pragma once

// Atoms: only for control signals (at most 10 characters in CAF 0.17).
// Requests and replies with data are structs (see *_messages.hpp).

#include <caf/atom.hpp>

namespace regcore {

/// Periodic or armed wake-up of a supervisor.
using tick_atom = caf::atom_constant<caf::atom("tick")>;
/// A shard's signal to itself: send what it has batched up.
using flush_atom = caf::atom_constant<caf::atom("flush")>;
/// Asks an actor for statistics (pending counts, sizes).
using stats_atom = caf::atom_constant<caf::atom("stats")>;
/// Cluster: to a shard, the routes changed (hand over what another node
/// now owns, re-replicate what has new replicas); to a user actor, write
/// your journal row again (for your new replicas).
using rebalance_atom = caf::atom_constant<caf::atom("rebalance")>;
/// Cluster: to a user actor, give your state up (its reply) and stop
/// serving; another node owns you now.
using hand_over_atom = caf::atom_constant<caf::atom("handover")>;
/// To the expiry supervisor spawned held (expiry_config::held): deadlines
/// may fire from now on.
using resume_atom = caf::atom_constant<caf::atom("resume")>;

} // namespace regcore
