#!/usr/bin/env bash
# make mutants: apply deliberate one-line bugs to a copy of the tree and
# require the deterministic simulator to fail for each (docs/mutants.md).
#
#   tools/mutants/run.sh [--list FILE] [--work DIR] [--report FILE] [ID...]
#
# The list (tools/mutants/list.txt) anchors each mutant by an exact source
# string, never by line number: an anchor that is not found exactly once
# stops the run with exit 2, so a stale mutant is noticed instead of being
# silently skipped. For each mutant the copy's file is restored, the
# replacement applied, bftsim (and any simulation test the mutant names)
# rebuilt incrementally, and the mutant's simulator commands run one after
# another until the first failure, within MUTANT_BUDGET seconds in all.
# The reason the simulator printed names the invariant that caught it; the
# failing seed is then replayed on the unmutated build, which must pass
# (otherwise the catch would not be the mutant's doing).
#
# Exit 0: every safety mutant caught by a safety invariant and every
# liveness mutant caught; 1: some mutant missed (or a safety mutant caught
# only by a liveness check or a crash); 2: usage, a stale anchor, or a
# build that failed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIST=$ROOT/tools/mutants/list.txt
WORK=${MUTANTS_WORK:-$ROOT/build-mutants}
REPORT=$ROOT/docs/mutants.md
BUDGET=${MUTANT_BUDGET:-300}   # seconds of simulation per mutant, at most
MASKED_BUDGET=${MUTANT_MASKED_BUDGET:-60} # for a mutant of kind masked
CHUNK=${MUTANT_SEED_CHUNK:-10} # bftsim seeds per invocation (stop early)
JOBS=${JOBS:-2}
ONLY=()

usage() {
    sed -n '4,5p' "$0" | sed 's/^# *//' >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    --list) LIST=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --report) REPORT=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "mutants: unknown option $1" >&2; usage ;;
    *) ONLY+=("$1"); shift ;;
    esac
done
[ -f "$LIST" ] || { echo "mutants: no list $LIST" >&2; exit 2; }
command -v perl >/dev/null || { echo "mutants: perl is needed to apply anchors" >&2; exit 2; }

# ---- the list ----
# Records are separated by blank lines; each line is "key: value"; '#'
# starts a comment line. Keys: id file find replace kind rule run (run
# repeats).
US=$'\x1f'
IDS=() ; declare -A F_FILE F_FIND F_REPL F_KIND F_RULE F_RUNS
cur=""
flush() {
    [ -n "$cur" ] || return 0
    for k in F_FILE F_FIND F_REPL F_KIND F_RULE F_RUNS; do
        local -n arr=$k
        if [ -z "${arr[$cur]:-}" ]; then
            echo "mutants: $LIST: mutant '$cur' has no ${k#F_}" | tr 'A-Z' 'a-z' >&2
            exit 2
        fi
    done
    local nf=${F_FIND[$cur]//[^$US]/} nr=${F_REPL[$cur]//[^$US]/}
    [ ${#nf} = ${#nr} ] || { echo "mutants: mutant '$cur': as many find as replace lines" >&2; exit 2; }
    case ${F_KIND[$cur]} in safety | liveness | masked) ;; *)
        echo "mutants: mutant '$cur': kind must be safety, liveness or masked" >&2; exit 2 ;;
    esac
    cur=""
}
while IFS= read -r line || [ -n "$line" ]; do
    case $line in
    '#'*) continue ;;
    '') flush; continue ;;
    esac
    key=${line%%:*}
    val=${line#*: }
    [ "$key" != "$line" ] || { echo "mutants: $LIST: bad line: $line" >&2; exit 2; }
    case $key in
    id)
        flush
        cur=$val
        [ -z "${F_FILE[$cur]:-}" ] || { echo "mutants: duplicate id $cur" >&2; exit 2; }
        IDS+=("$cur")
        ;;
    file) F_FILE[$cur]=$val ;;
    # A second find/replace pair makes a higher-order mutant (two rules
    # that mask each other broken together); pairs are kept apart by \x1f.
    find) F_FIND[$cur]+="${F_FIND[$cur]:+$US}$val" ;;
    replace) F_REPL[$cur]+="${F_REPL[$cur]:+$US}$val" ;;
    kind) F_KIND[$cur]=$val ;;
    rule) F_RULE[$cur]=$val ;;
    run) F_RUNS[$cur]+="$val"$'\n' ;;
    *) echo "mutants: $LIST: unknown key '$key'" >&2; exit 2 ;;
    esac
    [ -n "$cur" ] || { echo "mutants: $LIST: '$key' before any id" >&2; exit 2; }
