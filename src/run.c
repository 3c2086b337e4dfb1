/* run.c: running a plan: a pool of threads taking work items (one mutex, one condition
   variable), tasks made of fused operators, the first error with its context, and the
   entry points gleam_init and gleam_run. */
#include "internal.h"

/* >>context: what user functions see --------------------------------------------------- */

/* gleam_emit's row has a value of no type: name it. */
GLEAM__OFFPATH gleam_result gleam__emit_untyped(gleam_ctx *c, const gleam_value *row, int n) {
    int i = 0;
    while (i < n - 1 && (unsigned)row[i].type <= GLEAM_LIST) i++;
    return gleam__fail_at(c->task, c->op->node, c->shard, GLEAM_ERR_VALUE, "value %d of an emitted row has no type (%d)",
                          i + 1, (int)row[i].type);
}

/* A generator's row: counted on the progress line. */
GLEAM__OFFPATH gleam_result gleam__emit_generated(gleam_ctx *c, const gleam_value *row, int n) {
    gleam_result r = gleam__emit(c->op, row, n);
    gleam__progress_rows(c->op);
    return r;
}

GLEAM_API gleam_result gleam_emit(gleam_ctx *c, const gleam_value *row, int n) {
    int i, bad = 0;
    if (!c || !c->op || n < 0 || (n > 0 && !row)) return GLEAM_ERR_ARG;
    if (n == 1) bad = (unsigned)row[0].type > GLEAM_LIST; /* one value, or two: no loop */
    else if (n == 2) bad = ((unsigned)row[0].type > GLEAM_LIST) | ((unsigned)row[1].type > GLEAM_LIST);
    else
        for (i = 0; i < n; i++) bad |= (unsigned)row[i].type > GLEAM_LIST;
    if (bad) return gleam__emit_untyped(c, row, n);
    if (c->source) return gleam__emit_generated(c, row, n);
    return gleam__emit(c->op, row, n);
}

GLEAM_API gleam_result gleam_fail(gleam_ctx *c, const char *fmt, ...) {
    va_list ap;
    if (!c || !c->task) return GLEAM_ERR_USER;
    va_start(ap, fmt);
    gleam__vfmt(c->task->usermsg, sizeof c->task->usermsg, fmt ? fmt : "failed", ap);
    va_end(ap);
    c->task->has_usermsg = 1;
    return GLEAM_ERR_USER;
}

GLEAM_API void *gleam_ctx_user(gleam_ctx *c) { return c && c->op ? c->op->node->step->user : NULL; }

GLEAM_API int gleam_ctx_shard(gleam_ctx *c) { return c ? c->shard : 0; }

GLEAM_API int gleam_ctx_shards(gleam_ctx *c) {
    const gleam__step *s;
    if (!c || !c->op) return 0;
    s = c->op->node->step;
    return s->out ? s->out->nshards : s->in[0]->nshards;
}

GLEAM_API void *gleam_scratch(gleam_ctx *c, size_t n) {
    if (!c) return NULL;
    c->in_call |= 2; /* reset the scratch arena when the call returns */
    return gleam__arena_alloc(&c->scratch, n ? n : 1);
}

/* gleam__emit to more than one child. */
GLEAM__OFFPATH gleam_result gleam__emit_all(gleam__op *op, const gleam_value *row, int n) {
    int i;
    if (op->ndone < op->nkids) op->nout++;
    for (i = 0; i < op->nkids; i++) {
        gleam__op *k = op->kids[i];
        gleam_result r;
        if (k->done) continue;
        k->nin++;
        r = k->push(k, row, n);
        if (r != GLEAM_OK) {
            if (r < 0) return r;
            k->done = 1;
            op->ndone++;
        }
    }
    return op->ndone == op->nkids ? GLEAM_DONE : GLEAM_OK;
}

/* Hand a row to every child that still wants rows. GLEAM_DONE once none does. */
static inline gleam_result gleam__emit(gleam__op *op, const gleam_value *row, int n) {
    gleam__op *k;
    gleam_result r;
    if (op->nkids != 1) return gleam__emit_all(op, row, n);
    k = op->kids[0]; /* the usual case: a chain of fused steps */
    if (k->done) return GLEAM_DONE;
    op->nout++; /* rows delivered, for the statistics */
    k->nin++;
    if ((r = k->push(k, row, n)) == GLEAM_OK) return GLEAM_OK;
    if (r < 0) return r;
    k->done = 1;
    op->ndone = 1;
    return GLEAM_DONE;
}

/* A user function's failure (r < 0) as the job's error. */
GLEAM__OFFPATH gleam_result gleam__user_failed(gleam__op *op, gleam_result r) {
    gleam__task *t = op->task;
    if (gleam__aborted(t->job)) return r;
    if (t->has_usermsg) return gleam__fail_at(t, op->node, op->ctx.shard, r, "%s", t->usermsg);
    return gleam__fail_at(t, op->node, op->ctx.shard, r, "%s \"%s\" returned %s", gleam__fn_kind_name(op->node->step->fn->kind),
                          op->node->step->fn_name, gleam_result_str(r));
}

/* Call a mapper or output function on a row, turning its failure into the job's error. */
static inline gleam_result gleam__call_user_row(gleam__op *op, gleam_row_fn fn, const gleam_value *row, int n) {
    gleam_result r;
    op->ctx.in_call = 1;
    op->task->has_usermsg = 0;
    r = fn(&op->ctx, row, n);
    if (op->ctx.in_call & 2) gleam__arena_reset(&op->ctx.scratch);
    op->ctx.in_call = 0;
    return r < 0 ? gleam__user_failed(op, r) : r;
}

