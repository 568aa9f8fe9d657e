// SPDX-License-Identifier: MIT
// registrard: the SIP registrar and presence server. main() only: the
// configuration (JSON file + flags, actors/daemon_config.hpp), logging, the
// engine, the SIP server, and a clean stop on SIGINT/SIGTERM.
#include <csignal>
#include <filesystem>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "actors/cluster.hpp"
#include "actors/cluster_router.hpp"
#include "actors/daemon_config.hpp"
#include "actors/engine.hpp"
#include "actors/journal.hpp"
#include "actors/sip_edge.hpp"
#include "core/digest.hpp"
#include "core/ownership.hpp"
#include "messages/sip_messages.hpp"
#include "messages/types.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

namespace {

using namespace regcore;

/// Opens the journal of `cfg` (in persistence.data_dir: registrar.db and its
/// log), creating the directory, and locks the directory for this process:
/// one registrard per journal. Prints the reason and returns null when it cannot.
std::shared_ptr<actors::journal> open_journal(const actors::daemon_config& cfg) {
  std::error_code ec;
  std::filesystem::create_directories(cfg.persistence.data_dir, ec);
  if (ec) {
    std::cerr << "registrard: cannot create " << cfg.persistence.data_dir << ": "
              << ec.message() << "\n";
    return nullptr;
  }
  auto lock_path = cfg.persistence.data_dir + "/LOCK";
  // Kept open (and so locked) until the process ends.
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    std::cerr << "registrard: " << lock_path
              << ": in use by another registrard (or not writable)\n";
    return nullptr;
  }
  std::string err;
  auto j = actors::journal::open(actors::journal_path(cfg),
                                 actors::durability_of(cfg), err);
  if (!j) {
    std::cerr << "registrard: " << err << "\n";
    return nullptr;
  }
  if (!j->open_warning().empty())
    std::cerr << "registrard: warning: " << j->open_warning() << "\n";
  j->set_min_fold(cfg.persistence.fold_entries);
  return std::shared_ptr<actors::journal>{std::move(j)};
}

/// 32 random bytes: the secret that signs this process's digest nonces.
std::string nonce_secret() {
  std::random_device rd;
  std::string s(32, '\0');
  for (auto& c : s)
    c = static_cast<char>(rd() & 0xFF);
  return s;
}

