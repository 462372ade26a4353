#!/usr/bin/env bash
# The installed library as a user sees it (docs/embedding.md): install the
# build into a temp prefix, then, through pkg-config only:
#   - every installed header compiles alone with -std=c11 -Wall -Wextra
#     -Werror -pedantic, and includes only C standard headers and bft/ ones;
#   - the shared library exports only bft_ functions its headers declare,
#     and carries the soname libbft.so.MAJOR;
#   - a small program links against the shared library and against the
#     static one (pkg-config --static) and runs.
# Usage: check_install.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "${1:?usage: check_install.sh BUILD_DIR}" && pwd)
CC=${CC:-cc}
# A sanitized build's library needs its user linked with the same
# sanitizer runtime (CMakeLists.txt sets this for the Asan build).
USER_CFLAGS=${BFT_USER_CFLAGS:-}
T=$(mktemp -d /tmp/bft-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
P=$T/prefix
fail() { echo "install_headers: FAIL: $*" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$P" >"$T/install.log" || { cat "$T/install.log"; fail "cmake --install"; }
for f in include/bft/common.h include/bft/app.h include/bft/replica.h lib/libbft.a \
         lib/libbft.so lib/pkgconfig/bft.pc bin/bftd bin/bftctl bin/bftsim; do
    [ -e "$P/$f" ] || fail "$f is not installed"
done
"$P/bin/bftd" --help >/dev/null || fail "installed bftd --help"

export PKG_CONFIG_PATH=$P/lib/pkgconfig
CFLAGS_BFT=$(pkg-config --cflags bft) || fail "pkg-config --cflags bft"
echo "pkg-config bft $(pkg-config --modversion bft): cflags '$CFLAGS_BFT'"

# The C11 standard headers (C11 7.1.2), the only non-bft ones allowed.
STD="assert complex ctype errno fenv float inttypes iso646 limits locale math setjmp signal
     stdalign stdarg stdatomic stdbool stddef stdint stdio stdlib stdnoreturn string tgmath
     threads time uchar wchar wctype"
n=0
for h in "$P"/include/bft/*.h; do
    name=bft/$(basename "$h")
    # Alone, and twice (the include guard).
    printf '#include <%s>\n#include <%s>\n' "$name" "$name" >"$T/one.c"
    # shellcheck disable=SC2086
    "$CC" -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only $CFLAGS_BFT "$T/one.c" ||
        fail "$name does not compile alone"
    while read -r inc; do
        case "$inc" in
        bft/*.h) [ -e "$P/include/$inc" ] || fail "$name includes $inc, which is not installed" ;;
        *) echo " $STD " | grep -q " ${inc%.h} " || fail "$name includes <$inc> (not C11 standard, not bft/)" ;;
        esac
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p' "$h")
    n=$((n + 1))
done
echo "headers: $n compile alone and include only standard and bft/ headers"

# Exported: only bft_ functions, each declared in an installed header.
SO=$(readlink -f "$P/lib/libbft.so")
objdump -p "$SO" | grep -q "SONAME *libbft.so.[0-9]" || fail "no soname libbft.so.MAJOR"
syms=$(nm -D --defined-only "$SO" | awk '$2 ~ /^[TDBR]$/ {print $3}')
[ -n "$syms" ] || fail "libbft.so exports nothing"
for s in $syms; do
    case "$s" in bft_*) ;; *) fail "libbft.so exports $s (not BFT_API)" ;; esac
    grep -qw "$s" "$P"/include/bft/*.h || fail "libbft.so exports $s, declared in no installed header"
done
echo "libbft.so: $(echo "$syms" | wc -w) symbols exported, all bft_ and declared; $(objdump -p "$SO" | awk '/SONAME/ {print $2}')"

# A program using the version and the replica API (a bad config path, so
# it links the whole runtime and must get a clear error back).
cat >"$T/prog.c" <<'PROG'
#include <stdio.h>
#include <string.h>
#include <bft/bft.h>
int main(void)
{
    char want[32], err[512];
    snprintf(want, sizeof want, "%d.%d.%d", BFT_VERSION_MAJOR, BFT_VERSION_MINOR,
             BFT_VERSION_PATCH);
    if (strcmp(bft_version(), want) != 0) {
        fprintf(stderr, "library %s, headers %s\n", bft_version(), want);
        return 1;
    }
    struct bft_replica *r;
    struct bft_replica_options o = {.version = BFT_REPLICA_OPTIONS_VERSION,
                                    .config_path = "/nonexistent/cluster.json"};
    int rv = bft_replica_create(&r, &o, err, sizeof err);
    if (rv == BFT_E_OK || !err[0]) return 1;
    printf("bft %s; bad config: %s: %s\n", bft_version(), bft_strerror(rv), err);
    return 0;
}
PROG
# shellcheck disable=SC2046,SC2086
"$CC" -std=c11 -Wall -Wextra -Werror -pedantic $USER_CFLAGS $CFLAGS_BFT "$T/prog.c" -o "$T/prog_shared" \
    $(pkg-config --libs bft) -Wl,-rpath,"$P/lib" || fail "link against libbft.so"
readelf -d "$T/prog_shared" | grep -q "NEEDED.*libbft.so.1" || fail "prog_shared does not use libbft.so.1"
echo "shared: $("$T/prog_shared")" || fail "prog_shared"
"$T/prog_shared" >/dev/null || fail "prog_shared did not run"
# Static: libbft.a, and its dependencies from Requires.private/Libs.private.
LIBS_STATIC=$(pkg-config --static --libs bft | sed 's/-lbft\b/-Wl,-Bstatic -lbft -Wl,-Bdynamic/')
# shellcheck disable=SC2086
"$CC" -std=c11 -Wall -Wextra -Werror -pedantic $USER_CFLAGS $CFLAGS_BFT "$T/prog.c" -o "$T/prog_static" \
    $LIBS_STATIC || fail "link against libbft.a (pkg-config --static --libs bft)"
if readelf -d "$T/prog_static" | grep -q "NEEDED.*libbft"; then fail "prog_static needs libbft.so"; fi
"$T/prog_static" >/dev/null || fail "prog_static did not run"
echo "static: $("$T/prog_static")"
# docs/embedding.md's examples, as a user pastes them: the replica
# (counter.c) and the client session (order.c).
DOC=$(cd "$(dirname "$0")/../.." && pwd)/docs/embedding.md
for ex in counter order; do
  awk -v tag="<!-- example: $ex.c -->" '$0 == tag {on = 1; next} on && /^```c$/ {copy = 1; next}
       copy && /^```$/ {exit} copy {print}' "$DOC" >"$T/$ex.c"
  [ -s "$T/$ex.c" ] || fail "no $ex.c example in $DOC"
  # shellcheck disable=SC2046
  "$CC" -std=c11 -Wall -Wextra -Werror -pedantic $USER_CFLAGS "$T/$ex.c" $(pkg-config --cflags --libs bft) \
      -Wl,-rpath,"$P/lib" -o "$T/$ex" || fail "docs/embedding.md's $ex.c does not build"
  echo "docs/embedding.md $ex.c: builds against the installed library"
done
usage=$("$T/counter" 2>&1 || true)
case "$usage" in *"usage: counter"*) ;; *) fail "counter.c without arguments prints no usage" ;; esac
echo "install_headers: ok"
