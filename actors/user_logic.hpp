// SPDX-License-Identifier: MIT
#pragma once

// Everything one user (AOR) owns, and what it does with it: its bindings,
// its presence (publications per device, composed, the PIDF rendered once
// per change), the watchers of its presence (subscriptions where it is the
// target) and the subscriptions it holds as a watcher.
//
// user_logic is the behaviour of the user actor written as a plain class:
// it runs wherever the user lives -- inside its directory shard while the
// user is passive (only bindings), or inside its own user actor once it has
// presence or watchers (see docs/ARCHITECTURE.md, "Users are actors,
// virtually"). Each operation takes `now` and returns its result; what it
// must tell other actors (events, index and roster updates, ended
// subscriptions) it appends to a user_effects, which the host sends.

#include <map>
#include <memory>
#include <type_traits>
#include <optional>
#include <string>
#include <vector>

#include "actors/engine_config.hpp"
#include "core/model.hpp"
#include "core/result.hpp"
#include "messages/event_messages.hpp"
#include "messages/internal_messages.hpp"
#include "messages/presence_messages.hpp"
#include "messages/registrar_messages.hpp"
#include "messages/store_messages.hpp"

namespace regcore::actors {

/// What an operation asks its host to send.
struct user_effects {
  /// Kinds of events somebody subscribed to (event_bit mask), set by the
  /// host before the operation; events of other kinds are not even built.
  uint32_t interest = all_events;

  /// Events for the event bus, in order.
  std::vector<publish_event> events;
  /// Reverse-index updates (to the shard owning each key).
  std::vector<index_update> index;
  /// Roster joins and leaves (auto-buddy).
  std::vector<roster_update> roster;
  /// Subscriptions that ended at this target: tell each watcher's user.
  std::vector<remove_watching_request> watching_removed;

  bool empty() const noexcept {
    return events.empty() && index.empty() && roster.empty()
           && watching_removed.empty();
  }

  bool wants(event_kind x) const noexcept { return (interest & event_bit(x)) != 0; }

  /// Queues `ev` for the bus if anybody wants its kind.
  template <class Event>
  void emit(Event&& ev) {
    using plain = std::decay_t<Event>;
    if (wants(plain::kind))
      events.push_back(make_event(std::forward<Event>(ev)));
  }
};

/// The state and behaviour of one user.
class user_logic {
public:
  /// `aor` must be canonical (core::canonical_aor).
  explicit user_logic(std::string aor);

  const std::string& aor() const noexcept { return aor_; }

  // -- registrar ---------------------------------------------------------------

  /// REGISTER (add / refresh / remove / query), RFC 3261 §10.3.
  core::result<register_reply> on_register(const register_request& req,
                                           const engine_config& cfg,
                                           core::time_point now,
                                           user_effects& fx);

  /// The bindings in lookup order with remaining expires; user_not_found
  /// when there are none.
  core::result<register_reply> lookup(core::time_point now) const;

  // -- presence ----------------------------------------------------------------

  /// update_presence: one device's presence from the API.
  core::result<presence_reply>
  on_presence_update(const presence_update_request& req,
                     const engine_config& cfg, core::time_point now,
                     user_effects& fx);

  /// PUBLISH, RFC 3903 §6.
  core::result<publish_reply> on_publish(const publish_request& req,
                                         const engine_config& cfg,
                                         core::time_point now,
                                         user_effects& fx);

  /// The composed presence and its PIDF.
  presence_reply get_presence(core::time_point now) const;

  /// Removes every publication; presence falls back to the registration.
  presence_reply clear_presence(core::time_point now, user_effects& fx);

  // -- watchers (this user is the target) --------------------------------------

  core::result<subscribe_reply> add_watcher(const add_watcher_request& req,
                                            const engine_config& cfg,
                                            core::time_point now,
                                            user_effects& fx);

  /// Refresh (expires > 0) or end (expires 0) a subscription to this user.
  core::result<subscribe_reply>
  refresh_watcher(const refresh_watcher_request& req, const engine_config& cfg,
                  core::time_point now, user_effects& fx);

  /// Explicit watchers (the roster is added by the caller).
  watcher_list watchers() const;

  /// After a restart: one NOTIFY (NotifyRequired, next version) with the
  /// current state for each of `ids` still pending or active and not yet
  /// expired; unknown ids are skipped.
  void resume_watchers(const std::vector<std::string>& ids, core::time_point now,
                       user_effects& fx);

  /// Re-evaluates every watcher under a new policy (RFC 3856 §5.1):
  /// newly blocked ones end (reason rejected), pending ones become active
  /// when allowed, politely blocked ones get neutral presence.
  void apply_policy(const core::presence_policy& policy, core::time_point now,
                    user_effects& fx);

