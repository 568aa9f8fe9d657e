// SPDX-License-Identifier: MIT
#define CAF_SUITE core.membership
#include "core/membership.hpp"

#include "core/ownership.hpp"

#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

using namespace regcore::core;

namespace {

cluster_member node(int n, uint64_t incarnation) {
  return {"node-" + std::to_string(n), "127.0.0.1",
          static_cast<uint16_t>(7000 + n), incarnation};
}

using strs = std::vector<std::string>;

/// "node-2#5" for each live member: ids and incarnations at a glance.
strs lives(const membership& view) {
  strs r;
  for (auto& m : view.members())
    r.push_back(m.id + "#" + std::to_string(m.incarnation));
  return r;
}

} // namespace

CAF_TEST(a new view holds only the local node) {
  membership view{node(1, 100)};
  CAF_CHECK_EQUAL(view.size(), 1u);
  CAF_CHECK_EQUAL(view.epoch(), 1u);
  CAF_CHECK_EQUAL(view.ids(), strs({"node-1"}));
  CAF_CHECK(view.self() == node(1, 100));
  CAF_CHECK(view.is_live(node(1, 100)));
  CAF_CHECK(view.find("node-2") == nullptr);
}

CAF_TEST(joins add members sorted by id and bump the epoch only on change) {
  membership view{node(2, 100)};
  CAF_CHECK(view.join(node(3, 7)) == join_result::added);
  CAF_CHECK(view.join(node(1, 5)) == join_result::added);
  CAF_CHECK_EQUAL(view.epoch(), 3u);
  CAF_CHECK(view.join(node(1, 5)) == join_result::unchanged);
  CAF_CHECK(view.join(node(2, 100)) == join_result::unchanged); // self
  CAF_CHECK_EQUAL(view.epoch(), 3u);
  CAF_CHECK_EQUAL(view.ids(), strs({"node-1", "node-2", "node-3"}));
  CAF_REQUIRE(view.find("node-3") != nullptr);
  CAF_CHECK_EQUAL(view.find("node-3")->port, 7003u);
  CAF_CHECK_EQUAL(address_of(*view.find("node-3")), "127.0.0.1:7003");
}

CAF_TEST(a newer incarnation replaces the old life and an older one is stale) {
  membership view{node(1, 100)};
  view.join(node(2, 10));
  CAF_CHECK(view.join(node(2, 20)) == join_result::replaced);
  CAF_CHECK_EQUAL(lives(view), strs({"node-1#100", "node-2#20"}));
  CAF_CHECK(view.join(node(2, 10)) == join_result::stale);
  CAF_CHECK_EQUAL(lives(view), strs({"node-1#100", "node-2#20"}));
  CAF_CHECK_EQUAL(view.epoch(), 3u);
  CAF_CHECK(!view.is_live(node(2, 10)));
  CAF_CHECK(view.is_live(node(2, 20)));
}

CAF_TEST(a down removes only the life it names) {
  membership view{node(1, 100)};
  view.join(node(2, 20));
  // A late down for the previous life (the crash before the restart).
  CAF_CHECK(!view.mark_down("node-2", 10));
  CAF_CHECK_EQUAL(lives(view), strs({"node-1#100", "node-2#20"}));
  CAF_CHECK_EQUAL(view.epoch(), 2u);
  // The current life goes down.
  CAF_CHECK(view.mark_down("node-2", 20));
  CAF_CHECK_EQUAL(view.ids(), strs({"node-1"}));
  CAF_CHECK_EQUAL(view.epoch(), 3u);
  CAF_CHECK_EQUAL(view.dead_up_to("node-2"), 20u);
  // Twice changes nothing.
  CAF_CHECK(!view.mark_down("node-2", 20));
  CAF_CHECK_EQUAL(view.epoch(), 3u);
  // Stale gossip from a peer that has not seen the crash yet.
  CAF_CHECK(view.join(node(2, 20)) == join_result::stale);
  CAF_CHECK(view.join(node(2, 15)) == join_result::stale);
  CAF_CHECK_EQUAL(view.ids(), strs({"node-1"}));
  // The restarted node comes back.
  CAF_CHECK(view.join(node(2, 30)) == join_result::added);
  CAF_CHECK_EQUAL(lives(view), strs({"node-1#100", "node-2#30"}));
}

