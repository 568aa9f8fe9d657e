// SPDX-License-Identifier: MIT
#include "core/digest.hpp"

#include "core/crypto_hash.hpp"
#include "core/strings.hpp"

#include <algorithm>
#include <chrono>

namespace regcore::core {

// --- algorithms ------------------------------------------------------------

const char* to_string(digest_algorithm x) noexcept {
  switch (x) {
  case digest_algorithm::md5:
    return "MD5";
  case digest_algorithm::sha256:
    return "SHA-256";
  }
  return "MD5";
}

std::optional<digest_algorithm>
parse_digest_algorithm(std::string_view name) noexcept {
  if (iequals(name, "MD5"))
    return digest_algorithm::md5;
  if (iequals(name, "SHA-256"))
    return digest_algorithm::sha256;
  return std::nullopt;
}

std::string digest_hash_hex(digest_algorithm alg, std::string_view data) {
  return alg == digest_algorithm::sha256 ? sha256_hex(data) : md5_hex(data);
}

namespace {

/// Hex digits of an HA1 / response for `alg`.
constexpr size_t hex_size(digest_algorithm alg) noexcept {
  return alg == digest_algorithm::sha256 ? 2 * sha256::digest_size
                                         : 2 * md5::digest_size;
}

/// Concatenates `parts` with ':' between them.
std::string colon_join(std::initializer_list<std::string_view> parts) {
  std::string out;
  bool first = true;
  for (auto part : parts) {
    if (!first)
      out += ':';
    first = false;
    out += part;
  }
  return out;
}

} // namespace

// RFC 7616 §3.4.2: A1 = username ":" realm ":" passwd.
std::string digest_ha1(digest_algorithm alg, std::string_view username,
                       std::string_view realm, std::string_view password) {
  return digest_hash_hex(alg, colon_join({username, realm, password}));
}

// RFC 7616 §3.4.1 (qop=auth) and RFC 2069 §2.1.2 (no qop); A2 per §3.4.3.
std::string digest_response(digest_algorithm alg, std::string_view ha1,
                            std::string_view nonce, std::string_view nc,
                            std::string_view cnonce, std::string_view qop,
                            std::string_view method, std::string_view uri) {
  auto ha2 = digest_hash_hex(alg, colon_join({method, uri}));
  if (qop.empty())
    return digest_hash_hex(alg, colon_join({ha1, nonce, ha2}));
  return digest_hash_hex(alg, colon_join({ha1, nonce, nc, cnonce, qop, ha2}));
}

// --- parsing ---------------------------------------------------------------

namespace {

/// Longest header value we parse; real credentials are a few hundred bytes.
constexpr size_t max_credentials_size = 8192;

/// Most auth-params in one value.
constexpr size_t max_params = 32;

/// RFC 3261 §25.1 token characters.
constexpr bool is_token_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '!'
         || c == '%' || c == '*' || c == '_' || c == '+' || c == '`'
         || c == '\'' || c == '~';
}

/// SP, HTAB, CR, LF: LWS once lines are joined (RFC 3261 §25.1).
constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/// Control characters other than HTAB may not appear in a quoted-string.
constexpr bool is_bad_control(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t') || u == 0x7f;
}

constexpr bool is_hex_digit(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
         || (c >= 'A' && c <= 'F');
}

constexpr uint32_t hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return static_cast<uint32_t>(c - '0');
  if (c >= 'a' && c <= 'f')
    return static_cast<uint32_t>(c - 'a' + 10);
  return static_cast<uint32_t>(c - 'A' + 10);
}

error bad(std::string reason) {
  return make_error(errc::bad_request, std::move(reason));
}

} // namespace

bool is_digest_scheme(std::string_view value) noexcept {
  value = trim(value);
  return value.size() >= 6 && iequals(value.substr(0, 6), "Digest")
         && (value.size() == 6 || is_space(value[6]));
}

