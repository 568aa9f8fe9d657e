// SPDX-License-Identifier: MIT
// The cluster node actor under CAF's deterministic test coordinator: several
// nodes in one actor system, a fake connector instead of the middleman (it
// answers connect_atom with the local node actor registered at an address,
// exactly as the middleman answers with a proxy), no network, no sleeps.
#define CAF_SUITE actors.cluster
#include "actors/cluster.hpp"

#include "messages/cluster_messages.hpp"
#include "messages/types.hpp"

#include <caf/test/dsl.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace regcore;
using namespace std::chrono_literals;

namespace {

std::string address(int n) { return "127.0.0.1:" + std::to_string(7000 + n); }

core::cluster_member member(int n, uint64_t incarnation) {
  return {"node-" + std::to_string(n), "127.0.0.1",
          static_cast<uint16_t>(7000 + n), incarnation};
}

/// The middleman's part: which node actor listens at which address.
struct connector_state {
  std::map<std::string, caf::actor> nodes;
  /// Every address asked for, in order.
  std::vector<std::string> asked;
};

caf::behavior fake_connector(caf::stateful_actor<connector_state>* self) {
  return {
      [=](caf::put_atom, const std::string& addr, caf::actor node) {
        self->state.nodes[addr] = std::move(node);
      },
      [=](caf::delete_atom, const std::string& addr) {
        self->state.nodes.erase(addr);
      },
      [=](caf::connect_atom, const std::string& host,
          uint16_t port) -> caf::message {
        auto key = host + ":" + std::to_string(port);
        self->state.asked.push_back(key);
        auto i = self->state.nodes.find(key);
        if (i == self->state.nodes.end())
          return caf::make_message(
              caf::make_error(caf::sec::cannot_connect_to_node, key));
        return caf::make_message(
            i->second.node(), caf::actor_cast<caf::strong_actor_ptr>(i->second),
            std::set<std::string>{});
      },
  };
}

/// A local subscriber: keeps every membership_changed.
struct watcher_state {
  std::vector<membership_changed> got;
};

caf::behavior watcher(caf::stateful_actor<watcher_state>* self) {
  return {
      [=](membership_changed& x) { self->state.got.push_back(std::move(x)); },
  };
}

struct config : caf::actor_system_config {
  config() { messages::register_types(*this); }
};

using strs = std::vector<std::string>;

struct fixture : test_coordinator_fixture<config> {
  caf::actor connector = sys.spawn(fake_connector);
  std::map<int, caf::actor> nodes;

  ~fixture() override {
    // Nodes retry seeds on timers; the base fixture fires every timer at
    // the end, so stop them first.
    for (auto& kvp : nodes)
      caf::anon_send_exit(kvp.second, caf::exit_reason::kill);
    sched.run();
  }

  /// Starts node n (this life: `incarnation`) joining through `seeds`, and
  /// registers it at its address.
  caf::actor start(int n, uint64_t incarnation, std::vector<int> seeds = {}) {
    actors::cluster_settings s;
    s.node_id = "node-" + std::to_string(n);
    s.listen = {"127.0.0.1", static_cast<uint16_t>(7000 + n)};
    for (auto seed : seeds)
      s.seeds.push_back({"127.0.0.1", static_cast<uint16_t>(7000 + seed)});
    s.incarnation = incarnation;
    s.retry_interval = 500ms;
    s.connect_attempts = 3;
    auto node = actors::spawn_cluster_node(sys, s, connector);
    self->send(connector, caf::put_atom::value, address(n), node);
    nodes[n] = node;
    return node;
  }

  void crash(int n) {
    caf::anon_send_exit(nodes[n], caf::exit_reason::kill);
    self->send(connector, caf::delete_atom::value, address(n));
    nodes.erase(n);
  }

