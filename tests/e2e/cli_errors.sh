#!/usr/bin/env bash
# bftctl and bftd answer --help, and refuse bad flags and bad configs with a
# clear message and exit code 2.
set -uo pipefail
BUILD=${1:?usage: cli_errors.sh BUILD_DIR}
d=$(mktemp -d /tmp/bft-cli-XXXXXX)
trap 'rm -rf "$d"' EXIT
n=0
expect() { # expect CODE PATTERN cmd...
  local code=$1 pat=$2; shift 2
  local out; out=$("$@" 2>&1); local rc=$?
  if [ $rc -ne "$code" ]; then echo "FAIL: '$*' exited $rc, want $code: $out"; exit 1; fi
  if ! grep -qi -- "$pat" <<<"$out"; then echo "FAIL: '$*' output lacks '$pat': $out"; exit 1; fi
  n=$((n+1))
}
expect 0 usage "$BUILD/bftctl" --help
expect 0 usage "$BUILD/bftd" --help
expect 0 usage "$BUILD/bftctl" cluster --help
expect 2 "unknown command" "$BUILD/bftctl" frobnicate
expect 2 "unknown or incomplete option" "$BUILD/bftctl" cluster --protocol pbft --nodes 4 --duration 1 --bogus
expect 2 "unknown protocol" "$BUILD/bftctl" cluster --protocol paxos --nodes 4 --duration 1
expect 2 "nodes" "$BUILD/bftctl" cluster --protocol pbft --nodes 99 --duration 1
expect 2 "required" "$BUILD/bftctl" cluster --protocol pbft --nodes 4
expect 2 "needs at least 4" "$BUILD/bftctl" cluster --protocol pbft --nodes 3 --duration 1
expect 2 "unknown behaviour" "$BUILD/bftctl" cluster --protocol pbft --nodes 4 --duration 1 --fault 0:dance@1
expect 2 "replica id" "$BUILD/bftctl" cluster --protocol pbft --nodes 4 --duration 1 --fault 9:crash@1
expect 2 "required" "$BUILD/bftd" --id 0
expect 2 "unknown or incomplete option" "$BUILD/bftd" --config x --id 0 --nope
expect 2 "non-negative integer" "$BUILD/bftd" --config x --id -1
expect 2 "cannot\|no such\|missing" "$BUILD/bftd" --config "$d/missing.json" --id 0
echo '{"cluster_id": "zz"' > "$d/bad.json"
expect 2 "bad.json" "$BUILD/bftd" --config "$d/bad.json" --id 0
expect 0 "wrote" "$BUILD/bftctl" keygen --nodes 4 --clients 2 --out "$d/c"
[ "$(stat -c %a "$d/c/keys/replica-0.pem")" = 600 ] || { echo "FAIL: key mode"; exit 1; }
openssl pkey -in "$d/c/keys/replica-0.pem" -noout || { echo "FAIL: openssl cannot read key"; exit 1; }
expect 2 "not a replica" "$BUILD/bftd" --config "$d/c/cluster.json" --id 7
cp "$d/c/keys/replica-1.pem" "$d/c/keys/replica-0.pem"
expect 2 "does not match" "$BUILD/bftd" --config "$d/c/cluster.json" --id 0
rm "$d/c/keys/replica-2.pem"
expect 2 "replica 2 key" "$BUILD/bftd" --config "$d/c/cluster.json" --id 2
expect 2 "needs n >= 3f+1" "$BUILD/bftctl" keygen --nodes 3 --f 1 --out "$d/x"
# Every behaviour `bftctl cluster --help` lists is one --fault takes (it
# got as far as the node count check, after the faults were parsed).
behaviours=$("$BUILD/bftctl" cluster --help | sed -n '/behaviours (docs/{n;p}')
[ -n "$behaviours" ] || { echo "FAIL: no behaviour list in bftctl cluster --help"; exit 1; }
for b in $behaviours; do
  expect 2 "needs at least 4" "$BUILD/bftctl" cluster --protocol pbft --nodes 3 --duration 1 --fault "0:$b@1"
done
expect 2 "needs at least 4" "$BUILD/bftctl" cluster --protocol pbft --nodes 3 --duration 1 --fault 0:byzzfuzz@1
# --fault windows take the units --partition and --net take.
expect 2 "needs at least 4" "$BUILD/bftctl" cluster --protocol pbft --nodes 3 --duration 1 --fault 0:crash@1500ms-3s
expect 2 "needs at least 4" "$BUILD/bftctl" cluster --protocol pbft --nodes 3 --duration 1 --fault 0:slow@2.5-4s
expect 2 "bad window" "$BUILD/bftctl" cluster --protocol pbft --nodes 4 --duration 1 --fault 0:crash@2x
expect 2 "bad window" "$BUILD/bftctl" cluster --protocol pbft --nodes 4 --duration 1 --fault 0:crash@3-2
expect 2 "integer in" "$BUILD/bftctl" cluster --protocol pbft --nodes 4.5 --duration 1
# bftctl --help: each description sits under its own command.
"$BUILD/bftctl" --help | grep -A1 '^  inject ' | grep -q outsider ||
  { echo "FAIL: bftctl --help: inject's description is not under inject"; exit 1; }
