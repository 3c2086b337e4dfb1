/* output.c: where rows end: formatted lines (printlnf, TSV, CSV) on stdout or in a file,
   a user callback, or memory. Each task formats into its own buffer and hands full
   buffers to the step's sink, which writes them one at a time; for an ordered dataset the
   sink writes shard 0's output, then shard 1's, and so on, keeping later shards' buffers
   until their turn: in memory up to a megabyte each, then in a spill file. */
#include "internal.h"

struct gleam__sink {
    gleam__step *step;
    int fd, own_fd;
    int ordered, nshards, next;
    pthread_mutex_t mu;
    gleam__buf *pending;    /* by shard, until its turn */
    gleam__spill **parked;  /* by shard: pending output that did not fit in memory */
    char *finished;
    gleam_result err;
};

/* >>format: printlnf ----------------------------------------------------------------------- */

static gleam_result gleam__parse_format(gleam_flow *f, gleam__step *s) {
    const char *p = s->format_text;
    int cap = 8;
    s->fmt = (gleam__fmt *)gleam__calloc((size_t)cap, sizeof *s->fmt);
    if (!s->fmt) goto nomem;
    while (*p) {
        gleam__fmt *x;
        if (s->nfmt == cap) {
            gleam__fmt *g = (gleam__fmt *)gleam__realloc(s->fmt, (size_t)cap * 2 * sizeof *g);
            if (!g) goto nomem;
            s->fmt = g;
            cap *= 2;
        }
        x = &s->fmt[s->nfmt++];
        memset(x, 0, sizeof *x);
        x->width = x->prec = -1;
        if (*p != '%' || p[1] == '%') { /* literal text; "%%" is one '%' */
            x->text = p;
            if (*p == '%') {
                x->len = 1;
                p += 2;
            } else {
                const char *q = strchr(p, '%');
                x->len = q ? (size_t)(q - p) : strlen(p);
                p += x->len;
            }
            continue;
        }
        {
            const char *start = p++;
            size_t n = 0;
            while (*p && strchr("-+ #0", *p)) x->left |= *p++ == '-';
            if (*p >= '0' && *p <= '9') x->width = (int)strtol(p, (char **)&p, 10);
            if (*p == '.') {
                p++;
                x->prec = (*p >= '0' && *p <= '9') ? (int)strtol(p, (char **)&p, 10) : 0;
            }
            if (!*p || !strchr("svdifFeEgGxX", *p)) {
                gleam__flow_fail(f, GLEAM_ERR_ARG, "step %d printlnf: \"%.*s\" is not a conversion this format knows (%%s %%v %%d %%f %%e %%g %%x)",
                                 s->id, (int)(p - start + (*p ? 1 : 0)), start);
                return GLEAM_ERR_ARG;
            }
            x->conv = *p == 'i' ? 'd' : *p;
            n = (size_t)(p - start);
            if (n + 4 > sizeof x->spec) {
                gleam__flow_fail(f, GLEAM_ERR_ARG, "step %d printlnf: conversion \"%.*s\" is too long", s->id, (int)n + 1, start);
                return GLEAM_ERR_ARG;
            }
            memcpy(x->spec, start, n);
            if (x->conv == 'd' || x->conv == 'x' || x->conv == 'X') x->spec[n++] = 'l', x->spec[n++] = 'l';
            x->spec[n++] = x->conv;
            x->spec[n] = 0;
            x->plain = !strcmp(x->spec, "%lld");
            p++;
        }
    }
    return GLEAM_OK;
nomem:
    gleam__flow_fail(f, GLEAM_ERR_NOMEM, "out of memory");
    return GLEAM_ERR_NOMEM;
}

/* Append printf(spec, x) to b. */
static int gleam__buf_printf(gleam__buf *b, const char *spec, int is_int, long long i, double d) {
    int n = is_int ? snprintf(NULL, 0, spec, i) : snprintf(NULL, 0, spec, d);
    if (n < 0 || gleam__buf_reserve(b, (size_t)n + 1)) return -1;
    if (is_int) snprintf(b->p + b->len, (size_t)n + 1, spec, i);
    else snprintf(b->p + b->len, (size_t)n + 1, spec, d);
    b->len += (size_t)n;
    return 0;
}

/* gleam__format_row's common case: text, strings and integers by %s, %v or %d, no width or
   precision. The line's room is reserved once and each piece copied without a check.
   GLEAM_ERR_ARG when the row is not that case. */
