#!/bin/sh
# fuzz.sh: the fuzz targets' corpora as regression tests, without libFuzzer: each harness
# of tests/fuzz/ (fuzz_NAME.c) is built with gcc under ASan+UBSan and linked with the
# replay driver (tests/fuzz/replay.c), then every file of its corpus tests/fuzz/corpus/NAME
# (the seeds, and the regress-* inputs that once crashed) is run through it. `make fuzz`
# does the fuzzing itself, with clang.
# Run: sh tests/fuzz.sh   (called by tests/run)
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
lib_init fuzz

FCC=${FUZZ_REPLAY_CC:-gcc}
FLAGS="-std=c11 -O1 -g -Wall -Wextra -Wpedantic -Werror -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L
       -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
command -v "$FCC" > /dev/null 2>&1 || lib_die "$FCC is not installed"
# An allocation no input of the corpus needs (one sized by what the bytes claim) is a crash.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}max_allocation_size_mb=512"
export ASAN_OPTIONS

# The implementation once, from the amalgamation with #line markers (reports name src/).
tools/amalgamate --lines "$T/gleam-lines.h" || lib_die "cannot amalgamate src/"
printf '#define GLEAM_IMPLEMENTATION\n#include "gleam-lines.h"\n#include "gleam_net-lines.h"\n' > "$T/impl.c"
# shellcheck disable=SC2086 # FLAGS splits on purpose
if $FCC $FLAGS -DGLEAM__EXTERN -I"$T" -c -o "$T/impl.o" "$T/impl.c" > "$T/impl.log" 2>&1; then
    lib_pass "the implementation builds under ASan+UBSan with $FCC"
else
    lib_fail "the implementation builds under ASan+UBSan with $FCC" "$T/impl.log"
    lib_done
fi

for t in frame plan msgpack csv; do
    bin=$T/fuzz_$t
    # shellcheck disable=SC2086
    if ! $FCC $FLAGS -Isrc -o "$bin" "tests/fuzz/fuzz_$t.c" tests/fuzz/replay.c "$T/impl.o" -pthread -lm > "$T/$t.build" 2>&1; then
        lib_fail "fuzz_$t builds with the replay driver" "$T/$t.build"
        continue
    fi
    n=$(ls tests/fuzz/corpus/$t | wc -l)
    r=$(ls tests/fuzz/corpus/$t | grep -c '^regress-')
    if $TO "$bin" -v "tests/fuzz/corpus/$t" > "$T/$t.log" 2>&1; then
        lib_pass "fuzz_$t: its corpus runs clean ($n inputs, $r of them regress-*)"
    else
        # the input at fault, and the report
        { grep '^replay ' "$T/$t.log" | tail -n 1
          grep -v '^replay ' "$T/$t.log"; } > "$T/$t.why"
        lib_fail "fuzz_$t: an input of tests/fuzz/corpus/$t crashes it" "$T/$t.why"
    fi
done
lib_done
