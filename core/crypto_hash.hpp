// SPDX-License-Identifier: MIT
#pragma once

// Message digests for SIP digest authentication (core/digest.hpp): MD5
// (RFC 1321), SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104). core/ links
// only tinyxml2, so they are implemented here. MD5 is broken for collision
// resistance; it is here only because RFC 2617 / RFC 3261 digest needs it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace regcore::core {

/// Incremental MD5 (RFC 1321): update() any number of times, then finish().
class md5 {
public:
  /// Bytes in a digest.
  static constexpr size_t digest_size = 16;

  /// The 16-byte digest.
  using digest_type = std::array<uint8_t, digest_size>;

  /// A fresh hash state (RFC 1321 §3.3).
  md5() noexcept { reset(); }

  /// Back to the fresh state.
  void reset() noexcept;

  /// Appends `size` bytes at `data`.
  void update(const uint8_t* data, size_t size) noexcept;

  /// Appends the bytes of `data`.
  void update(std::string_view data) noexcept;

  /// Pads (RFC 1321 §3.1-3.2), returns the digest and resets the state.
  digest_type finish() noexcept;

private:
  void compress(const uint8_t* block) noexcept;

  std::array<uint32_t, 4> state_{};
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0; // bytes absorbed so far
};

/// Incremental SHA-256 (FIPS 180-4 §6.2): update() any number of times, then
/// finish().
class sha256 {
public:
  /// Bytes in a digest.
  static constexpr size_t digest_size = 32;

  /// Bytes in a block (the HMAC block size B of RFC 2104).
  static constexpr size_t block_size = 64;

  /// The 32-byte digest.
  using digest_type = std::array<uint8_t, digest_size>;

  /// A fresh hash state (FIPS 180-4 §5.3.3).
  sha256() noexcept { reset(); }

  /// Back to the fresh state.
  void reset() noexcept;

  /// Appends `size` bytes at `data`.
  void update(const uint8_t* data, size_t size) noexcept;

  /// Appends the bytes of `data`.
  void update(std::string_view data) noexcept;

  /// Pads (FIPS 180-4 §5.1.1), returns the digest and resets the state.
  digest_type finish() noexcept;

private:
  void compress(const uint8_t* block) noexcept;

  std::array<uint32_t, 8> state_{};
  std::array<uint8_t, block_size> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0; // bytes absorbed so far
};

/// MD5 of `data`.
md5::digest_type md5_digest(std::string_view data) noexcept;

/// SHA-256 of `data`.
sha256::digest_type sha256_digest(std::string_view data) noexcept;

/// HMAC-SHA-256 (RFC 2104, test vectors in RFC 4231) of `message` under
/// `key`; a key longer than 64 bytes is hashed first.
sha256::digest_type hmac_sha256(std::string_view key,
                                std::string_view message) noexcept;

/// Lower-case hex of `size` bytes at `data`.
std::string to_hex(const uint8_t* data, size_t size);

/// Lower-case hex of a digest.
template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& bytes) {
  return to_hex(bytes.data(), N);
}

/// Lower-case hex MD5 of `data` (32 characters).
std::string md5_hex(std::string_view data);

/// Lower-case hex SHA-256 of `data` (64 characters).
std::string sha256_hex(std::string_view data);

/// Lower-case hex HMAC-SHA-256 of `message` under `key` (64 characters).
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

/// Compares two strings in time that depends only on their lengths, not on
/// where they differ (for MACs and digest responses). Strings of different
/// lengths are unequal.
bool constant_time_equal(std::string_view x, std::string_view y) noexcept;

} // namespace regcore::core
