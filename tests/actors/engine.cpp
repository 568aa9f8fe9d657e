// SPDX-License-Identifier: MIT
#define CAF_SUITE actors.engine
#include <caf/test/dsl.hpp>

#include <map>

#include "actors/engine.hpp"
#include "core/pidf.hpp"
#include "messages/error.hpp"
#include "messages/types.hpp"
#include "tests/actors/support.hpp"

using namespace regcore;
using namespace std::chrono_literals;

namespace {

// -- a recording event subscriber ---------------------------------------------------

using test_support::recorder;
using test_support::recorder_state;
using config = test_support::registered_types_config;

struct fixture : test_coordinator_fixture<config> {
  actors::engine eng;
  caf::actor rec;

  explicit fixture(actors::engine_config ecfg = make_cfg()) {
    auto& t = sched.clock().current_time;
    t = std::chrono::ceil<std::chrono::seconds>(t.time_since_epoch())
        + core::time_point{};
    eng = actors::spawn_engine(sys, ecfg);
    rec = sys.spawn(recorder);
    sched.run();
    auto rh = self->request(eng.refs->bus, caf::infinite, bus_subscribe{rec, all_events});
    sched.run();
    rh.receive([](caf::ok_atom) {}, [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  }

  ~fixture() {
    eng.shutdown();
    sched.run();
  }

  static actors::engine_config make_cfg() {
    actors::engine_config cfg;
    cfg.shards = 2;
    cfg.registration.max_contacts = 3;
    cfg.limits.max_per_watcher = 2;
    cfg.limits.max_per_target = 3;
    return cfg;
  }

  /// Sends `req` to the service and returns the reply or the error.
  template <class Reply, class Request>
  caf::expected<Reply> call(Request req) {
    caf::expected<Reply> result{caf::sec::request_timeout};
    auto rh = self->request(eng.service, caf::infinite, std::move(req));
    sched.run();
    rh.receive([&](Reply& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  caf::expected<register_reply> reg(std::string aor, std::string uri,
                                    uint32_t expires = 3600,
                                    std::optional<core::qvalue> q = std::nullopt) {
    register_request req;
    req.aor = std::move(aor);
    contact_request c;
    c.uri = std::move(uri);
    c.expires = expires;
    c.q = q;
    req.contacts.push_back(std::move(c));
    return call<register_reply>(std::move(req));
  }

  caf::expected<presence_reply> set_status(std::string aor,
                                           core::extended_status status,
                                           std::string note = {}) {
    presence_update_request req;
    req.aor = std::move(aor);
    req.status = status;
    req.note = std::move(note);
    return call<presence_reply>(std::move(req));
  }

  caf::expected<subscribe_reply> sub(std::string watcher, std::string target,
                                     uint32_t expires = 600) {
    subscribe_request req;
    req.watcher = std::move(watcher);
    req.target = std::move(target);
    req.expires = expires;
    return call<subscribe_reply>(std::move(req));
  }

  std::vector<caf::message>& events() {
    return deref<caf::stateful_actor<recorder_state>>(rec).state.events;
  }

  template <class Event>
  std::vector<Event> events_of() {
    std::vector<Event> xs;
    for (auto& m : events())
      if (m.match_elements<Event>())
        xs.push_back(m.get_as<Event>(0));
    return xs;
  }

  /// Advances simulated time and lets every actor react.
  void pass(caf::timespan d) {
    advance_time(d);
    sched.run();
  }

  shard_stats stats_total() {
    shard_stats total;
    for (auto& s : eng.refs->shards) {
      auto rh = self->request(s, caf::infinite, stats_atom::value);
      sched.run();
      rh.receive(
        [&](shard_stats& x) {
          total.users += x.users;
          total.active += x.active;
          total.registered += x.registered;
          total.index_entries += x.index_entries;
        },
        [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
    }
    return total;
  }

  std::vector<std::string> uris(const register_reply& r) {
    std::vector<std::string> xs;
    for (auto& c : r.bindings)
      xs.push_back(c.uri);
    return xs;
  }
};

bool is(const caf::error& err, core::errc code) {
  return messages::is(err, code);
}

using strs = std::vector<std::string>;

const std::string alice = "sip:alice@example.com";
const std::string bob = "sip:bob@example.com";
const std::string carol = "sip:carol@example.com";

} // namespace

CAF_TEST_FIXTURE_SCOPE(engine_tests, fixture)

CAF_TEST(the path of a register) {
  register_request req;
  req.aor = "SIP:alice@EXAMPLE.com";
  req.contacts.push_back(contact_request{"sip:alice@192.0.2.1", 600, {}, {}, 0});
  self->request(eng.service, caf::infinite, req);
  auto shard = eng.refs->shard_for(alice);
  expect((register_request), from(self).to(eng.service));
  expect((register_request), from(self).to(shard).with(_));
  expect((register_reply), from(shard).to(self));
  // The effects: the event to the bus, the reverse index to its shard.
  sched.run();
  auto evs = events_of<user_registered_event>();
  CAF_REQUIRE_EQUAL(evs.size(), 1u);
  CAF_CHECK_EQUAL(evs[0].user, alice);
  CAF_CHECK_EQUAL(evs[0].contact.uri, "sip:alice@192.0.2.1");
  auto found = call<std::string>(find_user_request{"sip:alice@192.0.2.1"});
  CAF_REQUIRE(found);
  CAF_CHECK_EQUAL(*found, alice);
}

CAF_TEST(multi device registration lists contacts in q order) {
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1", 3600, 500));
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.2", 3600, 900));
  auto r = reg(alice, "sip:alice@192.0.2.3", 3600, 700);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(uris(*r), strs({"sip:alice@192.0.2.2", "sip:alice@192.0.2.3",
                                   "sip:alice@192.0.2.1"}));
  auto l = call<register_reply>(lookup_request{alice});
  CAF_REQUIRE(l);
  CAF_CHECK_EQUAL(uris(*l), uris(*r));
  CAF_CHECK_EQUAL(l->bindings[0].expires, 3600u);
  CAF_CHECK_EQUAL(events_of<user_registered_event>().size(), 3u);
}

CAF_TEST(refreshing one contact leaves the others) {
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1", 100));
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.2", 100));
  pass(50s);
  auto r = reg(alice, "sip:alice@192.0.2.1", 100);
  CAF_REQUIRE(r);
  CAF_REQUIRE_EQUAL(r->bindings.size(), 2u);
  std::map<std::string, uint32_t> left;
  for (auto& c : r->bindings)
    left[c.uri] = c.expires;
  CAF_CHECK_EQUAL(left["sip:alice@192.0.2.1"], 100u);
  CAF_CHECK_EQUAL(left["sip:alice@192.0.2.2"], 50u);
  CAF_CHECK_EQUAL(events_of<contact_refreshed_event>().size(), 1u);
}

CAF_TEST(contacts expire one by one with one registration expired event) {
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1", 60));
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.2", 120));
  pass(59s);
  CAF_CHECK(events_of<contact_removed_event>().empty());
  pass(1s);
  auto removed = events_of<contact_removed_event>();
  CAF_REQUIRE_EQUAL(removed.size(), 1u);
  CAF_CHECK_EQUAL(removed[0].contact.uri, "sip:alice@192.0.2.1");
  CAF_CHECK(removed[0].cause == removal_cause::expired);
  CAF_CHECK(events_of<registration_expired_event>().empty());
  auto l = call<register_reply>(lookup_request{alice});
  CAF_REQUIRE(l);
  CAF_CHECK_EQUAL(uris(*l), strs({"sip:alice@192.0.2.2"}));
  pass(60s);
  CAF_CHECK_EQUAL(events_of<contact_removed_event>().size(), 2u);
  CAF_CHECK_EQUAL(events_of<registration_expired_event>().size(), 1u);
  auto gone = call<register_reply>(lookup_request{alice});
  CAF_REQUIRE(!gone);
  CAF_CHECK(is(gone.error(), core::errc::user_not_found));
  auto list = call<user_list>(list_users_request{});
  CAF_REQUIRE(list);
  CAF_CHECK(list->users.empty());
  // The user and its index entries are gone too.
  auto st = stats_total();
  CAF_CHECK_EQUAL(st.users, 0u);
  CAF_CHECK_EQUAL(st.index_entries, 0u);
  pass(1h);
  CAF_CHECK_EQUAL(events_of<registration_expired_event>().size(), 1u);
}

CAF_TEST(the contact limit rejects without touching existing bindings) {
  for (auto ip : {"1", "2", "3"})
    CAF_REQUIRE(reg(alice, std::string{"sip:alice@192.0.2."} + ip));
  auto r = reg(alice, "sip:alice@192.0.2.4");
  CAF_REQUIRE(!r);
  CAF_CHECK(is(r.error(), core::errc::too_many_contacts));
  CAF_CHECK_EQUAL(messages::from_caf_error(r.error()).value, 3u);
  auto l = call<register_reply>(lookup_request{alice});
  CAF_REQUIRE(l);
  CAF_CHECK_EQUAL(l->bindings.size(), 3u);
  // A refresh of an existing contact is still fine at the limit.
  CAF_CHECK(reg(alice, "sip:alice@192.0.2.2"));
}

CAF_TEST(reverse lookup and list of users) {
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1"));
  CAF_REQUIRE(reg(bob, "sip:bob@192.0.2.9"));
  auto a = call<std::string>(find_user_request{"sip:alice@192.0.2.1"});
  CAF_REQUIRE(a);
  CAF_CHECK_EQUAL(*a, alice);
  auto none = call<std::string>(find_user_request{"sip:nobody@192.0.2.200"});
  CAF_REQUIRE(!none);
  CAF_CHECK(is(none.error(), core::errc::contact_not_found));
  auto list = call<user_list>(list_users_request{});
  CAF_REQUIRE(list);
  CAF_CHECK_EQUAL(list->users, strs({alice, bob}));
  // Unregister: gone from the index and the list.
  register_request un;
  un.aor = alice;
  un.contacts.push_back(contact_request{"sip:alice@192.0.2.1", 0, {}, {}, 0});
  CAF_REQUIRE(call<register_reply>(un));
  CAF_CHECK(!call<std::string>(find_user_request{"sip:alice@192.0.2.1"}));
  list = call<user_list>(list_users_request{});
  CAF_CHECK_EQUAL(list->users, strs({bob}));
  CAF_CHECK_EQUAL(events_of<user_unregistered_event>().size(), 1u);
}

CAF_TEST(presence follows registration until published) {
  auto p = call<presence_reply>(get_presence_request{alice});
  CAF_REQUIRE(!p); // unknown user
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1"));
  p = call<presence_reply>(get_presence_request{alice});
  CAF_REQUIRE(p);
  CAF_CHECK(p->state.basic == core::basic_status::open);
  auto parsed = core::parse_pidf(p->pidf);
  CAF_REQUIRE(parsed);
  CAF_CHECK(parsed->basic == core::basic_status::open);
  CAF_CHECK_EQUAL(parsed->entity, alice);
}

CAF_TEST(extended status maps to basic and notes clear) {
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1"));
  struct row {
    core::extended_status status;
    core::basic_status basic;
  };
  for (auto r : {row{core::extended_status::available, core::basic_status::open},
                 row{core::extended_status::busy, core::basic_status::closed},
                 row{core::extended_status::away, core::basic_status::closed},
                 row{core::extended_status::do_not_disturb, core::basic_status::closed}}) {
    auto p = set_status(alice, r.status, "a note");
    CAF_REQUIRE(p);
    CAF_CHECK(p->state.basic == r.basic);
    CAF_CHECK(p->state.status == r.status);
    auto doc = core::parse_pidf(p->pidf);
    CAF_REQUIRE(doc);
    CAF_CHECK(doc->status == r.status);
    CAF_CHECK_EQUAL(doc->note, "a note");
  }
  auto p = set_status(alice, core::extended_status::available);
  CAF_REQUIRE(p);
  CAF_CHECK_EQUAL(p->state.note, "");
  auto g = call<presence_reply>(get_presence_request{alice});
  CAF_REQUIRE(g);
  CAF_CHECK_EQUAL(g->pidf, p->pidf);
  CAF_CHECK_EQUAL(events_of<presence_updated_event>().size(), 6u); // 1 register + 5 updates
}

CAF_TEST(presence is right when nobody subscribed to events) {
  // Without subscribers the engine builds no events and renders no PIDF
  // until asked; answers must not change.
  self->send(eng.refs->bus, bus_unsubscribe{rec});
  sched.run();
  CAF_CHECK_EQUAL(eng.refs->interest->load(), 0u);
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1"));
  auto p = set_status(alice, core::extended_status::in_meeting, "1:1");
  CAF_REQUIRE(p);
  CAF_CHECK(p->state.status == core::extended_status::in_meeting);
  auto g = call<presence_reply>(get_presence_request{alice});
  CAF_REQUIRE(g);
  auto doc = core::parse_pidf(g->pidf);
  CAF_REQUIRE(doc);
  CAF_CHECK(doc->status == core::extended_status::in_meeting);
  CAF_CHECK_EQUAL(doc->note, "1:1");
  CAF_CHECK(doc->basic == core::basic_status::closed);
  auto b = call<presence_reply>(get_presence_request{bob});
  CAF_CHECK(!b);
  CAF_REQUIRE(reg(bob, "sip:bob@192.0.2.2"));
  b = call<presence_reply>(get_presence_request{bob});
  CAF_REQUIRE(b);
  CAF_CHECK(b->state.basic == core::basic_status::open);
  CAF_CHECK(events().empty());
}

CAF_TEST(get all presence lists every user) {
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1"));
  CAF_REQUIRE(reg(bob, "sip:bob@192.0.2.2"));
  CAF_REQUIRE(set_status(bob, core::extended_status::busy)); // bob is active now
  auto all = call<presence_list>(get_all_presence_request{});
  CAF_REQUIRE(all);
  CAF_REQUIRE_EQUAL(all->items.size(), 2u);
  CAF_CHECK_EQUAL(all->items[0].state.entity, alice);
  CAF_CHECK(all->items[0].state.basic == core::basic_status::open);
  CAF_CHECK_EQUAL(all->items[1].state.entity, bob);
  CAF_CHECK(all->items[1].state.status == core::extended_status::busy);
  auto one = call<presence_list>(get_all_presence_request{1});
  CAF_REQUIRE(one);
  CAF_CHECK_EQUAL(one->items.size(), 1u);
}

CAF_TEST(a user with presence becomes an actor and leaves when empty) {
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1"));
  CAF_CHECK_EQUAL(stats_total().active, 0u);
  CAF_REQUIRE(set_status(alice, core::extended_status::busy));
  CAF_CHECK_EQUAL(stats_total().active, 1u);
  // Still answers through its actor.
  auto l = call<register_reply>(lookup_request{alice});
  CAF_REQUIRE(l);
  CAF_CHECK_EQUAL(l->bindings.size(), 1u);
  CAF_REQUIRE(call<presence_reply>(clear_presence_request{alice}));
  register_request un;
  un.aor = alice;
  un.wildcard = true;
  un.expires = 0;
  CAF_REQUIRE(call<register_reply>(un));
  auto st = stats_total();
  CAF_CHECK_EQUAL(st.users, 0u);
  CAF_CHECK_EQUAL(st.active, 0u);
}

CAF_TEST(the path of a subscribe and versions per update) {
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1"));
  subscribe_request req;
  req.watcher = bob;
  req.target = alice;
  req.expires = 600;
  auto rh = self->request(eng.service, caf::infinite, req);
  auto bob_shard = eng.refs->shard_for(bob);
  auto alice_shard = eng.refs->shard_for(alice);
  expect((subscribe_request), from(self).to(eng.service));
  expect((subscribe_request), from(self).to(eng.subscriptions));
  expect((add_watching_request), from(eng.subscriptions).to(bob_shard));
  expect((caf::ok_atom), from(bob_shard).to(eng.subscriptions));
  expect((add_watcher_request), from(eng.subscriptions).to(alice_shard));
  sched.run();
  subscribe_reply reply;
  rh.receive([&](subscribe_reply& x) { reply = std::move(x); },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK(reply.sub.state == core::subscription_state::active);
  CAF_CHECK_EQUAL(reply.sub.version, 1u);
  CAF_CHECK_EQUAL(reply.sub.subscriber, bob);
  auto initial = core::parse_pidf(reply.initial.pidf);
  CAF_REQUIRE(initial);
  CAF_CHECK(initial->basic == core::basic_status::open);
  CAF_CHECK_EQUAL(events_of<subscription_created_event>().size(), 1u);
  // Each update: one NotifyRequired carrying the next version.
  for (uint32_t v = 2; v <= 4; ++v) {
    CAF_REQUIRE(set_status(alice, core::extended_status::away, "v" + std::to_string(v)));
    auto notes = events_of<notify_required_event>();
    CAF_REQUIRE(!notes.empty());
    auto& last = notes.back();
    CAF_REQUIRE_EQUAL(last.targets.size(), 1u);
    CAF_CHECK_EQUAL(last.targets[0].subscription_id, reply.sub.id);
    CAF_CHECK_EQUAL(last.targets[0].version, v);
    auto body = core::parse_pidf(last.body);
    CAF_REQUIRE(body);
    CAF_CHECK_EQUAL(body->note, "v" + std::to_string(v));
  }
  auto w = call<watcher_list>(get_watchers_request{alice});
  CAF_REQUIRE(w);
  bool found = false;
  for (auto& x : w->watchers)
    found = found || (x.watcher == bob && x.subscription_id == reply.sub.id);
  CAF_CHECK(found);
  auto subs = call<subscription_list>(get_subscriptions_request{bob});
  CAF_REQUIRE(subs);
  CAF_REQUIRE_EQUAL(subs->subscriptions.size(), 1u);
  CAF_CHECK_EQUAL(subs->subscriptions[0].target, alice);
  // Unsubscribe: final NOTIFY terminated, event, both sides cleaned up.
  CAF_REQUIRE(call<caf::ok_atom>(unsubscribe_request{reply.sub.id}));
  CAF_CHECK_EQUAL(events_of<subscription_terminated_event>().size(), 1u);
  subs = call<subscription_list>(get_subscriptions_request{bob});
  CAF_CHECK(subs->subscriptions.empty());
  auto again = call<caf::ok_atom>(unsubscribe_request{reply.sub.id});
  CAF_REQUIRE(!again);
  CAF_CHECK(is(again.error(), core::errc::subscription_not_found));
}

CAF_TEST(subscriptions expire with a timeout event) {
  auto s = sub(bob, alice, 120);
  CAF_REQUIRE(s);
  pass(119s);
  CAF_CHECK(events_of<subscription_terminated_event>().empty());
  pass(1s);
  auto ended = events_of<subscription_terminated_event>();
  CAF_REQUIRE_EQUAL(ended.size(), 1u);
  CAF_CHECK(ended[0].reason == core::termination_reason::timeout);
  auto notes = events_of<notify_required_event>();
  CAF_REQUIRE(!notes.empty());
  CAF_CHECK(notes.back().targets[0].state == core::subscription_state::terminated);
  CAF_CHECK(notes.back().targets[0].reason == core::termination_reason::timeout);
  // Nothing is left of either user.
  CAF_CHECK_EQUAL(stats_total().users, 0u);
}

CAF_TEST(subscription limits per watcher and per target) {
  CAF_REQUIRE(sub(bob, alice));
  CAF_REQUIRE(sub(bob, carol));
  auto third = sub(bob, "sip:dave@example.com");
  CAF_REQUIRE(!third);
  CAF_CHECK(is(third.error(), core::errc::too_many_subscriptions));
  CAF_CHECK_EQUAL(messages::from_caf_error(third.error()).value, 2u);
  CAF_REQUIRE(sub("sip:w1@example.com", alice));
  CAF_REQUIRE(sub("sip:w2@example.com", alice));
  auto over = sub("sip:w3@example.com", alice);
  CAF_REQUIRE(!over);
  CAF_CHECK(is(over.error(), core::errc::too_many_subscriptions));
  // The refused watcher holds nothing.
  auto subs = call<subscription_list>(get_subscriptions_request{"sip:w3@example.com"});
  CAF_REQUIRE(subs);
  CAF_CHECK(subs->subscriptions.empty());
}

CAF_TEST(policy blocks politely blocks and confirms) {
  core::presence_policy pol;
  pol.rules = {{bob, core::policy_action::block},
               {carol, core::policy_action::polite_block},
               {"sip:dave@example.com", core::policy_action::confirm}};
  CAF_REQUIRE(call<caf::ok_atom>(set_policy_request{alice, pol}));
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1"));
  auto b = sub(bob, alice);
  CAF_REQUIRE(!b);
  CAF_CHECK(is(b.error(), core::errc::forbidden));
  auto c = sub(carol, alice);
  CAF_REQUIRE(c);
  CAF_CHECK(c->sub.state == core::subscription_state::active);
  auto neutral = core::parse_pidf(c->initial.pidf);
  CAF_REQUIRE(neutral);
  CAF_CHECK(neutral->basic == core::basic_status::closed);
  auto d = sub("sip:dave@example.com", alice);
  CAF_REQUIRE(d);
  CAF_CHECK(d->sub.state == core::subscription_state::pending);
  // Allowing dave activates the pending subscription.
  pol.rules.pop_back();
  CAF_REQUIRE(call<caf::ok_atom>(set_policy_request{alice, pol}));
  auto w = call<watcher_list>(get_watchers_request{alice});
  CAF_REQUIRE(w);
  for (auto& x : w->watchers)
    if (x.watcher == "sip:dave@example.com" && !x.subscription_id.empty())
      CAF_CHECK(x.state == core::subscription_state::active);
}

CAF_TEST(auto buddy lists with three users) {
  for (auto& u : {alice, bob, carol})
    CAF_REQUIRE(reg(u, "sip:x@192.0.2." + std::to_string(u.size())));
  // Refresh three times: nothing duplicates.
  for (int i = 0; i < 3; ++i)
    for (auto& u : {alice, bob, carol})
      CAF_REQUIRE(reg(u, "sip:x@192.0.2." + std::to_string(u.size())));
  auto ba = call<user_list>(get_buddy_list_request{alice});
  CAF_REQUIRE(ba);
  CAF_CHECK_EQUAL(ba->users, strs({bob, carol}));
  auto bb = call<user_list>(get_buddy_list_request{bob});
  CAF_CHECK_EQUAL(bb->users, strs({alice, carol}));
  auto wc = call<watcher_list>(get_watchers_request{carol});
  CAF_REQUIRE(wc);
  strs ws;
  for (auto& w : wc->watchers)
    ws.push_back(w.watcher);
  std::sort(ws.begin(), ws.end());
  CAF_CHECK_EQUAL(ws, strs({alice, bob}));
  CAF_CHECK_EQUAL(events_of<buddy_list_updated_event>().size(), 3u);
  // Bob unregisters: gone from every list.
  register_request un;
  un.aor = bob;
  un.wildcard = true;
  un.expires = 0;
  CAF_REQUIRE(call<register_reply>(un));
  ba = call<user_list>(get_buddy_list_request{alice});
  CAF_CHECK_EQUAL(ba->users, strs({carol}));
  auto bc = call<user_list>(get_buddy_list_request{carol});
  CAF_CHECK_EQUAL(bc->users, strs({alice}));
  CAF_CHECK_EQUAL(events_of<buddy_list_updated_event>().size(), 4u);
}

CAF_TEST(bad input gets a typed error and changes nothing) {
  auto r = reg("", "sip:a@192.0.2.1");
  CAF_REQUIRE(!r);
  CAF_CHECK(is(r.error(), core::errc::bad_uri) || is(r.error(), core::errc::invalid_input));
  r = reg("alice", "sip:a@192.0.2.1");
  CAF_REQUIRE(!r);
  r = reg("sip:@example.com", "sip:a@192.0.2.1");
  CAF_REQUIRE(!r);
  r = reg(alice, "");
  CAF_REQUIRE(!r);
  r = reg(alice, "sip:alice@192.0.2.1", 5); // below min_expires
  CAF_REQUIRE(!r);
  CAF_CHECK(is(r.error(), core::errc::interval_too_brief));
  CAF_CHECK_EQUAL(messages::from_caf_error(r.error()).value, 60u);
  auto s = sub(bob, "not an aor");
  CAF_REQUIRE(!s);
  s = sub(bob, alice, 5);
  CAF_REQUIRE(!s);
  CAF_CHECK(is(s.error(), core::errc::interval_too_brief));
  subscribe_request bad_accept;
  bad_accept.watcher = bob;
  bad_accept.target = alice;
  bad_accept.accept = {"text/plain"};
  auto na = call<subscribe_reply>(bad_accept);
  CAF_REQUIRE(!na);
  CAF_CHECK(is(na.error(), core::errc::not_acceptable));
  presence_update_request pu;
  pu.aor = alice;
  pu.status = core::extended_status::custom; // custom without text
  CAF_CHECK(!call<presence_reply>(pu));
  CAF_CHECK(!call<std::string>(find_user_request{""}));
  // No state and no event came out of any of it.
  CAF_CHECK_EQUAL(stats_total().users, 0u);
  CAF_CHECK(events().empty());
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

struct p2p_fixture : fixture {
  p2p_fixture() : fixture(p2p_cfg()) {
    // nop
  }
  static actors::engine_config p2p_cfg() {
    auto cfg = make_cfg();
    cfg.auto_buddy = false;
    return cfg;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(p2p_tests, p2p_fixture)

CAF_TEST(p2p mode only counts explicit subscriptions) {
  for (auto& u : {alice, bob, carol})
    CAF_REQUIRE(reg(u, "sip:x@192.0.2." + std::to_string(u.size())));
  auto ba = call<user_list>(get_buddy_list_request{alice});
  CAF_REQUIRE(ba);
  CAF_CHECK(ba->users.empty());
  CAF_REQUIRE(sub(alice, carol));
  ba = call<user_list>(get_buddy_list_request{alice});
  CAF_CHECK_EQUAL(ba->users, strs({carol}));
  auto wc = call<watcher_list>(get_watchers_request{carol});
  CAF_REQUIRE(wc);
  CAF_REQUIRE_EQUAL(wc->watchers.size(), 1u);
  CAF_CHECK_EQUAL(wc->watchers[0].watcher, alice);
  CAF_CHECK(events_of<buddy_list_updated_event>().empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
