#!/bin/sh
# golden.sh: golden tests of the example programs (build/*) against coreutils and awk on
# data made by tools/gen.c, plus their behaviour on bad input. Every reference
# is computed by other tools, never captured from the engine. Prints one line per check
# ("ok ..." or "FAIL ..." with a diff excerpt) and exits 1 if any check failed.
# Run: sh tests/golden.sh   (after make; called by tests/run)
cd "$(dirname "$0")/.." || exit 2
LC_ALL=C
export LC_ALL

GEN_SRC=tools/gen.c
EXAMPLES="word_count join_csv sort_lines group_stats tfidf pi_estimation union csv_outer_join top_lines"
if [ ! -f "$GEN_SRC" ]; then
    echo "FAIL  golden.sh: $GEN_SRC is missing"
    exit 1
fi
for e in $EXAMPLES; do
    if [ ! -x "build/$e" ]; then
        echo "FAIL  golden.sh: build/$e is missing: run make first"
        exit 1
    fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/gleam-golden.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
trap 'exit 130' HUP INT TERM
if ! cc -O2 -o "$T/gen" "$GEN_SRC" -lm 2> "$T/cc.err"; then
    echo "FAIL  golden.sh: cannot build $GEN_SRC:"
    sed 's/^/      /' "$T/cc.err" | head -n 20
    exit 1
fi
GEN=$T/gen
AWK=mawk
command -v mawk > /dev/null 2>&1 || AWK="awk"
TO=
command -v timeout > /dev/null 2>&1 && TO="timeout -k 5 60"
tab=$(printf '\t')
D=examples/data
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
# golden NAME MODE EXPECTED CMD...: CMD must exit 0 with an empty stderr and print EXPECTED
# byte for byte (MODE exact) or as the same multiset of lines (MODE sorted: EXPECTED is
# sorted).
golden() {
    g_name=$1 g_mode=$2 g_exp=$3
    shift 3
    run "$@"
    if [ "$rc" -eq 124 ]; then
        fail "$g_name" "timed out after 60 s"
        return
    fi
    if [ "$rc" -ne 0 ]; then
        fail "$g_name" "exit status $rc, stderr:" "$(head -c 800 "$T/err")"
        return
    fi
    if [ -s "$T/err" ]; then
        fail "$g_name" "unexpected stderr:" "$(head -c 800 "$T/err")"
        return
    fi
    g_act=$T/out
    if [ "$g_mode" = sorted ]; then
        sort "$T/out" > "$T/out.sorted"
        g_act=$T/out.sorted
    fi
    if cmp -s "$g_exp" "$g_act"; then
        pass "$g_name"
    else
        fail "$g_name" "output differs from the reference ($(wc -l < "$g_exp") vs $(wc -l < "$g_act") lines; < reference, > actual):" \
            "$(diff "$g_exp" "$g_act" | head -n 10)"
    fi
}
# expect_error NAME STATUS OUTCHECK NEEDLE... -- CMD...: CMD must exit with STATUS, its
# stderr must contain every NEEDLE (fixed strings), and its stdout must be empty
# (OUTCHECK "empty") or hold only complete lines matching the ERE OUTCHECK.
expect_error() {
    e_name=$1 e_status=$2 e_out=$3
    shift 3
    e_needles=
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        e_needles="$e_needles$1
"
        shift
    done
    shift
    run "$@"
    e_why=
    [ "$rc" -eq 124 ] && e_why="$e_why timed out;"
    [ "$rc" -eq "$e_status" ] || e_why="$e_why exit status $rc, want $e_status;"
    e_save=$IFS
    IFS='
'
    for e_n in $e_needles; do
        grep -qF -- "$e_n" "$T/err" || e_why="$e_why stderr lacks \"$e_n\";"
    done
    IFS=$e_save
    if [ "$e_out" = empty ]; then
        [ -s "$T/out" ] && e_why="$e_why stdout not empty ($(wc -c < "$T/out") bytes);"
    elif [ -s "$T/out" ]; then
        [ "$(tail -c 1 "$T/out" | od -An -c | tr -d ' ')" = '\n' ] || e_why="$e_why stdout ends with a partial line;"
        e_bad=$(grep -cvE -- "$e_out" "$T/out")
        [ "$e_bad" -eq 0 ] || e_why="$e_why $e_bad malformed stdout line(s): $(grep -vE -- "$e_out" "$T/out" | head -n 1);"
    fi
    if [ -z "$e_why" ]; then
        pass "$e_name"
    else
        fail "$e_name" "${e_why# }" "stderr: $(head -c 600 "$T/err")"
    fi
}

