/* driver.c: gleam_run with -distributed. The driver plans the flow as local mode does (its
   shards from the cluster's slots), asks the master for agents, sends its binary to those
   that lack it, and holds the job on each agent for as long as it runs. It starts a
   stage's tasks once every stage it reads is complete, at most an agent's slots at once
   on each, preferring the agent that holds most of a task's input; a sort's splitters
   come from samples of its runs. What the tasks print comes to stderr, labelled. At the
   end it reads the last stages' rows from the agents, shard by shard, into the program's
   outputs, exactly as local mode writes them. */
#include "net/net.h"

typedef struct gleam__dagent {
    char host[256];
    int port, slots, running, hold;
} gleam__dagent;

typedef struct gleam__dtask {
    int state;              /* 0 waiting, 1 running, 2 done */
    int agent;
    int64_t bytes, rows;
    double t0, t1;          /* started, ended */
} gleam__dtask;

typedef struct gleam__drive {
    gleam_flow *f;
    gleam__plan *p;
    gleam_options o;
    char job[64], bin[65];
    int flow, shards, mfd;
    uint64_t hash;
    gleam__dagent *ag;
    int nag;
    gleam__dtask **t;       /* by stage - 1, then shard */
    gleam__buf *splits;     /* by stage - 1: a sort's splitter rows, packed one after another */
    gleam__buf **index;     /* by stage - 1, then shard: a producer's sorted blocks, [run, first row] each */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, failed, stop;
    gleam_result err;
    char msg[GLEAM__ERRMAX];
    gleam__buf args;
    char cwd[4096];
} gleam__drive;

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

