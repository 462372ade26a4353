#!/usr/bin/env bash
# Multi-process test: reads at every consistency level (docs/reads.md) on
# real clusters (PBFT n=4 and Raft n=3, bftd processes over loopback TCP),
# the levels taken in turn by every client. Each read looks up the
# client's latest acknowledged order, so every linearizable and quorum read
# must find it; local reads promise less and are only counted. Also the
# one-off `bftctl read` against a stopped cluster: no answer, exit 4.
set -uo pipefail
BUILD=${1:?usage: cluster_reads.sh BUILD_DIR}
out=$(mktemp -d /tmp/bft-e2e-reads-XXXXXX)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; cat "$out"/*.json 2>/dev/null | head -80; exit 1; }
for pn in pbft:4 raft:3; do
  p=${pn%%:*} n=${pn##*:}
  "$BUILD/bftctl" cluster --protocol "$p" --nodes "$n" --duration 4 --clients 4 \
      --reads 100 --read-level mix --dir "$out/$p" --json "$out/$p.json" --quiet >/dev/null
  rc=$?
  [ $rc -eq 0 ] || fail "$p: bftctl cluster exited $rc"
  j() { jq -r "$1" "$out/$p.json"; }
  [ "$(j .safety)" = ok ] || fail "$p: safety"
  [ "$(j .reads.level)" = mix ] || fail "$p: reads.level"
  for l in linearizable quorum local; do
    [ "$(j ".reads.$l.completed > 0")" = true ] || fail "$p: no $l reads completed"
    for k in issued found reads_s latency_ms; do
      [ "$(j ".reads.$l | has(\"$k\")")" = true ] || fail "$p: reads.$l lacks $k"
    done
  done
  for l in linearizable quorum; do
    [ "$(j ".reads.$l.found == .reads.$l.completed")" = true ] ||
      fail "$p: a $l read missed the client's acknowledged order ($(j ".reads.$l.found")/$(j ".reads.$l.completed"))"
  done
  echo "$p: $(for l in linearizable quorum local; do printf '%s p99 %s ms (%s/%s found); ' $l "$(j ".reads.$l.latency_ms.p99")" "$(j ".reads.$l.found")" "$(j ".reads.$l.completed")"; done)"
done
# The replicas of the last run are stopped: a one-off read gets no answer.
"$BUILD/bftctl" read --config "$out/raft/cluster.json" --client 0 --order 0:1 --level quorum \
    --timeout 300 >"$out/read.txt" 2>&1
rc=$?
[ $rc -eq 4 ] || fail "bftctl read against a stopped cluster exited $rc: $(cat "$out/read.txt")"
grep -q "no answer" "$out/read.txt" || fail "bftctl read: $(cat "$out/read.txt")"
"$BUILD/bftctl" read --config "$out/raft/cluster.json" --client 0 --order 0:1 --level local:0 \
    >"$out/read.txt" 2>&1
[ $? -eq 2 ] || fail "bftctl read accepted local:0"
echo PASS
