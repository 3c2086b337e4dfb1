#!/bin/sh
# matrix.sh: the compile matrix. For gcc and clang (a compiler that is not installed is
# skipped; the two run side by side), under -std=c99 and -std=c11, with -Wall -Wextra
# -Wpedantic -Werror:
#   - two translation units that both include gleam.h, one with GLEAM_IMPLEMENTATION (at
#     -O2, which the warnings that need optimizing see), link and run a tiny flow with the
#     right answer;
#   - every example compiles (its own code; the implementation it includes is the one
#     just compiled) and links against that implementation;
#   - with GLEAM_STATIC (the implementation static in one TU, used only there, exporting no
#     gleam_ symbol) the TU compiles without a warning, links and runs;
#   - (c99) a TU with _POSIX_C_SOURCE that includes <stdio.h> and <string.h> before gleam.h;
#   - GLEAM_MALLOC/GLEAM_REALLOC/GLEAM_FREE overridden by counting wrappers are used, and
#     only ever given their own blocks.
#   The TUs of the settings (GLEAM_STATIC, _POSIX_C_SOURCE, the allocator hooks) are
#   compiled at -O0: the optimized build of the same code is the first one.
# Then the declarations as C++11 (g++, clang++, -fsyntax-only).
# Everything is built in a temp dir. Prints one line per combination; exits 1 if any failed.
# Run: sh tests/matrix.sh   (called by tests/run)
cd "$(dirname "$0")/.." || exit 2
LC_ALL=C
export LC_ALL