result<std::vector<auth_param>> parse_digest_params(std::string_view value) {
  if (value.size() > max_credentials_size)
    return bad("digest header value too long");
  auto v = trim(value);
  if (!is_digest_scheme(v))
    return bad("authentication scheme is not Digest");
  size_t i = 6;
  auto skip_space = [&] {
    while (i < v.size() && is_space(v[i]))
      ++i;
  };
  skip_space();
  if (i == v.size())
    return bad("no digest parameters");
  std::vector<auth_param> params;
  for (;;) {
    // auth-param = token EQUAL ( token / quoted-string )
    auto start = i;
    while (i < v.size() && is_token_char(v[i]))
      ++i;
    if (i == start)
      return bad("expected a parameter name");
    auth_param param;
    param.name = std::string{v.substr(start, i - start)};
    skip_space();
    if (i == v.size() || v[i] != '=')
      return bad("expected '=' after " + param.name);
    ++i;
    skip_space();
    if (i < v.size() && v[i] == '"') {
      // quoted-string = DQUOTE *(qdtext / quoted-pair) DQUOTE
      ++i;
      bool closed = false;
      while (i < v.size()) {
        char c = v[i];
        if (c == '"') {
          ++i;
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i + 1 == v.size())
            break;
          char escaped = v[i + 1];
          if (escaped == '\r' || escaped == '\n')
            return bad("bad escape in " + param.name);
          param.value += escaped;
          i += 2;
          continue;
        }
        if (is_bad_control(c))
          return bad("control character in " + param.name);
        param.value += c;
        ++i;
      }
      if (!closed)
        return bad("unterminated quoted string in " + param.name);
    } else {
      start = i;
      while (i < v.size() && is_token_char(v[i]))
        ++i;
      if (i == start)
        return bad("missing value for " + param.name);
      param.value = std::string{v.substr(start, i - start)};
    }
    for (auto& other : params)
      if (iequals(other.name, param.name))
        return bad("duplicate parameter " + param.name);
    if (params.size() == max_params)
      return bad("too many digest parameters");
    params.push_back(std::move(param));
    skip_space();
    if (i == v.size())
      return params;
    if (v[i] != ',')
      return bad("expected ',' after " + params.back().name);
    ++i;
    skip_space();
    if (i == v.size())
      return bad("trailing comma");
  }
}

result<digest_credentials> parse_digest_credentials(std::string_view value) {
  auto params = parse_digest_params(value);
  if (!params)
    return std::move(params).err();
  digest_credentials x;
  bool has_username = false, has_realm = false, has_nonce = false,
       has_uri = false, has_response = false, has_qop = false,
       has_cnonce = false, has_nc = false;
  for (auto& p : *params) {
    auto take = [&](const char* name, std::string& field, bool& flag) {
      if (!iequals(p.name, name))
        return false;
      field = std::move(p.value);
      flag = true;
      return true;
    };
    bool ignored = false;
    if (take("username", x.username, has_username)
        || take("realm", x.realm, has_realm)
        || take("nonce", x.nonce, has_nonce) || take("uri", x.uri, has_uri)
        || take("response", x.response, has_response)
        || take("qop", x.qop, has_qop) || take("cnonce", x.cnonce, has_cnonce)
        || take("nc", x.nc, has_nc) || take("algorithm", x.algorithm, ignored)
        || take("opaque", x.opaque, ignored))
      continue;
    if (iequals(p.name, "userhash")) {
      if (iequals(p.value, "true"))
        x.userhash = true;
      else if (!iequals(p.value, "false"))
        return bad("userhash must be true or false");
    }
    // Anything else is an auth-param extension: ignored (RFC 7616 §3.4).
  }
  if (!has_username)
    return bad("missing username");
  if (!has_realm)
    return bad("missing realm");
  if (!has_nonce)
    return bad("missing nonce");
  if (!has_uri)
    return bad("missing uri");
  if (!has_response)
    return bad("missing response");
  if (has_qop && x.qop.empty())
    return bad("empty qop");
  // RFC 7616 §3.4: cnonce and nc MUST be sent with qop.
  if (has_qop && !has_cnonce)
    return bad("qop without cnonce");
  if (has_qop && !has_nc)
    return bad("qop without nc");
  if (has_nc) {
    // nc-value = 8LHEX (upper case tolerated).
    if (x.nc.size() != 8
        || !std::all_of(x.nc.begin(), x.nc.end(), is_hex_digit))
      return bad("nc must be 8 hex digits");
    for (char c : x.nc)
      x.nc_value = (x.nc_value << 4) | hex_value(c);
  }
  return x;
}

// --- credential store ------------------------------------------------------

