// SPDX-License-Identifier: MIT
#define CAF_SUITE core.hash
#include <caf/test/unit_test.hpp>

#include <vector>

#include "core/hash.hpp"

using namespace regcore::core;

CAF_TEST(fnv1a matches the published test vectors) {
  // Reference values of FNV-1a 64 (Fowler/Noll/Vo test suite).
  CAF_CHECK_EQUAL(stable_hash(""), 0xcbf29ce484222325ull);
  CAF_CHECK_EQUAL(stable_hash("a"), 0xaf63dc4c8601ec8cull);
  CAF_CHECK_EQUAL(stable_hash("foobar"), 0x85944171f73967e8ull);
}

CAF_TEST(shards spread keys over every shard) {
  std::vector<int> counts(8, 0);
  for (int i = 0; i < 8000; ++i) {
    auto key = "sip:user" + std::to_string(i) + "@example.com";
    auto s = shard_of(key, 8);
    CAF_REQUIRE(s < 8);
    ++counts[s];
  }
  for (auto c : counts) // 1000 expected each; allow generous spread
    CAF_CHECK(c > 800 && c < 1200);
  CAF_CHECK_EQUAL(shard_of("x", 0), 0u);
}
