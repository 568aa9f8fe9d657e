// SPDX-License-Identifier: MIT
#pragma once

// What both hosts of a user_logic (its directory shard while passive, its
// own user actor while active) do around every operation: send the effects,
// keep exactly one pending expiry wake-up for the user's next deadline, and
// answer the roster-dependent queries.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/engine_refs.hpp"
#include "actors/user_logic.hpp"
#include "messages/error.hpp"

#include <caf/all.hpp>

namespace regcore::actors {

/// Converts a core result into the caf::result a handler returns.
template <class T>
caf::result<T> to_caf(core::result<T>&& x) {
  if (x)
    return std::move(*x);
  return messages::to_caf_error(x.err());
}

/// Replies waiting for the commit of journal rows (durability sync): each
/// is called once, with nullptr (committed) or the error.
using held_replies = std::vector<std::function<void(const caf::error*)>>;

/// Holds `reply` in `held` and returns the promise it will be delivered
/// through (or the commit's error).
template <class Reply, class Self>
caf::typed_response_promise<Reply> hold_reply(Self* self, held_replies& held, Reply&& reply) {
  auto rp = self->template make_response_promise<Reply>();
  auto value = std::make_shared<Reply>(std::move(reply));
  held.emplace_back([rp, value](const caf::error* err) mutable {
    if (err)
      rp.deliver(*err);
    else
      rp.deliver(std::move(*value));
  });
  return rp;
}

/// Sends `batch` to the store; the replies in `held` (emptied) leave when
/// it is committed. Without held replies nobody waits (the store logs a
/// failure).
template <class Self>
void send_rows(Self* self, const store_actor& store, journal_batch batch, held_replies& held) {
  if (held.empty()) {
    self->request(store, caf::infinite, std::move(batch))
      .then([](caf::ok_atom) {}, [](caf::error&) {});
    return;
  }
  auto waiting = std::make_shared<held_replies>(std::move(held));
  held.clear();
  self->request(store, caf::infinite, std::move(batch))
    .then(
      [waiting](caf::ok_atom) {
        for (auto& f : *waiting)
          f(nullptr);
      },
      [waiting](caf::error& err) {
        for (auto& f : *waiting)
          f(&err);
      });
}

/// Schedules `u`'s next deadline with the expiry supervisor unless an
/// earlier (or the same) wake-up is already pending. `scheduled` is the
/// host's record of the pending wake-up (the epoch time point = none).
inline void reschedule(const expiry_owner_actor& owner, const engine_refs& refs,
                       const user_logic& u, core::time_point& scheduled) {
  auto next = u.next_deadline();
  if (!next || (scheduled != core::time_point{} && scheduled <= *next))
    return;
  scheduled = *next;
  caf::anon_send(refs.expiry, expiry_schedule{owner, u.aor(), *next});
}

/// Marks the wake-up for `deadline` as consumed if it is the pending one.
inline void consume_wakeup(core::time_point deadline, core::time_point& scheduled) {
  if (scheduled == deadline)
    scheduled = core::time_point{};
}

/// Asks every node's roster (actors/roster.hpp) for the other members of
/// `aor`'s domain and calls `done(members)` with their union, or
/// `failed(error)`.
template <class Self, class Done, class Failed>
void roster_members(Self* self, const engine_refs& refs, const std::string& aor, Done done,
                    Failed failed) {
  auto rosters = refs.all_rosters();
  struct pending {
    size_t left;
    user_list acc;
    caf::error err;
  };
  auto p = std::make_shared<pending>();
  p->left = rosters.size();
  auto one = [p, done, failed]() mutable {
    if (--p->left > 0)
      return;
    if (p->err)
      failed(std::move(p->err));
    else
      done(std::move(p->acc));
  };
  for (auto& r : rosters)
    self->request(r, caf::infinite, roster_query{aor})
      .then(
        [p, one](user_list& members) mutable {
          for (auto& m : members.users)
            p->acc.users.push_back(std::move(m));
          one();
        },
        [p, one](caf::error& err) mutable {
          p->err = std::move(err);
          one();
        });
}

/// Answers get_watchers: the explicit watchers plus, with auto-buddy and
/// when the user is a roster member, every other member of its domain
/// roster (on every node of the cluster).
template <class Self>
caf::result<watcher_list> watchers_with_roster(Self* self,
                                               const engine_refs& refs,
                                               watcher_list explicit_watchers,
                                               const std::string& aor, bool in_roster) {
  if (!refs.cfg->auto_buddy || !in_roster)
    return explicit_watchers;
  auto rp = self->template make_response_promise<watcher_list>();
  roster_members(
    self, refs, aor,
    [rp, xs = std::move(explicit_watchers)](user_list members) mutable {
      std::sort(members.users.begin(), members.users.end());
      for (auto& m : members.users) {
        bool dup = false;
        for (auto& w : xs.watchers)
          dup = dup || (w.watcher == m && w.subscription_id.empty());
        if (!dup)
          xs.watchers.push_back(watcher_info{m, {}, core::subscription_state::active});
      }
      rp.deliver(std::move(xs));
    },
    [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

/// Answers get_buddy_list: targets of the user's subscriptions plus, with
/// auto-buddy and when the user is a roster member, the other members of
/// its domain roster (on every node); sorted, no duplicates.
template <class Self>
caf::result<user_list> buddies_with_roster(Self* self, const engine_refs& refs,
                                           subscription_list subs,
                                           const std::string& aor, bool in_roster) {
  user_list own;
  for (auto& s : subs.subscriptions)
    own.users.push_back(s.target);
  auto finish = [](user_list xs) {
    std::sort(xs.users.begin(), xs.users.end());
    xs.users.erase(std::unique(xs.users.begin(), xs.users.end()), xs.users.end());
    return xs;
  };
  if (!refs.cfg->auto_buddy || !in_roster)
    return finish(std::move(own));
  auto rp = self->template make_response_promise<user_list>();
  roster_members(
    self, refs, aor,
    [rp, finish, own = std::move(own)](user_list members) mutable {
      for (auto& m : members.users)
        own.users.push_back(std::move(m));
      rp.deliver(finish(std::move(own)));
    },
    [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

} // namespace regcore::actors