std::string credential_store::key(std::string_view username,
                                  std::string_view realm,
                                  digest_algorithm alg) {
  // Length prefix: no (username, realm) pair can collide with another.
  auto k = std::to_string(username.size());
  k += ':';
  k += username;
  k += realm;
  k += static_cast<char>('0' + static_cast<int>(alg));
  return k;
}

result<void> credential_store::add(std::string username, std::string realm,
                                   digest_algorithm alg, std::string_view ha1) {
  if (username.empty() || realm.empty())
    return make_error(errc::invalid_input, "empty username or realm");
  if (ha1.size() != hex_size(alg))
    return make_error(errc::invalid_input,
                      std::string{"HA1 for "} + to_string(alg) + " must be "
                          + std::to_string(hex_size(alg)) + " hex digits, got "
                          + std::to_string(ha1.size()));
  if (!std::all_of(ha1.begin(), ha1.end(), is_hex_digit))
    return make_error(errc::invalid_input, "HA1 is not hex");
  auto [it, added] = entries_.emplace(key(username, realm, alg), to_lower(ha1));
  if (!added)
    return make_error(errc::invalid_input, "duplicate entry for user '"
                                               + username + "' realm '" + realm
                                               + "' " + to_string(alg));
  return {};
}

const std::string* credential_store::find(std::string_view username,
                                          std::string_view realm,
                                          digest_algorithm alg) const {
  auto i = entries_.find(key(username, realm, alg));
  return i == entries_.end() ? nullptr : &i->second;
}

result<credential_store> parse_credentials(std::string_view text) {
  credential_store store;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto eol = text.find('\n');
    auto line = trim(text.substr(0, eol));
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (line.empty() || line.front() == '#')
      continue;
    auto prefix = "line " + std::to_string(line_no) + ": ";
    std::vector<std::string_view> fields;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && is_lws(line[i]))
        ++i;
      auto start = i;
      while (i < line.size() && !is_lws(line[i]))
        ++i;
      if (i > start)
        fields.push_back(line.substr(start, i - start));
    }
    if (fields.size() != 4)
      return make_error(errc::invalid_input,
                        prefix
                            + "expected 4 fields (username realm algorithm "
                              "ha1), got "
                            + std::to_string(fields.size()));
    auto alg = parse_digest_algorithm(fields[2]);
    if (!alg)
      return make_error(errc::invalid_input,
                        prefix + "unknown algorithm '" + std::string{fields[2]}
                            + "' (expected MD5 or SHA-256)");
    auto added = store.add(std::string{fields[0]}, std::string{fields[1]}, *alg,
                           fields[3]);
    if (!added)
      return make_error(errc::invalid_input,
                        prefix + std::string{added.err().phrase()});
  }
  return store;
}

// --- authenticator ---------------------------------------------------------

const char* to_string(digest_status x) noexcept {
  switch (x) {
  case digest_status::ok:
    return "ok";
  case digest_status::missing:
    return "missing";
  case digest_status::malformed:
    return "malformed";
  case digest_status::wrong_realm:
    return "wrong_realm";
  case digest_status::unsupported_algorithm:
    return "unsupported_algorithm";
  case digest_status::unsupported_qop:
    return "unsupported_qop";
  case digest_status::uri_mismatch:
    return "uri_mismatch";
  case digest_status::bad_nonce:
    return "bad_nonce";
  case digest_status::stale_nonce:
    return "stale_nonce";
  case digest_status::unknown_user:
    return "unknown_user";
  case digest_status::bad_response:
    return "bad_response";
  case digest_status::nc_replay:
    return "nc_replay";
  }
  return "malformed";
}

int sip_status(digest_status x) noexcept {
  switch (x) {
  case digest_status::ok:
    return 200;
  case digest_status::malformed:
  case digest_status::uri_mismatch:
    return 400;
  case digest_status::unknown_user:
  case digest_status::bad_response:
    return 403;
  default:
    return 401;
  }
}

namespace {

constexpr size_t nonce_mac_size = 16; // bytes of the HMAC kept in a nonce
constexpr size_t nonce_size = 2 * (8 + 8 + nonce_mac_size);

void put_be64(std::string& out, uint64_t x) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out += static_cast<char>(static_cast<uint8_t>(x >> shift));
}

/// Escapes '"' and '\' for a quoted-string.
std::string quote(std::string_view x) {
  std::string out = "\"";
  for (char c : x) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

} // namespace

