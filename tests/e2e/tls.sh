#!/usr/bin/env bash
# Multi-process test of TLS (docs/tls.md): real bftd processes over
# tls+tcp:// on loopback.
#  1. pbft n=4 --tls, safe and live, with an outsider halfway through that
#     trusts the cluster CA but presents a "replica-0" certificate from its
#     own CA: every replica refuses and counts it (tls_refused), and none of
#     its junk or badly signed frames reaches a replica (no malformed or
#     bad_signature rejects), unlike the plain-TCP run in cluster_pbft.sh.
#  2. hotstuff n=4 and raft n=3 --tls, safe and live.
#  3. bftctl read, a client over TLS, against 4 bftd of a fresh keygen --tls
#     cluster (a client the load generator used has spent its request
#     numbers on the old replicas, so the read needs a fresh cluster).
#  4. A replica given another member's certificate, or no key, or a
#     certificate from another CA, exits 2 at start-up with a clear message.
set -uo pipefail
BUILD=${1:?usage: tls.sh BUILD_DIR}
out=$(mktemp -d /tmp/bft-e2e-tls-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$out"; }
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$out"/run/replica-*.log; do [ -f "$f" ] && { echo "--- $f"; tail -5 "$f"; }; done
  exit 1
}
run="$out/run"

# 1. pbft over TLS with a rogue outsider.
"$BUILD/bftctl" cluster --protocol pbft --nodes 4 --duration 4 --clients 4 --tls \
    --inject junk,badsig --dir "$run" --json "$out/r.json" --quiet
rc=$?
[ $rc -eq 0 ] || fail "pbft --tls: bftctl cluster exited $rc"
j() { jq -r "$1" "$out/r.json"; }
[ "$(j .safety)" = ok ] || fail "pbft --tls: safety"
[ "$(j '.committed_ops > 0')" = true ] || fail "pbft --tls: no committed ops"
[ "$(j '.ops_per_second[3] > 0')" = true ] || fail "pbft --tls: no commits after the rogue at t=2s"
[ "$(jq -r '[.replicas[].address | startswith("tls+tcp://")] | all' "$run/cluster.json")" = true ] ||
  fail "cluster.json addresses are not tls+tcp://"
[ "$(jq -r '.tls.ca' "$run/cluster.json")" = ca.crt ] || fail "cluster.json has no tls.ca"
refused=""
for i in 0 1 2 3; do
  s="$run/replica-$i/stats.json"
  r=$(jq -r '.tls_refused' "$s") || fail "replica $i: no stats.json"
  [ "$r" -gt 0 ] || fail "replica $i: rogue certificate not refused/counted (tls_refused=$r)"
  [ "$(jq -r '.rejected.malformed' "$s")" = 0 ] || fail "replica $i: a rogue junk frame got through"
  [ "$(jq -r '.rejected.bad_signature' "$s")" = 0 ] || fail "replica $i: a rogue message got through"
  refused="$refused $r"
done
echo "ok: pbft n=4 --tls: $(j .committed_ops) ops, $(j .throughput_ops_s | cut -d. -f1) ops/s, p50 $(j .latency_ms.p50) ms; rogue refused per replica:$refused"

# 2. hotstuff and raft over TLS.
for spec in "hotstuff 4" "raft 3"; do
  set -- $spec
  "$BUILD/bftctl" cluster --protocol "$1" --nodes "$2" --duration 3 --clients 2 --tls \
      --dir "$out/$1" --json "$out/$1.json" --quiet
  rc=$?
  [ $rc -eq 0 ] || fail "$1 --tls: bftctl cluster exited $rc"
  [ "$(jq -r .safety "$out/$1.json")" = ok ] || fail "$1 --tls: safety"
  [ "$(jq -r '.committed_ops > 0' "$out/$1.json")" = true ] || fail "$1 --tls: no commits"
  echo "ok: $1 n=$2 --tls: $(jq -r .committed_ops "$out/$1.json") ops"
done

# 3. A client over TLS against a fresh cluster.
base=$((20000 + RANDOM % 30000))
"$BUILD/bftctl" keygen --nodes 4 --out "$out/fresh" --tls --base-port $base >/dev/null ||
  fail "keygen --tls"
for i in 0 1 2 3; do
  "$BUILD/bftd" --config "$out/fresh/cluster.json" --id "$i" >"$out/fresh/bftd-$i.log" 2>&1 &
  pids+=($!)
done
ok=""
for try in 1 2 3; do
  if timeout 15 "$BUILD/bftctl" read --config "$out/fresh/cluster.json" --client 1 --order 0:1 \
      --timeout 3000 >"$out/read.txt" 2>&1; then ok=1; break; fi
done
[ -n "$ok" ] || { cat "$out/read.txt"; fail "bftctl read over TLS got no answer"; }
echo "ok: bftctl read over TLS: $(head -1 "$out/read.txt")"
# An order placed by hand over TLS (the client session presents client-2's
# certificate), then read back.
timeout 30 "$BUILD/bftctl" submit --config "$out/fresh/cluster.json" --client 2 \
    --order ACME:buy:5:100:7 --timeout 10000 >"$out/submit.txt" 2>&1 ||
  { cat "$out/submit.txt"; fail "bftctl submit over TLS"; }
grep -q "order_seq" "$out/submit.txt" || { cat "$out/submit.txt"; fail "bftctl submit printed no order_seq"; }
echo "ok: bftctl submit over TLS: $(tr '\n' ' ' <"$out/submit.txt")"
timeout 30 "$BUILD/bftctl" read --config "$out/fresh/cluster.json" --client 2 --order 2:7 \
    --timeout 5000 >"$out/read2.txt" 2>&1 || { cat "$out/read2.txt"; fail "read of the submitted order"; }
grep -qi "not found" "$out/read2.txt" && { cat "$out/read2.txt"; fail "the submitted order was not found"; }
echo "ok: read back over TLS: $(head -1 "$out/read2.txt")"
for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids=()

# 4. Bad certificate files: a clear message and exit 2, no hang.
keys="$run/keys"
expect_start_error() { # WHAT EXPECTED-TEXT
  timeout 20 "$BUILD/bftd" --config "$run/cluster.json" --id 0 >"$out/bad.log" 2>&1
  rc=$?
  [ $rc -eq 2 ] || { cat "$out/bad.log"; fail "$1: bftd exited $rc, expected 2"; }
  grep -qF "$2" "$out/bad.log" || { cat "$out/bad.log"; fail "$1: message lacks '$2'"; }
  echo "ok: $1: $(head -1 "$out/bad.log")"
}
cp "$keys/replica-0.crt" "$out/r0.crt"
cp "$keys/replica-0.key" "$out/r0.key"
cp "$keys/replica-1.crt" "$keys/replica-0.crt"
cp "$keys/replica-1.key" "$keys/replica-0.key"
expect_start_error "another member's certificate" 'is for "replica-1", expected "replica-0"'
cp "$out/r0.crt" "$keys/replica-0.crt"
expect_start_error "a key that does not match" "does not match certificate"
rm "$keys/replica-0.key"
expect_start_error "no key" "replica-0.key: No such file"
"$BUILD/bftctl" keygen --nodes 4 --out "$out/other" --tls >/dev/null || fail "keygen --tls"
cp "$out/other/keys/replica-0.crt" "$out/other/keys/replica-0.key" "$keys/"
expect_start_error "a certificate from another CA" "not signed by the cluster CA"
echo "PASS"
