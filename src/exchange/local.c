/* local.c: the in-process transport. Each partition has a queue per side. A block goes to
   its partition's queue; the thread that puts it runs the consumer on the partition right
   away if nobody else is and the take order allows; when the queue is full and another
   thread consumes the partition, the producer waits: that is the back pressure. Waits
   only ever point downstream, so they cannot form a cycle. A sort's runs are kept by
   pointer and merged where they lie: copying them into blocks would cost a pass over all
   the data. Once every producer has closed, each partition is finished by a work item of
   the pool. */
#include "exchange/exchange.h"

typedef struct gleam__part {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gleam__block *head[2], *tail[2];
    size_t bytes;           /* queued */
    int busy;               /* a thread is running the consumer on this partition */
    int aborted;            /* the job stopped: nobody waits here any more */
    gleam__task *task;      /* the consumer task */
} gleam__part;

typedef struct gleam__local {
    gleam__part *parts;
    int parts_done;         /* partitions finished: at nparts the sort's runs are freed */
} gleam__local;

#define GLEAM__LOCAL(x) ((gleam__local *)(x)->impl)

/* May blocks of this side be consumed as they come? */
static int gleam__can_absorb(gleam__xchg *x, int side) {
    if (x->take == GLEAM__TAKE_AT_END || x->take == GLEAM__TAKE_RUNS) return 0;
    if (side == 1 || x->take != GLEAM__TAKE_BUILD_FIRST) return 1;
    return gleam__xchg_built(x);
}

static void gleam__enqueue(gleam__part *pt, gleam__block *b) {
    b->next = NULL;
    if (pt->tail[b->side]) pt->tail[b->side]->next = b;
    else pt->head[b->side] = b;
    pt->tail[b->side] = b;
    pt->bytes += b->len;
}

/* Take the queued blocks of `side` (caller holds pt->mu). */
static gleam__block *gleam__take(gleam__part *pt, int side) {
    gleam__block *b = pt->head[side], *c;
    for (c = b; c; c = c->next) pt->bytes -= c->len;
    pt->head[side] = pt->tail[side] = NULL;
    return b;
}

static gleam_result gleam__local_put(gleam__xchg *x, gleam__op *from, int part, gleam__block *b) {
    gleam__part *pt = &GLEAM__LOCAL(x)->parts[part];
    gleam_result r = GLEAM_OK;
    int side = b->side;
    (void)from;
    GLEAM_ASSERT(part >= 0 && part < x->nparts && side >= 0 && side < x->nsides);
    pthread_mutex_lock(&pt->mu);
    gleam__enqueue(pt, b);
    for (;;) {
        int can1, can0;
        if (pt->aborted) {
            r = GLEAM_ERR_INTERNAL;
            break;
        }
        can1 = gleam__can_absorb(x, 1) && pt->head[1];
        can0 = gleam__can_absorb(x, 0) && pt->head[0];
        if (!pt->busy && (can0 || can1)) {
            gleam__block *b1 = can1 ? gleam__take(pt, 1) : NULL, *b0 = can0 ? gleam__take(pt, 0) : NULL;
            pt->busy = 1;
            pthread_mutex_unlock(&pt->mu);
            r = gleam__xchg_absorb(pt->task, b1);
            if (r >= 0) r = gleam__xchg_absorb(pt->task, b0);
            else gleam__blocks_free(b0);
            pthread_mutex_lock(&pt->mu);
            pt->busy = 0;
            pthread_cond_broadcast(&pt->cv);
            if (r < 0) break;
            continue;
        }
        if (pt->busy && pt->bytes > x->job->part_cap && gleam__can_absorb(x, side)) {
            pthread_cond_wait(&pt->cv, &pt->mu);
            continue;
        }
        break;
    }
    pthread_mutex_unlock(&pt->mu);
    return r;
}

