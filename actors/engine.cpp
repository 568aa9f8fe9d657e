// SPDX-License-Identifier: MIT
#include "actors/engine.hpp"

#include <algorithm>

#include "actors/directory_shard.hpp"
#include "actors/event_bus.hpp"
#include "actors/expiry_supervisor.hpp"
#include "actors/journal.hpp"
#include "actors/replication.hpp"
#include "actors/roster.hpp"
#include "actors/store.hpp"
#include "actors/subscription_supervisor.hpp"
#include "actors/user_host.hpp"
#include "core/registration.hpp"
#include "core/sip_uri.hpp"

#include <caf/all.hpp>

namespace regcore::actors {

namespace {

struct front_state {
  std::shared_ptr<const engine_refs> refs;
  subscription_supervisor_actor subs;
  static inline const char* name = "regcore.service";
};

using front_self = service_actor::stateful_pointer<front_state>;

/// Delegates a per-user request to the shard owning its (canonical) AOR.
template <class Reply, class Request>
caf::result<Reply> to_shard(front_self self, Request& req, std::string& aor) {
  if (!core::is_canonical_aor(aor)) {
    auto canonical = core::canonical_aor(aor);
    if (!canonical)
      return messages::to_caf_error(canonical.err());
    aor = std::move(*canonical);
  }
  return self->delegate(self->state.refs->shard_for(aor), std::move(req));
}

/// The subscription supervisor of the member owning `aor` (canonicalised;
/// an AOR that is not one goes to this node's, which answers the error).
subscription_supervisor_actor supervisor_for(front_self self, const std::string& aor) {
  if (auto canonical = core::canonical_aor(aor))
    if (auto remote = self->state.refs->remote_supervisor_for(*canonical))
      return *remote;
  return self->state.subs;
}

/// find_user: the reverse index is per node (each indexes the contacts of
/// the users it owns), so in a cluster every member's index shard for the
/// contact is asked; the first user found answers, else contact_not_found.
caf::result<std::string> find_user(front_self self, find_user_request& req) {
  auto h = core::stable_hash(core::binding_key(req.contact_uri));
  auto t = self->state.refs->cluster();
  if (!t)
    return self->delegate(self->state.refs->index_shard(h), std::move(req));
  auto rp = self->make_response_promise<std::string>();
  struct pending_find {
    size_t left = 0;
    bool done = false;
    caf::error last;
  };
  auto p = std::make_shared<pending_find>();
  p->left = t->members.size();
  for (size_t i = 0; i < t->members.size(); ++i) {
    auto& xs = i == t->self ? self->state.refs->shards : t->members[i].shards;
    auto& shard = xs[core::shard_of_hash(h, static_cast<uint32_t>(xs.size()))];
    self->request(shard, caf::infinite, req)
      .then(
        [=](std::string& aor) mutable {
          --p->left;
          if (!p->done) {
            p->done = true;
            rp.deliver(std::move(aor));
          }
        },
        [=](caf::error& err) mutable {
          p->last = std::move(err);
          if (--p->left == 0 && !p->done)
            rp.deliver(p->last);
        });
  }
  return rp;
}

/// Sends `req` to every shard and merges the replies with `merge(acc, x)`.
template <class Reply, class Request, class Merge, class Finish>
caf::result<Reply> fan_out(front_self self, Request req, Merge merge,
                           Finish finish) {
  auto shards = self->state.refs->all_shards();
  auto rp = self->template make_response_promise<Reply>();
  auto acc = std::make_shared<Reply>();
  auto pending = std::make_shared<size_t>(shards.size());
  auto failed = std::make_shared<caf::error>();
  for (auto& s : shards) {
    self->request(s, caf::infinite, req)
      .then(
        [=](Reply& x) mutable {
          merge(*acc, std::move(x));
          if (--*pending == 0)
            rp.deliver(finish(std::move(*acc)));
        },
        [=](caf::error& err) mutable {
          *failed = err;
          if (--*pending == 0)
            rp.deliver(*failed);
        });
  }
  return rp;
}

/// Splits a register batch by owning shard (canonical AORs), sends one
/// sub-batch per shard and puts the results back in request order.
caf::result<register_batch_reply> split_batch(front_self self,
                                              register_batch_request& batch) {
  auto& shards = self->state.refs->shards;
  auto n = batch.requests.size();
  auto nshards = static_cast<uint32_t>(shards.size());
  register_batch_reply acc;
  acc.results.resize(n);
  std::vector<register_batch_request> parts(shards.size());
  std::vector<std::vector<size_t>> where(shards.size());
  for (size_t k = 0; k < n; ++k) {
    auto& req = batch.requests[k];
    if (!core::is_canonical_aor(req.aor)) {
      auto canonical = core::canonical_aor(req.aor);
      if (!canonical) {
        acc.results[k].error = messages::to_caf_error(canonical.err());
        continue;
      }
      req.aor = std::move(*canonical);
    }
    auto s = core::shard_of(req.aor, nshards);
    parts[s].requests.push_back(std::move(req));
    where[s].push_back(k);
  }
  size_t used = 0;
  for (auto& p : parts)
    used += p.requests.empty() ? 0 : 1;
  if (used == 0)
    return acc;
  struct pending_batch {
    register_batch_reply acc;
    std::vector<std::vector<size_t>> where;
    size_t pending;
    caf::typed_response_promise<register_batch_reply> rp;
  };
  auto pb = std::make_shared<pending_batch>();
  pb->acc = std::move(acc);
  pb->where = std::move(where);
  pb->pending = used;
  pb->rp = self->make_response_promise<register_batch_reply>();
  for (size_t s = 0; s < parts.size(); ++s) {
    if (parts[s].requests.empty())
      continue;
    self->request(shards[s], caf::infinite, std::move(parts[s]))
      .then(
        [pb, s](register_batch_reply& x) {
          auto& idx = pb->where[s];
          for (size_t j = 0; j < idx.size() && j < x.results.size(); ++j)
            pb->acc.results[idx[j]] = std::move(x.results[j]);
          if (--pb->pending == 0)
            pb->rp.deliver(std::move(pb->acc));
        },
        [pb, s](caf::error& err) {
          for (auto k : pb->where[s])
            pb->acc.results[k].error = err;
          if (--pb->pending == 0)
            pb->rp.deliver(std::move(pb->acc));
        });
  }
  return pb->rp;
}

service_actor::behavior_type front(front_self self,
                                   std::shared_ptr<const engine_refs> refs,
                                   subscription_supervisor_actor subs) {
  self->state.refs = std::move(refs);
  self->state.subs = std::move(subs);
  return {
    [=](register_request& req) {
      return to_shard<register_reply>(self, req, req.aor);
    },
    [=](register_batch_request& batch) { return split_batch(self, batch); },
    [=](lookup_request& req) {
      return to_shard<register_reply>(self, req, req.aor);
    },
    [=](find_user_request& req) -> caf::result<std::string> {
      if (req.contact_uri.empty())
        return core::make_caf_error(core::errc::invalid_input, "Empty contact");
      return find_user(self, req);
    },
    [=](list_users_request& req) {
      auto limit = req.limit;
      return fan_out<user_list>(
        self, req,
        [](user_list& acc, user_list x) {
          acc.users.insert(acc.users.end(), x.users.begin(), x.users.end());
        },
        [limit](user_list acc) {
          std::sort(acc.users.begin(), acc.users.end());
          if (limit > 0 && acc.users.size() > limit)
            acc.users.resize(limit);
          return acc;
        });
    },
    [=](presence_update_request& req) {
      return to_shard<presence_reply>(self, req, req.aor);
    },
    [=](publish_request& req) {
      return to_shard<publish_reply>(self, req, req.aor);
    },
    [=](get_presence_request& req) {
      return to_shard<presence_reply>(self, req, req.aor);
    },
    [=](get_all_presence_request& req) {
      auto limit = req.limit;
      return fan_out<presence_list>(
        self, req,
        [](presence_list& acc, presence_list x) {
          for (auto& p : x.items)
            acc.items.push_back(std::move(p));
        },
        [limit](presence_list acc) {
          std::sort(acc.items.begin(), acc.items.end(),
                    [](const presence_reply& a, const presence_reply& b) {
                      return a.state.entity < b.state.entity;
                    });
          if (limit > 0 && acc.items.size() > limit)
            acc.items.resize(limit);
          return acc;
        });
    },
    [=](clear_presence_request& req) {
      return to_shard<presence_reply>(self, req, req.aor);
    },
    [=](subscribe_request& req) {
      // The target's owner numbers its subscriptions (ids are unique).
      std::string aor = req.id.empty() ? req.target
                                       : std::string{target_of_subscription(req.id)};
      return self->delegate(supervisor_for(self, aor), std::move(req));
    },
    [=](unsubscribe_request& req) {
      auto target = std::string{target_of_subscription(req.id)};
      return self->delegate(supervisor_for(self, target), std::move(req));
    },
    [=](get_watchers_request& req) {
      return to_shard<watcher_list>(self, req, req.aor);
    },
    [=](get_subscriptions_request& req) {
      return to_shard<subscription_list>(self, req, req.aor);
    },
    [=](get_buddy_list_request& req) {
      return to_shard<user_list>(self, req, req.aor);
    },
    [=](set_policy_request& req) {
      auto aor = req.aor;
      return self->delegate(supervisor_for(self, aor), std::move(req));
    },
    [=](bus_subscribe& req) {
      return self->delegate(self->state.refs->bus, std::move(req));
    },
    [=](bus_unsubscribe& req) {
      self->send(self->state.refs->bus, std::move(req));
    },
  };
}

/// Calls a host function for every event and acknowledges each batch.
caf::behavior event_adapter(caf::event_based_actor* self,
                            std::function<void(const caf::message&)> fn) {
  return {
    [=](event_batch& batch) {
      for (auto& m : batch.events)
        fn(m);
      if (auto sender = self->current_sender())
        self->send(caf::actor_cast<caf::actor>(sender), event_ack{});
    },
  };
}

} // namespace

namespace {

/// The engine's actors but the subscription supervisor and the front
/// (spawned by finish_engine, once the journal's rows are read).
std::shared_ptr<engine_refs> spawn_core(caf::actor_system& sys, engine_config cfg,
                                        std::shared_ptr<journal> j);

engine finish_engine(caf::actor_system& sys, std::shared_ptr<engine_refs> refs,
                     supervisor_restore sup);

} // namespace

namespace {

void stop_all(const engine& e) {
  auto stop = [](const auto& hdl) {
    if (hdl)
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  };
  stop(e.service);
  stop(e.subscriptions);
  if (e.refs) {
    for (auto& s : e.refs->shards)
      stop(s);
    stop(e.refs->roster);
    stop(e.refs->bus);
    stop(e.refs->expiry);
    stop(e.refs->store);
    stop(e.refs->replica);
  }
}

/// Stops a persistent engine without leaving anything it accepted behind:
/// each shard flushes (its answer to stats comes after that flush, so its
/// journal batch is then in the store's mailbox), then the store commits
/// everything queued before one last, empty batch, then everything stops.
/// Non-blocking (it also runs under the test coordinator); an actor
/// system's destructor waits for it.
caf::behavior closer(caf::event_based_actor* self, engine e) {
  auto pending = std::make_shared<size_t>(e.refs->shards.size());
  auto finish = [=] {
    auto done = [=] {
      stop_all(e);
      self->quit();
    };
    self->request(e.refs->store, caf::infinite, journal_batch{})
      .then([=](caf::ok_atom) { done(); }, [=](caf::error&) { done(); });
  };
  for (auto& s : e.refs->shards) {
    self->send(s, flush_atom::value);
    self->request(s, caf::infinite, stats_atom::value)
      .then(
        [=](const shard_stats&) {
          if (--*pending == 0)
            finish();
        },
        [=](caf::error&) {
          if (--*pending == 0)
            finish();
        });
  }
  return {[](caf::ok_atom) {}};
}

/// Users read back from the journal, gathered per shard and sent to it in
/// chunks while the scan goes on: the shards take users over while the
/// rest is still being read (and no vector of every user is ever built).
class restore_sender {
public:
  static constexpr size_t chunk = 4096;

