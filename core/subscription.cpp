// SPDX-License-Identifier: MIT
#include "core/subscription.hpp"

namespace regcore::core {

uint32_t next_version(subscription& sub) noexcept {
  return ++sub.version;
}

result<void> activate(subscription& sub) {
  if (sub.state == subscription_state::terminated)
    return make_error(errc::invalid_state, "Subscription already terminated");
  sub.state = subscription_state::active;
  return {};
}

result<void> refresh(subscription& sub, time_point now, uint32_t expires) {
  if (sub.state == subscription_state::terminated)
    return make_error(errc::invalid_state, "Subscription already terminated");
  if (expires == 0)
    return make_error(errc::invalid_input, "Refresh needs a non-zero expiry");
  sub.expires = expires;
  sub.expires_at = now + seconds{expires};
  return {};
}

void terminate(subscription& sub, termination_reason reason) noexcept {
  if (sub.state == subscription_state::terminated)
    return;
  sub.state = subscription_state::terminated;
  sub.reason = reason;
}

bool expire(subscription& sub, time_point now) noexcept {
  if (sub.state == subscription_state::terminated || sub.expires_at > now)
    return false;
  terminate(sub, termination_reason::timeout);
  return true;
}

std::string subscription_state_value(const subscription& sub, time_point now) {
  std::string out = to_string(sub.state);
  if (sub.state == subscription_state::terminated) {
    if (sub.reason != termination_reason::none) {
      out += ";reason=";
      out += to_string(sub.reason);
    }
    return out;
  }
  out += ";expires=";
  out += std::to_string(remaining_seconds(sub.expires_at, now));
  return out;
}

} // namespace regcore::core
