// SPDX-License-Identifier: MIT
// The SIP server (transport + edge) on loopback: real UDP and TCP sockets
// send requests, the answers are parsed with our own parser. Bounded by a
// receive timeout; no sleeps. The SIP behaviour in detail (transactions,
// NOTIFY retransmission, rate limits) is tested deterministically in
// tests/actors/sip_edge.cpp.
#define CAF_SUITE actors.sip_server
#include <caf/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "actors/engine.hpp"
#include "actors/sip_edge.hpp"
#include "core/pidf.hpp"
#include "core/sip_message.hpp"
#include "core/stream_framer.hpp"
#include "messages/types.hpp"
#include "tests/actors/sip_support.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

using namespace regcore;

namespace {

struct config : caf::actor_system_config {
  config() {
    messages::register_types(*this);
    load<caf::io::middleman>();
    set("scheduler.max-threads", 2);
  }
};

/// A UDP client socket on 127.0.0.1.
struct client {
  int fd = -1;
  uint16_t port = 0;
  sockaddr_in server{};

  explicit client(uint16_t server_port) {
    fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local));
    socklen_t len = sizeof(local);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    port = ntohs(local.sin_port);
    timeval tv{10, 0}; // bound on every wait
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    server.sin_family = AF_INET;
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    server.sin_port = htons(server_port);
  }

  ~client() { ::close(fd); }

  void send(const std::string& msg) {
    ::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&server),
             sizeof(server));
  }

  /// The next datagram, or "" after the timeout.
  std::string recv() {
    char buf[65536];
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string{};
  }
};

using test_support::crlf;

std::string register_msg(uint16_t port, int cseq, std::string expires,
                         std::string to = "sip:alice@localhost",
                         std::string branch = "", std::string proto = "UDP") {
  if (branch.empty())
    branch = std::to_string(cseq);
  return crlf("REGISTER sip:localhost SIP/2.0\n"
              "Via: SIP/2.0/" + proto + " 127.0.0.1:" + std::to_string(port) + ";branch=z9hG4bK-"
              + branch + ";rport\n"
              "Max-Forwards: 70\n"
              "From: <sip:alice@localhost>;tag=a1\n"
              "To: <" + to + ">\n"
              "Call-ID: udp-test-1\n"
              "CSeq: " + std::to_string(cseq) + " REGISTER\n"
              "Contact: <sip:alice@127.0.0.1:" + std::to_string(port) + ">\n"
              "Expires: " + expires + "\n"
              "Content-Length: 0\n\n");
}

using test_support::answer;

/// A TCP client connection to 127.0.0.1; responses are cut out of the
/// stream with our framer.
struct tcp_client {
  int fd = -1;
  uint16_t port = 0;
  core::stream_framer framer;

  explicit tcp_client(uint16_t server_port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    server.sin_port = htons(server_port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof(server)) != 0)
      CAF_FAIL("cannot connect to the TCP listener");
    sockaddr_in local{};
    socklen_t len = sizeof(local);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    port = ntohs(local.sin_port);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }

  ~tcp_client() { ::close(fd); }

  void send(const std::string& bytes) { ::send(fd, bytes.data(), bytes.size(), 0); }

  /// The next message from the stream, or "" after the timeout.
  std::string recv() {
    while (true) {
      auto item = framer.next();
      if (!item)
        return {};
      if (*item && (*item)->kind == core::stream_item::message)
        return std::move((*item)->bytes);
      if (*item)
        continue;
      char buf[65536];
      auto n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0)
        return {};
      framer.feed(std::string_view{buf, static_cast<size_t>(n)});
    }
  }
};

struct fixture {
  config cfg;
  caf::actor_system sys{cfg};
  actors::engine eng = actors::spawn_engine(sys);
  actors::sip_server server;
  uint16_t udp_port = 0;
  uint16_t tcp_port = 0;

