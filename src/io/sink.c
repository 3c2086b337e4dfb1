/* sink.c: where rows end: formatted lines (printlnf, TSV, CSV) on stdout or in a file, a
   user callback, or memory. Each task formats into its own buffer and hands full buffers
   to the step's sink, which writes them one at a time; for an ordered dataset the sink
   writes shard 0's output, then shard 1's, and so on, keeping later shards' buffers until
   their turn: in memory up to a megabyte each, then in a spill file. */
#include "io/io.h"

struct gleam__sink {
    const gleam__step *step;
    gleam__fmt *fmt;        /* printlnf: the format, parsed */
    int nfmt;
    gleam_rows *rows;       /* collect: where the rows go */
    int fd, own_fd;
    int ordered, nshards, next;
    pthread_mutex_t mu;
    gleam__buf *pending;    /* by shard, until its turn */
    gleam__spill **parked;  /* by shard: pending output that did not fit in memory */
    char *finished;
    gleam_result err;
};

GLEAM__PRIV void gleam__sink_free(gleam__sink *s) {
    int i;
    if (!s) return;
    if (s->pending)
        for (i = 0; i < s->nshards; i++) gleam__buf_free(&s->pending[i]);
    if (s->parked)
        for (i = 0; i < s->nshards; i++)
            if (s->parked[i]) {
                gleam__spill_close(s->parked[i]);
                gleam__free(s->parked[i]);
            }
    gleam__free(s->pending);
    gleam__free(s->parked);
    gleam__free(s->finished);
    gleam__free(s->fmt);
    if (s->own_fd && s->fd >= 0) close(s->fd);
    pthread_mutex_destroy(&s->mu);
    gleam__free(s);
}

