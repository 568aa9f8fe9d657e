// SPDX-License-Identifier: MIT
#pragma once

// Per-source token buckets (rate limiting at the SIP edge): each source
// address may send `rate` requests per second on average and `burst` at
// once; beyond that it gets 503 with Retry-After (RFC 3261 §21.5.4).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/time.hpp"

namespace regcore::core {

struct rate_limit_settings {
  /// Tokens added per second (requests per second, sustained).
  double rate = 100;
  /// Bucket size (requests at once).
  double burst = 200;
  /// Sources tracked at most. When the table is full, buckets that have
  /// refilled completely are dropped (they carry no information); if none
  /// has, a new source is let through untracked (fail open: a flood of
  /// spoofed source addresses must not lock everybody out).
  size_t max_sources = 100000;
};

class rate_limiter {
public:
  explicit rate_limiter(rate_limit_settings s = {});

  /// Takes one token from `source`'s bucket at `now`; false when it is empty.
  bool allow(std::string_view source, time_point now);

  /// Whole seconds until `source` has a token again (>= 1), for Retry-After.
  uint32_t retry_after(std::string_view source, time_point now) const;

  size_t tracked() const noexcept { return buckets_.size(); }

private:
  struct bucket {
    double tokens = 0;
    time_point last;
  };

  double refill(const bucket& b, time_point now) const noexcept;
  void drop_full(time_point now);

  rate_limit_settings settings_;
  std::unordered_map<std::string, bucket> buckets_;
};

} // namespace regcore::core
