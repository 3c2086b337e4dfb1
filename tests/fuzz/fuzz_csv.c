/* fuzz_csv.c: fuzzing the CSV reader (gleam__read_csv and its record parser in
   src/io/csv.c, with the cutting of files into shards in src/io/files.c), through the
   engine's own source task over a file that holds the input. The file is read three
   times: whole through a window that holds it all (as the reader's own first window of
   1 MB would; a smaller one spares the sanitizer's allocator), whole through a window of
   a few bytes (so that records cross the window's end at every place), and cut into
   shards (so that a shard finds its first record from the parity of the quotes before
   it, and the header may lie past the first shard's range). A file that reads without
   error must give the same rows all three ways; one that does not must fail the same way
   twice and never crash.

   Input: byte 0 the options (bits 0-1 the delimiter: , ; tab |; bit 2 a header line;
   bits 3-4 the shards of the third read, 1 to 4), byte 1 the small window (1 to 256
   bytes), then the file. */
#include "fuzz.h"

static gleam__buf fuzz_rows;    /* the rows read, packed, in order */

/* The output op: every row the source emits, packed into fuzz_rows. */
static gleam_result fuzz_sink_push(gleam__op *op, const gleam_value *row, int n) {
    int i;
    FUZZ_CHECK(n >= 1);
    for (i = 0; i < n; i++) FUZZ_CHECK(row[i].type == GLEAM_BYTES); /* CSV fields are bytes, never nil */
    if (gleam__pack_row(&fuzz_rows, row, n)) return gleam__nomem(op);
    return GLEAM_OK;
}

static gleam__op *fuzz_make_sink(gleam__task *t, gleam__node *node) {
    gleam__op *op = gleam__op_alloc(t, node, sizeof *op);
    if (op) op->push = fuzz_sink_push;
    return op;
}

typedef struct fuzz_read {
    gleam_result r;
    char err[GLEAM__ERRMAX];
    gleam__buf rows;
} fuzz_read;

/* Read the file at path as CSV in `shards` shards, one after the other, the source's
   window starting at `window` bytes. */
static void fuzz_read_csv(fuzz_read *out, const char *path, char delim, int header, int shards, size_t window) {
    gleam_flow *f = gleam_flow_new("fuzz csv");
    gleam_source_desc src = gleam_csv(path, shards);
    gleam__plan *p = NULL;
    gleam_options opt;
    gleam__job job;
    int sh;
    src.header = header;
    src.delimiter = delim;
    gleam_collect(gleam_read(f, src));
    FUZZ_CHECK(f && gleam__plan_build(f, 1, &p) == GLEAM_OK);
    memset(&opt, 0, sizeof opt);
    opt.threads = 1;
    opt.memory_mb = 64;
    opt.progress = -1;
    FUZZ_CHECK(gleam__job_init(&job, p, NULL, &opt) == GLEAM_OK);
    job.make_output = fuzz_make_sink;
    fuzz_rows.len = 0;
    out->r = gleam__prepare_sources(&job, NULL);
    FUZZ_CHECK(out->r == GLEAM_OK); /* the file is there */
    FUZZ_CHECK(p->nstages == 1 && p->stages[0]->nshards == shards);
    for (sh = 0; sh < shards && out->r == GLEAM_OK; sh++) {
        gleam__task *t = gleam__task_new(&job, p->stages[0], sh);
        FUZZ_CHECK(t != NULL);
        { /* the reader grows its window as records need */
            gleam__source *s = (gleam__source *)t->ops[0];
            FUZZ_CHECK((s->rd.buf = (char *)gleam__malloc(window)) != NULL);
            s->rd.cap = window;
        }
        out->r = gleam__run_source(t);
        if (out->r == GLEAM_OK) out->r = gleam__finish_task(t);
        gleam__task_free(t);
    }
    if (out->r != GLEAM_OK) {
        FUZZ_CHECK(job.err == out->r && job.errmsg[0] != 0);
        gleam__fmt_into(out->err, sizeof out->err, "%s", job.errmsg);
    } else {
        out->err[0] = 0;
    }
    out->rows.len = 0;
    FUZZ_CHECK(gleam__buf_add(&out->rows, fuzz_rows.p, fuzz_rows.len) == 0);
    gleam__job_free(&job);
    gleam__plan_free(p);
    gleam_flow_free(f);
}

static int fuzz_same_rows(const fuzz_read *a, const fuzz_read *b) {
    return a->rows.len == b->rows.len && (a->rows.len == 0 || !memcmp(a->rows.p, b->rows.p, a->rows.len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char delims[4] = {',', ';', '\t', '|'};
    static fuzz_read whole, small, cut;
    const char *path;
    char delim;
    int header, shards;
    size_t window;
    if (size < 2) return 0;
    delim = delims[data[0] & 3];
    header = (data[0] >> 2) & 1;
    shards = 1 + ((data[0] >> 3) & 3);
    window = 1 + (size_t)data[1];
    path = fuzz_path(data + 2, size - 2);
    fuzz_read_csv(&whole, path, delim, header, 1, size + 1);
    fuzz_read_csv(&small, path, delim, header, 1, window);
    if (whole.r != small.r || strcmp(whole.err, small.err))
        fprintf(stderr, "whole: %d %s\nsmall window: %d %s\n", whole.r, whole.err, small.r, small.err);
    FUZZ_CHECK(whole.r == small.r && !strcmp(whole.err, small.err));
    if (whole.r == GLEAM_OK) FUZZ_CHECK(fuzz_same_rows(&whole, &small));
    else FUZZ_CHECK(whole.r == GLEAM_ERR_INPUT && strstr(whole.err, "malformed CSV"));
    if (shards > 1) {
        fuzz_read_csv(&cut, path, delim, header, shards, window);
        if (whole.r == GLEAM_OK && cut.r != GLEAM_OK) fprintf(stderr, "in %d shards: %s\n", shards, cut.err);
        if (whole.r == GLEAM_OK) FUZZ_CHECK(cut.r == GLEAM_OK && fuzz_same_rows(&whole, &cut));
        else FUZZ_CHECK(cut.r == GLEAM_OK || cut.r == GLEAM_ERR_INPUT);
    }
    return 0;
}
