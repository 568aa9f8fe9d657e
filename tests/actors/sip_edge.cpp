// SPDX-License-Identifier: MIT
// The SIP edge under CAF's deterministic test coordinator: requests go in as
// sip_inbound messages (what the transport sends), what the edge sends goes
// to a recording fake transport. expect() lines spell out the path of a
// REGISTER and of a PUBLISH; advance_time() drives the NOTIFY timers.
#define CAF_SUITE actors.sip_edge
// Our headers before dsl.hpp: it defines the macros allow(), inject() and
// expect(), and sip_message / rate_limiter have members called allow.
#include <cctype>
#include <set>

#include "actors/engine.hpp"
#include "actors/sip_edge.hpp"
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
using test_support::crlf;
using test_support::recording_sender;
using test_support::away_pidf;
using test_support::publish_msg;
using test_support::subscribe_msg;
using test_support::udp_peer;

std::string register_msg(uint16_t port, int cseq, std::string expires,
                         std::string branch = "") {
  if (branch.empty())
    branch = "r" + std::to_string(cseq);
  return crlf("REGISTER sip:localhost SIP/2.0\n"
              "Via: SIP/2.0/UDP 10.1.1.1:" + std::to_string(port) + ";rport;branch=z9hG4bK-"
              + branch + "\n"
              "Max-Forwards: 70\n"
              "From: <sip:alice@localhost>;tag=a1\n"
              "To: <sip:alice@localhost>\n"
              "Call-ID: edge-reg-1\n"
              "CSeq: " + std::to_string(cseq) + " REGISTER\n"
              "Contact: <sip:alice@10.1.1.1:" + std::to_string(port) + ">\n"
              "Expires: " + expires + "\n"
              "Content-Length: 0\n\n");
}

struct fixture : test_coordinator_fixture<config> {
  actors::engine eng;
  std::shared_ptr<recording_sender> out = std::make_shared<recording_sender>();
  caf::actor edge;

  explicit fixture(actors::sip_edge_settings s = make_settings()) {
    eng = actors::spawn_engine(sys);
    edge = actors::spawn_sip_edge(sys, eng, out, std::move(s));
    sched.run(); // bus subscription of the edge
  }

  ~fixture() {
    caf::anon_send_exit(edge, caf::exit_reason::user_shutdown);
    eng.shutdown();
    sched.run();
  }

  static actors::sip_edge_settings make_settings() {
    actors::sip_edge_settings s;
    actors::bound_listener l;
    l.addr = {core::transport::udp, "127.0.0.1", 5060};
    l.port = 5060;
    s.listeners.push_back(l);
    return s;
  }

  /// The transport hands `bytes` from `from` to the edge.
  void deliver(const std::string& bytes, sip_endpoint from) {
    self->send(edge, sip_inbound{std::move(from), bytes});
  }

  size_t sent() const { return out->sent.size(); }

  /// The n-th message the edge sent.
  std::string at(size_t n) const {
    if (n >= out->sent.size())
      CAF_FAIL("the edge sent only " << out->sent.size() << " messages");
    return out->sent[n].second;
  }