static gleam_result gleam__nomem(gleam__op *op) { return gleam__fail(op->task, op->node, GLEAM_ERR_NOMEM, "out of memory"); }

static gleam_result gleam__op_nopush(gleam__op *op, const gleam_value *row, int n) {
    (void)op; (void)row; (void)n;
    return GLEAM_OK;
}

static gleam_result gleam__op_nofinish(gleam__op *op) {
    (void)op;
    return GLEAM_OK;
}

/* An op of `size` bytes (a gleam__op first), zeroed and tied to its node and task. */
static gleam__op *gleam__op_alloc(gleam__task *t, gleam__node *node, size_t size) {
    gleam__op *op = (gleam__op *)gleam__calloc(1, size);
    if (!op) return NULL;
    op->node = node;
    op->task = t;
    op->push = gleam__op_nopush;
    op->finish = gleam__op_nofinish;
    op->ctx.op = op;
    op->ctx.task = t;
    op->ctx.shard = t->shard + node->offset;
    return op;
}

/* Check that a row of n fields has every field in f. */
static int gleam__check_fields(gleam__op *op, const gleam_fields *f, int n) {
    int i;
    for (i = 0; i < f->n; i++)
        if (f->f[i] > n) {
            gleam__fail(op->task, op->node, GLEAM_ERR_INPUT, "a row has %d field%s; field %d is needed", n,
                        n == 1 ? "" : "s", f->f[i]);
            return -1;
        }
    return 0;
}

/* gleam__pack_key_to for any key but a short string. */
static gleam_result gleam__pack_key_any(gleam__op *op, const gleam_fields *key, const gleam_value *row, int n,
                                        gleam__buf *b, uint64_t *h) {
    size_t from = b->len;
    int i;
    if (key->n == 1 && key->f[0] <= n) { /* one field, packed in place */
        gleam_value v = row[key->f[0] - 1];
        size_t need = gleam__packed_size(v);
        if (b->cap - b->len < need && gleam__buf_reserve(b, need)) return gleam__nomem(op);
        gleam__put_value((unsigned char *)b->p + from, v);
        b->len += need;
        *h = gleam__hash(b->p + from, need);
        return GLEAM_OK;
    }
    if (gleam__check_fields(op, key, n)) return GLEAM_ERR_INPUT;
    for (i = 0; i < key->n; i++)
        if (gleam__pack_value(b, row[key->f[i] - 1]))
            return gleam__nomem(op);
    *h = gleam__hash(b->p + from, b->len - from);
    return GLEAM_OK;
}

/* Append the packed key fields of row to b and hash them (the bytes appended). The
   commonest key, one short string, is packed here, inline, as gleam__put_value packs it. */
static inline gleam_result gleam__pack_key_to(gleam__op *op, const gleam_fields *key, const gleam_value *row, int n,
                                              gleam__buf *b, uint64_t *h) {
    const gleam_value *v;
    unsigned char *k;
    if (key->n != 1 || key->f[0] > n || (v = &row[key->f[0] - 1])->type != GLEAM_BYTES || v->len >= 32)
        return gleam__pack_key_any(op, key, row, n, b, h);
    if (b->cap - b->len < 32 && gleam__buf_reserve(b, 32)) return gleam__nomem(op);
    k = (unsigned char *)b->p + b->len;
    *h = gleam__put_short(k, 0xa0 | v->len, (const unsigned char *)v->u.s, v->len);
    b->len += v->len + 1;
    return GLEAM_OK;
}

/* Pack the key fields of row into op->key and hash them. */
static gleam_result gleam__pack_key(gleam__op *op, const gleam_fields *key, const gleam_value *row,
                                    int n, uint64_t *h) {
    op->key.len = 0;
    return gleam__pack_key_to(op, key, row, n, &op->key, h);
}

/* >>errors --------------------------------------------------------------------------------- */

static int gleam__aborted(gleam__job *job) {
    int a;
    pthread_mutex_lock(&job->mu);
    a = job->aborted;
    pthread_mutex_unlock(&job->mu);
    return a;
}

/* The line number of byte `off` of a file (counting from 1), or 0 if it cannot be read. */
static uint64_t gleam__line_of(const char *path, uint64_t off) {
    char buf[65536];
    uint64_t line = 1, pos = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    while (pos < off) {
        size_t want = (size_t)GLEAM__MIN((uint64_t)sizeof buf, off - pos);
        ssize_t got = read(fd, buf, want), i;
        if (got <= 0) break;
        for (i = 0; i < got; i++) line += buf[i] == '\n';
        pos += (uint64_t)got;
    }
    close(fd);
    return line;
}

/* Record the failure if it is the job's first: the slot is claimed before the message is
   made, since finding the line number rereads the input (never a pipe: it cannot). */
