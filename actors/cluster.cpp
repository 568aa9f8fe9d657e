// SPDX-License-Identifier: MIT
#include "actors/cluster.hpp"

#include "messages/cluster_messages.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <fmt/format.h>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace regcore::actors {

namespace {

/// start_cluster_node() -> node: the port it is published on; go.
using start_atom = caf::atom_constant<caf::atom("start")>;
/// The node's timer: look at one connection target again.
using retry_atom = caf::atom_constant<caf::atom("retry")>;

/// A member whose own hello we have: its life and its handles.
struct peer {
  core::cluster_member member;
  node_handles handles;
};

/// An address the node wants to reach: a seed, or a member heard of.
struct target {
  cluster_address addr;
  /// Seeds are retried until reached, and again after their node is lost.
  bool seed = false;
  /// A connect request is under way.
  bool in_flight = false;
  /// Checks that found the target still unreached.
  uint32_t failures = 0;
  /// The node actor the last connect returned; reached once its hello bound
  /// it (i.e. once it is in `watched`).
  caf::actor_addr reached;
  /// A reached seed: nothing to do until its node is lost.
  bool done = false;
};

struct cluster_state {
  static const char* name;
  cluster_settings settings;
  /// This node's engine, offered to the others in every hello.
  route_member engine;
  caf::actor connector;
  /// Set by the start.
  std::optional<core::membership> view;
  /// Members we hold a handle of, by id (bound by their own hello).
  std::map<std::string, peer> peers;
  /// Every node actor we monitor, and the life it is.
  std::map<caf::actor_addr, core::cluster_member> watched;
  /// Addresses to reach, by to_string(address).
  std::map<std::string, target> targets;
  /// Local subscribers (monitored).
  std::map<caf::actor_addr, caf::actor> subscribers;
  /// A graceful leave is under way: the view no longer changes.
  bool leaving = false;
};

const char* cluster_state::name = "regcore.cluster";

using node_ptr = caf::stateful_actor<cluster_state>*;

cluster_address address_of_member(const core::cluster_member& m) {
  return {m.host, m.port};
}

std::string members_text(const core::membership& view) {
  std::string r;
  for (auto& id : view.ids()) {
    if (!r.empty())
      r += ", ";
    r += id;
  }
  return r;
}

cluster_view make_view(const core::membership& view) {
  return {view.self().id, view.epoch(), view.members()};
}

/// The handles of the live members we hold (this node's first).
std::vector<node_handles> live_handles(node_ptr self) {
  auto& st = self->state;
  std::vector<node_handles> result;
  result.push_back(node_handles{caf::actor_cast<caf::actor>(self), st.engine});
  for (auto& m : st.view->members()) {
    if (m.id == st.view->self().id)
      continue;
    auto p = st.peers.find(m.id);
    if (p != st.peers.end() && p->second.member.incarnation == m.incarnation
        && p->second.handles.node)
      result.push_back(p->second.handles);
  }
  return result;
}

/// Tells the subscribers (no log line).
void tell_subscribers(node_ptr self, membership_change change,
                      const core::cluster_member& subject) {
  auto& st = self->state;
  if (st.subscribers.empty())
    return;
  auto msg = caf::make_message(
    membership_changed{change, subject, make_view(*st.view), live_handles(self)});
  for (auto& kvp : st.subscribers)
    self->send(kvp.second, msg);
}

/// Logs a change of the view and tells the subscribers.
void publish(node_ptr self, membership_change change,
             const core::cluster_member& subject, const std::string& why = {}) {
  auto& st = self->state;
  auto& view = *st.view;
  auto line = fmt::format("cluster: node {} {}{} ({} members: {}; epoch {})",
                          subject.id, to_string(change), why, view.size(),
                          members_text(view), view.epoch());
  if (change == membership_change::lost)
    spdlog::warn("{}", line);
  else
    spdlog::info("{}", line);
  tell_subscribers(self, change, subject);
}

cluster_hello make_hello(node_ptr self, bool reply) {
  auto& view = *self->state.view;
  return {view.self(), node_handles{caf::actor_cast<caf::actor>(self), self->state.engine},
          view.members(), reply};
}

/// Pushes the view to every peer but `except` (the one we heard it from).
void push_gossip(node_ptr self, const std::string& except) {
  auto& st = self->state;
  auto msg
      = caf::make_message(cluster_gossip{st.view->self(), st.view->members()});
  for (auto& kvp : st.peers)
    if (kvp.first != except)
      self->send(kvp.second.handles.node, msg);
}

void schedule_retry(node_ptr self, const std::string& key) {
  self->delayed_send(self, self->state.settings.retry_interval,
                     retry_atom::value, key);
}

/// Asks the connector for the node actor at `addr` and says hello to it;
/// a timer looks again after retry_interval.
void connect_to(node_ptr self, const cluster_address& addr, bool seed) {
  auto& st = self->state;
  auto key = to_string(addr);
  auto i = st.targets.find(key);
  if (i == st.targets.end())
    i = st.targets.emplace(key, target{addr, seed, false, 0, {}, false}).first;
  auto& t = i->second;
  t.seed = t.seed || seed;
  t.done = false;
  if (t.in_flight)
    return;
  t.in_flight = true;
  self->request(st.connector, st.settings.connect_timeout,
                caf::connect_atom::value, addr.host, addr.port)
      .then(
          [=](caf::node_id&, caf::strong_actor_ptr& ptr,
              std::set<std::string>&) {
            auto j = self->state.targets.find(key);
            if (j == self->state.targets.end())
              return;
            j->second.in_flight = false;
            auto hdl = caf::actor_cast<caf::actor>(ptr);
            if (hdl && hdl.address() == self->address()) {
              // Our own address (e.g. one seed list for every node).
              self->state.targets.erase(j);
              return;
            }
            if (hdl) {
              j->second.reached = hdl.address();
              if (!self->state.leaving)
                self->send(hdl, make_hello(self, true));
            }
            schedule_retry(self, key);
          },
          [=](caf::error& err) {
            auto j = self->state.targets.find(key);
            if (j == self->state.targets.end())
              return;
            j->second.in_flight = false;
            spdlog::debug("cluster: cannot reach {} yet: {}", key,
                          self->system().render(err));
            schedule_retry(self, key);
          });
}

/// Takes the members a peer sent; connects to those new to us.
bool merge_and_connect(node_ptr self,
                       const std::vector<core::cluster_member>& members) {
  auto& st = self->state;
  auto changes = st.view->merge(members);
  for (auto& c : changes) {
    publish(self,
            c.result == core::join_result::added ? membership_change::joined
                                                 : membership_change::restarted,
            c.member, " (heard from a peer)");
    auto p = st.peers.find(c.member.id);
    if (p == st.peers.end()
        || p->second.member.incarnation != c.member.incarnation)
      connect_to(self, address_of_member(c.member), false);
  }
  // A peer lists a life we marked down (its connection to us broke, e.g.
  // while one of us was frozen): only that node's own hello can bring it
  // back, so ask it directly; if it is really gone, the attempts fail.
  for (auto& m : members)
    if (m.id != st.view->self().id && st.view->find(m.id) == nullptr
        && m.incarnation != 0 && st.view->dead_up_to(m.id) == m.incarnation)
      connect_to(self, address_of_member(m), false);
  return !changes.empty();
}

/// A seed whose node is gone is looked for again (it may come back).
void rearm_seeds(node_ptr self, const caf::actor_addr& gone) {
  for (auto& kvp : self->state.targets) {
    auto& t = kvp.second;
    if (t.reached != gone)
      continue;
    t.reached = caf::actor_addr{};
    t.failures = 0;
    if (t.seed && t.done) {
      t.done = false;
      schedule_retry(self, kvp.first);
    }
  }
}

/// Forgets the peer entry of `m` (if it is that life).
void drop_peer(node_ptr self, const core::cluster_member& m) {
  auto p = self->state.peers.find(m.id);
  if (p != self->state.peers.end()
      && p->second.member.incarnation == m.incarnation)
    self->state.peers.erase(p);
}

void on_hello(node_ptr self, cluster_hello& h) {
  auto& st = self->state;
  if (st.leaving || !h.handles.node)
    return;
  // A hello of a life we marked down (a broken connection, not a crash:
  // it talks to us) revives it; see core::membership::revive.
  auto was_down = h.from.incarnation != 0
                  && st.view->dead_up_to(h.from.id) == h.from.incarnation;
  auto res = st.view->revive(h.from);
  if (res == core::join_result::conflict) {
    spdlog::error("cluster: {} claims this node's id (this node is {}); "
                  "ignored",
                  core::to_string(h.from), core::to_string(st.view->self()));
    return;
  }
  if (res == core::join_result::stale) {
    spdlog::debug("cluster: hello from a stale life {}",
                  core::to_string(h.from));
    return;
  }
  auto& p = st.peers[h.from.id];
  bool bound = p.member.incarnation != h.from.incarnation || !p.handles.node;
  if (bound)
    p = peer{h.from, h.handles};
  if (st.watched.emplace(h.handles.node.address(), h.from).second)
    self->monitor(h.handles.node);
  if (core::changed(res))
    publish(self,
            res == core::join_result::added ? membership_change::joined
                                            : membership_change::restarted,
            h.from, was_down ? " (back after it was lost)" : "");
  else if (bound)
    tell_subscribers(self, membership_change::snapshot, h.from); // its handles
  auto merged = merge_and_connect(self, h.members);
  if (core::changed(res) || merged)
    push_gossip(self, h.from.id);
  if (h.reply)
    self->send(h.handles.node, make_hello(self, false));
}

void on_gossip(node_ptr self, cluster_gossip& g) {
  if (self->state.leaving)
    return;
  if (merge_and_connect(self, g.members))
    push_gossip(self, g.from.id);
}

caf::ok_atom on_leave(node_ptr self, cluster_leave& l) {
  auto& st = self->state;
  drop_peer(self, l.who);
  if (st.leaving)
    return caf::ok_atom::value;
  if (st.view->mark_down(l.who.id, l.who.incarnation))
    publish(self, membership_change::left, l.who);
  for (auto& kvp : st.watched)
    if (kvp.second == l.who) {
      rearm_seeds(self, kvp.first);
      break;
    }
  return caf::ok_atom::value;
}

void on_retry(node_ptr self, const std::string& key) {
  auto& st = self->state;
  auto i = st.targets.find(key);
  if (i == st.targets.end() || st.leaving)
    return;
  auto& t = i->second;
  if (t.in_flight || t.done)
    return;
  if (t.reached && st.watched.count(t.reached) > 0) {
    // Reached: its hello bound it; its down_msg will tell the rest.
    if (t.seed)
      t.done = true;
    else
      st.targets.erase(i);
    return;
  }
  ++t.failures;
  if (!t.seed && t.failures >= st.settings.connect_attempts) {
    // Heard of, never reached: each life at that address that we hold no
    // handle of counts as lost.
    std::vector<core::cluster_member> unreachable;
    for (auto& m : st.view->members()) {
      if (m.id == st.view->self().id || address_of_member(m) != t.addr)
        continue;
      auto p = st.peers.find(m.id);
      if (p == st.peers.end() || p->second.member.incarnation != m.incarnation)
        unreachable.push_back(m);
    }
    auto attempts = t.failures;
    st.targets.erase(i);
    for (auto& m : unreachable)
      if (st.view->mark_down(m.id, m.incarnation))
        publish(self, membership_change::lost, m,
                fmt::format(" (unreachable after {} attempts)", attempts));
    return;
  }
  connect_to(self, t.addr, t.seed);
}

void on_down(node_ptr self, caf::down_msg& dm) {
  auto& st = self->state;
  if (st.subscribers.erase(dm.source) > 0)
    return;
  auto w = st.watched.find(dm.source);
  if (w == st.watched.end())
    return;
  auto m = w->second;
  st.watched.erase(w);
  drop_peer(self, m);
  if (st.leaving)
    return;
  if (st.view->mark_down(m.id, m.incarnation)) {
    publish(self, membership_change::lost, m,
            " (" + self->system().render(dm.reason) + ")");
    // A broken connection is not always a dead process (a frozen one, a
    // network cut): knock a few times; its hello would revive it.
    connect_to(self, address_of_member(m), false);
  }
  rearm_seeds(self, dm.source);
}

/// Tells every peer that this node leaves; answers `rp` and exits once all
/// have acknowledged or failed.
void leave(node_ptr self, caf::response_promise rp) {
  auto& st = self->state;
  st.leaving = true;
  spdlog::info("cluster: node {} leaving, telling {} members",
               st.view->self().id, st.peers.size());
  if (st.peers.empty()) {
    rp.deliver(caf::ok_atom::value);
    self->quit();
    return;
  }
  auto pending = std::make_shared<size_t>(st.peers.size());
  auto shared_rp = std::make_shared<caf::response_promise>(std::move(rp));
  auto one_done = [=] {
    if (--*pending > 0)
      return;
    shared_rp->deliver(caf::ok_atom::value);
    self->quit();
  };
  cluster_leave msg{st.view->self()};
  for (auto& kvp : st.peers)
    self->request(kvp.second.handles.node, st.settings.connect_timeout, msg)
        .then([=](caf::ok_atom) { one_done(); },
              [=](caf::error&) { one_done(); });
}

void on_subscribe(node_ptr self, cluster_subscribe& s) {
  auto& st = self->state;
  if (!s.subscriber)
    return;
  if (st.subscribers.emplace(s.subscriber.address(), s.subscriber).second)
    self->monitor(s.subscriber);
  self->send(s.subscriber,
             membership_changed{membership_change::snapshot, st.view->self(),
                                make_view(*st.view), live_handles(self)});
}

caf::behavior running(node_ptr self) {
  return {
      [=](cluster_hello& h) { on_hello(self, h); },
      [=](cluster_gossip& g) { on_gossip(self, g); },
      [=](cluster_leave& l) { return on_leave(self, l); },
      [=](caf::get_atom) { return make_view(*self->state.view); },
      [=](cluster_subscribe& s) { on_subscribe(self, s); },
      [=](cluster_unsubscribe& s) {
        self->state.subscribers.erase(s.subscriber.address());
      },
      [=](retry_atom, const std::string& key) { on_retry(self, key); },
      [=](caf::leave_atom) {
        auto rp = self->make_response_promise();
        if (!self->state.leaving) // a second leave gets no answer
          leave(self, std::move(rp));
      },
  };
}

/// Starts the node as `port` at its listen host: the view, then the seeds.
void start(node_ptr self, uint16_t port) {
  auto& st = self->state;
  auto& cfg = st.settings;
  cfg.listen.port = port;
  st.view.emplace(core::cluster_member{cfg.node_id, cfg.listen.host, port,
                                       cfg.incarnation});
  std::string seeds;
  for (auto& a : cfg.seeds)
    seeds += " " + to_string(a);
  spdlog::info("cluster: node {} up at {} (incarnation {}), seeds:{} "
               "(1 members: {}; epoch 1)",
               cfg.node_id, to_string(cfg.listen), cfg.incarnation,
               seeds.empty() ? std::string{" none"} : seeds, cfg.node_id);
  for (auto& a : cfg.seeds)
    if (a != cfg.listen)
      connect_to(self, a, true);
}

caf::behavior cluster_node(node_ptr self, cluster_settings s, route_member engine,
                           caf::actor connector, bool wait_for_start) {
  self->state.settings = std::move(s);
  self->state.engine = std::move(engine);
  self->state.connector = std::move(connector);
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  if (!wait_for_start) {
    start(self, self->state.settings.listen.port);
    return running(self);
  }
  // Published first, started with the port it got: what arrives before the
  // start stays in the mailbox until then.
  self->set_default_handler(caf::skip);
  return {
      [=](start_atom, uint16_t port) {
        self->set_default_handler(caf::print_and_drop);
        start(self, port);
        self->become(running(self));
      },
  };
}

/// This life's incarnation: the wall clock and a random salt.
void pick_incarnation(cluster_settings& s) {
  if (s.incarnation != 0)
    return;
  std::random_device rd;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  s.incarnation = core::make_incarnation(static_cast<uint64_t>(ms),
                                         static_cast<uint16_t>(rd()));
}

} // namespace