"$BUILD/bftctl" --help | grep -A2 '^  read ' | grep -q outsider &&
  { echo "FAIL: bftctl --help: inject's description is under read"; exit 1; }
n=$((n+1))
# Every command answers --help with exit 0 and refuses an unknown flag with 2.
for c in keygen cluster status bench audit soak inject read; do
  expect 0 usage "$BUILD/bftctl" "$c" --help
  expect 2 "unknown or incomplete option" "$BUILD/bftctl" "$c" --bogus
done
# Status over the network, load and check against a running cluster, and
# keygen's multi-host flags (issue 15: docs/deploy.md).
for c in load check; do
  expect 0 usage "$BUILD/bftctl" "$c" --help
  expect 2 "unknown or incomplete option" "$BUILD/bftctl" "$c" --bogus
  expect 2 "required" "$BUILD/bftctl" "$c"
done
expect 2 "3 hosts for 4 replicas" "$BUILD/bftctl" keygen --nodes 4 --out "$d/h" --hosts a,b,c
expect 2 "not a host name" "$BUILD/bftctl" keygen --nodes 4 --out "$d/h" --hosts "a,b,c,tcp://d"
expect 2 "not a host name" "$BUILD/bftctl" keygen --nodes 4 --out "$d/h" --client-host "x y"
expect 2 "used twice" "$BUILD/bftctl" keygen --nodes 4 --out "$d/p" --status-port 7002
expect 2 "used twice" "$BUILD/bftctl" keygen --nodes 4 --out "$d/p" --status-port 7100
expect 0 wrote "$BUILD/bftctl" keygen --nodes 4 --out "$d/s" --base-port 7000 --status-port 0
expect 4 "no status address" "$BUILD/bftctl" status --config "$d/s/cluster.json"
expect 2 "needs --watch" "$BUILD/bftctl" status --config "$d/s/cluster.json" --count 2
expect 2 "number in" "$BUILD/bftctl" status --config "$d/s/cluster.json" --watch 0
expect 2 "cannot read" "$BUILD/bftctl" check --config "$d/s/cluster.json"
expect 2 "replica ids" "$BUILD/bftctl" check --config "$d/s/cluster.json" --killed 9
expect 2 "has 4 clients" "$BUILD/bftctl" load --config "$d/s/cluster.json" --clients 5
sed 's|"public_key"|"status": "ftp://x", "public_key"|' "$d/s/cluster.json" >"$d/s/bad.json"
expect 2 "must be http://HOST:PORT" "$BUILD/bftctl" status --config "$d/s/bad.json"
# The soak's replay line carries every flag that shapes the run (a bftd
# that cannot run stops it right after the line is printed).
expect 2 "replay: .*--clients 3" env BFTD=/nonexistent "$BUILD/bftctl" soak --protocol pbft --duration 12 --clients 3 --seed 5 --dir "$d/soak"
# ---- bftctl submit (the client session): flags, config and keys ----
S=("$BUILD/bftctl" submit --config "$d/c/cluster.json")
expect 0 usage "$BUILD/bftctl" submit --help
expect 2 "unknown or incomplete option" "$BUILD/bftctl" submit --bogus
expect 2 "exactly one of" "${S[@]}" --client 0
expect 2 "exactly one of" "${S[@]}" --client 0 --kv-del a --order X:buy:1:1
expect 2 "integer in" "${S[@]}" --client 5000 --order X:buy:1:1
expect 2 "has clients 0..1" "${S[@]}" --client 7 --order X:buy:1:1
expect 2 "--order wants" "${S[@]}" --client 0 --order X:hold:1:1
expect 2 "--order wants" "${S[@]}" --client 0 --order TOOLONGSYM:buy:1:1
expect 2 "--req-no wants" "${S[@]}" --client 0 --order X:buy:1:1 --req-no 0
expect 2 "--op-hex wants" "${S[@]}" --client 0 --op-hex abc
expect 2 "orders app: use --order" "${S[@]}" --client 0 --kv-put a=b
expect 2 "client 0 key" "${S[@]}" --client 0 --key "$d/nokey.pem" --order X:buy:1:1
expect 2 "is not client 0's key" "${S[@]}" --client 0 --key "$d/c/keys/client-1.pem" --order X:buy:1:1
expect 2 "cannot\|no such\|missing" "$BUILD/bftctl" submit --config "$d/missing.json" --client 0 --order X:buy:1:1
echo junk > "$d/c/keys/client-1.pem.reqno"
expect 2 "malformed" "${S[@]}" --client 1 --order X:buy:1:1
echo "$n passed, 0 failed"