static gleam_result gleam__format_plain(gleam__buf *b, const gleam__fmt *fmt, int nfmt, const gleam_value *row, int n) {
    size_t need = 1;
    int i, arg = 0;
    char *o;
    for (i = 0; i < nfmt; i++) {
        const gleam__fmt *x = &fmt[i];
        int str = x->conv == 's' || x->conv == 'v';
        if (!x->conv) {
            need += x->len;
            continue;
        }
        if (arg >= n || x->width >= 0 || x->prec >= 0) return GLEAM_ERR_ARG;
        if (str && row[arg].type == GLEAM_BYTES) need += row[arg].len;
        else if ((str || x->plain) && row[arg].type == GLEAM_INT) need += 20;
        else return GLEAM_ERR_ARG;
        arg++;
    }
    if (b->cap - b->len < need && gleam__buf_reserve(b, need)) return GLEAM_ERR_NOMEM;
    o = b->p + b->len;
    for (i = 0, arg = 0; i < nfmt; i++) {
        const gleam__fmt *x = &fmt[i];
        const gleam_value *v = &row[arg];
        if (!x->conv) {
            memcpy(o, x->text, x->len);
            o += x->len;
            continue;
        }
        arg++;
        if (v->type == GLEAM_BYTES) {
            if (v->len) memcpy(o, v->u.s, v->len);
            o += v->len;
        } else {
            o += gleam__int_digits(o, v->u.i);
        }
    }
    *o++ = '\n';
    b->len = (size_t)(o - b->p);
    return GLEAM_OK;
}

static gleam_result gleam__format_row(gleam__buf *b, const gleam__fmt *fmt, int nfmt, const gleam_value *row, int n) {
    int i, arg = 0;
    gleam_result r = gleam__format_plain(b, fmt, nfmt, row, n);
    if (r != GLEAM_ERR_ARG) return r;
    for (i = 0; i < nfmt; i++) {
        const gleam__fmt *x = &fmt[i];
        int bad = 0;
        if (!x->conv) {
            bad = gleam__buf_add(b, x->text, x->len);
        } else if (arg >= n) {
            char miss[32];
            int k = gleam__fmt_into(miss, sizeof miss, "%%!%c(MISSING)", x->conv);
            bad = gleam__buf_add(b, miss, (size_t)k);
        } else {
            gleam_value v = row[arg++];
            switch (x->conv) {
            case 's':
            case 'v': {
                size_t at = b->len, len, pad;
                if (gleam__value_text(b, v)) return GLEAM_ERR_NOMEM;
                len = b->len - at;
                if (x->prec >= 0 && (size_t)x->prec < len) b->len = at + (len = (size_t)x->prec);
                if (x->width > 0 && (size_t)x->width > len) {
                    pad = (size_t)x->width - len;
                    if (gleam__buf_reserve(b, pad)) return GLEAM_ERR_NOMEM;
                    if (!x->left) memmove(b->p + at + pad, b->p + at, len);
                    memset(x->left ? b->p + at + len : b->p + at, ' ', pad);
                    b->len += pad;
                }
                break;
            }
            case 'd':
                if (x->plain) { /* no printf */
                    bad = gleam__int_text(b, gleam_to_int64(v));
                    break;
                }
                bad = gleam__buf_printf(b, x->spec, 1, (long long)gleam_to_int64(v), 0);
                break;
            case 'x': case 'X': bad = gleam__buf_printf(b, x->spec, 1, (long long)gleam_to_int64(v), 0); break;
            default: bad = gleam__buf_printf(b, x->spec, 0, 0, gleam_to_double(v)); break;
            }
        }
        if (bad) return GLEAM_ERR_NOMEM;
    }
    return gleam__buf_add(b, "\n", 1) ? GLEAM_ERR_NOMEM : GLEAM_OK;
}

/* A TSV or CSV line for the row. */
static gleam_result gleam__delimited_row(gleam__buf *b, const gleam_value *row, int n, int csv) {
    int i;
    for (i = 0; i < n; i++) {
        size_t at;
        if (i && gleam__buf_add(b, csv ? "," : "\t", 1)) return GLEAM_ERR_NOMEM;
        at = b->len;
        if (gleam__value_text(b, row[i])) return GLEAM_ERR_NOMEM;
        if (csv) {
            size_t len = b->len - at, k, quotes = 0;
            int need = 0;
            for (k = at; k < b->len; k++) {
                char c = b->p[k];
                need |= c == ',' || c == '"' || c == '\n' || c == '\r';
                quotes += c == '"';
            }
            if (need) { /* RFC 4180: quote the field, double its quotes */
                size_t src, dst;
                if (gleam__buf_reserve(b, quotes + 2)) return GLEAM_ERR_NOMEM;
                dst = at + len + quotes + 2;
                b->p[--dst] = '"';
                for (src = at + len; src-- > at;) {
                    b->p[--dst] = b->p[src];
                    if (b->p[src] == '"') b->p[--dst] = '"';
                }
                b->p[--dst] = '"';
                b->len = at + len + quotes + 2;
            }
        }
    }
    return gleam__buf_add(b, "\n", 1) ? GLEAM_ERR_NOMEM : GLEAM_OK;
}

