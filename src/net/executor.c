/* executor.c: a process an agent started to run one task. It is the job's binary run with
   the driver's arguments, so main builds the same flows, with the same functions, context
   pointers and in-memory rows, as the driver did; gleam_run of its task's flow checks
   that the plan hashes as the driver's did, runs the task (its input read from the agents
   that hold it, its output written to its own agent on descriptor 3) and ends the process. */
#include "net/net.h"

typedef struct gleam__producer {
    int stage, shard, port;
    char host[256];
    const char *ranges;     /* a sort's blocks to read, or NULL: all */
    size_t nranges;         /* bytes */
} gleam__producer;

typedef struct gleam__espec {
    int flow, shards, stage, shard, nprod, done;
    gleam__buf collected;   /* the earlier flows' collects: [flow, step index, rows] each */
    uint64_t hash;
    char job[64];
    gleam__buf lo, hi;      /* a sort's splitter rows; len 0: none */
    gleam__producer *prod;
} gleam__espec;

static gleam__espec gleam__es;
static int gleam__es_fd = -1, gleam__es_flows;

/* End the task with a result the agent passes to the driver. */
static void gleam__executor_end(gleam_result r, const char *msg) {
    uint32_t f[1];
    f[0] = (uint32_t)(int32_t)r;
    gleam__frame_write(gleam__es_fd, GLEAM__FRAME_END, f, 1, msg, strlen(msg));
    gleam__es.done = 1;
}

static void gleam__executor_atexit(void) {
    char msg[256];
    if (gleam__es_fd < 0 || gleam__es.done) return;
    snprintf(msg, sizeof msg,
             "the program ended before its flow number %d ran (an executor runs main again with the driver's arguments: "
             "the program must build the same flows in the same order)",
             gleam__es.flow);
    gleam__executor_end(GLEAM_ERR_PLAN, msg);
}

GLEAM__PRIV int gleam__executor_active(void) { return gleam__es_fd >= 0; }

static int gleam__spec_decode(const gleam__vals *v, char *err, size_t cap) {
    int64_t x, y, z, port;
    const char *p;
    size_t len;
    int i;
    if (gleam__mint(v, GLEAM__SPEC_FLOW, 1, INT32_MAX, &x) || gleam__mint(v, GLEAM__SPEC_SHARDS, 1, 1 << 20, &y) ||
        v->n <= GLEAM__SPEC_HASH || v->v[GLEAM__SPEC_HASH].type != GLEAM_INT ||
        gleam__mname(v, GLEAM__SPEC_JOB, gleam__es.job, sizeof gleam__es.job) || gleam__mint(v, GLEAM__SPEC_STAGE, 1, 1 << 20, &z) ||
        gleam__mint(v, GLEAM__SPEC_SHARD, 0, 1 << 20, &port)) {
        gleam__fmt_into(err, cap, "its task does not decode");
        return -1;
    }
    gleam__es.flow = (int)x;
    gleam__es.shards = (int)y;
    gleam__es.stage = (int)z;
    gleam__es.shard = (int)port;
    gleam__es.hash = (uint64_t)v->v[GLEAM__SPEC_HASH].u.i;
    if (!gleam__mbytes(v, GLEAM__SPEC_LO, &p, &len) && gleam__buf_add(&gleam__es.lo, p, len)) goto nomem;
    if (!gleam__mbytes(v, GLEAM__SPEC_HI, &p, &len) && gleam__buf_add(&gleam__es.hi, p, len)) goto nomem;
    if (gleam__mint(v, GLEAM__SPEC_NPROD, 0, 1 << 20, &x) || v->n < GLEAM__SPEC_PROD + GLEAM__SPEC_PER_PROD * x + 2) {
        gleam__fmt_into(err, cap, "its task's producers do not decode");
        return -1;
    }
    gleam__es.nprod = (int)x;
    if (!(gleam__es.prod = (gleam__producer *)gleam__calloc((size_t)x + 1, sizeof *gleam__es.prod))) goto nomem;
    for (i = 0; i < gleam__es.nprod; i++) {
        gleam__producer *pr = &gleam__es.prod[i];
        int at = GLEAM__SPEC_PROD + GLEAM__SPEC_PER_PROD * i;
        if (gleam__mint(v, at, 1, 1 << 20, &x) || gleam__mint(v, at + 1, 0, 1 << 20, &y) || gleam__mbytes(v, at + 2, &p, &len) ||
            len >= sizeof pr->host || gleam__mint(v, at + 3, 1, 65535, &port)) {
            gleam__fmt_into(err, cap, "its task's producer %d does not decode", i + 1);
            return -1;
        }
        pr->stage = (int)x;
        pr->shard = (int)y;
        memcpy(pr->host, p, len);
        pr->host[len] = 0;
        pr->port = (int)port;
        if (!gleam__mbytes(v, at + 4, &p, &len)) { /* kept: the message's buffer goes */
            char *copy = (char *)gleam__malloc(len + 1);
            if (!copy) goto nomem;
            memcpy(copy, p, len);
            pr->ranges = copy;
            pr->nranges = len;
            if (len % 8) {
                gleam__fmt_into(err, cap, "its task's producer %d does not decode", i + 1);
                return -1;
            }
        }
    }
    {
        int at = GLEAM__SPEC_PROD + GLEAM__SPEC_PER_PROD * gleam__es.nprod;
        if (gleam__mint(v, at, 0, INT32_MAX, &x) || gleam__mbytes(v, at + 1, &p, &len)) {
            gleam__fmt_into(err, cap, "its task's earlier rows do not decode");
            return -1;
        }
        if (gleam__buf_add(&gleam__es.collected, p, len)) goto nomem;
    }
    return 0;
nomem:
    gleam__fmt_into(err, cap, "out of memory");
    return -1;
}

