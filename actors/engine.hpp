// SPDX-License-Identifier: MIT
#pragma once

// The embedding API: spawn the engine inside your own caf::actor_system and
// talk to one typed handle (service_actor), from actor code with
// request(...).then(...), or from plain code through blocking_service.
//
//   caf::actor_system_config cfg;
//   regcore::messages::register_types(cfg);
//   caf::actor_system sys{cfg};
//   auto eng = regcore::actors::spawn_engine(sys);
//   regcore::actors::blocking_service api{sys, eng.service};
//   api.register_user("sip:alice@example.com", "sip:alice@192.0.2.4", 3600);
//   ...
//   eng.shutdown();

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "actors/engine_config.hpp"
#include "actors/engine_refs.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

namespace regcore::actors {

/// Handles of a running engine.
struct engine {
  /// The service API (all requests).
  service_actor service;
  /// Direct routes for hot paths (SIP transport, load generator): the shards,
  /// the bus, the expiry supervisor, the roster, the config.
  std::shared_ptr<const engine_refs> refs;
  subscription_supervisor_actor subscriptions;
  /// Users read back from the journal at start (0 without one).
  size_t restored_users = 0;
  /// The SIP dialogs of the subscriptions read back from the journal (those
  /// a SIP edge created: non-empty Call-ID, not terminated), for the edge
  /// that resumes them (spawn_sip_edge). Empty without a journal.
  std::shared_ptr<const std::vector<stored_watcher>> resumable;

  /// Stops every actor of the engine (pending timers would otherwise keep
  /// some alive until they fire). Idempotent.
  void shutdown();

  /// This engine as the members of a cluster route to it, as node `node_id`.
  route_member route_entry(const std::string& node_id) const;

  /// From now on, routes every user to its owner among `routes.members`
  /// (core::owner_of over the node ids); this engine is member `self_id`.
  /// False (nothing changes) when `self_id` is not a member, a member has
  /// no shards or a node id repeats. Thread-safe; the users do not move
  /// (hand-over is the caller's job).
  bool set_routes(const cluster_routes& routes, const std::string& self_id) const;

  /// After set_routes, with replication: the users this node holds copies
  /// of and now owns (their owner was lost) are restored into its shards
  /// and replicated anew (actors/replication.hpp). Asynchronous.
  void take_over() const;

  /// After set_routes: each shard hands the users another member owns now
  /// over to it (cluster hand-over: a node that joins or rejoins gets its
  /// users) and writes again the rows of users whose replicas changed.
  void rebalance() const;
};

/// Spawns the engine: event bus, expiry supervisor, roster, directory
/// shards, subscription supervisor and the service front.
engine spawn_engine(caf::actor_system& sys, engine_config cfg = {});

class journal;

/// How far every restored subscription's version (and so the CSeq of its
/// next NOTIFY, which follows the version) jumps at a restart: NOTIFYs may
/// have left after the last commit of their subscription's row (events do
/// not wait for the commit), and the next NOTIFY must still carry a higher
/// CSeq (RFC 3261 §12.2.1.1). More than one dialog can get in one group
/// commit (sync) or in the async loss window.
inline constexpr uint32_t restart_version_gap = 1000;

/// Spawns the engine on journal `j` (actors/journal.hpp; cfg.persistence
/// async or sync, sync when left off): restores every user (bindings,
/// publications, watchers and their dialogs), the presence policies and the
/// subscription numbering from it, then writes every change to it. What
/// expired while the server was down expires at the first tick, with its
/// events. An unreadable row is an error naming the file and the row.
caf::expected<engine> spawn_engine(caf::actor_system& sys, engine_config cfg,
                                   std::shared_ptr<journal> j);

/// Plain-code wrapper around service_actor: every call blocks until the
/// engine answers and returns the reply or the engine's typed error
/// (`messages::is(err, core::errc::...)`). Not for hot paths: a blocking
/// round trip costs ~80 us (see docs/performance.md); use the typed handle
/// from an actor for throughput.
class blocking_service {
public:
  blocking_service(caf::actor_system& sys, service_actor service);

  /// Sends any request of the service API and waits for its reply.
  template <class Reply, class Request>
  caf::expected<Reply> call(Request req) {
    caf::expected<Reply> result{caf::sec::request_timeout};
    self_->request(service_, caf::infinite, std::move(req))
      .receive([&](Reply& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  // -- registrar -------------------------------------------------------------------

  /// Adds or refreshes one contact for `aor` for `expires` seconds.
  caf::expected<register_reply> register_user(const std::string& aor,
                                              const std::string& contact,
                                              uint32_t expires = 3600);
  /// Same as register_user for an existing contact (refresh).
  caf::expected<register_reply>
  refresh_registration(const std::string& aor, const std::string& contact,
                       uint32_t expires = 3600);
  /// Removes one contact, or every contact when `contact` is empty.
  caf::expected<register_reply> unregister_user(const std::string& aor,
                                                const std::string& contact = {});
  caf::expected<register_reply> lookup_user(const std::string& aor);
  caf::expected<std::string> find_user(const std::string& contact);
  caf::expected<user_list> list_registered_users(uint32_t limit = 0);

  // -- presence ----------------------------------------------------------------------

  caf::expected<presence_reply>
  update_presence(const std::string& aor, core::extended_status status,
                  const std::string& note = {});
  caf::expected<presence_reply> get_presence(const std::string& aor);
  caf::expected<presence_list> get_all_presence(uint32_t limit = 0);
  caf::expected<presence_reply> clear_presence(const std::string& aor);

  // -- subscriptions -----------------------------------------------------------------

  caf::expected<subscribe_reply> subscribe(const std::string& watcher,
                                           const std::string& target,
                                           uint32_t expires = 3600);
  caf::expected<caf::ok_atom> unsubscribe(const std::string& id);
  caf::expected<watcher_list> get_watchers(const std::string& aor);
  caf::expected<subscription_list> get_subscriptions(const std::string& aor);
  caf::expected<user_list> get_buddy_list(const std::string& aor);
  caf::expected<caf::ok_atom> set_policy(const std::string& aor,
                                         core::presence_policy policy);

  // -- events ------------------------------------------------------------------------

  /// Calls `fn` for every event of the kinds in `mask` (event_bit(...) or
  /// all_events). `fn` runs on a CAF worker thread, one event at a time, in
  /// publication order. Returns the actor that calls it: send it an exit
  /// (or destroy the actor system) to stop.
  caf::actor on_event(uint32_t mask, std::function<void(const caf::message&)> fn);

private:
  caf::actor_system& sys_;
  service_actor service_;
  caf::scoped_actor self_;
};

} // namespace regcore::actors
