// SPDX-License-Identifier: MIT
#define CAF_SUITE core.sip_uri
#include <caf/test/unit_test.hpp>

#include "core/sip_uri.hpp"

using namespace regcore::core;

namespace {

std::string aor(std::string_view x) {
  auto r = canonical_aor(x);
  return r ? *r : std::string{"ERR:"} + to_string(r.err().code);
}

bool eq(std::string_view x, std::string_view y) {
  auto a = parse_sip_uri(x);
  auto b = parse_sip_uri(y);
  if (!a || !b)
    CAF_FAIL("unparsable test URI");
  return uri_equal(*a, *b) && uri_equal(*b, *a);
}

} // namespace

CAF_TEST(parses every part of a uri) {
  auto u = parse_sip_uri("sips:al%69ce:se%63ret@Example.COM:5061;transport=tcp;lr?subject=hi%20there&priority=urgent");
  CAF_REQUIRE(u);
  CAF_CHECK(u->secure);
  CAF_CHECK_EQUAL(u->user, "alice");
  CAF_CHECK(u->has_password);
  CAF_CHECK_EQUAL(u->password, "secret");
  CAF_CHECK_EQUAL(u->host, "Example.COM");
  CAF_REQUIRE(u->port.has_value());
  CAF_CHECK_EQUAL(*u->port, 5061u);
  CAF_REQUIRE_EQUAL(u->params.size(), 2u);
  CAF_CHECK_EQUAL(u->params[0].name, "transport");
  CAF_CHECK_EQUAL(u->params[0].value, "tcp");
  CAF_CHECK_EQUAL(u->params[1].name, "lr");
  CAF_CHECK(!u->params[1].has_value);
  CAF_REQUIRE_EQUAL(u->headers.size(), 2u);
  CAF_CHECK_EQUAL(u->headers[0].value, "hi there");
  CAF_CHECK(u->param("TRANSPORT") != nullptr);
}

CAF_TEST(ipv6 and host only uris) {
  auto u = parse_sip_uri("sip:bob@[2001:db8::10]:5070;transport=udp");
  CAF_REQUIRE(u);
  CAF_CHECK_EQUAL(u->host, "[2001:db8::10]");
  CAF_CHECK_EQUAL(*u->port, 5070u);
  auto v = parse_sip_uri("sip:[::1]");
  CAF_REQUIRE(v);
  CAF_CHECK(v->user.empty());
  CAF_CHECK(!v->port);
  auto p = parse_sip_uri("sip:proxy.example.com;lr");
  CAF_REQUIRE(p);
  CAF_CHECK_EQUAL(p->host, "proxy.example.com");
}

CAF_TEST(rejects malformed uris with a reason) {
  struct row {
    const char* text;
    errc code;
    const char* reason;
  };
  for (auto r : {row{"", errc::bad_uri, "Empty URI"},
                 row{"alice", errc::bad_uri, "Missing URI scheme"},
                 row{"tel:+15551234", errc::unsupported_uri_scheme, "Unsupported URI scheme"},
                 row{"http://example.com", errc::unsupported_uri_scheme, "Unsupported URI scheme"},
                 row{"sip:", errc::bad_uri, "Missing host"},
                 row{"sip:alice@", errc::bad_uri, "Missing host"},
                 row{"sip:@example.com", errc::bad_uri, "Empty user part"},
                 row{"sip:alice@example.com:0", errc::bad_uri, "Bad port"},
                 row{"sip:alice@example.com:70000", errc::bad_uri, "Bad port"},
                 row{"sip:alice@example.com:", errc::bad_uri, "Bad port"},
                 row{"sip:al%6@example.com", errc::bad_uri, "Bad user part"},
                 row{"sip:al%zzce@example.com", errc::bad_uri, "Bad user part"},
                 row{"sip:al ice@example.com", errc::bad_uri, "Bad user part"},
                 row{"sip:alice@exa mple.com", errc::bad_uri, "Bad host"},
                 row{"sip:alice@-example.com", errc::bad_uri, "Bad host"},
                 row{"sip:alice@[::1", errc::bad_uri, "Unterminated IPv6 reference"},
                 row{"sip:alice@[zz::1]", errc::bad_uri, "Bad IPv6 reference"},
                 row{"sip:alice@example.com;;lr", errc::bad_uri, "Empty URI parameter"},
                 row{"sip:alice@example.com?subject", errc::bad_uri, "Bad URI header"}}) {
    auto u = parse_sip_uri(r.text);
    CAF_CHECK(!u);
    if (u)
      continue;
    CAF_CHECK_EQUAL(std::string{to_string(u.err().code)}, std::string{to_string(r.code)});
    CAF_CHECK_EQUAL(u.err().reason, std::string{r.reason});
  }
}

CAF_TEST(serializes back with escapes) {
  auto u = parse_sip_uri("sip:al%20ice@example.com:5060;transport=tcp?h=a%26b");
  CAF_REQUIRE(u);
  CAF_CHECK_EQUAL(u->to_string(), "sip:al%20ice@example.com:5060;transport=tcp?h=a%26b");
  auto again = parse_sip_uri(u->to_string());
  CAF_REQUIRE(again);
  CAF_CHECK(uri_equal(*u, *again));
}

