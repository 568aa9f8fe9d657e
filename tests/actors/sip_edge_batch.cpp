// SPDX-License-Identifier: MIT
// The SIP edge's burst path under CAF's deterministic test coordinator: the
// transport hands several datagrams over as ONE message (a
// std::vector<sip_inbound>, what recvmmsg read), the edge sends the
// REGISTERs of that message to the engine as one register_batch_request per
// shard, and answers each one, in order, with one send_many.
#define CAF_SUITE actors.sip_edge_batch
// Our headers before dsl.hpp (it defines the macros allow(), inject() and
// expect()).
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "actors/sip_edge.hpp"
#include "core/hash.hpp"
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
using test_support::crlf;
using test_support::recording_sender;
using test_support::udp_peer;

/// A REGISTER of `user` from port `port` (Call-ID "<user>-call").
std::string register_of(const std::string& user, uint16_t port, int cseq = 1,
                        const std::string& expires = "600") {
  return crlf("REGISTER sip:localhost SIP/2.0\n"
              "Via: SIP/2.0/UDP 10.1.1.1:" + std::to_string(port)
              + ";rport;branch=z9hG4bK-" + user + std::to_string(cseq) + "\n"
              "Max-Forwards: 70\n"
              "From: <sip:" + user + "@localhost>;tag=t-" + user + "\n"
              "To: <sip:" + user + "@localhost>\n"
              "Call-ID: " + user + "-call\n"
              "CSeq: " + std::to_string(cseq) + " REGISTER\n"
              "Contact: <sip:" + user + "@10.1.1.1:" + std::to_string(port) + ">\n"
              "Expires: " + expires + "\n"
              "Content-Length: 0\n\n");
}

std::string options_msg() {
  return crlf("OPTIONS sip:localhost SIP/2.0\n"
              "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-o1\n"
              "Max-Forwards: 70\n"
              "From: <sip:ping@localhost>;tag=o\n"
              "To: <sip:localhost>\n"
              "Call-ID: options-call\n"
              "CSeq: 1 OPTIONS\n"
              "Content-Length: 0\n\n");
}

std::string publish_of(const std::string& user) {
  return crlf("PUBLISH sip:" + user + "@localhost SIP/2.0\n"
              "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-p" + user + "\n"
              "Max-Forwards: 70\n"
              "From: <sip:" + user + "@localhost>;tag=p\n"
              "To: <sip:" + user + "@localhost>\n"
              "Call-ID: " + user + "-pub\n"
              "CSeq: 1 PUBLISH\n"
              "Event: presence\n"
              "Expires: 600\n"
              "Content-Length: 0\n\n");
}

struct fixture : test_coordinator_fixture<config> {
  actors::engine eng;
  std::shared_ptr<recording_sender> out = std::make_shared<recording_sender>();
  caf::actor edge;

  explicit fixture(uint32_t shards = 1) {
    actors::engine_config ecfg;
    ecfg.shards = shards;
    eng = actors::spawn_engine(sys, ecfg);
    actors::sip_edge_settings s;
    actors::bound_listener l;
    l.addr = {core::transport::udp, "127.0.0.1", 5060};
    l.port = 5060;
    s.listeners.push_back(l);
    edge = actors::spawn_sip_edge(sys, eng, out, std::move(s));
    sched.run(); // bus subscription of the edge
  }

  ~fixture() {
    caf::anon_send_exit(edge, caf::exit_reason::user_shutdown);
    eng.shutdown();
    sched.run();
  }

  /// The transport hands a burst of datagrams to the edge (one message).
  void deliver(std::vector<std::pair<std::string, sip_endpoint>> datagrams) {
    std::vector<sip_inbound> burst;
    for (auto& [bytes, from] : datagrams)
      burst.push_back(sip_inbound{from, bytes});
    self->send(edge, std::move(burst));
  }

  std::string at(size_t n) const {
    if (n >= out->sent.size())
      CAF_FAIL("the edge sent only " << out->sent.size() << " messages");
    return out->sent[n].second;
  }

  caf::actor shard_of(const std::string& aor) {
    return caf::actor_cast<caf::actor>(eng.refs->shard_for(aor));
  }

