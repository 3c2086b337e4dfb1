/* word_count: every distinct word of the files and how often it occurs; with -top K, the
   K most frequent (count descending, then word ascending). A word is a maximal run of
   ASCII letters and digits.

   usage: word_count [-top K] FILE...        (plus the -gleam.* flags) */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h" /* -distributed, and the master and agent roles */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Which bytes make up words: [A-Za-z0-9]. Filled once in main. */
static unsigned char word_char[256];

/* A line in, one row per word out. */
static gleam_result tokenize(gleam_ctx *c, const gleam_value *row, int n) {
    const unsigned char *s = (const unsigned char *)row[0].u.s, *end = s + row[0].len;
    (void)n;
    while (s < end) {
        const unsigned char *w;
        gleam_result r;
        while (s < end && !word_char[*s]) s++;
        for (w = s; s < end && word_char[*s]; s++) {
        }
        if (s > w && (r = GLEAM_EMIT(c, gleam_bytes((const char *)w, (size_t)(s - w)))) != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

/* The row with a 1 appended. */
static gleam_result append_one(gleam_ctx *c, const gleam_value *row, int n) {
    gleam_value *out = gleam_scratch(c, (size_t)(n + 1) * sizeof *out);
    if (!out) return GLEAM_ERR_NOMEM;
    memcpy(out, row, (size_t)n * sizeof *row);
    out[n] = gleam_int(1);
    return gleam_emit(c, out, n + 1);
}

/* Two counts in, their sum out. */
static gleam_result sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int64_t s;
    gleam_result r = gleam_add_int64(c, gleam_to_int64(acc[0]), gleam_to_int64(x[0]), &s);
    (void)n;
    if (r == GLEAM_OK) acc[0] = gleam_int(s);
    return r;
}

static int usage(void) {
    fprintf(stderr, "usage: word_count [-top K] FILE...\n");
    return 2;
}

int main(int argc, char **argv) {
    const char **files;
    int nfiles = 0, i;
    long long top = -1;
    gleam_flow *f;
    gleam_dataset *d;
    gleam_source_desc src;
    gleam_result r;

    for (i = 0; i < 256; i++) word_char[i] = (i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z') || (i >= '0' && i <= '9');
    gleam_register_mapper("tokenize", tokenize);
    gleam_register_mapper("appendOne", append_one);
    gleam_register_reducer("sum", sum);
    if (gleam_init(&argc, &argv) != GLEAM_OK) {
        fprintf(stderr, "word_count: %s\n", gleam_error(NULL));
        return 2;
    }
    if (!(files = calloc((size_t)argc, sizeof *files))) return 1;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-top") || !strncmp(argv[i], "-top=", 5)) {
            const char *v = argv[i][4] == '=' ? argv[i] + 5 : i + 1 < argc ? argv[++i] : "";
            char *end;
            top = strtoll(v, &end, 10);
            if (!*v || *end || top < 0) {
                fprintf(stderr, "word_count: -top needs a count, not \"%s\"\n", v);
                free(files);
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "word_count: unknown flag %s\n", argv[i]);
            free(files);
            return usage();
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (nfiles == 0) {
        free(files);
        return usage();
    }

    f = gleam_flow_new("word count");
    src = gleam_txt(NULL, 0);
    src.paths = files;
    src.npaths = nfiles;
    d = gleam_read(f, src);
    d = gleam_map(d, "tokenize");
    d = gleam_map(d, "appendOne");
    d = gleam_reduce_by_key(d, "sum");
    if (top >= 0) d = gleam_top(d, top, gleam_then_by(gleam_order_by(2, GLEAM_DESC), 1, GLEAM_ASC));
    gleam_printlnf(d, "%s\t%d");
    r = gleam_run(f);
    if (r != GLEAM_OK) fprintf(stderr, "word_count: %s\n", gleam_error(f));
    gleam_flow_free(f);
    free(files);
    return r == GLEAM_OK ? 0 : 1;
}
