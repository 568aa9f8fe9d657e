// SPDX-License-Identifier: MIT
// Subscriptions survive a restart of the daemon: the engine reads them and
// their SIP dialogs back from the journal, a new SIP edge rebuilds its
// dialogs from them and every watcher gets a NOTIFY with the current state,
// its CSeq above every CSeq sent before (RFC 6665 §4.2.2, RFC 3261
// §12.2.1.1). Deterministic: CAF's test coordinator, a recording transport,
// the journal in a temporary file.
#define CAF_SUITE actors.sip_resume
// Our headers before dsl.hpp (its `allow` macro).
#include "actors/engine.hpp"
#include "actors/journal.hpp"
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
using test_support::away_pidf;
using test_support::open_journal;
using test_support::publish_msg;
using test_support::recording_sender;
using test_support::subscribe_msg;
using test_support::temp_db;
using test_support::udp_peer;

struct fixture : test_coordinator_fixture<config> {
  temp_db db;
  actors::engine eng;
  std::shared_ptr<recording_sender> out;
  caf::actor edge;
  /// Wall clock = this base + the simulated steady clock; a restarted
  /// process has another steady clock, so a restart moves the base.
  std::chrono::system_clock::duration wall_base = 1'700'000'000s;

  fixture() {
    start();
  }

  ~fixture() {
    stop();
  }

  /// The daemon starts: engine on the journal file, then a new edge (a new
  /// transport: `out` records only what this run sends).
  void start() {
    actors::engine_config ecfg;
    ecfg.shards = 2;
    ecfg.persistence = durability::sync;
    ecfg.store_thread = false;
    ecfg.wall_clock = [this] {
      return std::chrono::system_clock::time_point{
        wall_base
        + std::chrono::duration_cast<std::chrono::system_clock::duration>(
          sched.clock().current_time.time_since_epoch())};
    };
    auto e = actors::spawn_engine(sys, ecfg, open_journal(db.path));
    if (!e)
      CAF_FAIL("spawn_engine: " << sys.render(e.error()));
    eng = std::move(*e);
    out = std::make_shared<recording_sender>();
    actors::sip_edge_settings s;
    actors::bound_listener l;
    l.addr = {core::transport::udp, "127.0.0.1", 5060};
    l.port = 5060;
    s.listeners.push_back(l);
    edge = actors::spawn_sip_edge(sys, eng, out, std::move(s));
    sched.run();
  }

  /// The daemon stops (the engine commits what it accepted) or dies
  /// (`graceful` false: the edge gets no terminate_atom).
  void stop(bool graceful = true) {
    if (!edge)
      return;
    if (graceful) {
      self->send(edge, terminate_atom::value);
      sched.run();
    }
    caf::anon_send_exit(edge, caf::exit_reason::user_shutdown);
    eng.shutdown();
    sched.run();
    edge = nullptr;
    eng = actors::engine{};
  }

  /// Restart after `down` of downtime.
  void restart(caf::timespan down = 5s, bool graceful = true) {
    stop(graceful);
    wall_base += std::chrono::duration_cast<std::chrono::system_clock::duration>(down);
    start();
  }

  void deliver(const std::string& bytes, sip_endpoint from) {
    self->send(edge, sip_inbound{std::move(from), bytes});
    sched.run();
  }

  size_t sent() const { return out->sent.size(); }

  std::string at(size_t n) const {
    if (n >= out->sent.size())
      CAF_FAIL("the edge sent only " << out->sent.size() << " messages");
    return out->sent[n].second;
  }

  /// Answers NOTIFY `n` with 200 (ends its client transaction).
  void answer_notify(size_t n) {
    answer x{at(n)};
    CAF_REQUIRE(x);
    deliver(core::make_response(*x.msg, 200, "OK").take(), udp_peer(6000));
  }

  /// bob subscribes to alice (600 s); returns our To tag.
  std::string subscribe_bob() {
    deliver(subscribe_msg(6000, 1, "600"), udp_peer(6000));
    answer ok{at(sent() - 2)};
    CAF_REQUIRE(ok);
    CAF_REQUIRE_EQUAL(ok->status(), 200);
    answer_notify(sent() - 1);
    return std::string{ok->to().tag};
  }

  /// alice publishes; returns the NOTIFY it caused (the 200 to alice may
  /// come second: with durability sync it waits for the commit, the NOTIFY
  /// does not).
  std::string publish(const std::string& body) {
    static int cseq = 0;
    auto before = sent();
    deliver(publish_msg(++cseq, body), udp_peer(5999));
    CAF_REQUIRE_EQUAL(sent(), before + 2);
    auto n = at(before).rfind("NOTIFY ", 0) == 0 ? before : before + 1;
    answer_notify(n);
    return at(n);
  }
};

