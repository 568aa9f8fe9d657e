// SPDX-License-Identifier: MIT
#include "core/sip_uri.hpp"

#include <algorithm>
#include <array>

#include "core/strings.hpp"

namespace regcore::core {

namespace {

constexpr bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

constexpr bool is_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return c - 'A' + 10;
}

/// RFC 3261 §25.1 unreserved = alphanum / mark.
constexpr bool is_unreserved(char c) noexcept {
  switch (c) {
    case '-': case '_': case '.': case '!': case '~': case '*': case '\'':
    case '(': case ')':
      return true;
    default:
      return is_alnum(c);
  }
}

/// user-unreserved (§25.1).
constexpr bool is_user_char(char c) noexcept {
  switch (c) {
    case '&': case '=': case '+': case '$': case ',': case ';': case '?':
    case '/':
      return true;
    default:
      return is_unreserved(c);
  }
}

/// password characters (§25.1).
constexpr bool is_password_char(char c) noexcept {
  switch (c) {
    case '&': case '=': case '+': case '$': case ',':
      return true;
    default:
      return is_unreserved(c);
  }
}

/// param-unreserved plus unreserved (§25.1 paramchar).
constexpr bool is_param_char(char c) noexcept {
  switch (c) {
    case '[': case ']': case '/': case ':': case '&': case '+': case '$':
      return true;
    default:
      return is_unreserved(c);
  }
}

/// hnv-unreserved plus unreserved (§25.1 hname / hvalue).
constexpr bool is_header_char(char c) noexcept {
  switch (c) {
    case '[': case ']': case '/': case '?': case ':': case '+': case '$':
      return true;
    default:
      return is_unreserved(c);
  }
}

/// Unescapes `x` accepting only characters for which `allowed` holds (and
/// %HH escapes). Returns false on a bad character or escape.
template <class Pred>
bool unescape(std::string_view x, Pred allowed, std::string& out) {
  // Fast path: nothing escaped, every character allowed -> one copy.
  size_t plain = 0;
  while (plain < x.size() && x[plain] != '%' && allowed(x[plain]))
    ++plain;
  if (plain == x.size()) {
    out.assign(x.data(), x.size());
    return true;
  }
  out.clear();
  out.reserve(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    char c = x[i];
    if (c == '%') {
      if (i + 2 >= x.size() || !is_hex(x[i + 1]) || !is_hex(x[i + 2]))
        return false;
      out.push_back(static_cast<char>(hex_value(x[i + 1]) * 16 + hex_value(x[i + 2])));
      i += 2;
    } else if (allowed(c)) {
      out.push_back(c);
    } else {
      return false;
    }
  }
  return true;
}

/// hostname / IPv4address (§25.1): labels of alphanum and '-', dots.
bool valid_hostname(std::string_view x) noexcept {
  if (x.empty() || x.size() > 255)
    return false;
  char prev = '.';
  for (char c : x) {
    if (c == '.') {
      if (prev == '.' || prev == '-')
        return false;
    } else if (c == '-') {
      if (prev == '.')
        return false;
    } else if (!is_alnum(c)) {
      return false;
    }
    prev = c;
  }
  return prev != '-';
}

/// IPv6reference (§25.1), loosely: "[" hex digits, ':' and '.' "]" with at
/// least two colons.
bool valid_ipv6_reference(std::string_view x) noexcept {
  if (x.size() < 4 || x.front() != '[' || x.back() != ']')
    return false;
  size_t colons = 0;
  for (auto c : x.substr(1, x.size() - 2)) {
    if (c == ':')
      ++colons;
    else if (!is_hex(c) && c != '.')
      return false;
  }
  return colons >= 2 && colons <= 7;
}

error bad(std::string reason) {
  return make_error(errc::bad_uri, std::move(reason));
}

/// Parses ";a=b;c" (without the leading ';') into params.
result<void> parse_uri_params(std::string_view x, std::vector<uri_param>& out) {
  while (!x.empty()) {
    auto semi = x.find(';');
    auto item = x.substr(0, semi);
    x = semi == std::string_view::npos ? std::string_view{} : x.substr(semi + 1);
    if (item.empty())
      return bad("Empty URI parameter");
    uri_param p;
    auto eq = item.find('=');
    if (!unescape(item.substr(0, eq), is_param_char, p.name) || p.name.empty())
      return bad("Bad URI parameter");
    if (eq != std::string_view::npos) {
      p.has_value = true;
      if (!unescape(item.substr(eq + 1), is_param_char, p.value))
        return bad("Bad URI parameter");
    }
    out.push_back(std::move(p));
  }
  return {};
}

result<void> parse_uri_headers(std::string_view x, std::vector<uri_param>& out) {
  while (!x.empty()) {
    auto amp = x.find('&');
    auto item = x.substr(0, amp);
    x = amp == std::string_view::npos ? std::string_view{} : x.substr(amp + 1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos)
      return bad("Bad URI header");
    uri_param h;
    h.has_value = true;
    if (!unescape(item.substr(0, eq), is_header_char, h.name) || h.name.empty()
        || !unescape(item.substr(eq + 1), is_header_char, h.value))
      return bad("Bad URI header");
    out.push_back(std::move(h));
  }
  return {};
}

void escape_into(std::string& out, std::string_view x, bool (*allowed)(char)) {
  static constexpr char digits[] = "0123456789ABCDEF";
  for (char c : x) {
    if (allowed(c)) {
      out.push_back(c);
    } else {
      auto u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(digits[u >> 4]);
      out.push_back(digits[u & 0xF]);
    }
  }
}

bool user_char_fn(char c) { return is_user_char(c); }
bool password_char_fn(char c) { return is_password_char(c); }
bool param_char_fn(char c) { return is_param_char(c); }
bool header_char_fn(char c) { return is_header_char(c); }

/// Strips a name-addr down to its URI: display name and angle brackets go,
/// and so do header parameters after '>'. An addr-spec passes unchanged
/// except that header parameters (';tag=...') after it are kept, as the URI
/// grammar cannot tell them apart (RFC 3261 §20.10).
std::string_view uri_of_name_addr(std::string_view x) {
  x = trim(x);
  auto lt = x.find('<');
  if (lt == std::string_view::npos)
    return x;
  auto gt = x.find('>', lt);
  if (gt == std::string_view::npos)
    return {};
  return trim(x.substr(lt + 1, gt - lt - 1));
}

constexpr std::array<std::string_view, 5> significant_params = {
  "maddr", "method", "transport", "ttl", "user"};

bool is_significant(std::string_view name) {
  for (auto p : significant_params)
    if (iequals(p, name))
      return true;
  return false;
}

} // namespace

