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

namespace regcore::actors {

/// What an operation asks its host to send.
struct user_effects {
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

  /// Re-evaluates every watcher under a new policy (RFC 3856 §5.1):
  /// newly blocked ones end (reason rejected), pending ones become active
  /// when allowed, politely blocked ones get neutral presence.
  void apply_policy(const core::presence_policy& policy, core::time_point now,
                    user_effects& fx);

  // -- watching (this user is the watcher) -------------------------------------

  core::result<void> add_watching(const add_watching_request& req);
  void remove_watching(const std::string& id);
  subscription_list subscriptions() const;

  // -- time --------------------------------------------------------------------

  /// Expires whatever is due at `now`: bindings, publications, watchers.
  void expire(core::time_point now, const engine_config& cfg, user_effects& fx);

  /// The earliest deadline of anything this user owns.
  std::optional<core::time_point> next_deadline() const;

  // -- summary -----------------------------------------------------------------

  bool registered() const noexcept { return !bindings_.empty(); }
  bool has_publications() const noexcept { return !pubs_.empty(); }
  bool has_watchers() const noexcept { return !watchers_.empty(); }
  /// Nothing left: the host may drop this user.
  bool empty() const noexcept {
    return bindings_.empty() && pubs_.empty() && watchers_.empty()
           && watching_.empty();
  }
  /// Worth an actor of its own: it has presence or watchers.
  bool needs_actor() const noexcept { return !pubs_.empty() || !watchers_.empty(); }

private:
  struct publication {
    std::string etag;
    core::device_presence device;
    /// Absolute expiry; epoch = until removed.
    core::time_point expires_at{};
  };

  struct watcher {
    core::subscription sub;
    dialog_info dialog;
    core::policy_action action = core::policy_action::allow;
  };

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

  std::string aor_;
  std::vector<core::contact_info> bindings_;
  bool presence_enabled_ = true;
  bool in_roster_ = false;
  std::vector<publication> pubs_;
  core::presence_state presence_;
  std::string pidf_;
  std::map<std::string, watcher> watchers_;
  std::map<std::string, core::subscription> watching_;
  uint64_t etag_counter_ = 0;
};

} // namespace regcore::actors
