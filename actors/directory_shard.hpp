// SPDX-License-Identifier: MIT
#pragma once

#include <memory>

#include "actors/engine_refs.hpp"

#include <caf/actor_system.hpp>

namespace regcore::actors {

/// Spawns one directory shard. It owns the users whose canonical AOR hashes
/// to it (passive users as records it runs itself, active ones as user
/// actors it spawned and forwards to) and the reverse-index entries whose
/// contact key hashes to it. `refs` must be complete (all shards filled in)
/// before the first message reaches the shard.
directory_shard_actor spawn_directory_shard(caf::actor_system& sys,
                                            std::shared_ptr<const engine_refs> refs);

} // namespace regcore::actors
