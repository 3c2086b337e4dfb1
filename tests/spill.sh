#!/bin/sh
# spill.sh: the examples with a small -gleam.memory, so that sorts spill to files in
# -gleam.tmpdir: the output must equal coreutils' (LC_ALL=C sort; tr | sort | uniq -c), the
# tmpdir must be empty after success, after an error and after SIGINT, and a tmpdir where
# no file can be made must give an error naming it. Data: tools/gen.c, as in golden.sh.
# Prints one line per check and exits 1 if any failed.
# Run: sh tests/spill.sh   (after make; called by tests/run)
cd "$(dirname "$0")/.." || exit 2
LC_ALL=C
export LC_ALL

GEN_SRC=tools/gen.c
if [ ! -f "$GEN_SRC" ]; then
    echo "FAIL  spill.sh: $GEN_SRC is missing"
    exit 1
fi
for e in sort_lines word_count; do
    if [ ! -x "build/$e" ]; then
        echo "FAIL  spill.sh: build/$e is missing: run make first"
        exit 1
    fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/gleam-spill.XXXXXX") || exit 2
bgpid=
cleanup() {
    if [ -n "$bgpid" ]; then
        kill -KILL "$bgpid" 2> /dev/null
        wait "$bgpid" 2> /dev/null
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' HUP INT TERM
# the spill directory given to the engine, and its resolved name (as /proc shows it)
S=$T/spill
mkdir "$S" || exit 2
S_REAL=$(cd "$S" && pwd -P)

if ! cc -O2 -o "$T/gen" "$GEN_SRC" -lm 2> "$T/cc.err"; then
    echo "FAIL  spill.sh: cannot build $GEN_SRC:"
    sed 's/^/      /' "$T/cc.err" | head -n 20
    exit 1
fi
# An asynchronous command of a non-interactive shell ignores SIGINT: this runs a program
# with SIGINT back to its default action.
cat > "$T/sigdfl.c" << 'EOF'
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    (void)argc;
    signal(SIGINT, SIG_DFL);
    execv(argv[1], argv + 1);
    perror(argv[1]);
    return 127;
}
EOF
if ! cc -O2 -o "$T/sigdfl" "$T/sigdfl.c" 2> "$T/cc.err"; then
    echo "FAIL  spill.sh: cannot build the SIGINT helper:"
    sed 's/^/      /' "$T/cc.err" | head -n 20
    exit 1
fi
GEN=$T/gen
AWK=mawk
command -v mawk > /dev/null 2>&1 || AWK="awk"
TO=
command -v timeout > /dev/null 2>&1 && TO="timeout -k 5 120"
tab=$(printf '\t')
failed=0
checks=0

# ---- reporting ------------------------------------------------------------------------
pass() {
    checks=$((checks + 1))
    echo "ok    $1"
}
fail() { # fail NAME [DETAIL...]
    checks=$((checks + 1))
    failed=$((failed + 1))
    echo "FAIL  $1"
    shift
    for fail_l in "$@"; do printf '%s\n' "$fail_l" | head -n 12 | sed 's/^/      /'; done
}
# run CMD...: stdout to $T/out, stderr to $T/err, exit status in $rc (124: timed out).
run() {
    $TO "$@" > "$T/out" 2> "$T/err"
    rc=$?
}
# spill_empty NAME: the spill directory holds nothing.
spill_empty() {
    if [ -z "$(ls -A "$S")" ]; then
        pass "$1: tmpdir empty afterwards"
    else
        fail "$1: tmpdir empty afterwards" "$(ls -lA "$S" | head -n 5)"
        rm -rf "$S" && mkdir "$S" # the next checks start clean
    fi
}
# golden NAME MODE EXPECTED CMD...: CMD must exit 0 with an empty stderr and print EXPECTED
# byte for byte (MODE exact) or as the same multiset of lines (MODE sorted: EXPECTED is
# sorted); then the spill directory must be empty.
golden() {
    g_name=$1 g_mode=$2 g_exp=$3
    shift 3
    run "$@"
    if [ "$rc" -eq 124 ]; then
        fail "$g_name" "timed out after 120 s"
    elif [ "$rc" -ne 0 ]; then
        fail "$g_name" "exit status $rc, stderr:" "$(head -c 800 "$T/err")"
    elif [ -s "$T/err" ]; then
        fail "$g_name" "unexpected stderr:" "$(head -c 800 "$T/err")"
    else
        g_act=$T/out
        if [ "$g_mode" = sorted ]; then
            sort "$T/out" > "$T/out.sorted"
            g_act=$T/out.sorted
        fi
        if cmp -s "$g_exp" "$g_act"; then
            pass "$g_name"
        else
            fail "$g_name" "output differs from the reference ($(wc -l < "$g_exp") vs $(wc -l < "$g_act") lines; < reference, > actual):" \
                "$(cmp "$g_exp" "$g_act" 2>&1 | head -n 1)" "$(diff "$g_exp" "$g_act" | head -n 10 | cut -c 1-200)"
        fi
    fi
    spill_empty "$g_name"
}
# spill_fds PID: how many descriptors of PID are open on files in the spill directory
# (unlinked "name (deleted)" files, or O_TMPFILE "#inode" ones); empty without /proc.
spill_fds() {
    [ -d "/proc/$1/fd" ] || return 0
    ls -l "/proc/$1/fd" 2> /dev/null | grep -c -F -- "$S_REAL/"
}

