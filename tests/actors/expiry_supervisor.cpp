// SPDX-License-Identifier: MIT
#define CAF_SUITE actors.expiry_supervisor
#include <caf/test/dsl.hpp>

#include "actors/expiry_supervisor.hpp"
#include "messages/types.hpp"

using namespace regcore;
using namespace std::chrono_literals;

namespace {

struct owner_state {
  std::vector<expiry_due> got;
};

expiry_owner_actor::behavior_type
recording_owner(expiry_owner_actor::stateful_pointer<owner_state> self) {
  return {
    [=](expiry_due& x) { self->state.got.push_back(std::move(x)); },
  };
}

struct config : caf::actor_system_config {
  config() { messages::register_types(*this); }
};

struct fixture : test_coordinator_fixture<config> {
  expiry_supervisor_actor sup = actors::spawn_expiry_supervisor(sys);
  expiry_owner_actor a = sys.spawn(recording_owner);
  expiry_owner_actor b = sys.spawn(recording_owner);

  fixture() {
    // Deadlines round up to whole-second slots; start on a slot boundary so
    // "10 s from now" fires after exactly 10 s of simulated time.
    auto& t = sched.clock().current_time;
    t = std::chrono::ceil<std::chrono::seconds>(t.time_since_epoch())
        + core::time_point{};
    sched.run();
  }

  core::time_point now() { return sched.clock().now(); }

  void schedule(const expiry_owner_actor& owner, std::string key,
                core::duration in) {
    self->send(sup, expiry_schedule{owner, std::move(key), now() + in});
    sched.run();
  }

  std::vector<expiry_due>& got(const expiry_owner_actor& owner) {
    return deref<expiry_owner_actor::stateful_base<owner_state>>(owner).state.got;
  }

  expiry_stats stats() {
    expiry_stats result;
    auto rh = self->request(sup, caf::infinite, stats_atom::value);
    sched.run();
    rh.receive([&](expiry_stats& x) { result = x; },
               [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
    return result;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(expiry_supervisor_tests, fixture)

CAF_TEST(a deadline fires once at its time and not before) {
  schedule(a, "sip:alice@example.com", 10s);
  CAF_CHECK_EQUAL(advance_time(9s), 0u);
  sched.run();
  CAF_CHECK(got(a).empty());
  CAF_CHECK_EQUAL(advance_time(1s), 1u); // the armed tick
  expect((tick_atom, core::time_point), from(sup).to(sup));
  expect((expiry_due), from(sup).to(a));
  CAF_REQUIRE_EQUAL(got(a).size(), 1u);
  CAF_REQUIRE_EQUAL(got(a)[0].entries.size(), 1u);
  CAF_CHECK_EQUAL(got(a)[0].entries[0].key, "sip:alice@example.com");
  // Nothing left: no further tick is armed.
  CAF_CHECK_EQUAL(advance_time(1h), 0u);
  auto s = stats();
  CAF_CHECK_EQUAL(s.pending, 0u);
  CAF_CHECK_EQUAL(s.fired, 1u);
}

CAF_TEST(entries of one owner in one slot arrive as one batch) {
  schedule(a, "k1", 5s);
  schedule(a, "k2", 5s);
  schedule(b, "k3", 5s);
  schedule(a, "k4", 7s);
  advance_time(5s);
  sched.run();
  CAF_REQUIRE_EQUAL(got(a).size(), 1u);
  CAF_CHECK_EQUAL(got(a)[0].entries.size(), 2u);
  CAF_REQUIRE_EQUAL(got(b).size(), 1u);
  CAF_CHECK_EQUAL(got(b)[0].entries[0].key, "k3");
  advance_time(2s);
  sched.run();
  CAF_REQUIRE_EQUAL(got(a).size(), 2u);
  CAF_CHECK_EQUAL(got(a)[1].entries[0].key, "k4");
  auto s = stats();
  CAF_CHECK_EQUAL(s.fired, 4u);
  CAF_CHECK_EQUAL(s.batches, 3u);
}

CAF_TEST(an earlier deadline arms an earlier tick) {
  schedule(a, "late", 60s);
  schedule(a, "early", 3s);
  advance_time(3s);
  sched.run();
  CAF_REQUIRE_EQUAL(got(a).size(), 1u);
  CAF_CHECK_EQUAL(got(a)[0].entries[0].key, "early");
  advance_time(56s);
  sched.run();
  CAF_CHECK_EQUAL(got(a).size(), 1u);
  advance_time(1s);
  sched.run();
  CAF_REQUIRE_EQUAL(got(a).size(), 2u);
  CAF_CHECK_EQUAL(got(a)[1].entries[0].key, "late");
}

CAF_TEST(deadlines round up to the granularity slot) {
  // 2.3 s and 2.9 s share the 3 s slot: one tick, one batch.
  schedule(a, "x", 2300ms);
  schedule(a, "y", 2900ms);
  advance_time(2900ms);
  sched.run();
  CAF_CHECK(got(a).empty());
  advance_time(100ms);
  sched.run();
  CAF_REQUIRE_EQUAL(got(a).size(), 1u);
  CAF_CHECK_EQUAL(got(a)[0].entries.size(), 2u);
  CAF_CHECK_EQUAL(stats().ticks, 1u);
}

CAF_TEST(a past deadline fires on the next tick) {
  self->send(sup, expiry_schedule{a, "past", now() - 5s});
  sched.run();
  advance_time(0s);
  trigger_timeouts();
  sched.run();
  CAF_REQUIRE_EQUAL(got(a).size(), 1u);
  CAF_CHECK_EQUAL(got(a)[0].entries[0].key, "past");
}

CAF_TEST(a held supervisor keeps its deadlines until it is resumed) {
  // As spawn_engine spawns it for a restart: nothing fires while the
  // journal is still being read, then what is past due fires at once.
  actors::expiry_config held_cfg;
  held_cfg.held = true;
  auto held = actors::spawn_expiry_supervisor(sys, held_cfg);
  self->send(held, expiry_schedule{a, "past", now() - 5s});
  self->send(held, expiry_schedule{a, "soon", now() + 2s});
  sched.run();
  CAF_CHECK_EQUAL(sched.clock().schedule().size(), 0u); // no tick armed
  CAF_CHECK_EQUAL(advance_time(10s), 0u);
  sched.run();
  CAF_CHECK(got(a).empty());
  self->send(held, resume_atom::value);
  sched.run();
  CAF_CHECK_EQUAL(advance_time(0s), 1u); // the tick armed at resume, due now
  sched.run();
  CAF_REQUIRE_EQUAL(got(a).size(), 1u);
  CAF_CHECK_EQUAL(got(a)[0].entries.size(), 2u);
  // A second resume changes nothing; new deadlines arm ticks as usual.
  self->send(held, resume_atom::value);
  self->send(held, expiry_schedule{b, "later", now() + 3s});
  sched.run();
  CAF_CHECK_EQUAL(advance_time(3s), 1u);
  sched.run();
  CAF_REQUIRE_EQUAL(got(b).size(), 1u);
  CAF_CHECK_EQUAL(got(b)[0].entries[0].key, "later");
  anon_send_exit(held, caf::exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST_FIXTURE_SCOPE_END()
