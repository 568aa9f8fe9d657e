// SPDX-License-Identifier: MIT
#pragma once

// core::errc <-> caf::error. The category atom is "regcore"; the code is the
// errc value; the context is a message (reason, value) so a remote node can
// rebuild the core::error (both nodes register the same category).

#include <string>

#include "core/errc.hpp"

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace regcore::messages {

/// Error category of every engine error.
constexpr caf::atom_value error_category = caf::atom("regcore");

/// Converts a core error into a caf::error (code = errc, context = reason
/// and value).
inline caf::error to_caf_error(const core::error& x) {
  return caf::error{static_cast<uint8_t>(x.code), error_category,
                    caf::make_message(x.reason, x.value)};
}

/// Converts back; errors of other categories map to errc::invalid_state with
/// the rendered CAF error as reason (callers pass a renderer when they have
/// an actor system at hand).
core::error from_caf_error(const caf::error& x);

/// True when `x` is an engine error with code `code`.
inline bool is(const caf::error& x, core::errc code) {
  return x.category() == error_category
         && x.code() == static_cast<uint8_t>(code);
}

/// Human-readable rendering, e.g. "interval_too_brief (Interval Too Brief, 60)".
std::string render_error(uint8_t code, const caf::message& ctx);

} // namespace regcore::messages

namespace regcore::core {

/// Found by ADL: lets handlers `return make_caf_error(...)` style code and
/// makes `caf::error err = core::error{...}` conversions explicit.
inline caf::error make_caf_error(errc code, std::string reason = {},
                                 uint32_t value = 0) {
  return messages::to_caf_error(error{code, std::move(reason), value});
}

} // namespace regcore::core
