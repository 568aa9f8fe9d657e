// SPDX-License-Identifier: MIT
#include "core/presence.hpp"

#include <algorithm>

#include "core/strings.hpp"

namespace regcore::core {

namespace {

/// Higher = more specific (rule 3's tie-break).
int specificity(extended_status x) {
  switch (x) {
    case extended_status::do_not_disturb: return 7;
    case extended_status::on_the_phone: return 6;
    case extended_status::in_meeting: return 5;
    case extended_status::busy: return 4;
    case extended_status::away: return 3;
    case extended_status::custom: return 2;
    case extended_status::available: return 1;
    case extended_status::none: return 0;
  }
  return 0;
}

bool expired(const device_presence& d, time_point now) {
  return d.expires_at != time_point{} && d.expires_at <= now;
}

} // namespace

presence_state compose_presence(std::string entity,
                                const std::vector<device_presence>& devices,
                                time_point now) {
  presence_state s;
  s.entity = std::move(entity);
  for (auto& d : devices)
    if (!expired(d, now))
      s.devices.push_back(d);
  // Most recent first (stable: equal times keep publication order).
  std::stable_sort(s.devices.begin(), s.devices.end(),
                   [](const device_presence& x, const device_presence& y) {
                     return x.last_updated > y.last_updated;
                   });
  const device_presence* lead = nullptr;
  for (auto& d : s.devices) {
    if (d.basic == basic_status::open)
      s.basic = basic_status::open;
    if (d.status == extended_status::none)
      continue;
    if (!lead || d.last_updated > lead->last_updated
        || (d.last_updated == lead->last_updated
            && specificity(d.status) > specificity(lead->status)))
      lead = &d;
  }
  if (lead) {
    s.status = lead->status;
    s.custom_status = lead->custom_status;
    s.note = lead->note;
  } else {
    for (auto& d : s.devices)
      if (!d.note.empty()) {
        s.note = d.note;
        break;
      }
  }
  for (auto& d : s.devices)
    for (auto& a : d.activities)
      if (std::find(s.activities.begin(), s.activities.end(), a) == s.activities.end())
        s.activities.push_back(a);
  for (auto& d : s.devices) {
    s.last_updated = std::max(s.last_updated, d.last_updated);
    if (d.expires_at != time_point{}
        && (s.expires_at == time_point{} || d.expires_at < s.expires_at))
      s.expires_at = d.expires_at;
  }
  if (s.devices.empty())
    s.last_updated = now;
  return s;
}

presence_state presence_from_registration(std::string entity, bool registered,
                                          time_point now) {
  presence_state s;
  s.entity = std::move(entity);
  s.basic = registered ? basic_status::open : basic_status::closed;
  s.last_updated = now;
  return s;
}

device_presence device_from_update(std::string device_id, extended_status status,
                                   std::string custom_status,
                                   std::optional<basic_status> basic,
                                   std::string note,
                                   std::vector<std::string> activities,
                                   time_point now) {
  device_presence d;
  d.device_id = std::move(device_id);
  d.status = status;
  d.custom_status = status == extended_status::custom ? std::move(custom_status)
                                                      : std::string{};
  d.basic = basic.value_or(implied_basic(status));
  d.note = std::move(note);
  d.activities = std::move(activities);
  d.last_updated = now;
  return d;
}

device_presence device_from_document(const presence_state& doc, time_point now) {
  device_presence d;
  d.basic = doc.basic;
  d.status = doc.status;
  d.custom_status = doc.custom_status;
  d.note = doc.note;
  d.activities = doc.activities;
  if (!doc.devices.empty()) {
    d.contact = doc.devices.front().contact;
    d.priority = doc.devices.front().priority;
  }
  d.last_updated = now;
  return d;
}

bool iequals_media_type(std::string_view content_type, std::string_view media_type) {
  auto semi = content_type.find(';');
  return iequals(trim(content_type.substr(0, semi)), media_type);
}

} // namespace regcore::core
