// SPDX-License-Identifier: MIT
#include "core/errc.hpp"

namespace regcore::core {

namespace {

struct errc_row {
  const char* name;
  int status;
  const char* phrase;
};

// Indexed by errc; tests/core/errc.cpp checks it covers every value.
constexpr errc_row rows[] = {
  {"none", 200, "OK"},
  {"bad_request", 400, "Bad Request"},
  {"bad_uri", 400, "Bad Request"},
  {"invalid_input", 400, "Bad Request"},
  {"bad_pidf", 400, "Bad Request"},
  {"unsupported_uri_scheme", 416, "Unsupported URI Scheme"},
  {"message_too_large", 513, "Message Too Large"},
  {"interval_too_brief", 423, "Interval Too Brief"},
  {"too_many_contacts", 403, "Forbidden"},
  {"too_many_subscriptions", 403, "Forbidden"},
  {"forbidden", 403, "Forbidden"},
  {"out_of_order", 500, "Server Internal Error"},
  {"user_not_found", 404, "Not Found"},
  {"contact_not_found", 404, "Not Found"},
  {"subscription_not_found", 481, "Call/Transaction Does Not Exist"},
  {"unsupported_media_type", 415, "Unsupported Media Type"},
  {"not_acceptable", 406, "Not Acceptable"},
  {"bad_event", 489, "Bad Event"},
  {"conditional_request_failed", 412, "Conditional Request Failed"},
  {"version_not_supported", 505, "Version Not Supported"},
  {"invalid_state", 500, "Server Internal Error"},
  {"storage_failed", 500, "Server Internal Error"},
};
static_assert(sizeof(rows) / sizeof(rows[0]) == errc_count,
              "errc table out of sync with enum errc");

const errc_row& row(errc x) noexcept {
  auto i = static_cast<uint8_t>(x);
  return rows[i < errc_count ? i : static_cast<uint8_t>(errc::invalid_state)];
}

} // namespace

const char* to_string(errc x) noexcept { return row(x).name; }
int sip_status(errc x) noexcept { return row(x).status; }
const char* default_reason(errc x) noexcept { return row(x).phrase; }

} // namespace regcore::core
