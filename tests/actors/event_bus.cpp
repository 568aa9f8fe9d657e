// SPDX-License-Identifier: MIT
#define CAF_SUITE actors.event_bus
#include <caf/test/dsl.hpp>

#include "actors/event_bus.hpp"
#include "messages/types.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

using namespace regcore;

namespace {

/// Records every batch; acknowledges only when `auto_ack` is set.
struct sub_state {
  std::vector<event_batch> got;
  bool auto_ack = true;
};

caf::behavior recording_subscriber(caf::stateful_actor<sub_state>* self) {
  return {
    [=](event_batch& x) {
      self->state.got.push_back(std::move(x));
      if (self->state.auto_ack)
        self->send(caf::actor_cast<caf::actor>(self->current_sender()),
                   event_ack{});
    },
  };
}

struct config : caf::actor_system_config {
  config() { messages::register_types(*this); }
};

struct fixture : test_coordinator_fixture<config> {
  event_bus_actor bus;
  caf::actor sub = sys.spawn(recording_subscriber);

  fixture() {
    actors::event_bus_config bcfg;
    bcfg.max_batch = 3;
    bcfg.max_in_flight = 2;
    bcfg.max_queue = 4;
    bus = actors::spawn_event_bus(sys, bcfg);
    sched.run();
  }

  sub_state& st() { return deref<caf::stateful_actor<sub_state>>(sub).state; }

  void subscribe(uint32_t mask = all_events) {
    self->send(bus, bus_subscribe{sub, mask});
    sched.run();
  }

  void publish_registered(std::string user) {
    user_registered_event ev;
    ev.user = std::move(user);
    ev.contact.uri = "sip:" + ev.user + "@192.0.2.1";
    self->send(bus, make_event(std::move(ev)));
  }

  std::vector<std::string> users_in(const event_batch& b) {
    std::vector<std::string> xs;
    for (auto& m : b.events)
      if (m.match_elements<user_registered_event>())
        xs.push_back(m.get_as<user_registered_event>(0).user);
    return xs;
  }

  bus_stats stats() {
    bus_stats result;
    auto rh = self->request(bus, caf::infinite, stats_atom::value);
    sched.run();
    rh.receive([&](bus_stats& x) { result = x; },
               [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
    return result;
  }
};

using strs = std::vector<std::string>;

} // namespace

CAF_TEST_FIXTURE_SCOPE(event_bus_tests, fixture)

CAF_TEST(a subscriber receives each event once in order) {
  subscribe();
  publish_registered("alice");
  expect((publish_event), from(self).to(bus));
  expect((event_batch), from(bus).to(sub));
  expect((event_ack), from(sub).to(bus));
  publish_registered("bob");
  publish_registered("carol");
  sched.run();
  strs all;
  for (auto& b : st().got)
    for (auto& u : users_in(b))
      all.push_back(u);
  CAF_CHECK_EQUAL(all, strs({"alice", "bob", "carol"}));
  auto s = stats();
  CAF_CHECK_EQUAL(s.published, 3u);
  CAF_CHECK_EQUAL(s.delivered, 3u);
  CAF_CHECK_EQUAL(s.dropped, 0u);
  CAF_CHECK_EQUAL(s.subscribers, 1u);
}

CAF_TEST(the mask selects kinds) {
  subscribe(event_bit(event_kind::presence_updated));
  publish_registered("alice");
  presence_updated_event p;
  p.user = "sip:alice@example.com";
  p.pidf = "<presence/>";
  self->send(bus, make_event(p));
  sched.run();
  CAF_REQUIRE_EQUAL(st().got.size(), 1u);
  CAF_REQUIRE_EQUAL(st().got[0].events.size(), 1u);
  auto& m = st().got[0].events[0];
  CAF_REQUIRE(m.match_elements<presence_updated_event>());
  CAF_CHECK_EQUAL(m.get_as<presence_updated_event>(0).pidf, "<presence/>");
}

CAF_TEST(a slow subscriber gets batches and loses only its oldest events) {
  st().auto_ack = false;
  subscribe();
  // Two batches go out (max_in_flight = 2), then events queue up to 4.
  for (auto u : {"u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"})
    publish_registered(u);
  sched.run();
  CAF_REQUIRE_EQUAL(st().got.size(), 2u);
  CAF_CHECK_EQUAL(users_in(st().got[0]), strs({"u1"}));
  CAF_CHECK_EQUAL(users_in(st().got[1]), strs({"u2"}));
  // Queue holds u3..u6; u7, u8 push out u3, u4.
  auto s = stats();
  CAF_CHECK_EQUAL(s.dropped, 2u);
  // One ack: one more batch of up to max_batch = 3, reporting the drops.
  self->send(bus, event_ack{}); // from the test actor: not a subscriber, ignored
  sched.run();
  CAF_CHECK_EQUAL(st().got.size(), 2u);
  caf::send_as(sub, bus, event_ack{});
  sched.run();
  CAF_REQUIRE_EQUAL(st().got.size(), 3u);
  CAF_CHECK_EQUAL(users_in(st().got[2]), strs({"u5", "u6", "u7"}));
  CAF_CHECK_EQUAL(st().got[2].dropped, 2u);
  caf::send_as(sub, bus, event_ack{});
  sched.run();
  CAF_REQUIRE_EQUAL(st().got.size(), 4u);
  CAF_CHECK_EQUAL(users_in(st().got[3]), strs({"u8"}));
  CAF_CHECK_EQUAL(st().got[3].dropped, 0u);
}

CAF_TEST(dead and unsubscribed subscribers are dropped) {
  subscribe();
  CAF_CHECK_EQUAL(stats().subscribers, 1u);
  self->send(bus, bus_unsubscribe{sub});
  sched.run();
  CAF_CHECK_EQUAL(stats().subscribers, 0u);
  publish_registered("nobody-listens");
  sched.run();
  CAF_CHECK(st().got.empty());
  subscribe();
  self->send_exit(sub, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK_EQUAL(stats().subscribers, 0u);
}

CAF_TEST(an event batch crosses the binary serializer) {
  event_batch b;
  contact_removed_event ev;
  ev.user = "sip:alice@example.com";
  ev.contact.uri = "sip:alice@192.0.2.1";
  ev.cause = removal_cause::expired;
  b.events.push_back(caf::make_message(ev));
  b.events.push_back(caf::make_message(registration_expired_event{"sip:alice@example.com"}));
  b.dropped = 5;
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  CAF_REQUIRE(!sink(b));
  event_batch out;
  caf::binary_deserializer source{sys, buf};
  CAF_REQUIRE(!source(out));
  CAF_REQUIRE_EQUAL(out.events.size(), 2u);
  CAF_CHECK_EQUAL(out.dropped, 5u);
  CAF_REQUIRE(out.events[0].match_elements<contact_removed_event>());
  auto& e0 = out.events[0].get_as<contact_removed_event>(0);
  CAF_CHECK_EQUAL(e0.contact.uri, "sip:alice@192.0.2.1");
  CAF_CHECK(e0.cause == removal_cause::expired);
  CAF_CHECK(out.events[1].match_elements<registration_expired_event>());
}

CAF_TEST_FIXTURE_SCOPE_END()
