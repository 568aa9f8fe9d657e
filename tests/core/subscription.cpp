// SPDX-License-Identifier: MIT
#define CAF_SUITE core.subscription
#include <caf/test/unit_test.hpp>

#include "core/subscription.hpp"

using namespace regcore::core;

namespace {

time_point at(int s) {
  return time_point{} + std::chrono::seconds{s};
}

subscription make(subscription_state st = subscription_state::pending) {
  subscription s;
  s.id = "s1";
  s.subscriber = "sip:bob@example.com";
  s.target = "sip:alice@example.com";
  s.state = st;
  s.expires = 600;
  s.expires_at = at(600);
  return s;
}

} // namespace

CAF_TEST(pending becomes active and reports its expiry) {
  auto s = make();
  CAF_CHECK_EQUAL(subscription_state_value(s, at(0)), "pending;expires=600");
  CAF_REQUIRE(activate(s));
  CAF_CHECK(s.state == subscription_state::active);
  CAF_CHECK_EQUAL(subscription_state_value(s, at(100)), "active;expires=500");
  CAF_CHECK(activate(s)); // idempotent
}

CAF_TEST(versions increase by one per notify) {
  auto s = make();
  CAF_CHECK_EQUAL(next_version(s), 1u);
  CAF_CHECK_EQUAL(next_version(s), 2u);
  CAF_CHECK_EQUAL(next_version(s), 3u);
  CAF_CHECK_EQUAL(s.version, 3u);
}

CAF_TEST(refresh moves the deadline) {
  auto s = make(subscription_state::active);
  CAF_REQUIRE(refresh(s, at(500), 300));
  CAF_CHECK(s.expires_at == at(800));
  CAF_CHECK_EQUAL(s.expires, 300u);
  CAF_CHECK(!expire(s, at(799)));
  CAF_CHECK(expire(s, at(800)));
  CAF_CHECK(s.state == subscription_state::terminated);
  CAF_CHECK(s.reason == termination_reason::timeout);
  CAF_CHECK_EQUAL(subscription_state_value(s, at(800)), "terminated;reason=timeout");
}

CAF_TEST(terminated is final) {
  auto s = make(subscription_state::active);
  terminate(s, termination_reason::rejected);
  CAF_CHECK_EQUAL(subscription_state_value(s, at(0)), "terminated;reason=rejected");
  terminate(s, termination_reason::timeout); // keeps the first reason
  CAF_CHECK(s.reason == termination_reason::rejected);
  auto r = refresh(s, at(1), 600);
  CAF_REQUIRE(!r);
  CAF_CHECK(r.err() == errc::invalid_state);
  CAF_CHECK(!activate(s));
  CAF_CHECK(!expire(s, at(10000)));
  auto plain = make(subscription_state::active);
  terminate(plain, termination_reason::none);
  CAF_CHECK_EQUAL(subscription_state_value(plain, at(0)), "terminated");
}

CAF_TEST(every reason has its rfc 6665 name) {
  CAF_CHECK_EQUAL(std::string{to_string(termination_reason::deactivated)}, "deactivated");
  CAF_CHECK_EQUAL(std::string{to_string(termination_reason::noresource)}, "noresource");
  CAF_CHECK_EQUAL(std::string{to_string(termination_reason::giveup)}, "giveup");
  CAF_CHECK_EQUAL(std::string{to_string(termination_reason::probation)}, "probation");
  auto s = make();
  CAF_CHECK(!refresh(s, at(0), 0));
}