GLEAM__PRIV gleam_result gleam__executor_init(const char *fdtext) {
    char err[512];
    gleam__buf buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    int fd = atoi(fdtext), k;
    const char *dir = getenv("GLEAM_NET_DIR");
    if (dir && chdir(dir)) /* the driver's directory, where relative paths point; else the agent's */
        fprintf(stderr, "gleam executor: cannot enter %s (%s): relative paths name files of the agent's directory\n", dir,
                strerror(errno));
    unsetenv("GLEAM_NET_EXEC"); /* the job's piped commands are not executors */
    unsetenv("GLEAM_NET_DIR");
    if (fd < 3 || fcntl(fd, F_GETFD) < 0) {
        fprintf(stderr, "gleam executor: GLEAM_NET_EXEC=%s is not an open descriptor\n", fdtext);
        exit(2);
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD)
    /* Blocks of GLEAM__NET_BLOCK from the heap, not each from a mapping of its own: a fresh
       mapping costs a fault per 4 KB page it touches, where the heap has huge pages
       (GLIBC_TUNABLES, set by the agent) and pages that earlier blocks gave back. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
    gleam__timeouts(fd, GLEAM__NET_TIMEOUT_MS);
    gleam__es_fd = fd;
    if ((k = gleam__msg_recv(fd, &buf, &v, 1, err, sizeof err)) != GLEAM__MSG_SPEC) {
        fprintf(stderr, "gleam executor: no task came from the agent%s%s\n", k < 0 ? ": " : "", k < 0 ? err : "");
        exit(2);
    }
    {
        const char *p;
        size_t len;
        gleam__vals s = {NULL, 0, 0};
        if (gleam__mbytes(&v, 0, &p, &len) || gleam__unpack_row(&p, p + len, &s) != GLEAM_OK ||
            gleam__spec_decode(&s, err, sizeof err)) {
            gleam__executor_end(GLEAM_ERR_INPUT, "the executor's task does not decode");
            exit(2);
        }
        gleam__vals_free(&s);
    }
    gleam__buf_free(&buf);
    gleam__vals_free(&v);
    atexit(gleam__executor_atexit);
    return GLEAM_OK;
}

/* >>feed: the task's input, from the agents that hold it ---------------------------------- */

typedef struct gleam__feed {
    const gleam__step *step;
    int shard, out, sort;
    int lost;               /* err says why an agent did not give the input (not why the task stopped taking it) */
    char err[512];
} gleam__feed;

/* A sorted run's rows in [lo, hi) as blocks of run number `run`. 0, -1 with errno set, or -2
   when the block is not whole rows. */
static int gleam__feed_slice(gleam__feed *fd, const gleam__frame *fr, uint32_t run, const gleam__cmp *cmp,
                             const gleam__srow *lo, const gleam__srow *hi, gleam__buf *blk) {
    const char *p = fr->data, *end = fr->data + fr->len, *last;
    const gleam_order *o = &fd->step->order;
    uint32_t f[4];
    uint64_t rows;
    f[0] = (uint32_t)fd->step->id;
    f[1] = (uint32_t)fd->shard;
    f[2] = 0;
    f[3] = run;
    blk->len = 0;
    if (gleam__check_rows_last(p, fr->len, &rows, &last) != GLEAM_OK) return -2; /* walked below: whole rows? */
    if (p < end) { /* the whole block in range (its first row not before lo, its last before hi): as it is */
        gleam__srow a, z;
        a = gleam__srow_at(p, o);
        z = gleam__srow_at(last, o);
        if ((!lo || gleam__srow_cmp(cmp, &a, lo) >= 0) && (!hi || gleam__srow_cmp(cmp, &z, hi) < 0))
            return gleam__frame_write(fd->out, GLEAM__FRAME_BLOCK, f, 4, fr->data, fr->len);
    }
    while (p < end) {
        size_t n = gleam__row_len(p);
        gleam__srow s = gleam__srow_at(p, o);
        if ((!lo || gleam__srow_cmp(cmp, &s, lo) >= 0) && (!hi || gleam__srow_cmp(cmp, &s, hi) < 0) &&
            gleam__buf_add(blk, p, n))
            return -1;
        p += n;
    }
    return blk->len ? gleam__frame_write(fd->out, GLEAM__FRAME_BLOCK, f, 4, blk->p, blk->len) : 0;
}

static void *gleam__feed_main(void *arg) {
    gleam__feed *fd = (gleam__feed *)arg;
    gleam__buf buf = {NULL, 0, 0}, blk = {NULL, 0, 0};
    gleam__cmp cmp;
    gleam__srow lo = {0, NULL}, hi = {0, NULL};
    uint32_t runs = 0;
    int i, conn = -1, cport = 0, role;
    char chost[256] = "";
    const gleam_order *o = &fd->step->order;
    gleam__cmp_init(&cmp, o);
    if (fd->sort) {
        if (gleam__es.lo.len) lo = gleam__srow_at(gleam__es.lo.p, o);
        if (gleam__es.hi.len) hi = gleam__srow_at(gleam__es.hi.p, o);
    }
    for (i = 0; i < gleam__es.nprod && !fd->err[0]; i++) {
        const gleam__producer *pr = &gleam__es.prod[i];
        gleam_value m[6];
        if (conn < 0 || strcmp(chost, pr->host) || cport != pr->port) { /* one connection per agent in turn */
            if (conn >= 0) close(conn);
            snprintf(chost, sizeof chost, "%s", pr->host);
            cport = pr->port;
            if ((conn = gleam__connect(pr->host, pr->port, 10000, fd->err, sizeof fd->err)) < 0) {
                fd->lost = 1;
                break;
            }
            if (gleam__greet(conn, 0, GLEAM__ROLE_EXECUTOR, &role, NULL, fd->err, sizeof fd->err) != 1) {
                char why[512];
                snprintf(why, sizeof why, "%s", fd->err);
                gleam__fmt_into(fd->err, sizeof fd->err, "agent %s:%d: %s", pr->host, pr->port, why);
                fd->lost = 1;
                break;
            }
        }
        m[0] = gleam_str(gleam__es.job);
        m[1] = gleam_int(pr->stage);
        m[2] = gleam_int(pr->shard);
        m[3] = gleam_int(fd->step->id);
        m[4] = gleam_int(fd->shard);
        m[5] = pr->ranges ? gleam_bytes(pr->ranges, pr->nranges) : gleam_nil();
        if (gleam__msg_send(conn, GLEAM__MSG_FETCH, m, 6)) {
            gleam__fmt_into(fd->err, sizeof fd->err, "cannot ask agent %s:%d for its blocks: %s", pr->host, pr->port, strerror(errno));
            fd->lost = 1;
            break;
        }
        for (;;) {
            gleam__frame fr;
            int k = gleam__frame_read_max(conn, &buf, &fr, GLEAM__NET_FRAME_MAX), bad = 0;
            if (k <= 0) {
                gleam__fmt_into(fd->err, sizeof fd->err, "agent %s:%d stopped sending the blocks of task %d.%d: %s", pr->host,
                                pr->port, pr->stage, pr->shard + 1, k == 0 ? "it closed the connection" : strerror(errno));
                fd->lost = 1;
                break;
            }
            if (fr.type == GLEAM__MSG_OK) break;
            if (fr.type == GLEAM__MSG_ERR) {
                gleam__fmt_into(fd->err, sizeof fd->err, "agent %s:%d: %.*s", pr->host, pr->port, (int)GLEAM__MIN(fr.len, (size_t)400), fr.data);
                fd->lost = 1;
                break;
            }
            if (fd->sort) { /* runs cut at the splitters; their ends counted */
                if (fr.type == GLEAM__FRAME_BLOCK && fr.f[1] == GLEAM__PART_RUN)
                    bad = gleam__feed_slice(fd, &fr, runs, &cmp, gleam__es.lo.len ? &lo : NULL, gleam__es.hi.len ? &hi : NULL, &blk);
                else if (fr.type == GLEAM__FRAME_RUN) runs++;
            } else {
                bad = gleam__frame_write(fd->out, fr.type, fr.f, gleam__frame_fields(fr.type), fr.data, fr.len);
            }
            if (bad == -2) {
                gleam__fmt_into(fd->err, sizeof fd->err, "agent %s:%d sent a block of task %d.%d that is not whole rows",
                                pr->host, pr->port, pr->stage, pr->shard + 1);
                break;
            }
            if (bad) {
                gleam__fmt_into(fd->err, sizeof fd->err, "cannot pass on the input: %s", strerror(errno));
                break;
            }
        }
    }
    if (!fd->err[0] && fd->sort) {
        uint32_t f[2];
        f[0] = (uint32_t)fd->step->id;
        f[1] = runs;
        if (gleam__frame_write(fd->out, GLEAM__FRAME_RUNS, f, 2, NULL, 0))
            gleam__fmt_into(fd->err, sizeof fd->err, "cannot pass on the input: %s", strerror(errno));
    }
    if (conn >= 0) close(conn);
    shutdown(fd->out, SHUT_WR); /* what is missing shows as the end of the input */
    gleam__buf_free(&buf);
    gleam__buf_free(&blk);
    return NULL;
}

/* >>run ------------------------------------------------------------------------------------ */

/* A flow before this task's: not run here; what it collected in the driver is put where
   the program finds it, since the program may build the next flow from it. */
static gleam_result gleam__executor_earlier(gleam_flow *f) {
    const char *p = gleam__es.collected.p, *end = p + gleam__es.collected.len;
    gleam__vals v = {NULL, 0, 0};
    gleam_result r = GLEAM_OK;
    while (p < end && r == GLEAM_OK) {
        int64_t flow, step;
        const char *rows;
        size_t len;
        gleam_rows *dst;
        if (gleam__unpack_row(&p, end, &v) != GLEAM_OK || gleam__mint(&v, 0, 1, INT32_MAX, &flow) ||
            gleam__mint(&v, 1, 0, INT32_MAX, &step) || gleam__mbytes(&v, 2, &rows, &len)) {
            r = GLEAM_ERR_INPUT;
            break;
        }
        if (flow != gleam__es_flows) continue;
        if (step >= f->nsteps || !(dst = f->steps[step]->rows)) { /* the program built another flow */
            r = GLEAM_ERR_PLAN;
            break;
        }
        dst->data.len = 0;
        if (gleam__buf_add(&dst->data, rows, len) || gleam__rows_index(dst)) r = GLEAM_ERR_NOMEM;
    }
    gleam__vals_free(&v);
    if (r != GLEAM_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "flow number %d in the executor is not the driver's: its collected rows do not fit it",
                 gleam__es_flows);
        gleam__executor_end(r, msg);
        exit(1);
    }
    return GLEAM_OK;
}

