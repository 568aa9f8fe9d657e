// SPDX-License-Identifier: MIT
// Three engines as the three nodes of a cluster, in ONE actor system under
// CAF's deterministic test coordinator: the routing does not care whether
// a member's handles are local or remote proxies (the middleman only makes
// the handles), so every cross-node path is tested here without a network:
// a request through any node reaches the owner's user; aggregates and
// reverse lookups cover every node; a watcher whose SUBSCRIBE came to node
// 1 gets the NOTIFYs for a presentity owned by node 3 that publishes
// through node 2.
#define CAF_SUITE actors.cluster_routing
// Our headers before dsl.hpp (its `allow` macro).
#include "actors/engine.hpp"
#include "actors/sip_edge.hpp"
#include "actors/subscription_supervisor.hpp"
#include "core/ownership.hpp"
#include "core/pidf.hpp"
#include "core/sip_message.hpp"
#include "messages/sip_messages.hpp"
#include "messages/types.hpp"
#include "tests/actors/sip_support.hpp"

#include <caf/test/dsl.hpp>

using namespace regcore;
using namespace std::chrono_literals;

namespace {

using config = test_support::registered_types_config;
using test_support::answer;
using test_support::away_pidf;
using test_support::crlf;
using test_support::recording_sender;
using test_support::udp_peer;

const std::vector<std::string> names = {"node-1", "node-2", "node-3"};

struct fixture : test_coordinator_fixture<config> {
  std::vector<actors::engine> nodes;
  uint32_t cseq = 0;

  fixture() {
    for (size_t i = 0; i < names.size(); ++i) {
      actors::engine_config ecfg;
      ecfg.shards = 2;
      nodes.push_back(actors::spawn_engine(sys, ecfg));
    }
    auto routes = routes_of();
    for (size_t i = 0; i < names.size(); ++i)
      CAF_REQUIRE(nodes[i].set_routes(routes, names[i]));
    sched.run();
  }

  ~fixture() {
    for (auto& n : nodes)
      n.shutdown();
    sched.run();
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
    req.call_id = "cluster-call@test";
    req.cseq = ++cseq;
    return call<register_reply>(node, std::move(req));
  }