GLEAM__PRIV gleam_result gleam__sinks_open(gleam__job *job, const char *only) {
    const gleam__plan *p = job->plan;
    char label[128];
    int i;
    if (!(job->sinks = (gleam__sink **)gleam__calloc((size_t)p->nsteps + 1, sizeof *job->sinks))) goto nomem;
    for (i = 0; i < p->nsteps; i++) {
        const gleam__step *st = &p->steps[i];
        gleam__sink *s;
        if (gleam__step_class(st->kind) != GLEAM__OUTPUT || (only && !only[st->id])) continue;
        if (!(s = (gleam__sink *)gleam__calloc(1, sizeof *s))) goto nomem;
        pthread_mutex_init(&s->mu, NULL);
        job->sinks[st->id] = s;
        s->step = st;
        s->fd = 1;
        s->nshards = st->nshards;
        s->ordered = st->ordered && s->nshards > 1;
        s->rows = job->rows ? job->rows[st->id] : NULL;
        if (s->ordered && (!(s->pending = (gleam__buf *)gleam__calloc((size_t)s->nshards, sizeof *s->pending)) ||
                           !(s->parked = (gleam__spill **)gleam__calloc((size_t)s->nshards, sizeof *s->parked)) ||
                           !(s->finished = (char *)gleam__calloc((size_t)s->nshards, 1))))
            goto nomem;
        if (st->kind == GLEAM__PRINTF) {
            char err[256];
            gleam_result r = gleam__parse_format(st->format_text ? st->format_text : "", &s->fmt, &s->nfmt, err, sizeof err);
            if (r != GLEAM_OK) {
                gleam__step_label(st, label, sizeof label);
                gleam__job_fail(job, r, "%s: %s", label, err);
                return r;
            }
        }
        if (st->kind == GLEAM__COLLECT && !s->rows) {
            gleam__step_label(st, label, sizeof label);
            gleam__job_fail(job, GLEAM_ERR_INTERNAL, "%s: nowhere to keep the rows in this process", label);
            return GLEAM_ERR_INTERNAL;
        }
        if (st->path) {
            struct stat sb;
            if (stat(st->path, &sb) == 0 && gleam__is_input(job, sb.st_dev, sb.st_ino)) {
                gleam__step_label(st, label, sizeof label);
                gleam__job_fail(job, GLEAM_ERR_ARG, "%s: %s is also an input of this flow", label, st->path);
                return GLEAM_ERR_ARG;
            }
            s->fd = open(st->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
            if (s->fd < 0) {
                gleam__step_label(st, label, sizeof label);
                gleam__job_fail(job, GLEAM_ERR_IO, "%s: cannot create %s: %s", label, st->path, strerror(errno));
                return GLEAM_ERR_IO;
            }
            s->own_fd = 1;
        }
    }
    return GLEAM_OK;
nomem:
    gleam__job_fail(job, GLEAM_ERR_NOMEM, "out of memory");
    return GLEAM_ERR_NOMEM;
}

GLEAM__PRIV gleam_result gleam__sinks_close(gleam__job *job) {
    gleam_result r = GLEAM_OK;
    int i;
    for (i = 1; job->sinks && i <= job->plan->nsteps; i++) {
        gleam__sink *s = job->sinks[i];
        if (!s || !s->own_fd) continue;
        if (close(s->fd) && r == GLEAM_OK) {
            gleam__fmt_into(job->errmsg, sizeof job->errmsg, "cannot write %s: %s", s->step->path, strerror(errno));
            r = GLEAM_ERR_IO;
        }
        s->own_fd = 0;
    }
    return r;
}

typedef struct gleam__outop {
    gleam__op op;
    gleam__buf buf;
} gleam__outop;

/* Write or hand over a buffer of output (the caller holds the sink's lock). */
static gleam_result gleam__deliver(gleam__op *op, gleam__sink *s, const char *p, size_t len) {
    const gleam__step *st = s->step;
    if (st->kind == GLEAM__COLLECT) {
        if (gleam__buf_add(&s->rows->data, p, len)) return gleam__nomem(op);
        return GLEAM_OK;
    }
    if (st->kind == GLEAM__OUTPUT_ROW) { /* rows that waited for their turn: no input line */
        const char *end = p + len, *in_path = op->task->in_path;
        gleam_result r = GLEAM_OK;
        gleam__vals v = {0, 0, 0};
        op->task->in_path = NULL;
        while (p < end && r >= 0) {
            if (gleam__unpack_row(&p, end, &v) != GLEAM_OK) {
                r = gleam__fail(op->task, op->node, GLEAM_ERR_INTERNAL, "an output row is damaged");
                break;
            }
            r = gleam__call_user_row(op, op->fn->u.row, v.v, v.n);
        }
        op->task->in_path = in_path;
        gleam__vals_free(&v);
        return r < 0 ? r : GLEAM_OK;
    }
    if (gleam__term_write(op->task->job, s->fd, p, len))
        return gleam__fail(op->task, op->node, GLEAM_ERR_IO, "cannot write %s: %s", st->path ? st->path : "standard output",
                           strerror(errno));
    return GLEAM_OK;
}

/* Keep a later shard's output until its turn (the caller holds the sink's lock): in memory,
   and past a megabyte in a spill file, as records of whole buffers. */
static gleam_result gleam__park(gleam__op *op, gleam__sink *s, int shard, const char *p, size_t len) {
    gleam__buf *b = &s->pending[shard];
    gleam__spill *f = s->parked[shard];
    if (gleam__buf_add(b, p, len)) return gleam__nomem(op);
    if (b->len < ((size_t)1 << 20)) return GLEAM_OK;
    if (!f) {
        if (!(f = (gleam__spill *)gleam__calloc(1, sizeof *f))) return gleam__nomem(op);
        if (gleam__spill_open(f, op->task->job->opt.tmpdir)) {
            gleam__free(f);
            return gleam__spill_fail(op, "make");
        }
        s->parked[shard] = f;
    }
    if (gleam__spill_record(f, b->p, b->len)) return gleam__spill_fail(op, "write");
    b->len = 0;
    return GLEAM_OK;
}

/* Deliver what shard `shard` parked, in order, and forget it (the caller holds the lock). */
static gleam_result gleam__unpark(gleam__op *op, gleam__sink *s, int shard) {
    gleam__buf *b = &s->pending[shard];
    gleam__spill *f = s->parked[shard];
    gleam_result r = GLEAM_OK;
    int own = op->ctx.shard;
    op->ctx.shard = shard; /* callbacks see the shard the rows came from */
    if (f) {
        gleam__recs rd;
        const char *p;
        size_t n;
        int got;
        if (gleam__spill_end(f)) r = gleam__spill_fail(op, "write");
        gleam__recs_init(&rd, f, 0, f->size);
        while (r >= 0 && (got = gleam__recs_next(&rd, &p, &n)) != 0) {
            if (got < 0) r = gleam__spill_fail(op, "read");
            else r = gleam__deliver(op, s, p, n);
        }
        gleam__recs_free(&rd);
        gleam__spill_close(f);
        gleam__free(f);
        s->parked[shard] = NULL;
    }
    if (r >= 0 && b->len) r = gleam__deliver(op, s, b->p, b->len);
    gleam__buf_free(b);
    op->ctx.shard = own;
    return r;
}

static gleam_result gleam__out_flush(gleam__outop *o) {
    gleam__op *op = &o->op;
    gleam__sink *s = op->task->job->sinks[op->node->step->id];
    int shard = op->task->shard + op->node->offset;
    gleam_result r = GLEAM_OK;
    if (!o->buf.len) return GLEAM_OK;
    if (op->node->step->kind != GLEAM__COLLECT && op->node->step->kind != GLEAM__OUTPUT_ROW) op->bytes += o->buf.len;
    pthread_mutex_lock(&s->mu);
    if (!s->ordered || shard == s->next) r = gleam__deliver(op, s, o->buf.p, o->buf.len);
    else r = gleam__park(op, s, shard, o->buf.p, o->buf.len);
    pthread_mutex_unlock(&s->mu);
    o->buf.len = 0;
    return r;
}

static gleam_result gleam__out_push(gleam__op *op, const gleam_value *row, int n) {
    gleam__outop *o = (gleam__outop *)op;
    const gleam__step *st = op->node->step;
    gleam_result r;
    switch (st->kind) {
    case GLEAM__PRINTF: {
        const gleam__sink *s = op->task->job->sinks[st->id];
        r = gleam__format_row(&o->buf, s->fmt, s->nfmt, row, n);
        break;
    }
    case GLEAM__WRITE_TSV: r = gleam__delimited_row(&o->buf, row, n, 0); break;
    case GLEAM__WRITE_CSV: r = gleam__delimited_row(&o->buf, row, n, 1); break;
    default: {
        gleam__sink *s = op->task->job->sinks[st->id];
        if (st->kind == GLEAM__OUTPUT_ROW && !s->ordered) {
            /* call back now, one call at a time, so an error names the input line */
            pthread_mutex_lock(&s->mu);
            r = gleam__call_user_row(op, op->fn->u.row, row, n);
            pthread_mutex_unlock(&s->mu);
            return r < 0 ? r : GLEAM_OK;
        }
        /* rows to collect, or callbacks waiting for their shard's turn */
        r = gleam__pack_row(&o->buf, row, n) ? GLEAM_ERR_NOMEM : GLEAM_OK;
        break;
    }
    }
    if (r != GLEAM_OK) return gleam__fail(op->task, op->node, r, "out of memory");
    return o->buf.len >= 64 * 1024 ? gleam__out_flush(o) : GLEAM_OK;
}

GLEAM__PRIV gleam_result gleam__output_text(gleam__op *op, const char *p, size_t n) {
    gleam__outop *o = (gleam__outop *)op;
    GLEAM_ASSERT(gleam__is_text_output(op->node->step->kind));
    if (gleam__buf_add(&o->buf, p, n)) return gleam__fail(op->task, op->node, GLEAM_ERR_NOMEM, "out of memory");
    return o->buf.len >= 64 * 1024 ? gleam__out_flush(o) : GLEAM_OK;
}

static gleam_result gleam__out_finish(gleam__op *op) {
    gleam__outop *o = (gleam__outop *)op;
    gleam__sink *s = op->task->job->sinks[op->node->step->id];
    int shard = op->task->shard + op->node->offset;
    gleam_result r = gleam__out_flush(o);
    if (r < 0 || !s->ordered) return r;
    pthread_mutex_lock(&s->mu);
    GLEAM_ASSERT(shard >= 0 && shard < s->nshards && !s->finished[shard]);
    s->finished[shard] = 1;
    while (s->next < s->nshards && s->finished[s->next]) {
        if (++s->next < s->nshards && r >= 0) r = gleam__unpark(op, s, s->next);
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

static void gleam__outop_free(gleam__op *op) { gleam__buf_free(&((gleam__outop *)op)->buf); }

GLEAM__PRIV gleam__op *gleam__make_output(gleam__task *t, gleam__node *node) {
    gleam__op *op = gleam__op_alloc(t, node, sizeof(gleam__outop));
    if (!op) return NULL;
    op->push = gleam__out_push;
    op->finish = gleam__out_finish;
    op->free = gleam__outop_free;
    return op;
}