static gleam_result gleam__vfail(gleam__task *t, const gleam__node *where, int shard, gleam_result r, const char *fmt,
                                 va_list ap) {
    gleam__job *job = t->job;
    char msg[GLEAM__ERRMAX], label[160] = "", pos[GLEAM__ERRMAX / 2] = "";
    int first;
    pthread_mutex_lock(&job->mu);
    first = job->err == GLEAM_OK;
    if (first) {
        job->err = r;
        job->aborted = 1;
        pthread_cond_broadcast(&job->cv);
    }
    pthread_mutex_unlock(&job->mu);
    if (!first) return r;
    gleam__vfmt(msg, sizeof msg, fmt, ap);
    if (where) {
        const gleam__step *s = where->step;
        int shards = s->out ? s->out->nshards : s->in[0]->nshards;
        char step[128];
        gleam__step_label(s, step, sizeof step);
        gleam__fmt_into(label, sizeof label, "%s, shard %d of %d", step, shard + 1, shards);
    }
    if (t->in_path) {
        uint64_t line = t->in_stream ? 0 : gleam__line_of(t->in_path, t->in_off);
        if (line) gleam__fmt_into(pos, sizeof pos, "%s%s line %llu", *label ? ", " : "", t->in_path, (unsigned long long)line);
        else gleam__fmt_into(pos, sizeof pos, "%s%s", *label ? ", " : "", t->in_path);
    }
    pthread_mutex_lock(&job->mu);
    if (*label || *pos) gleam__fmt_into(job->errmsg, sizeof job->errmsg, "%s%s: %s", label, pos, msg);
    else gleam__fmt_into(job->errmsg, sizeof job->errmsg, "%s", msg);
    pthread_mutex_unlock(&job->mu);
    gleam__xchg_wake_all(job);
    return r;
}

static gleam_result gleam__fail(gleam__task *t, const gleam__node *where, gleam_result r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    r = gleam__vfail(t, where, t->shard + (where ? where->offset : 0), r, fmt, ap);
    va_end(ap);
    return r;
}

static gleam_result gleam__fail_at(gleam__task *t, const gleam__node *where, int shard, gleam_result r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    r = gleam__vfail(t, where, shard, r, fmt, ap);
    va_end(ap);
    return r;
}

/* >>pool ----------------------------------------------------------------------------------- */

static void gleam__schedule(gleam__job *job, void (*fn)(gleam__job *, void *, int), void *arg, int i) {
    pthread_mutex_lock(&job->mu);
    if (job->qlen == job->qcap) {
        size_t cap = job->qcap ? job->qcap * 2 : 64, k;
        gleam__work *q = (gleam__work *)gleam__malloc(cap * sizeof *q);
        if (!q) { /* cannot queue: stop the job rather than lose work */
            job->err = job->err ? job->err : GLEAM_ERR_NOMEM;
            if (!job->errmsg[0]) gleam__fmt_into(job->errmsg, sizeof job->errmsg, "out of memory");
            job->aborted = 1;
            pthread_cond_broadcast(&job->cv);
            pthread_mutex_unlock(&job->mu);
            gleam__xchg_wake_all(job);
            return;
        }
        for (k = 0; k < job->qlen; k++) q[k] = job->q[(job->qhead + k) % job->qcap];
        gleam__free(job->q);
        job->q = q;
        job->qcap = cap;
        job->qhead = 0;
    }
    job->q[(job->qhead + job->qlen) % job->qcap].fn = fn;
    job->q[(job->qhead + job->qlen) % job->qcap].arg = arg;
    job->q[(job->qhead + job->qlen) % job->qcap].i = i;
    job->qlen++;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
}

/* A task has finished (or given up): one less to wait for. */
static void gleam__task_done(gleam__job *job) {
    pthread_mutex_lock(&job->mu);
    job->remaining--;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
}

static int gleam__job_over(gleam__job *job) {
    if (job->running) return 0;
    if (job->aborted || job->remaining == 0) return 1;
    if (job->qlen == 0) { /* nothing runs, nothing waits, yet tasks remain: a bug, not a hang */
        job->stalled = 1;
        return 1;
    }
    return 0;
}

static void *gleam__worker(void *arg) {
    gleam__job *job = (gleam__job *)arg;
    pthread_mutex_lock(&job->mu);
    for (;;) {
        gleam__work w;
        while (job->qlen == 0 && !gleam__job_over(job)) pthread_cond_wait(&job->cv, &job->mu);
        if (job->qlen == 0) break;
        w = job->q[job->qhead];
        job->qhead = (job->qhead + 1) % job->qcap;
        job->qlen--;
        if (job->aborted) continue; /* drop queued work once the job failed */
        job->running++;
        pthread_mutex_unlock(&job->mu);
        w.fn(job, w.arg, w.i);
        pthread_mutex_lock(&job->mu);
        job->running--;
        pthread_cond_broadcast(&job->cv);
    }
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
    return NULL;
}

/* >>tasks ---------------------------------------------------------------------------------- */

static gleam_result gleam__finish_task(gleam__task *t) {
    int i;
    for (i = 0; i < t->stage->nnodes; i++) {
        gleam__op *op = t->ops[i];
        gleam_result r;
        if (gleam__aborted(t->job)) return GLEAM_ERR_INTERNAL;
        if ((r = op->finish(op)) < 0) return r;
    }
    return GLEAM_OK;
}

static void gleam__source_work(gleam__job *job, void *arg, int i) {
    gleam__task *t = (gleam__task *)arg;
    gleam_result r;
    (void)i;
    t->t0 = gleam__now();
    r = gleam__run_source(t);
    t->in_path = NULL;
    if (r >= 0) r = gleam__finish_task(t);
    if (r < 0 && !gleam__aborted(job)) gleam__fail(t, t->stage->nodes[0], r, "%s", gleam_result_str(r));
    gleam__task_release(t);
    gleam__task_done(job);
}

