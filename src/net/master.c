/* master.c: the master: soft state only. It knows the agents (their address, slots and
   memory, from their registration and heartbeats) and the running jobs (their stages and
   progress, from their drivers), answers a driver that asks for agents, and serves the
   status page (status.c). Restarted, it starts empty and fills again as agents and
   drivers reconnect. */
#include "net/net.h"

static gleam__master gleam__m;

/* A slot of the table: its index, or -1 when the table is full. */
static int gleam__master_slot(int agents) {
    int i, n = agents ? GLEAM__MAX_AGENTS : GLEAM__MAX_JOBS;
    double oldest = 1e300;
    int at = -1;
    for (i = 0; i < n; i++) {
        if (agents ? !gleam__m.agents[i].used : !gleam__m.jobs[i].used) return i;
        if (!agents && gleam__m.jobs[i].ended > 0 && gleam__m.jobs[i].ended < oldest) { /* a finished job makes room */
            oldest = gleam__m.jobs[i].ended;
            at = i;
        }
    }
    return at;
}

/* An agent's connection: its registration, then its heartbeats until it goes. */
static void gleam__master_agent(int fd, gleam__buf *buf, gleam__vals *v, const char *peer) {
    char err[256], host[256];
    const char *s;
    size_t len;
    int64_t port, slots, mem, pid, x;
    int at, k;
    gleam_value ok;
    if ((k = gleam__msg_recv(fd, buf, v, 5, err, sizeof err)) != GLEAM__MSG_REGISTER || gleam__mbytes(v, 0, &s, &len) ||
        len >= sizeof host || gleam__mint(v, 1, 1, 65535, &port) || gleam__mint(v, 2, 1, 1 << 20, &slots) ||
        gleam__mint(v, 3, 0, (int64_t)1 << 40, &mem) || gleam__mint(v, 4, 0, INT32_MAX, &pid)) {
        fprintf(stderr, "gleam master: agent %s: %s\n", peer, k < 0 ? err : "its registration does not decode");
        return;
    }
    memcpy(host, s, len);
    host[len] = 0;
    if (!len) snprintf(host, sizeof host, "%s", peer); /* no -host: the address it came from */
    pthread_mutex_lock(&gleam__m.mu);
    at = gleam__master_slot(1);
    if (at >= 0) {
        gleam__magent *a = &gleam__m.agents[at];
        memset(a, 0, sizeof *a);
        a->used = 1;
        a->id = ++gleam__m.next_agent;
        snprintf(a->host, sizeof a->host, "%s", host);
        a->port = (int)port;
        a->slots = (int)slots;
        a->memory_mb = mem;
        a->pid = (long)pid;
        a->since = a->beat = gleam__now();
    }
    pthread_mutex_unlock(&gleam__m.mu);
    if (at < 0) {
        gleam_value e = gleam_str("the master has no room for another agent");
        gleam__msg_send(fd, GLEAM__MSG_ERR, &e, 1);
        return;
    }
    ok = gleam_int(gleam__m.agents[at].id);
    fprintf(stderr, "gleam master: agent %s:%d registered (%d slots, %ld MB)\n", host, (int)port, (int)slots, (long)mem);
    if (gleam__msg_send(fd, GLEAM__MSG_OK, &ok, 1) == 0)
        while ((k = gleam__msg_recv(fd, buf, v, 3, err, sizeof err)) == GLEAM__MSG_BEAT) {
            pthread_mutex_lock(&gleam__m.mu);
            gleam__m.agents[at].beat = gleam__now();
            if (!gleam__mint(v, 0, 0, INT32_MAX, &x)) gleam__m.agents[at].running = x;
            if (!gleam__mint(v, 1, 0, INT64_MAX, &x)) gleam__m.agents[at].kept = x;
            if (!gleam__mint(v, 2, 0, INT32_MAX, &x)) gleam__m.agents[at].jobs = x;
            pthread_mutex_unlock(&gleam__m.mu);
        }
    fprintf(stderr, "gleam master: agent %s:%d is gone (%s)\n", host, (int)port, k < 0 ? err : "it closed the connection");
    pthread_mutex_lock(&gleam__m.mu);
    gleam__m.agents[at].used = 0;
    pthread_mutex_unlock(&gleam__m.mu);
}

