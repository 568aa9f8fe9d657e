// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>

#include "messages/interfaces.hpp"

#include <caf/actor_system.hpp>

namespace regcore::actors {

/// Delivery policy of the event bus (per subscriber).
struct event_bus_config {
  /// Most events in one event_batch.
  size_t max_batch = 256;
  /// Batches sent but not yet acknowledged (event_ack) before the bus waits.
  size_t max_in_flight = 2;
  /// Events queued for one subscriber; beyond it the oldest are dropped and
  /// counted (reported in the next batch's `dropped`).
  size_t max_queue = 65536;
};

/// Spawns the event bus. Subscribers send bus_subscribe{self, mask}, receive
/// event_batch messages and must answer each with event_ack; a subscriber
/// that stops acknowledging only ever loses its own oldest events, never
/// slows the publishers. Subscribers are monitored and dropped when they die.
event_bus_actor spawn_event_bus(caf::actor_system& sys,
                                event_bus_config cfg = {});

} // namespace regcore::actors