  fixture() {
    // Any free ports.
    std::vector<actors::listen_address> where{{core::transport::udp, "127.0.0.1", 0},
                                              {core::transport::tcp, "127.0.0.1", 0}};
    auto s = actors::start_sip_server(sys, eng, where, actors::sip_edge_settings{});
    if (!s)
      CAF_FAIL("cannot start the SIP server: " << sys.render(s.error()));
    server = std::move(*s);
    udp_port = server.listeners()[0].port;
    tcp_port = server.listeners()[1].port;
  }

  ~fixture() {
    server.stop();
    eng.shutdown();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(sip_server_tests, fixture)

CAF_TEST(register over udp lands in the engine) {
  client c{udp_port};
  c.send(register_msg(c.port, 1, "600"));
  answer res{c.recv()};
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status(), 200);
  CAF_REQUIRE_EQUAL(res->contacts().size(), 1u);
  CAF_CHECK_EQUAL(std::string{res->contacts()[0].uri},
                  "sip:alice@127.0.0.1:" + std::to_string(c.port));
  CAF_REQUIRE(res->contacts()[0].expires.has_value());
  CAF_CHECK_EQUAL(*res->contacts()[0].expires, 600u);
  CAF_CHECK(!res->to().tag.empty());
  CAF_CHECK(res->header(core::header_id::date).has_value());
  // RFC 3581: the real source in the top Via.
  CAF_REQUIRE(!res->vias().empty());
  CAF_CHECK_EQUAL(std::string{res->vias()[0].received}, "127.0.0.1");
  CAF_CHECK(res->vias()[0].rport_value == std::optional<uint16_t>{c.port});
  actors::blocking_service api{sys, eng.service};
  auto l = api.lookup_user("sip:alice@localhost");
  CAF_REQUIRE(l);
  CAF_REQUIRE_EQUAL(l->bindings.size(), 1u);
  CAF_CHECK_EQUAL(l->bindings[0].received, "127.0.0.1:" + std::to_string(c.port));
  CAF_CHECK_EQUAL(l->bindings[0].call_id, "udp-test-1");
}

CAF_TEST(too brief gets 423 with min expires and a replay gets 500) {
  client c{udp_port};
  c.send(register_msg(c.port, 1, "5"));
  answer r{c.recv()};
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status(), 423);
  CAF_REQUIRE(r->min_expires().has_value());
  CAF_CHECK_EQUAL(*r->min_expires(), 60u);
  c.send(register_msg(c.port, 2, "600"));
  answer ok{c.recv()};
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->status(), 200);
  // A retransmission (same branch) gets the same 200 again.
  c.send(register_msg(c.port, 2, "600"));
  answer same{c.recv()};
  CAF_REQUIRE(same);
  CAF_CHECK_EQUAL(same->status(), 200);
  CAF_CHECK_EQUAL(same.bytes, ok.bytes);
  // A new request (new branch) with the same Call-ID and CSeq is out of order.
  c.send(register_msg(c.port, 2, "600", "sip:alice@localhost", "replay"));
  answer old{c.recv()};
  CAF_REQUIRE(old);
  CAF_CHECK_EQUAL(old->status(), 500);
  CAF_CHECK_EQUAL(std::string{old->reason_phrase()}, "Out of order CSeq");
}

