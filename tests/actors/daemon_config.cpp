// SPDX-License-Identifier: MIT
#define CAF_SUITE actors.daemon_config
#include "actors/daemon_config.hpp"

#include <caf/test/unit_test.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#ifndef REGCORE_SOURCE_DIR
#error "REGCORE_SOURCE_DIR (the repository root) must be defined"
#endif

using namespace regcore;
using namespace regcore::actors;

namespace {

const std::string example_path = REGCORE_SOURCE_DIR "/examples/registrard.json";
const std::string docs_path = REGCORE_SOURCE_DIR "/docs/configuration.md";

std::string read_text(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

/// The error of parsing `text` over the defaults; "" on success.
std::string parse_error(std::string_view text) {
  daemon_config c;
  auto r = parse_config_json(text, c);
  return r ? std::string{} : r.err().reason;
}

/// parse_config_json over the defaults; fails the test on error.
daemon_config parse_ok(std::string_view text) {
  daemon_config c;
  auto r = parse_config_json(text, c);
  CAF_CHECK(r.has_value());
  if (!r)
    CAF_MESSAGE("unexpected error: " << r.err().reason);
  return c;
}

std::string listen_error(std::string_view text) {
  auto r = parse_listen(text);
  return r ? std::string{} : r.err().reason;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// registrard's start-up: flags, then the --config file, then the flags on
/// top. `error` holds the first failure (CLI11's or ours).
struct startup {
  cli_options opts;
  daemon_config cfg;
  std::string error;
  std::string help;

  explicit startup(std::vector<std::string> args) {
    CLI::App app{"registrard"};
    add_cli_options(app, opts);
    help = app.help();
    args.insert(args.begin(), "registrard");
    std::vector<const char*> argv;
    for (auto& a : args)
      argv.push_back(a.c_str());
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
      error = std::string{"cli: "} + e.what();
      return;
    }
    if (!opts.config_file.empty())
      if (auto r = load_config_file(opts.config_file, cfg); !r) {
        error = r.err().reason;
        return;
      }
    if (auto r = apply_cli_options(opts, cfg); !r)
      error = r.err().reason;
  }
};

/// Leaf key paths ("engine.registration.min_expires") of a JSON document.
void leaf_paths(const nlohmann::ordered_json& j, const std::string& prefix,
                std::vector<std::string>& out) {
  if (!j.is_object()) {
    out.push_back(prefix);
    return;
  }
  for (auto& [k, v] : j.items())
    leaf_paths(v, prefix.empty() ? k : prefix + "." + k, out);
}

} // namespace

// -- defaults ---------------------------------------------------------------

CAF_TEST(defaults serve localhost on udp and tcp without auth or limits) {
  daemon_config c;
  CAF_REQUIRE_EQUAL(c.listen.size(), 2u);
  CAF_CHECK_EQUAL(to_string(c.listen[0]), "udp:127.0.0.1:5060");
  CAF_CHECK_EQUAL(to_string(c.listen[1]), "tcp:127.0.0.1:5060");
  CAF_CHECK_EQUAL(c.domains, std::vector<std::string>{"localhost"});
  CAF_CHECK_EQUAL(c.log_level, "info");
  CAF_CHECK_EQUAL(c.server_name, "registrar-core/0.1");
  CAF_CHECK_EQUAL(c.engine.shards, 4u);
  CAF_CHECK_EQUAL(c.engine.registration.min_expires, 60u);
  CAF_CHECK_EQUAL(c.engine.registration.max_expires, 7200u);
  CAF_CHECK_EQUAL(c.engine.registration.default_expires, 3600u);
  CAF_CHECK_EQUAL(c.engine.registration.max_contacts, 10u);
  CAF_CHECK_EQUAL(c.engine.auto_buddy, true);
  CAF_CHECK_EQUAL(c.auth.enabled, false);
  CAF_CHECK_EQUAL(c.auth.realm, "");
  CAF_CHECK_EQUAL(auth_realm(c), "localhost");
  CAF_CHECK_EQUAL(c.auth.nonce_lifetime, 300u);
  CAF_CHECK_EQUAL(c.auth.algorithms,
                  (std::vector<std::string>{"SHA-256", "MD5"}));
  CAF_CHECK_EQUAL(c.rate_limit.enabled, false);
  CAF_CHECK_EQUAL(c.rate_limit.rate, 100.0);
  CAF_CHECK_EQUAL(c.rate_limit.burst, 200u);
  CAF_CHECK_EQUAL(c.rate_limit.retry_after, 1u);
  CAF_CHECK_EQUAL(c.rate_limit.max_sources, 100000u);
  CAF_CHECK_EQUAL(c.notify.t1_ms, 500u);
  CAF_CHECK_EQUAL(c.notify.t2_ms, 4000u);
  CAF_CHECK_EQUAL(c.notify.timer_f_ms, 64u * 500u);
  CAF_CHECK_EQUAL(c.notify.end_subscription_on_failure, true);
  CAF_CHECK_EQUAL(c.shutdown.terminate_subscriptions, false);
  CAF_CHECK_EQUAL(c.limits.max_message_size, 65535u);
  CAF_CHECK(validate(c).has_value());
}

CAF_TEST(an empty object changes nothing) {
  CAF_CHECK(parse_ok("{}") == daemon_config{});
  CAF_CHECK(parse_ok(" \n{ }\n") == daemon_config{});
}

// -- listen addresses
// -----------------------------------------------------------

CAF_TEST(listen addresses parse ipv4 and bracketed ipv6) {
  auto a = parse_listen("udp:127.0.0.1:5060");
  CAF_REQUIRE(a.has_value());
  CAF_CHECK(a->proto == core::transport::udp);
  CAF_CHECK_EQUAL(a->host, "127.0.0.1");
  CAF_CHECK_EQUAL(a->port, 5060u);
  auto b = parse_listen("tcp:[::1]:5070");
  CAF_REQUIRE(b.has_value());
  CAF_CHECK(b->proto == core::transport::tcp);
  CAF_CHECK_EQUAL(b->host, "::1");
  CAF_CHECK_EQUAL(b->port, 5070u);
  CAF_CHECK_EQUAL(to_string(*b), "tcp:[::1]:5070");
  auto c = parse_listen("udp:[2001:db8::10]:65535");
  CAF_REQUIRE(c.has_value());
  CAF_CHECK_EQUAL(c->host, "2001:db8::10");
  CAF_CHECK_EQUAL(c->port, 65535u);
  auto any = parse_listen("tcp:0.0.0.0:0"); // port 0: a free one
  CAF_REQUIRE(any.has_value());
  CAF_CHECK_EQUAL(any->port, 0u);
  for (auto text : {"udp:127.0.0.1:5060", "tcp:[::1]:5070", "udp:[::]:0",
                    "tcp:192.0.2.1:65535"}) {
    auto r = parse_listen(text);
    CAF_REQUIRE(r.has_value());
    CAF_CHECK_EQUAL(to_string(*r), text);
  }
}

CAF_TEST(bad listen addresses say what is wrong) {
  CAF_CHECK(contains(listen_error("sctp:127.0.0.1:5060"),
                     "unknown transport \"sctp\""));
  CAF_CHECK(contains(listen_error("UDP:127.0.0.1:5060"), "unknown transport"));
  CAF_CHECK(contains(listen_error("127.0.0.1"), "missing transport"));
  CAF_CHECK(contains(listen_error(":127.0.0.1:5060"), "missing transport"));
  CAF_CHECK(
      contains(listen_error("udp:127.0.0.1:65536"), "bad port \"65536\""));
  CAF_CHECK(contains(listen_error("udp:127.0.0.1:99999999999999999999999"),
                     "bad port"));
  CAF_CHECK(contains(listen_error("udp:127.0.0.1:50a0"), "bad port \"50a0\""));
  CAF_CHECK(contains(listen_error("udp:127.0.0.1:-1"), "bad port"));
  CAF_CHECK(contains(listen_error("udp:127.0.0.1:+5060"), "bad port"));
  CAF_CHECK(contains(listen_error("udp:127.0.0.1: 5060"), "bad port"));
  CAF_CHECK(contains(listen_error("udp:127.0.0.1"), "missing port"));
  CAF_CHECK(contains(listen_error("udp:127.0.0.1:"), "missing port"));
  CAF_CHECK(contains(listen_error("udp::5060"), "missing host"));
  CAF_CHECK(contains(listen_error("udp:[]:5060"), "missing host"));
  CAF_CHECK(contains(listen_error("udp:::1:5060"), "in brackets"));
  CAF_CHECK(contains(listen_error("tcp:2001:db8::1:5060"), "in brackets"));
  CAF_CHECK(contains(listen_error("udp:[::1]"), "missing port"));
  CAF_CHECK(contains(listen_error("udp:[::1]5060"), "expected ':'"));
  CAF_CHECK(contains(listen_error("udp:[::1:5060"), "missing ']'"));
  CAF_CHECK(contains(listen_error("udp:[127.0.0.1]:5060"), "not an IPv6"));
  CAF_CHECK(contains(listen_error("udp:localhost:5060"),
                     "not a numeric IPv4 address"));
  CAF_CHECK(contains(listen_error("udp:256.0.0.1:5060"), "not a numeric IPv4"));
  CAF_CHECK(contains(listen_error(""), "missing transport"));
  // The input is quoted in the message.
  CAF_CHECK(contains(listen_error("udp:1.2.3.4:x"), "\"udp:1.2.3.4:x\""));
}

// -- the example file
// ----------------------------------------------------------

CAF_TEST(the example file parses and sets every key it names) {
  daemon_config c;
  auto r = load_config_file(example_path, c);
  if (!r)
    CAF_MESSAGE(r.err().reason);
  CAF_REQUIRE(r.has_value());
  CAF_REQUIRE_EQUAL(c.listen.size(), 3u);
  CAF_CHECK_EQUAL(to_string(c.listen[0]), "udp:0.0.0.0:5060");
  CAF_CHECK_EQUAL(to_string(c.listen[1]), "tcp:0.0.0.0:5060");
  CAF_CHECK_EQUAL(to_string(c.listen[2]), "udp:[::]:5060");
  CAF_CHECK_EQUAL(c.domains,
                  (std::vector<std::string>{"example.com", "example.org"}));
  CAF_CHECK_EQUAL(c.log_level, "warn");
  CAF_CHECK_EQUAL(c.server_name, "example-registrar/1.0");
  auto& e = c.engine;
  CAF_CHECK_EQUAL(e.shards, 8u);
  CAF_CHECK_EQUAL(e.registration.min_expires, 120u);
  CAF_CHECK_EQUAL(e.registration.max_expires, 3600u);
  CAF_CHECK_EQUAL(e.registration.default_expires, 1800u);
  CAF_CHECK_EQUAL(e.registration.max_contacts, 5u);
  CAF_CHECK_EQUAL(e.subscription_min_expires, 60u);
  CAF_CHECK_EQUAL(e.subscription_max_expires, 7200u);
  CAF_CHECK_EQUAL(e.subscription_default_expires, 3600u);
  CAF_CHECK_EQUAL(e.limits.max_per_watcher, 500u);
  CAF_CHECK_EQUAL(e.limits.max_per_target, 2000u);
  CAF_CHECK_EQUAL(e.publish_min_expires, 60u);
  CAF_CHECK_EQUAL(e.publish_max_expires, 7200u);
  CAF_CHECK_EQUAL(e.publish_default_expires, 1800u);
  CAF_CHECK_EQUAL(e.auto_buddy, false);
  CAF_CHECK_EQUAL(e.expiry_granularity.count(), 1000); // absent: default
  CAF_CHECK_EQUAL(c.auth.enabled, true);
  CAF_CHECK_EQUAL(c.auth.realm, "example.com");
  CAF_CHECK_EQUAL(c.auth.credentials_file, "/etc/registrard/credentials");
  CAF_CHECK_EQUAL(c.auth.nonce_lifetime, 600u);
  CAF_CHECK_EQUAL(c.auth.algorithms, std::vector<std::string>{"SHA-256"});
  CAF_CHECK_EQUAL(c.rate_limit.enabled, true);
  CAF_CHECK_EQUAL(c.rate_limit.rate, 20.0);
  CAF_CHECK_EQUAL(c.rate_limit.burst, 50u);
  CAF_CHECK_EQUAL(c.rate_limit.retry_after, 5u);
  CAF_CHECK_EQUAL(c.rate_limit.max_sources, 100000u); // absent: default
  CAF_CHECK_EQUAL(c.notify.t1_ms, 250u);
  CAF_CHECK_EQUAL(c.notify.t2_ms, 4000u);
  CAF_CHECK_EQUAL(c.notify.timer_f_ms, 64u * 250u); // follows T1
  CAF_CHECK_EQUAL(c.notify.end_subscription_on_failure, true);
  CAF_CHECK_EQUAL(c.shutdown.terminate_subscriptions, true);
  CAF_CHECK_EQUAL(c.limits.max_message_size, 16384u);
  auto rl = rate_limiter_settings(c);
  CAF_CHECK_EQUAL(rl.rate, 20.0);
  CAF_CHECK_EQUAL(rl.burst, 50.0);
  CAF_CHECK_EQUAL(rl.max_sources, 100000u);
}

CAF_TEST(to_json_text reads back to an equal configuration) {
  daemon_config example;
  CAF_REQUIRE(load_config_file(example_path, example).has_value());
  for (auto& original : {daemon_config{}, example}) {
    auto text = to_json_text(original);
    daemon_config back;
    back.domains = {"scratch"}; // everything must be overwritten
    back.engine.shards = 99;
    auto r = parse_config_json(text, back);
    CAF_REQUIRE(r.has_value());
    CAF_CHECK(back == original);
    CAF_CHECK(back != daemon_config{} || original == daemon_config{});
  }
}

CAF_TEST(the documentation shows the example file and every key) {
  auto docs = read_text(docs_path);
  CAF_REQUIRE(!docs.empty());
  auto example = read_text(example_path);
  CAF_REQUIRE(!example.empty());
  CAF_CHECK(contains(docs, "```json\n" + example + "```"));
  std::vector<std::string> paths;
  leaf_paths(nlohmann::ordered_json::parse(to_json_text(daemon_config{})), "",
             paths);
  CAF_CHECK_GREATER(paths.size(), 30u);
  for (auto& p : paths)
    if (!contains(docs, "`" + p + "`")) {
      CAF_MESSAGE("key missing from docs/configuration.md: " << p);
      CAF_CHECK(false);
    }
}

// -- overlaying
// -------------------------------------------------------------------

CAF_TEST(absent keys keep their values and arrays replace whole) {
  daemon_config c;
  c.engine.shards = 16; // e.g. from an earlier layer
  auto r
      = parse_config_json(R"({"engine": {"registration": {"max_expires": 9000}},
                                  "domains": ["a.example"]})",
                          c);
  CAF_REQUIRE(r.has_value());
  CAF_CHECK_EQUAL(c.engine.registration.max_expires, 9000u);
  CAF_CHECK_EQUAL(c.engine.registration.min_expires, 60u);
  CAF_CHECK_EQUAL(c.engine.registration.default_expires, 3600u);
  CAF_CHECK_EQUAL(c.engine.shards, 16u);
  CAF_CHECK_EQUAL(c.domains, std::vector<std::string>{"a.example"});
  CAF_CHECK_EQUAL(c.listen.size(), 2u);
  CAF_CHECK_EQUAL(auth_realm(c), "a.example"); // realm follows the domain
}

