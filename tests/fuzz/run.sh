#!/usr/bin/env bash
# Run every libFuzzer target of a -DBFT_FUZZ=ON build for FUZZ_SECONDS each,
# one after the other (never in parallel), starting from the committed
# corpus tests/fuzz/corpus/<target>/. New inputs go to BUILD/fuzz-corpus/
# <target>/ (not committed); crashes to BUILD/fuzz-artifacts/. Prints one
# line per target from libFuzzer's final stats; exit 1 if any target
# crashed, leaked, timed out or failed to run.
#
# FUZZ_RUNS=N runs each target for N execs instead (no time limit).
# ASan keeps no allocation/free stacks here (malloc_context_size=0): the
# node targets spent a fifth of their time unwinding stacks in malloc and
# free. A crash report still has the crash stack; to get the allocation
# stack too, replay the reproducer without ASAN_OPTIONS (README.md).
# The quarantine of freed memory is 8 MB instead of 256 MB: recycling the
# large one took a fifth of the node targets' time, and 8 MB still holds
# several inputs' worth of frees, so a use after free within an input is
# still caught.
#
#   bash tests/fuzz/run.sh BUILD [TARGET...]      (make fuzz)
set -u
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=0:quarantine_size_mb=8}
B=${1:?usage: run.sh BUILD [TARGET...]}
shift
SECS=${FUZZ_SECONDS:-60}
SRC=$(cd "$(dirname "$0")" && pwd)
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(fuzz_wire fuzz_node_pbft fuzz_node_hotstuff fuzz_node_raft fuzz_wal fuzz_restore
        fuzz_cluster fuzz_plan fuzz_scenario fuzz_client)
fi
mkdir -p "$B/fuzz-artifacts" "$B/fuzz-logs"
fail=0
passed=0 failed=0
printf '%-20s %10s %8s %6s %7s  %s\n' target execs exec/s cov ft result
for t in "${TARGETS[@]}"; do
    work="$B/fuzz-corpus/$t"
    log="$B/fuzz-logs/$t.log"
    mkdir -p "$work"
    if [ -n "${FUZZ_RUNS:-}" ]; then limit=-runs=$FUZZ_RUNS; else limit=-max_total_time=$SECS; fi
    "$B/$t" "$limit" -max_len=65536 -timeout=25 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$B/fuzz-artifacts/$t-" \
        "$work" "$SRC/corpus/$t" >"$log" 2>&1
    rc=$?
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    if [ $rc -eq 0 ] && [ -n "$done_line" ]; then
        res=ok
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        res="FAILED (exit $rc, see $log; reproducer in $B/fuzz-artifacts/)"
        fail=1
    fi
    printf '%-20s %10s %8s %6s %7s  %s\n' "$t" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$res"
done
echo "fuzz: $passed passed, $failed failed"
exit $fail