  /// Users held by node `i`'s own shards.
  uint64_t users_on(size_t i) {
    uint64_t n = 0;
    for (auto& shard : nodes[i].refs->shards) {
      auto rh = self->request(shard, caf::infinite, stats_atom::value);
      sched.run();
      rh.receive([&](shard_stats& s) { n += s.users; },
                 [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
    }
    return n;
  }

  /// Routes over all three nodes (epoch 1) or the first `n` of them.
  cluster_routes routes_of(size_t n = 3, uint64_t epoch = 1) {
    cluster_routes routes;
    routes.epoch = epoch;
    for (size_t i = 0; i < n; ++i)
      routes.members.push_back(nodes[i].route_entry(names[i]));
    return routes;
  }

  /// The SIP edge of node 1 on a fake transport, told the routes of all
  /// three nodes (as the daemon does on every membership change).
  caf::actor spawn_edge(const std::shared_ptr<recording_sender>& out,
                        actors::sip_edge_settings s = {}) {
    actors::bound_listener l;
    l.addr = {core::transport::udp, "127.0.0.1", 5060};
    l.port = 5060;
    s.listeners.push_back(l);
    auto edge = actors::spawn_sip_edge(sys, nodes[0], out, s);
    self->send(edge, routes_of());
    sched.run();
    return edge;
  }

  /// The first AOR "sip:<prefix>N@localhost" owned by node `i`.
  static std::string owned_by(size_t i, const std::string& prefix) {
    for (int n = 0;; ++n) {
      auto aor = "sip:" + prefix + std::to_string(n) + "@localhost";
      if (core::owner_of(aor, names) == i)
        return aor;
    }
  }
};

std::string user(size_t i) {
  return "sip:user" + std::to_string(i) + "@example.com";
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_routing_tests, fixture)

CAF_TEST(a registration through any node lands on the owner and is found from all) {
  const size_t n = 60;
  std::vector<uint64_t> expected(names.size(), 0);
  for (size_t i = 0; i < n; ++i) {
    auto r = reg(i % 3, user(i), "sip:u" + std::to_string(i) + "@192.0.2.1");
    CAF_REQUIRE(r);
    ++expected[core::owner_of(user(i), names)];
  }
  for (size_t i = 0; i < names.size(); ++i) {
    CAF_MESSAGE(names[i] << " owns " << expected[i] << " users");
    CAF_CHECK_GREATER(expected[i], 0u);
    CAF_CHECK_EQUAL(users_on(i), expected[i]);
  }
  for (size_t i = 0; i < n; ++i) {
    auto found = call<register_reply>((i + 1) % 3, lookup_request{user(i)});
    CAF_REQUIRE(found);
    CAF_REQUIRE_EQUAL(found->bindings.size(), 1u);
    CAF_CHECK_EQUAL(found->bindings[0].uri, "sip:u" + std::to_string(i) + "@192.0.2.1");
  }
  // Batches too: the first shard forwards what another node owns.
  register_batch_request batch;
  for (size_t i = n; i < n + 30; ++i) {
    register_request req;
    req.aor = user(i);
    contact_request c;
    c.uri = "sip:u" + std::to_string(i) + "@192.0.2.1";
    c.expires = 600;
    req.contacts.push_back(c);
    req.call_id = "batch@test";
    req.cseq = 1;
    batch.requests.push_back(std::move(req));
  }
  auto br = call<register_batch_reply>(2, std::move(batch));
  CAF_REQUIRE(br);
  for (auto& res : br->results)
    CAF_CHECK(!res.error);
  uint64_t total = 0;
  for (size_t i = 0; i < names.size(); ++i)
    total += users_on(i);
  CAF_CHECK_EQUAL(total, n + 30);
}

CAF_TEST(aggregates and reverse lookups cover every node) {
  for (size_t i = 0; i < 30; ++i)
    CAF_REQUIRE(reg(i % 3, user(i), "sip:u" + std::to_string(i) + "@192.0.2.1"));
  for (size_t node = 0; node < names.size(); ++node) {
    auto all = call<user_list>(node, list_users_request{});
    CAF_REQUIRE(all);
    CAF_CHECK_EQUAL(all->users.size(), 30u);
    for (size_t i = 0; i < 30; i += 7) {
      auto who = call<std::string>(node, find_user_request{"sip:u" + std::to_string(i)
                                                           + "@192.0.2.1"});
      CAF_REQUIRE(who);
      CAF_CHECK_EQUAL(*who, user(i));
    }
    auto none = call<std::string>(node, find_user_request{"sip:nobody@192.0.2.99"});
    CAF_CHECK(!none);
  }
}

CAF_TEST(subscriptions are numbered and held by the targets owner) {
  auto target = owned_by(2, "t");
  auto watcher = owned_by(0, "w");
  subscribe_request req;
  req.watcher = watcher;
  req.target = target;
  req.expires = 600;
  auto rep = call<subscribe_reply>(1, req); // through the node owning neither
  CAF_REQUIRE(rep);
  CAF_CHECK_EQUAL(std::string{actors::target_of_subscription(rep->sub.id)}, target);
  // Both sides know it, whichever node is asked.
  auto ws = call<watcher_list>(0, get_watchers_request{target});
  CAF_REQUIRE(ws);
  CAF_REQUIRE_EQUAL(ws->watchers.size(), 1u);
  CAF_CHECK_EQUAL(ws->watchers[0].watcher, watcher);
  auto subs = call<subscription_list>(2, get_subscriptions_request{watcher});
  CAF_REQUIRE(subs);
  CAF_REQUIRE_EQUAL(subs->subscriptions.size(), 1u);
  CAF_CHECK_EQUAL(subs->subscriptions[0].id, rep->sub.id);
  // Unsubscribing through yet another node ends it at the owner.
  auto done = call<caf::ok_atom>(0, unsubscribe_request{rep->sub.id});
  CAF_CHECK(done);
  auto after = call<watcher_list>(1, get_watchers_request{target});
  CAF_REQUIRE(after);
  CAF_CHECK(after->watchers.empty());
}

CAF_TEST(a watcher on node 1 is notified of a presentity of node 3 publishing via node 2) {
  auto target = owned_by(2, "alice");
  auto out = std::make_shared<recording_sender>();
  auto edge = spawn_edge(out);
  self->send(edge, sip_inbound{udp_peer(6000),
                               crlf("SUBSCRIBE " + target + " SIP/2.0\n"
                                    "Via: SIP/2.0/UDP 127.0.0.1:6000;branch=z9hG4bK-c1\n"
                                    "Max-Forwards: 70\n"
                                    "From: <sip:bob@localhost>;tag=b1\n"
                                    "To: <" + target + ">\n"
                                    "Call-ID: cluster-sub-1\n"
                                    "CSeq: 1 SUBSCRIBE\n"
                                    "Contact: <sip:bob@127.0.0.1:6000>\n"
                                    "Event: presence\n"
                                    "Expires: 600\n"
                                    "Content-Length: 0\n\n")});
  sched.run();
  CAF_REQUIRE_EQUAL(out->sent.size(), 2u);
  answer ok{out->sent[0].second};
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->status(), 200);
  answer first{out->sent[1].second};
  CAF_REQUIRE(first);
  CAF_CHECK(first->method() == core::sip_method::notify);
  // The subscription lives with the target's user, on node 3.
  auto ws = call<watcher_list>(2, get_watchers_request{target});
  CAF_REQUIRE(ws);
  CAF_CHECK_EQUAL(ws->watchers.size(), 1u);
  // alice publishes through node 2's API.
  presence_update_request up;
  up.aor = target;
  up.device_id = "phone";
  up.status = core::extended_status::away;
  up.note = "on node 3";
  CAF_REQUIRE(call<presence_reply>(1, up));
  sched.run();
  CAF_REQUIRE_EQUAL(out->sent.size(), 3u);
  answer n{out->sent[2].second};
  CAF_REQUIRE(n);
  CAF_CHECK(n->method() == core::sip_method::notify);
  CAF_CHECK_EQUAL(std::string{n->call_id()}, "cluster-sub-1");
  CAF_CHECK_EQUAL(to_string(out->sent[2].first), "udp:127.0.0.1:6000");
  CAF_CHECK_GREATER(n->cseq().number, first->cseq().number);
  auto doc = core::parse_pidf(n->body());
  CAF_REQUIRE(doc);
  CAF_CHECK_EQUAL(doc->note, "on node 3");
  caf::anon_send_exit(edge, caf::exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(a register in flight to a lost member gets a 503 at once) {
  auto out = std::make_shared<recording_sender>();
  actors::sip_edge_settings s;
  s.retry_after = 3;
  auto edge = spawn_edge(out, s);
  auto all = routes_of();
  auto reg = [&](const std::string& aor, int n) {
    self->send(edge, sip_inbound{udp_peer(6000 + n),
                                 crlf("REGISTER sip:localhost SIP/2.0\n"
                                      "Via: SIP/2.0/UDP 127.0.0.1:" + std::to_string(6000 + n)
                                      + ";branch=z9hG4bK-lost" + std::to_string(n) + "\n"
                                      "Max-Forwards: 70\n"
                                      "From: <" + aor + ">;tag=f\nTo: <" + aor + ">\n"
                                      "Call-ID: lost-" + std::to_string(n) + "\n"
                                      "CSeq: 1 REGISTER\n"
                                      "Contact: <sip:c@127.0.0.1:" + std::to_string(6000 + n)
                                      + ">\nExpires: 600\nContent-Length: 0\n\n")});
  };
  // Runs until the register_request is in the mailbox of `aor`'s shard on
  // node 3 (the owner), not handled yet.
  auto in_flight = [&](const std::string& aor) {
    auto& shards = nodes[2].refs->shards;
    auto shard = shards[core::shard_of(aor, static_cast<uint32_t>(shards.size()))];
    auto queued = [&] {
      auto e = caf::actor_cast<caf::abstract_actor*>(shard)->peek_at_next_mailbox_element();
      return e != nullptr && e->content().match_elements<register_request>();
    };
    while (!queued())
      CAF_REQUIRE(sched.try_run_once());
    return shard;
  };
  auto status_of = [&](size_t k) {
    CAF_REQUIRE_GREATER(out->sent.size(), k);
    answer a{out->sent[k].second};
    CAF_REQUIRE(a);
    return a->status();
  };
  // 1. Node 3 leaves the routes (its loss seen) while a REGISTER for one of
  // its users is in flight: the edge answers 503 with Retry-After at once;
  // the owner's late answer is dropped.
  auto carol = owned_by(2, "carol");
  reg(carol, 1);
  in_flight(carol);
  auto two = routes_of(2, 2);
  self->send(edge, two);
  sched.prioritize(edge);
  sched.run_once();
  CAF_CHECK_EQUAL(status_of(0), 503);
  answer a{out->sent[0].second};
  CAF_CHECK_EQUAL(std::string{a->reason_phrase()}, "Service Unavailable (cluster member lost)");
  CAF_CHECK(a->raw().find("\r\nRetry-After: 3\r\n") != std::string_view::npos);
  sched.run();
  CAF_CHECK_EQUAL(out->sent.size(), 1u);
  // 2. Routes with node 3 again, but the shard of the next user is gone
  // (its node lost, the routes not updated yet): CAF bounces the request
  // (request_receiver_down), and that is a 503 too, not a 500.
  self->send(edge, all);
  sched.run();
  auto dave = owned_by(2, "dave");
  auto& shards = nodes[2].refs->shards;
  caf::anon_send_exit(shards[core::shard_of(dave, static_cast<uint32_t>(shards.size()))],
                      caf::exit_reason::kill);
  sched.run();
  reg(dave, 2);
  sched.run();
  CAF_REQUIRE_EQUAL(out->sent.size(), 2u);
  CAF_CHECK_EQUAL(status_of(1), 503);
  // 3. A REGISTER for a user of a member that stays is answered as before.
  auto erin = owned_by(1, "erin");
  reg(erin, 3);
  sched.run();
  CAF_REQUIRE_EQUAL(out->sent.size(), 3u);
  CAF_CHECK_EQUAL(status_of(2), 200);
  // 4. A PUBLISH and a SUBSCRIBE in flight to node 3 when it is lost: 503
  // at once too (not the 10 s request timeout), late answers dropped.
  self->send(edge, all);
  sched.run();
  auto frank = owned_by(2, "frank");
  self->send(edge, sip_inbound{udp_peer(7001),
                               crlf("PUBLISH " + frank + " SIP/2.0\n"
                                    "Via: SIP/2.0/UDP 127.0.0.1:7001;branch=z9hG4bK-lp\n"
                                    "Max-Forwards: 70\n"
                                    "From: <" + frank + ">;tag=p\nTo: <" + frank + ">\n"
                                    "Call-ID: lost-pub\nCSeq: 1 PUBLISH\n"
                                    "Event: presence\nExpires: 600\n"
                                    "Content-Type: application/pidf+xml\n"
                                    "Content-Length: " + std::to_string(away_pidf.size())
                                    + "\n\n") + away_pidf});
  self->send(edge, sip_inbound{udp_peer(7002),
                               crlf("SUBSCRIBE " + frank + " SIP/2.0\n"
                                    "Via: SIP/2.0/UDP 127.0.0.1:7002;branch=z9hG4bK-ls\n"
                                    "Max-Forwards: 70\n"
                                    "From: <sip:bob@localhost>;tag=s\nTo: <" + frank + ">\n"
                                    "Call-ID: lost-sub\nCSeq: 1 SUBSCRIBE\n"
                                    "Contact: <sip:bob@127.0.0.1:7002>\n"
                                    "Event: presence\nExpires: 600\nContent-Length: 0\n\n")});
  auto& fshards = nodes[2].refs->shards;
  auto fshard = fshards[core::shard_of(frank, static_cast<uint32_t>(fshards.size()))];
  auto publish_queued = [&] {
    auto e = caf::actor_cast<caf::abstract_actor*>(fshard)->peek_at_next_mailbox_element();
    return e != nullptr && e->content().match_elements<publish_request>();
  };
  auto subscribe_queued = [&] {
    auto e = caf::actor_cast<caf::abstract_actor*>(nodes[2].subscriptions)
               ->peek_at_next_mailbox_element();
    return e != nullptr && e->content().match_elements<subscribe_request>();
  };
  while (!publish_queued() || !subscribe_queued())
    CAF_REQUIRE(sched.try_run_once());
  self->send(edge, two);
  sched.prioritize(edge);
  sched.run_once();
  CAF_REQUIRE_EQUAL(out->sent.size(), 5u);
  CAF_CHECK_EQUAL(status_of(3), 503);
  CAF_CHECK_EQUAL(status_of(4), 503);
  sched.run();
  CAF_CHECK_EQUAL(out->sent.size(), 5u);
  caf::anon_send_exit(edge, caf::exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(bad routes are refused and change nothing) {
  cluster_routes routes;
  routes.members.push_back(nodes[0].route_entry("node-1"));
  routes.members.push_back(nodes[1].route_entry("node-2"));
  CAF_CHECK(!nodes[2].set_routes(routes, "node-3")); // not a member
  routes.members.push_back(nodes[2].route_entry("node-2"));
  CAF_CHECK(!nodes[2].set_routes(routes, "node-2")); // a repeated id
  // node 3 still routes over the three nodes.
  auto aor = owned_by(0, "still");
  CAF_REQUIRE(reg(2, aor, "sip:still@192.0.2.7"));
  CAF_CHECK_EQUAL(users_on(0), 1u);
}

CAF_TEST(auto buddy lists span the cluster) {
  // One domain member owned by each node, registered through other nodes,
  // and a member of another domain.
  std::vector<std::string> members;
  for (size_t i = 0; i < names.size(); ++i) {
    members.push_back(owned_by(i, "buddy"));
    CAF_REQUIRE(reg((i + 1) % 3, members.back(), "sip:b" + std::to_string(i) + "@192.0.2.7"));
  }
  CAF_REQUIRE(reg(0, "sip:stranger@other.org", "sip:s@192.0.2.8"));
  std::sort(members.begin(), members.end());
  for (auto& m : members) {
    std::vector<std::string> others;
    for (auto& x : members)
      if (x != m)
        others.push_back(x);
    for (size_t via = 0; via < names.size(); ++via) {
      auto buddies = call<user_list>(via, get_buddy_list_request{m});
      CAF_REQUIRE(buddies);
      CAF_CHECK_EQUAL(buddies->users, others);
      auto watchers = call<watcher_list>(via, get_watchers_request{m});
      CAF_REQUIRE(watchers);
      std::vector<std::string> ws;
      for (auto& w : watchers->watchers)
        ws.push_back(w.watcher);
      CAF_CHECK_EQUAL(ws, others);
    }
  }
  // A user that is not registered is in no roster: no automatic buddies.
  auto none = call<user_list>(1, get_buddy_list_request{"sip:nobody@localhost"});
  CAF_REQUIRE(none);
  CAF_CHECK(none->users.empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
