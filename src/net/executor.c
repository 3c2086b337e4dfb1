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
       (GLIBC_TUNABLES, set by the agent) and pages that earlier blocks gave back. A fixed
       mmap threshold also fixes the trim threshold at 128 KB: raised too, or the heap's
       top would go back to the system after each block freed and fault in again. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
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

/* The frames of the task's producers, read from their agents one after another in this
   thread: what the consumer reads (gleam__receive), with nothing in between. A sort's runs
   come cut at the task's splitters, numbered in the order they come, and end with a RUNS
   frame. */
typedef struct gleam__feed {
    gleam__frames in;       /* first: the consumer's view */
    const gleam__step *step;
    int shard, sort;
    int lost;               /* err says why an agent did not give the input (not why the task stopped taking it) */
    int next, conn, cport;  /* the producer to ask next; the connection to its agent */
    int ended;              /* the RUNS frame went */
    uint32_t runs;
    char chost[256];
    gleam__buf blk;         /* a block cut at a splitter */
    gleam__cmp cmp;
    gleam__srow lo, hi;
    char err[512];
} gleam__feed;

/* A frame of run `run` as the consumer takes it: the rows of fr in [lo, hi), whole when
   its first and last rows are in range, into fr again (its data in fd->blk when cut). 1; 0
   when none is in range; -2 when the block is not whole rows; -1 when out of memory. */
static int gleam__feed_slice(gleam__feed *fd, gleam__frame *fr) {
    const char *p = fr->data, *end = fr->data + fr->len, *last;
    const gleam_order *o = &fd->step->order;
    const gleam__srow *lo = fd->lo.row ? &fd->lo : NULL, *hi = fd->hi.row ? &fd->hi : NULL;
    uint64_t rows;
    fr->f[1] = (uint32_t)fd->shard;
    fr->f[2] = 0;
    fr->f[3] = fd->runs;
    if (gleam__check_rows_last(p, fr->len, &rows, &last) != GLEAM_OK) return -2; /* walked below: whole rows? */
    if (p == end) return 0;
    {
        gleam__srow a = gleam__srow_at(p, o), z = gleam__srow_at(last, o);
        if ((!lo || gleam__srow_cmp(&fd->cmp, &a, lo) >= 0) && (!hi || gleam__srow_cmp(&fd->cmp, &z, hi) < 0)) return 1;
    }
    fd->blk.len = 0;
    while (p < end) {
        size_t n = gleam__row_len(p);
        gleam__srow s = gleam__srow_at(p, o);
        if ((!lo || gleam__srow_cmp(&fd->cmp, &s, lo) >= 0) && (!hi || gleam__srow_cmp(&fd->cmp, &s, hi) < 0) &&
            gleam__buf_add(&fd->blk, p, n))
            return -1;
        p += n;
    }
    fr->data = fd->blk.p;
    fr->len = fd->blk.len;
    return fd->blk.len ? 1 : 0;
}

/* Ask producer fd->next's agent for its frames: connected (the connection kept while the
   producers are on the same agent) and the FETCH sent. 0, or -1 with fd->err set. */
static int gleam__feed_ask(gleam__feed *fd) {
    const gleam__producer *pr = &gleam__es.prod[fd->next];
    gleam_value m[6];
    int role;
    if (fd->conn < 0 || strcmp(fd->chost, pr->host) || fd->cport != pr->port) {
        if (fd->conn >= 0) close(fd->conn);
        snprintf(fd->chost, sizeof fd->chost, "%s", pr->host);
        fd->cport = pr->port;
        if ((fd->conn = gleam__connect(pr->host, pr->port, 10000, fd->err, sizeof fd->err)) < 0) return -1;
        if (gleam__greet(fd->conn, 0, GLEAM__ROLE_EXECUTOR, &role, NULL, fd->err, sizeof fd->err) != 1) {
            char why[512];
            snprintf(why, sizeof why, "%s", fd->err);
            gleam__fmt_into(fd->err, sizeof fd->err, "agent %s:%d: %s", pr->host, pr->port, why);
            return -1;
        }
    }
    m[0] = gleam_str(gleam__es.job);
    m[1] = gleam_int(pr->stage);
    m[2] = gleam_int(pr->shard);
    m[3] = gleam_int(fd->step->id);
    m[4] = gleam_int(fd->shard);
    m[5] = pr->ranges ? gleam_bytes(pr->ranges, pr->nranges) : gleam_nil();
    if (gleam__msg_send(fd->conn, GLEAM__MSG_FETCH, m, 6)) {
        gleam__fmt_into(fd->err, sizeof fd->err, "cannot ask agent %s:%d for its blocks: %s", pr->host, pr->port, strerror(errno));
        return -1;
    }
    return 0;
}

