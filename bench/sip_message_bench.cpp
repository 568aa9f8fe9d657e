// SPDX-License-Identifier: MIT
// SIP wire format benchmarks: parse a typical REGISTER / SUBSCRIBE from the
// fixtures, serialize a 200 OK to a REGISTER with two contacts.
#include <benchmark/benchmark.h>

#include <fstream>
#include <iterator>
#include <string>

#include "core/sip_message.hpp"
#include "core/stream_framer.hpp"

using namespace regcore::core;

namespace {

std::string fixture(const char* name) {
  std::ifstream in{std::string{REGCORE_TEST_DATA_DIR} + "/sip/" + name, std::ios::binary};
  return std::string{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

void parse_fixture(benchmark::State& state, const char* name) {
  auto data = fixture(name);
  if (!parse_sip_message(data)) {
    state.SkipWithError("fixture does not parse");
    return;
  }
  for (auto _ : state) {
    auto m = parse_sip_message(data);
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
  state.counters["bytes"] = static_cast<double>(data.size());
}

/// The transport's hot path: one sip_message reused per connection.
void parse_fixture_reuse(benchmark::State& state, const char* name) {
  auto data = fixture(name);
  sip_message m;
  for (auto _ : state) {
    auto r = parse_sip_message(m, data);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}

} // namespace

static void BM_parse_register(benchmark::State& state) {
  parse_fixture(state, "register_basic.sip");
}
BENCHMARK(BM_parse_register);

static void BM_parse_register_reuse(benchmark::State& state) {
  parse_fixture_reuse(state, "register_basic.sip");
}
BENCHMARK(BM_parse_register_reuse);

static void BM_parse_register_outbound(benchmark::State& state) {
  parse_fixture(state, "register_outbound.sip");
}
BENCHMARK(BM_parse_register_outbound);

static void BM_parse_subscribe(benchmark::State& state) {
  parse_fixture(state, "subscribe_presence.sip");
}
BENCHMARK(BM_parse_subscribe);

static void BM_parse_publish_pidf(benchmark::State& state) {
  parse_fixture(state, "publish_pidf.sip");
}
BENCHMARK(BM_parse_publish_pidf);

static void BM_serialize_200_ok(benchmark::State& state) {
  auto data = fixture("register_multi_contact.sip");
  auto req = parse_sip_message(data);
  if (!req) {
    state.SkipWithError("fixture does not parse");
    return;
  }
  for (auto _ : state) {
    auto out = make_response(*req, 200, "OK", "srv-6f2a")
                 .header("Contact", "<sip:bob@198.51.100.7:5060;transport=tcp>;expires=1800")
                 .header("Contact", "<sip:bob@198.51.100.8>;expires=7200")
                 .header("Date", "Sat, 13 Nov 2010 23:29:00 GMT")
                 .take();
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_serialize_200_ok);

static void BM_frame_stream(benchmark::State& state) {
  std::string stream;
  for (auto name : {"register_basic.sip", "subscribe_presence.sip", "publish_pidf.sip"})
    stream += fixture(name);
  for (auto _ : state) {
    stream_framer f;
    f.feed(stream);
    size_t n = 0;
    for (auto r = f.next(); r && *r; r = f.next())
      ++n;
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_frame_stream);
