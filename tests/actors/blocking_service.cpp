// SPDX-License-Identifier: MIT
// The plain-code API on a real, multi-threaded actor system: each call
// blocks until the engine answers (no sleeps; a watchdog bounds the run).
#define CAF_SUITE actors.blocking_service
#include <caf/test/unit_test.hpp>

#include <future>
#include <mutex>

#include "actors/engine.hpp"
#include "messages/error.hpp"
#include "messages/types.hpp"

#include <caf/all.hpp>

using namespace regcore;

namespace {

struct config : caf::actor_system_config {
  config() {
    messages::register_types(*this);
    set("scheduler.max-threads", 2);
  }
};

struct fixture {
  config cfg;
  caf::actor_system sys{cfg};
  actors::engine eng = actors::spawn_engine(sys);

  ~fixture() { eng.shutdown(); }
};

const std::string alice = "sip:alice@example.com";
const std::string bob = "sip:bob@example.com";

} // namespace

CAF_TEST_FIXTURE_SCOPE(blocking_service_tests, fixture)

CAF_TEST(register refresh lookup find unregister) {
  actors::blocking_service api{sys, eng.service};
  auto r = api.register_user(alice, "sip:alice@192.0.2.1", 600);
  CAF_REQUIRE(r);
  CAF_CHECK(r->outcome == register_outcome::added);
  CAF_REQUIRE(api.register_user(alice, "sip:alice@192.0.2.2", 1200));
  auto refreshed = api.refresh_registration(alice, "sip:alice@192.0.2.1", 900);
  CAF_REQUIRE(refreshed);
  CAF_CHECK(refreshed->outcome == register_outcome::refreshed);
  auto l = api.lookup_user("SIP:alice@EXAMPLE.COM");
  CAF_REQUIRE(l);
  CAF_CHECK_EQUAL(l->aor, alice);
  CAF_CHECK_EQUAL(l->bindings.size(), 2u);
  auto who = api.find_user("sip:alice@192.0.2.2");
  CAF_REQUIRE(who);
  CAF_CHECK_EQUAL(*who, alice);
  auto users = api.list_registered_users();
  CAF_REQUIRE(users);
  CAF_CHECK_EQUAL(users->users, std::vector<std::string>{alice});
  CAF_REQUIRE(api.unregister_user(alice, "sip:alice@192.0.2.1"));
  l = api.lookup_user(alice);
  CAF_REQUIRE(l);
  CAF_CHECK_EQUAL(l->bindings.size(), 1u);
  CAF_REQUIRE(api.unregister_user(alice)); // all
  l = api.lookup_user(alice);
  CAF_REQUIRE(!l);
  CAF_CHECK(messages::is(l.error(), core::errc::user_not_found));
}

CAF_TEST(typed errors come back to plain code) {
  actors::blocking_service api{sys, eng.service};
  auto bad = api.register_user("alice", "sip:a@192.0.2.1");
  CAF_REQUIRE(!bad);
  CAF_CHECK(messages::is(bad.error(), core::errc::bad_uri));
  auto brief = api.register_user(alice, "sip:a@192.0.2.1", 10);
  CAF_REQUIRE(!brief);
  CAF_CHECK(messages::is(brief.error(), core::errc::interval_too_brief));
  CAF_CHECK_EQUAL(messages::from_caf_error(brief.error()).value, 60u);
  CAF_CHECK_EQUAL(sys.render(brief.error()), "interval_too_brief (Interval Too Brief, 60)");
  auto none = api.unsubscribe("sip:alice@example.com;sub=999");
  CAF_REQUIRE(!none);
  CAF_CHECK(messages::is(none.error(), core::errc::subscription_not_found));
}

CAF_TEST(presence subscriptions and events through the blocking api) {
  actors::blocking_service api{sys, eng.service};
  std::promise<std::string> first_note;
  std::once_flag once;
  api.on_event(event_bit(event_kind::presence_updated), [&](const caf::message& m) {
    auto& ev = m.get_as<presence_updated_event>(0);
    if (!ev.state.note.empty())
      std::call_once(once, [&] { first_note.set_value(ev.state.note); });
  });
  CAF_REQUIRE(api.register_user(alice, "sip:alice@192.0.2.1"));
  CAF_REQUIRE(api.register_user(bob, "sip:bob@192.0.2.2"));
  auto s = api.subscribe(bob, alice, 600);
  CAF_REQUIRE(s);
  CAF_CHECK(s->sub.state == core::subscription_state::active);
  auto p = api.update_presence(alice, core::extended_status::on_the_phone, "call me later");
  CAF_REQUIRE(p);
  CAF_CHECK(p->state.basic == core::basic_status::closed);
  auto note = first_note.get_future();
  CAF_REQUIRE(note.wait_for(std::chrono::seconds{30}) == std::future_status::ready);
  CAF_CHECK_EQUAL(note.get(), "call me later");
  auto g = api.get_presence(alice);
  CAF_REQUIRE(g);
  CAF_CHECK(g->state.status == core::extended_status::on_the_phone);
  auto w = api.get_watchers(alice);
  CAF_REQUIRE(w);
  bool explicit_bob = false;
  for (auto& x : w->watchers)
    explicit_bob = explicit_bob || (x.watcher == bob && x.subscription_id == s->sub.id);
  CAF_CHECK(explicit_bob);
  auto subs = api.get_subscriptions(bob);
  CAF_REQUIRE(subs);
  CAF_CHECK_EQUAL(subs->subscriptions.size(), 1u);
  auto buddies = api.get_buddy_list(bob);
  CAF_REQUIRE(buddies);
  CAF_CHECK_EQUAL(buddies->users, std::vector<std::string>{alice});
  auto all = api.get_all_presence();
  CAF_REQUIRE(all);
  CAF_CHECK_EQUAL(all->items.size(), 2u);
  core::presence_policy pol;
  pol.rules = {{bob, core::policy_action::block}};
  CAF_REQUIRE(api.set_policy(alice, pol));
  auto again = api.subscribe(bob, alice, 600);
  CAF_REQUIRE(!again);
  CAF_CHECK(messages::is(again.error(), core::errc::forbidden));
  auto cleared = api.clear_presence(alice);
  CAF_REQUIRE(cleared);
  CAF_CHECK(cleared->state.basic == core::basic_status::open); // back to registration
  CAF_CHECK(cleared->state.status == core::extended_status::none);
}

CAF_TEST_FIXTURE_SCOPE_END()