CAF_TEST(options other methods foreign domains and garbage) {
  client c{udp_port};
  c.send("this is not SIP\r\n\r\n");
  c.send(crlf("OPTIONS sip:localhost SIP/2.0\n"
              "Via: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-o\n"
              "From: <sip:x@localhost>;tag=x\nTo: <sip:localhost>\n"
              "Call-ID: o1\nCSeq: 1 OPTIONS\nMax-Forwards: 70\nContent-Length: 0\n\n"));
  answer o{c.recv()}; // the garbage got no answer
  CAF_REQUIRE(o);
  CAF_CHECK_EQUAL(o->status(), 200);
  CAF_CHECK_EQUAL(o->allow().size(), 4u);
  c.send(crlf("INFO sip:localhost SIP/2.0\n"
              "Via: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-i\n"
              "From: <sip:x@localhost>;tag=x\nTo: <sip:localhost>\n"
              "Call-ID: i1\nCSeq: 1 INFO\nMax-Forwards: 70\nContent-Length: 0\n\n"));
  answer i{c.recv()};
  CAF_REQUIRE(i);
  CAF_CHECK_EQUAL(i->status(), 405);
  CAF_CHECK(!i->allow().empty());
  // A REGISTER with a malformed Expires: 400 naming the problem.
  c.send(register_msg(c.port, 8, "soon"));
  answer bad{c.recv()};
  CAF_REQUIRE(bad);
  CAF_CHECK_EQUAL(bad->status(), 400);
  CAF_CHECK_EQUAL(std::string{bad->reason_phrase()}, "Malformed Expires");
  c.send(register_msg(c.port, 7, "600", "sip:bob@elsewhere.example"));
  answer f{c.recv()};
  CAF_REQUIRE(f);
  CAF_CHECK_EQUAL(f->status(), 404);
}

CAF_TEST(subscribe notify publish unsubscribe over udp) {
  client alice{udp_port};
  client bob{udp_port};
  alice.send(register_msg(alice.port, 1, "600"));
  answer reg{alice.recv()};
  CAF_REQUIRE(reg);
  CAF_CHECK_EQUAL(reg->status(), 200);
  auto sub = [&](int cseq, std::string expires, std::string to_tag, std::string event) {
    return crlf("SUBSCRIBE sip:alice@localhost SIP/2.0\n"
                "Via: SIP/2.0/UDP 127.0.0.1:" + std::to_string(bob.port)
                + ";branch=z9hG4bK-s" + std::to_string(cseq) + ";rport\n"
                "Max-Forwards: 70\n"
                "From: <sip:bob@localhost>;tag=b1\n"
                "To: <sip:alice@localhost>" + (to_tag.empty() ? "" : ";tag=" + to_tag) + "\n"
                "Call-ID: sub-1\n"
                "CSeq: " + std::to_string(cseq) + " SUBSCRIBE\n"
                "Contact: <sip:bob@127.0.0.1:" + std::to_string(bob.port) + ">\n"
                "Event: " + event + "\n"
                "Accept: application/pidf+xml\n"
                "Expires: " + expires + "\n"
                "Content-Length: 0\n\n");
  };
  bob.send(sub(1, "600", "", "foo"));
  answer bad_event{bob.recv()};
  CAF_REQUIRE(bad_event);
  CAF_CHECK_EQUAL(bad_event->status(), 489);
  bob.send(sub(2, "600", "", "presence"));
  answer ok{bob.recv()};
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->status(), 200);
  CAF_REQUIRE(ok->expires().has_value());
  CAF_CHECK_EQUAL(*ok->expires(), 600u);
  std::string to_tag{ok->to().tag};
  CAF_CHECK(!to_tag.empty());
  answer first{bob.recv()};
  CAF_REQUIRE(first);
  CAF_CHECK(first->method() == core::sip_method::notify);
  CAF_CHECK_EQUAL(std::string{first->from().tag}, to_tag);
  CAF_CHECK_EQUAL(std::string{first->call_id()}, "sub-1");
  CAF_REQUIRE(first->subscription_state_header().has_value());
  CAF_CHECK_EQUAL(std::string{first->subscription_state_header()->state}, "active");
  auto doc = core::parse_pidf(first->body());
  CAF_REQUIRE(doc);
  CAF_CHECK(doc->basic == core::basic_status::open); // alice is registered
  // alice publishes: bob gets a NOTIFY with the new body.
  std::string pidf =
    "<?xml version=\"1.0\"?><presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
    "xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
    "xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"sip:alice@localhost\">"
    "<tuple id=\"t1\"><status><basic>closed</basic></status></tuple>"
    "<dm:person id=\"p\"><rpid:activities><rpid:away/></rpid:activities></dm:person>"
    "<note>at lunch</note></presence>";
  auto pub = [&](int cseq, std::string etag, std::string body, std::string expires) {
    return crlf("PUBLISH sip:alice@localhost SIP/2.0\n"
                "Via: SIP/2.0/UDP 127.0.0.1:" + std::to_string(alice.port)
                + ";branch=z9hG4bK-p" + std::to_string(cseq) + "\n"
                "Max-Forwards: 70\n"
                "From: <sip:alice@localhost>;tag=a9\n"
                "To: <sip:alice@localhost>\n"
                "Call-ID: pub-1\n"
                "CSeq: " + std::to_string(cseq) + " PUBLISH\n"
                "Event: presence\n"
                + (etag.empty() ? "" : "SIP-If-Match: " + etag + "\n")
                + "Expires: " + expires + "\n"
                + (body.empty() ? "" : "Content-Type: application/pidf+xml\n")
                + "Content-Length: " + std::to_string(body.size()) + "\n\n")
           + body;
  };
  alice.send(pub(1, "", pidf, "600"));
  answer published{alice.recv()};
  CAF_REQUIRE(published);
  CAF_CHECK_EQUAL(published->status(), 200);
  std::string etag{published->sip_etag()};
  CAF_CHECK(!etag.empty());
  answer update{bob.recv()};
  CAF_REQUIRE(update);
  CAF_CHECK(update->method() == core::sip_method::notify);
  CAF_CHECK(update->cseq().number > first->cseq().number);
  auto updated = core::parse_pidf(update->body());
  CAF_REQUIRE(updated);
  CAF_CHECK(updated->status == core::extended_status::away);
  CAF_CHECK_EQUAL(updated->note, "at lunch");
  alice.send(pub(2, "no-such-etag", "", "600"));
  answer stale{alice.recv()};
  CAF_REQUIRE(stale);
  CAF_CHECK_EQUAL(stale->status(), 412);
  // bob unsubscribes in the dialog: 200, then NOTIFY terminated.
  bob.send(sub(3, "0", to_tag, "presence"));
  answer bye{bob.recv()};
  CAF_REQUIRE(bye);
  CAF_CHECK_EQUAL(bye->status(), 200);
  answer last{bob.recv()};
  CAF_REQUIRE(last);
  CAF_REQUIRE(last->subscription_state_header().has_value());
  CAF_CHECK_EQUAL(std::string{last->subscription_state_header()->state}, "terminated");
  bob.send(sub(4, "600", to_tag, "presence"));
  answer gone{bob.recv()};
  CAF_REQUIRE(gone);
  CAF_CHECK_EQUAL(gone->status(), 481);
}

