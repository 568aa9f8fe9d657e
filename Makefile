# registrar-core: the two commands of the README, and a few more.
#   make test       install missing Debian packages, build, run every test (ctest)
#   make test-asan  the same under AddressSanitizer + UBSan (separate build dir)
#   make bench      build and run the Google Benchmark suite
#   make build      just build (RelWithDebInfo, in build/)
#   make run        build and run registrard on udp:127.0.0.1:5060 (ARGS=... to change)
# Variables: JOBS (default 2), BUILD_DIR, ASAN_DIR, WERROR (ON in CI).
JOBS      ?= 2
BUILD_DIR ?= build
ASAN_DIR  ?= build-asan
WERROR    ?= OFF
CMAKE_FLAGS ?=

ARGS      ?=

.PHONY: all deps deps-build build run test test-asan bench clean

all: build

deps:
	@bash scripts/deps.sh all

deps-build:
	@bash scripts/deps.sh build

# Only what the daemon and the benchmarks need: the tests' packages (libosip2,
# sipp) are installed and the tests configured by `make test`.
build: deps-build
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREGCORE_TESTS=OFF -DREGCORE_WERROR=$(WERROR) $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	$(BUILD_DIR)/tools/registrard $(ARGS)

test: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREGCORE_TESTS=ON -DREGCORE_WERROR=$(WERROR) $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j$(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DREGCORE_TESTS=ON -DREGCORE_SANITIZE=ON -DREGCORE_BENCH=OFF -DREGCORE_WERROR=$(WERROR) $(CMAKE_FLAGS)
	cmake --build $(ASAN_DIR) -j$(JOBS)
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/tests/ubsan.supp \
	  ctest --output-on-failure -j$(JOBS)

bench: build
	$(BUILD_DIR)/bench/regcore_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
