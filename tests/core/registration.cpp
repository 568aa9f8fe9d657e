// SPDX-License-Identifier: MIT
#define CAF_SUITE core.registration
#include <caf/test/unit_test.hpp>

#include <map>

#include "core/registration.hpp"

using namespace regcore::core;

namespace {

time_point at(int s) {
  return time_point{} + std::chrono::seconds{s};
}

register_contact contact(std::string uri, std::optional<uint32_t> expires = std::nullopt,
                         std::optional<qvalue> q = std::nullopt) {
  register_contact c;
  c.uri = std::move(uri);
  c.expires = expires;
  c.q = q;
  return c;
}

struct fixture {
  registration_policy policy;
  std::vector<contact_info> bindings;
  uint32_t cseq = 0;

  fixture() { policy.max_contacts = 3; }

  register_request req(std::vector<register_contact> cs,
                       std::optional<uint32_t> expires = std::nullopt,
                       std::string call_id = "call-1") {
    register_request r;
    r.aor = "sip:alice@example.com";
    r.contacts = std::move(cs);
    r.expires = expires;
    r.call_id = std::move(call_id);
    r.cseq = ++cseq;
    r.user_agent = "test-ua";
    r.received = "192.0.2.1:5060";
    return r;
  }

  /// Applies and, on success, stores the new bindings.
  result<register_outcome> apply(const register_request& r, time_point now) {
    auto res = apply_register(bindings, r, policy, now);
    if (res)
      bindings = res->bindings;
    return res;
  }

  std::map<std::string, uint32_t> left(time_point now) {
    std::map<std::string, uint32_t> xs;
    for (auto& b : bindings)
      xs[b.uri] = remaining_seconds(b.expires_at, now);
    return xs;
  }
};

using left_map = std::map<std::string, uint32_t>;

} // namespace

CAF_TEST_FIXTURE_SCOPE(registration_tests, fixture)

CAF_TEST(add refresh remove) {
  auto r = apply(req({contact("sip:alice@192.0.2.1")}), at(0));
  CAF_REQUIRE(r);
  CAF_CHECK(r->kind == register_kind::added);
  CAF_REQUIRE_EQUAL(r->added.size(), 1u);
  CAF_CHECK_EQUAL(r->added[0].expires, 3600u); // the default
  CAF_CHECK_EQUAL(r->added[0].user_agent, "test-ua");
  CAF_CHECK_EQUAL(r->added[0].received, "192.0.2.1:5060");
  CAF_CHECK_EQUAL(r->added[0].call_id, "call-1");
  r = apply(req({contact("sip:alice@192.0.2.1", 600)}), at(10));
  CAF_REQUIRE(r);
  CAF_CHECK(r->kind == register_kind::refreshed);
  CAF_CHECK_EQUAL(r->refreshed.size(), 1u);
  CAF_CHECK_EQUAL(left(at(10)), left_map({{"sip:alice@192.0.2.1", 600u}}));
  r = apply(req({contact("sip:alice@192.0.2.1", 0)}), at(20));
  CAF_REQUIRE(r);
  CAF_CHECK(r->kind == register_kind::removed);
  CAF_CHECK_EQUAL(r->removed.size(), 1u);
  CAF_CHECK(bindings.empty());
}

CAF_TEST(expires comes from the contact then the header then the default) {
  auto r = apply(req({contact("sip:a@192.0.2.1", 300), contact("sip:a@192.0.2.2")}, 900),
                 at(0));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(left(at(0)), left_map({{"sip:a@192.0.2.1", 300u}, {"sip:a@192.0.2.2", 900u}}));
  r = apply(req({contact("sip:a@192.0.2.3")}), at(0));
  CAF_REQUIRE(r);
  auto now_left = left(at(0));
  CAF_CHECK_EQUAL(now_left["sip:a@192.0.2.3"], 3600u);
}

CAF_TEST(too brief is refused with the minimum and changes nothing) {
  CAF_REQUIRE(apply(req({contact("sip:a@192.0.2.1", 600)}), at(0)));
  auto before = bindings;
  auto r = apply(req({contact("sip:a@192.0.2.2", 600), contact("sip:a@192.0.2.1", 30)}), at(5));
  CAF_REQUIRE(!r);
  CAF_CHECK(r.err() == errc::interval_too_brief);
  CAF_CHECK_EQUAL(r.err().value, 60u);
  CAF_CHECK_EQUAL(sip_status(r.err().code), 423);
  CAF_REQUIRE_EQUAL(bindings.size(), before.size());
  CAF_CHECK(bindings[0].expires_at == before[0].expires_at);
  r = apply(req({contact("sip:a@192.0.2.2")}, 59), at(5));
  CAF_CHECK(!r);
}

CAF_TEST(too long is clamped to the maximum) {
  auto r = apply(req({contact("sip:a@192.0.2.1", 1000000)}), at(0));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->bindings[0].expires, 7200u);
  auto now_left = left(at(0));
  CAF_CHECK_EQUAL(now_left["sip:a@192.0.2.1"], 7200u);
}