done <"$LIST"
flush
if [ ${#ONLY[@]} -gt 0 ]; then
    for id in "${ONLY[@]}"; do
        [ -n "${F_FILE[$id]:-}" ] || { echo "mutants: no mutant '$id'" >&2; exit 2; }
    done
    IDS=("${ONLY[@]}")
fi

# ---- anchors: every one found exactly once in the current tree ----
# A literal \n in find or replace stands for a newline (multi-line anchors).
# count FILE FINDS -> 1 if each of the \x1f-separated anchors occurs exactly
# once, else 0; apply SRC DST FINDS REPLS writes SRC with each anchor
# replaced to DST. (perl: it comes with every Debian system.)
count() {
    perl -e 'local $/; open(F, "<", $ARGV[0]) or die "$ARGV[0]: $!\n"; my $t = <F>; my $ok = 1;
        for my $f (split /\x1f/, $ARGV[1]) { $f =~ s/\\n/\n/g; my $n = () = $t =~ /\Q$f\E/g; $ok = 0 if $n != 1 }
        print "$ok\n"' "$1" "$2"
}
apply() {
    perl -e 'local $/; open(F, "<", $ARGV[0]) or die "$ARGV[0]: $!\n"; my $t = <F>;
        my @f = split /\x1f/, $ARGV[2], -1; my @r = split /\x1f/, $ARGV[3], -1;
        die "find/replace pairs\n" unless @f == @r;
        for my $i (0 .. $#f) {
            my ($x, $y) = ($f[$i], $r[$i]); s/\\n/\n/g for ($x, $y);
            my $n = () = $t =~ /\Q$x\E/g; die "anchor not found once: $x\n" if $n != 1;
            substr($t, index($t, $x), length $x) = $y;
        }
        open(O, ">", $ARGV[1]) or die "$ARGV[1]: $!\n"; print O $t; close(O) or die' "$@"
}
stale=0
for id in "${IDS[@]}"; do
    f=$ROOT/${F_FILE[$id]}
    k=0
    [ -f "$f" ] && k=$(count "$f" "${F_FIND[$id]}")
    if [ "$k" != 1 ]; then
        echo "mutants: stale anchor: $id: '${F_FIND[$id]//$US/' / '}' not found exactly once in ${F_FILE[$id]}" >&2
        stale=1
    fi
done
[ $stale = 0 ] || exit 2

# What is being tested, recorded now (the tree may change while this runs).
START_COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD)
START_DIRTY=$(cd "$ROOT" && git diff --quiet HEAD -- bft sim faults tools tests || echo ' (with local changes)')
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')

# ---- the copy and its builds ----
COPY=$WORK/tree
BASE=$WORK/base # unmutated binaries, for replaying a failing seed
mkdir -p "$WORK"
rm -rf "$BASE" "$WORK/src"
mkdir -p "$COPY" "$BASE" "$WORK/src"
# Tracked and untracked (not ignored) files, as they are now. Only files
# that differ are copied over an earlier copy, so its build stays valid and
# a second run rebuilds only what changed; files gone from the tree go.
(cd "$ROOT" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$WORK/src"
(cd "$WORK/src" && find . -type f) | while IFS= read -r f; do
    # cp, not cp -p: the copy gets a new mtime, so make rebuilds it.
    cmp -s "$WORK/src/$f" "$COPY/$f" || { mkdir -p "$(dirname "$COPY/$f")" && cp "$WORK/src/$f" "$COPY/$f"; }
done
(cd "$COPY" && find . -path ./build -prune -o -type f -print) | while IFS= read -r f; do
    [ -e "$WORK/src/$f" ] || rm -f "$COPY/$f"
done
rm -rf "$WORK/src"
B=$COPY/build
targets() { # the binaries a mutant's run lines need
    local t="bftsim"
    while IFS= read -r r; do
        [ -n "$r" ] || continue
        set -- $r
        [ "$1" = bftsim ] || t="$t $1"
    done <<<"${F_RUNS[$1]}"
    echo "$t"
}
ALL_TARGETS=$(for id in "${IDS[@]}"; do targets "$id"; done | tr ' ' '\n' | sort -u | tr '\n' ' ')
echo "mutants: building the unmutated copy ($ALL_TARGETS) in $COPY"
cmake -S "$COPY" -B "$B" -DCMAKE_BUILD_TYPE=Release >"$WORK/cmake.log" 2>&1 || {
    echo "mutants: cmake failed, see $WORK/cmake.log" >&2
    exit 2
}
# shellcheck disable=SC2086
cmake --build "$B" -j "$JOBS" --target $ALL_TARGETS >"$WORK/build.log" 2>&1 || {
    echo "mutants: the unmutated copy does not build, see $WORK/build.log" >&2
    exit 2
}
for t in $ALL_TARGETS; do cp "$B/$t" "$BASE/$t"; done

# ---- classify a simulator failure by the invariant its reason names ----
# (sim/checker.c, sim/clients.c, sim/profile.c print these prefixes.)
classify() {
    case $1 in
    agreement:*) echo agreement ;;
    validity:*) echo validity ;;
    exactly-once:*) echo exactly-once ;;
    "order: "*) echo order ;;
    "orders: "* | "order_seq "*"accepted twice"* | client*"got order_seq"*) echo orders ;;
    "stale read"* | "read of uncommitted write"* | "read: "*) echo linearizable ;;
    liveness:* | restarts:*) echo liveness ;;
    *) echo other ;;
    esac
}
is_safety() {
    case $1 in
    agreement | validity | exactly-once | order | orders | linearizable) return 0 ;;
    *) return 1 ;;
    esac
}

