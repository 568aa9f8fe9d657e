// SPDX-License-Identifier: MIT
// The cluster membership protocol's messages (messages/cluster_messages.hpp)
// through CAF's binary serializer, field by field, and as whole messages by
// their registered names (what the middleman does between two nodes).
#define CAF_SUITE messages.cluster_serialization
#include "messages/cluster_messages.hpp"
#include "messages/types.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/test/dsl.hpp>

using namespace regcore;

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

  /// As a message: type names on the wire, rebuilt from them.
  template <class T>
  T through_message(const T& in) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    auto msg = caf::make_message(in);
    if (auto err = sink(msg))
      CAF_FAIL("serialize failed: " << sys.render(err));
    caf::message back;
    caf::binary_deserializer source{sys, buf};
    if (auto err = source(back))
      CAF_FAIL("deserialize failed: " << sys.render(err));
    CAF_REQUIRE(back.match_elements<T>());
    return back.get_as<T>(0);
  }
};

core::cluster_member member(int n, uint64_t incarnation) {
  return {"node-" + std::to_string(n), "127.0.0.1",
          static_cast<uint16_t>(7000 + n), incarnation};
}

caf::behavior idle() {
  return {[](int) {}};
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_serialization_tests, fixture)

CAF_TEST(a member keeps id address and incarnation) {
  core::cluster_member m{"node-7", "::1", 65535, 0xFFFFFFFFFFFFFFFFull};
  auto back = roundtrip(m);
  CAF_CHECK(back == m);
  CAF_CHECK_EQUAL(back.incarnation, 0xFFFFFFFFFFFFFFFFull);
}

CAF_TEST(a hello carries the node handle and the member list) {
  auto node = sys.spawn(idle);
  cluster_hello h{member(1, 100),
                  node_handles{node, route_member{"node-1", {}, {}, {}, {}, {}, {}}},
                  {member(1, 100), member(2, 200), member(3, 300)},
                  true};
  auto back = through_message(h);
  CAF_CHECK(back.from == member(1, 100));
  CAF_CHECK(back.handles.node == node);
  CAF_CHECK_EQUAL(back.handles.engine.node_id, "node-1");
  CAF_REQUIRE_EQUAL(back.members.size(), 3u);
  CAF_CHECK(back.members[2] == member(3, 300));
  CAF_CHECK(back.reply);
  // Without a handle too.
  auto empty = roundtrip(cluster_hello{});
  CAF_CHECK(!empty.handles.node);
  CAF_CHECK(!empty.reply);
  caf::anon_send_exit(node, caf::exit_reason::kill);
}

CAF_TEST(gossip leave and view keep their fields) {
  auto g = through_message(
      cluster_gossip{member(2, 200), {member(1, 100), member(2, 200)}});
  CAF_CHECK(g.from == member(2, 200));
  CAF_CHECK_EQUAL(g.members.size(), 2u);
  auto l = through_message(cluster_leave{member(3, 300)});
  CAF_CHECK(l.who == member(3, 300));
  auto v = through_message(
      cluster_view{"node-1", 42, {member(1, 100), member(2, 200)}});
  CAF_CHECK_EQUAL(v.self, "node-1");
  CAF_CHECK_EQUAL(v.epoch, 42u);
  CAF_CHECK_EQUAL(v.members.size(), 2u);
}

CAF_TEST(membership changes keep the kind the subject and the view) {
  for (auto kind : {membership_change::snapshot, membership_change::joined,
                    membership_change::restarted, membership_change::left,
                    membership_change::lost}) {
    membership_changed x{kind, member(3, 300),
                         cluster_view{"node-1", 7, {member(1, 100)}}, {}};
    auto back = through_message(x);
    CAF_CHECK(back.change == kind);
    CAF_CHECK(back.subject == member(3, 300));
    CAF_CHECK_EQUAL(back.view.epoch, 7u);
    CAF_CHECK_EQUAL(back.view.members.size(), 1u);
  }
  CAF_CHECK_EQUAL(std::string{to_string(membership_change::lost)}, "lost");
  CAF_CHECK_EQUAL(std::string{to_string(membership_change::left)}, "left");
}

CAF_TEST(subscriptions carry the subscriber) {
  auto w = sys.spawn(idle);
  CAF_CHECK(through_message(cluster_subscribe{w}).subscriber == w);
  CAF_CHECK(through_message(cluster_unsubscribe{w}).subscriber == w);
  caf::anon_send_exit(w, caf::exit_reason::kill);
}

CAF_TEST_FIXTURE_SCOPE_END()