static void gleam__drive_fail(gleam__drive *d, gleam_result r, const char *fmt, ...) GLEAM__PRINTF(3, 4);
static void gleam__drive_fail(gleam__drive *d, gleam_result r, const char *fmt, ...) {
    va_list ap;
    pthread_mutex_lock(&d->mu);
    if (!d->failed) {
        d->failed = 1;
        d->err = r;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* A connection to agent a, greeted. fd, or -1 with the failure recorded. */
static int gleam__drive_dial(gleam__drive *d, int a) {
    char err[512];
    int role, fd = gleam__connect(d->ag[a].host, d->ag[a].port, 10000, err, sizeof err);
    if (fd >= 0 && gleam__greet(fd, 0, GLEAM__ROLE_DRIVER, &role, NULL, err, sizeof err) != 1) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) gleam__drive_fail(d, GLEAM_ERR_NET, "agent %s:%d: %s", d->ag[a].host, d->ag[a].port, err);
    return fd;
}

/* >>binary: this program, sent once to each agent that lacks it --------------------------- */

static char *gleam__exe;
static size_t gleam__exe_len;
static char gleam__exe_hash[65];

static int gleam__read_exe(char *err, size_t cap) {
    unsigned char sum[GLEAM__SHA256_LEN];
    gleam__buf b = {NULL, 0, 0};
    char chunk[65536];
    int fd;
    ssize_t k;
    if (gleam__exe) return 0;
    if ((fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) < 0) {
        gleam__fmt_into(err, cap, "cannot read this program's binary (/proc/self/exe): %s", strerror(errno));
        return -1;
    }
    while ((k = read(fd, chunk, sizeof chunk)) > 0)
        if (gleam__buf_add(&b, chunk, (size_t)k)) break;
    close(fd);
    if (k != 0) {
        gleam__buf_free(&b);
        gleam__fmt_into(err, cap, "cannot read this program's binary: %s", k < 0 ? strerror(errno) : "out of memory");
        return -1;
    }
    gleam__sha256(b.p, b.len, sum);
    gleam__hex(sum, sizeof sum, gleam__exe_hash);
    gleam__exe = b.p;
    gleam__exe_len = b.len;
    return 0;
}

/* Make sure agent a has the binary. 0, or -1 with the failure recorded. */
static int gleam__drive_ship(gleam__drive *d, int a) {
    gleam__buf buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    gleam_value m[2];
    char err[512] = "";
    int64_t have = 0;
    int fd = gleam__drive_dial(d, a), k = -1;
    size_t off;
    if (fd < 0) return -1;
    m[0] = gleam_str(gleam__exe_hash);
    if (gleam__msg_send(fd, GLEAM__MSG_HAVE, m, 1) || (k = gleam__msg_recv(fd, &buf, &v, 1, err, sizeof err)) != GLEAM__MSG_OK ||
        gleam__mint(&v, 0, 0, 1, &have))
        goto bad;
    if (!have) {
        m[1] = gleam_int((int64_t)gleam__exe_len);
        if (gleam__msg_send(fd, GLEAM__MSG_BINARY, m, 2)) goto bad;
        for (off = 0; off < gleam__exe_len; off += (size_t)1 << 20) {
            gleam_value piece = gleam_bytes(gleam__exe + off, GLEAM__MIN(gleam__exe_len - off, (size_t)1 << 20));
            if (gleam__msg_send(fd, GLEAM__MSG_PIECE, &piece, 1)) goto bad;
        }
        if ((k = gleam__msg_recv(fd, &buf, &v, 0, err, sizeof err)) != GLEAM__MSG_OK) goto bad;
    }
    close(fd);
    gleam__buf_free(&buf);
    gleam__vals_free(&v);
    return 0;
bad:
    gleam__drive_fail(d, GLEAM_ERR_NET, "agent %s:%d: cannot send it this program's binary: %s", d->ag[a].host, d->ag[a].port,
                      err[0] ? err : k == 0 ? "it closed the connection" : strerror(errno));
    close(fd);
    gleam__buf_free(&buf);
    gleam__vals_free(&v);
    return -1;
}

/* Hold the job on agent a: its connection stays open until the job ends. */
static int gleam__drive_hold(gleam__drive *d, int a) {
    gleam__buf buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    gleam_value m = gleam_str(d->job);
    char err[512] = "";
    int fd = gleam__drive_dial(d, a), k = -1;
    if (fd < 0) return -1;
    if (gleam__msg_send(fd, GLEAM__MSG_HOLD, &m, 1) || (k = gleam__msg_recv(fd, &buf, &v, 0, err, sizeof err)) != GLEAM__MSG_OK) {
        gleam__drive_fail(d, GLEAM_ERR_NET, "agent %s:%d: cannot hold the job: %s", d->ag[a].host, d->ag[a].port,
                          err[0] ? err : strerror(errno));
        close(fd);
        fd = -1;
    }
    gleam__buf_free(&buf);
    gleam__vals_free(&v);
    d->ag[a].hold = fd;
    return fd < 0 ? -1 : 0;
}

/* >>master ---------------------------------------------------------------------------------- */

/* The master's agents into d->ag. 0, or -1 with the failure recorded. */
static int gleam__drive_master(gleam__drive *d) {
    gleam__netflags *nf = gleam__net_flags();
    char host[256] = "127.0.0.1", err[512] = "";
    int port = GLEAM__NET_MASTER_PORT, role, k = -1, i;
    int64_t n = 0;
    gleam__buf buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    if (nf->master && gleam__hostport(nf->master, host, sizeof host, &port, err, sizeof err)) {
        gleam__drive_fail(d, GLEAM_ERR_FLAG, "-gleam.master: %s", err);
        return -1;
    }
    if ((d->mfd = gleam__connect(host, port, 5000, err, sizeof err)) < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", err);
        gleam__drive_fail(d, GLEAM_ERR_NET, "master %s:%d: %s (start one with `%s master`, or name it with -gleam.master=HOST:PORT)",
                          host, port, why, nf->argv && nf->argv[0] ? nf->argv[0] : "JOB");
        return -1;
    }
    if (gleam__greet(d->mfd, 0, GLEAM__ROLE_DRIVER, &role, NULL, err, sizeof err) != 1) {
        gleam__drive_fail(d, GLEAM_ERR_NET, "master %s:%d: %s", host, port, err);
        return -1;
    }
    if (gleam__msg_send(d->mfd, GLEAM__MSG_AGENTS, NULL, 0) ||
        (k = gleam__msg_recv(d->mfd, &buf, &v, 1, err, sizeof err)) != GLEAM__MSG_OK ||
        gleam__mint(&v, 0, 0, GLEAM__MAX_AGENTS, &n) || v.n < 1 + 3 * n) {
        gleam__drive_fail(d, GLEAM_ERR_NET, "master %s:%d: no list of agents: %s", host, port, err[0] ? err : "it did not answer");
        goto out;
    }
    if (n == 0) {
        gleam__drive_fail(d, GLEAM_ERR_NET, "master %s:%d has no agents: start one with `%s agent -master %s:%d`", host, port,
                          nf->argv && nf->argv[0] ? nf->argv[0] : "JOB", host, port);
        goto out;
    }
    if (!(d->ag = (gleam__dagent *)gleam__calloc((size_t)n, sizeof *d->ag))) goto out;
    for (i = 0; i < n; i++) {
        const char *h;
        size_t len;
        int64_t p, s;
        if (gleam__mbytes(&v, 1 + 3 * i, &h, &len) || len >= sizeof d->ag[i].host || gleam__mint(&v, 2 + 3 * i, 1, 65535, &p) ||
            gleam__mint(&v, 3 + 3 * i, 1, 1 << 20, &s))
            continue;
        memcpy(d->ag[d->nag].host, h, len);
        d->ag[d->nag].host[len] = 0;
        d->ag[d->nag].port = (int)p;
        d->ag[d->nag].slots = (int)s;
        d->ag[d->nag].hold = -1;
        d->nag++;
    }
out:
    gleam__buf_free(&buf);
    gleam__vals_free(&v);
    return d->nag ? 0 : -1;
}

/* Tell the master about the job: its name and stages. Its answer is only waited for. */
static void gleam__drive_announce(gleam__drive *d) {
    gleam__buf st = {NULL, 0, 0}, buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    gleam_value m[2], row[3 + 8];
    char label[512], err[256];
    int i, k, n;
    for (i = 0; i < d->p->nstages; i++) {
        const gleam__stage *s = d->p->stages[i];
        size_t at = 0;
        label[0] = 0;
        for (k = 0; k < s->nnodes && at < sizeof label - 130; k++) {
            char one[128];
            gleam__step_label(s->nodes[k]->step, one, sizeof one);
            at += (size_t)snprintf(label + at, sizeof label - at, "%s%s", k ? " -> " : "", one);
        }
        row[0] = gleam_int(s->id);
        row[1] = gleam_str(label);
        row[2] = gleam_int(s->nshards);
        n = 3;
        for (k = 0; k < d->p->nstages && n < 11; k++) { /* the stages it reads */
            int q;
            const gleam__stage *o = d->p->stages[k];
            if (!s->root || gleam__step_class(s->root->kind) != GLEAM__WIDE) break;
            for (q = 1; q < o->nnodes; q++)
                if (o->nodes[q]->step == s->root) {
                    row[n++] = gleam_int(o->id);
                    break;
                }
        }
        if (gleam__pack_row(&st, row, n)) break;
    }
    m[0] = gleam_str(d->f->name);
    m[1] = gleam_bytes(st.p ? st.p : "", st.len);
    if (gleam__msg_send(d->mfd, GLEAM__MSG_JOB, m, 2) == 0) gleam__msg_recv(d->mfd, &buf, &v, 0, err, sizeof err);
    gleam__buf_free(&st);
    gleam__buf_free(&buf);
    gleam__vals_free(&v);
}

static void gleam__drive_progress(gleam__drive *d) {
    int i, j;
    for (i = 0; i < d->p->nstages && d->mfd >= 0; i++) {
        gleam_value m[5];
        int done = 0, running = 0;
        int64_t rows = 0, bytes = 0;
        pthread_mutex_lock(&d->mu);
        for (j = 0; j < d->p->stages[i]->nshards; j++) {
            done += d->t[i][j].state == 2;
            running += d->t[i][j].state == 1;
            rows += d->t[i][j].rows;
            bytes += d->t[i][j].bytes;
        }
        pthread_mutex_unlock(&d->mu);
        m[0] = gleam_int(i + 1);
        m[1] = gleam_int(done);
        m[2] = gleam_int(running);
        m[3] = gleam_int(rows);
        m[4] = gleam_int(bytes);
        if (gleam__msg_send(d->mfd, GLEAM__MSG_PROGRESS, m, 5)) {
            close(d->mfd); /* the master went: the job goes on without it */
            d->mfd = -1;
        }
    }
}

/* >>tasks ------------------------------------------------------------------------------------ */

/* Stage st's inputs: is stage o one of its producers (o holds a non-root node of st's
   root), and on which side? -1 when not. */
static int gleam__feeds(const gleam__stage *o, const gleam__stage *st) {
    int q;
    if (!st->root || gleam__step_class(st->root->kind) != GLEAM__WIDE) return -1;
    for (q = 1; q < o->nnodes; q++)
        if (o->nodes[q]->step == st->root) return o->nodes[q]->side;
    return -1;
}

/* The srow of a packed row for order o. */
static gleam__srow gleam__srow_of(const char *row, const gleam_order *o) {
    gleam__srow r;
    r.row = row;
    r.key = gleam__prefix(gleam__row_field(row, o->by[0].field), o->by[0].dir);
    return r;
}

/* Which blocks of a producer's sorted runs partition `shard` of sort stage s needs: in each
   run, those whose keys may lie in [lo, hi) (a block holds the keys from its first row to
   the next block's first row), as [from, to) pairs in out. 0, or -1 when the index does
   not decode or out of memory. */
static int gleam__drive_ranges(const gleam__drive *d, int s, int shard, const gleam__buf *index, gleam__buf *out) {
    const gleam_order *o = &d->p->stages[s]->root->order;
    const char *p = d->splits[s].p, *e = p + d->splits[s].len, *q = index->p, *qe = q + index->len;
    gleam__srow lo, hi, *first = NULL;
    int64_t *run = NULL;
    gleam__cmp cmp;
    gleam__vals v = {NULL, 0, 0};
    size_t n = 0, cap = 0, b, from = 0, to = 0;
    int has_lo = 0, has_hi = 0, i, bad = 0;
    gleam__cmp_init(&cmp, o);
    for (i = 0; p < e && i <= shard; i++, p += gleam__row_len(p)) {
        if (i == shard - 1) lo = gleam__srow_of(p, o), has_lo = 1;
        if (i == shard) hi = gleam__srow_of(p, o), has_hi = 1;
    }
    while (!bad && q && q < qe) { /* the index: run and first row of every block */
        if (n == cap) {
            size_t c = cap ? 2 * cap : 256;
            gleam__srow *f = (gleam__srow *)gleam__realloc(first, c * sizeof *f);
            int64_t *r = f ? (int64_t *)gleam__realloc(run, c * sizeof *r) : NULL;
            if (f) first = f;
            if (r) run = r;
            if (!f || !r) {
                bad = 1;
                break;
            }
            cap = c;
        }
        if (gleam__unpack_row(&q, qe, &v) != GLEAM_OK || v.n != 2 || v.v[0].type != GLEAM_INT || v.v[1].type != GLEAM_BYTES) {
            bad = 1;
            break;
        }
        run[n] = v.v[0].u.i;
        first[n++] = gleam__srow_of(v.v[1].u.s, o); /* points into index, which outlives this */
    }
    for (b = 0; !bad && b < n; b++) {
        int last = b + 1 == n || run[b + 1] != run[b];
        int need = (!has_hi || gleam__srow_cmp(&cmp, &first[b], &hi) < 0) &&
                   (last || !has_lo || gleam__srow_cmp(&cmp, &first[b + 1], &lo) >= 0);
        if (need) {
            if (from == to) from = b;
            to = b + 1;
        }
        if (last && from < to) { /* this run's blocks */
            unsigned char pair[8];
            gleam__be32(pair, (uint32_t)from);
            gleam__be32(pair + 4, (uint32_t)to);
            if (gleam__buf_add(out, pair, 8)) bad = 1;
            from = to = 0;
        }
    }
    gleam__free(first);
    gleam__free(run);
    gleam__vals_free(&v);
    return bad ? -1 : 0;
}

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

/* One task on its agent: RUN, then what it prints, then its result. */
static void *gleam__drive_task(void *arg) {
    gleam__drun *run = (gleam__drun *)arg;
    gleam__drive *d = run->d;
    int stage = run->stage, shard = run->shard, a, fd = -1, k = 0, nshards = d->p->stages[stage - 1]->nshards;
    gleam__dtask *t = &d->t[stage - 1][shard];
    gleam__buf spec = {NULL, 0, 0}, buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    char err[512] = "", where[300];
    int64_t res = GLEAM_ERR_NET, bytes = 0, rows = 0;
    gleam__free(run);
    a = t->agent;
    snprintf(where, sizeof where, "stage %d, shard %d of %d on agent %s:%d", stage, shard + 1, nshards, d->ag[a].host,
             d->ag[a].port);
    if (gleam__drive_spec(d, stage, shard, &spec) == 0 && (fd = gleam__drive_dial(d, a)) >= 0) {
        gleam_value m[7];
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
    } else if (fd < 0) {
        res = GLEAM_ERR_NET; /* recorded by dial */
    } else {
        gleam__fmt_into(err, sizeof err, "out of memory");
    }
    if (res != GLEAM_OK && err[0]) gleam__drive_fail(d, (gleam_result)res, "%s: %s", where, err);
    else if (res != GLEAM_OK) gleam__drive_fail(d, (gleam_result)res, "%s failed", where);
    pthread_mutex_lock(&d->mu);
    t->state = res == GLEAM_OK ? 2 : 0;
    t->t1 = gleam__now();
    t->bytes = bytes;
    t->rows = rows;
    d->ag[a].running--;
    d->running--;
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

/* The agent for task (s, shard): with a free slot, holding most of its input bytes. -1 when
   none is free. With mu held. */
static int gleam__drive_pick(gleam__drive *d, int s, int shard) {
    int64_t *held = (int64_t *)gleam__calloc((size_t)d->nag, sizeof *held);
    int a, best = -1, i, j;
    (void)shard;
    for (i = 0; held && i < d->p->nstages; i++)
        if (gleam__feeds(d->p->stages[i], d->p->stages[s]) >= 0)
            for (j = 0; j < d->p->stages[i]->nshards; j++) held[d->t[i][j].agent] += d->t[i][j].bytes;
    for (a = 0; a < d->nag; a++) {
        if (d->ag[a].running >= d->ag[a].slots) continue;
        if (best < 0 || (held && held[a] > held[best]) ||
            ((!held || held[a] == held[best]) && d->ag[a].running * d->ag[best].slots < d->ag[best].running * d->ag[a].slots))
            best = a;
    }
    gleam__free(held);
    return best;
}

/* The splitters of sort stage s (index), from samples of every run its producers made. */
static int gleam__drive_splitters(gleam__drive *d, int s) {
    const gleam__stage *st = d->p->stages[s];
    int P = st->nshards, i, j, role;
    gleam__cmp cmp;
    gleam__run *samples;
    gleam__vals row = {NULL, 0, 0};
    gleam__buf buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    char err[512] = "";
    if (P < 2) return 0;
    gleam__cmp_init(&cmp, &st->root->order);
    if (!(samples = gleam__run_new())) return -1;
    for (i = 0; i < d->p->nstages && !err[0]; i++) {
        if (gleam__feeds(d->p->stages[i], st) < 0) continue;
        for (j = 0; j < d->p->stages[i]->nshards && !err[0]; j++) {
            const gleam__dagent *a = &d->ag[d->t[i][j].agent];
            gleam_value m[5];
            const char *p, *e;
            size_t len;
            int fd = gleam__connect(a->host, a->port, 10000, err, sizeof err);
            if (fd < 0) break;
            m[0] = gleam_str(d->job);
            m[1] = gleam_int(i + 1);
            m[2] = gleam_int(j);
            m[3] = gleam_int(st->root->id);
            m[4] = gleam_int(64 * P);
            if (gleam__greet(fd, 0, GLEAM__ROLE_DRIVER, &role, NULL, err, sizeof err) != 1 ||
                gleam__msg_send(fd, GLEAM__MSG_SAMPLE, m, 5) ||
                gleam__msg_recv(fd, &buf, &v, 2, err, sizeof err) != GLEAM__MSG_OK || gleam__mbytes(&v, 1, &p, &len)) {
                if (!err[0]) gleam__fmt_into(err, sizeof err, "no samples from agent %s:%d", a->host, a->port);
                close(fd);
                break;
            }
            if (gleam__buf_add(&d->index[i][j], p, len)) gleam__fmt_into(err, sizeof err, "out of memory");
            gleam__mbytes(&v, 0, &p, &len);
            for (e = p + len; p < e;)
                if (gleam__unpack_row(&p, e, &row) != GLEAM_OK || gleam__run_add(samples, &cmp, row.v, row.n)) {
                    gleam__fmt_into(err, sizeof err, "the samples of agent %s:%d do not decode", a->host, a->port);
                    break;
                }
            close(fd);
        }
    }
    if (!err[0] && gleam__run_sort(samples, &cmp)) gleam__fmt_into(err, sizeof err, "out of memory");
    for (i = 1; i < P && !err[0] && samples->n; i++) {
        const char *r = samples->rows[(size_t)i * samples->n / (size_t)P].row;
        if (gleam__buf_add(&d->splits[s], r, gleam__row_len(r))) gleam__fmt_into(err, sizeof err, "out of memory");
    }
    gleam__run_free(samples);
    gleam__vals_free(&row);
    gleam__vals_free(&v);
    gleam__buf_free(&buf);
    if (err[0]) gleam__drive_fail(d, GLEAM_ERR_NET, "stage %d: cannot agree on the sort's splitters: %s", s + 1, err);
    return err[0] ? -1 : 0;
}

/* Run every task, in stage order as their inputs complete. GLEAM_OK, or the first failure. */
static gleam_result gleam__drive_tasks(gleam__drive *d) {
    int s, j, left = 0, *started;
    double beat = 0;
    if (!(started = (int *)gleam__calloc((size_t)d->p->nstages, sizeof *started))) return GLEAM_ERR_NOMEM;
    for (s = 0; s < d->p->nstages; s++) left += d->p->stages[s]->nshards;
    pthread_mutex_lock(&d->mu);
    while (!d->failed) {
        int done = 0;
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

/* >>outputs: the last rows, into the program's sinks ------------------------------------------ */

static gleam_result gleam__drive_outputs(gleam__drive *d, gleam__job *job) {
    const gleam__plan *p = d->p;
    gleam__buf buf = {NULL, 0, 0};
    gleam_result r = GLEAM_OK;
    int s, j, i, role;
    char err[512] = "";
    if ((r = gleam__sinks_open(job, NULL)) != GLEAM_OK) return r;
    for (s = 0; s < p->nstages && r == GLEAM_OK; s++) {
        gleam__stage *st = p->stages[s];
        int outs = 0;
        for (i = 1; i < st->nnodes; i++) outs += gleam__step_class(st->nodes[i]->step->kind) == GLEAM__OUTPUT;
        if (!outs) continue;
        for (j = 0; j < st->nshards && r == GLEAM_OK; j++) {
            const gleam__dagent *a = &d->ag[d->t[s][j].agent];
            gleam__task *t = (gleam__task *)gleam__calloc(1, sizeof *t);
            int fd = -1;
            if (!t || !(t->ops = (gleam__op **)gleam__calloc((size_t)st->nnodes, sizeof *t->ops))) {
                gleam__free(t);
                r = GLEAM_ERR_NOMEM;
                break;
            }
            t->job = job;
            t->stage = st;
            t->shard = j;
            t->t0 = gleam__now();
            for (i = 1; i < st->nnodes && r == GLEAM_OK; i++)
                if (gleam__step_class(st->nodes[i]->step->kind) == GLEAM__OUTPUT &&
                    !(t->ops[i] = gleam__make_output(t, st->nodes[i])))
                    r = GLEAM_ERR_NOMEM;
            for (i = 1; i < st->nnodes && r == GLEAM_OK; i++) {
                gleam__op *op = t->ops[i];
                gleam_value m[5];
                if (!op) continue;
                if (fd < 0 && ((fd = gleam__connect(a->host, a->port, 10000, err, sizeof err)) < 0 ||
                               gleam__greet(fd, 0, GLEAM__ROLE_DRIVER, &role, NULL, err, sizeof err) != 1)) {
                    r = GLEAM_ERR_NET;
                    break;
                }
                m[0] = gleam_str(d->job);
                m[1] = gleam_int(s + 1);
                m[2] = gleam_int(j);
                m[3] = gleam_int(st->nodes[i]->step->id);
                m[4] = gleam_int(j + st->nodes[i]->offset);
                if (gleam__msg_send(fd, GLEAM__MSG_FETCH, m, 5)) {
                    gleam__fmt_into(err, sizeof err, "%s", strerror(errno));
                    r = GLEAM_ERR_NET;
                    break;
                }
                for (;;) {
                    gleam__frame fr;
                    const char *q, *e;
                    int k = gleam__frame_read_max(fd, &buf, &fr, GLEAM__NET_FRAME_MAX);
                    if (k <= 0) {
                        gleam__fmt_into(err, sizeof err, "%s", k == 0 ? "it closed the connection" : strerror(errno));
                        r = GLEAM_ERR_NET;
                        break;
                    }
                    if (fr.type == GLEAM__MSG_OK) break;
                    if (fr.type != GLEAM__FRAME_ROWS) {
                        gleam__fmt_into(err, sizeof err, "%.*s", fr.type == GLEAM__MSG_ERR ? (int)GLEAM__MIN(fr.len, (size_t)400) : 0, fr.data);
                        if (!err[0]) gleam__fmt_into(err, sizeof err, "a frame of type %d among the rows", fr.type);
                        r = GLEAM_ERR_NET;
                        break;
                    }
                    for (q = fr.data, e = fr.data + fr.len; q < e && r >= 0 && !op->done;) {
                        if (gleam__unpack_row(&q, e, &op->vals) != GLEAM_OK) {
                            gleam__fmt_into(err, sizeof err, "rows that do not decode");
                            r = GLEAM_ERR_NET;
                            break;
                        }
                        op->nin++;
                        r = op->push(op, op->vals.v, op->vals.n);
                    }
                }
                if (r >= 0) r = op->finish(op);
            }
            if (fd >= 0) close(fd);
            if (r == GLEAM_ERR_NET && err[0]) gleam__job_fail(job, r, "reading the output of stage %d, shard %d from agent %s:%d: %s",
                                                             s + 1, j + 1, a->host, a->port, err);
            gleam__task_release(t);
            gleam__free(t);
            if (r > 0) r = GLEAM_OK;
        }
    }
    gleam__buf_free(&buf);
    {
        gleam_result rc = gleam__sinks_close(job);
        if (r == GLEAM_OK) r = rc;
    }
    return r != GLEAM_OK ? r : job->err;
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
    gleam__buf enc = {NULL, 0, 0};
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
    if (gleam__read_exe(err, sizeof err)) {
        gleam__drive_fail(&d, GLEAM_ERR_IO, "%s", err);
        goto out;
    }
    snprintf(d.bin, sizeof d.bin, "%s", gleam__exe_hash);
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
    for (i = 0; i < d.p->nstages; i++)
        if (!(d.t[i] = (gleam__dtask *)gleam__calloc((size_t)d.p->stages[i]->nshards, sizeof **d.t)) ||
            !(d.index[i] = (gleam__buf *)gleam__calloc((size_t)d.p->stages[i]->nshards, sizeof **d.index))) {
            gleam__drive_fail(&d, GLEAM_ERR_NOMEM, "out of memory");
            goto out;
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
    gleam__drive_announce(&d);
    for (a = 0; a < d.nag; a++)
        if (gleam__drive_ship(&d, a) || gleam__drive_hold(&d, a)) goto out;
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
    gleam__buf_free(&enc);
    gleam__plan_free(d.p);
    pthread_mutex_destroy(&d.mu);
    pthread_cond_destroy(&d.cv);
    return d.failed ? d.err : GLEAM_OK;
}
