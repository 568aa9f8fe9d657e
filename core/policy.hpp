// SPDX-License-Identifier: MIT
#pragma once

// Presence authorization (RFC 3856 §5.1): who may watch whom. A target user
// owns a policy; the subscription supervisor asks decide() for each new
// subscription. Pure data + one function; no I/O.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace regcore::core {

/// What happens to a subscription request.
enum class policy_action : uint8_t {
  /// Accept: active subscription, real presence.
  allow,
  /// Reject: 403, no subscription.
  block,
  /// RFC 3856 §5.1 polite blocking: the watcher sees an active subscription
  /// but only neutral (closed, no details) presence, and cannot tell it from
  /// an offline user.
  polite_block,
  /// Needs the target's consent: subscription stays pending (202) until the
  /// policy changes to allow.
  confirm,
};

const char* to_string(policy_action x) noexcept;

/// One rule: a pattern and the action it selects. A pattern is a canonical
/// AOR ("sip:bob@example.com"), a domain ("example.com", also written
/// "*@example.com"), or "*" for everybody.
struct policy_rule {
  std::string pattern;
  policy_action action = policy_action::allow;
};

/// The presence policy of one user (the presentity).
struct presence_policy {
  /// Action when no rule matches.
  policy_action default_action = policy_action::allow;
  /// Rules in any order; the most specific match wins: an exact AOR beats a
  /// domain, a domain beats "*". Among equally specific rules the first wins.
  std::vector<policy_rule> rules;
};

/// Decides what to do with a subscription of `watcher` (canonical AOR) to
/// the owner of `policy`. A user may always watch itself.
policy_action decide(const presence_policy& policy, std::string_view watcher,
                     std::string_view target) noexcept;

/// Limits on subscriptions (checked by the subscription supervisor).
struct subscription_limits {
  /// Subscriptions one watcher may hold.
  uint32_t max_per_watcher = 1000;
  /// Watchers one presentity may have (explicit subscriptions; the
  /// automatic domain roster is not counted).
  uint32_t max_per_target = 10000;
};

} // namespace regcore::core
