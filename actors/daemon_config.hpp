// SPDX-License-Identifier: MIT
#pragma once

// The configuration of the registrard daemon: one JSON file
// (docs/configuration.md, examples/registrard.json) and command-line flags
// that override it. Precedence: built-in defaults < JSON file < flags.
//
//   CLI::App app{"registrard"};
//   actors::cli_options opts;
//   actors::add_cli_options(app, opts);
//   CLI11_PARSE(app, argc, argv);
//   actors::daemon_config cfg;
//   if (!opts.config_file.empty())
//     if (auto r = actors::load_config_file(opts.config_file, cfg); !r)
//       return die(r.err().reason);  // "config: ...: unknown key ..."
//   if (auto r = actors::apply_cli_options(opts, cfg); !r)
//     return die(r.err().reason);
//   std::cout << "registrard: " << actors::summary(cfg) << "\n";
//
// Errors are values (core::result, errc::invalid_input) whose reason names
// the key path (`config: "rate_limit.burst": expected an unsigned integer,
// got "ten"`). Neither CAF nor the JSON / CLI11 headers are included here:
// CLI::App is only forward-declared.

#include "actors/cluster_settings.hpp"
#include "actors/engine_config.hpp"
#include "core/model.hpp"
#include "core/rate_limiter.hpp"
#include "core/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
} // namespace CLI

