/* top_lines: two flows, the second built from what the first collected. Flow 1 finds the
   K most frequent words of the files and collects them; flow 2 reads the files again,
   counts for every word the lines that contain it, and joins those counts with flow 1's
   words, given to it as in-memory rows. Prints each of the K words with its count and
   its number of lines, by count descending, then word ascending. A word is a maximal run
   of ASCII letters and digits.

   usage: top_lines [-top K] FILE...        (plus the -gleam.* flags) */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h" /* -distributed, and the master and agent roles */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static gleam_result tokenize(gleam_ctx *c, const gleam_value *row, int n) {
    const char *s = row[0].u.s, *end = s + row[0].len, *w;
    gleam_result r;
    (void)n;
    while (s < end) {
        while (s < end && !is_word_char(*s)) s++;
        for (w = s; s < end && is_word_char(*s); s++) {}
        if (s > w && (r = GLEAM_EMIT(c, gleam_bytes(w, (size_t)(s - w)), gleam_int(1))) != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

typedef struct word {
    const char *p;
    size_t len;
} word;

static int word_cmp(const void *a, const void *b) {
    const word *x = (const word *)a, *y = (const word *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* (word, 1) once for each distinct word of the line. */
static gleam_result words_of_line(gleam_ctx *c, const gleam_value *row, int n) {
    const char *s = row[0].u.s, *end = s + row[0].len, *w;
    word small[64], *v = small;
    size_t nw = 0, cap = 64, i;
    gleam_result r = GLEAM_OK;
    (void)n;
    while (s < end) {
        while (s < end && !is_word_char(*s)) s++;
        for (w = s; s < end && is_word_char(*s); s++) {}
        if (s == w) continue;
        if (nw == cap) {
            word *bigger = (word *)malloc(2 * cap * sizeof *bigger);
            if (!bigger) {
                if (v != small) free(v);
                return gleam_fail(c, "out of memory");
            }
            memcpy(bigger, v, nw * sizeof *v);
            if (v != small) free(v);
            v = bigger;
            cap *= 2;
        }
        v[nw].p = w;
        v[nw++].len = (size_t)(s - w);
    }
    qsort(v, nw, sizeof *v, word_cmp);
    for (i = 0; i < nw && r == GLEAM_OK; i++)
        if (i == 0 || word_cmp(&v[i - 1], &v[i])) r = GLEAM_EMIT(c, gleam_bytes(v[i].p, v[i].len), gleam_int(1));
    if (v != small) free(v);
    return r;
}

static gleam_result sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int64_t s;
    gleam_result r = gleam_add_int64(c, gleam_to_int64(acc[0]), gleam_to_int64(x[0]), &s);
    (void)n;
    if (r == GLEAM_OK) acc[0] = gleam_int(s);
    return r;
}

/* The files as one dataset (every file of the list, 0 shards each: the default). */
static gleam_dataset *read_all(gleam_flow *f, int nfiles, char **files) {
    gleam_dataset *d = gleam_read(f, gleam_txt(files[0], 0));
    int i;
    for (i = 1; i < nfiles; i++) d = gleam_union(d, gleam_read(f, gleam_txt(files[i], 0)));
    return d;
}

int main(int argc, char **argv) {
    gleam_flow *f1, *f2;
    gleam_rows *top;
    gleam_value *words = NULL;
    gleam_result r;
    long k = 10;
    int first = 1, i;
    size_t n;

    gleam_register_mapper("tokenize", tokenize);
    gleam_register_mapper("wordsOfLine", words_of_line);
    gleam_register_reducer("sum", sum);
    if (gleam_init(&argc, &argv) != GLEAM_OK) {
        fprintf(stderr, "top_lines: %s\n", gleam_error(NULL));
        return 2;
    }
    if (argc > 2 && !strcmp(argv[1], "-top")) {
        char *end;
        k = strtol(argv[2], &end, 10);
        if (*end || k < 1 || k > 1000000) {
            fprintf(stderr, "top_lines: -top %s is not a number from 1 to 1000000\n", argv[2]);
            return 2;
        }
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: top_lines [-top K] FILE...\n");
        return 2;
    }

    f1 = gleam_flow_new("top words");
    top = gleam_collect(gleam_top(gleam_reduce_by_key(gleam_map(read_all(f1, argc - first, argv + first), "tokenize"), "sum"),
                                  (int)k, gleam_then_by(gleam_order_by(2, GLEAM_DESC), 1, GLEAM_ASC)));
    if ((r = gleam_run(f1)) != GLEAM_OK) {
        fprintf(stderr, "top_lines: %s\n", gleam_error(f1));
        gleam_flow_free(f1);
        return 1;
    }

    /* flow 2 starts from flow 1's rows: (word, count) */
    n = gleam_rows_count(top);
    words = (gleam_value *)calloc(2 * n + 1, sizeof *words);
    if (!words) {
        fprintf(stderr, "top_lines: out of memory\n");
        gleam_flow_free(f1);
        return 1;
    }
    for (i = 0; (size_t)i < n; i++) {
        int nv;
        const gleam_value *row = gleam_rows_get(top, (size_t)i, &nv);
        words[2 * i] = row[0];
        words[2 * i + 1] = row[1];
    }
    f2 = gleam_flow_new("lines of the top words");
    {
        gleam_dataset *lines = gleam_reduce_by_key(gleam_map(read_all(f2, argc - first, argv + first), "wordsOfLine"), "sum");
        gleam_dataset *j = gleam_join(gleam_from_values(f2, words, n, 2, 1), lines);
        gleam_printlnf(gleam_sort(j, gleam_then_by(gleam_order_by(2, GLEAM_DESC), 1, GLEAM_ASC)), "%s\t%d\t%d");
    }
    r = gleam_run(f2);
    if (r != GLEAM_OK) fprintf(stderr, "top_lines: %s\n", gleam_error(f2));
    gleam_flow_free(f2);
    gleam_flow_free(f1);
    free(words);
    return r == GLEAM_OK ? 0 : 1;
}
