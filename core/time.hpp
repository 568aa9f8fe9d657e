// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>

namespace regcore::core {

/// The one clock of core/: time is always passed in as a parameter. Actors
/// pass `self->clock().now()` (CAF's actor_clock is a steady_clock), which
/// under the test coordinator is simulated.
using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;
using duration = clock_type::duration;
using seconds = std::chrono::seconds;

/// Whole seconds left until `deadline`, rounded up, 0 once it has passed.
inline uint32_t remaining_seconds(time_point deadline, time_point now) noexcept {
  if (deadline <= now)
    return 0;
  auto left = std::chrono::ceil<seconds>(deadline - now).count();
  return left > 0xFFFFFFFFll ? 0xFFFFFFFFu : static_cast<uint32_t>(left);
}

} // namespace regcore::core
