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
/// equality), or npos.
size_t find_binding(const std::vector<contact_info>& bindings,
                    const register_contact& c, const std::string& key) {
  for (size_t i = 0; i < bindings.size(); ++i) {
    auto& b = bindings[i];
    if (!c.instance_id.empty()) {
      if (b.instance_id == c.instance_id && b.reg_id == c.reg_id)
        return i;
      continue;
    }
    if (b.instance_id.empty() && binding_key(b.uri) == key)
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

} // namespace

result<register_outcome> apply_register(const std::vector<contact_info>& current,
                                        const register_request& req,
                                        const registration_policy& policy,
                                        time_point now) {
  register_outcome out;
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
    if (auto uri = parse_sip_uri(c.uri); !uri)
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
    plans.push_back(plan{&c, binding_key(c.uri), expires});
  }
  // -- apply to a working copy ---------------------------------------------------
  auto next = current;
  std::vector<bool> touched(next.size(), false);
  bool any_add = false, any_refresh = false, any_remove = false;
  for (auto& p : plans) {
    auto& c = *p.c;
    auto i = find_binding(next, c, p.key);
    bool found = i != static_cast<size_t>(-1);
    if (found && !touched[i] && out_of_order(next[i], req))
      return order_error();
    if (p.expires == 0) {
      any_remove = true; // harmless when unknown (nothing to remove)
      if (found) {
        out.removed.push_back(next[i]);
        next.erase(next.begin() + static_cast<std::ptrdiff_t>(i));
        touched.erase(touched.begin() + static_cast<std::ptrdiff_t>(i));
      }
      continue;
    }
    contact_info b;
    if (found)
      b = next[i];
    bool new_uri = !found || binding_key(b.uri) != p.key;
    if (found && new_uri && !touched[i])
      out.replaced.push_back(b); // RFC 5626: same instance, new contact
    b.uri = c.uri;
    b.instance_id = c.instance_id;
    b.reg_id = c.reg_id;
    b.transport_type = req.transport_type;
    b.user_agent = req.user_agent;
    b.expires = p.expires;
    b.expires_at = now + seconds{p.expires};
    b.q = c.q.value_or(q_max);
    b.received = req.received;
    b.path = req.path;
    b.call_id = req.call_id;
    b.cseq = req.cseq;
    b.updated_at = now;
    if (found) {
      next[i] = b;
      touched[i] = true;
    } else {
      next.push_back(b);
      touched.push_back(true);
    }
    (new_uri ? any_add : any_refresh) = true;
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
    bool existed = std::any_of(current.begin(), current.end(), [&](const contact_info& x) {
      return binding_key(x.uri) == binding_key(b.uri) && x.instance_id == b.instance_id
             && x.reg_id == b.reg_id;
    });
    (existed ? out.refreshed : out.added).push_back(b);
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
  std::stable_sort(bindings.begin(), bindings.end(),
                   [](const contact_info& x, const contact_info& y) {
                     if (x.q != y.q)
                       return x.q > y.q;
                     return x.updated_at > y.updated_at;
                   });
  return bindings;
}

} // namespace regcore::core