/// The edge's settings from the daemon's configuration; false (with a
/// message on stderr) when the credentials file is unusable.
bool edge_settings(const actors::daemon_config& cfg, actors::sip_edge_settings& out) {
  out.domains = cfg.domains;
  out.server_name = cfg.server_name;
  out.limits.max_message_size = cfg.limits.max_message_size;
  out.notify_timers.t1 = std::chrono::milliseconds{cfg.notify.t1_ms};
  out.notify_timers.t2 = std::chrono::milliseconds{cfg.notify.t2_ms};
  out.notify_timers.timer_f = std::chrono::milliseconds{cfg.notify.timer_f_ms};
  out.end_subscription_on_failure = cfg.notify.end_subscription_on_failure;
  if (cfg.rate_limit.enabled) {
    out.rate_limit = actors::rate_limiter_settings(cfg);
    out.retry_after = cfg.rate_limit.retry_after;
  }
  if (!cfg.auth.enabled)
    return true;
  std::ifstream in{cfg.auth.credentials_file};
  if (!in) {
    std::cerr << "registrard: auth.credentials_file: cannot read "
              << cfg.auth.credentials_file << "\n";
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto store = core::parse_credentials(text.str());
  if (!store) {
    std::cerr << "registrard: auth.credentials_file " << cfg.auth.credentials_file << ": "
              << store.err().phrase() << "\n";
    return false;
  }
  actors::sip_auth_settings a;
  a.digest.realm = actors::auth_realm(cfg);
  a.digest.secret = nonce_secret();
  a.digest.nonce_lifetime = cfg.auth.nonce_lifetime;
  a.digest.algorithms.clear();
  for (auto& name : cfg.auth.algorithms)
    if (auto alg = core::parse_digest_algorithm(name))
      a.digest.algorithms.push_back(*alg);
  a.credentials = std::make_shared<const core::credential_store>(std::move(*store));
  out.auth = std::move(a);
  return true;
}

/// The scheduler of the daemon, then the --caf KEY=VALUE options on top.
/// CAF's defaults (work stealing, max(4, cores) workers) cost ~2/3 of the
/// CPU of a REGISTER on a 2-core machine: idle workers poll and nanosleep
/// (every 50 µs for a while) instead of blocking, and four workers plus the
/// transport's I/O thread contend for two cores. The daemon's actors hand
/// work on in batches (the transport reads bursts of datagrams, the edge
/// sends one register_batch per shard), so few workers that block when idle
/// do best (docs/performance.md, "Cutting the server CPU per REGISTER").
caf::error daemon_scheduler(caf::actor_system_config& cfg,
                            const std::vector<std::string>& opts) {
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("scheduler.max-threads", size_t{2});
  if (opts.empty())
    return caf::none;
  std::vector<std::string> args;
  for (auto& o : opts)
    args.push_back("--" + o);
  std::istringstream no_ini;
  if (auto err = cfg.parse(std::move(args), no_ini))
    return err;
  if (!cfg.remainder.empty())
    return caf::make_error(caf::sec::invalid_argument,
                           "unknown CAF option: " + cfg.remainder.front());
  return caf::none;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"registrard: SIP registrar and presence server (registrar-core).\n"
               "Defaults < the JSON file given with --config < flags; see "
               "docs/configuration.md."};
  actors::cli_options opts;
  actors::add_cli_options(app, opts);
  std::vector<std::string> caf_opts;
  app.add_option("--caf", caf_opts,
                 "CAF option KEY=VALUE (repeatable), e.g. --caf scheduler.max-threads=2 "
                 "or --caf scheduler.policy=stealing; see daemon_scheduler() for the "
                 "defaults");
  CLI11_PARSE(app, argc, argv);
  actors::daemon_config cfg;
  if (!opts.config_file.empty()) {
    if (auto r = actors::load_config_file(opts.config_file, cfg); !r) {
      std::cerr << "registrard: " << r.err().phrase() << "\n";
      return 2;
    }
  }
  if (auto r = actors::apply_cli_options(opts, cfg); !r) {
    std::cerr << "registrard: " << r.err().phrase() << "\n";
    return 2;
  }
  if (opts.print_config) {
    std::cout << actors::to_json_text(cfg) << "\n";
    return 0;
  }
  cfg.engine.persistence = actors::durability_of(cfg);
  if (actors::cluster_enabled(cfg)) {
    // Each user on `replication` nodes; a 2xx waits for the replicas unless
    // durability is async (the same trade as for the journal).
    cfg.engine.replication = cfg.cluster.replication;
    cfg.engine.replication_sync = cfg.engine.persistence != durability::async;
  }
  std::shared_ptr<actors::journal> journal;
  // The start-up time reported below counts opening the journal too (which
  // folds what its log still holds).
  auto opening = std::chrono::steady_clock::now();
  if (cfg.engine.persistence != durability::off) {
    journal = open_journal(cfg);
    if (!journal)
      return 1;
  }
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %l registrard: %v");
  actors::sip_edge_settings settings;
  if (!edge_settings(cfg, settings))
    return 2;
  std::vector<actors::listen_address> where;
  for (auto& l : cfg.listen)
    where.push_back({l.proto, l.host, l.port});
  // Block the signals before CAF starts its threads, so only sigwait sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  caf::actor_system_config sys_cfg;
  messages::register_types(sys_cfg);
  if (actors::cluster_enabled(cfg)) {
    // Only a cluster node loads the middleman (before the actor system
    // exists): without --cluster-listen no CAF port is ever opened.
    auto cs = actors::cluster_settings_of(cfg);
    sys_cfg.load<caf::io::middleman>();
    sys_cfg.set("middleman.heartbeat-interval", caf::timespan{cs.heartbeat});
    sys_cfg.set("middleman.connection-timeout",
                caf::timespan{cs.connection_timeout});
    // Only registrar-core nodes complete the handshake.
    sys_cfg.set("middleman.app-identifier", "registrar-core");
  }
  if (auto err = daemon_scheduler(sys_cfg, caf_opts)) {
    std::cerr << "registrard: --caf: " << caf::to_string(err) << "\n";
    return 2;
  }
  int rc = 0;
  {
    caf::actor_system sys{sys_cfg};
    actors::engine eng;
    if (cfg.engine.persistence == durability::off) {
      eng = actors::spawn_engine(sys, cfg.engine);
    } else {
      auto e = actors::spawn_engine(sys, cfg.engine, std::move(journal));
      if (!e) {
        std::cerr << "registrard: " << sys.render(e.error()) << "\n";
        return 1;
      }
      eng = std::move(*e);
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - opening)
                  .count();
      spdlog::info("restored {} users from {} in {} ms", eng.restored_users,
                   actors::journal_path(cfg), ms);
    }
    if (actors::cluster_enabled(cfg))
      settings.dialog_tag_prefix =
        core::dialog_tag_prefix(actors::cluster_settings_of(cfg).node_id);
    auto server = actors::start_sip_server(sys, eng, where, settings);
    if (!server) {
      std::cerr << "registrard: cannot listen: " << sys.render(server.error()) << "\n";
      rc = 1;
    } else {
      // One line per listener with the port really bound (scripts read it).
      // Each line is ONE write to stdout: the log (spdlog, also stdout) of
      // the actors already running must not land inside it.
      for (auto& l : server->listeners())
        std::cout << ("registrard: listening on "
                      + to_string(sip_endpoint{l.addr.proto, l.addr.host, l.port, 0, 0})
                      + "\n")
                  << std::flush;
      spdlog::info("{}", actors::summary(cfg));
      caf::actor cluster_node;
      if (actors::cluster_enabled(cfg)) {
        auto cs = actors::cluster_settings_of(cfg);
        // This node's engine handles, and its edge: the members adopt the
        // dialogs of a lost member's edge through it.
        auto entry = eng.route_entry(cs.node_id);
        entry.edge = server->edge();
        auto node = actors::start_cluster_node(sys, cs, std::move(entry));
        if (!node) {
          std::cerr << "registrard: " << sys.render(node.error()) << "\n";
          server->stop();
          eng.shutdown();
          return 1;
        }
        cluster_node = node->node;
        // Every member's engine, as the membership learns them, becomes
        // the engine's routes and the edge's list of buses.
        actors::spawn_cluster_router(sys, eng, cs.node_id, cluster_node, server->edge());
        std::cout << ("registrard: cluster listening on " + core::address_of(node->self)
                      + " as " + node->self.id + "\n")
                  << std::flush;
      }
      int sig = 0;
      sigwait(&sigs, &sig);
      spdlog::info("signal {}, shutting down", sig);
      if (cfg.shutdown.terminate_subscriptions) {
        caf::scoped_actor self{sys};
        self->request(server->edge(), std::chrono::seconds{2}, terminate_atom::value)
          .receive([](uint64_t n) { spdlog::info("ended {} subscription dialogs", n); },
                   [&](caf::error& err) {
                     spdlog::warn("final NOTIFYs: {}", sys.render(err));
                   });
      }
      if (cluster_node && !actors::leave_cluster(sys, cluster_node, std::chrono::seconds{2}))
        spdlog::warn("cluster: not every member acknowledged the leave in time");
      server->stop();
    }
    eng.shutdown();
  }
  spdlog::shutdown();
  return rc;
}
