/* sort.c: the steps that order rows across shards: sort (each producer sorts a run, the
   exchange cuts every run at splitters agreed from their samples, each consumer merges
   its key range of all runs), top (each producer keeps its first k rows, one consumer
   merges them) and limit (the first n rows, in shard order when the input is ordered). */
#include "steps/steps.h"

/* >>producers ---------------------------------------------------------------------------- */

typedef struct gleam__orderprod {
    gleam__op op;
    gleam__writer w;
    gleam__run *run;        /* sort, top */
    gleam__cmp cmp;
    int spilled;            /* sort: some runs went to disk */
    int64_t count;          /* limit */
} gleam__orderprod;

/* Write the sort producer's rows so far to disk as one more run. */
static gleam_result gleam__sort_spill(gleam__orderprod *p) {
    gleam__run *d;
    p->op.bytes += p->run->mem.used;
    if (gleam__run_spill(p->run, &p->cmp, p->op.task->job->opt.tmpdir, &d)) return gleam__spill_fail(&p->op, "write");
    p->spilled = 1;
    return p->w.x->xport->put_run(p->w.x, &p->op, d);
}

static gleam_result gleam__orderprod_push(gleam__op *op, const gleam_value *row, int n) {
    gleam__orderprod *p = (gleam__orderprod *)op;
    const gleam__step *s = op->node->step;
    gleam_result r;
    switch (s->kind) {
    case GLEAM__SORT:
        if ((r = gleam__run_push(op, p->run, &p->cmp, -1, row, n)) != GLEAM_OK) return r;
        GLEAM__NOTE_PEAK(op, gleam__run_bytes(p->run));
        return gleam__run_bytes(p->run) > op->task->job->share ? gleam__sort_spill(p) : GLEAM_OK;
    case GLEAM__TOP: return gleam__run_push(op, p->run, &p->cmp, s->k, row, n);
    default: /* limit */
        if (p->count >= s->k) return GLEAM_DONE;
        p->count++;
        if ((r = gleam__write_row(op, &p->w, 0, row, n)) < 0) return r;
        return p->count >= s->k ? GLEAM_DONE : GLEAM_OK;
    }
}

static gleam_result gleam__orderprod_finish(gleam__op *op) {
    gleam__orderprod *p = (gleam__orderprod *)op;
    const gleam__step *s = op->node->step;
    gleam_result r = GLEAM_OK;
    size_t i;
    if (s->kind == GLEAM__TOP) { /* the first k rows go on, in order */
        if (gleam__run_sort(p->run, &p->cmp)) return gleam__nomem(op);
        for (i = 0; i < p->run->n && (int64_t)i < s->k && r >= 0; i++) {
            const char *q = p->run->rows[i].row;
            if (gleam__unpack_row(&q, GLEAM__NOEND(q), &op->vals) != GLEAM_OK) return gleam__nomem(op);
            r = gleam__write_row(op, &p->w, 0, op->vals.v, op->vals.n);
        }
    } else if (s->kind == GLEAM__SORT && p->spilled) { /* the rest to disk as well: the merge then holds little memory */
        if (p->run->n && (r = gleam__sort_spill(p)) != GLEAM_OK) return r;
    } else if (s->kind == GLEAM__SORT) {
        gleam__run *run = p->run;
        if (gleam__run_sort(run, &p->cmp)) return gleam__nomem(op);
        op->bytes += run->mem.used;
        p->run = NULL;
        if ((r = p->w.x->xport->put_run(p->w.x, op, run)) != GLEAM_OK) return r;
    }
    if (r < 0) return r;
    return gleam__writer_close(op, &p->w);
}

static void gleam__orderprod_free(gleam__op *op) {
    gleam__orderprod *p = (gleam__orderprod *)op;
    gleam__writer_free(&p->w);
    gleam__run_free(p->run);
}