CAF_TEST(tcp carries several requests per connection and partial writes) {
  tcp_client c{tcp_port};
  // Two requests in one write, then one in three pieces.
  c.send(register_msg(c.port, 1, "600", "sip:tcp@localhost", "", "TCP")
         + register_msg(c.port, 2, "700", "sip:tcp@localhost", "", "TCP"));
  answer r1{c.recv()};
  answer r2{c.recv()};
  CAF_REQUIRE(r1);
  CAF_REQUIRE(r2);
  CAF_CHECK_EQUAL(r1->status(), 200);
  CAF_CHECK_EQUAL(r2->status(), 200);
  CAF_CHECK_EQUAL(r2->cseq().number, 2u);
  auto third = register_msg(c.port, 3, "800", "sip:tcp@localhost", "", "TCP");
  c.send(third.substr(0, 10));
  c.send(third.substr(10, 100));
  c.send(third.substr(110));
  answer r3{c.recv()};
  CAF_REQUIRE(r3);
  CAF_CHECK_EQUAL(r3->status(), 200);
  CAF_REQUIRE_EQUAL(r3->contacts().size(), 1u);
  CAF_CHECK_EQUAL(*r3->contacts()[0].expires, 800u);
  actors::blocking_service api{sys, eng.service};
  auto l = api.lookup_user("sip:tcp@localhost");
  CAF_REQUIRE(l);
  CAF_REQUIRE_EQUAL(l->bindings.size(), 1u);
  CAF_CHECK(l->bindings[0].transport_type == core::transport::tcp);
  CAF_CHECK_EQUAL(l->bindings[0].received, "127.0.0.1:" + std::to_string(c.port));
}

