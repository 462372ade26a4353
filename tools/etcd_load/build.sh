#!/usr/bin/env bash
# Build tools/etcd_load (the etcd load client of tools/etcd_compare.sh) from
# Debian's packages only, with no network: Go in GOPATH mode over
# /usr/share/gocode, where golang-etcd-server-dev puts etcd 3.4's clientv3
# and its dependencies. etcd's own tools/benchmark is not in any Debian
# package, hence this small client (docs/benchmarks.md "Raft beside etcd").
#
#   tools/etcd_load/build.sh OUT [--install]
#
# --install: apt-get the missing packages first (as root, or with sudo),
# as tools/install-deps.sh does for the rest of the project. Exits 77 when
# a package is missing and --install was not given.
set -euo pipefail
out=${1:?usage: build.sh OUT [--install]}
install=0
case "${2:-}" in
  "") ;;
  --install) install=1 ;;
  *) echo "etcd_load/build.sh: unknown option '$2' (usage: build.sh OUT [--install])" >&2; exit 2 ;;
esac
src=$(cd "$(dirname "$0")" && pwd)/main.go

# What etcd_compare.sh runs beside the client: etcd-server, etcd-client.
pkgs=(golang-go golang-etcd-server-dev etcd-server etcd-client)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ $install = 0 ]; then
    echo "etcd_load/build.sh: missing Debian packages: ${missing[*]}" >&2
    echo "  get them with: apt-get install ${missing[*]}   (or: make bench-etcd)" >&2
    exit 77
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "etcd_load/build.sh: not root; apt-get install ${missing[*]}" >&2; exit 2; }
    SUDO=sudo
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Up to date: nothing to do.
if [ -x "$out" ] && [ "$out" -nt "$src" ]; then exit 0; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/etcd-load-build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/etcdload" "$tmp/cache"
cp "$src" "$tmp/src/etcdload/main.go"
mkdir -p "$(dirname "$out")"
# GOPATH mode: our package first, then Debian's tree; GOPROXY=off and
# GOFLAGS=-mod= keep go from reaching for any network.
(cd "$tmp/src/etcdload" &&
  GO111MODULE=off GOPATH="$tmp:/usr/share/gocode" GOPROXY=off GOFLAGS='' \
    GOCACHE="${GOCACHE:-$tmp/cache}" timeout 600 go build -o "$tmp/etcd_load" .)
mv "$tmp/etcd_load" "$out"
echo "built $out"
