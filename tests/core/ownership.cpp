// SPDX-License-Identifier: MIT
#define CAF_SUITE core.ownership
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/hash.hpp"
#include "core/ownership.hpp"

using namespace regcore::core;

namespace {

std::string aor(size_t i) {
  return "sip:user" + std::to_string(i) + "@example.com";
}

const std::vector<std::string> three = {"node-1", "node-2", "node-3"};

} // namespace

CAF_TEST(every node computes the same owner whatever the order of the members) {
  std::vector<std::string> shuffled = {"node-3", "node-1", "node-2"};
  for (size_t i = 0; i < 1000; ++i) {
    auto a = three[owner_of(aor(i), three)];
    auto b = shuffled[owner_of(aor(i), shuffled)];
    CAF_CHECK_EQUAL(a, b);
  }
  // And the same across calls and processes: the weight is a fixed function.
  CAF_CHECK_EQUAL(rendezvous_weight("sip:alice@example.com", "node-1"),
                  rendezvous_weight("sip:alice@example.com", "node-1"));
  CAF_CHECK_NOT_EQUAL(rendezvous_weight("ab", "c"), rendezvous_weight("a", "bc"));
}

CAF_TEST(owners spread evenly over the members) {
  std::map<std::string, size_t> count;
  const size_t n = 30000;
  for (size_t i = 0; i < n; ++i)
    ++count[three[owner_of(aor(i), three)]];
  CAF_REQUIRE_EQUAL(count.size(), 3u);
  for (auto& kvp : count) {
    CAF_MESSAGE(kvp.first << " owns " << kvp.second);
    // 10,000 each when perfectly even; +-5 % is far outside chance.
    CAF_CHECK_GREATER(kvp.second, 9500u);
    CAF_CHECK_LESS(kvp.second, 10500u);
  }
}

CAF_TEST(a leaving member moves only what it owned to its replica) {
  std::vector<std::string> two = {"node-1", "node-3"}; // node-2 is gone
  size_t moved = 0;
  for (size_t i = 0; i < 10000; ++i) {
    auto before = replica_set(aor(i), three, 2);
    auto old_owner = three[before[0]];
    auto new_owner = two[owner_of(aor(i), two)];
    if (old_owner == "node-2") {
      ++moved;
      // The replica of before takes over: no hand-over needed.
      CAF_CHECK_EQUAL(new_owner, three[before[1]]);
    } else {
      CAF_CHECK_EQUAL(new_owner, old_owner);
    }
  }
  CAF_CHECK_GREATER(moved, 3000u);
  CAF_CHECK_LESS(moved, 3700u);
}

CAF_TEST(a joining member takes over about one in n of the aors) {
  auto four = three;
  four.push_back("node-4");
  size_t taken = 0;
  for (size_t i = 0; i < 10000; ++i) {
    auto before = three[owner_of(aor(i), three)];
    auto after = four[owner_of(aor(i), four)];
    if (after != before) {
      CAF_CHECK_EQUAL(after, "node-4"); // nothing moves between old members
      ++taken;
    }
  }
  CAF_CHECK_GREATER(taken, 2200u);
  CAF_CHECK_LESS(taken, 2800u);
}

CAF_TEST(replica sets start with the owner and hold distinct members) {
  for (size_t i = 0; i < 1000; ++i) {
    auto set = replica_set(aor(i), three, 2);
    CAF_REQUIRE_EQUAL(set.size(), 2u);
    CAF_CHECK_EQUAL(set[0], owner_of(aor(i), three));
    CAF_CHECK_NOT_EQUAL(set[0], set[1]);
  }
  CAF_CHECK_EQUAL(replica_set("sip:a@x", three, 5).size(), 3u); // capped
  CAF_CHECK_EQUAL(replica_set("sip:a@x", {"solo"}, 2), std::vector<size_t>{0});
}

CAF_TEST(the owner from the key hash and member salts is the owner) {
  std::vector<uint64_t> salts;
  for (auto& m : three)
    salts.push_back(member_salt(m));
  for (size_t i = 0; i < 1000; ++i)
    CAF_CHECK_EQUAL(owner_of_hash(stable_hash(aor(i)), salts, three), owner_of(aor(i), three));
}

CAF_TEST(dialog tag prefixes name their node and are recognized) {
  auto a = dialog_tag_prefix("node-1");
  auto b = dialog_tag_prefix("node-2");
  CAF_CHECK_EQUAL(a.size(), 10u);
  CAF_CHECK_NOT_EQUAL(a, b);
  CAF_CHECK_EQUAL(a, dialog_tag_prefix("node-1")); // stable
  auto tag_a = a + "0123456789ab"; // the view points into its tag
  auto tag_b = b + "x";
  CAF_CHECK_EQUAL(dialog_tag_prefix_of(tag_a), a);
  CAF_CHECK_EQUAL(dialog_tag_prefix_of(tag_b), b);
  // Tags of an edge outside a cluster, and look-alikes, have none.
  CAF_CHECK(dialog_tag_prefix_of("0123456789ab").empty());
  CAF_CHECK(dialog_tag_prefix_of("n1234567").empty());
  CAF_CHECK(dialog_tag_prefix_of("n1234567g.abc").empty());
  CAF_CHECK(dialog_tag_prefix_of("n12345678-abc").empty());
  CAF_CHECK(dialog_tag_prefix_of("").empty());
}