CAF_TEST(timer f follows t1 unless it is given) {
  auto a = parse_ok(R"({"notify": {"t1_ms": 100}})");
  CAF_CHECK_EQUAL(a.notify.timer_f_ms, 6400u);
  auto b = parse_ok(R"({"notify": {"t1_ms": 100, "timer_f_ms": 1000}})");
  CAF_CHECK_EQUAL(b.notify.timer_f_ms, 1000u);
  auto c = parse_ok(R"({"notify": {"timer_f_ms": 1000}})");
  CAF_CHECK_EQUAL(c.notify.t1_ms, 500u);
  CAF_CHECK_EQUAL(c.notify.timer_f_ms, 1000u);
}

// -- errors naming their key
// ---------------------------------------------------------

CAF_TEST(type errors name the key path and the value) {
  CAF_CHECK_EQUAL(
      parse_error(R"({"rate_limit": {"burst": "ten"}})"),
      R"(config: "rate_limit.burst": expected an unsigned integer, got "ten")");
  CAF_CHECK_EQUAL(
      parse_error(R"({"engine": {"shards": -2}})"),
      R"(config: "engine.shards": expected an unsigned integer, got -2)");
  CAF_CHECK_EQUAL(
      parse_error(R"({"engine": {"shards": 2.5}})"),
      R"(config: "engine.shards": expected an unsigned integer, got 2.5)");
  CAF_CHECK_EQUAL(
      parse_error(
          R"({"engine": {"registration": {"max_contacts": 4294967296}}})"),
      R"(config: "engine.registration.max_contacts": expected an unsigned integer <= 4294967295, got 4294967296)");
  CAF_CHECK_EQUAL(parse_error(R"({"auth": {"enabled": 1}})"),
                  R"(config: "auth.enabled": expected true or false, got 1)");
  CAF_CHECK_EQUAL(
      parse_error(R"({"rate_limit": {"rate": "fast"}})"),
      R"(config: "rate_limit.rate": expected a number, got "fast")");
  CAF_CHECK_EQUAL(parse_error(R"({"log_level": 3})"),
                  R"(config: "log_level": expected a string, got 3)");
  CAF_CHECK_EQUAL(
      parse_error(R"({"domains": "example.com"})"),
      R"(config: "domains": expected an array of strings, got "example.com")");
  CAF_CHECK_EQUAL(parse_error(R"({"domains": ["a.example", 7]})"),
                  R"(config: "domains[1]": expected a string, got 7)");
  CAF_CHECK_EQUAL(parse_error(R"({"engine": 4})"),
                  R"(config: "engine": expected an object, got 4)");
  CAF_CHECK_EQUAL(
      parse_error(R"({"notify": {"t1_ms": null}})"),
      R"(config: "notify.t1_ms": expected an unsigned integer, got null)");
  CAF_CHECK_EQUAL(
      parse_error(R"({"auth": {"algorithms": [["MD5"]]}})"),
      R"(config: "auth.algorithms[0]": expected a string, got an array)");
}

