#!/bin/sh
# pipe.sh: pipe steps end to end: build/word_count_pipe against coreutils (tr | sort | uniq -c)
# on the bundled text and on a generated one of several MB, with 1, 2 and 4 threads; an
# empty and a missing input; no command left running after the runs, nor after the job is
# killed; and back pressure: a command that does not read for a second, fed 200 MB, keeps
# the job's peak memory small. Prints one line per check and exits 1 if any failed.
# Run: sh tests/pipe.sh   (after make; called by tests/run)
set -u
cd "$(dirname "$0")/.." || exit 2
LC_ALL=C
export LC_ALL

BIN=build/word_count_pipe
if [ ! -x "$BIN" ]; then
    echo "FAIL  pipe.sh: $BIN is missing: run make first"
    exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/gleam-pipe.XXXXXX") || exit 2
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
AWK=mawk
command -v mawk > /dev/null 2>&1 || AWK="awk"
TO=
command -v timeout > /dev/null 2>&1 && TO="timeout -k 5 60"
D=examples/data
# Every job of this script runs with this variable in its environment, and so do the
# commands it starts: a process carrying it after the job has ended was left behind.
MARK="GLEAM_PIPE_SH_RUN=$$.$(date +%s)"
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
# run CMD...: with the marker; stdout to $T/out, stderr to $T/err, exit status in $rc
# (124: timed out).
run() {
    env "$MARK" $TO "$@" > "$T/out" 2> "$T/err"
    rc=$?
}
# reference FILE: word counts as coreutils make them, "count<TAB>word" by word (the empty
# word that tr makes of leading separators dropped).
reference() {
    tr -cs 'A-Za-z0-9' '\n' < "$1" | tr 'A-Z' 'a-z' | LC_ALL=C sort | uniq -c | $AWK 'NF==2{print $1"\t"$2}'
}
# golden NAME EXPECTED CMD...: CMD exits 0, with nothing on stderr, and prints EXPECTED
# byte for byte.
golden() {
    g_name=$1 g_exp=$2
    shift 2
    run "$@"
    if [ "$rc" -eq 124 ]; then
        fail "$g_name" "timed out after 60 s"
    elif [ "$rc" -ne 0 ]; then
        fail "$g_name" "exit status $rc, stderr:" "$(head -c 800 "$T/err")"
    elif [ -s "$T/err" ]; then
        fail "$g_name" "unexpected stderr:" "$(head -c 800 "$T/err")"
    elif cmp -s "$g_exp" "$T/out"; then
        pass "$g_name"
    else
        fail "$g_name" "output differs from the reference ($(wc -l < "$g_exp") lines expected, $(wc -l < "$T/out") printed):" \
            "$(diff "$g_exp" "$T/out" | head -n 12)"
    fi
}
# leftovers: the pids and names of live processes that carry the marker.
leftovers() {
    for l_env in /proc/[0-9]*/environ; do
        if grep -qF "$MARK" "$l_env" 2> /dev/null; then
            l_dir=${l_env%/environ}
            printf '%s %s\n' "${l_dir#/proc/}" "$(cat "$l_dir/comm" 2> /dev/null)"
        fi
    done
}
# no_leftovers NAME: within 5 seconds, no process carrying the marker is alive (the
# commands of a killed job may need a moment to see the end of their input).
no_leftovers() {
    if [ ! -r /proc/self/environ ]; then
        pass "$1 (skipped: no /proc to look for processes in)"
        return
    fi
    n_try=0
    while n_left=$(leftovers) && [ -n "$n_left" ] && [ "$n_try" -lt 25 ]; do
        n_try=$((n_try + 1))
        sleep 0.2
    done
    if [ -z "$n_left" ]; then
        pass "$1"
    else
        fail "$1" "still running:" "$n_left"
    fi
}

# ---- data -------------------------------------------------------------------------------
# a text of several MB: the README and the example data, doubled past 3 MB, with lines of
# uppercase words, digits, punctuation, bytes above 127, CRLF ends, and one line of 1 MB
cat README.md "$D/flow.txt" "$D/users.txt" "$D/orders.csv" "$D/people.csv" > "$T/chunk"
while [ "$(wc -c < "$T/chunk")" -lt 3000000 ]; do
    cat "$T/chunk" "$T/chunk" > "$T/chunk2"
    mv "$T/chunk2" "$T/chunk"