GLEAM__PRIV gleam__op *gleam__make_order_producer(gleam__task *t, gleam__node *node) {
    gleam__orderprod *p = (gleam__orderprod *)gleam__op_alloc(t, node, sizeof *p);
    const gleam__step *s = node->step;
    if (!p) return NULL;
    p->op.push = gleam__orderprod_push;
    p->op.finish = gleam__orderprod_finish;
    p->op.free = gleam__orderprod_free;
    gleam__cmp_init(&p->cmp, &s->order);
    if (gleam__writer_init(&p->w, t->job->xchgs[s->id], node->side) ||
        (s->kind != GLEAM__LIMIT && !(p->run = gleam__run_new()))) {
        gleam__orderprod_free(&p->op);
        gleam__free(p);
        return NULL;
    }
    return &p->op;
}

/* >>consumers ---------------------------------------------------------------------------- */

typedef struct gleam__ordercons {
    gleam__op op;
    gleam__xchg *x;
    gleam__run *run;        /* top */
    gleam__cmp cmp;
    int64_t count;          /* limit */
    gleam__vals in;
} gleam__ordercons;

/* Top and limit take the rows of each block one by one. */
static gleam_result gleam__ordercons_absorb(gleam__op *op, gleam__block *b) {
    gleam__ordercons *c = (gleam__ordercons *)op;
    const gleam__step *s = op->node->step;
    const char *p = b->data, *end = b->data + b->len;
    gleam_result r = GLEAM_OK;
    while (p < end && !op->done) {
        if (gleam__unpack_row(&p, end, &c->in) != GLEAM_OK) return gleam__nomem(op);
        if (s->kind == GLEAM__TOP) {
            if ((r = gleam__run_push(op, c->run, &c->cmp, s->k, c->in.v, c->in.n)) < 0) return r;
            continue;
        }
        if (c->count >= s->k) r = GLEAM_DONE;
        else if (++c->count, (r = gleam__emit(op, c->in.v, c->in.n)) < 0) return r;
        if (r == GLEAM_DONE || c->count >= s->k) op->done = 1;
    }
    return GLEAM_OK;
}

/* The sort consumer: merge this partition's slice of every run. */
static gleam_result gleam__sort_merge(gleam__ordercons *c) {
    gleam__op *op = &c->op;
    gleam__xchg *x = c->x;
    int R = x->nruns, j = op->task->shard, i;
    gleam__cursor *cur;
    gleam_result r;
    if (R == 0) return GLEAM_OK;
    if (!(cur = (gleam__cursor *)gleam__calloc((size_t)R, sizeof *cur))) return gleam__nomem(op);
    for (i = 0; i < R; i++) {
        const gleam__slice *sl = &x->slices[(size_t)j * (size_t)R + (size_t)i];
        if (sl->run) gleam__cursor_init(&cur[i], sl->run, sl->from, sl->to, sl->lo, sl->hi);
        else gleam__cursor_blocks(&cur[i], sl->blocks);
    }
    r = gleam__merge(op, cur, R, &c->cmp);
    for (i = 0; i < R; i++) gleam__cursor_free(&cur[i]);
    gleam__free(cur);
    return r;
}

static gleam_result gleam__ordercons_finish(gleam__op *op) {
    gleam__ordercons *c = (gleam__ordercons *)op;
    const gleam__step *s = op->node->step;
    if (s->kind == GLEAM__SORT) return gleam__sort_merge(c);
    if (s->kind == GLEAM__TOP) return gleam__run_emit(op, c->run, &c->cmp, s->k);
    return GLEAM_OK;
}

static void gleam__ordercons_free(gleam__op *op) {
    gleam__ordercons *c = (gleam__ordercons *)op;
    gleam__run_free(c->run);
    gleam__vals_free(&c->in);
}

GLEAM__PRIV gleam__op *gleam__make_order_consumer(gleam__task *t, gleam__node *node) {
    gleam__ordercons *c = (gleam__ordercons *)gleam__op_alloc(t, node, sizeof *c);
    const gleam__step *s = node->step;
    if (!c) return NULL;
    c->op.absorb = gleam__ordercons_absorb;
    c->op.finish = gleam__ordercons_finish;
    c->op.free = gleam__ordercons_free;
    c->x = t->job->xchgs[s->id];
    gleam__cmp_init(&c->cmp, &s->order);
    if (s->kind == GLEAM__TOP && !(c->run = gleam__run_new())) {
        gleam__free(c);
        return NULL;
    }
    return &c->op;
}
