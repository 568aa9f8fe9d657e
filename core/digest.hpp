// SPDX-License-Identifier: MIT
#pragma once

// SIP digest authentication (RFC 3261 §22.4 on RFC 2617, RFC 7616 for
// SHA-256, RFC 8760 for SIP's use of it): parsing Authorization /
// Proxy-Authorization values, a store of HA1 values, and an authenticator
// that issues challenges with stateless HMAC nonces and verifies responses.
// Pure data + functions; time is a parameter.

#include "core/result.hpp"
#include "core/time.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace regcore::core {

// --- algorithms ------------------------------------------------------------

/// A digest algorithm (RFC 7616 §3.3; "-sess" variants are not supported).
enum class digest_algorithm : uint8_t {
  md5,    ///< "MD5", the RFC 2617 default when no algorithm is given.
  sha256, ///< "SHA-256" (RFC 7616, RFC 8760).
};

/// The wire name: "MD5" or "SHA-256".
const char* to_string(digest_algorithm x) noexcept;

/// Parses a wire name, case-insensitively ("md5", "SHA-256"); nullopt for
/// anything else (including "MD5-sess", "SHA-512-256").
std::optional<digest_algorithm>
parse_digest_algorithm(std::string_view name) noexcept;

/// Lower-case hex H(data) with the algorithm's hash.
std::string digest_hash_hex(digest_algorithm alg, std::string_view data);

/// HA1 = H(username ":" realm ":" password) (RFC 7616 §3.4.2), lower-case
/// hex; what the credentials file stores.
std::string digest_ha1(digest_algorithm alg, std::string_view username,
                       std::string_view realm, std::string_view password);

/// The request-digest (RFC 7616 §3.4.1) from HA1 (lower-case hex) with
/// A2 = method ":" uri. With qop "auth":
/// H(HA1:nonce:nc:cnonce:qop:H(A2)); with an empty qop the RFC 2069 form
/// H(HA1:nonce:H(A2)) (nc and cnonce unused).
std::string digest_response(digest_algorithm alg, std::string_view ha1,
                            std::string_view nonce, std::string_view nc,
                            std::string_view cnonce, std::string_view qop,
                            std::string_view method, std::string_view uri);

// --- parsing ---------------------------------------------------------------

/// One auth-param: `name` as sent, `value` unquoted and unescaped.
struct auth_param {
  std::string name;  ///< As sent (compare case-insensitively).
  std::string value; ///< Unquoted, backslash escapes resolved.
};

/// Parses `Digest` LWS auth-param *(COMMA auth-param) (RFC 3261 §25.1,
/// RFC 7616 §3.4), the syntax shared by challenges and credentials. The
/// scheme is case-insensitive; a value is a token or a quoted-string with
/// backslash escapes (either form is accepted for every parameter, as real
/// UAs quote inconsistently); whitespace, CR and LF around names, '=' and
/// commas are tolerated; parameter names must be unique (case-insensitive).
/// Errors are errc::bad_request with the reason.
result<std::vector<auth_param>> parse_digest_params(std::string_view value);

/// Whether `value` starts with the scheme "Digest" (case-insensitive).
bool is_digest_scheme(std::string_view value) noexcept;

/// Parsed digest credentials (RFC 7616 §3.4). Optional parameters are empty
/// when absent.
struct digest_credentials {
  std::string username;  ///< Required.
  std::string realm;     ///< Required.
  std::string nonce;     ///< Required.
  std::string uri;       ///< Required (digest-uri).
  std::string response;  ///< Required (request-digest, hex).
  std::string algorithm; ///< As sent; empty means MD5 (RFC 2617 §3.2.2).
  std::string qop;       ///< As sent ("auth"); empty: RFC 2069 style.
  std::string cnonce;    ///< Required when qop is present.
  std::string nc;        ///< 8 hex digits as sent; required with qop.
  uint32_t nc_value = 0; ///< `nc` as a number.
  std::string opaque;    ///< Echo of the challenge's opaque.
  bool userhash = false; ///< RFC 7616 §3.4.4 userhash=true.
};

