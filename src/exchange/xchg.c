/* xchg.c: what every exchange keeps whatever its transport: how many producer streams to
   wait for per side, the widest row of each side, and for a sort the runs, the splitters
   agreed from their samples and each partition's slice of every run. */
#include "exchange/exchange.h"

GLEAM__PRIV int gleam__take_of(const gleam__step *s) {
    if (s->kind == GLEAM__JOIN) return GLEAM__TAKE_BUILD_FIRST;
    if (s->kind == GLEAM__SORT) return GLEAM__TAKE_RUNS;
    if (gleam__gathers_in_order(s)) return GLEAM__TAKE_AT_END;
    return GLEAM__TAKE_STREAM;
}

GLEAM__PRIV gleam__xchg *gleam__xchg_new(gleam__job *job, const gleam__step *s, const gleam__xport *xp) {
    const gleam__plan *p = job->plan;
    gleam__xchg *x = (gleam__xchg *)gleam__calloc(1, sizeof *x);
    int i, j;
    if (!x) return NULL;
    x->job = job;
    x->step = s;
    x->stage = gleam__consumer_stage(p, s);
    GLEAM_ASSERT(x->stage && x->stage->nshards == s->nshards);
    x->nparts = s->nshards;
    x->nsides = s->nin;
    x->take = gleam__take_of(s);
    x->xport = xp;
    for (i = 0; i < p->nstages; i++) { /* producers: every node of s that is not a stage's root */
        const gleam__stage *st = p->stages[i];
        for (j = 1; j < st->nnodes; j++)
            if (st->nodes[j]->step == s) x->producers[st->nodes[j]->side] += st->nshards;
    }
    x->open[0] = x->producers[0];
    x->open[1] = x->producers[1];
    gleam__cmp_init(&x->cmp, &s->order);
    pthread_mutex_init(&x->mu, NULL);
    return x;
}

GLEAM__PRIV void gleam__xchg_free(gleam__xchg *x) {
    int j;
    if (!x) return;
    if (x->xport && x->xport->free_impl) x->xport->free_impl(x);
    for (j = 0; x->runs && j < x->nruns; j++) gleam__run_free(x->runs[j]);
    if (x->slices) {
        size_t k, n = (size_t)x->nparts * (size_t)x->nruns;
        for (k = 0; k < n; k++) gleam__blocks_free(x->slices[k].blocks);
    }
    gleam__free(x->runs);
    gleam__free(x->splits);
    gleam__free(x->slices);
    pthread_mutex_destroy(&x->mu);
    gleam__free(x);
}

GLEAM__PRIV int gleam__xchg_closed(gleam__xchg *x, int side, int width) {
    int last;
    pthread_mutex_lock(&x->mu);
    GLEAM_ASSERT(x->open[side] > 0);
    x->open[side]--;
    x->width[side] = GLEAM__MAX(x->width[side], width);
    last = x->open[0] == 0 && x->open[1] == 0;
    pthread_mutex_unlock(&x->mu);
    return last;
}

GLEAM__PRIV int gleam__xchg_built(gleam__xchg *x) {
    int built;
    pthread_mutex_lock(&x->mu);
    built = x->open[1] == 0;
    pthread_mutex_unlock(&x->mu);
    return built;
}

/* >>runs: a sort's exchange ------------------------------------------------------------- */

/* Add a run to the list. The run is freed when it cannot be. */
static gleam_result gleam__xchg_add_run(gleam__xchg *x, gleam__op *from, gleam__run *run) {
    int added = 0;
    pthread_mutex_lock(&x->mu);
    if (x->nruns == x->capruns) {
        int cap = x->capruns ? x->capruns * 2 : 8;
        gleam__run **rs = (gleam__run **)gleam__realloc(x->runs, (size_t)cap * sizeof *rs);
        if (rs) {
            x->runs = rs;
            x->capruns = cap;
        }
    }
    if (x->nruns < x->capruns) {
        x->runs[x->nruns++] = run;
        x->ndisk += run->file != NULL;
        added = 1;
    }
    pthread_mutex_unlock(&x->mu);
    if (added) return GLEAM_OK;
    gleam__run_free(run);
    return gleam__nomem(from);
}

GLEAM__PRIV gleam_result gleam__xchg_keep_run(gleam__xchg *x, gleam__op *from, gleam__run *run) {
    gleam__run *batch[GLEAM__MERGE_WAY], *d;
    gleam_result r;
    int i, n = 0, failed, e;
    if ((r = gleam__xchg_add_run(x, from, run)) != GLEAM_OK || !run->file) return r;
    pthread_mutex_lock(&x->mu);
    if (x->ndisk >= 2 * GLEAM__MERGE_WAY) { /* take a batch out; the others go on meanwhile */
        int k = 0;
        for (i = 0; i < x->nruns; i++)
            if (x->runs[i]->file && n < GLEAM__MERGE_WAY) batch[n++] = x->runs[i];
            else x->runs[k++] = x->runs[i];
        x->nruns = k;
    }
    pthread_mutex_unlock(&x->mu);
    if (!n) return GLEAM_OK;
    failed = gleam__runs_compact(batch, n, &x->cmp, x->job->opt.tmpdir, &d);
    e = errno;
    pthread_mutex_lock(&x->mu);
    x->ndisk -= n;
    pthread_mutex_unlock(&x->mu);
    if (failed) {
        errno = e;
        return gleam__spill_fail(from, "merge");
    }
    return gleam__xchg_add_run(x, from, d);
}

