// SPDX-License-Identifier: MIT
#pragma once

// SIP helpers shared by the edge and server test suites: SIP text with CRLF
// line ends, a parsed SIP message that owns its bytes, a UDP peer, and a
// recording fake of the SIP transport. Include before caf/test/dsl.hpp (its
// `allow` macro clashes with sip_message::allow()).

#include <string>
#include <utility>
#include <vector>

#include "actors/sip_transport.hpp"
#include "core/sip_message.hpp"
#include "messages/sip_messages.hpp"
#include "tests/actors/support.hpp"

namespace regcore::test_support {

// -- SIP text ------------------------------------------------------------------------

/// `x` with every "\n" turned into "\r\n" (SIP line ends).
inline std::string crlf(const std::string& x) {
  std::string out;
  for (auto c : x) {
    if (c == '\n')
      out += '\r';
    out += c;
  }
  return out;
}

/// A parsed message that owns its bytes (the parser's views must not
/// outlive them).
struct answer {
  std::string bytes;
  core::result<core::sip_message> msg{core::errc::bad_request};
  explicit answer(std::string x)
    : bytes(std::move(x)), msg(core::parse_sip_message(bytes)) {
    // nop
  }
  answer(const answer&) = delete;
  explicit operator bool() const {
    return msg.has_value();
  }
  const core::sip_message* operator->() const {
    return &*msg;
  }
};

/// A UDP peer on 127.0.0.1:port, on listener 0.
inline sip_endpoint udp_peer(uint16_t port) {
  return sip_endpoint{core::transport::udp, "127.0.0.1", port, 0, 0};
}

/// The SIP edge's transport, faked: what the edge sent, in order, and the
/// sizes of its send_many calls.
struct recording_sender : actors::sip_sender {
  std::vector<std::pair<sip_endpoint, std::string>> sent;
  std::vector<size_t> batches;
  void send(const sip_endpoint& to, std::string bytes) override {
    sent.emplace_back(to, std::move(bytes));
  }
  void send_many(outbox& msgs) override {
    batches.push_back(msgs.size());
    sip_sender::send_many(msgs);
  }
};

} // namespace regcore::test_support
