// SPDX-License-Identifier: MIT
#define CAF_SUITE core.policy
#include <caf/test/unit_test.hpp>

#include "core/policy.hpp"

using namespace regcore::core;

namespace {

const char* alice = "sip:alice@example.com";
const char* bob = "sip:bob@example.com";
const char* eve = "sip:eve@evil.example";

std::string act(const presence_policy& p, const char* watcher,
                const char* target = alice) {
  return to_string(decide(p, watcher, target));
}

} // namespace

CAF_TEST(default policy allows everybody) {
  presence_policy p;
  CAF_CHECK_EQUAL(act(p, bob), "allow");
  CAF_CHECK_EQUAL(act(p, eve), "allow");
}

CAF_TEST(a default of block still lets a user watch itself) {
  presence_policy p;
  p.default_action = policy_action::block;
  CAF_CHECK_EQUAL(act(p, bob), "block");
  CAF_CHECK_EQUAL(act(p, alice, alice), "allow");
}

CAF_TEST(the most specific rule wins) {
  presence_policy p;
  p.rules = {{"*", policy_action::confirm},
             {"evil.example", policy_action::block},
             {"sip:eve@evil.example", policy_action::polite_block},
             {"*@example.com", policy_action::allow}};
  CAF_CHECK_EQUAL(act(p, eve), "polite-block");                 // exact AOR
  CAF_CHECK_EQUAL(act(p, "sip:mallory@evil.example"), "block"); // domain
  CAF_CHECK_EQUAL(act(p, "sip:mallory@EVIL.example"), "block"); // case-insensitive domain
  CAF_CHECK_EQUAL(act(p, bob), "allow");                        // *@domain
  CAF_CHECK_EQUAL(act(p, "sip:carol@other.org"), "confirm");    // *
}

CAF_TEST(among equal rules the first wins and order does not matter otherwise) {
  presence_policy p;
  p.rules = {{"sip:bob@example.com", policy_action::block},
             {"sip:bob@example.com", policy_action::allow},
             {"example.com", policy_action::confirm}};
  CAF_CHECK_EQUAL(act(p, bob), "block");
  std::swap(p.rules[0], p.rules[2]);
  CAF_CHECK_EQUAL(act(p, bob), "allow"); // now the allow rule comes first
}

CAF_TEST(an aor rule does not match a prefix or another user) {
  presence_policy p;
  p.rules = {{"sip:bob@example.com", policy_action::block}};
  CAF_CHECK_EQUAL(act(p, "sip:bob@example.com.evil"), "allow");
  CAF_CHECK_EQUAL(act(p, "sip:bobby@example.com"), "allow");
  CAF_CHECK_EQUAL(act(p, "sip:Bob@example.com"), "allow"); // user part is case-sensitive
}
