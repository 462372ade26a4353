#!/usr/bin/env bash
# Disk full (docs/architecture.md "Storage failures"): replica 3's data dir
# is a small tmpfs that the test fills up in the middle of a PBFT run.
#  1. replica 3 stops promising and says why: its log, stats.json
#     (storage_error) and the metrics;
#  2. once the filler is removed it resumes by itself (restarts from its
#     WAL in the same process) and catches up;
#  3. nothing acknowledged is lost: the run is safe, every replica ends
#     with the same state digest, and the audit logs verify.
# Skipped, with a message, where a tmpfs cannot be mounted.
set -uo pipefail
BUILD=${1:?usage: disk_full.sh BUILD_DIR}
out=$(mktemp -d /tmp/bft-e2e-XXXXXX)
run="$out/run"
mnt="$run/replica-3"
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=64m bft-disk-full "$mnt" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (needs root and mount permission); disk-full test not run"
  rm -rf "$out"
  exit 0
fi
ctl=
cleanup() {
  [ -n "$ctl" ] && kill "$ctl" 2>/dev/null && wait "$ctl" 2>/dev/null # its replicas die with it
  rm -f "$mnt/filler"
  umount "$mnt" 2>/dev/null || umount -l "$mnt"
  rm -rf "$out"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$out/r.txt"; tail -20 "$run/replica-3.log" 2>/dev/null; exit 1; }
st() { jq -r "$1" "$mnt/stats.json" 2>/dev/null; }
wait_for() { # seconds jq-condition-on-replica-3-stats
  local n=$(( $1 * 10 ))
  for _ in $(seq 1 "$n"); do
    [ "$(st "$2")" = true ] && return 0
    sleep 0.1
  done
  return 1
}

"$BUILD/bftctl" cluster --protocol pbft --nodes 4 --duration 24 --clients 4 \
  --dir "$run" --json "$out/r.json" > "$out/r.txt" 2>&1 &
ctl=$!
wait_for 15 '.committed_seq > 50' || fail "replica 3 never committed"
sleep 2
dd if=/dev/zero of="$mnt/filler" bs=1M status=none 2>/dev/null # fills the tmpfs: ENOSPC
wait_for 10 '.storage_error != ""' || fail "replica 3 did not report the storage failure"
echo "replica 3 says: $(st .storage_error)"
grep -q "no promises" "$run/replica-3.log" || fail "no storage failure message in replica-3.log"
[ "$(st '.wal_failed or .audit_failed')" = true ] || fail "stats.json: neither wal_failed nor audit_failed"
stuck=$(st .committed_seq)
sleep 3
rm -f "$mnt/filler"
for _ in $(seq 1 100); do
  grep -q "storage is writable again" "$run/replica-3.log" && break
  sleep 0.1
done
grep -q "storage is writable again" "$run/replica-3.log" || fail "replica 3 did not resume"
wait_for 15 ".storage_error == \"\" and .committed_seq > $stuck" || fail "replica 3 did not catch up after resuming"
wait "$ctl"
rc=$?
ctl=
cat "$out/r.txt" | tail -8
[ $rc -eq 0 ] || fail "bftctl cluster exited $rc"
[ "$(jq -r .safety "$out/r.json")" = ok ] || fail "safety"
[ "$(jq -r '[.replicas[].state_digest] | unique | length' "$out/r.json")" = 1 ] \
  || fail "replica 3 ended with another state digest"
# Every order a client saw acknowledged is in every replica's audit log,
# once, with its number (replica 3's included: it wrote nothing while full).
[ "$(jq -r .ledger.verdict "$out/r.json")" = ok ] || fail "ledger: $(jq -c .ledger "$out/r.json")"
"$BUILD/bftctl" audit --dir "$run" > "$out/audit.txt" 2>&1 || { cat "$out/audit.txt"; fail "audit"; }
echo "PASS: disk full on replica 3: stopped promising (said why), resumed by itself, caught up; audit ok"