CAF_TEST(uri equality follows rfc 3261 section 19 1 4) {
  // The equivalent pairs of §19.1.4.
  CAF_CHECK(eq("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"));
  CAF_CHECK(eq("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
  CAF_CHECK(eq("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"));
  CAF_CHECK(eq("sip:carol@chicago.com;security=on;lr", "sip:carol@chicago.com;newparam=5"));
  CAF_CHECK(eq("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
               "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"));
  CAF_CHECK(eq("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
               "sip:alice@atlanta.com?priority=urgent&subject=project%20x"));
  // The non-equivalent pairs of §19.1.4.
  CAF_CHECK(!eq("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"));
  CAF_CHECK(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
  CAF_CHECK(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"));
  CAF_CHECK(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"));
  CAF_CHECK(!eq("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"));
  CAF_CHECK(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
  CAF_CHECK(!eq("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"));
  CAF_CHECK(!eq("sip:alice@example.com", "sips:alice@example.com"));
}

CAF_TEST(canonical aors) {
  CAF_CHECK_EQUAL(aor("SIP:Alice@EXAMPLE.COM;transport=tcp"), "sip:Alice@example.com");
  CAF_CHECK_EQUAL(aor("sip:alice@example.com"), "sip:alice@example.com");
  CAF_CHECK_EQUAL(aor("\"Bob\" <sip:bob@Example.org>;tag=x"), "sip:bob@example.org");
  CAF_CHECK_EQUAL(aor("<sip:bob@example.org;user=phone>"), "sip:bob@example.org");
  CAF_CHECK_EQUAL(aor("sip:%62ob@example.org"), "sip:bob@example.org");
  CAF_CHECK_EQUAL(aor("sips:bob@example.org"), "sips:bob@example.org");
  // Escapes of other characters stay escaped (upper-case hex), so a key is
  // its own canonical form: canonicalising twice changes nothing.
  CAF_CHECK_EQUAL(aor("sip:a%2541@x.org"), "sip:a%2541@x.org");
  CAF_CHECK_EQUAL(aor(aor("sip:a%2541@x.org")), "sip:a%2541@x.org");
  CAF_CHECK_EQUAL(aor("sip:a%20b@x.org"), "sip:a%20b@x.org");
  CAF_CHECK_EQUAL(aor("sip:a%3cb%3E@x.org"), "sip:a%3Cb%3E@x.org");
  for (auto x : {"sip:a%2541@x.org", "sip:%62ob@example.org", "sip:a%20b@x.org",
                 "SIP:Alice@EXAMPLE.COM;transport=tcp"})
    CAF_CHECK_EQUAL(aor(aor(x)), aor(x));
  CAF_CHECK_EQUAL(aor("sip:bob@example.org:5080"), "sip:bob@example.org:5080");
  CAF_CHECK_EQUAL(aor("sip:bob@[2001:DB8::1]"), "sip:bob@[2001:db8::1]");
  CAF_CHECK_EQUAL(aor("  sip:bob@example.org  "), "sip:bob@example.org");
  CAF_CHECK_EQUAL(aor("alice"), "ERR:bad_uri");
  CAF_CHECK_EQUAL(aor("sip:@example.com"), "ERR:bad_uri");
  CAF_CHECK_EQUAL(aor("sip:example.com"), "ERR:bad_uri");
  CAF_CHECK_EQUAL(aor(""), "ERR:bad_uri");
  CAF_CHECK_EQUAL(aor("sip:alice@"), "ERR:bad_uri");
  CAF_CHECK_EQUAL(aor("<sip:alice@example.com"), "ERR:bad_uri");
  CAF_CHECK_EQUAL(aor("tel:+15551234"), "ERR:unsupported_uri_scheme");
  CAF_CHECK_EQUAL(std::string{aor_domain("sip:bob@example.org")}, "example.org");
  CAF_CHECK_EQUAL(std::string{aor_domain("nodomain")}, "");
  CAF_CHECK_EQUAL(std::string{aor_user("sip:bob@example.org")}, "bob");
  CAF_CHECK_EQUAL(std::string{aor_user("sips:a.b@[::1]:5061")}, "a.b");
  CAF_CHECK_EQUAL(std::string{aor_user("nodomain")}, "");
}

CAF_TEST(binding keys agree with uri equality) {
  CAF_CHECK_EQUAL(binding_key("sip:%61lice@ATLANTA.com;transport=TCP"),
                  binding_key("sip:alice@atlanta.com;transport=tcp"));
  CAF_CHECK_EQUAL(binding_key("sip:alice@192.0.2.1;ob"), binding_key("sip:alice@192.0.2.1"));
  CAF_CHECK(binding_key("sip:alice@192.0.2.1") != binding_key("sip:alice@192.0.2.1:5060"));
  CAF_CHECK(binding_key("sip:alice@192.0.2.1") != binding_key("sip:alice@192.0.2.1;transport=tcp"));
  CAF_CHECK(binding_key("sip:Alice@192.0.2.1") != binding_key("sip:alice@192.0.2.1"));
  CAF_CHECK_EQUAL(binding_key("<sip:alice@192.0.2.1>"), binding_key("sip:alice@192.0.2.1"));
  CAF_CHECK_EQUAL(binding_key("not a uri"), "not a uri");
}