CAF_TEST(listen errors name the element) {
  auto e = parse_error(
      R"({"listen": ["udp:127.0.0.1:5060", "udp:1.2.3.4:70000"]})");
  CAF_CHECK(
      contains(e, R"(config: "listen[1]": "udp:1.2.3.4:70000": bad port)"));
  e = parse_error(R"({"listen": ["sctp:127.0.0.1:5060"]})");
  CAF_CHECK(contains(e, R"(config: "listen[0]": )"));
  CAF_CHECK(contains(e, "unknown transport"));
}

CAF_TEST(unknown keys are errors with a suggestion) {
  CAF_CHECK_EQUAL(parse_error(R"({"notfy": {}})"),
                  R"(config: unknown key "notfy" (did you mean "notify"?))");
  CAF_CHECK_EQUAL(
      parse_error(R"({"engine": {"registration": {"min_expire": 30}}})"),
      R"(config: unknown key "engine.registration.min_expire" (did you mean "min_expires"?))");
  CAF_CHECK_EQUAL(parse_error(R"({"colour": "blue"})"),
                  R"(config: unknown key "colour")");
  CAF_CHECK_EQUAL(
      parse_error(R"({"rate_limit": {"enabled": true, "rate_ps": 5}})"),
      R"(config: unknown key "rate_limit.rate_ps")");
}

