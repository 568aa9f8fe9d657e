// SPDX-License-Identifier: MIT
#include "core/model.hpp"

#include "core/strings.hpp"

namespace regcore::core {

const char* to_string(transport x) noexcept {
  switch (x) {
    case transport::udp: return "UDP";
    case transport::tcp: return "TCP";
    case transport::tls: return "TLS";
    case transport::ws: return "WS";
    case transport::wss: return "WSS";
  }
  return "UDP";
}

std::optional<transport> parse_transport(std::string_view x) noexcept {
  if (iequals(x, "udp")) return transport::udp;
  if (iequals(x, "tcp")) return transport::tcp;
  if (iequals(x, "tls")) return transport::tls;
  if (iequals(x, "ws")) return transport::ws;
  if (iequals(x, "wss")) return transport::wss;
  return std::nullopt;
}

const char* to_string(basic_status x) noexcept {
  return x == basic_status::open ? "open" : "closed";
}

const char* to_string(extended_status x) noexcept {
  switch (x) {
    case extended_status::none: return "none";
    case extended_status::available: return "available";
    case extended_status::away: return "away";
    case extended_status::busy: return "busy";
    case extended_status::do_not_disturb: return "do_not_disturb";
    case extended_status::on_the_phone: return "on_the_phone";
    case extended_status::in_meeting: return "in_meeting";
    case extended_status::custom: return "custom";
  }
  return "none";
}

basic_status implied_basic(extended_status x) noexcept {
  switch (x) {
    case extended_status::none:
    case extended_status::available:
    case extended_status::custom:
      return basic_status::open;
    case extended_status::away:
    case extended_status::busy:
    case extended_status::do_not_disturb:
    case extended_status::on_the_phone:
    case extended_status::in_meeting:
      return basic_status::closed;
  }
  return basic_status::closed;
}

const char* to_string(subscription_state x) noexcept {
  switch (x) {
    case subscription_state::pending: return "pending";
    case subscription_state::active: return "active";
    case subscription_state::terminated: return "terminated";
  }
  return "terminated";
}

const char* to_string(termination_reason x) noexcept {
  switch (x) {
    case termination_reason::none: return "";
    case termination_reason::timeout: return "timeout";
    case termination_reason::deactivated: return "deactivated";
    case termination_reason::rejected: return "rejected";
    case termination_reason::noresource: return "noresource";
    case termination_reason::giveup: return "giveup";
    case termination_reason::probation: return "probation";
  }
  return "";
}

} // namespace regcore::core
