// SPDX-License-Identifier: MIT
#include "actors/cluster_router.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "messages/cluster_messages.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

namespace regcore::actors {

namespace {

struct router_state {
  engine eng;
  std::string node_id;
  caf::actor edge;
  /// The members (id, node actor) of the routes given last: a restarted
  /// member has a new node actor and new engine handles.
  std::vector<std::pair<std::string, caf::actor_addr>> routed;
  static inline const char* name = "regcore.cluster_router";
};

void on_change(caf::stateful_actor<router_state>* self, const membership_changed& x) {
  auto& st = self->state;
  cluster_routes routes;
  routes.epoch = x.view.epoch;
  std::vector<std::pair<std::string, caf::actor_addr>> ids;
  for (auto& h : x.handles) {
    if (h.engine.shards.empty())
      continue;
    routes.members.push_back(h.engine);
    ids.emplace_back(h.engine.node_id, h.node.address());
  }
  std::sort(ids.begin(), ids.end());
  if (ids == st.routed)
    return;
  if (!st.eng.set_routes(routes, st.node_id)) {
    spdlog::error("cluster: routes of epoch {} refused (this node {} missing, or a "
                  "member without shards or twice)",
                  routes.epoch, st.node_id);
    return;
  }
  std::string names;
  for (auto& id : ids)
    names += (names.empty() ? "" : ", ") + id.first;
  spdlog::info("cluster: routing users over {} members: {} (epoch {})", ids.size(), names,
               routes.epoch);
  st.routed = std::move(ids);
  st.eng.take_over(); // a lost owner's users, from their copies here
  st.eng.rebalance(); // users a (re)joined member owns now go to it
  if (st.edge)
    self->send(st.edge, std::move(routes));
}

caf::behavior cluster_router(caf::stateful_actor<router_state>* self, engine eng,
                             std::string node_id, caf::actor cluster_node,
                             caf::actor edge) {
  auto& st = self->state;
  st.eng = std::move(eng);
  st.node_id = std::move(node_id);
  st.edge = std::move(edge);
  self->send(cluster_node, cluster_subscribe{caf::actor_cast<caf::actor>(self)});
  return {
    [=](membership_changed& x) { on_change(self, x); },
  };
}

} // namespace

caf::actor spawn_cluster_router(caf::actor_system& sys, engine eng, std::string node_id,
                                caf::actor cluster_node, caf::actor edge) {
  return sys.spawn(cluster_router, std::move(eng), std::move(node_id),
                   std::move(cluster_node), std::move(edge));
}

} // namespace regcore::actors