CAF_TEST(duplicate keys are errors) {
  CAF_CHECK_EQUAL(parse_error(R"({"domains": ["a"], "domains": ["b"]})"),
                  R"(config: duplicate key "domains")");
  CAF_CHECK_EQUAL(parse_error(R"({"listen": ["udp:127.0.0.1:5060"],
                    "rate_limit": {"burst": 1, "rate": 2, "burst": 3}})"),
                  R"(config: duplicate key "rate_limit.burst")");
  // The same key in two objects is fine.
  CAF_CHECK_EQUAL(parse_error(R"({"auth": {"enabled": false},
                                  "rate_limit": {"enabled": false}})"),
                  "");
}

CAF_TEST(syntax errors give line column and byte offset) {
  auto e
      = parse_error("{\n  \"log_level\": \"info\",\n  \"domains\" [\"x\"]\n}");
  CAF_MESSAGE(e);
  CAF_CHECK(
      contains(e, "config: JSON syntax error at line 3, column 13 (byte 38)"));
  e = parse_error("{\"a\": tru}");
  CAF_MESSAGE(e);
  CAF_CHECK(contains(e, "config: JSON syntax error at line 1"));
  CAF_CHECK(contains(e, "(byte "));
  e = parse_error("");
  CAF_MESSAGE(e);
  CAF_CHECK_EQUAL(
      e, "config: no JSON: the text is empty (expected an object, e.g. {})");
  CAF_CHECK_EQUAL(parse_error(" \n "), e);
  e = parse_error("{\"domains\": [");
  CAF_MESSAGE(e);
  CAF_CHECK(contains(e,
                     "line 1, column 14 (byte 14): syntax error while parsing "
                     "value - unexpected end of input"));
  e = parse_error("{\n");
  CAF_CHECK(contains(e, "at line 2, column 1 (byte 3)"));
  e = parse_error("{} {}");
  CAF_CHECK(contains(e, "config: JSON syntax error at line 1, column 4"));
  e = parse_error("{\"domains\": [\"a\",]}"); // no trailing commas in JSON
  CAF_CHECK(contains(e, "config: JSON syntax error"));
  CAF_CHECK_EQUAL(
      parse_error(R"(["udp:127.0.0.1:5060"])"),
      "config: expected a JSON object at the top level, got an array");
}

