// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace regcore::core {

/// Every failure core/ can report. Each value maps to one SIP status (in its
/// comment) so the SIP edge answers without further logic, and to a typed
/// API error on the actor side (messages/ maps errc -> caf::error).
enum class errc : uint8_t {
  none = 0,                   ///< 200: no error.
  bad_request,                ///< 400: malformed SIP message or header.
  bad_uri,                    ///< 400: malformed or unusable URI / AOR.
  invalid_input,              ///< 400: empty user or contact, bad argument.
  bad_pidf,                   ///< 400: malformed or invalid PIDF document.
  unsupported_uri_scheme,     ///< 416: not sip: / sips:.
  message_too_large,          ///< 513: over the message/header/line limits.
  interval_too_brief,         ///< 423: expires below the minimum.
  too_many_contacts,          ///< 403: contact limit per AOR reached.
  too_many_subscriptions,     ///< 403: subscription limit per user reached.
  forbidden,                  ///< 403: policy forbids the request.
  out_of_order,               ///< 500: CSeq not higher than the stored one.
  user_not_found,             ///< 404: no such user.
  contact_not_found,          ///< 404: no such contact binding.
  subscription_not_found,     ///< 481: no such subscription (dialog).
  unsupported_media_type,     ///< 415: body type we do not handle.
  not_acceptable,             ///< 406: Accept excludes what we can send.
  bad_event,                  ///< 489: Event package not supported.
  conditional_request_failed, ///< 412: unknown SIP-If-Match entity tag.
  version_not_supported,      ///< 505: a SIP version other than SIP/2.0.
  invalid_state,              ///< 500: operation not allowed in this state.
  storage_failed,             ///< 500: the change could not be made durable.
};

/// Number of errc values (for exhaustive tests).
inline constexpr uint8_t errc_count = static_cast<uint8_t>(errc::storage_failed) + 1;

/// The enumerator's name, e.g. "interval_too_brief".
const char* to_string(errc x) noexcept;

/// The SIP status code that answers this error, e.g. 423.
int sip_status(errc x) noexcept;

/// The standard reason phrase of sip_status(x), e.g. "Interval Too Brief".
const char* default_reason(errc x) noexcept;

/// An error value: code, a human readable reason (becomes the SIP reason
/// phrase or the API error's context) and an optional number that some
/// errors carry (the minimum expires for interval_too_brief, the limit for
/// too_many_*).
struct error {
  errc code = errc::none;
  std::string reason;
  uint32_t value = 0;

  /// Reason for the wire: `reason`, or the default phrase when empty.
  std::string_view phrase() const noexcept {
    return reason.empty() ? std::string_view{default_reason(code)}
                          : std::string_view{reason};
  }
};

inline error make_error(errc code, std::string reason = {}, uint32_t value = 0) {
  return error{code, std::move(reason), value};
}

inline bool operator==(const error& x, errc y) noexcept { return x.code == y; }
inline bool operator!=(const error& x, errc y) noexcept { return x.code != y; }

} // namespace regcore::core