/* Add a finished task's figures to its steps'. */
static void gleam__stats_take(gleam__task *t) {
    gleam__job *job = t->job;
    const gleam__stage *st = t->stage;
    double t1 = gleam__now(), t0 = t->t0 ? t->t0 : t1;
    int i;
    if (!job->stats) return;
    pthread_mutex_lock(&job->smu);
    for (i = 0; i < st->nnodes; i++) {
        const gleam__op *op = t->ops[i];
        const gleam__step *s = st->nodes[i]->step;
        gleam_step_stats *ss = &job->stats[s->id];
        int cls = gleam__step_class(s->kind);
        if (!op) continue;
        if (cls == GLEAM__SOURCE) job->rows_read += op->nout - op->published; /* what the progress line has not seen */
        /* A wide step has two halves: its producers (a stage's later nodes) take rows in,
           its consumer (the root of the next stage) gives rows out. */
        if (cls != GLEAM__SOURCE && !(cls == GLEAM__WIDE && i == 0)) ss->rows_in += op->nin;
        if (!(cls == GLEAM__WIDE && i > 0)) ss->rows_out += op->nout;
        ss->bytes += op->bytes;
        ss->peak_bytes += op->peak;
        if (!job->span[2 * s->id] || t0 < job->span[2 * s->id]) job->span[2 * s->id] = t0;
        if (t1 > job->span[2 * s->id + 1]) job->span[2 * s->id + 1] = t1;
    }
    job->stage_left[st->id - 1]--;
    pthread_mutex_unlock(&job->smu);
}

static void gleam__task_release(gleam__task *t) {
    int i;
    if (!t->ops) return;
    gleam__stats_take(t);
    for (i = 0; i < t->stage->nnodes; i++) {
        gleam__op *op = t->ops[i];
        if (!op) continue;
        if (op->free) op->free(op);
        gleam__free(op->kids);
        gleam__vals_free(&op->vals);
        gleam__buf_free(&op->key);
        gleam__arena_free(&op->ctx.scratch);
        gleam__free(op);
    }
    gleam__free(t->ops);
    t->ops = NULL;
}

static void gleam__task_free(gleam__task *t) {
    if (!t) return;
    gleam__task_release(t);
    gleam__free(t);
}

static gleam__task *gleam__task_new(gleam__job *job, gleam__stage *st, int shard) {
    gleam__task *t = (gleam__task *)gleam__calloc(1, sizeof *t);
    int i, k;
    if (!t) return NULL;
    t->job = job;
    t->stage = st;
    t->shard = shard;
    if (!(t->ops = (gleam__op **)gleam__calloc((size_t)st->nnodes, sizeof *t->ops))) goto fail;
    for (i = 0; i < st->nnodes; i++) {
        gleam__node *n = st->nodes[i];
        int cls = gleam__step_class(n->step->kind);
        gleam__op *op;
        if (i == 0) op = cls == GLEAM__SOURCE ? gleam__make_source(t, n) : gleam__make_consumer(t, n);
        else if (cls == GLEAM__NARROW) op = gleam__make_narrow(t, n);
        else if (cls == GLEAM__WIDE) op = gleam__make_producer(t, n);
        else op = gleam__make_output(t, n);
        if (!(t->ops[i] = op)) goto fail;
    }
    for (i = 0; i < st->nnodes; i++) {
        gleam__node *n = st->nodes[i];
        gleam__op *op = t->ops[i];
        if (!n->nkids) continue;
        if (!(op->kids = (gleam__op **)gleam__calloc((size_t)n->nkids, sizeof *op->kids))) goto fail;
        for (k = 0; k < n->nkids; k++) op->kids[k] = t->ops[n->kids[k]->index];
        op->nkids = n->nkids;
    }
    return t;
fail:
    gleam__task_free(t);
    return NULL;
}

/* Does stage st feed the right side of a join or cogroup? Such stages run first, so that
   the left side can be probed as it streams instead of waiting in queues. */
static int gleam__feeds_build_side(const gleam__stage *st) {
    int i;
    for (i = 1; i < st->nnodes; i++) {
        const gleam__node *n = st->nodes[i];
        if ((n->step->kind == GLEAM__JOIN || n->step->kind == GLEAM__COGROUP) && n->side == 1) return 1;
    }
    return 0;
}

/* >>progress and statistics --------------------------------------------------------------- */

static double gleam__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void gleam__progress_add(gleam__job *job, uint64_t rows, uint64_t bytes) {
    pthread_mutex_lock(&job->smu);
    job->rows_read += rows;
    job->bytes_read += bytes;
    pthread_mutex_unlock(&job->smu);
}

static void gleam__progress_rows(gleam__op *op) {
    if (op->nout - op->published < 4096) return;
    gleam__progress_add(op->task->job, op->nout - op->published, 0);
    op->published = op->nout;
}

/* "812 B", "1.5 KB", "12.3 MB", "1.20 GB" */
static const char *gleam__fmt_bytes(char *buf, size_t cap, double x) {
    if (x < 1024) gleam__fmt_into(buf, cap, "%.0f B", x);
    else if (x < 1024.0 * 1024) gleam__fmt_into(buf, cap, "%.1f KB", x / 1024);
    else if (x < 1024.0 * 1024 * 1024) gleam__fmt_into(buf, cap, "%.1f MB", x / (1024.0 * 1024));
    else gleam__fmt_into(buf, cap, "%.2f GB", x / (1024.0 * 1024 * 1024));
    return buf;
}

/* "950", "12.3 k", "4.56 M" */
static const char *gleam__fmt_count(char *buf, size_t cap, double x) {
    if (x < 1e4) gleam__fmt_into(buf, cap, "%.0f", x);
    else if (x < 1e6) gleam__fmt_into(buf, cap, "%.1f k", x / 1e3);
    else if (x < 1e9) gleam__fmt_into(buf, cap, "%.2f M", x / 1e6);
    else gleam__fmt_into(buf, cap, "%.2f G", x / 1e9);
    return buf;
}

