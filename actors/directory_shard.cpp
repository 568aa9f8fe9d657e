// SPDX-License-Identifier: MIT
#include "actors/directory_shard.hpp"

#include <algorithm>
#include <unordered_map>

#include "actors/user.hpp"
#include "actors/user_host.hpp"
#include "core/sip_uri.hpp"

namespace regcore::actors {

namespace {

/// One user of this shard: passive (logic here) or active (its actor).
struct user_slot {
  /// The passive user, held inline (no allocation of its own: most users
  /// of a registrar are passive, see docs/performance.md).
  std::optional<user_logic> logic;
  user_actor actor;
  /// Pending expiry wake-up of a passive user.
  core::time_point scheduled{};
  /// Mirrors of an active user's flags (from user_status).
  bool registered = false;
  bool has_presence = false;
  /// Messages forwarded to the active user (compared with user_status).
  uint32_t forwarded = 0;
};

/// Effects of passive users, sent in batches: one message per destination
/// per run of the shard instead of one per operation (a flush_atom to self
/// lands behind the requests already queued, so under load a batch covers
/// many requests).
struct outbox {
  std::vector<std::vector<index_update>> index; // by destination shard
  std::vector<roster_update> roster;
  std::vector<expiry_schedule> expiry;
  std::vector<publish_event> events;
  bool flush_pending = false;
};

struct shard_state {
  std::shared_ptr<const engine_refs> refs;
  outbox out;
  std::unordered_map<std::string, user_slot> users;
  /// Reverse index: contact binding key -> canonical AOR.
  std::unordered_map<std::string, std::string> index;
  static inline const char* name = "regcore.directory_shard";
};

using shard_self = directory_shard_actor::stateful_pointer<shard_state>;

core::time_point now_of(shard_self self) {
  return self->clock().now();
}

void request_flush(shard_self self) {
  auto& out = self->state.out;
  if (!out.flush_pending) {
    out.flush_pending = true;
    self->send(self, flush_atom::value);
  }
}

/// Queues a passive user's effects in the outbox.
void queue_effects(shard_self self, user_effects&& fx) {
  auto& st = self->state;
  auto& out = st.out;
  auto n = st.refs->shards.size();
  if (out.index.size() != n)
    out.index.resize(n);
  bool queued = false;
  for (auto& ev : fx.events) {
    out.events.push_back(std::move(ev));
    queued = true;
  }
  for (auto& x : fx.index) {
    out.index[core::shard_of(x.key, static_cast<uint32_t>(n))].push_back(std::move(x));
    queued = true;
  }
  for (auto& x : fx.roster) {
    out.roster.push_back(std::move(x));
    queued = true;
  }
  // Ended subscriptions are rare: straight to the watchers' shards.
  for (auto& x : fx.watching_removed)
    self->send(st.refs->shard_for(x.watcher), std::move(x));
  if (queued)
    request_flush(self);
}

void flush(shard_self self) {
  auto& st = self->state;
  auto& out = st.out;
  out.flush_pending = false;
  if (!out.events.empty())
    self->send(st.refs->bus, publish_batch{std::move(out.events)});
  for (size_t i = 0; i < out.index.size(); ++i)
    if (!out.index[i].empty())
      self->send(st.refs->shards[i], index_batch{std::move(out.index[i])});
  if (!out.roster.empty())
    self->send(st.refs->roster, roster_batch{std::move(out.roster)});
  if (!out.expiry.empty())
    self->send(st.refs->expiry, expiry_schedule_batch{std::move(out.expiry)});
  out.events.clear();
  for (auto& xs : out.index)
    xs.clear();
  out.roster.clear();
  out.expiry.clear();
}

void apply_index(shard_self self, index_update& x) {
  auto& idx = self->state.index;
  if (x.added) {
    idx[x.key] = std::move(x.aor);
  } else {
    auto i = idx.find(x.key);
    if (i != idx.end() && i->second == x.aor)
      idx.erase(i);
  }
}

/// After an operation on a passive user: queue effects, reschedule, activate
/// when it needs an actor, drop it when empty.
void after_passive(shard_self self,
                   std::unordered_map<std::string, user_slot>::iterator i,
                   user_effects&& fx) {
  auto& st = self->state;
  auto& slot = i->second;
  queue_effects(self, std::move(fx));
  if (slot.logic->empty()) {
    st.users.erase(i);
    return;
  }
  if (slot.logic->needs_actor()) {
    // Activation: the user's state moves into an actor of its own.
    slot.actor = spawn_user(self->system(),
                            std::make_shared<user_logic>(std::move(*slot.logic)),
                            st.refs, self);
    self->monitor(slot.actor);
    slot.logic.reset();
    slot.scheduled = core::time_point{};
    slot.forwarded = 0;
    return;
  }
  // Next deadline, batched like the effects (see reschedule()).
  auto next = slot.logic->next_deadline();
  if (next && (slot.scheduled == core::time_point{} || *next < slot.scheduled)) {
    slot.scheduled = *next;
    st.out.expiry.push_back(expiry_schedule{self, i->first, *next});
    request_flush(self);
  }
}

using user_iter = std::unordered_map<std::string, user_slot>::iterator;

/// Canonicalises `aor_field` in place and looks its user up (end() when
/// unknown); a bad AOR is an error.
core::result<user_iter> find_user(shard_self self, std::string& aor_field) {
  auto aor = core::canonical_aor(aor_field);
  if (!aor)
    return std::move(aor).err();
  aor_field = std::move(*aor);
  return self->state.users.find(aor_field);
}

/// True when `i` is an active user; counts the message about to be
/// forwarded to it.
bool forward_to_actor(shard_self self, user_iter i) {
  if (i == self->state.users.end() || !i->second.actor)
    return false;
  ++i->second.forwarded;
  return true;
}

/// Routes a per-user request: forwards to an active user, or runs
/// `op(logic, fx, now)` on the passive one. With `create`, an unknown user
/// is created (and dropped again if the operation leaves it empty);
/// without, `missing()` answers.
template <class Reply, class Request, class Op, class Missing>
caf::result<Reply> route(shard_self self, Request& req, std::string& aor_field,
                         bool create, Op op, Missing missing) {
  auto found = find_user(self, aor_field);
  if (!found)
    return messages::to_caf_error(found.err());
  auto i = *found;
  if (forward_to_actor(self, i))
    return self->delegate(i->second.actor, std::move(req));
  if (i == self->state.users.end()) {
    if (!create)
      return missing(aor_field);
    user_slot slot;
    slot.logic.emplace(aor_field);
    i = self->state.users.emplace(aor_field, std::move(slot)).first;
  }
  auto fx = self->state.refs->make_effects();
  core::result<Reply> res = op(*i->second.logic, fx, now_of(self));
  after_passive(self, i, std::move(fx));
  if (!res)
    return messages::to_caf_error(res.err());
  return std::move(*res);
}

/// route() for queries that may answer asynchronously: forwarded to an
/// active user, else `local(logic or nullptr, aor)` answers (nullptr for an
/// unknown user).
template <class Reply, class Request, class Local>
caf::result<Reply> route_query(shard_self self, Request& req,
                               std::string& aor_field, Local local) {
  auto found = find_user(self, aor_field);
  if (!found)
    return messages::to_caf_error(found.err());
  auto i = *found;
  if (forward_to_actor(self, i))
    return self->delegate(i->second.actor, std::move(req));
  return local(i != self->state.users.end() ? &*i->second.logic : nullptr,
               aor_field);
}

/// route() for one-way messages: forwarded to an active user, run on a
/// passive one, ignored for an unknown user or a bad AOR.
template <class Request, class Op>
void route_oneway(shard_self self, Request& req, std::string& aor_field, Op op) {
  auto found = find_user(self, aor_field);
  if (!found || *found == self->state.users.end())
    return;
  auto i = *found;
  if (forward_to_actor(self, i)) {
    self->send(i->second.actor, std::move(req));
    return;
  }
  auto fx = self->state.refs->make_effects();
  op(*i->second.logic, fx, now_of(self));
  after_passive(self, i, std::move(fx));
}

caf::error not_found(const std::string& aor) {
  return core::make_caf_error(core::errc::user_not_found, "Unknown user " + aor);
}

directory_shard_actor::behavior_type
directory_shard(shard_self self, std::shared_ptr<const engine_refs> refs) {
  self->state.refs = std::move(refs);
  self->set_down_handler([=](caf::down_msg& dm) {
    // An active user died. Normal ends come with user_status{empty}; any
    // other exit loses that user's state, which must not go unnoticed.
    auto& users = self->state.users;
    for (auto i = users.begin(); i != users.end(); ++i) {
      if (i->second.actor && i->second.actor.address() == dm.source) {
        if (dm.reason)
          caf::aout(self) << "regcore: user actor for " << i->first
                          << " died: " << self->system().render(dm.reason)
                          << std::endl;
        users.erase(i);
        return;
      }
    }
  });
  auto cfg = [=]() -> const engine_config& { return *self->state.refs->cfg; };
  return {
    // -- registrar ---------------------------------------------------------------
    [=](register_request& req) -> caf::result<register_reply> {
      return route<register_reply>(
        self, req, req.aor, true,
        [&](user_logic& u, user_effects& fx, core::time_point now) {
          return u.on_register(req, cfg(), now, fx);
        },
        not_found);
    },
    [=](lookup_request& req) -> caf::result<register_reply> {
      return route<register_reply>(
        self, req, req.aor, false,
        [&](user_logic& u, user_effects&, core::time_point now) {
          return u.lookup(now);
        },
        not_found);
    },
    // -- presence -----------------------------------------------------------------
    [=](presence_update_request& req) -> caf::result<presence_reply> {
      return route<presence_reply>(
        self, req, req.aor, true,
        [&](user_logic& u, user_effects& fx, core::time_point now) {
          return u.on_presence_update(req, cfg(), now, fx);
        },
        not_found);
    },
    [=](publish_request& req) -> caf::result<publish_reply> {
      return route<publish_reply>(
        self, req, req.aor, true,
        [&](user_logic& u, user_effects& fx, core::time_point now) {
          return u.on_publish(req, cfg(), now, fx);
        },
        not_found);
    },
    [=](get_presence_request& req) -> caf::result<presence_reply> {
      return route<presence_reply>(
        self, req, req.aor, false,
        [&](user_logic& u, user_effects&, core::time_point now) {
          return core::result<presence_reply>{u.get_presence(now)};
        },
        not_found);
    },
    [=](clear_presence_request& req) -> caf::result<presence_reply> {
      return route<presence_reply>(
        self, req, req.aor, false,
        [&](user_logic& u, user_effects& fx, core::time_point now) {
          return core::result<presence_reply>{u.clear_presence(now, fx)};
        },
        not_found);
    },
    // -- subscriptions ------------------------------------------------------------
    [=](add_watcher_request& req) -> caf::result<subscribe_reply> {
      return route<subscribe_reply>(
        self, req, req.sub.target, true,
        [&](user_logic& u, user_effects& fx, core::time_point now) {
          return u.add_watcher(req, cfg(), now, fx);
        },
        not_found);
    },
    [=](refresh_watcher_request& req) -> caf::result<subscribe_reply> {
      return route<subscribe_reply>(
        self, req, req.target, false,
        [&](user_logic& u, user_effects& fx, core::time_point now) {
          return u.refresh_watcher(req, cfg(), now, fx);
        },
        [&](const std::string&) -> caf::error {
          return core::make_caf_error(core::errc::subscription_not_found,
                                      "No subscription " + req.id);
        });
    },
    [=](add_watching_request& req) -> caf::result<caf::ok_atom> {
      return route<caf::ok_atom>(
        self, req, req.sub.subscriber, true,
        [&](user_logic& u, user_effects&,
            core::time_point) -> core::result<caf::ok_atom> {
          auto ok = u.add_watching(req);
          if (!ok)
            return ok.err();
          return caf::ok_atom::value;
        },
        not_found);
    },
    [=](remove_watching_request& req) {
      route_oneway(self, req, req.watcher,
                   [&](user_logic& u, user_effects&, core::time_point) {
                     u.remove_watching(req.id);
                   });
    },
    [=](get_watchers_request& req) -> caf::result<watcher_list> {
      return route_query<watcher_list>(
        self, req, req.aor, [=](const user_logic* u, const std::string& aor) {
          return watchers_with_roster(self, *self->state.refs,
                                      u ? u->watchers() : watcher_list{}, aor);
        });
    },
    [=](get_subscriptions_request& req) -> caf::result<subscription_list> {
      return route<subscription_list>(
        self, req, req.aor, false,
        [&](user_logic& u, user_effects&, core::time_point) {
          return core::result<subscription_list>{u.subscriptions()};
        },
        [](const std::string&) -> caf::result<subscription_list> {
          return subscription_list{};
        });
    },
    [=](get_buddy_list_request& req) -> caf::result<user_list> {
      return route_query<user_list>(
        self, req, req.aor, [=](const user_logic* u, const std::string& aor) {
          return buddies_with_roster(self, *self->state.refs,
                                     u ? u->subscriptions() : subscription_list{},
                                     aor);
        });
    },
    [=](set_policy_request& req) {
      route_oneway(self, req, req.aor,
                   [&](user_logic& u, user_effects& fx, core::time_point now) {
                     u.apply_policy(req.policy, now, fx);
                   });
    },
    // -- time ---------------------------------------------------------------------
    [=](expiry_due& due) {
      auto& st = self->state;
      auto now = now_of(self);
      for (auto& e : due.entries) {
        auto i = st.users.find(e.key);
        if (i == st.users.end() || !i->second.logic)
          continue; // gone, or active (its actor keeps its own deadlines)
        consume_wakeup(e.deadline, i->second.scheduled);
        auto fx = self->state.refs->make_effects();
        i->second.logic->expire(now, cfg(), fx);
        after_passive(self, i, std::move(fx));
      }
    },
    // -- directory ----------------------------------------------------------------
    [=](find_user_request& req) -> caf::result<std::string> {
      auto& idx = self->state.index;
      auto i = idx.find(core::binding_key(req.contact_uri));
      if (i == idx.end())
        return core::make_caf_error(core::errc::contact_not_found,
                                    "No user has contact " + req.contact_uri);
      return i->second;
    },
    [=](list_users_request& req) -> user_list {
      user_list result;
      for (auto& kvp : self->state.users) {
        auto& s = kvp.second;
        if (s.logic ? s.logic->registered() : s.registered)
          result.users.push_back(kvp.first);
      }
      std::sort(result.users.begin(), result.users.end());
      if (req.limit > 0 && result.users.size() > req.limit)
        result.users.resize(req.limit);
      return result;
    },
    [=](get_all_presence_request& req) -> caf::result<presence_list> {
      // Passive users answer here; active users are asked.
      auto& st = self->state;
      auto now = now_of(self);
      presence_list here;
      std::vector<user_actor> active;
      for (auto& kvp : st.users) {
        auto& s = kvp.second;
        if (s.logic) {
          here.items.push_back(s.logic->get_presence(now));
        } else {
          ++s.forwarded; // the user counts this request as handled
          active.push_back(s.actor);
        }
      }
      if (active.empty())
        return here;
      auto rp = self->make_response_promise<presence_list>();
      auto acc = std::make_shared<presence_list>(std::move(here));
      auto pending = std::make_shared<size_t>(active.size());
      auto limit = req.limit;
      for (auto& a : active) {
        self->request(a, caf::infinite, get_presence_request{})
          .then(
            [=](presence_reply& x) mutable {
              acc->items.push_back(std::move(x));
              if (--*pending == 0) {
                if (limit > 0 && acc->items.size() > limit)
                  acc->items.resize(limit);
                rp.deliver(std::move(*acc));
              }
            },
            [=](caf::error&) mutable {
              if (--*pending == 0)
                rp.deliver(std::move(*acc));
            });
      }
      return rp;
    },
    [=](index_update& x) { apply_index(self, x); },
    [=](index_batch& xs) {
      for (auto& x : xs.updates)
        apply_index(self, x);
    },
    [=](flush_atom) { flush(self); },
    [=](user_status& x) {
      auto& users = self->state.users;
      auto i = users.find(x.aor);
      if (i == users.end() || !i->second.actor)
        return;
      auto& s = i->second;
      s.registered = x.registered;
      s.has_presence = x.has_presence;
      if (x.empty && x.handled == s.forwarded) {
        // Nothing forwarded is still in flight: the user can go.
        self->demonitor(s.actor.address());
        self->send_exit(s.actor, caf::exit_reason::normal);
        users.erase(i);
      }
    },
    [=](stats_atom) {
      shard_stats result;
      auto& st = self->state;
      result.users = st.users.size();
      for (auto& kvp : st.users) {
        auto& s = kvp.second;
        if (s.actor)
          ++result.active;
        if (s.logic ? s.logic->registered() : s.registered)
          ++result.registered;
      }
      result.index_entries = st.index.size();
      return result;
    },
  };
}

} // namespace

directory_shard_actor spawn_directory_shard(caf::actor_system& sys,
                                            std::shared_ptr<const engine_refs> refs) {
  return sys.spawn(directory_shard, std::move(refs));
}

} // namespace regcore::actors
