// SPDX-License-Identifier: MIT
#pragma once

// Presence composition: several devices (publications) of one user ->
// one presence_state, and the small constructors the engine needs.
//
// Composition rule (documented for users in docs/ARCHITECTURE.md):
//  1. devices whose publication expired (expires_at set and <= now) are
//     dropped;
//  2. basic is open if any remaining device is open;
//  3. the extended status, its custom text and the note come from the most
//     recently updated device that has an extended status; ties (same
//     update time) go to the more specific status, in this order:
//     do_not_disturb, on_the_phone, in_meeting, busy, away, custom,
//     available;
//  4. when no device has an extended status, the note is the most recent
//     non-empty device note;
//  5. activities are the union of the devices' activities, most recent
//     device first, without duplicates.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.hpp"

namespace regcore::core {

/// Composes the devices of `entity` into one state (see the rule above).
presence_state compose_presence(std::string entity,
                                const std::vector<device_presence>& devices,
                                time_point now);

/// Presence derived from registration when nothing was published:
/// registered -> open, otherwise closed; no rich status.
presence_state presence_from_registration(std::string entity, bool registered,
                                          time_point now);

/// A device state from the update_presence API: basic follows the status
/// (implied_basic) unless given; the note is exactly `note` (an update
/// without a note clears it).
device_presence device_from_update(std::string device_id, extended_status status,
                                   std::string custom_status,
                                   std::optional<basic_status> basic,
                                   std::string note,
                                   std::vector<std::string> activities,
                                   time_point now);

/// One device state from a published document (its composed view; the
/// contact of its first tuple).
device_presence device_from_document(const presence_state& doc, time_point now);

/// Compares media types ignoring parameters and case:
/// "Application/PIDF+XML; charset=utf-8" matches "application/pidf+xml".
bool iequals_media_type(std::string_view content_type, std::string_view media_type);

} // namespace regcore::core