CAF_TEST(semantic errors name the key) {
  CAF_CHECK_EQUAL(
      parse_error(R"({"engine": {"registration": {"min_expires": 4000}}})"),
      R"(config: "engine.registration.default_expires": (3600) must lie between min_expires (4000) and max_expires (7200))");
  CAF_CHECK_EQUAL(
      parse_error(R"({"engine": {"registration": {"min_expires": 8000}}})"),
      R"(config: "engine.registration.min_expires": (8000) must not exceed max_expires (7200))");
  CAF_CHECK_EQUAL(
      parse_error(R"({"engine": {"registration": {"max_expires": 1000}}})"),
      R"(config: "engine.registration.default_expires": (3600) must lie between min_expires (60) and max_expires (1000))");
  CAF_CHECK(contains(
      parse_error(R"({"engine": {"subscription": {"default_expires": 10}}})"),
      R"("engine.subscription.default_expires")"));
  CAF_CHECK(
      contains(parse_error(R"({"engine": {"publish": {"max_expires": 0}}})"),
               R"("engine.publish.max_expires": must be at least 1)"));
  CAF_CHECK_EQUAL(parse_error(R"({"engine": {"shards": 0}})"),
                  R"(config: "engine.shards": must be at least 1, got 0)");
  CAF_CHECK_EQUAL(parse_error(R"({"engine": {"shards": 5000}})"),
                  R"(config: "engine.shards": must be at most 1024, got 5000)");
  CAF_CHECK(contains(
      parse_error(R"({"engine": {"registration": {"max_contacts": 0}}})"),
      R"("engine.registration.max_contacts": must be at least 1)"));
  CAF_CHECK_EQUAL(parse_error(R"({"notify": {"t1_ms": 0, "timer_f_ms": 100}})"),
                  R"(config: "notify.t1_ms": must be at least 1, got 0)");
  CAF_CHECK(
      contains(parse_error(R"({"notify": {"t1_ms": 5000}})"),
               R"("notify.t2_ms": (4000) must be at least t1_ms (5000))"));
  CAF_CHECK(
      contains(parse_error(R"({"notify": {"timer_f_ms": 100}})"),
               R"("notify.timer_f_ms": (100) must be at least t1_ms (500))"));
  CAF_CHECK_EQUAL(
      parse_error(R"({"auth": {"enabled": true}})"),
      R"(config: "auth.credentials_file": must be set when auth.enabled is true)");
  CAF_CHECK_EQUAL(
      parse_error(R"({"auth": {"algorithms": ["SHA-256", "SHA-1"]}})"),
      R"(config: "auth.algorithms[1]": unknown algorithm "SHA-1" (expected SHA-256 or MD5))");
  CAF_CHECK(contains(parse_error(R"({"auth": {"algorithms": ["MD5", "MD5"]}})"),
                     R"("auth.algorithms[1]": "MD5" is listed twice)"));
  CAF_CHECK(contains(parse_error(R"({"auth": {"algorithms": []}})"),
                     R"("auth.algorithms": must list at least one)"));
  CAF_CHECK(contains(parse_error(R"({"auth": {"realm": "a\"b"}})"),
                     R"("auth.realm")"));
  CAF_CHECK_EQUAL(
      parse_error(R"({"log_level": "verbose"})"),
      R"(config: "log_level": unknown level "verbose" (expected one of trace, debug, info, warn, error, off))");
  CAF_CHECK_EQUAL(parse_error(R"({"listen": []})"),
                  R"(config: "listen": must list at least one address)");
  CAF_CHECK_EQUAL(
      parse_error(R"({"listen": ["udp:[::1]:5060", "udp:[::1]:5060"]})"),
      R"(config: "listen[1]": udp:[::1]:5060 is listed twice)");
  // udp and tcp on one port are two sockets; two free ports are two too.
  CAF_CHECK_EQUAL(parse_error(R"({"listen": ["udp:[::1]:5060", "tcp:[::1]:5060",
                                             "udp:[::1]:0", "udp:[::1]:0"]})"),
                  "");
  CAF_CHECK_EQUAL(parse_error(R"({"domains": []})"),
                  R"(config: "domains": must list at least one domain)");
  CAF_CHECK(
      contains(parse_error(R"({"domains": ["ok.example", "bad domain"]})"),
               R"("domains[1]")"));
  CAF_CHECK(contains(parse_error(R"({"server_name": "x\r\nVia: evil"})"),
                     R"("server_name")"));
  CAF_CHECK(contains(parse_error(R"({"rate_limit": {"rate": 0}})"),
                     R"("rate_limit.rate": must be a number > 0)"));
  CAF_CHECK(contains(parse_error(R"({"rate_limit": {"burst": 0}})"),
                     R"("rate_limit.burst": must be at least 1)"));
  CAF_CHECK(contains(parse_error(R"({"rate_limit": {"retry_after": 0}})"),
                     R"("rate_limit.retry_after")"));
  CAF_CHECK(
      contains(parse_error(R"({"limits": {"max_message_size": 100}})"),
               R"("limits.max_message_size": must be at least 1024, got 100)"));
  CAF_CHECK(contains(parse_error(R"({"engine": {"expiry_granularity_ms": 0}})"),
                     R"("engine.expiry_granularity_ms")"));
}

