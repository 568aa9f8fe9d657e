// SPDX-License-Identifier: MIT
#include "core/crypto_hash.hpp"

#include <algorithm>
#include <cstring>

namespace regcore::core {

namespace {

constexpr uint32_t rotl(uint32_t x, unsigned n) noexcept {
  return (x << n) | (x >> (32 - n));
}

constexpr uint32_t rotr(uint32_t x, unsigned n) noexcept {
  return (x >> n) | (x << (32 - n));
}

const uint8_t* bytes_of(std::string_view x) noexcept {
  return reinterpret_cast<const uint8_t*>(x.data());
}

/// Feeds `data` block by block into `compress`, keeping the tail in
/// `buffer` (shared by MD5 and SHA-256: both use 64-byte blocks).
template <class Compress>
void absorb(std::array<uint8_t, 64>& buffer, size_t& buffered, uint64_t& length,
            const uint8_t* data, size_t size, Compress compress) noexcept {
  length += size;
  if (buffered > 0) {
    size_t n = std::min(size, buffer.size() - buffered);
    std::memcpy(buffer.data() + buffered, data, n);
    buffered += n;
    data += n;
    size -= n;
    if (buffered < buffer.size())
      return;
    compress(buffer.data());
    buffered = 0;
  }
  for (; size >= buffer.size(); data += buffer.size(), size -= buffer.size())
    compress(data);
  if (size > 0) {
    std::memcpy(buffer.data(), data, size);
    buffered = size;
  }
}

/// The padding block(s): 0x80, zeros, then the bit length as 8 bytes, so
/// the total is a multiple of 64 (RFC 1321 §3.1-3.2, FIPS 180-4 §5.1.1).
/// `big_endian` selects the byte order of the length field.
template <class Update>
void pad(uint64_t length, bool big_endian, Update update) noexcept {
  uint8_t tail[72] = {0x80};
  size_t zeros = (55 - length % 64 + 64) % 64; // so length+1+zeros == 56 mod 64
  uint64_t bits = length * 8;
  for (size_t i = 0; i < 8; ++i) {
    auto shift = big_endian ? (56 - 8 * i) : (8 * i);
    tail[1 + zeros + i] = static_cast<uint8_t>(bits >> shift);
  }
  update(tail, 1 + zeros + 8);
}

// --- MD5 constants (RFC 1321 §3.4) -----------------------------------------

constexpr uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
    0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
    0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
    0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
    0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

constexpr unsigned md5_shift[64] = {
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
    5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

// --- SHA-256 constants (FIPS 180-4 §4.2.2) ---------------------------------

constexpr uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

} // namespace

// --- MD5 -------------------------------------------------------------------

void md5::reset() noexcept {
  state_ = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}; // RFC 1321 §3.3
  buffered_ = 0;
  length_ = 0;
}

// RFC 1321 §3.4: four rounds of 16 operations on a little-endian block.
void md5::compress(const uint8_t* block) noexcept {
  uint32_t m[16];
  for (size_t i = 0; i < 16; ++i)
    m[i] = uint32_t{block[4 * i]} | (uint32_t{block[4 * i + 1]} << 8)
           | (uint32_t{block[4 * i + 2]} << 16)
           | (uint32_t{block[4 * i + 3]} << 24);
  uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
  for (size_t i = 0; i < 64; ++i) {
    uint32_t f;
    size_t g;
    if (i < 16) {
      f = (b & c) | (~b & d); // F
      g = i;
    } else if (i < 32) {
      f = (b & d) | (c & ~d); // G
      g = (5 * i + 1) % 16;
    } else if (i < 48) {
      f = b ^ c ^ d; // H
      g = (3 * i + 5) % 16;
    } else {
      f = c ^ (b | ~d); // I
      g = (7 * i) % 16;
    }
    uint32_t next = b + rotl(a + f + md5_k[i] + m[g], md5_shift[i]);
    a = d;
    d = c;
    c = b;
    b = next;
  }
  state_[0] += a;
  state_[1] += b;
  state_[2] += c;
  state_[3] += d;
}

void md5::update(const uint8_t* data, size_t size) noexcept {
  absorb(buffer_, buffered_, length_, data, size,
         [this](const uint8_t* block) { compress(block); });
}

void md5::update(std::string_view data) noexcept {
  update(bytes_of(data), data.size());
}

md5::digest_type md5::finish() noexcept {
  pad(length_, false, [this](const uint8_t* p, size_t n) { update(p, n); });
  digest_type out;
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = 0; j < 4; ++j)
      out[4 * i + j] = static_cast<uint8_t>(state_[i] >> (8 * j));
  reset();
  return out;
}

