// SPDX-License-Identifier: MIT
// registrar-load: load generator for registrar-core (and any SIP registrar).
// main() only: the command line, the progress display, the report and the
// exit code. The drivers are inproc_driver (engine mode) and sip_client (SIP
// mode); stats holds the measurement code.
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <random>
#include <sstream>
#include <string>

#include "inproc_driver.hpp"
#include "options.hpp"
#include "sip_client.hpp"
#include "stats.hpp"

#include <CLI/CLI.hpp>

namespace {

using namespace regcore::load;

/// Redraws one line with \r on a terminal; prints a plain line every second
/// otherwise (CI logs).
class progress {
public:
  progress(recorder& rec, bool enabled) : rec_(rec), enabled_(enabled), tty_(isatty(2)) {
    last_ = clock_type::now();
  }

  /// Called about every 200 ms.
  void tick() {
    auto now = clock_type::now();
    if (now - last_rss_ >= std::chrono::seconds{1}) {
      last_rss_ = now;
      rec_.sample_rss();
    }
    if (!enabled_)
      return;
    if (!tty_ && now - last_ < std::chrono::seconds{1})
      return;
    auto dt = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    auto [phase, expected] = rec_.phase();
    bool setup = phase.rfind("setup", 0) == 0;
    uint64_t done = setup ? rec_.setup_done.load() : rec_.done_ops();
    auto rate = dt > 0 ? static_cast<double>(done - (setup == last_setup_ ? last_done_ : 0)) / dt
                       : 0.0;
    last_done_ = done;
    last_setup_ = setup;
    char line[200];
    if (expected > 0) {
      auto frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(expected));
      char bar[31];
      int fill = static_cast<int>(frac * 30);
      for (int i = 0; i < 30; ++i)
        bar[i] = i < fill ? '#' : '.';
      bar[30] = '\0';
      std::snprintf(line, sizeof line,
                    "%-17s [%s] %5.1f%% %" PRIu64 "/%" PRIu64 " %8.0f/s errors %" PRIu64,
                    phase.c_str(), bar, 100 * frac, done, expected, rate,
                    setup ? uint64_t{0} : rec_.done_errors());
    } else {
      std::snprintf(line, sizeof line, "%-17s %" PRIu64 " ops %8.0f/s errors %" PRIu64,
                    phase.c_str(), done, rate, setup ? uint64_t{0} : rec_.done_errors());
    }
    if (tty_)
      std::fprintf(stderr, "\r%-100s", line);
    else
      std::fprintf(stderr, "%s\n", line);
    drawn_ = true;
  }

  void close() {
    if (enabled_ && tty_ && drawn_)
      std::fprintf(stderr, "\n");
  }

private:
  recorder& rec_;
  bool enabled_;
  bool tty_;
  bool drawn_ = false;
  bool last_setup_ = true;
  uint64_t last_done_ = 0;
  time_point last_;
  time_point last_rss_{};
};

std::string join_args(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    if (i)
      out += ' ';
    out += argv[i];
  }
  return out;
}

/// A short random tag so two runs against one long-lived server use new AORs.
std::string random_prefix() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "l%04x", static_cast<unsigned>(rd() & 0xFFFF));
  return buf;
}

