// SPDX-License-Identifier: MIT
#include "messages/error.hpp"

#include <caf/message.hpp>

namespace regcore::messages {

core::error from_caf_error(const caf::error& x) {
  core::error result;
  if (x.category() != error_category) {
    result.code = core::errc::invalid_state;
    result.reason = "caf error code " + std::to_string(x.code());
    return result;
  }
  result.code = static_cast<core::errc>(x.code());
  const auto& ctx = x.context();
  if (ctx.match_elements<std::string, uint32_t>()) {
    result.reason = ctx.get_as<std::string>(0);
    result.value = ctx.get_as<uint32_t>(1);
  }
  return result;
}

std::string render_error(uint8_t code, const caf::message& ctx) {
  std::string result = core::to_string(static_cast<core::errc>(code));
  if (ctx.match_elements<std::string, uint32_t>()) {
    result += " (";
    auto& reason = ctx.get_as<std::string>(0);
    result += reason.empty() ? core::default_reason(static_cast<core::errc>(code))
                             : reason;
    if (auto v = ctx.get_as<uint32_t>(1); v != 0) {
      result += ", ";
      result += std::to_string(v);
    }
    result += ')';
  }
  return result;
}

} // namespace regcore::messages