# ---- data -----------------------------------------------------------------------------
"$GEN" text 60000000 7 > "$T/text.txt"
# the same with long lines (a few of 300 KB), empty lines and lines sharing long prefixes
{
    "$GEN" text 8000000 9
    $AWK 'BEGIN { s = "p"; for (i = 0; i < 15; i++) s = s s; for (i = 0; i < 40; i++) print s s s s s s s s s i
        for (i = 0; i < 20000; i++) { print ""; print "common-prefix-of-the-lines-" (i * 7919) % 20011 } }'
} > "$T/mixed.txt"
cat "$T/text.txt" "$T/text.txt" "$T/text.txt" "$T/text.txt" > "$T/big.txt"

# ---- sort_lines within 4 MB -------------------------------------------------------------
sort "$T/text.txt" > "$T/text.ref"
sort "$T/mixed.txt" > "$T/mixed.ref"
for t in 1 2 3; do
    golden "sort_lines -gleam.threads=$t -gleam.memory=4 text.txt (60 MB)" exact "$T/text.ref" \
        build/sort_lines -gleam.threads=$t -gleam.memory=4 -gleam.tmpdir="$S" "$T/text.txt"
    golden "sort_lines -gleam.threads=$t -gleam.memory=1 mixed.txt (12 MB, lines of 300 KB)" exact "$T/mixed.ref" \
        build/sort_lines -gleam.threads=$t -gleam.memory=1 -gleam.tmpdir="$S" "$T/mixed.txt"
done
# the flag forms, and the tmpdir taken from $TMPDIR
golden "sort_lines --gleam.memory 4 --gleam.tmpdir DIR (flag form)" exact "$T/text.ref" \
    build/sort_lines --gleam.threads=2 --gleam.memory 4 --gleam.tmpdir "$S" "$T/text.txt"
golden "sort_lines -gleam.memory=4 with TMPDIR=DIR" exact "$T/text.ref" \
    env TMPDIR="$S" build/sort_lines -gleam.threads=2 -gleam.memory=4 "$T/text.txt"

# ---- more runs on disk than descriptors: runs are merged as they pile up --------------------
# 240 MB in runs of about 1 MB: some 240 runs; with 100 descriptors the sort only finishes
# if it merges runs on disk before the end.
sort "$T/big.txt" > "$T/big.ref"
golden "sort_lines -gleam.memory=1 big.txt (240 MB) with ulimit -n 100" exact "$T/big.ref" \
    sh -c 'ulimit -n 100 && exec "$@"' sh build/sort_lines -gleam.threads=2 -gleam.memory=1 -gleam.tmpdir="$S" "$T/big.txt"
rm -f "$T/big.ref"

# ---- SIGINT while spilling ----------------------------------------------------------------
name="sort_lines -gleam.memory=4 big.txt (240 MB), SIGINT while spilling"
"$T/sigdfl" build/sort_lines -gleam.threads=2 -gleam.memory=4 -gleam.tmpdir="$S" "$T/big.txt" > /dev/null 2> "$T/err" &
bgpid=$!
sleep 0.3 2> /dev/null || sleep 1
seen=0 tries=0
# wait for a spill file (at most 5 s more) while it runs
while kill -0 "$bgpid" 2> /dev/null && [ "$tries" -lt 100 ]; do
    seen=$(spill_fds "$bgpid")
    [ -n "$seen" ] && [ "$seen" -gt 0 ] && break
    [ -z "$seen" ] && break # no /proc: cannot look
    sleep 0.05 2> /dev/null || sleep 1
    tries=$((tries + 1))
