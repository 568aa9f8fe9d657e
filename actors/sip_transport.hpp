// SPDX-License-Identifier: MIT
#pragma once

// The SIP transport: UDP and TCP sockets (IPv4 and IPv6) served by one I/O
// thread with epoll. It turns bytes into sip_inbound messages for the SIP
// edge actor and sends what the edge gives it. UDP is read in bursts
// (recvmmsg): the datagrams of one burst reach the edge as ONE message, a
// std::vector<sip_inbound> (a single datagram as a plain sip_inbound), so
// the edge actor is scheduled once per burst, not once per datagram.
//
// Why not a CAF io broker: CAF 0.17's datagram servants do not expose a
// datagram's source address (remote_addr() is empty), which RFC 3581
// received/rport and every binding's `received` need, and they cannot send
// from the listening socket to an address that has not written to us first
// (a NOTIFY to a Contact). So the sockets are ours; everything above the
// bytes (transactions, dialogs, the engine) is the actor in sip_edge.hpp,
// and the two meet only through messages (sip_inbound in, send() out).
//
//   auto t = std::make_shared<sip_transport>();
//   auto udp = t->bind({core::transport::udp, "127.0.0.1", 5060});
//   auto tcp = t->bind({core::transport::tcp, "127.0.0.1", 5060});
//   t->start(edge_actor);          // the I/O thread runs from here
//   ...
//   t->stop();                     // joins the I/O thread, closes sockets

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/model.hpp"
#include "core/stream_framer.hpp"
#include "messages/sip_messages.hpp"

#include <caf/actor.hpp>

namespace regcore::actors {

/// Something the SIP edge can hand bytes to: the real transport, or a
/// recording fake in tests. send() may be called from any thread.
class sip_sender {
public:
  virtual ~sip_sender();

  /// Sends one SIP message to `to`. UDP: one datagram from listener
  /// `to.listener`. TCP: on connection `to.connection` if it is open, else on
  /// an open connection to to.ip:to.port, else on a new one. Failures are
  /// silent (the transaction layer times out).
  virtual void send(const sip_endpoint& to, std::string bytes) = 0;

  /// Messages to send, in order.
  using outbox = std::vector<std::pair<sip_endpoint, std::string>>;

  /// Sends every message of `msgs`, in order, as send() would; `msgs` is
  /// left valid but unspecified. The default calls send() for each; the
  /// transport sends each run of UDP datagrams with one sendmmsg.
  virtual void send_many(outbox& msgs);

  /// The edge has handled `datagrams` UDP datagrams the transport handed
  /// it (the transport bounds how many wait in the edge's mailbox). The
  /// default does nothing.
  virtual void consumed(size_t datagrams);
};

/// What to listen on.
struct listen_address {
  core::transport proto = core::transport::udp;
  /// Numeric address, IPv6 without brackets ("::1"); "0.0.0.0" / "::" for all.
  std::string host = "127.0.0.1";
  /// 0 picks a free port.
  uint16_t port = 5060;
};

/// A bound listening socket.
struct bound_listener {
  listen_address addr;
  /// The port actually bound (differs from addr.port when that was 0).
  uint16_t port = 0;
  /// Its index: sip_endpoint::listener.
  uint32_t index = 0;
};

/// Limits of the transport.
struct transport_limits {
  /// TCP framing limits (exceeding one closes the connection).
  core::stream_limits stream;
  /// Open TCP connections (further accepts are closed at once).
  size_t max_connections = 10000;
  /// Unsent bytes per TCP connection before it is closed as stuck.
  size_t max_send_buffer = 4 * 1024 * 1024;
  /// UDP datagrams handed to the edge and not handled yet beyond which the
  /// transport stops reading its UDP sockets (overload: the kernel's
  /// socket buffers fill and drop, the clients retransmit) until the edge
  /// is down to half of it. Bounds the memory and the queueing delay of a
  /// flood (~1 KB and ~10 us of work per datagram). 0 = no bound.
  size_t max_queued_datagrams = 16384;
};

/// Counters (read from any thread).
struct transport_stats {
  std::atomic<uint64_t> datagrams_in{0};
  /// Messages to the edge carrying datagrams (datagrams_in / this = the
  /// mean burst).
  std::atomic<uint64_t> datagram_bursts{0};
  std::atomic<uint64_t> stream_messages_in{0};
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_closed{0};
  std::atomic<uint64_t> framing_errors{0};
  std::atomic<uint64_t> send_failures{0};
  /// Times the UDP reads paused because the edge was behind
  /// (transport_limits::max_queued_datagrams).
  std::atomic<uint64_t> udp_pauses{0};
};

class sip_transport final : public sip_sender {
public:
  explicit sip_transport(transport_limits limits = {});
  ~sip_transport() override;

  sip_transport(const sip_transport&) = delete;
  sip_transport& operator=(const sip_transport&) = delete;

  /// Opens a listening socket (before start()). The error string names the
  /// address and the reason ("tcp:127.0.0.1:5060: Address already in use").
  /// The result is a bound_listener, or an error in `err`.
  bool bind(const listen_address& addr, bound_listener& out, std::string& err);

  /// The listeners bound so far, by index.
  const std::vector<bound_listener>& listeners() const { return listeners_; }

  /// Starts the I/O thread, which sends sip_inbound / sip_connection_closed
  /// to `edge` from then on.
  void start(caf::actor edge);

  /// Stops and joins the I/O thread and closes every socket. Idempotent.
  void stop();

  void send(const sip_endpoint& to, std::string bytes) override;

  void send_many(outbox& msgs) override;

  void consumed(size_t datagrams) override;

  const transport_stats& stats() const { return stats_; }

private:
  struct impl;
  void run();

  transport_limits limits_;
  std::vector<bound_listener> listeners_;
  std::unique_ptr<impl> impl_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  transport_stats stats_;
};

} // namespace regcore::actors
