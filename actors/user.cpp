// SPDX-License-Identifier: MIT
#include "actors/user.hpp"

#include "actors/user_host.hpp"

#include <optional>

namespace regcore::actors {

namespace {

struct user_state {
  std::shared_ptr<user_logic> logic;
  std::shared_ptr<const engine_refs> refs;
  directory_shard_actor shard;
  core::time_point scheduled{};
  /// Messages from the shard handled so far.
  uint64_t handled = 0;
  /// Flags last reported to the shard.
  bool reported_registered = false;
  bool reported_presence = false;
  /// Handed over to another node (cluster): serves nothing more; its shard
  /// stops it.
  bool moved = false;
  /// Changed since its last journal row; a flush_atom to itself is queued.
  bool dirty = false;
  bool flush_pending = false;
  /// Replies waiting for the commit of the next row (durability sync).
  held_replies held;
  static inline const char* name = "regcore.user";
};

using user_self = user_actor::stateful_pointer<user_state>;

/// After every operation: effects out, next deadline scheduled, the shard
/// told when the user's summary flags changed or it became empty.
void after_op(user_self self, user_effects&& fx) {
  auto& st = self->state;
  auto& u = *st.logic;
  send_effects(caf::actor_cast<caf::actor>(self), *st.refs, std::move(fx));
  reschedule(self, *st.refs, u, st.scheduled);
  bool reg = u.registered();
  bool pres = u.has_publications();
  if (u.empty() || reg != st.reported_registered || pres != st.reported_presence) {
    st.reported_registered = reg;
    st.reported_presence = pres;
    self->send(st.shard, user_status{u.aor(), reg, pres, u.empty(), st.handled});
  }
}

/// Writes the user's journal row now (if it changed since the last one);
/// the replies held for it leave when the store has committed it.
void flush_journal(user_self self) {
  auto& st = self->state;
  st.flush_pending = false;
  if (!st.dirty && st.held.empty())
    return;
  journal_batch batch;
  if (st.dirty)
    batch.entries.push_back(user_entry(*st.logic, *st.refs->cfg, self->clock().now()));
  st.dirty = false;
  send_rows(self, st.refs->store, std::move(batch), st.held);
}

/// Marks the user's journal row stale after a change. The row is written
/// once for all the changes made before the flush_atom it queues to itself
/// is handled (a burst of requests, e.g. thousands of SUBSCRIBEs to one
/// presentity, serializes the user once, not once per request), or at once
/// when the user is now empty (its shard may stop it). Returns the promise
/// of the reply when it must wait for the commit (durability sync, and the
/// message is a request: nobody waits for a one-way message), else none.
template <class Reply>
std::optional<caf::typed_response_promise<Reply>>
journal_change(user_self self, core::result<Reply>& res) {
  auto& st = self->state;
  if (!st.refs->persistent())
    return std::nullopt;
  st.dirty = true;
  std::optional<caf::typed_response_promise<Reply>> result;
  auto* current = self->current_mailbox_element();
  bool is_request = current != nullptr && current->mid.is_request();
  if (st.refs->sync() && res && is_request)
    result = hold_reply(self, st.held, std::move(*res));
  if (st.logic->empty()) {
    flush_journal(self);
  } else if (!st.flush_pending) {
    st.flush_pending = true;
    self->send(self, flush_atom::value);
  }
  return result;
}

/// Runs one operation from the shard on the logic; a change (`Writes`) is
/// journaled, and with durability sync its reply waits for the commit.
template <class Reply, bool Writes = true, class Op>
caf::result<Reply> run(user_self self, Op op) {
  auto& st = self->state;
  ++st.handled;
  if (st.moved) // cannot happen: the shard forwards nothing after a hand-over
    return core::make_caf_error(core::errc::invalid_state,
                                "User " + st.logic->aor() + " moved to another node");
  auto fx = st.refs->make_effects();
  core::result<Reply> res = op(*st.logic, fx, self->clock().now());
  std::optional<caf::typed_response_promise<Reply>> held;
  if constexpr (Writes)
    held = journal_change(self, res);
  after_op(self, std::move(fx));
  if (held)
    return *held;
  return to_caf(std::move(res));
}

/// A read-only operation: nothing to journal.
template <class Reply, class Op>
caf::result<Reply> query(user_self self, Op op) {
  return run<Reply, false>(self, std::move(op));
}

user_actor::behavior_type user(user_self self, std::shared_ptr<user_logic> logic,
                               std::shared_ptr<const engine_refs> refs,
                               directory_shard_actor shard) {
  auto& st = self->state;
  st.logic = std::move(logic);
  st.refs = std::move(refs);
  st.shard = std::move(shard);
  st.reported_registered = st.logic->registered();
  st.reported_presence = st.logic->has_publications();
  reschedule(self, *st.refs, *st.logic, st.scheduled);
  auto cfg = [=]() -> const engine_config& { return *self->state.refs->cfg; };
  return {
    [=](register_request& req) {
      return run<register_reply>(self, [&](user_logic& u, user_effects& fx,
                                           core::time_point now) {
        return u.on_register(req, cfg(), now, fx);
      });
    },
    [=](lookup_request&) {
      return query<register_reply>(
        self, [&](user_logic& u, user_effects&, core::time_point now) {
          return u.lookup(now);
        });
    },
    [=](presence_update_request& req) {
      return run<presence_reply>(self, [&](user_logic& u, user_effects& fx,
                                           core::time_point now) {
        return u.on_presence_update(req, cfg(), now, fx);
      });
    },
    [=](publish_request& req) {
      return run<publish_reply>(self, [&](user_logic& u, user_effects& fx,
                                          core::time_point now) {
        return u.on_publish(req, cfg(), now, fx);
      });
    },
    [=](get_presence_request&) {
      return query<presence_reply>(
        self, [&](user_logic& u, user_effects&, core::time_point now) {
          return core::result<presence_reply>{u.get_presence(now)};
        });
    },
    [=](clear_presence_request&) {
      return run<presence_reply>(self, [&](user_logic& u, user_effects& fx,
                                           core::time_point now) {
        return core::result<presence_reply>{u.clear_presence(now, fx)};
      });
    },
    [=](add_watcher_request& req) {
      return run<subscribe_reply>(self, [&](user_logic& u, user_effects& fx,
                                            core::time_point now) {
        return u.add_watcher(req, cfg(), now, fx);
      });
    },
    [=](refresh_watcher_request& req) {
      return run<subscribe_reply>(self, [&](user_logic& u, user_effects& fx,
                                            core::time_point now) {
        return u.refresh_watcher(req, cfg(), now, fx);
      });
    },
    [=](add_watching_request& req) {
      return run<caf::ok_atom>(
        self,
        [&](user_logic& u, user_effects&,
            core::time_point) -> core::result<caf::ok_atom> {
          auto ok = u.add_watching(req);
          if (!ok)
            return ok.err();
          return caf::ok_atom::value;
        });
    },
    [=](remove_watching_request& req) {
      (void) run<caf::ok_atom>(
        self, [&](user_logic& u, user_effects&, core::time_point) {
          u.remove_watching(req.id);
          return core::result<caf::ok_atom>{caf::ok_atom::value};
        });
    },
    [=](get_watchers_request& req) -> caf::result<watcher_list> {
      ++self->state.handled;
      return watchers_with_roster(self, *self->state.refs,
                                  self->state.logic->watchers(), req.aor,
                                  self->state.logic->in_roster());
    },
    [=](get_subscriptions_request&) {
      return query<subscription_list>(
        self, [&](user_logic& u, user_effects&, core::time_point) {
          return core::result<subscription_list>{u.subscriptions()};
        });
    },
    [=](get_buddy_list_request& req) -> caf::result<user_list> {
      ++self->state.handled;
      return buddies_with_roster(self, *self->state.refs,
                                 self->state.logic->subscriptions(), req.aor,
                                 self->state.logic->in_roster());
    },
    [=](set_policy_request& req) {
      (void) run<caf::ok_atom>(self, [&](user_logic& u, user_effects& fx,
                                         core::time_point now) {
        u.apply_policy(req.policy, now, fx);
        return core::result<caf::ok_atom>{caf::ok_atom::value};
      });
    },
    [=](resume_watchers_request& req) {
      (void) run<caf::ok_atom>(self, [&](user_logic& u, user_effects& fx,
                                         core::time_point now) {
        u.resume_watchers(req.ids, now, fx);
        return core::result<caf::ok_atom>{caf::ok_atom::value};
      });
    },
    [=](user_record& rec) {
      // State of this user handed over by its former owner (cluster).
      (void) run<caf::ok_atom>(self, [&](user_logic& u, user_effects& fx,
                                         core::time_point now) {
        u.absorb(std::move(rec), -wall_offset(cfg(), now), now, fx);
        return core::result<caf::ok_atom>{caf::ok_atom::value};
      });
    },
    [=](rebalance_atom) {
      // New replicas: write the row again (the replicator sends it to the
      // replicas of the current routes).
      if (self->state.moved)
        return;
      core::result<caf::ok_atom> done{caf::ok_atom::value};
      (void) journal_change(self, done);
    },
    [=](flush_atom) { flush_journal(self); },
    [=](orphan_check& x) {
      if (self->state.moved || !x.edge)
        return;
      auto xs = self->state.logic->orphan_dialogs(x.live);
      if (!xs.empty())
        caf::anon_send(x.edge, adopt_dialogs{std::move(xs)});
    },
    [=](hand_over_atom) -> caf::result<user_record> {
      auto& state = self->state;
      ++state.handled;
      // Its last row reaches the store before the shard's erase row (the
      // shard writes that once it has this reply).
      flush_journal(self);
      state.moved = true;
      auto now = self->clock().now();
      return state.logic->snapshot(wall_offset(cfg(), now));
    },
    [=](expiry_due& due) {
      auto& state = self->state;
      if (state.moved)
        return;
      for (auto& e : due.entries)
        consume_wakeup(e.deadline, state.scheduled);
      // Not from the shard: `handled` does not count it.
      auto fx = state.refs->make_effects();
      state.logic->expire(self->clock().now(), cfg(), fx);
      core::result<caf::ok_atom> done{caf::ok_atom::value};
      (void) journal_change(self, done);
      after_op(self, std::move(fx));
    },
  };
}

} // namespace

user_actor spawn_user(caf::actor_system& sys, std::shared_ptr<user_logic> logic,
                      std::shared_ptr<const engine_refs> refs,
                      directory_shard_actor shard) {
  return sys.spawn(user, std::move(logic), std::move(refs), std::move(shard));
}

} // namespace regcore::actors
