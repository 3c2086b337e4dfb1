/* prepare.c: a driver's dealings before its tasks run: the master's agents, the job
   announced to the master (and its progress after), this program's binary sent to the
   agents that lack it, and the job held on every agent for as long as it runs. */
#include "net/net.h"

/* >>binary: this program, sent once to each agent that lacks it --------------------------- */

static char *gleam__exe;
static size_t gleam__exe_len;
static char gleam__exe_hash[65];

GLEAM__PRIV int gleam__read_exe(char hash[65], char *err, size_t cap) {
    unsigned char sum[GLEAM__SHA256_LEN];
    gleam__buf b = {NULL, 0, 0};
    char chunk[65536];
    int fd;
    ssize_t k;
    if (gleam__exe) {
        memcpy(hash, gleam__exe_hash, 65);
        return 0;
    }
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
    memcpy(hash, gleam__exe_hash, 65);
    return 0;
}

/* Make sure agent a has the binary. 0, or -1 with why in why[cap]. */
GLEAM__PRIV int gleam__drive_ship(gleam__drive *d, int a, char *why, size_t cap) {
    gleam__buf buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    gleam_value m[2];
    char err[512] = "";
    int64_t have = 0;
    int fd = gleam__drive_dial(d, a, err, sizeof err), k = -1;
    size_t off;
    if (fd < 0) {
        gleam__fmt_into(why, cap, "agent %s:%d: %s", d->ag[a].host, d->ag[a].port, err);
        return -1;
    }
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
    gleam__fmt_into(why, cap, "agent %s:%d: cannot send it this program's binary: %s", d->ag[a].host, d->ag[a].port,
                    err[0] ? err : k == 0 ? "it closed the connection" : strerror(errno));
    close(fd);
    gleam__buf_free(&buf);
    gleam__vals_free(&v);
    return -1;
}

/* Hold the job on agent a: its connection stays open until the job ends. 0, or -1 with
   why in why[cap]. */
GLEAM__PRIV int gleam__drive_hold(gleam__drive *d, int a, char *why, size_t cap) {
    gleam__buf buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    gleam_value m = gleam_str(d->job);
    char err[512] = "";
    int fd = gleam__drive_dial(d, a, err, sizeof err), k = -1;
    if (fd < 0) {
        gleam__fmt_into(why, cap, "agent %s:%d: %s", d->ag[a].host, d->ag[a].port, err);
        return -1;
    }
    if (gleam__msg_send(fd, GLEAM__MSG_HOLD, &m, 1) || (k = gleam__msg_recv(fd, &buf, &v, 0, err, sizeof err)) != GLEAM__MSG_OK) {
        gleam__fmt_into(why, cap, "agent %s:%d: cannot hold the job: %s", d->ag[a].host, d->ag[a].port,
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
GLEAM__PRIV int gleam__drive_master(gleam__drive *d) {
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
    snprintf(d->mhost, sizeof d->mhost, "%s", host);
    d->mport = port;
    if ((d->mfd = gleam__connect(host, port, 5000, err, sizeof err)) < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", err);
        gleam__drive_fail(d, GLEAM_ERR_NET, "master %s:%d: %s (start one with `%s master`, or name it with -gleam.master=HOST:PORT)",
                          host, port, why, nf->argv && nf->argv[0] ? nf->argv[0] : "JOB");
        return -1;
    }
    gleam__timeouts(d->mfd, 5000);
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
GLEAM__PRIV void gleam__drive_announce(gleam__drive *d) {
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

/* A master that went may be back: connect again (within a second), announce the job. */
static void gleam__drive_remaster(gleam__drive *d) {
    char err[256];
    int role;
    if (gleam__now() < d->mretry) return;
    d->mretry = gleam__now() + 2;
    if ((d->mfd = gleam__connect(d->mhost, d->mport, 1000, err, sizeof err)) < 0) return;
    gleam__timeouts(d->mfd, 2000); /* the scheduler waits on it: never long */
    if (gleam__greet(d->mfd, 0, GLEAM__ROLE_DRIVER, &role, NULL, err, sizeof err) != 1) {
        close(d->mfd);
        d->mfd = -1;
        return;
    }
    gleam__drive_announce(d);
}

GLEAM__PRIV void gleam__drive_progress(gleam__drive *d) {
    int i, j;
    if (d->mfd < 0) gleam__drive_remaster(d);
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