done
{
    cat "$T/chunk"
    $AWK 'BEGIN {
        for (i = 0; i < 20000; i++) {
            printf "THE Quick BROWN fox%d, jumps... over 42 lazy-DOGS; x%dY (caf\303\251 na\357ve) \"q\" a_b %d.%d!\r\n", i % 300, i % 17, i, i % 7
            if (i % 1000 == 0) print ""
            if (i % 777 == 0) print "   --- ,,, ;;; ---   "
        }
        for (i = 0; i < 90000; i++) printf "Word%d,LONG-%d  ", i % 1000, i % 7
        print ""
        printf "last line without a newline ENDS"
    }'
} > "$T/big.txt"
reference "$D/flow.txt" > "$T/flow.ref"
reference "$T/big.txt" > "$T/big.ref"
: > "$T/empty.txt"
reference "$T/empty.txt" > "$T/empty.ref"
big_mb=$(( $(wc -c < "$T/big.txt") / 1048576 ))

# ---- word counts against coreutils --------------------------------------------------------
for t in 1 2 4; do
    golden "word_count_pipe -gleam.threads=$t flow.txt" "$T/flow.ref" "$BIN" -gleam.threads=$t "$D/flow.txt"
    golden "word_count_pipe -gleam.threads=$t big.txt (${big_mb} MB, a 1 MB line)" "$T/big.ref" \
        "$BIN" -gleam.threads=$t "$T/big.txt"
done
# the same file twice: every count doubled
$AWK -F'\t' '{ print $1 * 2 "\t" $2 }' "$T/flow.ref" > "$T/flow2.ref"
golden "word_count_pipe -gleam.threads=2 flow.txt flow.txt" "$T/flow2.ref" "$BIN" -gleam.threads=2 "$D/flow.txt" "$D/flow.txt"

# ---- empty and missing input --------------------------------------------------------------
if [ -s "$T/empty.ref" ]; then
    fail "reference of an empty file is empty" "$(head -c 200 "$T/empty.ref")"
fi
for t in 1 4; do
    golden "word_count_pipe -gleam.threads=$t empty file: no output, status 0" "$T/empty.ref" "$BIN" -gleam.threads=$t "$T/empty.txt"
done
for t in 1 4; do
    name="word_count_pipe -gleam.threads=$t missing file: non-zero status, stderr names it"
    run "$BIN" -gleam.threads=$t "$T/no-such-file.txt"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qF "$T/no-such-file.txt" "$T/err" && [ ! -s "$T/out" ]; then
        pass "$name"
    else
        fail "$name" "exit status $rc, stdout $(wc -c < "$T/out") bytes, stderr:" "$(head -c 600 "$T/err")"
    fi
done

# ---- nothing left behind -------------------------------------------------------------------
no_leftovers "no tr, sort or uniq left running after the runs above"
# a job killed in the middle: its commands see the end of their input and end too
cat "$T/big.txt" "$T/big.txt" "$T/big.txt" "$T/big.txt" > "$T/big4.txt"
env "$MARK" "$BIN" -gleam.threads=2 "$T/big4.txt" > /dev/null 2> "$T/err" &
bgpid=$!
sleep 0.5
running=$(leftovers | grep -cv "^$bgpid ")
if kill -TERM "$bgpid" 2> /dev/null; then
    wait "$bgpid" 2> /dev/null
    bgpid=
    no_leftovers "no tr, sort or uniq left running after the job is killed with SIGTERM ($running running before)"
else
    wait "$bgpid" 2> /dev/null
    bgpid=
    pass "job killed with SIGTERM (skipped: it had already ended)"
fi

# ---- back pressure: a command that waits a second before reading, fed 200 MB -------------
cat > "$T/slow.c" << 'EOF'
/* slow: lines of a file through a command (argv[2]); prints the number of lines that come
   back and the sum of their leading numbers. */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include <stdio.h>

