// SPDX-License-Identifier: MIT
#pragma once

// The handles every engine actor needs to reach the others, plus the config.
// Built once by spawn_engine() and passed by value (handles are cheap).

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "actors/engine_config.hpp"
#include "actors/user_logic.hpp"
#include "core/hash.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor.hpp>

namespace regcore::actors {

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

  /// True when changes go to the journal.
  bool persistent() const noexcept {
    return cfg->persistence != durability::off && store;
  }
  /// True when a reply waits for its change to be committed.
  bool sync() const noexcept {
    return cfg->persistence == durability::sync && store;
  }

  /// A user_effects for one operation, with the current interest mask.
  user_effects make_effects() const {
    user_effects fx;
    fx.interest = interest ? interest->load(std::memory_order_relaxed) : all_events;
    return fx;
  }

  /// The shard owning `key` (a canonical AOR or a contact binding key).
  const directory_shard_actor& shard_for(const std::string& key) const {
    return shards[core::shard_of(key, static_cast<uint32_t>(shards.size()))];
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
