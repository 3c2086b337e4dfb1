/* agent.c: an agent: registers with the master and beats; keeps the job binaries drivers
   send (by SHA-256, under -dir/bin); starts an executor per task a driver asks for (the
   job's binary exec'd with the driver's arguments, at most -slots at once), keeps the
   frames it writes (store.c) and passes what it prints to the driver; serves those frames
   to the executors and drivers that read them; drops a job's executors and frames when
   the last connection of its driver that holds it closes. */
#include "net/net.h"

extern char **environ;

typedef struct gleam__agent {
    gleam__netcfg cfg;
    gleam__store st;
    pthread_cond_t cv;      /* a slot became free */
    int running, conns, port;
} gleam__agent;

static gleam__agent gleam__ag;

static void gleam__agent_err(int fd, const char *fmt, ...) GLEAM__PRINTF(2, 3);
static void gleam__agent_err(int fd, const char *fmt, ...) {
    char msg[512];
    gleam_value v;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v = gleam_str(msg);
    gleam__msg_send(fd, GLEAM__MSG_ERR, &v, 1);
}

/* A 64-digit lowercase hex hash from value i of a message into out. 0, or -1. */
static int gleam__mhash(const gleam__vals *v, int i, char out[65]) {
    const char *p;
    size_t len, k;
    if (gleam__mbytes(v, i, &p, &len) || len != 64) return -1;
    for (k = 0; k < 64; k++)
        if (!((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'a' && p[k] <= 'f'))) return -1;
    memcpy(out, p, 64);
    out[64] = 0;
    return 0;
}

static void gleam__bin_path(char *out, size_t cap, const char *hash) { snprintf(out, cap, "%s/bin/%s", gleam__ag.cfg.dir, hash); }

/* Keep the binaries under bin/ within GLEAM__BIN_CAP bytes: the least recently used go
   first (a RUN touches its binary), never `keep`. A binary an executor runs stays on disk
   for it while it runs, even once unlinked. */
#define GLEAM__BIN_CAP ((off_t)1 << 30)
static void gleam__bin_trim(const char *keep) {
    char dir[1100], path[1400];
    off_t total = 0;
    DIR *d;
    struct dirent *e;
    for (;;) {
        char oldest[300] = "";
        time_t when = 0;
        total = 0;
        snprintf(dir, sizeof dir, "%s/bin", gleam__ag.cfg.dir);
        if (!(d = opendir(dir))) return;
        while ((e = readdir(d)) != NULL) {
            struct stat sb;
            if (strlen(e->d_name) != 64) continue; /* ours only: a hash */
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (stat(path, &sb)) continue;
            total += sb.st_size;
            if (strcmp(e->d_name, keep) && (!oldest[0] || sb.st_mtime < when)) {
                snprintf(oldest, sizeof oldest, "%s", e->d_name);
                when = sb.st_mtime;
            }
        }
        closedir(d);
        if (total <= GLEAM__BIN_CAP || !oldest[0]) return;
        snprintf(path, sizeof path, "%s/%s", dir, oldest);
        if (unlink(path)) return;
        fprintf(stderr, "gleam agent: dropped binary %s: the binaries passed %lld MB\n", oldest, (long long)(GLEAM__BIN_CAP >> 20));
    }
}

/* BINARY [hash, size] and its PIECE messages: the binary kept as bin/HASH once its bytes
   hash to HASH. */
