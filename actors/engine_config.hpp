// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "core/policy.hpp"
#include "core/registration.hpp"
#include "messages/store_messages.hpp"

namespace regcore::actors {

/// Everything the engine can be configured with. The defaults serve a
/// single-node, in-memory engine.
struct engine_config {
  /// Directory shards (AOR hashed to a shard). More shards spread load over
  /// more scheduler workers; 2 per core is a good start.
  uint32_t shards = 4;
  /// RFC 3261 §10.3 rules: min/max/default expires, contacts per AOR.
  core::registration_policy registration;
  /// Subscriptions per watcher and per target.
  core::subscription_limits limits;
  /// Subscription expiry (RFC 6665 §4.2.1.1): min, max, default seconds.
  uint32_t subscription_min_expires = 60;
  uint32_t subscription_max_expires = 86400;
  uint32_t subscription_default_expires = 3600;
  /// Publication expiry (RFC 3903 §6): min, max, default seconds.
  uint32_t publish_min_expires = 60;
  uint32_t publish_max_expires = 86400;
  uint32_t publish_default_expires = 3600;
  /// Automatic buddy lists: every presence-enabled registered user of a
  /// domain sees every other one. Off = peer-to-peer: only explicit
  /// subscriptions count.
  bool auto_buddy = true;
  /// Granularity of the expiry supervisor's slots.
  std::chrono::milliseconds expiry_granularity{1000};
  /// Persistence (docs/ARCHITECTURE.md, "Durability"): off = memory only;
  /// async and sync write every change to the journal given to
  /// spawn_engine (sync: a reply waits until its change is committed).
  durability persistence = durability::off;
  /// The wall clock stored records are written in (their time points must
  /// mean something to the next process); system_clock when empty. Tests
  /// set it to a fake that follows the test coordinator's clock.
  std::function<std::chrono::system_clock::time_point()> wall_clock;
  /// The store (the journal's writer) runs on a thread of its own, so a
  /// commit waiting for the disk (fsync) never holds a scheduler worker.
  /// Tests under CAF's test coordinator turn it off (a detached actor is
  /// not driven by the coordinator).
  bool store_thread = true;
  /// Cluster: copies of every user (owner + replicas, core::replica_set);
  /// 1 = none. With more, every change of a user also goes to its replica
  /// nodes' replica actors, and the replica of a lost owner takes its users
  /// over (docs/ARCHITECTURE.md, "Cluster").
  uint32_t replication = 1;
  /// With replication: a reply waits until the replicas confirmed the
  /// change (true) or not (false: a documented loss window).
  bool replication_sync = true;
};

} // namespace regcore::actors
