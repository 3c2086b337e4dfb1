/* driver.c: gleam_run with -distributed. The driver plans the flow as local mode does (its
   shards from the cluster's slots), asks the master for agents, sends its binary to those
   that lack it, and holds the job on each agent for as long as it runs. It starts a
   stage's tasks once every stage it reads is complete, at most an agent's slots at once
   on each, preferring the agent that holds most of a task's input; a sort's splitters
   come from samples of its runs. What the tasks print comes to stderr, labelled. At the
   end it reads the last stages' rows from the agents, shard by shard, into the program's
   outputs, exactly as local mode writes them. Its parts: prepare.c (master, binary, holds),
   split.c (a sort's partitions), outputs.c (the last rows), drive.c (what they share). */
#include "net/net.h"

typedef struct gleam__drun {
    gleam__drive *d;
    int stage, shard;
} gleam__drun;

static int gleam__flows_run;
static gleam__buf gleam__collected; /* [flow, step index, rows] of every collect so far */
static int gleam__ncollected;

/* Keep what flow f (number `flow`) collected, for the flows after it. */
static int gleam__keep_collected(gleam_flow *f, int flow) {
    int i;
    for (i = 0; i < f->nsteps; i++) {
        gleam_rows *r = f->steps[i]->rows;
        gleam_value v[3];
        if (!r) continue;
        v[0] = gleam_int(flow);
        v[1] = gleam_int(i);
        v[2] = gleam_bytes(r->data.p ? r->data.p : "", r->data.len);
        if (gleam__pack_row(&gleam__collected, v, 3)) return -1;
        gleam__ncollected++;
    }
    return 0;
}

/* >>faults: agents that are gone, and the tasks that run again ------------------------------ */

/* Is stage s's output still to be read: by a stage not yet complete, or by the driver at
   the end (a stage that feeds none)? With mu held. */
static int gleam__drive_needed(const gleam__drive *d, int s) {
    int c, j, feeds = 0;
    for (c = 0; c < d->p->nstages; c++) {
        if (gleam__feeds(d->p->stages[s], d->p->stages[c]) < 0) continue;
        feeds = 1;
        for (j = 0; j < d->p->stages[c]->nshards; j++)
            if (d->t[c][j].state != 2) return 1;
    }
    return !feeds;
}

/* Agent a is gone (its hold connection broke): nothing more runs there, and its finished
   tasks whose output is still to be read run again elsewhere, from the plan (lineage).
   With mu held. */
static void gleam__drive_gone(gleam__drive *d, int a) {
    int s, j, again = 0;
    if (d->ag[a].gone) return;
    d->ag[a].gone = 1;
    if (d->ag[a].hold >= 0) shutdown(d->ag[a].hold, SHUT_RDWR); /* closed at the end: the beats use it unlocked */
    for (s = 0; s < d->p->nstages; s++) {
        if (!gleam__drive_needed(d, s)) continue;
        for (j = 0; j < d->p->stages[s]->nshards; j++) {
            gleam__dtask *t = &d->t[s][j];
            if (t->state != 2 || t->agent != a) continue;
            t->state = 0;
            t->bytes = t->rows = 0;
            d->index[s][j].len = 0; /* its blocks will be others: its consumers filter every one */
            again++;
        }
    }
    fprintf(stderr, "gleam: agent %s:%d is gone; %d finished task%s of job %s run%s again on the others\n", d->ag[a].host,
            d->ag[a].port, again, again == 1 ? "" : "s", d->job, again == 1 ? "s" : "");
    pthread_cond_broadcast(&d->cv);
}

/* Look at every agent's hold connection without waiting: an agent says nothing on it, so
   an end of stream or an error there means it is gone. With mu held. */
static void gleam__drive_check(gleam__drive *d) {
    int a;
    for (a = 0; a < d->nag; a++) {
        struct pollfd p;
        char c;
        if (d->ag[a].gone || d->ag[a].hold < 0) continue;
        p.fd = d->ag[a].hold;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL) ||
                                   (p.revents & POLLIN && recv(p.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0)))
            gleam__drive_gone(d, a);
    }
}

