// SPDX-License-Identifier: MIT
#include "core/crc32c.hpp"

#include <array>
#include <cstring>

namespace regcore::core {

namespace {

constexpr uint32_t poly = 0x82F63B78u; // reflected Castagnoli polynomial

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
    t[i] = c;
  }
  return t;
}

constexpr auto table = make_table();

uint32_t crc_table(uint32_t crc, const unsigned char* p, size_t n) noexcept {
  while (n-- > 0)
    crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc_sse42(uint32_t crc, const unsigned char* p,
                                                     size_t n) noexcept {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n-- > 0)
    c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}

const bool have_sse42 = __builtin_cpu_supports("sse4.2");
#endif

} // namespace

uint32_t crc32c(uint32_t crc, const void* data, size_t n) noexcept {
  auto p = static_cast<const unsigned char*>(data);
  crc = ~crc;
#if defined(__x86_64__)
  if (have_sse42)
    return ~crc_sse42(crc, p, n);
#endif
  return ~crc_table(crc, p, n);
}

} // namespace regcore::core

namespace regcore::core {

uint32_t crc32c_portable(uint32_t crc, const void* data, size_t n) noexcept {
  return ~crc_table(~crc, static_cast<const unsigned char*>(data), n);
}

} // namespace regcore::core