/* All producers closed: consume what is left in partition j, then finish its task. */
static void gleam__part_finish(gleam__job *job, void *arg, int j) {
    gleam__xchg *x = (gleam__xchg *)arg;
    gleam__local *lo = GLEAM__LOCAL(x);
    gleam__part *pt = &lo->parts[j];
    gleam__block *b0, *b1;
    gleam_result r;
    int k, last;
    GLEAM_ASSERT(x->open[0] == 0 && x->open[1] == 0); /* every producer has closed */
    pthread_mutex_lock(&pt->mu);
    while (pt->busy && !pt->aborted) pthread_cond_wait(&pt->cv, &pt->mu);
    pt->busy = 1;
    b1 = gleam__take(pt, 1);
    b0 = gleam__take(pt, 0);
    pthread_mutex_unlock(&pt->mu);
    r = x->take == GLEAM__TAKE_AT_END && gleam__blocks_by_producer(&b0) ? gleam__nomem(pt->task->ops[0]) : GLEAM_OK;
    if (r >= 0) r = gleam__xchg_absorb(pt->task, b1);
    else gleam__blocks_free(b1);
    if (r >= 0) r = gleam__xchg_absorb(pt->task, b0);
    else gleam__blocks_free(b0);
    if (!pt->task->t0) pt->task->t0 = gleam__now();
    if (r >= 0) r = gleam__finish_task(pt->task);
    if (r < 0 && !gleam__aborted(job)) gleam__fail(pt->task, x->stage->nodes[0], r, "%s", gleam_result_str(r));
    gleam__task_release(pt->task);
    pthread_mutex_lock(&x->mu); /* the last partition done frees the sorted runs */
    last = ++lo->parts_done == x->nparts;
    pthread_mutex_unlock(&x->mu);
    if (last) {
        for (k = 0; k < x->nruns; k++) gleam__run_free(x->runs[k]);
        x->nruns = 0;
    }
    gleam__task_done(job);
}

static gleam_result gleam__local_close(gleam__xchg *x, gleam__op *from, int side, int width) {
    int j;
    if (!gleam__xchg_closed(x, side, width)) return GLEAM_OK;
    if (x->take == GLEAM__TAKE_RUNS && gleam__xchg_cut_runs(x)) {
        gleam__fail(GLEAM__LOCAL(x)->parts[0].task, x->stage->nodes[0], GLEAM_ERR_NOMEM, "out of memory");
        return GLEAM_OK; /* the producer's own work went well */
    }
    (void)from;
    for (j = 0; j < x->nparts; j++) gleam__schedule(x->job, gleam__part_finish, x, j);
    return GLEAM_OK;
}

static gleam_result gleam__local_put_run(gleam__xchg *x, gleam__op *from, gleam__run *run) {
    return gleam__xchg_keep_run(x, from, run);
}

static void gleam__local_abort(gleam__xchg *x) {
    gleam__local *lo = GLEAM__LOCAL(x);
    int j;
    if (!lo) return;
    for (j = 0; j < x->nparts; j++) {
        pthread_mutex_lock(&lo->parts[j].mu);
        lo->parts[j].aborted = 1;
        pthread_cond_broadcast(&lo->parts[j].cv);
        pthread_mutex_unlock(&lo->parts[j].mu);
    }
}

static void gleam__local_free(gleam__xchg *x) {
    gleam__local *lo = GLEAM__LOCAL(x);
    int j;
    if (!lo) return;
    for (j = 0; j < x->nparts; j++) {
        gleam__blocks_free(lo->parts[j].head[0]);
        gleam__blocks_free(lo->parts[j].head[1]);
        pthread_mutex_destroy(&lo->parts[j].mu);
        pthread_cond_destroy(&lo->parts[j].cv);
    }
    gleam__free(lo->parts);
    gleam__free(lo);
    x->impl = NULL;
}

static const gleam__xport gleam__local_xport = {"local", gleam__local_put, gleam__local_put_run, gleam__local_close,
                                                gleam__local_abort, gleam__local_free};

GLEAM__PRIV const gleam__xport *gleam__xport_local(void) { return &gleam__local_xport; }

GLEAM__PRIV int gleam__local_init(gleam__xchg *x) {
    gleam__local *lo = (gleam__local *)gleam__calloc(1, sizeof *lo);
    int j;
    if (!lo || !(lo->parts = (gleam__part *)gleam__calloc((size_t)x->nparts, sizeof *lo->parts))) {
        gleam__free(lo);
        return -1;
    }
    for (j = 0; j < x->nparts; j++) {
        pthread_mutex_init(&lo->parts[j].mu, NULL);
        pthread_cond_init(&lo->parts[j].cv, NULL);
        lo->parts[j].task = x->job->tasks[x->stage->id - 1][j];
    }
    x->impl = lo;
    return 0;
}