# run_one BINDIR LINE LOG SECONDS [MODE] -> sets R_STATUS (pass|fail|timeout|
# crash), R_REASON, R_REPLAY (a command line on BINDIR that replays it).
# MODE "safety": a failure that names no safety invariant (liveness, a
# crash) is remembered and the seeds go on, in case a later one breaks a
# safety invariant; it is returned only if none does. MODE "any": the first
# failure is returned.
run_one() {
    local dir=$1 line=$2 log=$3 secs=$4 mode=${5:-any}
    set -- $line
    local prog=$1
    shift
    R_STATUS=""
    R_REASON=""
    R_REPLAY=""
    local soft_status="" soft_reason="" soft_replay=""
    if [ "$prog" = bftsim ]; then
        # Split --seeds A:B into chunks so the run stops near the first
        # failing seed.
        local args=() a=1 b=1 s e
        while [ $# -gt 0 ]; do
            if [ "$1" = --seeds ]; then a=${2%%:*}; b=${2##*:}; shift 2; else args+=("$1"); shift; fi
        done
        local t0=$SECONDS
        for ((s = a; s <= b; s += CHUNK)); do
            e=$((s + CHUNK - 1)); [ $e -le $b ] || e=$b
            local left=$((secs - (SECONDS - t0)))
            [ $left -gt 0 ] || break
            # In a child shell: a crash is reported in $log.err, not here.
            bash -c '"$@"; exit $?' _ timeout "$left" "$dir/bftsim" --seeds "$s:$e" "${args[@]}" \
                >"$log" 2>"$log.err"
            local rc=$?
            [ $rc != 124 ] || break
            local fl seed reason
            while IFS= read -r fl; do
                seed=${fl#FAIL seed=}
                seed=${seed%%:*}
                reason=${fl#*: }
                reason=${reason%; replay: *}
                if [ "$mode" = any ] || is_safety "$(classify "$reason")"; then
                    R_STATUS=fail
                    R_REASON=$reason
                    R_REPLAY="bftsim --seeds $seed:$seed ${args[*]}"
                    return
                fi
                if [ -z "$soft_status" ]; then
                    soft_status=fail
                    soft_reason=$reason
                    soft_replay="bftsim --seeds $seed:$seed ${args[*]}"
                fi
            done < <(grep '^FAIL seed=' "$log")
            if [ $rc -ge 128 ] && [ -z "$soft_status" ]; then
                soft_status=crash
                soft_reason="crashed (signal $((rc - 128))): $(grep -m1 -E 'Assertion|fault|error|Abort' "$log.err" | sed 's/^.*line [0-9]*: [0-9]* //' | cut -c1-200)"
                soft_replay="bftsim --seeds $s:$e ${args[*]}"
            fi
            if [ -n "$soft_status" ] && [ "$mode" = any ]; then break; fi
        done
        R_STATUS=${soft_status:-pass}
        R_REASON=$soft_reason
        R_REPLAY=$soft_replay
        if [ $R_STATUS = pass ] && [ $((SECONDS - t0)) -ge "$secs" ]; then R_STATUS=timeout; fi
        return
    fi
    # A cmocka simulation test binary: it fails with the checker's reason
    # ("invariant violated: <reason>") or its own message.
    timeout "$secs" "$dir/$prog" "$@" >"$log" 2>&1
    local rc=$?
    R_REPLAY="$prog $*"
    if [ $rc = 0 ]; then R_STATUS=pass; return; fi
    if [ $rc = 124 ]; then R_STATUS=timeout; return; fi
    R_STATUS=fail
    R_REASON=$(grep -m1 -oE '(agreement|validity|exactly-once|order|orders|liveness|restarts): .*|order_seq [0-9]+ accepted twice.*|client [0-9]+ order [0-9]+ got order_seq.*|stale read.*|read of uncommitted write.*|read: .*' "$log")
    if [ -z "$R_REASON" ]; then
        R_REASON="test failed: $(grep -m1 -A1 -E '^\[ +(ERROR|FAILED) +\]|Assertion|error:' "$log" | tr '\n' ' ' | cut -c1-200)"
        if [ $rc -ge 128 ]; then R_STATUS=crash; fi
    fi
}

# ---- the mutants ----
ROWS=()
bad=0
orig_of() { echo "$BASE/orig/$1"; }
for id in "${IDS[@]}"; do
    file=${F_FILE[$id]}
    kind=${F_KIND[$id]}
    mkdir -p "$(dirname "$(orig_of "$file")")"
    [ -f "$(orig_of "$file")" ] || cp "$COPY/$file" "$(orig_of "$file")"
    apply "$(orig_of "$file")" "$COPY/$file" "${F_FIND[$id]}" "${F_REPL[$id]}"
    tb=$SECONDS
    # shellcheck disable=SC2046
    if ! cmake --build "$B" -j "$JOBS" --target $(targets "$id") >"$WORK/$id.build.log" 2>&1; then
        echo "mutants: $id does not build, see $WORK/$id.build.log" >&2
        cp "$(orig_of "$file")" "$COPY/$file"
        exit 2
    fi
    build_s=$((SECONDS - tb))
    t0=$SECONDS
    t0r=$EPOCHREALTIME
    mode=any
    [ "$kind" = liveness ] || mode=safety
    got_status=""
    got_reason=""
    got_replay=""
    mapfile -t lines < <(printf '%s' "${F_RUNS[$id]}")
    budget=$BUDGET
    [ "$kind" != masked ] || budget=$MASKED_BUDGET
    for ((li = 0; li < ${#lines[@]}; li++)); do
        left=$((budget - (SECONDS - t0)))
        [ $left -gt 0 ] || break
        share=$((left / (${#lines[@]} - li))) # what is left, shared by the lines left
        [ $share -gt 0 ] || share=1
        run_one "$B" "${lines[$li]}" "$WORK/$id.log" "$share" "$mode"
        case $R_STATUS in
        fail | crash)
            # Keep the first catch; a later safety catch replaces a soft one.
            if [ -z "$got_status" ] || { [ "$R_STATUS" = fail ] && is_safety "$(classify "$R_REASON")"; }; then
                got_status=$R_STATUS
                got_reason=$R_REASON
                got_replay=$R_REPLAY
            fi
            if [ "$mode" = any ] || { [ "$R_STATUS" = fail ] && is_safety "$(classify "$R_REASON")"; }; then break; fi
            ;;
        esac
    done
    secs=$(awk -v a="$t0r" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    status=missed
    inv="-"
    if [ -n "$got_status" ]; then
        status=caught
        if [ "$got_status" = crash ]; then inv=crash; else inv=$(classify "$got_reason"); fi
        # The same run on the unmutated build must pass, or the catch is
        # not the mutant's doing.
        run_one "$BASE" "$got_replay" "$WORK/$id.base.log" "$BUDGET" any
        [ "$R_STATUS" = pass ] || status="base fails too"
    fi
    cp "$(orig_of "$file")" "$COPY/$file"
    ok=no
    if [ "$status" = caught ]; then
        if [ "$kind" = liveness ] || is_safety "$inv"; then ok=yes; fi
    fi
    [ "$kind" != masked ] || [ "$status" = "base fails too" ] || ok=yes
    [ $ok = yes ] || bad=1
    printf 'mutants: %-28s %-8s %-9s %-22s %6ss (build %ss)  %s\n' "$id" "$kind" "$status" \
        "$inv" "$secs" "$build_s" "${got_reason:0:160}"
    ROWS+=("| \`$id\` | $kind | ${F_RULE[$id]} | $status | $inv | $secs | \`${got_replay//|/\\|}\` | ${got_reason//|/\\|} |")
done

# ---- the report: between the markers in docs/mutants.md ----
{
    echo "<!-- mutants report begin (written by tools/mutants/run.sh) -->"
    echo "Run started $START_DATE, ended $(date -u '+%H:%M UTC'), on commit $START_COMMIT$START_DIRTY:"
    echo "\`tools/mutants/run.sh${ONLY[*]:+ ${ONLY[*]}}\` (budget ${BUDGET} s of simulation per mutant, ${MASKED_BUDGET} s for a masked one; $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg) at the end)."
    echo
    echo "| mutant | kind | rule it breaks | result | caught by | seconds | failing run | reason |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    n=${#ROWS[@]}
    ns=$(printf '%s\n' "${ROWS[@]}" | grep -c '| safety |')
    nss=$(printf '%s\n' "${ROWS[@]}" | grep '| safety |' | grep -cE '\| caught \| (agreement|validity|exactly-once|order|orders|linearizable) \|')
    echo "$n mutants; $ns safety mutants, $nss of them caught by a safety invariant."
    echo "<!-- mutants report end -->"
} >"$WORK/report.md"
if [ -f "$REPORT" ] && grep -q '<!-- mutants report begin' "$REPORT"; then
    perl -0pi -e 'BEGIN { local $/; open(R, "<", shift @ARGV) or die; $r = <R>; $r =~ s/\n+\z// }
        s/<!-- mutants report begin.*?<!-- mutants report end -->/$r/s' "$WORK/report.md" "$REPORT"
else
    cp "$WORK/report.md" "$REPORT"
fi
echo "mutants: report in $REPORT"
exit $bad
