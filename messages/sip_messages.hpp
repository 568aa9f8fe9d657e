// SPDX-License-Identifier: MIT
#pragma once

// Messages of the SIP edge: what the transport (sockets, actors/sip_transport)
// hands to the SIP edge actor (actors/sip_edge), and the edge's timers.

#include <cstdint>
#include <string>

#include "core/model.hpp"
#include "messages/core_inspect.hpp"
#include "messages/inspect_macro.hpp"

#include <caf/atom.hpp>

namespace regcore {

/// Where a SIP message came from, or where it goes.
struct sip_endpoint {
  /// udp or tcp.
  core::transport proto = core::transport::udp;
  /// Numeric address without brackets: "127.0.0.1", "::1".
  std::string ip;
  uint16_t port = 0;
  /// Index of the listening socket it arrived on / leaves from.
  uint32_t listener = 0;
  /// TCP: the connection it arrived on (0: none; the transport connects to
  /// ip:port, reusing an open connection to that address).
  uint64_t connection = 0;
};
REGCORE_INSPECT(sip_endpoint, x.proto, x.ip, x.port, x.listener, x.connection)

/// "udp:127.0.0.1:5060", "tcp:[::1]:5070" (logs, received values).
std::string to_string(const sip_endpoint& x);

/// Transport -> SIP edge: one complete SIP message (a datagram, or a message
/// cut out of a TCP stream by Content-Length).
struct sip_inbound {
  sip_endpoint from;
  std::string bytes;
};
REGCORE_INSPECT(sip_inbound, x.from, x.bytes)

/// Transport -> SIP edge: a TCP connection is gone (closed by the peer, an
/// error, or an unframeable stream).
struct sip_connection_closed {
  uint64_t connection = 0;
};
REGCORE_INSPECT(sip_connection_closed, x.connection)

/// The SIP edge's timer for one NOTIFY client transaction (RFC 3261
/// §17.1.2.2, timers E and F): `branch` names the transaction, `epoch`
/// the retransmission this wake-up belongs to.
using retransmit_atom = caf::atom_constant<caf::atom("retransmit")>;

/// Daemon -> SIP edge at shutdown: send a final NOTIFY (terminated;
/// reason=deactivated, RFC 6665 §4.2.2) in every dialog, then reply ok.
using terminate_atom = caf::atom_constant<caf::atom("terminate")>;

} // namespace regcore
