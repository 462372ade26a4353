#!/usr/bin/env bash
# Bounded WAL with snapshots on disk (docs/storage.md), real clusters.
#  1. Per protocol, with 128 KiB segments: replica 1 is killed (SIGKILL)
#     and restarted from disk; it must restore a snapshot (stats.json
#     storage.snapshot_restored; PBFT: find one intact, since it restores
#     it only when it is at the stable checkpoint its WAL names), every replica must have rotated its WAL,
#     hold at most 2 snapshots and at most 2 WAL segments, the run must be
#     safe and progress, and `bftctl audit` must verify (the audit log is
#     complete after a restart from a snapshot).
#  2. Crash points: replica 1's storage stops at one step of a snapshot
#     write or a rotation (BFT_STORAGE_CRASH_AT, runtime/runtime_storage.c),
#     as a crash would; it takes the storage-failure path, resumes, recovers
#     from the files as the crash left them, and the run stays safe with an
#     intact audit. Every step (1..10, enum bft_storage_step) is run once,
#     the protocols taking turns.
#   bash tests/e2e/storage.sh BUILD_DIR
set -uo pipefail
BUILD=${1:?usage: storage.sh BUILD_DIR}
BFTCTL="$BUILD/bftctl"
TMP=$(mktemp -d /tmp/bft-storage-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export BFT_WAL_SEGMENT_BYTES=131072 BFT_SNAPSHOT_MIN_BYTES=32768
pass=0 fail=0
bad() {
    echo "FAIL $*"
    fail=$((fail + 1))
}

nodes() { case $1 in raft) echo 3 ;; *) echo 4 ;; esac }

# The check needs replica 1 to hold a snapshot when it is killed. How soon
# its first snapshot comes depends on the machine's speed (Raft: 1024
# entries; a loaded 2-core machine once reached fewer by 9 s). When the
# restart loaded none, that precondition was not met, which says nothing
# about storage: run once more with the kill later. A restart that loaded
# a snapshot and restored none still fails at once.
cluster_run() { # proto n run crash_at duration
    "$BFTCTL" cluster --protocol "$1" --nodes "$2" --duration "$5" --clients 4 \
        --fault "1:crash@$4" --dir "$3" >"$TMP/$1.out" 2>&1
}
for proto in pbft hotstuff raft; do
    n=$(nodes $proto)
    run="$TMP/$proto"
    cluster_run $proto "$n" "$run" 9-11 16
    rc=$?
    if [ "$(jq -r '.storage.snapshots_loaded' "$run/replica-1/stats.json" 2>/dev/null)" = 0 ]; then
        echo "note $proto: replica 1 held no snapshot when killed at 9 s (slow machine); again with the kill at 16 s"
        rm -rf "$run"
        cluster_run $proto "$n" "$run" 16-18 24
        rc=$?
    fi
    ok=1
    why=""
    [ $rc -eq 0 ] || { ok=0; why="cluster exit $rc"; }
    loaded=$(jq -r '.storage.snapshot_restored' "$run/replica-1/stats.json" 2>/dev/null)
    found=$(jq -r '.storage.snapshots_loaded' "$run/replica-1/stats.json" 2>/dev/null)
    if [ $proto = pbft ]; then
        # PBFT restores its snapshot only when it is at the stable
        # checkpoint the WAL names; otherwise it fetches the state from
        # peers (docs/storage.md "Restart"), which depends on where the
        # kill falls. It must at least have found its snapshots intact.
        [ "${found:-0}" -ge 1 ] 2>/dev/null || { ok=0; why="$why; replica 1 found no intact snapshot"; }
    else
        [ "${loaded:-0}" -ge 1 ] 2>/dev/null || { ok=0; why="$why; replica 1 restored no snapshot"; }
    fi
    for ((r = 0; r < n; r++)); do
        d="$run/replica-$r"
        rot=$(jq -r '.storage.rotations' "$d/stats.json" 2>/dev/null)
        segs=$(find "$d" -maxdepth 1 -name 'wal-*' | wc -l)
        snaps=$(find "$d" -maxdepth 1 -name 'snap-*' ! -name '*.tmp' | wc -l)
        [ "$segs" -le 2 ] && [ "$snaps" -le 2 ] || { ok=0; why="$why; replica $r: $segs segments, $snaps snapshots"; }
        # Replica 1's counters restart with its process; the others ran throughout.
        [ $r = 1 ] || [ "${rot:-0}" -ge 1 ] 2>/dev/null || { ok=0; why="$why; replica $r never rotated"; }
    done
    "$BFTCTL" audit --dir "$run" >"$TMP/$proto.audit" 2>&1 || { ok=0; why="$why; audit failed"; }
    if [ $ok = 1 ]; then
        pass=$((pass + 1))
        echo "ok   $proto: restart found $found snapshot(s), restored the one at seq $loaded (0: state transfer); $(tail -1 "$TMP/$proto.audit")"
    else
        bad "$proto restart from snapshot:$why"
        tail -5 "$TMP/$proto.out"
        tail -5 "$run/replica-1.log"
        tail -3 "$TMP/$proto.audit"
    fi
    rm -rf "$run"
done

protos=(pbft hotstuff raft)
for step in 1 2 3 4 5 6 7 8 9 10; do
    proto=${protos[$((step % 3))]}
    n=$(nodes $proto)
    run="$TMP/crash-$step"
    log="$run/replica-1.log"
    # A step is reached only once replica 1 has committed enough to write
    # a snapshot (Raft: 2048 applied entries), prune one, or rotate: a
    # number of commits, not a time, and on a loaded machine 10 s may
    # commit fewer (seen: "step 5 (raft) not reached in 10 s" under load
    # 10). A run that did not reach its step exercised nothing, so it is
    # run again, longer (10, 20, 40 s); a step never reached still fails.
    for dur in 10 20 40; do
        rm -rf "$run"
        BFT_STORAGE_CRASH_AT="1:$step" "$BFTCTL" cluster --protocol $proto --nodes "$n" \
            --duration $dur --clients 4 --dir "$run" >"$TMP/c$step.out" 2>&1
        rc=$?
        grep -q "storage crash injected at step $step" "$log" && break
        written=$(jq -r '.storage.snapshots_written // 0' "$run/replica-1/stats.json" 2>/dev/null)
        echo "     crash at step $step ($proto): not reached in $dur s (snapshots written: ${written:-?}); again, longer"
    done
    ok=1
    why=""
    [ $rc -eq 0 ] || { ok=0; why="cluster exit $rc"; }
    if grep -q "storage crash injected at step $step" "$log"; then
        grep -q "restarting from the WAL" "$log" || { ok=0; why="$why; replica 1 did not resume"; }
        what="crashed and resumed"
    else
        ok=0
        why="$why; step not reached in $dur s (snapshots written: ${written:-?})"
    fi
    "$BFTCTL" audit --dir "$run" >"$TMP/c$step.audit" 2>&1 || { ok=0; why="$why; audit failed"; }
    if [ $ok = 1 ]; then
        pass=$((pass + 1))
        echo "ok   crash at step $step ($proto): $what; $(tail -1 "$TMP/c$step.audit")"
    else
        bad "crash at step $step ($proto):$why"
        tail -5 "$TMP/c$step.out"
        tail -8 "$log"
    fi
    rm -rf "$run"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
