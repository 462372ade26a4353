#!/usr/bin/env bash
# The out-of-tree example (examples/bank) against the installed library:
# install this build into a temp prefix (what `make install PREFIX=...`
# does), then examples/bank/test.sh builds the example there through
# pkg-config only, runs a 4-replica cluster of its replicas and checks the
# ledger with its client (the client session API).
# Usage: example_bank.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "${1:?usage: example_bank.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/bft-example.XXXXXX)
trap 'rm -rf "$T"' EXIT
cmake --install "$BUILD" --prefix "$T/prefix" >"$T/install.log" ||
  { cat "$T/install.log"; echo "FAIL: cmake --install"; exit 1; }
bash "$SRC/examples/bank/test.sh" "$T/prefix"
