// SPDX-License-Identifier: MIT
#pragma once

// The SIP edge over UDP (first part of the daemon issue): a CAF io broker
// that parses each datagram with core::parse_sip_message and answers
// OPTIONS, REGISTER (RFC 3261 §10.3), SUBSCRIBE for Event: presence
// (RFC 6665 / 3856: 200/202, then NOTIFYs with PIDF in the dialog) and
// PUBLISH (RFC 3903), all through the engine. Other methods get 405.
// Not yet: NOTIFY retransmission (timers E/F), TCP, authentication.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "actors/engine_refs.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

namespace regcore::actors {

/// Where and for whom the SIP edge serves.
struct sip_settings {
  /// Local address to bind ("127.0.0.1", "::1", "0.0.0.0").
  std::string host = "127.0.0.1";
  /// UDP port; 0 picks a free one.
  uint16_t port = 5060;
  /// Domains we are the registrar for. A REGISTER for another domain gets
  /// 404. The listen address itself (e.g. sip:alice@127.0.0.1) always counts.
  std::vector<std::string> domains = {"localhost"};
  /// Value of the Server header.
  std::string server_name = "registrar-core/0.1";
};

/// A running UDP listener.
struct sip_udp_listener {
  caf::actor broker;
  uint16_t port = 0;
};

/// Binds and starts the UDP listener (needs the io::middleman module loaded
/// in `sys`'s config).
caf::expected<sip_udp_listener> start_sip_udp(caf::actor_system& sys,
                                              const engine& eng,
                                              sip_settings settings);

} // namespace regcore::actors