// --- SHA-256 ---------------------------------------------------------------

void sha256::reset() noexcept {
  state_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
            0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  buffered_ = 0;
  length_ = 0;
}

// FIPS 180-4 §6.2.2: message schedule and 64 rounds on a big-endian block.
void sha256::compress(const uint8_t* block) noexcept {
  uint32_t w[64];
  for (size_t i = 0; i < 16; ++i)
    w[i] = (uint32_t{block[4 * i]} << 24) | (uint32_t{block[4 * i + 1]} << 16)
           | (uint32_t{block[4 * i + 2]} << 8) | uint32_t{block[4 * i + 3]};
  for (size_t i = 16; i < 64; ++i) {
    uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
  uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
  for (size_t i = 0; i < 64; ++i) {
    uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    uint32_t ch = (e & f) ^ (~e & g);
    uint32_t t1 = h + s1 + ch + sha256_k[i] + w[i];
    uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    uint32_t t2 = s0 + maj;
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state_[0] += a;
  state_[1] += b;
  state_[2] += c;
  state_[3] += d;
  state_[4] += e;
  state_[5] += f;
  state_[6] += g;
  state_[7] += h;
}

void sha256::update(const uint8_t* data, size_t size) noexcept {
  absorb(buffer_, buffered_, length_, data, size,
         [this](const uint8_t* block) { compress(block); });
}

void sha256::update(std::string_view data) noexcept {
  update(bytes_of(data), data.size());
}

sha256::digest_type sha256::finish() noexcept {
  pad(length_, true, [this](const uint8_t* p, size_t n) { update(p, n); });
  digest_type out;
  for (size_t i = 0; i < 8; ++i)
    for (size_t j = 0; j < 4; ++j)
      out[4 * i + j] = static_cast<uint8_t>(state_[i] >> (24 - 8 * j));
  reset();
  return out;
}

// --- one-shot helpers ------------------------------------------------------

md5::digest_type md5_digest(std::string_view data) noexcept {
  md5 h;
  h.update(data);
  return h.finish();
}

sha256::digest_type sha256_digest(std::string_view data) noexcept {
  sha256 h;
  h.update(data);
  return h.finish();
}

// RFC 2104 §2: H(K ^ opad, H(K ^ ipad, text)), K zero-padded to B bytes.
sha256::digest_type hmac_sha256(std::string_view key,
                                std::string_view message) noexcept {
  std::array<uint8_t, sha256::block_size> k{};
  if (key.size() > k.size()) {
    auto hashed = sha256_digest(key);
    std::memcpy(k.data(), hashed.data(), hashed.size());
  } else if (!key.empty()) {
    std::memcpy(k.data(), key.data(), key.size());
  }
  std::array<uint8_t, sha256::block_size> pad_bytes;
  sha256 inner;
  for (size_t i = 0; i < k.size(); ++i)
    pad_bytes[i] = static_cast<uint8_t>(k[i] ^ 0x36);
  inner.update(pad_bytes.data(), pad_bytes.size());
  inner.update(message);
  auto inner_digest = inner.finish();
  sha256 outer;
  for (size_t i = 0; i < k.size(); ++i)
    pad_bytes[i] = static_cast<uint8_t>(k[i] ^ 0x5c);
  outer.update(pad_bytes.data(), pad_bytes.size());
  outer.update(inner_digest.data(), inner_digest.size());
  return outer.finish();
}

std::string to_hex(const uint8_t* data, size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0x0f];
  }
  return out;
}

std::string md5_hex(std::string_view data) { return to_hex(md5_digest(data)); }

std::string sha256_hex(std::string_view data) {
  return to_hex(sha256_digest(data));
}

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  return to_hex(hmac_sha256(key, message));
}

bool constant_time_equal(std::string_view x, std::string_view y) noexcept {
  if (x.size() != y.size())
    return false;
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < x.size(); ++i)
    diff = static_cast<uint8_t>(
        diff | (static_cast<uint8_t>(x[i]) ^ static_cast<uint8_t>(y[i])));
  return diff == 0;
}

} // namespace regcore::core
