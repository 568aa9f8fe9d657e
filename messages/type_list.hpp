// SPDX-License-Identifier: MIT
#pragma once

// Every message type of the system, once: register_types() registers each
// under "regcore::<name>" (the name every node must agree on), and
// tests/messages/serialization.cpp round-trips each through CAF's binary
// serializer. A new message type is one more line here.
//
// REGCORE_FOR_EACH_MESSAGE_TYPE(X) calls X(type, name) for every type.

#include "messages/cluster_messages.hpp"
#include "messages/core_inspect.hpp"
#include "messages/event_messages.hpp"
#include "messages/expiry_messages.hpp"
#include "messages/internal_messages.hpp"
#include "messages/presence_messages.hpp"
#include "messages/registrar_messages.hpp"
#include "messages/route_messages.hpp"
#include "messages/sip_messages.hpp"
#include "messages/store_messages.hpp"

// clang-format off
#define REGCORE_FOR_EACH_MESSAGE_TYPE(X) \
  X(core::contact_info, contact_info) \
  X(core::user_registration, user_registration) \
  X(core::device_presence, device_presence) \
  X(core::presence_state, presence_state) \
  X(core::subscription, subscription) \
  X(expiry_entry, expiry_entry) \
  X(expiry_due, expiry_due) \
  X(expiry_schedule, expiry_schedule) \
  X(expiry_stats, expiry_stats) \
  X(expiry_schedule_batch, expiry_schedule_batch) \
  X(contact_request, contact_request) \
  X(register_request, register_request) \
  X(register_reply, register_reply) \
  X(register_batch_request, register_batch_request) \
  X(register_result, register_result) \
  X(register_batch_reply, register_batch_reply) \
  X(lookup_request, lookup_request) \
  X(find_user_request, find_user_request) \
  X(list_users_request, list_users_request) \
  X(user_list, user_list) \
  X(presence_update_request, presence_update_request) \
  X(publish_request, publish_request) \
  X(publish_reply, publish_reply) \
  X(get_presence_request, get_presence_request) \
  X(clear_presence_request, clear_presence_request) \
  X(get_all_presence_request, get_all_presence_request) \
  X(presence_reply, presence_reply) \
  X(presence_list, presence_list) \
  X(dialog_info, dialog_info) \
  X(subscribe_request, subscribe_request) \
  X(subscribe_reply, subscribe_reply) \
  X(unsubscribe_request, unsubscribe_request) \
  X(get_watchers_request, get_watchers_request) \
  X(watcher_info, watcher_info) \
  X(watcher_list, watcher_list) \
  X(get_subscriptions_request, get_subscriptions_request) \
  X(subscription_list, subscription_list) \
  X(get_buddy_list_request, get_buddy_list_request) \
  X(set_policy_request, set_policy_request) \
  X(policy_batch, policy_batch) \
  X(core::presence_policy, presence_policy) \
  X(add_watcher_request, add_watcher_request) \
  X(refresh_watcher_request, refresh_watcher_request) \
  X(resume_watchers_request, resume_watchers_request) \
  X(route_member, route_member) \
  X(cluster_routes, cluster_routes) \
  X(replica_batch, replica_batch) \
  X(add_watching_request, add_watching_request) \
  X(remove_watching_request, remove_watching_request) \
  X(index_update, index_update) \
  X(index_batch, index_batch) \
  X(roster_update, roster_update) \
  X(roster_batch, roster_batch) \
  X(roster_query, roster_query) \
  X(user_status, user_status) \
  X(shard_stats, shard_stats) \
  X(user_registered_event, user_registered_event) \
  X(contact_refreshed_event, contact_refreshed_event) \
  X(contact_removed_event, contact_removed_event) \
  X(user_unregistered_event, user_unregistered_event) \
  X(registration_expired_event, registration_expired_event) \
  X(presence_updated_event, presence_updated_event) \
  X(subscription_created_event, subscription_created_event) \
  X(subscription_terminated_event, subscription_terminated_event) \
  X(buddy_list_updated_event, buddy_list_updated_event) \
  X(notify_target, notify_target) \
  X(notify_required_event, notify_required_event) \
  X(publish_event, publish_event) \
  X(publish_batch, publish_batch) \
  X(bus_subscribe, bus_subscribe) \
  X(bus_unsubscribe, bus_unsubscribe) \
  X(event_batch, event_batch) \
  X(event_ack, event_ack) \
  X(bus_stats, bus_stats) \
  X(sip_endpoint, sip_endpoint) \
  X(sip_inbound, sip_inbound) \
  X(sip_connection_closed, sip_connection_closed) \
  X(journal_entry, journal_entry) \
  X(journal_batch, journal_batch) \
  X(stored_publication, stored_publication) \
  X(stored_watcher, stored_watcher) \
  X(user_record, user_record) \
  X(restore_users, restore_users) \
  X(orphan_check, orphan_check) \
  X(adopt_dialogs, adopt_dialogs) \
  X(core::cluster_member, cluster_member) \
  X(node_handles, node_handles) \
  X(cluster_hello, cluster_hello) \
  X(cluster_gossip, cluster_gossip) \
  X(cluster_leave, cluster_leave) \
  X(cluster_view, cluster_view) \
  X(cluster_subscribe, cluster_subscribe) \
  X(cluster_unsubscribe, cluster_unsubscribe) \
  X(membership_changed, membership_changed)
// clang-format on
