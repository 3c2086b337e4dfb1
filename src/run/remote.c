/* remote.c: a stage of a job run by other processes of the same binary (exec.c is their
   side). The job starts one process per shard of the stage, sends it the plan and its
   task, and sends the stage's input exchange to it (stream.c); a thread per process reads
   what it sends back (blocks and closes for the exchanges its task feeds, rows for its
   outputs, then its result) and hands it on as if the task had run here. */
#include "run/run.h"

typedef struct gleam__remote {
    int stage;
    gleam__launch_fn launch;
    void *arg;
    int n;                  /* processes: the stage's shards */
    int *fds;
    pid_t *pids;
    pthread_t *readers;
    int nreaders;
} gleam__remote;

/* One reader thread's work: the frames of the process of shard `shard`. */
typedef struct gleam__reading {
    gleam__job *job;
    int shard;
} gleam__reading;

GLEAM__HOOK int gleam__remote_set(gleam__job *job, int stage, gleam__launch_fn launch, void *arg) {
    gleam__remote *rm = (gleam__remote *)gleam__calloc(1, sizeof *rm);
    if (!rm) return -1;
    GLEAM_ASSERT(stage >= 1 && stage <= job->plan->nstages);
    rm->stage = stage;
    rm->launch = launch;
    rm->arg = arg;
    job->remote = rm;
    job->remote_stage = stage;
    return 0;
}

GLEAM__PRIV const int *gleam__remote_fds(const gleam__job *job) { return job->remote->fds; }

GLEAM__PRIV gleam_result gleam__remote_launch(gleam__job *job) {
    gleam__remote *rm = job->remote;
    const gleam__stage *st = job->plan->stages[rm->stage - 1];
    gleam__buf plan = {NULL, 0, 0};
    int j;
    rm->n = st->nshards;
    if (!(rm->fds = (int *)gleam__calloc((size_t)rm->n, sizeof *rm->fds)) ||
        !(rm->pids = (pid_t *)gleam__calloc((size_t)rm->n, sizeof *rm->pids)) ||
        !(rm->readers = (pthread_t *)gleam__calloc((size_t)rm->n, sizeof *rm->readers)) || gleam__plan_encode(job->plan, &plan)) {
        gleam__buf_free(&plan);
        gleam__job_fail(job, GLEAM_ERR_NOMEM, "out of memory");
        return GLEAM_ERR_NOMEM;
    }
    for (j = 0; j < rm->n; j++) rm->fds[j] = -1;
    for (j = 0; j < rm->n; j++) {
        uint32_t f[2];
        f[0] = (uint32_t)rm->stage;
        f[1] = (uint32_t)j;
        if ((rm->pids[j] = rm->launch(rm->arg, rm->stage, j, &rm->fds[j])) < 0 ||
            gleam__frame_write(rm->fds[j], GLEAM__FRAME_PLAN, NULL, 0, plan.p, plan.len) ||
            gleam__frame_write(rm->fds[j], GLEAM__FRAME_TASK, f, 2, NULL, 0)) {
            gleam__job_fail(job, GLEAM_ERR_IO, "cannot start the process of stage %d, shard %d: %s", rm->stage, j + 1,
                            strerror(errno));
            gleam__buf_free(&plan);
            return GLEAM_ERR_IO;
        }
    }
    gleam__buf_free(&plan);
    pthread_mutex_lock(&job->mu); /* the readers count as running work from now on */
    job->running += rm->n;
    pthread_mutex_unlock(&job->mu);
    return GLEAM_OK;
}

/* The node of the task's stage for step id `step` whose rows carry shard number `shard`
   (a task's shard plus the node's union offset), on `side` (-1: any). NULL if none. */
static gleam__node *gleam__node_for(const gleam__task *t, uint32_t step, int side, uint32_t shard) {
    int i;
    for (i = 1; i < t->stage->nnodes; i++) {
        gleam__node *n = t->stage->nodes[i];
        if ((uint32_t)n->step->id == step && (side < 0 || n->side == side) && (uint32_t)(t->shard + n->offset) == shard)
            return n;
    }
    return NULL;
}

/* Rows that came up as blocks of one sorted run, made a run of this process. */
static gleam__run *gleam__run_of_blocks(gleam__block *b, const gleam__cmp *cmp) {
    gleam__run *run = gleam__run_new();
    gleam__vals v = {NULL, 0, 0};
    for (; run && b; b = b->next) {
        const char *p = b->data, *end = b->data + b->len;
        while (p < end)
            if (gleam__unpack_row(&p, end, &v) != GLEAM_OK || gleam__run_add(run, cmp, v.v, v.n)) {
                gleam__run_free(run);
                run = NULL;
                break;
            }
    }
    gleam__vals_free(&v);
    return run;
}

