// SPDX-License-Identifier: MIT
#pragma once

// SIP and SIPS URIs (RFC 3261 §19.1): parsing with %-unescaping, the
// comparison rules of §19.1.4, and the canonical keys the registrar uses:
// the AOR key of a user and the binding key of a contact.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace regcore::core {

/// One URI parameter (`;name=value` or `;name`) or header (`?name=value`),
/// unescaped.
struct uri_param {
  std::string name;
  std::string value;
  bool has_value = false;
};

/// A parsed sip: or sips: URI. Strings are unescaped (%41 -> 'A').
struct sip_uri {
  /// true for sips:.
  bool secure = false;
  /// User part (may be empty for a host-only URI such as a proxy's).
  std::string user;
  std::string password;
  bool has_password = false;
  /// Host as written; IPv6 references keep their brackets ("[::1]").
  std::string host;
  std::optional<uint16_t> port;
  /// uri-parameters in order (names as written).
  std::vector<uri_param> params;
  /// headers after '?', in order.
  std::vector<uri_param> headers;

  /// "sip" or "sips".
  const char* scheme() const noexcept { return secure ? "sips" : "sip"; }

  /// The parameter named `name` (case-insensitive), if present.
  const uri_param* param(std::string_view name) const noexcept;

  /// Serializes back, escaping what must be escaped in each part.
  std::string to_string() const;
};

/// Parses a sip:/sips: URI (addr-spec, no angle brackets). Errors:
/// unsupported_uri_scheme (416) for other schemes, bad_uri (400) with a
/// reason ("Missing host", "Bad port", "Bad escape", ...).
result<sip_uri> parse_sip_uri(std::string_view text);

/// URI equality of RFC 3261 §19.1.4: same scheme; user and password
/// compared case-sensitively after unescaping; host case-insensitively;
/// ports equal (an absent port differs from an explicit 5060); the
/// user, ttl, method, maddr and transport parameters must appear in both
/// or neither and match; other parameters are compared only when present in
/// both; headers must match as sets.
bool uri_equal(const sip_uri& x, const sip_uri& y);

/// The canonical AOR key of a user: "<scheme>:<user>@<lower-case host>"
/// (plus ":<port>" when one is given), without parameters or headers,
/// unescaped (RFC 3261 §10.3 step 5). Accepts an addr-spec or a name-addr
/// (`"Bob" <sip:bob@Example.org>;tag=1`). sip: and sips: stay distinct
/// (§19.1.4: never equivalent). Rejects an empty input, a URI without user
/// ("sip:example.com", "sip:@example.com") or host, and other schemes.
///   canonical_aor("SIP:Alice@EXAMPLE.COM;transport=tcp") == "sip:Alice@example.com"
result<std::string> canonical_aor(std::string_view text);

/// True when `text` is already a canonical AOR key in its simplest form,
/// checked without parsing or allocating: "sip:" or "sips:", a non-empty
/// user of unescaped user characters, '@', a lower-case hostname, no port,
/// parameters or headers. Then canonical_aor(text) == text; false says
/// nothing (call canonical_aor()).
bool is_canonical_aor(std::string_view text) noexcept;

/// The domain (host[:port]) of a canonical AOR key; empty when it has none.
std::string_view aor_domain(std::string_view aor) noexcept;

/// The user part of a canonical AOR key ("alice" of "sip:alice@example.com");
/// empty when it has none.
std::string_view aor_user(std::string_view aor) noexcept;

/// A key under which equal contact URIs (per uri_equal, for the parameters
/// a Contact carries) compare equal as strings: scheme, user, lower-case
/// host, port, and the transport/user/maddr/ttl/method parameters in a
/// fixed order with lower-case values. A URI that does not parse is its own
/// key (the raw text).
std::string binding_key(std::string_view contact_uri);

/// binding_key() of an already parsed URI: the same key as
/// binding_key(text) for any `text` that parse_sip_uri() turns into `uri`
/// (saves parsing twice where the caller validated the URI already).
std::string binding_key(const sip_uri& uri);

} // namespace regcore::core
