/* source.c: the operators at the root of a source's task: the lines of a read step's
   pieces (text and TSV here, CSV in csv.c), rows from memory, rows from a generator.
   Rows point into the read buffer and are never copied. */
#include "io/io.h"

static void gleam__source_free(gleam__op *op) {
    gleam__source *s = (gleam__source *)op;
    gleam__free(s->rd.buf);
    gleam__buf_free(&s->unq);
}

GLEAM__PRIV gleam__op *gleam__make_source(gleam__task *t, gleam__node *node) {
    gleam__op *op = gleam__op_alloc(t, node, sizeof(gleam__source));
    if (!op) return NULL;
    op->free = gleam__source_free;
    op->ctx.source = 1; /* a generator's gleam_emit counts its rows as read */
    ((gleam__source *)op)->rd.op = op;
    return op;
}

/* Lines (text and TSV) of one segment. */
static gleam_result gleam__read_lines(gleam__source *src, const gleam__seg *sg, const char *path) {
    gleam__op *op = &src->op;
    gleam__reader *rd = &src->rd;
    const gleam__step *s = op->node->step;
    gleam__task *t = op->task;
    size_t at = 0;          /* start of the current line in buf */
    int skip_header = s->header && sg->start == 0, tsv = s->format == GLEAM_FORMAT_TSV, e;
    gleam_result r;
    if (!sg->stream && sg->start > 0) { /* the line under way at `start` belongs to the shard before */
        rd->base = sg->start - 1;
        if ((e = gleam__reader_fill(rd, 0))) goto ioerr;
        for (;;) {
            char *nl = rd->len > at ? (char *)memchr(rd->buf + at, '\n', rd->len - at) : NULL;
            if (nl) {
                at = (size_t)(nl - rd->buf) + 1;
                break;
            }
            if (rd->eof) return GLEAM_OK;
            at = rd->len;
            if ((e = gleam__reader_fill(rd, at))) goto ioerr;
            at = 0;
        }
    } else {
        rd->base = 0;
        if ((e = gleam__reader_fill(rd, 0))) goto ioerr;
    }
    for (;;) {
        char *nl;
        size_t len;
        if (rd->base + at >= sg->end) return GLEAM_OK;
        nl = rd->len > at ? (char *)memchr(rd->buf + at, '\n', rd->len - at) : NULL;
        if (!nl) {
            if (rd->eof) {
                if (at == rd->len) return GLEAM_OK;
                nl = rd->buf + rd->len; /* a last line without '\n' */
            } else {
                if (gleam__aborted(t->job)) return GLEAM_ERR_INTERNAL;
                if ((e = gleam__reader_fill(rd, at))) goto ioerr;
                at = 0;
                continue;
            }
        }
        len = (size_t)(nl - (rd->buf + at));
        t->in_path = path;
        t->in_off = rd->base + at;
        if (skip_header) {
            skip_header = 0;
        } else if (!tsv) {
            gleam_value v = gleam_bytes(rd->buf + at, len);
            if ((r = gleam__source_emit(op, &v, 1)) != GLEAM_OK) return r;
        } else {
            const char *p = rd->buf + at, *end = p + len;
            int n = 0;
            if (end > p && end[-1] == '\r') end--;
            for (;;) {
                const char *tab = (const char *)memchr(p, s->delim, (size_t)(end - p));
                if (gleam__vals_reserve(&op->vals, n + 1)) return gleam__fail(t, op->node, GLEAM_ERR_NOMEM, "out of memory");
                op->vals.v[n++] = gleam_bytes(p, (size_t)((tab ? tab : end) - p));
                if (!tab) break;
                p = tab + 1;
            }
            if ((r = gleam__source_emit(op, op->vals.v, n)) != GLEAM_OK) return r;
        }
        at = (size_t)(nl - rd->buf) + 1;
        if (at > rd->len) return GLEAM_OK;
    }
ioerr:
    return gleam__fail(t, op->node, GLEAM_ERR_IO, "cannot read %s: %s", path, strerror(e));
}

static gleam_result gleam__run_files(gleam__source *src) {
    gleam__op *op = &src->op;
    gleam__task *t = op->task;
    const gleam__step *s = op->node->step;
    gleam__files *fs = t->job->files[s->id];
    const gleam__seg *sg;
    while ((sg = gleam__next_seg(fs, t->shard))) {
        const char *path = fs->paths[sg->file];
        gleam_result r;
        int fd;
        if (gleam__aborted(t->job)) return GLEAM_ERR_INTERNAL; /* another task failed: its error stands */
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return gleam__fail(t, op->node, GLEAM_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        src->rd.fd = fd;
        src->rd.stream = sg->stream;
        src->rd.counted = sg->stream ? 0 : sg->start;
        src->rd.limit = sg->stream ? (uint64_t)-1 : sg->end;
        src->rd.eof = 0;
        src->rd.len = 0;
        t->in_stream = sg->stream;
        r = s->format == GLEAM_FORMAT_CSV ? gleam__read_csv(src, sg, path) : gleam__read_lines(src, sg, path);
        close(fd);
        t->in_path = NULL;
        if (r != GLEAM_OK) return r;
    }
    gleam__free(src->rd.buf); /* the task's other steps may hold memory long after this */
    src->rd.buf = NULL;
    src->rd.cap = 0;
    return GLEAM_OK;
}

static gleam_result gleam__run_values(gleam__op *op) {
    gleam__task *t = op->task;
    const gleam__step *s = op->node->step;
    size_t n = s->nrows, nsh = (size_t)s->nshards, sh = (size_t)t->shard;
    size_t lo = n * sh / nsh, hi = n * (sh + 1) / nsh, i;
    const char *p = s->values + t->job->starts[s->id][sh], *end = s->values + s->values_len;
    gleam_result r;
    for (i = lo; i < hi; i++) {
        if (gleam__unpack_row(&p, end, &op->vals) != GLEAM_OK)
            return gleam__fail(t, op->node, GLEAM_ERR_INTERNAL, "in-memory rows are damaged");
        if ((r = gleam__source_emit(op, op->vals.v, op->vals.n)) != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

static gleam_result gleam__run_generate(gleam__op *op) {
    gleam__task *t = op->task;
    const gleam__step *s = op->node->step;
    gleam_result r;
    op->ctx.in_call = 1;
    t->has_usermsg = 0;
    r = op->fn->u.source(&op->ctx, t->shard, s->nshards);
    op->ctx.in_call = 0;
    gleam__arena_reset(&op->ctx.scratch);
    if (r < 0 && !gleam__aborted(t->job)) {
        if (t->has_usermsg) return gleam__fail(t, op->node, r, "%s", t->usermsg);
        return gleam__fail(t, op->node, r, "source \"%s\" returned %s", s->fn_name, gleam_result_str(r));
    }
    return r < 0 ? r : GLEAM_OK;
}

GLEAM__PRIV gleam_result gleam__run_source(gleam__task *t) {
    gleam__op *op = t->ops[0];
    gleam_result r;
    switch (op->node->step->kind) {
    case GLEAM__READ: r = gleam__run_files((gleam__source *)op); break;
    case GLEAM__VALUES: r = gleam__run_values(op); break;
    default: r = gleam__run_generate(op); break;
    }
    return r == GLEAM_DONE ? GLEAM_OK : r;
}
