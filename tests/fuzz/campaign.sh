#!/usr/bin/env bash
# A long fuzz campaign for one target, in chunks that survive interruption:
# each chunk runs the target for FUZZ_CHUNK execs (default 1M) from the
# committed corpus plus what earlier chunks grew, with the flags run.sh
# uses, and appends one line to LEDGER:
#
#   date  commit  code  target  chunk_execs  exec/s  cov  ft  result
#
# `code` names the code under test: a hash of every file the targets are
# built from (all but docs, Markdown, the corpora and the tests other than
# tests/fuzz). It stops at the first crash, leak or timeout (result names
# the log and the reproducer), or once the ledger holds TOTAL execs
# (default 10M) for this target on this code; rerun it to resume. Only
# chunks run on the same code count toward TOTAL, so a campaign never
# mixes trees, while a commit that touches only tests or docs keeps it.
#
#   bash tests/fuzz/campaign.sh BUILD TARGET LEDGER [TOTAL]
set -u
B=${1:?usage: campaign.sh BUILD TARGET LEDGER [TOTAL]}
T=${2:?target}
L=${3:?ledger}
TOTAL=${4:-10000000}
CHUNK=${FUZZ_CHUNK:-1000000}
SRC=$(cd "$(dirname "$0")" && pwd)
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=0:quarantine_size_mb=8}
commit=$(git -C "$SRC" rev-parse --short HEAD)
if [ -n "$(git -C "$SRC" status --porcelain 2>/dev/null)" ]; then
    echo "campaign: the tree has uncommitted changes; commit first" >&2
    exit 2
fi
code=$(git -C "$SRC" ls-tree -r HEAD | awk -F'\t' '$2 !~ /^docs\// && $2 !~ /\.md$/ &&
    $2 !~ /^tests\/fuzz\/corpus\// && ($2 !~ /^tests\// || $2 ~ /^tests\/fuzz\//)' |
    sha1sum | cut -c1-12)
mkdir -p "$B/fuzz-artifacts" "$B/fuzz-logs" "$B/fuzz-corpus/$T"
done_execs() {
    awk -v c="$code" -v t="$T" '$3 == c && $4 == t && $9 == "ok" { s += $5 } END { print s + 0 }' "$L" 2>/dev/null || echo 0
}
while :; do
    have=$(done_execs)
    if [ "$have" -ge "$TOTAL" ]; then
        echo "campaign: $T on code $code (commit $commit): $have execs, 0 crashes"
        exit 0
    fi
    log="$B/fuzz-logs/$T.campaign.log"
    "$B/$T" -runs="$CHUNK" -max_len=65536 -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$B/fuzz-artifacts/$T-" "$B/fuzz-corpus/$T" "$SRC/corpus/$T" >"$log" 2>&1
    rc=$?
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    if [ $rc -eq 0 ] && [ -n "$done_line" ]; then res=ok; else res="FAILED(exit=$rc,log=$log)"; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$commit" "$code" "$T" \
        "${execs:-0}" \
        "${eps:-?}" "${cov:-?}" "${ft:-?}" "$res" >>"$L"
    if [ "$res" != ok ]; then
        echo "campaign: $T crashed or failed at $commit: $log" >&2
        exit 1
    fi
done
