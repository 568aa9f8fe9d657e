// SPDX-License-Identifier: MIT
#pragma once

// Messages between the engine's own actors (not part of the service API):
// wiring subscriptions between watcher and target, the reverse index, the
// roster, and users reporting to their shard.

#include <cstdint>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "core/policy.hpp"
#include "messages/core_inspect.hpp"
#include "messages/inspect_macro.hpp"
#include "messages/presence_messages.hpp"

namespace regcore {

/// Supervisor -> target's shard: add a watcher (a new subscription).
struct add_watcher_request {
  core::subscription sub;
  dialog_info dialog;
  core::policy_action action = core::policy_action::allow;
  /// Explicit watchers the target may have.
  uint32_t max_watchers = 0;
};

/// Supervisor -> target's shard: refresh (expires > 0) or end (expires 0)
/// subscription `id`.
struct refresh_watcher_request {
  std::string target;
  std::string id;
  uint32_t expires = 0;
  /// Accept / dialog updates of an in-dialog SUBSCRIBE (may be empty).
  std::vector<std::string> accept;
};

/// A restarted SIP edge -> target's shard: the subscriptions `ids` of
/// `target` are served again (their dialogs came back from the journal);
/// each still active gets a NOTIFY with the current state (RFC 6665
/// §4.2.2 wants the watcher to learn the state after a server restart).
struct resume_watchers_request {
  std::string target;
  std::vector<std::string> ids;
};

/// Supervisor -> watcher's shard: the watcher now holds `sub` (checked
/// against `max_subscriptions`).
struct add_watching_request {
  core::subscription sub;
  uint32_t max_subscriptions = 0;
};

/// Target -> watcher's shard (or supervisor -> watcher): `id` ended.
struct remove_watching_request {
  std::string watcher;
  std::string id;
};

/// A user -> the shard owning a contact's binding key: the contact now
/// belongs (added) or no longer belongs to `aor` (reverse lookup index for
/// find_user). Only the key's stable_hash travels: it picks the shard
/// (core::shard_of_hash) and is all the index keeps (find_user verifies
/// every candidate with its user).
struct index_update {
  uint64_t key_hash = 0;
  std::string aor;
  bool added = true;
};

/// Several index updates for one shard (what a shard batched in one run).
struct index_batch {
  std::vector<index_update> updates;
};

/// A user -> the roster: `aor` joined (has a binding and presence enabled)
/// or left the roster of its domain.
struct roster_update {
  std::string aor;
  bool joined = true;
};

/// Several roster updates (what a shard batched in one run).
struct roster_batch {
  std::vector<roster_update> updates;
};

/// Query the roster of `aor`'s domain: every member except `aor` (the
/// caller knows whether `aor` itself is one). In a cluster each node's
/// roster holds the members it owns; the caller asks them all.
struct roster_query {
  std::string aor;
};

/// An active user actor -> its shard: summary flags the shard needs for
/// list_registered_users and for dropping the user when it is empty.
struct user_status {
  std::string aor;
  bool registered = false;
  bool has_presence = false;
  bool empty = false;
  /// Messages from the shard this user has handled so far (the shard drops
  /// an empty user only when nothing it forwarded is still unhandled).
  uint64_t handled = 0;
};

/// Counters of one directory shard.
struct shard_stats {
  /// Users hosted (passive records plus active user actors).
  uint64_t users = 0;
  /// Of those, users that are active actors.
  uint64_t active = 0;
  /// Users with at least one binding.
  uint64_t registered = 0;
  /// Reverse-index entries (contact -> AOR) owned by this shard.
  uint64_t index_entries = 0;
};

REGCORE_INSPECT(shard_stats, x.users, x.active, x.registered, x.index_entries)
REGCORE_INSPECT(add_watcher_request, x.sub, x.dialog, x.action, x.max_watchers)
REGCORE_INSPECT(refresh_watcher_request, x.target, x.id, x.expires, x.accept)
REGCORE_INSPECT(resume_watchers_request, x.target, x.ids)
REGCORE_INSPECT(add_watching_request, x.sub, x.max_subscriptions)
REGCORE_INSPECT(remove_watching_request, x.watcher, x.id)
REGCORE_INSPECT(index_update, x.key_hash, x.aor, x.added)
REGCORE_INSPECT(roster_update, x.aor, x.joined)
REGCORE_INSPECT(index_batch, x.updates)
REGCORE_INSPECT(roster_batch, x.updates)
REGCORE_INSPECT(roster_query, x.aor)
REGCORE_INSPECT(user_status, x.aor, x.registered, x.has_presence, x.empty,
                x.handled)

} // namespace regcore
