// SPDX-License-Identifier: MIT
#pragma once

// The SIP edge: the actor between the transport (bytes, sip_transport.hpp)
// and the engine (engine.hpp). It parses each message with
// core::parse_sip_message, absorbs retransmitted requests (server
// transactions, RFC 3261 §17.2), applies rate limiting and digest
// authentication, answers OPTIONS, turns REGISTER (RFC 3261 §10.3),
// SUBSCRIBE for Event: presence (RFC 6665 / 3856) and PUBLISH (RFC 3903)
// into engine requests and their replies into responses, and terminates the
// subscription dialogs: it turns the engine's NotifyRequired events into
// NOTIFYs, retransmitted over UDP with timers E and F (RFC 3261 §17.1.2.2);
// a 481, a 408 or a timeout ends the subscription.
//
// One edge serves every listener of a daemon; it sends through a
// sip_sender (the transport, or a recording fake in tests), so the whole
// SIP behaviour is testable under CAF's deterministic test coordinator.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "actors/sip_transport.hpp"
#include "core/digest.hpp"
#include "core/rate_limiter.hpp"
#include "core/sip_message.hpp"
#include "core/sip_transaction.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

namespace regcore::actors {

/// Digest authentication of the edge (RFC 3261 §22.4, RFC 8760).
struct sip_auth_settings {
  /// Realm, nonce secret and lifetime, algorithms offered.
  core::digest_settings digest;
  /// HA1 values by user, realm and algorithm (never passwords).
  std::shared_ptr<const core::credential_store> credentials;
};

/// Everything the edge needs to know.
struct sip_edge_settings {
  /// The transport's listeners (Via and Contact of what we send, served
  /// domains).
  std::vector<bound_listener> listeners;
  /// Domains we are the registrar for. A request for another domain gets
  /// 404. The listen addresses count too (Kamailio's `myself`).
  std::vector<std::string> domains = {"localhost"};
  /// Value of the Server / User-Agent header.
  std::string server_name = "registrar-core/0.1";
  /// Parser limits (over them: 513).
  core::sip_limits limits;
  /// NOTIFY client transactions: T1, T2, Timer F.
  core::retransmit_timers notify_timers;
  /// A 481, a 408 or no answer to a NOTIFY ends the subscription.
  bool end_subscription_on_failure = true;
  /// How long an answered UDP request absorbs retransmissions (Timer J).
  std::chrono::seconds transaction_keep{32};
  /// Per-source rate limit; none = off.
  std::optional<core::rate_limit_settings> rate_limit;
  /// Retry-After of the 503 sent when the rate limit refuses a request.
  uint32_t retry_after = 1;
  /// Digest authentication of REGISTER, PUBLISH and SUBSCRIBE; none = off.
  /// An authenticated user may only register or publish for its own AOR
  /// (and subscribe as itself): the user part must be the digest username.
  std::optional<sip_auth_settings> auth;
  /// Cluster: the start of every To-tag this edge makes
  /// (core::dialog_tag_prefix of the node id), so any member can tell which
  /// edge terminates a stored dialog; empty outside a cluster.
  std::string dialog_tag_prefix;
};

/// Spawns the edge. It subscribes to the engine's NotifyRequired events and
/// sends everything through `out`. An engine restored from a journal hands
/// it the dialogs of its subscriptions (engine::resumable): the edge takes
/// them over and has each watcher notified of the current state. The CSeq
/// of a NOTIFY is its subscription's version.
caf::actor spawn_sip_edge(caf::actor_system& sys, const engine& eng,
                          std::shared_ptr<sip_sender> out, sip_edge_settings settings);

/// A running SIP server: transport + edge. stop() closes the sockets and
/// stops the edge (idempotent; also done by the destructor).
class sip_server {
public:
  sip_server() = default;
  sip_server(std::shared_ptr<sip_transport> t, caf::actor edge);
  sip_server(sip_server&&) = default;
  sip_server& operator=(sip_server&&) = default;
  ~sip_server();

  const std::vector<bound_listener>& listeners() const;
  const caf::actor& edge() const { return edge_; }
  const sip_transport& transport() const { return *transport_; }
  void stop();

private:
  std::shared_ptr<sip_transport> transport_;
  caf::actor edge_;
};

/// Binds every listener of `where`, spawns the edge and starts the I/O
/// thread. The error names the address that failed.
caf::expected<sip_server> start_sip_server(caf::actor_system& sys, const engine& eng,
                                           const std::vector<listen_address>& where,
                                           sip_edge_settings settings,
                                           transport_limits limits = {});

} // namespace regcore::actors