CAF_TEST(remaining expires shrink as time passes) {
  CAF_REQUIRE(apply(req({contact("sip:a@192.0.2.1", 100), contact("sip:a@192.0.2.2", 200)}),
                    at(0)));
  CAF_CHECK_EQUAL(left(at(40)), left_map({{"sip:a@192.0.2.1", 60u}, {"sip:a@192.0.2.2", 160u}}));
  // A query lists the same and changes nothing.
  auto q = apply(req({}), at(40));
  CAF_REQUIRE(q);
  CAF_CHECK(q->kind == register_kind::queried);
  CAF_CHECK_EQUAL(q->bindings.size(), 2u);
}

CAF_TEST(refreshing one contact leaves the others) {
  CAF_REQUIRE(apply(req({contact("sip:a@192.0.2.1", 100)}), at(0)));
  CAF_REQUIRE(apply(req({contact("sip:a@192.0.2.2", 100)}), at(0)));
  CAF_REQUIRE(apply(req({contact("sip:a@192.0.2.1", 100)}), at(50)));
  CAF_CHECK_EQUAL(left(at(50)), left_map({{"sip:a@192.0.2.1", 100u}, {"sip:a@192.0.2.2", 50u}}));
}

CAF_TEST(equal uris are the same binding) {
  CAF_REQUIRE(apply(req({contact("sip:a@192.0.2.1;transport=TCP")}), at(0)));
  auto r = apply(req({contact("sip:%61@192.0.2.1;transport=tcp", 120)}), at(1));
  CAF_REQUIRE(r);
  CAF_CHECK(r->kind == register_kind::refreshed);
  CAF_CHECK_EQUAL(bindings.size(), 1u);
  // Another port is another binding.
  r = apply(req({contact("sip:a@192.0.2.1:5070;transport=tcp")}), at(2));
  CAF_CHECK_EQUAL(bindings.size(), 2u);
}

CAF_TEST(same instance id replaces the old binding) {
  auto c1 = contact("sip:a@192.0.2.1:5060");
  c1.instance_id = "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";
  c1.reg_id = 1;
  CAF_REQUIRE(apply(req({c1}), at(0)));
  auto c2 = c1;
  c2.uri = "sip:a@198.51.100.7:6000"; // the device moved
  auto r = apply(req({c2}), at(10));
  CAF_REQUIRE(r);
  CAF_REQUIRE_EQUAL(bindings.size(), 1u);
  CAF_CHECK_EQUAL(bindings[0].uri, "sip:a@198.51.100.7:6000");
  CAF_REQUIRE_EQUAL(r->replaced.size(), 1u);
  CAF_CHECK_EQUAL(r->replaced[0].uri, "sip:a@192.0.2.1:5060");
  CAF_CHECK_EQUAL(r->added.size(), 1u);
  // Another reg-id of the same instance is a second flow (RFC 5626 §6).
  auto c3 = c1;
  c3.reg_id = 2;
  c3.uri = "sip:a@203.0.113.9:7000";
  CAF_REQUIRE(apply(req({c3}), at(20)));
  CAF_CHECK_EQUAL(bindings.size(), 2u);
}

CAF_TEST(cseq ordering per call id) {
  auto r1 = req({contact("sip:a@192.0.2.1")});
  CAF_REQUIRE(apply(r1, at(0)));
  auto old = r1; // same Call-ID, same CSeq: a replay
  auto r = apply(old, at(1));
  CAF_REQUIRE(!r);
  CAF_CHECK(r.err() == errc::out_of_order);
  old.cseq = r1.cseq - 1;
  old.contacts[0].expires = 0;
  r = apply(old, at(1));
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(bindings.size(), 1u); // nothing removed
  // Higher CSeq with the same Call-ID: fine.
  CAF_CHECK(apply(req({contact("sip:a@192.0.2.1", 120)}), at(2)));
  // A new Call-ID (a rebooted UA) replaces whatever CSeq it brings.
  auto fresh = req({contact("sip:a@192.0.2.1", 300)}, std::nullopt, "call-2");
  fresh.cseq = 1;
  r = apply(fresh, at(3));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(bindings[0].call_id, "call-2");
  CAF_CHECK_EQUAL(bindings[0].cseq, 1u);
}

CAF_TEST(wildcard removes all only alone and with expires zero) {
  CAF_REQUIRE(apply(req({contact("sip:a@192.0.2.1"), contact("sip:a@192.0.2.2")}), at(0)));
  auto w = req({}, 0);
  w.wildcard = true;
  auto bad = w;
  bad.expires = 60;
  auto r = apply(bad, at(1));
  CAF_REQUIRE(!r);
  CAF_CHECK(r.err() == errc::bad_request);
  CAF_CHECK_EQUAL(r.err().reason, "Wildcard Contact requires Expires: 0");
  bad.expires.reset();
  CAF_CHECK(!apply(bad, at(1)));
  auto mixed = w;
  mixed.contacts.push_back(contact("sip:a@192.0.2.3"));
  r = apply(mixed, at(1));
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(r.err().reason, "Wildcard Contact must be alone");
  CAF_CHECK_EQUAL(bindings.size(), 2u);
  r = apply(w, at(1));
  CAF_REQUIRE(r);
  CAF_CHECK(r->kind == register_kind::removed_all);
  CAF_CHECK_EQUAL(r->removed.size(), 2u);
  CAF_CHECK(bindings.empty());
}