CAF_TEST(a down ahead of the join keeps that life out) {
  membership view{node(1, 100)};
  CAF_CHECK(!view.mark_down("node-3", 40));
  CAF_CHECK_EQUAL(view.epoch(), 1u);
  CAF_CHECK(view.join(node(3, 40)) == join_result::stale);
  CAF_CHECK(view.join(node(3, 39)) == join_result::stale);
  CAF_CHECK(view.join(node(3, 41)) == join_result::added);
}

CAF_TEST(only the life itself revives a life marked down) {
  membership view{node(1, 100)};
  view.join(node(2, 20));
  view.mark_down("node-2", 20); // its connection broke; it was frozen
  CAF_CHECK(view.join(node(2, 20)) == join_result::stale);   // gossip: no
  CAF_CHECK(view.revive(node(2, 20)) == join_result::added); // its hello
  CAF_CHECK_EQUAL(lives(view), strs({"node-1#100", "node-2#20"}));
  CAF_CHECK_EQUAL(view.dead_up_to("node-2"), 19u);
  // Older lives stay dead; a down of a newer life is not lifted by an
  // older one's hello.
  CAF_CHECK(view.revive(node(2, 15)) == join_result::stale);
  view.mark_down("node-2", 30);
  CAF_CHECK(view.revive(node(2, 20)) == join_result::stale);
  CAF_CHECK_EQUAL(view.ids(), strs({"node-1"}));
  // With a newer life live, an old life's hello changes nothing.
  view.join(node(2, 40));
  view.mark_down("node-2", 40);
  view.join(node(2, 50));
  CAF_CHECK(view.revive(node(2, 40)) == join_result::stale);
  CAF_CHECK_EQUAL(lives(view), strs({"node-1#100", "node-2#50"}));
  // Like join() for a life never marked down.
  CAF_CHECK(view.revive(node(3, 7)) == join_result::added);
}

CAF_TEST(the local node is never removed and its id is not taken over) {
  membership view{node(1, 100)};
  CAF_CHECK(!view.mark_down("node-1", 100));
  CAF_CHECK(!view.mark_down("node-1", 1000));
  CAF_CHECK_EQUAL(view.ids(), strs({"node-1"}));
  // Gossip about this node's previous life.
  CAF_CHECK(view.join(node(1, 50)) == join_result::stale);
  // Another process claims the id.
  CAF_CHECK(view.join(node(1, 200)) == join_result::conflict);
  auto other_address = node(1, 100);
  other_address.port = 9999;
  CAF_CHECK(view.join(other_address) == join_result::conflict);
  CAF_CHECK(view.self() == node(1, 100));
  CAF_CHECK_EQUAL(view.epoch(), 1u);
}

CAF_TEST(merge reports what changed in the order given) {
  membership view{node(1, 100)};
  view.join(node(2, 20));
  view.mark_down("node-4", 9);
  auto changes = view.merge({node(1, 100), node(2, 20), node(3, 30),
                             node(2, 25), node(4, 9), node(5, 50)});
  CAF_REQUIRE_EQUAL(changes.size(), 3u);
  CAF_CHECK(changes[0].member == node(3, 30));
  CAF_CHECK(changes[0].result == join_result::added);
  CAF_CHECK(changes[1].member == node(2, 25));
  CAF_CHECK(changes[1].result == join_result::replaced);
  CAF_CHECK(changes[2].member == node(5, 50));
  CAF_CHECK_EQUAL(lives(view),
                  strs({"node-1#100", "node-2#25", "node-3#30", "node-5#50"}));
  CAF_CHECK(view.merge({node(3, 30), node(5, 50)}).empty());
}