static int gleam__agent_binary(int fd, gleam__buf *buf, gleam__vals *v) {
    char hash[65], path[1200], tmp[1300], err[256], got[65];
    unsigned char sum[GLEAM__SHA256_LEN];
    gleam__sha256_ctx sh;
    int64_t size, have = 0;
    int out, k;
    if (gleam__mhash(v, 0, hash) || gleam__mint(v, 1, 1, (int64_t)1 << 31, &size)) {
        gleam__agent_err(fd, "a binary needs a SHA-256 in hex and a size up to 2 GB");
        return -1;
    }
    gleam__bin_path(path, sizeof path, hash);
    snprintf(tmp, sizeof tmp, "%s.part.%ld.%lx", path, (long)getpid(), (unsigned long)pthread_self());
    if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700)) < 0) {
        gleam__agent_err(fd, "agent: cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    gleam__sha256_init(&sh);
    while (have < size) {
        const char *p;
        size_t len;
        char why[1200] = ""; /* stays empty when the peer is gone or spoke out of turn: nobody to tell */
        if ((k = gleam__msg_recv(fd, buf, v, 1, err, sizeof err)) == GLEAM__MSG_PIECE) {
            if (gleam__mbytes(v, 0, &p, &len)) snprintf(why, sizeof why, "agent: a piece of the binary is not bytes");
            else if (have + (int64_t)len > size) snprintf(why, sizeof why, "agent: the binary's pieces add up to more than its size");
            else if (gleam__write_all(out, p, len))
                snprintf(why, sizeof why, "agent: cannot write the binary under %s: %s", gleam__ag.cfg.dir, strerror(errno));
            else {
                gleam__sha256_add(&sh, p, len);
                have += (int64_t)len;
                continue;
            }
        }
        close(out);
        unlink(tmp);
        if (why[0]) gleam__agent_err(fd, "%s", why);
        return -1;
    }
    gleam__sha256_end(&sh, sum);
    gleam__hex(sum, sizeof sum, got);
    if (close(out)) {
        gleam__agent_err(fd, "agent: cannot write the binary under %s: %s", gleam__ag.cfg.dir, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (strcmp(got, hash) || rename(tmp, path)) { /* never under its name unless it hashes to it */
        if (strcmp(got, hash)) gleam__agent_err(fd, "agent: the binary sent does not hash to %s", hash);
        else gleam__agent_err(fd, "agent: cannot write the binary under %s: %s", gleam__ag.cfg.dir, strerror(errno));
        unlink(tmp);
        return -1;
    }
    gleam__bin_trim(hash);
    return gleam__msg_send(fd, GLEAM__MSG_OK, NULL, 0);
}

/* HOLD [job]: the job lives while this connection does; its driver's beats keep it open. */
static void gleam__agent_hold(int fd, gleam__buf *buf, gleam__vals *v) {
    char job[64], err[256];
    gleam__sjob *j;
    int i;
    if (gleam__mname(v, 0, job, sizeof job)) {
        gleam__agent_err(fd, "agent: a job's name is 1 to 63 bytes, no '/' and no NUL");
        return;
    }
    pthread_mutex_lock(&gleam__ag.st.mu);
    if ((j = gleam__store_job(&gleam__ag.st, job, 1)) != NULL) j->holds++;
    pthread_mutex_unlock(&gleam__ag.st.mu);
    if (!j || gleam__msg_send(fd, GLEAM__MSG_OK, NULL, 0)) return;
    while (gleam__msg_recv(fd, buf, v, 0, err, sizeof err) == GLEAM__MSG_BEAT) {
    }
    pthread_mutex_lock(&gleam__ag.st.mu);
    if (--j->holds == 0) { /* its driver is gone or done: its executors and frames too */
        for (i = 0; i < j->npids; i++) kill(-j->pids[i], SIGKILL);
        gleam__store_drop(&gleam__ag.st, j);
    }
    pthread_mutex_unlock(&gleam__ag.st.mu);
}

/* The rows of a frame an executor sent, if it is a frame of whole rows: for the figures,
   and for SAMPLE, which walks only the frames its rows are in. GLEAM__SROWS_NONE for
   another frame, or one that is not whole rows (trusted no further: a reader checks). */
static uint32_t gleam__count_rows(const gleam__frame *fr) {
    uint64_t rows = 0;
    if (fr->type != GLEAM__FRAME_BLOCK && fr->type != GLEAM__FRAME_ROWS) return GLEAM__SROWS_NONE;
    return gleam__check_rows(fr->data, fr->len, &rows) == GLEAM_OK && rows < GLEAM__SROWS_NONE ? (uint32_t)rows : GLEAM__SROWS_NONE;
}

/* >>executors ---------------------------------------------------------------------------------- */

/* Lines an executor prints, sent to the driver as LOG messages. */
typedef struct gleam__lines {
    char buf[4096];
    size_t n;
} gleam__lines;

static int gleam__send_log(int fd, int stream, const char *p, size_t n) {
    gleam_value v[2];
    v[0] = gleam_int(stream);
    v[1] = gleam_bytes(p, n);
    return gleam__msg_send(fd, GLEAM__MSG_LOG, v, 2);
}

/* Read what is there on pipe pfd into l and send its whole lines (or a full buffer); at
   the end (eof), what is left. -1 when the pipe ended. */
static int gleam__pump(int pfd, gleam__lines *l, int stream, int dfd) {
    ssize_t k = read(pfd, l->buf + l->n, sizeof l->buf - l->n);
    size_t start = 0, i;
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    if (k <= 0) {
        if (l->n) gleam__send_log(dfd, stream, l->buf, l->n);
        l->n = 0;
        return -1;
    }
    l->n += (size_t)k;
    for (i = 0; i < l->n; i++)
        if (l->buf[i] == '\n') {
            gleam__send_log(dfd, stream, l->buf + start, i - start);
            start = i + 1;
        }
    if (start == 0 && l->n == sizeof l->buf) start = l->n, gleam__send_log(dfd, stream, l->buf, l->n);
    memmove(l->buf, l->buf + start, l->n - start);
    l->n -= start;
    return 0;
}

/* The environment of an executor: ours, with its socket's descriptor and the secret. NULL
   when out of memory. */
static char **gleam__exec_env(const char *cwd) {
    const unsigned char *key;
    size_t klen = gleam__secret(&key), n = 0, i, k = 0;
    char **env, *sec, *dir;
    int tunables = 0;
    while (environ[n]) n++;
    if (!(env = (char **)gleam__calloc(n + 5, sizeof *env))) return NULL;
    for (i = 0; i < n; i++) {
        if (strncmp(environ[i], "GLEAM_SECRET=", 13) && strncmp(environ[i], "GLEAM_NET_", 10)) env[k++] = environ[i];
        if (!strncmp(environ[i], "GLIBC_TUNABLES=", 15)) tunables = 1;
    }
    env[k++] = (char *)"GLEAM_NET_EXEC=3";
    /* An executor is a fresh process: every page its heap touches first costs a fault, a
       4 KB page at a time; with huge pages for malloc's heap (glibc 2.35 on; other libcs
       ignore the variable) a sort's second stage takes half the time. Unless the agent's
       own environment sets the tunables. */
    if (!tunables) env[k++] = (char *)"GLIBC_TUNABLES=glibc.malloc.hugetlb=1";
    if ((dir = (char *)gleam__malloc(strlen(cwd) + 16)) != NULL) { /* where it runs: the driver's directory */
        sprintf(dir, "GLEAM_NET_DIR=%s", cwd);
        env[k++] = dir;
    }
    if (klen && (sec = (char *)gleam__malloc(13 + klen + 1)) != NULL) {
        memcpy(sec, "GLEAM_SECRET=", 13);
        memcpy(sec + 13, key, klen);
        sec[13 + klen] = 0;
        env[k++] = sec;
    }
    env[k] = NULL;
    return env;
}

/* RUN [job, binary, stage, shard, argv, cwd, spec]: start the executor, keep what it sends,
   pass on what it prints, and answer DONE [result, message, bytes kept]. */
static void gleam__agent_run(int fd, gleam__vals *v) {
    char job[64], hash[65], path[1200], cwd[4096], err[512] = "", msg[GLEAM__ERRMAX] = "";
    const char *args, *spec, *cp;
    size_t alen, slen, clen, i;
    int64_t stage, shard, result = GLEAM_ERR_IO;
    char **argv = NULL, **env = NULL, *argbuf = NULL;
    int sp[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1}, nargs = 0, status = 0, ended = 0, reaped = 0, k;
    gleam__lines lo, le;
    gleam__sjob *j;
    gleam__stask *t = NULL;
    uint64_t kept = 0, rows_kept = 0;
    uint32_t rows;
    gleam__buf fb = {NULL, 0, 0};
    pid_t pid = -1;
    double beat = gleam__now();
    lo.n = le.n = 0;
    if (gleam__mname(v, 0, job, sizeof job) || gleam__mhash(v, 1, hash) || gleam__mint(v, 2, 1, 1 << 20, &stage) ||
        gleam__mint(v, 3, 0, 1 << 20, &shard) || gleam__mbytes(v, 4, &args, &alen) || gleam__mbytes(v, 5, &cp, &clen) ||
        gleam__mbytes(v, 6, &spec, &slen) || clen >= sizeof cwd) {
        gleam__agent_err(fd, "agent: a RUN message needs a job, a binary, a stage, a shard, arguments, a directory, a spec");
        return;
    }
    memcpy(cwd, cp, clen);
    cwd[clen] = 0;
    gleam__bin_path(path, sizeof path, hash);
    if (access(path, X_OK)) {
        gleam__agent_err(fd, "agent: no binary %s here", hash);
        return;
    }
    utimes(path, NULL); /* used now: the last to go when binaries are dropped */
    if (!(argbuf = (char *)gleam__malloc(alen + 1)) || !(argv = (char **)gleam__calloc(alen + 2, sizeof *argv))) goto nomem;
    memcpy(argbuf, args, alen);
    argbuf[alen] = 0;
    argv[nargs++] = path; /* in place of the driver's argv[0] */
    for (i = strlen(argbuf) + 1; i < alen; i += strlen(argbuf + i) + 1) argv[nargs++] = argbuf + i;
    argv[nargs] = NULL;
    if (!(env = gleam__exec_env(cwd))) goto nomem;
    pthread_mutex_lock(&gleam__ag.st.mu); /* a slot, beating while waiting for one */
    while (gleam__ag.running >= gleam__ag.cfg.slots) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&gleam__ag.cv, &gleam__ag.st.mu, &ts);
        if (gleam__ag.running >= gleam__ag.cfg.slots && gleam__msg_send(fd, GLEAM__MSG_BEAT, NULL, 0)) {
            pthread_mutex_unlock(&gleam__ag.st.mu);
            goto out;
        }
    }
    gleam__ag.running++;
    /* the job must be held: once its driver is gone, a RUN that comes late must not make it
       again, with no one left to drop it */
    j = gleam__store_job(&gleam__ag.st, job, 0);
    t = j ? gleam__store_task(&gleam__ag.st, j, (int)stage, (int)shard, 1) : NULL;
    pthread_mutex_unlock(&gleam__ag.st.mu);
    if (!t) {
        gleam__fmt_into(err, sizeof err, j ? "agent: out of memory" : "agent: job %s is not held here (its driver is gone)", job);
        goto slot;
    }
    /* socket pairs made close-on-exec at once: another thread's executor must not inherit
       this one's ends (its output would never end) */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, po) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pe)) {
        gleam__fmt_into(err, sizeof err, "agent: cannot make the executor's pipes: %s", strerror(errno));
        goto slot;
    }
    { /* posix_spawn, not fork: a fork copies the page tables of every block kept here */
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        int e;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, po[1], 1);
        posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
        posix_spawn_file_actions_adddup2(&fa, sp[1], 3);
        posix_spawnattr_init(&at);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&at, 0);
        e = posix_spawn(&pid, path, &fa, &at, argv, env);
        posix_spawnattr_destroy(&at);
        posix_spawn_file_actions_destroy(&fa);
        if (e) {
            gleam__fmt_into(err, sizeof err, "agent: cannot start an executor: %s", strerror(e));
            goto slot;
        }
    }
    setpgid(pid, pid);
    close(sp[1]);
    close(po[1]);
    close(pe[1]);
    sp[1] = po[1] = pe[1] = -1;
    pthread_mutex_lock(&gleam__ag.st.mu);
    if ((j = gleam__store_job(&gleam__ag.st, job, 0)) != NULL && j->npids < 64) j->pids[j->npids++] = pid;
    pthread_mutex_unlock(&gleam__ag.st.mu);
    {
        gleam_value s = gleam_bytes(spec, slen);
        gleam__timeouts(sp[0], GLEAM__NET_TIMEOUT_MS);
        if (gleam__msg_send(sp[0], GLEAM__MSG_SPEC, &s, 1)) gleam__fmt_into(err, sizeof err, "agent: cannot send the executor its task");
    }
    while (!err[0] && !ended) { /* its frames, its output, its driver */
        struct pollfd p[4];
        int n = 0, q;
        p[n].fd = sp[0], p[n++].events = POLLIN;
        p[n].fd = fd, p[n++].events = POLLIN;
        if (po[0] >= 0) p[n].fd = po[0], p[n++].events = POLLIN;
        if (pe[0] >= 0) p[n].fd = pe[0], p[n++].events = POLLIN;
        q = poll(p, (nfds_t)n, GLEAM__NET_BEAT_MS);
        if (q < 0 && errno != EINTR) break;
        if (gleam__now() - beat >= GLEAM__NET_BEAT_MS / 1000.0) {
            beat = gleam__now();
            if (gleam__msg_send(fd, GLEAM__MSG_BEAT, NULL, 0)) gleam__fmt_into(err, sizeof err, "the driver is gone");
        }
        if (q <= 0) continue;
        for (i = 2; i < (size_t)n; i++)
            if (p[i].revents) {
                int *pf = p[i].fd == po[0] ? &po[0] : &pe[0];
                if (gleam__pump(*pf, pf == &po[0] ? &lo : &le, pf == &po[0] ? 1 : 2, fd) < 0) {
                    close(*pf);
                    *pf = -1;
                }
            }
        if (p[1].revents) { /* the driver says nothing while its task runs: it closed */
            gleam__fmt_into(err, sizeof err, "the driver is gone");
            break;
        }
        if (p[0].revents) {
            gleam__frame fr;
            k = gleam__frame_read_max(sp[0], &fb, &fr, GLEAM__NET_FRAME_MAX);
            if (k <= 0) break; /* it ended: its status says how, below */
            if (fr.type == GLEAM__FRAME_END) {
                result = (int32_t)fr.f[0];
                gleam__fmt_into(msg, sizeof msg, "%.*s", (int)GLEAM__MIN(fr.len, sizeof msg - 1), fr.data);
                ended = 1;
                break;
            }
            /* kept as they came: whoever reads them checks the rows (and SAMPLE before it walks them) */
            if (fr.type != GLEAM__FRAME_BLOCK && fr.type != GLEAM__FRAME_CLOSE && fr.type != GLEAM__FRAME_RUN &&
                fr.type != GLEAM__FRAME_ROWS && fr.type != GLEAM__FRAME_TEXT) {
                gleam__fmt_into(err, sizeof err, "its executor (process %ld) sent a frame of type %d that is not its output",
                         (long)pid, fr.type);
                break;
            }
            rows = gleam__count_rows(&fr); /* walked before the lock is taken */
            pthread_mutex_lock(&gleam__ag.st.mu);
            k = (j = gleam__store_job(&gleam__ag.st, job, 0)) != NULL ? gleam__store_add(&gleam__ag.st, j, t, fb.p, fb.len, rows) : -2;
            if (k == 0 && rows != GLEAM__SROWS_NONE) t->rows += rows;
            pthread_mutex_unlock(&gleam__ag.st.mu);
            if (k == -2) gleam__fmt_into(err, sizeof err, "its job was dropped");
            else if (k) gleam__fmt_into(err, sizeof err, "the agent cannot keep a block under %s: %s", gleam__ag.cfg.dir, strerror(errno));
        }
    }
    if (!ended && !err[0]) { /* its output ended: give it a moment to end, so that its status says why */
        int w = 0;
        while (w++ < 200 && waitpid(pid, &status, WNOHANG) == 0) usleep(10000);
        if (w > 200) kill(-pid, SIGKILL);
        else reaped = 1;
    } else if (!ended) {
        kill(-pid, SIGKILL);
    }
    while (po[0] >= 0 && gleam__pump(po[0], &lo, 1, fd) == 0) { /* what it printed last */
    }
    while (pe[0] >= 0 && gleam__pump(pe[0], &le, 2, fd) == 0) {
    }
    close(sp[0]);
    sp[0] = -1;
    while (!reaped && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pthread_mutex_lock(&gleam__ag.st.mu);
    if ((j = gleam__store_job(&gleam__ag.st, job, 0)) != NULL) {
        int q;
        for (q = 0; q < j->npids; q++)
            if (j->pids[q] == pid) j->pids[q] = j->pids[--j->npids];
        if (ended && result == GLEAM_OK) t->done = 1;
        kept = t->bytes; /* t lives as long as its job: read it here */
        rows_kept = t->rows;
    }
    pthread_mutex_unlock(&gleam__ag.st.mu);
    if (ended && result == GLEAM_OK && (!WIFEXITED(status) || WEXITSTATUS(status)))
        gleam__fmt_into(err, sizeof err, "its executor (process %ld) sent its result, then ended with status %d", (long)pid, status);
    if (!ended && !err[0]) {
        if (WIFSIGNALED(status)) gleam__fmt_into(err, sizeof err, "its executor (process %ld) was killed by signal %d", (long)pid, WTERMSIG(status));
        else gleam__fmt_into(err, sizeof err, "its executor (process %ld) ended with status %d without a result", (long)pid, WEXITSTATUS(status));
    }
slot:
    pthread_mutex_lock(&gleam__ag.st.mu);
    gleam__ag.running--;
    pthread_cond_broadcast(&gleam__ag.cv);
    pthread_mutex_unlock(&gleam__ag.st.mu);
out:
    {
        gleam_value d[4];
        d[0] = gleam_int(err[0] ? GLEAM_ERR_NET : result); /* the agent's own trouble: the driver may run it elsewhere */
        d[1] = gleam_str(err[0] ? err : msg);
        d[2] = gleam_int((int64_t)kept);
        d[3] = gleam_int((int64_t)rows_kept);
        gleam__msg_send(fd, GLEAM__MSG_DONE, d, 4);
    }
    for (k = 0; k < 2; k++) {
        if (sp[k] >= 0) close(sp[k]);
        if (po[k] >= 0) close(po[k]);
        if (pe[k] >= 0) close(pe[k]);
    }
    gleam__buf_free(&fb);
    gleam__free(argbuf);
    gleam__free(argv);
    if (env) {
        for (k = 0; env[k]; k++)
            if (!strncmp(env[k], "GLEAM_SECRET=", 13) || !strncmp(env[k], "GLEAM_NET_DIR=", 14)) gleam__free(env[k]);
        gleam__free(env);
    }
    return;
nomem:
    gleam__free(argbuf);
    gleam__free(argv);
    gleam__agent_err(fd, "agent: out of memory");
}

