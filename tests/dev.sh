#!/bin/sh
# dev.sh: every example three ways on the same data: built from gleam.h (build/), built
# from src/ as separate translation units (build/dev/, make dev), and from gleam.h run
# with -gleam.roundtrip (its plan encoded, decoded and run from the bytes). The three
# must print the same lines: exactly, where the output is ordered.
# Run: sh tests/dev.sh   (after make and make dev; called by tests/run)
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
lib_init dev.sh

EXAMPLES="word_count word_count_pipe join_csv sort_lines group_stats tfidf pi_estimation union csv_outer_join top_lines"
for e in $EXAMPLES; do
    [ -x "build/$e" ] && [ -x "build/dev/$e" ] || lib_die "build/$e or build/dev/$e is missing: run make and make dev first"
done
[ -x build/gen ] || lib_die "build/gen is missing: run make first"
D=examples/data
build/gen text 300000 7 2000 > "$T/text.txt"
build/gen kv 20000 500 3 1.0 > "$T/kv.tsv"
build/gen records 3000 5 > "$T/records.txt"
build/gen text 40000 1 500 > "$T/d1.txt"
build/gen text 40000 2 500 > "$T/d2.txt"
build/gen csv-a 20000 3000 1 > "$T/a.csv"
build/gen csv-b 5000 3000 2 > "$T/b.csv"

# three NAME ORDERED ARGS...: the example's three builds give the same output.
three() {
    name=$1 ordered=$2
    shift 2
    if ! $TO "build/$name" -gleam.threads=3 "$@" > "$T/a" 2> "$T/a.err"; then lib_fail "$name $*: failed" "$T/a.err"; return; fi
    if ! $TO "build/dev/$name" -gleam.threads=3 "$@" > "$T/b" 2> "$T/b.err"; then lib_fail "$name (dev) $*: failed" "$T/b.err"; return; fi
    if ! $TO "build/$name" -gleam.threads=3 -gleam.roundtrip "$@" > "$T/c" 2> "$T/c.err"; then
        lib_fail "$name -gleam.roundtrip $*: failed" "$T/c.err"
        return
    fi
    if [ "$ordered" = ordered ]; then
        cmp -s "$T/a" "$T/b" && cmp -s "$T/a" "$T/c"
    else
        sort "$T/a" > "$T/as" && sort "$T/b" > "$T/bs" && sort "$T/c" > "$T/cs" && cmp -s "$T/as" "$T/bs" && cmp -s "$T/as" "$T/cs"
    fi
    if [ $? -eq 0 ] && [ -s "$T/a" ]; then lib_pass "$name: the same $(wc -l < "$T/a") lines from gleam.h, from src/ and from the plan's bytes"
    else
        diff "$T/a" "$T/b" > "$T/d" 2>&1
        diff "$T/a" "$T/c" >> "$T/d" 2>&1
        lib_fail "$name $*: the outputs differ (or are empty)" "$T/d"
    fi
}

three word_count ordered -top 20 "$T/text.txt" $D/flow.txt
three word_count_pipe ordered "$T/text.txt"
three join_csv unordered "$T/a.csv" "$T/b.csv"
three sort_lines ordered "$T/records.txt"
three group_stats unordered "$T/kv.tsv"
three tfidf unordered "$T/d1.txt" "$T/d2.txt" $D/flow.txt
three pi_estimation ordered -points 200000
three union ordered "$T/text.txt"
three csv_outer_join ordered $D/people.csv $D/orders.csv
three top_lines ordered -top 15 "$T/text.txt" $D/flow.txt
lib_done
