// SPDX-License-Identifier: MIT
// Engine benchmarks on the real (multi-threaded) scheduler: registrations
// per second through the shards, presence fan-out to W watchers, memory per
// registered user. Figures and commands: docs/performance.md.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "actors/engine.hpp"
#include "actors/engine_refs.hpp"
#include "actors/user_logic.hpp"
#include "core/hash.hpp"
#include "messages/types.hpp"

#include <caf/all.hpp>

using namespace regcore;

namespace {

/// The engine's actor system. REGCORE_BENCH_SCHED="policy threads" (e.g.
/// "sharing 2") overrides CAF's defaults (work stealing, max(4, cores)
/// workers) to compare scheduler settings in one build.
struct bench_config : caf::actor_system_config {
  bench_config() {
    messages::register_types(*this);
    if (auto env = std::getenv("REGCORE_BENCH_SCHED")) {
      std::istringstream in{env};
      std::string policy;
      size_t threads = 0;
      in >> policy >> threads;
      if (!policy.empty())
        set("scheduler.policy", caf::atom_from_string(policy));
      if (threads > 0)
        set("scheduler.max-threads", threads);
    }
  }
};

long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return 0;
}

register_request make_register(size_t i, uint32_t expires = 3600) {
  register_request req;
  req.aor = "sip:user" + std::to_string(i) + "@example.com";
  contact_request c;
  c.uri = "sip:user" + std::to_string(i) + "@192.0.2.10:5060";
  c.expires = expires;
  req.contacts.push_back(std::move(c));
  // Realistic sizes: a 32-character Call-ID and a softphone's User-Agent
  // (both longer than std::string's inline buffer).
  req.call_id = "a84b4c76e66710f2" + std::to_string(1000000000000000ull + i);
  req.cseq = 1;
  req.user_agent = "Linphone/5.1.0 (belle-sip/5.1.0)";
  req.received = "192.0.2.10:5060";
  return req;
}

/// Sends `n` registrations straight to the owning shards with at most
/// `window` outstanding, and reports when all are answered.
caf::behavior driver(caf::event_based_actor* self,
                     std::shared_ptr<const actors::engine_refs> refs, size_t first,
                     size_t n, size_t window, caf::actor done_to) {
  auto sent = std::make_shared<size_t>(0);
  auto answered = std::make_shared<size_t>(0);
  auto errors = std::make_shared<size_t>(0);
  auto send_next = std::make_shared<std::function<void()>>();
  *send_next = [=] {
    auto i = first + (*sent)++;
    auto req = make_register(i);
    auto shard = refs->shard_for(req.aor);
    self->request(shard, caf::infinite, std::move(req))
      .then(
        [=](register_reply&) {
          if (++*answered == n)
            self->send(done_to, *errors);
          else if (*sent < n)
            (*send_next)();
        },
        [=](caf::error&) {
          ++*errors;
          if (++*answered == n)
            self->send(done_to, *errors);
          else if (*sent < n)
            (*send_next)();
        });
  };
  for (size_t i = 0; i < std::min(window, n); ++i)
    (*send_next)();
  return {[](caf::ok_atom) {}};
}

/// Registers users first..first+n-1 with `drivers` concurrent client actors.
size_t run_registrations(caf::actor_system& sys, actors::engine& eng,
                         size_t first, size_t n, size_t window,
                         size_t drivers = 1) {
  caf::scoped_actor self{sys};
  auto per = n / drivers;
  for (size_t d = 0; d < drivers; ++d) {
    auto count = d + 1 == drivers ? n - per * d : per;
    self->spawn(driver, eng.refs, first + per * d, count, window,
                caf::actor_cast<caf::actor>(self));
  }
  size_t errors = 0;
  for (size_t d = 0; d < drivers; ++d)
    self->receive([&](size_t e) { errors += e; });
  return errors;
}