CAF_TEST(any order of the same joins and downs gives the same view) {
  // Lives of nodes 2 and 3, a restart of 2, crashes, a late down for an old
  // life, a gossip echo: every permutation of these 7 operations.
  using op = std::function<void(membership&)>;
  std::vector<op> ops{
      [](membership& v) { v.join(node(2, 10)); },
      [](membership& v) { v.join(node(2, 20)); },
      [](membership& v) { v.mark_down("node-2", 10); },
      [](membership& v) { v.join(node(3, 5)); },
      [](membership& v) { v.mark_down("node-3", 5); },
      [](membership& v) { v.join(node(4, 7)); },
      [](membership& v) {
        v.merge({node(2, 10), node(3, 5), node(4, 7)});
      },
  };
  std::vector<size_t> order(ops.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  const strs expected{"node-1#100", "node-2#20", "node-4#7"};
  size_t runs = 0;
  size_t mismatches = 0;
  do {
    membership view{node(1, 100)};
    for (auto i : order)
      ops[i](view);
    if (lives(view) != expected)
      ++mismatches;
    ++runs;
  } while (std::next_permutation(order.begin(), order.end()));
  CAF_CHECK_EQUAL(runs, 5040u);
  CAF_CHECK_EQUAL(mismatches, 0u);
}

CAF_TEST(two claims of one life resolve to the smaller address in any order) {
  auto a = node(2, 10);
  auto b = node(2, 10);
  b.port = 6999; // smaller address
  membership x{node(1, 100)};
  membership y{node(1, 100)};
  x.join(a);
  x.join(b);
  y.join(b);
  y.join(a);
  CAF_REQUIRE(x.find("node-2") != nullptr);
  CAF_REQUIRE(y.find("node-2") != nullptr);
  CAF_CHECK_EQUAL(x.find("node-2")->port, 6999u);
  CAF_CHECK_EQUAL(y.find("node-2")->port, 6999u);
}

CAF_TEST(views built in different orders agree on the owner of every aor) {
  membership x{node(1, 100)};
  membership y{node(3, 300)};
  x.merge({node(3, 300), node(2, 200)});
  y.merge({node(2, 200), node(1, 100)});
  auto xs = x.ids();
  auto ys = y.ids();
  CAF_REQUIRE_EQUAL(xs, ys);
  for (int i = 0; i < 100; ++i) {
    auto aor = "sip:user" + std::to_string(i) + "@example.com";
    auto a = xs[owner_of(aor, xs)];
    auto b = ys[owner_of(aor, ys)];
    CAF_CHECK_EQUAL(a, b);
  }
}

CAF_TEST(incarnations grow with the clock and carry the salt) {
  CAF_CHECK_LESS(make_incarnation(1000, 0xFFFF), make_incarnation(1001, 0));
  CAF_CHECK_EQUAL(make_incarnation(1, 7), (uint64_t{1} << 16) | 7u);
  CAF_CHECK_NOT_EQUAL(make_incarnation(1000, 1), make_incarnation(1000, 2));
}

CAF_TEST(addresses and names print for logs) {
  CAF_CHECK_EQUAL(address_of(node(1, 5)), "127.0.0.1:7001");
  cluster_member v6{"node-6", "::1", 7006, 9};
  CAF_CHECK_EQUAL(address_of(v6), "[::1]:7006");
  CAF_CHECK_EQUAL(to_string(v6), "node-6@[::1]:7006#9");
  CAF_CHECK_EQUAL(std::string{to_string(join_result::replaced)}, "replaced");
  CAF_CHECK(changed(join_result::added));
  CAF_CHECK(changed(join_result::replaced));
  CAF_CHECK(!changed(join_result::unchanged));
  CAF_CHECK(!changed(join_result::stale));
  CAF_CHECK(!changed(join_result::conflict));
}
