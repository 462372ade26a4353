#!/usr/bin/env bash
# Multi-process test of the client session (include/bft/client.h) through
# `bftctl submit` and `bftctl read`, against real bftd replicas started by
# hand on loopback (README.md "To run replicas yourself"): PBFT and
# HotStuff n=4, Raft n=3. For each protocol:
#   - two successive `bftctl submit` invocations with one client id are
#     both executed, with consecutive order_seq (numbers never reused
#     across processes: the client's .reqno state file);
#   - a retry (--req-no) of an executed request returns the same order_seq,
#     status ok (the replicas' reply cache, not a second execution);
#   - `bftctl read` finds it at every level;
#   - SIGKILL the leader: a submit still completes (view change / election);
#   - stop one more: no quorum; submit ends "unknown outcome" (exit 4)
#     within its timeout and prints the retry command;
#   - restart a replica; the printed retry command completes, and a second
#     retry returns the same order_seq: the audit logs hold the order once.
# Every wait is bounded; the replicas are killed on exit.
set -uo pipefail
BUILD=${1:?usage: client_session.sh BUILD_DIR}
CTL="$BUILD/bftctl"
out=$(mktemp -d /tmp/bft-e2e-session-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$out"
}
trap cleanup EXIT
fail() {
  echo "FAIL ($proto): $*"
  tail -n 5 "$out"/$proto/bftd*.log 2>/dev/null
  exit 1
}

# A base port with base..base+9 and base+100 free on loopback.
free_base() {
  for _ in $(seq 1 50); do
    local b=$((20000 + RANDOM % 20000)) busy=0
    for p in $(seq "$b" $((b + 9))) $((b + 100)); do
      ss -Hltn "sport = :$p" | grep -q . && busy=1
    done
    [ $busy -eq 0 ] && { echo "$b"; return 0; }
  done
  return 1
}

start() { # replica id
  "$BUILD/bftd" --config "$dir/cluster.json" --id "$1" >>"$dir/bftd$1.log" 2>&1 &
  pids[$1]=$!
}
stop() { # replica id signal
  kill -"$2" "${pids[$1]}" 2>/dev/null
  wait "${pids[$1]}" 2>/dev/null
  pids[$1]=""
}
# The replica that reports itself leader in its stats.json (bounded wait).
leader() {
  for _ in $(seq 1 50); do
    for i in "${!pids[@]}"; do
      [ -n "${pids[$i]}" ] || continue
      [ "$(jq -r '.is_leader' "$dir/replica-$i/stats.json" 2>/dev/null)" = true ] && {
        echo "$i"
        return 0
      }
    done
    sleep 0.2
  done
  return 1
}
submit() { # args...: runs bftctl submit as client 1, output in $dir/last
  "$CTL" submit --config "$dir/cluster.json" --client 1 "$@" >"$dir/last" 2>&1
}
seq_of() { grep -o 'order_seq [0-9]*' "$dir/last" | awk '{print $2}'; }
req_of() { grep -o '^request [0-9]*' "$dir/last" | awk '{print $2}'; }
# Lines for client 1's order COID in replica I's audit log.
audit_count() { awk -v c="$2" '$3 == 1 && $4 == c' "$dir/replica-$1/audit.log" | wc -l; }

