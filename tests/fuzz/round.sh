#!/bin/sh
# round.sh: one round of `make fuzz`: each target named (built by the Makefile as
# build/fuzz/fuzz_NAME, clang's libFuzzer with ASan+UBSan) fuzzes for $FUZZ_SECONDS
# seconds, one target after the other, from a fresh copy of its corpus tests/fuzz/corpus/NAME
# in build/fuzz/corpus/NAME: what it adds lands there, never in tests/. Crashes, leaks,
# hangs (-timeout) and allocations no input of a few kilobytes needs (-malloc_limit_mb) are
# findings, written to build/fuzz/findings/NAME/. Prints per target the executions, the
# corpus (seeds, then files and bytes at the end) and the findings; exits 1 if any target
# found something. A finding becomes a regression test once fixed: copy it to
# tests/fuzz/corpus/NAME/regress-WHAT, which tests/fuzz.sh replays.
#   FUZZ_SECONDS=60 sh tests/fuzz/round.sh frame plan msgpack csv
cd "$(dirname "$0")/../.." || exit 2
secs=${FUZZ_SECONDS:-60}
B=build/fuzz
failed=0
for name in "$@"; do
    bin=$B/fuzz_$name
    seeds=tests/fuzz/corpus/$name
    corpus=$B/corpus/$name
    found=$B/findings/$name
    log=$B/$name.log
    if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
        echo "fuzz $name: $bin or $seeds is missing"
        failed=1
        continue
    fi
    case $name in
    msgpack) max_len=4096 ;; # every value is printed, compared and sorted: small inputs go faster
    csv) max_len=8192 ;;
    *) max_len=16384 ;;
    esac
    rm -rf "$corpus" "$found"
    mkdir -p "$corpus" "$found"
    cp "$seeds"/* "$corpus"/
    nseeds=$(ls "$seeds" | wc -l)
    # -timeout: a hang; -malloc_limit_mb: an allocation sized by what an input claims;
    # -rss_limit_mb: memory that grows with it. One process: the machine is shared.
    "$bin" "$corpus" -max_total_time="$secs" -timeout=10 -malloc_limit_mb=512 -rss_limit_mb=1536 \
        -max_len=$max_len -print_final_stats=1 -artifact_prefix="$found/" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    files=$(ls "$corpus" | wc -l)
    bytes=$(cat "$corpus"/* 2> /dev/null | wc -c)
    findings=$(ls "$found" | wc -l)
    printf 'fuzz %-8s %s s: %s executions, corpus %s seeds -> %s files, %s bytes; %s finding(s)\n' "$name" "$secs" \
        "${execs:-?}" "$nseeds" "$files" "$bytes" "$findings"
    if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ]; then
        failed=1
        for f in "$found"/*; do [ -e "$f" ] && echo "    finding: $f"; done
        echo "    (exit $rc) from $log:"
        grep -E 'ERROR|SUMMARY|check failed|runtime error|out-of-memory|malloc\(|timeout|^ *#[0-9] ' "$log" | head -n 20 |
            sed 's/^/    /'
        echo "    replay: $bin FILE; keep it, once fixed, as tests/fuzz/corpus/$name/regress-WHAT"
    fi
done
if [ $failed -ne 0 ]; then
    echo "make fuzz: findings (see above)"
    exit 1
fi
echo "make fuzz: no findings"