/* OK [n, then host, port, slots of each agent alive]. */
static int gleam__master_agents(int fd) {
    gleam_value v[1 + 3 * GLEAM__MAX_AGENTS];
    int i, n = 1;
    pthread_mutex_lock(&gleam__m.mu);
    for (i = 0; i < GLEAM__MAX_AGENTS; i++) {
        const gleam__magent *a = &gleam__m.agents[i];
        if (!a->used) continue;
        v[n++] = gleam_str(a->host); /* the table's strings stay while the values are sent: copied below */
        v[n++] = gleam_int(a->port);
        v[n++] = gleam_int(a->slots);
    }
    v[0] = gleam_int((n - 1) / 3);
    {
        gleam__buf b = {NULL, 0, 0};
        int r = gleam__pack_row(&b, v, n) ? -1 : 0;
        pthread_mutex_unlock(&gleam__m.mu);
        if (r == 0) r = gleam__frame_write(fd, GLEAM__MSG_OK, NULL, 0, b.p, b.len);
        gleam__buf_free(&b);
        return r;
    }
}

/* A driver's connection: questions about agents, its job and the job's progress. */
static void gleam__master_driver(int fd, gleam__buf *buf, gleam__vals *v, const char *peer) {
    char err[256];
    int k, job = -1, i;
    while ((k = gleam__msg_recv(fd, buf, v, 0, err, sizeof err)) > 0) {
        if (k == GLEAM__MSG_AGENTS) {
            if (gleam__master_agents(fd)) break;
        } else if (k == GLEAM__MSG_JOB && job < 0) {
            const char *name, *st;
            size_t nlen, slen;
            gleam_value id;
            if (gleam__mbytes(v, 0, &name, &nlen) || gleam__mbytes(v, 1, &st, &slen)) break;
            pthread_mutex_lock(&gleam__m.mu);
            if ((job = gleam__master_slot(0)) >= 0) {
                gleam__mjob *j = &gleam__m.jobs[job];
                gleam__mjob_clear(j);
                j->used = 1;
                j->id = ++gleam__m.next_job;
                j->started = gleam__now();
                snprintf(j->name, sizeof j->name, "%.*s", (int)GLEAM__MIN(nlen, sizeof j->name - 1), name);
                snprintf(j->driver, sizeof j->driver, "%s", peer);
                gleam__mjob_stages(j, st, slen);
            }
            id = gleam_int(job >= 0 ? gleam__m.jobs[job].id : 0);
            pthread_mutex_unlock(&gleam__m.mu);
            if (gleam__msg_send(fd, GLEAM__MSG_OK, &id, 1)) break;
        } else if (k == GLEAM__MSG_PROGRESS && job >= 0) {
            int64_t s, done, running, rows, bytes;
            if (gleam__mint(v, 0, 1, INT32_MAX, &s) || gleam__mint(v, 1, 0, INT32_MAX, &done) ||
                gleam__mint(v, 2, 0, INT32_MAX, &running) || gleam__mint(v, 3, 0, INT64_MAX, &rows) ||
                gleam__mint(v, 4, 0, INT64_MAX, &bytes))
                break;
            pthread_mutex_lock(&gleam__m.mu);
            for (i = 0; i < gleam__m.jobs[job].nstages; i++) {
                gleam__mstage *ms = &gleam__m.jobs[job].stages[i];
                if (ms->id != s) continue;
                ms->done = (int)done;
                ms->running = (int)running;
                ms->rows = rows;
                ms->bytes = bytes;
            }
            pthread_mutex_unlock(&gleam__m.mu);
        } else if (k == GLEAM__MSG_DONE && job >= 0) {
            int64_t r = 0;
            gleam__mint(v, 0, INT32_MIN, INT32_MAX, &r);
            pthread_mutex_lock(&gleam__m.mu);
            gleam__m.jobs[job].result = r ? 2 : 1;
            pthread_mutex_unlock(&gleam__m.mu);
        } else {
            gleam_value e = gleam_str("the master does not answer that message");
            gleam__msg_send(fd, GLEAM__MSG_ERR, &e, 1);
            break;
        }
    }
    if (job >= 0) {
        pthread_mutex_lock(&gleam__m.mu);
        gleam__m.jobs[job].ended = gleam__now();
        if (!gleam__m.jobs[job].result) gleam__m.jobs[job].result = 3; /* its driver went without a word */
        pthread_mutex_unlock(&gleam__m.mu);
    }
}

