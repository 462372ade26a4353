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
echo "$n passed, 0 failed"