/* What one frame from the process asks: GLEAM_OK, GLEAM_DONE for its END (*end set), or an
   error with err set. */
static gleam_result gleam__remote_frame(gleam__job *job, gleam__task *t, const gleam__frame *fr, gleam__block **runb,
                                        gleam_result *end, char *err, size_t errcap) {
    gleam__node *n;
    gleam__xchg *x;
    gleam__block *b;
    gleam__op *op;
    uint64_t rows;
    switch (fr->type) {
    case GLEAM__FRAME_BLOCK:
    case GLEAM__FRAME_CLOSE:
    case GLEAM__FRAME_RUN: {
        int side = fr->type == GLEAM__FRAME_RUN ? 0 : (int)(fr->type == GLEAM__FRAME_BLOCK ? fr->f[2] : fr->f[1]);
        uint32_t shard = fr->type == GLEAM__FRAME_BLOCK ? fr->f[3] : fr->type == GLEAM__FRAME_RUN ? fr->f[1] : fr->f[2];
        if (side > 1 || !(n = gleam__node_for(t, fr->f[0], side, shard)) || gleam__step_class(n->step->kind) != GLEAM__WIDE) {
            gleam__fmt_into(err, errcap, "a frame for step %u, side %d, shard %u that its task does not make", fr->f[0], side,
                            shard);
            return GLEAM_ERR_INPUT;
        }
        op = t->ops[n->index];
        x = job->xchgs[n->step->id];
        if (fr->type == GLEAM__FRAME_CLOSE) return x->xport->close(x, op, side, (int)GLEAM__MIN(fr->f[3], 1u << 24));
        if (fr->type == GLEAM__FRAME_RUN) {
            gleam__run *run = x->take == GLEAM__TAKE_RUNS ? gleam__run_of_blocks(*runb, &x->cmp) : NULL;
            gleam__blocks_free(*runb);
            *runb = NULL;
            if (!run) {
                gleam__fmt_into(err, errcap, "a sorted run for step %u could not be kept", fr->f[0]);
                return GLEAM_ERR_INPUT;
            }
            return x->xport->put_run(x, op, run);
        }
        if (gleam__check_rows(fr->data, fr->len, &rows) != GLEAM_OK ||
            (fr->f[1] != GLEAM__PART_RUN && fr->f[1] >= (uint32_t)x->nparts)) {
            gleam__fmt_into(err, errcap, "a block for step %u, partition %u is not whole rows for a partition of it", fr->f[0],
                            fr->f[1]);
            return GLEAM_ERR_INPUT;
        }
        if (!(b = gleam__block_new(fr->len))) return gleam__nomem(op);
        memcpy(b->data, fr->data, fr->len);
        b->len = fr->len;
        b->side = side;
        b->producer = (int)shard;
        if (fr->f[1] == GLEAM__PART_RUN) { /* a piece of a sorted run: kept until its RUN frame */
            gleam__block **at = runb;
            while (*at) at = &(*at)->next;
            *at = b;
            return GLEAM_OK;
        }
        op->bytes += b->len;
        return x->xport->put(x, op, (int)fr->f[1], b);
    }
    case GLEAM__FRAME_ROWS: {
        const char *p = fr->data, *e = fr->data + fr->len;
        gleam_result r = GLEAM_OK;
        if (!(n = gleam__node_for(t, fr->f[0], -1, fr->f[1])) || gleam__step_class(n->step->kind) != GLEAM__OUTPUT ||
            gleam__check_rows(fr->data, fr->len, &rows) != GLEAM_OK) {
            gleam__fmt_into(err, errcap, "rows for step %u, shard %u that its task does not output", fr->f[0], fr->f[1]);
            return GLEAM_ERR_INPUT;
        }
        op = t->ops[n->index];
        while (p < e && r >= 0 && !op->done) {
            if (gleam__unpack_row(&p, e, &op->vals) != GLEAM_OK) return gleam__nomem(op);
            op->nin++;
            r = op->push(op, op->vals.v, op->vals.n);
        }
        return r < 0 ? r : GLEAM_OK;
    }
    case GLEAM__FRAME_TEXT:
        if (!(n = gleam__node_for(t, fr->f[0], -1, fr->f[1])) || !gleam__is_text_output(n->step->kind)) {
            gleam__fmt_into(err, errcap, "lines for step %u, shard %u that its task does not write", fr->f[0], fr->f[1]);
            return GLEAM_ERR_INPUT;
        }
        return gleam__output_text(t->ops[n->index], fr->data, fr->len);
    case GLEAM__FRAME_END:
        *end = (gleam_result)(int32_t)fr->f[0];
        if (*end != GLEAM_OK) gleam__job_fail(job, *end, "%.*s", (int)GLEAM__MIN(fr->len, (size_t)GLEAM__ERRMAX), fr->data);
        return GLEAM_DONE;
    default:
        gleam__fmt_into(err, errcap, "a frame of type %d", fr->type);
        return GLEAM_ERR_INPUT;
    }
}

