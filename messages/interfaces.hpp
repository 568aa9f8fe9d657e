// SPDX-License-Identifier: MIT
#pragma once

// Typed actor interfaces of the engine. A handle type is named <x>_actor.

#include "messages/atoms.hpp"
#include "messages/event_messages.hpp"
#include "messages/expiry_messages.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace regcore {

/// The single timer source of the engine (actors/expiry_supervisor.hpp).
using expiry_supervisor_actor = caf::typed_actor<
  caf::reacts_to<expiry_schedule>,
  caf::reacts_to<tick_atom, core::time_point>,
  caf::replies_to<stats_atom>::with<expiry_stats>>;

/// The event bus (actors/event_bus.hpp): typed events to host subscribers.
using event_bus_actor = caf::typed_actor<
  caf::reacts_to<publish_event>,
  caf::replies_to<bus_subscribe>::with<caf::ok_atom>,
  caf::reacts_to<bus_unsubscribe>,
  caf::reacts_to<event_ack>,
  caf::replies_to<stats_atom>::with<bus_stats>>;

} // namespace regcore