  /// Cluster: the watchers whose SIP dialog's edge (its local tag's
  /// core::dialog_tag_prefix) is none of `live` -- a lost member's.
  std::vector<stored_watcher> orphan_dialogs(const std::vector<std::string>& live) const;

  // -- watching (this user is the watcher) -------------------------------------

  core::result<void> add_watching(const add_watching_request& req);
  void remove_watching(const std::string& id);
  subscription_list subscriptions() const;

  // -- time --------------------------------------------------------------------

  /// Expires whatever is due at `now`: bindings, publications, watchers.
  void expire(core::time_point now, const engine_config& cfg, user_effects& fx);

  /// The earliest deadline of anything this user owns.
  std::optional<core::time_point> next_deadline() const;

  // -- persistence -------------------------------------------------------------

  /// Everything this user owns as a journal record, each time point moved
  /// by `to_wall` (wall-clock now - steady now) onto the wall clock.
  user_record snapshot(core::duration to_wall) const;

  /// The user a record describes, each time point moved by `to_steady`
  /// (steady now - wall-clock now) back onto this process's clock; presence
  /// is recomposed at `now` (nothing expires here: the host expires what is
  /// due through the usual path, so the events are emitted once).
  static user_logic restore(user_record rec, core::duration to_steady,
                            core::time_point now);

  /// Merges a record of this user handed over by its former owner into the
  /// live state (cluster hand-over: requests that reached the new owner
  /// first made this user). What the live user has wins: a binding with the
  /// same key or instance, a publication with the same ETag, a subscription
  /// with the same id; the rest is added (index and roster effects in `fx`;
  /// a NOTIFY to the watchers when presence changed).
  void absorb(user_record rec, core::duration to_steady, core::time_point now,
              user_effects& fx);

  // -- summary -----------------------------------------------------------------

  bool registered() const noexcept { return !bindings_.empty(); }
  const std::vector<core::contact_info>& bindings() const noexcept { return bindings_; }
  /// Whether the user is a member of its domain's roster (auto-buddy).
  bool in_roster() const noexcept { return in_roster_; }
  bool has_publications() const noexcept { return p_ && !p_->pubs.empty(); }
  bool has_watchers() const noexcept { return p_ && !p_->watchers.empty(); }
  /// Nothing left: the host may drop this user.
  bool empty() const noexcept {
    return bindings_.empty()
           && (!p_ || (p_->pubs.empty() && p_->watchers.empty() && p_->watching.empty()));
  }
  /// Worth an actor of its own: it has presence or watchers.
  bool needs_actor() const noexcept { return has_publications() || has_watchers(); }

private:
  /// A publication (expires_at: absolute expiry; epoch = until removed) and
  /// a watcher are kept as the journal stores them (store_messages.hpp).
  using publication = stored_publication;
  using watcher = stored_watcher;

  /// Recomposes presence after a change, renders the PIDF once and emits
  /// PresenceUpdated plus one NotifyRequired for all watcher dialogs.
  void on_presence_changed(core::time_point now, user_effects& fx);

  /// Recomputes presence_ and pidf_ from publications / registration.
  void recompose(core::time_point now);

  /// Ends one watcher's subscription: final NOTIFY, event, tell the watcher.
  void end_watcher(std::map<std::string, watcher>::iterator i,
                   core::termination_reason reason, core::time_point now,
                   user_effects& fx);

  /// A notify_target for `w` (increments its version).
  notify_target next_notify(watcher& w, core::time_point now);

  std::string new_etag();

  /// Everything beyond bindings, allocated only for users that publish,
  /// are watched or watch (most registered users never need it: this keeps a
  /// registration-only user small, see docs/performance.md).
  struct presence_part {
    std::vector<publication> pubs;
    /// Composed presence and its PIDF; pidf empty = not rendered (nobody
    /// needed it yet), recomputed on demand.
    core::presence_state presence;
    std::string pidf;
    std::map<std::string, watcher> watchers;
    std::map<std::string, core::subscription> watching;
    uint64_t etag_counter = 0;
  };

  /// The presence part, created on first use.
  presence_part& part();

  /// Frees the presence part when it holds nothing.
  void release_part_if_idle();

  /// Composed presence and PIDF right now (from the cache when rendered).
  presence_reply current_presence(core::time_point now) const;
  presence_reply current_presence_uncached(core::time_point now) const;

  /// Whether `w` gets the real presence (allowed and active) or the neutral
  /// document.
  static bool sees_presence(const watcher& w) noexcept;

  /// The presence document `w` may see (renders when needed).
  presence_reply presence_for(const watcher& w, core::time_point now);

  std::string aor_;
  std::vector<core::contact_info> bindings_;
  bool presence_enabled_ = true;
  bool in_roster_ = false;
  std::unique_ptr<presence_part> p_;
};

} // namespace regcore::actors