/* The progress line (under smu): steps done, rows and bytes read, rate, elapsed. */
static void gleam__progress_line(gleam__job *job, char *line, size_t cap) {
    const gleam__plan *p = job->plan;
    int nsteps = p->flow->nsteps, done = 0, s, i;
    double el = gleam__now() - job->t_start;
    char rows[32], bytes[32], rate[32];
    memset(job->step_busy, 0, (size_t)nsteps + 1);
    for (s = 0; s < p->nstages; s++)
        if (job->stage_left[s] > 0)
            for (i = 0; i < p->stages[s]->nnodes; i++) job->step_busy[p->stages[s]->nodes[i]->step->id] = 1;
    for (i = 1; i <= nsteps; i++) done += !job->step_busy[i];
    gleam__fmt_into(line, cap, "gleam: %d/%d steps done, %s rows and %s read (%s/s), %.1f s", done, nsteps,
                    gleam__fmt_count(rows, sizeof rows, (double)job->rows_read),
                    gleam__fmt_bytes(bytes, sizeof bytes, (double)job->bytes_read),
                    gleam__fmt_bytes(rate, sizeof rate, el > 0 ? (double)job->bytes_read / el : 0), el);
}

/* Under smu: take the progress line off the screen, if it is on it. */
static void gleam__progress_erase(gleam__job *job) {
    if (job->drawn) (void)gleam__write_all(2, "\r\033[K", 4);
    job->drawn = 0;
}

static int gleam__term_write(gleam__job *job, int fd, const char *p, size_t n) {
    int r;
    if (!job->progress_tty || (fd != 2 && !(fd == 1 && job->out_tty))) return gleam__write_all(fd, p, n);
    pthread_mutex_lock(&job->smu); /* the line is redrawn at the next tick */
    gleam__progress_erase(job);
    r = gleam__write_all(fd, p, n);
    pthread_mutex_unlock(&job->smu);
    return r;
}

/* The progress thread: on a terminal, one line redrawn four times a second once the job
   has run a second (taken off while the job writes to the terminal, cleared at the end);
   forced on (-gleam.progress), from the start, and when stderr is not a terminal a line a
   second; forced, a last line at the end. Lines are written under smu, so that they never
   cut into the job's own output. */
static void *gleam__progress_main(void *arg) {
    gleam__job *job = (gleam__job *)arg;
    int tty = job->progress_tty, forced = job->opt.progress == 1;
    char line[256], out[300];
    int n;
    pthread_mutex_lock(&job->smu);
    while (!job->stop_progress) {
        struct timespec ts;
        long step = tty ? 250000000L : 1000000000L;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += step;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&job->scv, &job->smu, &ts);
        if (job->stop_progress) break;
        if (!forced && gleam__now() - job->t_start < 1.0) continue;
        gleam__progress_line(job, line, sizeof line);
        n = gleam__fmt_into(out, sizeof out, tty ? "\r%s\033[K" : "%s\n", line);
        (void)gleam__write_all(2, out, (size_t)GLEAM__MIN(n, (int)sizeof out - 1));
        job->drawn = tty;
    }
    if (forced) {
        gleam__progress_line(job, line, sizeof line);
        n = gleam__fmt_into(out, sizeof out, tty ? "\r%s\033[K\n" : "%s\n", line);
        (void)gleam__write_all(2, out, (size_t)GLEAM__MIN(n, (int)sizeof out - 1));
        job->drawn = 0;
    }
    gleam__progress_erase(job);
    pthread_mutex_unlock(&job->smu);
    return NULL;
}

/* Move the run's figures into the flow. */
static void gleam__stats_keep(gleam_flow *f, gleam__job *job) {
    gleam_job_stats *js = &f->jstats;
    struct rusage ru;
    int i;
    if (!job->stats || !job->span) return;
    gleam__free(f->stats);
    f->stats = job->stats;
    job->stats = NULL;
    memset(js, 0, sizeof *js);
    for (i = 1; i <= f->nsteps; i++) {
        gleam_step_stats *ss = &f->stats[i];
        const gleam__step *s = f->steps[i - 1];
        int cls = gleam__step_class(s->kind);
        ss->step = i;
        ss->kind = gleam__step_kind_name(s->kind);
        ss->name = s->fn_name ? s->fn_name : "";
        ss->seconds = job->span[2 * i + 1] > job->span[2 * i] ? job->span[2 * i + 1] - job->span[2 * i] : 0;
        if (cls == GLEAM__SOURCE) {
            js->rows_read += ss->rows_out;
            js->bytes_read += ss->bytes;
        } else if (cls == GLEAM__OUTPUT) {
            js->bytes_written += ss->bytes;
        }
    }
    js->seconds = gleam__now() - job->t_start;
    js->steps = f->nsteps;
    js->threads = job->opt.threads;
    if (!getrusage(RUSAGE_SELF, &ru))
#ifdef __APPLE__
        js->peak_rss = (uint64_t)ru.ru_maxrss;
#else
        js->peak_rss = (uint64_t)ru.ru_maxrss * 1024;
#endif
    f->has_stats = 1;
}

