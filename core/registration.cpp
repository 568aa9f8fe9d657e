// SPDX-License-Identifier: MIT
#include "core/registration.hpp"

#include <algorithm>

#include "core/sip_uri.hpp"

namespace regcore::core {

const char* to_string(register_kind x) noexcept {
  switch (x) {
    case register_kind::added: return "added";
    case register_kind::refreshed: return "refreshed";
    case register_kind::removed: return "removed";
    case register_kind::removed_all: return "removed_all";
    case register_kind::queried: return "queried";
    case register_kind::mixed: return "mixed";
  }
  return "queried";
}

namespace {

/// The binding `c` designates in `bindings` (RFC 5626 §6 first, then URI
/// equality), or npos. `keys[i]` is binding_key(bindings[i].uri).
size_t find_binding(const std::vector<contact_info>& bindings,
                    const std::vector<std::string>& keys,
                    const register_contact& c, const std::string& key) {
  for (size_t i = 0; i < bindings.size(); ++i) {
    auto& b = bindings[i];
    if (!c.instance_id.empty()) {
      if (b.instance_id == c.instance_id && b.reg_id == c.reg_id)
        return i;
      continue;
    }
    if (b.instance_id.empty() && keys[i] == key)
      return i;
  }
  return static_cast<size_t>(-1);
}

/// RFC 3261 §10.3 step 7: is the request older than (or a replay of) the
/// update that produced `b`?
bool out_of_order(const contact_info& b, const register_request& req) {
  return !req.call_id.empty() && b.call_id == req.call_id && req.cseq <= b.cseq;
}

error order_error() {
  return make_error(errc::out_of_order, "Out of order CSeq");
}

/// Sets every field of binding `b` from contact `c` of `req`.
void fill_binding(contact_info& b, const register_contact& c,
                  const register_request& req, uint32_t expires, time_point now) {
  b.uri = c.uri;
  b.instance_id = c.instance_id;
  b.reg_id = c.reg_id;
  b.transport_type = req.transport_type;
  b.user_agent = req.user_agent;
  b.expires = expires;
  b.expires_at = now + seconds{expires};
  b.q = c.q.value_or(q_max);
  b.received = req.received;
  b.path = req.path;
  b.call_id = req.call_id;
  b.cseq = req.cseq;
  b.updated_at = now;
}

} // namespace

result<register_outcome> apply_register(const std::vector<contact_info>& current,
                                        const register_request& req,
                                        const registration_policy& policy,
                                        time_point now, outcome_detail detail) {
  bool copies = detail == outcome_detail::full;
  register_outcome out;
  // binding_key() of every current binding, computed once.
  std::vector<std::string> current_keys;
  current_keys.reserve(current.size());
  for (auto& b : current)
    current_keys.push_back(binding_key(b.uri));
  // -- `*` (step 6) -----------------------------------------------------------
  if (req.wildcard) {
    if (!req.contacts.empty())
      return make_error(errc::bad_request, "Wildcard Contact must be alone");
    if (!req.expires || *req.expires != 0)
      return make_error(errc::bad_request, "Wildcard Contact requires Expires: 0");
    for (auto& b : current)
      if (out_of_order(b, req))
        return order_error();
    out.kind = register_kind::removed_all;
    out.removed = current;
    out.removed_keys = std::move(current_keys);
    return out;
  }
  // -- validate every contact before changing anything --------------------------
  struct plan {
    const register_contact* c;
    std::string key;
    uint32_t expires;
  };
  std::vector<plan> plans;
  plans.reserve(req.contacts.size());
  for (auto& c : req.contacts) {
    if (c.uri.empty())
      return make_error(errc::bad_uri, "Empty Contact URI");
    auto uri = parse_sip_uri(c.uri);
    if (!uri)
      return make_error(errc::bad_uri, "Malformed Contact URI: "
                                         + std::string{uri.err().phrase()});
    if (c.q && *c.q > q_max)
      return make_error(errc::invalid_input, "Invalid q-value");
    uint32_t expires = c.expires ? *c.expires
                                 : req.expires.value_or(policy.default_expires);
    if (expires > 0 && expires < policy.min_expires)
      return make_error(errc::interval_too_brief, "Interval Too Brief",
                        policy.min_expires);
    expires = std::min(expires, policy.max_expires);
    // A URI that parses has no name-addr around it, so this is
    // binding_key(c.uri) without a second parse.
    plans.push_back(plan{&c, binding_key(*uri), expires});
  }
  // -- apply to a working copy ---------------------------------------------------
  auto next = current;
  auto next_keys = current_keys;
  std::vector<bool> touched(next.size(), false);
  bool any_add = false, any_refresh = false, any_remove = false;
  for (auto& p : plans) {
    auto& c = *p.c;
    auto i = find_binding(next, next_keys, c, p.key);
    bool found = i != static_cast<size_t>(-1);
    if (found && !touched[i] && out_of_order(next[i], req))
      return order_error();
    if (p.expires == 0) {
      any_remove = true; // harmless when unknown (nothing to remove)
      if (found) {
        auto at = static_cast<std::ptrdiff_t>(i);
        out.removed.push_back(std::move(next[i]));
        out.removed_keys.push_back(std::move(next_keys[i]));
        next.erase(next.begin() + at);
        next_keys.erase(next_keys.begin() + at);
        touched.erase(touched.begin() + at);
      }
      continue;
    }
    if (found) {
      bool new_uri = next_keys[i] != p.key;
      if (new_uri && !touched[i]) {
        // RFC 5626: same instance, new contact.
        out.replaced.push_back(next[i]);
        out.replaced_keys.push_back(next_keys[i]);
      }
      fill_binding(next[i], c, req, p.expires, now);
      next_keys[i] = std::move(p.key);
      touched[i] = true;
      (new_uri ? any_add : any_refresh) = true;
    } else {
      contact_info b;
      fill_binding(b, c, req, p.expires, now);
      next.push_back(std::move(b));
      next_keys.push_back(std::move(p.key));
      touched.push_back(true);
      any_add = true;
    }
  }
  // -- limit (after the request, only if it grew) ---------------------------------
  if (next.size() > policy.max_contacts && next.size() > current.size())
    return make_error(errc::too_many_contacts,
                      "Too many contacts (limit " + std::to_string(policy.max_contacts)
                        + ")",
                      policy.max_contacts);
  // -- classify: added = new URIs (incl. replacements), refreshed = same URI ----
  for (size_t i = 0; i < next.size(); ++i) {
    if (!touched[i])
      continue;
    auto& b = next[i];
    bool existed = false;
    for (size_t j = 0; j < current.size() && !existed; ++j) {
      auto& x = current[j];
      existed = current_keys[j] == next_keys[i] && x.instance_id == b.instance_id
                && x.reg_id == b.reg_id;
    }
    if (existed) {
      if (copies)
        out.refreshed.push_back(b);
    } else {
      if (copies)
        out.added.push_back(b);
      out.added_keys.push_back(std::move(next_keys[i])); // not needed after
    }
  }
  int kinds = int{any_add} + int{any_refresh} + int{any_remove};
  if (kinds == 0)
    out.kind = register_kind::queried;
  else if (kinds > 1)
    out.kind = register_kind::mixed;
  else
    out.kind = any_add ? register_kind::added
                       : any_refresh ? register_kind::refreshed
                                     : register_kind::removed;
  out.bindings = std::move(next);
  return out;
}

std::vector<contact_info> expire_bindings(std::vector<contact_info>& bindings,
                                          time_point now) {
  std::vector<contact_info> gone;
  auto keep = std::stable_partition(bindings.begin(), bindings.end(),
                                    [&](const contact_info& b) {
                                      return b.expires_at > now;
                                    });
  gone.assign(std::make_move_iterator(keep), std::make_move_iterator(bindings.end()));
  bindings.erase(keep, bindings.end());
  return gone;
}

std::optional<time_point> next_deadline(const std::vector<contact_info>& bindings) {
  std::optional<time_point> result;
  for (auto& b : bindings)
    if (!result || b.expires_at < *result)
      result = b.expires_at;
  return result;
}

std::vector<contact_info> lookup_order(std::vector<contact_info> bindings) {
  if (bindings.size() < 2)
    return bindings; // stable_sort would still allocate its buffer
  std::stable_sort(bindings.begin(), bindings.end(),
                   [](const contact_info& x, const contact_info& y) {
                     if (x.q != y.q)
                       return x.q > y.q;
                     return x.updated_at > y.updated_at;
                   });
  return bindings;
}

} // namespace regcore::core
