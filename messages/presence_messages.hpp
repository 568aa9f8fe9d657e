// SPDX-License-Identifier: MIT
#pragma once

// Requests and replies of the presence and subscription part of the service
// API.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "core/policy.hpp"
#include "messages/core_inspect.hpp"
#include "messages/inspect_macro.hpp"

namespace regcore {

// -- presence -------------------------------------------------------------------

/// update_presence: set the presence of one device of a user (the API form
/// of a PUBLISH). basic follows the status (Busy/Away/DND/... -> closed)
/// unless given; an update without a note clears the note.
struct presence_update_request {
  std::string aor;
  /// Device (tuple) id; empty = the user's "api" device.
  std::string device_id;
  core::extended_status status = core::extended_status::available;
  std::string custom_status;
  std::optional<core::basic_status> basic;
  std::string note;
  std::vector<std::string> activities;
  /// Seconds until this device's presence lapses; none = until cleared.
  std::optional<uint32_t> expires;
};

/// PUBLISH (RFC 3903): `etag` empty = new publication (needs a body);
/// etag set + empty body = refresh; etag set + body = modify; expires 0 =
/// remove.
struct publish_request {
  std::string aor;
  std::string etag;
  std::string content_type;
  std::string body;
  std::optional<uint32_t> expires;
};

/// Reply to publish_request: the entity tag now valid and the granted expiry.
struct publish_reply {
  std::string etag;
  uint32_t expires = 0;
};

/// get_presence / clear_presence.
struct get_presence_request {
  std::string aor;
};

struct clear_presence_request {
  std::string aor;
};

/// get_all_presence: presence of every user that has any.
struct get_all_presence_request {
  uint32_t limit = 0;
};

/// The composed presence of a user and its PIDF document.
struct presence_reply {
  core::presence_state state;
  std::string pidf;
};

struct presence_list {
  std::vector<presence_reply> items;
};

// -- subscriptions --------------------------------------------------------------

/// SIP dialog data of a subscription (RFC 6665 §4.1, RFC 3261 §12): kept by
/// the target's user so NOTIFYs (and a restarted server) can reach the
/// watcher. Empty for subscriptions made through the API.
struct dialog_info {
  std::string call_id;
  std::string local_tag;
  std::string remote_tag;
  /// The presentity's and the watcher's URIs as the SUBSCRIBE's To and From
  /// gave them (the From / To of every NOTIFY, RFC 3261 §12.2.1.1).
  std::string local_uri;
  std::string remote_uri;
  /// Remote target (the watcher's Contact).
  std::string remote_target;
  /// Route set from Record-Route, in order.
  std::vector<std::string> route_set;
  /// Not used: the CSeq of a NOTIFY is its subscription's version, which
  /// the engine keeps (core::subscription::version). Kept so the journal's
  /// record format stays the same.
  uint32_t local_cseq = 0;
  /// Transport and source address of the SUBSCRIBE.
  core::transport transport_type = core::transport::udp;
  std::string received;
};

/// subscribe: a new subscription of `watcher` to `target`, or a refresh of
/// `id` (expires 0 = unsubscribe).
struct subscribe_request {
  std::string watcher;
  std::string target;
  /// Empty for a new subscription; the subscription id for a refresh.
  std::string id;
  std::optional<uint32_t> expires;
  std::string event_id;
  std::vector<std::string> accept;
  dialog_info dialog;
};

/// Reply to subscribe_request: the subscription as granted and the presence
/// to put in the first NOTIFY (neutral when politely blocked or pending).
struct subscribe_reply {
  core::subscription sub;
  core::policy_action action = core::policy_action::allow;
  presence_reply initial;
};

struct unsubscribe_request {
  std::string id;
};

/// get_watchers: who watches `aor` (explicit subscriptions and, with
/// auto-buddy, every other member of its domain roster).
struct get_watchers_request {
  std::string aor;
};

/// One watcher of a user; `subscription_id` is empty for roster members.
struct watcher_info {
  std::string watcher;
  std::string subscription_id;
  core::subscription_state state = core::subscription_state::active;
};

struct watcher_list {
  std::vector<watcher_info> watchers;
};

/// get_subscriptions: the subscriptions `aor` holds as a watcher.
struct get_subscriptions_request {
  std::string aor;
};

struct subscription_list {
  std::vector<core::subscription> subscriptions;
};

/// get_buddy_list: whom `aor` watches (explicit subscriptions plus, with
/// auto-buddy, the other members of its domain roster), sorted.
struct get_buddy_list_request {
  std::string aor;
};

/// set_policy: replace the presence policy of `aor`.
struct set_policy_request {
  std::string aor;
  core::presence_policy policy;
};

/// Cluster: presence policies handed over by a supervisor whose node no
/// longer owns their users, or restored from a lost owner's copies. The
/// receiving supervisor keeps those it has none for (a policy set there in
/// the meantime wins) and journals them.
struct policy_batch {
  std::vector<set_policy_request> policies;
};

REGCORE_INSPECT(presence_update_request, x.aor, x.device_id, x.status,
                x.custom_status, messages::opt(x.basic), x.note, x.activities,
                messages::opt(x.expires))
REGCORE_INSPECT(publish_request, x.aor, x.etag, x.content_type, x.body,
                messages::opt(x.expires))
REGCORE_INSPECT(publish_reply, x.etag, x.expires)
REGCORE_INSPECT(get_presence_request, x.aor)
REGCORE_INSPECT(clear_presence_request, x.aor)
REGCORE_INSPECT(get_all_presence_request, x.limit)
REGCORE_INSPECT(presence_reply, x.state, x.pidf)
REGCORE_INSPECT(presence_list, x.items)
REGCORE_INSPECT(dialog_info, x.call_id, x.local_tag, x.remote_tag,
                x.local_uri, x.remote_uri, x.remote_target, x.route_set,
                x.local_cseq, x.transport_type, x.received)
REGCORE_INSPECT(subscribe_request, x.watcher, x.target, x.id,
                messages::opt(x.expires), x.event_id, x.accept, x.dialog)
REGCORE_INSPECT(subscribe_reply, x.sub, x.action, x.initial)
REGCORE_INSPECT(unsubscribe_request, x.id)
REGCORE_INSPECT(get_watchers_request, x.aor)
REGCORE_INSPECT(watcher_info, x.watcher, x.subscription_id, x.state)
REGCORE_INSPECT(watcher_list, x.watchers)
REGCORE_INSPECT(get_subscriptions_request, x.aor)
REGCORE_INSPECT(subscription_list, x.subscriptions)
REGCORE_INSPECT(get_buddy_list_request, x.aor)
REGCORE_INSPECT(set_policy_request, x.aor, x.policy)
REGCORE_INSPECT(policy_batch, x.policies)

} // namespace regcore

namespace regcore::core {

REGCORE_INSPECT(policy_rule, x.pattern, x.action)
REGCORE_INSPECT(presence_policy, x.default_action, x.rules)

} // namespace regcore::core
