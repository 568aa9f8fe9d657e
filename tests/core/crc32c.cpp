// SPDX-License-Identifier: MIT
#define CAF_SUITE core.crc32c
#include <caf/test/unit_test.hpp>

#include <string>
#include <vector>

#include "core/crc32c.hpp"

using namespace regcore::core;

CAF_TEST(crc32c matches the published check values) {
  // The CRC catalogue's check value and RFC 3720's (iSCSI) test vectors.
  std::string check = "123456789";
  CAF_CHECK_EQUAL(crc32c(0, check.data(), check.size()), 0xE3069283u);
  std::vector<unsigned char> zeros(32, 0x00), ones(32, 0xFF), up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<unsigned char>(i);
    down[i] = static_cast<unsigned char>(31 - i);
  }
  CAF_CHECK_EQUAL(crc32c(0, zeros.data(), 32), 0x8A9136AAu);
  CAF_CHECK_EQUAL(crc32c(0, ones.data(), 32), 0x62A8AB43u);
  CAF_CHECK_EQUAL(crc32c(0, up.data(), 32), 0x46DD794Eu);
  CAF_CHECK_EQUAL(crc32c(0, down.data(), 32), 0x113FDB5Cu);
}

CAF_TEST(crc32c extends over pieces and both paths agree) {
  std::string text;
  for (int i = 0; i < 1000; ++i)
    text += static_cast<char>(i * 7 + 3);
  auto whole = crc32c(0, text.data(), text.size());
  for (size_t cut : {0u, 1u, 7u, 8u, 13u, 500u, 999u}) {
    auto first = crc32c(0, text.data(), cut);
    CAF_CHECK_EQUAL(crc32c(first, text.data() + cut, text.size() - cut), whole);
  }
  CAF_CHECK_EQUAL(crc32c_portable(0, text.data(), text.size()), whole);
  // One changed bit changes the sum.
  text[500] ^= 0x10;
  CAF_CHECK_NOT_EQUAL(crc32c(0, text.data(), text.size()), whole);
}
