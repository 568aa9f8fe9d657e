// SPDX-License-Identifier: MIT
#pragma once

// Requests and replies of the registrar part of the service API.
// Every request names its user by AOR (any form core::canonical_aor accepts);
// the engine canonicalises it and routes to the owning directory shard.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "core/registration.hpp"
#include "messages/core_inspect.hpp"
#include "messages/inspect_macro.hpp"

#include <caf/error.hpp>

namespace regcore {

/// One Contact of a REGISTER (RFC 3261 §10.2.1, RFC 5626 §4.2): uri, the
/// expires and q parameters if given, +sip.instance, reg-id. The same type
/// the core rules take.
using contact_request = core::register_contact;

/// register_user / refresh_registration / unregister_user in the SIP shape:
/// add, refresh or (expires 0) remove contacts; no contact = query. The
/// fields of core::register_request (the AOR in any form canonical_aor
/// accepts; Call-ID and CSeq may be empty / 0 for API callers, then the
/// engine orders by arrival) plus what only the engine needs.
struct register_request : core::register_request {
  /// The user takes part in the automatic domain roster (auto-buddy list).
  bool presence_enabled = true;
};

/// What a registration did (reSIProcate's Registrar words).
enum class register_outcome : uint8_t {
  added,
  refreshed,
  removed,
  removed_all,
  queried,
  /// Several of the above in one request.
  mixed,
};

const char* to_string(register_outcome x) noexcept;

/// Reply to register_request: the canonical AOR, what happened, and every
/// current binding in lookup order with `expires` = seconds left (what a
/// 200 OK lists).
struct register_reply {
  std::string aor;
  register_outcome outcome = register_outcome::queried;
  std::vector<core::contact_info> bindings;
};

/// lookup_user: the current bindings of an AOR, q descending then most
/// recent first; `expires` is the remaining time. Error user_not_found.
struct lookup_request {
  std::string aor;
};

/// find_user: reverse lookup of a contact URI. Reply: the canonical AOR.
/// Error contact_not_found.
struct find_user_request {
  std::string contact_uri;
};

/// list_registered_users: every AOR with at least one binding, sorted.
struct list_users_request {
  /// At most this many (0 = all).
  uint32_t limit = 0;
};

struct user_list {
  std::vector<std::string> users;
};

/// register_batch: many register_requests in one message, for bulk clients
/// (a SIP transport that read several REGISTERs at once, a load generator).
/// Each request is handled exactly as if it had been sent alone, in order;
/// the reply has one result per request, in the same order. A directory
/// shard takes any batch but is fastest with its own users
/// (engine_refs::shard_for): it forwards the others to their shard. The
/// service front takes any mix and splits it by shard.
struct register_batch_request {
  std::vector<register_request> requests;
};

/// The outcome of one request of a batch: `error` is empty on success and
/// then `reply` is what the register_request alone would have answered;
/// otherwise `error` is the error it would have got.
struct register_result {
  register_reply reply;
  caf::error error;
};

/// Reply to register_batch_request: results[i] answers requests[i].
struct register_batch_reply {
  std::vector<register_result> results;
};

REGCORE_INSPECT(register_request, x.aor, x.contacts, x.wildcard,
                messages::opt(x.expires), x.call_id, x.cseq, x.path,
                x.received, x.transport_type, x.user_agent, x.presence_enabled)
REGCORE_INSPECT(register_reply, x.aor, x.outcome, x.bindings)
REGCORE_INSPECT(lookup_request, x.aor)
REGCORE_INSPECT(find_user_request, x.contact_uri)
REGCORE_INSPECT(list_users_request, x.limit)
REGCORE_INSPECT(user_list, x.users)
REGCORE_INSPECT(register_batch_request, x.requests)
REGCORE_INSPECT(register_result, x.reply, x.error)
REGCORE_INSPECT(register_batch_reply, x.results)

} // namespace regcore

namespace regcore::core {

REGCORE_INSPECT(register_contact, x.uri, messages::opt(x.expires),
                messages::opt(x.q), x.instance_id, x.reg_id)

} // namespace regcore::core