CAF_TEST(a tcp message without content length gets 400 and the connection closes) {
  tcp_client c{tcp_port};
  auto msg = register_msg(c.port, 1, "600", "sip:tcp@localhost", "", "TCP");
  auto cl = msg.find("Content-Length: 0\r\n");
  CAF_REQUIRE(cl != std::string::npos);
  msg.erase(cl, std::string{"Content-Length: 0\r\n"}.size());
  c.send(msg);
  answer bad{c.recv()};
  CAF_REQUIRE(bad);
  CAF_CHECK_EQUAL(bad->status(), 400);
  CAF_CHECK(std::string{bad->reason_phrase()}.find("Content-Length") != std::string::npos);
  CAF_CHECK_EQUAL(c.recv(), ""); // closed: the stream has no framing any more
  // The server goes on serving other connections.
  tcp_client d{tcp_port};
  d.send(register_msg(d.port, 1, "600", "sip:tcp2@localhost", "", "TCP"));
  answer ok{d.recv()};
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->status(), 200);
}

CAF_TEST(subscribe over tcp gets its notifies on the same connection) {
  tcp_client bob{tcp_port};
  auto sub = crlf("SUBSCRIBE sip:carol@localhost SIP/2.0\n"
                  "Via: SIP/2.0/TCP 127.0.0.1:" + std::to_string(bob.port)
                  + ";branch=z9hG4bK-ts1\n"
                  "Max-Forwards: 70\n"
                  "From: <sip:bob@localhost>;tag=tb\n"
                  "To: <sip:carol@localhost>\n"
                  "Call-ID: tcp-sub-1\n"
                  "CSeq: 1 SUBSCRIBE\n"
                  "Contact: <sip:bob@127.0.0.1:" + std::to_string(bob.port)
                  + ";transport=tcp>\n"
                  "Event: presence\n"
                  "Expires: 600\n"
                  "Content-Length: 0\n\n");
  bob.send(sub);
  answer ok{bob.recv()};
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->status(), 200);
  answer first{bob.recv()};
  CAF_REQUIRE(first);
  CAF_CHECK(first->method() == core::sip_method::notify);
  CAF_REQUIRE(!first->vias().empty());
  CAF_CHECK(first->vias()[0].transport_type == core::transport::tcp);
  // The watcher answers the NOTIFY on the same connection.
  auto b = core::make_response(*first.msg, 200, "OK");
  bob.send(b.take());
  // carol's presence changes through the API: another NOTIFY arrives.
  actors::blocking_service api{sys, eng.service};
  CAF_REQUIRE(api.update_presence("sip:carol@localhost", core::extended_status::busy,
                                  "in a meeting"));
  answer next{bob.recv()};
  CAF_REQUIRE(next);
  CAF_CHECK(next->method() == core::sip_method::notify);
  CAF_CHECK_EQUAL(next->cseq().number, first->cseq().number + 1);
  auto doc = core::parse_pidf(next->body());
  CAF_REQUIRE(doc);
  CAF_CHECK_EQUAL(doc->note, "in a meeting");
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST(ipv6 loopback) {
  config cfg6;
  caf::actor_system sys6{cfg6};
  auto eng6 = actors::spawn_engine(sys6);
  auto l = actors::start_sip_server(sys6, eng6, {{core::transport::udp, "::1", 0}},
                                   actors::sip_edge_settings{});
  CAF_REQUIRE(l);
  int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
  CAF_REQUIRE(fd >= 0);
  sockaddr_in6 local{};
  local.sin6_family = AF_INET6;
  local.sin6_addr = in6addr_loopback;
  ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local));
  socklen_t len = sizeof(local);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in6 server{};
  server.sin6_family = AF_INET6;
  server.sin6_addr = in6addr_loopback;
  server.sin6_port = htons(l->listeners()[0].port);
  auto port = std::to_string(ntohs(local.sin6_port));
  auto msg = crlf("REGISTER sip:[::1] SIP/2.0\n"
                  "Via: SIP/2.0/UDP [::1]:" + port + ";branch=z9hG4bK-v6\n"
                  "Max-Forwards: 70\n"
                  "From: <sip:carol@[::1]>;tag=c6\nTo: <sip:carol@[::1]>\n"
                  "Call-ID: v6-1\nCSeq: 1 REGISTER\n"
                  "Contact: <sip:carol@[::1]:" + port + ">\n"
                  "Expires: 600\nContent-Length: 0\n\n");
  ::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&server),
           sizeof(server));
  char buf[65536];
  auto n = ::recv(fd, buf, sizeof(buf), 0);
  ::close(fd);
  CAF_REQUIRE(n > 0);
  answer a{std::string(buf, static_cast<size_t>(n))};
  CAF_REQUIRE(a);
  // The listen address itself is a served domain: sip:carol@[::1] is ours.
  CAF_CHECK_EQUAL(a->status(), 200);
  CAF_REQUIRE_EQUAL(a->contacts().size(), 1u);
  CAF_REQUIRE(!a->vias().empty());
  CAF_CHECK(a->vias()[0].received.empty()); // the Via host is the source
  l->stop();
  eng6.shutdown();
}