static int gleam__feed_next(gleam__frames *in, gleam__buf *buf, gleam__frame *fr) {
    gleam__feed *fd = (gleam__feed *)in;
    in->checked = 0;
    if (fd->err[0]) goto fail;
    for (;;) {
        const gleam__producer *pr;
        int k;
        if (fd->next >= gleam__es.nprod) { /* every producer read: a sort's runs end */
            if (!fd->sort || fd->ended) return 0;
            fd->ended = 1;
            fr->type = GLEAM__FRAME_RUNS;
            fr->f[0] = (uint32_t)fd->step->id;
            fr->f[1] = fd->runs;
            fr->f[2] = fr->f[3] = 0;
            fr->data = NULL;
            fr->len = 0;
            return 1;
        }
        pr = &gleam__es.prod[fd->next];
        if (fd->conn < 0 && gleam__feed_ask(fd)) {
            fd->lost = 1;
            goto fail;
        }
        if ((k = gleam__frame_read_max(fd->conn, buf, fr, GLEAM__NET_FRAME_MAX)) <= 0) {
            gleam__fmt_into(fd->err, sizeof fd->err, "agent %s:%d stopped sending the blocks of task %d.%d: %s", pr->host,
                            pr->port, pr->stage, pr->shard + 1, k == 0 ? "it closed the connection" : strerror(errno));
            fd->lost = 1;
            goto fail;
        }
        if (fr->type == GLEAM__MSG_OK) { /* this producer's frames are all in: the next one's */
            if (++fd->next < gleam__es.nprod && gleam__feed_ask(fd)) { /* on the same connection when the same agent */
                fd->lost = 1;
                goto fail;
            }
            continue;
        }
        if (fr->type == GLEAM__MSG_ERR) {
            gleam__fmt_into(fd->err, sizeof fd->err, "agent %s:%d: %.*s", pr->host, pr->port, (int)GLEAM__MIN(fr->len, (size_t)400),
                            fr->data);
            fd->lost = 1;
            goto fail;
        }
        if (!fd->sort) return 1;
        if (fr->type == GLEAM__FRAME_RUN) { /* the end of one run: the next block starts another */
            fd->runs++;
            continue;
        }
        if (fr->type == GLEAM__FRAME_BLOCK && fr->f[1] == GLEAM__PART_RUN) {
            if ((k = gleam__feed_slice(fd, fr)) == 1) {
                in->checked = 1; /* feed_slice walked it */
                return 1;
            }
            if (k == -2) {
                gleam__fmt_into(fd->err, sizeof fd->err, "agent %s:%d sent a block of task %d.%d that is not whole rows", pr->host,
                                pr->port, pr->stage, pr->shard + 1);
                goto fail;
            }
            if (k == -1) {
                gleam__fmt_into(fd->err, sizeof fd->err, "out of memory");
                goto fail;
            }
        }
    }
fail:
    errno = EPROTO;
    return -1;
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
    char msg[GLEAM__ERRMAX];
    gleam_result r;
    int out;
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
    memset(&feed, 0, sizeof feed);
    feed.in.next = gleam__feed_next;
    feed.in.fd = -1;
    feed.conn = -1;
    {
        const gleam__stage *st = p->stages[gleam__es.stage - 1];
        if (gleam__step_class(st->root->kind) == GLEAM__WIDE) {
            const gleam_order *ord = &st->root->order;
            feed.step = st->root;
            feed.shard = gleam__es.shard;
            feed.sort = gleam__take_of(st->root) == GLEAM__TAKE_RUNS;
            gleam__cmp_init(&feed.cmp, ord);
            if (feed.sort && gleam__es.lo.len) feed.lo = gleam__srow_at(gleam__es.lo.p, ord);
            if (feed.sort && gleam__es.hi.len) feed.hi = gleam__srow_at(gleam__es.hi.p, ord);
        }
    }
    r = gleam__exec_stage(&job, gleam__es.stage, gleam__es.shard, gleam__es_fd, &feed.in);
    if (feed.conn >= 0) close(feed.conn);
    gleam__buf_free(&feed.blk);
    if (r != GLEAM_OK && feed.err[0]) { /* why the input ended, rather than that it did */
        gleam__fmt_into(job.errmsg, sizeof job.errmsg, "step %d, shard %d: reading its input: %s", feed.step->id, gleam__es.shard + 1,
                        feed.err);
        if (feed.lost) r = GLEAM_ERR_NET; /* lost, not malformed: the task may run again */
    }
    gleam__es.done = 1;
    out = gleam__exec_end(&job, gleam__es_fd, r) ? 2 : r == GLEAM_OK ? 0 : 1;
    gleam__job_free(&job);
    gleam__plan_free(p);
    exit(out == 0 ? 0 : 1);
}
