// SPDX-License-Identifier: MIT
#include "actors/engine_refs.hpp"

#include <caf/all.hpp>

namespace regcore::actors {

void send_effects(const caf::actor& sender, const engine_refs& refs,
                  user_effects&& fx) {
  for (auto& ev : fx.events)
    caf::send_as(sender, refs.bus, std::move(ev));
  for (auto& x : fx.index) {
    auto& shard = refs.shard_for(x.key);
    caf::send_as(sender, shard, std::move(x));
  }
  for (auto& x : fx.roster)
    caf::send_as(sender, refs.roster, std::move(x));
  for (auto& x : fx.watching_removed) {
    auto& shard = refs.shard_for(x.watcher);
    caf::send_as(sender, shard, std::move(x));
  }
}

} // namespace regcore::actors
