#!/usr/bin/env bash
# Throughput and p99 with one Byzantine replica, as a percentage of the
# fault-free run made right before it (docs/benchmarks.md "Byzantine
# replicas"). The bars: RBFT (Aublin et al., ICDCS'13) keeps at least 80%
# of fault-free throughput, Aardvark (Clement et al., NSDI'09) at least 50%.
#
#   tools/fault_bench.sh BUILD [--protocols pbft,hotstuff] [--faults LIST]
#                        [--duration S] [--clients C] [--outstanding W]
#                        [--out DIR]
#
# Each fault starts at t=1 s on the first leader (replica 0) and, in a
# second run, on a backup (replica 2). Runs go one after another: run it on
# an otherwise idle machine. Prints a markdown table and writes
# DIR/fault_bench.csv and one JSON per run.
set -uo pipefail
BUILD=${1:?usage: fault_bench.sh BUILD [options]}
shift
protocols=pbft,hotstuff
faults=slow,flood,junk,withhold,equivocate
duration=15
clients=8
outstanding=4
out=
while [ $# -gt 0 ]; do
  case "$1" in
    --protocols) protocols=$2; shift 2 ;;
    --faults) faults=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --outstanding) outstanding=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "fault_bench.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[ -x "$BUILD/bftctl" ] || { echo "fault_bench.sh: no $BUILD/bftctl (make build first)" >&2; exit 2; }
command -v jq >/dev/null || { echo "fault_bench.sh: needs jq" >&2; exit 2; }
out=${out:-$(mktemp -d /tmp/bft-fault-bench-XXXXXX)}
mkdir -p "$out"
csv="$out/fault_bench.csv"
echo "protocol,fault,replica,role,ops_s,pct_of_fault_free,p50_ms,p99_ms,view_changes,safety,exit" > "$csv"

run() { # name extra-args...
  local name=$1; shift
  timeout $(( ${duration%.*} + 60 )) "$BUILD/bftctl" cluster --nodes 4 --duration "$duration" \
    --clients "$clients" --outstanding "$outstanding" --json "$out/$name.json" "$@" \
    > "$out/$name.txt" 2>&1
  echo $?
}
val() { local v; v=$(jq -r "$2" "$out/$1.json" 2>/dev/null) && [ -n "$v" ] && [ "$v" != null ] && echo "$v" || echo "-"; }

printf '| protocol | fault | on | ops/s | %% of fault-free | p50 ms | p99 ms | view changes | safety |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for p in ${protocols//,/ }; do
  rc=$(run "$p-none" --protocol "$p")
  base=$(val "$p-none" .throughput_ops_s)
  if [ "$rc" != 0 ] || [ "$base" = - ]; then # the baseline is needed: one more try
    rc=$(run "$p-none" --protocol "$p")
    base=$(val "$p-none" .throughput_ops_s)
  fi
  printf '| %s | none | - | %.0f | 100%% | %.2f | %.2f | %s | %s |\n' "$p" "$base" \
    "$(val "$p-none" .latency_ms.p50)" "$(val "$p-none" .latency_ms.p99)" \
    "$(val "$p-none" .view_changes)" "$(val "$p-none" .safety)"
  echo "$p,none,-,-,$base,100,$(val "$p-none" .latency_ms.p50),$(val "$p-none" .latency_ms.p99),$(val "$p-none" .view_changes),$(val "$p-none" .safety),$rc" >> "$csv"
  for f in ${faults//,/ }; do
    for target in 0:leader 2:backup; do
      id=${target%%:*}; role=${target#*:}
      name="$p-$f-$role"
      rc=$(run "$name" --protocol "$p" --fault "$id:$f@1")
      ops=$(val "$name" .throughput_ops_s)
      pct=$(awk -v a="$ops" -v b="$base" 'BEGIN { if (b > 0 && a != "-") printf "%.0f", 100 * a / b; else print "-" }')
      printf '| %s | %s | %s (%s) | %.0f | %s%% | %.2f | %.2f | %s | %s |\n' "$p" "$f" "$role" "$id" \
        "$ops" "$pct" "$(val "$name" .latency_ms.p50)" "$(val "$name" .latency_ms.p99)" \
        "$(val "$name" .view_changes)" "$(val "$name" .safety)"
      echo "$p,$f,$id,$role,$ops,$pct,$(val "$name" .latency_ms.p50),$(val "$name" .latency_ms.p99),$(val "$name" .view_changes),$(val "$name" .safety),$rc" >> "$csv"
    done
  done
done
echo "runs kept in $out (fault_bench.csv, one JSON and one log per run)"