CAF_TEST(udp reads pause while the edge is behind and resume when it catches up) {
  config cfgq;
  caf::actor_system sysq{cfgq};
  caf::scoped_actor edge{sysq}; // stands in for the edge: consumes when told
  actors::transport_limits limits;
  limits.max_queued_datagrams = 64;
  actors::sip_transport t{limits};
  actors::bound_listener l;
  std::string err;
  CAF_REQUIRE(t.bind({core::transport::udp, "127.0.0.1", 0}, l, err));
  t.start(caf::actor_cast<caf::actor>(edge));
  client c{l.port};
  constexpr size_t total = 500; // 500 small datagrams fit the socket buffer
  for (size_t i = 0; i < total; ++i)
    c.send("datagram " + std::to_string(i));
  // Everything handed over arrives here; nothing is consumed yet.
  size_t got = 0;
  auto take = [&] {
    bool any = false;
    edge->receive([&](sip_inbound&) { ++got, any = true; },
                  [&](std::vector<sip_inbound>& burst) { got += burst.size(), any = true; },
                  caf::after(std::chrono::seconds{10}) >> [] {});
    return any;
  };
  while (got <= limits.max_queued_datagrams)
    CAF_REQUIRE(take());
  // Over the bound: the reads pause (bounded busy wait for the I/O thread's
  // flag, no sleep) and no more than one burst beyond it was read.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (t.stats().udp_pauses.load() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  CAF_REQUIRE_EQUAL(t.stats().udp_pauses.load(), 1u);
  auto read = t.stats().datagrams_in.load();
  CAF_CHECK_LESS_OR_EQUAL(read, limits.max_queued_datagrams + 32);
  CAF_CHECK_LESS(read, total);
  while (got < read)
    CAF_REQUIRE(take());
  CAF_CHECK_EQUAL(t.stats().datagrams_in.load(), read); // still paused
  // The edge catches up: the reads resume, and in the end every datagram
  // (kept by the kernel meanwhile) arrives.
  t.consumed(got);
  size_t consumed = got;
  while (got < total) {
    CAF_REQUIRE(take());
    t.consumed(got - consumed);
    consumed = got;
  }
  CAF_CHECK_EQUAL(got, total);
  CAF_CHECK_GREATER_OR_EQUAL(t.stats().udp_pauses.load(), 1u);
  t.stop();
}
