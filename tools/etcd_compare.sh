#!/usr/bin/env bash
# Our Raft beside etcd 3.4, on this machine, with the same load shape
# (issue 14 "A fair Raft": Raft must be at least as fast as etcd, or the
# BFT/Raft ratio in docs/benchmarks.md flatters BFT). See docs/benchmarks.md
# "Raft beside etcd" for what each figure means.
#
#   tools/etcd_compare.sh [--build DIR] [--out FILE] [--duration S]
#                         [--clients C] [--conns K] [--target leader|all]
#                         [--key-size B] [--val-size B] [--etcd-load PATH]
#                         [--apps orders,kv] [--keep DIR]
#
# Two runs per system, one after the other, each --duration seconds:
#   unloaded  1 client, 1 connection, one put in flight: latency of a lone
#             sequential writer (ops/s is then 1 / mean latency);
#   loaded    C clients (default 32), each with one put in flight (closed
#             loop), the next sent when the previous is acknowledged; for
#             etcd over K gRPC connections (default 1, etcd's benchmark
#             default and our load generator's shape: one socket to each
#             replica shared by all its clients, tools/loadgen.c).
# etcd: a 3-member cluster on loopback in a temp dir, fsync on (its
# default; --unsafe-no-fsync is not used), driven by tools/etcd_load (built
# from Debian's clientv3 by tools/etcd_load/build.sh); the clients talk to
# the leader, as our Raft client does (client/client.c), unless --target
# all. Ours: `bftctl cluster --protocol raft --nodes 3`, fsync on, its WAL in
# the same temp dir (same disk). etcd is stopped before ours starts.
# A put is a 12-byte key and a 30-byte value: an order is 30 bytes encoded
# (BFT_ORDER_OP_LEN, app/app_orders.c) and is kept under its client id and
# client order id, 4 + 8 = 12 bytes.
# Our Raft runs once per application of --apps (default both):
#   orders  the order router (app/app_orders.c) and its audit log, which
#           bftd writes before the reply and fdatasyncs in the background
#           within 5 ms (docs/architecture.md "Audit log"), a record etcd's
#           put does not keep;
#   kv      the key-value app (--payload = --val-size), no audit log: the
#           same durability as an etcd put (the WAL), so the like-for-like
#           row. Its keys are "c<client>-<n mod 1000>" (tools/loadgen.c).
#
# Prints one markdown table (also to --out FILE). Exit 0 when every run
# completed, 1 when one failed, 2 on a usage error, 77 (skip) when etcd,
# etcdctl or tools/etcd_load is missing.
set -euo pipefail

build=./build
out=
duration=8
clients=32
conns=
target=leader
key_size=12
val_size=30
etcd_load=
keep=
apps=orders,kv
usage() { sed -n '7,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --duration) duration=${2:?}; shift 2 ;;
    --clients) clients=${2:?}; shift 2 ;;
    --conns) conns=${2:?}; shift 2 ;;
    --target) target=${2:?}; shift 2 ;;
    --key-size) key_size=${2:?}; shift 2 ;;
    --val-size) val_size=${2:?}; shift 2 ;;
    --etcd-load) etcd_load=${2:?}; shift 2 ;;
    --keep) keep=${2:?}; shift 2 ;;
    --apps) apps=${2:?}; shift 2 ;;
    -h | --help) usage ;;
    *) echo "etcd_compare.sh: unknown option '$1'" >&2; usage ;;
  esac