/// verify: the counts, the first missing and problem lines, one summary line
/// for scripts; the exit status (0: everything acknowledged is there).
int report_verify(const options& opt, const verify_result& v, FILE* out) {
  std::fprintf(out, "verify %s against %s: %" PRIu64 " ack lines", opt.acks_path.c_str(),
               opt.target.c_str(), v.lines);
  if (v.bad_lines)
    std::fprintf(out, " (+%" PRIu64 " unparsable, skipped)", v.bad_lines);
  std::fprintf(out, "\n");
  std::fprintf(out, "  %-22s %" PRIu64 " (%" PRIu64 " bindings, %" PRIu64 " publications)\n",
               "checked", v.checked, v.checked_bindings, v.checked_publications);
  std::fprintf(out, "  %-22s %" PRIu64 " (%" PRIu64 " bindings, %" PRIu64 " publications)\n",
               "found", v.found, v.found_bindings, v.found_publications);
  std::fprintf(out, "  %-22s %" PRIu64 "\n", "missing", v.missing);
  std::fprintf(out, "  %-22s %" PRIu64 "\n", "removals confirmed", v.removed_ok);
  std::fprintf(out, "  %-22s %" PRIu64 "\n", "removed but present", v.resurrected);
  std::fprintf(out, "  %-22s %" PRIu64 "\n", "unanswered", v.unanswered);
  std::fprintf(out, "  %-22s %" PRIu64 "\n", "expired (not checked)", v.expired);
  for (auto& m : v.missing_list)
    std::fprintf(out, "missing: %s\n", m.c_str());
  if (v.missing > v.missing_list.size())
    std::fprintf(out, "missing: ... and %" PRIu64 " more\n", v.missing - v.missing_list.size());
  for (auto& p : v.problem_list)
    std::fprintf(out, "problem: %s\n", p.c_str());
  std::fprintf(out,
               "verify-summary checked=%" PRIu64 " found=%" PRIu64 " missing=%" PRIu64
               " removed_ok=%" PRIu64 " resurrected=%" PRIu64 " unanswered=%" PRIu64
               " expired=%" PRIu64 " bindings=%" PRIu64 "/%" PRIu64 " publications=%" PRIu64
               "/%" PRIu64 "\n",
               v.checked, v.found, v.missing, v.removed_ok, v.resurrected, v.unanswered,
               v.expired, v.found_bindings, v.checked_bindings, v.found_publications,
               v.checked_publications);
  std::fflush(out);
  if (!v.ok()) {
    std::fprintf(stderr, "registrar-load: verify: %" PRIu64 " acknowledged missing, %" PRIu64
                 " removed but present, %" PRIu64 " unanswered\n",
                 v.missing, v.resurrected, v.unanswered);
    return 1;
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{
    "registrar-load: load generator for registrar-core and any SIP registrar.\n\n"
    "  registrar-load [--mode engine|sip] SCENARIO [options]\n\n"
    "Scenarios:\n"
    "  register    N users x D devices register (new bindings); an operation = one\n"
    "              REGISTER (engine: one register_request; --batch N sends them N at a time)\n"
    "  refresh     registers every binding first (not measured), then re-REGISTERs them\n"
    "  unregister  registers every binding first, then removes each (Expires: 0)\n"
    "  presence    P publishers x W watchers: watchers SUBSCRIBE first, then K PUBLISH\n"
    "              updates per publisher; an operation = one update, its latency runs from\n"
    "              the send until every watcher got the NOTIFY carrying it (engine: until\n"
    "              the NotifyRequired event listing all W watchers arrived)\n"
    "  auto-buddy  N presence-enabled users register (measured); then a check: engine:\n"
    "              get_buddy_list of 10 users holds the N-1 others; SIP: 10 users are\n"
    "              SUBSCRIBEd to and must be reported open by their first NOTIFY\n"
    "  mixed       N users registered first, then each refreshes every --refresh-interval s\n"
    "              and --presence-rate presence changes/s (PUBLISH, P publishers x W\n"
    "              watchers answering NOTIFYs) for --duration s (or --count operations)\n"
    "  verify      SIP mode, --acks FILE (an --ack-log of earlier runs): checks that the\n"
    "              server still has what it acknowledged. Per AOR a REGISTER query (no\n"
    "              Contact): every binding whose last line has expires > 0 and has not\n"
    "              expired must be listed, one whose last line has expires 0 must not;\n"
    "              per AOR the last PUBLISH ETag gets a refresh (SIP-If-Match, no body):\n"
    "              200 = there (the new ETag is appended to --ack-log if given), 412 = lost.\n"
    "              Prints checked/found/missing (the first 20 missing); exit 1 when\n"
    "              anything is missing or a query went unanswered\n\n"
    "Rate: --rate R = open loop (operation i is due at i/R s; latency counts from that due\n"
    "time, so a stall is not hidden); otherwise closed loop with --concurrency outstanding.\n"
    "Exit status: 0 ok, 1 when errors/operations > --max-error-rate (or a setup/check\n"
    "failed, or the run could not be done), 2 on a bad command line."};
  app.set_help_flag("-h,--help", "Print this help and exit");
  options opt;
  std::string scenario_name = "register";
  uint64_t count = 0;
  app.add_option("scenario", scenario_name,
                 "register | refresh | unregister | presence | auto-buddy | mixed | verify")
    ->required();
  app.add_option("--mode,-m", opt.mode, "engine (in-process) or sip")
    ->check(CLI::IsMember({"engine", "sip"}));
  app.add_option("--users,-n", opt.users, "Users (AORs)")->check(CLI::Range(1, 100000000));
  app.add_option("--devices,-d", opt.devices, "Devices (contacts) per user")
    ->check(CLI::Range(1, 32));
  app.add_option("--count,-c", count,
                 "Measured operations (register: users are created as needed)")
    ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  app.add_option("--duration", opt.duration, "Seconds of measured load (instead of --count)")
    ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--rate,-r", opt.rate, "Open loop: operations per second")
    ->check(CLI::Range(0.0, 1e8));
  app.add_option("--concurrency,-C", opt.concurrency,
                 "Closed loop: outstanding operations (default 64, presence: min(P, 64); "
                 "with --rate a cap, default 20000)")
    ->check(CLI::Range(1, 10000000));
  app.add_option("--setup-concurrency", opt.setup_concurrency,
                 "Outstanding requests of the setup phase")
    ->check(CLI::Range(1, 100000));
  app.add_option("--batch", opt.batch,
                 "Engine mode, register/refresh/unregister: register_batch_request of N")
    ->check(CLI::Range(1, 100000));
  app.add_option("--expires", opt.expires, "Expires of REGISTER/SUBSCRIBE/PUBLISH")
    ->check(CLI::Range(1, 86400));
  app.add_option("--publishers,-P", opt.publishers, "presence/mixed: publishers")
    ->check(CLI::Range(1, 1000000));
  app.add_option("--watchers,-W", opt.watchers, "presence/mixed: watchers per publisher")
    ->check(CLI::Range(1, 1000000));
  app.add_option("--updates,-K", opt.updates, "presence: updates per publisher")
    ->check(CLI::Range(1, 1000000));
  app.add_option("--gap", opt.gap,
                 "presence, SIP mode: seconds to wait after an update completed (every "
                 "NOTIFY in, or failed) before the next one starts (closed loop; 0 = none)")
    ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--update-log", opt.update_log,
                 "presence, SIP mode: write one line per update to FILE (PUBLISH sent, its "
                 "2xx, first and last NOTIFY, NOTIFYs seen, retransmitted NOTIFYs)");
  app.add_option("--refresh-interval", opt.refresh_interval,
                 "mixed: seconds between two refreshes of one user")
    ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--presence-rate", opt.presence_rate,
                 "mixed: presence changes per second (0 = none)")
    ->check(CLI::Range(0.0, 1e7));
  app.add_option("--target,-t", opt.target, "SIP mode: HOST:PORT of the registrar");
  app.add_option("--also-target", opt.also_targets,
                 "SIP mode: another HOST:PORT (a cluster node; repeatable): local socket i "
                 "talks to target i % n of --target and these, so users and watchers are "
                 "spread over them (use --sockets >= n)");
  app.add_option("--transport", opt.transport, "SIP mode: udp or tcp")
    ->check(CLI::IsMember({"udp", "tcp"}));
  app.add_option("--sockets", opt.sockets,
                 "SIP mode: local UDP sockets / TCP connections (users spread over them)")
    ->check(CLI::Range(1, 64));
  app.add_option("--domain", opt.domain,
                 "Domain of the AORs (default: the target host; engine: example.com)");
  app.add_option("--user-prefix", opt.user_prefix,
                 "Prefix of every user name (default: random per run)");
  app.add_option_function<std::string>(
       "--key-order",
       [&opt](const std::string& v) { opt.random_key_order = v == "random"; },
       "sequential (default: user N is <prefix>uN, neighbouring keys) or random (a hash "
       "tag before uN: keys spread as a real population's REGISTERs arrive)")
    ->check(CLI::IsMember({"sequential", "random"}));
  app.add_option("--rcvbuf", opt.rcvbuf,
                 "SIP mode: receive buffer of each UDP socket, bytes (SO_RCVBUFFORCE when "
                 "allowed, else SO_RCVBUF, capped by net.core.rmem_max)")
    ->check(CLI::Range(65536u, 1u << 30));
  app.add_option("--t1", opt.t1, "SIP mode: first UDP retransmission interval, s")
    ->check(CLI::Range(0.01, 10.0));
  app.add_option("--timer-b", opt.timer_b,
                 "Transaction timeout, s (SIP timer B/F; engine request timeout)")
    ->check(CLI::Range(0.1, 300.0));
  app.add_option("--durability", opt.durability,
                 "Engine mode: off (memory only, default), async or sync: the engine "
                 "journals every change to DIR (registrar-log.0, registrar-log.1, registrar.db; "
                 "needs --data-dir)")
      ->check(CLI::IsMember({"off", "async", "sync"}));
  app.add_option("--data-dir", opt.data_dir,
                 "Engine mode: directory of the journal (durability async/sync); "
                 "an existing journal is restored first");
  app.add_option("--shards", opt.shards, "Engine mode: directory shards")
    ->check(CLI::Range(1, 1024));
  app.add_option("--threads", opt.threads, "Engine mode: CAF scheduler threads")
    ->check(CLI::Range(1, 256));
  app.add_option("--target-pid", opt.target_pid,
                 "SIP mode: PID of the local server, for its CPU time and RSS");
  app.add_option("--target-pgid", opt.target_pgid,
                 "SIP mode: process group of the local server (e.g. Kamailio under setsid): "
                 "CPU time and RSS summed over all its processes");
  app.add_option("--json", opt.json_path, "Write the figures as JSON to FILE");
  app.add_option("--plot", opt.plot_path, "Write throughput and p99 per second as SVG");
  app.add_option("--ack-log", opt.ack_log,
                 "Append one line per acknowledged REGISTER binding / PUBLISH");
  app.add_option("--started-file", opt.started_file,
                 "SIP mode: create FILE when the measured phase begins (after the set-up)");
  app.add_option("--acks", opt.acks_path,
                 "verify: the ack log (--ack-log of earlier runs) to check");
  app.add_option("--max-error-rate", opt.max_error_rate,
                 "Exit 1 when errors/operations exceeds this fraction")
    ->check(CLI::Range(0.0, 1.0));
  app.add_flag("--no-progress", opt.no_progress, "No progress display on stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  auto usage = [](const std::string& what) {
    std::cerr << "registrar-load: " << what << " (see --help)\n";
    return 2;
  };
  auto sc = parse_scenario(scenario_name);
  if (!sc)
    return usage("unknown scenario '" + scenario_name + "'");
  opt.sc = *sc;
  if (count > 0)
    opt.count = count;
  if (opt.durability != "off" && opt.data_dir.empty())
    return usage("--durability " + opt.durability + " needs --data-dir");
  if (opt.mode == "sip") {
    auto colon = opt.target.rfind(':');
    if (opt.target.empty() || colon == std::string::npos || colon == 0)
      return usage("SIP mode needs --target HOST:PORT");
    opt.target_host = opt.target.substr(0, colon);
    if (opt.target_host.size() > 2 && opt.target_host.front() == '[')
      opt.target_host = opt.target_host.substr(1, opt.target_host.size() - 2);
    try {
      auto port = std::stoul(opt.target.substr(colon + 1));
      if (port == 0 || port > 65535)
        throw std::out_of_range{"port"};
      opt.target_port = static_cast<uint16_t>(port);
    } catch (const std::exception&) {
      return usage("bad port in --target '" + opt.target + "'");
    }
    if (opt.batch > 0)
      return usage("--batch is for engine mode");
    for (auto& t : opt.also_targets)
      if (t.rfind(':') == std::string::npos || t.rfind(':') == 0)
        return usage("--also-target needs HOST:PORT, not '" + t + "'");
    if (!opt.also_targets.empty() && opt.sockets <= opt.also_targets.size())
      return usage("--also-target: --sockets must be more than the extra targets");
    if (opt.target_pid > 0 && opt.target_pgid > 0)
      return usage("--target-pid and --target-pgid exclude each other");
    if (opt.domain.empty())
      opt.domain = opt.target_host.find(':') != std::string::npos
                     ? "[" + opt.target_host + "]"
                     : opt.target_host;
  } else {
    if (!opt.target.empty())
      return usage("--target is for SIP mode (--mode sip)");
    if (opt.target_pgid > 0 || opt.gap > 0 || !opt.update_log.empty())
      return usage("--target-pgid, --gap and --update-log are for SIP mode");
    // In-process: our own process is the target.
    if (opt.target_pid == 0)
      opt.target_pid = static_cast<int>(getpid());
  }
  if (opt.batch > 0 && opt.sc != scenario::register_ && opt.sc != scenario::refresh
      && opt.sc != scenario::unregister)
    return usage("--batch works with register, refresh and unregister");
  if (opt.sc == scenario::mixed) {
    if (!opt.count && opt.duration <= 0)
      return usage("mixed needs --duration or --count");
    if (opt.devices != 1)
      return usage("mixed uses one device per user");
    if (opt.presence_rate > 0 && opt.publishers > opt.users)
      return usage("mixed: --publishers must not exceed --users");
  }
  if (opt.sc == scenario::auto_buddy && opt.devices != 1)
    return usage("auto-buddy uses one device per user");
  if (opt.sc == scenario::verify) {
    if (opt.mode != "sip")
      return usage("verify needs --mode sip");
    if (opt.acks_path.empty())
      return usage("verify needs --acks FILE");
  } else if (!opt.acks_path.empty()) {
    return usage("--acks is for verify");
  }
  if (opt.user_prefix.empty())
    opt.user_prefix = random_prefix();

  ack_log acks;
  if (!acks.open(opt.ack_log)) {
    std::cerr << "registrar-load: cannot open --ack-log " << opt.ack_log << "\n";
    return 2;
  }
  if ((opt.gap > 0 || !opt.update_log.empty()) && opt.sc != scenario::presence)
    return usage("--gap and --update-log work with presence");
  recorder rec{opt.target_pid};
  rec.set_target_group(opt.target_pgid);
  progress prog{rec, !opt.no_progress};
  auto pl = plan::of(opt);
  run_info info;
  info.mode = opt.mode;
  info.scenario = to_string(opt.sc);
  info.command_line = join_args(argc, argv);
  info.params = {{"users", std::to_string(opt.users)},
                 {"devices", std::to_string(opt.devices)},
                 {"rate", std::to_string(opt.rate)},
                 {"concurrency", std::to_string(opt.effective_concurrency())},
                 {"loop", opt.rate > 0 ? "open" : "closed"},
                 {"batch", std::to_string(opt.batch)},
                 {"publishers", std::to_string(opt.publishers)},
                 {"watchers", std::to_string(opt.watchers)},
                 {"updates", std::to_string(opt.updates)},
                 {"gap", std::to_string(opt.gap)},
                 {"duration", std::to_string(opt.duration)},
                 {"measured_ops_planned",
                  pl.measured == UINT64_MAX ? "unbounded" : std::to_string(pl.measured)},
                 {"user_prefix", opt.user_prefix},
                 {"key_order", opt.random_key_order ? "random" : "sequential"}};
  switch (opt.sc) {
    case scenario::presence:
      info.note = opt.mode == "sip" ? "operation = PUBLISH; latency until the last watcher's NOTIFY"
                                    : "operation = presence update; latency until the "
                                      "NotifyRequired event listing every watcher";
      break;
    case scenario::mixed:
      info.note = "operations = refresh REGISTERs + PUBLISHes (latency to their 2xx)";
      break;
    case scenario::verify:
      info.note = "operation = REGISTER query of an AOR / PUBLISH refresh of an ETag";
      break;
    default:
      info.note = opt.mode == "sip" ? "operation = REGISTER transaction"
                                    : (opt.batch ? "operation = one register_request "
                                                   "(latency of its batch)"
                                                 : "operation = one register_request");
  }
  std::string err;
  verify_result verified;
  if (opt.mode == "engine") {
    info.target = "in-process engine";
    err = run_engine(opt, rec, acks, [&] { prog.tick(); });
  } else {
    info.target = opt.target + "/" + opt.transport;
    err = run_sip(opt, rec, acks, [&] { prog.tick(); }, &verified);
  }
  prog.close();
  if (!err.empty()) {
    std::cerr << "registrar-load: " << err << "\n";
    return 1;
  }
  print_table(info, rec, stdout);
  if (!opt.json_path.empty())
    if (auto e = write_json(info, rec, opt.json_path); !e.empty()) {
      std::cerr << "registrar-load: " << e << "\n";
      return 1;
    }
  if (!opt.plot_path.empty())
    if (auto e = write_svg(info, rec, opt.plot_path); !e.empty()) {
      std::cerr << "registrar-load: " << e << "\n";
      return 1;
    }
  if (opt.sc == scenario::verify)
    return report_verify(opt, verified, stdout);
  uint64_t ops = 0, errors = 0;
  for (auto& s : rec.timeline()) {
    ops += s.ops;
    errors += s.errors;
  }
  auto extra = [&](const char* k) {
    auto i = rec.extras().find(k);
    return i == rec.extras().end() ? uint64_t{0} : i->second;
  };
  if (extra("setup_errors") > 0 || extra("buddy_check_failed") > 0) {
    std::cerr << "registrar-load: the setup or the final check failed (see the counters)\n";
    return 1;
  }
  if (ops == 0) {
    std::cerr << "registrar-load: no operation completed\n";
    return 1;
  }
  double error_rate = static_cast<double>(errors) / static_cast<double>(ops);
  if (error_rate > opt.max_error_rate) {
    std::cerr << "registrar-load: error rate " << error_rate << " > --max-error-rate "
              << opt.max_error_rate << "\n";
    return 1;
  }
  return 0;
}
