// SPDX-License-Identifier: MIT
// Replication across the nodes of a cluster (issue 8), three engines in one
// actor system under the test coordinator (as in actors.cluster_routing):
// every change of a user reaches the replica node core::replica_set picks;
// when an owner is lost, its users' replica takes them over and copies
// them to their new replica; when a node joins (or rejoins), the users it
// owns now are handed over to it, merged with what reached it first.
#define CAF_SUITE actors.cluster_replication
#include "actors/engine.hpp"
#include "core/ownership.hpp"
#include "messages/types.hpp"
#include "tests/actors/support.hpp"

#include <caf/test/dsl.hpp>

using namespace regcore;
using namespace std::chrono_literals;

namespace {

using config = test_support::registered_types_config;

const std::vector<std::string> names = {"node-1", "node-2", "node-3"};

struct fixture : test_coordinator_fixture<config> {
  std::vector<actors::engine> nodes;
  uint32_t cseq = 0;

  fixture() {
    for (size_t i = 0; i < names.size(); ++i) {
      actors::engine_config ecfg;
      ecfg.shards = 2;
      ecfg.replication = 2;
      nodes.push_back(actors::spawn_engine(sys, ecfg));
    }
    route(names);
  }

  ~fixture() {
    for (auto& n : nodes)
      n.shutdown();
    sched.run();
  }

  /// Routes over `members` (by name) on each of them, then take-over.
  void route(const std::vector<std::string>& members) {
    cluster_routes routes;
    routes.epoch = members.size();
    for (auto& m : members)
      routes.members.push_back(nodes[index(m)].route_entry(m));
    for (auto& m : members)
      CAF_REQUIRE(nodes[index(m)].set_routes(routes, m));
    for (auto& m : members) {
      nodes[index(m)].take_over();
      nodes[index(m)].rebalance();
    }
    sched.run();
  }

