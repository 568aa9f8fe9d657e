// SPDX-License-Identifier: MIT
#include "inproc_driver.hpp"

#include <deque>
#include <future>
#include <memory>
#include <vector>

#include "actors/engine.hpp"
#include "actors/journal.hpp"

#include <filesystem>
#include <iostream>
#include "core/errc.hpp"
#include "messages/error.hpp"
#include "messages/types.hpp"

#include <caf/all.hpp>

namespace regcore::load {

namespace {

using lgo_atom = caf::atom_constant<caf::atom("lgo")>;
using ltick_atom = caf::atom_constant<caf::atom("ltick")>;
using lexpire_atom = caf::atom_constant<caf::atom("lexpire")>;

/// What the driver shares with the thread that started it.
struct shared {
  options opt;
  plan pl;
  recorder* rec = nullptr;
  ack_log* acks = nullptr;
  service_actor svc;
  std::promise<std::string> done;
};

enum class phase : uint8_t { setup_register, setup_subscribe, measure, finished };

/// A presence publisher: at most one update in flight, so "the NOTIFY that
/// carries update k" is well defined; later due updates wait in `backlog`
/// (their latency still counts from their due time).
struct publisher {
  uint64_t seq = 0;
  bool busy = false;
  bool replied = false;
  bool notified = false;
  time_point due{};
  std::string note;
  std::deque<time_point> backlog;
};

struct drv_state {
  std::shared_ptr<shared> sh;
  phase ph = phase::setup_register;
  uint64_t setup_next = 0;
  uint64_t setup_done = 0;
  uint64_t outstanding = 0;
  std::optional<pacer> pace;
  bool tick_pending = false;
  uint64_t setup_errors = 0;
  std::vector<publisher> pubs;
  uint64_t mixed_refresh_next = 0;
  uint64_t mixed_publish_next = 0;
  static inline const char* name = "registrar-load.driver";
};

using drv = caf::stateful_actor<drv_state>*;

// -- names ------------------------------------------------------------------------

std::string domain_of(const options& o) {
  return o.domain.empty() ? "example.com" : o.domain;
}

std::string user_aor(const options& o, uint64_t u) {
  return "sip:" + user_name(o, u) + "@" + domain_of(o);
}

std::string contact_of(const options& o, uint64_t u, uint32_t d) {
  return "sip:" + user_name(o, u) + "." + std::to_string(d)
         + "@127.0.0.1:5060";
}

std::string publisher_aor(const options& o, uint32_t p) {
  // Mixed: the publishers are the first registered users.
  if (o.sc == scenario::mixed)
    return user_aor(o, p);
  return "sip:" + o.user_prefix + "p" + std::to_string(p) + "@" + domain_of(o);
}

std::string watcher_aor(const options& o, uint64_t w) {
  return "sip:" + o.user_prefix + "w" + std::to_string(w) + "@" + domain_of(o);
}

register_request make_register(const options& o, uint64_t binding, uint32_t expires) {
  register_request r;
  auto u = binding / o.devices;
  auto d = static_cast<uint32_t>(binding % o.devices);
  r.aor = user_aor(o, u);
  contact_request c;
  c.uri = contact_of(o, u, d);
  c.expires = expires;
  r.contacts.push_back(std::move(c));
  r.expires = expires;
  r.received = "127.0.0.1:5060";
  r.user_agent = "registrar-load";
  r.presence_enabled = true; // what the SIP edge sets
  return r;
}

/// "423" for an engine error with a SIP status, else CAF's name for it.
std::string error_key(const caf::error& err) {
  if (err.category() == messages::error_category)
    return std::to_string(core::sip_status(static_cast<core::errc>(err.code())));
  if (err == caf::sec::request_timeout)
    return "timeout";
  return "caf:" + caf::to_string(err);
}

std::chrono::milliseconds timeout_of(const options& o) {
  return std::chrono::milliseconds{static_cast<int64_t>(o.timer_b * 1000)};
}

void pump(drv self);

void log_ack(drv self, const register_request& req, const register_reply& rep) {
  auto& acks = *self->state.sh->acks;
  if (!acks.enabled())
    return;
  for (auto& c : req.contacts) {
    uint32_t granted = 0;
    for (auto& b : rep.bindings)
      if (b.uri == c.uri)
        granted = b.expires;
    acks.write("REGISTER", req.aor, c.uri, c.expires && *c.expires == 0 ? 0 : granted);
  }
}

// -- setup (not measured) ------------------------------------------------------------

void setup_done_one(drv self, bool ok) {
  auto& st = self->state;
  --st.outstanding;
  ++st.setup_done;
  st.sh->rec->setup_done.fetch_add(1, std::memory_order_relaxed);
  if (!ok)
    ++st.setup_errors;
  pump(self);
}

void issue_setup_register(drv self, uint64_t binding) {
  auto& o = self->state.sh->opt;
  ++self->state.outstanding;
  self->request(self->state.sh->svc, timeout_of(o), make_register(o, binding, o.expires))
    .then([=](register_reply&) { setup_done_one(self, true); },
          [=](caf::error&) { setup_done_one(self, false); });
}

void issue_setup_subscribe(drv self, uint64_t k) {
  auto& o = self->state.sh->opt;
  ++self->state.outstanding;
  subscribe_request req;
  req.watcher = watcher_aor(o, k);
  req.target = publisher_aor(o, static_cast<uint32_t>(k / o.watchers));
  req.expires = o.expires;
  self->request(self->state.sh->svc, timeout_of(o), std::move(req))
    .then([=](subscribe_reply&) { setup_done_one(self, true); },
          [=](caf::error&) { setup_done_one(self, false); });
}

// -- measured operations -------------------------------------------------------------

void measured_done(drv self) {
  --self->state.outstanding;
  pump(self);
}

/// Register-like operation i: new / refresh / remove, alone or in a batch.
void issue_register_op(drv self, uint64_t i, time_point due) {
  auto& st = self->state;
  auto& o = st.sh->opt;
  uint64_t bindings = o.users * o.devices;
  uint32_t expires = o.sc == scenario::unregister ? 0 : o.expires;
  auto binding_of = [&](uint64_t k) {
    return o.sc == scenario::refresh ? k % bindings : k;
  };
  auto rec = st.sh->rec;
  ++st.outstanding;
  if (o.batch > 0) {
    register_batch_request batch;
    auto first = i * o.batch;
    auto last = std::min(first + o.batch, st.sh->pl.measured);
    for (auto k = first; k < last; ++k)
      batch.requests.push_back(make_register(o, binding_of(k), expires));
    auto reqs = std::make_shared<std::vector<register_request>>();
    if (st.sh->acks->enabled())
      *reqs = batch.requests;
    auto n = batch.requests.size();
    self->request(st.sh->svc, timeout_of(o), std::move(batch))
      .then(
        [=](register_batch_reply& rep) {
          auto now = clock_type::now();
          uint64_t ok = 0;
          for (size_t k = 0; k < rep.results.size(); ++k) {
            auto& r = rep.results[k];
            if (!r.error) {
              ++ok;
              if (k < reqs->size())
                log_ack(self, (*reqs)[k], r.reply);
            } else {
              rec->failure(due, now, error_key(r.error));
            }
          }
          rec->success(due, now, ok);
          measured_done(self);
        },
        [=](caf::error& err) {
          rec->failure(due, clock_type::now(), error_key(err), n);
          measured_done(self);
        });
    return;
  }
  auto req = make_register(o, binding_of(i), expires);
  auto keep = st.sh->acks->enabled() ? std::make_shared<register_request>(req) : nullptr;
  self->request(st.sh->svc, timeout_of(o), std::move(req))
    .then(
      [=](register_reply& rep) {
        rec->success(due, clock_type::now());
        if (keep)
          log_ack(self, *keep, rep);
        measured_done(self);
      },
      [=](caf::error& err) {
        rec->failure(due, clock_type::now(), error_key(err));
        measured_done(self);
      });
}

void finish_update(drv self, uint32_t p);

void start_update(drv self, uint32_t p, time_point due) {
  auto& st = self->state;
  auto& o = st.sh->opt;
  auto& pub = st.pubs[p];
  pub.busy = true;
  pub.replied = false;
  // Mixed mode measures the update's reply only (nobody listens to the bus).
  pub.notified = o.sc == scenario::mixed;
  pub.due = due;
  pub.note = "rlk-" + std::to_string(p) + "-" + std::to_string(++pub.seq);
  presence_update_request req;
  req.aor = publisher_aor(o, p);
  req.device_id = "load";
  req.status = pub.seq % 2 ? core::extended_status::available : core::extended_status::away;
  req.note = pub.note;
  auto rec = st.sh->rec;
  auto seq = pub.seq;
  // The reply and the notification may both be lost: give up after timer B.
  self->delayed_send(self, timeout_of(o), lexpire_atom::value, p, seq);
  self->request(st.sh->svc, timeout_of(o), std::move(req))
    .then(
      [=](presence_reply&) {
        auto& pb = self->state.pubs[p];
        if (pb.seq != seq || !pb.busy)
          return;
        pb.replied = true;
        if (pb.notified)
          finish_update(self, p);
      },
      [=](caf::error& err) {
        auto& pb = self->state.pubs[p];
        if (pb.seq != seq || !pb.busy)
          return;
        rec->failure(pb.due, clock_type::now(), error_key(err));
        pb.busy = false;
        finish_update(self, p);
      });
}

/// The update of publisher p is complete (or failed): record, start the next.
void finish_update(drv self, uint32_t p) {
  auto& st = self->state;
  auto& pub = st.pubs[p];
  if (pub.busy) {
    st.sh->rec->success(pub.due, clock_type::now());
    pub.busy = false;
  }
  --st.outstanding;
  if (!pub.backlog.empty()) {
    auto due = pub.backlog.front();
    pub.backlog.pop_front();
    start_update(self, p, due);
  }
  pump(self);
}

void issue_update(drv self, uint32_t p, time_point due) {
  auto& st = self->state;
  ++st.outstanding;
  auto& pub = st.pubs[p];
  if (pub.busy)
    pub.backlog.push_back(due);
  else
    start_update(self, p, due);
}

void issue_measured(drv self, uint64_t i, time_point due) {
  auto& st = self->state;
  auto& o = st.sh->opt;
  switch (o.sc) {
    case scenario::register_:
    case scenario::refresh:
    case scenario::unregister:
    case scenario::auto_buddy:
      issue_register_op(self, i, due);
      break;
    case scenario::presence:
      issue_update(self, static_cast<uint32_t>(i % o.publishers), due);
      break;
    case scenario::mixed: {
      // Deterministic interleaving: a share `s` of the operations are
      // presence changes, the rest refreshes of the users in turn.
      double refresh_rate = static_cast<double>(o.users) / o.refresh_interval;
      double s = o.presence_rate / (o.presence_rate + refresh_rate);
      bool publish = o.publishers > 0 && o.presence_rate > 0
                     && static_cast<uint64_t>(static_cast<double>(i + 1) * s)
                          > static_cast<uint64_t>(static_cast<double>(i) * s);
      if (publish) {
        issue_update(self, static_cast<uint32_t>(st.mixed_publish_next++ % o.publishers), due);
      } else {
        // A refresh of the next user's only binding (devices = 1 in mixed).
        auto k = st.mixed_refresh_next++ % o.users;
        ++st.outstanding;
        auto rec = st.sh->rec;
        self->request(st.sh->svc, timeout_of(o), make_register(o, k, o.expires))
          .then(
            [=](register_reply&) {
              rec->success(due, clock_type::now());
              measured_done(self);
            },
            [=](caf::error& err) {
              rec->failure(due, clock_type::now(), error_key(err));
              measured_done(self);
            });
      }
      break;
    }
    case scenario::verify:
      break; // SIP mode only (main rejects it in engine mode)
  }
}

/// Auto-buddy check: the buddy list of a few users must hold every other user.
void check_buddies(drv self) {
  auto& st = self->state;
  auto& o = st.sh->opt;
  auto registered = st.sh->pl.measured; // auto-buddy: bounded by --users
  auto n = std::min<uint64_t>(registered, 10);
  auto pending = std::make_shared<uint64_t>(n);
  auto rec = st.sh->rec;
  auto finish = [=] {
    if (--*pending == 0) {
      self->state.sh->done.set_value({});
      self->quit();
    }
  };
  auto expected = registered - 1;
  for (uint64_t k = 0; k < n; ++k) {
    auto u = k * (registered / n);
    self->request(st.sh->svc, timeout_of(o), get_buddy_list_request{user_aor(o, u)})
      .then(
        [=](user_list& l) {
          rec->count(l.users.size() == expected ? "buddy_check_ok" : "buddy_check_failed");
          finish();
        },
        [=](caf::error&) {
          rec->count("buddy_check_failed");
          finish();
        });
  }
}

void finish(drv self) {
  auto& st = self->state;
  st.ph = phase::finished;
  st.sh->rec->end(clock_type::now());
  if (st.setup_errors)
    st.sh->rec->count("setup_errors", st.setup_errors);
  if (st.sh->opt.sc == scenario::auto_buddy && st.sh->pl.measured > 1) {
    check_buddies(self);
    return;
  }
  st.sh->done.set_value({});
  self->quit();
}

void start_measure(drv self) {
  auto& st = self->state;
  auto& o = st.sh->opt;
  st.ph = phase::measure;
  auto limit = st.sh->pl.measured;
  if (o.batch > 0 && limit != UINT64_MAX)
    limit = (limit + o.batch - 1) / o.batch;
  auto rate = o.rate;
  if (o.sc == scenario::mixed && rate <= 0)
    rate = static_cast<double>(o.users) / o.refresh_interval + o.presence_rate;
  if (o.batch > 0 && rate > 0)
    rate /= o.batch;
  auto now = clock_type::now();
  st.pace.emplace(rate, o.effective_concurrency(), limit, now, o.duration);
  st.sh->rec->set_phase("measure", st.sh->pl.measured == UINT64_MAX ? 0 : st.sh->pl.measured);
  st.sh->rec->begin(now);
}

void pump(drv self) {
  auto& st = self->state;
  auto& o = st.sh->opt;
  auto& pl = st.sh->pl;
  if (st.ph == phase::setup_register) {
    while (st.outstanding < o.setup_concurrency && st.setup_next < pl.setup_bindings)
      issue_setup_register(self, st.setup_next++);
    if (st.setup_done < pl.setup_bindings)
      return;
    st.ph = phase::setup_subscribe;
    st.setup_next = 0;
    st.setup_done = 0;
    st.sh->rec->set_phase("setup: subscribe", pl.setup_subscriptions);
    st.sh->rec->setup_done = 0;
  }
  if (st.ph == phase::setup_subscribe) {
    while (st.outstanding < o.setup_concurrency && st.setup_next < pl.setup_subscriptions)
      issue_setup_subscribe(self, st.setup_next++);
    if (st.setup_done < pl.setup_subscriptions)
      return;
    start_measure(self);
  }
  if (st.ph != phase::measure)
    return;
  auto now = clock_type::now();
  while (auto due = st.pace->next(now, st.outstanding))
    issue_measured(self, st.pace->issued() - 1, *due);
  if (st.pace->exhausted(now) && st.outstanding == 0) {
    finish(self);
    return;
  }
  // Open loop, or a closed loop bounded by --duration: wake up in time.
  auto wake = st.pace->next_due();
  if (!wake && o.duration > 0 && !st.pace->exhausted(now))
    wake = now + std::chrono::milliseconds{50};
  if (wake && !st.tick_pending) {
    st.tick_pending = true;
    auto delay = *wake > now ? *wake - now : clock_type::duration::zero();
    self->delayed_send(self, std::chrono::duration_cast<std::chrono::microseconds>(delay),
                       ltick_atom::value);
  }
}

/// A NotifyRequired event: one presence change of one publisher, listing
/// every watcher dialog. It completes the update whose note it carries when
/// it lists all of the publisher's watchers.
void on_notify(drv self, const notify_required_event& ev) {
  auto& st = self->state;
  auto& o = st.sh->opt;
  st.sh->rec->count("notify_required_events");
  // Publisher index from the AOR "sip:<prefix>p<k>@...".
  auto at = ev.target.find('@');
  auto head = "sip:" + o.user_prefix + "p";
  if (ev.target.compare(0, head.size(), head) != 0 || at == std::string::npos)
    return;
  auto p = std::stoul(ev.target.substr(head.size(), at - head.size()));
  if (p >= st.pubs.size())
    return;
  auto& pub = st.pubs[p];
  if (!pub.busy || pub.notified)
    return;
  if (ev.body.find(pub.note + "<") == std::string::npos)
    return;
  st.sh->rec->count("notifications", ev.targets.size());
  if (ev.targets.size() < o.watchers)
    return;
  pub.notified = true;
  if (pub.replied)
    finish_update(self, static_cast<uint32_t>(p));
}

caf::behavior driver(drv self, std::shared_ptr<shared> sh) {
  self->state.sh = sh;
  self->state.pubs.resize(sh->opt.publishers);
  return {
    [=](lgo_atom) {
      auto& st = self->state;
      st.sh->rec->set_phase("setup: register", st.sh->pl.setup_bindings);
      if (st.sh->opt.sc != scenario::presence) {
        pump(self);
        return;
      }
      // Presence: see every NotifyRequired (one per change, all watchers).
      self->request(st.sh->svc, timeout_of(st.sh->opt),
                    bus_subscribe{caf::actor_cast<caf::actor>(self),
                                  event_bit(event_kind::notify_required)})
        .then([=](caf::ok_atom) { pump(self); },
              [=](caf::error& err) {
                self->state.sh->done.set_value("bus_subscribe: " + caf::to_string(err));
                self->quit();
              });
    },
    [=](ltick_atom) {
      self->state.tick_pending = false;
      pump(self);
    },
    [=](lexpire_atom, uint32_t p, uint64_t seq) {
      auto& pb = self->state.pubs[p];
      if (pb.seq != seq || !pb.busy)
        return;
      self->state.sh->rec->failure(pb.due, clock_type::now(),
                                   pb.replied ? "notify_timeout" : "timeout");
      pb.busy = false;
      finish_update(self, p);
    },
    [=](event_batch& batch) {
      for (auto& m : batch.events)
        if (m.match_elements<notify_required_event>())
          on_notify(self, m.get_as<notify_required_event>(0));
      if (auto sender = self->current_sender())
        self->send(caf::actor_cast<caf::actor>(sender), event_ack{});
    },
  };
}

} // namespace

std::string run_engine(const options& opt, recorder& rec, ack_log& acks,
                       const std::function<void()>& idle) {
  caf::actor_system_config cfg;
  messages::register_types(cfg);
  if (opt.threads > 0)
    cfg.set("scheduler.max-threads", static_cast<size_t>(opt.threads));
  std::string result;
  {
    caf::actor_system sys{cfg};
    actors::engine_config ec;
    if (opt.shards > 0)
      ec.shards = opt.shards;
    actors::engine eng;
    if (opt.durability == "off") {
      eng = actors::spawn_engine(sys, ec);
    } else {
      // The journal of a persistent engine (the durability issue's figures:
      // the same scenario with off / async / sync).
      ec.persistence = opt.durability == "sync" ? durability::sync : durability::async;
      std::error_code fs_err;
      std::filesystem::create_directories(opt.data_dir, fs_err);
      std::string err;
      // Counted from the open: it folds what the journal's log still holds.
      auto started = std::chrono::steady_clock::now();
      auto j = actors::journal::open(opt.data_dir + "/registrar.db", ec.persistence, err);
      if (!j)
        return "journal: " + err;
      if (!j->open_warning().empty())
        std::cerr << "registrar-load: warning: " << j->open_warning() << "\n";
      auto e = actors::spawn_engine(sys, ec, std::shared_ptr<actors::journal>{std::move(j)});
      if (!e)
        return "journal: " + sys.render(e.error());
      eng = std::move(*e);
      {
        // Ready to serve once every shard has taken its users over (the
        // restore is each shard's first message; stats comes after it).
        caf::scoped_actor self{sys};
        for (auto& shard : eng.refs->shards)
          self->request(shard, caf::infinite, stats_atom::value)
            .receive([](const shard_stats&) {}, [](const caf::error&) {});
      }
      std::cerr << "registrar-load: restored " << eng.restored_users << " users in "
                << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count()
                << " ms\n";
    }
    auto sh = std::make_shared<shared>();
    sh->opt = opt;
    sh->pl = plan::of(opt);
    sh->rec = &rec;
    sh->acks = &acks;
    sh->svc = eng.service;
    auto fut = sh->done.get_future();
    auto d = sys.spawn(driver, sh);
    caf::anon_send(d, lgo_atom::value);
    while (fut.wait_for(std::chrono::milliseconds{200}) != std::future_status::ready)
      idle();
    result = fut.get();
    eng.shutdown();
  }
  return result;
}

} // namespace regcore::load
