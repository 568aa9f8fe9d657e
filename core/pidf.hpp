// SPDX-License-Identifier: MIT
#pragma once

// PIDF (RFC 3863) with RPID (RFC 4480): rendering a presence_state and
// parsing/validating documents that clients PUBLISH.
//
// Rich status in RPID: away -> <rpid:away/>, busy -> <rpid:busy/>,
// on_the_phone -> <rpid:on-the-phone/>, in_meeting -> <rpid:meeting/>.
// RPID has no activity for "available" or "do not disturb"; we write them as
// <rpid:other>available</rpid:other> and <rpid:busy/> plus
// <rpid:other>do-not-disturb</rpid:other>, and a custom status as
// <rpid:other>text</rpid:other>. Parsing maps them back (so "available" and
// "do-not-disturb" are reserved words for a custom status), and maps the
// other RPID activities clients send (appointment -> in_meeting; vacation,
// lunch, breakfast, dinner, sleeping, travel... -> away).

#include <cstddef>
#include <string>
#include <string_view>

#include "core/model.hpp"
#include "core/result.hpp"

namespace regcore::core {

/// Limits for untrusted documents.
struct pidf_limits {
  size_t max_size = 64 * 1024;
  size_t max_elements = 2000;
  size_t max_depth = 32;
};

/// Renders `state` as a PIDF document: one <tuple> per device (each with its
/// own basic status, contact and note), or a single tuple with the composed
/// basic status when there are no devices; a <dm:person> with RPID
/// activities when there is a rich status; the note at presence level. The
/// entity is `state.entity`, prefixed with "sip:" only when it has no
/// scheme (never "sip:sip:").
std::string render_pidf(const presence_state& state);

/// A neutral document for `entity`: closed, nothing else (RFC 3856 §5.1
/// polite blocking, pending subscriptions, unknown presentities).
std::string render_neutral_pidf(std::string_view entity);

/// Parses and validates a PIDF document. Errors are errc::bad_pidf with a
/// reason: empty, too large, a DTD or entity declaration, malformed XML,
/// wrong root or namespace, missing entity, a tuple without status, a basic
/// other than open/closed, an unknown element marked mustUnderstand, too
/// many or too deeply nested elements.
result<presence_state> parse_pidf(std::string_view xml, const pidf_limits& limits = {});

/// The RPID activity token of a status ("away", "on-the-phone", ...); empty
/// for none / available / custom.
const char* rpid_activity(extended_status x) noexcept;

} // namespace regcore::core
