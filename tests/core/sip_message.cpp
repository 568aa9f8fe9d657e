// SPDX-License-Identifier: MIT
#define CAF_SUITE core.sip_message
#include <caf/test/unit_test.hpp>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/sip_message.hpp"

using namespace regcore::core;

// A failed CAF_REQUIRE aborts the whole binary; these fail the check and
// end only the current test.
#define CHECK_OR_RETURN(...)                                                   \
  do {                                                                         \
    CAF_CHECK(__VA_ARGS__);                                                    \
    if (!(__VA_ARGS__))                                                        \
      return;                                                                  \
  } while (false)
#define CHECK_EQUAL_OR_RETURN(x, y)                                            \
  do {                                                                         \
    CAF_CHECK_EQUAL(x, y);                                                     \
    if (!((x) == (y)))                                                         \
      return;                                                                  \
  } while (false)

namespace {

std::string fixture(const std::string& name) {
  std::ifstream in{std::string{REGCORE_TEST_DATA_DIR} + "/sip/" + name, std::ios::binary};
  return std::string{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

std::string s(std::string_view x) {
  return std::string{x};
}

const char* good_fixtures[] = {
  "register_basic.sip",
  "register_multi_contact.sip",
  "register_outbound.sip",
  "register_wildcard.sip",
  "register_compact.sip",
  "register_folded.sip",
  "register_ipv6.sip",
  "register_empty_supported.sip",
  "subscribe_presence.sip",
  "publish_pidf.sip",
  "publish_refresh.sip",
  "publish_udp_no_content_length.sip",
  "notify_presence.sip",
  "notify_terminated.sip",
  "options.sip",
  "response_200_register.sip",
  "response_423.sip",
};

struct bad_case {
  const char* file;
  int status;
  const char* reason; // substring of the reason phrase
};

const bad_case bad_fixtures[] = {
  {"bad_missing_call_id.sip", 400, "Missing Call-ID"},
  {"bad_missing_cseq.sip", 400, "Missing CSeq"},
  {"bad_missing_via.sip", 400, "Missing Via"},
  {"bad_missing_from.sip", 400, "Missing From"},
  {"bad_missing_to.sip", 400, "Missing To"},
  {"bad_cseq_number.sip", 400, "Malformed CSeq"},
  {"bad_cseq_overflow.sip", 400, "Malformed CSeq"},
  {"bad_cseq_method_mismatch.sip", 400, "CSeq method mismatch"},
  {"bad_content_length_negative.sip", 400, "Bad Content-Length"},
  {"bad_content_length_alpha.sip", 400, "Bad Content-Length"},
  {"bad_content_length_beyond.sip", 400, "Bad Content-Length (exceeds"},
  {"bad_content_length_duplicate.sip", 400, "Bad Content-Length"},
  {"bad_request_line.sip", 400, "Malformed request line"},
  {"bad_request_line_no_uri.sip", 400, "Malformed"},
  {"bad_sip_version.sip", 505, "Version Not Supported"},
  {"bad_status_line.sip", 400, "Malformed status line"},
  {"bad_garbage.sip", 400, "Invalid control character"},
  {"bad_nul_byte.sip", 400, "Invalid control character"},
  {"bad_bare_lf.sip", 400, "bare LF"},
  {"bad_overlong_line.sip", 513, "Line too long"},
  {"bad_too_many_headers.sip", 513, "Too many headers"},
  {"bad_too_many_vias.sip", 513, "Too many Via"},
  {"bad_q_too_high.sip", 400, "Invalid q-value"},
  {"bad_q_alpha.sip", 400, "Invalid q-value"},
  {"bad_expires.sip", 400, "Malformed Expires"},
  {"bad_unterminated_quote.sip", 400, "Malformed Contact (unterminated quoted string)"},
  {"bad_unterminated_angle.sip", 400, "Malformed Contact (unterminated angle bracket)"},
  {"bad_via.sip", 400, "Malformed Via"},
  {"bad_header_no_colon.sip", 400, "Malformed header line"},
  {"bad_max_forwards.sip", 400, "Malformed Max-Forwards"},
  {"bad_wildcard_mixed.sip", 400, "Malformed Contact"},
  {"bad_unterminated_headers.sip", 400, "Unterminated header section"},
};

} // namespace

CAF_TEST(every good fixture parses in datagram and stream mode) {
  for (auto name : good_fixtures) {
    CAF_MESSAGE("fixture " << name);
    auto data = fixture(name);
    CAF_CHECK(!data.empty());
    auto m = parse_sip_message(data, sip_framing::datagram);
    if (!m) {
      CAF_ERROR("rejected: " << name << ": " << s(m.err().phrase()));
      continue;
    }
    CAF_CHECK_EQUAL(m->wire_size(), data.size());
    CAF_CHECK(!m->vias().empty());
    CAF_CHECK(!m->call_id().empty());
    auto st = parse_sip_message(data, sip_framing::stream);
    if (std::string{name} == "publish_udp_no_content_length.sip") {
      CAF_CHECK(!st);
      if (!st)
        CAF_CHECK_EQUAL(s(st.err().phrase()), "Missing Content-Length");
    } else {
      CAF_CHECK(st.has_value());
    }
  }
}

CAF_TEST(every bad fixture is rejected with its status and reason) {
  for (const auto& c : bad_fixtures) {
    CAF_MESSAGE("fixture " << c.file);
    auto data = fixture(c.file);
    CAF_CHECK(!data.empty());
    auto m = parse_sip_message(data);
    CAF_CHECK(!m);
    if (m)
      continue;
    CAF_CHECK_EQUAL(sip_status(m.err().code), c.status);
    auto reason = s(m.err().phrase());
    if (reason.find(c.reason) == std::string::npos)
      CAF_ERROR(c.file << ": reason '" << reason << "' lacks '" << c.reason << "'");
  }
}

CAF_TEST(register basic fields) {
  auto data = fixture("register_basic.sip");
  auto m = parse_sip_message(data);
  CHECK_OR_RETURN(m.has_value());
  CAF_CHECK(m->is_request());
  CAF_CHECK(m->method() == sip_method::register_);
  CAF_CHECK_EQUAL(s(m->method_token()), "REGISTER");
  CAF_CHECK_EQUAL(s(m->request_uri()), "sip:example.com");
  CHECK_EQUAL_OR_RETURN(m->vias().size(), 1u);
  const auto& v = m->vias()[0];
  CAF_CHECK_EQUAL(s(v.protocol), "SIP/2.0");
  CAF_CHECK_EQUAL(s(v.transport_name), "UDP");
  CAF_CHECK(v.transport_type == transport::udp);
  CAF_CHECK_EQUAL(s(v.host), "192.0.2.4");
  CAF_CHECK(v.port == std::optional<uint16_t>{5060});
  CAF_CHECK_EQUAL(s(v.branch), "z9hG4bK776asdhds");
  CAF_CHECK(v.rport);
  CAF_CHECK(!v.rport_value);
  CAF_CHECK(v.received.empty());
  CAF_CHECK(m->max_forwards() == std::optional<uint32_t>{70});
  CAF_CHECK_EQUAL(s(m->from().display), "Alice");
  CAF_CHECK_EQUAL(s(m->from().uri), "sip:alice@example.com");
  CAF_CHECK_EQUAL(s(m->from().tag), "1928301774");
  CAF_CHECK_EQUAL(s(m->to().uri), "sip:alice@example.com");
  CAF_CHECK(m->to().tag.empty());
  CAF_CHECK_EQUAL(s(m->call_id()), "a84b4c76e66710@pc33.example.com");
  CAF_CHECK_EQUAL(m->cseq().number, 314159u);
  CAF_CHECK(m->cseq().method == sip_method::register_);
  CHECK_EQUAL_OR_RETURN(m->contacts().size(), 1u);
  const auto& c = m->contacts()[0];
  CAF_CHECK_EQUAL(s(c.uri), "sip:alice@192.0.2.4:5060;transport=udp");
  CAF_CHECK(c.angle_brackets);
  CAF_CHECK(c.expires == std::optional<uint32_t>{3600});
  CAF_CHECK_EQUAL(c.q, 800);
  CAF_CHECK(c.has_q);
  CAF_CHECK(c.instance_id.empty());
  CAF_CHECK(!c.reg_id);
  CAF_CHECK_EQUAL(s(c.params), ";expires=3600;q=0.8");
  CAF_CHECK(!m->wildcard_contact());
  CAF_CHECK(m->expires() == std::optional<uint32_t>{3600});
  CAF_CHECK_EQUAL(m->allow().size(), 8u);
  CAF_CHECK_EQUAL(s(m->allow().front()), "INVITE");
  CAF_CHECK_EQUAL(s(m->allow().back()), "MESSAGE");
  CHECK_EQUAL_OR_RETURN(m->supported().size(), 3u);
  CAF_CHECK_EQUAL(s(m->supported()[1]), "outbound");
  CAF_CHECK_EQUAL(s(m->user_agent()), "ExamplePhone/1.2.3");
  CAF_CHECK(m->content_length() == std::optional<uint32_t>{0});
  CAF_CHECK(m->body().empty());
  CAF_CHECK_EQUAL(m->headers().size(), 12u);
  CAF_CHECK(m->headers()[0].id == header_id::via);
  CAF_CHECK(m->headers()[11].id == header_id::content_length);
  // Views point into the caller's buffer (zero-copy).
  CAF_CHECK(m->call_id().data() >= data.data()
            && m->call_id().data() < data.data() + data.size());
}

CAF_TEST(register with several contacts) {
  auto data = fixture("register_multi_contact.sip");
  auto m = parse_sip_message(data);
  CHECK_OR_RETURN(m.has_value());
  CHECK_EQUAL_OR_RETURN(m->contacts().size(), 3u);
  const auto& c = m->contacts();
  CAF_CHECK_EQUAL(s(c[0].display), "Bob Desk");
  CAF_CHECK_EQUAL(s(c[0].uri), "sip:bob@198.51.100.7:5060;transport=tcp");
  CAF_CHECK_EQUAL(c[0].q, 1000);
  CAF_CHECK(c[0].expires == std::optional<uint32_t>{1800});
  CAF_CHECK_EQUAL(s(c[1].uri), "sip:bob@198.51.100.8");
  CAF_CHECK_EQUAL(c[1].q, 500);
  CAF_CHECK(!c[1].expires);
  // addr-spec form: parameters after the URI are header parameters.
  CAF_CHECK_EQUAL(s(c[2].uri), "sip:bob@198.51.100.9");
  CAF_CHECK(!c[2].angle_brackets);
  CAF_CHECK_EQUAL(c[2].q, 0);
  CAF_CHECK(c[2].expires == std::optional<uint32_t>{60});
  CAF_CHECK(m->expires() == std::optional<uint32_t>{7200});
  CAF_CHECK(m->vias()[0].transport_type == transport::tcp);
  CAF_CHECK_EQUAL(m->count(header_id::contact), 2u);
}

CAF_TEST(register with outbound instance reg-id and path) {
  auto data = fixture("register_outbound.sip");
  auto m = parse_sip_message(data, sip_framing::stream);
  CHECK_OR_RETURN(m.has_value());
  CHECK_EQUAL_OR_RETURN(m->vias().size(), 2u);
  CAF_CHECK_EQUAL(s(m->vias()[0].host), "edge.example.net");
  CAF_CHECK_EQUAL(s(m->vias()[1].received), "203.0.113.5");
  CAF_CHECK(m->vias()[1].rport_value == std::optional<uint16_t>{51722});
  CHECK_EQUAL_OR_RETURN(m->path().size(), 2u);
  CAF_CHECK_EQUAL(s(m->path()[0].uri), "sip:edge.example.net;lr;ob");
  CAF_CHECK_EQUAL(s(m->path()[1].uri), "sip:edge2.example.net;lr");
  CAF_CHECK_EQUAL(s(m->path()[0].raw), "<sip:edge.example.net;lr;ob>");
  CHECK_EQUAL_OR_RETURN(m->contacts().size(), 1u);
  const auto& c = m->contacts()[0];
  CAF_CHECK_EQUAL(s(c.instance_id), "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>");
  CAF_CHECK(c.reg_id == std::optional<uint32_t>{1});
  CAF_CHECK(c.expires == std::optional<uint32_t>{600});
  CAF_CHECK_EQUAL(s(c.uri), "sip:carol@192.0.2.20:51722;transport=tcp;ob");
  CAF_CHECK(m->max_forwards() == std::optional<uint32_t>{69});
  CAF_CHECK_EQUAL(m->supported().size(), 3u);
}

CAF_TEST(register wildcard) {
  auto data = fixture("register_wildcard.sip");
  auto m = parse_sip_message(data);
  CHECK_OR_RETURN(m.has_value());
  CAF_CHECK(m->wildcard_contact());
  CAF_CHECK(m->contacts().empty());
  CAF_CHECK(m->expires() == std::optional<uint32_t>{0});
}

CAF_TEST(compact forms and case insensitive names) {
  CAF_CHECK(lookup_header("v") == header_id::via);
  CAF_CHECK(lookup_header("V") == header_id::via);
  CAF_CHECK(lookup_header("f") == header_id::from);
  CAF_CHECK(lookup_header("t") == header_id::to);
  CAF_CHECK(lookup_header("i") == header_id::call_id);
  CAF_CHECK(lookup_header("m") == header_id::contact);
  CAF_CHECK(lookup_header("l") == header_id::content_length);
  CAF_CHECK(lookup_header("c") == header_id::content_type);
  CAF_CHECK(lookup_header("k") == header_id::supported);
  CAF_CHECK(lookup_header("e") == header_id::content_encoding);
  CAF_CHECK(lookup_header("s") == header_id::subject);
  CAF_CHECK(lookup_header("o") == header_id::event);
  CAF_CHECK(lookup_header("u") == header_id::allow_events);
  CAF_CHECK(lookup_header("x") == header_id::other);
  CAF_CHECK(lookup_header("call-id") == header_id::call_id);
  CAF_CHECK(lookup_header("CALL-ID") == header_id::call_id);
  CAF_CHECK(lookup_header("subscription-STATE") == header_id::subscription_state);
  CAF_CHECK(lookup_header("sip-etag") == header_id::sip_etag);
  CAF_CHECK(lookup_header("Call-IDs") == header_id::other);
  CAF_CHECK_EQUAL(std::string{header_name(header_id::call_id)}, "Call-ID");
  auto data = fixture("register_compact.sip");
  auto m = parse_sip_message(data);
  CHECK_OR_RETURN(m.has_value());
  CAF_CHECK_EQUAL(s(m->vias()[0].branch), "z9hG4bKcompact");
  CAF_CHECK_EQUAL(s(m->from().tag), "c1");
  CAF_CHECK_EQUAL(s(m->to().uri), "sip:dave@example.com");
  CAF_CHECK(!m->to().angle_brackets);
  CAF_CHECK_EQUAL(s(m->call_id()), "compact-42@192.0.2.4");
  CAF_CHECK_EQUAL(m->cseq().number, 77u);
  CHECK_EQUAL_OR_RETURN(m->contacts().size(), 1u);
  CAF_CHECK(m->contacts()[0].expires == std::optional<uint32_t>{120});
  CHECK_EQUAL_OR_RETURN(m->supported().size(), 1u);
  CAF_CHECK_EQUAL(s(m->supported()[0]), "path");
  CHECK_OR_RETURN(m->event().has_value());
  CAF_CHECK_EQUAL(s(m->event()->package), "foo");
  CHECK_EQUAL_OR_RETURN(m->allow_events().size(), 2u);
  CAF_CHECK_EQUAL(s(m->allow_events()[1]), "message-summary");
  CAF_CHECK(m->max_forwards() == std::optional<uint32_t>{70});
  CAF_CHECK(m->expires() == std::optional<uint32_t>{120});
  CAF_CHECK(m->content_length() == std::optional<uint32_t>{0});
  CAF_CHECK(m->header("Subject") == std::optional<std::string_view>{"compact test"});
  CAF_CHECK(m->header("s") == std::optional<std::string_view>{"compact test"});
  CAF_CHECK(m->header("Content-Encoding") == std::optional<std::string_view>{"gzip"});
  CAF_CHECK_EQUAL(s(m->headers()[0].name), "v");
}

CAF_TEST(folded headers) {
  auto data = fixture("register_folded.sip");
  auto m = parse_sip_message(data);
  CHECK_OR_RETURN(m.has_value());
  CAF_CHECK_EQUAL(s(m->vias()[0].branch), "z9hG4bKfold");
  CAF_CHECK_EQUAL(s(m->from().display), "Eve");
  CAF_CHECK_EQUAL(s(m->from().uri), "sip:eve@example.com");
  CAF_CHECK_EQUAL(s(m->from().tag), "f1");
  CHECK_EQUAL_OR_RETURN(m->contacts().size(), 2u);
  CAF_CHECK_EQUAL(s(m->contacts()[1].uri), "sip:eve@192.0.2.5");
  CAF_CHECK(m->contacts()[1].expires == std::optional<uint32_t>{60});
  auto subject = m->header(header_id::subject);
  CHECK_OR_RETURN(subject.has_value());
  CAF_CHECK_EQUAL(s(*subject), "a subject\r\n   that spans two lines");
}

CAF_TEST(ipv6 via and contact) {
  auto data = fixture("register_ipv6.sip");
  auto m = parse_sip_message(data);
  CHECK_OR_RETURN(m.has_value());
  CAF_CHECK_EQUAL(s(m->request_uri()), "sip:[2001:db8::1]");
  CAF_CHECK_EQUAL(s(m->vias()[0].host), "[2001:db8::9]");
  CAF_CHECK(m->vias()[0].port == std::optional<uint16_t>{5070});
  CAF_CHECK(m->vias()[0].rport);
  CAF_CHECK_EQUAL(s(m->contacts()[0].uri), "sip:frank@[2001:db8::9]:5070");
  CAF_CHECK_EQUAL(s(m->call_id()), "ipv6-1@[2001:db8::9]");
  CAF_CHECK(!m->max_forwards() || *m->max_forwards() == 70);
}

CAF_TEST(baresip empty supported) {
  auto data = fixture("register_empty_supported.sip");
  auto m = parse_sip_message(data);
  CHECK_OR_RETURN(m.has_value());
  CAF_CHECK(m->supported().empty());
  CAF_CHECK(m->header(header_id::supported) == std::optional<std::string_view>{""});
  CAF_CHECK_EQUAL(m->allow().size(), 10u);
  CAF_CHECK_EQUAL(s(m->user_agent()), "baresip v2.0.0 (x86_64/linux)");
}

CAF_TEST(subscribe presence) {
  auto data = fixture("subscribe_presence.sip");
  auto m = parse_sip_message(data);
  CHECK_OR_RETURN(m.has_value());
  CAF_CHECK(m->method() == sip_method::subscribe);
  CHECK_OR_RETURN(m->event().has_value());
  CAF_CHECK_EQUAL(s(m->event()->package), "presence");
  CAF_CHECK_EQUAL(s(m->event()->id), "42");
  CAF_CHECK(m->has_accept());
  CHECK_EQUAL_OR_RETURN(m->accept().size(), 3u);
  CAF_CHECK_EQUAL(s(m->accept()[0]), "application/pidf+xml");
  CAF_CHECK_EQUAL(s(m->accept()[1]), "application/rlmi+xml;q=0.5");
  CAF_CHECK_EQUAL(s(m->accept()[2]), "multipart/related");
  CHECK_EQUAL_OR_RETURN(m->route().size(), 1u);
  CAF_CHECK_EQUAL(s(m->route()[0].uri), "sip:proxy.example.com;lr");
  CAF_CHECK(m->expires() == std::optional<uint32_t>{600});
  CHECK_EQUAL_OR_RETURN(m->allow_events().size(), 1u);
}

CAF_TEST(publish with pidf body and refresh) {
  auto data = fixture("publish_pidf.sip");
  auto m = parse_sip_message(data);
  CHECK_OR_RETURN(m.has_value());
  CAF_CHECK(m->method() == sip_method::publish);
  CAF_CHECK_EQUAL(s(m->content_type()), "application/pidf+xml");
  CAF_CHECK_EQUAL(s(m->media_type()), "application/pidf+xml");
  CHECK_OR_RETURN(m->content_length().has_value());
  CAF_CHECK_EQUAL(m->body().size(), *m->content_length());
  CAF_CHECK(m->body().find("<basic>open</basic>") != std::string_view::npos);
  CAF_CHECK(m->body().substr(0, 5) == "<?xml");
  auto ref = fixture("publish_refresh.sip");
  auto r = parse_sip_message(ref);
  CHECK_OR_RETURN(r.has_value());
  CAF_CHECK_EQUAL(s(r->sip_if_match()), "dx200xyz");
  CAF_CHECK(r->body().empty());
  CAF_CHECK(r->expires() == std::optional<uint32_t>{1800});
}

CAF_TEST(udp publish without content length takes the rest of the datagram) {
  auto data = fixture("publish_udp_no_content_length.sip");
  auto m = parse_sip_message(data, sip_framing::datagram);
  CHECK_OR_RETURN(m.has_value());
  CAF_CHECK(!m->content_length());
  auto pidf = fixture("publish_pidf.sip");
  auto p = parse_sip_message(pidf);
  CHECK_OR_RETURN(p.has_value());
  CAF_CHECK_EQUAL(s(m->body()), s(p->body()));
  // Content-Length shorter than the datagram: the excess is discarded
  // (RFC 3261 §18.3).
  auto shorter = pidf + "JUNK";
  auto q = parse_sip_message(shorter);
  CHECK_OR_RETURN(q.has_value());
  CAF_CHECK_EQUAL(s(q->body()), s(p->body()));
  CAF_CHECK_EQUAL(q->wire_size(), pidf.size());
}

CAF_TEST(notify with subscription state) {
  auto data = fixture("notify_presence.sip");
  auto m = parse_sip_message(data);
  CHECK_OR_RETURN(m.has_value());
  CAF_CHECK(m->method() == sip_method::notify);
  CAF_CHECK_EQUAL(s(m->request_uri()), "sip:alice@192.0.2.4;transport=tcp");
  CHECK_OR_RETURN(m->subscription_state_header().has_value());
  const auto& ss = *m->subscription_state_header();
  CAF_CHECK_EQUAL(s(ss.state), "active");
  CAF_CHECK(ss.known == subscription_state::active);
  CAF_CHECK(ss.expires == std::optional<uint32_t>{599});
  CAF_CHECK_EQUAL(s(m->to().tag), "sub-a");
  auto t = fixture("notify_terminated.sip");
  auto n = parse_sip_message(t);
  CHECK_OR_RETURN(n.has_value());
  const auto& ts = *n->subscription_state_header();
  CAF_CHECK(ts.known == subscription_state::terminated);
  CAF_CHECK_EQUAL(s(ts.reason), "probation");
  CAF_CHECK(ts.retry_after == std::optional<uint32_t>{30});
  CAF_CHECK(!ts.expires);
  CAF_CHECK(!n->vias()[0].port);
}

CAF_TEST(responses) {
  auto data = fixture("response_200_register.sip");
  auto m = parse_sip_message(data);
  CHECK_OR_RETURN(m.has_value());
  CAF_CHECK(m->is_response());
  CAF_CHECK_EQUAL(m->status(), 200);
  CAF_CHECK_EQUAL(s(m->reason_phrase()), "OK");
  CAF_CHECK(m->cseq().method == sip_method::register_);
  CAF_CHECK_EQUAL(m->contacts().size(), 2u);
  CAF_CHECK_EQUAL(s(m->to().tag), "srv-37");
  CAF_CHECK(m->vias()[0].rport_value == std::optional<uint16_t>{40000});
  CAF_CHECK_EQUAL(s(m->date()), "Sat, 13 Nov 2010 23:29:00 GMT");
  CAF_CHECK_EQUAL(s(m->server()), "registrar-core/0.1");
  auto d423 = fixture("response_423.sip");
  auto r = parse_sip_message(d423);
  CHECK_OR_RETURN(r.has_value());
  CAF_CHECK_EQUAL(r->status(), 423);
  CAF_CHECK_EQUAL(s(r->reason_phrase()), "Interval Too Brief");
  CAF_CHECK(r->min_expires() == std::optional<uint32_t>{60});
}

CAF_TEST(options) {
  auto data = fixture("options.sip");
  auto m = parse_sip_message(data);
  CHECK_OR_RETURN(m.has_value());
  CAF_CHECK(m->method() == sip_method::options);
  CHECK_EQUAL_OR_RETURN(m->accept().size(), 1u);
  CAF_CHECK_EQUAL(s(m->accept()[0]), "application/sdp");
}

CAF_TEST(methods are case sensitive and extension methods are kept) {
  CAF_CHECK(parse_sip_method("REGISTER") == sip_method::register_);
  CAF_CHECK(parse_sip_method("register") == sip_method::other);
  CAF_CHECK(parse_sip_method("PRACK") == sip_method::prack);
  CAF_CHECK_EQUAL(std::string{to_string(sip_method::subscribe)}, "SUBSCRIBE");
  std::string msg = "FOO sip:x@example.com SIP/2.0\r\n"
                    "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                    "From: <sip:a@b>;tag=1\r\nTo: <sip:x@example.com>\r\n"
                    "Call-ID: c\r\nCSeq: 1 FOO\r\n\r\n";
  auto m = parse_sip_message(msg);
  CHECK_OR_RETURN(m.has_value());
  CAF_CHECK(m->method() == sip_method::other);
  CAF_CHECK_EQUAL(s(m->method_token()), "FOO");
  CAF_CHECK(!m->max_forwards()); // absent Max-Forwards is tolerated
  CAF_CHECK(m->cseq().method == sip_method::other);
}

CAF_TEST(stream framing requires content length and ignores leading crlf) {
  std::string msg = "\r\n\r\nOPTIONS sip:x@example.com SIP/2.0\r\n"
                    "Via: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
                    "From: <sip:a@b>;tag=1\r\nTo: <sip:x@example.com>\r\n"
                    "Call-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n";
  auto m = parse_sip_message(msg, sip_framing::stream);
  CAF_CHECK(!m);
  if (!m)
    CAF_CHECK_EQUAL(s(m.err().phrase()), "Missing Content-Length");
  auto d = parse_sip_message(msg, sip_framing::datagram);
  CHECK_OR_RETURN(d.has_value());
  CAF_CHECK_EQUAL(s(d->raw().substr(0, 7)), "OPTIONS");
}

CAF_TEST(params helpers) {
  auto ps = parse_params(";tag=abc ; lr;expires=60;+sip.instance=\"<urn:x;y>\"");
  CHECK_EQUAL_OR_RETURN(ps.size(), 4u);
  CAF_CHECK_EQUAL(s(ps[0].name), "tag");
  CAF_CHECK_EQUAL(s(ps[0].value), "abc");
  CAF_CHECK_EQUAL(s(ps[1].name), "lr");
  CAF_CHECK(!ps[1].has_value);
  CAF_CHECK_EQUAL(s(ps[3].value), "\"<urn:x;y>\"");
  auto e = find_param(";tag=abc;EXPIRES=60", "expires");
  CHECK_OR_RETURN(e.has_value());
  CAF_CHECK_EQUAL(s(e->value), "60");
  CAF_CHECK(!find_param(";tag=abc", "q"));
  auto bare = parse_params("a=1;b");
  CHECK_EQUAL_OR_RETURN(bare.size(), 2u);
  CAF_CHECK_EQUAL(s(bare[0].name), "a");
  CAF_CHECK_EQUAL(s(bare[0].value), "1");
}

CAF_TEST(q values) {
  auto q_of = [](const std::string& q) -> int {
    std::string msg = "REGISTER sip:e SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                      "From: <sip:a@e>;tag=1\r\nTo: <sip:a@e>\r\nCall-ID: c\r\n"
                      "CSeq: 1 REGISTER\r\nContact: <sip:a@h>;q="
                      + q + "\r\nContent-Length: 0\r\n\r\n";
    auto m = parse_sip_message(msg);
    if (!m)
      return -1;
    return m->contacts().at(0).q;
  };
  CAF_CHECK_EQUAL(q_of("0"), 0);
  CAF_CHECK_EQUAL(q_of("0.5"), 500);
  CAF_CHECK_EQUAL(q_of("0.123"), 123);
  CAF_CHECK_EQUAL(q_of("0.05"), 50);
  CAF_CHECK_EQUAL(q_of("1"), 1000);
  CAF_CHECK_EQUAL(q_of("1.000"), 1000);
  CAF_CHECK_EQUAL(q_of("1.001"), -1);
  CAF_CHECK_EQUAL(q_of("0.1234"), -1);
  CAF_CHECK_EQUAL(q_of("2"), -1);
  CAF_CHECK_EQUAL(q_of(".5"), -1);
  CAF_CHECK_EQUAL(q_of("0."), 0);
  CAF_CHECK_EQUAL(q_of("-0.5"), -1);
}

CAF_TEST(limits) {
  auto data = fixture("register_basic.sip");
  sip_limits tight;
  tight.max_headers = 5;
  auto m = parse_sip_message(data, sip_framing::datagram, tight);
  CHECK_OR_RETURN(!m);
  CAF_CHECK_EQUAL(sip_status(m.err().code), 513);
  CAF_CHECK_EQUAL(s(m.err().phrase()), "Too many headers");
  tight = sip_limits{};
  tight.max_message_size = data.size() - 1;
  auto big = parse_sip_message(data, sip_framing::datagram, tight);
  CHECK_OR_RETURN(!big);
  CAF_CHECK_EQUAL(s(big.err().phrase()), "Message Too Large");
  tight = sip_limits{};
  tight.max_line_length = 40;
  auto line = parse_sip_message(data, sip_framing::datagram, tight);
  CHECK_OR_RETURN(!line);
  CAF_CHECK_EQUAL(s(line.err().phrase()), "Line too long");
  tight = sip_limits{};
  tight.max_contacts = 2;
  auto multi = fixture("register_multi_contact.sip");
  auto c = parse_sip_message(multi, sip_framing::datagram, tight);
  CHECK_OR_RETURN(!c);
  CAF_CHECK_EQUAL(sip_status(c.err().code), 513);
  CAF_CHECK_EQUAL(s(c.err().phrase()), "Too many Contact entries");
  // Default limit: 64 KiB.
  std::string huge = data.substr(0, data.find("Content-Length: 0")) + "Content-Length: 70000\r\n\r\n"
                     + std::string(70000, 'x');
  auto h = parse_sip_message(huge);
  CHECK_OR_RETURN(!h);
  CAF_CHECK_EQUAL(sip_status(h.err().code), 513);
}

CAF_TEST(malformed headers give specific reasons) {
  auto base = fixture("register_basic.sip");
  auto with = [&](const std::string& from, const std::string& to) {
    auto msg = base;
    auto pos = msg.find(from);
    if (pos == std::string::npos)
      return std::string{"fixture lacks " + from};
    msg.replace(pos, from.size(), to);
    auto m = parse_sip_message(msg);
    return m ? std::string{"ok"} : s(m.err().phrase());
  };
  CAF_CHECK_EQUAL(with("Call-ID: a84b4c76e66710@pc33.example.com", "Call-ID: has space"),
                  "Malformed Call-ID");
  CAF_CHECK_EQUAL(with("Call-ID: a84b4c76e66710@pc33.example.com", "Call-ID:"),
                  "Malformed Call-ID");
  CAF_CHECK_EQUAL(with("CSeq: 314159 REGISTER", "CSeq: 314159"), "Malformed CSeq");
  CAF_CHECK_EQUAL(with("CSeq: 314159 REGISTER", "CSeq: 314159 register"),
                  "CSeq method mismatch");
  CAF_CHECK_EQUAL(with("Expires: 3600", "Expires: 3600\r\nExpires: 60"), "Duplicate Expires");
  CAF_CHECK_EQUAL(with(";expires=3600;q=0.8", ";expires=soon"), "Malformed Contact parameter");
  CAF_CHECK_EQUAL(with(";expires=3600;q=0.8", ";reg-id=x"), "Malformed Contact parameter");
  CAF_CHECK_EQUAL(with("From: \"Alice\" <sip:alice@example.com>;tag=1928301774",
                       "From: <sip:alice@example.com>, <sip:bob@example.com>"),
                  "Malformed From");
  CAF_CHECK_EQUAL(with("To: \"Alice\" <sip:alice@example.com>", "To: <alice>"), "Malformed To");
  CAF_CHECK_EQUAL(with("Content-Length: 0", "Content-Length: 0\r\nContent-Type: text"),
                  "Malformed Content-Type");
  CAF_CHECK_EQUAL(with("Content-Length: 0", "Content-Length: 0\r\nEvent: ;id=1"),
                  "Malformed Event");
  CAF_CHECK_EQUAL(with("Content-Length: 0", "Content-Length: 0\r\nRequire:"),
                  "Malformed Require");
  CAF_CHECK_EQUAL(with("Allow: INVITE, ACK", "Allow: INVITE,, ACK"),
                  "Malformed Allow (empty list element)");
  CAF_CHECK_EQUAL(with("User-Agent: ExamplePhone/1.2.3", "User-Agent: ExamplePhone\r\n (folded)"),
                  "ok");
  CAF_CHECK_EQUAL(with("Content-Length: 0", "Content-Length: 0\r\n 1"), "Bad Content-Length");
  CAF_CHECK_EQUAL(with("Via: SIP/2.0/UDP 192.0.2.4:5060", "Via: SIP/2.0/UDP 192.0.2.4:99999"),
                  "Malformed Via");
  CAF_CHECK_EQUAL(with("Via: SIP/2.0/UDP 192.0.2.4:5060", "Via: SIP / 2.0 / UDP 192.0.2.4:5060"),
                  "ok");
  CAF_CHECK_EQUAL(with("Max-Forwards: 70", "Max-Forwards: 256"), "Malformed Max-Forwards");
  CAF_CHECK_EQUAL(with("REGISTER sip:example.com", "REGISTER example.com"),
                  "Malformed Request-URI");
  CAF_CHECK_EQUAL(with("Max-Forwards: 70\r\n", "Max-Forwards: 70\r\n\x01X: y\r\n"),
                  "Invalid control character in header");
  CAF_CHECK_EQUAL(with("Max-Forwards: 70", "Max-Forwards: 70\r"),
                  "Invalid control character in header (bare CR)");
  CAF_CHECK_EQUAL(with("Content-Length: 0", "Content-Length: 0\r\nX-Unknown-Empty:"), "ok");
  // Expires beyond 2^32-1 saturates rather than failing.
  CAF_CHECK_EQUAL(with("Expires: 3600", "Expires: 99999999999"), "ok");
}

CAF_TEST(garbage and truncations never crash) {
  // Every prefix of every fixture (run this suite under ASan/UBSan: an out
  // of bounds read fails it), and deterministic byte mutations.
  std::vector<std::string> all;
  for (auto name : good_fixtures)
    all.push_back(fixture(name));
  for (const auto& c : bad_fixtures)
    all.push_back(fixture(c.file));
  size_t parsed = 0;
  for (const auto& data : all) {
    for (size_t n = 0; n <= data.size(); ++n) {
      std::string prefix = data.substr(0, n); // own buffer: ASan sees overreads
      auto m = parse_sip_message(prefix, sip_framing::stream);
      if (m)
        ++parsed;
    }
  }
  CAF_CHECK(parsed > 0);
  uint32_t seed = 12345;
  auto rnd = [&] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  const char specials[] = {'\r', '\n', ' ', ';', ',', '<', '>', '"', ':', '\0', '\\', '='};
  size_t ok = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string data = all[rnd() % all.size()];
    if (data.empty())
      continue;
    int edits = 1 + static_cast<int>(rnd() % 4);
    for (int e = 0; e < edits; ++e) {
      auto pos = rnd() % data.size();
      switch (rnd() % 3) {
        case 0: data[pos] = specials[rnd() % sizeof(specials)]; break;
        case 1: data.erase(pos, 1 + rnd() % 8); break;
        default: data.insert(pos, 1, static_cast<char>(rnd() & 0xff)); break;
      }
      if (data.empty())
        break;
    }
    auto m = parse_sip_message(data);
    if (m) {
      ++ok;
      CAF_CHECK(m->wire_size() <= data.size());
    }
  }
  CAF_MESSAGE(ok << " of 20000 mutated messages still parsed");
}

CAF_TEST(serializer writes exact bytes) {
  auto out = sip_builder::response(200, "OK")
               .header("Via", "SIP/2.0/UDP h;branch=z9hG4bK1")
               .header(header_id::call_id, "abc")
               .header("Expires", 3600u)
               .header("Content-Length", 99u) // ignored: written automatically
               .str();
  CAF_CHECK_EQUAL(out, "SIP/2.0 200 OK\r\n"
                       "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                       "Call-ID: abc\r\n"
                       "Expires: 3600\r\n"
                       "Content-Length: 0\r\n\r\n");
  auto notify = sip_builder::request(sip_method::notify, "sip:alice@192.0.2.4")
                  .header("Event", "presence")
                  .header("X-Evil", "a\r\nInjected: yes")
                  .body("application/pidf+xml", "<presence/>");
  CAF_CHECK_EQUAL(notify.str(), "NOTIFY sip:alice@192.0.2.4 SIP/2.0\r\n"
                                "Event: presence\r\n"
                                "X-Evil: a  Injected: yes\r\n"
                                "Content-Type: application/pidf+xml\r\n"
                                "Content-Length: 11\r\n\r\n"
                                "<presence/>");
  std::string appended = "prefix";
  notify.append_to(appended);
  CAF_CHECK_EQUAL(appended, "prefix" + notify.str());
  auto copy = notify.str();
  CAF_CHECK_EQUAL(notify.take(), copy);
}

CAF_TEST(response builder copies via from to call id cseq) {
  auto data = fixture("register_outbound.sip");
  auto req = parse_sip_message(data);
  CHECK_OR_RETURN(req.has_value());
  auto out = make_response(*req, 200, "OK", "srv-1")
               .header("Contact", "<sip:carol@192.0.2.20:51722;transport=tcp;ob>;expires=600")
               .str();
  CAF_CHECK_EQUAL(out,
                  "SIP/2.0 200 OK\r\n"
                  "Via: SIP/2.0/TCP edge.example.net:5060;branch=z9hG4bKedge1\r\n"
                  "Via: SIP/2.0/TCP 192.0.2.20:51722;branch=z9hG4bKua1;received=203.0.113.5;"
                  "rport=51722\r\n"
                  "From: <sip:carol@example.com>;tag=abc123\r\n"
                  "To: <sip:carol@example.com>;tag=srv-1\r\n"
                  "Call-ID: outbound-1@192.0.2.20\r\n"
                  "CSeq: 2 REGISTER\r\n"
                  "Contact: <sip:carol@192.0.2.20:51722;transport=tcp;ob>;expires=600\r\n"
                  "Content-Length: 0\r\n\r\n");
  // An existing To tag is kept, never doubled.
  auto n = fixture("notify_presence.sip");
  auto nreq = parse_sip_message(n);
  CHECK_OR_RETURN(nreq.has_value());
  auto nresp = make_response(*nreq, 200, "OK", "other").str();
  CAF_CHECK(nresp.find("To: <sip:alice@example.com>;tag=sub-a\r\n") != std::string::npos);
  CAF_CHECK(nresp.find("other") == std::string::npos);
  // Folded Via values are copied on one line.
  auto f = fixture("register_folded.sip");
  auto freq = parse_sip_message(f);
  CHECK_OR_RETURN(freq.has_value());
  auto fresp = make_response(*freq, 423, "Interval Too Brief").header("Min-Expires", 60u).str();
  auto parsed = parse_sip_message(fresp, sip_framing::stream);
  CHECK_OR_RETURN(parsed.has_value());
  CAF_CHECK_EQUAL(s(parsed->vias()[0].branch), "z9hG4bKfold");
  CAF_CHECK_EQUAL(s(parsed->from().display), "Eve");
  CAF_CHECK(parsed->to().tag.empty());
  CAF_CHECK(parsed->min_expires() == std::optional<uint32_t>{60});
}

CAF_TEST(round trip parse of serialized messages) {
  for (auto name : good_fixtures) {
    auto data = fixture(name);
    auto req = parse_sip_message(data);
    CHECK_OR_RETURN(req.has_value());
    // Rebuild the message from the parsed view: start line, every header
    // (compact names expanded), the body.
    auto b = req->is_request() ? sip_builder::request(req->method_token(), req->request_uri())
                               : sip_builder::response(req->status(), req->reason_phrase());
    for (const auto& h : req->headers()) {
      if (h.id == header_id::content_type)
        continue; // written by body()
      b.header(h.id == header_id::other ? h.name : std::string_view{header_name(h.id)},
               h.value);
    }
    b.body(req->content_type(), req->body());
    auto out = b.str();
    auto again = parse_sip_message(out, sip_framing::stream);
    if (!again) {
      CAF_ERROR(name << ": " << s(again.err().phrase()));
      continue;
    }
    CAF_CHECK_EQUAL(again->method_token() == req->method_token(), true);
    CAF_CHECK_EQUAL(again->status(), req->status());
    CAF_CHECK_EQUAL(s(again->request_uri()), s(req->request_uri()));
    CAF_CHECK_EQUAL(s(again->call_id()), s(req->call_id()));
    CAF_CHECK_EQUAL(again->cseq().number, req->cseq().number);
    CAF_CHECK_EQUAL(s(again->from().tag), s(req->from().tag));
    CAF_CHECK_EQUAL(s(again->to().uri), s(req->to().uri));
    CAF_CHECK_EQUAL(again->vias().size(), req->vias().size());
    CAF_CHECK_EQUAL(s(again->vias()[0].branch), s(req->vias()[0].branch));
    CAF_CHECK_EQUAL(again->contacts().size(), req->contacts().size());
    for (size_t i = 0; i < req->contacts().size() && i < again->contacts().size(); ++i) {
      CAF_CHECK_EQUAL(s(again->contacts()[i].uri), s(req->contacts()[i].uri));
      CAF_CHECK_EQUAL(again->contacts()[i].q, req->contacts()[i].q);
    }
    CAF_CHECK_EQUAL(again->wildcard_contact(), req->wildcard_contact());
    CAF_CHECK(again->expires() == req->expires());
    CAF_CHECK_EQUAL(s(again->body()), s(req->body()));
    CAF_CHECK_EQUAL(again->headers().size(),
                    req->headers().size() + (req->content_length() ? 0 : 1));
    // Serializing the reparsed message again is byte-identical.
    auto b2 = again->is_request()
                ? sip_builder::request(again->method_token(), again->request_uri())
                : sip_builder::response(again->status(), again->reason_phrase());
    for (const auto& h : again->headers())
      if (h.id != header_id::content_type)
        b2.header(h.name, h.value);
    b2.body(again->content_type(), again->body());
    CAF_CHECK_EQUAL(b2.str(), out);
  }
}

CAF_TEST(parsing into a reused message) {
  sip_message m;
  auto a = fixture("register_multi_contact.sip");
  auto b = fixture("register_wildcard.sip");
  CHECK_OR_RETURN(parse_sip_message(m, a).has_value());
  CAF_CHECK_EQUAL(m.contacts().size(), 3u);
  CHECK_OR_RETURN(parse_sip_message(m, b).has_value());
  CAF_CHECK(m.contacts().empty());
  CAF_CHECK(m.wildcard_contact());
  CAF_CHECK_EQUAL(s(m.call_id()), "wildcard-7@192.0.2.4");
}

CAF_TEST(comma lists quotes and unknown headers) {
  std::string msg = "REGISTER sip:example.com SIP/2.0\r\n"
                    "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP "
                    "b.example.com:5061;branch=z9hG4bK2\r\n"
                    "v: SIP/2.0/TLS c.example.com;branch=z9hG4bK3;x=\"a,b\"\r\n"
                    "X-First : one\r\n"
                    "From: \"Smith, \\\"Bob\\\"\" <sip:bob@example.com>;tag=9\r\n"
                    "To: Bob Smith <sip:bob@example.com>\r\n"
                    "Call-ID: lists@example.com\r\n"
                    "CSeq: 3 REGISTER\r\n"
                    "Contact: \"Desk, left\" <sip:bob@192.0.2.1?X=a,b>, <sip:bob@192.0.2.2>\r\n"
                    "X-Second:\r\n"
                    "Content-Length: 0\r\n\r\n";
  auto m = parse_sip_message(msg);
  if (!m)
    CAF_ERROR("rejected: " << s(m.err().phrase()));
  CHECK_OR_RETURN(m.has_value());
  CHECK_EQUAL_OR_RETURN(m->vias().size(), 3u);
  CAF_CHECK_EQUAL(s(m->vias()[1].host), "b.example.com");
  CAF_CHECK(m->vias()[1].port == std::optional<uint16_t>{5061});
  CAF_CHECK(m->vias()[1].transport_type == transport::tcp);
  CAF_CHECK(m->vias()[2].transport_type == transport::tls);
  CAF_CHECK_EQUAL(s(m->vias()[2].branch), "z9hG4bK3");
  CAF_CHECK_EQUAL(s(m->from().display), "Smith, \\\"Bob\\\"");
  CAF_CHECK_EQUAL(s(m->from().tag), "9");
  CAF_CHECK_EQUAL(s(m->to().display), "Bob Smith");
  CHECK_EQUAL_OR_RETURN(m->contacts().size(), 2u);
  CAF_CHECK_EQUAL(s(m->contacts()[0].display), "Desk, left");
  CAF_CHECK_EQUAL(s(m->contacts()[0].uri), "sip:bob@192.0.2.1?X=a,b");
  CAF_CHECK_EQUAL(s(m->contacts()[1].uri), "sip:bob@192.0.2.2");
  // Unknown headers are kept verbatim and in order.
  std::vector<std::string> unknown;
  for (const auto& h : m->headers())
    if (h.id == header_id::other)
      unknown.push_back(s(h.name) + "=" + s(h.value));
  CHECK_EQUAL_OR_RETURN(unknown.size(), 2u);
  CAF_CHECK_EQUAL(unknown[0], "X-First=one");
  CAF_CHECK_EQUAL(unknown[1], "X-Second=");
  CAF_CHECK(m->header("x-first") == std::optional<std::string_view>{"one"});
  CAF_CHECK(!m->header("X-Third"));
  // The Via limit counts comma-separated entries, not header lines.
  sip_limits two_vias;
  two_vias.max_vias = 2;
  auto limited = parse_sip_message(msg, sip_framing::datagram, two_vias);
  CHECK_OR_RETURN(!limited);
  CAF_CHECK_EQUAL(s(limited.err().phrase()), "Too many Via entries");
}

CAF_TEST(status line variants) {
  auto parse_status = [](const std::string& line) -> std::string {
    std::string msg = line + "\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                             "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\n"
                             "Call-ID: c\r\nCSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n";
    auto m = parse_sip_message(msg);
    if (!m)
      return "error: " + std::string{m.err().phrase()};
    return std::to_string(m->status()) + "|" + std::string{m->reason_phrase()};
  };
  CAF_CHECK_EQUAL(parse_status("SIP/2.0 200 OK"), "200|OK");
  CAF_CHECK_EQUAL(parse_status("SIP/2.0 200"), "200|");
  CAF_CHECK_EQUAL(parse_status("sip/2.0 481 Call/Transaction Does Not Exist"),
                  "481|Call/Transaction Does Not Exist");
  CAF_CHECK_EQUAL(parse_status("SIP/2.0 200 Très bien"), "200|Très bien");
  CAF_CHECK_EQUAL(parse_status("SIP/2.0 700 Nope"), "error: Malformed status line");
  CAF_CHECK_EQUAL(parse_status("SIP/2.0 2000 OK"), "error: Malformed status line");
  CAF_CHECK_EQUAL(parse_status("SIP/2.0 20 OK"), "error: Malformed status line");
  CAF_CHECK_EQUAL(parse_status("SIP/2.1 200 OK"), "error: Unsupported SIP version");
  CAF_CHECK_EQUAL(parse_status("SIP/2.0"), "error: Malformed status line");
}

CAF_TEST(responses carry received and rport of the real source) {
  auto req_text = std::string{"OPTIONS sip:localhost SIP/2.0\r\n"
                              "Via: SIP/2.0/UDP 10.0.0.7:5062;rport;branch=z9hG4bK-1, "
                              "SIP/2.0/UDP proxy.example:5060;branch=z9hG4bK-p\r\n"
                              "From: <sip:a@localhost>;tag=1\r\n"
                              "To: <sip:localhost>\r\n"
                              "Call-ID: via-stamp\r\n"
                              "CSeq: 1 OPTIONS\r\n"
                              "Content-Length: 0\r\n\r\n"};
  auto req = parse_sip_message(req_text);
  CHECK_OR_RETURN(req.has_value());
  // RFC 3581 §4: rport asked for -> received and rport, always.
  auto out = make_response(*req, 200, "OK", "t", source_address{"192.0.2.9", 40000}).str();
  CAF_CHECK(out.find("Via: SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bK-1;received=192.0.2.9;"
                     "rport=40000, SIP/2.0/UDP proxy.example:5060;branch=z9hG4bK-p\r\n")
            != std::string::npos);
  auto parsed = parse_sip_message(out, sip_framing::stream);
  CHECK_OR_RETURN(parsed.has_value());
  CAF_CHECK_EQUAL(s(parsed->vias()[0].received), "192.0.2.9");
  CAF_CHECK(parsed->vias()[0].rport_value == std::optional<uint16_t>{40000});
  CAF_CHECK_EQUAL(parsed->vias().size(), 2u);
  // No rport and the host is the source: nothing added (RFC 3261 §18.2.1).
  via_view v;
  v.host = "127.0.0.1";
  v.raw = "SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-2";
  v.params = std::string_view{v.raw}.substr(v.raw.find(';'));
  CAF_CHECK_EQUAL(stamp_via(v, source_address{"127.0.0.1", 5060}), v.raw);
  // Another host: received only.
  CAF_CHECK_EQUAL(stamp_via(v, source_address{"::1", 5060}),
                  "SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-2;received=::1");
  // Bracketed IPv6 sent-by that matches the source.
  via_view w;
  w.host = "[::1]";
  w.raw = "SIP/2.0/UDP [::1]:5070;branch=z9hG4bK-3;received=1.2.3.4";
  w.params = std::string_view{w.raw}.substr(w.raw.find(';'));
  CAF_CHECK_EQUAL(stamp_via(w, source_address{"::1", 5070}),
                  "SIP/2.0/UDP [::1]:5070;branch=z9hG4bK-3");
}

CAF_TEST(crlf keepalive datagrams) {
  CAF_CHECK(is_crlf_keepalive("\r\n"));
  CAF_CHECK(is_crlf_keepalive("\r\n\r\n"));
  CAF_CHECK(!is_crlf_keepalive(""));
  CAF_CHECK(!is_crlf_keepalive("\r\n\r"));
  CAF_CHECK(!is_crlf_keepalive("\n\r"));
  CAF_CHECK(!is_crlf_keepalive("\r\nOPTIONS"));
  // Parsing one is an error, not a crash.
  auto m = parse_sip_message("\r\n\r\n");
  CAF_CHECK(!m);
}

CAF_TEST(rejected requests get an answer when the transaction is identifiable) {
  struct row {
    const char* file;
    bool answered;
  };
  for (auto r : {row{"bad_cseq_number.sip", true}, row{"bad_expires.sip", true},
                 row{"bad_q_too_high.sip", true}, row{"bad_content_length_negative.sip", true},
                 row{"bad_missing_call_id.sip", false}, row{"bad_missing_via.sip", false},
                 row{"bad_garbage.sip", false}, row{"bad_nul_byte.sip", false}}) {
    auto data = fixture(r.file);
    auto parsed = parse_sip_message(data);
    CAF_REQUIRE(!parsed);
    auto answer = make_error_response(data, parsed.err());
    CAF_CHECK_EQUAL(!answer.empty(), r.answered);
    if (answer.empty())
      continue;
    auto status_line = "SIP/2.0 " + std::to_string(sip_status(parsed.err().code)) + " "
                       + s(parsed.err().phrase()) + "\r\n";
    CAF_CHECK_EQUAL(answer.substr(0, status_line.size()), status_line);
    CAF_CHECK(answer.find("\r\nCall-ID: bad-1@192.0.2.4\r\n") != std::string::npos);
    CAF_CHECK(answer.find("\r\nVia: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKbad\r\n")
              != std::string::npos);
    CAF_CHECK(answer.find("Contact:") == std::string::npos); // only what identifies it
    // The echoed lines are the client's own: a bad CSeq comes back as sent,
    // so only the others parse again.
    if (std::string{r.file} != "bad_cseq_number.sip") {
      auto back = parse_sip_message(answer);
      CAF_CHECK(back.has_value());
    }
  }
  // Responses and ACKs are never answered.
  auto ack = std::string{"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                         "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\n"
                         "CSeq: zz ACK\r\n\r\n"};
  CAF_CHECK(make_error_response(ack, make_error(errc::bad_request, "x")).empty());
  CAF_CHECK(make_error_response("SIP/2.0 200 OK\r\n\r\n", make_error(errc::bad_request)).empty());
}

// -- peek_response: the fan-out's shortcut for responses ---------------------

CAF_TEST(peek_response agrees with the parser on every fixture it accepts) {
  size_t peeked = 0;
  auto check = [&](const char* name) {
    auto data = fixture(name);
    auto pk = peek_response(data);
    auto m = parse_sip_message(data, sip_framing::datagram);
    if (m && !m->is_response()) {
      CAF_CHECK(!pk); // a request is never taken for a response
      return;
    }
    if (!pk)
      return;
    ++peeked;
    CAF_MESSAGE("peeked " << name);
    if (!m)
      return; // malformed elsewhere: the documented limit of the shortcut
    CAF_CHECK_EQUAL(pk->status, m->status());
    CAF_CHECK_EQUAL(s(pk->branch), s(m->vias().front().branch));
    CAF_CHECK_EQUAL(s(pk->cseq_method), s(m->cseq().method_token));
  };
  for (auto name : good_fixtures)
    check(name);
  for (auto& bad : bad_fixtures)
    check(bad.file);
  CAF_CHECK_GREATER_OR_EQUAL(peeked, 2u); // both good responses at least
}

CAF_TEST(peek_response reads status top branch and CSeq method) {
  std::string ok = "SIP/2.0 200 OK\r\n"
                   "v: SIP/2.0/UDP 10.0.0.1:5060 ; BRANCH = z9hG4bK-rc1.7 ;rport,"
                   " SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKother\r\n"
                   "Via: SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKthird\r\n"
                   "From: <sip:w@x>;tag=1\r\nTo: <sip:p@x>;tag=2\r\n"
                   "Call-ID: c1\r\ncseq:   9 NOTIFY\r\nContent-Length: 0\r\n\r\n";
  auto pk = peek_response(ok);
  CAF_REQUIRE(pk);
  CAF_CHECK_EQUAL(pk->status, 200);
  CAF_CHECK_EQUAL(s(pk->branch), "z9hG4bK-rc1.7");
  CAF_CHECK_EQUAL(s(pk->cseq_method), "NOTIFY");
  auto m = parse_sip_message(ok);
  CAF_REQUIRE(m);
  CAF_CHECK_EQUAL(s(m->vias().front().branch), s(pk->branch));
  auto with = [&](std::string from, std::string to) {
    auto x = ok;
    auto at = x.find(from);
    CAF_REQUIRE(at != std::string::npos);
    x.replace(at, from.size(), to);
    return x;
  };
  auto nope = [](const std::string& x) { return !peek_response(x).has_value(); };
  // Left to the full parser: requests, other versions, bad status codes,
  // folded or quoted values, a missing branch, Via or CSeq, no header end.
  CAF_CHECK(nope("NOTIFY sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                 "CSeq: 1 NOTIFY\r\n\r\n"));
  CAF_CHECK(nope(with("SIP/2.0 200", "sip/2.0 200")));
  CAF_CHECK(nope(with("SIP/2.0 200", "SIP/2.0 2x0")));
  CAF_CHECK(nope(with("SIP/2.0 200", "SIP/2.0 099")));
  CAF_CHECK(nope(with(";rport,", ";rport,\r\n ")));
  CAF_CHECK(nope(with("Call-ID: c1\r\n", "Call-ID: c1\r\n\tfolded\r\n")));
  CAF_CHECK(nope(with("BRANCH = z9hG4bK-rc1.7", "x=\"q\";branch=z9hG4bK-rc1.7")));
  CAF_CHECK(nope(with(" ; BRANCH = z9hG4bK-rc1.7 ;rport", ";rport")));
  CAF_CHECK(nope(with("cseq:   9 NOTIFY\r\n", "")));
  CAF_CHECK(nope(with("cseq:   9 NOTIFY", "cseq: 9")));
  CAF_CHECK(nope(ok.substr(0, ok.size() - 2)));
  // The top via-parm only: a branch in the second one is not taken.
  CAF_CHECK(nope(with(" ; BRANCH = z9hG4bK-rc1.7 ;rport,", ";rport,")));
}
