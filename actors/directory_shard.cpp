// SPDX-License-Identifier: MIT
#include "actors/directory_shard.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "actors/user.hpp"
#include "actors/user_host.hpp"
#include "core/hash.hpp"
#include "core/ownership.hpp"
#include "core/sip_uri.hpp"

#include <spdlog/spdlog.h>

namespace regcore::actors {

namespace {

/// What the shard keeps of an active user (one with an actor of its own).
struct active_user {
  /// The AOR: the storage of the user's map key while it is active.
  std::string aor;
  user_actor actor;
  /// Mirrors of the user's flags (from user_status).
  bool registered = false;
  bool has_presence = false;
  /// Messages forwarded to the user (compared with user_status::handled).
  uint64_t forwarded = 0;
};

/// One user of this shard: passive (its logic runs here) or active (its
/// actor runs it).
struct user_slot {
  explicit user_slot(const std::string& aor) : logic(aor) {
    // nop
  }
  explicit user_slot(user_logic&& restored) : logic(std::move(restored)) {
    // nop
  }
  /// The passive user, held inline (no allocation of its own: most users
  /// of a registrar are passive, see docs/performance.md). Its aor() is the
  /// storage of the map key while the user is passive; on activation it
  /// moves into the user actor and is left empty.
  user_logic logic;
  /// Set while the user is active.
  std::unique_ptr<active_user> active;
  /// A passive user with a deadline is in the wake-up bucket of that
  /// deadline's slot (shard_state::wakeups), at this position; no_pos while
  /// it has none (or is active).
  uint32_t due_pos = no_pos;

  static constexpr uint32_t no_pos = std::numeric_limits<uint32_t>::max();

  bool passive() const noexcept {
    return !active;
  }
};

/// Users by canonical AOR. The key views the AOR the slot itself holds, so
/// each AOR is stored once. Map nodes never move; re-keying (activation)
/// goes through extract() and insert().
using user_map = std::unordered_map<std::string_view, user_slot>;
using user_iter = user_map::iterator;

/// The reverse index (find_user): 64-bit stable_hash of a contact's binding
/// key -> the canonical AOR holding that contact. The keys themselves are
/// not stored; find_user verifies every candidate with the user's own shard,
/// so neither a hash collision nor a stale entry can give a wrong answer.
/// `latest` holds the newest owner per hash; older owners (the contact
/// taken over by another AOR, or a collision) wait in `older`, oldest first
/// (rare; a hash is in `older` only while it is in `latest`).
struct reverse_index {
  std::unordered_map<uint64_t, std::string> latest;
  std::unordered_map<uint64_t, std::vector<std::string>> older;

  void add(uint64_t h, std::string aor) {
    auto [i, inserted] = latest.try_emplace(h, std::move(aor));
    if (inserted || i->second == aor)
      return;
    auto& xs = older[h];
    xs.erase(std::remove(xs.begin(), xs.end(), aor), xs.end());
    xs.push_back(std::move(i->second));
    i->second = std::move(aor);
  }

  void remove(uint64_t h, const std::string& aor) {
    auto i = latest.find(h);
    if (i == latest.end())
      return;
    auto j = older.find(h);
    if (i->second == aor) {
      if (j == older.end()) {
        latest.erase(i);
        return;
      }
      i->second = std::move(j->second.back()); // the next newest takes over
      j->second.pop_back();
    } else if (j != older.end()) {
      auto& xs = j->second;
      xs.erase(std::remove(xs.begin(), xs.end(), aor), xs.end());
    }
    if (j != older.end() && j->second.empty())
      older.erase(j);
  }

  /// Owners of `h`, newest first.
  std::vector<std::string> candidates(uint64_t h) const {
    std::vector<std::string> result;
    auto i = latest.find(h);
    if (i == latest.end())
      return result;
    result.push_back(i->second);
    if (auto j = older.find(h); j != older.end())
      result.insert(result.end(), j->second.rbegin(), j->second.rend());
    return result;
  }