/// Parses an Authorization / Proxy-Authorization header value. Rejects
/// (errc::bad_request, reason names the problem): another scheme, syntax
/// errors, duplicate parameters, a missing username / realm / nonce / uri /
/// response, qop without cnonce or nc, an nc that is not 8 hex digits.
/// Unknown parameters are ignored (RFC 7616 §3.4 auth-param extension).
result<digest_credentials> parse_digest_credentials(std::string_view value);

// --- credential store ------------------------------------------------------

/// HA1 values by (username, realm, algorithm); never plain passwords.
class credential_store {
public:
  /// Adds an entry; `ha1` is hex (any case, stored lower-case) of the
  /// algorithm's length (32 for MD5, 64 for SHA-256). Fails with
  /// errc::invalid_input on a bad length or digit, or a duplicate entry.
  result<void> add(std::string username, std::string realm,
                   digest_algorithm alg, std::string_view ha1);

  /// The lower-case hex HA1 of the entry, or nullptr. Username and realm
  /// compare exactly (case-sensitive).
  const std::string* find(std::string_view username, std::string_view realm,
                          digest_algorithm alg) const;

  /// Number of entries.
  size_t size() const noexcept { return entries_.size(); }

private:
  static std::string key(std::string_view username, std::string_view realm,
                         digest_algorithm alg);

  std::unordered_map<std::string, std::string> entries_;
};

/// Parses a credentials file: one entry per line,
/// `username realm algorithm ha1hex`, fields separated by spaces or tabs,
/// algorithm "MD5" or "SHA-256" (case-insensitive), HA1 =
/// hex H(username:realm:password). Blank lines and lines whose first
/// non-blank character is '#' are ignored (no trailing comments). Errors are
/// errc::invalid_input with reason "line N: ..." (wrong field count, unknown
/// algorithm, bad hex or length, duplicate entry).
result<credential_store> parse_credentials(std::string_view text);

// --- authenticator ---------------------------------------------------------

/// Settings of a digest_authenticator.
struct digest_settings {
  /// The realm we challenge for (RFC 3261 §22.1: usually the domain).
  std::string realm;
  /// HMAC key for nonces: random bytes, at least 16; shared by nothing else.
  std::string secret;
  /// Seconds a nonce stays valid; afterwards it is stale.
  uint32_t nonce_lifetime = 300;
  /// Algorithms offered, preferred first (RFC 8760 §2.4: one challenge
  /// each, in order of preference).
  std::vector<digest_algorithm> algorithms
      = {digest_algorithm::sha256, digest_algorithm::md5};
  /// Nonces whose highest nc is remembered; beyond it the oldest is
  /// dropped (and becomes stale, see digest_authenticator).
  size_t max_tracked_nonces = 100000;
  /// Accept credentials without qop (RFC 2069 form). Off by default: such a
  /// response has no nc, so it can be replayed until the nonce expires.
  bool accept_rfc2069 = false;
};

/// What verify() decided.
enum class digest_status : uint8_t {
  ok,                    ///< 200: authenticated.
  missing,               ///< 401: no (Digest) credentials; challenge.
  malformed,             ///< 400: unparseable credentials.
  wrong_realm,           ///< 401: credentials for another realm.
  unsupported_algorithm, ///< 401: algorithm not offered / userhash.
  unsupported_qop,       ///< 401: qop not "auth" (auth-int, none).
  uri_mismatch,          ///< 400: digest-uri is not the Request-URI.
  bad_nonce,             ///< 401: nonce (or opaque) not issued by us.
  stale_nonce,           ///< 401 with stale=true: right password, old nonce.
  unknown_user,          ///< 403: no HA1 for user, realm and algorithm.
  bad_response,          ///< 403: wrong password.
  nc_replay,             ///< 401: nc not above the last accepted one.
};

/// The enumerator's name, e.g. "stale_nonce".
const char* to_string(digest_status x) noexcept;