/* Dial every agent that is not gone, without mu: one that does not answer within 3 s is
   gone too (a host that died says nothing: no end of stream comes on its connections). */
static void gleam__drive_probe(gleam__drive *d) {
    int a;
    for (a = 0; a < d->nag; a++) {
        char err[256];
        int fd, role;
        pthread_mutex_lock(&d->mu);
        fd = d->ag[a].gone;
        pthread_mutex_unlock(&d->mu);
        if (fd) continue;
        if ((fd = gleam__connect(d->ag[a].host, d->ag[a].port, 3000, err, sizeof err)) >= 0) {
            gleam__timeouts(fd, 3000);
            if (gleam__greet(fd, 0, GLEAM__ROLE_DRIVER, &role, NULL, err, sizeof err) == 1) {
                close(fd);
                continue;
            }
            close(fd);
        }
        pthread_mutex_lock(&d->mu);
        gleam__drive_gone(d, a);
        pthread_mutex_unlock(&d->mu);
    }
}

/* >>tasks ------------------------------------------------------------------------------------ */

/* The spec of task (stage, shard): see GLEAM__SPEC_*. 0, or -1 when out of memory. */
static int gleam__drive_spec(gleam__drive *d, int stage, int shard, gleam__buf *out) {
    const gleam__stage *st = d->p->stages[stage - 1];
    gleam_value *v;
    int n = GLEAM__SPEC_PROD, side, i, j, cap = GLEAM__SPEC_PROD + 2, r, bad = 0;
    gleam__buf *ranges;
    int nr = 0;
    for (i = 0; i < d->p->nstages; i++)
        if (gleam__feeds(d->p->stages[i], st) >= 0) cap += GLEAM__SPEC_PER_PROD * d->p->stages[i]->nshards;
    if (!(v = (gleam_value *)gleam__calloc((size_t)cap, sizeof *v))) return -1;
    if (!(ranges = (gleam__buf *)gleam__calloc((size_t)cap, sizeof *ranges))) {
        gleam__free(v);
        return -1;
    }
    v[GLEAM__SPEC_FLOW] = gleam_int(d->flow);
    v[GLEAM__SPEC_HASH] = gleam_int((int64_t)d->hash);
    v[GLEAM__SPEC_SHARDS] = gleam_int(d->shards);
    v[GLEAM__SPEC_STAGE] = gleam_int(stage);
    v[GLEAM__SPEC_SHARD] = gleam_int(shard);
    v[GLEAM__SPEC_JOB] = gleam_str(d->job);
    v[GLEAM__SPEC_LO] = gleam_nil();
    v[GLEAM__SPEC_HI] = gleam_nil();
    if (d->splits[stage - 1].len) { /* splitter shard - 1 and shard bound this partition */
        const char *p = d->splits[stage - 1].p, *e = p + d->splits[stage - 1].len;
        for (i = 0; p < e && i <= shard; i++) {
            size_t len = gleam__row_len(p);
            if (i == shard - 1) v[GLEAM__SPEC_LO] = gleam_bytes(p, len);
            if (i == shard) v[GLEAM__SPEC_HI] = gleam_bytes(p, len);
            p += len;
        }
    }
    for (side = 1; side >= 0; side--) /* a join's build side first */
        for (i = 0; i < d->p->nstages; i++) {
            if (gleam__feeds(d->p->stages[i], st) != side) continue;
            for (j = 0; j < d->p->stages[i]->nshards; j++) {
                const gleam__dagent *a = &d->ag[d->t[i][j].agent];
                gleam__buf *rg = &ranges[nr++];
                v[n++] = gleam_int(i + 1);
                v[n++] = gleam_int(j);
                v[n++] = gleam_str(a->host);
                v[n++] = gleam_int(a->port);
                v[n++] = gleam_nil();
                if (d->splits[stage - 1].len && d->index[i][j].len) { /* a sort: only the blocks it needs */
                    if (gleam__drive_ranges(d, stage - 1, shard, &d->index[i][j], rg)) bad = 1;
                    v[n - 1] = gleam_bytes(rg->p ? rg->p : "", rg->len);
                }
            }
        }
    v[GLEAM__SPEC_NPROD] = gleam_int((n - GLEAM__SPEC_PROD) / GLEAM__SPEC_PER_PROD);
    v[n++] = gleam_int(gleam__ncollected);
    v[n++] = gleam_bytes(gleam__collected.p ? gleam__collected.p : "", gleam__collected.len);
    r = bad ? -1 : gleam__pack_row(out, v, n);
    for (i = 0; i < nr; i++) gleam__buf_free(&ranges[i]);
    gleam__free(ranges);
    gleam__free(v);
    return r;
}

