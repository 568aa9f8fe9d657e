// SPDX-License-Identifier: MIT
#pragma once

// The subscription state machine of RFC 6665 (§4.1.3, §4.2.2) over
// core::subscription:
//
//   pending --activate--> active
//   pending|active --refresh--> same state, new expiry
//   any --terminate(reason)--> terminated   (idempotent: the first reason stays)
//   pending|active --expire at/after expires_at--> terminated;reason=timeout
//
// Every NOTIFY carries the next version (next_version); the first NOTIFY of
// a subscription carries version 1. Invalid transitions are errors, never
// asserts.

#include <cstdint>
#include <string>

#include "core/model.hpp"
#include "core/result.hpp"

namespace regcore::core {

/// Increments and returns the version for the next NOTIFY.
uint32_t next_version(subscription& sub) noexcept;

/// pending -> active; no-op when already active; invalid_state when
/// terminated.
result<void> activate(subscription& sub);

/// New expiry (expires > 0) from `now`; invalid_state when terminated.
result<void> refresh(subscription& sub, time_point now, uint32_t expires);

/// Ends the subscription. A second call keeps the first reason.
void terminate(subscription& sub, termination_reason reason) noexcept;

/// Terminates with reason timeout when the subscription is due at `now`.
/// Returns true when it did.
bool expire(subscription& sub, time_point now) noexcept;

/// The Subscription-State header value for a NOTIFY sent at `now`:
/// "active;expires=N", "pending;expires=N", "terminated;reason=timeout"
/// (or plain "terminated" without a reason).
std::string subscription_state_value(const subscription& sub, time_point now);

} // namespace regcore::core
