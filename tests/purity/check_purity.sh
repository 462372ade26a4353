#!/usr/bin/env bash
# Cores are pure (docs/style.md #1): a protocol core and the layers it links
# (wire, core) never do I/O, read a clock or draw randomness; the node and
# the simulator do that for them through struct bft_io and struct bft_env.
# This check enforces it on the built objects instead of trusting habit:
# every symbol a checked library leaves undefined must be defined by one of
# the checked libraries themselves or be on the allowlist below (memory,
# sorting, asserts, compiler and sanitizer runtime, SHA-256 from crypto/,
# and _GLOBAL_OFFSET_TABLE_, which the linker makes for position-independent
# code: every layer is built PIC for libbft.so, docs/embedding.md).
# Anything else (open, write, fsync, clock_gettime, rand, printf, nng_*,
# crypto_sign, ...) fails the check with the object that references it.
#
#   bash tests/purity/check_purity.sh BUILD          the real cores
#   bash tests/purity/check_purity.sh --libs A.a ... any set of archives
set -u
ALLOW='^(malloc|calloc|realloc|free|memcmp|memcpy|memmove|memset|memchr|strcmp|strncmp|strlen|qsort|abort|__assert_fail|__stack_chk_fail|__[a-z]+[sdt]i[0-9]|__(asan|ubsan|sanitizer|sancov|lsan)_.*|__sanitizer_cov_.*|crypto_sha256.*|_GLOBAL_OFFSET_TABLE_)$'
if [ "${1:-}" = --libs ]; then
    shift
    LIBS=("$@")
else
    B=${1:?usage: check_purity.sh BUILD | --libs LIB.a...}
    LIBS=()
    for l in bftwire bftcore bftpbft bfthotstuff bftraft; do
        [ -f "$B/lib$l.a" ] || { echo "purity: $B/lib$l.a not built" >&2; exit 2; }
        LIBS+=("$B/lib$l.a")
    done
fi
[ ${#LIBS[@]} -gt 0 ] || { echo "purity: no libraries given" >&2; exit 2; }
for l in "${LIBS[@]}"; do
    [ -f "$l" ] || { echo "purity: $l not found" >&2; exit 2; }
done
defined=$(nm --defined-only "${LIBS[@]}" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u)
bad=0
# nm -A -u: "lib.a:obj.o:                 U symbol"
while read -r where sym; do
    [ -z "$sym" ] && continue
    if [[ $sym =~ $ALLOW ]]; then continue; fi
    if grep -qxF -- "$sym" <<<"$defined"; then continue; fi
    echo "purity: ${where%:} references $sym (I/O, clock, randomness or a layer a core must not link)"
    bad=1
done < <(nm -A -u "${LIBS[@]}" | awk 'NF >= 3 && $(NF - 1) == "U" { print $1, $NF }')
if [ $bad -ne 0 ]; then
    echo "purity: FAILED: a core must reach the world only through struct bft_io / struct bft_env"
    exit 1
fi
echo "purity: ok (${#LIBS[@]} libraries, every undefined symbol allowed)"