GLEAM__PRIV gleam_result gleam__executor_run(gleam_flow *f, const gleam_options *opt) {
    gleam__plan *p = NULL;
    gleam__job job;
    gleam_options o = *opt;
    gleam__feed feed;
    pthread_t th;
    char msg[GLEAM__ERRMAX];
    gleam_result r;
    int sp[2] = {-1, -1}, fed = 0, out;
    uint64_t h;
    if (++gleam__es_flows < gleam__es.flow) return gleam__executor_earlier(f); /* the driver ran it */
    o.threads = 1;
    if ((r = gleam__plan_build(f, gleam__es.shards, &p)) != GLEAM_OK) {
        gleam__executor_end(r, gleam_error(f));
        exit(1);
    }
    if ((h = gleam__plan_hash(p)) != gleam__es.hash || gleam__es.stage > p->nstages ||
        gleam__es.shard >= p->stages[gleam__es.stage - 1]->nshards) {
        snprintf(msg, sizeof msg,
                 "flow \"%s\" (number %d) built in the executor is not the driver's (plan hash %016llx here, %016llx "
                 "there): the program must build the same flows from the same arguments on every machine",
                 f->name, gleam__es.flow, (unsigned long long)h, (unsigned long long)gleam__es.hash);
        gleam__executor_end(GLEAM_ERR_PLAN, msg);
        exit(1);
    }
    if ((r = gleam__job_init(&job, p, f, &o)) != GLEAM_OK) {
        gleam__executor_end(r, job.errmsg);
        exit(1);
    }
    job.block_size = GLEAM__NET_BLOCK;
    {
        const gleam__stage *st = p->stages[gleam__es.stage - 1];
        memset(&feed, 0, sizeof feed);
        if (gleam__step_class(st->root->kind) == GLEAM__WIDE) {
            feed.step = st->root;
            feed.shard = gleam__es.shard;
            feed.sort = gleam__take_of(st->root) == GLEAM__TAKE_RUNS;
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) {
                gleam__fmt_into(msg, sizeof msg, "cannot make a socket pair: %s", strerror(errno));
                gleam__executor_end(GLEAM_ERR_IO, msg);
                exit(1);
            }
            feed.out = sp[1];
            if (pthread_create(&th, NULL, gleam__feed_main, &feed)) {
                gleam__executor_end(GLEAM_ERR_INTERNAL, "cannot start a thread");
                exit(1);
            }
            fed = 1;
        }
    }
    r = gleam__exec_stage(&job, gleam__es.stage, gleam__es.shard, gleam__es_fd, sp[0]);
    if (fed) {
        shutdown(sp[0], SHUT_RDWR);
        pthread_join(th, NULL);
        close(sp[0]);
        close(sp[1]);
        if (r != GLEAM_OK && feed.lost) { /* why the input ended, rather than that it did: lost, not malformed */
            gleam__fmt_into(job.errmsg, sizeof job.errmsg, "step %d, shard %d: reading its input: %s", feed.step->id,
                            gleam__es.shard + 1, feed.err);
            r = GLEAM_ERR_NET;
        }
    }
    gleam__es.done = 1;
    out = gleam__exec_end(&job, gleam__es_fd, r) ? 2 : r == GLEAM_OK ? 0 : 1;
    gleam__job_free(&job);
    gleam__plan_free(p);
    exit(out == 0 ? 0 : 1);
}
