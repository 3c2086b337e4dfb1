#!/bin/sh
# seeds.sh: remakes the seed corpora of the fuzz targets in tests/fuzz/corpus/NAME/: the
# seed-* files, from what the engine really makes (tests/fuzz/seeds.c), and the plans of
# the examples' flows (each example built with tests/fuzz/capture.h, which writes the plan
# of every flow it would run). The regress-* files (inputs that once crashed) stay.
# Run: sh tests/fuzz/seeds.sh   (then look at the change, and commit the corpus)
set -eu
cd "$(dirname "$0")/../.."
CC=${CC:-cc}
CFLAGS="-std=c11 -O1 -g -Wall -Wextra -Wpedantic -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L"
C=tests/fuzz/corpus
T=$(mktemp -d "${TMPDIR:-/tmp}/gleam-seeds.XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 130' HUP INT TERM

tools/amalgamate --lines "$T/gleam-lines.h"
printf '#define GLEAM_IMPLEMENTATION\n#include "gleam-lines.h"\n#include "gleam_net-lines.h"\n' > "$T/impl.c"
$CC $CFLAGS -DGLEAM__EXTERN -I"$T" -c -o "$T/impl.o" "$T/impl.c"
$CC $CFLAGS -Isrc -o "$T/seeds" tests/fuzz/seeds.c "$T/impl.o" -pthread -lm

for d in frame plan msgpack csv; do
    mkdir -p "$C/$d"
    rm -f "$C/$d"/seed-*
done
"$T/seeds" "$C"

# The examples' plans: NAME ARGS... (the files are named, never read).
D=examples/data
while read -r name args; do
    $CC -std=c11 -O0 -Wall -Wextra -Wpedantic -I. -include tests/fuzz/capture.h -o "$T/$name" "examples/$name.c" -pthread -lm
    # shellcheck disable=SC2086 # the arguments split on purpose
    GLEAM_FUZZ_PLAN="$C/plan/seed-example-$name" "$T/$name" $args > /dev/null
done << EOF
word_count $D/flow.txt
word_count_pipe $D/flow.txt
join_csv $D/orders.csv $D/people.csv
sort_lines $D/flow.txt
group_stats $D/users.txt
tfidf $D/flow.txt $D/users.txt
pi_estimation -points 1000
union $D/flow.txt
csv_outer_join $D/orders.csv $D/people.csv
top_lines -top 3 $D/flow.txt
EOF
for d in frame plan msgpack csv; do
    echo "$C/$d: $(ls "$C/$d" | grep -c '^seed-') seeds, $(cat "$C/$d"/* | wc -c) bytes"
done