CAF_TEST(file errors name the file) {
  daemon_config c;
  auto missing = std::string{REGCORE_SOURCE_DIR} + "/no/such/registrard.json";
  auto r = load_config_file(missing, c);
  CAF_REQUIRE(!r.has_value());
  CAF_CHECK_EQUAL(r.err().reason,
                  "config: " + missing + ": cannot open the file for reading");
  CAF_CHECK(r.err() == core::errc::invalid_input);
  // A directory opens but cannot be read as a file.
  auto dir = load_config_file(REGCORE_SOURCE_DIR "/examples", c);
  CAF_REQUIRE(!dir.has_value());
  CAF_CHECK_EQUAL(dir.err().reason, "config: " REGCORE_SOURCE_DIR
                                    "/examples: cannot read the file");
  // Errors in the file carry its name before the key.
  auto tmp = std::string{"/tmp/regcore_daemon_config_test.json"};
  {
    std::ofstream out{tmp};
    out << R"({"rate_limit": {"burst": "ten"}})";
  }
  auto bad = load_config_file(tmp, c);
  CAF_REQUIRE(!bad.has_value());
  CAF_CHECK_EQUAL(
      bad.err().reason,
      "config: " + tmp
          + R"(: "rate_limit.burst": expected an unsigned integer, got "ten")");
  std::remove(tmp.c_str());
}

// -- command line
// --------------------------------------------------------------------

CAF_TEST(no flags leave the defaults) {
  startup s{{}};
  CAF_CHECK_EQUAL(s.error, "");
  CAF_CHECK(s.cfg == daemon_config{});
  CAF_CHECK_EQUAL(s.opts.config_file, "");
  CAF_CHECK(!s.opts.print_config);
}

CAF_TEST(precedence is defaults then file then flags) {
  // The file alone.
  startup file{{"--config", example_path}};
  CAF_REQUIRE_EQUAL(file.error, "");
  CAF_CHECK_EQUAL(file.cfg.engine.shards, 8u);
  CAF_CHECK_EQUAL(file.cfg.listen.size(), 3u);
  // Flags override the file; what no flag names stays as the file says.
  startup s{{"--config", example_path, "--shards", "2", "--domain", "a.example",
             "--domain=b.example", "--log-level", "debug", "--max-contacts",
             "3", "--min-expires", "100", "--max-expires", "5000", "--burst",
             "7", "--realm", "sip.example"}};
  CAF_REQUIRE_EQUAL(s.error, "");
  CAF_CHECK_EQUAL(s.cfg.engine.shards, 2u);
  CAF_CHECK_EQUAL(s.cfg.domains,
                  (std::vector<std::string>{"a.example", "b.example"}));
  CAF_CHECK_EQUAL(s.cfg.log_level, "debug");
  CAF_CHECK_EQUAL(s.cfg.engine.registration.max_contacts, 3u);
  CAF_CHECK_EQUAL(s.cfg.engine.registration.min_expires, 100u);
  CAF_CHECK_EQUAL(s.cfg.engine.registration.max_expires, 5000u);
  CAF_CHECK_EQUAL(s.cfg.engine.registration.default_expires, 1800u); // file
  CAF_CHECK_EQUAL(s.cfg.rate_limit.burst, 7u);
  CAF_CHECK_EQUAL(s.cfg.rate_limit.rate, 20.0); // file
  CAF_CHECK_EQUAL(s.cfg.auth.realm, "sip.example");
  CAF_CHECK_EQUAL(s.cfg.listen.size(), 3u); // no --listen: the file's list
  CAF_CHECK_EQUAL(s.cfg.server_name, "example-registrar/1.0");
  // Flags without a file override the defaults.
  startup d{{"--shards", "6"}};
  CAF_REQUIRE_EQUAL(d.error, "");
  CAF_CHECK_EQUAL(d.cfg.engine.shards, 6u);
  CAF_CHECK_EQUAL(d.cfg.domains, std::vector<std::string>{"localhost"});
}

CAF_TEST(repeated listen flags replace the configured list) {
  startup s{{"--config", example_path, "--listen", "tcp:[::1]:5070", "--listen",
             "udp:127.0.0.1:0"}};
  CAF_REQUIRE_EQUAL(s.error, "");
  CAF_REQUIRE_EQUAL(s.cfg.listen.size(), 2u);
  CAF_CHECK_EQUAL(to_string(s.cfg.listen[0]), "tcp:[::1]:5070");
  CAF_CHECK_EQUAL(to_string(s.cfg.listen[1]), "udp:127.0.0.1:0");
  startup bad{{"--listen", "udp:::1:5060"}};
  CAF_CHECK(contains(bad.error, "--listen \"udp:::1:5060\": an IPv6 address "
                                "must be written in brackets"));
}

CAF_TEST(auth rate limit and auto buddy flags) {
  startup off{{"--config", example_path, "--no-auth", "--rate-limit", "0",
               "--no-auto-buddy"}};
  CAF_REQUIRE_EQUAL(off.error, "");
  CAF_CHECK_EQUAL(off.cfg.auth.enabled, false);
  CAF_CHECK_EQUAL(off.cfg.rate_limit.enabled, false);
  CAF_CHECK_EQUAL(off.cfg.engine.auto_buddy, false);
  startup on{{"--rate-limit", "12.5", "--credentials", "/tmp/users"}};
  CAF_REQUIRE_EQUAL(on.error, "");
  CAF_CHECK_EQUAL(on.cfg.rate_limit.enabled, true);
  CAF_CHECK_EQUAL(on.cfg.rate_limit.rate, 12.5);
  CAF_CHECK_EQUAL(on.cfg.auth.enabled, true); // --credentials turns it on
  CAF_CHECK_EQUAL(on.cfg.auth.credentials_file, "/tmp/users");
  CAF_CHECK_EQUAL(on.cfg.engine.auto_buddy, true);
  startup creds_off{{"--credentials", "/tmp/users", "--no-auth"}};
  CAF_REQUIRE_EQUAL(creds_off.error, "");
  CAF_CHECK_EQUAL(creds_off.cfg.auth.enabled, false);
  startup auth_only{{"--auth"}};
  CAF_CHECK_EQUAL(
      auth_only.error,
      R"(config: "auth.credentials_file": must be set when auth.enabled is true)");
  startup both{{"--auth", "--no-auth"}};
  CAF_CHECK(contains(both.error, "cli: "));
  CAF_CHECK(contains(both.error, "excludes"));
  startup neg{{"--rate-limit", "-3"}};
  CAF_CHECK(contains(neg.error, "--rate-limit: expected a number >= 0"));
}