# ---- data -----------------------------------------------------------------------------
"$GEN" text 4000000 7 > "$T/text.txt"
"$GEN" text 1000000 8 20000 > "$T/text2.txt"
"$GEN" records 40000 3 > "$T/records.txt"
# words between UTF-8, tabs, CR, punctuation and empty lines; no final newline
printf 'caf\303\251 na\303\257ve\tTAB\ttab  x\r\n\n\n--a--b--  42abc abc42 ABC\n\303\251\303\251\303\251\n[x]{y}(z) a_b a-b a.b\nLast words here' > "$T/mixed.txt"
: > "$T/empty.txt"
# duplicate and empty lines
$AWK 'NR <= 6000 { print; if (NR % 3 == 0) print; if (NR % 7 == 0) print "" }' "$T/text2.txt" > "$T/dups.txt"
head -c 150001 "$T/text2.txt" > "$T/nofinal.txt"
[ "$(tail -c 1 "$T/nofinal.txt")" = "" ] && printf 'z' >> "$T/nofinal.txt"
head -n 8000 "$T/text2.txt" | sed 's/$/\r/' > "$T/crlf.txt"
# high bytes, prefixes of each other, and a few lines of 256 KiB
{
    $AWK 'BEGIN { for (i = 0; i < 300; i++) { s = ""; for (j = 0; j < (i * 7) % 50 + 1; j++) s = s sprintf("%c", 32 + (i * j * 31) % 224); print s } }'
    printf 'ab\nabc\nab\n\n\303\251t\303\251\nzz\n'
    $AWK 'BEGIN { s = "L"; for (i = 0; i < 18; i++) s = s s; print s "b"; print s "a"; print s }'
} > "$T/edge.txt"
"$GEN" csv-a 60000 40000 1 > "$T/a.csv"
"$GEN" csv-b 60000 40000 2 > "$T/b.csv"
# the same A with a2 quoted and holding a newline, a comma and a doubled quote
$AWK -F, 'BEGIN { OFS = "," } { $2 = "\"x\n" $2 ",y\"\"z\""; print }' "$T/a.csv" > "$T/aq.csv"
"$GEN" kv 300000 5000 4 1.2 > "$T/kv-skew.tsv"
"$GEN" kv 300000 5000 5 0 > "$T/kv-uniform.tsv"
# passwd-style lines, some with too few fields
$AWK 'BEGIN { for (i = 1; i <= 20000; i++) {
        if (i % 97 == 0) { print "short" i ":x"; continue }
        if (i % 89 == 0) { print "three" i ":x:" i; continue }
        printf "u%d:x:%d:%d:User %d:/home/u%d:/bin/sh\n", (i * 7919) % 100003, (i * 31337) % 65536, i % 100, i, i } }' > "$T/passwd.txt"
# outer join inputs: A with a header line, B keyed on field 1
{ echo "id,name,city,x,y"; "$GEN" csv-a 20000 30000 31; } > "$T/oa.csv"
"$GEN" csv-a 20000 30000 32 > "$T/ob.csv"

THREADS="1 2 5"

