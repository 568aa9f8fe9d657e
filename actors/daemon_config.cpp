// SPDX-License-Identifier: MIT
#include "actors/daemon_config.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <cmath>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

namespace regcore::actors {

namespace {

// ordered_json keeps the document order: errors come in reading order and
// to_json_text() prints the keys in the order of the documentation.
using json = nlohmann::ordered_json;

constexpr uint64_t u32_max = std::numeric_limits<uint32_t>::max();

core::error config_error(std::string msg) {
  return core::make_error(core::errc::invalid_input, "config: " + msg);
}

std::string in_quotes(std::string_view x) {
  std::string r;
  r.reserve(x.size() + 2);
  r += '"';
  r += x;
  r += '"';
  return r;
}

std::string join_path(const std::string& parent, std::string_view key) {
  if (parent.empty())
    return std::string{key};
  return parent + "." + std::string{key};
}

std::string index_path(const std::string& parent, size_t i) {
  return parent + "[" + std::to_string(i) + "]";
}

/// What a JSON value looks like in an error: the value itself when short,
/// else its type.
std::string describe(const json& v) {
  if (v.is_object())
    return "an object";
  if (v.is_array())
    return "an array";
  auto text = v.dump();
  if (text.size() > 40)
    text = text.substr(0, 37) + "...";
  return text;
}

bool is_control(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

bool has_control_or_space(std::string_view x) noexcept {
  return std::any_of(x.begin(), x.end(),
                     [](char c) { return is_control(c) || c == ' '; });
}

bool has_control(std::string_view x) noexcept {
  return std::any_of(x.begin(), x.end(), is_control);
}

/// Edit distance for "did you mean" (keys are short).
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diag + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diag = up;
    }
  }
  return row[b.size()];
}

/// Decimal digits only, no sign, no base prefix.
std::optional<uint64_t> parse_decimal(std::string_view x, uint64_t max) {
  if (x.empty() || x.size() > 20)
    return std::nullopt;
  uint64_t r = 0;
  for (auto c : x) {
    if (c < '0' || c > '9')
      return std::nullopt;
    auto d = static_cast<uint64_t>(c - '0');
    if (r > (max - d) / 10)
      return std::nullopt;
    r = r * 10 + d;
  }
  return r;
}

// -- JSON reading
// -----------------------------------------------------------------

/// Reads one JSON object against a table of known keys. The first error
/// wins and stops everything.
class reader {
public:
  using handler = std::function<bool(const json&, const std::string&)>;
  using table = std::vector<std::pair<const char*, handler>>;

  std::optional<core::error> err;

  bool fail(const std::string& path, const std::string& msg) {
    if (!err)
      err = config_error(in_quotes(path) + ": " + msg);
    return false;
  }

  bool expected(const std::string& path, const char* what, const json& v) {
    return fail(path, std::string{"expected "} + what + ", got " + describe(v));
  }

  /// Dispatches every key of the object `v` (at `path`) to its handler.
  bool object(const json& v, const std::string& path, const table& keys) {
    if (!v.is_object()) {
      if (path.empty()) {
        err = config_error("expected a JSON object at the top level, got "
                           + describe(v));
        return false;
      }
      return expected(path, "an object", v);
    }
    for (auto& [key, value] : v.items()) {
      auto i = std::find_if(keys.begin(), keys.end(),
                            [&](auto& k) { return key == k.first; });
      if (i == keys.end())
        return unknown(join_path(path, key), key, keys);
      if (!i->second(value, join_path(path, key)))
        return false;
    }
    return true;
  }

  bool unknown(const std::string& path, const std::string& key,
               const table& keys) {
    std::string msg = "unknown key " + in_quotes(path);
    const char* best = nullptr;
    size_t best_dist = 3; // suggest at distance 1 or 2 only
    for (auto& k : keys) {
      auto d = edit_distance(key, k.first);
      if (d < best_dist) {
        best_dist = d;
        best = k.first;
      }
    }
    if (best != nullptr)
      msg += " (did you mean " + in_quotes(best) + "?)";
    if (!err)
      err = config_error(msg);
    return false;
  }

  bool u64(const json& v, const std::string& path, uint64_t max,
           uint64_t& out) {
    if (!v.is_number_unsigned())
      return expected(path, "an unsigned integer", v);
    auto x = v.get<uint64_t>();
    if (x > max)
      return fail(path, "expected an unsigned integer <= " + std::to_string(max)
                            + ", got " + std::to_string(x));
    out = x;
    return true;
  }

  bool u32(const json& v, const std::string& path, uint32_t& out) {
    uint64_t x = 0;
    if (!u64(v, path, u32_max, x))
      return false;
    out = static_cast<uint32_t>(x);
    return true;
  }

  bool number(const json& v, const std::string& path, double& out) {
    if (!v.is_number())
      return expected(path, "a number", v);
    out = v.get<double>();
    return true;
  }

  bool boolean(const json& v, const std::string& path, bool& out) {
    if (!v.is_boolean())
      return expected(path, "true or false", v);
    out = v.get<bool>();
    return true;
  }

  bool string(const json& v, const std::string& path, std::string& out) {
    if (!v.is_string())
      return expected(path, "a string", v);
    out = v.get<std::string>();
    return true;
  }

  bool strings(const json& v, const std::string& path,
               std::vector<std::string>& out) {
    if (!v.is_array())
      return expected(path, "an array of strings", v);
    std::vector<std::string> tmp;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string())
        return expected(index_path(path, i), "a string", v[i]);
      tmp.push_back(v[i].get<std::string>());
    }
    out = std::move(tmp);
    return true;
  }

  // Handler factories for the tables.
  handler u32_key(uint32_t& out) {
    return [this, &out](const json& v, const std::string& p) {
      return u32(v, p, out);
    };
  }
  handler number_key(double& out) {
    return [this, &out](const json& v, const std::string& p) {
      return number(v, p, out);
    };
  }
  handler bool_key(bool& out) {
    return [this, &out](const json& v, const std::string& p) {
      return boolean(v, p, out);
    };
  }
  handler string_key(std::string& out) {
    return [this, &out](const json& v, const std::string& p) {
      return string(v, p, out);
    };
  }
  handler strings_key(std::vector<std::string>& out) {
    return [this, &out](const json& v, const std::string& p) {
      return strings(v, p, out);
    };
  }
};