/// Sends registrations first..first+n-1 as register_batch requests of up to
/// `batch` registrations, each for one shard (grouped with shard_for, as a
/// bulk client such as a SIP transport would), with at most `window`
/// batches outstanding; reports the errors when all are answered.
caf::behavior batch_driver(caf::event_based_actor* self,
                           std::shared_ptr<const actors::engine_refs> refs,
                           size_t first, size_t n, size_t batch, size_t window,
                           caf::actor done_to) {
  struct state {
    size_t next = 0;
    size_t answered = 0;
    size_t errors = 0;
    size_t outstanding = 0;
    std::vector<register_batch_request> fill; // one per shard
  };
  auto st = std::make_shared<state>();
  st->next = first;
  st->fill.resize(refs->shards.size());
  for (auto& f : st->fill)
    f.requests.reserve(batch);
  auto end = first + n;
  auto pump = std::make_shared<std::function<void()>>();
  *pump = [=] {
    while (st->outstanding < window) {
      // Fill the shards' batches until one is full (or the users run out,
      // then send what is left).
      size_t ready = st->fill.size();
      while (st->next < end && ready == st->fill.size()) {
        auto req = make_register(st->next++);
        auto s = core::shard_of(req.aor, static_cast<uint32_t>(st->fill.size()));
        st->fill[s].requests.push_back(std::move(req));
        if (st->fill[s].requests.size() >= batch)
          ready = s;
      }
      if (ready == st->fill.size())
        for (size_t s = 0; s < st->fill.size() && ready == st->fill.size(); ++s)
          if (!st->fill[s].requests.empty())
            ready = s;
      if (ready == st->fill.size())
        return;
      auto msg = std::move(st->fill[ready]);
      st->fill[ready] = register_batch_request{};
      st->fill[ready].requests.reserve(batch); // no moves while it fills
      ++st->outstanding;
      self->request(refs->shards[ready], caf::infinite, std::move(msg))
        .then(
          [=](register_batch_reply& r) {
            --st->outstanding;
            for (auto& x : r.results)
              if (x.error)
                ++st->errors;
            st->answered += r.results.size();
            if (st->answered == n)
              self->send(done_to, st->errors);
            else
              (*pump)();
          },
          [=](caf::error&) {
            --st->outstanding;
            st->errors += batch; // not exact, but non-zero is what counts
            self->send(done_to, st->errors);
          });
    }
  };
  (*pump)();
  return {[](caf::ok_atom) {}};
}

} // namespace

/// New users registering through register_batch (1 contact each),
/// `range(0)` per iteration, batches of `range(1)`, 1 client, 4 shards.
static void BM_engine_register_batch(benchmark::State& state) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  actors::engine_config ecfg;
  ecfg.shards = 4;
  auto eng = actors::spawn_engine(sys, ecfg);
  auto n = static_cast<size_t>(state.range(0));
  auto batch = static_cast<size_t>(state.range(1));
  size_t first = 0;
  size_t errors = 0;
  for (auto _ : state) {
    caf::scoped_actor self{sys};
    self->spawn(batch_driver, eng.refs, first, n, batch, size_t{16},
                caf::actor_cast<caf::actor>(self));
    self->receive([&](size_t e) { errors += e; });
    first += n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.counters["errors"] = static_cast<double>(errors);
  eng.shutdown();
}
BENCHMARK(BM_engine_register_batch)
  ->Args({100000, 16})
  ->Args({100000, 64})
  ->Unit(benchmark::kMillisecond)
  ->UseRealTime();

/// New users registering (1 contact each), `range(0)` per iteration, from
/// `range(1)` concurrent clients.
static void BM_engine_register_new_users(benchmark::State& state) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  actors::engine_config ecfg;
  ecfg.shards = 4;
  auto eng = actors::spawn_engine(sys, ecfg);
  auto n = static_cast<size_t>(state.range(0));
  size_t first = 0;
  size_t errors = 0;
  for (auto _ : state) {
    errors += run_registrations(sys, eng, first, n, 256,
                                static_cast<size_t>(state.range(1)));
    first += n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.counters["errors"] = static_cast<double>(errors);
  eng.shutdown();
}
BENCHMARK(BM_engine_register_new_users)
  ->Args({100000, 1})
  ->Args({100000, 2})
  ->Unit(benchmark::kMillisecond)
  ->UseRealTime();

/// Re-registration of existing users (refresh storm).
static void BM_engine_refresh(benchmark::State& state) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  actors::engine_config ecfg;
  ecfg.shards = 4;
  auto eng = actors::spawn_engine(sys, ecfg);
  auto n = static_cast<size_t>(state.range(0));
  auto drivers = static_cast<size_t>(state.range(1));
  run_registrations(sys, eng, 0, n, 256, drivers);
  for (auto _ : state)
    run_registrations(sys, eng, 0, n, 256, drivers);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  eng.shutdown();
}
BENCHMARK(BM_engine_refresh)
  ->Args({100000, 1})
  ->Args({100000, 2})
  ->Unit(benchmark::kMillisecond)
  ->UseRealTime();

/// RSS per registered user (1 contact) after registering range(0) users.
static void BM_engine_memory_per_user(benchmark::State& state) {
  for (auto _ : state) {
    bench_config cfg;
    caf::actor_system sys{cfg};
    actors::engine_config ecfg;
    ecfg.shards = 4;
    auto eng = actors::spawn_engine(sys, ecfg);
    auto before = rss_kb();
    auto n = static_cast<size_t>(state.range(0));
    run_registrations(sys, eng, 0, n, 1024);
    auto after = rss_kb();
    state.counters["bytes_per_user"] =
      static_cast<double>(after - before) * 1024.0 / static_cast<double>(n);
    eng.shutdown();
  }
}
BENCHMARK(BM_engine_memory_per_user)->Arg(1000000)->Iterations(1)->Unit(benchmark::kSecond);

