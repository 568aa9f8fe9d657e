// SPDX-License-Identifier: MIT
#pragma once

#include <memory>

#include "actors/engine_refs.hpp"
#include "actors/user_logic.hpp"

#include <caf/actor_system.hpp>

namespace regcore::actors {

/// Spawns the actor of an active user, taking over `logic` from its shard.
/// It reports user_status to `shard` when its flags change and when it has
/// become empty; the shard then stops it.
user_actor spawn_user(caf::actor_system& sys, std::shared_ptr<user_logic> logic,
                      std::shared_ptr<const engine_refs> refs,
                      directory_shard_actor shard);

} // namespace regcore::actors