/* One task on its agent: RUN, then what it prints, then its result. A failure outside the
   task's own code (GLEAM_ERR_NET: its executor killed, its agent or its input gone) puts
   it back to wait for another attempt, up to GLEAM__NET_ATTEMPTS; any other fails the job. */
static void *gleam__drive_task(void *arg) {
    gleam__drun *run = (gleam__drun *)arg;
    gleam__drive *d = run->d;
    int stage = run->stage, shard = run->shard, a, fd = -1, k = 0, nshards = d->p->stages[stage - 1]->nshards, again = 0;
    int attempts;
    gleam__dtask *t = &d->t[stage - 1][shard];
    gleam__buf spec = {NULL, 0, 0}, buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    char err[512] = "", where[300];
    int64_t res = GLEAM_ERR_NET, bytes = 0, rows = 0;
    gleam__free(run);
    a = t->agent;
    snprintf(where, sizeof where, "stage %d, shard %d of %d on agent %s:%d", stage, shard + 1, nshards, d->ag[a].host,
             d->ag[a].port);
    if (gleam__drive_spec(d, stage, shard, &spec)) {
        res = GLEAM_ERR_NOMEM;
        gleam__fmt_into(err, sizeof err, "out of memory");
    } else if (spec.len + d->args.len + strlen(d->cwd) + 4096 > GLEAM__NET_FRAME_MAX) { /* never sent: the agent would refuse it */
        res = GLEAM_ERR_ARG;
        gleam__fmt_into(err, sizeof err, "the task does not fit in a message: %.1f MB of spec and arguments, past %d MB",
                        (double)(spec.len + d->args.len) / 1048576.0, (int)(GLEAM__NET_FRAME_MAX >> 20));
    } else if ((fd = gleam__drive_dial(d, a, err, sizeof err)) >= 0) {
        gleam_value m[7];
        gleam__timeouts(fd, 10 * GLEAM__NET_BEAT_MS); /* the agent beats while the task waits and runs: ten missed, it is gone */
        m[0] = gleam_str(d->job);
        m[1] = gleam_str(d->bin);
        m[2] = gleam_int(stage);
        m[3] = gleam_int(shard);
        m[4] = gleam_bytes(d->args.p, d->args.len);
        m[5] = gleam_str(d->cwd);
        m[6] = gleam_bytes(spec.p, spec.len);
        if (gleam__msg_send(fd, GLEAM__MSG_RUN, m, 7)) gleam__fmt_into(err, sizeof err, "cannot send the task: %s", strerror(errno));
        while (!err[0] && (k = gleam__msg_recv(fd, &buf, &v, 0, err, sizeof err)) > 0) {
            const char *s;
            size_t len;
            if (k == GLEAM__MSG_BEAT) continue;
            if (k == GLEAM__MSG_LOG && !gleam__mbytes(&v, 1, &s, &len)) {
                fprintf(stderr, "[stage %d.%d %s:%d] %.*s\n", stage, shard + 1, d->ag[a].host, d->ag[a].port, (int)len, s);
                continue;
            }
            if (k == GLEAM__MSG_DONE && !gleam__mint(&v, 0, INT32_MIN, INT32_MAX, &res) && !gleam__mbytes(&v, 1, &s, &len)) {
                gleam__mint(&v, 2, 0, INT64_MAX, &bytes);
                gleam__mint(&v, 3, 0, INT64_MAX, &rows);
                if (res != GLEAM_OK) gleam__fmt_into(err, sizeof err, "%.*s", (int)GLEAM__MIN(len, sizeof err - 1), s);
                break;
            }
            if (k != GLEAM__MSG_ERR) gleam__fmt_into(err, sizeof err, "it sent a message of type %d", k);
            res = GLEAM_ERR_NET;
            break;
        }
        if (k == 0 && !err[0]) gleam__fmt_into(err, sizeof err, "the agent closed the connection");
        close(fd);
    }
    if (res != GLEAM_OK && !err[0]) gleam__fmt_into(err, sizeof err, "%s", gleam_result_str((gleam_result)res));
    if (res == GLEAM_ERR_NET) gleam__drive_probe(d);
    pthread_mutex_lock(&d->mu);
    if (res != GLEAM_OK) {
        int alive = 0, b;
        gleam__drive_check(d); /* an agent that is gone is why, most often: its tasks run again first */
        for (b = 0; b < d->nag; b++) alive += !d->ag[b].gone;
        again = res == GLEAM_ERR_NET && !d->failed && !d->stop && alive && t->attempts < GLEAM__NET_ATTEMPTS;
    }
    t->state = res == GLEAM_OK ? 2 : again ? 0 : 3; /* 3: failed for good, never started again */
    t->avoid = res == GLEAM_OK ? -1 : a;
    attempts = t->attempts;
    t->t1 = gleam__now();
    t->bytes = bytes;
    t->rows = rows;
    if (res != GLEAM_OK && !again && !d->failed) { /* recorded before this task counts as ended: d may go right after */
        d->failed = 1;
        d->err = (gleam_result)res;
        if (attempts > 1)
            gleam__fmt_into(d->msg, sizeof d->msg, "%s: %s (attempt %d of %d: it failed every time)", where, err, attempts,
                            GLEAM__NET_ATTEMPTS);
        else
            gleam__fmt_into(d->msg, sizeof d->msg, "%s: %s", where, err);
    }
    d->ag[a].running--;
    d->running--;
    if (again)
        fprintf(stderr, "gleam: %s: %s; attempt %d of %d failed, it runs again\n", where, err, attempts, GLEAM__NET_ATTEMPTS);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    gleam__buf_free(&spec);
    gleam__buf_free(&buf);
    gleam__vals_free(&v);
    return NULL;
}

