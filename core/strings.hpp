// SPDX-License-Identifier: MIT
#pragma once

// Small ASCII string helpers shared by the parsers (no locale, no allocation).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace regcore::core {

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Case-insensitive ASCII comparison.
constexpr bool iequals(std::string_view x, std::string_view y) noexcept {
  if (x.size() != y.size())
    return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (ascii_lower(x[i]) != ascii_lower(y[i]))
      return false;
  return true;
}

/// Lower-cased copy.
inline std::string to_lower(std::string_view x) {
  std::string r{x};
  for (auto& c : r)
    c = ascii_lower(c);
  return r;
}

constexpr bool is_lws(char c) noexcept {
  return c == ' ' || c == '\t';
}

/// Strips spaces, tabs, CR and LF on both ends.
constexpr std::string_view trim(std::string_view x) noexcept {
  while (!x.empty() && (is_lws(x.front()) || x.front() == '\r' || x.front() == '\n'))
    x.remove_prefix(1);
  while (!x.empty() && (is_lws(x.back()) || x.back() == '\r' || x.back() == '\n'))
    x.remove_suffix(1);
  return x;
}

/// Parses an unsigned decimal that fits in uint32_t (no sign, no spaces).
constexpr std::optional<uint32_t> parse_uint32(std::string_view x) noexcept {
  if (x.empty() || x.size() > 10)
    return std::nullopt;
  uint64_t v = 0;
  for (char c : x) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xFFFFFFFFull)
    return std::nullopt;
  return static_cast<uint32_t>(v);
}

} // namespace regcore::core