/* -gleam.stats: the table of the run's figures. */
static void gleam__stats_print(const gleam_flow *f, FILE *out) {
    const gleam_job_stats *js = &f->jstats;
    char a[32], b[32], c[32], d[32];
    int i;
    fprintf(out, "stats of flow \"%s\": %.3f s on %d thread%s; read %s rows, %s; wrote %s; peak RSS %s\n", f->name,
            js->seconds, js->threads, js->threads == 1 ? "" : "s", gleam__fmt_count(a, sizeof a, (double)js->rows_read),
            gleam__fmt_bytes(b, sizeof b, (double)js->bytes_read), gleam__fmt_bytes(c, sizeof c, (double)js->bytes_written),
            js->peak_rss ? gleam__fmt_bytes(d, sizeof d, (double)js->peak_rss) : "unknown");
    fprintf(out, "%5s  %-28s %14s %14s %11s %9s %11s\n", "step", "what", "rows in", "rows out", "bytes", "time", "peak mem");
    for (i = 1; i <= js->steps; i++) {
        const gleam_step_stats *ss = &f->stats[i];
        char what[64];
        if (*ss->name) gleam__fmt_into(what, sizeof what, "%s(%s)", ss->kind, ss->name);
        else gleam__fmt_into(what, sizeof what, "%s", ss->kind);
        fprintf(out, "%5d  %-28.28s %14llu %14llu %11s %8.3fs %11s\n", ss->step, what, (unsigned long long)ss->rows_in,
                (unsigned long long)ss->rows_out, ss->bytes ? gleam__fmt_bytes(a, sizeof a, (double)ss->bytes) : "-",
                ss->seconds, ss->peak_bytes ? gleam__fmt_bytes(b, sizeof b, (double)ss->peak_bytes) : "-");
    }
}

GLEAM_API const gleam_job_stats *gleam_stats(const gleam_flow *f) { return f && f->has_stats ? &f->jstats : NULL; }

GLEAM_API const gleam_step_stats *gleam_stats_step(const gleam_flow *f, int step) {
    if (!f || !f->has_stats || step < 1 || step > f->jstats.steps) return NULL;
    return &f->stats[step];
}

/* >>run ------------------------------------------------------------------------------------ */

static void gleam__job_free(gleam__job *job) {
    int s, j;
    if (job->tasks) {
        for (s = 0; s < job->plan->nstages; s++) {
            if (!job->tasks[s]) continue;
            for (j = 0; j < job->plan->stages[s]->nshards; j++) gleam__task_free(job->tasks[s][j]);
            gleam__free(job->tasks[s]);
        }
        gleam__free(job->tasks);
    }
    gleam__free(job->q);
    gleam__free(job->stats);
    gleam__free(job->span);
    gleam__free(job->stage_left);
    gleam__free(job->step_busy);
    pthread_mutex_destroy(&job->mu);
    pthread_cond_destroy(&job->cv);
    pthread_mutex_destroy(&job->smu);
    pthread_cond_destroy(&job->scv);
}

static gleam_result gleam__job_run(gleam__job *job) {
    gleam__plan *p = job->plan;
    pthread_t *threads = NULL, progress;
    int s, j, started = 0, pass, has_progress = 0, nsteps = p->flow->nsteps;
    gleam_result r = GLEAM_OK;
    if (!(job->tasks = (gleam__task ***)gleam__calloc((size_t)p->nstages, sizeof *job->tasks))) goto nomem;
    if (!(job->stats = (gleam_step_stats *)gleam__calloc((size_t)nsteps + 1, sizeof *job->stats)) ||
        !(job->span = (double *)gleam__calloc(2 * ((size_t)nsteps + 1), sizeof *job->span)) ||
        !(job->stage_left = (int *)gleam__calloc((size_t)p->nstages, sizeof *job->stage_left)) ||
        !(job->step_busy = (char *)gleam__calloc((size_t)nsteps + 1, 1)))
        goto nomem;
    for (s = 0; s < p->nstages; s++) job->stage_left[s] = p->stages[s]->nshards;
    for (s = 0; s < p->nstages; s++) {
        gleam__stage *st = p->stages[s];
        if (!(job->tasks[s] = (gleam__task **)gleam__calloc((size_t)st->nshards, sizeof **job->tasks))) goto nomem;
        for (j = 0; j < st->nshards; j++)
            if (!(job->tasks[s][j] = gleam__task_new(job, st, j))) goto nomem;
        job->remaining += st->nshards;
    }
    for (s = 1; s <= p->nsteps; s++) {
        gleam__xchg *x = p->xchgs[s];
        if (!x) continue;
        if (!(x->parts = (gleam__part *)gleam__calloc((size_t)x->nparts, sizeof *x->parts))) goto nomem;
        pthread_mutex_init(&x->mu, NULL);
        for (j = 0; j < x->nparts; j++) {
            pthread_mutex_init(&x->parts[j].mu, NULL);
            pthread_cond_init(&x->parts[j].cv, NULL);
            x->parts[j].task = job->tasks[x->stage->id - 1][j];
        }
    }
    if ((r = gleam__prepare_sources(job)) != GLEAM_OK) goto out;
    if ((r = gleam__sinks_open(job)) != GLEAM_OK) goto out;
    if (!(threads = (pthread_t *)gleam__calloc((size_t)job->opt.threads, sizeof *threads))) goto nomem;
    /* Queue every source task before any worker starts, build sides first. */
    for (pass = 0; pass < 2; pass++)
        for (s = 0; s < p->nstages; s++) {
            gleam__stage *st = p->stages[s];
            if (st->in || gleam__feeds_build_side(st) != (pass == 0)) continue;
            for (j = 0; j < st->nshards; j++) gleam__schedule(job, gleam__source_work, job->tasks[s][j], j);
        }
    if (job->opt.progress > 0) { /* before any worker writes */
        job->progress_tty = isatty(2);
        job->out_tty = isatty(1);
    }
    for (started = 0; started < job->opt.threads; started++)
        if (pthread_create(&threads[started], NULL, gleam__worker, job)) break;
    if (started == 0) {
        gleam__fmt_into(job->errmsg, sizeof job->errmsg, "cannot start a thread: %s", strerror(errno));
        r = GLEAM_ERR_INTERNAL;
        goto out;
    }
    if (job->opt.progress > 0) has_progress = !pthread_create(&progress, NULL, gleam__progress_main, job);
    for (j = 0; j < started; j++) pthread_join(threads[j], NULL);
    if (has_progress) {
        pthread_mutex_lock(&job->smu);
        job->stop_progress = 1;
        pthread_cond_broadcast(&job->scv);
        pthread_mutex_unlock(&job->smu);
        pthread_join(progress, NULL);
    }
    if (job->stalled && job->err == GLEAM_OK) {
        job->err = GLEAM_ERR_INTERNAL;
        gleam__fmt_into(job->errmsg, sizeof job->errmsg, "the plan stalled with %d task%s left", job->remaining,
                        job->remaining == 1 ? "" : "s");
    }
    r = job->err;
    {
        gleam_result rc = gleam__sinks_close(job);
        if (r == GLEAM_OK) r = rc;
    }
    goto out;
nomem:
    r = GLEAM_ERR_NOMEM;
    gleam__fmt_into(job->errmsg, sizeof job->errmsg, "out of memory");
out:
    gleam__free(threads);
    return r;
}