static gleam_result number(gleam_ctx *c, const gleam_value *row, int n) {
    int64_t v = 0;
    uint32_t i;
    (void)n;
    for (i = 0; i < row[0].len && row[0].u.s[i] >= '0' && row[0].u.s[i] <= '9'; i++) v = v * 10 + (row[0].u.s[i] - '0');
    return GLEAM_EMIT(c, gleam_int(1), gleam_int(v));
}

static gleam_result sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int i;
    (void)c;
    for (i = 0; i < n; i++) acc[i] = gleam_int(acc[i].u.i + x[i].u.i);
    return GLEAM_OK;
}

int main(int argc, char **argv) {
    gleam_flow *f;
    gleam_dataset *d;
    gleam_result r;
    gleam_register_mapper("number", number);
    gleam_register_reducer("sum", sum);
    if (gleam_init(&argc, &argv) != GLEAM_OK || argc != 3) {
        fprintf(stderr, "usage: slow FILE COMMAND (%s)\n", gleam_error(NULL));
        return 2;
    }
    f = gleam_flow_new("slow command");
    d = gleam_read(f, gleam_txt(argv[1], 0));
    d = gleam_pipe(d, "slow", argv[2]);
    d = gleam_map(d, "number");
    d = gleam_reduce(d, "sum");
    gleam_printlnf(d, "%d\t%d");
    r = gleam_run(f);
    if (r != GLEAM_OK) fprintf(stderr, "slow: %s\n", gleam_error(f));
    gleam_flow_free(f);
    return r == GLEAM_OK ? 0 : 1;
}
EOF
if ! cc -std=c11 -O2 -I. -o "$T/slow" "$T/slow.c" -pthread -lm 2> "$T/cc.err"; then
    fail "back pressure: build the test program" "$(head -c 800 "$T/cc.err")"
elif [ ! -x /usr/bin/time ]; then
    pass "back pressure (skipped: /usr/bin/time is missing; apt-get install time)"
else
    # 3.2 million numbered lines of 64 bytes: 205 MB
    $AWK 'BEGIN { for (i = 1; i <= 3200000; i++) printf "%08d the quick brown fox jumps over the lazy dog 0123456789 abcd\n", i }' > "$T/200mb.txt"
    lines=$(wc -l < "$T/200mb.txt")
    mb=$(( $(wc -c < "$T/200mb.txt") / 1048576 ))
    total=$($AWK '{ s += $1 } END { printf "%.0f", s }' "$T/200mb.txt")
    printf '%s\t%s\n' "$lines" "$total" > "$T/slow.ref"
    name="back pressure: 'sleep 1; cat' fed $mb MB"
    env "$MARK" $TO /usr/bin/time -f %M -o "$T/rss" "$T/slow" -gleam.threads=2 "$T/200mb.txt" 'sleep 1; cat' > "$T/out" 2> "$T/err"
    rc=$?
    rss=$(tail -n 1 "$T/rss" 2> /dev/null)
    if [ "$rc" -ne 0 ]; then
        fail "$name: status 0" "exit status $rc, stderr:" "$(head -c 800 "$T/err")"
    elif cmp -s "$T/slow.ref" "$T/out"; then
        pass "$name: every line back once ($lines lines)"
    else
        fail "$name: every line back once" "expected (lines, sum of numbers): $(cat "$T/slow.ref")" "got: $(head -c 200 "$T/out")"
    fi
    case $rss in
    '' | *[!0-9]*) fail "$name: peak RSS below 64 MB" "no figure from /usr/bin/time: $(head -c 200 "$T/rss")" ;;
    *)
        if [ "$rss" -lt 65536 ]; then
            pass "$name: peak RSS $((rss / 1024)) MB, below 64 MB"
        else
            fail "$name: peak RSS below 64 MB" "peak RSS $((rss / 1024)) MB"
        fi
        ;;
    esac
    rm -f "$T/200mb.txt"
    no_leftovers "no command left running after the back-pressure job"
fi

if [ "$failed" -ne 0 ]; then
    echo "pipe.sh: $failed of $checks checks failed"
    exit 1
fi
echo "pipe.sh: all $checks checks passed"
exit 0
