// SPDX-License-Identifier: MIT
#pragma once

// The cluster's membership view (issue: distribution): who is in the
// cluster, as one node sees it. Pure logic; actors/cluster.cpp feeds it with
// what the nodes tell each other (hello, gossip, leave) and what the
// middleman reports (a node's actor went down).
//
// A member is a node *life*: its configured id, its cluster address and an
// incarnation chosen at start (make_incarnation: wall-clock milliseconds and
// a random salt), so a restarted node is told apart from its previous life.
// For each node id the view keeps the newest incarnation heard alive and the
// newest incarnation known dead; the id is a live member while the first is
// newer. Both only grow (a max), so applying the same joins and downs in any
// order gives the same view, and a late "down" for an old life never removes
// a newer one, nor does stale gossip bring a dead life back.
//
//   core::membership view{{"node-1", "127.0.0.1", 7001, inc}};
//   view.join({"node-2", "127.0.0.1", 7002, 17});     // join_result::added
//   view.merge(members_from_a_peer);                   // gossip
//   view.mark_down("node-2", 17);                      // true: it is gone
//   view.join({"node-2", "127.0.0.1", 7002, 17});     // stale: it stays gone
//   core::owner_of(aor, view.ids());                   // core/ownership.hpp

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace regcore::core {

/// One life of one cluster node.
struct cluster_member {
  /// The node's configured id ("node-1"); unique in the cluster.
  std::string id;
  /// Where its cluster node actor is published: a numeric IPv4 address or
  /// an IPv6 address without brackets, and a TCP port.
  std::string host;
  uint16_t port = 0;
  /// Tells this life from earlier and later ones of the same id: a restarted
  /// node has a greater incarnation.
  uint64_t incarnation = 0;
};

bool operator==(const cluster_member& x, const cluster_member& y) noexcept;
inline bool operator!=(const cluster_member& x,
                       const cluster_member& y) noexcept {
  return !(x == y);
}

/// "127.0.0.1:7001", "[::1]:7001".
std::string address_of(const cluster_member& x);

/// "node-1@127.0.0.1:7001#<incarnation>" (logs, test output).
std::string to_string(const cluster_member& x);

/// An incarnation from the wall clock in milliseconds and a random salt:
/// the milliseconds in the high bits (a later start is a greater value),
/// the salt in the low 16 bits (two starts in one millisecond differ).
uint64_t make_incarnation(uint64_t wall_clock_ms, uint16_t salt) noexcept;

/// What a join did to the view.
enum class join_result : uint8_t {
  /// A node id that was not a live member is now one.
  added,
  /// A newer life of a live member replaced the old one (a restart).
  replaced,
  /// Nothing new: this life is already the live member.
  unchanged,
  /// An older life than the one known, or one known dead: ignored.
  stale,
  /// The local node's own id with another incarnation (another process uses
  /// this node's id, or gossip about its previous life): ignored.
  conflict,
};

const char* to_string(join_result x) noexcept;

/// True for added and replaced: the live view changed.
constexpr bool changed(join_result x) noexcept {
  return x == join_result::added || x == join_result::replaced;
}

/// A member the view took from a merge, with what happened.
struct merge_change {
  cluster_member member;
  /// join_result::added or join_result::replaced.
  join_result result = join_result::added;
};

/// The set of live members as one node sees it, plus a local epoch that
/// grows with every change of that set. The local node is always a member.
class membership {
public:
  /// A view holding only `self`.
  explicit membership(cluster_member self);

  /// The local node.
  const cluster_member& self() const noexcept { return self_; }

  /// Grows by one with every change of the live set (starts at 1). Local to
  /// this node: two nodes with the same members may have different epochs.
  uint64_t epoch() const noexcept { return epoch_; }

  /// The live members, the local node included, sorted by id.
  std::vector<cluster_member> members() const;

  /// Their ids, sorted: the member list of core::owner_of / replica_set.
  std::vector<std::string> ids() const;

  /// Number of live members (at least 1: the local node).
  size_t size() const noexcept { return live_.size(); }

  /// The live member with this id, or null.
  const cluster_member* find(std::string_view id) const;

  /// True when exactly this life (id and incarnation) is a live member.
  bool is_live(const cluster_member& x) const;

  /// Takes `x` as alive: adds it, or replaces an older life of its id.
  /// A life at or below the newest one known dead is stale. Of two claims
  /// with the same id and incarnation but different addresses (which only a
  /// bug produces), the smaller address wins, whatever the order.
  join_result join(const cluster_member& x);

  /// join() for each member a peer sent (gossip); returns what changed, in
  /// the order of `xs`. Members that changed nothing are left out.
  std::vector<merge_change> merge(const std::vector<cluster_member>& xs);

  /// Takes every life of `id` up to `incarnation` as dead (it crashed, was
  /// lost, or left). Returns true when that removed the live member, i.e.
  /// when its live incarnation was at most `incarnation`; a down for an older
  /// life than the live one changes nothing but is remembered. The local
  /// node is never marked down (returns false).
  bool mark_down(std::string_view id, uint64_t incarnation);

  /// Direct evidence that `x` lives after all (its own hello, over a new
  /// connection, after it was marked down because a connection broke: a
  /// frozen process, a network cut): when exactly this life is the newest
  /// known dead and no life of its id is live, lifts that down and joins
  /// `x` (join_result::added). Otherwise the same as join(). Gossip never
  /// revives a life; only the node itself can. If it is dead after all, the
  /// caller's monitor reports it again.
  join_result revive(const cluster_member& x);

  /// The newest incarnation of `id` known dead (0: none).
  uint64_t dead_up_to(std::string_view id) const;

private:
  cluster_member self_;
  uint64_t epoch_ = 1;
  /// Live members by id.
  std::map<std::string, cluster_member, std::less<>> live_;
  /// Per node id, the newest incarnation known dead.
  std::map<std::string, uint64_t, std::less<>> dead_;
};

} // namespace regcore::core