std::string with_note(std::string note) {
  auto body = away_pidf;
  body.replace(body.find("gone fishing"), 12, note);
  return body;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(sip_resume_tests, fixture)

CAF_TEST(after a restart every watcher gets a notify with a higher cseq) {
  auto tag = subscribe_bob();
  answer before{publish(away_pidf)};
  CAF_REQUIRE(before);
  auto last_cseq = before->cseq().number;
  restart();
  // Nobody sent anything to the new process: it notifies by itself.
  CAF_REQUIRE_EQUAL(sent(), 1u);
  answer n{at(0)};
  CAF_REQUIRE(n);
  CAF_CHECK(n->method() == core::sip_method::notify);
  CAF_CHECK_EQUAL(to_string(out->sent[0].first), "udp:127.0.0.1:6000");
  CAF_CHECK_EQUAL(std::string{n->request_uri()}, "sip:bob@127.0.0.1:6000");
  CAF_CHECK_EQUAL(std::string{n->call_id()}, "edge-sub-1");
  CAF_CHECK_EQUAL(std::string{n->from().tag}, tag);
  CAF_CHECK_EQUAL(std::string{n->to().tag}, "b1");
  CAF_CHECK_GREATER(n->cseq().number, last_cseq);
  CAF_REQUIRE(n->subscription_state_header().has_value());
  CAF_CHECK_EQUAL(std::string{n->subscription_state_header()->state}, "active");
  auto doc = core::parse_pidf(n->body());
  CAF_REQUIRE(doc);
  CAF_CHECK_EQUAL(doc->note, "gone fishing");
  answer_notify(0);
  // The next change goes on from there.
  answer later{publish(with_note("back soon"))};
  CAF_REQUIRE(later);
  CAF_CHECK_EQUAL(later->cseq().number, n->cseq().number + 1);
  auto doc2 = core::parse_pidf(later->body());
  CAF_REQUIRE(doc2);
  CAF_CHECK_EQUAL(doc2->note, "back soon");
}

CAF_TEST(the cseq keeps increasing over several restarts and a kill) {
  subscribe_bob();
  uint32_t last = 0;
  for (int i = 0; i < 3; ++i) {
    restart(5s, i != 1); // the second one without a graceful stop
    CAF_REQUIRE_EQUAL(sent(), 1u);
    answer n{at(0)};
    CAF_REQUIRE(n);
    CAF_CHECK_GREATER(n->cseq().number, last);
    last = n->cseq().number;
    answer_notify(0);
  }
}

CAF_TEST(an in dialog subscribe after a restart finds its dialog) {
  auto tag = subscribe_bob();
  restart();
  answer_notify(0);
  auto before = sent();
  deliver(subscribe_msg(6000, 2, "300", tag), udp_peer(6000));
  CAF_REQUIRE_EQUAL(sent(), before + 2);
  answer ok{at(before)};
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->status(), 200);
  answer n{at(before + 1)};
  CAF_REQUIRE(n);
  CAF_CHECK(n->method() == core::sip_method::notify);
  answer resumed{at(0)};
  CAF_CHECK_GREATER(n->cseq().number, resumed->cseq().number);
}

CAF_TEST(with a journal a graceful stop ends no subscription) {
  subscribe_bob();
  auto before = sent();
  auto rh = self->request(edge, caf::infinite, terminate_atom::value);
  sched.run();
  uint64_t ended = 99;
  rh.receive([&](uint64_t x) { ended = x; },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK_EQUAL(ended, 0u);
  CAF_CHECK_EQUAL(sent(), before);
}

CAF_TEST(a subscription that expired while down ends with a final notify) {
  subscribe_bob();
  restart(700s); // past its 600 s
  // No "active" NOTIFY for it; the first expiry tick ends it.
  for (auto& m : out->sent) {
    answer x{m.second};
    CAF_REQUIRE(x);
    CAF_REQUIRE(x->subscription_state_header().has_value());
    CAF_CHECK_EQUAL(std::string{x->subscription_state_header()->state}, "terminated");
  }
  advance_time(2s);
  sched.run();
  CAF_REQUIRE_EQUAL(sent(), 1u);
  answer n{at(0)};
  CAF_REQUIRE(n);
  CAF_CHECK_EQUAL(std::string{n->subscription_state_header()->state}, "terminated");
  CAF_CHECK_EQUAL(std::string{n->subscription_state_header()->reason}, "timeout");
}

CAF_TEST_FIXTURE_SCOPE_END()
