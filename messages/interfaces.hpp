// SPDX-License-Identifier: MIT
#pragma once

// Typed actor interfaces of the engine. A handle type is named <x>_actor.

#include "messages/atoms.hpp"
#include "messages/expiry_messages.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace regcore {

/// The single timer source of the engine (actors/expiry_supervisor.hpp).
using expiry_supervisor_actor = caf::typed_actor<
  caf::reacts_to<expiry_schedule>,
  caf::reacts_to<tick_atom, core::time_point>,
  caf::replies_to<stats_atom>::with<expiry_stats>>;

} // namespace regcore
