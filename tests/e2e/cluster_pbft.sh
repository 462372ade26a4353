#!/usr/bin/env bash
# Multi-process test: a real 4-node PBFT cluster (4 bftd processes over
# loopback TCP), with an outsider throwing junk frames and badly signed
# messages at every replica halfway through. Checks the JSON contract.
set -uo pipefail
BUILD=${1:?usage: cluster_pbft.sh BUILD_DIR}
out=$(mktemp -d /tmp/bft-e2e-XXXXXX)
trap 'rm -rf "$out"' EXIT
"$BUILD/bftctl" cluster --protocol pbft --nodes 4 --duration 4 --clients 4 \
    --inject junk,badsig --dir "$out/run" --json "$out/r.json"
rc=$?
fail() { echo "FAIL: $*"; echo "--- r.json"; cat "$out/r.json" 2>/dev/null; for f in "$out"/run/replica-*.log; do echo "--- $f"; tail -5 "$f"; done; exit 1; }
[ $rc -eq 0 ] || fail "bftctl cluster exited $rc"
j() { jq -r "$1" "$out/r.json"; }
for k in protocol nodes f duration_s transport committed_ops throughput_ops_s latency_ms.p50 latency_ms.p90 \
         latency_ms.p99 latency_ms.max view_changes safety msgs_per_op bytes_per_op faults replicas; do
  [ "$(jq "has(\"${k%%.*}\")" "$out/r.json")" = true ] || fail "missing key $k"
done
[ "$(j .protocol)" = pbft ] || fail "protocol"
[ "$(j .transport)" = direct ] || fail "transport: the default is the direct transport"
[ "$(j .nodes)" = 4 ] || fail "nodes"
[ "$(j .f)" = 1 ] || fail "f"
[ "$(j .safety)" = ok ] || fail "safety"
[ "$(j '.committed_ops > 0')" = true ] || fail "no committed ops"
[ "$(j '.replicas | length')" = 4 ] || fail "replica count"
for k in id honest committed_seq state_digest rss_kib cpu_s msgs_sent bytes_sent rejected; do
  [ "$(j "[.replicas[] | has(\"$k\")] | all")" = true ] || fail "replica key $k"
done
[ "$(j '[.replicas[].state_digest] | unique | length')" = 1 ] || fail "state digests differ"
[ "$(j '[.replicas[].committed_seq] | unique | length')" = 1 ] || fail "committed_seq differ"
[ "$(j '[.replicas[].rejected.malformed] | all(. > 0)')" = true ] || fail "junk not counted as malformed"
[ "$(j '[.replicas[].rejected.bad_signature] | all(. > 0)')" = true ] || fail "bad signatures not counted"
# Committing went on after the injection at t=2s.
[ "$(j '.ops_per_second[3] > 0')" = true ] || fail "no commits after the injection"
[ "$(j .duplicate_order_seqs)" = 0 ] || fail "duplicate order numbers"
echo "PASS: $(j .committed_ops) ops, $(j .throughput_ops_s | cut -d. -f1) ops/s, p50 $(j .latency_ms.p50) ms, rejected malformed=$(j '.replicas[0].rejected.malformed') bad_signature=$(j '.replicas[0].rejected.bad_signature')"
