// SPDX-License-Identifier: MIT
#pragma once

// REGCORE_INSPECT(type, fields...) defines CAF 0.17's inspect() for a plain
// message struct: the type name plus every field, in declaration order.
// (One inspect() per type is what CAF needs to send it to another node.)

#include <caf/meta/type_name.hpp>

#define REGCORE_INSPECT(type, ...)                                             \
  template <class Inspector>                                                   \
  typename Inspector::result_type inspect(Inspector& f, type& x) {             \
    return f(caf::meta::type_name(#type), __VA_ARGS__);                        \
  }
