/* word_count_pipe: word count through Unix pipes, in parallel shards. Each shard's words
   go through `tr 'A-Z' 'a-z' | sort | uniq -c` (three pipe steps, a process each), the
   shards' partial counts are merged by word, and the result is printed as count<TAB>word,
   by word. The counts are those of
       tr -cs 'A-Za-z0-9' '\n' < FILE | tr 'A-Z' 'a-z' | sort | uniq -c

   usage: word_count_pipe FILE...        (plus the -gleam.* flags) */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h" /* -distributed, and the master and agent roles */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A line in, one row per word (a run of ASCII letters and digits) out. */
static gleam_result tokenize(gleam_ctx *c, const gleam_value *row, int n) {
    const char *s = row[0].u.s, *end = s + row[0].len;
    (void)n;
    while (s < end) {
        const char *w;
        gleam_result r;
        while (s < end && !(((unsigned)(*s | 32) - 'a' < 26) || ((unsigned)*s - '0' < 10))) s++;
        for (w = s; s < end && (((unsigned)(*s | 32) - 'a' < 26) || ((unsigned)*s - '0' < 10)); s++) {
        }
        if (s > w && (r = GLEAM_EMIT(c, gleam_bytes(w, (size_t)(s - w)))) != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

/* A line of `uniq -c` ("      3 word") in, the row (word, 3) out. */
static gleam_result parse_count(gleam_ctx *c, const gleam_value *row, int n) {
    const char *s = row[0].u.s, *end = s + row[0].len, *digits;
    int64_t count;
    (void)n;
    while (s < end && *s == ' ') s++;
    if (s == end || *s < '0' || *s > '9') return gleam_fail(c, "not a line of uniq -c: \"%.*s\"", (int)row[0].len, row[0].u.s);
    for (digits = s; s < end && *s >= '0' && *s <= '9'; s++) {
    }
    if (gleam_parse_int64(gleam_bytes(digits, (size_t)(s - digits)), &count) != GLEAM_OK)
        return gleam_fail(c, "count %.*s is out of the int64 range", (int)(s - digits > 40 ? 40 : s - digits), digits);
    if (s < end && *s == ' ') s++;
    return GLEAM_EMIT(c, gleam_bytes(s, (size_t)(end - s)), gleam_int(count));
}

/* Two counts in, their sum out. */
static gleam_result sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int64_t s;
    gleam_result r = gleam_add_int64(c, gleam_to_int64(acc[0]), gleam_to_int64(x[0]), &s);
    (void)n;
    if (r == GLEAM_OK) acc[0] = gleam_int(s);
    return r;
}

int main(int argc, char **argv) {
    gleam_flow *f;
    gleam_dataset *d;
    gleam_source_desc src;
    gleam_result r;
    int i;

    gleam_register_mapper("tokenize", tokenize);
    gleam_register_mapper("parseCount", parse_count);
    gleam_register_reducer("sum", sum);
    if (gleam_init(&argc, &argv) != GLEAM_OK) {
        fprintf(stderr, "word_count_pipe: %s\n", gleam_error(NULL));
        return 2;
    }
    for (i = 1; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "word_count_pipe: unknown flag %s\n", argv[i]);
            argc = 1;
        }
    if (argc < 2) {
        fprintf(stderr, "usage: word_count_pipe FILE...\n");
        return 2;
    }

    f = gleam_flow_new("word count by unix pipes");
    src = gleam_txt(NULL, 0);
    src.paths = (const char *const *)(argv + 1);
    src.npaths = argc - 1;
    d = gleam_read(f, src);                          /* fan out: one shard per thread */
    d = gleam_map(d, "tokenize");
    d = gleam_pipe(d, "lowercase", "tr 'A-Z' 'a-z'"); /* a process per shard, each */
    d = gleam_pipe(d, "sort", "LC_ALL=C sort");
    d = gleam_pipe(d, "count", "uniq -c");
    d = gleam_map(d, "parseCount");
    d = gleam_reduce_by_key(d, "sum");               /* fan in: merge the shards' counts */
    d = gleam_sort(d, gleam_order_by(1, GLEAM_ASC));
    d = gleam_select(d, GLEAM_FIELDS(2, 1));
    gleam_printlnf(d, "%d\t%s");
    r = gleam_run(f);
    if (r != GLEAM_OK) fprintf(stderr, "word_count_pipe: %s\n", gleam_error(f));
    gleam_flow_free(f);
    return r == GLEAM_OK ? 0 : 1;
}
