// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>

#include "messages/interfaces.hpp"

#include <caf/actor_system.hpp>

namespace regcore::actors {

/// Settings of the expiry supervisor.
struct expiry_config {
  /// Deadlines are rounded up to this granularity, so entries due within the
  /// same slot fire in one tick (one expiry_due per owner). 1 s matches the
  /// whole-second expiries of SIP.
  std::chrono::milliseconds granularity{1000};
  /// Held: deadlines are kept, but none fires until `resume_atom` (a
  /// restart: nothing expires, and so nothing is journaled, while
  /// spawn_engine is still reading the journal).
  bool held = false;
};

/// Spawns the expiry supervisor: a min-heap of deadlines and one armed timer
/// (for the earliest slot), instead of a CAF timer per contact. See
/// messages/expiry_messages.hpp for the protocol.
expiry_supervisor_actor spawn_expiry_supervisor(caf::actor_system& sys,
                                                expiry_config cfg = {});

} // namespace regcore::actors