namespace regcore::actors {

// -- listen addresses ---------------------------------------------------------

/// One address to serve SIP on, written "udp:127.0.0.1:5060" or
/// "tcp:[::1]:5070".
struct listen_spec {
  /// core::transport::udp or core::transport::tcp (nothing else parses).
  core::transport proto = core::transport::udp;
  /// Numeric IPv4 or IPv6 address, IPv6 without brackets ("::1");
  /// "0.0.0.0" / "::" for every interface.
  std::string host = "127.0.0.1";
  /// 0 picks a free port.
  uint16_t port = 5060;
};

bool operator==(const listen_spec& x, const listen_spec& y) noexcept;
inline bool operator!=(const listen_spec& x, const listen_spec& y) noexcept {
  return !(x == y);
}

/// Parses "udp:HOST:PORT" / "tcp:HOST:PORT" (transport lower case, HOST a
/// numeric IPv4 address or an IPv6 address in brackets, PORT 0..65535 in
/// decimal). The error's reason says what is wrong, without a prefix.
core::result<listen_spec> parse_listen(std::string_view text);

/// "udp:127.0.0.1:5060", "tcp:[::1]:5070": the inverse of parse_listen.
std::string to_string(const listen_spec& x);

// -- the configuration
// ----------------------------------------------------------

/// Digest authentication of REGISTER / SUBSCRIBE / PUBLISH (RFC 3261 §22,
/// RFC 8760 algorithms).
struct auth_config {
  /// Challenge requests without valid credentials (401).
  bool enabled = false;
  /// Digest realm; empty = the first domain (see auth_realm()).
  std::string realm;
  /// File with the users' credentials; required when enabled.
  std::string credentials_file;
  /// Seconds a nonce stays valid (then stale=true).
  uint32_t nonce_lifetime = 300;
  /// Algorithms offered, one challenge each, in this order ("SHA-256",
  /// "MD5").
  std::vector<std::string> algorithms = {"SHA-256", "MD5"};
};

/// Per-source token buckets at the SIP edge (503 with Retry-After).
struct rate_limit_config {
  bool enabled = false;
  /// Requests per second per source address, sustained.
  double rate = 100;
  /// Requests a source may send at once.
  uint32_t burst = 200;
  /// Seconds in the 503's Retry-After (RFC 3261 §21.5.4).
  uint32_t retry_after = 1;
  /// Source addresses tracked at most (see core::rate_limit_settings).
  uint32_t max_sources = 100000;
};

/// NOTIFY client transactions (RFC 3261 §17.1.2.2) and their failures.
struct notify_config {
  /// Timer T1 in ms: first UDP retransmission interval.
  uint32_t t1_ms = 500;
  /// Timer T2 in ms: the longest retransmission interval.
  uint32_t t2_ms = 4000;
  /// Timer F in ms: give up without a final response (64*T1).
  uint32_t timer_f_ms = 32000;
  /// A 481, 408 or timeout answering a NOTIFY ends the subscription
  /// (RFC 6665 §4.2.2).
  bool end_subscription_on_failure = true;
};

/// What SIGINT / SIGTERM do besides stopping.
struct shutdown_config {
  /// Send every watcher a final NOTIFY (Subscription-State: terminated).
  bool terminate_subscriptions = false;
};

/// Persistence (docs/ARCHITECTURE.md, "Durability"): the journal file and
/// when a change counts as acknowledged.
struct persistence_config {
  /// "sync" (a 2xx leaves once its change is committed and fsynced),
  /// "async" (written within milliseconds, not waited for) or "off" (memory
  /// only: a restart forgets everything).
  std::string durability = "sync";
  /// Directory of the journal (registrar.db and its log, registrar-log.0 and .1) and its
  /// lock; created when missing. One registrard per directory.
  std::string data_dir = "registrar-data";
  /// Changes logged before a fold writes them into the keyed table (at
  /// least; the journal uses max(this, rows / 4)); docs/ARCHITECTURE.md,
  /// "Durability". Larger: fewer page writes per change, more memory.
  uint32_t fold_entries = 65536;
};

/// Limits on what the SIP edge accepts.
struct limits_config {
  /// Bytes per SIP message; longer requests get 513.
  uint32_t max_message_size = 65535;
};

/// Clustering (docs/ARCHITECTURE.md, "Cluster"): off while `listen` is
/// empty; then no middleman is loaded and no extra port is opened.
struct cluster_config {
  /// This node's id, unique in the cluster: 1..64 of letters, digits, '-',
  /// '_', '.'. Required when `listen` is set.
  std::string node_id;
  /// Where this node's cluster node is published, "HOST:PORT" (numeric
  /// address, IPv6 in brackets; port 0: any free one). Empty: no cluster.
  std::string listen;
  /// Nodes to join through ("HOST:PORT", HOST may be a name); empty for the
  /// first node. Any one live member is enough.
  std::vector<std::string> join;
  /// Copies of each user, owner included (1: none). Every change goes to
  /// the replicas; the replica of a lost owner takes its users over. A 2xx
  /// waits for the replicas unless persistence.durability is async.
  uint32_t replication = 2;
  /// The middleman's heartbeat interval in ms; a connection silent for 4
  /// intervals is closed and the node behind it counts as lost.
  uint32_t heartbeat_ms = 500;
};

/// Everything registrard is configured with. The defaults serve localhost
/// on udp and tcp 127.0.0.1:5060 without authentication or rate limits.
struct daemon_config {
  /// Where to serve SIP.
  std::vector<listen_spec> listen = {{core::transport::udp, "127.0.0.1", 5060},
                                     {core::transport::tcp, "127.0.0.1", 5060}};
  /// Domains we are the registrar for (404 for others).
  std::vector<std::string> domains = {"localhost"};
  /// trace, debug, info, warn, error or off.
  std::string log_level = "info";
  /// Value of the Server header.
  std::string server_name = "registrar-core/0.1";
  /// Shards, expiry limits, contact / subscription limits, auto-buddy.
  engine_config engine;
  auth_config auth;
  rate_limit_config rate_limit;
  notify_config notify;
  shutdown_config shutdown;
  limits_config limits;
  persistence_config persistence;
  cluster_config cluster;
};

/// Field-by-field equality (tests, change detection).
bool operator==(const daemon_config& x, const daemon_config& y) noexcept;
inline bool operator!=(const daemon_config& x,
                       const daemon_config& y) noexcept {
  return !(x == y);
}

/// The log levels log_level accepts, from most to least verbose.
const std::vector<std::string>& log_level_names();

// -- JSON --------------------------------------------------------------------

/// Overlays the keys present in the JSON object `text` onto `into` (absent
/// keys keep their values, arrays replace whole), then validates the result.
/// Unknown keys, duplicate keys, wrong types, out-of-range numbers and JSON
/// syntax errors (with line, column and byte offset) fail; every reason
/// starts with "config: " and names the key path. Setting notify.t1_ms
/// without notify.timer_f_ms sets timer F to 64*T1. On error `into` may be
/// partially overlaid; use a copy when that matters.
core::result<void> parse_config_json(std::string_view text,
                                     daemon_config& into);

/// Reads `path` and parse_config_json()s it; errors name the file
/// ("config: /etc/registrard.json: ...", also when it cannot be read).
core::result<void> load_config_file(const std::string& path,
                                    daemon_config& into);

/// Checks what no single key can: min <= default <= max expiries, shards
/// >= 1, auth.enabled needs a credentials file, T1 <= T2, T1 <= timer F,
/// known log level and auth algorithms, no duplicate listen address, ...
/// The reason names the key ("config: \"engine.shards\": ...").
core::result<void> validate(const daemon_config& cfg);

/// The configuration as a JSON document (every key, 2-space indent) that
/// parse_config_json() reads back to an equal daemon_config.
std::string to_json_text(const daemon_config& cfg);

// -- command line (CLI11)
// ------------------------------------------------------

/// What the flags said; an empty optional = the flag was not given.
struct cli_options {
  /// --config FILE (empty: no file, defaults + flags only).
  std::string config_file;
  /// --print-config: print the effective configuration as JSON and exit.
  bool print_config = false;
  std::optional<std::vector<std::string>> listen;
  std::optional<std::vector<std::string>> domains;
  std::optional<std::string> log_level;
  std::optional<uint32_t> shards;
  /// --auth (true) / --no-auth (false).
  std::optional<bool> auth;
  std::optional<std::string> credentials_file;
  std::optional<std::string> realm;
  /// --rate-limit RATE: 0 turns rate limiting off, > 0 on at RATE.
  std::optional<double> rate_limit;
  std::optional<uint32_t> burst;
  std::optional<uint32_t> min_expires;
  std::optional<uint32_t> max_expires;
  std::optional<uint32_t> default_expires;
  std::optional<uint32_t> max_contacts;
  /// --no-auto-buddy.
  bool no_auto_buddy = false;
  std::optional<std::string> durability;
  std::optional<std::string> data_dir;
  /// --node-id ID.
  std::optional<std::string> node_id;
  /// --cluster-listen HOST:PORT.
  std::optional<std::string> cluster_listen;
  /// --join HOST:PORT, repeatable or comma-separated; replaces the list.
  std::optional<std::vector<std::string>> join;
};

/// Adds registrard's options to `app`; parsing `app` fills `out` (which must
/// outlive the parse). Every option's help names its JSON key and default.
void add_cli_options(CLI::App& app, cli_options& out);

/// Applies the flags in `opts` to `cfg` (loaded from the file, or defaults),
/// then validate()s. --listen / --domain replace the whole list;
/// --credentials also turns authentication on unless --no-auth is given.
core::result<void> apply_cli_options(const cli_options& opts,
                                     daemon_config& cfg);

// -- derived values
// -------------------------------------------------------------

/// persistence.durability as the engine's enum (validate() checked it).
durability durability_of(const daemon_config& cfg);

/// The journal's state file: persistence.data_dir + "/registrar.db" (its
/// log: journal::log_files).
std::string journal_path(const daemon_config& cfg);

/// The digest realm: auth.realm, or the first domain when that is empty.
std::string auth_realm(const daemon_config& cfg);

/// rate_limit as the settings of core::rate_limiter.
core::rate_limit_settings rate_limiter_settings(const daemon_config& cfg);

/// True when cluster.listen is set: the daemon loads the middleman and
/// starts a cluster node.
bool cluster_enabled(const daemon_config& cfg) noexcept;

/// The cluster node's settings from the `cluster` section (validate() has
/// checked it): listen and join parsed, connection timeout = 4 heartbeats.
cluster_settings cluster_settings_of(const daemon_config& cfg);

/// The one start-up line: "listening on udp:127.0.0.1:5060
/// tcp:127.0.0.1:5060; domains localhost; 4 shards; auth off; rate limit
/// off; ..." (no trailing newline).
std::string summary(const daemon_config& cfg);

} // namespace regcore::actors