/* >>serving frames ------------------------------------------------------------------------------ */

/* The job and finished task a FETCH or SAMPLE names, held for reading; NULL with an ERR sent. */
static gleam__sjob *gleam__agent_task(int fd, const gleam__vals *v, gleam__stask **task, int64_t *step, int64_t *arg) {
    char job[64];
    int64_t stage, shard;
    gleam__sjob *j;
    gleam__stask *t = NULL;
    if (gleam__mname(v, 0, job, sizeof job) || gleam__mint(v, 1, 1, 1 << 20, &stage) || gleam__mint(v, 2, 0, 1 << 20, &shard) ||
        gleam__mint(v, 3, 0, 1 << 20, step) || gleam__mint(v, 4, 0, (int64_t)UINT32_MAX, arg)) {
        gleam__agent_err(fd, "agent: a FETCH or SAMPLE needs a job, a stage, a shard, a step and a number");
        return NULL;
    }
    pthread_mutex_lock(&gleam__ag.st.mu);
    if ((j = gleam__store_job(&gleam__ag.st, job, 0)) != NULL)
        for (t = j->tasks; t && (t->stage != stage || t->shard != shard); t = t->next) {
        }
    if (t && t->done) j->readers++;
    pthread_mutex_unlock(&gleam__ag.st.mu);
    if (!t || !t->done) {
        gleam__agent_err(fd, "agent %s:%d has no finished task %d.%d of job %s", gleam__ag.cfg.advertise, gleam__ag.port,
                         (int)stage, (int)shard, job);
        return NULL;
    }
    *task = t;
    return j;
}