# ---- word_count -------------------------------------------------------------------------
words() { # the words of the files, one a line
    for w_f in "$@"; do tr -cs 'A-Za-z0-9' '\n' < "$w_f"; echo; done | grep -v '^$'
}
wc_ref() { words "$@" | sort | uniq -c | $AWK '{ print $2 "\t" $1 }' | sort; }
wc_ref "$T/text.txt" > "$T/wc.ref"
wc_ref "$T/mixed.txt" > "$T/wc-mixed.ref"
wc_ref "$T/text.txt" "$T/text2.txt" "$T/mixed.txt" "$T/empty.txt" "$T/crlf.txt" > "$T/wc-multi.ref"
wc_ref "$T/text2.txt" > "$T/wc2.ref"
for t in $THREADS; do
    golden "word_count -gleam.threads=$t text.txt" sorted "$T/wc.ref" build/word_count -gleam.threads=$t "$T/text.txt"
    golden "word_count -gleam.threads=$t text.txt text2.txt mixed.txt empty.txt crlf.txt" sorted "$T/wc-multi.ref" \
        build/word_count -gleam.threads=$t "$T/text.txt" "$T/text2.txt" "$T/mixed.txt" "$T/empty.txt" "$T/crlf.txt"
done
golden "word_count mixed.txt (UTF-8, tabs, CRLF, no final newline)" sorted "$T/wc-mixed.ref" build/word_count "$T/mixed.txt"
: > "$T/nothing"
golden "word_count empty.txt" exact "$T/nothing" build/word_count "$T/empty.txt"
golden "word_count --gleam.threads=2 (flag form)" sorted "$T/wc2.ref" build/word_count --gleam.threads=2 "$T/text2.txt"
golden "word_count -gleam.threads 2 (flag form)" sorted "$T/wc2.ref" build/word_count -gleam.threads 2 "$T/text2.txt"
top_ref() { sort -t"$tab" -k2,2nr -k1,1 "$1" | head -n "$2"; }
top_ref "$T/wc.ref" 25 > "$T/top25.ref"
top_ref "$T/wc2.ref" 3000 > "$T/top3000.ref"
top_ref "$T/wc2.ref" 1000000 > "$T/topall.ref"
for t in $THREADS; do
    golden "word_count -gleam.threads=$t -top 25 text.txt" exact "$T/top25.ref" build/word_count -gleam.threads=$t -top 25 "$T/text.txt"
    golden "word_count -gleam.threads=$t -top 3000 text2.txt (ties)" exact "$T/top3000.ref" build/word_count -gleam.threads=$t -top 3000 "$T/text2.txt"
done
golden "word_count -top=1000000 text2.txt (more than distinct)" exact "$T/topall.ref" build/word_count -gleam.threads=2 -top=1000000 "$T/text2.txt"
golden "word_count -top 0" exact "$T/nothing" build/word_count -top 0 "$T/text2.txt"

# ---- sort_lines -------------------------------------------------------------------------
for f in records text dups nofinal crlf edge empty; do
    sort "$T/$f.txt" > "$T/sort-$f.ref"
    for t in $THREADS; do
        golden "sort_lines -gleam.threads=$t $f.txt" exact "$T/sort-$f.ref" build/sort_lines -gleam.threads=$t "$T/$f.txt"
    done
done
# Into a regular file each shard writes at its own offset (reckoned first); into a pipe, or
# a file open for appending, the shards take turns. Both, after and before other writes.
{ printf 'head\n'; cat "$T/sort-records.ref"; printf 'tail\n'; } > "$T/sort-around.ref"
for t in 3 4; do
    golden "sort_lines -gleam.threads=$t records.txt | cat" exact "$T/sort-records.ref" \
        sh -c 'build/sort_lines -gleam.threads=$0 "$1" | cat' "$t" "$T/records.txt"
    golden "sort_lines -gleam.threads=$t between two writes to its file" exact "$T/sort-around.ref" \
        sh -c '{ printf "head\n"; build/sort_lines -gleam.threads=$0 "$1"; printf "tail\n"; } > "$2" && cat "$2"' \
        "$t" "$T/records.txt" "$T/around"
    golden "sort_lines -gleam.threads=$t >> a file" exact "$T/sort-around.ref" \
        sh -c 'printf "head\n" > "$2" && build/sort_lines -gleam.threads=$0 "$1" >> "$2" && printf "tail\n" >> "$2" && cat "$2"' \
        "$t" "$T/records.txt" "$T/around"
done

