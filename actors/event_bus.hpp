// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

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
/// When `interest` is set, the bus keeps it equal to the union of its
/// subscribers' masks (see engine_refs::interest).
event_bus_actor spawn_event_bus(caf::actor_system& sys, event_bus_config cfg = {},
                                std::shared_ptr<std::atomic<uint32_t>> interest = nullptr);

} // namespace regcore::actors
