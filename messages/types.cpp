// SPDX-License-Identifier: MIT
#include "messages/types.hpp"

#include "messages/error.hpp"
#include "messages/type_list.hpp"

namespace regcore::messages {

void register_types(caf::actor_system_config& cfg) {
#define REGCORE_REGISTER(type, name) cfg.add_message_type<type>("regcore::" #name);
  REGCORE_FOR_EACH_MESSAGE_TYPE(REGCORE_REGISTER)
#undef REGCORE_REGISTER
  cfg.add_error_category(error_category,
                         [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                           return render_error(code, ctx);
                         });
}

} // namespace regcore::messages