/* The bytes of kept frame f: where it lies in memory, or read into b from the job's file.
   NULL with errno set. */
static const char *gleam__frame_bytes(const gleam__sjob *j, const gleam__sframe *f, gleam__buf *b) {
    if (f->off < 0) return f->data;
    return gleam__store_read(j, f, b) ? NULL : b->p;
}

static void gleam__agent_fetch(int fd, const gleam__vals *v) {
    gleam__stask *t;
    int64_t step, part;
    gleam__sjob *j = gleam__agent_task(fd, v, &t, &step, &part);
    gleam__buf b = {NULL, 0, 0};
    const gleam__sframe *f;
    const char *ranges = NULL;
    size_t nranges = 0, k;
    uint32_t block = 0;
    int bad = 0;
    if (!j) return;
    if (!gleam__mbytes(v, 5, &ranges, &nranges)) nranges /= 8;
    for (f = t->head; f && !bad; f = f->next) {
        const unsigned char *p = (const unsigned char *)gleam__frame_bytes(j, f, &b); /* in memory: sent from where it lies */
        unsigned char hdr[4];
        uint32_t f0, f1;
        if (!p) {
            bad = 1;
            break;
        }
        f0 = f->len >= 5 ? gleam__rd32(p + 1) : 0;
        f1 = f->len >= 9 ? gleam__rd32(p + 5) : 0;
        if (f0 != (uint32_t)step) continue;
        if ((p[0] == GLEAM__FRAME_BLOCK && f1 != (uint32_t)part && f1 != GLEAM__PART_RUN) ||
            ((p[0] == GLEAM__FRAME_ROWS || p[0] == GLEAM__FRAME_TEXT) && f1 != (uint32_t)part))
            continue;
        if (ranges && p[0] == GLEAM__FRAME_BLOCK && f1 == GLEAM__PART_RUN) { /* a sort's block: in a range asked for? */
            int in = 0;
            for (k = 0; k < nranges && !in; k++)
                in = block >= gleam__rd32((const unsigned char *)ranges + 8 * k) &&
                     block < gleam__rd32((const unsigned char *)ranges + 8 * k + 4);
            block++;
            if (!in) continue;
        }
        gleam__be32(hdr, f->len);
        if (gleam__fd_write2(fd, (const char *)hdr, 4, (const char *)p, f->len)) bad = 1;
    }
    pthread_mutex_lock(&gleam__ag.st.mu);
    gleam__store_release(&gleam__ag.st, j);
    pthread_mutex_unlock(&gleam__ag.st.mu);
    gleam__buf_free(&b);
    if (!bad) gleam__msg_send(fd, GLEAM__MSG_OK, NULL, 0);
}

