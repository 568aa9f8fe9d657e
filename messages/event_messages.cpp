// SPDX-License-Identifier: MIT
#include "messages/event_messages.hpp"

namespace regcore {

const char* to_string(event_kind x) noexcept {
  switch (x) {
    case event_kind::user_registered: return "user_registered";
    case event_kind::contact_refreshed: return "contact_refreshed";
    case event_kind::contact_removed: return "contact_removed";
    case event_kind::user_unregistered: return "user_unregistered";
    case event_kind::registration_expired: return "registration_expired";
    case event_kind::presence_updated: return "presence_updated";
    case event_kind::subscription_created: return "subscription_created";
    case event_kind::subscription_terminated: return "subscription_terminated";
    case event_kind::buddy_list_updated: return "buddy_list_updated";
    case event_kind::notify_required: return "notify_required";
  }
  return "unknown";
}

const char* to_string(removal_cause x) noexcept {
  switch (x) {
    case removal_cause::unregistered: return "unregistered";
    case removal_cause::expired: return "expired";
    case removal_cause::replaced: return "replaced";
  }
  return "unknown";
}

} // namespace regcore
