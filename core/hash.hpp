// SPDX-License-Identifier: MIT
#pragma once

// A stable string hash for sharding. std::hash may differ between builds and
// processes; shard and node ownership must agree everywhere (issue:
// distribution), so we use 64-bit FNV-1a, which is fixed by definition.

#include <cstdint>
#include <string_view>

namespace regcore::core {

/// 64-bit FNV-1a of `x`.
constexpr uint64_t stable_hash(std::string_view x) noexcept {
  uint64_t h = 14695981039346656037ull;
  for (char c : x) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

/// splitmix64's finaliser: every bit of `z` reaches every bit of the result
/// (FNV-1a's high bits barely change with a key's last characters).
constexpr uint64_t mix64(uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// Index of the shard (0..n-1) that owns a key of stable_hash `h`; 0 when n
/// is 0.
constexpr uint32_t shard_of_hash(uint64_t h, uint32_t n) noexcept {
  return n == 0 ? 0 : static_cast<uint32_t>(h % n);
}

/// Index of the shard (0..n-1) that owns `key`; 0 when n is 0.
constexpr uint32_t shard_of(std::string_view key, uint32_t n) noexcept {
  return shard_of_hash(stable_hash(key), n);
}

} // namespace regcore::core