const uri_param* sip_uri::param(std::string_view name) const noexcept {
  for (auto& p : params)
    if (iequals(p.name, name))
      return &p;
  return nullptr;
}

std::string sip_uri::to_string() const {
  std::string out;
  out.reserve(user.size() + host.size() + 32);
  out += scheme();
  out += ':';
  if (!user.empty()) {
    escape_into(out, user, user_char_fn);
    if (has_password) {
      out += ':';
      escape_into(out, password, password_char_fn);
    }
    out += '@';
  }
  out += host;
  if (port) {
    out += ':';
    out += std::to_string(*port);
  }
  for (auto& p : params) {
    out += ';';
    escape_into(out, p.name, param_char_fn);
    if (p.has_value) {
      out += '=';
      escape_into(out, p.value, param_char_fn);
    }
  }
  for (size_t i = 0; i < headers.size(); ++i) {
    out += i == 0 ? '?' : '&';
    escape_into(out, headers[i].name, header_char_fn);
    out += '=';
    escape_into(out, headers[i].value, header_char_fn);
  }
  return out;
}

result<sip_uri> parse_sip_uri(std::string_view text) {
  text = trim(text);
  if (text.empty())
    return bad("Empty URI");
  auto colon = text.find(':');
  if (colon == std::string_view::npos)
    return bad("Missing URI scheme");
  sip_uri uri;
  auto scheme = text.substr(0, colon);
  if (iequals(scheme, "sips"))
    uri.secure = true;
  else if (!iequals(scheme, "sip"))
    return make_error(errc::unsupported_uri_scheme, "Unsupported URI scheme");
  auto rest = text.substr(colon + 1);
  // userinfo: everything before the first '@' ('@' may not appear
  // unescaped in hostport, parameters or headers).
  auto at = rest.find('@');
  if (at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto pw = userinfo.find(':');
    if (!unescape(userinfo.substr(0, pw), is_user_char, uri.user))
      return bad("Bad user part");
    if (uri.user.empty())
      return bad("Empty user part");
    if (pw != std::string_view::npos) {
      uri.has_password = true;
      if (!unescape(userinfo.substr(pw + 1), is_password_char, uri.password))
        return bad("Bad password");
    }
  }
  // headers
  auto q = rest.find('?');
  if (q != std::string_view::npos) {
    if (auto res = parse_uri_headers(rest.substr(q + 1), uri.headers); !res)
      return res.err();
    rest = rest.substr(0, q);
  }
  // parameters
  auto semi = rest.find(';');
  if (semi != std::string_view::npos) {
    if (auto res = parse_uri_params(rest.substr(semi + 1), uri.params); !res)
      return res.err();
    rest = rest.substr(0, semi);
  }
  // hostport
  if (rest.empty())
    return bad("Missing host");
  std::string_view host;
  std::string_view port;
  if (rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      return bad("Unterminated IPv6 reference");
    host = rest.substr(0, close + 1);
    auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return bad("Bad host");
      port = after.substr(1);
      if (port.empty())
        return bad("Bad port");
    }
    if (!valid_ipv6_reference(host))
      return bad("Bad IPv6 reference");
  } else {
    auto pc = rest.find(':');
    host = rest.substr(0, pc);
    if (pc != std::string_view::npos) {
      port = rest.substr(pc + 1);
      if (port.empty())
        return bad("Bad port");
    }
    if (!valid_hostname(host))
      return bad(host.empty() ? "Missing host" : "Bad host");
  }
  uri.host = std::string{host};
  if (!port.empty()) {
    auto p = parse_uint32(port);
    if (!p || *p == 0 || *p > 65535)
      return bad("Bad port");
    uri.port = static_cast<uint16_t>(*p);
  }
  return uri;
}