/* A reader thread: the frames of one process, then its end. */
static void *gleam__remote_read(void *arg) {
    gleam__reading *rd = (gleam__reading *)arg;
    gleam__job *job = rd->job;
    gleam__remote *rm = job->remote;
    gleam__task *t = job->tasks[rm->stage - 1][rd->shard];
    gleam__buf buf = {NULL, 0, 0};
    gleam__block *runb = NULL;
    gleam_result r = GLEAM_OK, end = GLEAM_ERR_IO;
    char err[256] = "";
    int i, st = 0, fd = rm->fds[rd->shard];
    t->t0 = gleam__now();
    while (r == GLEAM_OK) {
        gleam__frame fr;
        int k = gleam__frame_read(fd, &buf, &fr);
        if (k <= 0) {
            gleam__fmt_into(err, sizeof err, k == 0 ? "it ended without a result" : "cannot read from it: %s", strerror(errno));
            r = GLEAM_ERR_IO;
            break;
        }
        r = gleam__remote_frame(job, t, &fr, &runb, &end, err, sizeof err);
    }
    gleam__blocks_free(runb);
    gleam__buf_free(&buf);
    if (r == GLEAM_DONE && end == GLEAM_OK) /* its outputs end here, in order */
        for (i = 1; i < t->stage->nnodes && r >= 0; i++)
            if (gleam__step_class(t->stage->nodes[i]->step->kind) == GLEAM__OUTPUT) r = t->ops[i]->finish(t->ops[i]);
    if (r != GLEAM_DONE && r < 0 && err[0])
        gleam__job_fail(job, r, "stage %d, shard %d of %d (process %ld): %s", rm->stage, rd->shard + 1, rm->n,
                        (long)rm->pids[rd->shard], err);
    else if (r < 0 && !gleam__aborted(job))
        gleam__fail(t, t->stage->nodes[0], r, "%s", gleam_result_str(r));
    shutdown(fd, SHUT_RDWR);
    while (waitpid(rm->pids[rd->shard], &st, 0) < 0 && errno == EINTR) {
    }
    if (!gleam__aborted(job) && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
        gleam__job_fail(job, GLEAM_ERR_IO, "stage %d, shard %d of %d: its process (%ld) ended with status %d", rm->stage,
                        rd->shard + 1, rm->n, (long)rm->pids[rd->shard], st);
    gleam__task_release(t);
    gleam__task_done(job);
    pthread_mutex_lock(&job->mu);
    job->running--;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
    gleam__free(rd);
    return NULL;
}

GLEAM__PRIV gleam_result gleam__remote_start(gleam__job *job) {
    gleam__remote *rm = job->remote;
    int j;
    for (j = 0; j < rm->n; j++) {
        gleam__reading *rd = (gleam__reading *)gleam__calloc(1, sizeof *rd);
        if (rd) {
            rd->job = job;
            rd->shard = j;
        }
        if (!rd || pthread_create(&rm->readers[j], NULL, gleam__remote_read, rd)) {
            gleam__free(rd);
            gleam__job_fail(job, GLEAM_ERR_INTERNAL, "cannot start a thread for stage %d", rm->stage);
            pthread_mutex_lock(&job->mu); /* the readers not started run no more */
            job->running -= rm->n - j;
            pthread_cond_broadcast(&job->cv);
            pthread_mutex_unlock(&job->mu);
            for (; j < rm->n; j++) {
                shutdown(rm->fds[j], SHUT_RDWR);
                waitpid(rm->pids[j], NULL, 0);
            }
            return GLEAM_ERR_INTERNAL;
        }
        rm->nreaders = j + 1;
    }
    return GLEAM_OK;
}

GLEAM__PRIV void gleam__remote_join(gleam__job *job) {
    gleam__remote *rm = job->remote;
    int j;
    for (j = 0; j < rm->nreaders; j++) pthread_join(rm->readers[j], NULL);
    rm->nreaders = 0;
}

GLEAM__PRIV void gleam__remote_free(gleam__job *job) {
    gleam__remote *rm = job->remote;
    int j;
    if (!rm) return;
    for (j = 0; rm->fds && j < rm->n; j++)
        if (rm->fds[j] >= 0) close(rm->fds[j]);
    gleam__free(rm->fds);
    gleam__free(rm->pids);
    gleam__free(rm->readers);
    gleam__free(rm);
    job->remote = NULL;
}