/* Is kept frame p (f->len bytes) a block of a sorted run of `step`? A RUN frame of it? */
static int gleam__is_run_block(const char *p, uint32_t len, int64_t step) {
    return len >= 17 && p[0] == GLEAM__FRAME_BLOCK && gleam__rd32((const unsigned char *)p + 1) == (uint32_t)step &&
           gleam__rd32((const unsigned char *)p + 5) == GLEAM__PART_RUN;
}
static int gleam__is_run_end(const char *p, uint32_t len, int64_t step) {
    return len >= 9 && p[0] == GLEAM__FRAME_RUN && gleam__rd32((const unsigned char *)p + 1) == (uint32_t)step;
}

/* SAMPLE: up to `most` rows of a task's sorted runs for a step, evenly spaced, in order,
   and the first row of every block. The rows of each block were counted as it came: only
   the blocks a sample falls in are walked, and only up to it. */
static void gleam__agent_sample(int fd, const gleam__vals *v) {
    gleam__stask *t;
    int64_t step, most;
    gleam__sjob *j = gleam__agent_task(fd, v, &t, &step, &most);
    gleam__buf b = {NULL, 0, 0}, out = {NULL, 0, 0}, index = {NULL, 0, 0};
    const gleam__sframe *f;
    uint64_t total = 0, seen = 0, taken = 0;
    int bad = 0, run = 0;
    if (!j) return;
    for (f = t->head; f && !bad; f = f->next) { /* the rows in all, from the counts */
        const char *p = gleam__frame_bytes(j, f, &b);
        if (!p) bad = 1;
        else if (gleam__is_run_block(p, f->len, step)) {
            if (f->rows == GLEAM__SROWS_NONE) errno = EPROTO, bad = 1; /* not whole rows */
            else total += f->rows;
        }
    }
    for (f = t->head; f && !bad; f = f->next) { /* sample `taken`: row taken*total/most, rounded up, or the next not taken */
        const char *p = gleam__frame_bytes(j, f, &b), *q;
        uint64_t at;
        if (!p) {
            bad = 1;
            break;
        }
        if (gleam__is_run_end(p, f->len, step)) run++;
        if (!gleam__is_run_block(p, f->len, step) || !f->rows) continue;
        {
            gleam_value e[2];
            e[0] = gleam_int(run);
            e[1] = gleam_bytes(p + 17, gleam__row_len(p + 17));
            if (gleam__pack_row(&index, e, 2)) bad = 1;
        }
        for (q = p + 17, at = seen; !bad && taken < (uint64_t)most;) { /* the block's rows are whole: counted */
            uint64_t want = (taken * total + (uint64_t)most - 1) / (uint64_t)most;
            if (want < at) want = at; /* a row is taken once */
            if (want >= seen + f->rows) break;
            for (; at < want; at++) q += gleam__row_len(q);
            if (gleam__buf_add(&out, q, gleam__row_len(q))) bad = 1;
            taken++;
            q += gleam__row_len(q);
            at++;
        }
        seen += f->rows;
    }
    pthread_mutex_lock(&gleam__ag.st.mu);
    gleam__store_release(&gleam__ag.st, j);
    pthread_mutex_unlock(&gleam__ag.st.mu);
    if (!bad) {
        gleam_value r[2];
        r[0] = gleam_bytes(out.p ? out.p : "", out.len);
        r[1] = gleam_bytes(index.p ? index.p : "", index.len);
        gleam__msg_send(fd, GLEAM__MSG_OK, r, 2);
    } else gleam__agent_err(fd, "agent: cannot read a kept run: %s", strerror(errno));
    gleam__buf_free(&b);
    gleam__buf_free(&out);
    gleam__buf_free(&index);
}

