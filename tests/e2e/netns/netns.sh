#!/usr/bin/env bash
# Multi-host test: N replicas, each in its own network namespace with its own
# address (10.77.0.I+1/24), joined by veth pairs to a bridge that lives in a
# namespace of its own, and a client namespace (10.77.0.100) that drives
# orders with `bftctl load`. Mirrors a real deployment (docs/deploy.md):
# keygen --hosts, one bftd per host, status over the network.
#   1. status from the client namespace: every replica answers;
#   2. one replica cut off (its link down) for 6 s, then back;
#   3. the leader killed with SIGKILL, restarted from its WAL 3 s later;
#   4. (n=4) a 2-2 partition (each half blackholes the other's addresses)
#      for 10 s: `bftctl status` run inside replica 0's namespace (the
#      minority side) shows "no quorum since" for replicas 0 and 1;
#   5. after the last heal: orders complete (liveness), every replica
#      catches up, and `bftctl check` (the checks of `bftctl cluster`):
#      commit logs and state digests agree, every acknowledged order is in
#      every audit log exactly once, audit chains intact.
# Usage: netns.sh BUILD_DIR N. Needs root and iproute2: otherwise it skips
# (exit 77, ctest SKIP_RETURN_CODE). Every wait is bounded; cleanup runs on
# every exit path.
set -uo pipefail
BUILD=${1:?usage: netns.sh BUILD_DIR N}
N=${2:-4}
SKIP=77
skip() { echo "SKIP: $*"; exit $SKIP; }
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "no ip (iproute2)"
command -v jq >/dev/null || skip "no jq"
case $N in 4 | 7) ;; *) echo "N must be 4 or 7"; exit 2 ;; esac

tag=bft$$
BR=$tag-br
CL=$tag-c
out=$(mktemp -d /tmp/bft-e2e-netns-XXXXXX)
pids=()
load_pid=
cleanup() {
  for p in "${pids[@]}" $load_pid; do kill -9 "$p" 2>/dev/null; done
  for p in "${pids[@]}" $load_pid; do wait "$p" 2>/dev/null; done
  for i in $(seq 0 $((N - 1))); do ip netns del "$tag-r$i" 2>/dev/null; done
  ip netns del "$CL" 2>/dev/null
  ip netns del "$BR" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
  echo "FAIL: $*"
  for f in "$out"/bftd-*.log "$out"/load.log; do [ -s "$f" ] && { echo "== $f"; tail -5 "$f"; }; done
  exit 1
}
ns() { echo "$tag-r$1"; }
addr() { echo "10.77.0.$(($1 + 1))"; }

# ---- the network ----
ip netns add "$BR" 2>/dev/null || skip "cannot create network namespaces (ip netns add failed)"
ip -n "$BR" link add br0 type bridge || fail "bridge"
ip -n "$BR" link set br0 up
ip -n "$BR" link set lo up
join() { # join NS NAME ADDR: a veth from the bridge into NS, addressed ADDR
  ip netns add "$1" || fail "ip netns add $1"
  ip -n "$BR" link add "$2" type veth peer name eth0 netns "$1" || fail "veth $2"
  ip -n "$BR" link set "$2" master br0 up
  ip -n "$1" link set lo up
  ip -n "$1" addr add "$3/24" dev eth0
  ip -n "$1" link set eth0 up
}
hosts=
for i in $(seq 0 $((N - 1))); do
  join "$(ns "$i")" "r$i" "$(addr "$i")"
  hosts=${hosts:+$hosts,}$(addr "$i")
done
join "$CL" c 10.77.0.100

# ---- the cluster: keygen with host addresses, one bftd per namespace ----
"$BUILD/bftctl" keygen --nodes "$N" --clients 4 --out "$out/c" --hosts "$hosts" \
    --client-host 10.77.0.100 --base-port 7000 --status-port 7200 >/dev/null || fail keygen
cfg=$out/c/cluster.json
[ "$(jq -r '.replicas[1].address' "$cfg")" = "tcp+direct://$(addr 1):7001" ] || fail "keygen --hosts: $(jq -c '.replicas[1]' "$cfg")"
[ "$(jq -r '.replicas[1].status' "$cfg")" = "http://$(addr 1):7201" ] || fail "keygen --status-port"
start() { # start I: bftd for replica I in its namespace
  ip netns exec "$(ns "$1")" "$BUILD/bftd" --config "$cfg" --id "$1" >>"$out/bftd-$1.log" 2>&1 &
  pids[$1]=$!
}
for i in $(seq 0 $((N - 1))); do start "$i"; done
status() { # status NS ARGS...: bftctl status from inside namespace NS
  local where=$1
  shift
  ip netns exec "$where" timeout 20 "$BUILD/bftctl" status --config "$cfg" "$@"
}
for t in $(seq 1 50); do # bounded: 10 s for every replica to serve its page
  status "$CL" --timeout 500 >/dev/null && break
  sleep 0.2
done

if [ "$N" = 4 ]; then D=42; else D=26; fi
ip netns exec "$CL" "$BUILD/bftctl" load --config "$cfg" --clients 4 --outstanding 4 \
    --duration "$D" --ledger "$out/ledger.csv" --json "$out/load.json" --quiet >"$out/load.log" 2>&1 &
load_pid=$!
T0=$(date +%s.%N)
at() { # sleep until T0 + $1 seconds
  local d
  d=$(echo "$T0 + $1 - $(date +%s.%N)" | bc)
  case $d in -* | 0) ;; *) sleep "$d" ;; esac
}

