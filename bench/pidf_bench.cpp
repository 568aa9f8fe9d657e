// SPDX-License-Identifier: MIT
// PIDF rendering (once per presence change) and parsing (once per PUBLISH).
#include <benchmark/benchmark.h>

#include "core/pidf.hpp"

using namespace regcore::core;

namespace {

presence_state simple_state() {
  presence_state s;
  s.entity = "sip:alice@example.com";
  s.basic = basic_status::closed;
  s.status = extended_status::away;
  s.note = "Back at 3 & later";
  return s;
}

presence_state three_devices() {
  auto s = simple_state();
  for (auto id : {"phone", "desk", "tablet"}) {
    device_presence d;
    d.device_id = id;
    d.basic = basic_status::open;
    d.contact = std::string{"sip:alice@"} + id + ".example.com:5060";
    d.priority = 500;
    s.devices.push_back(d);
  }
  return s;
}

} // namespace

static void BM_pidf_render_simple(benchmark::State& state) {
  auto s = simple_state();
  for (auto _ : state)
    benchmark::DoNotOptimize(render_pidf(s));
}
BENCHMARK(BM_pidf_render_simple);

static void BM_pidf_render_3_devices(benchmark::State& state) {
  auto s = three_devices();
  for (auto _ : state)
    benchmark::DoNotOptimize(render_pidf(s));
}
BENCHMARK(BM_pidf_render_3_devices);

static void BM_pidf_parse_typical(benchmark::State& state) {
  auto xml = render_pidf(three_devices());
  for (auto _ : state) {
    auto r = parse_pidf(xml);
    benchmark::DoNotOptimize(r);
  }
  state.counters["bytes"] = static_cast<double>(xml.size());
}
BENCHMARK(BM_pidf_parse_typical);