# ---- join_csv ---------------------------------------------------------------------------
sort -t, -k1,1 "$T/a.csv" > "$T/a.sorted"
sort -t, -k2,2 "$T/b.csv" > "$T/b.sorted"
join -t, -1 1 -2 2 -o 1.1,1.4,2.3 "$T/a.sorted" "$T/b.sorted" | sort > "$T/join.ref"
for t in $THREADS; do
    golden "join_csv -gleam.threads=$t a.csv b.csv" sorted "$T/join.ref" build/join_csv -gleam.threads=$t "$T/a.csv" "$T/b.csv"
    golden "join_csv -gleam.threads=$t aq.csv b.csv (quoted fields with newlines)" sorted "$T/join.ref" \
        build/join_csv -gleam.threads=$t "$T/aq.csv" "$T/b.csv"
done

# ---- group_stats ------------------------------------------------------------------------
for f in kv-skew kv-uniform; do
    $AWK -F'\t' '{ k = $1; v = $2 + 0; if (!(k in c)) { mn[k] = v; mx[k] = v } c[k]++; s[k] += v; if (v < mn[k]) mn[k] = v; if (v > mx[k]) mx[k] = v }
        END { for (k in c) printf "%s\t%d\t%d\t%d\t%d\n", k, c[k], s[k], mn[k], mx[k] }' "$T/$f.tsv" | sort > "$T/$f.ref"
    for t in $THREADS; do
        golden "group_stats -gleam.threads=$t $f.tsv" sorted "$T/$f.ref" build/group_stats -gleam.threads=$t "$T/$f.tsv"
    done
done

# ---- tfidf ------------------------------------------------------------------------------
"$GEN" text 300000 21 5000 > "$T/d1.txt"
"$GEN" text 200000 22 5000 > "$T/d2.txt"
"$GEN" text 100000 23 3000 > "$T/d3.txt"
set -- $D/flow.txt $D/users.txt $D/orders.csv $D/people.csv "$T/d1.txt" "$T/d2.txt" "$T/d3.txt"
for f in "$@"; do
    tr -cs 'A-Za-z0-9' '\n' < "$f" | grep -v '^$' | $AWK -v doc="$f" '{ c[$0]++ } END { for (w in c) print w "\t" doc "\t" c[w] }'
done | $AWK -F'\t' -v n=$# '{ w[NR] = $1; d[NR] = $2; tf[NR] = $3; df[$1]++ }
    END { for (i = 1; i <= NR; i++) { x = tf[i] * log(n / df[w[i]])
        printf "%.17g\t%s\t%s\ttf=%d\tdf=%d\ttf-idf=%.4f\n", x, w[i], d[i], tf[i], df[w[i]], x } }' |
    sort -t"$tab" -k1,1gr -k2,2 -k3,3 | cut -f2- > "$T/tfidf.ref"
for t in $THREADS; do
    golden "tfidf -gleam.threads=$t (7 documents)" exact "$T/tfidf.ref" build/tfidf -gleam.threads=$t "$@"
done