static gleam_options gleam__resolve(const gleam_options *opt) {
    gleam_options o;
    memset(&o, 0, sizeof o);
    if (opt) o = *opt;
    if (o.threads <= 0) o.threads = gleam__default_threads();
    if (!o.explain) o.explain = gleam__opts.explain;
    if (!o.memory_mb) o.memory_mb = gleam__opts.memory_mb;
    if (!o.memory_mb) {
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        o.memory_mb = pages > 0 && size > 0 ? (size_t)pages / 4 * (size_t)size >> 20 : 1024;
        if (o.memory_mb < 64) o.memory_mb = 64;
    }
    if (!o.dot) o.dot = gleam__opts.dot;
    if (!o.stats) o.stats = gleam__opts.stats;
    if (!o.progress) o.progress = gleam__opts.progress;
    if (!o.progress) o.progress = isatty(2) ? 2 : -1; /* 2: on when the job has run a second */
    if (!o.tmpdir) o.tmpdir = gleam__opts.tmpdir;
    if (!o.tmpdir) o.tmpdir = getenv("TMPDIR");
    if (!o.tmpdir || !*o.tmpdir) o.tmpdir = "/tmp";
    return o;
}

GLEAM_API gleam_result gleam_run_with(gleam_flow *f, const gleam_options *opt) {
    gleam__plan *p = NULL;
    gleam__job job;
    gleam_result r;
    int i;
    if (!f) return GLEAM_ERR_ARG;
    if (f->err != GLEAM_OK) return f->err;
    if (f->ran) {
        gleam__flow_fail(f, GLEAM_ERR_ARG, "flow \"%s\" has run already: a flow runs once", f->name);
        return f->err;
    }
    f->ran = 1;
    memset(&job, 0, sizeof job);
    job.opt = gleam__resolve(opt);
    if (job.opt.threads > 1024) {
        gleam__flow_fail(f, GLEAM_ERR_ARG, "%d threads is out of range (1 to 1024)", job.opt.threads);
        return f->err;
    }
    if ((r = gleam__plan_build(f, job.opt.threads, &p)) != GLEAM_OK) return r;
    if (job.opt.dot) {
        FILE *out = fopen(job.opt.dot, "w");
        int bad = !out, e = errno;
        if (out) {
            gleam__plan_dot(p, &job.opt, out);
            bad = ferror(out);
            e = bad ? errno : 0;
            if (fclose(out) && !bad) {
                bad = 1;
                e = errno;
            }
        }
        if (bad) {
            gleam__flow_fail(f, GLEAM_ERR_IO, "cannot write the plan to %s: %s", job.opt.dot, e ? strerror(e) : "write error");
            gleam__plan_free(p);
            return f->err;
        }
    }
    if (job.opt.explain) {
        gleam__plan_print(p, &job.opt, stderr);
        gleam__plan_free(p);
        return GLEAM_OK;
    }
    fflush(stdout); /* what the program printed before comes before the flow's output */
    pthread_mutex_init(&job.mu, NULL);
    pthread_cond_init(&job.cv, NULL);
    pthread_mutex_init(&job.smu, NULL);
    pthread_cond_init(&job.scv, NULL);
    job.t_start = gleam__now();
    job.flow = f;
    job.plan = p;
    job.block_size = 64 * 1024;
    job.part_cap = 4u << 20;
    job.share = (job.opt.memory_mb << 20) / (size_t)job.opt.threads;
    if (job.share < (1u << 20)) job.share = 1u << 20;
    r = gleam__job_run(&job);
    if (r == GLEAM_OK)
        for (i = 0; i < f->nsteps; i++)
            if (f->steps[i]->rows && gleam__rows_index(f->steps[i]->rows)) {
                r = GLEAM_ERR_NOMEM;
                gleam__fmt_into(job.errmsg, sizeof job.errmsg, "collect: out of memory");
            }
    gleam__stats_keep(f, &job);
    if (job.opt.stats && f->has_stats) gleam__stats_print(f, stderr);
    if (r != GLEAM_OK) {
        f->err = r;
        gleam__fmt_into(f->errmsg, sizeof f->errmsg, "flow \"%s\": %s", f->name, job.errmsg[0] ? job.errmsg : gleam_result_str(r));
    }
    gleam__job_free(&job);
    gleam__plan_free(p);
    return r;
}

