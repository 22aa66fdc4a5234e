# Keel — top-level entry points. Each target first installs missing Debian
# packages (scripts/install-deps.sh is idempotent), so they work as root on a
# fresh Debian 12 machine.
BUILD      ?= build
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: deps build test run asan tsan tsan-all fuzz fuzz-ci bench crash-long torture-long failover-long soak package clean

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEEL_WERROR=ON $(CMAKE_ARGS) > /dev/null
	cmake --build $(BUILD) -j$(JOBS)

# The whole suite (unit, integration, crash, end-to-end) through ctest.
test: build
	cd $(BUILD) && ctest --output-on-failure -j2 --timeout 600

# The main job: the shop and the payment service on SQLite, in the foreground.
run: build
	scripts/run.sh $(BUILD)

# The suite under AddressSanitizer + UndefinedBehaviorSanitizer, but for the
# failover run (label failover: minutes of replication and rebuilds whose
# timing a Debug+ASan build stretches; `make failover-long` runs it alone)
# and the soak (label soak: its figures would measure ASan's own memory; the
# kills under load run sanitized in the torture test).
asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKEEL_SANITIZE=address,undefined > /dev/null
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ctest --output-on-failure -j2 --timeout 900 -LE 'failover|soak'

# The suite under ThreadSanitizer in build-tsan/ (scripts/tsan.sh;
# docs/testing.md, ThreadSanitizer): every process a test starts (the shop,
# the payment service, crash workers) is a TSan build too, and a race report
# in any of them fails the test. `make tsan` is CI's short form: the library's
# tests, the apps' and end-to-end tests on SQLite, the crash tests (one kill
# point in 4) and the torture test's short run. `make tsan-all` runs every
# test but failover, fulldisk and browser, PostgreSQL included.
tsan: deps
	JOBS=$(JOBS) CMAKE_ARGS="$(CMAKE_ARGS)" scripts/tsan.sh build-tsan short

tsan-all: deps
	JOBS=$(JOBS) CMAKE_ARGS="$(CMAKE_ARGS)" scripts/tsan.sh build-tsan all

# The libFuzzer targets of tests/fuzz (clang, ASan + UBSan) in build-fuzz/,
# each run FUZZ_SECONDS, two at a time; a crash, leak or hang fails the
# target. Summary in build-fuzz/fuzz/summary.txt (docs/testing.md, Fuzzing).
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_JOBS    ?= 2
fuzz: deps
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS)

# CI's budget: each target 60 s.
fuzz-ci: deps
	scripts/fuzz.sh $(FUZZ_BUILD) 60 $(FUZZ_JOBS)

bench: build
	$(BUILD)/bin/keel_bench

# The API reference, Doxygen over include/keel/, in $(BUILD)/docs/html; fails on
# any warning (a public name without a `///` comment is one), as the
# docs.reference test does. Configures $(BUILD) first: it generates headers
# (keel/version.hpp) that the reference documents too.
.PHONY: docs
docs: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEEL_WERROR=ON $(CMAKE_ARGS) > /dev/null
	cmake -D DOXYGEN="$$(command -v doxygen)" -D SOURCE_DIR="$(CURDIR)" -D OUTPUT_DIR="$(abspath $(BUILD))/docs" \
	      -D EXTRA_INPUT="$(abspath $(BUILD))/include/keel" -P tests/docs/reference.cmake

# The long crash torture run of the checkout (tests/torture): 400 checkouts,
# 160 SIGKILLs of the shop and the payment service. Override the seed with
# KEEL_TORTURE_SEED=N (printed by every run, so failures can be repeated).
torture-long: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEEL_WERROR=ON $(CMAKE_ARGS) > /dev/null
	cmake --build $(BUILD) -j$(JOBS) --target shop payments shop_torture
	KEEL_TORTURE_KILLS=$${KEEL_TORTURE_KILLS:-160} KEEL_TORTURE_CHECKOUTS=$${KEEL_TORTURE_CHECKOUTS:-400} \
	KEEL_TORTURE_CLIENTS=$${KEEL_TORTURE_CLIENTS:-8} $(BUILD)/bin/shop_torture

# The long PostgreSQL failover run (tests/failover): the shop and the payment
# service under load on a synchronous primary/standby pair
# (scripts/pg-failover-cluster.sh), ten SIGKILLs of the primary, each followed
# by the promotion of the standby and the rebuild of the old primary as the new
# standby. KEEL_FAILOVER_COUNT=N for another number.
failover-long: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEEL_WERROR=ON $(CMAKE_ARGS) > /dev/null
	cmake --build $(BUILD) -j$(JOBS) --target shop payments keel_failover_tests
	KEEL_FAILOVER_COUNT=$${KEEL_FAILOVER_COUNT:-10} $(BUILD)/bin/keel_failover_tests --gtest_filter='ShopFailover.*'

# The soak (tests/soak): the checkout at a steady rate for SOAK_SECONDS (an
# hour) on a PostgreSQL cluster of its own (127.0.0.1:KEEL_SOAK_PG_PORT,
# default 19390; KEEL_TEST_DATABASE_URL to use another), SIGKILLs of both
# services every KEEL_SOAK_KILL_EVERY seconds (90), retention on. Fails when
# RSS, threads, descriptors, connections or Keel's tables grow without bound
# (a slope test over the second half) or a checkout stays stuck. Samples in
# $(BUILD)/soak.csv (KEEL_SOAK_CSV), the summary table on stdout; every other
# knob is a KEEL_SOAK_* variable (tests/soak/soak_options.hpp).
SOAK_SECONDS ?= 3600
soak: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEEL_WERROR=ON $(CMAKE_ARGS) > /dev/null
	cmake --build $(BUILD) -j$(JOBS) --target shop payments keel_soak
	KEEL_SOAK_SECONDS=$(SOAK_SECONDS) KEEL_SOAK_CSV=$${KEEL_SOAK_CSV:-$(BUILD)/soak.csv} \
	$(BUILD)/bin/keel_soak --gtest_filter='Soak.*'

# The Debian packages (libkeel0.x, libkeel-dev, keel-tools) in $(BUILD)/packages/.
package: build
	cd $(BUILD) && cpack -G DEB -B packages > /dev/null && ls packages/*.deb

clean:
	rm -rf build build-asan build-tsan build-fuzz