  explicit restore_sender(const engine_refs& refs) : refs_(refs) {
    parts_.resize(refs.shards.size());
  }

  void add(user_record rec) {
    auto i = core::shard_of(rec.aor, static_cast<uint32_t>(parts_.size()));
    auto& part = parts_[i];
    if (part.users.empty())
      part.users.reserve(chunk);
    part.users.push_back(std::move(rec));
    ++count_;
    if (part.users.size() == chunk)
      send(i);
  }

  /// Sends what is left; returns the number of users read.
  size_t finish() {
    for (size_t i = 0; i < parts_.size(); ++i)
      if (!parts_[i].users.empty())
        send(i);
    return count_;
  }

private:
  void send(size_t i) {
    caf::anon_send(refs_.shards[i], std::exchange(parts_[i], restore_users{}));
  }

  const engine_refs& refs_;
  std::vector<restore_users> parts_;
  size_t count_ = 0;
};

} // namespace

void engine::shutdown() {
  if (refs && refs->store && !refs->shards.empty()) {
    refs->store->home_system().spawn(closer, *this);
    refs.reset(); // idempotent: a second call finds nothing to stop
    service = service_actor{};
    subscriptions = subscription_supervisor_actor{};
    return;
  }
  stop_all(*this);
}

engine spawn_engine(caf::actor_system& sys, engine_config cfg) {
  return finish_engine(sys, spawn_core(sys, std::move(cfg), nullptr), {});
}

caf::expected<engine> spawn_engine(caf::actor_system& sys, engine_config cfg,
                                   std::shared_ptr<journal> j) {
  if (!j)
    return caf::make_error(caf::sec::invalid_argument, "spawn_engine: no journal");
  if (cfg.persistence == durability::off)
    cfg.persistence = durability::sync;
  // The shards are spawned first and take the users over while the scan
  // goes on (nobody outside has their handles yet; the shards only send
  // each other reverse-index updates meanwhile). The expiry supervisor is
  // held until the scan ends: nothing expires, so nothing writes to the
  // journal while it is read (it is not thread-safe); what expired while
  // the server was down expires on the first tick after. A row that does
  // not parse stops the start (never a silent loss): the actors spawned so
  // far are stopped.
  auto refs = spawn_core(sys, std::move(cfg), j);
  supervisor_restore sup;
  auto resumable = std::make_shared<std::vector<stored_watcher>>();
  restore_sender sender{*refs};
  std::string error;
  // New subscription ids continue above every id still in use; versions
  // jump (restart_version_gap); the SIP dialogs are kept for the edge.
  bool ok = j->scan(
              journal_table::users,
              [&](std::string_view key, std::string_view bytes) {
                user_record rec;
                if (!from_bytes(bytes, rec) || rec.aor != key) {
                  if (error.empty())
                    error = j->path() + ": unreadable user row '"
                            + std::string{key} + "'";
                  return;
                }
                if (!error.empty())
                  return;
                for (auto& w : rec.watchers) {
                  sup.last_id = std::max(sup.last_id, subscription_number(w.sub.id));
                  w.sub.version += restart_version_gap;
                  if (!w.dialog.call_id.empty()
                      && w.sub.state != core::subscription_state::terminated)
                    resumable->push_back(w);
                }
                for (auto& x : rec.watching)
                  sup.last_id = std::max(sup.last_id, subscription_number(x.id));
                sender.add(std::move(rec));
              },
              error)
            && j->scan(journal_table::policies,
                                 [&](std::string_view key, std::string_view bytes) {
                                   core::presence_policy pol;
                                   if (!from_bytes(bytes, pol)) {
                                     if (error.empty())
                                       error = j->path()
                                               + ": unreadable policy row '"
                                               + std::string{key} + "'";
                                     return;
                                   }
                                   sup.policies.emplace(std::string{key}, std::move(pol));
                                 },
                                 error);
  if (!ok || !error.empty()) {
    engine partial;
    partial.refs = refs;
    stop_all(partial);
    return caf::make_error(caf::sec::runtime_error, error);
  }
  auto restored = sender.finish();
  caf::anon_send(refs->expiry, resume_atom::value);
  auto result = finish_engine(sys, std::move(refs), std::move(sup));
  result.restored_users = restored;
  result.resumable = std::move(resumable);
  return result;
}

namespace {

std::shared_ptr<engine_refs> spawn_core(caf::actor_system& sys, engine_config cfg,
                                        std::shared_ptr<journal> j) {
  auto refs = std::make_shared<engine_refs>();
  auto shards = std::max<uint32_t>(cfg.shards, 1);
  expiry_config ecfg;
  ecfg.granularity = cfg.expiry_granularity;
  // Restoring: held until the journal is read (spawn_engine resumes it).
  ecfg.held = j != nullptr;
  refs->cfg = std::make_shared<const engine_config>(std::move(cfg));
  refs->interest = std::make_shared<std::atomic<uint32_t>>(0);
  refs->routes = std::make_shared<route_cell>();
  refs->bus = spawn_event_bus(sys, {}, refs->interest);
  refs->expiry = spawn_expiry_supervisor(sys, ecfg);
  refs->roster = spawn_roster(sys, refs->bus, refs->interest);
  std::shared_ptr<const engine_refs> shared = refs;
  // The shards keep `shared`; its shard list is filled in before any message
  // can reach them (nothing has their handles yet).
  if (j)
    refs->store = spawn_store(sys, std::move(j), refs->cfg->store_thread);
  if (refs->cfg->replication > 1) {
    // The replicator stands where the store stood (it passes the rows on).
    refs->replica = spawn_replica(sys, shared);
    refs->store = spawn_replicator(sys, shared, refs->store);
  }
  for (uint32_t i = 0; i < shards; ++i)
    refs->shards.push_back(spawn_directory_shard(sys, shared));
  return refs;
}

engine finish_engine(caf::actor_system& sys, std::shared_ptr<engine_refs> refs,
                     supervisor_restore sup) {
  engine result;
  result.refs = refs;
  result.subscriptions = spawn_subscription_supervisor(sys, result.refs, std::move(sup));
  result.service = sys.spawn(front, result.refs, result.subscriptions);
  return result;
}

} // namespace

// -- cluster routes -----------------------------------------------------------------

route_member engine::route_entry(const std::string& node_id) const {
  return route_member{node_id, refs->shards, subscriptions, refs->bus, refs->replica,
                      refs->roster, caf::actor{}};
}

void engine::take_over() const {
  if (refs && refs->replica)
    caf::anon_send(refs->replica, take_over_atom::value);
}

void engine::rebalance() const {
  if (!refs)
    return;
  for (auto& s : refs->shards)
    caf::anon_send(s, rebalance_atom::value);
  if (subscriptions)
    caf::anon_send(subscriptions, rebalance_atom::value);
}

bool engine::set_routes(const cluster_routes& routes, const std::string& self_id) const {
  auto t = std::make_shared<route_table>();
  t->epoch = routes.epoch;
  t->members = routes.members;
  std::sort(t->members.begin(), t->members.end(),
            [](const route_member& a, const route_member& b) { return a.node_id < b.node_id; });
  bool found = false;
  for (size_t i = 0; i < t->members.size(); ++i) {
    auto& m = t->members[i];
    if (m.shards.empty() || (i > 0 && m.node_id == t->members[i - 1].node_id))
      return false;
    t->names.push_back(m.node_id);
    t->salts.push_back(core::member_salt(m.node_id));
    if (m.node_id == self_id) {
      t->self = i;
      found = true;
    }
  }
  if (!found)
    return false;
  bool clustered = t->members.size() > 1;
  std::atomic_store(&refs->routes->table, std::shared_ptr<const route_table>{std::move(t)});
  refs->routes->clustered.store(clustered, std::memory_order_release);
  return true;
}

// -- blocking_service ---------------------------------------------------------------

blocking_service::blocking_service(caf::actor_system& sys, service_actor service)
  : sys_(sys), service_(std::move(service)), self_(sys) {
  // nop
}

caf::expected<register_reply>
blocking_service::register_user(const std::string& aor,
                                const std::string& contact, uint32_t expires) {
  register_request req;
  req.aor = aor;
  contact_request c;
  c.uri = contact;
  c.expires = expires;
  req.contacts.push_back(std::move(c));
  return call<register_reply>(std::move(req));
}

caf::expected<register_reply>
blocking_service::refresh_registration(const std::string& aor,
                                       const std::string& contact,
                                       uint32_t expires) {
  return register_user(aor, contact, expires);
}

caf::expected<register_reply>
blocking_service::unregister_user(const std::string& aor,
                                  const std::string& contact) {
  register_request req;
  req.aor = aor;
  req.expires = 0;
  if (contact.empty()) {
    req.wildcard = true;
  } else {
    contact_request c;
    c.uri = contact;
    c.expires = 0;
    req.contacts.push_back(std::move(c));
  }
  return call<register_reply>(std::move(req));
}

caf::expected<register_reply> blocking_service::lookup_user(const std::string& aor) {
  return call<register_reply>(lookup_request{aor});
}

caf::expected<std::string> blocking_service::find_user(const std::string& contact) {
  return call<std::string>(find_user_request{contact});
}

caf::expected<user_list> blocking_service::list_registered_users(uint32_t limit) {
  return call<user_list>(list_users_request{limit});
}

caf::expected<presence_reply>
blocking_service::update_presence(const std::string& aor,
                                  core::extended_status status,
                                  const std::string& note) {
  presence_update_request req;
  req.aor = aor;
  req.status = status;
  req.note = note;
  return call<presence_reply>(std::move(req));
}

caf::expected<presence_reply> blocking_service::get_presence(const std::string& aor) {
  return call<presence_reply>(get_presence_request{aor});
}

caf::expected<presence_list> blocking_service::get_all_presence(uint32_t limit) {
  return call<presence_list>(get_all_presence_request{limit});
}

caf::expected<presence_reply>
blocking_service::clear_presence(const std::string& aor) {
  return call<presence_reply>(clear_presence_request{aor});
}

caf::expected<subscribe_reply>
blocking_service::subscribe(const std::string& watcher,
                            const std::string& target, uint32_t expires) {
  subscribe_request req;
  req.watcher = watcher;
  req.target = target;
  req.expires = expires;
  return call<subscribe_reply>(std::move(req));
}

caf::expected<caf::ok_atom> blocking_service::unsubscribe(const std::string& id) {
  return call<caf::ok_atom>(unsubscribe_request{id});
}

caf::expected<watcher_list> blocking_service::get_watchers(const std::string& aor) {
  return call<watcher_list>(get_watchers_request{aor});
}

caf::expected<subscription_list>
blocking_service::get_subscriptions(const std::string& aor) {
  return call<subscription_list>(get_subscriptions_request{aor});
}

caf::expected<user_list> blocking_service::get_buddy_list(const std::string& aor) {
  return call<user_list>(get_buddy_list_request{aor});
}

caf::expected<caf::ok_atom>
blocking_service::set_policy(const std::string& aor, core::presence_policy policy) {
  return call<caf::ok_atom>(set_policy_request{aor, std::move(policy)});
}

caf::actor blocking_service::on_event(uint32_t mask,
                                      std::function<void(const caf::message&)> fn) {
  auto adapter = sys_.spawn(event_adapter, std::move(fn));
  auto ok = call<caf::ok_atom>(bus_subscribe{adapter, mask});
  if (!ok) {
    caf::anon_send_exit(adapter, caf::exit_reason::user_shutdown);
    return {};
  }
  return adapter;
}

} // namespace regcore::actors