# ---- pi_estimation ----------------------------------------------------------------------
cat > "$T/piref.c" << 'EOF'
/* The points of pi_estimation thrown in one loop, without the engine. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
static uint64_t next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
int main(int argc, char **argv) {
    long long points = argc > 1 ? atoll(argv[1]) : 10000000, k, i, inside = 0;
    for (k = 0; k * 100000 < points; k++) {
        uint64_t seed = (uint64_t)k;
        long long todo = points - k * 100000 > 100000 ? 100000 : points - k * 100000;
        for (i = 0; i < todo; i++) {
            double x = (double)(next(&seed) >> 11) / 9007199254740992.0;
            double y = (double)(next(&seed) >> 11) / 9007199254740992.0;
            inside += x * x + y * y < 1.0;
        }
    }
    printf("pi = %.6f (%lld of %lld points inside)\n", 4.0 * (double)inside / (double)points, inside, points);
    return 0;
}
EOF
if cc -O2 -o "$T/piref" "$T/piref.c" 2> "$T/cc.err"; then
    "$T/piref" > "$T/pi.ref"
    "$T/piref" 2500001 > "$T/pi2.ref"
    "$T/piref" 1 > "$T/pi1.ref"
    for t in 1 4; do
        golden "pi_estimation -gleam.threads=$t" exact "$T/pi.ref" build/pi_estimation -gleam.threads=$t
    done
    golden "pi_estimation -gleam.threads=5 -points 2500001" exact "$T/pi2.ref" build/pi_estimation -gleam.threads=5 -points 2500001
    golden "pi_estimation -points 1" exact "$T/pi1.ref" build/pi_estimation -points 1
else
    fail "pi_estimation reference program does not build" "$(cat "$T/cc.err")"
fi

# ---- union ------------------------------------------------------------------------------
union_ref() {
    sort "$1" > "$T/union.sorted"
    $AWK -F: '{ print $1 }' "$T/union.sorted"
    $AWK -F: 'NF >= 3 { print $3 }' "$T/union.sorted"
    $AWK -F: 'NF >= 6 { print $6 }' "$T/union.sorted"
}
union_ref $D/users.txt > "$T/union-users.ref"
union_ref "$T/passwd.txt" > "$T/union-passwd.ref"
for t in $THREADS; do
    golden "union -gleam.threads=$t users.txt" exact "$T/union-users.ref" build/union -gleam.threads=$t $D/users.txt
    golden "union -gleam.threads=$t passwd.txt (20000 lines)" exact "$T/union-passwd.ref" build/union -gleam.threads=$t "$T/passwd.txt"
done

# ---- top_lines: a second flow built from what the first collected --------------------------
# Every word's count and the number of lines holding it, by awk; the first 25 by count
# descending, then word.
$AWK '{ delete seen; line = $0; gsub(/[^A-Za-z0-9]+/, " ", line); n = split(line, w, " ")
        for (i = 1; i <= n; i++) { c[w[i]]++; if (!(w[i] in seen)) { seen[w[i]] = 1; l[w[i]]++ } } }
      END { for (x in c) printf "%s\t%d\t%d\n", x, c[x], l[x] }' "$T/text2.txt" "$T/mixed.txt" |
    sort -t"$tab" -k2,2nr -k1,1 | head -n 25 > "$T/toplines.ref"
for t in 1 2 3; do
    golden "top_lines -gleam.threads=$t -top 25 (two flows)" exact "$T/toplines.ref" \
        build/top_lines -gleam.threads=$t -top 25 "$T/text2.txt" "$T/mixed.txt"
done

# ---- csv_outer_join ---------------------------------------------------------------------
# Checked by hand: people.csv (header; ids 1 2 3 5) right-outer-joined with orders.csv
# (ids 1 3 3 4), sorted by id then quantity as text ("1" < "10").
cat > "$T/outer-bundled.ref" << 'EOF'
1 : Ada Lisbon, 2 19.90
3 : Cyd The "Big" Apple, 1 35.00
3 : Cyd The "Big" Apple, 10 1.20
4 :  , 1 240.00
EOF
for t in 1 2; do
    golden "csv_outer_join -gleam.threads=$t people.csv orders.csv" exact "$T/outer-bundled.ref" \
        build/csv_outer_join -gleam.threads=$t $D/people.csv $D/orders.csv
done
tail -n +2 "$T/oa.csv" | sort -t, -k1,1 > "$T/oa.sorted"
sort -t, -k1,1 "$T/ob.csv" > "$T/ob.sorted"
join -t, -a 2 -e '' -o 0,1.2,1.3,2.4,2.5 "$T/oa.sorted" "$T/ob.sorted" |
    $AWK -F, '{ printf "%s : %s %s, %s %s\n", $1, $2, $3, $4, $5 }' | sort > "$T/outer.ref"
for t in $THREADS; do
    name="csv_outer_join -gleam.threads=$t oa.csv ob.csv"
    golden "$name" sorted "$T/outer.ref" build/csv_outer_join -gleam.threads=$t "$T/oa.csv" "$T/ob.csv"
    # the order: key, then b4 as bytes
    $AWK '{ split($0, p, ", "); split(p[2], q, " "); print $1 " " q[1] }' "$T/out" > "$T/outer.keys"
    if sort -c -s -t' ' -k1,1 -k2,2 "$T/outer.keys" 2> "$T/sortc.err"; then
        pass "$name: rows in (key, b4) order"
    else
        fail "$name: rows in (key, b4) order" "$(cat "$T/sortc.err")"
    fi
done

# ---- bad input --------------------------------------------------------------------------
missing=$T/no-such-file.txt
expect_error "word_count missing file" 1 empty "$missing" -- build/word_count "$T/text2.txt" "$missing"
expect_error "sort_lines missing file" 1 empty "$missing" -- build/sort_lines "$missing"
expect_error "group_stats missing file" 1 empty "$missing" -- build/group_stats "$missing"
expect_error "union missing file" 1 empty "$missing" -- build/union "$missing"
expect_error "tfidf missing file" 1 empty "$missing" -- build/tfidf $D/flow.txt "$missing"
expect_error "join_csv missing A" 1 empty "$missing" -- build/join_csv "$missing" "$T/b.csv"
expect_error "join_csv missing B" 1 empty "$missing" -- build/join_csv "$T/a.csv" "$missing"
expect_error "csv_outer_join missing B" 1 empty "$missing" -- build/csv_outer_join $D/people.csv "$missing"
for e in word_count join_csv sort_lines group_stats tfidf union csv_outer_join; do
    expect_error "$e without arguments" 2 empty "usage: $e" -- build/$e
done
expect_error "pi_estimation with a stray argument" 2 empty "usage: pi_estimation" -- build/pi_estimation stray
for e in $EXAMPLES; do
    case $e in
    pi_estimation) set -- ;;
    join_csv | csv_outer_join) set -- $D/people.csv $D/orders.csv ;;
    *) set -- $D/users.txt ;;
    esac
    expect_error "$e -gleam.bogus=1" 2 empty -gleam.bogus -gleam.threads -gleam.explain -gleam.memory -gleam.tmpdir -- \
        build/$e -gleam.bogus=1 "$@"
done
for v in 0 abc ''; do
    expect_error "sort_lines -gleam.threads='$v'" 2 empty -gleam.threads -- build/sort_lines -gleam.threads="$v" $D/users.txt
done
expect_error "word_count -top abc" 2 empty -top -- build/word_count -top abc $D/flow.txt

# join_csv on a malformed line in the middle of A, and an unclosed quote at the end of B
join_line='^k[0-9]{8},a4_[0-9]+,b3_[0-9]+$'
$AWK 'NR == 40001 { print "k00000001,\"a\"x,1,a4_1,2"; next } { print }' "$T/a.csv" > "$T/bad-a.csv"
# the quoted file, with one record made of a single line with a stray quote
$AWK 'NR == 50001 { print "k00000001,a\"b\"c,1,a4_1,2"; next } NR == 50002 { next } { print }' "$T/aq.csv" > "$T/bad-aq.csv"
{ head -n 30000 "$T/b.csv"; printf 'b1_x,"k00000001,b3_1\n'; head -n 5 "$T/b.csv"; } > "$T/bad-b.csv"
for t in $THREADS; do
    expect_error "join_csv -gleam.threads=$t malformed CSV line 40001 of A" 1 "$join_line" bad-a.csv "line 40001" -- \
        build/join_csv -gleam.threads=$t "$T/bad-a.csv" "$T/b.csv"
    expect_error "join_csv -gleam.threads=$t malformed CSV line 50001 after quoted newlines" 1 "$join_line" bad-aq.csv "line 50001" -- \
        build/join_csv -gleam.threads=$t "$T/bad-aq.csv" "$T/b.csv"
    expect_error "join_csv -gleam.threads=$t unclosed quote line 30001 of B" 1 "$join_line" bad-b.csv "line 30001" -- \
        build/join_csv -gleam.threads=$t "$T/a.csv" "$T/bad-b.csv"
done

# group_stats on a value that is not an integer, and on a line without a tab
$AWK 'NR == 200001 { print "key7\t12a"; next } { print }' "$T/kv-uniform.tsv" > "$T/bad-kv.tsv"
printf 'a\t1\nb\t2\nnotab\nc\t3\n' > "$T/notab.tsv"
for t in $THREADS; do
    expect_error "group_stats -gleam.threads=$t non-integer at line 200001" 1 empty bad-kv.tsv "line 200001" 12a -- \
        build/group_stats -gleam.threads=$t "$T/bad-kv.tsv"
done
expect_error "group_stats line 3 without a tab" 1 empty notab.tsv "line 3" -- build/group_stats "$T/notab.tsv"

# group_stats on sums past the int64 range: the job stops with the step, the key and the two
# values, and prints no total. INT64_MAX + 1 and INT64_MIN - 1 on lines 1 and 2 (always in
# shard 1, folded there); then 5e18 on the first and last lines, which in one shard
# overflows on the last line and in several only where the shards' partial sums merge (in
# the consumer shard the key hashes to). Rows of other keys may print: only exact ones.
$AWK 'BEGIN { print "big\t9223372036854775807"; print "big\t1"; for (i = 0; i < 30000; i++) print "f" i "\t1" }' > "$T/max.tsv"
$AWK 'BEGIN { print "neg\t-9223372036854775808"; print "neg\t-1"; for (i = 0; i < 30000; i++) print "f" i "\t1" }' > "$T/min.tsv"
$AWK 'BEGIN { print "big\t5000000000000000000"; for (i = 0; i < 30000; i++) print "f" i "\t1"; print "big\t5000000000000000000" }' > "$T/merge.tsv"
sum_line="^f[0-9]+${tab}1${tab}1${tab}1${tab}1\$"
for t in $THREADS; do
    expect_error "group_stats -gleam.threads=$t INT64_MAX + 1" 1 "$sum_line" \
        "group_stats: flow \"group stats\": step 3 reduce_by(mergeStats), shard 1 of $t, $T/max.tsv line 2: key \"big\": integer overflow: 9223372036854775807 + 1 is out of the int64 range" -- \
        build/group_stats -gleam.threads=$t "$T/max.tsv"
    expect_error "group_stats -gleam.threads=$t INT64_MIN - 1" 1 "$sum_line" \
        "group_stats: flow \"group stats\": step 3 reduce_by(mergeStats), shard 1 of $t, $T/min.tsv line 2: key \"neg\": integer overflow: -9223372036854775808 + -1 is out of the int64 range" -- \
        build/group_stats -gleam.threads=$t "$T/min.tsv"
done
expect_error "group_stats -gleam.threads=1 5e18 + 5e18 in one shard" 1 "$sum_line" \
    "group_stats: flow \"group stats\": step 3 reduce_by(mergeStats), shard 1 of 1, $T/merge.tsv line 30002: key \"big\": integer overflow: 5000000000000000000 + 5000000000000000000 is out of the int64 range" -- \
    build/group_stats -gleam.threads=1 "$T/merge.tsv"
for t in 2 5; do
    expect_error "group_stats -gleam.threads=$t 5e18 + 5e18 only when the shards merge" 1 "$sum_line" \
        "group_stats: flow \"group stats\": step 3 reduce_by(mergeStats), shard " \
        " of $t: key \"big\", merging partial folds: integer overflow: 5000000000000000000 + 5000000000000000000 is out of the int64 range" -- \
        build/group_stats -gleam.threads=$t "$T/merge.tsv"
done
for e in max min merge; do
    run build/group_stats -gleam.threads=2 "$T/$e.tsv"
    if [ "$(wc -l < "$T/err")" -eq 1 ]; then pass "group_stats $e.tsv: one line on stderr"; else fail "group_stats $e.tsv: one line on stderr" "$(head -c 600 "$T/err")"; fi
done
expect_error "pi_estimation -points past the int64 range" 2 empty "-points needs a positive count" -- \
    build/pi_estimation -points 9223372036854775808

if [ "$failed" -ne 0 ]; then
    echo "golden.sh: $failed of $checks checks failed"
    exit 1
fi
echo "golden.sh: all $checks checks passed"
exit 0
