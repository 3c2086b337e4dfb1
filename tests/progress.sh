# progress.sh: the progress line. With stderr on a terminal (faked with script(1)), a job
# that runs over a second shows "gleam: N/M steps done, ..." redrawn in place, taken off
# before the job's own lines reach the same terminal, and cleared at the end;
# -gleam.quiet hides it; stderr that is not a terminal gets none unless -gleam.progress
# forces it, and then a last line with every step done.
set -u
cd "$(dirname "$0")/.." || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checks=0
failed=0
check() { # check NAME COMMAND...: the command must succeed
    name=$1
    shift
    checks=$((checks + 1))
    if ! "$@"; then
        echo "FAIL progress: $name"
        failed=$((failed + 1))
    fi
}
cat > "$tmp/slow.c" <<'PROG'
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include <stdio.h>
/* usage: slow FILE COMMAND [print]: FILE's lines through COMMAND, written nowhere (or to
   standard output) */
int main(int argc, char **argv) {
    gleam_flow *f;
    gleam_dataset *d;
    gleam_result r;
    if (gleam_init(&argc, &argv) != GLEAM_OK || argc < 3 || argc > 4) return 2;
    f = gleam_flow_new("slow");
    d = gleam_read(f, gleam_txt(argv[1], 2));
    d = gleam_pipe(d, "slow", argv[2]);
    if (argc == 4) gleam_printlnf(d, "%s");
    else gleam_write_tsv(d, "/dev/null");
    r = gleam_run(f);
    if (r != GLEAM_OK) fprintf(stderr, "slow: %s\n", gleam_error(f));
    gleam_flow_free(f);
    return r == GLEAM_OK ? 0 : 1;
}
PROG
cc -std=c11 -O1 -Wall -Wextra -Wpedantic -Werror -I. -o "$tmp/slow" "$tmp/slow.c" -pthread -lm || { echo "FAIL progress: cannot build the test program"; exit 1; }
seq 1 100000 > "$tmp/in.txt"
esc=$(printf '\033')
cr=$(printf '\r')

if command -v script > /dev/null 2>&1; then
    # stderr on a terminal, stdout not: the line appears after a second, is redrawn with
    # \r, and is cleared.
    script -qec "$tmp/slow $tmp/in.txt 'sleep 1.6; cat' > $tmp/stdout.txt" /dev/null > "$tmp/tty.out" 2>&1
    check "the job on a terminal succeeds" test $? -eq 0
    check "a progress line on a terminal" grep -q 'gleam: [0-9]*/3 steps done, .* rows and .* read (.*/s), [0-9.]* s' "$tmp/tty.out"
    check "the line is redrawn in place" grep -q "${cr}gleam: " "$tmp/tty.out"
    check "the line is cleared at the end" sh -c "tail -c 4 '$tmp/tty.out' | grep -q '${cr}${esc}\\[K'"
    script -qec "$tmp/slow -gleam.quiet $tmp/in.txt 'sleep 1.6; cat' > $tmp/stdout.txt" /dev/null > "$tmp/quiet.out" 2>&1
    check "-gleam.quiet: no progress on a terminal" sh -c "! grep -q 'steps done' '$tmp/quiet.out'"
    # The job's lines on the same terminal: each shows whole, the progress line taken off
    # before it (what a terminal shows of a line is what follows its last \r).
    script -qec "$tmp/slow $tmp/in.txt 'sleep 1.6; cat' print" /dev/null > "$tmp/both.out" 2>&1
    check "the job printing to the terminal succeeds" test $? -eq 0
    check "the progress line showed while it ran" grep -q 'steps done' "$tmp/both.out"
    # (the terminal turns each \n into \r\n: that last \r is dropped first)
    awk '{ sub(/\r$/, ""); n = split($0, part, "\r"); line = part[n]; gsub(/\033\[K/, "", line); if (line != "") print line }' "$tmp/both.out" > "$tmp/both.seen"
    check "every printed line whole, none run into the progress line" sh -c "sort -n '$tmp/both.seen' | cmp -s - '$tmp/in.txt'"
    script -qec "$tmp/slow $tmp/in.txt cat > $tmp/stdout.txt" /dev/null > "$tmp/fast.out" 2>&1
    check "a job under a second shows no line" sh -c "! grep -q 'steps done' '$tmp/fast.out'"
else
    echo "progress: script(1) is missing: the terminal checks are skipped"
fi

# Not a terminal: nothing by default.
"$tmp/slow" "$tmp/in.txt" 'sleep 1.2; cat' 2> "$tmp/plain.err"
check "the job with stderr in a file succeeds" test $? -eq 0
check "no progress when stderr is a file" sh -c "! grep -q 'steps done' '$tmp/plain.err'"
# Forced: whole lines, the last one with every step done.
"$tmp/slow" -gleam.progress "$tmp/in.txt" 'sleep 1.2; cat' 2> "$tmp/forced.err"
check "the forced job succeeds" test $? -eq 0
check "forced progress ends with all steps done" sh -c "tail -n 1 '$tmp/forced.err' | grep -q '^gleam: 3/3 steps done, 100.0 k rows and 575.1 KB read'"
check "forced progress on a file has no control characters" sh -c "! grep -q '[${cr}${esc}]' '$tmp/forced.err'"
"$tmp/slow" -gleam.progress=maybe "$tmp/in.txt" cat 2> /dev/null
check "a bad -gleam.progress value is an error" test $? -eq 2

if [ $failed -ne 0 ]; then
    echo "progress.sh: $failed of $checks checks failed"
    exit 1
fi
echo "progress.sh: $checks checks passed"
