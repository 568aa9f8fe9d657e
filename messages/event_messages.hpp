// SPDX-License-Identifier: MIT
#pragma once

// Events: every state change of the engine is published on the event bus as
// one of the typed events below. Host code subscribes to all kinds or some
// (a bit mask of event_kind) and receives event_batch messages; each element
// of a batch is a caf::message holding exactly one event struct.
//
// Delivery policy (actors/event_bus.hpp): bounded and batched; a slow
// subscriber never blocks the engine. See docs/ARCHITECTURE.md.

#include <cstdint>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "messages/core_inspect.hpp"
#include "messages/inspect_macro.hpp"

#include <caf/actor.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>

namespace regcore {

/// The kinds of events; `1u << kind` is its bit in a subscription mask.
enum class event_kind : uint8_t {
  user_registered,
  contact_refreshed,
  contact_removed,
  user_unregistered,
  registration_expired,
  presence_updated,
  subscription_created,
  subscription_terminated,
  buddy_list_updated,
  notify_required,
};

inline constexpr uint8_t event_kind_count = 10;

const char* to_string(event_kind x) noexcept;

/// Mask bit of one kind.
constexpr uint32_t event_bit(event_kind x) noexcept {
  return 1u << static_cast<uint8_t>(x);
}

/// Mask selecting every kind.
inline constexpr uint32_t all_events = (1u << event_kind_count) - 1;

/// Why a contact was removed.
enum class removal_cause : uint8_t { unregistered, expired, replaced };

const char* to_string(removal_cause x) noexcept;

/// A new binding for a user (the user may have had others).
struct user_registered_event {
  static constexpr event_kind kind = event_kind::user_registered;
  std::string user;
  core::contact_info contact;
};

/// An existing binding was refreshed (new expiry, maybe new q / Path).
struct contact_refreshed_event {
  static constexpr event_kind kind = event_kind::contact_refreshed;
  std::string user;
  core::contact_info contact;
};

/// A binding went away (unregistered, expired or replaced by RFC 5626
/// instance id).
struct contact_removed_event {
  static constexpr event_kind kind = event_kind::contact_removed;
  std::string user;
  core::contact_info contact;
  removal_cause cause = removal_cause::unregistered;
};

/// The user's last binding was removed by an unregistration.
struct user_unregistered_event {
  static constexpr event_kind kind = event_kind::user_unregistered;
  std::string user;
};

/// The user's last binding expired (exactly once per registration that
/// runs out; the per-contact contact_removed events come before it).
struct registration_expired_event {
  static constexpr event_kind kind = event_kind::registration_expired;
  std::string user;
};

/// The user's composed presence changed; `pidf` is the document rendered
/// once for every watcher.
struct presence_updated_event {
  static constexpr event_kind kind = event_kind::presence_updated;
  std::string user;
  core::presence_state state;
  std::string pidf;
};

/// A watcher subscribed to a presentity.
struct subscription_created_event {
  static constexpr event_kind kind = event_kind::subscription_created;
  core::subscription sub;
};

/// A subscription ended.
struct subscription_terminated_event {
  static constexpr event_kind kind = event_kind::subscription_terminated;
  std::string id;
  std::string subscriber;
  std::string target;
  core::termination_reason reason = core::termination_reason::none;
};

/// A buddy list changed. For the automatic domain roster one event stands
/// for every member's list (`user` is empty, `domain` names the roster):
/// `member` joined (`joined`) or left it. For an explicit subscription,
/// `user` is the watcher whose list changed.
struct buddy_list_updated_event {
  static constexpr event_kind kind = event_kind::buddy_list_updated;
  std::string domain;
  std::string user;
  std::string member;
  bool joined = true;
};

/// One watcher dialog that must be notified.
struct notify_target {
  std::string subscription_id;
  std::string watcher;
  uint32_t version = 0;
  core::subscription_state state = core::subscription_state::active;
  core::termination_reason reason = core::termination_reason::none;
  /// Seconds left of the subscription (Subscription-State expires).
  uint32_t expires = 0;
};

/// NOTIFYs to send after one presence change of `target`: one entry per
/// watcher dialog, all sharing the one rendered `body` (the SIP daemon turns
/// each entry into a NOTIFY).
struct notify_required_event {
  static constexpr event_kind kind = event_kind::notify_required;
  std::string target;
  std::string content_type;
  std::string body;
  std::vector<notify_target> targets;
};

// -- bus protocol ---------------------------------------------------------------

/// Publishes one event (built with make_event).
struct publish_event {
  event_kind kind = event_kind::user_registered;
  caf::message event;
};

/// Several events at once, in order (what a shard batched in one run).
struct publish_batch {
  std::vector<publish_event> events;
};

/// Wraps an event struct for the bus.
template <class Event>
publish_event make_event(Event x) {
  auto kind = Event::kind;
  return publish_event{kind, caf::make_message(std::move(x))};
}

/// Subscribes `subscriber` to the kinds in `mask` (replaces an earlier mask).
struct bus_subscribe {
  caf::actor subscriber;
  uint32_t mask = all_events;
};

/// Ends the subscription of `subscriber`.
struct bus_unsubscribe {
  caf::actor subscriber;
};

/// What a subscriber receives. `dropped` counts events discarded for this
/// subscriber since the previous batch because its queue was full.
struct event_batch {
  std::vector<caf::message> events;
  uint64_t dropped = 0;
};

/// A subscriber's acknowledgement of one event_batch (gives one credit back).
struct event_ack {
  uint32_t batches = 1;
};

/// Counters of the event bus.
struct bus_stats {
  uint64_t subscribers = 0;
  uint64_t published = 0;
  uint64_t delivered = 0;
  uint64_t batches = 0;
  uint64_t dropped = 0;
};

// -- inspect ------------------------------------------------------------------

REGCORE_INSPECT(user_registered_event, x.user, x.contact)
REGCORE_INSPECT(contact_refreshed_event, x.user, x.contact)
REGCORE_INSPECT(contact_removed_event, x.user, x.contact, x.cause)
REGCORE_INSPECT(user_unregistered_event, x.user)
REGCORE_INSPECT(registration_expired_event, x.user)
REGCORE_INSPECT(presence_updated_event, x.user, x.state, x.pidf)
REGCORE_INSPECT(subscription_created_event, x.sub)
REGCORE_INSPECT(subscription_terminated_event, x.id, x.subscriber, x.target,
                x.reason)
REGCORE_INSPECT(buddy_list_updated_event, x.domain, x.user, x.member, x.joined)
REGCORE_INSPECT(notify_target, x.subscription_id, x.watcher, x.version,
                x.state, x.reason, x.expires)
REGCORE_INSPECT(notify_required_event, x.target, x.content_type, x.body,
                x.targets)
REGCORE_INSPECT(publish_event, x.kind, x.event)
REGCORE_INSPECT(publish_batch, x.events)
REGCORE_INSPECT(bus_subscribe, x.subscriber, x.mask)
REGCORE_INSPECT(bus_unsubscribe, x.subscriber)
REGCORE_INSPECT(event_batch, x.events, x.dropped)
REGCORE_INSPECT(event_ack, x.batches)
REGCORE_INSPECT(bus_stats, x.subscribers, x.published, x.delivered, x.batches,
                x.dropped)

} // namespace regcore