bool uri_equal(const sip_uri& x, const sip_uri& y) {
  if (x.secure != y.secure || x.user != y.user || x.has_password != y.has_password
      || x.password != y.password || !iequals(x.host, y.host) || x.port != y.port)
    return false;
  // Parameters (§19.1.4): significant ones must match both ways; others only
  // when present in both.
  auto check = [](const sip_uri& a, const sip_uri& b) {
    for (auto& p : a.params) {
      auto other = b.param(p.name);
      if (!other) {
        if (is_significant(p.name))
          return false;
        continue;
      }
      if (other->has_value != p.has_value || !iequals(other->value, p.value))
        return false;
    }
    return true;
  };
  if (!check(x, y) || !check(y, x))
    return false;
  // Headers: same set (names case-insensitive, values as given).
  if (x.headers.size() != y.headers.size())
    return false;
  for (auto& h : x.headers) {
    auto match = std::find_if(y.headers.begin(), y.headers.end(), [&](const uri_param& g) {
      return iequals(g.name, h.name) && g.value == h.value;
    });
    if (match == y.headers.end())
      return false;
  }
  return true;
}

result<std::string> canonical_aor(std::string_view text) {
  auto inner = uri_of_name_addr(text);
  if (inner.empty())
    return bad(trim(text).empty() ? "Empty AOR" : "Malformed AOR");
  auto uri = parse_sip_uri(inner);
  if (!uri)
    return std::move(uri).err();
  if (uri->user.empty())
    return bad("AOR without user part");
  std::string key;
  key.reserve(uri->user.size() + uri->host.size() + 12);
  key += uri->scheme();
  key += ':';
  // Escapes of user characters are gone (RFC 3261 §19.1.4: "%62ob" is
  // "bob"); anything else is escaped again, so the key is itself a valid URI
  // and canonical_aor(key) == key ("a%2541" stays "a%2541", not "aA").
  escape_into(key, uri->user, user_char_fn);
  key += '@';
  key += to_lower(uri->host);
  if (uri->port) {
    key += ':';
    key += std::to_string(*uri->port);
  }
  return key;
}

bool is_canonical_aor(std::string_view text) noexcept {
  // Exactly the strings canonical_aor() maps to themselves without
  // changing anything: lower-case scheme, nothing to trim or unwrap, a user
  // without escapes or password (unescape() leaves it as it is), one '@'
  // (the host part may not hold another), a valid host already in lower
  // case, and no port, parameters or headers to re-render.
  std::string_view rest;
  if (text.substr(0, 4) == "sip:")
    rest = text.substr(4);
  else if (text.substr(0, 5) == "sips:")
    rest = text.substr(5);
  else
    return false;
  auto at = rest.find('@');
  if (at == 0 || at == std::string_view::npos)
    return false;
  for (auto c : rest.substr(0, at))
    if (!is_user_char(c))
      return false;
  auto host = rest.substr(at + 1);
  for (auto c : host)
    if (c >= 'A' && c <= 'Z')
      return false;
  return valid_hostname(host);
}

std::string_view aor_domain(std::string_view aor) noexcept {
  auto at = aor.rfind('@');
  return at == std::string_view::npos ? std::string_view{} : aor.substr(at + 1);
}

std::string_view aor_user(std::string_view aor) noexcept {
  auto colon = aor.find(':');
  auto at = aor.rfind('@');
  if (colon == std::string_view::npos || at == std::string_view::npos || at < colon)
    return {};
  return aor.substr(colon + 1, at - colon - 1);
}

std::string binding_key(std::string_view contact_uri) {
  auto uri = parse_sip_uri(uri_of_name_addr(contact_uri));
  if (!uri)
    return std::string{contact_uri};
  return binding_key(*uri);
}

std::string binding_key(const sip_uri& uri) {
  std::string key;
  key.reserve(uri.user.size() + uri.host.size() + 16);
  key += uri.scheme();
  key += ':';
  key += uri.user;
  key += '@';
  for (char c : uri.host)
    key += ascii_lower(c);
  if (uri.port) {
    key += ':';
    key += std::to_string(*uri.port);
  }
  for (auto name : significant_params) {
    if (auto p = uri.param(name)) {
      key += ';';
      key += name;
      if (p->has_value) {
        key += '=';
        for (char c : p->value)
          key += ascii_lower(c);
      }
    }
  }
  return key;
}

} // namespace regcore::core