done
die() { echo "etcd_compare.sh: $*" >&2; exit 2; }
int_in() { # name value min max
  [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] && return 0
  die "$1 wants a whole number $3..$4, got '$2'"
}
int_in --duration "$duration" 1 60
int_in --clients "$clients" 1 256
conns=${conns:-1}
int_in --conns "$conns" 1 "$clients"
if [ "$target" != leader ] && [ "$target" != all ]; then die "--target wants leader or all, got '$target'"; fi
int_in --key-size "$key_size" 8 1024
int_in --val-size "$val_size" 0 65536
IFS=, read -ra APPS <<<"$apps"
[ ${#APPS[@]} -ge 1 ] || die "--apps wants orders, kv or orders,kv"
for a in "${APPS[@]}"; do
  [ "$a" = orders ] || [ "$a" = kv ] || die "--apps wants orders, kv or orders,kv, got '$apps'"
done
etcd_load=${etcd_load:-$build/etcd_load}

[ -x "$build/bftctl" ] || die "no $build/bftctl (make build, or --build DIR)"
for t in jq curl timeout; do command -v $t >/dev/null || die "needs $t (apt-get install $t)"; done
skip=()
command -v etcd >/dev/null || skip+=("etcd (apt-get install etcd-server)")
command -v etcdctl >/dev/null || skip+=("etcdctl (apt-get install etcd-client)")
[ -x "$etcd_load" ] || skip+=("$etcd_load (tools/etcd_load/build.sh $etcd_load --install, or make bench-etcd)")
if [ ${#skip[@]} -gt 0 ]; then
  echo "etcd_compare.sh: SKIP: missing:" >&2
  for s in "${skip[@]}"; do echo "  $s" >&2; done
  echo "  (make bench-etcd installs the Debian packages and builds tools/etcd_load)" >&2
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bft-etcd-compare-XXXXXX")
pids=()
child=
# A run in the background and waited for, so that a signal to this script
# ends it at once (bash runs traps only between foreground commands);
# cleanup ends the run (timeout passes the signal on; bftctl's replicas die
# with it, tools/bftctl_spawn.c).
run_child() {
  local rc=0
  "$@" &
  child=$!
  wait "$child" || rc=$?
  child=
  return $rc
}
stop_etcd() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    # SIGKILL after 2 s: a leader whose peers are already gone can spend
    # seconds trying to hand over its leadership, and the data is thrown
    # away anyway.
    for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  pids=()
}
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  if [ -n "$child" ]; then
    kill "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  stop_etcd
  if [ -n "$keep" ]; then
    mkdir -p "$keep"
    cp "$tmp"/*.json "$tmp"/*.log "$keep"/ 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Six free loopback ports (client and peer per member): a random base,
# checked by trying to connect; bounded tries.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=
for _ in $(seq 50); do
  b=$((20000 + (RANDOM % 2000) * 10))
  ok=1
  for i in 0 1 2 3 4 5; do port_busy $((b + i)) && { ok=0; break; }; done
  [ $ok = 1 ] && { base=$b; break; }
done
[ -n "$base" ] || die "no 6 free loopback ports found after 50 tries"

cluster=
for i in 0 1 2; do cluster+="${cluster:+,}e$i=http://127.0.0.1:$((base + 3 + i))"; done
all_eps="127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
for i in 0 1 2; do
  etcd --name "e$i" --data-dir "$tmp/etcd-$i" \
    --listen-client-urls "http://127.0.0.1:$((base + i))" \
    --advertise-client-urls "http://127.0.0.1:$((base + i))" \
    --listen-peer-urls "http://127.0.0.1:$((base + 3 + i))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((base + 3 + i))" \
    --initial-cluster "$cluster" --initial-cluster-token "bft-compare-$$" \
    --initial-cluster-state new --logger zap --log-outputs "$tmp/etcd-$i.log" \
    >"$tmp/etcd-$i.out.log" 2>&1 &
  pids+=($!)
done

ctl() { timeout 10 etcdctl --endpoints "$all_eps" --dial-timeout 2s --command-timeout 3s "$@"; }
healthy=0
for _ in $(seq 60); do # up to ~30 s
  if ctl endpoint health >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.5
done
[ $healthy = 1 ] || { tail -5 "$tmp"/etcd-*.log >&2; echo "etcd_compare.sh: etcd cluster not healthy in 30 s" >&2; exit 1; }
# `endpoint status -w simple`: endpoint, ID, version, db size, IS LEADER, ...
leader=$(ctl endpoint status -w simple | awk -F', ' '$5 == "true" { print $1 }')
[ -n "$leader" ] || { echo "etcd_compare.sh: etcd has no leader" >&2; exit 1; }
eps=$leader
[ "$target" = all ] && eps=$all_eps
etcd_version=$(etcd --version | awk '/etcd Version/ { print $3 }')

# WAL fsyncs of all three members (count and seconds), from /metrics.
fsync_metric() { # count|sum
  local i s=0 v
  for i in 0 1 2; do
    v=$(timeout 5 curl -sf "http://127.0.0.1:$((base + i))/metrics" |
      awk -v m="etcd_disk_wal_fsync_duration_seconds_$1" '$1 == m { print $2 }' || true)
    s=$(awk -v a="$s" -v b="${v:-0}" 'BEGIN { printf "%.6f", a + b }')
  done
  echo "$s"
}

failed=0
etcd_run() { # name clients conns
  local c0 s0 c1 s1 rc=0
  c0=$(fsync_metric count) s0=$(fsync_metric sum)
  run_child timeout $((duration + 60)) "$etcd_load" -endpoints "$eps" -clients "$2" -conns "$3" \
    -duration "${duration}s" -key-size "$key_size" -val-size "$val_size" \
    >"$tmp/$1.json" 2>"$tmp/$1.log" || rc=$?
  c1=$(fsync_metric count) s1=$(fsync_metric sum)
  [ $rc = 0 ] || { failed=1; echo "etcd_compare.sh: $1 exit $rc: $(head -c 300 "$tmp/$1.log")" >&2; }
  jq -n --argjson c "$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')" \
    --argjson s "$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')" \
    '{fsyncs: $c, fsync_s: $s}' >"$tmp/$1.fsync.json"
}
raft_run() { # name clients app
  local rc=0
  run_child timeout $((duration + 60)) "$build/bftctl" cluster --protocol raft --nodes 3 \
    --clients "$2" --outstanding 1 --duration "$duration" --dir "$tmp/$1" \
    --app "$3" --payload "$val_size" \
    --json "$tmp/$1.json" --quiet >"$tmp/$1.log" 2>&1 || rc=$?
  [ $rc = 0 ] || { failed=1; echo "etcd_compare.sh: $1 exit $rc: $(tail -3 "$tmp/$1.log")" >&2; }
  rm -rf "${tmp:?}/$1" # WALs and keys: only the JSON is kept
}

loadavg=$(cut -d' ' -f1 /proc/loadavg)
echo "etcd $etcd_version (3 members, fsync on) at $eps; then bft raft n=3; ${duration} s per run" >&2
etcd_run etcd-unloaded 1 1
etcd_run etcd-loaded "$clients" "$conns"
stop_etcd
for a in "${APPS[@]}"; do
  raft_run "raft-$a-unloaded" 1 "$a"
  raft_run "raft-$a-loaded" "$clients" "$a"
done

num() { jq -r "($2) // empty | if type == \"number\" then . else empty end" "$tmp/$1.json" 2>/dev/null || true; }
fmt() { [ -n "$2" ] && printf "%.${1}f" "$2" || printf -- -; }
row_etcd() { # name label clients-text
  local ops p50 p99 n s fs
  ops=$(num "$1" .ops_s) p50=$(num "$1" .p50_ms) p99=$(num "$1" .p99_ms)
  n=$(jq -r .fsyncs "$tmp/$1.fsync.json") s=$(jq -r .fsync_s "$tmp/$1.fsync.json")
  fs=$(awk -v n="$n" -v s="$s" 'BEGIN { if (n > 0) printf "%.0f (%.2f ms)", n, 1000 * s / n; else print "0" }')
  printf '| %s | etcd %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$etcd_version" "$3" \
    "$(fmt 0 "$ops")" "$(fmt 0 "$ops")" "$(fmt 2 "$p50")" "$(fmt 2 "$p99")" "$fs"
}
row_raft() { # name label clients-text clients app
  local ops p50 p99 n d gap from z steady fs p99c
  ops=$(num "$1" .throughput_ops_s) p50=$(num "$1" .latency_ms.p50) p99=$(num "$1" .latency_ms.p99)
  n=$(num "$1" .committed_ops) d=$(num "$1" .duration_s)
  gap=$(num "$1" .longest_no_commit_s) from=$(num "$1" .longest_no_commit_from_s)
  # bftctl's window starts with the replicas, so it holds the first leader
  # election; etcd's starts on an elected cluster. Without that start:
  # committed ops over the time from the first commit (the longest
  # no-commit window when it starts at 0, else the whole seconds before
  # the first commit, a lower bound).
  z=$(jq -r '[.ops_per_second[]? ] | (to_entries | map(select(.value > 0)) | .[0].key) // 0' "$tmp/$1.json" 2>/dev/null || echo 0)
  steady=$(awk -v n="$n" -v d="$d" -v g="$gap" -v f="$from" -v z="$z" \
    'BEGIN { if (n == "" || d == "") exit; s = (f != "" && f + 0 == 0) ? g : z;
             if (d - s > 0) printf "%.3f", n / (d - s) }')
  # Mean fsync at our leader (the latency budget, per op and calls per op).
  fs=$(jq -r '.latency_budget.stages_us_per_op.fsync | select(.leader_calls > 0) |
      "\(.leader_calls) \(.leader)"' "$tmp/$1.json" 2>/dev/null |
    awk -v n="$n" '{ printf "%.0f (%.2f ms) leader", $1 * n, $2 / $1 / 1000 }' || true)
  # Each client's first request waits out that election: when those are
  # 1% of the samples or more, the p99 is the election's, not Raft's.
  p99c=$(fmt 2 "$p99")
  if awk -v n="$n" -v c="$4" -v g="$gap" -v f="$from" \
    'BEGIN { exit !(n > 0 && f != "" && f + 0 == 0 && g >= 0.1 && c / n >= 0.01) }'; then
    p99c+=" (election: ${4} of ${n} ops waited $(fmt 2 "$gap") s)"
  fi
  printf '| %s | bft raft, %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$5" "$3" \
    "$(fmt 0 "$ops")" "$(fmt 0 "$steady")" "$(fmt 2 "$p50")" "$p99c" "${fs:--}"
}

table=$(
  echo "| run | system | clients | ops/s | ops/s from first commit | p50 ms | p99 ms | fsyncs (mean) |"
  echo "|---|---|---|---|---|---|---|---|"
  row_etcd etcd-unloaded unloaded "1 x 1 in flight, 1 conn"
  for a in "${APPS[@]}"; do row_raft "raft-$a-unloaded" unloaded "1 x 1 in flight" 1 "$a"; done
  row_etcd etcd-loaded loaded "$clients x 1 in flight, $conns conn$([ "$conns" = 1 ] || echo s)"
  for a in "${APPS[@]}"; do
    row_raft "raft-$a-loaded" loaded "$clients x 1 in flight" "$clients" "$a"
  done
  echo
  echo "- ${duration} s per run, one after another, on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ);" \
    "1-minute load average before the first run ${loadavg}, after the last $(cut -d' ' -f1 /proc/loadavg)."
  echo "- etcd: 3 members on loopback, fsync on, load by tools/etcd_load (clientv3) at the $target" \
    "($eps); a put is a ${key_size} B new key + ${val_size} B value."
  echo "- bft raft: \`bftctl cluster --protocol raft --nodes 3 --outstanding 1 --app APP\`," \
    "WAL on the same disk; every request Ed25519-signed by its client. orders: 30 B op, and an" \
    "audit log written before the reply, fdatasync'ed in the background; kv: ${val_size} B value, WAL only," \
    "the like-for-like row."
  echo "- ops/s from first commit: bftctl's window starts with the replicas and so holds the first" \
    "leader election; etcd is elected before its load starts. This column leaves the election out."
  echo "- fsyncs (mean): etcd, all 3 members' WAL fsyncs over the run" \
    "(etcd_disk_wal_fsync_duration_seconds, its /metrics); ours, the leader's group-commit syncs" \
    "(WAL, and the audit log with orders) from its latency budget."
)
echo "$table"
[ -z "$out" ] || echo "$table" >"$out"
exit $failed