for pn in pbft:4 hotstuff:4 raft:3; do
  proto=${pn%%:*} n=${pn##*:}
  dir="$out/$proto"
  pids=()
  base=$(free_base) || fail "no free ports"
  "$CTL" keygen --protocol "$proto" --nodes "$n" --clients 2 --out "$dir" --base-port "$base" \
      >/dev/null || fail "keygen"
  for i in $(seq 0 $((n - 1))); do start "$i"; done

  # Two invocations, one client id: both executed, consecutive order_seq.
  submit --order ACME:buy:10:100:1001 --timeout 15000 || fail "first submit: $(cat "$dir/last")"
  s1=$(seq_of) r1=$(req_of)
  grep -q "done, order ok" "$dir/last" || fail "first submit: $(cat "$dir/last")"
  submit --order ACME:sell:5:101:1002 --timeout 10000 || fail "second submit: $(cat "$dir/last")"
  s2=$(seq_of) r2=$(req_of)
  [ "$s2" -eq $((s1 + 1)) ] || fail "order_seq $s1 then $s2: not consecutive"
  [ "$r2" -gt "$r1" ] || fail "request numbers $r1 then $r2"
  echo "$proto: two invocations: requests $r1, $r2 -> order_seq $s1, $s2"

  # Retry of an executed request: the same answer, not a second execution.
  submit --order ACME:buy:10:100:1001 --req-no "$r1" --timeout 10000 || fail "retry: $(cat "$dir/last")"
  grep -q "done, order ok, order_seq $s1," "$dir/last" || fail "retry of $r1: $(cat "$dir/last")"

  for l in linearizable quorum local:1000; do
    "$CTL" read --config "$dir/cluster.json" --client 1 --order 1:1001 --level $l \
        --timeout 10000 >"$dir/last" 2>&1 || fail "read $l: $(cat "$dir/last")"
    grep -q "order 1:1001: order_seq $s1 " "$dir/last" || fail "read $l: $(cat "$dir/last")"
  done
  echo "$proto: retry of $r1 -> order_seq $s1 again; read at 3 levels -> $s1"

  # SIGKILL the leader: the next order completes after the view change.
  ld=$(leader) || fail "no replica reports itself leader"
  stop "$ld" 9
  t0=$(date +%s%N)
  submit --order ACME:buy:1:99:1003 --timeout 20000 || fail "submit after kill -9: $(cat "$dir/last")"
  s3=$(seq_of)
  [ "$s3" -eq $((s2 + 1)) ] || fail "order_seq after the kill: $s3"
  echo "$proto: leader $ld killed (-9): next order done in $(( ($(date +%s%N) - t0) / 1000000 )) ms, order_seq $s3"

  # One more down: no quorum. Unknown outcome, exit 4, within the timeout.
  other=$(( (ld + 1) % n ))
  stop "$other" TERM
  t0=$(date +%s%N)
  submit --order ACME:buy:2:98:1004 --timeout 2000
  rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ $rc -eq 4 ] || fail "submit without quorum exited $rc: $(cat "$dir/last")"
  grep -q "unknown outcome" "$dir/last" || fail "no 'unknown outcome': $(cat "$dir/last")"
  [ $ms -lt 6000 ] || fail "unknown outcome took $ms ms (timeout 2000)"
  r4=$(req_of)
  retry=$(grep '^retry with: ' "$dir/last" | sed 's/^retry with: //')
  echo "$retry" | grep -q -- "--req-no $r4" || fail "retry line: $(cat "$dir/last")"
  echo "$proto: 2 replicas down: unknown outcome in $ms ms (exit 4), request $r4"

  # Restart one: the printed command (bftctl from this build) completes.
  start "$other"
  eval "\"\$CTL\" ${retry#bftctl } --timeout 30000" >"$dir/last" 2>&1 || fail "retry after restart: $(cat "$dir/last")"
  grep -q "^request $r4: done, order ok" "$dir/last" || fail "retry: $(cat "$dir/last")"
  s4=$(seq_of)
  [ "$s4" -eq $((s3 + 1)) ] || fail "order_seq of the retried order: $s4"
  submit --order ACME:buy:2:98:1004 --req-no "$r4" --timeout 10000 || fail "second retry: $(cat "$dir/last")"
  grep -q "order_seq $s4," "$dir/last" || fail "second retry: $(cat "$dir/last")"
  echo "$proto: after a restart, retry of $r4 -> order_seq $s4, twice"

  # Exactly once in the audit logs of the replicas that ran throughout.
  sleep 0.5
  for i in $(seq 0 $((n - 1))); do
    [ "$i" = "$ld" ] && continue
    [ -f "$dir/replica-$i/audit.log" ] || continue
    for c in 1001 1002 1003 1004; do
      k=$(audit_count "$i" "$c")
      [ "$k" -le 1 ] || fail "replica $i's audit log has order $c $k times"
    done
  done
  survivors=0
  for i in $(seq 0 $((n - 1))); do
    [ "$i" = "$ld" ] || [ "$i" = "$other" ] && continue
    [ "$(audit_count "$i" 1004)" -eq 1 ] && survivors=$((survivors + 1))
  done
  [ $survivors -ge 1 ] || fail "order 1004 in no audit log"
  for i in "${!pids[@]}"; do [ -n "${pids[$i]}" ] && stop "$i" TERM; done
done
echo PASS