result<digest_authenticator> digest_authenticator::make(digest_settings cfg) {
  if (cfg.realm.empty()
      || std::any_of(cfg.realm.begin(), cfg.realm.end(), is_bad_control)
      || cfg.realm.find('\t') != std::string::npos)
    return make_error(errc::invalid_input,
                      "realm must be non-empty, without control characters");
  if (cfg.secret.size() < 16)
    return make_error(errc::invalid_input,
                      "nonce secret must have at least 16 bytes");
  if (cfg.nonce_lifetime == 0)
    return make_error(errc::invalid_input, "nonce lifetime must be positive");
  if (cfg.algorithms.empty())
    return make_error(errc::invalid_input, "no digest algorithm offered");
  for (size_t i = 0; i < cfg.algorithms.size(); ++i)
    for (size_t j = i + 1; j < cfg.algorithms.size(); ++j)
      if (cfg.algorithms[i] == cfg.algorithms[j])
        return make_error(errc::invalid_input, "digest algorithm listed twice");
  if (cfg.max_tracked_nonces == 0)
    return make_error(errc::invalid_input,
                      "max_tracked_nonces must be positive");
  return digest_authenticator{std::move(cfg)};
}

digest_authenticator::digest_authenticator(digest_settings cfg)
    : cfg_(std::move(cfg)) {
  std::string label = "regcore-opaque";
  label += '\0';
  label += cfg_.realm;
  auto mac = hmac_sha256(cfg_.secret, label);
  opaque_ = to_hex(mac.data(), nonce_mac_size);
}

std::string digest_authenticator::make_nonce(int64_t issued,
                                             uint64_t salt) const {
  std::string body;
  put_be64(body, static_cast<uint64_t>(issued));
  put_be64(body, salt);
  // The realm is in the MAC so a nonce of one realm is no good in another.
  std::string input = "regcore-nonce";
  input += '\0';
  input += cfg_.realm;
  input += '\0';
  input += body;
  auto mac = hmac_sha256(cfg_.secret, input);
  return to_hex(reinterpret_cast<const uint8_t*>(body.data()), body.size())
         + to_hex(mac.data(), nonce_mac_size);
}

std::optional<digest_authenticator::nonce_key>
digest_authenticator::decode_nonce(std::string_view nonce) const {
  if (nonce.size() != nonce_size)
    return std::nullopt;
  for (char c : nonce)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return std::nullopt;
  uint64_t issued = 0, salt = 0;
  for (size_t i = 0; i < 16; ++i) {
    issued = (issued << 4) | hex_value(nonce[i]);
    salt = (salt << 4) | hex_value(nonce[16 + i]);
  }
  nonce_key k{static_cast<int64_t>(issued), salt};
  if (!constant_time_equal(make_nonce(k.issued, k.salt), nonce))
    return std::nullopt;
  return k;
}

std::vector<std::string> digest_authenticator::challenge(time_point now,
                                                         bool stale) const {
  auto issued = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    now.time_since_epoch())
                    .count();
  auto nonce = make_nonce(static_cast<int64_t>(issued), counter_++);
  std::vector<std::string> out;
  out.reserve(cfg_.algorithms.size());
  for (auto alg : cfg_.algorithms) {
    // RFC 7616 §3.3 challenge; RFC 8760 §2.4: one per algorithm, preferred
    // first; qop="auth" is required by RFC 3261 §22.4 servers.
    std::string x = "Digest realm=" + quote(cfg_.realm) + ", nonce=\"" + nonce
                    + "\", opaque=\"" + opaque_
                    + "\", algorithm=" + to_string(alg) + ", qop=\"auth\"";
    if (stale)
      x += ", stale=true";
    out.push_back(std::move(x));
  }
  return out;
}

void digest_authenticator::forget_expired(time_point now) {
  auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    now.time_since_epoch())
                    .count();
  auto lifetime_ns = int64_t{cfg_.nonce_lifetime} * 1'000'000'000;
  auto expired
      = [&](const nonce_key& k) { return now_ns - k.issued >= lifetime_ns; };
  while (!seen_.empty() && expired(seen_.begin()->first))
    seen_.erase(seen_.begin());
  if (dropped_upto_ && expired(*dropped_upto_))
    dropped_upto_.reset(); // every nonce it covers is expired anyway
}