CAF_TEST(bad flag values are rejected) {
  startup letters{{"--shards", "four"}};
  CAF_CHECK(contains(letters.error, "cli: "));
  CAF_CHECK(contains(letters.error, "--shards"));
  startup negative{{"--max-contacts", "-1"}};
  CAF_CHECK(contains(negative.error, "cli: "));
  startup hex{{"--shards", "0x10"}};
  CAF_CHECK(contains(hex.error, "cli: "));
  startup octal{{"--min-expires", "010"}}; // decimal, not octal
  CAF_REQUIRE_EQUAL(octal.error, "");
  CAF_CHECK_EQUAL(octal.cfg.engine.registration.min_expires, 10u);
  startup unknown{{"--shard", "3"}};
  CAF_CHECK(contains(unknown.error, "cli: "));
  startup missing{{"--config", "/no/such/file.json"}};
  CAF_CHECK_EQUAL(
      missing.error,
      "config: /no/such/file.json: cannot open the file for reading");
  // The result after the flags is validated, naming the key.
  startup inconsistent{{"--max-expires", "1000"}};
  CAF_CHECK_EQUAL(
      inconsistent.error,
      R"(config: "engine.registration.default_expires": (3600) must lie between min_expires (60) and max_expires (1000))");
  startup fixed{{"--max-expires", "1000", "--default-expires", "900"}};
  CAF_CHECK_EQUAL(fixed.error, "");
  startup level{{"--log-level", "loud"}};
  CAF_CHECK(contains(level.error, R"("log_level": unknown level "loud")"));
}

CAF_TEST(help explains every option with its default) {
  startup s{{}};
  CAF_MESSAGE("\n" << s.help);
  for (auto opt :
       {"--config", "--print-config", "--listen", "--domain", "--log-level",
        "--shards", "--no-auto-buddy", "--min-expires", "--max-expires",
        "--default-expires", "--max-contacts", "--auth", "--no-auth",
        "--credentials", "--realm", "--rate-limit", "--burst"})
    CAF_CHECK(contains(s.help, opt));
  for (auto text :
       {"Default: udp:127.0.0.1:5060 tcp:127.0.0.1:5060", "Default: localhost",
        "Default: info", "Default: 4", "Default: 60", "Default: 7200",
        "Default: 3600", "Default: 10", "Default: 200", "rate 100 when enabled",
        "Default: the first domain", "Default: auto-buddy on"})
    CAF_CHECK(contains(s.help, text));
}

CAF_TEST(the summary line shows what runs) {
  daemon_config c;
  CAF_CHECK_EQUAL(summary(c),
                  "listening on udp:127.0.0.1:5060 tcp:127.0.0.1:5060; domains "
                  "localhost; 4 shards; expires 60..7200 s (default 3600), 10 "
                  "contacts per AOR; auto-buddy on; auth off; rate limit off; "
                  "durability sync (registrar-data/registrar.db); "
                  "max message 65535 bytes; log level info");
  daemon_config e;
  CAF_REQUIRE(load_config_file(example_path, e).has_value());
  auto line = summary(e);
  CAF_CHECK(contains(line, "listening on udp:0.0.0.0:5060 tcp:0.0.0.0:5060 "
                           "udp:[::]:5060;"));
  CAF_CHECK(contains(line, "domains example.com example.org;"));
  CAF_CHECK(contains(line, "8 shards;"));
  CAF_CHECK(contains(line, "auth on (realm example.com, SHA-256)"));
  CAF_CHECK(contains(line, "rate limit 20/s per source, burst 50"));
  CAF_CHECK(contains(line, "auto-buddy off"));
  CAF_CHECK(contains(line, "max message 16384 bytes"));
}

// -- cluster ------------------------------------------------------------------

CAF_TEST(the cluster is off by default and its keys parse) {
  daemon_config d;
  CAF_CHECK(!cluster_enabled(d));
  CAF_CHECK_EQUAL(d.cluster.replication, 2u);
  CAF_CHECK_EQUAL(d.cluster.heartbeat_ms, 500u);
  auto c = parse_ok(R"({"cluster": {"node_id": "node-2",
    "listen": "127.0.0.1:7002", "join": ["127.0.0.1:7001", "[::1]:7001",
    "seed.example.com:7001"], "replication": 3, "heartbeat_ms": 250}})");
  CAF_CHECK(cluster_enabled(c));
  auto s = cluster_settings_of(c);
  CAF_CHECK_EQUAL(s.node_id, "node-2");
  CAF_CHECK_EQUAL(to_string(s.listen), "127.0.0.1:7002");
  CAF_REQUIRE_EQUAL(s.seeds.size(), 3u);
  CAF_CHECK_EQUAL(to_string(s.seeds[0]), "127.0.0.1:7001");
  CAF_CHECK_EQUAL(s.seeds[1].host, "::1");
  CAF_CHECK_EQUAL(to_string(s.seeds[1]), "[::1]:7001");
  CAF_CHECK_EQUAL(s.seeds[2].host, "seed.example.com");
  CAF_CHECK_EQUAL(s.replication, 3u);
  CAF_CHECK_EQUAL(s.heartbeat.count(), 250);
  CAF_CHECK_EQUAL(s.connection_timeout.count(), 1000);
  // It reads back from to_json_text, and the summary names it.
  daemon_config back;
  CAF_REQUIRE(parse_config_json(to_json_text(c), back).has_value());
  CAF_CHECK(back == c);
  CAF_CHECK(contains(summary(c), "; cluster node node-2 at 127.0.0.1:7002, "
                                 "joining 127.0.0.1:7001 [::1]:7001 "
                                 "seed.example.com:7001"));
  CAF_CHECK(!contains(summary(d), "cluster"));
}

