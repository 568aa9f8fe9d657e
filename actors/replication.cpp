// SPDX-License-Identifier: MIT
#include "actors/replication.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/journal.hpp"
#include "core/ownership.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

namespace regcore::actors {

namespace {

/// How long a change waits for a replica's confirmation. A request to a
/// node that dies meanwhile is not answered: the wait ends here (and the
/// change counts as done; its copy is re-made for the next routes). Below
/// the SIP edge's 10 s, so the client still gets its 2xx.
constexpr auto replica_timeout = std::chrono::seconds{2};

/// The other members of `key`'s replica set under `t` (indexes).
std::vector<size_t> replicas_of(const route_table& t, const std::string& key,
                                uint32_t copies) {
  std::vector<size_t> result;
  for (auto i : core::replica_set(key, t.names, copies))
    if (i != t.self && t.members[i].replica)
      result.push_back(i);
  return result;
}

/// Sends `rows` to the replicas of their keys under `t`, one batch per node;
/// calls `done()` once every node answered (or failed) and returns the
/// number of batches sent.
template <class Self, class Done>
size_t replicate(Self* self, const route_table& t, uint32_t copies,
                 const std::vector<journal_entry>& rows, Done done) {
  std::map<size_t, replica_batch> per_node;
  for (auto& e : rows) {
    // Only the owner replicates: the rows of a user handed over or taken
    // over elsewhere (its erase row here, a late change) are its new
    // owner's to send.
    if (t.owner(core::stable_hash(e.key)) != t.self)
      continue;
    for (auto i : replicas_of(t, e.key, copies))
      per_node[i].entries.push_back(e);
  }
  if (per_node.empty())
    return 0;
  auto left = std::make_shared<size_t>(per_node.size());
  for (auto& [i, batch] : per_node) {
    auto node = t.members[i].node_id;
    self->request(t.members[i].replica, replica_timeout, std::move(batch))
      .then(
        [=](caf::ok_atom) {
          if (--*left == 0)
            done();
        },
        [=](caf::error& err) {
          // A lost node: its copy is gone anyway; the next routes give the
          // user another replica.
          spdlog::warn("cluster: replica on {} did not confirm: {}", node,
                       self->system().render(err));
          if (--*left == 0)
            done();
        });
  }
  return per_node.size();
}

// -- replicator ----------------------------------------------------------------------

struct replicator_state {
  std::shared_ptr<const engine_refs> refs;
  store_actor local;
  static inline const char* name = "regcore.replicator";
};

using replicator_self = store_actor::stateful_pointer<replicator_state>;

store_actor::behavior_type replicator(replicator_self self,
                                      std::shared_ptr<const engine_refs> refs,
                                      store_actor local) {
  self->state.refs = std::move(refs);
  self->state.local = std::move(local);
  if (self->state.local)
    self->link_to(self->state.local);
  return {
    [=](journal_batch& batch) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      struct pending {
        // One for the local store, one for all the replicas.
        int left = 2;
        caf::error failed;
        caf::typed_response_promise<caf::ok_atom> rp;
      };
      auto p = std::make_shared<pending>();
      p->rp = self->make_response_promise<caf::ok_atom>();
      auto one = [p] {
        if (--p->left > 0)
          return;
        if (p->failed)
          p->rp.deliver(p->failed);
        else
          p->rp.deliver(caf::ok_atom::value);
      };
      size_t sent = 0;
      if (auto t = st.refs->cluster())
        sent = replicate(self, *t, st.refs->cfg->replication, batch.entries, one);
      if (sent == 0)
        one();
      if (st.local)
        self->request(st.local, caf::infinite, std::move(batch))
          .then([=](caf::ok_atom) { one(); },
                [=](caf::error& err) {
                  p->failed = std::move(err);
                  one();
                });
      else
        one();
      return p->rp;
    },
    [=](flush_atom) {
      if (self->state.local)
        self->send(self->state.local, flush_atom::value);
    },
    [=](stats_atom) -> caf::result<uint64_t, uint64_t> {
      if (!self->state.local)
        return {uint64_t{0}, uint64_t{0}};
      return self->delegate(self->state.local, stats_atom::value);
    },
  };
}

// -- replica -------------------------------------------------------------------------

struct replica_state {
  std::shared_ptr<const engine_refs> refs;
  /// The newest row of every user this node holds a copy of.
  std::unordered_map<std::string, std::vector<char>> users;
  /// The same for the presence policies (their users' owners' supervisors
  /// write them).
  std::unordered_map<std::string, std::vector<char>> policies;
  static inline const char* name = "regcore.replica";
};

using replica_self = caf::stateful_actor<replica_state>*;

void take_over(replica_self self) {
  auto& st = self->state;
  // Alone at last (the other node was lost): every copy is ours.
  auto t = st.refs->table();
  if (!t || t->members.empty())
    return;
  auto copies = st.refs->cfg->replication;
  // A copy is taken over (this node owns its key now), kept (still one of
  // its replicas) or dropped (its new replicas get theirs from its owner).
  enum class copy_role { take, keep, drop };
  auto role = [&](const std::string& key) {
    auto set = core::replica_set(key, t->names, copies);
    if (!set.empty() && set.front() == t->self)
      return copy_role::take;
    return std::find(set.begin(), set.end(), t->self) != set.end() ? copy_role::keep
                                                                   : copy_role::drop;
  };
  std::vector<restore_users> parts(st.refs->shards.size());
  size_t moved = 0;
  size_t dropped = 0;
  for (auto i = st.users.begin(); i != st.users.end();) {
    if (auto r = role(i->first); r != copy_role::take) {
      if (r == copy_role::keep) {
        ++i;
      } else {
        i = st.users.erase(i);
        ++dropped;
      }
      continue;
    }
    user_record rec;
    if (from_bytes(std::string_view{i->second.data(), i->second.size()}, rec)
        && rec.aor == i->first) {
      ++moved;
      auto n = static_cast<uint32_t>(parts.size());
      parts[core::shard_of(rec.aor, n)].users.push_back(std::move(rec));
    } else {
      spdlog::error("cluster: unreadable replica row of {}", i->first);
    }
    i = st.users.erase(i);
  }
  // Policies: those of users this node now owns go to its supervisor.
  policy_batch pols;
  for (auto i = st.policies.begin(); i != st.policies.end();) {
    auto r = role(i->first);
    if (r == copy_role::take) {
      set_policy_request p;
      p.aor = i->first;
      if (from_bytes(std::string_view{i->second.data(), i->second.size()}, p.policy))
        pols.policies.push_back(std::move(p));
      else
        spdlog::error("cluster: unreadable replica policy of {}", i->first);
      i = st.policies.erase(i);
    } else if (r == copy_role::drop) {
      i = st.policies.erase(i);
      ++dropped;
    } else {
      ++i;
    }
  }
  if (!pols.policies.empty() && t->members[t->self].subscriptions) {
    spdlog::warn("cluster: took over {} presence policies from their lost owner",
                 pols.policies.size());
    self->send(t->members[t->self].subscriptions, std::move(pols));
  }
  if (dropped > 0)
    spdlog::info("cluster: dropped {} copies this node no longer replicates", dropped);
  if (moved == 0)
    return;
  // A shard merges into a user it already has (one that registered anew
  // while its owner was being replaced: what it has wins) and journals
  // each user, which sends its copy to its new replicas.
  for (size_t k = 0; k < parts.size(); ++k) {
    if (parts[k].users.empty())
      continue;
    parts[k].handed_over = true;
    self->send(st.refs->shards[k], std::move(parts[k]));
  }
  spdlog::warn("cluster: took over {} users from their lost owner", moved);
}

caf::behavior replica(replica_self self, std::shared_ptr<const engine_refs> refs) {
  self->state.refs = std::move(refs);
  return {
    [=](replica_batch& batch) {
      for (auto& e : batch.entries) {
        auto& rows = e.table == journal_table::users ? self->state.users
                                                     : self->state.policies;
        if (e.value.empty())
          rows.erase(e.key);
        else
          rows[e.key] = std::move(e.value);
      }
      return caf::ok_atom::value;
    },
    [=](take_over_atom) { take_over(self); },
    [=](stats_atom) { return static_cast<uint64_t>(self->state.users.size()); },
    [=](caf::get_atom, const std::string& aor) {
      return self->state.users.count(aor) > 0;
    },
  };
}

} // namespace

store_actor spawn_replicator(caf::actor_system& sys, std::shared_ptr<const engine_refs> refs,
                             store_actor local) {
  return sys.spawn(replicator, std::move(refs), std::move(local));
}

caf::actor spawn_replica(caf::actor_system& sys, std::shared_ptr<const engine_refs> refs) {
  return sys.spawn(replica, std::move(refs));
}

} // namespace regcore::actors