digest_outcome digest_authenticator::verify(std::string_view method,
                                            std::string_view authorization,
                                            const credential_store& store,
                                            time_point now,
                                            std::string_view request_uri) {
  digest_outcome out;
  auto fail = [&out](digest_status status, std::string reason) {
    out.status = status;
    out.reason = std::move(reason);
    return out;
  };
  if (trim(authorization).empty())
    return fail(digest_status::missing, "no credentials");
  if (!is_digest_scheme(authorization))
    return fail(digest_status::missing, "credentials are not Digest");
  auto parsed = parse_digest_credentials(authorization);
  if (!parsed)
    return fail(digest_status::malformed, std::string{parsed.err().phrase()});
  auto& cr = *parsed;
  if (cr.realm != cfg_.realm)
    return fail(digest_status::wrong_realm,
                "realm '" + cr.realm + "' is not ours");
  if (cr.userhash)
    return fail(digest_status::unsupported_algorithm,
                "userhash is not supported");
  auto alg = cr.algorithm.empty() ? std::optional{digest_algorithm::md5}
                                  : parse_digest_algorithm(cr.algorithm);
  if (!alg
      || std::find(cfg_.algorithms.begin(), cfg_.algorithms.end(), *alg)
             == cfg_.algorithms.end())
    return fail(digest_status::unsupported_algorithm,
                "algorithm '"
                    + (cr.algorithm.empty() ? std::string{"MD5"} : cr.algorithm)
                    + "' not offered");
  if (cr.qop.empty()) {
    if (!cfg_.accept_rfc2069)
      return fail(digest_status::unsupported_qop,
                  "no qop (RFC 2069 credentials are not accepted)");
  } else if (!iequals(cr.qop, "auth")) {
    // auth-int would need the body hash; we only offer "auth".
    return fail(digest_status::unsupported_qop,
                "qop '" + cr.qop + "' not supported");
  }
  if (!request_uri.empty() && cr.uri != request_uri)
    return fail(digest_status::uri_mismatch,
                "digest uri does not match the Request-URI");
  auto key = decode_nonce(cr.nonce);
  if (!key)
    return fail(digest_status::bad_nonce, "nonce not issued by us");
  if (!cr.opaque.empty() && !constant_time_equal(cr.opaque, opaque_))
    return fail(digest_status::bad_nonce, "opaque does not match");
  auto ha1 = store.find(cr.username, cr.realm, *alg);
  if (!ha1)
    return fail(digest_status::unknown_user,
                "no " + std::string{to_string(*alg)} + " credentials for '"
                    + cr.username + "'");
  auto expected = digest_response(*alg, *ha1, cr.nonce, cr.nc, cr.cnonce,
                                  cr.qop, method, cr.uri);
  if (!constant_time_equal(to_lower(cr.response), expected))
    return fail(digest_status::bad_response,
                "wrong response for '" + cr.username + "'");
  // The password is right: an old nonce is only stale (RFC 7616 §3.3).
  auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    now.time_since_epoch())
                    .count();
  auto lifetime_ns = int64_t{cfg_.nonce_lifetime} * 1'000'000'000;
  if (key->issued > now_ns || now_ns - key->issued >= lifetime_ns)
    return fail(digest_status::stale_nonce, "nonce expired");
  if (!cr.qop.empty()) {
    // RFC 7616 §3.4.5 / §5.2: nc must grow for each request with a nonce.
    forget_expired(now);
    auto i = seen_.find(*key);
    if (i != seen_.end()) {
      if (cr.nc_value <= i->second)
        return fail(digest_status::nc_replay,
                    "nc " + cr.nc + " already used with this nonce");
      i->second = cr.nc_value;
    } else {
      if (dropped_upto_ && !(*dropped_upto_ < *key))
        return fail(digest_status::stale_nonce,
                    "nonce no longer tracked for replays");
      if (cr.nc_value == 0)
        return fail(digest_status::nc_replay, "nc must start at 00000001");
      seen_.emplace(*key, cr.nc_value);
      while (seen_.size() > cfg_.max_tracked_nonces) {
        auto oldest = seen_.begin()->first;
        if (!dropped_upto_ || *dropped_upto_ < oldest)
          dropped_upto_ = oldest;
        seen_.erase(seen_.begin());
      }
    }
  }
  out.status = digest_status::ok;
  out.username = std::move(cr.username);
  out.reason = "authenticated";
  return out;
}

} // namespace regcore::core
