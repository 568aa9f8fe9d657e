// SPDX-License-Identifier: MIT
#pragma once

// Persistence (docs/ARCHITECTURE.md, "Durability"): what the owners of live
// state write to the journal, and what a restarted engine reads back.
//
// The journal is a keyed table of rows (an upsert per key, an empty value
// erases the row), so it never grows beyond the live state: the newest row
// of a key is all a restart needs. Rows hold the owner's record serialized
// with CAF's binary serializer (the same inspect() as the wire).
//
// Time: every time point in a stored record is wall-clock (nanoseconds
// since the Unix epoch in the time_point's representation), because the
// engine's steady clock starts anew with each process; user_logic converts
// on snapshot and restore.

#include <cstdint>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "messages/core_inspect.hpp"
#include "messages/inspect_macro.hpp"
#include "messages/presence_messages.hpp"

#include <caf/actor.hpp>

namespace regcore {

/// How a state change is made durable before it is acknowledged.
enum class durability : uint8_t {
  /// Pure memory: nothing is written (the embedded API's default).
  off,
  /// Written in group commits; the reply does not wait: a crash loses what
  /// was acknowledged in the last commit interval (docs/configuration.md).
  async,
  /// The reply leaves only once its change is committed (fsynced).
  sync,
};

const char* to_string(durability x) noexcept;

/// Tables of the journal.
enum class journal_table : uint8_t {
  /// Key: canonical AOR; value: user_record.
  users = 1,
  /// Key: canonical AOR; value: core::presence_policy.
  policies = 2,
};

/// One row change: upsert `value` at (table, key), or erase when `value`
/// is empty.
struct journal_entry {
  journal_table table = journal_table::users;
  std::string key;
  std::vector<char> value;
};

/// Row changes written in one log record, in order.
struct journal_batch {
  std::vector<journal_entry> entries;
};

/// A publication as stored (RFC 3903: entity tag, document, expiry).
struct stored_publication {
  std::string etag;
  core::device_presence device;
  core::time_point expires_at{};
};

/// A watcher of a user as stored (the subscription, its dialog, the policy
/// decision).
struct stored_watcher {
  core::subscription sub;
  dialog_info dialog;
  core::policy_action action = core::policy_action::allow;
};

/// Everything one user owns (user_logic's state without what it derives:
/// the composed presence and its PIDF are recomputed on restore).
struct user_record {
  std::string aor;
  std::vector<core::contact_info> bindings;
  bool presence_enabled = true;
  bool in_roster = false;
  std::vector<stored_publication> pubs;
  std::vector<stored_watcher> watchers;
  std::vector<core::subscription> watching;
  uint64_t etag_counter = 0;
};

/// Users read back at start-up, for one shard (restore before serving).
struct restore_users {
  std::vector<user_record> users;
  /// False: read back from this node's journal at start-up. True: handed
  /// over or taken over from another node (cluster) -- merged into a user
  /// the shard already has, and journaled (and so replicated) as a change.
  bool handed_over = false;
};

/// Cluster: to a user (through its shard), the dialog-tag prefixes of the
/// live members (core::dialog_tag_prefix); the user sends the watcher
/// dialogs whose SIP edge is on none of them to `edge` (adopt_dialogs).
struct orphan_check {
  std::vector<std::string> live;
  caf::actor edge;
};

/// Cluster: to a SIP edge, subscription dialogs whose edge was on a lost
/// member: the edge sends their NOTIFYs from now on (and one at once with
/// the current state).
struct adopt_dialogs {
  std::vector<stored_watcher> watchers;
};

REGCORE_INSPECT(journal_entry, x.table, x.key, x.value)
REGCORE_INSPECT(journal_batch, x.entries)
REGCORE_INSPECT(stored_publication, x.etag, x.device, x.expires_at)
REGCORE_INSPECT(stored_watcher, x.sub, x.dialog, x.action)
REGCORE_INSPECT(user_record, x.aor, x.bindings, x.presence_enabled,
                x.in_roster, x.pubs, x.watchers, x.watching, x.etag_counter)
REGCORE_INSPECT(restore_users, x.users, x.handed_over)
REGCORE_INSPECT(orphan_check, x.live, x.edge)
REGCORE_INSPECT(adopt_dialogs, x.watchers)

} // namespace regcore