# 1. status from the client namespace: every replica answers.
at 3
status "$CL" >"$out/status1.txt"
rc=$?
cat "$out/status1.txt"
[ $rc -eq 0 ] || fail "bftctl status from the client namespace exited $rc"
[ "$(grep -c "http://10.77.0" "$out/status1.txt")" -eq "$N" ] || fail "status lacks rows"
grep -q unreachable "$out/status1.txt" && fail "a replica unreachable at the start"
status "$CL" --json >"$out/status1.json" || fail "status --json"
[ "$(jq '[.replicas[] | select(.answered and (.status.committed_seq > 0))] | length' "$out/status1.json")" -eq "$N" ] ||
  fail "not every replica committed by t=3: $(jq -c '[.replicas[].status.committed_seq]' "$out/status1.json")"

# 2. cut the last replica off: its link to the bridge goes down for 6 s.
cut=$((N - 1))
at 4
ip -n "$BR" link set "r$cut" down
echo "t=4: replica $cut cut off"
at 7
status "$CL" --timeout 500 >"$out/status-cut.txt"
[ $? -eq 4 ] || fail "status with replica $cut cut off should exit 4"
grep -E "^$cut +http.*unreachable" "$out/status-cut.txt" >/dev/null || fail "cut-off replica not shown unreachable: $(cat "$out/status-cut.txt")"
at 10
ip -n "$BR" link set "r$cut" up
echo "t=10: replica $cut back"

# 3. kill -9 the leader (the one the replicas name), restart it 3 s later.
at 12
status "$CL" --json >"$out/status-kill.json"
victim=$(jq '[.replicas[] | select(.answered) | .status.leader] | group_by(.) | max_by(length) | .[0]' "$out/status-kill.json")
case $victim in '' | null | -1) victim=1 ;; esac
[ "$victim" = "$cut" ] && victim=1
kill -9 "${pids[$victim]}"
wait "${pids[$victim]}" 2>/dev/null
echo "t=12: replica $victim (leader) killed with SIGKILL"
at 15
start "$victim"
echo "t=15: replica $victim restarted"
last_heal=15

# 4. n=4: a 2-2 partition, {0,1} | {2,3}, for 10 s.
if [ "$N" = 4 ]; then
  at 18
  for a in 0 1; do for b in 2 3; do
    ip -n "$(ns $a)" route add blackhole "$(addr $b)/32"
    ip -n "$(ns $b)" route add blackhole "$(addr $a)/32"
  done; done
  echo "t=18: partition {0,1} | {2,3}"
  ok=
  for t in $(seq 1 16); do # bounded: until t=26 or so
    at $((21 + t / 2))
    status "$(ns 0)" --timeout 800 >"$out/status-minority.txt"
    src=$?
    if [ "$(grep -E '^[01] ' "$out/status-minority.txt" | grep -c "no quorum since")" -eq 2 ]; then ok=1; break; fi
  done
  cat "$out/status-minority.txt"
  [ -n "$ok" ] || fail "the minority side does not show \"no quorum since\" for replicas 0 and 1"
  [ "$src" -eq 4 ] || fail "status on the minority side reached the other half (exit $src)"
  grep -E '^[23] ' "$out/status-minority.txt" | grep -q unreachable || fail "the majority side answered across the partition"
  at 28
  for a in 0 1; do for b in 2 3; do
    ip -n "$(ns $a)" route del blackhole "$(addr $b)/32"
    ip -n "$(ns $b)" route del blackhole "$(addr $a)/32"
  done; done
  echo "t=28: partition healed"
  last_heal=28
fi

# 5. the load ends; liveness after the last heal, catch-up, then the checks.
for t in $(seq 1 $((D + 30))); do # bounded: the load's duration plus slack
  kill -0 "$load_pid" 2>/dev/null || break
  sleep 1
done
wait "$load_pid"
lrc=$?
load_pid=
cat "$out/load.log"
[ $lrc -eq 0 ] || fail "bftctl load exited $lrc"
after=$(jq "[.per_second[$((last_heal + 2)):][]] | add // 0" "$out/load.json")
[ "$after" -gt 0 ] || fail "no order completed after the last heal (t=$last_heal): $(jq -c .per_second "$out/load.json")"
echo "liveness: $after orders completed from t=$((last_heal + 2)) s to the end"
caught=
for t in $(seq 1 40); do # bounded: 20 s for every replica to reach the same seq
  status "$CL" --json >"$out/status-end.json" &&
    [ "$(jq '[.replicas[].status.committed_seq] | unique | length' "$out/status-end.json")" -eq 1 ] &&
    { caught=1; break; }
  sleep 0.5
done
status "$CL"
[ -n "$caught" ] || fail "replicas did not all reach the same committed seq: $(jq -c '[.replicas[].status.committed_seq]' "$out/status-end.json")"
for i in $(seq 0 $((N - 1))); do kill -TERM "${pids[$i]}" 2>/dev/null; done
for i in $(seq 0 $((N - 1))); do
  for t in $(seq 1 50); do kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.1; done
done
"$BUILD/bftctl" check --config "$cfg" --ledger "$out/ledger.csv" --killed "$victim" >"$out/check.txt" 2>&1
crc=$?
cat "$out/check.txt"
[ $crc -eq 0 ] || fail "bftctl check exited $crc"
grep -q "safety: ok .* $N replicas at the top seq, digests equal" "$out/check.txt" || fail "not every replica at the top seq"
echo PASS