GLEAM__PRIV int gleam__xchg_cut_runs(gleam__xchg *x) {
    int P = x->nparts, R = x->nruns, r, i, j;
    size_t *bounds = NULL; /* run r, partition j: rows [bounds[r*(P+1)+j], ..[j+1]) */
    gleam__run samples;
    memset(&samples, 0, sizeof samples);
    if (!(bounds = (size_t *)gleam__calloc((size_t)R * (size_t)(P + 1) + 1, sizeof *bounds)) ||
        !(x->splits = (gleam__srow *)gleam__calloc((size_t)P, sizeof *x->splits)) ||
        !(x->slices = (gleam__slice *)gleam__calloc((size_t)P * (size_t)R + 1, sizeof *x->slices)))
        goto nomem;
    for (r = 0; r < R; r++) bounds[r * (P + 1) + P] = x->runs[r]->n;
    if (P > 1) { /* samples: up to 64 per partition from each run, evenly spaced */
        for (r = 0; r < R; r++) {
            const gleam__run *run = x->runs[r];
            size_t k, want = GLEAM__MIN(run->n, (size_t)P * 64);
            for (k = 0; k < want; k++) {
                if (samples.n == samples.cap) {
                    size_t cap = samples.cap ? samples.cap * 2 : 256;
                    gleam__srow *s = (gleam__srow *)gleam__realloc(samples.rows, cap * sizeof *s);
                    if (!s) goto nomem;
                    samples.rows = s;
                    samples.cap = cap;
                }
                samples.rows[samples.n++] = run->rows[(size_t)((double)k / (double)want * (double)run->n)];
            }
        }
        if (gleam__run_sort(&samples, &x->cmp)) goto nomem;
        for (i = 1; i < P && samples.n; i++) { /* the splitters, and every run cut at them */
            gleam__srow split = x->splits[i - 1] = samples.rows[(size_t)i * samples.n / (size_t)P];
            for (r = 0; r < R; r++) bounds[r * (P + 1) + i] = gleam__run_lower_bound(x->runs[r], &split, &x->cmp);
        }
    }
    for (j = 0; j < P; j++)
        for (r = 0; r < R; r++) {
            gleam__slice *sl = &x->slices[(size_t)j * (size_t)R + (size_t)r];
            GLEAM_ASSERT(bounds[r * (P + 1) + j] <= bounds[r * (P + 1) + j + 1]); /* the splitters are in order */
            sl->run = x->runs[r];
            sl->from = bounds[r * (P + 1) + j];
            sl->to = bounds[r * (P + 1) + j + 1];
            sl->lo = j > 0 && samples.n ? &x->splits[j - 1] : NULL;
            sl->hi = j < P - 1 && samples.n ? &x->splits[j] : NULL;
        }
    gleam__free(samples.rows);
    gleam__free(bounds);
    return 0;
nomem:
    gleam__free(samples.rows);
    gleam__free(bounds);
    return -1;
}

GLEAM__PRIV gleam_result gleam__xchg_absorb(gleam__task *t, gleam__block *b) {
    gleam__op *root = t->ops[0];
    gleam_result r = GLEAM_OK;
    if (!t->t0 && b) t->t0 = gleam__now();
    while (b) {
        gleam__block *n = b->next;
        b->kept = 0;
        if (r >= 0) r = root->absorb(root, b);
        if (!b->kept) gleam__block_free(b);
        b = n;
    }
    return r;
}

GLEAM__PRIV int gleam__blocks_by_producer(gleam__block **list) {
    gleam__block **v, *c, *b = *list;
    size_t n = 0, i;
    for (c = b; c; c = c->next) n++;
    if (n < 2) return 0;
    if (!(v = (gleam__block **)gleam__malloc(n * sizeof *v))) return -1;
    for (i = 0, c = b; c; c = c->next) v[i++] = c;
    /* insertion sort: n is the number of blocks, small for a limit */
    for (i = 1; i < n; i++) {
        gleam__block *x = v[i];
        size_t k = i;
        while (k > 0 && v[k - 1]->producer > x->producer) {
            v[k] = v[k - 1];
            k--;
        }
        v[k] = x;
    }
    for (i = 0; i + 1 < n; i++) v[i]->next = v[i + 1];
    v[n - 1]->next = NULL;
    *list = v[0];
    gleam__free(v);
    return 0;
}