  size_t size() const noexcept {
    auto n = latest.size();
    for (auto& kvp : older)
      n += kvp.second.size();
    return n;
  }
};

/// Effects of passive users, sent in batches: one message per destination
/// per run of the shard instead of one per operation (a flush_atom to self
/// lands behind the requests already queued, so under load a batch covers
/// many requests). A batch holds at most max_batch items (a full one goes
/// out at once); the vectors keep their capacity (a batch is sent as an
/// exact-size copy), so queueing does not reallocate.
struct outbox {
  static constexpr size_t max_batch = 256;
  std::vector<std::vector<index_update>> index; // by destination shard
  std::vector<roster_update> roster;
  std::vector<expiry_schedule> expiry;
  std::vector<publish_event> events;
  /// Journal rows of passive users' changes (persistence on).
  std::vector<journal_entry> journal;
  /// Replies waiting for the commit of `journal` (durability sync).
  held_replies held;
  bool flush_pending = false;
};

/// Passive users by wake-up slot: the slot (deadline rounded up to the
/// expiry granularity, as the expiry supervisor rounds) of each user's next
/// deadline. The supervisor is asked for one wake-up per slot, not one per
/// user (docs/ARCHITECTURE.md, "Time and expiry"): that keeps its heap and
/// this shard's memory per user at one pointer. Map nodes never move, so the
/// pointers stay valid until the user is erased (which unschedules it).
using wakeup_map = std::map<core::time_point, std::vector<user_slot*>>;

struct shard_state {
  std::shared_ptr<const engine_refs> refs;
  outbox out;
  wakeup_map wakeups;
  /// The effects of the current passive-user operation; reused (cleared by
  /// queue_effects), so an operation allocates no effect vectors.
  user_effects fx;
  user_map users;
  reverse_index index;
  /// Cluster: the routes of the last rebalance (null: none yet, or alone).
  std::shared_ptr<const route_table> routes_seen;
  /// Cluster: stable_hash of the users handed over at the last rebalance.
  /// A request for one of them that still reaches this shard (its sender
  /// had the routes of before) goes on to the new owner.
  std::unordered_set<uint64_t> moved;
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

/// The (empty) effects buffer for one passive-user operation.
user_effects& fresh_effects(shard_self self) {
  auto& st = self->state;
  st.fx.interest = st.refs->interest
                     ? st.refs->interest->load(std::memory_order_relaxed)
                     : all_events;
  return st.fx;
}

/// Moves the items of `xs` into a vector of their own (exact size); `xs`
/// keeps its capacity.
template <class T>
std::vector<T> take(std::vector<T>& xs) {
  std::vector<T> result{std::make_move_iterator(xs.begin()),
                        std::make_move_iterator(xs.end())};
  xs.clear();
  return result;
}

void send_index(shard_self self, size_t i) {
  auto& st = self->state;
  self->send(st.refs->shards[i], index_batch{take(st.out.index[i])});
}

void send_roster(shard_self self) {
  auto& st = self->state;
  self->send(st.refs->roster, roster_batch{take(st.out.roster)});
}

void send_expiry(shard_self self) {
  auto& st = self->state;
  self->send(st.refs->expiry, expiry_schedule_batch{take(st.out.expiry)});
}

void send_events(shard_self self) {
  auto& st = self->state;
  self->send(st.refs->bus, publish_batch{take(st.out.events)});
}

/// Sends the journal rows queued so far in one batch; the replies held for
/// them leave when the store has committed it.
void send_journal(shard_self self) {
  auto& out = self->state.out;
  send_rows(self, self->state.refs->store, journal_batch{take(out.journal)}, out.held);
}

/// Queues the journal row of passive user `u` after a change (persistence
/// on); it goes out with the next flush.
void journal_user(shard_self self, const user_logic& u) {
  auto& st = self->state;
  if (!st.refs->persistent())
    return;
  st.out.journal.push_back(user_entry(u, *st.refs->cfg, now_of(self)));
  request_flush(self);
}

/// True when the message being handled is a request (somebody waits).
bool handling_request(shard_self self) {
  auto* current = self->current_mailbox_element();
  return current != nullptr && current->mid.is_request();
}

/// The reply to the current request once the journal rows queued so far are
/// committed (durability sync).
template <class Reply>
caf::result<Reply> after_commit(shard_self self, Reply&& reply) {
  auto rp = hold_reply(self, self->state.out.held, std::move(reply));
  request_flush(self);
  return rp;
}

/// Queues a passive user's effects in the outbox and empties `fx`.
void queue_effects(shard_self self, user_effects& fx) {
  auto& st = self->state;
  auto& out = st.out;
  auto n = st.refs->shards.size();
  if (out.index.size() != n)
    out.index.resize(n);
  bool queued = false;
  for (auto& ev : fx.events) {
    out.events.push_back(std::move(ev));
    if (out.events.size() >= outbox::max_batch)
      send_events(self);
    queued = true;
  }
  for (auto& x : fx.index) {
    auto i = core::shard_of_hash(x.key_hash, static_cast<uint32_t>(n));
    out.index[i].push_back(std::move(x));
    if (out.index[i].size() >= outbox::max_batch)
      send_index(self, i);
    queued = true;
  }
  for (auto& x : fx.roster) {
    out.roster.push_back(std::move(x));
    if (out.roster.size() >= outbox::max_batch)
      send_roster(self);
    queued = true;
  }
  // Ended subscriptions are rare: straight to the watchers' shards.
  for (auto& x : fx.watching_removed)
    self->send(st.refs->shard_for(x.watcher), std::move(x));
  fx.events.clear();
  fx.index.clear();
  fx.roster.clear();
  fx.watching_removed.clear();
  if (queued)
    request_flush(self);
}

void flush(shard_self self) {
  auto& out = self->state.out;
  out.flush_pending = false;
  if (!out.events.empty())
    send_events(self);
  for (size_t i = 0; i < out.index.size(); ++i)
    if (!out.index[i].empty())
      send_index(self, i);
  if (!out.roster.empty())
    send_roster(self);
  if (!out.expiry.empty())
    send_expiry(self);
  // Held replies without rows of their own (their rows went out early, at
  // an activation) still wait for a commit: an empty batch is that barrier.
  if (!out.journal.empty() || !out.held.empty())
    send_journal(self);
}

void apply_index(shard_self self, index_update& x) {
  if (x.added)
    self->state.index.add(x.key_hash, std::move(x.aor));
  else
    self->state.index.remove(x.key_hash, x.aor);
}

/// One find_user in progress: the candidates of the contact's hash, asked
/// one after the other (newest first) whether they really hold the contact.
struct verification {
  std::string key;
  std::string contact_uri;
  std::vector<std::string> candidates;
  size_t next = 0;
  caf::typed_response_promise<std::string> rp;
};

/// Asks the next candidate's shard for its bindings; answers with the first
/// candidate that has a binding with the contact's key, or contact_not_found.
void verify_next(shard_self self, std::shared_ptr<verification> v) {
  if (v->next == v->candidates.size()) {
    v->rp.deliver(core::make_caf_error(core::errc::contact_not_found,
                                       "No user has contact " + v->contact_uri));
    return;
  }
  auto& aor = v->candidates[v->next++];
  self->request(self->state.refs->shard_for(aor), caf::infinite, lookup_request{aor})
    .then(
      [=](register_reply& reply) {
        for (auto& c : reply.bindings) {
          if (core::binding_key(c.uri) == v->key) {
            v->rp.deliver(std::move(reply.aor));
            return;
          }
        }
        verify_next(self, v);
      },
      [=](caf::error&) { verify_next(self, v); });
}

/// Adds a passive user for canonical `aor`.
user_iter add_user(shard_self self, const std::string& aor) {
  auto& users = self->state.users;
  auto i = users.emplace(std::piecewise_construct, std::forward_as_tuple(aor),
                         std::forward_as_tuple(aor))
             .first;
  // The key still views the caller's string: view the slot's own copy.
  auto node = users.extract(i);
  node.key() = node.mapped().logic.aor();
  return users.insert(std::move(node)).position;
}

/// The wake-up slot of `deadline`: rounded up to the expiry granularity.
core::time_point wakeup_slot(shard_self self, core::time_point deadline) {
  auto g = std::chrono::duration_cast<core::duration>(
             self->state.refs->cfg->expiry_granularity)
             .count();
  if (g <= 0)
    return deadline;
  auto since = deadline.time_since_epoch().count();
  auto slots = (since + g - 1) / g;
  return core::time_point{core::duration{slots * g}};
}

/// Takes `slot` out of its wake-up bucket (the one of `deadline`, its next
/// deadline when it was scheduled), if it is in one.
void unschedule(shard_self self, user_slot& slot,
                std::optional<core::time_point> deadline) {
  if (slot.due_pos == user_slot::no_pos || !deadline)
    return;
  auto& wakeups = self->state.wakeups;
  auto b = wakeups.find(wakeup_slot(self, *deadline));
  if (b == wakeups.end())
    return; // cannot happen: a scheduled slot is in its bucket
  auto& xs = b->second;
  auto last = xs.back();
  xs[slot.due_pos] = last;
  last->due_pos = slot.due_pos;
  xs.pop_back();
  slot.due_pos = user_slot::no_pos;
  if (xs.empty())
    wakeups.erase(b);
}

/// Puts `slot` into the wake-up bucket of `deadline`; a new bucket asks the
/// expiry supervisor for a wake-up (batched like the effects).
void schedule(shard_self self, user_slot& slot, core::time_point deadline) {
  auto& st = self->state;
  auto when = wakeup_slot(self, deadline);
  auto [b, added] = st.wakeups.try_emplace(when);
  if (added) {
    st.out.expiry.push_back(expiry_schedule{self, std::string{}, when});
    if (st.out.expiry.size() >= outbox::max_batch)
      send_expiry(self);
    request_flush(self);
  }
  slot.due_pos = static_cast<uint32_t>(b->second.size());
  b->second.push_back(&slot);
}

/// Moves a passive user's state into an actor of its own (which keeps its
/// own deadlines). `deadline` is the user's next deadline before the
/// operation that made it active.
void activate(shard_self self, user_iter i, std::optional<core::time_point> deadline) {
  auto& st = self->state;
  // The user's journal rows queued here must reach the store before any
  // row of its actor (ordering holds per sender only): send them now.
  if (!st.out.journal.empty())
    send_journal(self);
  unschedule(self, i->second, deadline);
  auto node = st.users.extract(i);
  auto& slot = node.mapped();
  auto active = std::make_unique<active_user>();
  active->aor = slot.logic.aor();
  active->actor = spawn_user(self->system(),
                             std::make_shared<user_logic>(std::move(slot.logic)),
                             st.refs, self);
  self->monitor(active->actor);
  slot.active = std::move(active);
  node.key() = slot.active->aor;
  st.users.insert(std::move(node));
}

/// After an operation on a passive user: queue effects, move it to the
/// wake-up bucket of its next deadline, activate it when it needs an actor,
/// drop it when empty. `before` is its next deadline before the operation
/// (where it is scheduled), nullopt for a new or an unscheduled user.
void after_passive(shard_self self, user_iter i, user_effects& fx,
                   std::optional<core::time_point> before) {
  auto& st = self->state;
  auto& slot = i->second;
  queue_effects(self, fx);
  if (slot.logic.empty()) {
    unschedule(self, slot, before);
    st.users.erase(i);
    return;
  }
  if (slot.logic.needs_actor()) {
    activate(self, i, before);
    return;
  }
  auto next = slot.logic.next_deadline();
  if (slot.due_pos != user_slot::no_pos && next && before
      && wakeup_slot(self, *next) == wakeup_slot(self, *before))
    return; // same bucket
  unschedule(self, slot, before);
  if (next)
    schedule(self, slot, *next);
}

/// Expires every passive user whose wake-up slot has come.
void expire_due(shard_self self) {
  auto& st = self->state;
  auto now = now_of(self);
  // The due buckets first: users rescheduled below go to later ones.
  std::vector<user_slot*> due;
  while (!st.wakeups.empty() && st.wakeups.begin()->first <= now) {
    auto& xs = st.wakeups.begin()->second;
    due.insert(due.end(), xs.begin(), xs.end());
    st.wakeups.erase(st.wakeups.begin());
  }
  for (auto* s : due)
    s->due_pos = user_slot::no_pos;
  auto& cfg = *st.refs->cfg;
  for (auto* s : due) {
    auto i = st.users.find(std::string_view{s->logic.aor()});
    auto& fx = fresh_effects(self);
    s->logic.expire(now, cfg, fx);
    journal_user(self, s->logic);
    after_passive(self, i, fx, std::nullopt);
  }
}

/// Canonicalises `aor` in place (nothing to do for the usual, already
/// canonical key); a bad AOR is an error.
core::result<void> canonicalize(std::string& aor) {
  if (core::is_canonical_aor(aor))
    return {};
  auto canonical = core::canonical_aor(aor);
  if (!canonical)
    return std::move(canonical).err();
  aor = std::move(*canonical);
  return {};
}

/// Canonicalises `aor_field` in place and looks its user up (end() when
/// unknown); a bad AOR is an error.
core::result<user_iter> find_user(shard_self self, std::string& aor_field) {
  if (auto ok = canonicalize(aor_field); !ok)
    return ok.err();
  return self->state.users.find(std::string_view{aor_field});
}

/// True when `i` is an active user; counts the message about to be
/// forwarded to it.
bool forward_to_actor(shard_self self, user_iter i) {
  if (i == self->state.users.end() || i->second.passive())
    return false;
  ++i->second.active->forwarded;
  return true;
}

/// The new owner's shard of a user handed over at the last rebalance, when
/// `i` (its lookup here) found nothing.
std::optional<directory_shard_actor> moved_to(shard_self self, user_iter i,
                                              const std::string& aor) {
  auto& st = self->state;
  if (st.moved.empty() || i != st.users.end()
      || st.moved.count(core::stable_hash(aor)) == 0)
    return std::nullopt;
  auto dest = st.refs->shard_for(aor);
  if (dest.address() == self->address())
    return std::nullopt;
  return dest;
}

/// Whether a request changes the user's state (and so its journal row).
template <class Request>
constexpr bool changes_state = true;
template <>
constexpr bool changes_state<lookup_request> = false;
template <>
constexpr bool changes_state<get_presence_request> = false;
template <>
constexpr bool changes_state<get_subscriptions_request> = false;

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
    return self->delegate(i->second.active->actor, std::move(req));
  if (auto dest = moved_to(self, i, aor_field))
    return self->delegate(*dest, std::move(req));
  std::optional<core::time_point> before;
  if (i == self->state.users.end()) {
    if (!create)
      return missing(aor_field);
    i = add_user(self, aor_field);
  } else {
    before = i->second.logic.next_deadline();
  }
  auto& fx = fresh_effects(self);
  core::result<Reply> res = op(i->second.logic, fx, now_of(self));
  bool journaled = changes_state<Request> && res && self->state.refs->persistent();
  if (journaled)
    journal_user(self, i->second.logic);
  after_passive(self, i, fx, before);
  if (!res)
    return messages::to_caf_error(res.err());
  if (journaled && self->state.refs->sync() && handling_request(self))
    return after_commit(self, std::move(*res));
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
    return self->delegate(i->second.active->actor, std::move(req));
  if (auto dest = moved_to(self, i, aor_field))
    return self->delegate(*dest, std::move(req));
  return local(i != self->state.users.end() ? &i->second.logic : nullptr,
               aor_field);
}

/// route() for one-way messages: forwarded to an active user, run on a
/// passive one, ignored for an unknown user or a bad AOR.
template <class Request, class Op>
void route_oneway(shard_self self, Request& req, std::string& aor_field, Op op) {
  auto found = find_user(self, aor_field);
  if (!found)
    return;
  if (auto dest = moved_to(self, *found, aor_field)) {
    self->send(*dest, std::move(req));
    return;
  }
  if (*found == self->state.users.end())
    return;
  auto i = *found;
  if (forward_to_actor(self, i)) {
    self->send(i->second.active->actor, std::move(req));
    return;
  }
  auto before = i->second.logic.next_deadline();
  auto& fx = fresh_effects(self);
  op(i->second.logic, fx, now_of(self));
  journal_user(self, i->second.logic);
  after_passive(self, i, fx, before);
}

/// register_batch on a shard. The requests of this shard's passive users run
/// right here, in order, exactly like single register_requests; those of
/// active users go to their actors and those of other shards' users to their
/// shard (in batch order, so every user still sees its requests in order).
/// The reply waits for all of them.
caf::result<register_batch_reply> register_batch(shard_self self,
                                                 register_batch_request& batch) {
  auto& st = self->state;
  auto& cfg = *st.refs->cfg;
  auto n = batch.requests.size();
  register_batch_reply acc;
  acc.results.resize(n);
  // Requests answered elsewhere: (index, receiver).
  std::vector<std::pair<size_t, user_actor>> to_users;
  std::vector<std::pair<size_t, directory_shard_actor>> to_shards;
  std::vector<size_t> journaled; // local successes, for a failed commit
  auto me = self->address();
  for (size_t k = 0; k < n; ++k) {
    auto& req = batch.requests[k];
    auto& result = acc.results[k];
    if (auto ok = canonicalize(req.aor); !ok) {
      result.error = messages::to_caf_error(ok.err());
      continue;
    }
    auto owner = st.refs->shard_for(req.aor);
    if (owner.address() != me) {
      to_shards.emplace_back(k, owner);
      continue;
    }
    auto i = st.users.find(std::string_view{req.aor});
    if (forward_to_actor(self, i)) {
      to_users.emplace_back(k, i->second.active->actor);
      continue;
    }
    std::optional<core::time_point> before;
    if (i == st.users.end())
      i = add_user(self, req.aor);
    else
      before = i->second.logic.next_deadline();
    auto& fx = fresh_effects(self);
    auto res = i->second.logic.on_register(req, cfg, now_of(self), fx);
    if (res && st.refs->persistent()) {
      journal_user(self, i->second.logic);
      journaled.push_back(k);
    }
    after_passive(self, i, fx, before);
    if (res)
      result.reply = std::move(*res);
    else
      result.error = messages::to_caf_error(res.err());
  }
  // With durability sync, the local results wait for their commit.
  bool wait_commit = !journaled.empty() && st.refs->sync() && handling_request(self);
  if (to_users.empty() && to_shards.empty() && !wait_commit)
    return acc;
  struct pending_batch {
    register_batch_reply acc;
    size_t pending;
    caf::typed_response_promise<register_batch_reply> rp;
  };
  auto pb = std::make_shared<pending_batch>();
  pb->acc = std::move(acc);
  pb->pending = to_users.size() + to_shards.size() + (wait_commit ? 1 : 0);
  pb->rp = self->make_response_promise<register_batch_reply>();
  auto done_one = [pb] {
    if (--pb->pending == 0)
      pb->rp.deliver(std::move(pb->acc));
  };
  if (wait_commit)
    request_flush(self);
  if (wait_commit)
    st.out.held.emplace_back(
      [pb, done_one, local = std::move(journaled)](const caf::error* err) {
        if (err)
          for (auto k : local)
            pb->acc.results[k].error = *err;
        done_one();
      });
  auto ask = [&](size_t k, const auto& receiver) {
    self->request(receiver, caf::infinite, std::move(batch.requests[k]))
      .then(
        [pb, k, done_one](register_reply& x) {
          pb->acc.results[k].reply = std::move(x);
          done_one();
        },
        [pb, k, done_one](caf::error& err) {
          pb->acc.results[k].error = std::move(err);
          done_one();
        });
  };
  // Both lists are in batch order; per receiver the order is what counts.
  for (auto& x : to_users)
    ask(x.first, x.second);
  for (auto& x : to_shards)
    ask(x.first, x.second);
  return pb->rp;
}

/// Takes over the users read back from the journal at start-up (the first
/// message a shard gets, see spawn_engine): each becomes passive or active
/// as it would have after its last change, its contacts go back into the
/// reverse index and, when it was in its domain roster, it joins again.
/// What expired while the server was down is expired by the usual path at
/// the first wake-up, so its events are emitted once.
/// Cluster: what a user needs to find the dialogs whose SIP edge was on a
/// lost member (the live members' tag prefixes) and where they go (this
/// node's edge); none without a cluster or an edge.
std::optional<orphan_check> orphan_context(shard_self self) {
  auto t = self->state.refs->table();
  if (!t || t->members.empty() || !t->members[t->self].edge)
    return std::nullopt;
  orphan_check result;
  for (auto& name : t->names)
    result.live.push_back(core::dialog_tag_prefix(name));
  result.edge = t->members[t->self].edge;
  return result;
}

/// Sends the dialogs of user `i` whose edge was lost to this node's edge
/// (a passive user has none: watchers make a user active).
void adopt_orphans(shard_self self, user_iter i, const orphan_check& ctx) {
  auto& slot = i->second;
  if (slot.passive()) {
    auto xs = slot.logic.orphan_dialogs(ctx.live);
    if (!xs.empty())
      caf::anon_send(ctx.edge, adopt_dialogs{std::move(xs)});
    return;
  }
  self->send(slot.active->actor, ctx);
}

void restore(shard_self self, restore_users& xs) {
  auto& st = self->state;
  auto now = now_of(self);
  auto to_steady = -wall_offset(*st.refs->cfg, now);
  // Users from another node may have dialogs whose edge was lost with it.
  auto orphans = xs.handed_over ? orphan_context(self) : std::nullopt;
  auto adopt = [&](const std::string& aor) {
    if (!orphans)
      return;
    if (auto i = st.users.find(std::string_view{aor}); i != st.users.end())
      adopt_orphans(self, i, *orphans);
  };
  for (auto& rec : xs.users) {
    if (auto i = st.users.find(std::string_view{rec.aor}); i != st.users.end()) {
      auto aor = rec.aor;
      // Handed over while requests that came here first made the user anew
      // (never at start-up: one row per AOR): merge, the live state wins.
      if (!i->second.passive()) {
        ++i->second.active->forwarded;
        self->send(i->second.active->actor, std::move(rec));
        adopt(aor);
        continue;
      }
      auto before = i->second.logic.next_deadline();
      auto& fx = fresh_effects(self);
      i->second.logic.absorb(std::move(rec), to_steady, now, fx);
      journal_user(self, i->second.logic);
      after_passive(self, i, fx, before);
      adopt(aor);
      continue;
    }
    auto logic = user_logic::restore(std::move(rec), to_steady, now);
    auto& fx = fresh_effects(self);
    for (auto& c : logic.bindings())
      fx.index.push_back(
        index_update{core::stable_hash(core::binding_key(c.uri)), logic.aor(), true});
    if (logic.in_roster())
      fx.roster.push_back(roster_update{logic.aor(), true});
    // The key views the AOR inside the slot's own logic (see add_user).
    auto i = st.users.emplace(std::string_view{}, user_slot{std::move(logic)}).first;
    auto node = st.users.extract(i);
    node.key() = node.mapped().logic.aor();
    i = st.users.insert(std::move(node)).position;
    // From another node: a change here (this node's journal and replicas).
    if (xs.handed_over)
      journal_user(self, i->second.logic);
    std::string aor = orphans ? std::string{i->first} : std::string{};
    after_passive(self, i, fx, std::nullopt);
    adopt(aor);
  }
}

// -- cluster rebalance ----------------------------------------------------------------

/// Effects of a user leaving this node: its contacts leave the reverse
/// index, it leaves the roster.
void leave_effects(const user_record& rec, user_effects& fx) {
  for (auto& c : rec.bindings)
    fx.index.push_back(
      index_update{core::stable_hash(core::binding_key(c.uri)), rec.aor, false});
  if (rec.in_roster)
    fx.roster.push_back(roster_update{rec.aor, false});
}

/// The erase row of a user that left (its rows stay only with its owner).
void journal_gone(shard_self self, const std::string& aor) {
  auto& st = self->state;
  if (!st.refs->persistent())
    return;
  st.out.journal.push_back(journal_entry{journal_table::users, aor, {}});
  request_flush(self);
}

/// The replica actors (addresses, sorted) of `aor`'s replica set under `t`,
/// this node excepted.
std::vector<caf::actor_addr> replica_addrs(const route_table* t, const std::string& aor,
                                           uint32_t copies) {
  std::vector<caf::actor_addr> result;
  if (t == nullptr || copies < 2)
    return result;
  for (auto k : core::replica_set(aor, t->names, copies))
    if (k != t->self && t->members[k].replica)
      result.push_back(t->members[k].replica.address());
  std::sort(result.begin(), result.end());
  return result;
}

/// Stops the active user `aor` (handed over) and forgets it.
void drop_active(shard_self self, const std::string& aor) {
  auto& users = self->state.users;
  auto i = users.find(std::string_view{aor});
  if (i == users.end() || i->second.passive())
    return;
  auto actor = i->second.active->actor;
  self->demonitor(actor.address());
  self->send_exit(actor, caf::exit_reason::normal);
  users.erase(i);
}

/// After new routes (cluster): every user another node owns now goes to
/// that node's shard (restore_users, handed_over) and is forgotten here;
/// later requests for it that still reach this shard follow it (moved).
/// Every user kept whose replica set changed writes its row again, so its
/// new replicas get a copy. Passive users are handed over at once; an
/// active user is asked for its state and stopped, and the shard handles
/// nothing else meanwhile (await), so no request for it overtakes its
/// state.
void rebalance(shard_self self) {
  auto& st = self->state;
  auto t = st.refs->cluster();
  auto old = std::exchange(st.routes_seen, t);
  st.moved.clear();
  // The dialogs of a lost member's edge, of the users this node keeps, go
  // to this node's edge (after the hand-over below: not those it gives up).
  auto orphans = orphan_context(self);
  auto adopt_kept = [&] {
    if (!orphans)
      return;
    for (auto i = st.users.begin(); i != st.users.end(); ++i)
      if (!i->second.passive() && st.moved.count(core::stable_hash(i->first)) == 0)
        adopt_orphans(self, i, *orphans);
  };
  if (!t) {
    adopt_kept(); // alone: everything is ours, nobody to replicate to
    return;
  }
  auto copies = st.refs->cfg->replication;
  bool resync = st.refs->persistent() && copies > 1;
  auto to_wall = wall_offset(*st.refs->cfg, now_of(self));
  constexpr size_t chunk = 512;
  std::vector<std::pair<directory_shard_actor, restore_users>> out;
  std::map<caf::actor_addr, size_t> out_index;
  std::vector<std::pair<std::string, directory_shard_actor>> active_away;
  size_t passive_away = 0;
  size_t resynced = 0;
  for (auto i = st.users.begin(); i != st.users.end();) {
    std::string aor{i->first};
    auto h = core::stable_hash(aor);
    auto m = t->owner(h);
    if (m == t->self) {
      if (resync && replica_addrs(old.get(), aor, copies) != replica_addrs(t.get(), aor, copies)) {
        ++resynced;
        if (i->second.passive())
          journal_user(self, i->second.logic);
        else
          self->send(i->second.active->actor, rebalance_atom::value);
      }
      ++i;
      continue;
    }
    auto& remote = t->members[m].shards;
    auto dest = remote[core::shard_of_hash(h, static_cast<uint32_t>(remote.size()))];
    st.moved.insert(h);
    if (!i->second.passive()) {
      active_away.emplace_back(std::move(aor), std::move(dest));
      ++i;
      continue;
    }
    auto& slot = i->second;
    auto rec = slot.logic.snapshot(to_wall);
    auto& fx = fresh_effects(self);
    leave_effects(rec, fx);
    queue_effects(self, fx);
    unschedule(self, slot, slot.logic.next_deadline());
    journal_gone(self, aor);
    auto [pos, added] = out_index.try_emplace(dest.address(), out.size());
    if (added || out[pos->second].second.users.size() >= chunk) {
      pos->second = out.size();
      out.emplace_back(dest, restore_users{{}, true});
    }
    out[pos->second].second.users.push_back(std::move(rec));
    i = st.users.erase(i);
    ++passive_away;
  }
  for (auto& x : out)
    self->send(x.first, std::move(x.second));
  for (auto& [aor, dest] : active_away) {
    auto i = st.users.find(std::string_view{aor});
    ++i->second.active->forwarded;
    self->request(i->second.active->actor, caf::infinite, hand_over_atom::value)
      .await(
        [=](user_record& rec) {
          auto& fx = fresh_effects(self);
          leave_effects(rec, fx);
          queue_effects(self, fx);
          journal_gone(self, aor);
          self->send(dest, restore_users{{std::move(rec)}, true});
          drop_active(self, aor);
        },
        [=](caf::error& err) {
          spdlog::error("cluster: user {} could not be handed over: {}", aor,
                        self->system().render(err));
          drop_active(self, aor);
        });
  }
  adopt_kept();
  if (passive_away + active_away.size() > 0 || resynced > 0)
    spdlog::info("cluster: shard handed over {} users ({} active) to their new owners, "
                 "re-replicated {} (epoch {})",
                 passive_away + active_away.size(), active_away.size(), resynced, t->epoch);
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
      auto& a = i->second.active;
      if (a && a->actor.address() == dm.source) {
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
    [=](register_batch_request& batch) { return register_batch(self, batch); },
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
                                      u ? u->watchers() : watcher_list{}, aor,
                                      u != nullptr && u->in_roster());
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
                                     aor, u != nullptr && u->in_roster());
        });
    },
    [=](set_policy_request& req) {
      route_oneway(self, req, req.aor,
                   [&](user_logic& u, user_effects& fx, core::time_point now) {
                     u.apply_policy(req.policy, now, fx);
                   });
    },
    [=](resume_watchers_request& req) {
      route_oneway(self, req, req.target,
                   [&](user_logic& u, user_effects& fx, core::time_point now) {
                     u.resume_watchers(req.ids, now, fx);
                   });
    },
    // -- time ---------------------------------------------------------------------
    [=](expiry_due&) {
      // The entries are wake-ups of this shard's buckets; whatever is due
      // now is expired (a stale wake-up finds nothing).
      expire_due(self);
    },
    // -- directory ----------------------------------------------------------------
    [=](find_user_request& req) -> caf::result<std::string> {
      auto key = core::binding_key(req.contact_uri);
      auto candidates = self->state.index.candidates(core::stable_hash(key));
      if (candidates.empty())
        return core::make_caf_error(core::errc::contact_not_found,
                                    "No user has contact " + req.contact_uri);
      auto v = std::make_shared<verification>();
      v->key = std::move(key);
      v->contact_uri = std::move(req.contact_uri);
      v->candidates = std::move(candidates);
      v->rp = self->make_response_promise<std::string>();
      verify_next(self, v);
      return v->rp;
    },
    [=](list_users_request& req) -> user_list {
      user_list result;
      for (auto& kvp : self->state.users) {
        auto& s = kvp.second;
        if (s.passive() ? s.logic.registered() : s.active->registered)
          result.users.emplace_back(kvp.first);
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
        if (s.passive()) {
          here.items.push_back(s.logic.get_presence(now));
        } else {
          ++s.active->forwarded; // the user counts this request as handled
          active.push_back(s.active->actor);
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
    [=](restore_users& xs) { restore(self, xs); },
    [=](user_record& rec) {
      restore_users xs{{}, true};
      xs.users.push_back(std::move(rec));
      restore(self, xs);
    },
    [=](rebalance_atom) { rebalance(self); },
    [=](orphan_check& x) {
      auto& users = self->state.users;
      for (auto i = users.begin(); i != users.end(); ++i)
        adopt_orphans(self, i, x);
    },
    [=](hand_over_atom) -> caf::result<user_record> {
      return core::make_caf_error(core::errc::invalid_state,
                                  "A shard hands its users over on rebalance");
    },
    [=](flush_atom) { flush(self); },
    [=](user_status& x) {
      auto& users = self->state.users;
      auto i = users.find(std::string_view{x.aor});
      if (i == users.end() || i->second.passive())
        return;
      auto& s = *i->second.active;
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
        if (!s.passive())
          ++result.active;
        if (s.passive() ? s.logic.registered() : s.active->registered)
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
