// SPDX-License-Identifier: MIT
#pragma once

// The data model shared by every layer: contacts (bindings), registrations,
// presence and subscriptions. Plain value types with public fields so that
// messages/ can give them inspect() overloads without touching core/.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"

namespace regcore::core {

// -- transport ---------------------------------------------------------------

/// SIP transport of a contact or a request.
enum class transport : uint8_t { udp, tcp, tls, ws, wss };

/// "UDP", "TCP", "TLS", "WS", "WSS".
const char* to_string(transport x) noexcept;

/// Parses a transport token case-insensitively ("udp", "TCP", ...).
std::optional<transport> parse_transport(std::string_view x) noexcept;

// -- contacts ----------------------------------------------------------------

/// q-values are kept as integers in thousandths (RFC 3261 §20.10: q = 0.000
/// .. 1.000, at most three decimals) so comparisons are exact.
using qvalue = uint16_t;
inline constexpr qvalue q_max = 1000;

/// One binding of an AOR: a device where the user can be reached.
struct contact_info {
  /// Contact URI as sent, without the header parameters (e.g.
  /// "sip:alice@192.0.2.4:5060;transport=tcp").
  std::string uri;
  /// RFC 5626 +sip.instance, without the quotes (e.g. "<urn:uuid:...>");
  /// empty when the UA sent none.
  std::string instance_id;
  /// RFC 5626 reg-id, 0 when absent.
  uint32_t reg_id = 0;
  /// Transport the REGISTER arrived on.
  transport transport_type = transport::udp;
  /// User-Agent header of the last update.
  std::string user_agent;
  /// Granted expiry interval in seconds (after min/max rules).
  uint32_t expires = 0;
  /// Absolute deadline: now + expires at the last update.
  time_point expires_at{};
  /// Preference in thousandths, 0..1000 (1000 = q=1.0, the default).
  qvalue q = q_max;
  /// Where the REGISTER really came from ("192.0.2.4:5060"), RFC 3581.
  std::string received;
  /// RFC 3327 Path header values, in order, each a name-addr.
  std::vector<std::string> path;
  /// Call-ID and CSeq of the REGISTER that last touched this binding.
  std::string call_id;
  uint32_t cseq = 0;
  /// Time of the last add/refresh (orders bindings of equal q).
  time_point updated_at{};

  /// q as a decimal (q / 1000.0).
  double q_value() const noexcept { return q / 1000.0; }
};

/// All bindings of one address of record.
struct user_registration {
  /// Canonical AOR key, e.g. "sip:alice@example.com".
  std::string aor;
  std::vector<contact_info> contacts;
};

// -- presence ----------------------------------------------------------------

/// PIDF basic status (RFC 3863 §4.1.4).
enum class basic_status : uint8_t { closed, open };

/// Rich status on top of basic (rendered with RPID, RFC 4480).
enum class extended_status : uint8_t {
  none,           ///< no rich status: basic alone
  available,
  away,
  busy,
  do_not_disturb,
  on_the_phone,
  in_meeting,
  custom,         ///< free text in `custom_status`
};

const char* to_string(basic_status x) noexcept;
const char* to_string(extended_status x) noexcept;

/// The basic status an extended status implies: available / custom / none
/// -> open; away, busy, do-not-disturb, on-the-phone, in-meeting -> closed
/// (the user is not willing to take a call now).
basic_status implied_basic(extended_status x) noexcept;

/// Presence of one device (one PIDF <tuple>, one publication).
struct device_presence {
  /// Tuple id / device id (instance id, ETag or a generated id).
  std::string device_id;
  basic_status basic = basic_status::closed;
  extended_status status = extended_status::none;
  std::string custom_status;
  std::string note;
  /// RPID activity tokens ("away", "on-the-phone", "meeting", ...).
  std::vector<std::string> activities;
  /// Contact URI of the device (PIDF <contact>), may be empty.
  std::string contact;
  /// PIDF tuple priority in thousandths, like contact q (optional).
  std::optional<qvalue> priority;
  time_point last_updated{};
  /// Absolute expiry of this device's publication; epoch = none.
  time_point expires_at{};
};

/// The presence of one user: the composed view plus the per-device parts.
struct presence_state {
  /// The presentity, "sip:user@domain".
  std::string entity;
  basic_status basic = basic_status::closed;
  extended_status status = extended_status::none;
  std::string custom_status;
  std::string note;
  std::vector<std::string> activities;
  std::vector<device_presence> devices;
  time_point last_updated{};
  /// Absolute expiry (the earliest device expiry); epoch = none.
  time_point expires_at{};
};

// -- subscriptions -------------------------------------------------------------

/// RFC 6665 §4.1.3 subscription states.
enum class subscription_state : uint8_t { pending, active, terminated };

/// RFC 6665 §4.2.2 reasons for "terminated" (none while not terminated).
enum class termination_reason : uint8_t {
  none,
  timeout,
  deactivated,
  rejected,
  noresource,
  giveup,
  probation,
};

const char* to_string(subscription_state x) noexcept;
const char* to_string(termination_reason x) noexcept;

/// One subscription of a watcher to a presentity (one SUBSCRIBE dialog).
struct subscription {
  /// Unique id assigned by the subscription supervisor.
  std::string id;
  /// Watcher AOR.
  std::string subscriber;
  /// Presentity AOR.
  std::string target;
  subscription_state state = subscription_state::pending;
  termination_reason reason = termination_reason::none;
  /// Granted interval in seconds and absolute deadline.
  uint32_t expires = 0;
  time_point expires_at{};
  /// Event header "id" parameter (RFC 6665 §8.2.1), may be empty.
  std::string event_id;
  /// Version of the last state sent; increments by one per notification.
  uint32_t version = 0;
  /// Accept header types, e.g. {"application/pidf+xml"}.
  std::vector<std::string> accept;
};

} // namespace regcore::core
