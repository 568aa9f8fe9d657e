// SPDX-License-Identifier: MIT
#pragma once

// CAF 0.17 inspect() overloads for the data model of core/. They live here,
// not in core/, because core/ never includes CAF. ADL finds them since they
// are declared in the namespace of the types (regcore::core).

#include <optional>
#include <type_traits>
#include <utility>

#include "core/model.hpp"

#include <caf/meta/type_name.hpp>

namespace regcore::messages {

/// Adapts a std::optional<T> member for CAF 0.17 inspectors (CAF only knows
/// caf::optional): a presence flag followed by the value.
template <class T>
struct optional_field {
  std::optional<T>& ref;
};

template <class Inspector, class T>
typename std::enable_if<Inspector::reads_state,
                        typename Inspector::result_type>::type
inspect(Inspector& f, optional_field<T>& x) {
  bool flag = x.ref.has_value();
  T tmp = flag ? *x.ref : T{};
  return f(flag, tmp);
}

template <class Inspector, class T>
typename std::enable_if<Inspector::writes_state,
                        typename Inspector::result_type>::type
inspect(Inspector& f, optional_field<T>& x) {
  bool flag = false;
  T tmp{};
  auto res = f(flag, tmp);
  if (flag)
    x.ref = std::move(tmp);
  else
    x.ref.reset();
  return res;
}

template <class T>
optional_field<T> opt(std::optional<T>& x) {
  return {x};
}

} // namespace regcore::messages

namespace regcore::core {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, contact_info& x) {
  return f(caf::meta::type_name("contact_info"), x.uri, x.instance_id,
           x.reg_id, x.transport_type, x.user_agent, x.expires, x.expires_at,
           x.q, x.received, x.path, x.call_id, x.cseq, x.updated_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_registration& x) {
  return f(caf::meta::type_name("user_registration"), x.aor, x.contacts);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, device_presence& x) {
  auto priority = messages::opt(x.priority);
  return f(caf::meta::type_name("device_presence"), x.device_id, x.basic,
           x.status, x.custom_status, x.note, x.activities, x.contact,
           priority, x.last_updated, x.expires_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_state& x) {
  return f(caf::meta::type_name("presence_state"), x.entity, x.basic,
           x.status, x.custom_status, x.note, x.activities, x.devices,
           x.last_updated, x.expires_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, subscription& x) {
  return f(caf::meta::type_name("subscription"), x.id, x.subscriber, x.target,
           x.state, x.reason, x.expires, x.expires_at, x.event_id, x.version,
           x.accept);
}

} // namespace regcore::core
