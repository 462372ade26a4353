#!/usr/bin/env bash
# The demo: a 4-node PBFT cluster on this machine, every message signed,
# placing orders for 10 seconds, then a safety check across replicas.
set -uo pipefail
BUILD=${1:-build}
echo "== bft demo: 4-node PBFT, 4 clients placing orders for 10 s =="
"$BUILD/bftctl" cluster --protocol pbft --nodes 4 --duration 10 --clients 4 --json "$BUILD/demo-pbft.json"
rc=$?
echo "(JSON result: $BUILD/demo-pbft.json, exit code $rc)"
exit $rc
