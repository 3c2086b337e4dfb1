/* exec.c: the other end of remote.c: a process that runs one task of a plan it is sent as
   bytes: the plan decoded and checked, the task's input read and its output written as
   frames on one socket, its result last. This is what an executor runs. */
#include "run/run.h"

/* An output step in a process that runs one task: its rows go up as ROWS frames; a text
   output's lines are formatted here, in parallel, and go up as TEXT frames. */
typedef struct gleam__rowsup {
    gleam__op op;
    gleam__buf buf;
    gleam__fmt *fmt;        /* printlnf: the format, parsed */
    int nfmt, text;
} gleam__rowsup;

static int gleam__exec_fd = -1;
static pthread_mutex_t gleam__exec_mu = PTHREAD_MUTEX_INITIALIZER;

static gleam_result gleam__rowsup_flush(gleam__rowsup *o) {
    gleam__op *op = &o->op;
    uint32_t f[2];
    int e;
    if (!o->buf.len) return GLEAM_OK;
    f[0] = (uint32_t)op->node->step->id;
    f[1] = (uint32_t)(op->task->shard + op->node->offset);
    e = gleam__frame_write_locked(gleam__exec_fd, &gleam__exec_mu, o->text ? GLEAM__FRAME_TEXT : GLEAM__FRAME_ROWS, f, 2,
                                  o->buf.p, o->buf.len);
    o->buf.len = 0;
    return e ? gleam__fail(op->task, op->node, GLEAM_ERR_IO, "cannot send rows on: %s", strerror(e)) : GLEAM_OK;
}

static gleam_result gleam__rowsup_push(gleam__op *op, const gleam_value *row, int n) {
    gleam__rowsup *o = (gleam__rowsup *)op;
    gleam_result r = GLEAM_OK;
    switch (o->text ? op->node->step->kind : -1) {
    case GLEAM__PRINTF: r = gleam__format_row(&o->buf, o->fmt, o->nfmt, row, n); break;
    case GLEAM__WRITE_TSV: r = gleam__delimited_row(&o->buf, row, n, 0); break;
    case GLEAM__WRITE_CSV: r = gleam__delimited_row(&o->buf, row, n, 1); break;
    default: r = gleam__pack_row(&o->buf, row, n) ? GLEAM_ERR_NOMEM : GLEAM_OK;
    }
    if (r != GLEAM_OK) return gleam__fail(op->task, op->node, r, "out of memory");
    return o->buf.len >= op->task->job->block_size ? gleam__rowsup_flush(o) : GLEAM_OK;
}

static gleam_result gleam__rowsup_finish(gleam__op *op) { return gleam__rowsup_flush((gleam__rowsup *)op); }

static void gleam__rowsup_free(gleam__op *op) {
    gleam__rowsup *o = (gleam__rowsup *)op;
    gleam__buf_free(&o->buf);
    gleam__free(o->fmt);
}

static gleam__op *gleam__make_rowsup(gleam__task *t, gleam__node *node) {
    gleam__op *op = gleam__op_alloc(t, node, sizeof(gleam__rowsup));
    gleam__rowsup *o = (gleam__rowsup *)op;
    const gleam__step *st = node->step;
    if (!op) return NULL;
    op->push = gleam__rowsup_push;
    op->finish = gleam__rowsup_finish;
    op->free = gleam__rowsup_free;
    o->text = gleam__is_text_output(st->kind);
    if (st->kind == GLEAM__PRINTF) { /* the plan was checked where it was built: a format that fails here sends rows */
        char err[256];
        if (gleam__parse_format(st->format_text ? st->format_text : "", &o->fmt, &o->nfmt, err, sizeof err) != GLEAM_OK)
            o->text = 0;
    }
    return op;
}

