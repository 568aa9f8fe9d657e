// SPDX-License-Identifier: MIT
#pragma once

// The settings of a cluster node (actors/cluster.hpp), without CAF: the
// daemon's configuration (actors/daemon_config.hpp) builds them from its
// `cluster` section and the --node-id / --cluster-listen / --join flags.

#include "core/result.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace regcore::actors {

/// A cluster address: where a node's cluster node actor is published.
struct cluster_address {
  /// A numeric IPv4 address, an IPv6 address without brackets, or (for
  /// seeds) a host name.
  std::string host = "127.0.0.1";
  uint16_t port = 0;
};

bool operator==(const cluster_address& x, const cluster_address& y) noexcept;
inline bool operator!=(const cluster_address& x,
                       const cluster_address& y) noexcept {
  return !(x == y);
}

/// "127.0.0.1:7001", "[::1]:7001", "node1.example.com:7001".
std::string to_string(const cluster_address& x);

/// Parses "HOST:PORT": HOST a numeric IPv4 address, an IPv6 address in
/// brackets or, when `allow_names` is set, a host name (letters, digits,
/// '-' and '.'); PORT 0..65535 in decimal. The error's reason says what is
/// wrong, without a prefix.
core::result<cluster_address> parse_cluster_address(std::string_view text,
                                                    bool allow_names);

/// True for a usable node id: 1..64 characters of letters, digits, '-',
/// '_' and '.' (it appears in logs, and later in routing tables).
bool valid_node_id(std::string_view id) noexcept;

/// How a node joins and watches the cluster.
struct cluster_settings {
  /// This node's id, unique in the cluster ("node-1").
  std::string node_id;
  /// Where this node's cluster node actor is published (port 0: any free
  /// one; start_cluster_node() reports the port it got).
  cluster_address listen;
  /// Nodes to join through; each is retried every retry_interval until it
  /// answers, and again whenever it is lost (so a restarted seed is found).
  std::vector<cluster_address> seeds;
  /// Copies of each AOR (owner + replicas): the engine's replication
  /// (engine_config::replication); unused by membership.
  uint32_t replication = 2;
  /// The middleman's heartbeat interval (middleman.heartbeat-interval): how
  /// often an idle connection carries a heartbeat.
  std::chrono::milliseconds heartbeat{500};
  /// A connection silent for this long is closed (middleman.connection-
  /// timeout) and the node on the other side is lost: this bounds the
  /// detection of a host that vanished without closing its connections.
  std::chrono::milliseconds connection_timeout{2000};
  /// Pause between two attempts to reach a node.
  std::chrono::milliseconds retry_interval{500};
  /// Attempts to reach a member learned from gossip (not a seed) before it
  /// counts as lost.
  uint32_t connect_attempts = 5;
  /// Longest wait for one connection attempt (the middleman's connect).
  std::chrono::milliseconds connect_timeout{5000};
  /// This life of the node; 0 picks one from the wall clock and a random
  /// salt (core::make_incarnation).
  uint64_t incarnation = 0;
};

} // namespace regcore::actors
