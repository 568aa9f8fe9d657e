// SPDX-License-Identifier: MIT
#include "core/rate_limiter.hpp"

#include <chrono>
#include <cmath>

namespace regcore::core {

rate_limiter::rate_limiter(rate_limit_settings s) : settings_(s) {
  if (settings_.burst < 1)
    settings_.burst = 1;
}

double rate_limiter::refill(const bucket& b, time_point now) const noexcept {
  auto secs = std::chrono::duration<double>(now - b.last).count();
  if (secs < 0)
    secs = 0;
  auto t = b.tokens + secs * settings_.rate;
  return t > settings_.burst ? settings_.burst : t;
}

void rate_limiter::drop_full(time_point now) {
  for (auto i = buckets_.begin(); i != buckets_.end();) {
    if (refill(i->second, now) >= settings_.burst)
      i = buckets_.erase(i);
    else
      ++i;
  }
}

bool rate_limiter::allow(std::string_view source, time_point now) {
  auto i = buckets_.find(std::string{source});
  if (i == buckets_.end()) {
    if (buckets_.size() >= settings_.max_sources) {
      drop_full(now);
      if (buckets_.size() >= settings_.max_sources)
        return true; // fail open, see rate_limit_settings::max_sources
    }
    i = buckets_.emplace(std::string{source}, bucket{settings_.burst, now}).first;
  }
  auto& b = i->second;
  b.tokens = refill(b, now);
  b.last = now;
  if (b.tokens < 1)
    return false;
  b.tokens -= 1;
  return true;
}

uint32_t rate_limiter::retry_after(std::string_view source, time_point now) const {
  auto i = buckets_.find(std::string{source});
  if (i == buckets_.end() || settings_.rate <= 0)
    return 1;
  auto missing = 1.0 - refill(i->second, now);
  if (missing <= 0)
    return 1;
  auto secs = static_cast<uint32_t>(std::ceil(missing / settings_.rate));
  return secs < 1 ? 1 : secs;
}

} // namespace regcore::core