/// min_expires / max_expires / default_expires of one expiry group.
reader::table expiry_keys(reader& r, uint32_t& min, uint32_t& max,
                          uint32_t& def) {
  return {{"min_expires", r.u32_key(min)},
          {"max_expires", r.u32_key(max)},
          {"default_expires", r.u32_key(def)}};
}

bool read_engine(reader& r, const json& v, const std::string& path,
                 engine_config& e) {
  auto registration
      = expiry_keys(r, e.registration.min_expires, e.registration.max_expires,
                    e.registration.default_expires);
  registration.emplace_back("max_contacts",
                            r.u32_key(e.registration.max_contacts));
  auto subscription
      = expiry_keys(r, e.subscription_min_expires, e.subscription_max_expires,
                    e.subscription_default_expires);
  subscription.emplace_back("max_per_watcher",
                            r.u32_key(e.limits.max_per_watcher));
  subscription.emplace_back("max_per_target",
                            r.u32_key(e.limits.max_per_target));
  auto publish = expiry_keys(r, e.publish_min_expires, e.publish_max_expires,
                             e.publish_default_expires);
  reader::table keys{
      {"shards", r.u32_key(e.shards)},
      {"registration",
       [&](const json& x, const std::string& p) {
         return r.object(x, p, registration);
       }},
      {"subscription",
       [&](const json& x, const std::string& p) {
         return r.object(x, p, subscription);
       }},
      {"publish",
       [&](const json& x, const std::string& p) {
         return r.object(x, p, publish);
       }},
      {"auto_buddy", r.bool_key(e.auto_buddy)},
      {"expiry_granularity_ms",
       [&](const json& x, const std::string& p) {
         uint32_t ms = 0;
         if (!r.u32(x, p, ms))
           return false;
         e.expiry_granularity = std::chrono::milliseconds{ms};
         return true;
       }},
  };
  return r.object(v, path, keys);
}

bool read_notify(reader& r, const json& v, const std::string& path,
                 notify_config& n) {
  bool t1_given = false;
  bool timer_f_given = false;
  reader::table keys{
      {"t1_ms",
       [&](const json& x, const std::string& p) {
         t1_given = true;
         return r.u32(x, p, n.t1_ms);
       }},
      {"t2_ms", r.u32_key(n.t2_ms)},
      {"timer_f_ms",
       [&](const json& x, const std::string& p) {
         timer_f_given = true;
         return r.u32(x, p, n.timer_f_ms);
       }},
      {"end_subscription_on_failure",
       r.bool_key(n.end_subscription_on_failure)},
  };
  if (!r.object(v, path, keys))
    return false;
  if (t1_given && !timer_f_given) // RFC 3261 §17.1.2.2: F = 64*T1
    n.timer_f_ms = static_cast<uint32_t>(
        std::min<uint64_t>(uint64_t{64} * n.t1_ms, u32_max));
  return true;
}

bool read_config(reader& r, const json& doc, daemon_config& c) {
  reader::table auth{
      {"enabled", r.bool_key(c.auth.enabled)},
      {"realm", r.string_key(c.auth.realm)},
      {"credentials_file", r.string_key(c.auth.credentials_file)},
      {"nonce_lifetime", r.u32_key(c.auth.nonce_lifetime)},
      {"algorithms", r.strings_key(c.auth.algorithms)},
  };
  reader::table rate_limit{
      {"enabled", r.bool_key(c.rate_limit.enabled)},
      {"rate", r.number_key(c.rate_limit.rate)},
      {"burst", r.u32_key(c.rate_limit.burst)},
      {"retry_after", r.u32_key(c.rate_limit.retry_after)},
      {"max_sources", r.u32_key(c.rate_limit.max_sources)},
  };
  reader::table shutdown{
      {"terminate_subscriptions",
       r.bool_key(c.shutdown.terminate_subscriptions)},
  };
  reader::table limits{
      {"max_message_size", r.u32_key(c.limits.max_message_size)},
  };
  reader::table persistence{
      {"durability", r.string_key(c.persistence.durability)},
      {"data_dir", r.string_key(c.persistence.data_dir)},
      {"fold_entries", r.u32_key(c.persistence.fold_entries)},
  };
  reader::table cluster{
      {"node_id", r.string_key(c.cluster.node_id)},
      {"listen", r.string_key(c.cluster.listen)},
      {"join", r.strings_key(c.cluster.join)},
      {"replication", r.u32_key(c.cluster.replication)},
      {"heartbeat_ms", r.u32_key(c.cluster.heartbeat_ms)},
  };
  auto sub = [&r](const reader::table& t) {
    return [&r, &t](const json& x, const std::string& p) {
      return r.object(x, p, t);
    };
  };
  reader::table top{
      {"listen",
       [&](const json& x, const std::string& p) {
         std::vector<std::string> texts;
         if (!r.strings(x, p, texts))
           return false;
         std::vector<listen_spec> specs;
         for (size_t i = 0; i < texts.size(); ++i) {
           auto s = parse_listen(texts[i]);
           if (!s)
             return r.fail(index_path(p, i), s.err().reason);
           specs.push_back(std::move(*s));
         }
         c.listen = std::move(specs);
         return true;
       }},
      {"domains", r.strings_key(c.domains)},
      {"log_level", r.string_key(c.log_level)},
      {"server_name", r.string_key(c.server_name)},
      {"engine",
       [&](const json& x, const std::string& p) {
         return read_engine(r, x, p, c.engine);
       }},
      {"auth", sub(auth)},
      {"rate_limit", sub(rate_limit)},
      {"notify",
       [&](const json& x, const std::string& p) {
         return read_notify(r, x, p, c.notify);
       }},
      {"shutdown", sub(shutdown)},
      {"limits", sub(limits)},
      {"persistence", sub(persistence)},
      {"cluster", sub(cluster)},
  };
  return r.object(doc, "", top);
}