/* Run the task: its exchanges up fd, its input (if it reads an exchange) from in. */
static gleam_result gleam__exec_run(gleam__job *job, gleam__stage *st, int shard, int fd, gleam__frames *in, char *err,
                                    size_t errcap) {
    const gleam__plan *p = job->plan;
    gleam__task *t;
    gleam__buf buf = {NULL, 0, 0};
    gleam_result r = GLEAM_OK;
    char *only;
    int i;
    if (!(only = (char *)gleam__calloc((size_t)p->nsteps + 1, 1))) return GLEAM_ERR_NOMEM;
    for (i = 0; i < st->nnodes; i++) only[st->nodes[i]->step->id] = 1;
    for (i = 1; i < st->nnodes && r == GLEAM_OK; i++) { /* the exchanges it feeds */
        const gleam__step *s = st->nodes[i]->step;
        gleam__xchg *x;
        if (gleam__step_class(s->kind) != GLEAM__WIDE || job->xchgs[s->id]) continue;
        if (!(x = gleam__xchg_new(job, s, gleam__xport_up())) || (job->xchgs[s->id] = x, gleam__up_init(x, fd, &gleam__exec_mu)))
            r = GLEAM_ERR_NOMEM;
    }
    if (r == GLEAM_OK && gleam__step_class(st->root->kind) == GLEAM__WIDE) { /* the one it reads */
        gleam__xchg *x = gleam__xchg_new(job, st->root, gleam__xport_up());
        if (!x || (job->xchgs[st->root->id] = x, gleam__up_init(x, -1, &gleam__exec_mu))) r = GLEAM_ERR_NOMEM;
    }
    if (r == GLEAM_OK) r = gleam__prepare_sources(job, only);
    gleam__free(only);
    if (r != GLEAM_OK) return r;
    if (!(job->tasks[st->id - 1] = (gleam__task **)gleam__calloc((size_t)st->nshards, sizeof **job->tasks)) ||
        !(t = job->tasks[st->id - 1][shard] = gleam__task_new(job, st, shard)))
        return GLEAM_ERR_NOMEM;
    t->t0 = gleam__now();
    if (gleam__step_class(st->root->kind) == GLEAM__SOURCE) {
        r = gleam__run_source(t);
        t->in_path = NULL;
    } else {
        r = gleam__receive(job->xchgs[st->root->id], t, in, &buf, err, errcap);
        if (r < 0 && err[0] && !gleam__aborted(job)) gleam__fail(t, st->nodes[0], r, "%s", err);
    }
    gleam__buf_free(&buf);
    if (r >= 0) r = gleam__finish_task(t);
    if (r < 0 && !gleam__aborted(job)) gleam__fail(t, st->nodes[0], r, "%s", gleam_result_str(r));
    gleam__task_release(t);
    return r < 0 ? r : GLEAM_OK;
}

GLEAM__PRIV gleam_result gleam__exec_stage(gleam__job *job, int stage, int shard, int out, gleam__frames *in) {
    char err[GLEAM__ERRMAX];
    gleam_result r;
    err[0] = 0;
    gleam__exec_fd = out;
    job->make_output = gleam__make_rowsup;
    r = gleam__exec_run(job, job->plan->stages[stage - 1], shard, out, in, err, sizeof err);
    if (r != GLEAM_OK && job->errmsg[0] == 0) gleam__fmt_into(job->errmsg, sizeof job->errmsg, "%s", err[0] ? err : gleam_result_str(r));
    if (r == GLEAM_OK) job->errmsg[0] = 0;
    return r;
}

GLEAM__PRIV int gleam__exec_end(gleam__job *job, int out, gleam_result r) {
    uint32_t f[1];
    f[0] = (uint32_t)(int32_t)r;
    return gleam__frame_write_locked(out, &gleam__exec_mu, GLEAM__FRAME_END, f, 1, job->errmsg, strlen(job->errmsg)) ? -1 : 0;
}

GLEAM__HOOK int gleam__exec_task(int fd) {
    gleam__buf buf = {NULL, 0, 0};
    gleam__plan *p = NULL;
    gleam__job job;
    gleam__frame fr;
    gleam_result r;
    char err[GLEAM__ERRMAX];
    uint32_t stage, shard;
    int k, out;
    gleam__exec_fd = fd;
    if ((k = gleam__frame_read(fd, &buf, &fr)) <= 0 || fr.type != GLEAM__FRAME_PLAN) {
        fprintf(stderr, "gleam: executor: the first frame is not a plan\n");
        gleam__buf_free(&buf);
        return 2;
    }
    if ((r = gleam__plan_decode(fr.data, fr.len, &p, err, sizeof err)) != GLEAM_OK) {
        fprintf(stderr, "gleam: executor: the plan does not decode: %s\n", err);
        gleam__buf_free(&buf);
        return 2;
    }
    if ((k = gleam__frame_read(fd, &buf, &fr)) <= 0 || fr.type != GLEAM__FRAME_TASK || fr.f[0] < 1 ||
        fr.f[0] > (uint32_t)p->nstages || fr.f[1] >= (uint32_t)p->stages[fr.f[0] - 1]->nshards) {
        fprintf(stderr, "gleam: executor: no task of the plan follows it\n");
        gleam__plan_free(p);
        gleam__buf_free(&buf);
        return 2;
    }
    stage = fr.f[0];
    shard = fr.f[1];
    if ((r = gleam__job_init(&job, p, NULL, NULL)) == GLEAM_OK) {
        gleam__frames in;
        in.next = gleam__frames_fd;
        in.fd = fd;
        r = gleam__exec_stage(&job, (int)stage, (int)shard, fd, &in);
    }
    out = gleam__exec_end(&job, fd, r) ? 2 : r == GLEAM_OK ? 0 : 1;
    gleam__job_free(&job);
    gleam__plan_free(p);
    gleam__buf_free(&buf);
    return out;
}