/* >>sinks ----------------------------------------------------------------------------------- */

static void gleam__sink_free(gleam__sink *s) {
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
    if (s->own_fd && s->fd >= 0) close(s->fd);
    pthread_mutex_destroy(&s->mu);
    gleam__free(s);
}

static gleam_result gleam__sinks_open(gleam__job *job) {
    gleam__plan *p = job->plan;
    int i;
    for (i = 0; i < p->flow->nsteps; i++) {
        gleam__step *st = p->flow->steps[i];
        gleam__sink *s;
        if (gleam__step_class(st->kind) != GLEAM__OUTPUT) continue;
        if (!(s = (gleam__sink *)gleam__calloc(1, sizeof *s))) return GLEAM_ERR_NOMEM;
        pthread_mutex_init(&s->mu, NULL);
        p->sinks[st->id] = s;
        s->step = st;
        s->fd = 1;
        s->nshards = st->in[0]->nshards;
        s->ordered = st->in[0]->ordered && s->nshards > 1;
        if (s->ordered && (!(s->pending = (gleam__buf *)gleam__calloc((size_t)s->nshards, sizeof *s->pending)) ||
                           !(s->parked = (gleam__spill **)gleam__calloc((size_t)s->nshards, sizeof *s->parked)) ||
                           !(s->finished = (char *)gleam__calloc((size_t)s->nshards, 1))))
            return GLEAM_ERR_NOMEM;
        if (st->path) {
            char label[128];
            struct stat sb;
            if (stat(st->path, &sb) == 0 && gleam__is_input(p, sb.st_dev, sb.st_ino)) {
                gleam__step_label(st, label, sizeof label);
                gleam__fmt_into(job->errmsg, sizeof job->errmsg, "%s: %s is also an input of this flow", label, st->path);
                job->err = GLEAM_ERR_ARG;
                return GLEAM_ERR_ARG;
            }
            s->fd = open(st->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
            if (s->fd < 0) {
                gleam__step_label(st, label, sizeof label);
                gleam__fmt_into(job->errmsg, sizeof job->errmsg, "%s: cannot create %s: %s", label, st->path, strerror(errno));
                job->err = GLEAM_ERR_IO;
                return GLEAM_ERR_IO;
            }
            s->own_fd = 1;
        }
    }
    return GLEAM_OK;
}

static gleam_result gleam__sinks_close(gleam__job *job) {
    gleam__plan *p = job->plan;
    gleam_result r = GLEAM_OK;
    int i;
    for (i = 1; i <= p->nsteps; i++) {
        gleam__sink *s = p->sinks[i];
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
        if (gleam__buf_add(&st->rows->data, p, len)) return gleam__nomem(op);
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
            r = gleam__call_user_row(op, st->fn->u.row, v.v, v.n);
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
    gleam__sink *s = op->task->job->plan->sinks[op->node->step->id];
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
    case GLEAM__PRINTF: r = gleam__format_row(&o->buf, st->fmt, st->nfmt, row, n); break;
    case GLEAM__WRITE_TSV: r = gleam__delimited_row(&o->buf, row, n, 0); break;
    case GLEAM__WRITE_CSV: r = gleam__delimited_row(&o->buf, row, n, 1); break;
    default: {
        gleam__sink *s = op->task->job->plan->sinks[st->id];
        if (st->kind == GLEAM__OUTPUT_ROW && !s->ordered) {
            /* call back now, one call at a time, so an error names the input line */
            pthread_mutex_lock(&s->mu);
            r = gleam__call_user_row(op, st->fn->u.row, row, n);
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

static gleam_result gleam__out_finish(gleam__op *op) {
    gleam__outop *o = (gleam__outop *)op;
    gleam__sink *s = op->task->job->plan->sinks[op->node->step->id];
    int shard = op->task->shard + op->node->offset;
    gleam_result r = gleam__out_flush(o);
    if (r < 0 || !s->ordered) return r;
    pthread_mutex_lock(&s->mu);
    s->finished[shard] = 1;
    while (s->next < s->nshards && s->finished[s->next]) {
        if (++s->next < s->nshards && r >= 0) r = gleam__unpark(op, s, s->next);
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

static void gleam__outop_free(gleam__op *op) { gleam__buf_free(&((gleam__outop *)op)->buf); }

static gleam__op *gleam__make_output(gleam__task *t, gleam__node *node) {
    gleam__op *op = gleam__op_alloc(t, node, sizeof(gleam__outop));
    if (!op) return NULL;
    op->push = gleam__out_push;
    op->finish = gleam__out_finish;
    op->free = gleam__outop_free;
    return op;
}