/// One presence update fanned out to range(0) watchers: time until the
/// NotifyRequired event (all watcher dialogs, one shared body) reaches a
/// bus subscriber.
static void BM_engine_fanout(benchmark::State& state) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  actors::engine_config ecfg;
  ecfg.limits.max_per_target = 1000000;
  auto eng = actors::spawn_engine(sys, ecfg);
  actors::blocking_service api{sys, eng.service};
  auto watchers = static_cast<size_t>(state.range(0));
  const std::string target = "sip:star@example.com";
  api.register_user(target, "sip:star@192.0.2.1", 3600);
  for (size_t i = 0; i < watchers; ++i)
    api.subscribe("sip:fan" + std::to_string(i) + "@example.com", target, 3600);
  caf::scoped_actor self{sys};
  self->request(eng.service, caf::infinite,
                bus_subscribe{caf::actor_cast<caf::actor>(self),
                              event_bit(event_kind::notify_required)})
    .receive([](caf::ok_atom) {}, [](caf::error&) {});
  int round = 0;
  size_t notified = 0;
  for (auto _ : state) {
    presence_update_request req;
    req.aor = target;
    req.status = (++round % 2) ? core::extended_status::busy
                               : core::extended_status::available;
    self->send(eng.service, std::move(req));
    bool got = false;
    while (!got)
      self->receive(
        [&](event_batch& b) {
          for (auto& m : b.events)
            if (m.match_elements<notify_required_event>()) {
              notified += m.get_as<notify_required_event>(0).targets.size();
              got = true;
            }
          self->send(caf::actor_cast<caf::actor>(self->current_sender()), event_ack{});
        },
        [&](presence_reply&) {});
  }
  state.counters["watchers_per_update"] =
    static_cast<double>(notified) / static_cast<double>(state.iterations());
  eng.shutdown();
}
BENCHMARK(BM_engine_fanout)->Arg(1)->Arg(100)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Auto-buddy with range(0) presence-enabled users in one domain: the time
/// for one presence update to reach the roster (PresenceUpdated at a bus
/// subscriber) and for get_buddy_list to list every other member. Memory is
/// reported per member (roster membership is O(users), never O(users^2)).
static void BM_engine_auto_buddy(benchmark::State& state) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  actors::engine_config ecfg;
  auto eng = actors::spawn_engine(sys, ecfg);
  auto n = static_cast<size_t>(state.range(0));
  auto before = rss_kb();
  run_registrations(sys, eng, 0, n, 1024, 2);
  auto after = rss_kb();
  caf::scoped_actor self{sys};
  self->request(eng.service, caf::infinite,
                bus_subscribe{caf::actor_cast<caf::actor>(self),
                              event_bit(event_kind::presence_updated)})
    .receive([](caf::ok_atom) {}, [](caf::error&) {});
  const std::string who = "sip:user0@example.com";
  size_t buddies = 0;
  int round = 0;
  for (auto _ : state) {
    presence_update_request req;
    req.aor = who;
    req.status = (++round % 2) ? core::extended_status::busy
                               : core::extended_status::available;
    self->send(eng.service, std::move(req));
    bool got = false;
    while (!got)
      self->receive(
        [&](event_batch& b) {
          for (auto& m : b.events)
            got = got || m.match_elements<presence_updated_event>();
          self->send(caf::actor_cast<caf::actor>(self->current_sender()), event_ack{});
        },
        [&](presence_reply&) {});
    self->request(eng.service, caf::infinite, get_buddy_list_request{who})
      .receive([&](user_list& xs) { buddies = xs.users.size(); },
               [](caf::error&) {});
  }
  state.counters["buddies"] = static_cast<double>(buddies);
  state.counters["bytes_per_member"] =
    static_cast<double>(after - before) * 1024.0 / static_cast<double>(n);
  eng.shutdown();
}
BENCHMARK(BM_engine_auto_buddy)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

/// The journal row a change writes (durability async and sync): a user with
/// one binding (the registration of make_register) serialized as the store
/// receives it. Paid on a CAF worker for every change of a user.
static void BM_user_row(benchmark::State& state) {
  actors::engine_config cfg;
  actors::user_logic u{"sip:user7@example.com"};
  actors::user_effects fx;
  auto now = core::time_point{} + std::chrono::hours{1000};
  auto req = make_register(7);
  req.aor = u.aor();
  if (!u.on_register(req, cfg, now, fx)) {
    state.SkipWithError("REGISTER failed");
    return;
  }
  size_t bytes = 0;
  for (auto _ : state) {
    auto e = actors::user_entry(u, cfg, now);
    bytes = e.value.size();
    benchmark::DoNotOptimize(e);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_user_row);