EXAMPLES="word_count join_csv sort_lines group_stats tfidf pi_estimation union csv_outer_join top_lines"
WARN="-Wall -Wextra -Wpedantic -Werror"
T=$(mktemp -d "${TMPDIR:-/tmp}/gleam-matrix.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
trap 'exit 130' HUP INT TERM
TO=
command -v timeout > /dev/null 2>&1 && TO="timeout -k 5 60"
failed=0
checks=0

pass() {
    checks=$((checks + 1))
    echo "ok    $1"
}
fail() { # fail NAME LOGFILE
    checks=$((checks + 1))
    failed=$((failed + 1))
    echo "FAIL  $1"
    head -n 25 "$2" | sed 's/^/      /'
}
# try NAME CMD...: one check; CMD's output goes to the log shown on failure.
try() {
    try_name=$1
    shift
    if "$@" > "$T/log.$$.$cc" 2>&1; then pass "$try_name"; else fail "$try_name" "$T/log.$$.$cc"; fi
}

# ---- the programs -------------------------------------------------------------------------
printf 'b a\nc b\nb\nd a\n' > "$T/words.txt"

# The tiny flow, included after gleam.h: word counts of four lines (from memory, or from
# the file argv[1] when given), sorted, collected and checked. 0 when right.
cat > "$T/flow.inc" << 'EOF'
static gleam_result split_words(gleam_ctx *c, const gleam_value *row, int n) {
    const char *s = row[0].u.s, *end = s + row[0].len;
    (void)n;
    while (s < end) {
        const char *w;
        gleam_result r;
        while (s < end && *s == ' ') s++;
        for (w = s; s < end && *s != ' '; s++) {
        }
        if (s > w && (r = GLEAM_EMIT(c, gleam_bytes(w, (size_t)(s - w)), gleam_int(1))) != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

static gleam_result add(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    (void)c;
    (void)n;
    acc[0].u.i += x[0].u.i;
    return GLEAM_OK;
}

static int check_flow(const char *path) {
    static const char *const lines[] = { "b a", "c b", "b", "d a" };
    static const char *const want_word[] = { "a", "b", "c", "d" };
    static const int64_t want_count[] = { 2, 3, 1, 1 };
    static const gleam_options defaults; /* every field zero: the defaults, whatever fields come later */
    gleam_options opt = defaults;
    gleam_flow *f;
    gleam_dataset *d;
    gleam_rows *rows;
    gleam_result r;
    size_t i;
    int bad = 0;

    if (gleam_register_mapper("splitWords", split_words) != GLEAM_OK || gleam_register_reducer("add", add) != GLEAM_OK) {
        fprintf(stderr, "register: %s\n", gleam_error(NULL));
        return 1;
    }
    opt.threads = 2;
    if (!(f = gleam_flow_new("matrix"))) return 1;
    d = path ? gleam_read(f, gleam_txt(path, 3)) : gleam_from_strings(f, lines, 4, 2);
    d = gleam_reduce_by_key(gleam_map(d, "splitWords"), "add");
    rows = gleam_collect(gleam_sort(d, gleam_order_by(1, GLEAM_ASC)));
    if ((r = gleam_run_with(f, &opt)) != GLEAM_OK) {
        fprintf(stderr, "run: %s: %s\n", gleam_result_str(r), gleam_error(f));
        gleam_flow_free(f);
        return 1;
    }
    if (gleam_rows_count(rows) != 4) {
        fprintf(stderr, "%lu rows, want 4\n", (unsigned long)gleam_rows_count(rows));
        bad = 1;
    }
    for (i = 0; !bad && i < 4; i++) {
        int n;
        const gleam_value *v = gleam_rows_get(rows, i, &n);
        if (!v || n != 2 || v[0].type != GLEAM_BYTES || v[0].len != 1 || v[0].u.s[0] != want_word[i][0] ||
            v[1].type != GLEAM_INT || v[1].u.i != want_count[i]) {
            fprintf(stderr, "row %lu is not %s %d\n", (unsigned long)i, want_word[i], (int)want_count[i]);
            bad = 1;
        }
    }
    gleam_flow_free(f);
    return bad;
}
EOF

# two TUs: the implementation alone, and a user of the declarations
cat > "$T/impl.c" << 'EOF'
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h"
EOF
cat > "$T/user.c" << 'EOF'
#include <stdio.h>
#include "gleam.h"
#include "flow.inc"
int main(int argc, char **argv) {
    if (gleam_init(&argc, &argv) != GLEAM_OK) {
        fprintf(stderr, "init: %s\n", gleam_error(NULL));
        return 1;
    }
    if (check_flow(NULL) || check_flow(argc > 1 ? argv[1] : NULL)) return 1;
    puts("two TUs: right answer");
    return 0;
}
EOF

# GLEAM_STATIC: the implementation and its only user in one TU; main in another
cat > "$T/static_impl.c" << 'EOF'
#define GLEAM_STATIC
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include <stdio.h>
#include "flow.inc"
int run_static(const char *path);
int run_static(const char *path) { return check_flow(NULL) || check_flow(path); }
EOF
cat > "$T/static_main.c" << 'EOF'
#include <stdio.h>
int run_static(const char *path);
int main(int argc, char **argv) {
    if (run_static(argc > 1 ? argv[1] : NULL)) return 1;
    puts("GLEAM_STATIC: right answer");
    return 0;
}
EOF

# _POSIX_C_SOURCE defined by the user, system headers before gleam.h
cat > "$T/posix.c" << 'EOF'
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "flow.inc"
int main(int argc, char **argv) {
    if (strlen("x") != 1 || check_flow(argc > 1 ? argv[1] : NULL)) return 1;
    puts("_POSIX_C_SOURCE first: right answer");
    return 0;
}
EOF

# counting allocator hooks; each block carries a header so that a block the hooks did not
# allocate, or one freed twice, is caught
cat > "$T/hooks.c" << 'EOF'
#include <stddef.h>
void *count_malloc(size_t n);
void *count_realloc(void *p, size_t n);
void count_free(void *p);
#define GLEAM_MALLOC(n) count_malloc(n)
#define GLEAM_REALLOC(p, n) count_realloc(p, n)
#define GLEAM_FREE(p) count_free(p)
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include <stdio.h>
#include <stdlib.h>
#include "flow.inc"

#define MAGIC 0x6c65616d6c697665ull /* a live block */
#define DEAD 0x6465616462656566ull
typedef union { unsigned long long magic; long double ld; void *p; long long ll; } hdr;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long n_malloc, n_realloc, n_free, n_live;

static void count(long *what, long live) {
    pthread_mutex_lock(&lock);
    ++*what;
    n_live += live;
    pthread_mutex_unlock(&lock);
}
static hdr *own(void *p, const char *who) {
    hdr *h = (hdr *)p - 1;
    if (h->magic != MAGIC) {
        fprintf(stderr, "%s(%p): not a live block of GLEAM_MALLOC/GLEAM_REALLOC\n", who, p);
        abort();
    }
    return h;
}
void *count_malloc(size_t n) {
    hdr *h = malloc(sizeof *h + n);
    if (!h) return NULL;
    h->magic = MAGIC;
    count(&n_malloc, 1);
    return h + 1;
}
void *count_realloc(void *p, size_t n) {
    hdr *h;
    if (!p) {
        h = malloc(sizeof *h + n);
        if (!h) return NULL;
        h->magic = MAGIC;
        count(&n_realloc, 1);
        return h + 1;
    }
    h = realloc(own(p, "GLEAM_REALLOC"), sizeof *h + n);
    if (!h) return NULL;
    count(&n_realloc, 0);
    return h + 1;
}
void count_free(void *p) {
    hdr *h;
    if (!p) return;
    h = own(p, "GLEAM_FREE");
    h->magic = DEAD;
    free(h);
    count(&n_free, -1);
}
int main(int argc, char **argv) {
    if (check_flow(argc > 1 ? argv[1] : NULL)) return 1;
    printf("hooks: %ld malloc, %ld realloc, %ld free, %ld live\n", n_malloc, n_realloc, n_free, n_live);
    if (n_malloc + n_realloc == 0 || n_free == 0) {
        fprintf(stderr, "the allocator hooks were not used\n");
        return 1;
    }
    return 0;
}
EOF

# the declarations as C++
cat > "$T/decl.cpp" << 'EOF'
#include "gleam.h"
#include "gleam_net.h"
#include <cstdio>
static gleam_result pair(gleam_ctx *c, const gleam_value *row, int n) {
    gleam_value out[2] = { row[0], gleam_int(n) };
    return gleam_emit(c, out, 2);
}
static gleam_result sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    (void)c;
    for (int i = 0; i < n; i++) acc[i] = gleam_int(gleam_to_int64(acc[i]) + gleam_to_int64(x[i]));
    return GLEAM_OK;
}
int build(gleam_flow *f, const char *path) {
    static const char *const s[] = { "x", "y" };
    gleam_register_mapper("pair", pair);
    gleam_register_reducer("sum", sum);
    gleam_dataset *a = gleam_map(gleam_from_strings(f, s, 2, 0), "pair");
    gleam_dataset *b = gleam_read(f, gleam_csv(path, 0));
    gleam_dataset *j = gleam_join_by(a, b, GLEAM_LEFT_OUTER, GLEAM_FIELDS(1));
    j = gleam_top(gleam_reduce_by_key(j, "sum"), 3, gleam_then_by(gleam_order_by(2, GLEAM_DESC), 1, GLEAM_ASC));
    gleam_printlnf(j, "%s\t%d");
    gleam_options opt = gleam_options();
    opt.threads = 2;
    gleam_value v = gleam_bytes("12", 2);
    int64_t i = 0;
    if (gleam_parse_int64(v, &i) != GLEAM_OK || gleam_compare(gleam_int(i), gleam_double(12.0)) != 0) return -1;
    gleam_result r = gleam_run_with(f, &opt);
    if (r != GLEAM_OK) std::fprintf(stderr, "%s: %s\n", gleam_result_str(r), gleam_error(f));
    return r;
}
EOF

# ---- the matrix ---------------------------------------------------------------------------
# combo CC STD: every check of one compiler and standard, in its own directory. The
# implementation is compiled once per combination (impl.o, two TUs); each example is then
# compiled with all its own code (GLEAM__IMPLEMENTED and GLEAM__NET_IMPLEMENTED set skip the
# implementation parts it includes) and linked against impl.o.
combo() {
    cc=$1 std=$2 D=$T/$1-$2
    mkdir -p "$D"
    C="$cc -std=$std -O2 $WARN -I. -I$T"
    C0="$cc -std=$std -O0 $WARN -I. -I$T" # the settings' TUs: impl.o is the optimized build
    try "$cc -std=$std two TUs, one with GLEAM_IMPLEMENTATION: link and run" sh -c '
        $1 -c -o "$4/impl.o" "$2/impl.c" && $1 -c -o "$4/user.o" "$2/user.c" &&
        $1 -o "$4/two" "$4/impl.o" "$4/user.o" -pthread -lm && $3 "$4/two" "$2/words.txt"' sh "$C" "$T" "$TO" "$D"
    for e in $EXAMPLES; do
        try "$cc -std=$std examples/$e.c" sh -c '
            $1 -DGLEAM__IMPLEMENTED -DGLEAM__NET_IMPLEMENTED -c -o "$3/$4.o" "examples/$4.c" && $1 -o "$3/$4" "$3/$4.o" "$3/impl.o" -pthread -lm' \
            sh "$C" "$T" "$D" "$e"
    done
    # with GLEAM_STATIC, the functions the TU does not call must not warn either
    try "$cc -std=$std GLEAM_STATIC in one TU: no warning, no exported gleam_ symbol, link and run" sh -c '
        $1 -c -o "$4/static_impl.o" "$2/static_impl.c" && $1 -c -o "$4/static_main.o" "$2/static_main.c" &&
        if nm -g --defined-only "$4/static_impl.o" | grep -i " gleam"; then echo "exported by the GLEAM_STATIC TU: above"; exit 1; fi &&
        $1 -o "$4/static" "$4/static_impl.o" "$4/static_main.o" -pthread -lm && $3 "$4/static" "$2/words.txt"' sh "$C0" "$T" "$TO" "$D"
    if [ "$std" = c99 ]; then
        try "$cc -std=c99 _POSIX_C_SOURCE, <stdio.h> <string.h> before gleam.h: link and run" sh -c '
            $1 -o "$4/posix" "$2/posix.c" -pthread -lm && $3 "$4/posix" "$2/words.txt"' sh "$C0" "$T" "$TO" "$D"
    fi
    try "$cc -std=$std GLEAM_MALLOC/REALLOC/FREE counting hooks used" sh -c '
        $1 -o "$4/hooks" "$2/hooks.c" -pthread -lm && $3 "$4/hooks" "$2/words.txt"' sh "$C0" "$T" "$TO" "$D"
}

# gcc and clang side by side (each line and count goes to its own file, summed below)
for cc in gcc clang; do
    if ! command -v "$cc" > /dev/null 2>&1; then
        echo "skip  $cc: not installed"
        continue
    fi
    (
        checks=0 failed=0
        for std in c99 c11; do combo "$cc" "$std"; done
        echo "$checks $failed" > "$T/$cc.count"
    ) > "$T/$cc.out" 2>&1 &
done
wait
for cc in gcc clang; do
    [ -f "$T/$cc.out" ] || continue
    cat "$T/$cc.out"
    if [ -f "$T/$cc.count" ]; then
        read -r c f < "$T/$cc.count"
        checks=$((checks + c))
        failed=$((failed + f))
    else
        echo "FAIL  $cc: its checks did not finish"
        failed=$((failed + 1))
    fi
done
for cxx in g++ clang++; do
    if ! command -v "$cxx" > /dev/null 2>&1; then
        echo "skip  $cxx: not installed"
        continue
    fi
    try "$cxx -std=c++11 declarations (-fsyntax-only)" $cxx -std=c++11 $WARN -I. -fsyntax-only "$T/decl.cpp"
done

if [ "$failed" -ne 0 ]; then
    echo "matrix.sh: $failed of $checks combinations failed"
    exit 1
fi
echo "matrix.sh: all $checks combinations passed"
exit 0