static void *gleam__agent_conn(void *arg) {
    int fd = ((gleam__conn *)arg)->fd, role = 0, k, port, more = 1;
    char err[256], peek[4], peer[64], hash[65], path[1200];
    gleam__buf buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    gleam__free(arg);
    gleam__peer(fd, peer, sizeof peer, &port);
    gleam__timeouts(fd, GLEAM__NET_TIMEOUT_MS);
    k = gleam__greet(fd, 1, GLEAM__ROLE_AGENT, &role, peek, err, sizeof err);
    if (k != 1) {
        if (k == 0) fprintf(stderr, "gleam agent: refused %s:%d: %s\n", peer, port, err);
        more = 0;
    } else if (role != GLEAM__ROLE_DRIVER && role != GLEAM__ROLE_EXECUTOR) {
        gleam__agent_err(fd, "an agent serves drivers and executors only");
        more = 0;
    }
    while (more && (k = gleam__msg_recv(fd, &buf, &v, 1, err, sizeof err)) > 0) {
        switch (k) {
        case GLEAM__MSG_HAVE: {
            gleam_value y;
            if (gleam__mhash(&v, 0, hash)) {
                gleam__agent_err(fd, "a binary's name is its SHA-256 in hex");
                more = 0;
                break;
            }
            gleam__bin_path(path, sizeof path, hash);
            y = gleam_int(access(path, X_OK) == 0);
            more = gleam__msg_send(fd, GLEAM__MSG_OK, &y, 1) == 0;
            break;
        }
        case GLEAM__MSG_BINARY: more = role == GLEAM__ROLE_DRIVER && gleam__agent_binary(fd, &buf, &v) == 0; break;
        case GLEAM__MSG_HOLD:
            if (role == GLEAM__ROLE_DRIVER) gleam__agent_hold(fd, &buf, &v);
            more = 0;
            break;
        case GLEAM__MSG_RUN:
            if (role == GLEAM__ROLE_DRIVER) gleam__agent_run(fd, &v);
            more = 0;
            break;
        case GLEAM__MSG_FETCH: gleam__agent_fetch(fd, &v); break;
        case GLEAM__MSG_SAMPLE: gleam__agent_sample(fd, &v); break;
        default:
            gleam__agent_err(fd, "an agent does not answer a message of type %d", k);
            more = 0;
        }
    }
    gleam__buf_free(&buf);
    gleam__vals_free(&v);
    close(fd);
    pthread_mutex_lock(&gleam__ag.st.mu);
    gleam__ag.conns--;
    pthread_mutex_unlock(&gleam__ag.st.mu);
    return NULL;
}

