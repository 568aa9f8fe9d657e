// SPDX-License-Identifier: MIT
#define CAF_SUITE messages.serialization
#include <caf/test/dsl.hpp>

#include "messages/core_inspect.hpp"
#include "messages/error.hpp"
#include "messages/presence_messages.hpp"
#include "messages/registrar_messages.hpp"
#include "messages/sip_messages.hpp"
#include "messages/type_list.hpp"
#include "messages/types.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

using namespace regcore;
using namespace std::chrono_literals;

namespace {

struct config : caf::actor_system_config {
  config() { messages::register_types(*this); }
};

struct fixture {
  config cfg;
  caf::actor_system sys{cfg};

  template <class T>
  T roundtrip(const T& in) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    auto copy = in;
    if (auto err = sink(copy))
      CAF_FAIL("serialize failed: " << sys.render(err));
    T out;
    caf::binary_deserializer source{sys, buf};
    if (auto err = source(out))
      CAF_FAIL("deserialize failed: " << sys.render(err));
    CAF_CHECK_EQUAL(source.remaining(), 0u);
    return out;
  }
};

core::time_point at(int secs) {
  return core::time_point{} + std::chrono::seconds{secs};
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(serialization_tests, fixture)

CAF_TEST(contact info survives the binary serializer) {
  core::contact_info c;
  c.uri = "sip:alice@192.0.2.4:5060;transport=tcp";
  c.instance_id = "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";
  c.reg_id = 2;
  c.transport_type = core::transport::tcp;
  c.user_agent = "baresip";
  c.expires = 3600;
  c.expires_at = at(3700);
  c.q = 700;
  c.received = "192.0.2.4:41000";
  c.path = {"<sip:edge1.example.com;lr>", "<sip:edge2.example.com;lr>"};
  c.call_id = "a84b4c76e66710";
  c.cseq = 314159;
  c.updated_at = at(100);
  auto d = roundtrip(c);
  CAF_CHECK_EQUAL(d.uri, c.uri);
  CAF_CHECK_EQUAL(d.instance_id, c.instance_id);
  CAF_CHECK_EQUAL(d.reg_id, 2u);
  CAF_CHECK(d.transport_type == core::transport::tcp);
  CAF_CHECK_EQUAL(d.user_agent, "baresip");
  CAF_CHECK_EQUAL(d.expires, 3600u);
  CAF_CHECK(d.expires_at == at(3700));
  CAF_CHECK_EQUAL(d.q, 700u);
  CAF_CHECK_EQUAL(d.received, c.received);
  CAF_CHECK_EQUAL(d.path, c.path);
  CAF_CHECK_EQUAL(d.call_id, c.call_id);
  CAF_CHECK_EQUAL(d.cseq, 314159u);
  CAF_CHECK(d.updated_at == at(100));
  core::user_registration r{"sip:alice@example.com", {c, c}};
  auto r2 = roundtrip(r);
  CAF_CHECK_EQUAL(r2.aor, r.aor);
  CAF_REQUIRE_EQUAL(r2.contacts.size(), 2u);
  CAF_CHECK_EQUAL(r2.contacts[1].uri, c.uri);
}

CAF_TEST(presence state with devices survives the binary serializer) {
  core::presence_state p;
  p.entity = "sip:bob@example.com";
  p.basic = core::basic_status::open;
  p.status = core::extended_status::custom;
  p.custom_status = "writing code";
  p.note = "back at 5 <ish> & later";
  p.activities = {"busy"};
  core::device_presence d1;
  d1.device_id = "phone";
  d1.basic = core::basic_status::open;
  d1.priority = 800;
  d1.last_updated = at(5);
  core::device_presence d2;
  d2.device_id = "desk";
  d2.status = core::extended_status::away;
  d2.expires_at = at(60);
  p.devices = {d1, d2};
  p.last_updated = at(5);
  auto q = roundtrip(p);
  CAF_CHECK_EQUAL(q.entity, p.entity);
  CAF_CHECK(q.basic == core::basic_status::open);
  CAF_CHECK(q.status == core::extended_status::custom);
  CAF_CHECK_EQUAL(q.custom_status, "writing code");
  CAF_CHECK_EQUAL(q.note, p.note);
  CAF_CHECK_EQUAL(q.activities, p.activities);
  CAF_REQUIRE_EQUAL(q.devices.size(), 2u);
  CAF_CHECK_EQUAL(q.devices[0].device_id, "phone");
  CAF_REQUIRE(q.devices[0].priority.has_value());
  CAF_CHECK_EQUAL(*q.devices[0].priority, 800u);
  CAF_CHECK(!q.devices[1].priority.has_value());
  CAF_CHECK(q.devices[1].status == core::extended_status::away);
  CAF_CHECK(q.devices[1].expires_at == at(60));
}

CAF_TEST(subscription survives the binary serializer) {
  core::subscription s;
  s.id = "sub-42";
  s.subscriber = "sip:alice@example.com";
  s.target = "sip:bob@example.com";
  s.state = core::subscription_state::terminated;
  s.reason = core::termination_reason::timeout;
  s.expires = 600;
  s.expires_at = at(600);
  s.event_id = "x1";
  s.version = 7;
  s.accept = {"application/pidf+xml"};
  auto t = roundtrip(s);
  CAF_CHECK_EQUAL(t.id, s.id);
  CAF_CHECK_EQUAL(t.subscriber, s.subscriber);
  CAF_CHECK_EQUAL(t.target, s.target);
  CAF_CHECK(t.state == core::subscription_state::terminated);
  CAF_CHECK(t.reason == core::termination_reason::timeout);
  CAF_CHECK_EQUAL(t.expires, 600u);
  CAF_CHECK(t.expires_at == at(600));
  CAF_CHECK_EQUAL(t.event_id, "x1");
  CAF_CHECK_EQUAL(t.version, 7u);
  CAF_CHECK_EQUAL(t.accept, s.accept);
}

CAF_TEST(core errors map to caf errors and back) {
  auto e = core::make_caf_error(core::errc::interval_too_brief,
                                "Interval Too Brief", 60);
  CAF_CHECK(messages::is(e, core::errc::interval_too_brief));
  CAF_CHECK(!messages::is(e, core::errc::bad_request));
  auto back = messages::from_caf_error(e);
  CAF_CHECK(back.code == core::errc::interval_too_brief);
  CAF_CHECK_EQUAL(back.reason, "Interval Too Brief");
  CAF_CHECK_EQUAL(back.value, 60u);
  CAF_CHECK_EQUAL(sys.render(e),
                  "interval_too_brief (Interval Too Brief, 60)");
  auto e2 = roundtrip(e);
  CAF_CHECK(messages::is(e2, core::errc::interval_too_brief));
  CAF_CHECK_EQUAL(messages::from_caf_error(e2).value, 60u);
  auto other = messages::from_caf_error(caf::make_error(caf::sec::request_timeout));
  CAF_CHECK(other.code == core::errc::invalid_state);
}

CAF_TEST(api requests keep their optional fields) {
  register_request r;
  r.aor = "sip:alice@example.com";
  contact_request c1;
  c1.uri = "sip:alice@192.0.2.4";
  c1.expires = 0;
  c1.q = 500;
  contact_request c2;
  c2.uri = "sip:alice@192.0.2.5";
  c2.instance_id = "<urn:uuid:1>";
  c2.reg_id = 1;
  r.contacts = {c1, c2};
  r.expires = 1800;
  r.call_id = "cid";
  r.cseq = 9;
  r.path = {"<sip:p.example.com;lr>"};
  r.transport_type = core::transport::tls;
  auto r2 = roundtrip(r);
  CAF_CHECK_EQUAL(r2.aor, r.aor);
  CAF_REQUIRE_EQUAL(r2.contacts.size(), 2u);
  CAF_REQUIRE(r2.contacts[0].expires.has_value());
  CAF_CHECK_EQUAL(*r2.contacts[0].expires, 0u);
  CAF_REQUIRE(r2.contacts[0].q.has_value());
  CAF_CHECK_EQUAL(*r2.contacts[0].q, 500u);
  CAF_CHECK(!r2.contacts[1].expires.has_value());
  CAF_CHECK(!r2.contacts[1].q.has_value());
  CAF_CHECK_EQUAL(r2.contacts[1].instance_id, "<urn:uuid:1>");
  CAF_REQUIRE(r2.expires.has_value());
  CAF_CHECK_EQUAL(*r2.expires, 1800u);
  CAF_CHECK_EQUAL(r2.path, r.path);
  CAF_CHECK(r2.transport_type == core::transport::tls);
  subscribe_request s;
  s.watcher = "sip:bob@example.com";
  s.target = "sip:alice@example.com";
  s.accept = {"application/pidf+xml"};
  s.dialog.call_id = "d1";
  s.dialog.route_set = {"<sip:r1;lr>", "<sip:r2;lr>"};
  auto s2 = roundtrip(s);
  CAF_CHECK(!s2.expires.has_value());
  CAF_CHECK_EQUAL(s2.dialog.route_set, s.dialog.route_set);
  CAF_CHECK_EQUAL(s2.accept, s.accept);
  set_policy_request p;
  p.aor = "sip:alice@example.com";
  p.policy.default_action = core::policy_action::confirm;
  p.policy.rules = {{"evil.example", core::policy_action::block}};
  auto p2 = roundtrip(p);
  CAF_CHECK(p2.policy.default_action == core::policy_action::confirm);
  CAF_REQUIRE_EQUAL(p2.policy.rules.size(), 1u);
  CAF_CHECK_EQUAL(p2.policy.rules[0].pattern, "evil.example");
}

CAF_TEST(sip edge messages survive the binary serializer) {
  sip_inbound in;
  in.from.proto = core::transport::tcp;
  in.from.ip = "::1";
  in.from.port = 5070;
  in.from.listener = 2;
  in.from.connection = 42;
  static constexpr char raw[] = "OPTIONS sip:x SIP/2.0\r\n\0binary";
  in.bytes = std::string(raw, sizeof(raw) - 1); // with the NUL inside
  auto out = roundtrip(in);
  CAF_CHECK(out.from.proto == core::transport::tcp);
  CAF_CHECK_EQUAL(out.from.ip, "::1");
  CAF_CHECK_EQUAL(out.from.port, 5070u);
  CAF_CHECK_EQUAL(out.from.listener, 2u);
  CAF_CHECK_EQUAL(out.from.connection, 42u);
  CAF_CHECK_EQUAL(out.bytes, in.bytes);
  CAF_CHECK_EQUAL(to_string(out.from), "tcp:[::1]:5070");
  auto closed = roundtrip(sip_connection_closed{7});
  CAF_CHECK_EQUAL(closed.connection, 7u);
}

CAF_TEST(register batches survive the binary serializer) {
  register_batch_request b;
  register_request r;
  r.aor = "sip:alice@example.com";
  r.contacts.push_back(contact_request{"sip:alice@192.0.2.4", 600, 500, {}, 0});
  r.call_id = "cid";
  r.cseq = 3;
  b.requests = {r, r};
  b.requests[1].aor = "sip:bob@example.com";
  auto b2 = roundtrip(b);
  CAF_REQUIRE_EQUAL(b2.requests.size(), 2u);
  CAF_CHECK_EQUAL(b2.requests[0].aor, "sip:alice@example.com");
  CAF_CHECK_EQUAL(b2.requests[1].aor, "sip:bob@example.com");
  CAF_REQUIRE_EQUAL(b2.requests[1].contacts.size(), 1u);
  CAF_CHECK_EQUAL(*b2.requests[1].contacts[0].q, 500u);
  CAF_CHECK_EQUAL(b2.requests[0].call_id, "cid");
  register_batch_reply rep;
  register_result ok;
  ok.reply.aor = "sip:alice@example.com";
  ok.reply.outcome = register_outcome::added;
  core::contact_info c;
  c.uri = "sip:alice@192.0.2.4";
  c.expires = 600;
  ok.reply.bindings.push_back(c);
  register_result bad;
  bad.error = core::make_caf_error(core::errc::interval_too_brief, "Interval Too Brief", 60);
  rep.results = {ok, bad};
  auto rep2 = roundtrip(rep);
  CAF_REQUIRE_EQUAL(rep2.results.size(), 2u);
  CAF_CHECK(!rep2.results[0].error);
  CAF_CHECK(rep2.results[0].reply.outcome == register_outcome::added);
  CAF_REQUIRE_EQUAL(rep2.results[0].reply.bindings.size(), 1u);
  CAF_CHECK_EQUAL(rep2.results[0].reply.bindings[0].uri, "sip:alice@192.0.2.4");
  CAF_CHECK(messages::is(rep2.results[1].error, core::errc::interval_too_brief));
  CAF_CHECK_EQUAL(messages::from_caf_error(rep2.results[1].error).value, 60u);
}

CAF_TEST(every registered message type crosses the wire by its name) {
  // What a remote node does: the message is serialized with its type names
  // and rebuilt from them, so every type must be registered and inspectable.
  size_t checked = 0;
  auto check = [&](auto value, const char* name) {
    using type = decltype(value);
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    auto msg = caf::make_message(value);
    if (auto err = sink(msg)) {
      CAF_FAIL(name << ": serialize failed: " << sys.render(err));
      return;
    }
    caf::message back;
    caf::binary_deserializer source{sys, buf};
    if (auto err = source(back)) {
      CAF_FAIL(name << ": deserialize failed: " << sys.render(err));
      return;
    }
    if (!back.match_elements<type>()) {
      CAF_FAIL(name << ": came back as another type (not registered?)");
      return;
    }
    // inspect() reads what it writes: the copy serializes to the same bytes.
    std::vector<char> again;
    caf::binary_serializer sink2{sys, again};
    auto copy = back.get_as<type>(0);
    if (auto err = sink2(copy))
      CAF_FAIL(name << ": second serialize failed");
    std::vector<char> first;
    caf::binary_serializer sink3{sys, first};
    if (auto err = sink3(value))
      CAF_FAIL(name << ": direct serialize failed");
    CAF_CHECK_EQUAL(again, first);
    ++checked;
  };
#define REGCORE_CHECK_TYPE(type, name) check(type{}, #name);
  REGCORE_FOR_EACH_MESSAGE_TYPE(REGCORE_CHECK_TYPE)
#undef REGCORE_CHECK_TYPE
  CAF_CHECK_GREATER(checked, 60u);
}

CAF_TEST_FIXTURE_SCOPE_END()
