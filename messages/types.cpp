// SPDX-License-Identifier: MIT
#include "messages/types.hpp"

#include "messages/core_inspect.hpp"
#include "messages/error.hpp"
#include "messages/event_messages.hpp"
#include "messages/expiry_messages.hpp"
#include "messages/internal_messages.hpp"
#include "messages/presence_messages.hpp"
#include "messages/registrar_messages.hpp"
#include "messages/sip_messages.hpp"

namespace regcore::messages {

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<core::contact_info>("regcore::contact_info");
  cfg.add_message_type<core::user_registration>("regcore::user_registration");
  cfg.add_message_type<core::device_presence>("regcore::device_presence");
  cfg.add_message_type<core::presence_state>("regcore::presence_state");
  cfg.add_message_type<core::subscription>("regcore::subscription");
  cfg.add_message_type<expiry_entry>("regcore::expiry_entry");
  cfg.add_message_type<expiry_due>("regcore::expiry_due");
  cfg.add_message_type<expiry_schedule>("regcore::expiry_schedule");
  cfg.add_message_type<expiry_stats>("regcore::expiry_stats");
  cfg.add_message_type<expiry_schedule_batch>("regcore::expiry_schedule_batch");
  // registrar API
  cfg.add_message_type<contact_request>("regcore::contact_request");
  cfg.add_message_type<register_request>("regcore::register_request");
  cfg.add_message_type<register_reply>("regcore::register_reply");
  cfg.add_message_type<lookup_request>("regcore::lookup_request");
  cfg.add_message_type<find_user_request>("regcore::find_user_request");
  cfg.add_message_type<list_users_request>("regcore::list_users_request");
  cfg.add_message_type<user_list>("regcore::user_list");
  // presence and subscription API
  cfg.add_message_type<presence_update_request>("regcore::presence_update_request");
  cfg.add_message_type<publish_request>("regcore::publish_request");
  cfg.add_message_type<publish_reply>("regcore::publish_reply");
  cfg.add_message_type<get_presence_request>("regcore::get_presence_request");
  cfg.add_message_type<clear_presence_request>("regcore::clear_presence_request");
  cfg.add_message_type<get_all_presence_request>("regcore::get_all_presence_request");
  cfg.add_message_type<presence_reply>("regcore::presence_reply");
  cfg.add_message_type<presence_list>("regcore::presence_list");
  cfg.add_message_type<dialog_info>("regcore::dialog_info");
  cfg.add_message_type<subscribe_request>("regcore::subscribe_request");
  cfg.add_message_type<subscribe_reply>("regcore::subscribe_reply");
  cfg.add_message_type<unsubscribe_request>("regcore::unsubscribe_request");
  cfg.add_message_type<get_watchers_request>("regcore::get_watchers_request");
  cfg.add_message_type<watcher_info>("regcore::watcher_info");
  cfg.add_message_type<watcher_list>("regcore::watcher_list");
  cfg.add_message_type<get_subscriptions_request>("regcore::get_subscriptions_request");
  cfg.add_message_type<subscription_list>("regcore::subscription_list");
  cfg.add_message_type<get_buddy_list_request>("regcore::get_buddy_list_request");
  cfg.add_message_type<set_policy_request>("regcore::set_policy_request");
  cfg.add_message_type<core::presence_policy>("regcore::presence_policy");
  // between the engine's actors
  cfg.add_message_type<add_watcher_request>("regcore::add_watcher_request");
  cfg.add_message_type<refresh_watcher_request>("regcore::refresh_watcher_request");
  cfg.add_message_type<add_watching_request>("regcore::add_watching_request");
  cfg.add_message_type<remove_watching_request>("regcore::remove_watching_request");
  cfg.add_message_type<index_update>("regcore::index_update");
  cfg.add_message_type<index_batch>("regcore::index_batch");
  cfg.add_message_type<roster_update>("regcore::roster_update");
  cfg.add_message_type<roster_batch>("regcore::roster_batch");
  cfg.add_message_type<roster_query>("regcore::roster_query");
  cfg.add_message_type<user_status>("regcore::user_status");
  cfg.add_message_type<shard_stats>("regcore::shard_stats");
  // events and the bus protocol
  cfg.add_message_type<user_registered_event>("regcore::user_registered_event");
  cfg.add_message_type<contact_refreshed_event>("regcore::contact_refreshed_event");
  cfg.add_message_type<contact_removed_event>("regcore::contact_removed_event");
  cfg.add_message_type<user_unregistered_event>("regcore::user_unregistered_event");
  cfg.add_message_type<registration_expired_event>(
    "regcore::registration_expired_event");
  cfg.add_message_type<presence_updated_event>("regcore::presence_updated_event");
  cfg.add_message_type<subscription_created_event>(
    "regcore::subscription_created_event");
  cfg.add_message_type<subscription_terminated_event>(
    "regcore::subscription_terminated_event");
  cfg.add_message_type<buddy_list_updated_event>("regcore::buddy_list_updated_event");
  cfg.add_message_type<notify_target>("regcore::notify_target");
  cfg.add_message_type<notify_required_event>("regcore::notify_required_event");
  cfg.add_message_type<publish_event>("regcore::publish_event");
  cfg.add_message_type<publish_batch>("regcore::publish_batch");
  cfg.add_message_type<bus_subscribe>("regcore::bus_subscribe");
  cfg.add_message_type<bus_unsubscribe>("regcore::bus_unsubscribe");
  cfg.add_message_type<event_batch>("regcore::event_batch");
  cfg.add_message_type<event_ack>("regcore::event_ack");
  cfg.add_message_type<bus_stats>("regcore::bus_stats");
  // the SIP edge
  cfg.add_message_type<sip_endpoint>("regcore::sip_endpoint");
  cfg.add_message_type<sip_inbound>("regcore::sip_inbound");
  cfg.add_message_type<sip_connection_closed>("regcore::sip_connection_closed");
  cfg.add_error_category(error_category,
                         [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                           return render_error(code, ctx);
                         });
}

} // namespace regcore::messages
