// SPDX-License-Identifier: MIT
#pragma once

// One place that registers every type crossing actor boundaries, under a
// stable name, plus the engine's error category. Every binary (daemon, load
// generator, tests, a host application) calls register_types() on its
// actor_system_config, so all nodes of a cluster agree (CAF 0.17 needs the
// same names on both sides of the middleman).

#include <caf/actor_system_config.hpp>

namespace regcore::messages {

void register_types(caf::actor_system_config& cfg);

} // namespace regcore::messages