// -- JSON syntax errors and duplicate keys
// ------------------------------------------

/// A SAX consumer that only records the first syntax error (nlohmann's DOM
/// parser without exceptions says "discarded" but not where).
struct syntax_probe {
  size_t position = 0;
  std::string message;
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(number_integer_t) { return true; }
  bool number_unsigned(number_unsigned_t) { return true; }
  bool number_float(number_float_t, const string_t&) { return true; }
  bool string(string_t&) { return true; }
  bool binary(binary_t&) { return true; }
  bool start_object(size_t) { return true; }
  bool key(string_t&) { return true; }
  bool end_object() { return true; }
  bool start_array(size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(size_t pos, const std::string&,
                   const nlohmann::detail::exception& ex) {
    position = pos;
    message = ex.what();
    return false;
  }
};

core::error syntax_error(std::string_view text) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return config_error("no JSON: the text is empty (expected an object, "
                        "e.g. {})");
  syntax_probe probe;
  json::sax_parse(text, &probe);
  // nlohmann: "[json.exception.parse_error.101] parse error at line 1,
  // column 5: syntax error while parsing ..." -> keep what follows.
  auto msg = probe.message;
  if (auto i = msg.find(": "); i != std::string::npos)
    msg = msg.substr(i + 2);
  if (msg.empty())
    msg = "invalid JSON";
  // position: 1-based index of the offending byte; text.size() + 1 when the
  // input ended too early.
  size_t end = std::max<size_t>(probe.position, 1);
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i + 1 < end && i < text.size(); ++i)
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  size_t column = end - line_start;
  return config_error("JSON syntax error at line " + std::to_string(line)
                      + ", column " + std::to_string(column) + " (byte "
                      + std::to_string(probe.position) + "): " + msg);
}

/// Parser callback state: nlohmann keeps the last of duplicate keys
/// silently; a config file with "listen" twice is a mistake.
struct duplicate_probe {
  struct frame {
    bool object = true;
    std::string path;
    std::set<std::string> keys;
    std::string last_key;
    size_t index = 0;
  };
  std::vector<frame> stack;
  std::string duplicate; // path of the first duplicate key

  std::string child_path() {
    if (stack.empty())
      return {};
    auto& top = stack.back();
    if (top.object)
      return join_path(top.path, top.last_key);
    return index_path(top.path, top.index++);
  }

  void on(json::parse_event_t ev, const json& parsed) {
    using ev_t = json::parse_event_t;
    switch (ev) {
    case ev_t::object_start:
    case ev_t::array_start: {
      frame f;
      f.object = ev == ev_t::object_start;
      f.path = child_path();
      stack.push_back(std::move(f));
      break;
    }
    case ev_t::object_end:
    case ev_t::array_end:
      if (!stack.empty())
        stack.pop_back();
      break;
    case ev_t::key:
      if (!stack.empty() && parsed.is_string()) {
        auto& top = stack.back();
        top.last_key = parsed.get<std::string>();
        if (!top.keys.insert(top.last_key).second && duplicate.empty())
          duplicate = join_path(top.path, top.last_key);
      }
      break;
    case ev_t::value:
      if (!stack.empty() && !stack.back().object)
        ++stack.back().index;
      break;
    }
  }
};

// -- validation helpers
// ---------------------------------------------------------

core::error key_error(const std::string& path, const std::string& msg) {
  return config_error(in_quotes(path) + ": " + msg);
}

std::optional<core::error> check_expiry_group(const std::string& path,
                                              uint32_t min, uint32_t max,
                                              uint32_t def) {
  if (max == 0)
    return key_error(path + ".max_expires", "must be at least 1");
  if (min > max)
    return key_error(path + ".min_expires",
                     "(" + std::to_string(min)
                         + ") must not exceed max_expires ("
                         + std::to_string(max) + ")");
  if (def < min || def > max)
    return key_error(path + ".default_expires",
                     "(" + std::to_string(def)
                         + ") must lie between min_expires ("
                         + std::to_string(min) + ") and max_expires ("
                         + std::to_string(max) + ")");
  return std::nullopt;
}

std::optional<core::error> at_least(const std::string& path, uint64_t x,
                                    uint64_t min) {
  if (x < min)
    return key_error(path, "must be at least " + std::to_string(min) + ", got "
                               + std::to_string(x));
  return std::nullopt;
}

std::optional<core::error> at_most(const std::string& path, uint64_t x,
                                   uint64_t max) {
  if (x > max)
    return key_error(path, "must be at most " + std::to_string(max) + ", got "
                               + std::to_string(x));
  return std::nullopt;
}

const std::vector<std::string>& algorithm_names() {
  static const std::vector<std::string> names{"SHA-256", "MD5"};
  return names;
}

std::string join(const std::vector<std::string>& xs, const char* sep) {
  std::string r;
  for (auto& x : xs) {
    if (!r.empty())
      r += sep;
    r += x;
  }
  return r;
}

std::string format_number(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

} // namespace

// -- listen_spec
// --------------------------------------------------------------------

bool operator==(const listen_spec& x, const listen_spec& y) noexcept {
  return x.proto == y.proto && x.host == y.host && x.port == y.port;
}

