// SPDX-License-Identifier: MIT
// registrard: the SIP registrar daemon. main() only: options, engine, SIP
// listeners, wait for SIGINT/SIGTERM.
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "actors/sip_udp.hpp"
#include "messages/types.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <CLI/CLI.hpp>

namespace {

struct listen_spec {
  std::string transport;
  std::string host;
  uint16_t port = 0;
};

/// "udp:127.0.0.1:5060", "udp:[::1]:5070" -> parts; empty transport on error.
listen_spec parse_listen(const std::string& x) {
  listen_spec r;
  auto colon = x.find(':');
  if (colon == std::string::npos)
    return {};
  r.transport = x.substr(0, colon);
  auto rest = x.substr(colon + 1);
  auto port_sep = rest.rfind(':');
  if (port_sep == std::string::npos || port_sep + 1 >= rest.size())
    return {};
  r.host = rest.substr(0, port_sep);
  if (r.host.size() > 2 && r.host.front() == '[' && r.host.back() == ']')
    r.host = r.host.substr(1, r.host.size() - 2);
  unsigned long port = 0;
  for (auto c : rest.substr(port_sep + 1)) {
    if (c < '0' || c > '9')
      return {};
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535)
      return {};
  }
  r.port = static_cast<uint16_t>(port);
  return r;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"registrard: SIP registrar and presence server (registrar-core)"};
  std::vector<std::string> listens;
  std::vector<std::string> domains{"localhost"};
  uint32_t shards = 4;
  app.add_option("--listen", listens,
                 "Where to serve SIP, repeatable: udp:HOST:PORT (IPv6 as udp:[::1]:5060). "
                 "Default: udp:127.0.0.1:5060. (TCP comes with the daemon issue.)");
  app.add_option("--domain", domains,
                 "Domains this registrar serves, repeatable (default: localhost). "
                 "The listen address itself is always served.");
  app.add_option("--shards", shards, "Directory shards of the engine (default 4)");
  CLI11_PARSE(app, argc, argv);
  if (listens.empty())
    listens.push_back("udp:127.0.0.1:5060");
  std::vector<listen_spec> specs;
  for (auto& l : listens) {
    auto s = parse_listen(l);
    if (s.transport.empty()) {
      std::cerr << "registrard: --listen " << l << ": expected udp:HOST:PORT\n";
      return 2;
    }
    if (s.transport != "udp") {
      std::cerr << "registrard: --listen " << l << ": transport '" << s.transport
                << "' is not supported yet (udp only)\n";
      return 2;
    }
    specs.push_back(s);
  }
  // Block the signals before CAF starts its threads, so only sigwait sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  caf::actor_system_config cfg;
  regcore::messages::register_types(cfg);
  cfg.load<caf::io::middleman>();
  int rc = 0;
  {
    caf::actor_system sys{cfg};
    regcore::actors::engine_config ecfg;
    ecfg.shards = shards;
    auto eng = regcore::actors::spawn_engine(sys, ecfg);
    std::vector<caf::actor> brokers;
    for (auto& s : specs) {
      regcore::actors::sip_settings settings;
      settings.host = s.host;
      settings.port = s.port;
      settings.domains = domains;
      auto l = regcore::actors::start_sip_udp(sys, eng, settings);
      if (!l) {
        std::cerr << "registrard: cannot listen on udp:" << s.host << ":" << s.port
                  << ": " << sys.render(l.error()) << "\n";
        rc = 1;
        break;
      }
      brokers.push_back(l->broker);
      auto shown = s.host.find(':') != std::string::npos ? "[" + s.host + "]" : s.host;
      std::cout << "registrard: listening on udp:" << shown << ":" << l->port << "\n";
    }
    if (rc == 0) {
      std::cout << "registrard: serving domains";
      for (auto& d : domains)
        std::cout << " " << d;
      std::cout << " with " << shards << " shards; Ctrl-C to stop" << std::endl;
      int sig = 0;
      sigwait(&sigs, &sig);
      std::cout << "registrard: signal " << sig << ", shutting down" << std::endl;
    }
    for (auto& b : brokers)
      caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
    eng.shutdown();
  }
  return rc;
}
