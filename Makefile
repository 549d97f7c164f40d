# tinypush: `make run` serves the demo on 127.0.0.1:8080 (history kept in data/),
# `make test` runs every test, `make cluster-test` the Redis scale-out suite,
# `make fuzz` the fuzz targets.
CARGO ?= cargo
ADDR ?= 127.0.0.1:8080

.PHONY: run test cluster-test e2e lint release check autobahn bench bench-quick bench-build \
	faults faults-build fuzz fuzz-ci

run:
	$(CARGO) run --release -- serve --addr $(ADDR) --static-dir static --data-dir data

test:
	$(CARGO) test --all-targets

# Several nodes sharing topics through a real redis-server (installed by
# scripts/ensure-redis.sh when missing); each test starts its own on a free
# port. `make test` skips these: they are #[ignore]d without Redis.
cluster-test:
	bash scripts/ensure-redis.sh
	$(CARGO) test --no-fail-fast --test 'cluster*' -- --ignored

# Browser tests of the demo page (e2e/): Debian's chromium driven by the npm
# package playwright-core, against the release server and through nginx and Caddy
# configured as the README says; the three installed when missing. Screenshots in
# target/e2e/. `make test` stays browser-free.
e2e: release
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/sbin/nginx ] || [ ! -x /usr/bin/caddy ]; then \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update && $$sudo apt-get install -y chromium nginx caddy; \
	fi
	cd e2e && npm ci --no-audit --no-fund
	cd e2e && node --test --test-concurrency=1 tests/

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --lib
	cd faults && $(CARGO) fmt --check
	cd faults && CARGO_TARGET_DIR=target $(CARGO) clippy -- -D warnings

check: lint test

release:
	$(CARGO) build --release

# Autobahn|TestSuite cases 1-7 and 10 against /echo; HTML report in reports/autobahn/.
autobahn: release
	python3 tests/autobahn/run.py

# The benchmark, bench/ (a crate of its own, built into bench/target): one markdown
# table on stdout. `make bench` runs tinypush beside the axum, Go and Node peers of
# ../shared/peers when that folder is there (about 10 minutes; the table is kept in
# target/bench.md); `make bench-quick` is a one-rep smoke run of tinypush alone.
# More flags: make bench BENCH_ARGS="--reps 1 --only fanout".
BENCH = bench/target/release/tinypush-bench
PEERS_DIR ?= /tmp/tinypush-peers
BENCH_ARGS ?=

bench-build:
	cd bench && CARGO_TARGET_DIR=target $(CARGO) build --release

bench: release bench-build
	@set -e; \
	if [ -f ../shared/peers/build.sh ]; then \
		bash ../shared/peers/build.sh $(PEERS_DIR); \
		set -- --peer "axum=$(PEERS_DIR)/axum {port}" --peer "go=$(PEERS_DIR)/go {port}" \
			--peer "node=node $(PEERS_DIR)/node/server.js {port}"; \
	else \
		echo "no ../shared/peers/build.sh: tinypush alone"; set --; \
	fi; \
	$(BENCH) "$$@" $(BENCH_ARGS) | tee target/bench.md

bench-quick: release bench-build
	$(BENCH) --quick $(BENCH_ARGS)

# The fault suite, faults/ (a crate of its own, built in debug into faults/target):
# slowloris, header bombs, never-readers, an open-files burst, per-address limits,
# clients that vanish, SIGKILL and restart, and a mixed-load soak of SOAK (10m;
# .ci/run uses less), each against its own release server. One markdown table on stdout, kept in
# target/faults.md; exits non-zero when a case fails.
SOAK ?= 10m
FAULTS = faults/target/debug/tinypush-faults

faults-build:
	cd faults && CARGO_TARGET_DIR=target $(CARGO) build

faults: release faults-build
	@$(FAULTS) --soak $(SOAK) > target/faults.md; status=$$?; cat target/faults.md; exit $$status

# Fuzzing: fuzz/ is a crate of its own (fuzz/fuzz_targets/, one file per target,
# each saying what it feeds and asserts), run by cargo-fuzz, which
# scripts/ensure-cargo-fuzz.sh installs when missing. `make fuzz` runs every target
# for FUZZ_TIME seconds on the stable toolchain without a sanitizer and prints, per
# target, the inputs run, the coverage and the corpus size; any crash fails it.
# Each run starts from the seeds in fuzz/corpus/<target>/ (committed) and grows its
# corpus in fuzz/target/corpus/<target>/ (not committed), so later runs go on from
# there; a crash leaves its input in fuzz/artifacts/<target>/, to replay with
#   cd fuzz && cargo fuzz run -s none <target> artifacts/<target>/crash-...
# A crash fixed keeps its input as a seed. Longer runs, or only some targets:
#   make fuzz FUZZ_TIME=600 FUZZ_TARGETS="body ws_read"
# With a nightly toolchain installed, AddressSanitizer as well:
#   make fuzz FUZZ_SANITIZER=address FUZZ_TOOLCHAIN=+nightly
# `make fuzz-ci` is the short pass .ci/run makes: FUZZ_CI_TIME seconds per target.
# From scratch it installs cargo-fuzz (~30 s) and builds the targets (~1m45s here,
# 16 codegen units: 2m05s with cargo-fuzz's default of 1, and no faster targets).
FUZZ_TARGETS ?= head body ws_read cursor sse_round_trip auth_file
FUZZ_TIME ?= 60
FUZZ_CI_TIME ?= 10
FUZZ_SANITIZER ?= none
FUZZ_TOOLCHAIN ?=
FUZZ_FLAGS ?= --codegen-units 16

fuzz:
	bash scripts/ensure-cargo-fuzz.sh
	TOOLCHAIN=$(FUZZ_TOOLCHAIN) FUZZ_FLAGS="$(FUZZ_FLAGS)" \
		bash scripts/fuzz.sh $(FUZZ_TIME) $(FUZZ_SANITIZER) $(FUZZ_TARGETS)

fuzz-ci:
	$(MAKE) fuzz FUZZ_TIME=$(FUZZ_CI_TIME)
