#!/usr/bin/env bash
# kill -9 soak per protocol (pbft n=4, hotstuff n=4, raft n=3): `bftctl soak`
# kills a random replica or the current leader with SIGKILL every ~5 s under
# load (down ~2 s, sometimes with its disk wiped), then checks safety,
# progress after the last restart, the acknowledgement ledger, equal state
# digests and the audit logs; it must exit 0. make test runs 30 s per
# protocol: 3 to 6 kills each (the first after 3-5 s of load, the last
# restart followed by 5 s of load); make soak runs 600 s.
#   bash tests/e2e/soak.sh BUILD_DIR
#   SOAK_DURATION=600 (make soak), SOAK_SEED=X to replay a schedule,
#   SOAK_PROTOCOLS="pbft raft" to run a subset.
set -uo pipefail
BUILD=${1:-build}
BFTCTL="$(cd "$BUILD" && pwd)/bftctl"
DUR=${SOAK_DURATION:-30}
PROTOS=${SOAK_PROTOCOLS:-pbft hotstuff raft}
[ -x "$BFTCTL" ] || { echo "no $BFTCTL"; exit 1; }
TMP=$(mktemp -d /tmp/bft-soak-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# Bad input: a clear message and exit 2, before any replica starts.
for args in "--protocol pbft" "--protocol nope --duration 20" "--protocol pbft --duration 5" \
    "--protocol pbft --duration 20 --seed -3" "--protocol raft --duration 20 --wipe-prob 1.5" \
    "--protocol pbft --duration 20 --nodes 2" "--protocol pbft --duration 20 --bogus" \
    "--protocol pbft --duration 20 extra"; do
    # shellcheck disable=SC2086
    "$BFTCTL" soak $args >"$TMP/err.out" 2>&1
    rc=$?
    if [ $rc -ne 2 ] || ! grep -q 'bftctl soak:' "$TMP/err.out"; then
        echo "FAIL: bftctl soak $args: exit $rc (want 2 and a message)"
        cat "$TMP/err.out"
        exit 1
    fi
done

pass=0 fail=0
for proto in $PROTOS; do
    case $proto in raft) n=3 ;; *) n=4 ;; esac
    seed=()
    [ -n "${SOAK_SEED:-}" ] && seed=(--seed "$SOAK_SEED")
    out="$TMP/$proto.out"
    # Line-buffered, and a core file kept in $TMP/cores: if bftctl itself
    # dies, the report shows how far it got and, with gdb, where it died.
    # (Two such SIGSEGVs in CI were nng 1.5.2 freeing a PUSH connection
    # still on its ready list as a replica was killed: net/gate.h.)
    mkdir -p "$TMP/cores"
    (cd "$TMP/cores" && ulimit -c unlimited 2>/dev/null
     exec stdbuf -oL -eL "$BFTCTL" soak --protocol "$proto" --nodes $n --duration "$DUR" \
        "${seed[@]}" --dir "$TMP/$proto" --json "$TMP/$proto.json") >"$out" 2>&1
    rc=$?
    if [ $rc -ge 128 ]; then
        core=$(ls -t "$TMP"/cores/core* 2>/dev/null | head -1)
        if [ -n "$core" ] && command -v gdb >/dev/null; then
            echo "     bftctl died (exit $rc); backtrace from $core:"
            gdb -batch -ex 'thread apply all bt 12' "$BFTCTL" "$core" 2>/dev/null |
                grep -E '^(#|Thread)' | head -60 | sed 's/^/     /'
        else
            echo "     bftctl died (exit $rc); no core file (core_pattern: $(cat /proc/sys/kernel/core_pattern 2>/dev/null))"
        fi
    fi
    ok=1
    [ $rc -eq 0 ] || ok=0
    [ "$(jq -r '.soak.exit_code' "$TMP/$proto.json" 2>/dev/null)" = "$rc" ] || ok=0
    if [ $ok = 1 ]; then
        pass=$((pass + 1))
        echo "ok   $proto n=$n ${DUR}s: $(grep '^bftctl soak:' "$out" | head -1 | sed 's/^bftctl soak: //')"
        sed -n '/^soak /,$p' "$out" | sed 's/^/     /'
    else
        fail=$((fail + 1))
        echo "FAIL $proto n=$n ${DUR}s (exit $rc)"
        grep -E '^  replay:' "$out" | sed 's/^/     /'
        sed -n '/^soak /,$p' "$out" | sed 's/^/     /'
        [ -s "$out" ] && ! grep -q '^soak ' "$out" && tail -20 "$out" | sed 's/^/     /'
    fi
    rm -rf "${TMP:?}/$proto"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