  caf::expected<register_reply> lookup(const std::string& aor) {
    caf::expected<register_reply> result{caf::sec::request_timeout};
    auto rh = self->request(eng.service, caf::infinite, lookup_request{aor});
    sched.run();
    rh.receive([&](register_reply& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }
};

struct four_shards : fixture {
  four_shards() : fixture(4) {
    // nop
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(sip_edge_batch_tests, fixture)

CAF_TEST(a burst of registers is one batch to the shard and answered in order) {
  deliver({{register_of("alice", 5070), udp_peer(5070)},
           {register_of("bob", 5071), udp_peer(5071)},
           {register_of("carol", 5072), udp_peer(5072)}});
  expect((std::vector<sip_inbound>), from(self).to(edge));
  auto shard = shard_of("sip:alice@localhost");
  expect((register_batch_request), from(edge).to(shard).with(_));
  expect((register_batch_reply), from(shard).to(edge));
  CAF_REQUIRE_EQUAL(out->sent.size(), 3u);
  CAF_REQUIRE_EQUAL(out->batches.size(), 1u);
  CAF_CHECK_EQUAL(out->batches[0], 3u);
  std::vector<std::string> users{"alice", "bob", "carol"};
  for (size_t i = 0; i < users.size(); ++i) {
    answer ok{at(i)};
    CAF_REQUIRE(ok);
    CAF_CHECK_EQUAL(ok->status(), 200);
    CAF_CHECK_EQUAL(std::string{ok->call_id()}, users[i] + "-call");
    CAF_CHECK_EQUAL(to_string(out->sent[i].first),
                    "udp:127.0.0.1:" + std::to_string(5070 + i));
    CAF_REQUIRE_EQUAL(ok->contacts().size(), 1u);
    CAF_CHECK_EQUAL(std::string{ok->contacts()[0].uri},
                    "sip:" + users[i] + "@10.1.1.1:" + std::to_string(5070 + i));
    CAF_CHECK_EQUAL(*ok->contacts()[0].expires, 600u);
    CAF_CHECK(ok->header(core::header_id::date).has_value());
    // RFC 3581 on every answer of the batch.
    CAF_CHECK_EQUAL(std::string{ok->vias()[0].received}, "127.0.0.1");
    CAF_CHECK(ok->vias()[0].rport_value
              == std::optional<uint16_t>{static_cast<uint16_t>(5070 + i)});
    auto l = lookup("sip:" + users[i] + "@localhost");
    CAF_REQUIRE(l);
    CAF_REQUIRE_EQUAL(l->bindings.size(), 1u);
    CAF_CHECK_EQUAL(l->bindings[0].received,
                    "127.0.0.1:" + std::to_string(5070 + i));
  }
}

CAF_TEST(errors retransmissions and other methods inside a burst) {
  auto alice = register_of("alice", 5070);
  deliver({{alice, udp_peer(5070)},
           {alice, udp_peer(5070)}, // retransmitted before the answer: absorbed
           {options_msg(), udp_peer(5999)},
           {register_of("bob", 5071, 1, "5"), udp_peer(5071)}, // too brief: 423
           {"not SIP at all\r\n\r\n", udp_peer(5072)},         // nobody to answer
           {register_of("carol", 5072, 1, "soon"), udp_peer(5072)}, // 400 at once
           {register_of("dave", 5073), udp_peer(5073)}});
  expect((std::vector<sip_inbound>), from(self).to(edge));
  // Answered while the burst is read: OPTIONS, then carol's 400.
  CAF_REQUIRE_EQUAL(out->sent.size(), 2u);
  answer opt{at(0)};
  CAF_REQUIRE(opt);
  CAF_CHECK_EQUAL(opt->status(), 200);
  CAF_CHECK_EQUAL(std::string{opt->call_id()}, "options-call");
  answer bad{at(1)};
  CAF_REQUIRE(bad);
  CAF_CHECK_EQUAL(bad->status(), 400);
  CAF_CHECK_EQUAL(std::string{bad->call_id()}, "carol-call");
  // alice, bob and dave go to the engine together; alice once.
  auto shard = shard_of("sip:alice@localhost");
  expect((register_batch_request), from(edge).to(shard).with(_));
  expect((register_batch_reply), from(shard).to(edge));
  CAF_REQUIRE_EQUAL(out->sent.size(), 5u);
  answer a{at(2)};
  answer b{at(3)};
  answer d{at(4)};
  CAF_REQUIRE(a && b && d);
  CAF_CHECK_EQUAL(a->status(), 200);
  CAF_CHECK_EQUAL(std::string{a->call_id()}, "alice-call");
  CAF_CHECK_EQUAL(b->status(), 423);
  CAF_CHECK_EQUAL(std::string{b->call_id()}, "bob-call");
  CAF_CHECK(b->min_expires() == std::optional<uint32_t>{60});
  CAF_CHECK_EQUAL(d->status(), 200);
  CAF_CHECK_EQUAL(std::string{d->call_id()}, "dave-call");
  // A retransmission after the answer gets the same bytes, without the engine.
  deliver({{alice, udp_peer(5070)}, {register_of("bob", 5071, 1, "5"), udp_peer(5071)}});
  expect((std::vector<sip_inbound>), from(self).to(edge));
  disallow((register_batch_request), from(edge).to(shard));
  disallow((register_request), from(edge).to(shard));
  CAF_REQUIRE_EQUAL(out->sent.size(), 7u);
  CAF_CHECK_EQUAL(at(5), at(2));
  CAF_CHECK_EQUAL(at(6), at(3));
  auto l = lookup("sip:bob@localhost");
  CAF_CHECK(!l || l->bindings.empty());
}

CAF_TEST(a single register of a burst goes alone and a publish keeps its place) {
  // REGISTER then PUBLISH of the same user in one burst: the engine sees
  // them in that order (the REGISTER is sent before the PUBLISH).
  deliver({{register_of("alice", 5070), udp_peer(5070)},
           {publish_of("alice"), udp_peer(5999)}});
  expect((std::vector<sip_inbound>), from(self).to(edge));
  auto shard = shard_of("sip:alice@localhost");
  expect((register_request), from(edge).to(shard).with(_));
  expect((publish_request), from(edge).to(shard));
  sched.run();
  CAF_REQUIRE_EQUAL(out->sent.size(), 2u);
  answer r{at(0)};
  answer p{at(1)};
  CAF_REQUIRE(r && p);
  CAF_CHECK_EQUAL(std::string{r->call_id()}, "alice-call");
  CAF_CHECK_EQUAL(r->status(), 200);
  CAF_CHECK_EQUAL(std::string{p->call_id()}, "alice-pub");
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(sip_edge_batch_shard_tests, four_shards)

CAF_TEST(a burst over several shards gets every answer) {
  std::vector<std::pair<std::string, sip_endpoint>> burst;
  std::vector<std::string> users;
  for (int i = 0; i < 16; ++i) {
    users.push_back("u" + std::to_string(i));
    burst.emplace_back(register_of(users.back(), static_cast<uint16_t>(6000 + i)),
                       udp_peer(static_cast<uint16_t>(6000 + i)));
  }
  deliver(burst);
  sched.run();
  CAF_REQUIRE_EQUAL(out->sent.size(), users.size());
  // Per shard the answers keep the order of the burst; every REGISTER got
  // its own 200 at its own source.
  std::vector<bool> seen(users.size(), false);
  std::vector<long> last_of_shard(4, -1);
  for (size_t n = 0; n < out->sent.size(); ++n) {
    answer ok{at(n)};
    CAF_REQUIRE(ok);
    CAF_CHECK_EQUAL(ok->status(), 200);
    auto call = std::string{ok->call_id()};
    auto i = static_cast<size_t>(std::stoi(call.substr(1)));
    CAF_REQUIRE_LESS(i, users.size());
    CAF_CHECK(!seen[i]);
    seen[i] = true;
    CAF_CHECK_EQUAL(out->sent[n].first.port, 6000 + i);
    auto shard = core::shard_of("sip:" + users[i] + "@localhost", 4);
    CAF_CHECK_LESS(last_of_shard[shard], static_cast<long>(i));
    last_of_shard[shard] = static_cast<long>(i);
  }
  // At most one message per shard; a batch has at least two answers.
  CAF_CHECK_LESS_OR_EQUAL(out->batches.size(), 4u);
  for (auto b : out->batches)
    CAF_CHECK_GREATER_OR_EQUAL(b, 2u);
  for (auto& u : users) {
    auto l = lookup("sip:" + u + "@localhost");
    CAF_REQUIRE(l);
    CAF_CHECK_EQUAL(l->bindings.size(), 1u);
  }
}

CAF_TEST_FIXTURE_SCOPE_END()
