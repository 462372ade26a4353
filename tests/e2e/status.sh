#!/usr/bin/env bash
# Multi-process test on loopback (no root needed; tests/e2e/netns/netns.sh
# is the multi-host version): replicas started by hand from `bftctl keygen`,
# `bftctl status` over the network (table, --json, --watch --count), a
# replica killed shows unreachable with exit 4, `bftctl load` places orders
# and `bftctl check` runs the checks of `bftctl cluster` over the result.
set -uo pipefail
BUILD=${1:?usage: status.sh BUILD_DIR}
out=$(mktemp -d /tmp/bft-e2e-status-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$out"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -3 "$out"/bftd-*.log; exit 1; }
port=$((20000 + ($$ % 120) * 100)) # a 100-port block below the ephemeral range
"$BUILD/bftctl" keygen --nodes 4 --clients 2 --out "$out/c" --base-port "$port" >/dev/null || fail keygen
cfg=$out/c/cluster.json
[ "$(jq -r '.replicas[3].status' "$cfg")" = "http://127.0.0.1:$((port + 73))" ] || fail "default status address"
for i in 0 1 2 3; do
  "$BUILD/bftd" --config "$cfg" --id "$i" >"$out/bftd-$i.log" 2>&1 &
  pids[$i]=$!
done
ok=
for t in $(seq 1 50); do # bounded: 10 s to serve the first pages
  "$BUILD/bftctl" status --config "$cfg" --timeout 500 >/dev/null && { ok=1; break; }
  sleep 0.2
done
[ -n "$ok" ] || fail "not every replica answered within 10 s"
timeout 60 "$BUILD/bftctl" load --config "$cfg" --clients 2 --duration 3 --ledger "$out/acks.csv" \
    --json "$out/load.json" --quiet || fail "bftctl load"
[ "$(jq .completed "$out/load.json")" -gt 0 ] || fail "no order completed"
"$BUILD/bftctl" status --config "$cfg" --json >"$out/s.json" || fail "status --json"
[ "$(jq '[.replicas[] | select(.answered and .status.committed_seq > 0 and .status.role != null)] | length' "$out/s.json")" -eq 4 ] ||
  fail "status --json: $(head -c 600 "$out/s.json")"
[ "$(jq '[.replicas[].status.role] | map(select(. == "primary")) | length' "$out/s.json")" -eq 1 ] || fail "not one primary"
"$BUILD/bftctl" status --config "$cfg" --watch 0.3 --count 2 >"$out/w.txt" || fail "status --watch"
[ "$(grep -c "replicas answered" "$out/w.txt")" -eq 2 ] || fail "--watch --count 2: $(cat "$out/w.txt")"
kill -9 "${pids[2]}"
wait "${pids[2]}" 2>/dev/null
"$BUILD/bftctl" status --config "$cfg" --timeout 500 >"$out/k.txt"
[ $? -eq 4 ] || fail "status with replica 2 dead should exit 4"
grep -Eq "^2 .*unreachable" "$out/k.txt" || fail "replica 2 not shown unreachable: $(cat "$out/k.txt")"
for i in 0 1 3; do kill -TERM "${pids[$i]}"; done
for i in 0 1 3; do # bounded: 5 s each for a clean stop
  for t in $(seq 1 50); do kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.1; done
done
"$BUILD/bftctl" check --config "$cfg" --ledger "$out/acks.csv" --killed 2 >"$out/check.txt" 2>&1 ||
  fail "bftctl check: $(cat "$out/check.txt")"
grep -q "safety: ok" "$out/check.txt" || fail "check: $(cat "$out/check.txt")"
grep -q "ledger: .*: ok" "$out/check.txt" || fail "check ledger: $(cat "$out/check.txt")"
echo PASS