GLEAM_API gleam_result gleam_run(gleam_flow *f) { return gleam_run_with(f, NULL); }

/* >>flags ---------------------------------------------------------------------------------- */

static const char gleam__known_flags[] = "-gleam.threads=N, -gleam.explain, -gleam.memory=MB, -gleam.tmpdir=DIR, "
                                        "-gleam.dot=FILE, -gleam.stats, -gleam.progress, -gleam.quiet";

/* A true/false flag: no value, or true/false/1/0. */
static gleam_result gleam__flag_bool(const char *name, const char *v, int *out) {
    if (!v || !strcmp(v, "true") || !strcmp(v, "1")) *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0")) *out = 0;
    else {
        gleam__fmt_into(gleam__init_err, sizeof gleam__init_err, "flag -gleam.%s: \"%s\" is not true or false", name, v);
        return GLEAM_ERR_FLAG;
    }
    return GLEAM_OK;
}

static gleam_result gleam__flag_int(const char *name, const char *v, long lo, long hi, long *out) {
    char *end;
    long x;
    errno = 0;
    x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        gleam__fmt_into(gleam__init_err, sizeof gleam__init_err, "flag -gleam.%s: \"%s\" is not a number from %ld to %ld",
                        name, v, lo, hi);
        return GLEAM_ERR_FLAG;
    }
    *out = x;
    return GLEAM_OK;
}

/* Apply one -gleam flag; *used_next when it took the next argument as its value. */
static gleam_result gleam__flag(const char *arg, const char *next, int *used_next) {
    const char *name = arg + (arg[1] == '-' ? 8 : 7), *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const char *v = eq ? eq + 1 : NULL;
    long x;
    gleam_result r;
    *used_next = 0;
#define GLEAM__IS(s) (len == sizeof(s) - 1 && !memcmp(name, s, len))
    if (GLEAM__IS("explain")) return gleam__flag_bool("explain", v, &gleam__opts.explain);
    if (GLEAM__IS("stats")) return gleam__flag_bool("stats", v, &gleam__opts.stats);
    if (GLEAM__IS("progress") || GLEAM__IS("quiet")) {
        int on;
        if ((r = gleam__flag_bool(GLEAM__IS("quiet") ? "quiet" : "progress", v, &on)) != GLEAM_OK) return r;
        if (GLEAM__IS("quiet")) gleam__opts.progress = on ? -1 : 0; /* quiet=false: the default again */
        else gleam__opts.progress = on ? 1 : -1;
        return GLEAM_OK;
    }
    if (!GLEAM__IS("threads") && !GLEAM__IS("memory") && !GLEAM__IS("tmpdir") && !GLEAM__IS("dot")) {
        gleam__fmt_into(gleam__init_err, sizeof gleam__init_err, "unknown flag %.*s; the known flags are %s",
                        (int)(len + (size_t)(name - arg)), arg, gleam__known_flags);
        return GLEAM_ERR_FLAG;
    }
    if (!v) {
        if (!next || !strncmp(next, "-gleam.", 7) || !strncmp(next, "--gleam.", 8)) { /* not a value: a flag */
            gleam__fmt_into(gleam__init_err, sizeof gleam__init_err, "flag %s needs a value", arg);
            return GLEAM_ERR_FLAG;
        }
        v = next;
        *used_next = 1;
    }
    if (GLEAM__IS("threads")) {
        if ((r = gleam__flag_int("threads", v, 1, 1024, &x)) != GLEAM_OK) return r;
        gleam__opts.threads = (int)x;
    } else if (GLEAM__IS("memory")) {
        if ((r = gleam__flag_int("memory", v, 1, 1L << 30, &x)) != GLEAM_OK) return r;
        gleam__opts.memory_mb = (size_t)x;
    } else if (GLEAM__IS("dot")) {
        if (!*v) {
            gleam__fmt_into(gleam__init_err, sizeof gleam__init_err, "flag -gleam.dot needs a file name");
            return GLEAM_ERR_FLAG;
        }
        gleam__opts.dot = v;
    } else {
        if (!*v) {
            gleam__fmt_into(gleam__init_err, sizeof gleam__init_err, "flag -gleam.tmpdir needs a directory");
            return GLEAM_ERR_FLAG;
        }
        gleam__opts.tmpdir = v;
    }
#undef GLEAM__IS
    return GLEAM_OK;
}

GLEAM_API gleam_result gleam_init(int *argc, char ***argv) {
    int i, out = 1, n;
    char **av;
    gleam__init_err[0] = 0;
    if (!argc || !argv || !*argv || *argc < 1) return GLEAM_OK;
    n = *argc;
    av = *argv;
    for (i = 1; i < n; i++) {
        const char *a = av[i];
        int used_next = 0;
        gleam_result r;
        if (!strcmp(a, "--")) {
            while (i < n) av[out++] = av[i++];
            break;
        }
        if (strncmp(a, "-gleam.", 7) && strncmp(a, "--gleam.", 8)) {
            av[out++] = av[i];
            continue;
        }
        if ((r = gleam__flag(a, i + 1 < n ? av[i + 1] : NULL, &used_next)) != GLEAM_OK) return r;
        i += used_next;
    }
    av[out] = NULL;
    *argc = out;
    return GLEAM_OK;
}