  cluster_view view_of(int n) {
    cluster_view result;
    auto rh = self->request(nodes[n], caf::infinite, caf::get_atom::value);
    sched.run();
    rh.receive([&](cluster_view& v) { result = std::move(v); },
               [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
    return result;
  }

  /// "node-1#100 node-2#200": the live members as node n sees them.
  std::string lives(int n) {
    std::string r;
    for (auto& m : view_of(n).members)
      r += (r.empty() ? "" : " ") + m.id + "#" + std::to_string(m.incarnation);
    return r;
  }

  caf::actor subscribe(int n) {
    auto w = sys.spawn(watcher);
    self->send(nodes[n], cluster_subscribe{w});
    sched.run();
    return w;
  }

  std::vector<membership_changed>& events(const caf::actor& w) {
    return deref<caf::stateful_actor<watcher_state>>(w).state.got;
  }

  /// "joined node-2", "lost node-3", ... of a watcher, snapshot excluded.
  strs changes(const caf::actor& w) {
    strs r;
    for (auto& e : events(w))
      if (e.change != membership_change::snapshot)
        r.push_back(std::string{to_string(e.change)} + " " + e.subject.id + "#"
                    + std::to_string(e.subject.incarnation));
    return r;
  }

  /// Three nodes: 2 and 3 join through 1.
  void three_nodes() {
    start(1, 100);
    sched.run();
    start(2, 200, {1});
    start(3, 300, {1});
    sched.run();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_tests, fixture)

CAF_TEST(a node alone sees itself) {
  start(1, 100);
  sched.run();
  auto v = view_of(1);
  CAF_CHECK_EQUAL(v.self, "node-1");
  CAF_CHECK_EQUAL(v.epoch, 1u);
  CAF_REQUIRE_EQUAL(v.members.size(), 1u);
  CAF_CHECK(v.members[0] == member(1, 100));
}

CAF_TEST(a node joins through its seed and both see both) {
  start(1, 100);
  sched.run();
  auto w = subscribe(1);
  start(2, 200, {1});
  sched.run();
  CAF_CHECK_EQUAL(lives(1), "node-1#100 node-2#200");
  CAF_CHECK_EQUAL(lives(2), "node-1#100 node-2#200");
  // The subscriber got the view at once, then the join with the new view.
  CAF_REQUIRE_EQUAL(events(w).size(), 2u);
  CAF_CHECK(events(w)[0].change == membership_change::snapshot);
  CAF_CHECK_EQUAL(events(w)[0].view.members.size(), 1u);
  CAF_CHECK_EQUAL(changes(w), strs({"joined node-2#200"}));
  CAF_CHECK_EQUAL(events(w)[1].view.members.size(), 2u);
  CAF_CHECK_EQUAL(events(w)[1].view.epoch, 2u);
}

CAF_TEST(gossip connects every node to every other) {
  // 3 knows only 2, 2 only 1: all three still end up connected pairwise.
  start(1, 100);
  sched.run();
  start(2, 200, {1});
  sched.run();
  start(3, 300, {2});
  sched.run();
  for (int n = 1; n <= 3; ++n)
    CAF_CHECK_EQUAL(lives(n), "node-1#100 node-2#200 node-3#300");
  // 3 connected to 1 itself (heard of it from 2): its hello bound it, so
  // 1 monitors 3 directly and sees its crash below.
  auto& asked
      = deref<caf::stateful_actor<connector_state>>(connector).state.asked;
  CAF_CHECK(std::count(asked.begin(), asked.end(), address(1)) >= 2);
  auto w = subscribe(1);
  crash(3);
  sched.run();
  CAF_CHECK_EQUAL(changes(w), strs({"lost node-3#300"}));
}

CAF_TEST(two nodes joining at once through one seed learn of each other) {
  three_nodes();
  for (int n = 1; n <= 3; ++n)
    CAF_CHECK_EQUAL(lives(n), "node-1#100 node-2#200 node-3#300");
}

CAF_TEST(a crashed node is lost by every other) {
  three_nodes();
  auto w1 = subscribe(1);
  auto w2 = subscribe(2);
  crash(3);
  sched.run();
  CAF_CHECK_EQUAL(lives(1), "node-1#100 node-2#200");
  CAF_CHECK_EQUAL(lives(2), "node-1#100 node-2#200");
  CAF_CHECK_EQUAL(changes(w1), strs({"lost node-3#300"}));
  CAF_CHECK_EQUAL(changes(w2), strs({"lost node-3#300"}));
  CAF_REQUIRE(!events(w1).empty());
  CAF_CHECK_EQUAL(events(w1).back().view.members.size(), 2u);
}

CAF_TEST(a restarted node comes back with its new incarnation) {
  three_nodes();
  auto w1 = subscribe(1);
  crash(3);
  sched.run();
  start(3, 301, {2}); // another seed this time
  sched.run();
  for (int n = 1; n <= 3; ++n)
    CAF_CHECK_EQUAL(lives(n), "node-1#100 node-2#200 node-3#301");
  auto got = changes(w1);
  CAF_REQUIRE_EQUAL(got.size(), 2u);
  CAF_CHECK_EQUAL(got[0], "lost node-3#300");
  // Node 1 hears of it from node 2 or from itself, whichever comes first.
  CAF_CHECK_EQUAL(got[1], "joined node-3#301");
  // A late hello of the old life changes nothing.
  self->send(nodes[1], cluster_hello{member(3, 300),
                                     node_handles{nodes[2], {}},
                                     {member(3, 300)},
                                     true});
  sched.run();
  CAF_CHECK_EQUAL(lives(1), "node-1#100 node-2#200 node-3#301");
  CAF_CHECK_EQUAL(changes(w1).size(), 2u);
}

CAF_TEST(gossip about a newer life replaces the old one) {
  three_nodes();
  auto w1 = subscribe(1);
  // Node 3 restarted so fast that nobody saw the old life go down yet: the
  // connector already answers with the new actor.
  auto old3 = nodes[3];
  start(3, 301);
  sched.run();
  self->send(nodes[1], cluster_gossip{member(2, 200), {member(3, 301)}});
  sched.run();
  CAF_CHECK_EQUAL(lives(1), "node-1#100 node-2#200 node-3#301");
  CAF_CHECK_EQUAL(changes(w1), strs({"restarted node-3#301"}));
  // The old life's crash, seen late, removes nothing.
  caf::anon_send_exit(old3, caf::exit_reason::kill);
  sched.run();
  CAF_CHECK_EQUAL(lives(1), "node-1#100 node-2#200 node-3#301");
  CAF_CHECK_EQUAL(changes(w1), strs({"restarted node-3#301"}));
}

CAF_TEST(a graceful leave is seen as left not lost) {
  three_nodes();
  auto w1 = subscribe(1);
  auto w3 = subscribe(3);
  auto leaving = nodes[2];
  self->monitor(leaving);
  auto rh = self->request(leaving, caf::infinite, caf::leave_atom::value);
  sched.run();
  bool ok = false;
  rh.receive([&](caf::ok_atom) { ok = true; },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK(ok);
  nodes.erase(2);
  CAF_CHECK_EQUAL(lives(1), "node-1#100 node-3#300");
  CAF_CHECK_EQUAL(lives(3), "node-1#100 node-3#300");
  // The node exited after the acknowledgements; its down_msg changes
  // nothing more.
  CAF_CHECK_EQUAL(changes(w1), strs({"left node-2#200"}));
  CAF_CHECK_EQUAL(changes(w3), strs({"left node-2#200"}));
  bool down = false;
  self->receive([&](caf::down_msg& dm) { down = dm.source == leaving; },
                caf::after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK(down);
}

CAF_TEST(a seed that does not answer yet is retried until it does) {
  start(2, 200, {1});
  sched.run();
  CAF_CHECK_EQUAL(lives(2), "node-2#200");
  // Refused once; the retry timer tries again (still nobody there).
  CAF_CHECK_EQUAL(advance_time(500ms), 1u);
  sched.run();
  CAF_CHECK_EQUAL(lives(2), "node-2#200");
  // The seed comes up; the next retry finds it.
  start(1, 100);
  sched.run();
  advance_time(500ms);
  sched.run();
  CAF_CHECK_EQUAL(lives(1), "node-1#100 node-2#200");
  CAF_CHECK_EQUAL(lives(2), "node-1#100 node-2#200");
  auto& asked
      = deref<caf::stateful_actor<connector_state>>(connector).state.asked;
  CAF_CHECK_EQUAL(std::count(asked.begin(), asked.end(), address(1)), 3);
}

CAF_TEST(a lost seed is looked for again and found after its restart) {
  start(1, 100);
  sched.run();
  start(2, 200, {1});
  sched.run();
  advance_time(500ms); // the retry check: seed reached
  sched.run();
  crash(1);
  sched.run();
  CAF_CHECK_EQUAL(lives(2), "node-2#200");
  start(1, 101); // no seeds: only node 2's retries can find it
  sched.run();
  advance_time(500ms);
  sched.run();
  CAF_CHECK_EQUAL(lives(1), "node-1#101 node-2#200");
  CAF_CHECK_EQUAL(lives(2), "node-1#101 node-2#200");
}

CAF_TEST(nodes lost by a broken connection come back with their next hello) {
  // Node 3 froze longer than the connection timeout: its connections
  // closed, so it and the others each saw the other side lost, though no
  // process died (injected down_msgs stand in for the closed connections).
  three_nodes();
  advance_time(500ms); // every seed check: reached
  sched.run();
  auto w2 = subscribe(2);
  auto lose = [&](int at, int who) {
    self->send(nodes[at],
               caf::down_msg{nodes[who].address(),
                             caf::exit_reason::remote_link_unreachable});
  };
  lose(1, 3);
  lose(2, 3);
  lose(3, 1);
  lose(3, 2);
  // Each side knocks at the lost node's address at once (and node 3 looks
  // for its seed again); the hellos over the new connections revive the
  // lives on both sides.
  sched.run();
  advance_time(500ms);
  sched.run();
  for (int n = 1; n <= 3; ++n)
    CAF_CHECK_EQUAL(lives(n), "node-1#100 node-2#200 node-3#300");
  CAF_CHECK_EQUAL(changes(w2), strs({"lost node-3#300", "joined node-3#300"}));
  // The monitors are in place again: a real crash is seen.
  crash(3);
  sched.run();
  CAF_CHECK_EQUAL(lives(1), "node-1#100 node-2#200");
  CAF_CHECK_EQUAL(lives(2), "node-1#100 node-2#200");
}

CAF_TEST(a member heard of but never reached is lost after the attempts) {
  start(1, 100);
  sched.run();
  start(2, 200, {1});
  sched.run();
  auto w1 = subscribe(1);
  // Node 2 tells of node 9, which nobody can reach.
  self->send(nodes[1], cluster_gossip{member(2, 200), {member(9, 900)}});
  sched.run();
  CAF_CHECK_EQUAL(lives(1), "node-1#100 node-2#200 node-9#900");
  for (int i = 0; i < 3; ++i) {
    advance_time(500ms);
    sched.run();
  }
  CAF_CHECK_EQUAL(lives(1), "node-1#100 node-2#200");
  CAF_CHECK_EQUAL(lives(2), "node-1#100 node-2#200");
  CAF_CHECK_EQUAL(changes(w1), strs({"joined node-9#900", "lost node-9#900"}));
  CAF_CHECK(events(w1).back().change == membership_change::lost);
  // It stays out: gossip of that life again is stale.
  self->send(nodes[1], cluster_gossip{member(2, 200), {member(9, 900)}});
  sched.run();
  CAF_CHECK_EQUAL(lives(1), "node-1#100 node-2#200");
}

CAF_TEST(a hello claiming the id of this node is refused) {
  start(1, 100);
  sched.run();
  auto impostor = sys.spawn(watcher);
  self->send(nodes[1],
             cluster_hello{member(1, 999), node_handles{impostor, {}}, {}, true});
  sched.run();
  CAF_CHECK_EQUAL(lives(1), "node-1#100");
  CAF_CHECK_EQUAL(view_of(1).epoch, 1u);
  // No answer went to the impostor.
  CAF_CHECK(events(impostor).empty());
  caf::anon_send_exit(impostor, caf::exit_reason::kill);
}

CAF_TEST(dead subscribers are dropped and unsubscribe works) {
  three_nodes();
  auto w = subscribe(1);
  auto gone = subscribe(1);
  caf::anon_send_exit(gone, caf::exit_reason::kill);
  sched.run();
  self->send(nodes[1], cluster_unsubscribe{w});
  sched.run();
  crash(3);
  sched.run();
  CAF_CHECK_EQUAL(changes(w).size(), 0u);
  CAF_CHECK_EQUAL(lives(1), "node-1#100 node-2#200");
}

CAF_TEST_FIXTURE_SCOPE_END()
