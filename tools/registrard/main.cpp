// SPDX-License-Identifier: MIT
// registrard: the SIP registrar daemon. main() only: options, engine, SIP
// listeners, wait for SIGINT/SIGTERM.
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "actors/sip_edge.hpp"
#include "messages/sip_messages.hpp"
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
                 "Where to serve SIP, repeatable: udp:HOST:PORT or tcp:HOST:PORT (IPv6 as "
                 "udp:[::1]:5060). Default: udp:127.0.0.1:5060 and tcp:127.0.0.1:5060.");
  app.add_option("--domain", domains,
                 "Domains this registrar serves, repeatable (default: localhost). "
                 "The listen address itself is always served.");
  app.add_option("--shards", shards, "Directory shards of the engine (default 4)");
  CLI11_PARSE(app, argc, argv);
  if (listens.empty())
    listens = {"udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"};
  std::vector<listen_spec> specs;
  for (auto& l : listens) {
    auto s = parse_listen(l);
    if (s.transport.empty()) {
      std::cerr << "registrard: --listen " << l << ": expected udp:HOST:PORT\n";
      return 2;
    }
    if (s.transport != "udp" && s.transport != "tcp") {
      std::cerr << "registrard: --listen " << l << ": transport '" << s.transport
                << "' is not supported (udp or tcp)\n";
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
    std::vector<regcore::actors::listen_address> where;
    for (auto& sp : specs)
      where.push_back({sp.transport == "tcp" ? regcore::core::transport::tcp
                                             : regcore::core::transport::udp,
                       sp.host, sp.port});
    regcore::actors::sip_edge_settings settings;
    settings.domains = domains;
    auto server = regcore::actors::start_sip_server(sys, eng, where, settings);
    if (!server) {
      std::cerr << "registrard: cannot listen: " << sys.render(server.error()) << "\n";
      rc = 1;
    } else {
      for (auto& l : server->listeners())
        std::cout << "registrard: listening on "
                  << regcore::to_string(regcore::sip_endpoint{l.addr.proto, l.addr.host,
                                                              l.port, 0, 0})
                  << "\n";
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
    if (server)
      server->stop();
    eng.shutdown();
  }
  return rc;
}