/* Is every stage that stage s reads complete? With mu held. */
static int gleam__drive_ready(gleam__drive *d, int s) {
    const gleam__stage *st = d->p->stages[s];
    int i, j;
    for (i = 0; i < d->p->nstages; i++)
        if (gleam__feeds(d->p->stages[i], st) >= 0)
            for (j = 0; j < d->p->stages[i]->nshards; j++)
                if (d->t[i][j].state != 2) return 0;
    return 1;
}

/* The agent for task (s, shard): one that is not gone, with a free slot, holding most of
   its input bytes, and not the one where the task's last attempt failed while another
   lives. -1 when none is free. With mu held. */
static int gleam__drive_pick(gleam__drive *d, int s, int shard) {
    int64_t *held = (int64_t *)gleam__calloc((size_t)d->nag, sizeof *held);
    int a, best = -1, i, j, others = 0, avoid = d->t[s][shard].avoid;
    for (i = 0; held && i < d->p->nstages; i++)
        if (gleam__feeds(d->p->stages[i], d->p->stages[s]) >= 0)
            for (j = 0; j < d->p->stages[i]->nshards; j++) held[d->t[i][j].agent] += d->t[i][j].bytes;
    for (a = 0; a < d->nag; a++) others += !d->ag[a].gone && a != avoid;
    for (a = 0; a < d->nag; a++) {
        if (d->ag[a].gone || d->ag[a].running >= d->ag[a].slots || (a == avoid && others)) continue;
        if (best < 0 || (held && held[a] > held[best]) ||
            ((!held || held[a] == held[best]) && d->ag[a].running * d->ag[best].slots < d->ag[best].running * d->ag[a].slots))
            best = a;
    }
    gleam__free(held);
    return best;
}

