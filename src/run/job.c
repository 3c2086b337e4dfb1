/* job.c: running a plan in this process. A job makes one task per stage and shard, each a
   tree of operators; an exchange per wide step, with the in-process transport; then runs
   the sources' tasks on a pool of threads, build sides first. A consumer task runs when
   its exchange hands it blocks, and is finished by the exchange. gleam_run is here. */
#include "run/run.h"

GLEAM__PRIV gleam__task *gleam__task_new(gleam__job *job, gleam__stage *st, int shard) {
    gleam__task *t = (gleam__task *)gleam__calloc(1, sizeof *t);
    int i, k;
    if (!t) return NULL;
    t->job = job;
    t->stage = st;
    t->shard = shard;
    if (!(t->ops = (gleam__op **)gleam__calloc((size_t)st->nnodes, sizeof *t->ops))) goto fail;
    for (i = 0; i < st->nnodes; i++) {
        gleam__node *n = st->nodes[i];
        int kind = n->step->kind, cls = gleam__step_class(kind);
        gleam__op *op;
        if (i == 0) op = cls == GLEAM__SOURCE ? gleam__make_source(t, n) : gleam__wide_of(kind)->consumer(t, n);
        else if (kind == GLEAM__PIPE || kind == GLEAM__PIPE_ARGS) op = gleam__make_pipe(t, n);
        else if (cls == GLEAM__NARROW) op = gleam__make_narrow(t, n);
        else if (cls == GLEAM__WIDE) op = gleam__wide_of(kind)->producer(t, n);
        else op = job->make_output ? job->make_output(t, n) : gleam__make_output(t, n);
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

GLEAM__PRIV void gleam__task_free(gleam__task *t) {
    if (!t) return;
    gleam__task_release(t);
    gleam__free(t);
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

/* A source's task, as a work item of the pool. */
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

GLEAM__PRIV void gleam__job_abort(gleam__job *job) {
    int i;
    if (!job->xchgs) return;
    for (i = 1; i <= job->plan->nsteps; i++)
        if (job->xchgs[i]) job->xchgs[i]->xport->abort(job->xchgs[i]);
}

GLEAM__PRIV gleam_options gleam__resolve(const gleam_options *opt) {
    const gleam_options *set = gleam__settings();
    gleam_options o;
    memset(&o, 0, sizeof o);
    if (opt) o = *opt;
    if (o.threads <= 0) o.threads = gleam__default_threads();
    if (!o.explain) o.explain = set->explain;
    if (!o.memory_mb) o.memory_mb = set->memory_mb;
    if (!o.memory_mb) {
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        o.memory_mb = pages > 0 && size > 0 ? (size_t)pages / 4 * (size_t)size >> 20 : 1024;
        if (o.memory_mb < 64) o.memory_mb = 64;
    }
    if (!o.dot) o.dot = set->dot;
    if (!o.stats) o.stats = set->stats;
    if (!o.progress) o.progress = set->progress;
    if (!o.progress) o.progress = isatty(2) ? 2 : -1; /* 2: on when the job has run a second */
    if (!o.tmpdir) o.tmpdir = set->tmpdir;
    if (!o.tmpdir) o.tmpdir = getenv("TMPDIR");
    if (!o.tmpdir || !*o.tmpdir) o.tmpdir = "/tmp";
    return o;
}

GLEAM__PRIV gleam_result gleam__job_init(gleam__job *job, const gleam__plan *p, gleam_flow *flow, const gleam_options *opt) {
    int i, nsteps = p->nsteps;
    memset(job, 0, sizeof *job);
    pthread_mutex_init(&job->mu, NULL);
    pthread_cond_init(&job->cv, NULL);
    pthread_mutex_init(&job->smu, NULL);
    pthread_cond_init(&job->scv, NULL);
    job->t_start = gleam__now();
    job->plan = p;
    job->flow = flow;
    job->opt = gleam__resolve(opt);
    job->on_abort = gleam__job_abort;
    job->block_size = 64 * 1024;
    job->part_cap = 4u << 20;
    job->share = (job->opt.memory_mb << 20) / (size_t)job->opt.threads;
    if (job->share < (1u << 20)) job->share = 1u << 20;
    if (!(job->fns = (const gleam__fn **)gleam__calloc((size_t)nsteps + 1, sizeof *job->fns)) ||
        !(job->users = (void **)gleam__calloc((size_t)nsteps + 1, sizeof *job->users)) ||
        !(job->rows = (gleam_rows **)gleam__calloc((size_t)nsteps + 1, sizeof *job->rows)) ||
        !(job->xchgs = (struct gleam__xchg **)gleam__calloc((size_t)nsteps + 1, sizeof *job->xchgs)) ||
        !(job->stats = (gleam_step_stats *)gleam__calloc((size_t)nsteps + 1, sizeof *job->stats)) ||
        !(job->span = (double *)gleam__calloc(2 * ((size_t)nsteps + 1), sizeof *job->span)) ||
        !(job->stage_left = (int *)gleam__calloc((size_t)p->nstages + 1, sizeof *job->stage_left)) ||
        !(job->step_busy = (char *)gleam__calloc((size_t)nsteps + 1, 1)) ||
        !(job->tasks = (gleam__task ***)gleam__calloc((size_t)p->nstages + 1, sizeof *job->tasks))) {
        job->err = GLEAM_ERR_NOMEM;
        gleam__fmt_into(job->errmsg, sizeof job->errmsg, "out of memory");
        return job->err;
    }
    for (i = 0; i < nsteps; i++) { /* functions by name: a plan may come from another process */
        const gleam__step *s = &p->steps[i];
        int fk = gleam__step_fn_kind(s->kind);
        const gleam__fn *fn;
        char label[128];
        if (fk < 0) continue;
        if (!s->fn_name || !(fn = gleam__lookup(s->fn_name)) || fn->kind != fk) {
            gleam__step_label(s, label, sizeof label);
            gleam__fmt_into(job->errmsg, sizeof job->errmsg, "%s: no %s is registered as \"%s\" in this process", label,
                            gleam__fn_kind_name(fk), s->fn_name ? s->fn_name : "");
            job->err = GLEAM_ERR_PLAN;
            return job->err;
        }
        job->fns[s->id] = fn;
    }
    if (flow) /* the program's own flow: its context pointers, its collected rows */
        for (i = 0; i < nsteps && i < flow->nsteps; i++) {
            job->users[i + 1] = flow->steps[i]->user;
            job->rows[i + 1] = flow->steps[i]->rows;
        }
    for (i = 0; i < p->nstages; i++) job->stage_left[i] = p->stages[i]->nshards;
    return GLEAM_OK;
}

GLEAM__PRIV void gleam__job_free(gleam__job *job) {
    int s, j;
    if (job->tasks) {
        for (s = 0; s < job->plan->nstages; s++) {
            if (!job->tasks[s]) continue;
            for (j = 0; j < job->plan->stages[s]->nshards; j++) gleam__task_free(job->tasks[s][j]);
            gleam__free(job->tasks[s]);
        }
        gleam__free(job->tasks);
    }
    if (job->xchgs)
        for (s = 0; s <= job->plan->nsteps; s++) gleam__xchg_free(job->xchgs[s]);
    if (job->sinks)
        for (s = 0; s <= job->plan->nsteps; s++) gleam__sink_free(job->sinks[s]);
    gleam__remote_free(job);
    gleam__free_sources(job);
    gleam__free(job->xchgs);
    gleam__free(job->sinks);
    gleam__free(job->fns);
    gleam__free(job->users);
    gleam__free(job->rows);
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

/* The exchanges of the plan's wide steps: in-process, but toward a remote stage. */
static gleam_result gleam__job_exchanges(gleam__job *job) {
    const gleam__plan *p = job->plan;
    int i;
    for (i = 0; i < p->nsteps; i++) {
        const gleam__step *s = &p->steps[i];
        const gleam__stage *to;
        gleam__xchg *x;
        int bad;
        if (gleam__step_class(s->kind) != GLEAM__WIDE) continue;
        to = gleam__consumer_stage(p, s);
        if (job->remote_stage && to->id == job->remote_stage) {
            if (!(x = gleam__xchg_new(job, s, gleam__xport_send()))) return GLEAM_ERR_NOMEM;
            job->xchgs[s->id] = x;
            bad = gleam__send_init(x, gleam__remote_fds(job));
        } else {
            if (!(x = gleam__xchg_new(job, s, gleam__xport_local()))) return GLEAM_ERR_NOMEM;
            job->xchgs[s->id] = x;
            bad = 0; /* set up once its consumer tasks exist */
        }
        if (bad) return GLEAM_ERR_NOMEM;
    }
    return GLEAM_OK;
}

GLEAM__PRIV gleam_result gleam__job_run(gleam__job *job) {
    const gleam__plan *p = job->plan;
    pthread_t *threads = NULL, progress;
    int s, j, started = 0, pass, has_progress = 0;
    gleam_result r = GLEAM_OK;
    if (job->remote && (r = gleam__remote_launch(job)) != GLEAM_OK) goto out;
    if (gleam__job_exchanges(job) != GLEAM_OK) goto nomem;
    for (s = 0; s < p->nstages; s++) {
        gleam__stage *st = p->stages[s];
        if (!(job->tasks[s] = (gleam__task **)gleam__calloc((size_t)st->nshards, sizeof **job->tasks))) goto nomem;
        for (j = 0; j < st->nshards; j++)
            if (!(job->tasks[s][j] = gleam__task_new(job, st, j))) goto nomem;
        job->remaining += st->nshards;
    }
    for (s = 1; s <= p->nsteps; s++)
        if (job->xchgs[s] && job->xchgs[s]->xport == gleam__xport_local() && gleam__local_init(job->xchgs[s])) goto nomem;
    if ((r = gleam__prepare_sources(job, NULL)) != GLEAM_OK) goto out;
    if ((r = gleam__sinks_open(job, NULL)) != GLEAM_OK) goto out;
    if (!(threads = (pthread_t *)gleam__calloc((size_t)job->opt.threads, sizeof *threads))) goto nomem;
    /* Queue every source task before any worker starts, build sides first. */
    for (pass = 0; pass < 2; pass++)
        for (s = 0; s < p->nstages; s++) {
            gleam__stage *st = p->stages[s];
            if (st->root != NULL && gleam__step_class(st->root->kind) != GLEAM__SOURCE) continue;
            if (st->id == job->remote_stage || gleam__feeds_build_side(st) != (pass == 0)) continue;
            for (j = 0; j < st->nshards; j++) gleam__schedule(job, gleam__source_work, job->tasks[s][j], j);
        }
    if (job->opt.progress > 0) { /* before any worker writes */
        job->progress_tty = isatty(2);
        job->out_tty = isatty(1);
    }
    for (started = 0; started < job->opt.threads; started++)
        if (pthread_create(&threads[started], NULL, gleam__worker, job)) break;
    if (started == 0) {
        gleam__job_fail(job, GLEAM_ERR_INTERNAL, "cannot start a thread: %s", strerror(errno));
        r = GLEAM_ERR_INTERNAL;
        goto out;
    }
    if (job->remote) gleam__remote_start(job);
    if (job->opt.progress > 0) has_progress = !pthread_create(&progress, NULL, gleam__progress_main, job);
    for (j = 0; j < started; j++) pthread_join(threads[j], NULL);
    if (job->remote) gleam__remote_join(job);
    if (has_progress) {
        pthread_mutex_lock(&job->smu);
        job->stop_progress = 1;
        pthread_cond_broadcast(&job->scv);
        pthread_mutex_unlock(&job->smu);
        pthread_join(progress, NULL);
    }
    if (job->stalled && job->err == GLEAM_OK)
        gleam__job_fail(job, GLEAM_ERR_INTERNAL, "the plan stalled with %d task%s left", job->remaining,
                        job->remaining == 1 ? "" : "s");
    r = job->err;
    {
        gleam_result rc = gleam__sinks_close(job);
        if (r == GLEAM_OK) r = rc;
    }
    goto out;
nomem:
    gleam__job_fail(job, GLEAM_ERR_NOMEM, "out of memory");
    r = GLEAM_ERR_NOMEM;
out:
    if (r != GLEAM_OK && job->err == GLEAM_OK) job->err = r;
    gleam__free(threads);
    return r;
}

/* Write the plan as Graphviz DOT to path. GLEAM_OK, or an error recorded in f. */
static gleam_result gleam__write_dot(gleam_flow *f, const gleam__plan *p, int threads, const char *path) {
    FILE *out = fopen(path, "w");
    int bad = !out, e = errno;
    if (out) {
        gleam__plan_dot(p, threads, out);
        bad = ferror(out);
        e = bad ? errno : 0;
        if (fclose(out) && !bad) {
            bad = 1;
            e = errno;
        }
    }
    if (!bad) return GLEAM_OK;
    gleam__flow_fail(f, GLEAM_ERR_IO, "cannot write the plan to %s: %s", path, e ? strerror(e) : "write error");
    return f->err;
}

/* -gleam.roundtrip: the plan, encoded and decoded again. GLEAM_OK and *p replaced, or an
   error recorded in f. */
static gleam_result gleam__plan_roundtrip(gleam_flow *f, gleam__plan **p) {
    gleam__buf b = {NULL, 0, 0};
    gleam__plan *q = NULL;
    char err[256];
    gleam_result r;
    if (gleam__plan_encode(*p, &b)) {
        gleam__flow_fail(f, GLEAM_ERR_NOMEM, "encoding the plan: out of memory");
        return f->err;
    }
    if ((r = gleam__plan_decode(b.p, b.len, &q, err, sizeof err)) != GLEAM_OK) {
        gleam__flow_fail(f, r, "the plan does not decode from its own bytes: %s", err);
        gleam__buf_free(&b);
        return f->err;
    }
    gleam__buf_free(&b);
    gleam__plan_free(*p);
    *p = q;
    return GLEAM_OK;
}

GLEAM_API gleam_result gleam_run_with(gleam_flow *f, const gleam_options *opt) { return gleam__run_flow(f, opt, 0, NULL, NULL); }

GLEAM__PRIV gleam_result gleam__run_flow(gleam_flow *f, const gleam_options *opt, int stage, gleam__launch_fn launch, void *arg) {
    gleam__plan *p = NULL;
    gleam__job job;
    gleam_options o;
    gleam_result r;
    int i, handled = 0;
    if (!f) return GLEAM_ERR_ARG;
    if (f->err != GLEAM_OK) return f->err;
    if (f->ran) {
        gleam__flow_fail(f, GLEAM_ERR_ARG, "flow \"%s\" has run already: a flow runs once", f->name);
        return f->err;
    }
    f->ran = 1;
    o = gleam__resolve(opt);
    if (o.threads > 1024) {
        gleam__flow_fail(f, GLEAM_ERR_ARG, "%d threads is out of range (1 to 1024)", o.threads);
        return f->err;
    }
    if (!launch && gleam__net && (r = gleam__net->run(f, &o, &handled), handled)) return r;
    if ((r = gleam__plan_build(f, o.threads, &p)) != GLEAM_OK) return r;
    if (*gleam__roundtrip() && (r = gleam__plan_roundtrip(f, &p)) != GLEAM_OK) {
        gleam__plan_free(p);
        return r;
    }
    if (o.dot && (r = gleam__write_dot(f, p, o.threads, o.dot)) != GLEAM_OK) {
        gleam__plan_free(p);
        return r;
    }
    if (o.explain) {
        gleam__plan_print(p, o.threads, stderr);
        gleam__plan_free(p);
        return GLEAM_OK;
    }
    fflush(stdout); /* what the program printed before comes before the flow's output */
    if ((r = gleam__job_init(&job, p, f, &o)) == GLEAM_OK) {
        if (stage && (stage > p->nstages || gleam__remote_set(&job, stage, launch, arg))) {
            r = GLEAM_ERR_ARG;
            gleam__fmt_into(job.errmsg, sizeof job.errmsg, "stage %d cannot run elsewhere", stage);
        } else {
            r = gleam__job_run(&job);
        }
    }
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