CAF_TEST(bad cluster values say what is wrong) {
  CAF_CHECK_EQUAL(
      parse_error(R"({"cluster": {"listen": "127.0.0.1:7001"}})"),
      R"(config: "cluster.node_id": must be set when cluster.listen is (this node's id, unique in the cluster))");
  CAF_CHECK_EQUAL(
      parse_error(R"({"cluster": {"node_id": "n1"}})"),
      R"(config: "cluster.listen": must be set when cluster.node_id or cluster.join is (the node's own cluster address, e.g. 127.0.0.1:7001))");
  CAF_CHECK(contains(
      parse_error(
          R"({"cluster": {"node_id": "n1", "listen": "localhost:7001"}})"),
      R"("cluster.listen": "localhost:7001": "localhost" is not a numeric IPv4 address)"));
  CAF_CHECK(contains(
      parse_error(R"({"cluster": {"node_id": "n1", "listen": "127.0.0.1"}})"),
      R"("cluster.listen": "127.0.0.1": missing port)"));
  CAF_CHECK(contains(
      parse_error(
          R"({"cluster": {"node_id": "n1", "listen": "127.0.0.1:70000"}})"),
      R"(bad port "70000" (0..65535))"));
  CAF_CHECK(contains(
      parse_error(R"({"cluster": {"node_id": "n1", "listen": "::1:7001"}})"),
      "an IPv6 address must be written in brackets"));
  CAF_CHECK(contains(
      parse_error(
          R"({"cluster": {"node_id": "node 1", "listen": "127.0.0.1:7001"}})"),
      R"("cluster.node_id": "node 1": expected 1..64 letters, digits, '-', '_' or '.')"));
  CAF_CHECK(contains(
      parse_error(R"({"cluster": {"node_id": "n1", "listen": "127.0.0.1:7001",
                      "join": ["127.0.0.1:7000", "bad_host:1"]}})"),
      R"("cluster.join[1]": "bad_host:1": "bad_host" is neither a numeric address nor a host name)"));
  CAF_CHECK(contains(
      parse_error(R"({"cluster": {"node_id": "n1", "listen": "127.0.0.1:7001",
                      "join": ["127.0.0.1:7000", "127.0.0.1:7000"]}})"),
      R"("cluster.join[1]": "127.0.0.1:7000" is listed twice)"));
  CAF_CHECK(contains(parse_error(R"({"cluster": {"replication": 0}})"),
                     R"("cluster.replication": must be at least 1, got 0)"));
  CAF_CHECK(contains(parse_error(R"({"cluster": {"heartbeat_ms": 5}})"),
                     R"("cluster.heartbeat_ms": must be at least 10, got 5)"));
  CAF_CHECK(contains(parse_error(R"({"cluster": {"join": "127.0.0.1:1"}})"),
                     R"("cluster.join": expected an array of strings)"));
  CAF_CHECK(contains(parse_error(R"({"cluster": {"nodeid": "n1"}})"),
                     R"(unknown key "cluster.nodeid" (did you mean "node_id"?))"));
}

CAF_TEST(cluster flags turn clustering on and join takes lists) {
  startup s{{"--node-id", "node-3", "--cluster-listen", "127.0.0.1:0",
             "--join", "127.0.0.1:7001,127.0.0.1:7002", "--join",
             "[::1]:7003"}};
  CAF_REQUIRE_EQUAL(s.error, "");
  CAF_CHECK(cluster_enabled(s.cfg));
  CAF_CHECK_EQUAL(s.cfg.cluster.node_id, "node-3");
  CAF_CHECK_EQUAL(s.cfg.cluster.listen, "127.0.0.1:0");
  CAF_CHECK_EQUAL(s.cfg.cluster.join,
                  (std::vector<std::string>{"127.0.0.1:7001", "127.0.0.1:7002",
                                            "[::1]:7003"}));
  CAF_CHECK_EQUAL(cluster_settings_of(s.cfg).listen.port, 0u);
  startup no_id{{"--cluster-listen", "127.0.0.1:7001"}};
  CAF_CHECK(contains(no_id.error, R"("cluster.node_id": must be set)"));
  startup no_listen{{"--join", "127.0.0.1:7001"}};
  CAF_CHECK(contains(no_listen.error, R"("cluster.listen": must be set)"));
  startup bad{{"--node-id", "n", "--cluster-listen", "127.0.0.1:7001",
               "--join", "127.0.0.1:x"}};
  CAF_CHECK(contains(bad.error,
                     R"("cluster.join[0]": "127.0.0.1:x": bad port "x")"));
  startup none{{}};
  CAF_CHECK(!cluster_enabled(none.cfg));
  for (auto opt : {"--node-id", "--cluster-listen", "--join"})
    CAF_CHECK(contains(none.help, opt));
}