/* Run every task, in stage order as their inputs complete. GLEAM_OK, or the first failure. */
static gleam_result gleam__drive_tasks(gleam__drive *d) {
    int s, j, left = 0, *started;
    double beat = 0;
    if (!(started = (int *)gleam__calloc((size_t)d->p->nstages, sizeof *started))) return GLEAM_ERR_NOMEM;
    for (s = 0; s < d->p->nstages; s++) left += d->p->stages[s]->nshards;
    pthread_mutex_lock(&d->mu);
    while (!d->failed) {
        int done = 0, alive = 0;
        gleam__drive_check(d);
        for (j = 0; j < d->nag; j++) alive += !d->ag[j].gone;
        if (!alive) {
            pthread_mutex_unlock(&d->mu);
            gleam__drive_fail(d, GLEAM_ERR_NET, "every agent of the job is gone");
            pthread_mutex_lock(&d->mu);
            break;
        }
        for (s = 0; s < d->p->nstages; s++)
            for (j = 0; j < d->p->stages[s]->nshards; j++) done += d->t[s][j].state == 2;
        if (done == left) break;
        for (s = 0; s < d->p->nstages && !d->failed; s++) {
            if (!gleam__drive_ready(d, s)) continue;
            if (!started[s]) {
                started[s] = 1;
                if (d->p->stages[s]->root && d->p->stages[s]->root->kind == GLEAM__SORT) {
                    pthread_mutex_unlock(&d->mu);
                    gleam__drive_splitters(d, s);
                    pthread_mutex_lock(&d->mu);
                    if (d->failed) break;
                }
            }
            for (j = 0; j < d->p->stages[s]->nshards; j++) {
                gleam__drun *run;
                pthread_t th;
                pthread_attr_t at;
                int a;
                if (d->t[s][j].state != 0 || (a = gleam__drive_pick(d, s, j)) < 0) continue;
                if (!(run = (gleam__drun *)gleam__malloc(sizeof *run))) break;
                run->d = d;
                run->stage = s + 1;
                run->shard = j;
                d->t[s][j].state = 1;
                d->t[s][j].agent = a;
                d->t[s][j].attempts++;
                d->t[s][j].t0 = gleam__now();
                d->ag[a].running++;
                d->running++;
                pthread_attr_init(&at);
                pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
                if (pthread_create(&th, &at, gleam__drive_task, run)) {
                    gleam__free(run);
                    d->t[s][j].state = 0;
                    d->ag[a].running--;
                    d->running--;
                }
                pthread_attr_destroy(&at);
            }
        }
        {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        }
        if (gleam__now() - beat >= GLEAM__NET_BEAT_MS / 1000.0) { /* the master's page, and the holds alive */
            int a;
            beat = gleam__now();
            pthread_mutex_unlock(&d->mu);
            gleam__drive_progress(d);
            for (a = 0; a < d->nag; a++)
                if (d->ag[a].hold >= 0) gleam__msg_send(d->ag[a].hold, GLEAM__MSG_BEAT, NULL, 0);
            pthread_mutex_lock(&d->mu);
        }
    }
    if (d->failed) /* the executors still running go with their job */
        for (j = 0; j < d->nag; j++)
            if (d->ag[j].hold >= 0) {
                close(d->ag[j].hold);
                d->ag[j].hold = -1;
            }
    while (d->running) pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
    gleam__free(started);
    gleam__drive_progress(d);
    return d->failed ? d->err : GLEAM_OK;
}

/* >>run -------------------------------------------------------------------------------------- */

/* -gleam.stats: each stage's tasks, rows and bytes kept, and its time from its first task's
   start to its last one's end; then the delivery of the outputs. */