caf::actor spawn_cluster_node(caf::actor_system& sys, cluster_settings s,
                              caf::actor connector, route_member engine) {
  pick_incarnation(s);
  return sys.spawn(cluster_node, std::move(s), std::move(engine), std::move(connector),
                   false);
}

caf::expected<started_cluster_node> start_cluster_node(caf::actor_system& sys,
                                                       cluster_settings s,
                                                       route_member engine) {
  pick_incarnation(s);
  auto& mm = sys.middleman();
  auto connector = caf::actor_cast<caf::actor>(mm.actor_handle());
  auto node = sys.spawn(cluster_node, s, std::move(engine), connector, true);
  auto port = mm.publish(node, s.listen.port, s.listen.host.c_str(), true);
  if (!port) {
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
    return caf::make_error(caf::sec::cannot_open_port,
                           "cluster: cannot listen on " + to_string(s.listen)
                               + ": " + sys.render(port.error()));
  }
  caf::anon_send(node, start_atom::value, *port);
  started_cluster_node r;
  r.node = node;
  r.self = {s.node_id, s.listen.host, *port, s.incarnation};
  return r;
}

bool leave_cluster(caf::actor_system& sys, const caf::actor& node,
                   std::chrono::milliseconds timeout) {
  bool ok = false;
  {
    caf::scoped_actor self{sys};
    self->request(node, timeout, caf::leave_atom::value)
        .receive([&](caf::ok_atom) { ok = true; }, [&](caf::error&) {});
  }
  caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  return ok;
}

} // namespace regcore::actors
