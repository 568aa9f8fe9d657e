// SPDX-License-Identifier: MIT
#include "messages/types.hpp"

#include "messages/core_inspect.hpp"
#include "messages/error.hpp"
#include "messages/event_messages.hpp"
#include "messages/expiry_messages.hpp"

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
  cfg.add_message_type<bus_subscribe>("regcore::bus_subscribe");
  cfg.add_message_type<bus_unsubscribe>("regcore::bus_unsubscribe");
  cfg.add_message_type<event_batch>("regcore::event_batch");
  cfg.add_message_type<event_ack>("regcore::event_ack");
  cfg.add_message_type<bus_stats>("regcore::bus_stats");
  cfg.add_error_category(error_category,
                         [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                           return render_error(code, ctx);
                         });
}

} // namespace regcore::messages
