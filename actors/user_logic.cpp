// SPDX-License-Identifier: MIT
#include "actors/user_logic.hpp"

#include <algorithm>
#include <random>

#include "core/hash.hpp"
#include "core/ownership.hpp"
#include "core/pidf.hpp"
#include "core/presence.hpp"
#include "core/registration.hpp"
#include "core/sip_uri.hpp"
#include "core/subscription.hpp"

namespace regcore::actors {

namespace {

constexpr std::string_view pidf_type = "application/pidf+xml";

/// Clamps a requested interval to [min, max]; 0 stays 0; below the minimum
/// is an error carrying the minimum (423 / interval too brief).
core::result<uint32_t> clamp_expires(std::optional<uint32_t> requested,
                                     uint32_t def, uint32_t min, uint32_t max) {
  auto x = requested.value_or(def);
  if (x == 0)
    return uint32_t{0};
  if (x < min)
    return core::make_error(core::errc::interval_too_brief, {}, min);
  return std::min(x, max);
}

/// The contacts of a reply: lookup order, `expires` = seconds left.
std::vector<core::contact_info>
listed(const std::vector<core::contact_info>& bindings, core::time_point now) {
  auto xs = core::lookup_order(bindings); // one copy
  for (auto& c : xs)
    c.expires = core::remaining_seconds(c.expires_at, now);
  return xs;
}

register_outcome to_outcome(core::register_kind x) {
  switch (x) {
    case core::register_kind::added: return register_outcome::added;
    case core::register_kind::refreshed: return register_outcome::refreshed;
    case core::register_kind::removed: return register_outcome::removed;
    case core::register_kind::removed_all: return register_outcome::removed_all;
    case core::register_kind::queried: return register_outcome::queried;
    case core::register_kind::mixed: return register_outcome::mixed;
  }
  return register_outcome::queried;
}

bool is_epoch(core::time_point x) {
  return x == core::time_point{};
}

} // namespace

user_logic::user_logic(std::string aor) : aor_(std::move(aor)) {
  // nop
}

user_logic::presence_part& user_logic::part() {
  if (!p_) {
    p_ = std::make_unique<presence_part>();
    p_->presence.entity = aor_;
  }
  return *p_;
}

void user_logic::release_part_if_idle() {
  if (p_ && p_->pubs.empty() && p_->watchers.empty() && p_->watching.empty())
    p_.reset();
}

presence_reply user_logic::current_presence(core::time_point now) const {
  if (p_ && !p_->pidf.empty())
    return presence_reply{p_->presence, p_->pidf};
  return current_presence_uncached(now);
}

presence_reply user_logic::current_presence_uncached(core::time_point now) const {
  presence_reply result;
  if (p_ && !p_->pubs.empty()) {
    std::vector<core::device_presence> devices;
    for (auto& pub : p_->pubs)
      devices.push_back(pub.device);
    result.state = core::compose_presence(aor_, devices, now);
  } else {
    result.state = core::presence_from_registration(aor_, registered(), now);
  }
  result.pidf = core::render_pidf(result.state);
  return result;
}

// -- registrar -------------------------------------------------------------------

core::result<register_reply> user_logic::on_register(const register_request& req,
                                                     const engine_config& cfg,
                                                     core::time_point now,
                                                     user_effects& fx) {
  // The message is a core::register_request; its AOR is ours once the host
  // canonicalised it (always, on the shard's path), so no copy is needed.
  const core::register_request* creq = &req;
  std::optional<core::register_request> with_our_aor;
  if (req.aor != aor_) {
    with_our_aor = req;
    with_our_aor->aor = aor_;
    creq = &*with_our_aor;
  }
  // Events are built only when somebody subscribed to their kind (and the
  // outcome's copies of new and refreshed bindings only for them); the
  // outcome's contacts are not needed afterwards, so they move.
  auto detail = fx.wants(event_kind::user_registered)
                    || fx.wants(event_kind::contact_refreshed)
                  ? core::outcome_detail::full
                  : core::outcome_detail::keys_only;
  auto res = core::apply_register(bindings_, *creq, cfg.registration, now, detail);
  if (!res)
    return std::move(res).err();
  auto& out = *res;
  bool was_registered = registered();
  for (size_t i = 0; i < out.added_keys.size(); ++i) {
    fx.index.push_back(index_update{core::stable_hash(out.added_keys[i]), aor_, true});
    if (fx.wants(event_kind::user_registered))
      fx.emit(user_registered_event{aor_, std::move(out.added[i])});
  }
  if (fx.wants(event_kind::contact_refreshed))
    for (auto& c : out.refreshed)
      fx.emit(contact_refreshed_event{aor_, std::move(c)});
  for (size_t i = 0; i < out.removed.size(); ++i) {
    if (fx.wants(event_kind::contact_removed))
      fx.emit(contact_removed_event{aor_, std::move(out.removed[i]),
                                    removal_cause::unregistered});
    fx.index.push_back(index_update{core::stable_hash(out.removed_keys[i]), aor_, false});
  }
  for (size_t i = 0; i < out.replaced.size(); ++i) {
    if (fx.wants(event_kind::contact_removed))
      fx.emit(contact_removed_event{aor_, std::move(out.replaced[i]),
                                    removal_cause::replaced});
    fx.index.push_back(index_update{core::stable_hash(out.replaced_keys[i]), aor_, false});
  }
  bindings_ = std::move(out.bindings);
  if (!req.contacts.empty() || req.wildcard)
    presence_enabled_ = req.presence_enabled;
  if (was_registered && !registered())
    fx.emit(user_unregistered_event{aor_});
  bool want_roster = cfg.auto_buddy && presence_enabled_ && registered();
  if (want_roster != in_roster_) {
    in_roster_ = want_roster;
    fx.roster.push_back(roster_update{aor_, want_roster});
  }
  if (was_registered != registered() && !has_publications())
    on_presence_changed(now, fx);
  register_reply reply;
  reply.aor = aor_;
  reply.outcome = to_outcome(out.kind);
  reply.bindings = listed(bindings_, now);
  return reply;
}

core::result<register_reply> user_logic::lookup(core::time_point now) const {
  if (bindings_.empty())
    return core::make_error(core::errc::user_not_found, "No bindings for " + aor_);
  register_reply reply;
  reply.aor = aor_;
  reply.outcome = register_outcome::queried;
  reply.bindings = listed(bindings_, now);
  return reply;
}

// -- presence ----------------------------------------------------------------------

core::result<presence_reply>
user_logic::on_presence_update(const presence_update_request& req,
                               const engine_config&, core::time_point now,
                               user_effects& fx) {
  if (req.status == core::extended_status::custom && req.custom_status.empty())
    return core::make_error(core::errc::invalid_input,
                            "Custom status needs a text");
  auto device = core::device_from_update(
    req.device_id.empty() ? std::string{"api"} : req.device_id, req.status,
    req.custom_status, req.basic, req.note, req.activities, now);
  publication p;
  p.etag = "api:" + device.device_id;
  p.device = std::move(device);
  if (req.expires && *req.expires > 0)
    p.expires_at = now + std::chrono::seconds{*req.expires};
  p.device.expires_at = p.expires_at;
  auto& pubs = part().pubs;
  auto i = std::find_if(pubs.begin(), pubs.end(),
                        [&](const publication& x) { return x.etag == p.etag; });
  if (req.expires && *req.expires == 0) {
    if (i != pubs.end())
      pubs.erase(i);
  } else if (i != pubs.end()) {
    *i = std::move(p);
  } else {
    pubs.push_back(std::move(p));
  }
  on_presence_changed(now, fx);
  auto result = current_presence(now);
  release_part_if_idle();
  return result;
}

core::result<publish_reply> user_logic::on_publish(const publish_request& req,
                                                   const engine_config& cfg,
                                                   core::time_point now,
                                                   user_effects& fx) {
  // RFC 3903 §6 step 2..4: content type, entity tag, expiry.
  if (!req.body.empty() && !core::iequals_media_type(req.content_type, pidf_type))
    return core::make_error(core::errc::unsupported_media_type,
                            "Only application/pidf+xml is accepted");
  auto expires = clamp_expires(req.expires, cfg.publish_default_expires,
                               cfg.publish_min_expires, cfg.publish_max_expires);
  if (!expires)
    return std::move(expires).err();
  if (req.etag.empty() && req.body.empty())
    return core::make_error(core::errc::bad_request,
                            "PUBLISH without SIP-If-Match needs a body");
  core::device_presence device;
  if (!req.body.empty()) {
    auto doc = core::parse_pidf(req.body);
    if (!doc)
      return std::move(doc).err();
    device = core::device_from_document(*doc, now);
  }
  // Validation done: from here on the request succeeds or is a 412.
  auto& pubs = part().pubs;
  auto i = pubs.end();
  if (!req.etag.empty()) {
    i = std::find_if(pubs.begin(), pubs.end(),
                     [&](const publication& x) { return x.etag == req.etag; });
    if (i == pubs.end()) {
      release_part_if_idle();
      return core::make_error(core::errc::conditional_request_failed,
                              "Unknown entity tag");
    }
  }
  if (*expires == 0) {
    // Removal (RFC 3903 §4.5); the entity tag is known (checked above).
    if (i != pubs.end()) {
      pubs.erase(i);
      on_presence_changed(now, fx);
    }
    release_part_if_idle();
    return publish_reply{req.etag, 0};
  }
  bool changed = !req.body.empty();
  if (!changed)
    device = i->device; // refresh: same state, new expiry
  publication pub;
  pub.etag = new_etag();
  pub.device = std::move(device);
  // The PIDF tuple id of this publication: stable across modifications
  // (watchers see one device change, not a new one) and a valid xs:ID
  // (RFC 3863: it must not start with a digit).
  pub.device.device_id = i != pubs.end() ? i->device.device_id : "t" + pub.etag;
  pub.expires_at = now + std::chrono::seconds{*expires};
  pub.device.expires_at = pub.expires_at;
  auto etag = pub.etag;
  if (i != pubs.end())
    *i = std::move(pub);
  else
    pubs.push_back(std::move(pub));
  if (changed)
    on_presence_changed(now, fx);
  return publish_reply{etag, *expires};
}

presence_reply user_logic::get_presence(core::time_point now) const {
  return current_presence(now);
}

presence_reply user_logic::clear_presence(core::time_point now, user_effects& fx) {
  if (has_publications()) {
    p_->pubs.clear();
    on_presence_changed(now, fx);
  }
  auto result = current_presence(now);
  release_part_if_idle();
  return result;
}

void user_logic::recompose(core::time_point now) {
  auto& x = part();
  auto cur = current_presence_uncached(now);
  x.presence = std::move(cur.state);
  x.pidf = std::move(cur.pidf);
}

void user_logic::on_presence_changed(core::time_point now, user_effects& fx) {
  // Render only when somebody looks: watchers, or a PresenceUpdated
  // subscriber. Otherwise drop the cache; get_presence renders on demand.
  bool watched = has_watchers();
  if (!watched && !fx.wants(event_kind::presence_updated)) {
    if (p_)
      p_->pidf.clear();
    return;
  }
  recompose(now);
  auto& x = *p_;
  fx.emit(presence_updated_event{aor_, x.presence, x.pidf});
  if (!watched || !fx.wants(event_kind::notify_required))
    return;
  // One rendering for everybody; politely blocked and pending watchers get
  // the neutral document instead (RFC 3856 §5.1).
  notify_required_event full{aor_, std::string{pidf_type}, x.pidf, {}};
  notify_required_event neutral{aor_, std::string{pidf_type}, {}, {}};
  for (auto& kvp : x.watchers) {
    auto& w = kvp.second;
    if (w.sub.state == core::subscription_state::terminated)
      continue;
    (sees_presence(w) ? full : neutral).targets.push_back(next_notify(w, now));
  }
  if (!full.targets.empty())
    fx.emit(std::move(full));
  if (!neutral.targets.empty()) {
    neutral.body = core::render_neutral_pidf(aor_);
    fx.emit(std::move(neutral));
  }
}

// -- watchers ------------------------------------------------------------------------

bool user_logic::sees_presence(const watcher& w) noexcept {
  return w.action == core::policy_action::allow
         && w.sub.state == core::subscription_state::active;
}

notify_target user_logic::next_notify(watcher& w, core::time_point now) {
  notify_target t;
  t.subscription_id = w.sub.id;
  t.watcher = w.sub.subscriber;
  t.version = core::next_version(w.sub);
  t.state = w.sub.state;
  t.reason = w.sub.reason;
  t.expires = core::remaining_seconds(w.sub.expires_at, now);
  return t;
}

presence_reply user_logic::presence_for(const watcher& w, core::time_point now) {
  if (!sees_presence(w))
    return presence_reply{core::presence_from_registration(aor_, false, now),
                          core::render_neutral_pidf(aor_)};
  if (part().pidf.empty())
    recompose(now);
  return presence_reply{p_->presence, p_->pidf};
}

core::result<subscribe_reply>
user_logic::add_watcher(const add_watcher_request& req, const engine_config&,
                        core::time_point now, user_effects& fx) {
  auto& watchers = part().watchers;
  if (req.max_watchers > 0 && watchers.size() >= req.max_watchers
      && watchers.count(req.sub.id) == 0) {
    release_part_if_idle();
    return core::make_error(core::errc::too_many_subscriptions,
                            "Watcher limit of " + aor_ + " reached",
                            req.max_watchers);
  }
  watcher w;
  w.sub = req.sub;
  w.dialog = req.dialog;
  w.action = req.action;
  subscribe_reply reply;
  reply.action = w.action;
  reply.initial = presence_for(w, now);
  core::next_version(w.sub); // the first NOTIFY carries version 1
  reply.sub = w.sub;
  fx.emit(subscription_created_event{w.sub});
  p_->watchers[w.sub.id] = std::move(w);
  return reply;
}

core::result<subscribe_reply>
user_logic::refresh_watcher(const refresh_watcher_request& req,
                            const engine_config& cfg, core::time_point now,
                            user_effects& fx) {
  if (!has_watchers() || p_->watchers.count(req.id) == 0)
    return core::make_error(core::errc::subscription_not_found,
                            "No subscription " + req.id);
  auto i = p_->watchers.find(req.id);
  auto& w = i->second;
  subscribe_reply reply;
  reply.action = w.action;
  if (req.expires == 0) {
    // RFC 6665 §4.1.2.3: an unsubscribe gets a final NOTIFY "terminated".
    reply.initial = presence_for(w, now);
    core::terminate(w.sub, core::termination_reason::none);
    core::next_version(w.sub);
    reply.sub = w.sub;
    fx.emit(subscription_terminated_event{w.sub.id, w.sub.subscriber, w.sub.target,
                                          core::termination_reason::none});
    fx.watching_removed.push_back(remove_watching_request{w.sub.subscriber, w.sub.id});
    p_->watchers.erase(i);
    release_part_if_idle();
    return reply;
  }
  auto expires = clamp_expires(req.expires, cfg.subscription_default_expires,
                               cfg.subscription_min_expires,
                               cfg.subscription_max_expires);
  if (!expires)
    return std::move(expires).err();
  if (auto ok = core::refresh(w.sub, now, *expires); !ok)
    return ok.err();
  if (!req.accept.empty())
    w.sub.accept = req.accept;
  core::next_version(w.sub);
  reply.sub = w.sub;
  reply.initial = presence_for(w, now);
  return reply;
}

void user_logic::end_watcher(std::map<std::string, watcher>::iterator i,
                             core::termination_reason reason,
                             core::time_point now, user_effects& fx) {
  auto& w = i->second;
  auto body = presence_for(w, now).pidf;
  core::terminate(w.sub, reason);
  if (fx.wants(event_kind::notify_required)) {
    notify_required_event last{aor_, std::string{pidf_type}, std::move(body), {}};
    last.targets.push_back(next_notify(w, now));
    fx.emit(std::move(last));
  }
  fx.emit(subscription_terminated_event{w.sub.id, w.sub.subscriber, w.sub.target, reason});
  fx.watching_removed.push_back(remove_watching_request{w.sub.subscriber, w.sub.id});
  p_->watchers.erase(i);
}

void user_logic::resume_watchers(const std::vector<std::string>& ids,
                                 core::time_point now, user_effects& fx) {
  if (!has_watchers() || !fx.wants(event_kind::notify_required))
    return;
  notify_required_event full{aor_, std::string{pidf_type}, {}, {}};
  notify_required_event neutral{aor_, std::string{pidf_type}, {}, {}};
  for (auto& id : ids) {
    auto i = p_->watchers.find(id);
    if (i == p_->watchers.end())
      continue;
    auto& w = i->second;
    // An expired one ends at the next tick, with its own final NOTIFY.
    if (w.sub.state == core::subscription_state::terminated || w.sub.expires_at <= now)
      continue;
    (sees_presence(w) ? full : neutral).targets.push_back(next_notify(w, now));
  }
  if (!full.targets.empty()) {
    if (p_->pidf.empty())
      recompose(now);
    full.body = p_->pidf;
    fx.emit(std::move(full));
  }
  if (!neutral.targets.empty()) {
    neutral.body = core::render_neutral_pidf(aor_);
    fx.emit(std::move(neutral));
  }
}

watcher_list user_logic::watchers() const {
  watcher_list result;
  if (!p_)
    return result;
  result.watchers.reserve(p_->watchers.size());
  for (auto& kvp : p_->watchers)
    result.watchers.push_back(
      watcher_info{kvp.second.sub.subscriber, kvp.first, kvp.second.sub.state});
  return result;
}

void user_logic::apply_policy(const core::presence_policy& policy,
                              core::time_point now, user_effects& fx) {
  if (!has_watchers())
    return;
  auto& watchers = p_->watchers;
  for (auto i = watchers.begin(); i != watchers.end();) {
    auto next = std::next(i);
    auto& w = i->second;
    auto action = core::decide(policy, w.sub.subscriber, aor_);
    if (action == core::policy_action::block) {
      end_watcher(i, core::termination_reason::rejected, now, fx);
    } else {
      bool changed = false;
      if (action == core::policy_action::allow
          && w.sub.state == core::subscription_state::pending)
        changed = core::activate(w.sub).has_value();
      auto new_action = action == core::policy_action::confirm
                          ? core::policy_action::allow
                          : action;
      if (new_action != w.action) {
        w.action = new_action;
        changed = true;
      }
      if (changed && fx.wants(event_kind::notify_required)) {
        auto body = presence_for(w, now).pidf;
        notify_required_event ev{aor_, std::string{pidf_type}, std::move(body),
                                 {next_notify(w, now)}};
        fx.emit(std::move(ev));
      }
    }
    i = next;
  }
  release_part_if_idle();
}

// -- watching ------------------------------------------------------------------------

core::result<void> user_logic::add_watching(const add_watching_request& req) {
  auto& watching = part().watching;
  if (req.max_subscriptions > 0 && watching.size() >= req.max_subscriptions
      && watching.count(req.sub.id) == 0) {
    release_part_if_idle();
    return core::make_error(core::errc::too_many_subscriptions,
                            "Subscription limit of " + aor_ + " reached",
                            req.max_subscriptions);
  }
  watching[req.sub.id] = req.sub;
  return {};
}

void user_logic::remove_watching(const std::string& id) {
  if (!p_)
    return;
  p_->watching.erase(id);
  release_part_if_idle();
}

subscription_list user_logic::subscriptions() const {
  subscription_list result;
  if (!p_)
    return result;
  result.subscriptions.reserve(p_->watching.size());
  for (auto& kvp : p_->watching)
    result.subscriptions.push_back(kvp.second);
  return result;
}

// -- time ------------------------------------------------------------------------------

void user_logic::expire(core::time_point now, const engine_config&,
                        user_effects& fx) {
  // Bindings (RFC 3261 §10.3: a binding lives until its expiry).
  if (!bindings_.empty()) {
    auto gone = core::expire_bindings(bindings_, now);
    for (auto& c : gone) {
      fx.index.push_back(
        index_update{core::stable_hash(core::binding_key(c.uri)), aor_, false});
      if (fx.wants(event_kind::contact_removed))
        fx.emit(contact_removed_event{aor_, std::move(c), removal_cause::expired});
    }
    if (!gone.empty() && bindings_.empty()) {
      fx.emit(registration_expired_event{aor_});
      if (in_roster_) {
        in_roster_ = false;
        fx.roster.push_back(roster_update{aor_, false});
      }
      if (!has_publications())
        on_presence_changed(now, fx);
    }
  }
  if (!p_)
    return;
  // Publications (RFC 3903 §6: an expired publication is removed).
  auto& pubs = p_->pubs;
  auto n = pubs.size();
  pubs.erase(std::remove_if(pubs.begin(), pubs.end(),
                            [&](const publication& pub) {
                              return !is_epoch(pub.expires_at)
                                     && pub.expires_at <= now;
                            }),
             pubs.end());
  if (pubs.size() != n)
    on_presence_changed(now, fx);
  // Watchers: terminated;reason=timeout (RFC 6665 §4.1.2.4 / §4.2.2).
  auto& watchers = p_->watchers;
  for (auto i = watchers.begin(); i != watchers.end();) {
    auto next = std::next(i);
    if (i->second.sub.expires_at <= now)
      end_watcher(i, core::termination_reason::timeout, now, fx);
    i = next;
  }
  // Subscriptions held as a watcher lapse at the same time on this side.
  auto& watching = p_->watching;
  for (auto i = watching.begin(); i != watching.end();) {
    if (i->second.expires_at <= now)
      i = watching.erase(i);
    else
      ++i;
  }
  release_part_if_idle();
}

std::optional<core::time_point> user_logic::next_deadline() const {
  std::optional<core::time_point> result = core::next_deadline(bindings_);
  if (!p_)
    return result;
  auto consider = [&](core::time_point x) {
    if (!is_epoch(x) && (!result || x < *result))
      result = x;
  };
  for (auto& pub : p_->pubs)
    consider(pub.expires_at);
  for (auto& kvp : p_->watchers)
    consider(kvp.second.sub.expires_at);
  for (auto& kvp : p_->watching)
    consider(kvp.second.expires_at);
  return result;
}

// -- persistence -------------------------------------------------------------------

namespace {

/// Moves a time point by `d`; the epoch (none / until removed) stays.
void shift(core::time_point& t, core::duration d) {
  if (t != core::time_point{})
    t += d;
}

void shift(core::contact_info& c, core::duration d) {
  shift(c.expires_at, d);
  shift(c.updated_at, d);
}

void shift(core::device_presence& x, core::duration d) {
  shift(x.last_updated, d);
  shift(x.expires_at, d);
}

void shift(core::subscription& x, core::duration d) {
  shift(x.expires_at, d);
}

/// Moves every time point of `rec` by `d`.
void shift(user_record& rec, core::duration d) {
  for (auto& b : rec.bindings)
    shift(b, d);
  for (auto& p : rec.pubs) {
    shift(p.device, d);
    shift(p.expires_at, d);
  }
  for (auto& w : rec.watchers)
    shift(w.sub, d);
  for (auto& x : rec.watching)
    shift(x, d);
}

} // namespace

user_record user_logic::snapshot(core::duration to_wall) const {
  user_record rec;
  rec.aor = aor_;
  rec.bindings = bindings_;
  rec.presence_enabled = presence_enabled_;
  rec.in_roster = in_roster_;
  if (p_) {
    rec.pubs = p_->pubs;
    for (auto& kvp : p_->watchers)
      rec.watchers.push_back(kvp.second);
    for (auto& kvp : p_->watching)
      rec.watching.push_back(kvp.second);
    rec.etag_counter = p_->etag_counter;
  }
  shift(rec, to_wall);
  return rec;
}

user_logic user_logic::restore(user_record rec, core::duration to_steady,
                               core::time_point now) {
  shift(rec, to_steady);
  user_logic u{std::move(rec.aor)};
  u.bindings_ = std::move(rec.bindings);
  u.presence_enabled_ = rec.presence_enabled;
  u.in_roster_ = rec.in_roster;
  if (!rec.pubs.empty() || !rec.watchers.empty() || !rec.watching.empty()
      || rec.etag_counter != 0) {
    auto& x = u.part();
    x.pubs = std::move(rec.pubs);
    for (auto& w : rec.watchers) {
      auto id = w.sub.id;
      x.watchers.emplace(std::move(id), std::move(w));
    }
    for (auto& s : rec.watching) {
      auto id = s.id;
      x.watching.emplace(std::move(id), std::move(s));
    }
    x.etag_counter = rec.etag_counter;
    if (u.has_watchers())
      u.recompose(now);
  }
  return u;
}

void user_logic::absorb(user_record rec, core::duration to_steady, core::time_point now,
                        user_effects& fx) {
  shift(rec, to_steady);
  bool had_presence = has_publications() || !bindings_.empty();
  bool changed = false;
  for (auto& c : rec.bindings) {
    auto key = core::binding_key(c.uri);
    bool known = std::any_of(bindings_.begin(), bindings_.end(), [&](const auto& b) {
      return core::binding_key(b.uri) == key
             || (!c.instance_id.empty() && b.instance_id == c.instance_id
                 && b.reg_id == c.reg_id);
    });
    if (known)
      continue;
    fx.index.push_back(index_update{core::stable_hash(key), aor_, true});
    bindings_.push_back(std::move(c));
    changed = true;
  }
  if (rec.in_roster && !in_roster_) {
    in_roster_ = true;
    fx.roster.push_back(roster_update{aor_, true});
  }
  if (!rec.pubs.empty() || !rec.watchers.empty() || !rec.watching.empty()
      || rec.etag_counter != 0) {
    auto& x = part();
    for (auto& pub : rec.pubs) {
      bool known = std::any_of(x.pubs.begin(), x.pubs.end(),
                               [&](const auto& q) { return q.etag == pub.etag; });
      if (!known) {
        x.pubs.push_back(std::move(pub));
        changed = true;
      }
    }
    for (auto& w : rec.watchers) {
      auto id = w.sub.id;
      x.watchers.emplace(std::move(id), std::move(w));
    }
    for (auto& sub : rec.watching) {
      auto id = sub.id;
      x.watching.emplace(std::move(id), std::move(sub));
    }
    x.etag_counter = std::max(x.etag_counter, rec.etag_counter);
  }
  if (changed && had_presence && has_watchers())
    on_presence_changed(now, fx);
  else if (has_watchers())
    recompose(now);
  else if (p_) {
    p_->pidf.clear(); // rendered on demand
    release_part_if_idle();
  }
}

std::vector<stored_watcher>
user_logic::orphan_dialogs(const std::vector<std::string>& live) const {
  std::vector<stored_watcher> result;
  if (!p_)
    return result;
  for (auto& kvp : p_->watchers) {
    auto& w = kvp.second;
    if (w.dialog.call_id.empty() || w.sub.state == core::subscription_state::terminated)
      continue;
    auto prefix = core::dialog_tag_prefix_of(w.dialog.local_tag);
    if (prefix.empty() || std::find(live.begin(), live.end(), prefix) != live.end())
      continue;
    result.push_back(w);
  }
  return result;
}

std::string user_logic::new_etag() {
  // Unique per user and publication; the hash keeps it opaque. The salt,
  // drawn once per process, keeps a restarted server from handing out the
  // entity tags of before, which a client's stale SIP-If-Match would then
  // match (RFC 3903 §6 wants 412 for it).
  static const uint64_t salt = [] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd();
  }();
  auto& counter = part().etag_counter;
  auto h = core::stable_hash(aor_) ^ salt ^ (++counter * 0x9E3779B97F4A7C15ull);
  static constexpr char digits[] = "0123456789abcdef";
  std::string result(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4)
    result[static_cast<size_t>(i)] = digits[h & 0xF];
  return result + "." + std::to_string(counter);
}

} // namespace regcore::actors
