/* tfidf: for every word of every document, its term frequency, its document frequency
   and tf-idf = tf * log(N / df), sorted by tf-idf (highest first). A port of Gleam's
   tfidf example: a reduce by two key fields, a second reduce, a join and a sort.

   usage: tfidf FILE...        (plus the -gleam.* flags) */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h" /* -distributed, and the master and agent roles */

#include <math.h>
#include <stdio.h>
#include <string.h>

static int is_word_char(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A document's path in; (word, path, 1) out for each word in the document. */
static gleam_result read_content(gleam_ctx *c, const gleam_value *row, int n) {
    char path[4096], word[256];
    size_t len = 0;
    int ch;
    FILE *in;
    gleam_result r = GLEAM_OK;
    (void)n;
    if (row[0].len >= sizeof path) return gleam_fail(c, "path too long");
    memcpy(path, row[0].u.s, row[0].len);
    path[row[0].len] = 0;
    if (!(in = fopen(path, "rb"))) return gleam_fail(c, "cannot open %s", path);
    while (r == GLEAM_OK && (ch = getc(in)) != EOF) {
        if (is_word_char(ch) && len < sizeof word) {
            word[len++] = (char)ch;
            continue;
        }
        if (len) r = GLEAM_EMIT(c, gleam_bytes(word, len), row[0], gleam_int(1));
        len = 0;
    }
    if (r == GLEAM_OK && len) r = GLEAM_EMIT(c, gleam_bytes(word, len), row[0], gleam_int(1));
    fclose(in);
    return r;
}

static gleam_result append_one(gleam_ctx *c, const gleam_value *row, int n) {
    (void)n;
    return GLEAM_EMIT(c, row[0], gleam_int(1));
}

static gleam_result sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int64_t s;
    gleam_result r = gleam_add_int64(c, gleam_to_int64(acc[0]), gleam_to_int64(x[0]), &s);
    (void)n;
    if (r == GLEAM_OK) acc[0] = gleam_int(s);
    return r;
}

/* (word, df, doc, tf) in; (word, doc, tf, df, tf-idf) out. The step's context holds the
   number of documents. */
static gleam_result tfidf(gleam_ctx *c, const gleam_value *row, int n) {
    const int *docs = (const int *)gleam_ctx_user(c);
    int64_t df = gleam_to_int64(row[1]), tf = gleam_to_int64(row[3]);
    (void)n;
    return GLEAM_EMIT(c, row[0], row[2], gleam_int(tf), gleam_int(df), gleam_double((double)tf * log((double)*docs / (double)df)));
}

int main(int argc, char **argv) {
    gleam_flow *f;
    gleam_dataset *docs, *tf, *df;
    gleam_result r;
    int ndocs;

    gleam_register_mapper("readContent", read_content);
    gleam_register_mapper("appendOne", append_one);
    gleam_register_mapper("tfidf", tfidf);
    gleam_register_reducer("sum", sum);
    if (gleam_init(&argc, &argv) != GLEAM_OK) {
        fprintf(stderr, "tfidf: %s\n", gleam_error(NULL));
        return 2;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: tfidf FILE...\n");
        return 2;
    }
    ndocs = argc - 1;
    f = gleam_flow_new("tfidf");
    docs = gleam_from_strings(f, (const char *const *)argv + 1, (size_t)ndocs, 0);
    docs = gleam_partition(docs, 3);
    tf = gleam_reduce_by(gleam_map(docs, "readContent"), "sum", GLEAM_FIELDS(1, 2)); /* word, doc, tf */
    df = gleam_reduce_by_key(gleam_map(tf, "appendOne"), "sum");                     /* word, df */
    tf = gleam_set_ctx(gleam_map(gleam_join(df, tf), "tfidf"), &ndocs);              /* word, doc, tf, df, tf-idf */
    tf = gleam_sort(tf, gleam_then_by(gleam_then_by(gleam_order_by(5, GLEAM_DESC), 1, GLEAM_ASC), 2, GLEAM_ASC));
    gleam_printlnf(tf, "%s\t%s\ttf=%d\tdf=%d\ttf-idf=%.4f");
    r = gleam_run(f);
    if (r != GLEAM_OK) fprintf(stderr, "tfidf: %s\n", gleam_error(f));
    gleam_flow_free(f);
    return r == GLEAM_OK ? 0 : 1;
}