  /// Users held in node `i`'s shards.
  size_t users_on(size_t i) {
    size_t n = 0;
    for (auto& s : nodes[i].refs->shards) {
      auto rh = self->request(s, caf::infinite, stats_atom::value);
      sched.run();
      rh.receive([&](const shard_stats& x) { n += x.users; },
                 [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
    }
    return n;
  }

  static size_t index(const std::string& name) {
    return static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
  }

  template <class Reply, class Request>
  caf::expected<Reply> call(size_t node, Request req) {
    caf::expected<Reply> result{caf::sec::request_timeout};
    auto rh = self->request(nodes[node].service, caf::infinite, std::move(req));
    sched.run();
    rh.receive([&](Reply& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  caf::expected<register_reply> reg(size_t node, std::string aor, std::string uri) {
    register_request req;
    req.aor = std::move(aor);
    contact_request c;
    c.uri = std::move(uri);
    c.expires = 600;
    req.contacts.push_back(std::move(c));
    req.call_id = "replication@test";
    req.cseq = ++cseq;
    return call<register_reply>(node, std::move(req));
  }

  /// Whether node `i`'s replica holds a copy of `aor`.
  bool holds(size_t i, const std::string& aor) {
    bool held = false;
    auto rh = self->request(nodes[i].refs->replica, caf::infinite, caf::get_atom::value, aor);
    sched.run();
    rh.receive([&](bool x) { held = x; }, [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
    return held;
  }
};

std::string user(size_t i) {
  return "sip:user" + std::to_string(i) + "@example.com";
}

std::string contact(size_t i) {
  return "sip:u" + std::to_string(i) + "@192.0.2.1";
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_replication_tests, fixture)

CAF_TEST(every change of a user reaches its replica node) {
  for (size_t i = 0; i < 30; ++i)
    CAF_REQUIRE(reg(i % 3, user(i), contact(i)));
  for (size_t i = 0; i < 30; ++i) {
    auto set = core::replica_set(user(i), names, 2);
    CAF_REQUIRE_EQUAL(set.size(), 2u);
    CAF_CHECK(holds(set[1], user(i)));
    CAF_CHECK(!holds(set[0], user(i))); // the owner keeps no copy of its own
  }
  // An unregistration erases the copy.
  register_request bye;
  bye.aor = user(0);
  bye.wildcard = true;
  bye.expires = 0;
  bye.call_id = "replication@test";
  bye.cseq = ++cseq;
  CAF_REQUIRE(call<register_reply>(1, bye));
  CAF_CHECK(!holds(core::replica_set(user(0), names, 2)[1], user(0)));
}

CAF_TEST(the replica of a lost owner takes its users over) {
  const size_t n = 30;
  std::vector<size_t> lost;
  for (size_t i = 0; i < n; ++i) {
    CAF_REQUIRE(reg(i % 3, user(i), contact(i)));
    if (core::owner_of(user(i), names) == 2)
      lost.push_back(i);
  }
  CAF_REQUIRE(!lost.empty());
  CAF_MESSAGE(lost.size() << " of " << n << " users owned by node-3");
  // node-3 dies; the others route over the two of them.
  nodes[2].shutdown();
  sched.run();
  std::vector<std::string> two = {"node-1", "node-2"};
  route(two);
  for (size_t i = 0; i < n; ++i) {
    for (size_t via = 0; via < 2; ++via) {
      auto found = call<register_reply>(via, lookup_request{user(i)});
      CAF_REQUIRE(found);
      CAF_REQUIRE_EQUAL(found->bindings.size(), 1u);
      CAF_CHECK_EQUAL(found->bindings[0].uri, contact(i));
    }
  }
  // The taken-over users have a copy again, on the other survivor.
  for (auto i : lost) {
    auto set = core::replica_set(user(i), two, 2);
    CAF_CHECK(holds(set[1], user(i)));
    CAF_CHECK(!holds(set[0], user(i)));
  }
  // And they go on: a refresh through either node reaches the new owner.
  CAF_CHECK(reg(1, user(lost[0]), contact(lost[0])));
}

CAF_TEST(a node that joins gets the users it owns by hand-over) {
  const std::vector<std::string> two = {"node-1", "node-2"};
  route(two);
  const size_t n = 40;
  std::vector<size_t> moving;
  for (size_t i = 0; i < n; ++i) {
    CAF_REQUIRE(reg(i % 2, user(i), contact(i)));
    if (core::owner_of(user(i), names) == 2)
      moving.push_back(i);
  }
  CAF_REQUIRE(moving.size() >= 3);
  CAF_MESSAGE(moving.size() << " of " << n << " users move to node-3");
  CAF_CHECK_EQUAL(users_on(0) + users_on(1), n);
  CAF_CHECK_EQUAL(users_on(2), 0u);
  // Two of the moving users publish presence: each gets an actor of its own
  // (active), handed over by asking it for its state.
  for (size_t k = 0; k < 2; ++k) {
    presence_update_request up;
    up.aor = user(moving[k]);
    up.basic = core::basic_status::open;
    up.note = "note " + std::to_string(k);
    CAF_REQUIRE(call<presence_reply>(k, up));
  }
  // node-3 joins. Every node has the new routes before any shard
  // rebalances, and a REGISTER of a moving user (a second device) reaches
  // node-3 first: the user it creates there absorbs the handed-over one.
  cluster_routes routes;
  routes.epoch = 10;
  for (auto& m : names)
    routes.members.push_back(nodes[index(m)].route_entry(m));
  for (auto& m : names)
    CAF_REQUIRE(nodes[index(m)].set_routes(routes, m));
  auto early = moving.back();
  register_request req;
  req.aor = user(early);
  contact_request c;
  c.uri = "sip:second@192.0.2.9";
  c.expires = 600;
  req.contacts.push_back(c);
  req.call_id = "second-device@test";
  req.cseq = 1;
  auto rh = self->request(nodes[2].service, caf::infinite, req);
  sched.run();
  rh.receive([](register_reply& x) { CAF_CHECK_EQUAL(x.bindings.size(), 1u); },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  for (auto& m : names) {
    nodes[index(m)].take_over();
    nodes[index(m)].rebalance();
  }
  sched.run();
  // Each user is held once, by its owner.
  CAF_CHECK_EQUAL(users_on(2), moving.size());
  CAF_CHECK_EQUAL(users_on(0) + users_on(1) + users_on(2), n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t via = 0; via < 3; ++via) {
      auto found = call<register_reply>(via, lookup_request{user(i)});
      CAF_REQUIRE(found);
      if (i == early) {
        CAF_CHECK_EQUAL(found->bindings.size(), 2u); // merged, nothing lost
      } else {
        CAF_REQUIRE_EQUAL(found->bindings.size(), 1u);
        CAF_CHECK_EQUAL(found->bindings[0].uri, contact(i));
      }
    }
  }
  // The active users' presence moved with them.
  for (size_t k = 0; k < 2; ++k) {
    auto p = call<presence_reply>(0, get_presence_request{user(moving[k])});
    CAF_REQUIRE(p);
    CAF_CHECK_EQUAL(p->state.note, "note " + std::to_string(k));
  }
  // The reverse index moved too: node-3 finds the contacts it now holds.
  auto who = call<std::string>(0, find_user_request{contact(moving[0])});
  CAF_REQUIRE(who);
  CAF_CHECK_EQUAL(*who, user(moving[0]));
  // Every user has its copy on its replica under the new routes (users
  // that stayed but got node-3 as replica were written again).
  for (size_t i = 0; i < n; ++i) {
    auto set = core::replica_set(user(i), names, 2);
    CAF_CHECK(holds(set[1], user(i)));
    CAF_CHECK(!holds(set[0], user(i)));
  }
  // So node-1 may die now: nothing is lost.
  nodes[0].shutdown();
  sched.run();
  const std::vector<std::string> rest = {"node-2", "node-3"};
  route(rest);
  for (size_t i = 0; i < n; ++i) {
    auto found = call<register_reply>(1, lookup_request{user(i)});
    CAF_REQUIRE(found);
    CAF_CHECK_EQUAL(found->bindings.size(), i == early ? 2u : 1u);
  }
  CAF_CHECK_EQUAL(users_on(1) + users_on(2), n);
}

CAF_TEST(the last survivor of two takes everything over) {
  const std::vector<std::string> two = {"node-1", "node-2"};
  route(two);
  for (size_t i = 0; i < 20; ++i)
    CAF_REQUIRE(reg(i % 2, user(i), contact(i)));
  nodes[1].shutdown();
  sched.run();
  route({"node-1"});
  for (size_t i = 0; i < 20; ++i) {
    auto found = call<register_reply>(0, lookup_request{user(i)});
    CAF_REQUIRE(found);
    CAF_CHECK_EQUAL(found->bindings.size(), 1u);
  }
  CAF_CHECK_EQUAL(users_on(0), 20u);
}

CAF_TEST(presence policies follow their users at hand-over and take-over) {
  const std::vector<std::string> two = {"node-1", "node-2"};
  route(two);
  // A presentity node-3 will own once it joins.
  std::string target;
  for (int k = 0; target.empty(); ++k) {
    auto aor = "sip:pol" + std::to_string(k) + "@example.com";
    if (core::owner_of(aor, names) == 2)
      target = aor;
  }
  set_policy_request pol;
  pol.aor = target;
  pol.policy.rules.push_back(core::policy_rule{"sip:mallory@example.com",
                                               core::policy_action::block});
  CAF_REQUIRE(call<caf::ok_atom>(0, pol));
  auto subscribe = [&](size_t via, const std::string& watcher) {
    subscribe_request req;
    req.watcher = watcher;
    req.target = target;
    req.expires = 600;
    return call<subscribe_reply>(via, req);
  };
  CAF_CHECK(!subscribe(1, "sip:mallory@example.com"));
  // node-3 joins: the policy is handed over with the user.
  route(names);
  CAF_CHECK(!subscribe(2, "sip:mallory@example.com"));
  CAF_CHECK(!subscribe(0, "sip:mallory@example.com"));
  CAF_CHECK(subscribe(0, "sip:friend@example.com"));
  // node-3 dies: its replica takes the policy over with the user.
  nodes[2].shutdown();
  sched.run();
  route(two);
  auto refused = subscribe(0, "sip:mallory@example.com");
  CAF_REQUIRE(!refused);
  CAF_CHECK_EQUAL(refused.error().code(), static_cast<uint8_t>(core::errc::forbidden));
  CAF_CHECK(!subscribe(1, "sip:mallory@example.com"));
  CAF_CHECK(subscribe(1, "sip:friend2@example.com"));
}

CAF_TEST_FIXTURE_SCOPE_END()