static void *gleam__master_conn(void *arg) {
    int fd = ((gleam__conn *)arg)->fd, role = 0, k, port;
    char err[256], peek[4], peer[64];
    gleam__buf buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    gleam__free(arg);
    gleam__peer(fd, peer, sizeof peer, &port);
    gleam__timeouts(fd, GLEAM__NET_TIMEOUT_MS); /* the greeting ends within the accept loop's deadline */
    k = gleam__greet(fd, 1, GLEAM__ROLE_MASTER, &role, peek, err, sizeof err);
    if (k == 2) gleam__status_http(&gleam__m, fd, peek);
    else if (k == 0) fprintf(stderr, "gleam master: refused %s:%d: %s\n", peer, port, err);
    else if (role == GLEAM__ROLE_AGENT) {
        gleam__timeouts(fd, 10 * GLEAM__NET_BEAT_MS); /* ten beats missed: the agent is gone */
        gleam__master_agent(fd, &buf, &v, peer);
    } else if (role == GLEAM__ROLE_DRIVER) {
        gleam__timeouts(fd, GLEAM__NET_TIMEOUT_MS);
        gleam__master_driver(fd, &buf, &v, peer);
    } else {
        gleam_value e = gleam_str("the master talks to agents and drivers only");
        gleam__msg_send(fd, GLEAM__MSG_ERR, &e, 1);
    }
    gleam__buf_free(&buf);
    gleam__vals_free(&v);
    close(fd);
    pthread_mutex_lock(&gleam__m.mu);
    gleam__m.conns--;
    pthread_mutex_unlock(&gleam__m.mu);
    return NULL;
}

GLEAM__PRIV int gleam__master_main(const gleam__netcfg *cfg) {
    char err[512];
    const unsigned char *key;
    int lfd;
    if (!gleam__secret(&key) && !gleam__is_loopback(cfg->host)) {
        fprintf(stderr, "gleam master: without a shared secret the master listens on loopback only, not on %s: set "
                        "GLEAM_SECRET or -gleam.secret-file on every member of the cluster\n",
                cfg->host);
        return 2;
    }
    pthread_mutex_init(&gleam__m.mu, NULL);
    if ((lfd = gleam__listen(cfg->host, cfg->port, err, sizeof err)) < 0) {
        fprintf(stderr, "gleam master: %s\n", err);
        return 1;
    }
    gleam__m.port = gleam__local_port(lfd);
    snprintf(gleam__m.host, sizeof gleam__m.host, "%s", cfg->host);
    gleam__m.started = gleam__now();
    fprintf(stderr, "gleam master: listening on %s:%d (status page http://%s:%d/)\n", cfg->host, gleam__m.port, cfg->host,
            gleam__m.port);
    if (gleam__serve(lfd, GLEAM__MAX_CONNS, &gleam__m.conns, &gleam__m.mu, gleam__master_conn)) {
        fprintf(stderr, "gleam master: accept: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
