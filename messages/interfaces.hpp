// SPDX-License-Identifier: MIT
#pragma once

// Typed actor interfaces of the engine. A handle type is named <x>_actor.
// See docs/ARCHITECTURE.md for who sends what to whom.

#include <string>

#include "messages/atoms.hpp"
#include "messages/event_messages.hpp"
#include "messages/expiry_messages.hpp"
#include "messages/internal_messages.hpp"
#include "messages/presence_messages.hpp"
#include "messages/registrar_messages.hpp"
#include "messages/store_messages.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace regcore {

/// The single timer source of the engine (actors/expiry_supervisor.hpp).
using expiry_supervisor_actor = caf::typed_actor<
  caf::reacts_to<expiry_schedule>,
  caf::reacts_to<expiry_schedule_batch>,
  caf::reacts_to<tick_atom, core::time_point>,
  caf::reacts_to<resume_atom>,
  caf::replies_to<stats_atom>::with<expiry_stats>>;

/// The journal's writer (actors/store.hpp): applies batches of row changes
/// in group commits and answers each batch once it is committed.
using store_actor = caf::typed_actor<
  caf::replies_to<journal_batch>::with<caf::ok_atom>,
  caf::reacts_to<flush_atom>,
  caf::replies_to<stats_atom>::with<uint64_t, uint64_t>>;

/// The event bus (actors/event_bus.hpp): typed events to host subscribers.
using event_bus_actor = caf::typed_actor<
  caf::reacts_to<publish_event>,
  caf::reacts_to<publish_batch>,
  caf::replies_to<bus_subscribe>::with<caf::ok_atom>,
  caf::reacts_to<bus_unsubscribe>,
  caf::reacts_to<event_ack>,
  caf::replies_to<stats_atom>::with<bus_stats>>;

/// The automatic domain rosters (auto-buddy lists), actors/roster.hpp.
using roster_actor = caf::typed_actor<
  caf::reacts_to<roster_update>,
  caf::reacts_to<roster_batch>,
  caf::replies_to<roster_query>::with<user_list>>;

/// What one user answers: the per-user part of the API. A directory shard
/// answers it for the users it hosts and delegates it to active user actors.
using user_actor = caf::typed_actor<
  caf::replies_to<register_request>::with<register_reply>,
  caf::replies_to<lookup_request>::with<register_reply>,
  caf::replies_to<presence_update_request>::with<presence_reply>,
  caf::replies_to<publish_request>::with<publish_reply>,
  caf::replies_to<get_presence_request>::with<presence_reply>,
  caf::replies_to<clear_presence_request>::with<presence_reply>,
  caf::replies_to<add_watcher_request>::with<subscribe_reply>,
  caf::replies_to<refresh_watcher_request>::with<subscribe_reply>,
  caf::replies_to<add_watching_request>::with<caf::ok_atom>,
  caf::reacts_to<remove_watching_request>,
  caf::replies_to<get_watchers_request>::with<watcher_list>,
  caf::replies_to<get_subscriptions_request>::with<subscription_list>,
  caf::replies_to<get_buddy_list_request>::with<user_list>,
  caf::reacts_to<set_policy_request>,
  caf::reacts_to<resume_watchers_request>,
  caf::reacts_to<expiry_due>,
  // Cluster hand-over (actors/directory_shard.cpp): a user's state arriving
  // from its former owner is merged in; rebalance_atom and hand_over_atom,
  // see messages/atoms.hpp.
  caf::reacts_to<user_record>,
  caf::reacts_to<rebalance_atom>,
  caf::reacts_to<orphan_check>,
  // To itself: write the journal row of the changes since the last one.
  caf::reacts_to<flush_atom>,
  caf::replies_to<hand_over_atom>::with<user_record>>;

/// A directory shard (actors/directory_shard.hpp): owns the users whose AOR
/// hashes to it, the reverse-index entries whose contact hashes to it.
using directory_shard_actor = user_actor::extend<
  caf::replies_to<register_batch_request>::with<register_batch_reply>,
  caf::replies_to<find_user_request>::with<std::string>,
  caf::replies_to<list_users_request>::with<user_list>,
  caf::replies_to<get_all_presence_request>::with<presence_list>,
  caf::reacts_to<index_update>,
  caf::reacts_to<index_batch>,
  caf::reacts_to<restore_users>,
  caf::reacts_to<user_status>,
  caf::replies_to<stats_atom>::with<shard_stats>>;

/// The subscription supervisor (actors/subscription_supervisor.hpp).
using subscription_supervisor_actor = caf::typed_actor<
  caf::replies_to<subscribe_request>::with<subscribe_reply>,
  caf::replies_to<unsubscribe_request>::with<caf::ok_atom>,
  caf::replies_to<set_policy_request>::with<caf::ok_atom>,
  // Cluster (actors/subscription_supervisor.cpp): policies arriving from
  // another node; after new routes, hand over those of users owned
  // elsewhere now.
  caf::reacts_to<policy_batch>,
  caf::reacts_to<rebalance_atom>>;

/// The service API in one typed handle (actors/engine.hpp): what a host
/// application talks to. Per-user requests are routed to the owning shard,
/// subscriptions to the supervisor, aggregates fan out over all shards.
using service_actor = caf::typed_actor<
  caf::replies_to<register_request>::with<register_reply>,
  caf::replies_to<register_batch_request>::with<register_batch_reply>,
  caf::replies_to<lookup_request>::with<register_reply>,
  caf::replies_to<find_user_request>::with<std::string>,
  caf::replies_to<list_users_request>::with<user_list>,
  caf::replies_to<presence_update_request>::with<presence_reply>,
  caf::replies_to<publish_request>::with<publish_reply>,
  caf::replies_to<get_presence_request>::with<presence_reply>,
  caf::replies_to<get_all_presence_request>::with<presence_list>,
  caf::replies_to<clear_presence_request>::with<presence_reply>,
  caf::replies_to<subscribe_request>::with<subscribe_reply>,
  caf::replies_to<unsubscribe_request>::with<caf::ok_atom>,
  caf::replies_to<get_watchers_request>::with<watcher_list>,
  caf::replies_to<get_subscriptions_request>::with<subscription_list>,
  caf::replies_to<get_buddy_list_request>::with<user_list>,
  caf::replies_to<set_policy_request>::with<caf::ok_atom>,
  caf::replies_to<bus_subscribe>::with<caf::ok_atom>,
  caf::reacts_to<bus_unsubscribe>>;

} // namespace regcore
