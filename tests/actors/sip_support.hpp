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
  /// Datagrams the edge reported handled (sip_sender::consumed).
  size_t consumed_total = 0;
  void consumed(size_t n) override { consumed_total += n; }
};

// -- requests of the edge suites ------------------------------------------------------

/// bob's SUBSCRIBE to alice's presence from 127.0.0.1:port (in-dialog with
/// `to_tag`).
inline std::string subscribe_msg(uint16_t port, int cseq, std::string expires,
                                 std::string to_tag = "") {
  return crlf("SUBSCRIBE sip:alice@localhost SIP/2.0\n"
              "Via: SIP/2.0/UDP 127.0.0.1:" + std::to_string(port) + ";branch=z9hG4bK-s"
              + std::to_string(cseq) + "\n"
              "Max-Forwards: 70\n"
              "From: <sip:bob@localhost>;tag=b1\n"
              "To: <sip:alice@localhost>" + (to_tag.empty() ? "" : ";tag=" + to_tag) + "\n"
              "Call-ID: edge-sub-1\n"
              "CSeq: " + std::to_string(cseq) + " SUBSCRIBE\n"
              "Contact: <sip:bob@127.0.0.1:" + std::to_string(port) + ">\n"
              "Event: presence\n"
              "Accept: application/pidf+xml\n"
              "Expires: " + expires + "\n"
              "Content-Length: 0\n\n");
}

/// alice's PUBLISH (a modification with `etag`).
inline std::string publish_msg(int cseq, const std::string& body, std::string etag = "") {
  return crlf("PUBLISH sip:alice@localhost SIP/2.0\n"
              "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-p" + std::to_string(cseq) + "\n"
              "Max-Forwards: 70\n"
              "From: <sip:alice@localhost>;tag=a9\n"
              "To: <sip:alice@localhost>\n"
              "Call-ID: edge-pub-1\n"
              "CSeq: " + std::to_string(cseq) + " PUBLISH\n"
              "Event: presence\n"
              + (etag.empty() ? "" : "SIP-If-Match: " + etag + "\n") +
              "Expires: 600\n"
              "Content-Type: application/pidf+xml\n"
              "Content-Length: " + std::to_string(body.size()) + "\n\n")
         + body;
}

/// alice: open, away, "gone fishing".
inline const std::string away_pidf =
  "<?xml version=\"1.0\"?><presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
  "xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
  "xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"sip:alice@localhost\">"
  "<tuple id=\"t1\"><status><basic>open</basic></status></tuple>"
  "<dm:person id=\"p\"><rpid:activities><rpid:away/></rpid:activities></dm:person>"
  "<note>gone fishing</note></presence>";

} // namespace regcore::test_support
