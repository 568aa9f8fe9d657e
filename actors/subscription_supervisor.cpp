// SPDX-License-Identifier: MIT
#include "actors/subscription_supervisor.hpp"

#include <map>
#include <optional>
#include <unordered_map>

#include "actors/journal.hpp"
#include "actors/user_host.hpp"
#include "core/pidf.hpp"
#include "core/presence.hpp"
#include "core/sip_uri.hpp"
#include "core/strings.hpp"

#include <spdlog/spdlog.h>

namespace regcore::actors {

namespace {

constexpr std::string_view sub_marker = ";sub=";

struct supervisor_state {
  std::shared_ptr<const engine_refs> refs;
  std::unordered_map<std::string, core::presence_policy> policies;
  uint64_t next_id = 0;
  static inline const char* name = "regcore.subscription_supervisor";
};

using sup_self = subscription_supervisor_actor::stateful_pointer<supervisor_state>;

/// RFC 3856 §6.7 / RFC 6665 §8.3: the watcher must accept PIDF. An empty
/// Accept means the package default, application/pidf+xml.
bool accepts_pidf(const std::vector<std::string>& accept) {
  if (accept.empty())
    return true;
  for (auto& x : accept) {
    auto t = core::trim(std::string_view{x});
    auto semi = t.find(';');
    if (semi != std::string_view::npos)
      t = core::trim(t.substr(0, semi));
    if (core::iequals(t, "application/pidf+xml") || core::iequals(t, "application/*")
        || t == "*/*")
      return true;
  }
  return false;
}

caf::result<subscribe_reply> new_subscription(sup_self self, subscribe_request& req) {
  auto& st = self->state;
  auto& cfg = *st.refs->cfg;
  auto watcher = core::canonical_aor(req.watcher);
  if (!watcher)
    return messages::to_caf_error(watcher.err());
  auto target = core::canonical_aor(req.target);
  if (!target)
    return messages::to_caf_error(target.err());
  if (!accepts_pidf(req.accept))
    return core::make_caf_error(core::errc::not_acceptable,
                                "Accept must allow application/pidf+xml");
  auto expires = req.expires.value_or(cfg.subscription_default_expires);
  if (expires > 0 && expires < cfg.subscription_min_expires)
    return core::make_caf_error(core::errc::interval_too_brief, {},
                                cfg.subscription_min_expires);
  expires = std::min(expires, cfg.subscription_max_expires);
  auto pol = st.policies.find(*target);
  auto action = pol == st.policies.end()
                  ? core::policy_action::allow
                  : core::decide(pol->second, *watcher, *target);
  if (action == core::policy_action::block)
    return core::make_caf_error(core::errc::forbidden,
                                "Subscription rejected by policy");
  auto now = self->clock().now();
  core::subscription sub;
  sub.id = *target + std::string{sub_marker} + std::to_string(++st.next_id);
  sub.subscriber = *watcher;
  sub.target = *target;
  sub.state = action == core::policy_action::confirm
                ? core::subscription_state::pending
                : core::subscription_state::active;
  sub.expires = expires;
  sub.expires_at = now + std::chrono::seconds{expires};
  sub.event_id = req.event_id;
  sub.accept = req.accept;
  if (action == core::policy_action::confirm)
    action = core::policy_action::allow; // pending until the policy allows
  auto rp = self->make_response_promise<subscribe_reply>();
  auto refs = st.refs;
  if (expires == 0) {
    // RFC 6665 §4.4.3 fetch: current state once, no subscription kept.
    sub.state = core::subscription_state::terminated;
    sub.reason = core::termination_reason::timeout;
    sub.version = 1;
    self->request(refs->shard_for(*target), caf::infinite,
                  get_presence_request{*target})
      .then(
        [=](presence_reply& p) mutable {
          subscribe_reply reply;
          reply.sub = sub;
          reply.action = action;
          reply.initial = std::move(p);
          rp.deliver(std::move(reply));
        },
        [=](caf::error&) mutable {
          subscribe_reply reply;
          reply.sub = sub;
          reply.action = action;
          auto state = core::presence_from_registration(sub.target, false, now);
          reply.initial = presence_reply{state, core::render_pidf(state)};
          rp.deliver(std::move(reply));
        });
    return rp;
  }
  auto& limits = cfg.limits;
  auto dialog = std::move(req.dialog);
  self->request(refs->shard_for(*watcher), caf::infinite,
                add_watching_request{sub, limits.max_per_watcher})
    .then(
      [=](caf::ok_atom) mutable {
        self->request(refs->shard_for(sub.target), caf::infinite,
                      add_watcher_request{sub, dialog, action, limits.max_per_target})
          .then(
            [=](subscribe_reply& reply) mutable { rp.deliver(std::move(reply)); },
            [=](caf::error& err) mutable {
              // Undo the watcher's side: the target refused.
              self->send(refs->shard_for(sub.subscriber),
                         remove_watching_request{sub.subscriber, sub.id});
              rp.deliver(std::move(err));
            });
      },
      [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

/// Sends `rows` to the store (its failure is logged there).
void journal_rows(sup_self self, std::vector<journal_entry> rows) {
  if (rows.empty())
    return;
  self->request(self->state.refs->store, caf::infinite, journal_batch{std::move(rows)})
    .then([](caf::ok_atom) {}, [](caf::error&) {});
}

/// After new routes: the policies of users another member owns now go to
/// that member's supervisor (and leave this node's journal; only an owner
/// replicates, so the erase row stays local); those kept are written again,
/// so new replicas get them (policies are few).
void rebalance_policies(sup_self self) {
  auto& st = self->state;
  auto t = st.refs->cluster();
  if (!t || !st.refs->persistent())
    return;
  std::map<size_t, policy_batch> away;
  std::vector<journal_entry> rows;
  for (auto i = st.policies.begin(); i != st.policies.end();) {
    auto m = t->owner(core::stable_hash(i->first));
    if (m == t->self) {
      rows.push_back(journal_entry{journal_table::policies, i->first, to_bytes(i->second)});
      ++i;
      continue;
    }
    away[m].policies.push_back(set_policy_request{i->first, std::move(i->second)});
    rows.push_back(journal_entry{journal_table::policies, i->first, {}});
    i = st.policies.erase(i);
  }
  journal_rows(self, std::move(rows));
  for (auto& [m, batch] : away) {
    spdlog::info("cluster: handed {} presence policies over to {}", batch.policies.size(),
                 t->members[m].node_id);
    self->send(t->members[m].subscriptions, std::move(batch));
  }
}

subscription_supervisor_actor::behavior_type
subscription_supervisor(sup_self self, std::shared_ptr<const engine_refs> refs,
                        supervisor_restore initial) {
  self->state.refs = std::move(refs);
  self->state.policies = std::move(initial.policies);
  self->state.next_id = initial.last_id;
  return {
    [=](subscribe_request& req) -> caf::result<subscribe_reply> {
      if (req.id.empty())
        return new_subscription(self, req);
      auto target = target_of_subscription(req.id);
      if (target.empty())
        return core::make_caf_error(core::errc::subscription_not_found,
                                    "No subscription " + req.id);
      auto& cfg = *self->state.refs->cfg;
      auto expires = req.expires.value_or(cfg.subscription_default_expires);
      if (expires > 0 && expires < cfg.subscription_min_expires)
        return core::make_caf_error(core::errc::interval_too_brief, {},
                                    cfg.subscription_min_expires);
      refresh_watcher_request r{std::string{target}, req.id,
                                std::min(expires, cfg.subscription_max_expires),
                                req.accept};
      return self->delegate(self->state.refs->shard_for(r.target), std::move(r));
    },
    [=](unsubscribe_request& req) -> caf::result<caf::ok_atom> {
      auto target = target_of_subscription(req.id);
      if (target.empty())
        return core::make_caf_error(core::errc::subscription_not_found,
                                    "No subscription " + req.id);
      auto rp = self->make_response_promise<caf::ok_atom>();
      refresh_watcher_request r{std::string{target}, req.id, 0, {}};
      self->request(self->state.refs->shard_for(r.target), caf::infinite, r)
        .then([=](subscribe_reply&) mutable { rp.deliver(caf::ok_atom::value); },
              [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](set_policy_request& req) -> caf::result<caf::ok_atom> {
      auto aor = core::canonical_aor(req.aor);
      if (!aor)
        return messages::to_caf_error(aor.err());
      req.aor = *aor;
      auto& st = self->state;
      st.policies[*aor] = req.policy;
      std::optional<caf::typed_response_promise<caf::ok_atom>> held;
      if (st.refs->persistent()) {
        journal_batch batch;
        batch.entries.push_back(
          journal_entry{journal_table::policies, *aor, to_bytes(req.policy)});
        if (st.refs->sync()) {
          auto rp = self->make_response_promise<caf::ok_atom>();
          held = rp;
          self->request(st.refs->store, caf::infinite, std::move(batch))
            .then([rp](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
                  [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        } else {
          self->request(st.refs->store, caf::infinite, std::move(batch))
            .then([](caf::ok_atom) {}, [](caf::error&) {});
        }
      }
      // The target re-evaluates its current watchers under the new policy.
      self->send(st.refs->shard_for(*aor), std::move(req));
      if (held)
        return *held;
      return caf::ok_atom::value;
    },
    [=](policy_batch& xs) {
      auto& st = self->state;
      std::vector<journal_entry> rows;
      for (auto& p : xs.policies) {
        auto [i, added] = st.policies.try_emplace(p.aor, std::move(p.policy));
        if (added && st.refs->persistent())
          rows.push_back(journal_entry{journal_table::policies, i->first, to_bytes(i->second)});
      }
      journal_rows(self, std::move(rows));
    },
    [=](rebalance_atom) { rebalance_policies(self); },
  };
}

} // namespace

std::string_view target_of_subscription(std::string_view id) noexcept {
  auto pos = id.rfind(sub_marker);
  if (pos == std::string_view::npos || pos == 0)
    return {};
  return id.substr(0, pos);
}

uint64_t subscription_number(std::string_view id) noexcept {
  auto pos = id.rfind(sub_marker);
  if (pos == std::string_view::npos)
    return 0;
  uint64_t n = 0;
  for (auto c : id.substr(pos + sub_marker.size())) {
    if (c < '0' || c > '9')
      return 0;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

subscription_supervisor_actor
spawn_subscription_supervisor(caf::actor_system& sys,
                              std::shared_ptr<const engine_refs> refs,
                              supervisor_restore initial) {
  return sys.spawn(subscription_supervisor, std::move(refs), std::move(initial));
}

} // namespace regcore::actors