/* >>registration --------------------------------------------------------------------------------- */

static void *gleam__agent_accept(void *arg) {
    int lfd = *(int *)arg;
    gleam__serve(lfd, GLEAM__MAX_CONNS, &gleam__ag.conns, &gleam__ag.st.mu, gleam__agent_conn);
    return NULL;
}

/* Register with the master and beat until the connection fails; then again, for ever. */
static void gleam__agent_register(void) {
    int said = 0, idle = 0;
    uint64_t made = 0;
    for (;;) {
        char err[512];
        gleam__buf buf = {NULL, 0, 0};
        gleam__vals v = {NULL, 0, 0};
        int role, fd = gleam__connect(gleam__ag.cfg.master, gleam__ag.cfg.master_port, 5000, err, sizeof err), k = 0;
        if (fd >= 0 && (k = gleam__greet(fd, 0, GLEAM__ROLE_AGENT, &role, NULL, err, sizeof err)) == 1) {
            gleam_value r[5];
            r[0] = gleam_str(gleam__ag.cfg.advertise);
            r[1] = gleam_int(gleam__ag.port);
            r[2] = gleam_int(gleam__ag.cfg.slots);
            r[3] = gleam_int(gleam__ag.cfg.memory_mb);
            r[4] = gleam_int((int64_t)getpid());
            if (gleam__msg_send(fd, GLEAM__MSG_REGISTER, r, 5) == 0 &&
                (k = gleam__msg_recv(fd, &buf, &v, 1, err, sizeof err)) == GLEAM__MSG_OK) {
                fprintf(stderr, "gleam agent: registered with the master %s:%d\n", gleam__ag.cfg.master,
                        gleam__ag.cfg.master_port);
                said = 0;
                for (;;) {
                    gleam_value b[3];
                    usleep(GLEAM__NET_BEAT_MS * 1000);
                    pthread_mutex_lock(&gleam__ag.st.mu);
                    if (gleam__ag.st.jobs || gleam__ag.running || gleam__ag.st.made != made) idle = 0; /* even a job shorter than a beat */
                    else if (++idle >= 10 && gleam__ag.st.pool) gleam__store_trim(&gleam__ag.st); /* idle 10 s */
                    made = gleam__ag.st.made;
                    b[0] = gleam_int(gleam__ag.running);
                    b[1] = gleam_int((int64_t)gleam__ag.st.kept);
                    {
                        int64_t n = 0;
                        gleam__sjob *j;
                        for (j = gleam__ag.st.jobs; j; j = j->next) n++;
                        b[2] = gleam_int(n);
                    }
                    pthread_mutex_unlock(&gleam__ag.st.mu);
                    if (gleam__msg_send(fd, GLEAM__MSG_BEAT, b, 3)) break;
                }
                gleam__fmt_into(err, sizeof err, "the connection to the master broke");
            } else if (k == GLEAM__MSG_ERR || k < 0) {
                /* err says why */
            } else gleam__fmt_into(err, sizeof err, "the master did not accept the registration");
        }
        if (fd >= 0) close(fd);
        gleam__buf_free(&buf);
        gleam__vals_free(&v);
        if (!said++) fprintf(stderr, "gleam agent: master %s:%d: %s; trying again every second\n", gleam__ag.cfg.master,
                             gleam__ag.cfg.master_port, err);
        sleep(1);
    }
}

