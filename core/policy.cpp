// SPDX-License-Identifier: MIT
#include "core/policy.hpp"

#include "core/strings.hpp"

namespace regcore::core {

const char* to_string(policy_action x) noexcept {
  switch (x) {
    case policy_action::allow: return "allow";
    case policy_action::block: return "block";
    case policy_action::polite_block: return "polite-block";
    case policy_action::confirm: return "confirm";
  }
  return "allow";
}

namespace {

/// Domain part of a canonical AOR ("sip:bob@example.com" -> "example.com").
std::string_view domain_of(std::string_view aor) noexcept {
  auto at = aor.rfind('@');
  return at == std::string_view::npos ? std::string_view{} : aor.substr(at + 1);
}

/// 3 = exact AOR, 2 = domain, 1 = "*", 0 = no match.
int specificity(std::string_view pattern, std::string_view watcher) noexcept {
  if (pattern == "*")
    return 1;
  if (pattern.size() > 2 && pattern.substr(0, 2) == "*@")
    pattern.remove_prefix(2);
  if (pattern.find(':') != std::string_view::npos) // an AOR, with scheme
    return pattern == watcher ? 3 : 0;
  return iequals(pattern, domain_of(watcher)) ? 2 : 0;
}

} // namespace

policy_action decide(const presence_policy& policy, std::string_view watcher,
                     std::string_view target) noexcept {
  if (watcher == target)
    return policy_action::allow;
  int best = 0;
  auto action = policy.default_action;
  for (auto& rule : policy.rules) {
    auto s = specificity(rule.pattern, watcher);
    if (s > best) {
      best = s;
      action = rule.action;
    }
  }
  return action;
}

} // namespace regcore::core
