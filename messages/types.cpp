// SPDX-License-Identifier: MIT
#include "messages/types.hpp"

#include "messages/core_inspect.hpp"
#include "messages/error.hpp"
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
  cfg.add_error_category(error_category,
                         [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                           return render_error(code, ctx);
                         });
}

} // namespace regcore::messages