GLEAM__PRIV int gleam__agent_main(const gleam__netcfg *cfg) {
    char err[512], bin[1100];
    const unsigned char *key;
    pthread_t th;
    int lfd;
    gleam__ag.cfg = *cfg;
    if (!gleam__secret(&key) && !gleam__is_loopback(cfg->host)) {
        fprintf(stderr, "gleam agent: without a shared secret an agent listens on loopback only, not on %s: set GLEAM_SECRET "
                        "or -gleam.secret-file on every member of the cluster\n",
                cfg->host);
        return 2;
    }
    snprintf(bin, sizeof bin, "%s/bin", cfg->dir);
    if ((mkdir(cfg->dir, 0700) && errno != EEXIST) || (mkdir(bin, 0700) && errno != EEXIST)) {
        fprintf(stderr, "gleam agent: cannot make %s: %s\n", bin, strerror(errno));
        return 1;
    }
    pthread_mutex_init(&gleam__ag.st.mu, NULL);
    pthread_cond_init(&gleam__ag.cv, NULL);
    snprintf(gleam__ag.st.dir, sizeof gleam__ag.st.dir, "%s", cfg->dir);
    gleam__ag.st.cap = (uint64_t)cfg->memory_mb << 20;
    if ((lfd = gleam__listen(cfg->host, cfg->port, err, sizeof err)) < 0) {
        fprintf(stderr, "gleam agent: %s\n", err);
        return 1;
    }
    gleam__ag.port = gleam__local_port(lfd);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "gleam agent: listening on %s:%d, %d slots, %ld MB, dir %s\n", cfg->host, gleam__ag.port, cfg->slots,
            cfg->memory_mb, cfg->dir);
    if (pthread_create(&th, NULL, gleam__agent_accept, &lfd)) {
        fprintf(stderr, "gleam agent: cannot start a thread\n");
        return 1;
    }
    gleam__agent_register();
    return 0;
}
