// SPDX-License-Identifier: MIT
// The directory shards' batch path (register_batch) and the reverse index
// (64-bit key hashes, every answer verified with the owning user).
#define CAF_SUITE actors.directory_shard
#include <caf/test/dsl.hpp>

#include "actors/engine.hpp"
#include "core/hash.hpp"
#include "core/sip_uri.hpp"
#include "messages/error.hpp"
#include "messages/types.hpp"

using namespace regcore;

namespace {

struct config : caf::actor_system_config {
  config() { messages::register_types(*this); }
};

struct fixture : test_coordinator_fixture<config> {
  actors::engine eng;

  fixture() {
    // Whole seconds, so deadlines fall on expiry slots (1 s granularity).
    auto& t = sched.clock().current_time;
    t = std::chrono::ceil<std::chrono::seconds>(t.time_since_epoch())
        + core::time_point{};
    actors::engine_config ecfg;
    ecfg.shards = 2;
    ecfg.registration.max_contacts = 3;
    eng = actors::spawn_engine(sys, ecfg);
    sched.run();
  }

  ~fixture() {
    eng.shutdown();
    sched.run();
  }

  template <class Reply, class Handle, class Request>
  caf::expected<Reply> call_at(const Handle& dest, Request req) {
    caf::expected<Reply> result{caf::sec::request_timeout};
    auto rh = self->request(dest, caf::infinite, std::move(req));
    sched.run();
    rh.receive([&](Reply& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  template <class Reply, class Request>
  caf::expected<Reply> call(Request req) {
    return call_at<Reply>(eng.service, std::move(req));
  }

  static register_request make_reg(std::string aor, std::string uri,
                                   uint32_t expires = 3600) {
    register_request req;
    req.aor = std::move(aor);
    contact_request c;
    c.uri = std::move(uri);
    c.expires = expires;
    req.contacts.push_back(std::move(c));
    return req;
  }

  caf::expected<register_reply> reg(std::string aor, std::string uri,
                                    uint32_t expires = 3600) {
    return call<register_reply>(make_reg(std::move(aor), std::move(uri), expires));
  }

  shard_stats stats_total() {
    shard_stats total;
    for (auto& s : eng.refs->shards) {
      auto x = call_at<shard_stats>(s, stats_atom::value);
      if (!x)
        CAF_FAIL(sys.render(x.error()));
      total.users += x->users;
      total.active += x->active;
      total.registered += x->registered;
      total.index_entries += x->index_entries;
    }
    return total;
  }

  /// An AOR "sip:<prefix><n>@example.com" whose shard is (or, with `same`
  /// false, is not) the shard of `other`.
  std::string aor_on(const std::string& other, bool same, const std::string& prefix) {
    auto target = eng.refs->shard_for(other);
    for (int n = 0;; ++n) {
      auto aor = "sip:" + prefix + std::to_string(n) + "@example.com";
      if ((eng.refs->shard_for(aor).address() == target.address()) == same)
        return aor;
    }
  }
};

bool is(const caf::error& err, core::errc code) {
  return messages::is(err, code);
}

const std::string alice = "sip:alice@example.com";
const std::string bob = "sip:bob@example.com";

} // namespace

CAF_TEST_FIXTURE_SCOPE(directory_shard_tests, fixture)

CAF_TEST(a register batch answers each request as if it came alone) {
  register_batch_request batch;
  batch.requests.push_back(make_reg("SIP:alice@EXAMPLE.com", "sip:alice@192.0.2.1"));
  batch.requests.push_back(make_reg(bob, "sip:bob@192.0.2.9"));
  batch.requests.push_back(make_reg("not an aor", "sip:x@192.0.2.3"));
  batch.requests.push_back(make_reg(alice, "sip:alice@192.0.2.2"));
  batch.requests.push_back(make_reg("sip:carol@example.com", "sip:carol@192.0.2.5", 5));
  batch.requests.push_back(make_reg(alice, "sip:alice@192.0.2.1", 600));
  batch.requests.push_back(make_reg(bob, ""));
  auto r = call<register_batch_reply>(batch);
  CAF_REQUIRE(r);
  auto& xs = r->results;
  CAF_REQUIRE_EQUAL(xs.size(), 7u);
  CAF_CHECK(!xs[0].error);
  CAF_CHECK_EQUAL(xs[0].reply.aor, alice);
  CAF_CHECK(xs[0].reply.outcome == register_outcome::added);
  CAF_CHECK(!xs[1].error);
  CAF_CHECK(xs[1].reply.outcome == register_outcome::added);
  CAF_CHECK(xs[2].error);
  CAF_CHECK(!xs[3].error);
  CAF_CHECK_EQUAL(xs[3].reply.bindings.size(), 2u);
  CAF_CHECK(is(xs[4].error, core::errc::interval_too_brief));
  CAF_CHECK_EQUAL(messages::from_caf_error(xs[4].error).value, 60u);
  CAF_CHECK(!xs[5].error);
  CAF_CHECK(xs[5].reply.outcome == register_outcome::refreshed);
  CAF_CHECK(is(xs[6].error, core::errc::bad_uri));
  // The state is what the single requests would have left: bad ones
  // changed nothing.
  auto l = call<register_reply>(lookup_request{alice});
  CAF_REQUIRE(l);
  CAF_CHECK_EQUAL(l->bindings.size(), 2u);
  auto st = stats_total();
  CAF_CHECK_EQUAL(st.users, 2u);
  CAF_CHECK_EQUAL(st.registered, 2u);
  CAF_CHECK_EQUAL(st.index_entries, 3u);
  auto who = call<std::string>(find_user_request{"sip:bob@192.0.2.9"});
  CAF_REQUIRE(who);
  CAF_CHECK_EQUAL(*who, bob);
  auto empty = call<register_batch_reply>(register_batch_request{});
  CAF_REQUIRE(empty);
  CAF_CHECK(empty->results.empty());
}

CAF_TEST(a shard forwards batch entries of active users and other shards) {
  // `far` lives on the other shard, `busy` here but active (it has presence).
  auto shard = eng.refs->shard_for(alice);
  auto far = aor_on(alice, false, "far");
  auto busy = aor_on(alice, true, "busy");
  CAF_REQUIRE(reg(busy, "sip:busy@192.0.2.20"));
  presence_update_request pu;
  pu.aor = busy;
  pu.status = core::extended_status::busy;
  CAF_REQUIRE(call<presence_reply>(pu));
  CAF_REQUIRE_EQUAL(stats_total().active, 1u);
  register_batch_request batch;
  batch.requests.push_back(make_reg(far, "sip:far@192.0.2.30"));
  batch.requests.push_back(make_reg(busy, "sip:busy@192.0.2.21"));
  batch.requests.push_back(make_reg(alice, "sip:alice@192.0.2.1"));
  batch.requests.push_back(make_reg(far, "sip:far@192.0.2.31"));
  auto r = call_at<register_batch_reply>(shard, batch);
  CAF_REQUIRE(r);
  CAF_REQUIRE_EQUAL(r->results.size(), 4u);
  for (auto& x : r->results)
    CAF_CHECK(!x.error);
  CAF_CHECK_EQUAL(r->results[0].reply.aor, far);
  CAF_CHECK_EQUAL(r->results[0].reply.bindings.size(), 1u);
  CAF_CHECK_EQUAL(r->results[1].reply.aor, busy);
  CAF_CHECK_EQUAL(r->results[1].reply.bindings.size(), 2u);
  CAF_CHECK_EQUAL(r->results[3].reply.bindings.size(), 2u); // in order
  // Each user has exactly one owner: the far user is on its own shard only.
  auto far_stats = call_at<shard_stats>(eng.refs->shard_for(far), stats_atom::value);
  auto here_stats = call_at<shard_stats>(shard, stats_atom::value);
  CAF_REQUIRE(far_stats && here_stats);
  CAF_CHECK_EQUAL(far_stats->users + here_stats->users, 3u);
  CAF_CHECK_EQUAL(here_stats->users, 2u); // alice and busy
  auto l = call<register_reply>(lookup_request{busy});
  CAF_REQUIRE(l);
  CAF_CHECK_EQUAL(l->bindings.size(), 2u);
}

CAF_TEST(find user verifies every index entry with the user) {
  // A stale or colliding entry (here: injected) never gives a wrong answer.
  auto key = core::binding_key("sip:ghost@192.0.2.40");
  self->send(eng.refs->shard_for(key),
             index_update{core::stable_hash(key), "sip:ghost@example.com", true});
  sched.run();
  auto none = call<std::string>(find_user_request{"sip:ghost@192.0.2.40"});
  CAF_REQUIRE(!none);
  CAF_CHECK(is(none.error(), core::errc::contact_not_found));
  // A real owner is found behind the stale entry.
  CAF_REQUIRE(reg(alice, "sip:ghost@192.0.2.40"));
  auto who = call<std::string>(find_user_request{"sip:ghost@192.0.2.40"});
  CAF_REQUIRE(who);
  CAF_CHECK_EQUAL(*who, alice);
}

CAF_TEST(a contact taken over and released falls back to its first owner) {
  const std::string c = "sip:shared@192.0.2.50";
  CAF_REQUIRE(reg(alice, c));
  CAF_REQUIRE(reg(bob, c));
  auto who = call<std::string>(find_user_request{c});
  CAF_REQUIRE(who);
  CAF_CHECK_EQUAL(*who, bob);
  CAF_CHECK_EQUAL(stats_total().index_entries, 2u);
  CAF_REQUIRE(reg(bob, c, 0)); // bob removes it; alice still has it
  who = call<std::string>(find_user_request{c});
  CAF_REQUIRE(who);
  CAF_CHECK_EQUAL(*who, alice);
  CAF_REQUIRE(reg(alice, c, 0));
  auto none = call<std::string>(find_user_request{c});
  CAF_REQUIRE(!none);
  CAF_CHECK(is(none.error(), core::errc::contact_not_found));
  auto st = stats_total();
  CAF_CHECK_EQUAL(st.index_entries, 0u);
  CAF_CHECK_EQUAL(st.users, 0u);
}

CAF_TEST(passive users expire on time from their wake up buckets) {
  using namespace std::chrono_literals;
  auto user = [](int k) { return "sip:u" + std::to_string(k) + "@example.com"; };
  auto contact = [](int k) { return "sip:u" + std::to_string(k) + "@192.0.2.60"; };
  // u0..u9 expire after 60, 70, ... 150 s; w0..w9 all after 100 s (one
  // bucket, so removals from its middle move other users in it).
  for (int k = 0; k < 10; ++k) {
    CAF_REQUIRE(reg(user(k), contact(k), 60 + 10 * static_cast<uint32_t>(k)));
    CAF_REQUIRE(reg("sip:w" + std::to_string(k) + "@example.com",
                    "sip:w" + std::to_string(k) + "@192.0.2.61", 100));
  }
  CAF_CHECK_EQUAL(stats_total().users, 20u);
  // Leaving (u3, w2, w5, w9) unschedules; a refresh (u5) moves later.
  for (auto aor : {user(3), std::string{"sip:w2@example.com"},
                   std::string{"sip:w5@example.com"}, std::string{"sip:w9@example.com"}}) {
    register_request un;
    un.aor = aor;
    un.wildcard = true;
    un.expires = 0;
    CAF_REQUIRE(call<register_reply>(un));
  }
  CAF_REQUIRE(reg(user(5), contact(5), 3600));
  CAF_CHECK_EQUAL(stats_total().users, 16u);
  auto pass = [&](caf::timespan d) {
    advance_time(d);
    sched.run();
  };
  pass(59s);
  CAF_CHECK_EQUAL(stats_total().users, 16u);
  pass(1s); // 60 s: u0
  CAF_CHECK_EQUAL(stats_total().users, 15u);
  pass(10s); // 70 s: u1
  CAF_CHECK_EQUAL(stats_total().users, 14u);
  pass(20s); // 90 s: u2 (u3 left already)
  CAF_CHECK_EQUAL(stats_total().users, 13u);
  pass(10s); // 100 s: u4 and the 7 w users left
  CAF_CHECK_EQUAL(stats_total().users, 5u);
  CAF_CHECK(!call<register_reply>(lookup_request{"sip:w0@example.com"}));
  pass(50s); // 150 s: u6..u9; u5 was refreshed
  auto st = stats_total();
  CAF_CHECK_EQUAL(st.users, 1u);
  CAF_CHECK_EQUAL(st.index_entries, 1u);
  auto l = call<register_reply>(lookup_request{user(5)});
  CAF_REQUIRE(l);
  CAF_CHECK_EQUAL(l->bindings.size(), 1u);
  pass(3600s);
  CAF_CHECK_EQUAL(stats_total().users, 0u);
  CAF_CHECK_EQUAL(stats_total().index_entries, 0u);
}

CAF_TEST(the shards skip canonicalising only keys that are canonical) {
  // The shard and the front trust is_canonical_aor() instead of
  // canonical_aor(); it must accept only fixed points of canonical_aor().
  struct row {
    const char* aor;
    bool fast;
  };
  for (auto r : {row{"sip:alice@example.com", true}, row{"sips:bob@example.com", true},
                 row{"sip:a;b?c@example.com", true}, row{"sip:alice@example.com.", true},
                 row{"sip:user42@192.0.2.10", true}, row{"SIP:alice@example.com", false},
                 row{"sip:Alice@EXAMPLE.com", false}, row{"sip:alice@example.com:5060", false},
                 row{"sip:a%41@example.com", false}, row{"sip:a%2541@example.com", false},
                 row{"sip:alice@example.com;transport=tcp", false},
                 row{" sip:alice@example.com", false}, row{"<sip:alice@example.com>", false},
                 row{"sip:@example.com", false}, row{"sip:alice@", false},
                 row{"sip:alice@-bad.com", false}, row{"sip:alice:pw@example.com", false},
                 row{"sip:alice@[::1]", false}, row{"sip:a@b@example.com", false},
                 row{"tel:+123@example.com", false}, row{"sip:alice", false}}) {
    CAF_MESSAGE(r.aor);
    CAF_CHECK_EQUAL(core::is_canonical_aor(r.aor), r.fast);
    if (core::is_canonical_aor(r.aor)) {
      auto c = core::canonical_aor(r.aor);
      CAF_REQUIRE(c);
      CAF_CHECK_EQUAL(*c, r.aor);
    }
  }
  // Non-canonical forms still reach the one user.
  CAF_REQUIRE(reg("sip:a%41@EXAMPLE.com", "sip:x@192.0.2.70"));
  auto l = call<register_reply>(lookup_request{"sip:aA@example.com"});
  CAF_REQUIRE(l);
  CAF_CHECK_EQUAL(l->aor, "sip:aA@example.com");
  register_batch_request batch;
  batch.requests.push_back(make_reg("SIP:aA@Example.Com", "sip:x@192.0.2.71"));
  auto r = call_at<register_batch_reply>(eng.refs->shard_for("sip:aA@example.com"), batch);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->results[0].reply.aor, "sip:aA@example.com");
  CAF_CHECK_EQUAL(r->results[0].reply.bindings.size(), 2u);
  CAF_CHECK_EQUAL(stats_total().users, 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
