// SPDX-License-Identifier: MIT
#pragma once

// In-process mode: the engine in our own actor_system, driven through its
// service API by one event-based actor (request(...).then(...), a bounded
// number of outstanding requests).

#include <functional>
#include <string>

#include "options.hpp"
#include "stats.hpp"

namespace regcore::load {

/// Runs the scenario of `opt` against a freshly spawned engine. `idle` is
/// called about every 200 ms from the calling thread while the run goes
/// on (progress display). Returns an error message, empty on success (a run
/// with failed operations is a success here: they are in `rec`).
std::string run_engine(const options& opt, recorder& rec, ack_log& acks,
                       const std::function<void()>& idle);

} // namespace regcore::load
