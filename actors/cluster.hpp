// SPDX-License-Identifier: MIT
#pragma once

// Cluster membership (issue 8, first phase): one cluster node actor per
// process keeps the view of the live nodes (core::membership) and tells
// local subscribers about every change.
//
// The node actors find each other through CAF's middleman: each node
// publishes its actor on its cluster address, connects to the seeds (and to
// every member it hears of, so the cluster becomes fully connected),
// exchanges cluster_hello messages (messages/cluster_messages.hpp) and
// monitors every other node actor: a down_msg is that node's crash (a
// SIGKILLed process is seen within milliseconds; a silently vanished host
// after the middleman's connection timeout), a cluster_leave its graceful
// stop. Connecting never blocks the actor: it asks the middleman actor
// (connect_atom) and retries on a timer. A lost node's address is tried a
// few more times (connect_attempts): a frozen process or a cut network
// closes connections without a death, and the node's own hello over a new
// connection revives that life (core::membership::revive); gossip never
// does.
//
//   actors::cluster_settings s;
//   s.node_id = "node-2";
//   s.listen = {"127.0.0.1", 7002};
//   s.seeds = {{"127.0.0.1", 7001}};
//   auto node = actors::start_cluster_node(sys, s);  // needs the middleman
//   caf::anon_send(node->node, cluster_subscribe{my_actor});
//   ...
//   actors::leave_cluster(sys, node->node, std::chrono::seconds{2});
//
// Tests drive the same actor without a network: spawn_cluster_node() takes
// the "connector", the actor that turns an address into a node actor's
// handle. The middleman actor is the real one; a test passes an actor that
// answers (connect_atom, host, port) with local node actors.

#include "actors/cluster_settings.hpp"
#include "messages/route_messages.hpp"
#include "core/membership.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>

namespace regcore::actors {

/// Spawns a cluster node that reaches other nodes through `connector`: an
/// actor answering (caf::connect_atom, std::string host, uint16_t port)
/// with (caf::node_id, caf::strong_actor_ptr, std::set<std::string>), as
/// the middleman actor does (caf::io::middleman::actor_handle()). The node
/// is this life of `s.node_id` at `s.listen` and starts joining `s.seeds`
/// at once.
///
/// The node answers caf::get_atom with a cluster_view, takes
/// cluster_subscribe / cluster_unsubscribe, and on caf::leave_atom tells
/// every member it leaves (cluster_leave), answers caf::ok_atom and exits.
///
/// `engine` (this node's engine as route_member, engine::route_entry) goes
/// to the other members in every hello; subscribers get every live
/// member's with each membership_changed (cluster_router turns them into
/// the engine's routes).
caf::actor spawn_cluster_node(caf::actor_system& sys, cluster_settings s,
                              caf::actor connector, route_member engine = {});

/// A node started by start_cluster_node().
struct started_cluster_node {
  caf::actor node;
  /// This life: id, address (with the port really bound), incarnation.
  core::cluster_member self;
};

/// The daemon's way: spawns the node with the middleman actor as its
/// connector, publishes it on `s.listen` (port 0: any free one) and starts
/// it with the port it got. The actor system must have loaded
/// caf::io::middleman. Fails (and stops the node) when the address cannot
/// be bound.
caf::expected<started_cluster_node> start_cluster_node(caf::actor_system& sys,
                                                       cluster_settings s,
                                                       route_member engine = {});

/// Blocking (call it from main(), not from an actor): asks `node` to leave
/// the cluster gracefully and waits up to `timeout` for the members to
/// acknowledge; then makes sure the node has exited. False when the wait
/// timed out (the members will see the node as lost instead).
bool leave_cluster(caf::actor_system& sys, const caf::actor& node,
                   std::chrono::milliseconds timeout);

} // namespace regcore::actors
