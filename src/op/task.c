/* task.c: the end of a task: its operators finished in node order, its figures added to
   the job's statistics, its memory freed. */
#include "op/op.h"

GLEAM__PRIV gleam_result gleam__finish_task(gleam__task *t) {
    int i;
    GLEAM_ASSERT(t->ops); /* not released yet */
    for (i = 0; i < t->stage->nnodes; i++) {
        gleam__op *op = t->ops[i];
        gleam_result r;
        if (gleam__aborted(t->job)) return GLEAM_ERR_INTERNAL;
        if ((r = op->finish(op)) < 0) return r;
    }
    return GLEAM_OK;
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

GLEAM__PRIV void gleam__task_release(gleam__task *t) {
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

