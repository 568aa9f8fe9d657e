// SPDX-License-Identifier: MIT
#include "actors/engine_refs.hpp"

#include "actors/journal.hpp"

#include <caf/all.hpp>

namespace regcore::actors {

core::duration wall_offset(const engine_config& cfg, core::time_point now) {
  auto wall = cfg.wall_clock ? cfg.wall_clock() : std::chrono::system_clock::now();
  return std::chrono::duration_cast<core::duration>(wall.time_since_epoch())
         - now.time_since_epoch();
}

journal_entry user_entry(const user_logic& u, const engine_config& cfg,
                         core::time_point now) {
  journal_entry e;
  e.table = journal_table::users;
  e.key = u.aor();
  if (!u.empty())
    e.value = to_bytes(u.snapshot(wall_offset(cfg, now)));
  return e;
}

void send_effects(const caf::actor& sender, const engine_refs& refs,
                  user_effects&& fx) {
  for (auto& ev : fx.events)
    caf::send_as(sender, refs.bus, std::move(ev));
  for (auto& x : fx.index) {
    caf::send_as(sender, refs.index_shard(x.key_hash), std::move(x));
  }
  for (auto& x : fx.roster)
    caf::send_as(sender, refs.roster, std::move(x));
  for (auto& x : fx.watching_removed) {
    caf::send_as(sender, refs.shard_for(x.watcher), std::move(x));
  }
}

} // namespace regcore::actors
