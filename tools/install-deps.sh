#!/usr/bin/env bash
# Install the Debian packages bft needs, only those missing. Run as root
# (or with sudo available). Used by `make demo` and `make test`.
set -euo pipefail
# iproute2 and bc: the network-namespace tests (tests/e2e/netns).
pkgs=(build-essential cmake pkg-config libsodium-dev libssl-dev libnng-dev libcmocka-dev
      libcjson-dev gnuplot-nox clang-format jq iproute2 bc)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "error: missing packages (${missing[*]}) and not root; install them or run as root" >&2
    exit 2
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
