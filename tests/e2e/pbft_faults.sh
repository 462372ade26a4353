#!/usr/bin/env bash
# Multi-process PBFT under crash faults (issue: PBFT complete):
#  1. the primary (replica 0) is killed: a view change follows and commits
#     keep growing; survivors agree on the state digest;
#  2. n=7 with two replicas (the first two primaries) killed;
#  3. a replica is wiped and restarted with empty state mid-run: it catches
#     up by state transfer and ends with the same digest as the others.
set -uo pipefail
BUILD=${1:?usage: pbft_faults.sh BUILD_DIR}
out=$(mktemp -d /tmp/bft-e2e-XXXXXX)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; cat "$out"/*.json 2>/dev/null | head -60; exit 1; }

run() { # name args...
  local name=$1; shift
  "$BUILD/bftctl" cluster --protocol pbft "$@" --dir "$out/$name" --json "$out/$name.json" \
    > "$out/$name.txt" 2>&1
  local rc=$?
  cat "$out/$name.txt"
  [ $rc -eq 0 ] || fail "$name: bftctl cluster exited $rc"
}
j() { jq -r "$2" "$out/$1.json"; }

run crash4 --nodes 4 --duration 8 --fault 0:crash@2
[ "$(j crash4 .safety)" = ok ] || fail "crash4 safety"
[ "$(j crash4 '.view_changes >= 1')" = true ] || fail "crash4: no view change"
# Orders keep committing after the crash: the last full seconds are not
# empty (the final bucket may hold only a fraction of a second).
[ "$(j crash4 '.ops_per_second[:-1][-3:] | all(. > 0)')" = true ] || fail "crash4: no progress after crash"
[ "$(j crash4 '[.replicas[] | select(.crashed | not) | .state_digest] | unique | length')" = 1 ] \
  || fail "crash4: survivors disagree"

run crash7 --nodes 7 --duration 10 --fault 0:crash@2 --fault 1:crash@2
[ "$(j crash7 .safety)" = ok ] || fail "crash7 safety"
[ "$(j crash7 '.view_changes >= 1')" = true ] || fail "crash7: no view change"
[ "$(j crash7 '.ops_per_second[:-1][-3:] | all(. > 0)')" = true ] || fail "crash7: no progress"
[ "$(j crash7 '[.replicas[] | select(.crashed | not) | .state_digest] | unique | length')" = 1 ] \
  || fail "crash7: survivors disagree"

run wipe4 --nodes 4 --duration 9 --fault 3:wipe@2-4
[ "$(j wipe4 .safety)" = ok ] || fail "wipe4 safety"
[ "$(j wipe4 '.replicas[3].restarted')" = true ] || fail "wipe4: not restarted"
[ "$(j wipe4 '[.replicas[].committed_seq] | unique | length')" = 1 ] || fail "wipe4: replica 3 did not catch up"
[ "$(j wipe4 '[.replicas[].state_digest] | unique | length')" = 1 ] || fail "wipe4: digests differ"
"$BUILD/bftctl" audit --dir "$out/wipe4" > "$out/audit.txt" 2>&1 || { cat "$out/audit.txt"; fail "audit"; }
echo "PASS: view change after primary crash (n=4, n=7), state transfer after wipe"
