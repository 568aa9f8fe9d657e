// SPDX-License-Identifier: MIT
#define CAF_SUITE core.rate_limiter
#include <caf/test/unit_test.hpp>

#include "core/rate_limiter.hpp"

using namespace regcore::core;
using namespace std::chrono_literals;

namespace {

time_point at(std::chrono::milliseconds ms) {
  return time_point{} + ms;
}

} // namespace

CAF_TEST(a burst passes then the rate holds) {
  rate_limiter r{{10, 5, 100}};
  int passed = 0;
  for (int i = 0; i < 20; ++i)
    passed += r.allow("10.0.0.1", at(0ms)) ? 1 : 0;
  CAF_CHECK_EQUAL(passed, 5);
  CAF_CHECK_EQUAL(r.retry_after("10.0.0.1", at(0ms)), 1u);
  // 10 per second: one more token after 100 ms, not before.
  CAF_CHECK(!r.allow("10.0.0.1", at(50ms)));
  CAF_CHECK(r.allow("10.0.0.1", at(160ms)));
  CAF_CHECK(!r.allow("10.0.0.1", at(170ms)));
  // Another source has its own bucket.
  CAF_CHECK(r.allow("10.0.0.2", at(170ms)));
  // Refill caps at the burst.
  int later = 0;
  for (int i = 0; i < 20; ++i)
    later += r.allow("10.0.0.1", at(60000ms)) ? 1 : 0;
  CAF_CHECK_EQUAL(later, 5);
}

CAF_TEST(retry after is whole seconds until the next token) {
  rate_limiter r{{0.25, 1, 100}}; // one request per 4 s
  CAF_CHECK(r.allow("s", at(0ms)));
  CAF_CHECK(!r.allow("s", at(0ms)));
  CAF_CHECK_EQUAL(r.retry_after("s", at(0ms)), 4u);
  CAF_CHECK_EQUAL(r.retry_after("s", at(3500ms)), 1u);
  CAF_CHECK(r.allow("s", at(4000ms)));
}

CAF_TEST(the source table is bounded and fails open) {
  rate_limiter r{{1, 1, 2}};
  CAF_CHECK(r.allow("a", at(0ms)));
  CAF_CHECK(r.allow("b", at(0ms)));
  CAF_CHECK_EQUAL(r.tracked(), 2u);
  // Full, no bucket refilled: an untracked source passes.
  CAF_CHECK(r.allow("c", at(0ms)));
  CAF_CHECK(r.allow("c", at(0ms)));
  CAF_CHECK_EQUAL(r.tracked(), 2u);
  // Later a and b are full again and make room.
  CAF_CHECK(r.allow("c", at(5000ms)));
  CAF_CHECK(!r.allow("c", at(5000ms)));
  CAF_CHECK_LESS_OR_EQUAL(r.tracked(), 2u);
}
