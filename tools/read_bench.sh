#!/usr/bin/env bash
# Read latency at each consistency level (docs/reads.md), per protocol
# (docs/benchmarks.md "Reads"). The order-router incident behind issue 12
# measured 1.4 ms p99 for Raft lease reads against 8.2 ms for quorum
# reads; this measures the same comparison in kind on this machine, and
# the BFT levels beside it.
#
#   tools/read_bench.sh BUILD [--protocols pbft,hotstuff,raft]
#                       [--levels linearizable,quorum,local:100,mix]
#                       [--duration S] [--clients C] [--outstanding W]
#                       [--reads PCT] [--out DIR]
#
# One `bftctl cluster` run per (protocol, level), one after another, the
# same write load in each (closed-loop orders) with every client also
# keeping up to 2 reads in flight (a LOOKUP of its latest acknowledged
# order). `mix` is one run whose reads take the levels in turn: every level
# then sees the same load, machine and moment, which is the fairest
# comparison on a shared machine (stale refusals and fallbacks are then
# totals over the run). Run it on an otherwise idle machine. Prints a
# markdown table and writes DIR/read_bench.csv and one JSON per run.
set -uo pipefail
BUILD=${1:?usage: read_bench.sh BUILD [options]}
shift
protocols=pbft,hotstuff,raft
levels=linearizable,quorum,local:100,mix
duration=10
clients=8
outstanding=2
reads=100
out=
while [ $# -gt 0 ]; do
  case "$1" in
    --protocols) protocols=$2; shift 2 ;;
    --levels) levels=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --outstanding) outstanding=$2; shift 2 ;;
    --reads) reads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "read_bench.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[ -x "$BUILD/bftctl" ] || { echo "read_bench.sh: no $BUILD/bftctl (make build first)" >&2; exit 2; }
command -v jq >/dev/null || { echo "read_bench.sh: needs jq" >&2; exit 2; }
out=${out:-$(mktemp -d /tmp/bft-read-bench-XXXXXX)}
mkdir -p "$out"
csv="$out/read_bench.csv"
echo "protocol,nodes,level,reads_s,read_p50_ms,read_p90_ms,read_p99_ms,found,stale_refusals,ordered_fallbacks,write_ops_s,write_p99_ms,safety,exit" > "$csv"
echo "| protocol | n | level | reads/s | read p50 ms | read p90 ms | read p99 ms | found | stale refusals | ordered fallbacks | writes/s | write p99 ms | safety |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
IFS=, read -ra PS <<< "$protocols"
IFS=, read -ra LS <<< "$levels"
for p in "${PS[@]}"; do
  n=4
  [ "$p" = raft ] && n=3
  for l in "${LS[@]}"; do
    json="$out/$p-${l//:/_}.json"
    "$BUILD/bftctl" cluster --protocol "$p" --nodes "$n" --duration "$duration" \
      --clients "$clients" --outstanding "$outstanding" --reads "$reads" --read-level "$l" \
      --json "$json" --quiet >/dev/null 2>"$out/$p-${l//:/_}.err"
    rc=$?
    if [ ! -s "$json" ]; then
      echo "| $p | $n | $l | run failed (exit $rc, see $out) |||||||||"
      continue
    fi
    keys=${l%%:*}
    [ "$keys" = mix ] && keys="linearizable quorum local"
    for key in $keys; do
      label=$l
      [ "${l%%:*}" = mix ] && label="mix: $key"
      row=$(jq -r --arg k "$key" '[
          (.reads[$k].reads_s // 0 | floor),
          (.reads[$k].latency_ms.p50 // 0 | . * 100 | round / 100),
          (.reads[$k].latency_ms.p90 // 0 | . * 100 | round / 100),
          (.reads[$k].latency_ms.p99 // 0 | . * 100 | round / 100),
          ((.reads[$k].found // 0) | tostring) + "/" + ((.reads[$k].completed // 0) | tostring),
          (.reads.stale_refusals // 0), (.reads.ordered_fallbacks // 0),
          (.throughput_ops_s | floor), (.latency_ms.p99 | . * 100 | round / 100), .safety
        ] | @tsv' "$json")
      IFS=$'\t' read -r rs p50 p90 p99 found ref fb wops wp99 safety <<< "$row"
      echo "$p,$n,$label,$rs,$p50,$p90,$p99,$found,$ref,$fb,$wops,$wp99,$safety,$rc" >> "$csv"
      echo "| $p | $n | $label | $rs | $p50 | $p90 | $p99 | $found | $ref | $fb | $wops | $wp99 | $safety |"
    done
  done
done
echo
echo "csv and per-run JSON in $out"