static void gleam__drive_stats(const gleam__drive *d, double t0, double t_tasks, double t_end) {
    int s, j;
    fprintf(stderr, "stats of flow \"%s\" on %d agents: %.3f s (tasks %.3f s, outputs %.3f s)\n", d->f->name, d->nag,
            t_end - t0, t_tasks - t0, t_end - t_tasks);
    fprintf(stderr, " stage  tasks        rows kept      bytes kept       time\n");
    for (s = 0; s < d->p->nstages; s++) {
        double a = 0, b = 0;
        int64_t rows = 0, bytes = 0;
        for (j = 0; j < d->p->stages[s]->nshards; j++) {
            const gleam__dtask *t = &d->t[s][j];
            if (!a || t->t0 < a) a = t->t0;
            if (t->t1 > b) b = t->t1;
            rows += t->rows;
            bytes += t->bytes;
        }
        fprintf(stderr, " %5d  %5d  %15lld  %14lld  %8.3fs\n", s + 1, d->p->stages[s]->nshards, (long long)rows, (long long)bytes,
                b > a ? b - a : 0.0);
    }
}

GLEAM__PRIV gleam_result gleam__driver_run(gleam_flow *f, const gleam_options *opt) {
    gleam__netflags *nf = gleam__net_flags();
    gleam__drive d;
    gleam__job job;
    gleam_result r = GLEAM_OK;
    char err[512];
    int i, a, slots = 0, job_ok = 0;
    unsigned char rnd[6];
    double t0 = 0, t_tasks = 0;
    memset(&d, 0, sizeof d);
    memset(&job, 0, sizeof job);
    d.f = f;
    d.o = *opt;
    d.mfd = -1;
    d.flow = ++gleam__flows_run;
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (gleam__read_exe(d.bin, err, sizeof err)) {
        gleam__drive_fail(&d, GLEAM_ERR_IO, "%s", err);
        goto out;
    }
    if (gleam__drive_master(&d)) goto out;
    for (a = 0; a < d.nag; a++) slots += d.ag[a].slots;
    d.shards = GLEAM__MAX(1, GLEAM__MIN(slots, 1024)); /* a dataset's default shards: the cluster's slots */
    if ((r = gleam__plan_build(f, d.shards, &d.p)) != GLEAM_OK) return r;
    if (!(d.hash = gleam__plan_hash(d.p)) || !(d.t = (gleam__dtask **)gleam__calloc((size_t)d.p->nstages, sizeof *d.t)) ||
        !(d.splits = (gleam__buf *)gleam__calloc((size_t)d.p->nstages, sizeof *d.splits)) ||
        !(d.index = (gleam__buf **)gleam__calloc((size_t)d.p->nstages, sizeof *d.index))) {
        gleam__drive_fail(&d, GLEAM_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < d.p->nstages; i++) {
        if (!(d.t[i] = (gleam__dtask *)gleam__calloc((size_t)d.p->stages[i]->nshards, sizeof **d.t)) ||
            !(d.index[i] = (gleam__buf *)gleam__calloc((size_t)d.p->stages[i]->nshards, sizeof **d.index))) {
            gleam__drive_fail(&d, GLEAM_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (a = 0; a < d.p->stages[i]->nshards; a++) d.t[i][a].avoid = -1;
    }
    {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, rnd, sizeof rnd) != (ssize_t)sizeof rnd) memset(rnd, 0, sizeof rnd);
        if (fd >= 0) close(fd);
        snprintf(d.job, sizeof d.job, "job-%ld-%d-%02x%02x%02x%02x%02x%02x", (long)getpid(), d.flow, rnd[0], rnd[1], rnd[2],
                 rnd[3], rnd[4], rnd[5]);
    }
    for (i = 0; i < nf->argc; i++) /* the driver's arguments, for main in the executors */
        if (gleam__buf_add(&d.args, nf->argv[i], strlen(nf->argv[i]) + 1)) {
            gleam__drive_fail(&d, GLEAM_ERR_NOMEM, "out of memory");
            goto out;
        }
    if (!getcwd(d.cwd, sizeof d.cwd)) snprintf(d.cwd, sizeof d.cwd, "/");
    if (gleam__collected.len + d.args.len > GLEAM__NET_FRAME_MAX - GLEAM__NET_SPEC_ROOM) { /* before any task runs */
        gleam__drive_fail(&d, GLEAM_ERR_ARG,
                          "the rows that earlier flows collected (%.1f MB) do not fit in a task's message (%d MB, with "
                          "the program's arguments and the rest of the task): collect fewer rows, or write them to a file "
                          "and read that",
                          (double)gleam__collected.len / 1048576.0, (int)(GLEAM__NET_FRAME_MAX >> 20));
        goto out;
    }
    gleam__drive_announce(&d);
    { /* an agent that cannot take the binary or the job (its -dir full, gone since the
         master listed it) is left out; the job fails only when none is left */
        char why[700] = "";
        int left = 0;
        for (a = 0; a < d.nag; a++) {
            char w[700];
            if (!gleam__drive_ship(&d, a, w, sizeof w) && !gleam__drive_hold(&d, a, w, sizeof w)) continue;
            d.ag[a].gone = 1;
            if (!left++) memcpy(why, w, sizeof why);
            fprintf(stderr, "gleam: %s\n", w);
        }
        if (left && left < d.nag) fprintf(stderr, "gleam: job %s goes on with %d of its %d agents\n", d.job, d.nag - left, d.nag);
        if (left == d.nag) {
            gleam__drive_fail(&d, GLEAM_ERR_NET, "%s%s", why, d.nag > 1 ? " (and every other agent of the job failed too)" : "");
            goto out;
        }
    }
    fflush(stdout);
    t0 = gleam__now();
    if ((r = gleam__drive_tasks(&d)) != GLEAM_OK) goto out;
    t_tasks = gleam__now();
    if ((r = gleam__job_init(&job, d.p, f, &d.o)) != GLEAM_OK) {
        gleam__drive_fail(&d, r, "%s", job.errmsg);
        goto out;
    }
    job_ok = 1;
    if ((r = gleam__drive_outputs(&d, &job)) != GLEAM_OK) gleam__drive_fail(&d, r, "%s", job.errmsg[0] ? job.errmsg : gleam_result_str(r));
    for (i = 0; r == GLEAM_OK && i < f->nsteps; i++)
        if (f->steps[i]->rows && gleam__rows_index(f->steps[i]->rows)) gleam__drive_fail(&d, GLEAM_ERR_NOMEM, "collect: out of memory");
    if (r == GLEAM_OK && !d.failed && gleam__keep_collected(f, d.flow)) gleam__drive_fail(&d, GLEAM_ERR_NOMEM, "collect: out of memory");
    if (!d.failed && d.o.stats) gleam__drive_stats(&d, t0, t_tasks, gleam__now());
out:
    if (d.mfd >= 0) {
        gleam_value m = gleam_int(d.failed ? d.err : GLEAM_OK);
        gleam__msg_send(d.mfd, GLEAM__MSG_DONE, &m, 1);
        close(d.mfd);
    }
    for (a = 0; a < d.nag; a++) /* the agents drop the job's blocks */
        if (d.ag[a].hold >= 0) close(d.ag[a].hold);
    if (job_ok) gleam__job_free(&job);
    if (d.failed) {
        f->err = d.err;
        gleam__fmt_into(f->errmsg, sizeof f->errmsg, "flow \"%s\": %s", f->name, d.msg);
    }
    for (i = 0; d.t && i < d.p->nstages; i++) {
        gleam__free(d.t[i]);
        gleam__buf_free(&d.splits[i]);
        for (a = 0; d.index[i] && a < d.p->stages[i]->nshards; a++) gleam__buf_free(&d.index[i][a]);
        gleam__free(d.index[i]);
    }
    gleam__free(d.index);
    gleam__free(d.t);
    gleam__free(d.splits);
    gleam__free(d.ag);
    gleam__buf_free(&d.args);
    gleam__plan_free(d.p);
    pthread_mutex_destroy(&d.mu);
    pthread_cond_destroy(&d.cv);
    return d.failed ? d.err : GLEAM_OK;
}
