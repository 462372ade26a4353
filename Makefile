# Thin wrapper over CMake. `make demo` and `make test` install what is
# missing (apt-get, as root), build, and run.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# Seconds per fuzz target: `make fuzz` and the short run in `make test`.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 4
JOBS ?= 2
# `make install PREFIX=...` (docs/embedding.md).
PREFIX ?= /usr/local

.PHONY: all deps build install build-asan build-fuzz demo test test-release test-asan test-fuzz fuzz sim-long mutants soak bench-faults bench-etcd clean format

all: build

deps:
	@bash tools/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The library (libbft.a, libbft.so.1), include/bft/*.h, bft.pc, bftd,
# bftctl and bftsim under PREFIX.
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Asan >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# libFuzzer build of tests/fuzz (clang, ASan+UBSan, every library
# instrumented): only the fuzz targets are built there.
build-fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Release -DBFT_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets

# Each fuzz target for FUZZ_SECONDS (one at a time), from the committed
# corpus; new inputs in $(FUZZ_BUILD)/fuzz-corpus, crashes in
# $(FUZZ_BUILD)/fuzz-artifacts (tests/fuzz/README.md).
fuzz: build-fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh $(FUZZ_BUILD)

demo: build
	@bash tools/demo.sh $(BUILD)

# Every test: unit, simulation and multi-process tests on the release
# build, then the unit and simulation tests again under ASan+UBSan with a
# fifth of the simulator seeds (both include fuzz_*_replay: each fuzz
# harness over its committed corpus), then, if clang is installed, each
# fuzz target for FUZZ_SMOKE_SECONDS. The rule: about 20 minutes on 2 cores
# at most; longer runs belong to fuzz, sim-long, soak and mutants.
test: test-release test-asan test-fuzz

test-release: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	@cd $(ASAN_BUILD) && BFT_SIM_SEEDS_SCALE=0.2 ctest --output-on-failure -j $(JOBS) -E '^e2e_'

test-fuzz:
	@if command -v clang >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory build-fuzz && \
		FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) bash tests/fuzz/run.sh $(FUZZ_BUILD); \
	else echo "test-fuzz: clang not installed, corpus replay only (ctest fuzz_*_replay)"; fi

# Long simulation sweeps (not part of `make test`).
sim-long: build
	$(BUILD)/bftsim --protocol pbft --nodes 4 --seeds 1:20000
	$(BUILD)/bftsim --protocol pbft --nodes 7 --seeds 1:5000
	$(BUILD)/bftsim --protocol hotstuff --nodes 4 --seeds 1:10000
	$(BUILD)/bftsim --protocol hotstuff --nodes 7 --seeds 1:2000
	$(BUILD)/bftsim --protocol raft --nodes 3 --seeds 1:10000
	$(BUILD)/bftsim --protocol raft --nodes 5 --seeds 1:2000
	$(BUILD)/bftsim --protocol pbft --nodes 4 --seeds 1:10000 --faults twins --fault-phase-ms 1000:2000
	$(BUILD)/bftsim --protocol hotstuff --nodes 4 --seeds 1:10000 --faults twins --fault-phase-ms 1000:2000
	$(BUILD)/bftsim --protocol pbft --nodes 4 --seeds 1:2000 --faults byzzfuzz --fault-phase-ms 1000:2000
	$(BUILD)/bftsim --protocol hotstuff --nodes 4 --seeds 1:2000 --faults byzzfuzz --fault-phase-ms 1000:2000
	$(BUILD)/bftsim --protocol pbft --nodes 7 --seeds 1:1000 --faults byzantine --fault-phase-ms 1000:3000
	$(BUILD)/bftsim --protocol hotstuff --nodes 7 --seeds 1:1000 --faults byzantine --fault-phase-ms 1000:3000
	$(BUILD)/bftsim --protocol pbft --nodes 4 --seeds 1:1000 --faults restarts
	$(BUILD)/bftsim --protocol hotstuff --nodes 4 --seeds 1:2000 --faults restarts
	$(BUILD)/bftsim --protocol hotstuff --nodes 7 --seeds 1:300 --faults restarts
	$(BUILD)/bftsim --protocol raft --nodes 3 --seeds 1:2000 --faults restarts

# Mutation testing of the safety rules (docs/mutants.md): each one-line bug
# of tools/mutants/list.txt, applied to a copy of the tree, must make the
# simulator fail; the report goes to docs/mutants.md. Builds its own copy.
mutants: deps
	@JOBS=$(JOBS) bash tools/mutants/run.sh

# Longer multi-process runs of every scenario file for every protocol, then
# a 10-minute kill -9 soak per protocol (`bftctl soak`, docs/faults.md).
soak: build
	SCEN_SET=all bash tests/e2e/scenarios.sh $(BUILD)
	SOAK_DURATION=600 bash tests/e2e/soak.sh $(BUILD)

# Throughput with one Byzantine replica against fault-free, PBFT and
# HotStuff n=4 (docs/benchmarks.md); run it on an idle machine.
bench-faults: build
	bash tools/fault_bench.sh $(BUILD) --out $(BUILD)/fault-bench

# Our Raft beside etcd 3.4 on this machine, same load shape (issue 14;
# docs/benchmarks.md "Raft beside etcd"): installs Debian's etcd and Go
# packages if missing, builds the etcd load client (tools/etcd_load), runs
# both; the table also goes to $(BUILD)/etcd-compare.md. Not part of
# `make test`; run it on an idle machine.
bench-etcd: build
	@bash tools/etcd_load/build.sh $(BUILD)/etcd_load --install
	bash tools/etcd_compare.sh --build $(BUILD) --out $(BUILD)/etcd-compare.md

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