core::result<listen_spec> parse_listen(std::string_view text) {
  auto fail = [&](const std::string& why) -> core::result<listen_spec> {
    return core::make_error(core::errc::invalid_input,
                            in_quotes(text) + ": " + why
                                + " (expected udp:HOST:PORT or tcp:HOST:PORT, "
                                  "IPv6 as udp:[::1]:5060)");
  };
  listen_spec r;
  auto colon = text.find(':');
  if (colon == std::string_view::npos)
    return fail("missing transport");
  auto proto = text.substr(0, colon);
  if (proto == "udp")
    r.proto = core::transport::udp;
  else if (proto == "tcp")
    r.proto = core::transport::tcp;
  else if (proto.empty())
    return fail("missing transport");
  else
    return fail("unknown transport " + in_quotes(proto));
  auto rest = text.substr(colon + 1);
  std::string_view host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      return fail("missing ']' after the IPv6 address");
    host = rest.substr(1, close - 1);
    auto after = rest.substr(close + 1);
    if (after.empty())
      return fail("missing port");
    if (after.front() != ':')
      return fail("expected ':' and a port after ']'");
    port = after.substr(1);
    if (host.empty())
      return fail("missing host");
    in6_addr a6{};
    if (inet_pton(AF_INET6, std::string{host}.c_str(), &a6) != 1)
      return fail(in_quotes(host) + " is not an IPv6 address");
  } else {
    auto sep = rest.find(':');
    if (sep == std::string_view::npos)
      return fail("missing port");
    host = rest.substr(0, sep);
    port = rest.substr(sep + 1);
    if (port.find(':') != std::string_view::npos)
      return fail("an IPv6 address must be written in brackets");
    if (host.empty())
      return fail("missing host");
    in_addr a4{};
    if (inet_pton(AF_INET, std::string{host}.c_str(), &a4) != 1)
      return fail(in_quotes(host)
                  + " is not a numeric IPv4 address (IPv6 goes in brackets)");
  }
  if (port.empty())
    return fail("missing port");
  auto p = parse_decimal(port, 65535);
  if (!p)
    return fail("bad port " + in_quotes(port) + " (0..65535)");
  r.host = std::string{host};
  r.port = static_cast<uint16_t>(*p);
  return r;
}

std::string to_string(const listen_spec& x) {
  std::string r = x.proto == core::transport::tcp ? "tcp:" : "udp:";
  if (x.host.find(':') != std::string::npos)
    r += "[" + x.host + "]";
  else
    r += x.host;
  r += ':';
  r += std::to_string(x.port);
  return r;
}

// -- daemon_config
// --------------------------------------------------------------------

bool operator==(const daemon_config& x, const daemon_config& y) noexcept {
  auto& a = x.engine;
  auto& b = y.engine;
  auto engine_eq
      = a.shards == b.shards
        && a.registration.min_expires == b.registration.min_expires
        && a.registration.max_expires == b.registration.max_expires
        && a.registration.default_expires == b.registration.default_expires
        && a.registration.max_contacts == b.registration.max_contacts
        && a.limits.max_per_watcher == b.limits.max_per_watcher
        && a.limits.max_per_target == b.limits.max_per_target
        && a.subscription_min_expires == b.subscription_min_expires
        && a.subscription_max_expires == b.subscription_max_expires
        && a.subscription_default_expires == b.subscription_default_expires
        && a.publish_min_expires == b.publish_min_expires
        && a.publish_max_expires == b.publish_max_expires
        && a.publish_default_expires == b.publish_default_expires
        && a.auto_buddy == b.auto_buddy
        && a.expiry_granularity == b.expiry_granularity;
  return x.listen == y.listen && x.domains == y.domains
         && x.log_level == y.log_level && x.server_name == y.server_name
         && engine_eq && x.auth.enabled == y.auth.enabled
         && x.auth.realm == y.auth.realm
         && x.auth.credentials_file == y.auth.credentials_file
         && x.auth.nonce_lifetime == y.auth.nonce_lifetime
         && x.auth.algorithms == y.auth.algorithms
         && x.rate_limit.enabled == y.rate_limit.enabled
         && x.rate_limit.rate == y.rate_limit.rate
         && x.rate_limit.burst == y.rate_limit.burst
         && x.rate_limit.retry_after == y.rate_limit.retry_after
         && x.rate_limit.max_sources == y.rate_limit.max_sources
         && x.notify.t1_ms == y.notify.t1_ms && x.notify.t2_ms == y.notify.t2_ms
         && x.notify.timer_f_ms == y.notify.timer_f_ms
         && x.notify.end_subscription_on_failure
                == y.notify.end_subscription_on_failure
         && x.shutdown.terminate_subscriptions
                == y.shutdown.terminate_subscriptions
         && x.limits.max_message_size == y.limits.max_message_size
         && x.persistence.durability == y.persistence.durability
         && x.persistence.data_dir == y.persistence.data_dir
         && x.persistence.fold_entries == y.persistence.fold_entries
         && x.cluster.node_id == y.cluster.node_id
         && x.cluster.listen == y.cluster.listen
         && x.cluster.join == y.cluster.join
         && x.cluster.replication == y.cluster.replication
         && x.cluster.heartbeat_ms == y.cluster.heartbeat_ms;
}

const std::vector<std::string>& log_level_names() {
  static const std::vector<std::string> names{"trace", "debug", "info",
                                              "warn",  "error", "off"};
  return names;
}

core::result<void> parse_config_json(std::string_view text,
                                     daemon_config& into) {
  duplicate_probe dups;
  json::parser_callback_t cb
      = [&dups](int, json::parse_event_t ev, json& parsed) {
          dups.on(ev, parsed);
          return true;
        };
  auto doc = json::parse(text, cb, false);
  if (doc.is_discarded())
    return syntax_error(text);
  if (!dups.duplicate.empty())
    return config_error("duplicate key " + in_quotes(dups.duplicate));
  reader r;
  try {
    if (!read_config(r, doc, into))
      return std::move(*r.err);
  } catch (const nlohmann::json::exception& ex) {
    // Every access above is type-checked first; this is a safety net.
    return config_error(ex.what());
  }
  return validate(into);
}

core::result<void> load_config_file(const std::string& path,
                                    daemon_config& into) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return config_error(path + ": cannot open the file for reading");
  // istream::read, unlike istreambuf_iterator, turns the streambuf's
  // exceptions (reading a directory) into badbit.
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0)
    text.append(buf, static_cast<size_t>(in.gcount()));
  if (in.bad())
    return config_error(path + ": cannot read the file");
  auto r = parse_config_json(text, into);
  if (!r) {
    // "config: msg" -> "config: PATH: msg"
    auto reason = r.err().reason;
    reason.insert(std::string_view{"config: "}.size(), path + ": ");
    return core::make_error(core::errc::invalid_input, std::move(reason));
  }
  return {};
}

