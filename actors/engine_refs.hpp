// SPDX-License-Identifier: MIT
#pragma once

// The handles every engine actor needs to reach the others, plus the config.
// Built once by spawn_engine() and passed by value (handles are cheap).

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/engine_config.hpp"
#include "actors/user_logic.hpp"
#include "core/hash.hpp"
#include "core/ownership.hpp"
#include "messages/route_messages.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor.hpp>

namespace regcore::actors {

/// The cluster as one node routes over it: cluster_routes sorted by node
/// id, with each member's rendezvous salt and this node's index. Immutable:
/// a membership change publishes a new one (engine::set_routes).
struct route_table {
  uint64_t epoch = 0;
  std::vector<std::string> names;
  std::vector<uint64_t> salts;
  std::vector<route_member> members;
  /// This node's index in `members`.
  size_t self = 0;

  /// Index of the member owning the key of stable_hash `h`.
  size_t owner(uint64_t h) const {
    return core::owner_of_hash(h, salts, names);
  }
};

/// Where the current route_table is published. Readers take a snapshot
/// (std::atomic_load) per message; one writer replaces it. Nothing is
/// mutated in place, so no actor ever sees half a membership.
struct route_cell {
  std::shared_ptr<const route_table> table;
  /// Whether `table` has more than one member: checked first, so a node
  /// without a cluster never touches the snapshot (libstdc++'s atomic
  /// shared_ptr access takes a lock from a pool).
  std::atomic<bool> clustered{false};
};

struct engine_refs {
  std::shared_ptr<const engine_config> cfg;
  /// Union of the event kinds the bus's subscribers asked for, written by
  /// the bus, read by the users' hosts so they build no event nobody wants
  /// (PresenceUpdated means rendering a PIDF). One atomic word, a hint: a
  /// subscriber that races with an event may miss that event.
  std::shared_ptr<std::atomic<uint32_t>> interest;
  event_bus_actor bus;
  expiry_supervisor_actor expiry;
  roster_actor roster;
  std::vector<directory_shard_actor> shards;
  /// The journal's writer; invalid when persistence is off.
  store_actor store;

  /// This node's replica actor (cluster replication), or null.
  caf::actor replica;

  /// True when changes are written (journal rows to the store: the journal,
  /// and/or the cluster's replicas while there is a cluster to replicate to;
  /// alone, a node serializes nothing for them, and its first routes make
  /// every user write its row, see the shard's rebalance).
  bool persistent() const noexcept {
    return store && (cfg->persistence != durability::off || replicating());
  }
  /// True when a reply waits for its change to be committed (and
  /// replicated).
  bool sync() const noexcept {
    return store
           && (cfg->persistence == durability::sync
               || (replicating() && cfg->replication_sync));
  }
  /// Replication is on and this node has other members to copy to.
  bool replicating() const noexcept {
    return cfg->replication > 1 && routes
           && routes->clustered.load(std::memory_order_acquire);
  }

  /// A user_effects for one operation, with the current interest mask.
  user_effects make_effects() const {
    user_effects fx;
    fx.interest = interest ? interest->load(std::memory_order_relaxed) : all_events;
    return fx;
  }

  /// The cluster's routes (null without a cluster; its table is null or
  /// has one member while this node is alone).
  std::shared_ptr<route_cell> routes;

  /// The current route table when there is more than one member, else null.
  std::shared_ptr<const route_table> cluster() const {
    if (!routes || !routes->clustered.load(std::memory_order_acquire))
      return nullptr;
    auto t = std::atomic_load(&routes->table);
    return t && t->members.size() > 1 ? t : nullptr;
  }

  /// The current route table even when this node is its only member (null
  /// without a cluster or before the first routes).
  std::shared_ptr<const route_table> table() const {
    if (!routes)
      return nullptr;
    return std::atomic_load(&routes->table);
  }

  /// The shard owning the user `aor` (canonical): on this node, or on the
  /// member of the cluster that owns it.
  directory_shard_actor shard_for(const std::string& aor) const {
    auto h = core::stable_hash(aor);
    if (auto t = cluster()) {
      auto m = t->owner(h);
      if (m != t->self) {
        auto& remote = t->members[m].shards;
        return remote[core::shard_of_hash(h, static_cast<uint32_t>(remote.size()))];
      }
    }
    return shards[core::shard_of_hash(h, static_cast<uint32_t>(shards.size()))];
  }

  /// The shard of this node holding the reverse-index entries of a contact
  /// binding key of stable_hash `h` (the index is per node: each node
  /// indexes the contacts of the users it owns).
  const directory_shard_actor& index_shard(uint64_t h) const {
    return shards[core::shard_of_hash(h, static_cast<uint32_t>(shards.size()))];
  }

  /// The subscription supervisor of the member owning `aor`, or none when
  /// that is this node (or there is no cluster).
  std::optional<subscription_supervisor_actor>
  remote_supervisor_for(const std::string& aor) const {
    if (auto t = cluster()) {
      auto m = t->owner(core::stable_hash(aor));
      if (m != t->self)
        return t->members[m].subscriptions;
    }
    return std::nullopt;
  }

  /// Every node's roster (this node's alone without a cluster).
  std::vector<roster_actor> all_rosters() const {
    auto t = cluster();
    if (!t)
      return {roster};
    std::vector<roster_actor> result;
    for (size_t i = 0; i < t->members.size(); ++i) {
      if (i == t->self)
        result.push_back(roster);
      else if (t->members[i].roster)
        result.push_back(t->members[i].roster);
    }
    return result;
  }

  /// Every shard of the cluster (this node's alone without one): what an
  /// aggregate (list_users, get_all_presence) asks.
  std::vector<directory_shard_actor> all_shards() const {
    auto t = cluster();
    if (!t)
      return shards;
    std::vector<directory_shard_actor> result;
    for (size_t i = 0; i < t->members.size(); ++i) {
      auto& xs = i == t->self ? shards : t->members[i].shards;
      result.insert(result.end(), xs.begin(), xs.end());
    }
    return result;
  }
};

/// Wall-clock now - steady now: what moves a steady time point onto the
/// wall clock (user_logic::snapshot) and, negated, back (restore).
core::duration wall_offset(const engine_config& cfg, core::time_point now);

/// The journal row of user `u` now: its record, or an erase once the user
/// holds nothing.
journal_entry user_entry(const user_logic& u, const engine_config& cfg,
                         core::time_point now);

/// Sends what a user operation produced: events to the bus, index updates
/// to the owning shards, roster changes, ended subscriptions to the
/// watchers' shards. One-way messages sent as `sender` (the hosting shard or
/// user actor), so tests can follow them with expect(from(...)).
void send_effects(const caf::actor& sender, const engine_refs& refs,
                  user_effects&& fx);

} // namespace regcore::actors
