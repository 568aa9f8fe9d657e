// SPDX-License-Identifier: MIT
#include "core/sip_message.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "core/strings.hpp"

namespace regcore::core {

namespace {

// -- character classes (RFC 3261 §25.1) -----------------------------------------

constexpr bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

/// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
constexpr bool is_token_char_slow(char c) noexcept {
  if (is_alpha(c) || is_digit(c))
    return true;
  switch (c) {
    case '-': case '.': case '!': case '%': case '*':
    case '_': case '+': case '`': case '\'': case '~':
      return true;
    default:
      return false;
  }
}

/// word = 1*(token chars / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" /
///           "[" / "]" / "?" / "{" / "}")   (Call-ID, §25.1)
constexpr bool is_word_char_slow(char c) noexcept {
  if (is_token_char_slow(c))
    return true;
  switch (c) {
    case '(': case ')': case '<': case '>': case ':': case '\\': case '"':
    case '/': case '[': case ']': case '?': case '{': case '}':
      return true;
    default:
      return false;
  }
}

/// Character classes as a 256-entry table (one load per test on the hot
/// path instead of a chain of compares).
enum : uint8_t { cc_token = 1, cc_word = 2 };

struct char_classes {
  uint8_t bits[256] = {};
  constexpr char_classes() {
    for (int i = 0; i < 256; ++i) {
      auto c = static_cast<char>(i);
      bits[i] = static_cast<uint8_t>((is_token_char_slow(c) ? cc_token : 0)
                                     | (is_word_char_slow(c) ? cc_word : 0));
    }
  }
};

constexpr char_classes classes{};

constexpr bool is_token_char(char c) noexcept {
  return (classes.bits[static_cast<unsigned char>(c)] & cc_token) != 0;
}

constexpr bool is_word_char(char c) noexcept {
  return (classes.bits[static_cast<unsigned char>(c)] & cc_word) != 0;
}

/// Whitespace inside a header value: SP, HT, and the CRLF of a fold (the
/// line scanner has verified that CR/LF only occur as CRLF SP/HT there).
constexpr bool is_ws(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

constexpr std::string_view trim_ws(std::string_view x) noexcept {
  while (!x.empty() && is_ws(x.front()))
    x.remove_prefix(1);
  while (!x.empty() && is_ws(x.back()))
    x.remove_suffix(1);
  return x;
}

constexpr bool is_token(std::string_view x) noexcept {
  if (x.empty())
    return false;
  for (char c : x)
    if (!is_token_char(c))
      return false;
  return true;
}

/// delta-seconds = 1*DIGIT (§25.1). Values beyond 2^32-1 saturate (a
/// 100-year expiry is as good as any).
constexpr std::optional<uint32_t> parse_delta(std::string_view x) noexcept {
  if (x.empty())
    return std::nullopt;
  uint64_t v = 0;
  for (char c : x) {
    if (!is_digit(c))
      return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > 0xFFFFFFFFull)
      v = 0xFFFFFFFFull + 1; // keeps saturating without overflow
  }
  return v > 0xFFFFFFFFull ? 0xFFFFFFFFu : static_cast<uint32_t>(v);
}

constexpr std::optional<uint16_t> parse_port(std::string_view x) noexcept {
  if (x.empty() || x.size() > 5)
    return std::nullopt;
  auto v = parse_uint32(x);
  if (!v || *v > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(*v);
}

/// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )  (§20.10,
/// §25.1), in thousandths.
constexpr std::optional<qvalue> parse_qvalue(std::string_view x) noexcept {
  if (x.empty() || x.size() > 5 || (x[0] != '0' && x[0] != '1'))
    return std::nullopt;
  unsigned v = static_cast<unsigned>(x[0] - '0') * 1000;
  if (x.size() == 1)
    return static_cast<qvalue>(v);
  if (x[1] != '.')
    return std::nullopt;
  unsigned scale = 100;
  for (size_t i = 2; i < x.size(); ++i) {
    if (!is_digit(x[i]))
      return std::nullopt;
    v += static_cast<unsigned>(x[i] - '0') * scale;
    scale /= 10;
  }
  if (v > q_max)
    return std::nullopt;
  return static_cast<qvalue>(v);
}

/// Skips a quoted-string starting at x[i] == '"' (§25.1, with quoted-pair).
/// Returns the index one past the closing quote, or npos when unterminated.
size_t skip_quoted(std::string_view x, size_t i) noexcept {
  for (++i; i < x.size(); ++i) {
    if (x[i] == '\\') {
      ++i; // quoted-pair: skip the escaped character
    } else if (x[i] == '"') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

/// Why a list element or sub-value is malformed (appended to the reason).
enum class why : uint8_t {
  ok,
  syntax,
  unterminated_quote,
  unterminated_angle,
  empty_element,
  too_many,
};

const char* why_text(why w) noexcept {
  switch (w) {
    case why::unterminated_quote:
      return " (unterminated quoted string)";
    case why::unterminated_angle:
      return " (unterminated angle bracket)";
    case why::empty_element:
      return " (empty list element)";
    default:
      return "";
  }
}

/// Splits a header value at top-level commas (outside quotes and angle
/// brackets, §7.3.1) and calls f(element) for each trimmed element; f
/// returns a why. An empty value yields no element.
template <class F>
why split_list(std::string_view v, F&& f) {
  v = trim_ws(v);
  if (v.empty())
    return why::ok;
  size_t start = 0;
  bool in_angle = false;
  for (size_t i = 0; i <= v.size(); ++i) {
    if (i == v.size() || (v[i] == ',' && !in_angle)) {
      auto elem = trim_ws(v.substr(start, i - start));
      if (elem.empty())
        return why::empty_element;
      if (auto w = f(elem); w != why::ok)
        return w;
      start = i + 1;
      continue;
    }
    char c = v[i];
    if (c == '"') {
      auto end = skip_quoted(v, i);
      if (end == std::string_view::npos)
        return why::unterminated_quote;
      i = end - 1;
    } else if (c == '<') {
      in_angle = true;
    } else if (c == '>') {
      in_angle = false;
    }
  }
  if (in_angle)
    return why::unterminated_angle;
  return why::ok;
}

/// Reads the next parameter from `rest`, which starts at ';' (leading
/// whitespace allowed). generic-param = token [ EQUAL gen-value ];
/// gen-value = token / host / quoted-string (§25.1). Returns false on a
/// syntax error; sets `done` when `rest` holds no further parameter.
bool next_param(std::string_view& rest, sip_param& p, bool& done) noexcept {
  rest = trim_ws(rest);
  if (rest.empty()) {
    done = true;
    return true;
  }
  done = false;
  if (rest[0] != ';')
    return false;
  rest.remove_prefix(1);
  rest = trim_ws(rest);
  size_t i = 0;
  while (i < rest.size() && is_token_char(rest[i]))
    ++i;
  if (i == 0)
    return false;
  p.name = rest.substr(0, i);
  p.value = {};
  p.has_value = false;
  rest.remove_prefix(i);
  size_t j = 0;
  while (j < rest.size() && is_ws(rest[j]))
    ++j;
  if (j < rest.size() && rest[j] == '=') {
    rest.remove_prefix(j + 1);
    rest = trim_ws(rest);
    if (rest.empty())
      return false;
    size_t k;
    if (rest[0] == '"') {
      k = skip_quoted(rest, 0);
      if (k == std::string_view::npos)
        return false;
    } else {
      k = 0;
      while (k < rest.size()
             && (is_token_char(rest[k]) || rest[k] == ':' || rest[k] == '['
                 || rest[k] == ']'))
        ++k;
      if (k == 0)
        return false;
    }
    p.value = rest.substr(0, k);
    p.has_value = true;
    rest.remove_prefix(k);
  }
  // Next must be end, whitespace + ';', or ';'.
  auto t = trim_ws(rest);
  return t.empty() || t[0] == ';';
}

/// Removes the quotes of a quoted-string value (escapes are kept).
constexpr std::string_view unquote(std::string_view x) noexcept {
  if (x.size() >= 2 && x.front() == '"' && x.back() == '"')
    return x.substr(1, x.size() - 2);
  return x;
}

/// A URI as we accept it in name-addr / addr-spec / Request-URI: scheme ":"
/// rest (§19.1, absoluteURI §25.1), visible ASCII or UTF-8, no spaces, no
/// '<' '>' '"'.
constexpr bool valid_uri(std::string_view u) noexcept {
  if (u.size() < 3 || !is_alpha(u[0]))
    return false;
  size_t i = 1;
  while (i < u.size() && (is_alpha(u[i]) || is_digit(u[i]) || u[i] == '+'
                          || u[i] == '-' || u[i] == '.'))
    ++i;
  if (i >= u.size() || u[i] != ':' || i + 1 == u.size())
    return false;
  for (char c : u) {
    auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b == 0x7f || c == '<' || c == '>' || c == '"')
      return false;
  }
  return true;
}

/// name-addr / addr-spec followed by header params (§20.10, §25.1). Calls
/// on_param(const sip_param&) -> why for each header parameter (one pass:
/// validation and extraction together).
template <class OnParam>
why parse_name_addr(std::string_view e, name_addr_view& out, OnParam&& on_param) {
  out.raw = e;
  out.display = {};
  out.params = {};
  out.angle_brackets = false;
  std::string_view after;
  size_t lt;
  if (e[0] == '"') {
    auto end = skip_quoted(e, 0);
    if (end == std::string_view::npos)
      return why::unterminated_quote;
    out.display = e.substr(1, end - 2);
    lt = end;
    while (lt < e.size() && is_ws(e[lt]))
      ++lt;
    if (lt >= e.size() || e[lt] != '<')
      return why::syntax;
  } else {
    lt = e.find('<');
    if (lt != std::string_view::npos) {
      // display-name = *(token LWS): tokens and whitespace only.
      auto d = trim_ws(e.substr(0, lt));
      for (char c : d)
        if (!is_token_char(c) && !is_ws(c))
          return why::syntax;
      out.display = d;
    }
  }
  if (lt != std::string_view::npos) {
    auto gt = e.find('>', lt + 1);
    if (gt == std::string_view::npos)
      return why::unterminated_angle;
    out.uri = e.substr(lt + 1, gt - lt - 1);
    out.angle_brackets = true;
    after = e.substr(gt + 1);
  } else {
    // addr-spec: the URI ends at the first ';' (header params follow).
    auto semi = e.find(';');
    out.uri = trim_ws(e.substr(0, semi));
    after = semi == std::string_view::npos ? std::string_view{} : e.substr(semi);
    // §20.10: a URI with a comma, '?' or ';' must be in angle brackets
    // (RFC 4475 §3.1.2.13: headers in a bare addr-spec are a 400).
    if (out.uri.find_first_of(">?,") != std::string_view::npos)
      return why::syntax;
  }
  if (!valid_uri(out.uri))
    return why::syntax;
  after = trim_ws(after);
  out.params = after;
  // Validate the parameter syntax once so accessors can trust it.
  sip_param p;
  bool done = false;
  while (true) {
    if (!next_param(after, p, done))
      return why::syntax;
    if (done)
      break;
    if (auto w = on_param(p); w != why::ok)
      return w;
  }
  return why::ok;
}

why parse_name_addr(std::string_view e, name_addr_view& out) {
  return parse_name_addr(e, out, [](const sip_param&) { return why::ok; });
}

// -- header table --------------------------------------------------------------

struct header_entry {
  std::string_view name;
  header_id id;
};

constexpr header_entry header_table[] = {
  {"Via", header_id::via},
  {"From", header_id::from},
  {"To", header_id::to},
  {"Call-ID", header_id::call_id},
  {"CSeq", header_id::cseq},
  {"Contact", header_id::contact},
  {"Expires", header_id::expires},
  {"Min-Expires", header_id::min_expires},
  {"Max-Forwards", header_id::max_forwards},
  {"Event", header_id::event},
  {"Accept", header_id::accept},
  {"Allow", header_id::allow},
  {"Allow-Events", header_id::allow_events},
  {"Supported", header_id::supported},
  {"Require", header_id::require},
  {"Content-Type", header_id::content_type},
  {"Content-Length", header_id::content_length},
  {"Content-Encoding", header_id::content_encoding},
  {"Subject", header_id::subject},
  {"Path", header_id::path},
  {"Route", header_id::route},
  {"Record-Route", header_id::record_route},
  {"SIP-ETag", header_id::sip_etag},
  {"SIP-If-Match", header_id::sip_if_match},
  {"Subscription-State", header_id::subscription_state},
  {"Authorization", header_id::authorization},
  {"WWW-Authenticate", header_id::www_authenticate},
  {"Proxy-Authorization", header_id::proxy_authorization},
  {"Proxy-Authenticate", header_id::proxy_authenticate},
  {"User-Agent", header_id::user_agent},
  {"Server", header_id::server},
  {"Date", header_id::date},
};

constexpr size_t header_table_size = sizeof(header_table) / sizeof(header_table[0]);

} // namespace

// -- methods ---------------------------------------------------------------------

const char* to_string(sip_method x) noexcept {
  switch (x) {
    case sip_method::register_: return "REGISTER";
    case sip_method::subscribe: return "SUBSCRIBE";
    case sip_method::notify: return "NOTIFY";
    case sip_method::publish: return "PUBLISH";
    case sip_method::options: return "OPTIONS";
    case sip_method::invite: return "INVITE";
    case sip_method::ack: return "ACK";
    case sip_method::bye: return "BYE";
    case sip_method::cancel: return "CANCEL";
    case sip_method::message: return "MESSAGE";
    case sip_method::info: return "INFO";
    case sip_method::update: return "UPDATE";
    case sip_method::prack: return "PRACK";
    case sip_method::refer: return "REFER";
    default: return "";
  }
}

sip_method parse_sip_method(std::string_view t) noexcept {
  // Methods are case-sensitive (RFC 3261 §7.1).
  switch (t.size()) {
    case 3:
      if (t == "ACK") return sip_method::ack;
      if (t == "BYE") return sip_method::bye;
      break;
    case 4:
      if (t == "INFO") return sip_method::info;
      break;
    case 5:
      if (t == "PRACK") return sip_method::prack;
      if (t == "REFER") return sip_method::refer;
      break;
    case 6:
      if (t == "NOTIFY") return sip_method::notify;
      if (t == "INVITE") return sip_method::invite;
      if (t == "CANCEL") return sip_method::cancel;
      if (t == "UPDATE") return sip_method::update;
      break;
    case 7:
      if (t == "PUBLISH") return sip_method::publish;
      if (t == "OPTIONS") return sip_method::options;
      if (t == "MESSAGE") return sip_method::message;
      break;
    case 8:
      if (t == "REGISTER") return sip_method::register_;
      break;
    case 9:
      if (t == "SUBSCRIBE") return sip_method::subscribe;
      break;
    default:
      break;
  }
  return sip_method::other;
}

// -- headers -------------------------------------------------------------------

header_id lookup_header(std::string_view name) noexcept {
  if (name.size() == 1) {
    // Compact forms: RFC 3261 §7.3.3, RFC 6665 §8.2.1 (o), §8.2.2 (u).
    switch (ascii_lower(name[0])) {
      case 'v': return header_id::via;
      case 'f': return header_id::from;
      case 't': return header_id::to;
      case 'i': return header_id::call_id;
      case 'm': return header_id::contact;
      case 'l': return header_id::content_length;
      case 'c': return header_id::content_type;
      case 'k': return header_id::supported;
      case 'e': return header_id::content_encoding;
      case 's': return header_id::subject;
      case 'o': return header_id::event;
      case 'u': return header_id::allow_events;
      default: return header_id::other;
    }
  }
  // Dispatch on the length first: at most three candidates remain.
  auto is = [name](std::string_view candidate) { return iequals(candidate, name); };
  switch (name.size()) {
    case 2:
      if (is("To")) return header_id::to;
      break;
    case 3:
      if (is("Via")) return header_id::via;
      break;
    case 4:
      if (is("From")) return header_id::from;
      if (is("CSeq")) return header_id::cseq;
      if (is("Path")) return header_id::path;
      if (is("Date")) return header_id::date;
      break;
    case 5:
      if (is("Route")) return header_id::route;
      if (is("Event")) return header_id::event;
      if (is("Allow")) return header_id::allow;
      break;
    case 6:
      if (is("Accept")) return header_id::accept;
      if (is("Server")) return header_id::server;
      break;
    case 7:
      if (is("Call-ID")) return header_id::call_id;
      if (is("Contact")) return header_id::contact;
      if (is("Expires")) return header_id::expires;
      if (is("Require")) return header_id::require;
      if (is("Subject")) return header_id::subject;
      break;
    case 8:
      if (is("SIP-ETag")) return header_id::sip_etag;
      break;
    case 9:
      if (is("Supported")) return header_id::supported;
      break;
    case 10:
      if (is("User-Agent")) return header_id::user_agent;
      break;
    case 11:
      if (is("Min-Expires")) return header_id::min_expires;
      break;
    case 12:
      if (is("Max-Forwards")) return header_id::max_forwards;
      if (is("Content-Type")) return header_id::content_type;
      if (is("Allow-Events")) return header_id::allow_events;
      if (is("Record-Route")) return header_id::record_route;
      if (is("SIP-If-Match")) return header_id::sip_if_match;
      break;
    case 13:
      if (is("Authorization")) return header_id::authorization;
      break;
    case 14:
      if (is("Content-Length")) return header_id::content_length;
      break;
    case 16:
      if (is("Content-Encoding")) return header_id::content_encoding;
      if (is("WWW-Authenticate")) return header_id::www_authenticate;
      break;
    case 18:
      if (is("Subscription-State")) return header_id::subscription_state;
      if (is("Proxy-Authenticate")) return header_id::proxy_authenticate;
      break;
    case 19:
      if (is("Proxy-Authorization")) return header_id::proxy_authorization;
      break;
    default:
      break;
  }
  return header_id::other;
}

const char* header_name(header_id x) noexcept {
  for (size_t i = 0; i < header_table_size; ++i)
    if (header_table[i].id == x)
      return header_table[i].name.data();
  return "";
}

std::vector<sip_param> parse_params(std::string_view raw) {
  std::vector<sip_param> result;
  raw = trim_ws(raw);
  std::string_view rest = raw;
  bool first_without_semi = !rest.empty() && rest[0] != ';';
  sip_param p;
  bool done = false;
  if (first_without_semi) {
    // Parse "x" as if it were ";x" by handling the first parameter here.
    size_t i = 0;
    while (i < rest.size() && rest[i] != ';')
      ++i;
    auto first = trim_ws(rest.substr(0, i));
    auto eq = first.find('=');
    p.name = trim_ws(first.substr(0, eq));
    p.has_value = eq != std::string_view::npos;
    p.value = p.has_value ? trim_ws(first.substr(eq + 1)) : std::string_view{};
    result.push_back(p);
    rest.remove_prefix(i);
  }
  while (next_param(rest, p, done) && !done)
    result.push_back(p);
  return result;
}

std::optional<sip_param> find_param(std::string_view raw, std::string_view name) noexcept {
  raw = trim_ws(raw);
  sip_param p;
  bool done = false;
  while (next_param(raw, p, done) && !done)
    if (iequals(p.name, name))
      return p;
  return std::nullopt;
}

// -- sip_message ---------------------------------------------------------------

std::optional<std::string_view> sip_message::header(header_id id) const noexcept {
  for (const auto& h : headers_)
    if (h.id == id)
      return h.value;
  return std::nullopt;
}

std::optional<std::string_view> sip_message::header(std::string_view name) const noexcept {
  auto id = lookup_header(name);
  if (id != header_id::other)
    return header(id);
  for (const auto& h : headers_)
    if (h.id == header_id::other && iequals(h.name, name))
      return h.value;
  return std::nullopt;
}

size_t sip_message::count(header_id id) const noexcept {
  size_t n = 0;
  for (const auto& h : headers_)
    if (h.id == id)
      ++n;
  return n;
}

void sip_message::clear() noexcept {
  raw_ = {};
  wire_size_ = 0;
  status_ = 0;
  method_ = sip_method::other;
  method_token_ = {};
  request_uri_ = {};
  reason_ = {};
  headers_.clear();
  vias_.clear();
  from_ = {};
  to_ = {};
  call_id_ = {};
  cseq_ = {};
  contacts_.clear();
  wildcard_ = false;
  has_accept_ = false;
  expires_.reset();
  min_expires_.reset();
  max_forwards_.reset();
  event_.reset();
  content_type_ = {};
  media_type_ = {};
  content_length_.reset();
  body_ = {};
  path_.clear();
  route_.clear();
  record_route_.clear();
  sip_etag_ = {};
  sip_if_match_ = {};
  subscription_state_.reset();
  user_agent_ = {};
  server_ = {};
  date_ = {};
  authorization_ = {};
  www_authenticate_ = {};
  accept_.clear();
  allow_.clear();
  allow_events_.clear();
  supported_.clear();
  require_.clear();
}

// -- the parser ------------------------------------------------------------------

/// Internal outcome of one parse step: no allocation on success (a
/// result<void> would construct and destroy a std::string per header). The
/// reason is the concatenation of up to three static strings, built into
/// an error only once, at the top.
struct sip_parse_step {
  errc code = errc::none;
  const char* a = "";
  const char* b = "";
  const char* c = "";
  explicit operator bool() const noexcept { return code == errc::none; }
  error to_error() const {
    std::string reason = a;
    reason += b;
    reason += c;
    return make_error(code, std::move(reason));
  }
};

/// Parses into a sip_message (friend of sip_message).
class sip_parser {
public:
  sip_parser(sip_message& m, const sip_limits& l) : m_(m), limits_(l) {
    // First use: room for a typical message, so the hot path does not grow
    // the vectors one push_back at a time. Later parses reuse the capacity.
    if (m_.headers_.capacity() == 0) {
      m_.headers_.reserve(24);
      m_.vias_.reserve(4);
      m_.contacts_.reserve(4);
    }
  }

  result<void> run(std::string_view data, sip_framing framing);

private:
  static sip_parse_step bad(const char* a, const char* b = "", const char* c = "") {
    return sip_parse_step{errc::bad_request, a, b, c};
  }
  static sip_parse_step bad(const char* what, why w) {
    return sip_parse_step{errc::bad_request, what, why_text(w), ""};
  }
  static sip_parse_step bad_version() {
    return sip_parse_step{errc::version_not_supported, "Version Not Supported", "", ""};
  }
  static sip_parse_step too_large(const char* a, const char* b = "", const char* c = "") {
    return sip_parse_step{errc::message_too_large, a, b, c};
  }
  sip_parse_step parse(std::string_view data, sip_framing framing);

  sip_parse_step start_line(std::string_view line);
  sip_parse_step on_header(header_field& h);
  sip_parse_step on_via(std::string_view v);
  sip_parse_step on_contact(std::string_view v);
  sip_parse_step on_from_to(std::string_view v, from_to_view& out, const char* what);
  sip_parse_step on_cseq(std::string_view v);
  sip_parse_step on_name_addr_list(std::string_view v, std::vector<name_addr_view>& out,
                                 const char* what);
  sip_parse_step on_token_list(std::string_view v, std::vector<std::string_view>& out,
                             const char* what, bool allow_empty, bool media_ranges);
  sip_parse_step on_event(std::string_view v);
  sip_parse_step on_subscription_state(std::string_view v);
  sip_parse_step on_content_type(std::string_view v);

  sip_message& m_;
  const sip_limits& limits_;
  bool seen_from_ = false;
  bool seen_to_ = false;
  bool seen_cseq_ = false;
  bool seen_call_id_ = false;
  bool seen_content_type_ = false;
  bool seen_etag_ = false;
  bool seen_if_match_ = false;
};

sip_parse_step sip_parser::start_line(std::string_view line) {
  // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF (§7.2)
  if (line.size() >= 4 && iequals(line.substr(0, 4), "SIP/")) {
    auto sp = line.find(' ');
    auto version = line.substr(0, sp);
    if (!iequals(version, "SIP/2.0"))
      return bad("Unsupported SIP version");
    if (sp == std::string_view::npos || line.size() < sp + 4)
      return bad("Malformed status line");
    auto code = line.substr(sp + 1, 3);
    if (!is_digit(code[0]) || !is_digit(code[1]) || !is_digit(code[2]))
      return bad("Malformed status line");
    int status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    if (status < 100 || status > 699)
      return bad("Malformed status line");
    auto rest = line.substr(sp + 4);
    if (!rest.empty() && rest[0] != ' ')
      return bad("Malformed status line");
    m_.status_ = status;
    m_.reason_ = rest.empty() ? rest : rest.substr(1);
    return {};
  }
  // Request-Line = Method SP Request-URI SP SIP-Version CRLF (§7.1): exactly
  // one SP between the elements.
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos)
    return bad("Malformed request line");
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos)
    return bad("Malformed request line");
  auto method = line.substr(0, sp1);
  auto uri = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto version = line.substr(sp2 + 1);
  if (!is_token(method) || uri.empty())
    return bad("Malformed request line");
  if (!valid_uri(uri))
    return bad("Malformed Request-URI");
  if (!iequals(version, "SIP/2.0")) {
    // §25.1: SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; a well-formed
    // other version is a 505 (§21.5.7), anything else a 400.
    auto digits = [](std::string_view x) {
      return !x.empty() && x.find_first_not_of("0123456789") == std::string_view::npos;
    };
    if (version.size() >= 4 && iequals(version.substr(0, 4), "SIP/")) {
      auto num = version.substr(4);
      auto dot = num.find('.');
      if (dot != std::string_view::npos && digits(num.substr(0, dot))
          && digits(num.substr(dot + 1)))
        return bad_version();
    }
    return bad("Malformed request line");
  }
  m_.method_token_ = method;
  m_.method_ = parse_sip_method(method);
  m_.request_uri_ = uri;
  return {};
}

sip_parse_step sip_parser::on_via(std::string_view v) {
  auto w = split_list(v, [this](std::string_view e) {
    if (m_.vias_.size() >= limits_.max_vias)
      return why::too_many;
    via_view via;
    via.raw = e;
    // sent-protocol = protocol-name SLASH protocol-version SLASH transport,
    // SLASH = SWS "/" SWS (§20.42, §25.1).
    size_t i = 0;
    std::string_view parts[3];
    for (int k = 0; k < 3; ++k) {
      while (i < e.size() && is_ws(e[i]))
        ++i;
      size_t s = i;
      while (i < e.size() && is_token_char(e[i]))
        ++i;
      parts[k] = e.substr(s, i - s);
      if (parts[k].empty())
        return why::syntax;
      if (k < 2) {
        while (i < e.size() && is_ws(e[i]))
          ++i;
        if (i >= e.size() || e[i] != '/')
          return why::syntax;
        ++i;
      }
    }
    if (!iequals(parts[0], "SIP") || parts[1] != "2.0")
      return why::syntax;
    via.protocol = e.substr(0, static_cast<size_t>(parts[1].data() + parts[1].size() - e.data()));
    via.transport_name = parts[2];
    via.transport_type = parse_transport(parts[2]);
    // LWS sent-by
    size_t ws = i;
    while (i < e.size() && is_ws(e[i]))
      ++i;
    if (i == ws || i >= e.size())
      return why::syntax;
    size_t hs = i;
    if (e[i] == '[') {
      auto close = e.find(']', i);
      if (close == std::string_view::npos)
        return why::syntax;
      for (size_t k = i + 1; k < close; ++k)
        if (!(is_digit(e[k]) || (ascii_lower(e[k]) >= 'a' && ascii_lower(e[k]) <= 'f')
              || e[k] == ':' || e[k] == '.'))
          return why::syntax;
      i = close + 1;
    } else {
      while (i < e.size() && (is_alpha(e[i]) || is_digit(e[i]) || e[i] == '-' || e[i] == '.'))
        ++i;
    }
    via.host = e.substr(hs, i - hs);
    if (via.host.empty())
      return why::syntax;
    size_t j = i;
    while (j < e.size() && is_ws(e[j]))
      ++j;
    if (j < e.size() && e[j] == ':') {
      ++j;
      while (j < e.size() && is_ws(e[j]))
        ++j;
      size_t ps = j;
      while (j < e.size() && is_digit(e[j]))
        ++j;
      via.port = parse_port(e.substr(ps, j - ps));
      if (!via.port)
        return why::syntax;
      i = j;
    }
    auto rest = trim_ws(e.substr(i));
    via.params = rest;
    sip_param p;
    bool done = false;
    while (true) {
      if (!next_param(rest, p, done))
        return why::syntax;
      if (done)
        break;
      if (iequals(p.name, "branch")) {
        if (!p.has_value)
          return why::syntax;
        via.branch = p.value;
      } else if (iequals(p.name, "received")) {
        if (!p.has_value)
          return why::syntax;
        via.received = p.value;
      } else if (iequals(p.name, "rport")) {
        via.rport = true;
        if (p.has_value) {
          via.rport_value = parse_port(p.value);
          if (!via.rport_value)
            return why::syntax;
        }
      }
    }
    m_.vias_.push_back(via);
    return why::ok;
  });
  if (w == why::too_many)
    return too_large("Too many Via entries");
  if (w != why::ok)
    return bad("Malformed Via", w);
  return {};
}

sip_parse_step sip_parser::on_contact(std::string_view v) {
  auto t = trim_ws(v);
  if (t.empty())
    return bad("Malformed Contact (empty)");
  if (t == "*") {
    // Contact: STAR (§20.10); never together with other contacts.
    if (m_.wildcard_ || !m_.contacts_.empty())
      return bad("Malformed Contact (wildcard mixed with contacts)");
    m_.wildcard_ = true;
    return {};
  }
  if (m_.wildcard_)
    return bad("Malformed Contact (wildcard mixed with contacts)");
  bool bad_q = false;
  bool bad_num = false;
  auto w = split_list(t, [&](std::string_view e) {
    if (m_.contacts_.size() >= limits_.max_contacts)
      return why::too_many;
    if (e == "*")
      return why::syntax;
    contact_view c;
    auto r = parse_name_addr(e, c, [&](const sip_param& p) {
      if (iequals(p.name, "q")) {
        auto q = parse_qvalue(p.value);
        if (!q) {
          bad_q = true;
          return why::syntax;
        }
        c.q = *q;
        c.has_q = true;
      } else if (iequals(p.name, "expires")) {
        c.expires = parse_delta(p.value);
        if (!c.expires) {
          bad_num = true;
          return why::syntax;
        }
      } else if (iequals(p.name, "+sip.instance")) {
        c.instance_id = unquote(p.value);
      } else if (iequals(p.name, "reg-id")) {
        c.reg_id = parse_uint32(p.value);
        if (!c.reg_id) {
          bad_num = true;
          return why::syntax;
        }
      }
      return why::ok;
    });
    if (r != why::ok)
      return r;
    m_.contacts_.push_back(c);
    return why::ok;
  });
  if (w == why::too_many)
    return too_large("Too many Contact entries");
  if (bad_q)
    return bad("Invalid q-value");
  if (bad_num)
    return bad("Malformed Contact parameter");
  if (w != why::ok)
    return bad("Malformed Contact", w);
  return {};
}

sip_parse_step sip_parser::on_from_to(std::string_view v, from_to_view& out, const char* what) {
  auto t = trim_ws(v);
  if (t.empty())
    return bad("Malformed ", what);
  // One element only (a top-level comma is not allowed in From/To).
  size_t n = 0;
  auto w = split_list(t, [&](std::string_view e) {
    if (++n > 1)
      return why::syntax;
    return parse_name_addr(e, out, [&](const sip_param& p) {
      if (p.name.size() == 3 && iequals(p.name, "tag")) {
        if (!p.has_value || !is_token(p.value))
          return why::syntax;
        out.tag = p.value;
      }
      return why::ok;
    });
  });
  if (w != why::ok)
    return bad("Malformed ", what, why_text(w));
  return {};
}

sip_parse_step sip_parser::on_cseq(std::string_view v) {
  // CSeq = 1*DIGIT LWS Method (§20.16); the number is < 2^31 (§8.1.1.5).
  auto t = trim_ws(v);
  size_t i = 0;
  while (i < t.size() && is_digit(t[i]))
    ++i;
  auto num = parse_uint32(t.substr(0, i));
  if (!num || *num >= 0x80000000u)
    return bad("Malformed CSeq");
  size_t j = i;
  while (j < t.size() && is_ws(t[j]))
    ++j;
  if (j == i)
    return bad("Malformed CSeq");
  auto method = t.substr(j);
  if (!is_token(method))
    return bad("Malformed CSeq");
  m_.cseq_.number = *num;
  m_.cseq_.method_token = method;
  m_.cseq_.method = parse_sip_method(method);
  return {};
}

sip_parse_step sip_parser::on_name_addr_list(std::string_view v,
                                           std::vector<name_addr_view>& out,
                                           const char* what) {
  if (trim_ws(v).empty())
    return bad("Malformed ", what);
  auto w = split_list(v, [&](std::string_view e) {
    if (out.size() >= limits_.max_list_entries)
      return why::too_many;
    name_addr_view na;
    if (auto r = parse_name_addr(e, na); r != why::ok)
      return r;
    out.push_back(na);
    return why::ok;
  });
  if (w == why::too_many)
    return too_large("Too many ", what, " entries");
  if (w != why::ok)
    return bad("Malformed ", what, why_text(w));
  return {};
}

sip_parse_step sip_parser::on_token_list(std::string_view v, std::vector<std::string_view>& out,
                                       const char* what, bool allow_empty,
                                       bool media_ranges) {
  if (trim_ws(v).empty()) {
    if (allow_empty)
      return {};
    return bad("Malformed ", what);
  }
  if (out.empty())
    out.reserve(static_cast<size_t>(std::count(v.begin(), v.end(), ',')) + 1);
  auto w = split_list(v, [&](std::string_view e) {
    if (out.size() >= limits_.max_list_entries)
      return why::too_many;
    if (media_ranges) {
      // media-range = ( "*/*" / ( m-type SLASH "*" ) / ( m-type SLASH
      // m-subtype ) ) *( SEMI m-parameter )   (§20.1)
      auto semi = e.find(';');
      auto mt = trim_ws(e.substr(0, semi));
      auto slash = mt.find('/');
      if (slash == std::string_view::npos || !is_token(trim_ws(mt.substr(0, slash)))
          || !is_token(trim_ws(mt.substr(slash + 1))))
        return why::syntax;
      if (semi != std::string_view::npos) {
        auto rest = e.substr(semi);
        sip_param p;
        bool done = false;
        while (true) {
          if (!next_param(rest, p, done))
            return why::syntax;
          if (done)
            break;
        }
      }
    } else if (!is_token(e)) {
      return why::syntax;
    }
    out.push_back(e);
    return why::ok;
  });
  if (w == why::too_many)
    return too_large("Too many ", what, " entries");
  if (w != why::ok)
    return bad("Malformed ", what, why_text(w));
  return {};
}

sip_parse_step sip_parser::on_event(std::string_view v) {
  // Event = event-type *( SEMI event-param ) (RFC 6665 §8.4)
  auto t = trim_ws(v);
  size_t i = 0;
  while (i < t.size() && is_token_char(t[i]))
    ++i;
  if (i == 0)
    return bad("Malformed Event");
  event_view ev;
  ev.package = t.substr(0, i);
  auto rest = trim_ws(t.substr(i));
  ev.params = rest;
  sip_param p;
  bool done = false;
  while (true) {
    if (!next_param(rest, p, done))
      return bad("Malformed Event");
    if (done)
      break;
    if (iequals(p.name, "id"))
      ev.id = p.value;
  }
  m_.event_ = ev;
  return {};
}

sip_parse_step sip_parser::on_subscription_state(std::string_view v) {
  // Subscription-State = substate-value *( SEMI subexp-params ) (RFC 6665 §8.4)
  auto t = trim_ws(v);
  size_t i = 0;
  while (i < t.size() && is_token_char(t[i]))
    ++i;
  if (i == 0)
    return bad("Malformed Subscription-State");
  subscription_state_view s;
  s.state = t.substr(0, i);
  if (iequals(s.state, "active"))
    s.known = subscription_state::active;
  else if (iequals(s.state, "pending"))
    s.known = subscription_state::pending;
  else if (iequals(s.state, "terminated"))
    s.known = subscription_state::terminated;
  auto rest = trim_ws(t.substr(i));
  s.params = rest;
  sip_param p;
  bool done = false;
  while (true) {
    if (!next_param(rest, p, done))
      return bad("Malformed Subscription-State");
    if (done)
      break;
    if (iequals(p.name, "expires")) {
      s.expires = parse_delta(p.value);
      if (!s.expires)
        return bad("Malformed Subscription-State");
    } else if (iequals(p.name, "retry-after")) {
      s.retry_after = parse_delta(p.value);
      if (!s.retry_after)
        return bad("Malformed Subscription-State");
    } else if (iequals(p.name, "reason")) {
      s.reason = p.value;
    }
  }
  m_.subscription_state_ = s;
  return {};
}

sip_parse_step sip_parser::on_content_type(std::string_view v) {
  // Content-Type = media-type; media-type = m-type SLASH m-subtype
  // *(SEMI m-parameter) (§20.15)
  auto t = trim_ws(v);
  size_t i = 0;
  while (i < t.size() && is_token_char(t[i]))
    ++i;
  size_t j = i;
  while (j < t.size() && is_ws(t[j]))
    ++j;
  if (i == 0 || j >= t.size() || t[j] != '/')
    return bad("Malformed Content-Type");
  ++j;
  while (j < t.size() && is_ws(t[j]))
    ++j;
  size_t k = j;
  while (k < t.size() && is_token_char(t[k]))
    ++k;
  if (k == j)
    return bad("Malformed Content-Type");
  auto rest = t.substr(k);
  sip_param p;
  bool done = false;
  while (true) {
    if (!next_param(rest, p, done))
      return bad("Malformed Content-Type");
    if (done)
      break;
  }
  m_.content_type_ = t;
  m_.media_type_ = t.substr(0, k);
  return {};
}

sip_parse_step sip_parser::on_header(header_field& h) {
  auto v = h.value;
  auto single = [](bool& seen) {
    bool dup = seen;
    seen = true;
    return dup;
  };
  switch (h.id) {
    case header_id::via:
      return on_via(v);
    case header_id::from:
      if (single(seen_from_))
        return bad("Duplicate From");
      return on_from_to(v, m_.from_, "From");
    case header_id::to:
      if (single(seen_to_))
        return bad("Duplicate To");
      return on_from_to(v, m_.to_, "To");
    case header_id::call_id: {
      // Call-ID = word [ "@" word ] (§20.8, §25.1)
      if (single(seen_call_id_))
        return bad("Duplicate Call-ID");
      auto at = v.find('@');
      auto left = v.substr(0, at);
      auto right = at == std::string_view::npos ? std::string_view{"x"} : v.substr(at + 1);
      auto word = [](std::string_view w) {
        if (w.empty())
          return false;
        for (char c : w)
          if (!is_word_char(c))
            return false;
        return true;
      };
      if (!word(left) || !word(right))
        return bad("Malformed Call-ID");
      m_.call_id_ = v;
      return {};
    }
    case header_id::cseq:
      if (single(seen_cseq_))
        return bad("Duplicate CSeq");
      return on_cseq(v);
    case header_id::contact:
      return on_contact(v);
    case header_id::expires:
      if (m_.expires_)
        return bad("Duplicate Expires");
      m_.expires_ = parse_delta(v);
      if (!m_.expires_)
        return bad("Malformed Expires");
      return {};
    case header_id::min_expires:
      if (m_.min_expires_)
        return bad("Duplicate Min-Expires");
      m_.min_expires_ = parse_delta(v);
      if (!m_.min_expires_)
        return bad("Malformed Min-Expires");
      return {};
    case header_id::max_forwards:
      if (m_.max_forwards_)
        return bad("Duplicate Max-Forwards");
      // Max-Forwards = 1*DIGIT (§20.22); hop counts fit in 0..255.
      m_.max_forwards_ = parse_uint32(v);
      if (!m_.max_forwards_ || *m_.max_forwards_ > 255)
        return bad("Malformed Max-Forwards");
      return {};
    case header_id::event:
      if (m_.event_)
        return bad("Duplicate Event");
      return on_event(v);
    case header_id::accept:
      m_.has_accept_ = true;
      return on_token_list(v, m_.accept_, "Accept", true, true);
    case header_id::allow:
      return on_token_list(v, m_.allow_, "Allow", true, false);
    case header_id::allow_events:
      return on_token_list(v, m_.allow_events_, "Allow-Events", false, false);
    case header_id::supported:
      // Supported = [option-tag *(COMMA option-tag)] (§20.37): may be empty.
      return on_token_list(v, m_.supported_, "Supported", true, false);
    case header_id::require:
      return on_token_list(v, m_.require_, "Require", false, false);
    case header_id::content_type:
      if (single(seen_content_type_))
        return bad("Duplicate Content-Type");
      return on_content_type(v);
    case header_id::content_length:
      if (m_.content_length_)
        return bad("Bad Content-Length (duplicate)");
      m_.content_length_ = parse_uint32(v);
      if (!m_.content_length_)
        return bad("Bad Content-Length");
      return {};
    case header_id::path:
      return on_name_addr_list(v, m_.path_, "Path");
    case header_id::route:
      return on_name_addr_list(v, m_.route_, "Route");
    case header_id::record_route:
      return on_name_addr_list(v, m_.record_route_, "Record-Route");
    case header_id::sip_etag:
      // SIP-ETag = entity-tag = token (RFC 3903 §11.3.1)
      if (single(seen_etag_))
        return bad("Duplicate SIP-ETag");
      if (!is_token(v))
        return bad("Malformed SIP-ETag");
      m_.sip_etag_ = v;
      return {};
    case header_id::sip_if_match:
      if (single(seen_if_match_))
        return bad("Duplicate SIP-If-Match");
      if (!is_token(v))
        return bad("Malformed SIP-If-Match");
      m_.sip_if_match_ = v;
      return {};
    case header_id::subscription_state:
      if (m_.subscription_state_)
        return bad("Duplicate Subscription-State");
      return on_subscription_state(v);
    case header_id::user_agent:
      m_.user_agent_ = v;
      return {};
    case header_id::server:
      m_.server_ = v;
      return {};
    case header_id::date:
      m_.date_ = v;
      return {};
    case header_id::authorization:
      if (m_.authorization_.empty())
        m_.authorization_ = v;
      return {};
    case header_id::www_authenticate:
      if (m_.www_authenticate_.empty())
        m_.www_authenticate_ = v;
      return {};
    default:
      return {};
  }
}

sip_parse_step sip_parser::parse(std::string_view data, sip_framing framing) {
  if (data.size() > limits_.max_message_size)
    return too_large("Message Too Large");
  const char* p = data.data();
  const size_t n = data.size();
  size_t pos = 0;
  // RFC 3261 §7.5: ignore CRLFs before the start line.
  while (pos + 1 < n && p[pos] == '\r' && p[pos + 1] == '\n')
    pos += 2;
  size_t msg_begin = pos;
  // One pass over the header section: finds line ends and rejects control
  // characters (NUL, bare CR / LF, ...) in the same loop.
  bool first_line = true;
  bool have_header = false;
  header_field cur;
  const char* cur_value_begin = nullptr;
  while (true) {
    size_t line_begin = pos;
    size_t i = pos;
    size_t limit = std::min(n, pos + limits_.max_line_length + 2);
    // Fast path: skip 8 bytes at a time while none is a control character
    // (SWAR: a byte < 0x20 or == 0x7f sets its high bit in `ctl`; bytes
    // >= 0x80, UTF-8, never do).
    while (i + 8 <= limit) {
      uint64_t x;
      std::memcpy(&x, p + i, 8);
      constexpr uint64_t ones = 0x0101010101010101ull;
      constexpr uint64_t highs = 0x8080808080808080ull;
      uint64_t lt20 = (x - ones * 0x20) & ~x & highs;
      uint64_t y = x ^ (ones * 0x7f);
      uint64_t eq7f = (y - ones) & ~y & highs;
      if ((lt20 | eq7f) != 0)
        break;
      i += 8;
    }
    for (;;) {
      if (i >= limit) {
        if (limit < n)
          return too_large("Line too long");
        return bad("Unterminated header section");
      }
      auto c = static_cast<unsigned char>(p[i]);
      if (c < 0x20 || c == 0x7f) {
        if (c == '\r') {
          if (i + 1 >= n)
            return bad("Unterminated header section");
          if (p[i + 1] != '\n')
            return bad("Invalid control character in header (bare CR)");
          break;
        }
        if (c != '\t') {
          if (c == '\n')
            return bad("Invalid control character in header (bare LF)");
          return bad("Invalid control character in header");
        }
      }
      ++i;
    }
    size_t line_end = i; // at CR
    if (line_end - line_begin > limits_.max_line_length)
      return too_large("Line too long");
    pos = i + 2;
    std::string_view line{p + line_begin, line_end - line_begin};
    if (first_line) {
      first_line = false;
      if (auto r = start_line(line); !r)
        return r;
      continue;
    }
    bool folded = !line.empty() && (line[0] == ' ' || line[0] == '\t');
    if (folded) {
      // LWS continuation (§7.3.1): extends the current header's value.
      if (!have_header)
        return bad("Malformed header line (continuation without header)");
      continue;
    }
    if (have_header) {
      // Finish the previous header: its value runs to the end of the last
      // line (CRLF of folds inside).
      cur.value = trim_ws(std::string_view{
        cur_value_begin, static_cast<size_t>(p + line_begin - 2 - cur_value_begin)});
      m_.headers_.push_back(cur);
      if (auto r = on_header(m_.headers_.back()); !r)
        return r;
      have_header = false;
    }
    if (line.empty())
      break; // end of the header section
    if (m_.headers_.size() >= limits_.max_headers)
      return too_large("Too many headers");
    // message-header = field-name HCOLON field-value; HCOLON = *(SP / HTAB) ":" SWS
    size_t k = 0;
    while (k < line.size() && is_token_char(line[k]))
      ++k;
    if (k == 0)
      return bad("Malformed header line");
    cur.name = line.substr(0, k);
    while (k < line.size() && (line[k] == ' ' || line[k] == '\t'))
      ++k;
    if (k >= line.size() || line[k] != ':')
      return bad("Malformed header line");
    cur.id = lookup_header(cur.name);
    cur_value_begin = line.data() + k + 1;
    have_header = true;
  }
  size_t body_begin = pos;
  size_t available = n - body_begin;
  m_.raw_ = data.substr(msg_begin);
  // Mandatory headers (§8.1.1; responses copy them, §8.2.6.2).
  if (m_.vias_.empty())
    return bad("Missing Via");
  if (!seen_from_)
    return bad("Missing From");
  if (!seen_to_)
    return bad("Missing To");
  if (!seen_call_id_)
    return bad("Missing Call-ID");
  if (!seen_cseq_)
    return bad("Missing CSeq");
  if (m_.is_request() && m_.cseq_.method_token != m_.method_token_)
    return bad("CSeq method mismatch");
  // Body (§18.3, §20.14).
  size_t body_len;
  if (m_.content_length_) {
    if (*m_.content_length_ > available)
      return bad("Bad Content-Length (exceeds the message)");
    body_len = *m_.content_length_;
  } else if (framing == sip_framing::datagram) {
    body_len = available; // UDP: the body is the rest of the datagram
  } else {
    return bad("Missing Content-Length");
  }
  m_.body_ = data.substr(body_begin, body_len);
  m_.wire_size_ = body_begin + body_len;
  m_.raw_ = data.substr(msg_begin, m_.wire_size_ - msg_begin);
  return {};
}

result<void> sip_parser::run(std::string_view data, sip_framing framing) {
  if (auto st = parse(data, framing); !st)
    return st.to_error();
  return {};
}

result<void> parse_sip_message(sip_message& out, std::string_view data, sip_framing framing,
                               const sip_limits& limits) {
  out.clear();
  // First use: room for a typical message, so the hot path does not grow
  // the vectors one push_back at a time. Later parses reuse the capacity.
  sip_parser parser{out, limits};
  return parser.run(data, framing);
}

result<sip_message> parse_sip_message(std::string_view data, sip_framing framing,
                                      const sip_limits& limits) {
  // Parse in place inside the result (NRVO): no 900-byte moves of a
  // filled message on the way out.
  result<sip_message> out{sip_message{}};
  if (auto r = parse_sip_message(*out, data, framing, limits); !r)
    return r.err();
  return out;
}

// -- serializer ----------------------------------------------------------------

namespace {

void append_uint(std::string& out, uint32_t x) {
  char buf[16];
  auto res = std::to_chars(buf, buf + sizeof(buf), x);
  out.append(buf, static_cast<size_t>(res.ptr - buf));
}

} // namespace

namespace {

/// Content-Length or its compact form "l".
constexpr bool is_content_length_name(std::string_view name) noexcept {
  return (name.size() == 1 && ascii_lower(name[0]) == 'l')
         || (name.size() == 14 && iequals(name, "Content-Length"));
}

} // namespace

void sip_builder::append_clean(std::string_view x) {
  // Branch-free scan first (vectorizes); rewrite only when needed.
  bool dirty = false;
  for (char c : x)
    dirty |= (c == '\r') | (c == '\n') | (c == '\0');
  size_t start = head_.size();
  head_.append(x);
  if (!dirty)
    return;
  for (size_t i = start; i < head_.size(); ++i) {
    char c = head_[i];
    if (c == '\r' || c == '\n' || c == '\0')
      head_[i] = ' ';
  }
}

sip_builder sip_builder::response(int status, std::string_view reason) {
  return response(status, reason, 512);
}

sip_builder sip_builder::response(int status, std::string_view reason, size_t capacity) {
  sip_builder b;
  b.head_.reserve(capacity);
  b.head_.append("SIP/2.0 ");
  append_uint(b.head_, static_cast<uint32_t>(status < 0 ? 0 : status));
  b.head_.push_back(' ');
  b.append_clean(reason);
  b.head_.append("\r\n");
  return b;
}

sip_builder sip_builder::request(std::string_view method, std::string_view uri) {
  sip_builder b;
  b.head_.reserve(512);
  b.append_clean(method);
  b.head_.push_back(' ');
  b.append_clean(uri);
  b.head_.append(" SIP/2.0\r\n");
  return b;
}

sip_builder sip_builder::request(sip_method method, std::string_view uri) {
  return request(std::string_view{to_string(method)}, uri);
}

sip_builder& sip_builder::header(std::string_view name, std::string_view value) {
  if (name.empty() || is_content_length_name(name))
    return *this; // written by str()/take()
  append_clean(name);
  head_.push_back(':');
  head_.push_back(' ');
  append_clean(value);
  head_.push_back('\r');
  head_.push_back('\n');
  return *this;
}

sip_builder& sip_builder::header(std::string_view name, uint32_t value) {
  if (name.empty() || is_content_length_name(name))
    return *this;
  append_clean(name);
  head_.push_back(':');
  head_.push_back(' ');
  append_uint(head_, value);
  head_.push_back('\r');
  head_.push_back('\n');
  return *this;
}

sip_builder& sip_builder::header(header_id id, std::string_view value) {
  return header(std::string_view{header_name(id)}, value);
}

sip_builder& sip_builder::header(header_id id, uint32_t value) {
  return header(std::string_view{header_name(id)}, value);
}

sip_builder& sip_builder::body(std::string_view content_type, std::string_view b) {
  if (!content_type.empty())
    header("Content-Type", content_type);
  body_.assign(b.data(), b.size());
  return *this;
}

sip_builder& sip_builder::reserve(size_t n) {
  head_.reserve(head_.size() + n);
  return *this;
}

void sip_builder::append_to(std::string& out) const {
  out.reserve(out.size() + head_.size() + 24 + body_.size());
  out.append(head_);
  out.append("Content-Length: ");
  append_uint(out, static_cast<uint32_t>(body_.size()));
  out.append("\r\n\r\n");
  out.append(body_);
}

std::string sip_builder::str() const {
  std::string out;
  append_to(out);
  return out;
}

std::string sip_builder::take() {
  head_.reserve(head_.size() + 24 + body_.size());
  head_.append("Content-Length: ");
  append_uint(head_, static_cast<uint32_t>(body_.size()));
  head_.append("\r\n\r\n");
  head_.append(body_);
  std::string out = std::move(head_);
  head_.clear();
  body_.clear();
  return out;
}

std::string stamp_via(const via_view& v, const source_address& source) {
  auto host = v.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  bool add_received = v.rport || !iequals(host, source.ip);
  std::string out;
  out.reserve(v.raw.size() + source.ip.size() + 32);
  auto params_at = v.params.empty()
                     ? v.raw.size()
                     : static_cast<size_t>(v.params.data() - v.raw.data());
  if (params_at > v.raw.size())
    params_at = v.raw.size();
  auto head = v.raw.substr(0, params_at);
  while (!head.empty() && (head.back() == ' ' || head.back() == '\t'))
    head.remove_suffix(1);
  out.append(head);
  for (auto& p : parse_params(v.params)) {
    if (iequals(p.name, "received") || iequals(p.name, "rport"))
      continue;
    out += ';';
    out.append(p.name);
    if (p.has_value) {
      out += '=';
      out.append(p.value);
    }
  }
  if (add_received) {
    out += ";received=";
    out.append(source.ip);
  }
  if (v.rport) {
    out += ";rport=";
    out += std::to_string(source.port);
  }
  return out;
}

sip_builder make_response(const sip_message& req, int status, std::string_view reason,
                          std::string_view to_tag, const source_address& source) {
  auto b = make_response(req, status, reason, to_tag);
  if (req.vias().empty())
    return b;
  // Replace the top via-parm inside the first Via line (which may hold more
  // via-parms after a comma).
  auto& top = req.vias().front();
  auto line = b.head_.find("\r\nVia: ");
  if (line == std::string::npos)
    return b;
  line += 7; // past "\r\nVia: "
  auto at = b.head_.find(top.raw, line);
  auto eol = b.head_.find("\r\n", line);
  if (at == std::string::npos || at > eol)
    return b;
  std::string stamped = stamp_via(top, source);
  for (auto& c : stamped)
    if (c == '\r' || c == '\n' || c == '\0')
      c = ' ';
  b.head_.replace(at, top.raw.size(), stamped);
  return b;
}

sip_builder make_response(const sip_message& req, int status, std::string_view reason,
                          std::string_view to_tag) {
  // RFC 3261 §8.2.6.2: Via (all, in order), From, To (+tag), Call-ID, CSeq.
  size_t need = 64 + reason.size() + to_tag.size();
  for (const auto& h : req.headers())
    if (h.id == header_id::via || h.id == header_id::from || h.id == header_id::to
        || h.id == header_id::call_id || h.id == header_id::cseq)
      need += h.value.size() + 24;
  // One allocation: the copied headers plus room for the caller's
  // Contact/Expires/... and the Content-Length trailer.
  auto b = sip_builder::response(status, reason, need + 320);
  for (const auto& h : req.headers())
    if (h.id == header_id::via)
      b.header("Via", h.value);
  for (const auto& h : req.headers()) {
    switch (h.id) {
      case header_id::from:
        b.header("From", h.value);
        break;
      case header_id::to:
        if (req.to().tag.empty() && !to_tag.empty()) {
          b.append_clean("To: ");
          b.append_clean(h.value);
          b.head_.append(";tag=");
          b.append_clean(to_tag);
          b.head_.append("\r\n");
        } else {
          b.header("To", h.value);
        }
        break;
      case header_id::call_id:
        b.header("Call-ID", h.value);
        break;
      case header_id::cseq:
        b.header("CSeq", h.value);
        break;
      default:
        break;
    }
  }
  return b;
}

std::string make_error_response(std::string_view data, const error& err,
                                const sip_limits& limits) {
  if (data.size() > limits.max_message_size)
    data = data.substr(0, limits.max_message_size);
  auto eol = data.find("\r\n");
  if (eol == std::string_view::npos || data.substr(0, 4) == "SIP/")
    return {};
  auto start_line = data.substr(0, eol);
  if (start_line.substr(0, 4) == "ACK ")
    return {};
  // Keep the header lines that identify the transaction, in order.
  std::string kept;
  bool via = false, from = false, to = false, call_id = false, cseq = false;
  size_t pos = eol + 2;
  size_t lines = 0;
  while (pos < data.size() && lines++ < limits.max_headers) {
    auto end = data.find("\r\n", pos);
    if (end == std::string_view::npos || end == pos)
      break; // end of the header section (or a truncated one)
    auto line = data.substr(pos, end - pos);
    pos = end + 2;
    if (line.size() > limits.max_line_length)
      continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    auto id = lookup_header(trim(line.substr(0, colon)));
    bool keep = false;
    switch (id) {
      case header_id::via: keep = via = true; break;
      case header_id::from: keep = !from; from = true; break;
      case header_id::to: keep = !to; to = true; break;
      case header_id::call_id: keep = !call_id; call_id = true; break;
      case header_id::cseq: keep = !cseq; cseq = true; break;
      default: break;
    }
    if (!keep)
      continue;
    // No control characters may leave with the answer.
    bool clean = true;
    for (char c : line)
      clean = clean && (static_cast<unsigned char>(c) >= 0x20 || c == '\t');
    if (!clean)
      return {};
    kept.append(line.data(), line.size());
    kept += "\r\n";
  }
  if (!(via && from && to && call_id && cseq))
    return {};
  std::string out = "SIP/2.0 ";
  out += std::to_string(sip_status(err.code));
  out += ' ';
  for (char c : err.phrase())
    out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  out += "\r\n";
  out += kept;
  out += "Content-Length: 0\r\n\r\n";
  return out;
}

namespace {

/// The line starting at `pos` (without its CRLF) and where the next starts;
/// npos when there is no CRLF.
std::string_view line_at(std::string_view m, size_t& pos) noexcept {
  auto end = m.find("\r\n", pos);
  if (end == std::string_view::npos) {
    pos = std::string_view::npos;
    return {};
  }
  auto line = m.substr(pos, end - pos);
  pos = end + 2;
  return line;
}

std::string_view trim_lws(std::string_view x) noexcept {
  while (!x.empty() && is_lws(x.front()))
    x.remove_prefix(1);
  while (!x.empty() && is_lws(x.back()))
    x.remove_suffix(1);
  return x;
}

/// The branch parameter of the first via-parm of a Via value; empty when
/// absent or when the value needs the full parser (quotes).
std::string_view via_branch(std::string_view value) noexcept {
  if (value.find('"') != std::string_view::npos)
    return {};
  value = value.substr(0, value.find(','));
  size_t pos = value.find(';');
  while (pos != std::string_view::npos) {
    auto next = value.find(';', pos + 1);
    auto param = trim_lws(value.substr(pos + 1, next == std::string_view::npos
                                                  ? std::string_view::npos
                                                  : next - pos - 1));
    auto eq = param.find('=');
    if (eq != std::string_view::npos && iequals(trim_lws(param.substr(0, eq)), "branch"))
      return trim_lws(param.substr(eq + 1));
    pos = next;
  }
  return {};
}

} // namespace

std::optional<response_peek> peek_response(std::string_view m) noexcept {
  // "SIP/2.0 DDD " (other spellings of the version: the full parser).
  if (m.size() < 12 || m.substr(0, 8) != "SIP/2.0 ")
    return std::nullopt;
  response_peek out;
  for (size_t i = 8; i < 11; ++i) {
    if (m[i] < '0' || m[i] > '9')
      return std::nullopt;
    out.status = out.status * 10 + (m[i] - '0');
  }
  if (m[11] != ' ' || out.status < 100)
    return std::nullopt;
  size_t pos = 0;
  line_at(m, pos); // the status line
  bool via_seen = false;
  bool cseq_seen = false;
  while (pos != std::string_view::npos) {
    auto line = line_at(m, pos);
    if (pos == std::string_view::npos)
      return std::nullopt; // no end of the header section
    if (line.empty())
      break;
    if (is_lws(line.front()))
      return std::nullopt; // a folded continuation
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      return std::nullopt;
    auto name = trim_lws(line.substr(0, colon));
    auto value = trim_lws(line.substr(colon + 1));
    if (!via_seen && (iequals(name, "via") || iequals(name, "v"))) {
      via_seen = true;
      out.branch = via_branch(value);
      if (out.branch.empty())
        return std::nullopt;
    } else if (!cseq_seen && iequals(name, "cseq")) {
      cseq_seen = true;
      auto sp = value.find_first_of(" \t");
      if (sp == std::string_view::npos)
        return std::nullopt;
      out.cseq_method = trim_lws(value.substr(sp + 1));
      if (out.cseq_method.empty())
        return std::nullopt;
    }
    // A folded continuation of the line just read: the full parser.
    if (pos < m.size() && is_lws(m[pos]))
      return std::nullopt;
  }
  if (!via_seen || !cseq_seen)
    return std::nullopt;
  return out;
}

} // namespace regcore::core