core::result<void> validate(const daemon_config& c) {
  // listen
  if (c.listen.empty())
    return key_error("listen", "must list at least one address");
  for (size_t i = 0; i < c.listen.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (c.listen[i] == c.listen[j] && c.listen[i].port != 0)
        return key_error(index_path("listen", i),
                         to_string(c.listen[i]) + " is listed twice");
  // domains, names
  if (c.domains.empty())
    return key_error("domains", "must list at least one domain");
  for (size_t i = 0; i < c.domains.size(); ++i)
    if (c.domains[i].empty() || has_control_or_space(c.domains[i]))
      return key_error(index_path("domains", i),
                       "must be a domain name without spaces, got "
                           + in_quotes(c.domains[i]));
  auto& levels = log_level_names();
  if (std::find(levels.begin(), levels.end(), c.log_level) == levels.end())
    return key_error("log_level", "unknown level " + in_quotes(c.log_level)
                                      + " (expected one of "
                                      + join(levels, ", ") + ")");
  if (c.server_name.empty() || has_control(c.server_name))
    return key_error("server_name",
                     "must be non-empty without control characters");
  // persistence
  auto& d = c.persistence.durability;
  if (d != "off" && d != "async" && d != "sync")
    return key_error("persistence.durability",
                     "unknown mode " + in_quotes(d)
                         + " (expected one of off, async, sync)");
  if (d != "off" && c.persistence.data_dir.empty())
    return key_error("persistence.data_dir",
                     "must name a directory when durability is not off");
  if (auto x = at_least("persistence.fold_entries", c.persistence.fold_entries, 1))
    return *x;
  // engine
  auto& e = c.engine;
  if (auto x = at_least("engine.shards", e.shards, 1))
    return *x;
  if (auto x = at_most("engine.shards", e.shards, 1024))
    return *x;
  if (auto x = check_expiry_group(
          "engine.registration", e.registration.min_expires,
          e.registration.max_expires, e.registration.default_expires))
    return *x;
  if (auto x = at_least("engine.registration.max_contacts",
                        e.registration.max_contacts, 1))
    return *x;
  if (auto x = check_expiry_group(
          "engine.subscription", e.subscription_min_expires,
          e.subscription_max_expires, e.subscription_default_expires))
    return *x;
  if (auto x = at_least("engine.subscription.max_per_watcher",
                        e.limits.max_per_watcher, 1))
    return *x;
  if (auto x = at_least("engine.subscription.max_per_target",
                        e.limits.max_per_target, 1))
    return *x;
  if (auto x
      = check_expiry_group("engine.publish", e.publish_min_expires,
                           e.publish_max_expires, e.publish_default_expires))
    return *x;
  if (e.expiry_granularity.count() < 1)
    return key_error("engine.expiry_granularity_ms", "must be at least 1");
  // auth
  if (c.auth.enabled && c.auth.credentials_file.empty())
    return key_error("auth.credentials_file",
                     "must be set when auth.enabled is true");
  if (has_control(c.auth.realm) || c.auth.realm.find('"') != std::string::npos
      || c.auth.realm.find('\\') != std::string::npos)
    return key_error("auth.realm",
                     "must not contain quotes, backslashes or control "
                     "characters");
  if (auto x = at_least("auth.nonce_lifetime", c.auth.nonce_lifetime, 1))
    return *x;
  if (c.auth.algorithms.empty())
    return key_error("auth.algorithms", "must list at least one algorithm");
  auto& algs = algorithm_names();
  for (size_t i = 0; i < c.auth.algorithms.size(); ++i) {
    auto& a = c.auth.algorithms[i];
    if (std::find(algs.begin(), algs.end(), a) == algs.end())
      return key_error(index_path("auth.algorithms", i),
                       "unknown algorithm " + in_quotes(a) + " (expected "
                           + join(algs, " or ") + ")");
    for (size_t j = 0; j < i; ++j)
      if (c.auth.algorithms[j] == a)
        return key_error(index_path("auth.algorithms", i),
                         in_quotes(a) + " is listed twice");
  }
  // rate_limit
  if (!std::isfinite(c.rate_limit.rate) || c.rate_limit.rate <= 0)
    return key_error("rate_limit.rate",
                     "must be a number > 0 (requests per second), got "
                         + format_number(c.rate_limit.rate));
  if (auto x = at_least("rate_limit.burst", c.rate_limit.burst, 1))
    return *x;
  if (auto x = at_least("rate_limit.retry_after", c.rate_limit.retry_after, 1))
    return *x;
  if (auto x = at_least("rate_limit.max_sources", c.rate_limit.max_sources, 1))
    return *x;
  // notify
  auto& n = c.notify;
  if (auto x = at_least("notify.t1_ms", n.t1_ms, 1))
    return *x;
  if (n.t2_ms < n.t1_ms)
    return key_error("notify.t2_ms", "(" + std::to_string(n.t2_ms)
                                         + ") must be at least t1_ms ("
                                         + std::to_string(n.t1_ms) + ")");
  if (n.timer_f_ms < n.t1_ms)
    return key_error("notify.timer_f_ms", "(" + std::to_string(n.timer_f_ms)
                                              + ") must be at least t1_ms ("
                                              + std::to_string(n.t1_ms) + ")");
  // limits
  if (auto x
      = at_least("limits.max_message_size", c.limits.max_message_size, 1024))
    return *x;
  if (auto x = at_most("limits.max_message_size", c.limits.max_message_size,
                       16 * 1024 * 1024))
    return *x;
  // cluster
  auto& cl = c.cluster;
  if (cl.listen.empty()) {
    if (!cl.node_id.empty() || !cl.join.empty())
      return key_error("cluster.listen",
                       "must be set when cluster.node_id or cluster.join is "
                       "(the node's own cluster address, e.g. "
                       "127.0.0.1:7001)");
  } else {
    if (auto a = parse_cluster_address(cl.listen, false); !a)
      return key_error("cluster.listen", a.err().reason);
    if (cl.node_id.empty())
      return key_error("cluster.node_id",
                       "must be set when cluster.listen is (this node's "
                       "id, unique in the cluster)");
    if (!valid_node_id(cl.node_id))
      return key_error("cluster.node_id",
                       in_quotes(cl.node_id)
                           + ": expected 1..64 letters, digits, '-', '_' "
                             "or '.'");
    for (size_t i = 0; i < cl.join.size(); ++i) {
      auto a = parse_cluster_address(cl.join[i], true);
      if (!a)
        return key_error(index_path("cluster.join", i), a.err().reason);
      for (size_t j = 0; j < i; ++j)
        if (cl.join[j] == cl.join[i])
          return key_error(index_path("cluster.join", i),
                           in_quotes(cl.join[i]) + " is listed twice");
    }
  }
  if (auto x = at_least("cluster.replication", cl.replication, 1))
    return *x;
  if (auto x = at_most("cluster.replication", cl.replication, 16))
    return *x;
  if (auto x = at_least("cluster.heartbeat_ms", cl.heartbeat_ms, 10))
    return *x;
  if (auto x = at_most("cluster.heartbeat_ms", cl.heartbeat_ms, 60000))
    return *x;
  return {};
}

std::string to_json_text(const daemon_config& c) {
  auto expiry = [](uint32_t min, uint32_t max, uint32_t def) {
    json j;
    j["min_expires"] = min;
    j["max_expires"] = max;
    j["default_expires"] = def;
    return j;
  };
  auto& e = c.engine;
  json doc;
  doc["listen"] = json::array();
  for (auto& l : c.listen)
    doc["listen"].push_back(to_string(l));
  doc["domains"] = c.domains;
  doc["log_level"] = c.log_level;
  doc["server_name"] = c.server_name;
  json engine;
  engine["shards"] = e.shards;
  engine["registration"]
      = expiry(e.registration.min_expires, e.registration.max_expires,
               e.registration.default_expires);
  engine["registration"]["max_contacts"] = e.registration.max_contacts;
  engine["subscription"]
      = expiry(e.subscription_min_expires, e.subscription_max_expires,
               e.subscription_default_expires);
  engine["subscription"]["max_per_watcher"] = e.limits.max_per_watcher;
  engine["subscription"]["max_per_target"] = e.limits.max_per_target;
  engine["publish"] = expiry(e.publish_min_expires, e.publish_max_expires,
                             e.publish_default_expires);
  engine["auto_buddy"] = e.auto_buddy;
  engine["expiry_granularity_ms"] = e.expiry_granularity.count();
  doc["engine"] = std::move(engine);
  doc["auth"]["enabled"] = c.auth.enabled;
  doc["auth"]["realm"] = c.auth.realm;
  doc["auth"]["credentials_file"] = c.auth.credentials_file;
  doc["auth"]["nonce_lifetime"] = c.auth.nonce_lifetime;
  doc["auth"]["algorithms"] = c.auth.algorithms;
  doc["rate_limit"]["enabled"] = c.rate_limit.enabled;
  doc["rate_limit"]["rate"] = c.rate_limit.rate;
  doc["rate_limit"]["burst"] = c.rate_limit.burst;
  doc["rate_limit"]["retry_after"] = c.rate_limit.retry_after;
  doc["rate_limit"]["max_sources"] = c.rate_limit.max_sources;
  doc["notify"]["t1_ms"] = c.notify.t1_ms;
  doc["notify"]["t2_ms"] = c.notify.t2_ms;
  doc["notify"]["timer_f_ms"] = c.notify.timer_f_ms;
  doc["notify"]["end_subscription_on_failure"]
      = c.notify.end_subscription_on_failure;
  doc["shutdown"]["terminate_subscriptions"]
      = c.shutdown.terminate_subscriptions;
  doc["limits"]["max_message_size"] = c.limits.max_message_size;
  doc["persistence"]["durability"] = c.persistence.durability;
  doc["persistence"]["data_dir"] = c.persistence.data_dir;
  doc["persistence"]["fold_entries"] = c.persistence.fold_entries;
  doc["cluster"]["node_id"] = c.cluster.node_id;
  doc["cluster"]["listen"] = c.cluster.listen;
  doc["cluster"]["join"] = c.cluster.join;
  doc["cluster"]["replication"] = c.cluster.replication;
  doc["cluster"]["heartbeat_ms"] = c.cluster.heartbeat_ms;
  return doc.dump(2) + "\n";
}

// -- command line
// ---------------------------------------------------------------------

namespace {

/// CLI11 converts unsigned integers with strtoull base 0 ("010" = 8,
/// "0x10" = 16); flags take decimal only, like the JSON file.
CLI::Validator decimal_u32() {
  return CLI::Validator(
      [](std::string& x) -> std::string {
        auto v = parse_decimal(x, u32_max);
        if (!v)
          return "expected a decimal unsigned integer <= "
                 + std::to_string(u32_max) + ", got " + in_quotes(x);
        x = std::to_string(*v); // strips leading zeros
        return {};
      },
      "", "decimal");
}

} // namespace

void add_cli_options(CLI::App& app, cli_options& out) {
  const daemon_config d;
  auto& e = d.engine;
  auto num = [](auto x) { return std::to_string(x); };
  std::string default_listen;
  for (auto& l : d.listen)
    default_listen += (default_listen.empty() ? "" : " ") + to_string(l);

  app.add_option("--config", out.config_file,
                 "JSON configuration file (keys: docs/configuration.md). "
                 "Flags override its values. Default: none, built-in "
                 "defaults")
      ->type_name("FILE")
      ->group("Configuration");
  app.add_flag("--print-config", out.print_config,
               "Print the effective configuration (defaults < --config file "
               "< flags) as JSON and exit")
      ->group("Configuration");

  const char* server = "Server";
  app.add_option_function<std::vector<std::string>>(
         "--listen",
         [&out](const std::vector<std::string>& v) { out.listen = v; },
         "Where to serve SIP, repeatable; replaces the configured list: "
         "udp:HOST:PORT or tcp:HOST:PORT, numeric addresses, IPv6 in brackets "
         "(udp:[::1]:5060), port 0 = any free one. JSON: listen. Default: "
             + default_listen)
      ->type_name("ADDR")
      ->group(server);
  app.add_option_function<std::vector<std::string>>(
         "--domain",
         [&out](const std::vector<std::string>& v) { out.domains = v; },
         "Domain this registrar serves, repeatable; replaces the configured "
         "list. JSON: domains. Default: "
             + join(d.domains, " "))
      ->type_name("DOMAIN")
      ->group(server);
  app.add_option_function<std::string>(
         "--log-level", [&out](const std::string& v) { out.log_level = v; },
         "One of " + join(log_level_names(), ", ")
             + ". JSON: log_level. Default: " + d.log_level)
      ->type_name("LEVEL")
      ->group(server);
  app.add_option_function<uint32_t>(
         "--shards", [&out](const uint32_t& v) { out.shards = v; },
         "Directory shards of the engine, 1..1024. JSON: engine.shards. "
         "Default: "
             + num(e.shards))
      ->type_name("N")
      ->transform(decimal_u32())
      ->group(server);
  app.add_flag_callback(
         "--no-auto-buddy", [&out] { out.no_auto_buddy = true; },
         "Peer-to-peer mode: no automatic buddy lists, only explicit "
         "subscriptions. JSON: engine.auto_buddy. Default: auto-buddy on")
      ->group(server);

  const char* reg = "Registration";
  app.add_option_function<uint32_t>(
         "--min-expires", [&out](const uint32_t& v) { out.min_expires = v; },
         "Shortest accepted registration in seconds (shorter: 423). JSON: "
         "engine.registration.min_expires. Default: "
             + num(e.registration.min_expires))
      ->type_name("SECONDS")
      ->transform(decimal_u32())
      ->group(reg);
  app.add_option_function<uint32_t>(
         "--max-expires", [&out](const uint32_t& v) { out.max_expires = v; },
         "Longest granted registration in seconds (longer ones are "
         "shortened). JSON: engine.registration.max_expires. Default: "
             + num(e.registration.max_expires))
      ->type_name("SECONDS")
      ->transform(decimal_u32())
      ->group(reg);
  app.add_option_function<uint32_t>(
         "--default-expires",
         [&out](const uint32_t& v) { out.default_expires = v; },
         "Registration expiry when the request gives none, between min and "
         "max. JSON: engine.registration.default_expires. Default: "
             + num(e.registration.default_expires))
      ->type_name("SECONDS")
      ->transform(decimal_u32())
      ->group(reg);
  app.add_option_function<uint32_t>(
         "--max-contacts", [&out](const uint32_t& v) { out.max_contacts = v; },
         "Bindings per address of record (more: 403). JSON: "
         "engine.registration.max_contacts. Default: "
             + num(e.registration.max_contacts))
      ->type_name("N")
      ->transform(decimal_u32())
      ->group(reg);

  const char* auth = "Authentication (digest)";
  auto* on = app.add_flag_callback(
      "--auth", [&out] { out.auth = true; },
      "Require digest authentication (needs a credentials file). JSON: "
      "auth.enabled. Default: off");
  auto* off = app.add_flag_callback(
      "--no-auth", [&out] { out.auth = false; },
      "Turn authentication off, also when the file or --credentials turns it "
      "on");
  on->excludes(off)->group(auth);
  off->excludes(on)->group(auth);
  app.add_option_function<std::string>(
         "--credentials",
         [&out](const std::string& v) { out.credentials_file = v; },
         "File with the users' credentials; turns authentication on unless "
         "--no-auth is given. JSON: auth.credentials_file. Default: none")
      ->type_name("FILE")
      ->group(auth);
  app.add_option_function<std::string>(
         "--realm", [&out](const std::string& v) { out.realm = v; },
         "Digest realm. JSON: auth.realm. Default: the first domain")
      ->type_name("REALM")
      ->group(auth);

  const char* persist = "Persistence";
  app.add_option_function<std::string>(
         "--durability", [&out](const std::string& v) { out.durability = v; },
         "sync (a 2xx leaves once its change is on disk), async (written "
         "within milliseconds, not waited for) or off (memory only). JSON: "
         "persistence.durability. Default: "
             + d.persistence.durability)
      ->type_name("MODE")
      ->group(persist);
  app.add_option_function<std::string>(
         "--data-dir", [&out](const std::string& v) { out.data_dir = v; },
         "Directory of the journal (registrar.db and its log, registrar-log.0 and .1), created "
         "when missing. JSON: persistence.data_dir. Default: "
             + d.persistence.data_dir)
      ->type_name("DIR")
      ->group(persist);

  const char* cluster = "Cluster (off unless --cluster-listen is given)";
  app.add_option_function<std::string>(
         "--node-id", [&out](const std::string& v) { out.node_id = v; },
         "This node's id, unique in the cluster (letters, digits, - _ .); "
         "required with --cluster-listen. JSON: cluster.node_id. Default: "
         "none")
      ->type_name("ID")
      ->group(cluster);
  app.add_option_function<std::string>(
         "--cluster-listen",
         [&out](const std::string& v) { out.cluster_listen = v; },
         "Turns clustering on: where this node's cluster node is published, "
         "HOST:PORT (numeric address, IPv6 in brackets, port 0 = any free "
         "one). JSON: cluster.listen. Default: none, no cluster")
      ->type_name("HOST:PORT")
      ->group(cluster);
  app.add_option_function<std::vector<std::string>>(
         "--join", [&out](const std::vector<std::string>& v) { out.join = v; },
         "A node to join the cluster through, HOST:PORT; repeatable or "
         "comma-separated; replaces the configured list. JSON: cluster.join. "
         "Default: none (the first node)")
      ->type_name("HOST:PORT")
      ->delimiter(',')
      ->group(cluster);

  const char* rate = "Rate limiting (per source address, 503 + Retry-After)";
  app.add_option_function<double>(
         "--rate-limit", [&out](const double& v) { out.rate_limit = v; },
         "Requests per second per source address; 0 turns rate limiting off, "
         "> 0 turns it on. JSON: rate_limit.enabled + rate_limit.rate. "
         "Default: off (rate "
             + format_number(d.rate_limit.rate) + " when enabled)")
      ->type_name("RATE")
      ->group(rate);
  app.add_option_function<uint32_t>(
         "--burst", [&out](const uint32_t& v) { out.burst = v; },
         "Requests a source may send at once. JSON: rate_limit.burst. Default: "
             + num(d.rate_limit.burst))
      ->type_name("N")
      ->transform(decimal_u32())
      ->group(rate);
}

core::result<void> apply_cli_options(const cli_options& o, daemon_config& cfg) {
  if (o.listen) {
    std::vector<listen_spec> specs;
    for (auto& text : *o.listen) {
      auto s = parse_listen(text);
      if (!s)
        return core::make_error(core::errc::invalid_input,
                                "--listen " + s.err().reason);
      specs.push_back(std::move(*s));
    }
    cfg.listen = std::move(specs);
  }
  if (o.domains)
    cfg.domains = *o.domains;
  if (o.log_level)
    cfg.log_level = *o.log_level;
  if (o.shards)
    cfg.engine.shards = *o.shards;
  if (o.min_expires)
    cfg.engine.registration.min_expires = *o.min_expires;
  if (o.max_expires)
    cfg.engine.registration.max_expires = *o.max_expires;
  if (o.default_expires)
    cfg.engine.registration.default_expires = *o.default_expires;
  if (o.max_contacts)
    cfg.engine.registration.max_contacts = *o.max_contacts;
  if (o.no_auto_buddy)
    cfg.engine.auto_buddy = false;
  if (o.durability)
    cfg.persistence.durability = *o.durability;
  if (o.data_dir)
    cfg.persistence.data_dir = *o.data_dir;
  if (o.credentials_file) {
    cfg.auth.credentials_file = *o.credentials_file;
    cfg.auth.enabled = true;
  }
  if (o.auth)
    cfg.auth.enabled = *o.auth;
  if (o.realm)
    cfg.auth.realm = *o.realm;
  if (o.rate_limit) {
    auto r = *o.rate_limit;
    if (!std::isfinite(r) || r < 0)
      return core::make_error(core::errc::invalid_input,
                              "--rate-limit: expected a number >= 0 "
                              "(requests per second, 0 = off), got "
                                  + format_number(r));
    if (r == 0) {
      cfg.rate_limit.enabled = false;
    } else {
      cfg.rate_limit.enabled = true;
      cfg.rate_limit.rate = r;
    }
  }
  if (o.burst)
    cfg.rate_limit.burst = *o.burst;
  if (o.node_id)
    cfg.cluster.node_id = *o.node_id;
  if (o.cluster_listen)
    cfg.cluster.listen = *o.cluster_listen;
  if (o.join)
    cfg.cluster.join = *o.join;
  return validate(cfg);
}

// -- derived values
// ---------------------------------------------------------------------

std::string auth_realm(const daemon_config& cfg) {
  if (!cfg.auth.realm.empty())
    return cfg.auth.realm;
  return cfg.domains.empty() ? std::string{} : cfg.domains.front();
}

core::rate_limit_settings rate_limiter_settings(const daemon_config& cfg) {
  core::rate_limit_settings r;
  r.rate = cfg.rate_limit.rate;
  r.burst = cfg.rate_limit.burst;
  r.max_sources = cfg.rate_limit.max_sources;
  return r;
}

durability durability_of(const daemon_config& cfg) {
  auto& d = cfg.persistence.durability;
  if (d == "off")
    return durability::off;
  if (d == "async")
    return durability::async;
  return durability::sync;
}

std::string journal_path(const daemon_config& cfg) {
  return cfg.persistence.data_dir + "/registrar.db";
}

bool cluster_enabled(const daemon_config& cfg) noexcept {
  return !cfg.cluster.listen.empty();
}

cluster_settings cluster_settings_of(const daemon_config& cfg) {
  cluster_settings s;
  s.node_id = cfg.cluster.node_id;
  if (auto a = parse_cluster_address(cfg.cluster.listen, false))
    s.listen = *a;
  for (auto& text : cfg.cluster.join)
    if (auto a = parse_cluster_address(text, true))
      s.seeds.push_back(*a);
  s.replication = cfg.cluster.replication;
  s.heartbeat = std::chrono::milliseconds{cfg.cluster.heartbeat_ms};
  s.connection_timeout = 4 * s.heartbeat;
  return s;
}

std::string summary(const daemon_config& c) {
  std::string r = "listening on";
  for (auto& l : c.listen)
    r += " " + to_string(l);
  r += "; domains " + join(c.domains, " ");
  r += "; " + std::to_string(c.engine.shards) + " shards";
  auto& reg = c.engine.registration;
  r += "; expires " + std::to_string(reg.min_expires) + ".."
       + std::to_string(reg.max_expires) + " s (default "
       + std::to_string(reg.default_expires) + "), "
       + std::to_string(reg.max_contacts) + " contacts per AOR";
  r += c.engine.auto_buddy ? "; auto-buddy on" : "; auto-buddy off";
  if (c.auth.enabled)
    r += "; auth on (realm " + auth_realm(c) + ", "
         + join(c.auth.algorithms, " ") + ")";
  else
    r += "; auth off";
  if (c.rate_limit.enabled)
    r += "; rate limit " + format_number(c.rate_limit.rate)
         + "/s per source, burst " + std::to_string(c.rate_limit.burst);
  else
    r += "; rate limit off";
  if (c.persistence.durability == "off")
    r += "; durability off (memory only)";
  else
    r += "; durability " + c.persistence.durability + " (" + journal_path(c) + ")";
  r += "; max message " + std::to_string(c.limits.max_message_size)
       + " bytes; log level " + c.log_level;
  if (cluster_enabled(c)) {
    r += "; cluster node " + c.cluster.node_id + " at " + c.cluster.listen;
    r += c.cluster.join.empty() ? std::string{", first node"}
                                : ", joining " + join(c.cluster.join, " ");
  }
  return r;
}

} // namespace regcore::actors
