#!/usr/bin/env bash
# The bank example, end to end, against an installed bft:
#   examples/bank/test.sh PREFIX
# Copies this directory somewhere else and builds it there with only
# pkg-config pointing at PREFIX (nothing of the bft source tree is
# visible), writes a 4-replica PBFT cluster with PREFIX/bin/bftctl keygen,
# runs one bank-replica per replica, and checks the ledger with
# bank-client (the client session API) in phases: open accounts;
# transfers; kill -9 the primary and transfer on three replicas; restart
# it and transfer again. Finally every replica must reach the same
# executed seq with the same state digest. Every wait is bounded.
set -uo pipefail
PREFIX=$(cd "${1:?usage: test.sh PREFIX}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/bft-bank-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$work"/r*.log; do [ -f "$f" ] && { echo "--- $f"; tail -5 "$f"; }; done
  exit 1
}

pc=$(find "$PREFIX" -name bft.pc -path '*pkgconfig*' | head -1)
[ -n "$pc" ] || fail "no bft.pc under $PREFIX"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
mkdir -p "$work/src"
cp "$here"/*.c "$here"/*.h "$here"/Makefile "$work/src/"
make -s -C "$work/src" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "the example did not build"; }
echo "built the example out of tree with $(pkg-config --modversion bft) from $PREFIX"

# Replica ports, their status ports and the client port, free on
# 127.0.0.1 and below the kernel's ephemeral range: a port in that range
# can be taken by any outgoing connection between our check and the
# replica's listen. Another test picking ports at the same moment can
# still take ours, so a start that fails with "Address in use" picks new
# ports and starts again (bounded).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
eph_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$eph_low" -gt 10300 ] 2>/dev/null || eph_low=32768
pick_ports() {
  base=
  local try b ok k
  for try in $(seq 1 50); do
    b=$((10000 + (RANDOM % ((eph_low - 10200) / 100)) * 100))
    ok=1
    for k in 0 1 2 3 70 71 72 73 100; do port_free $((b + k)) || ok=0; done
    [ $ok = 1 ] && { base=$b; return 0; }
  done
  return 1
}

start() {
  "$work/src/bank-replica" --config "$cfg" --id "$1" >>"$work/r$1.log" 2>&1 &
  pids[$1]=$!
}
cfg=$work/c/cluster.json
started=0
for attempt in 1 2 3 4 5; do
  pick_ports || fail "no free ports"
  rm -rf "$work/c" "$work"/r*.log
  "$PREFIX/bin/bftctl" keygen --nodes 4 --clients 1 --protocol pbft --app bank \
      --base-port "$base" --out "$work/c" >/dev/null || fail "keygen"
  for i in 0 1 2 3; do start $i; done
  # A replica that cannot listen exits at once; one that can keeps running.
  sleep 1
  if grep -qi 'in use' "$work"/r*.log 2>/dev/null; then
    echo "ports at $base were taken between the check and the listen; new ports (attempt $attempt)"
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    pids=()
    continue
  fi
  started=1
  break
done
[ $started = 1 ] || fail "could not start the replicas on free ports in 5 attempts"
client() { timeout 120 "$work/src/bank-client" --config "$cfg" --client 0 "$@"; }

client open 8 || fail "open (exit $?)"
client transfer 8 60 1 || fail "transfer on four replicas (exit $?)"
kill -9 "${pids[0]}"
wait "${pids[0]}" 2>/dev/null
echo "killed replica 0 (the primary of view 0) with SIGKILL"
client transfer 8 40 2 || fail "transfer with the primary dead (exit $?)"
start 0
echo "restarted replica 0 from its WAL"
client transfer 8 40 3 || fail "transfer after the restart (exit $?)"

# Let replica 0 catch up, then stop everyone cleanly (stats.json is
# rewritten on exit) and compare where they stopped.
sleep 2
for i in 0 1 2 3; do kill -TERM "${pids[$i]}" 2>/dev/null; done
for i in 0 1 2 3; do
  for t in $(seq 1 100); do kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.1; done
  kill -0 "${pids[$i]}" 2>/dev/null && fail "replica $i did not stop on SIGTERM"
  wait "${pids[$i]}"
  rc=$?
  [ $rc -eq 0 ] || fail "replica $i exited $rc"
done
pids=()
# Safety: replicas that stopped at the same seq have the same state. The
# restarted replica may stop a little behind (it catches up at the next
# checkpoint); at least 2f+1 = 3 must stop at the highest seq.
max=0
for i in 0 1 2 3; do
  s=$work/c/replica-$i/stats.json
  [ -f "$s" ] || fail "replica $i wrote no stats.json"
  seq[$i]=$(jq -r .committed_seq "$s")
  dig[$i]=$(jq -r .state_digest "$s")
  echo "replica $i: committed_seq ${seq[$i]} state_digest ${dig[$i]}"
  [ "${seq[$i]}" -gt "$max" ] && max=${seq[$i]}
done
at_max=0 ref=
for i in 0 1 2 3; do
  [ "${seq[$i]}" = "$max" ] || continue
  at_max=$((at_max + 1))
  [ -z "$ref" ] && ref=${dig[$i]}
  [ "${dig[$i]}" = "$ref" ] || fail "replicas at seq $max have different state digests"
done
[ $at_max -ge 3 ] || fail "only $at_max replicas reached seq $max"
echo PASS