done
if kill -INT "$bgpid" 2> /dev/null; then
    wait "$bgpid"
    rc=$?
    bgpid=
    if [ -z "$seen" ]; then
        echo "info  $name: no /proc/PID/fd here: the spill files open were not checked"
    elif [ "$seen" -gt 0 ]; then
        pass "$name: $seen spill file(s) open in the tmpdir when interrupted"
    else
        fail "$name: a spill file open in the tmpdir before the interrupt" "none seen in $S_REAL after $((300 + tries * 50)) ms"
    fi
    if [ "$rc" -eq 130 ]; then
        pass "$name: killed by SIGINT (status 130)"
    elif [ "$rc" -eq 0 ]; then
        echo "info  $name: it finished before SIGINT arrived (status 0): nothing to check"
    else
        fail "$name: killed by SIGINT (status 130)" "exit status $rc, stderr:" "$(head -c 800 "$T/err")"
    fi
else
    wait "$bgpid"
    rc=$?
    bgpid=
    echo "info  $name: it finished (status $rc) before SIGINT could be sent: nothing to interrupt"
fi
spill_empty "$name"

# ---- a tmpdir where no file can be made ---------------------------------------------------
for t in 1 3; do
    name="sort_lines -gleam.threads=$t -gleam.memory=1 -gleam.tmpdir=/nonexistent/dir"
    run build/sort_lines -gleam.threads=$t -gleam.memory=1 -gleam.tmpdir=/nonexistent/dir "$T/mixed.txt"
    why=
    [ "$rc" -eq 124 ] && why="$why timed out;"
    [ "$rc" -ne 0 ] || why="$why exit status 0;"
    grep -qF "a spill file in /nonexistent/dir: " "$T/err" || why="$why stderr lacks \"a spill file in /nonexistent/dir: \";"
    grep -qF "No such file or directory" "$T/err" || why="$why stderr lacks \"No such file or directory\";"
    grep -qF "step 2 sort, shard " "$T/err" || why="$why stderr lacks \"step 2 sort, shard \";"
    if [ -z "$why" ]; then
        pass "$name"
    else
        fail "$name" "${why# } (exit $rc)" "stderr: $(head -c 600 "$T/err")"
    fi
done

# ---- a failure after spilling: the output cannot be written -------------------------------
if [ -w /dev/full ]; then
    name="sort_lines -gleam.memory=4 text.txt > /dev/full"
    $TO build/sort_lines -gleam.threads=2 -gleam.memory=4 -gleam.tmpdir="$S" "$T/text.txt" > /dev/full 2> "$T/err"
    rc=$?
    if [ "$rc" -eq 1 ] && grep -qF "No space left on device" "$T/err"; then
        pass "$name: status 1, \"No space left on device\""
    else
        fail "$name: status 1, \"No space left on device\"" "exit status $rc, stderr:" "$(head -c 600 "$T/err")"
    fi
    spill_empty "$name"
fi

# ---- word_count within 2 MB -----------------------------------------------------------------
"$GEN" text 20000000 11 > "$T/words.txt"
tr -cs 'A-Za-z0-9' '\n' < "$T/words.txt" | grep -v '^$' | sort | uniq -c | $AWK '{ print $2 "\t" $1 }' | sort > "$T/wc.ref"
sort -t"$tab" -k2,2nr -k1,1 "$T/wc.ref" | head -n 25 > "$T/top25.ref"
golden "word_count words.txt (20 MB)" sorted "$T/wc.ref" build/word_count -gleam.threads=2 -gleam.tmpdir="$S" "$T/words.txt"
for t in 1 3; do
    golden "word_count -gleam.threads=$t -gleam.memory=2 words.txt (20 MB)" sorted "$T/wc.ref" \
        build/word_count -gleam.threads=$t -gleam.memory=2 -gleam.tmpdir="$S" "$T/words.txt"
    golden "word_count -gleam.threads=$t -gleam.memory=2 -top 25 words.txt" exact "$T/top25.ref" \
        build/word_count -gleam.threads=$t -gleam.memory=2 -gleam.tmpdir="$S" -top 25 "$T/words.txt"
done

if [ "$failed" -ne 0 ]; then
    echo "spill.sh: $failed of $checks checks failed"
    exit 1
fi
echo "spill.sh: all $checks checks passed"
exit 0
