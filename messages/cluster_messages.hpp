// SPDX-License-Identifier: MIT
#pragma once

// The cluster membership protocol (actors/cluster.hpp; docs/ARCHITECTURE.md,
// "Cluster"). Every node publishes one cluster node actor on its cluster
// address; the node actors of all nodes talk to each other with these
// messages, across the middleman:
//
//   A connects to B (seed or gossip)  --cluster_hello{A, handles, A's view,
//   reply}-->  B B                                 <--cluster_hello{B, handles,
//   B's view}--------   (answer) B, when its view grew --cluster_gossip{B, B's
//   view}--> every peer A, stopping                       --cluster_leave{A}-->
//   every peer (request; ok)
//
// A node's actor handle travels only in its own hello, over the connection
// between the two nodes, so every proxy a node monitors is a direct one.
// Local subscribers (any actor) send cluster_subscribe and receive
// membership_changed with the whole view after every change.

#include "core/membership.hpp"
#include "messages/inspect_macro.hpp"
#include "messages/route_messages.hpp"

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace regcore::core {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_member& x) {
  return f(caf::meta::type_name("cluster_member"), x.id, x.host, x.port,
           x.incarnation);
}

} // namespace regcore::core

namespace regcore {

/// The actor handles a node offers the others. Today only its cluster node
/// actor; later phases add the engine's (service front, shards), so that a
/// node can route a request to the owner of an AOR.
struct node_handles {
  /// The node's cluster node actor (actors/cluster.hpp).
  caf::actor node;
  /// The node's engine as the cluster routes to it (empty shards: a node
  /// without an engine, e.g. in the membership tests).
  route_member engine;
};
REGCORE_INSPECT(node_handles, x.node, x.engine)

/// A node introduces itself: who it is (id, address, incarnation), its
/// handles, and the members it knows (gossip). The receiver takes `from` as
/// a live member, monitors `handles.node`, merges `members` and, when
/// `reply` is set, answers with its own hello (reply unset).
struct cluster_hello {
  core::cluster_member from;
  node_handles handles;
  std::vector<core::cluster_member> members;
  bool reply = false;
};
REGCORE_INSPECT(cluster_hello, x.from, x.handles, x.members, x.reply)

/// A node's view after it grew, pushed to every peer it holds a handle of;
/// the receiver merges it and connects to the members new to it.
struct cluster_gossip {
  core::cluster_member from;
  std::vector<core::cluster_member> members;
};
REGCORE_INSPECT(cluster_gossip, x.from, x.members)

/// A node stops gracefully: the receiver takes this life of it as gone
/// (logged "left", not "lost") and answers caf::ok_atom.
struct cluster_leave {
  core::cluster_member who;
};
REGCORE_INSPECT(cluster_leave, x.who)

/// The live members as one node sees them.
struct cluster_view {
  /// The node that answers (its id).
  std::string self;
  /// Grows with every change of `members` (local to that node).
  uint64_t epoch = 0;
  /// Sorted by id, the node itself included.
  std::vector<core::cluster_member> members;
};
REGCORE_INSPECT(cluster_view, x.self, x.epoch, x.members)

/// Local: `subscriber` receives membership_changed after every change of
/// the view, and one with the current view at once (change::snapshot).
/// Subscribers are monitored and dropped when they end.
struct cluster_subscribe {
  caf::actor subscriber;
};
REGCORE_INSPECT(cluster_subscribe, x.subscriber)

/// Local: ends a subscription.
struct cluster_unsubscribe {
  caf::actor subscriber;
};
REGCORE_INSPECT(cluster_unsubscribe, x.subscriber)

/// What happened to the view.
enum class membership_change : uint8_t {
  /// No change: the current view, sent once to a new subscriber.
  snapshot,
  /// A node id joined.
  joined,
  /// A new life (incarnation) of a member replaced the old one.
  restarted,
  /// A member stopped gracefully (cluster_leave).
  left,
  /// A member's node actor went down (crash, connection lost, heartbeat
  /// timeout) or it could not be reached.
  lost,
};

const char* to_string(membership_change x) noexcept;

/// To subscribers: the view after a change, and the change.
struct membership_changed {
  membership_change change = membership_change::snapshot;
  /// The member that joined, restarted, left or was lost (for a snapshot:
  /// the local node).
  core::cluster_member subject;
  cluster_view view;
  /// The handles of the live members this node holds (its own included):
  /// a member learned by gossip is here once its own hello bound it, which
  /// sends a snapshot when the view itself did not change.
  std::vector<node_handles> handles;
};
REGCORE_INSPECT(membership_changed, x.change, x.subject, x.view, x.handles)

} // namespace regcore