CAF_TEST(contact limit names the limit and keeps the bindings) {
  CAF_REQUIRE(apply(req({contact("sip:a@192.0.2.1"), contact("sip:a@192.0.2.2"),
                         contact("sip:a@192.0.2.3")}),
                    at(0)));
  auto r = apply(req({contact("sip:a@192.0.2.4")}), at(1));
  CAF_REQUIRE(!r);
  CAF_CHECK(r.err() == errc::too_many_contacts);
  CAF_CHECK_EQUAL(r.err().value, 3u);
  CAF_CHECK_EQUAL(r.err().reason, "Too many contacts (limit 3)");
  CAF_CHECK_EQUAL(bindings.size(), 3u);
  // Refreshing at the limit, or swapping one for another, is fine.
  CAF_CHECK(apply(req({contact("sip:a@192.0.2.1", 100)}), at(2)));
  CAF_CHECK(apply(req({contact("sip:a@192.0.2.1", 0), contact("sip:a@192.0.2.4")}), at(3)));
  CAF_CHECK_EQUAL(bindings.size(), 3u);
}

CAF_TEST(expires zero on an unknown contact is harmless) {
  CAF_REQUIRE(apply(req({contact("sip:a@192.0.2.1")}), at(0)));
  auto r = apply(req({contact("sip:a@192.0.2.99", 0)}), at(1));
  CAF_REQUIRE(r);
  CAF_CHECK(r->removed.empty());
  CAF_CHECK_EQUAL(bindings.size(), 1u);
}

CAF_TEST(a contact listed twice takes the last entry) {
  auto r = apply(req({contact("sip:a@192.0.2.1", 100), contact("sip:a@192.0.2.1", 200)}), at(0));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(bindings.size(), 1u);
  auto now_left = left(at(0));
  CAF_CHECK_EQUAL(now_left["sip:a@192.0.2.1"], 200u);
}

CAF_TEST(bad contacts are refused) {
  CAF_CHECK(apply(req({contact("")}), at(0)).err() == errc::bad_uri);
  CAF_CHECK(apply(req({contact("not a uri")}), at(0)).err() == errc::bad_uri);
  CAF_CHECK(apply(req({contact("sip:a@192.0.2.1", 60, 1001)}), at(0)).err()
            == errc::invalid_input);
  CAF_CHECK(bindings.empty());
}

CAF_TEST(lookup order is q then most recent) {
  CAF_REQUIRE(apply(req({contact("sip:a@192.0.2.1", 600, 500)}), at(0)));
  CAF_REQUIRE(apply(req({contact("sip:a@192.0.2.2", 600, 900)}), at(1)));
  CAF_REQUIRE(apply(req({contact("sip:a@192.0.2.3", 600, 500)}), at(2)));
  auto xs = lookup_order(bindings);
  CAF_REQUIRE_EQUAL(xs.size(), 3u);
  CAF_CHECK_EQUAL(xs[0].uri, "sip:a@192.0.2.2");
  CAF_CHECK_EQUAL(xs[1].uri, "sip:a@192.0.2.3"); // same q, more recent
  CAF_CHECK_EQUAL(xs[2].uri, "sip:a@192.0.2.1");
}

CAF_TEST(path and transport are stored) {
  auto r = req({contact("sip:a@192.0.2.1")});
  r.path = {"<sip:edge.example.com;lr>"};
  r.transport_type = transport::tcp;
  CAF_REQUIRE(apply(r, at(0)));
  CAF_CHECK_EQUAL(bindings[0].path, std::vector<std::string>{"<sip:edge.example.com;lr>"});
  CAF_CHECK(bindings[0].transport_type == transport::tcp);
}

CAF_TEST(expiry helpers) {
  CAF_REQUIRE(apply(req({contact("sip:a@192.0.2.1", 100), contact("sip:a@192.0.2.2", 200)}),
                    at(0)));
  auto next = next_deadline(bindings);
  CAF_REQUIRE(next.has_value());
  CAF_CHECK(*next == at(100));
  auto gone = expire_bindings(bindings, at(99));
  CAF_CHECK(gone.empty());
  gone = expire_bindings(bindings, at(100));
  CAF_REQUIRE_EQUAL(gone.size(), 1u);
  CAF_CHECK_EQUAL(gone[0].uri, "sip:a@192.0.2.1");
  CAF_CHECK_EQUAL(bindings.size(), 1u);
  CAF_CHECK(*next_deadline(bindings) == at(200));
  expire_bindings(bindings, at(1000));
  CAF_CHECK(!next_deadline(bindings));
}

CAF_TEST_FIXTURE_SCOPE_END()
