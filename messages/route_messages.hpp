// SPDX-License-Identifier: MIT
#pragma once

// How the engine routes over the nodes of a cluster: every node's shards,
// subscription supervisor and event bus, by node id. Given to each node's
// engine (engine::set_routes) whenever the membership changes; an AOR
// belongs to the member that core::owner_of picks for it, and every
// per-user message goes to that member's shard for it (a remote actor
// handle: the message crosses CAF's middleman). See docs/ARCHITECTURE.md,
// "Cluster".

#include <cstdint>
#include <string>
#include <vector>

#include "messages/inspect_macro.hpp"
#include "messages/interfaces.hpp"

namespace regcore {

/// One node as the others route to it.
struct route_member {
  std::string node_id;
  std::vector<directory_shard_actor> shards;
  subscription_supervisor_actor subscriptions;
  event_bus_actor bus;
  /// Keeps the copies of the users this node replicates (null without
  /// replication).
  caf::actor replica;
  /// The node's roster (the auto-buddy members it owns).
  roster_actor roster;
  /// The node's SIP edge (null: none, e.g. an embedded engine): adopts the
  /// dialogs of lost members for the users this node owns.
  caf::actor edge;
};

/// An owner -> its users' replica node: the journal rows of their changes
/// (the user_record bytes, keyed by AOR; an empty value erases). Answered
/// with ok once applied.
struct replica_batch {
  std::vector<journal_entry> entries;
};

/// The live members (any order; every node computes the same owners) and
/// the membership epoch they belong to.
struct cluster_routes {
  uint64_t epoch = 0;
  std::vector<route_member> members;
};

REGCORE_INSPECT(route_member, x.node_id, x.shards, x.subscriptions, x.bus, x.replica,
                x.roster, x.edge)
REGCORE_INSPECT(replica_batch, x.entries)
REGCORE_INSPECT(cluster_routes, x.epoch, x.members)

} // namespace regcore
