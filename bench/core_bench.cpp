// SPDX-License-Identifier: MIT
// Placeholder translation unit: parse/serialize/PIDF benchmarks live in
// their own files (sip_message_bench.cpp, pidf_bench.cpp).
#include <benchmark/benchmark.h>

#include "core/time.hpp"

static void BM_remaining_seconds(benchmark::State& state) {
  auto now = regcore::core::clock_type::now();
  auto deadline = now + std::chrono::seconds{3600};
  for (auto _ : state)
    benchmark::DoNotOptimize(regcore::core::remaining_seconds(deadline, now));
}
BENCHMARK(BM_remaining_seconds);
