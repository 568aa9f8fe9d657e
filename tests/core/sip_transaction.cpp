// SPDX-License-Identifier: MIT
#define CAF_SUITE core.sip_transaction
#include <caf/test/unit_test.hpp>

#include "core/sip_transaction.hpp"

using namespace regcore::core;
using namespace std::chrono_literals;

namespace {

std::string request(std::string branch, std::string via_host = "10.0.0.1:5060",
                    std::string method = "REGISTER", int cseq = 1) {
  return "REGISTER sip:localhost SIP/2.0\r\n"
         "Via: SIP/2.0/UDP " + via_host + ";branch=" + branch + "\r\n"
         "From: <sip:a@localhost>;tag=f1\r\n"
         "To: <sip:a@localhost>\r\n"
         "Call-ID: txn-1\r\n"
         "CSeq: " + std::to_string(cseq) + " " + method + "\r\n"
         "Content-Length: 0\r\n\r\n";
}

std::string key_of(const std::string& text) {
  auto m = parse_sip_message(text);
  if (!m)
    return "unparsable: " + std::string{m.err().phrase()};
  return server_transaction_key(*m);
}

time_point at(std::chrono::milliseconds ms) {
  return time_point{} + ms;
}

} // namespace

CAF_TEST(transaction keys follow rfc 3261 section 17.2.3) {
  auto a = key_of(request("z9hG4bK-a"));
  CAF_CHECK_EQUAL(a, key_of(request("z9hG4bK-a")));
  CAF_CHECK_NOT_EQUAL(a, key_of(request("z9hG4bK-b")));
  // Same branch from another sent-by is another transaction.
  CAF_CHECK_NOT_EQUAL(a, key_of(request("z9hG4bK-a", "10.0.0.2:5060")));
  // Without the magic cookie: Call-ID, CSeq, From tag and Via decide.
  auto old1 = key_of(request("1234"));
  CAF_CHECK_EQUAL(old1, key_of(request("1234")));
  CAF_CHECK_NOT_EQUAL(old1, key_of(request("1234", "10.0.0.1:5060", "REGISTER", 2)));
}

CAF_TEST(retransmissions are absorbed while the transaction lives) {
  server_transactions t{32s};
  auto k = key_of(request("z9hG4bK-1"));
  CAF_CHECK(t.begin(k, at(0ms)).st == server_transactions::state::fresh);
  // Retransmitted before we answered: drop.
  CAF_CHECK(t.begin(k, at(500ms)).st == server_transactions::state::in_progress);
  t.complete(k, "SIP/2.0 200 OK\r\n\r\n");
  auto again = t.begin(k, at(1500ms));
  CAF_CHECK(again.st == server_transactions::state::answered);
  CAF_REQUIRE(again.response != nullptr);
  CAF_CHECK_EQUAL(*again.response, "SIP/2.0 200 OK\r\n\r\n");
  // After Timer J it is a new request.
  CAF_CHECK(t.begin(k, at(32001ms)).st == server_transactions::state::fresh);
  CAF_CHECK_EQUAL(t.size(), 1u);
  t.forget(k);
  CAF_CHECK_EQUAL(t.size(), 0u);
  CAF_CHECK(t.begin(k, at(32002ms)).st == server_transactions::state::fresh);
}

CAF_TEST(the table is bounded) {
  server_transactions t{32s, 3};
  for (int i = 0; i < 10; ++i)
    t.begin("k" + std::to_string(i), at(std::chrono::milliseconds{i}));
  CAF_CHECK_LESS_OR_EQUAL(t.size(), 3u);
  // The newest survive.
  CAF_CHECK(t.begin("k9", at(20ms)).st == server_transactions::state::in_progress);
  CAF_CHECK(t.begin("k0", at(20ms)).st == server_transactions::state::fresh);
}

CAF_TEST(timer e doubles up to t2) {
  retransmit_timers tm;
  CAF_CHECK(retransmit_interval(tm, 1) == 500ms);
  CAF_CHECK(retransmit_interval(tm, 2) == 1000ms);
  CAF_CHECK(retransmit_interval(tm, 3) == 2000ms);
  CAF_CHECK(retransmit_interval(tm, 4) == 4000ms);
  CAF_CHECK(retransmit_interval(tm, 5) == 4000ms);
  CAF_CHECK(retransmit_interval(tm, 40) == 4000ms);
  tm.t1 = 100ms;
  tm.t2 = 250ms;
  CAF_CHECK(retransmit_interval(tm, 2) == 200ms);
  CAF_CHECK(retransmit_interval(tm, 3) == 250ms);
}
