// SPDX-License-Identifier: MIT
#include "actors/cluster_settings.hpp"

#include <algorithm>
#include <arpa/inet.h>

namespace regcore::actors {

namespace {

std::string in_quotes(std::string_view x) {
  return "\"" + std::string{x} + "\"";
}

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9');
}

/// RFC 1123 host name: labels of letters, digits and '-', separated by '.'.
bool valid_host_name(std::string_view x) noexcept {
  if (x.empty() || x.size() > 253)
    return false;
  size_t label = 0;
  char prev = '.';
  for (auto c : x) {
    if (c == '.') {
      if (label == 0 || prev == '-')
        return false;
      label = 0;
    } else if (is_alnum(c) || c == '-') {
      if (label == 0 && c == '-')
        return false;
      if (++label > 63)
        return false;
    } else {
      return false;
    }
    prev = c;
  }
  return prev != '-';
}

} // namespace

bool operator==(const cluster_address& x, const cluster_address& y) noexcept {
  return x.host == y.host && x.port == y.port;
}

std::string to_string(const cluster_address& x) {
  std::string r;
  if (x.host.find(':') != std::string::npos)
    r = "[" + x.host + "]";
  else
    r = x.host;
  r += ':';
  r += std::to_string(x.port);
  return r;
}

core::result<cluster_address> parse_cluster_address(std::string_view text,
                                                    bool allow_names) {
  auto fail = [&](const std::string& why) -> core::result<cluster_address> {
    return core::make_error(core::errc::invalid_input,
                            in_quotes(text) + ": " + why
                                + (allow_names
                                       ? " (expected HOST:PORT, HOST a "
                                         "numeric address, a host name or "
                                         "[IPv6])"
                                       : " (expected HOST:PORT, HOST a "
                                         "numeric address, IPv6 in "
                                         "brackets)"));
  };
  std::string_view host;
  std::string_view port;
  bool v6 = false;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return fail("missing ']' after the IPv6 address");
    host = text.substr(1, close - 1);
    auto after = text.substr(close + 1);
    if (after.empty() || after.front() != ':')
      return fail("expected ':' and a port after ']'");
    port = after.substr(1);
    v6 = true;
  } else {
    auto sep = text.rfind(':');
    if (sep == std::string_view::npos)
      return fail("missing port");
    host = text.substr(0, sep);
    port = text.substr(sep + 1);
    if (host.find(':') != std::string_view::npos)
      return fail("an IPv6 address must be written in brackets");
  }
  if (host.empty())
    return fail("missing host");
  if (v6) {
    in6_addr a6{};
    if (inet_pton(AF_INET6, std::string{host}.c_str(), &a6) != 1)
      return fail(in_quotes(host) + " is not an IPv6 address");
  } else {
    in_addr a4{};
    bool numeric = inet_pton(AF_INET, std::string{host}.c_str(), &a4) == 1;
    if (!numeric) {
      if (!allow_names)
        return fail(in_quotes(host) + " is not a numeric IPv4 address");
      bool digits_and_dots = std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '.';
      });
      if (digits_and_dots || !valid_host_name(host))
        return fail(in_quotes(host)
                    + " is neither a numeric address nor a host name");
    }
  }
  if (port.empty())
    return fail("missing port");
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
        return c >= '0' && c <= '9';
      }))
    return fail("bad port " + in_quotes(port) + " (0..65535)");
  auto p = std::stoul(std::string{port});
  if (p > 65535)
    return fail("bad port " + in_quotes(port) + " (0..65535)");
  cluster_address r;
  r.host = std::string{host};
  r.port = static_cast<uint16_t>(p);
  return r;
}

bool valid_node_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 64)
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return is_alnum(c) || c == '-' || c == '_' || c == '.';
  });
}

} // namespace regcore::actors
