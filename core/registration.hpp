// SPDX-License-Identifier: MIT
#pragma once

// The registrar's rules (RFC 3261 §10.3, with RFC 5626 instance/reg-id
// bindings and RFC 3327 Path) as pure functions of (current bindings,
// request, policy, now). No I/O, no clock: the caller passes `now`.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"
#include "core/time.hpp"

namespace regcore::core {

/// Registrar settings.
struct registration_policy {
  /// Shortest accepted non-zero expiry; shorter -> 423 with Min-Expires.
  uint32_t min_expires = 60;
  /// Longest granted expiry; longer requests are clamped to it.
  uint32_t max_expires = 7200;
  /// Expiry when neither the Contact nor the request gives one.
  uint32_t default_expires = 3600;
  /// Bindings per AOR; a request that would exceed it fails (403).
  uint32_t max_contacts = 10;
};

/// One Contact of a REGISTER.
struct register_contact {
  std::string uri;
  std::optional<uint32_t> expires;
  std::optional<qvalue> q;
  std::string instance_id;
  uint32_t reg_id = 0;
};

/// A REGISTER, reduced to what the rules need.
struct register_request {
  /// Canonical AOR.
  std::string aor;
  std::vector<register_contact> contacts;
  /// Contact: * (only with Expires: 0, alone).
  bool wildcard = false;
  /// Expires header.
  std::optional<uint32_t> expires;
  std::string call_id;
  uint32_t cseq = 0;
  std::vector<std::string> path;
  std::string received;
  transport transport_type = transport::udp;
  std::string user_agent;
};

/// What a REGISTER did, in reSIProcate's words.
enum class register_kind : uint8_t { added, refreshed, removed, removed_all, queried, mixed };

const char* to_string(register_kind x) noexcept;

/// How much of a register_outcome apply_register fills in.
enum class outcome_detail : uint8_t {
  /// Everything.
  full,
  /// Everything except copies of the added and refreshed bindings (`added`
  /// and `refreshed` stay empty; `added_keys` is filled as always): for
  /// callers that need only the keys, e.g. when nobody wants the events.
  keys_only,
};

/// The result of apply_register.
struct register_outcome {
  register_kind kind = register_kind::queried;
  /// New bindings.
  std::vector<contact_info> added;
  /// Existing bindings with a new expiry (values after the update).
  std::vector<contact_info> refreshed;
  /// Bindings removed by Expires 0 or `*` (values before removal).
  std::vector<contact_info> removed;
  /// Bindings replaced by a new one with the same +sip.instance / reg-id
  /// but another URI (RFC 5626 §6); the new one is in `added`.
  std::vector<contact_info> replaced;
  /// binding_key() of each entry of added, removed and replaced, same
  /// order (the reverse index needs them; computed once here).
  std::vector<std::string> added_keys;
  std::vector<std::string> removed_keys;
  std::vector<std::string> replaced_keys;
  /// The complete binding set after the request.
  std::vector<contact_info> bindings;
};

/// Applies a REGISTER to `current` (RFC 3261 §10.3 steps 6-8). Either every
/// change applies or none (errors leave the bindings as they were):
/// - expires: the Contact's parameter, else the Expires header, else the
///   default; 0 removes; below min_expires -> interval_too_brief (value =
///   min_expires); above max_expires -> clamped.
/// - a binding is the same when its +sip.instance (and reg-id, when given)
///   match, or else when its URI is equal (binding_key); an instance match
///   with another URI replaces the old binding.
/// - Call-ID/CSeq (step 7): same Call-ID and a CSeq not higher than the
///   binding's -> out_of_order; another Call-ID updates.
/// - `*` only alone and with Expires: 0 (else bad_request); removes all.
/// - more than max_contacts bindings afterwards (and more than before) ->
///   too_many_contacts (value = max_contacts).
/// - Expires 0 for an unknown contact is harmless; a contact listed twice in
///   one request: the last entry wins.
/// - no Contact: a query; nothing changes.
/// `detail` selects what the outcome carries (outcome_detail).
result<register_outcome> apply_register(const std::vector<contact_info>& current,
                                        const register_request& req,
                                        const registration_policy& policy,
                                        time_point now,
                                        outcome_detail detail = outcome_detail::full);

/// Removes and returns the bindings whose expiry is at or before `now`.
std::vector<contact_info> expire_bindings(std::vector<contact_info>& bindings,
                                          time_point now);

/// The earliest expiry of `bindings`, if any.
std::optional<time_point> next_deadline(const std::vector<contact_info>& bindings);

/// Lookup order: q descending, then the most recently updated first.
std::vector<contact_info> lookup_order(std::vector<contact_info> bindings);

} // namespace regcore::core