  template <class Reply, class Request>
  caf::expected<Reply> call(Request req) {
    caf::expected<Reply> result{caf::sec::request_timeout};
    auto rh = self->request(eng.service, caf::infinite, std::move(req));
    sched.run();
    rh.receive([&](Reply& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  /// bob subscribes to alice over UDP from port 6000; returns the To tag.
  std::string subscribe_bob() {
    deliver(subscribe_msg(6000, 1, "600"), udp_peer(6000));
    sched.run();
    answer ok{at(sent() - 2)};
    CAF_REQUIRE(ok);
    CAF_REQUIRE_EQUAL(ok->status(), 200);
    answer first{at(sent() - 1)};
    CAF_REQUIRE(first);
    CAF_REQUIRE(first->method() == core::sip_method::notify);
    return std::string{ok->to().tag};
  }
};

struct rate_limited_fixture : fixture {
  rate_limited_fixture() : fixture(settings()) {
    // nop
  }
  static actors::sip_edge_settings settings() {
    auto s = make_settings();
    s.rate_limit = core::rate_limit_settings{1, 2, 100};
    s.retry_after = 2;
    return s;
  }
};

/// alice (password "secret") may register; realm localhost.
struct auth_fixture : fixture {
  auth_fixture() : fixture(settings()) {
    // nop
  }
  static actors::sip_edge_settings settings() {
    auto s = make_settings();
    actors::sip_auth_settings a;
    a.digest.realm = "localhost";
    a.digest.secret = "a test secret of at least 16 bytes";
    auto store = std::make_shared<core::credential_store>();
    for (auto alg : {core::digest_algorithm::sha256, core::digest_algorithm::md5})
      if (!store->add("alice", "localhost", alg,
                      core::digest_ha1(alg, "alice", "localhost", "secret")))
        CAF_FAIL("cannot add a credential");
    a.credentials = store;
    s.auth = a;
    return s;
  }
};

/// The WWW-Authenticate values of a response, in order.
std::vector<std::string> challenges(const std::string& bytes) {
  std::vector<std::string> out;
  size_t pos = 0;
  const std::string name = "\r\nWWW-Authenticate: ";
  while ((pos = bytes.find(name, pos)) != std::string::npos) {
    pos += name.size();
    out.push_back(bytes.substr(pos, bytes.find("\r\n", pos) - pos));
  }
  return out;
}

/// The Authorization value answering `challenge` (qop=auth).
std::string credentials_for(const std::string& challenge, std::string user,
                            std::string password, std::string nc = "00000001") {
  auto params = core::parse_digest_params(challenge);
  if (!params)
    return "unparsable challenge";
  std::string nonce, opaque, realm, algorithm;
  for (auto& p : *params) {
    if (p.name == "nonce")
      nonce = p.value;
    else if (p.name == "opaque")
      opaque = p.value;
    else if (p.name == "realm")
      realm = p.value;
    else if (p.name == "algorithm")
      algorithm = p.value;
  }
  auto alg = core::parse_digest_algorithm(algorithm).value_or(core::digest_algorithm::md5);
  auto ha1 = core::digest_ha1(alg, user, realm, password);
  std::string uri = "sip:localhost";
  auto response = core::digest_response(alg, ha1, nonce, nc, "c0ffee", "auth", "REGISTER",
                                        uri);
  return "Digest username=\"" + user + "\", realm=\"" + realm + "\", nonce=\"" + nonce
         + "\", uri=\"" + uri + "\", response=\"" + response + "\", algorithm=" + algorithm
         + ", qop=auth, nc=" + nc + ", cnonce=\"c0ffee\", opaque=\"" + opaque + "\"";
}

/// register_msg with an Authorization header and another AOR if given.
std::string authed_register(int cseq, const std::string& authorization,
                            std::string aor = "sip:alice@localhost") {
  auto m = register_msg(5070, cseq, "600", "a" + std::to_string(cseq));
  auto to = m.find("To: <sip:alice@localhost>");
  m.replace(to, 25, "To: <" + aor + ">");
  auto at = m.find("Content-Length:");
  return m.insert(at, "Authorization: " + authorization + "\r\n");
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(sip_edge_auth_tests, auth_fixture)

CAF_TEST(digest challenge and response) {
  deliver(register_msg(5070, 1, "600"), udp_peer(5070));
  sched.run();
  CAF_REQUIRE_EQUAL(sent(), 1u);
  answer c{at(0)};
  CAF_REQUIRE(c);
  CAF_CHECK_EQUAL(c->status(), 401);
  auto ch = challenges(at(0));
  CAF_REQUIRE_EQUAL(ch.size(), 2u);
  // RFC 8760 §2.4: the preferred algorithm first.
  CAF_CHECK(ch[0].find("algorithm=SHA-256") != std::string::npos);
  CAF_CHECK(ch[1].find("algorithm=MD5") != std::string::npos);
  CAF_CHECK(ch[0].find("qop=\"auth\"") != std::string::npos);
  // Nothing was registered.
  auto none = call<register_reply>(lookup_request{"sip:alice@localhost"});
  CAF_CHECK(!none || none->bindings.empty());
  // Right password (either algorithm): 200.
  deliver(authed_register(2, credentials_for(ch[0], "alice", "secret")), udp_peer(5070));
  sched.run();
  answer ok{at(1)};
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->status(), 200);
  // Both challenges carry the same nonce: the next request counts on (nc 2).
  deliver(authed_register(3, credentials_for(ch[1], "alice", "secret", "00000002")),
          udp_peer(5070));
  sched.run();
  answer ok_md5{at(2)};
  CAF_REQUIRE(ok_md5);
  CAF_CHECK_EQUAL(ok_md5->status(), 200);
  // The same nonce and nc again: a replay, challenged again.
  deliver(authed_register(4, credentials_for(ch[0], "alice", "secret")), udp_peer(5070));
  sched.run();
  answer replay{at(3)};
  CAF_REQUIRE(replay);
  CAF_CHECK_EQUAL(replay->status(), 401);
  // Wrong password: 403, no binding change.
  deliver(authed_register(5, credentials_for(ch[0], "alice", "guess", "00000009")),
          udp_peer(5070));
  sched.run();
  answer wrong{at(4)};
  CAF_REQUIRE(wrong);
  CAF_CHECK_EQUAL(wrong->status(), 403);
  // Valid credentials, but for someone else's AOR: 403.
  deliver(authed_register(6, credentials_for(ch[0], "alice", "secret", "0000000a"),
                          "sip:bob@localhost"),
          udp_peer(5070));
  sched.run();
  answer other{at(5)};
  CAF_REQUIRE(other);
  CAF_CHECK_EQUAL(other->status(), 403);
  CAF_CHECK_EQUAL(std::string{other->reason_phrase()},
                  "Forbidden (not your address of record)");
  auto bob = call<register_reply>(lookup_request{"sip:bob@localhost"});
  CAF_CHECK(!bob || bob->bindings.empty());
  // OPTIONS needs no credentials.
  deliver(crlf("OPTIONS sip:localhost SIP/2.0\n"
               "Via: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-ao\n"
               "From: <sip:x@localhost>;tag=x\nTo: <sip:localhost>\n"
               "Call-ID: ao\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n"),
          udp_peer(1));
  sched.run();
  answer o{at(6)};
  CAF_REQUIRE(o);
  CAF_CHECK_EQUAL(o->status(), 200);
}

CAF_TEST(an old nonce is stale and the retry succeeds) {
  deliver(register_msg(5070, 1, "600"), udp_peer(5070));
  sched.run();
  auto ch = challenges(at(0));
  CAF_REQUIRE(!ch.empty());
  advance_time(301s);
  deliver(authed_register(2, credentials_for(ch[0], "alice", "secret")), udp_peer(5070));
  sched.run();
  answer stale{at(1)};
  CAF_REQUIRE(stale);
  CAF_CHECK_EQUAL(stale->status(), 401);
  auto fresh = challenges(at(1));
  CAF_REQUIRE(!fresh.empty());
  CAF_CHECK(fresh[0].find("stale=true") != std::string::npos);
  deliver(authed_register(3, credentials_for(fresh[0], "alice", "secret")), udp_peer(5070));
  sched.run();
  answer ok{at(2)};
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->status(), 200);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(sip_edge_tests, fixture)

CAF_TEST(the path of a register from the wire to the user and back) {
  deliver(register_msg(5070, 1, "600"), udp_peer(5070));
  expect((sip_inbound), from(self).to(edge));
  auto shard = caf::actor_cast<caf::actor>(eng.refs->shard_for("sip:alice@localhost"));
  expect((register_request),
         from(edge).to(shard).with(_));
  expect((register_reply), from(shard).to(edge));
  CAF_REQUIRE_EQUAL(sent(), 1u);
  CAF_CHECK_EQUAL(to_string(out->sent[0].first), "udp:127.0.0.1:5070");
  answer ok{at(0)};
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->status(), 200);
  CAF_REQUIRE_EQUAL(ok->contacts().size(), 1u);
  CAF_CHECK_EQUAL(*ok->contacts()[0].expires, 600u);
  // RFC 3581: the Via said 10.1.1.1, the packet came from 127.0.0.1.
  CAF_CHECK_EQUAL(std::string{ok->vias()[0].received}, "127.0.0.1");
  CAF_CHECK(ok->vias()[0].rport_value == std::optional<uint16_t>{5070});
  auto l = call<register_reply>(lookup_request{"sip:alice@localhost"});
  CAF_REQUIRE(l);
  CAF_REQUIRE_EQUAL(l->bindings.size(), 1u);
  CAF_CHECK_EQUAL(l->bindings[0].received, "127.0.0.1:5070");
}

CAF_TEST(the transport learns of a udp register as handled only once it is answered) {
  // What the transport's overload bound counts (sip_sender::consumed): an
  // OPTIONS when its handler is done, a REGISTER when the engine answered.
  auto before = out->consumed_total;
  std::vector<sip_inbound> burst;
  burst.push_back(sip_inbound{udp_peer(5070), register_msg(5070, 1, "600")});
  burst.push_back(sip_inbound{udp_peer(5071),
                              crlf("OPTIONS sip:localhost SIP/2.0\n"
                                   "Via: SIP/2.0/UDP 10.1.1.9:5071;branch=z9hG4bK-cons\n"
                                   "From: <sip:x@localhost>;tag=x\nTo: <sip:localhost>\n"
                                   "Call-ID: cons\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n")});
  self->send(edge, std::move(burst));
  expect((std::vector<sip_inbound>), from(self).to(edge));
  CAF_CHECK_EQUAL(out->consumed_total, before + 1); // the OPTIONS
  auto shard = caf::actor_cast<caf::actor>(eng.refs->shard_for("sip:alice@localhost"));
  expect((register_request), from(edge).to(shard));
  CAF_CHECK_EQUAL(out->consumed_total, before + 1);
  expect((register_reply), from(shard).to(edge));
  CAF_CHECK_EQUAL(out->consumed_total, before + 2); // and the REGISTER
  sched.run();
  CAF_CHECK_EQUAL(out->consumed_total, before + 2);
}

CAF_TEST(retransmitted requests are absorbed and answered alike) {
  auto req = register_msg(5070, 1, "600");
  deliver(req, udp_peer(5070));
  deliver(req, udp_peer(5070)); // retransmitted before the answer
  expect((sip_inbound), from(self).to(edge));
  expect((sip_inbound), from(self).to(edge));
  sched.run();
  // One REGISTER reached the engine, one 200 left.
  CAF_REQUIRE_EQUAL(sent(), 1u);
  deliver(req, udp_peer(5070)); // retransmitted after the answer
  expect((sip_inbound), from(self).to(edge));
  auto shard = caf::actor_cast<caf::actor>(eng.refs->shard_for("sip:alice@localhost"));
  disallow((register_request), from(edge).to(shard));
  CAF_REQUIRE_EQUAL(sent(), 2u);
  CAF_CHECK_EQUAL(at(1), at(0));
  // A new transaction (new branch) with the same CSeq is out of order.
  deliver(register_msg(5070, 1, "600", "other"), udp_peer(5070));
  sched.run();
  CAF_REQUIRE_EQUAL(sent(), 3u);
  answer old{at(2)};
  CAF_REQUIRE(old);
  CAF_CHECK_EQUAL(old->status(), 500);
}

CAF_TEST(bad input gets a reason and changes nothing) {
  deliver("not SIP at all\r\n\r\n", udp_peer(5070));
  sched.run();
  CAF_CHECK_EQUAL(sent(), 0u); // nobody to answer
  deliver(register_msg(5070, 1, "soon"), udp_peer(5070));
  sched.run();
  CAF_REQUIRE_EQUAL(sent(), 1u);
  answer bad{at(0)};
  CAF_REQUIRE(bad);
  CAF_CHECK_EQUAL(bad->status(), 400);
  CAF_CHECK_EQUAL(std::string{bad->reason_phrase()}, "Malformed Expires");
  deliver(register_msg(5070, 2, "5"), udp_peer(5070));
  sched.run();
  answer brief{at(1)};
  CAF_REQUIRE(brief);
  CAF_CHECK_EQUAL(brief->status(), 423);
  CAF_CHECK(brief->min_expires() == std::optional<uint32_t>{60});
  auto l = call<register_reply>(lookup_request{"sip:alice@localhost"});
  CAF_CHECK(!l || l->bindings.empty());
  // Keep-alives are not answered over UDP.
  deliver("\r\n\r\n", udp_peer(5070));
  sched.run();
  CAF_CHECK_EQUAL(sent(), 2u);
}

CAF_TEST(a subscribe hands its dialog to the engine) {
  // The engine keeps (and journals) the dialog with the subscription, so a
  // restarted server knows where and how to go on notifying.
  deliver(subscribe_msg(6000, 1, "600"), udp_peer(6000));
  expect((sip_inbound), from(self).to(edge));
  auto sup = caf::actor_cast<caf::actor>(eng.subscriptions);
  auto req = std::get<0>(extract<subscribe_request>(sup));
  sched.run();
  answer ok{at(sent() - 2)};
  CAF_REQUIRE(ok);
  CAF_REQUIRE_EQUAL(ok->status(), 200);
  auto& d = req.dialog;
  CAF_CHECK_EQUAL(d.call_id, "edge-sub-1");
  CAF_CHECK_EQUAL(d.local_tag, std::string{ok->to().tag});
  CAF_CHECK_EQUAL(d.remote_tag, "b1");
  CAF_CHECK_EQUAL(d.local_uri, "sip:alice@localhost");
  CAF_CHECK_EQUAL(d.remote_uri, "sip:bob@localhost");
  CAF_CHECK_EQUAL(d.remote_target, "sip:bob@127.0.0.1:6000");
  CAF_CHECK(d.route_set.empty());
  CAF_CHECK(d.transport_type == core::transport::udp);
  CAF_CHECK_EQUAL(d.received, "127.0.0.1:6000");
}

CAF_TEST(the path of a publish to the watchers notify) {
  auto tag = subscribe_bob();
  auto before = sent();
  // The 200 to the first NOTIFY ends its client transaction.
  answer first{at(before - 1)};
  auto resp = core::make_response(*first.msg, 200, "OK").take();
  deliver(resp, udp_peer(6000));
  sched.run();
  deliver(publish_msg(1, away_pidf), udp_peer(5999));
  expect((sip_inbound), from(self).to(edge));
  auto shard = caf::actor_cast<caf::actor>(eng.refs->shard_for("sip:alice@localhost"));
  expect((publish_request), from(edge).to(shard));
  sched.run();
  // The 200 with SIP-ETag to alice, a NOTIFY with the new body to bob.
  CAF_REQUIRE_EQUAL(sent(), before + 2);
  answer ok{at(before)};
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->status(), 200);
  CAF_CHECK(!ok->sip_etag().empty());
  answer n{at(before + 1)};
  CAF_REQUIRE(n);
  CAF_CHECK(n->method() == core::sip_method::notify);
  CAF_CHECK_EQUAL(std::string{n->from().tag}, tag);
  CAF_CHECK_EQUAL(n->cseq().number, first->cseq().number + 1);
  CAF_CHECK_EQUAL(to_string(out->sent[before + 1].first), "udp:127.0.0.1:6000");
  auto doc = core::parse_pidf(n->body());
  CAF_REQUIRE(doc);
  CAF_CHECK_EQUAL(doc->note, "gone fishing");
  // The tuple id is a valid xs:ID (RFC 3863: not starting with a digit) and
  // stays the same when the publication is modified (new ETag, same device).
  CAF_REQUIRE_EQUAL(doc->devices.size(), 1u);
  auto tuple_id = doc->devices[0].device_id;
  CAF_REQUIRE(!tuple_id.empty());
  CAF_CHECK(std::isalpha(static_cast<unsigned char>(tuple_id[0])) || tuple_id[0] == '_');
  auto busy = away_pidf;
  busy.replace(busy.find("gone fishing"), 12, "back soon");
  deliver(publish_msg(2, busy, std::string{ok->sip_etag()}), udp_peer(5999));
  sched.run();
  CAF_REQUIRE_EQUAL(sent(), before + 4);
  answer ok2{at(before + 2)};
  CAF_REQUIRE(ok2);
  CAF_CHECK_EQUAL(ok2->status(), 200);
  CAF_CHECK_NOT_EQUAL(std::string{ok2->sip_etag()}, std::string{ok->sip_etag()});
  answer n2{at(before + 3)};
  CAF_REQUIRE(n2);
  auto doc2 = core::parse_pidf(n2->body());
  CAF_REQUIRE(doc2);
  CAF_CHECK_EQUAL(doc2->note, "back soon");
  CAF_REQUIRE_EQUAL(doc2->devices.size(), 1u);
  CAF_CHECK_EQUAL(doc2->devices[0].device_id, tuple_id);
}

CAF_TEST(notify is retransmitted with timer e until answered) {
  subscribe_bob();
  auto first_at = sent() - 1;
  auto notify = at(first_at);
  // T1 = 500 ms, then 1 s, then 2 s.
  advance_time(500ms);
  sched.run();
  CAF_REQUIRE_EQUAL(sent(), first_at + 2);
  CAF_CHECK_EQUAL(at(first_at + 1), notify);
  advance_time(999ms);
  sched.run();
  CAF_CHECK_EQUAL(sent(), first_at + 2);
  advance_time(1ms);
  sched.run();
  CAF_CHECK_EQUAL(sent(), first_at + 3);
  // Answered: no more copies.
  answer n{notify};
  deliver(core::make_response(*n.msg, 200, "OK").take(), udp_peer(6000));
  sched.run();
  advance_time(10s);
  sched.run();
  CAF_CHECK_EQUAL(sent(), first_at + 3);
  auto subs = call<watcher_list>(get_watchers_request{"sip:alice@localhost"});
  CAF_REQUIRE(subs);
  CAF_CHECK_EQUAL(subs->watchers.size(), 1u);
}

CAF_TEST(only a final answer with the branch and method of a notify ends its retransmissions) {
  subscribe_bob();
  auto first_at = sent() - 1;
  auto notify = at(first_at);
  answer n{notify};
  CAF_REQUIRE(n);
  auto ok = core::make_response(*n.msg, 200, "OK").take();
  auto branch = std::string{n->vias().front().branch};
  auto with = [&](const std::string& from, const std::string& to) {
    auto x = ok;
    auto i = x.find(from);
    CAF_REQUIRE(i != std::string::npos);
    x.replace(i, from.size(), to);
    return x;
  };
  // Not ours: the counter of our branch under another prefix, our prefix
  // with another counter, another method, a provisional answer; and one
  // the shortcut leaves to the full parser (a folded line).
  auto counter = branch.substr(branch.rfind('.'));
  deliver(with(branch, "z9hG4bK-rc1" + counter), udp_peer(6000));
  deliver(with(branch, branch + "9"), udp_peer(6000));
  deliver(with(" NOTIFY\r\n", " SUBSCRIBE\r\n"), udp_peer(6000));
  deliver(with("SIP/2.0 200 OK", "SIP/2.0 180 Ringing"), udp_peer(6000));
  sched.run();
  advance_time(500ms);
  sched.run();
  CAF_REQUIRE_EQUAL(sent(), first_at + 2); // still retransmitted
  CAF_CHECK_EQUAL(at(first_at + 1), notify);
  // The real answer, with a folded header field: the full parse takes it.
  deliver(with("\r\nCall-ID:", "\r\nX-Folded: a\r\n b\r\nCall-ID:"), udp_peer(6000));
  sched.run();
  advance_time(10s);
  sched.run();
  CAF_CHECK_EQUAL(sent(), first_at + 2);
}

CAF_TEST(a notify without answer ends the subscription after timer f) {
  subscribe_bob();
  auto n0 = sent();
  // 0.5 + 1 + 2 + 4 * 7 = 31.5 s of retransmissions, then Timer F at 32 s.
  for (int i = 0; i < 64; ++i) {
    advance_time(500ms);
    sched.run();
  }
  // Retransmissions at 0.5, 1.5, 3.5, 7.5, 11.5, ..., 31.5 s: 10 copies.
  CAF_CHECK_EQUAL(sent() - n0, 10u);
  auto subs = call<watcher_list>(get_watchers_request{"sip:alice@localhost"});
  CAF_REQUIRE(subs);
  CAF_CHECK_EQUAL(subs->watchers.size(), 0u);
  // The dialog is gone: an in-dialog refresh gets 481.
  auto after = sent();
  deliver(subscribe_msg(6000, 2, "600", "x"), udp_peer(6000));
  sched.run();
  CAF_REQUIRE_EQUAL(sent(), after + 1);
  answer gone{at(after)};
  CAF_REQUIRE(gone);
  CAF_CHECK_EQUAL(gone->status(), 481);
}

CAF_TEST(a large fan-out leaves in slices and lets other messages in between) {
  // 600 watchers of alice (one more than a slice of 512).
  constexpr int watchers = 600;
  for (int i = 0; i < watchers; ++i) {
    auto port = static_cast<uint16_t>(20000 + i);
    auto w = "w" + std::to_string(i);
    deliver(crlf("SUBSCRIBE sip:alice@localhost SIP/2.0\n"
                 "Via: SIP/2.0/UDP 127.0.0.1:" + std::to_string(port) + ";branch=z9hG4bK-f"
                 + w + "\nMax-Forwards: 70\n"
                 "From: <sip:" + w + "@localhost>;tag=t" + w + "\n"
                 "To: <sip:alice@localhost>\nCall-ID: fan-" + w + "\nCSeq: 1 SUBSCRIBE\n"
                 "Contact: <sip:" + w + "@127.0.0.1:" + std::to_string(port) + ">\n"
                 "Event: presence\nExpires: 600\nContent-Length: 0\n\n"),
            udp_peer(port));
  }
  sched.run();
  auto before = sent();
  deliver(publish_msg(1, away_pidf), udp_peer(5999));
  // Run until the NotifyRequired batch is the edge's next message, then an
  // OPTIONS arrives behind it.
  auto next_is_batch = [&] {
    auto e = caf::actor_cast<caf::abstract_actor*>(edge)->peek_at_next_mailbox_element();
    return e != nullptr && e->content().match_elements<event_batch>();
  };
  while (!next_is_batch())
    CAF_REQUIRE(sched.try_run_once());
  deliver(crlf("OPTIONS sip:localhost SIP/2.0\n"
               "Via: SIP/2.0/UDP 10.1.1.9:5070;branch=z9hG4bK-between\n"
               "From: <sip:x@localhost>;tag=x\nTo: <sip:localhost>\n"
               "Call-ID: between\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n"),
          udp_peer(5070));
  sched.run();
  // The 200 to the PUBLISH, 600 NOTIFYs, the 200 to the OPTIONS.
  CAF_REQUIRE_EQUAL(sent(), before + 2 + watchers);
  size_t notifies = 0;
  size_t options_after = 0;
  for (auto i = before; i < sent(); ++i) {
    answer m{at(i)};
    CAF_REQUIRE(m);
    if (m->is_response() && m->cseq().method_token == "OPTIONS")
      options_after = notifies;
    else if (!m->is_response())
      ++notifies;
  }
  CAF_CHECK_EQUAL(notifies, static_cast<size_t>(watchers));
  // Answered after the first slice, before the rest.
  CAF_CHECK_EQUAL(options_after, 512u);
  // Every watcher got one NOTIFY with the new document.
  std::set<std::string> peers;
  for (auto i = before; i < sent(); ++i)
    if (answer m{at(i)}; m && !m->is_response())
      peers.insert(to_string(out->sent[i].first));
  CAF_CHECK_EQUAL(peers.size(), static_cast<size_t>(watchers));
}

CAF_TEST(a 481 to a notify ends the subscription) {
  auto tag = subscribe_bob();
  answer n{at(sent() - 1)};
  deliver(core::make_response(*n.msg, 481, "Call/Transaction Does Not Exist").take(),
         udp_peer(6000));
  sched.run();
  auto subs = call<watcher_list>(get_watchers_request{"sip:alice@localhost"});
  CAF_REQUIRE(subs);
  CAF_CHECK_EQUAL(subs->watchers.size(), 0u);
  // No retransmission of the failed NOTIFY, no final NOTIFY to the peer.
  auto after = sent();
  advance_time(5s);
  sched.run();
  CAF_CHECK_EQUAL(sent(), after);
  deliver(subscribe_msg(6000, 2, "600", tag), udp_peer(6000));
  sched.run();
  answer gone{at(after)};
  CAF_REQUIRE(gone);
  CAF_CHECK_EQUAL(gone->status(), 481);
}

CAF_TEST(shutdown ends every dialog with a final notify) {
  subscribe_bob();
  auto before = sent();
  auto rh = self->request(edge, caf::infinite, terminate_atom::value);
  sched.run();
  uint64_t ended = 0;
  rh.receive([&](uint64_t n) { ended = n; },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK_EQUAL(ended, 1u);
  CAF_REQUIRE_EQUAL(sent(), before + 1);
  answer last{at(before)};
  CAF_REQUIRE(last);
  CAF_REQUIRE(last->subscription_state_header().has_value());
  CAF_CHECK_EQUAL(std::string{last->subscription_state_header()->state}, "terminated");
  CAF_CHECK_EQUAL(std::string{last->subscription_state_header()->reason}, "deactivated");
  // Nothing is retransmitted after it.
  advance_time(5s);
  sched.run();
  CAF_CHECK_EQUAL(sent(), before + 1);
}

CAF_TEST(options and other methods) {
  deliver(crlf("OPTIONS sip:localhost SIP/2.0\n"
              "Via: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-o\n"
              "From: <sip:x@localhost>;tag=x\nTo: <sip:localhost>\n"
              "Call-ID: o1\nCSeq: 1 OPTIONS\nMax-Forwards: 70\nContent-Length: 0\n\n"),
         udp_peer(1));
  deliver(crlf("MESSAGE sip:localhost SIP/2.0\n"
              "Via: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-m\n"
              "From: <sip:x@localhost>;tag=x\nTo: <sip:localhost>\n"
              "Call-ID: m1\nCSeq: 1 MESSAGE\nMax-Forwards: 70\nContent-Length: 0\n\n"),
         udp_peer(1));
  sched.run();
  CAF_REQUIRE_EQUAL(sent(), 2u);
  answer o{at(0)};
  CAF_REQUIRE(o);
  CAF_CHECK_EQUAL(o->status(), 200);
  CAF_CHECK_EQUAL((o->allow)().size(), 4u);
  CAF_CHECK_EQUAL(o->accept().size(), 1u);
  CAF_CHECK_EQUAL(o->supported().size(), 1u);
  answer m{at(1)};
  CAF_REQUIRE(m);
  CAF_CHECK_EQUAL(m->status(), 405);
  CAF_CHECK_EQUAL((m->allow)().size(), 4u);
  // RFC 3261 §8.2: unknown method 501, CANCEL without transaction 481, a
  // non-SIP Request-URI 416, an unknown Require 420, an unknown body 415.
  auto probe = [&](std::string start, std::string extra, std::string body) {
    auto method = start.substr(0, start.find(' '));
    deliver(crlf(start + " SIP/2.0\n"
                 "Via: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-" + method + std::to_string(sent())
                 + "\nFrom: <sip:x@localhost>;tag=x\nTo: <sip:localhost>\n"
                 "Call-ID: probe" + std::to_string(sent()) + "\nCSeq: 1 " + method + "\n"
                 + extra + "Content-Length: " + std::to_string(body.size()) + "\n\n")
              + body,
            udp_peer(1));
    sched.run();
    answer a{at(sent() - 1)};
    return a ? a->status() : 0;
  };
  CAF_CHECK_EQUAL(probe("FOOBAR sip:localhost", "", ""), 501);
  CAF_CHECK_EQUAL(probe("CANCEL sip:localhost", "", ""), 481);
  CAF_CHECK_EQUAL(probe("OPTIONS http://localhost/", "", ""), 416);
  CAF_CHECK_EQUAL(probe("REGISTER http://localhost/", "", ""), 416);
  CAF_CHECK_EQUAL(probe("OPTIONS sip:localhost", "Require: no-such-ext\n", ""), 420);
  CAF_CHECK(at(sent() - 1).find("Unsupported: no-such-ext\r\n") != std::string::npos);
  CAF_CHECK_EQUAL(probe("OPTIONS sip:localhost", "Content-Type: application/x-what\n", "abc"),
                  415);
  CAF_CHECK(at(sent() - 1).find("Accept: application/pidf+xml\r\n") != std::string::npos);
  CAF_CHECK_EQUAL(probe("OPTIONS sip:localhost", "Require: path\n", ""), 200);
  auto l = call<register_reply>(lookup_request{"sip:x@localhost"});
  CAF_CHECK(!l || l->bindings.empty());
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(sip_edge_rate_tests, rate_limited_fixture)

CAF_TEST(a source over its rate gets 503 with retry after) {
  for (int i = 1; i <= 3; ++i)
    deliver(register_msg(5070, i, "600"), udp_peer(5070));
  deliver(register_msg(5071, 10, "600", "other-source"), sip_endpoint{
    core::transport::udp, "127.0.0.2", 5071, 0, 0});
  sched.run();
  CAF_REQUIRE_EQUAL(sent(), 4u);
  int ok = 0;
  int limited = 0;
  for (size_t i = 0; i < 4; ++i) {
    answer a{at(i)};
    CAF_REQUIRE(a);
    if (a->status() == 200) {
      ++ok;
    } else {
      ++limited;
      CAF_CHECK_EQUAL(a->status(), 503);
      CAF_CHECK(a->header("Retry-After") == std::optional<std::string_view>{"2"});
      CAF_CHECK_EQUAL(out->sent[i].first.ip, "127.0.0.1");
    }
  }
  CAF_CHECK_EQUAL(ok, 3);
  CAF_CHECK_EQUAL(limited, 1);
  // A second later the source has a token again.
  advance_time(1s);
  deliver(register_msg(5070, 11, "600"), udp_peer(5070));
  sched.run();
  answer again{at(4)};
  CAF_REQUIRE(again);
  CAF_CHECK_EQUAL(again->status(), 200);
}

CAF_TEST_FIXTURE_SCOPE_END()