/// The SIP status that answers `x` (200, 400, 401 or 403). 401 answers
/// carry challenge(now, x == digest_status::stale_nonce). unknown_user and
/// bad_response both give 403 so the UA stops retrying a wrong password
/// (RFC 3261 §22.2); send the same generic phrase for both so the answer
/// does not tell which users exist.
int sip_status(digest_status x) noexcept;

/// The result of verify().
struct digest_outcome {
  /// The decision.
  digest_status status = digest_status::missing;
  /// The authenticated username; set only when status is ok.
  std::string username;
  /// Why (for logs; may name the user, so not for the wire).
  std::string reason;

  /// Whether status is ok.
  bool ok() const noexcept { return status == digest_status::ok; }
};

/// Issues digest challenges and verifies credentials for one realm.
///
/// Nonces are stateless: hex(issue time, 8 bytes) + hex(counter salt,
/// 8 bytes) + hex(first 16 bytes of HMAC-SHA-256(secret, realm, time,
/// salt)), 64 characters. verify() checks the MAC, then the password, then
/// the age: an expired (or future) nonce with a correct response is stale,
/// so the UA retries without prompting (RFC 7616 §3.3). The issue time is
/// the time_point's tick count, so a nonce only verifies against the clock
/// that issued it (one node, one process lifetime of steady_clock).
///
/// Replay protection (RFC 7616 §3.4.5 nc): per nonce the highest nc
/// accepted is remembered until the nonce expires; an nc not above it is a
/// replay. At most max_tracked_nonces are remembered; when that overflows
/// the oldest-issued is dropped and every nonce issued up to it is treated
/// as stale from then on, so dropping never reopens a replay window.
///
/// Mutable, not thread-safe: one instance lives in one actor.
class digest_authenticator {
public:
  /// Validates `cfg`: non-empty realm without control characters, a secret
  /// of at least 16 bytes, nonce_lifetime > 0, a non-empty algorithm list
  /// without duplicates, max_tracked_nonces > 0. errc::invalid_input
  /// otherwise.
  static result<digest_authenticator> make(digest_settings cfg);

  /// One WWW-Authenticate / Proxy-Authenticate value per offered
  /// algorithm, in preference order (RFC 8760 §2.4), sharing one fresh
  /// nonce: `Digest realm="...", nonce="...", opaque="...",
  /// algorithm=SHA-256, qop="auth"` plus `, stale=true` when `stale`.
  std::vector<std::string> challenge(time_point now, bool stale) const;

  /// Verifies the Authorization value of a request with `method` against
  /// `store` at `now`. When `request_uri` is non-empty the digest-uri must
  /// equal it (RFC 7616 §3.4.6); pass it unless a proxy may have rewritten
  /// it. On ok the nonce's nc is recorded.
  digest_outcome verify(std::string_view method,
                        std::string_view authorization_value,
                        const credential_store& store, time_point now,
                        std::string_view request_uri = {});

  /// The settings in use.
  const digest_settings& settings() const noexcept { return cfg_; }

  /// Nonces whose nc is currently remembered.
  size_t tracked_nonces() const noexcept { return seen_.size(); }

private:
  /// A nonce's identity: issue time and salt (unique per challenge()).
  struct nonce_key {
    int64_t issued = 0;
    uint64_t salt = 0;
    bool operator<(const nonce_key& other) const noexcept {
      return issued != other.issued ? issued < other.issued : salt < other.salt;
    }
  };

  explicit digest_authenticator(digest_settings cfg);

  std::string make_nonce(int64_t issued, uint64_t salt) const;
  std::optional<nonce_key> decode_nonce(std::string_view nonce) const;
  void forget_expired(time_point now);

  digest_settings cfg_;
  std::string opaque_;
  mutable uint64_t counter_ = 0;
  std::map<nonce_key, uint32_t> seen_; // highest nc accepted, oldest first
  std::optional<nonce_key> dropped_upto_;
};

} // namespace regcore::core
