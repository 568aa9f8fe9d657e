// SPDX-License-Identifier: MIT
#define CAF_SUITE core.crypto_hash
#include "core/crypto_hash.hpp"

#include <caf/test/unit_test.hpp>

#include <cstdint>
#include <string>

using namespace regcore::core;

namespace {

std::string hmac_hex(const std::string& key, const std::string& msg) {
  return hmac_sha256_hex(key, msg);
}

// Expected digests of 'a' * n from an independent implementation (Python
// hashlib); n straddles the padding boundaries (55/56: length field fits /
// does not fit in the last block; 63/64/65: block boundary).
struct length_vector {
  size_t n;
  const char* md5;
  const char* sha256;
};

const length_vector length_vectors[] = {
    {55, "ef1772b6dff9a122358552954ad0df65",
     "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
    {56, "3b0c8ac703f828b04c6c197006d17218",
     "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
    {63, "b06521f39153d618550606be297466d5",
     "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
    {64, "014842d480b571495a4a0363793f7367",
     "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
    {65, "c743a45e0d2e6a95cb859adae0248435",
     "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
    {119, "8a7bd0732ed6a28ce75f6dabc90e1613",
     "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
    {120, "5f61c0ccad4cac44c75ff505e1f1e537",
     "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
    {128, "e510683b3f5ffe4093d021808bc6ff70",
     "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"},
};

} // namespace

CAF_TEST(md5 matches the rfc 1321 test suite) {
  CAF_CHECK_EQUAL(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  CAF_CHECK_EQUAL(md5_hex("a"), "0cc175b9c0f1b6a831c399e269772661");
  CAF_CHECK_EQUAL(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  CAF_CHECK_EQUAL(md5_hex("message digest"),
                  "f96b697d7cb7938d525a2f31aaf161d0");
  CAF_CHECK_EQUAL(md5_hex("abcdefghijklmnopqrstuvwxyz"),
                  "c3fcd3d76192e4007dfb496cca67e13b");
  CAF_CHECK_EQUAL(md5_hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789"),
                  "d174ab98d277d9f5a5611c2c9f419d9f");
  CAF_CHECK_EQUAL(md5_hex("1234567890123456789012345678901234567890"
                          "1234567890123456789012345678901234567890"),
                  "57edf4a22be3c955ac49da2e2107b67a");
}

CAF_TEST(sha256 matches the fips 180 examples) {
  CAF_CHECK_EQUAL(
      sha256_hex(""),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CAF_CHECK_EQUAL(
      sha256_hex("abc"),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CAF_CHECK_EQUAL(
      sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CAF_CHECK_EQUAL(
      sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                 "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

CAF_TEST(padding boundaries 55 56 63 64 and multi block messages) {
  for (auto& v : length_vectors) {
    std::string msg(v.n, 'a');
    CAF_MESSAGE("length " << v.n);
    CAF_CHECK_EQUAL(md5_hex(msg), v.md5);
    CAF_CHECK_EQUAL(sha256_hex(msg), v.sha256);
  }
}

CAF_TEST(one million a) {
  std::string msg(1000000, 'a');
  CAF_CHECK_EQUAL(md5_hex(msg), "7707d6ae4e027c70eea2a935c2296f21");
  CAF_CHECK_EQUAL(
      sha256_hex(msg),
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

CAF_TEST(incremental updates in any chunking equal the one shot digest) {
  std::string msg;
  for (int i = 0; i < 300; ++i)
    msg += static_cast<char>(i * 7 + 3);
  auto md5_once = md5_hex(msg);
  auto sha_once = sha256_hex(msg);
  for (size_t chunk : {1u, 3u, 55u, 63u, 64u, 65u, 200u}) {
    CAF_MESSAGE("chunk " << chunk);
    md5 m;
    sha256 s;
    for (size_t pos = 0; pos < msg.size(); pos += chunk) {
      auto piece = std::string_view{msg}.substr(pos, chunk);
      m.update(piece);
      s.update(piece);
    }
    CAF_CHECK_EQUAL(to_hex(m.finish()), md5_once);
    CAF_CHECK_EQUAL(to_hex(s.finish()), sha_once);
    // finish() resets: the objects hash afresh.
    m.update("abc");
    s.update("abc");
    CAF_CHECK_EQUAL(to_hex(m.finish()), "900150983cd24fb0d6963f7d28e17f72");
    CAF_CHECK_EQUAL(
        to_hex(s.finish()),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }
}

CAF_TEST(hmac sha256 matches rfc 4231) {
  // Test case 1.
  CAF_CHECK_EQUAL(
      hmac_hex(std::string(20, '\x0b'), "Hi There"),
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: key shorter than the output.
  CAF_CHECK_EQUAL(
      hmac_hex("Jefe", "what do ya want for nothing?"),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 3.
  CAF_CHECK_EQUAL(
      hmac_hex(std::string(20, '\xaa'), std::string(50, '\xdd')),
      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  // Test case 4.
  std::string key4;
  for (char c = 1; c <= 25; ++c)
    key4 += c;
  CAF_CHECK_EQUAL(
      hmac_hex(key4, std::string(50, '\xcd')),
      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  // Test case 5: output truncated to 128 bits.
  CAF_CHECK_EQUAL(
      hmac_hex(std::string(20, '\x0c'), "Test With Truncation").substr(0, 32),
      "a3b6167473100ee06e0c796c2955552b");
  // Test cases 6 and 7: a 131-byte key is hashed first.
  CAF_CHECK_EQUAL(
      hmac_hex(std::string(131, '\xaa'),
               "Test Using Larger Than Block-Size Key - Hash Key First"),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  CAF_CHECK_EQUAL(
      hmac_hex(std::string(131, '\xaa'),
               "This is a test using a larger than block-size key and a larger "
               "than block-size data. The key needs to be hashed before being "
               "used by the HMAC algorithm."),
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

CAF_TEST(hex encoding is lower case) {
  const uint8_t bytes[] = {0x00, 0x0f, 0xa0, 0xff};
  CAF_CHECK_EQUAL(to_hex(bytes, sizeof(bytes)), "000fa0ff");
  CAF_CHECK_EQUAL(to_hex(bytes, 0), "");
}

CAF_TEST(constant time equal compares content and length) {
  CAF_CHECK(constant_time_equal("", ""));
  CAF_CHECK(constant_time_equal("abcdef", "abcdef"));
  CAF_CHECK(!constant_time_equal("abcdef", "abcdeg"));
  CAF_CHECK(!constant_time_equal("bbcdef", "abcdef"));
  CAF_CHECK(!constant_time_equal("abc", "abcd"));
  CAF_CHECK(!constant_time_equal("abcd", ""));
}
