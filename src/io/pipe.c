/* pipe.c: shell commands as steps. gleam_pipe gives each shard its own `sh -c` process:
   rows go to its stdin as TSV lines, and the lines of its stdout come back as rows of
   bytes split on tabs. gleam_pipe_as_args runs one command per row with the row's fields
   as its positional parameters ($1, $2, ...): a value is never part of the script's
   text. One thread drives a process with poll(): it writes while the command reads and
   reads while it writes, so neither side can wait on the other forever, and a command
   that reads slowly slows its producer down (at most GLEAM__PIPE_WBUF bytes wait in
   between). A command that fails stops the job with its status and the end of
   its stderr; a command whose rows are no longer wanted is killed with its process group
   and reaped, on every path. */
#include "io/io.h"

#define GLEAM__PIPE_WBUF (64u << 10)    /* bytes waiting for a command's stdin */
#define GLEAM__PIPE_READ (64u << 10)    /* one read of its stdout */
#define GLEAM__PIPE_MAXLINE (1u << 30)  /* the longest line a command may print */
#define GLEAM__PIPE_TAIL 1024           /* the end of its stderr kept for the error */

#ifdef __APPLE__
#include <crt_externs.h>
#define gleam__environ (*_NSGetEnviron())
#else
extern char **environ;
#define gleam__environ environ
#endif

typedef struct gleam__proc {
    pid_t pid;              /* 0: not running */
    int in, out, err;       /* our ends of its stdin, stdout and stderr; -1 once closed */
    gleam__buf wbuf;        /* rows as text, for its stdin; bytes from woff on are unwritten */
    size_t woff;
    gleam__buf rbuf;        /* its stdout not yet cut into lines */
    char tail[GLEAM__PIPE_TAIL]; /* the last bytes of its stderr */
    size_t ntail;
} gleam__proc;

typedef struct gleam__pipeop {
    gleam__op op;
    gleam__proc pr;
    int started;            /* gleam_pipe: the shard's process was started */
    int stopped;            /* the rows after it want no more: its process was killed */
    /* gleam_pipe_as_args */
    char *script;           /* the command with each bare $N made "$N" */
    int maxref;             /* the highest field it names */
    gleam__buf args;        /* the current row's fields as text, NUL after each */
    char **argv;            /* sh -c script sh field... */
} gleam__pipeop;

/* Only one thread makes pipes and processes at a time: a process started by another
   thread in between would inherit our pipe ends, and a command would never see the end
   of its input. (Every descriptor is also close-on-exec.) */
static pthread_mutex_t gleam__spawn_mu = PTHREAD_MUTEX_INITIALIZER;

/* A pipe with both ends close-on-exec and above the standard descriptors. 0 or -1. */
static int gleam__pipe_fds(int fds[2]) {
    int i;
    if (pipe(fds)) return -1;
    for (i = 0; i < 2; i++) {
        if (fds[i] < 3) { /* stdin, stdout or stderr were closed: move off them */
            int d = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            if (d < 0) {
                int e = errno;
                close(fds[0]);
                close(fds[1]);
                fds[0] = fds[1] = -1;
                errno = e;
                return -1;
            }
            close(fds[i]);
            fds[i] = d;
        } else {
            (void)fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        }
    }
    return 0;
}

static void gleam__close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* Start /bin/sh with argv (sh -c command ...) with its stdin from a pipe (from /dev/null
   without one), its stdout and stderr into pipes, the default SIGPIPE action and no
   blocked signals, in a process group of its own (so that stopping it stops the commands
   it started). 0, or an errno value. */
static int gleam__proc_start(gleam__proc *pr, char *const *argv, int with_stdin) {
    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1}, e = 0, i;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dflt;
    pr->in = pr->out = pr->err = -1;
    pthread_mutex_lock(&gleam__spawn_mu);
    if ((with_stdin && gleam__pipe_fds(pin)) || gleam__pipe_fds(pout) || gleam__pipe_fds(perr)) {
        e = errno;
    } else if ((e = posix_spawn_file_actions_init(&fa)) == 0) {
        if ((e = posix_spawnattr_init(&at)) == 0) {
            sigemptyset(&none);
            sigemptyset(&dflt);
            sigaddset(&dflt, SIGPIPE);
            if (with_stdin) e = posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
            else e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
            if (!e) e = posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
            if (!e) e = posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
            if (!e) e = posix_spawnattr_setsigmask(&at, &none);
            if (!e) e = posix_spawnattr_setsigdefault(&at, &dflt);
            if (!e) e = posix_spawnattr_setpgroup(&at, 0);
            if (!e)
                e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
            if (!e) e = posix_spawn(&pr->pid, "/bin/sh", &fa, &at, argv, gleam__environ);
            posix_spawnattr_destroy(&at);
        }
        posix_spawn_file_actions_destroy(&fa);
    }
    gleam__close_fd(&pin[0]); /* the child's ends */
    gleam__close_fd(&pout[1]);
    gleam__close_fd(&perr[1]);
    pthread_mutex_unlock(&gleam__spawn_mu);
    if (e) {
        gleam__close_fd(&pin[1]);
        gleam__close_fd(&pout[0]);
        gleam__close_fd(&perr[0]);
        pr->pid = 0;
        return e;
    }
    pr->in = pin[1];
    pr->out = pout[0];
    pr->err = perr[0];
    for (i = 0; i < 3; i++) {
        int fd = i == 0 ? pr->in : i == 1 ? pr->out : pr->err;
        if (fd >= 0) (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return 0;
}

static void gleam__proc_kill(gleam__proc *pr) {
    kill(-pr->pid, SIGKILL);
    kill(pr->pid, SIGKILL);
}

/* Close our ends, kill the process group when `kill_it` (or when the job stops while the
   command lingers), and reap the command. Its wait status, or -1 when none was running. */
static int gleam__proc_end(gleam__proc *pr, int kill_it, gleam__job *job) {
    int st = 0, killed = kill_it;
    long nap = 100000; /* ns: a command usually exits as it closes its output */
    pid_t got;
    gleam__close_fd(&pr->in);
    gleam__close_fd(&pr->out);
    gleam__close_fd(&pr->err);
    if (!pr->pid) return -1;
    if (kill_it) gleam__proc_kill(pr);
    while ((got = waitpid(pr->pid, &st, killed ? 0 : WNOHANG)) <= 0) {
        struct timespec ts;
        if (got < 0 && errno != EINTR) {
            st = -1;
            break;
        }
        if (got < 0) continue;
        if (job && gleam__aborted(job)) { /* it closed its output but runs on: stop it */
            gleam__proc_kill(pr);
            killed = 1;
            continue;
        }
        ts.tv_sec = 0;
        ts.tv_nsec = nap;
        nanosleep(&ts, NULL);
        if (nap < 50000000L) nap *= 2;
    }
    pr->pid = 0;
    return st;
}

static void gleam__proc_free(gleam__proc *pr) {
    if (pr->pid) gleam__proc_end(pr, 1, NULL);
    gleam__buf_free(&pr->wbuf);
    gleam__buf_free(&pr->rbuf);
}

/* write(), but a reader that has gone away gives EPIPE instead of killing the process
   with SIGPIPE: the signal is blocked in this thread and, if the write raised it, taken. */
static ssize_t gleam__write_nosigpipe(int fd, const char *p, size_t n) {
    sigset_t set, old;
    ssize_t w;
    int e;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    w = write(fd, p, n);
    e = errno;
    if (w < 0 && e == EPIPE && !sigismember(&old, SIGPIPE)) {
        sigset_t pending;
        int sig;
        if (!sigpending(&pending) && sigismember(&pending, SIGPIPE)) sigwait(&set, &sig);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return w;
}

/* Keep the last bytes of the command's stderr, and pass them on to ours. */
static void gleam__proc_stderr(gleam__job *job, gleam__proc *pr, const char *p, size_t n) {
    size_t keep, off = 0;
    if (job->progress_tty) { /* not into the progress line */
        pthread_mutex_lock(&job->smu);
        gleam__progress_erase(job);
    }
    while (off < n) { /* our stderr may be a closed pipe: that must not kill the job */
        ssize_t w = gleam__write_nosigpipe(2, p + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    if (job->progress_tty) pthread_mutex_unlock(&job->smu);
    if (n >= GLEAM__PIPE_TAIL) {
        memcpy(pr->tail, p + n - GLEAM__PIPE_TAIL, GLEAM__PIPE_TAIL);
        pr->ntail = GLEAM__PIPE_TAIL;
        return;
    }
    keep = GLEAM__MIN(pr->ntail, GLEAM__PIPE_TAIL - n);
    memmove(pr->tail, pr->tail + pr->ntail - keep, keep);
    memcpy(pr->tail + keep, p, n);
    pr->ntail = keep + n;
}

/* One line of output as a row: bytes fields split on tabs. */
static gleam_result gleam__pipe_line(gleam__op *op, const char *p, size_t len) {
    const char *end = p + len, *tab;
    int n = 0;
    for (;;) {
        if (n == op->vals.cap && gleam__vals_reserve(&op->vals, n + 1)) return gleam__nomem(op);
        tab = (const char *)memchr(p, '\t', (size_t)(end - p));
        op->vals.v[n++] = gleam_bytes(p, (size_t)((tab ? tab : end) - p));
        if (!tab) break;
        p = tab + 1;
    }
    return gleam__emit(op, op->vals.v, n);
}

static gleam_result gleam__pipe_push(gleam__op *op, const gleam_value *row, int n);
static gleam_result gleam__pipe_feed(gleam__op *op, const char *p, size_t len, int add_nl);

/* Keep the read buffer from `from` on (the start of an unfinished line), moved to the front. */
static gleam_result gleam__pipe_keep(gleam__op *op, gleam__proc *pr, const char *from) {
    pr->rbuf.len = (size_t)(pr->rbuf.p + pr->rbuf.len - from);
    if (from > pr->rbuf.p && pr->rbuf.len) memmove(pr->rbuf.p, from, pr->rbuf.len);
    if (pr->rbuf.len > GLEAM__PIPE_MAXLINE)
        return gleam__fail(op->task, op->node, GLEAM_ERR_INPUT, "the command printed a line of more than %u MB",
                           GLEAM__PIPE_MAXLINE >> 20);
    return GLEAM_OK;
}

/* Lines for a pipe step right after this one go on as bytes: cutting them into rows and
   printing the rows again would give the same bytes. */
static gleam_result gleam__pipe_forward(gleam__op *op, gleam__proc *pr, size_t scan_from, int eof) {
    gleam__op *k = op->kids[0];
    char *p = pr->rbuf.p, *end = p + pr->rbuf.len, *last = end, *q;
    uint64_t lines = 0;
    int add_nl;
    gleam_result r;
    while (last > p + scan_from && last[-1] != '\n') last--; /* what came before has no newline */
    if (last == p + scan_from) last = p;                        /* no complete line yet */
    if (eof) last = end;
    add_nl = eof && last > p && last[-1] != '\n';
    for (q = p; q < last && (q = (char *)memchr(q, '\n', (size_t)(last - q))) != NULL; q++) lines++;
    lines += (uint64_t)add_nl;
    if (lines) {
        if (k->done) return GLEAM_DONE;
        op->nout += lines;
        k->nin += lines;
        if ((r = gleam__pipe_feed(k, p, (size_t)(last - p), add_nl)) != GLEAM_OK) {
            if (r < 0) return r;
            k->done = 1;
            op->ndone = 1;
            return GLEAM_DONE;
        }
    }
    return gleam__pipe_keep(op, pr, last);
}

/* Cut the complete lines out of the read buffer and emit them; at the end of the output
   (eof), the last line too even without its newline. */
static gleam_result gleam__pipe_lines(gleam__op *op, gleam__proc *pr, size_t scan_from, int eof) {
    char *p = pr->rbuf.p, *end = p + pr->rbuf.len, *nl, *line = p;
    gleam_result r = GLEAM_OK;
    if (op->nkids == 1 && op->kids[0]->push == gleam__pipe_push) /* the only next step is a pipe */
        return gleam__pipe_forward(op, pr, scan_from, eof);
    for (nl = p + scan_from; r == GLEAM_OK && (nl = (char *)memchr(nl, '\n', (size_t)(end - nl))) != NULL; line = ++nl)
        r = gleam__pipe_line(op, line, (size_t)(nl - line));
    if (r == GLEAM_OK && eof && line < end) {
        r = gleam__pipe_line(op, line, (size_t)(end - line));
        line = end;
    }
    if (r != GLEAM_OK) return r;
    return gleam__pipe_keep(op, pr, line);
}

enum { GLEAM__UNTIL_ROOM, GLEAM__UNTIL_WRITTEN, GLEAM__UNTIL_EOF };

/* Move bytes to and from the command until `until` holds: there is room in the write
   buffer, all of it is written, or its stdout and stderr are at their end. Rows read on
   the way are emitted. GLEAM_DONE when the rows after the step want no more. */
static gleam_result gleam__proc_pump(gleam__op *op, gleam__proc *pr, int until) {
    for (;;) {
        struct pollfd fds[3];
        int nfds = 0, win = -1, wout = -1, werr = -1, ready;
        size_t unwritten = pr->wbuf.len - pr->woff;
        if (until == GLEAM__UNTIL_ROOM && (unwritten < GLEAM__PIPE_WBUF || pr->in < 0)) return GLEAM_OK;
        if (until == GLEAM__UNTIL_WRITTEN && (unwritten == 0 || pr->in < 0)) return GLEAM_OK;
        if (until == GLEAM__UNTIL_EOF && pr->out < 0 && pr->err < 0) return GLEAM_OK;
        if (pr->in >= 0 && unwritten) {
            fds[win = nfds++].fd = pr->in;
            fds[win].events = POLLOUT;
        }
        if (pr->out >= 0) {
            fds[wout = nfds++].fd = pr->out;
            fds[wout].events = POLLIN;
        }
        if (pr->err >= 0) {
            fds[werr = nfds++].fd = pr->err;
            fds[werr].events = POLLIN;
        }
        if (!nfds) return GLEAM_OK;
        ready = poll(fds, (nfds_t)nfds, 250);
        if (gleam__aborted(op->task->job)) return GLEAM_ERR_INTERNAL;
        if (ready < 0 && errno != EINTR)
            return gleam__fail(op->task, op->node, GLEAM_ERR_IO, "poll: %s", strerror(errno));
        if (ready <= 0) continue;
        if (werr >= 0 && fds[werr].revents) {
            char buf[4096];
            ssize_t got = read(pr->err, buf, sizeof buf);
            if (got > 0) gleam__proc_stderr(op->task->job, pr, buf, (size_t)got);
            else if (got == 0 || (errno != EAGAIN && errno != EINTR)) gleam__close_fd(&pr->err);
        }
        if (win >= 0 && fds[win].revents) {
            ssize_t w = gleam__write_nosigpipe(pr->in, pr->wbuf.p + pr->woff, unwritten);
            if (w > 0) {
                pr->woff += (size_t)w;
                if (pr->woff == pr->wbuf.len) {
                    pr->woff = pr->wbuf.len = 0;
                } else if (pr->woff >= GLEAM__PIPE_WBUF) { /* drop what is written: the buffer stays small */
                    memmove(pr->wbuf.p, pr->wbuf.p + pr->woff, pr->wbuf.len - pr->woff);
                    pr->wbuf.len -= pr->woff;
                    pr->woff = 0;
                }
            } else if (w < 0 && errno == EPIPE) { /* it stopped reading: the rest of its input is not needed */
                gleam__close_fd(&pr->in);
                pr->woff = pr->wbuf.len = 0;
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                return gleam__fail(op->task, op->node, GLEAM_ERR_IO, "writing to the command: %s", strerror(errno));
            }
        }
        if (wout >= 0 && fds[wout].revents) {
            size_t before = pr->rbuf.len;
            ssize_t got;
            gleam_result r;
            if (gleam__buf_reserve(&pr->rbuf, GLEAM__PIPE_READ)) return gleam__nomem(op);
            got = read(pr->out, pr->rbuf.p + before, GLEAM__PIPE_READ);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (got < 0) return gleam__fail(op->task, op->node, GLEAM_ERR_IO, "reading from the command: %s", strerror(errno));
            if (got == 0) gleam__close_fd(&pr->out);
            pr->rbuf.len += (size_t)got;
            if ((r = gleam__pipe_lines(op, pr, before, got == 0)) != GLEAM_OK) return r;
        }
    }
}

/* A failed command's status in words, with the last lines of its stderr. */
static gleam_result gleam__proc_check(gleam__op *op, gleam__proc *pr, const char *cmd, int st) {
    char how[96], tail[GLEAM__ERRMAX / 2] = "";
    size_t end = pr->ntail, start;
    int lines = 0;
    if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) return GLEAM_OK;
    if (st == -1) gleam__fmt_into(how, sizeof how, "ended with an unknown status (is SIGCHLD ignored?)");
    else if (WIFEXITED(st))
        gleam__fmt_into(how, sizeof how, "exited with status %d%s", WEXITSTATUS(st),
                        WEXITSTATUS(st) == 127 ? " (not found)" : WEXITSTATUS(st) == 126 ? " (cannot run)" : "");
    else if (WIFSIGNALED(st)) gleam__fmt_into(how, sizeof how, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else gleam__fmt_into(how, sizeof how, "ended with wait status %d", st);
    while (end && pr->tail[end - 1] == '\n') end--;
    for (start = end; start && lines < 3; start--)
        if (pr->tail[start - 1] == '\n' && ++lines == 3) break;
    if (end - start > sizeof tail - 16) start = end - (sizeof tail - 16); /* the end matters most */
    if (end > start) {
        size_t i, k = 0;
        memcpy(tail, "; stderr: ", 10);
        k = 10;
        for (i = start; i < end; i++) tail[k++] = pr->tail[i] == '\n' ? '|' : pr->tail[i];
        tail[k] = 0;
    }
    return gleam__fail(op->task, op->node, GLEAM_ERR_COMMAND, "command \"%.200s%s\" %s%s", cmd, strlen(cmd) > 200 ? "..." : "",
                       how, tail);
}

/* >>pipe: one process per shard ------------------------------------------------------ */

static gleam_result gleam__pipe_start(gleam__pipeop *po) {
    gleam__op *op = &po->op;
    char *argv[4];
    int e;
    argv[0] = (char *)"sh";
    argv[1] = (char *)"-c";
    argv[2] = op->node->step->command;
    argv[3] = NULL;
    po->started = 1;
    if ((e = gleam__proc_start(&po->pr, argv, 1)) != 0)
        return gleam__fail(op->task, op->node, GLEAM_ERR_COMMAND, "cannot start command \"%.200s\": %s", argv[2], strerror(e));
    return GLEAM_OK;
}

/* The rows after the step want no more: stop the command. */
static gleam_result gleam__pipe_stop(gleam__pipeop *po) {
    po->stopped = 1;
    gleam__proc_end(&po->pr, 1, NULL);
    return GLEAM_DONE;
}

/* Past GLEAM__PIPE_WBUF bytes waiting, write until there is room again. */
static gleam_result gleam__pipe_room(gleam__pipeop *po) {
    gleam_result r;
    if (po->pr.wbuf.len - po->pr.woff < GLEAM__PIPE_WBUF) return GLEAM_OK;
    r = gleam__proc_pump(&po->op, &po->pr, GLEAM__UNTIL_ROOM);
    if (r == GLEAM_DONE) return gleam__pipe_stop(po);
    if (r == GLEAM_OK && po->pr.in < 0) return GLEAM_DONE;
    return r;
}

static gleam_result gleam__pipe_push(gleam__op *op, const gleam_value *row, int n) {
    gleam__pipeop *po = (gleam__pipeop *)op;
    gleam__buf *b = &po->pr.wbuf;
    size_t before = b->len;
    gleam_result r;
    int i;
    if (!po->started && (r = gleam__pipe_start(po)) != GLEAM_OK) return r;
    if (po->pr.in < 0) return GLEAM_DONE; /* the command has stopped reading */
    for (i = 0; i < n; i++)
        if ((i && gleam__buf_add(b, "\t", 1)) || gleam__value_text(b, row[i])) return gleam__nomem(op);
    if (gleam__buf_add(b, "\n", 1)) return gleam__nomem(op);
    op->bytes += b->len - before;
    return gleam__pipe_room(po);
}

/* Whole lines of text for the command, as from gleam__pipe_forward. */
static gleam_result gleam__pipe_feed(gleam__op *op, const char *p, size_t len, int add_nl) {
    gleam__pipeop *po = (gleam__pipeop *)op;
    gleam_result r;
    if (!po->started && (r = gleam__pipe_start(po)) != GLEAM_OK) return r;
    if (po->pr.in < 0) return GLEAM_DONE;
    if (gleam__buf_add(&po->pr.wbuf, p, len) || (add_nl && gleam__buf_add(&po->pr.wbuf, "\n", 1))) return gleam__nomem(op);
    op->bytes += len + (size_t)add_nl;
    return gleam__pipe_room(po);
}

static gleam_result gleam__pipe_finish(gleam__op *op) {
    gleam__pipeop *po = (gleam__pipeop *)op;
    gleam_result r;
    if (po->stopped) return GLEAM_OK;
    if (!po->started && (r = gleam__pipe_start(po)) != GLEAM_OK) return r;
    r = gleam__proc_pump(op, &po->pr, GLEAM__UNTIL_WRITTEN);
    gleam__close_fd(&po->pr.in); /* the end of its input */
    if (r == GLEAM_OK) r = gleam__proc_pump(op, &po->pr, GLEAM__UNTIL_EOF);
    if (r == GLEAM_DONE) {
        gleam__pipe_stop(po);
        return GLEAM_OK;
    }
    if (r != GLEAM_OK) return r;
    return gleam__proc_check(op, &po->pr, op->node->step->command, gleam__proc_end(&po->pr, 0, op->task->job));
}

static void gleam__pipe_free(gleam__op *op) {
    gleam__pipeop *po = (gleam__pipeop *)op;
    gleam__proc_free(&po->pr);
    gleam__free(po->script);
    gleam__buf_free(&po->args);
    gleam__free(po->argv);
}

/* >>pipe_as_args: one process per row ------------------------------------------------ */

/* The command with each $N or ${N} outside quotes written "$N" or "${N}", so that the
   shell hands field N on as one word, never split or globbed; inside double quotes the
   shell does that already, and inside single quotes $N is text (an awk program's $2).
   As in sh, $12 is ${1} then "2". *maxref: the highest N named. NULL when out of memory. */
static char *gleam__args_script(const char *c, int *maxref) {
    gleam__buf b = {NULL, 0, 0};
    int sq = 0, dq = 0, bad = 0;
    *maxref = 0;
    while (*c && !bad) {
        const char *d = c + 1;
        long ref = 0;
        int brace = *d == '{';
        if (sq) {
            sq = *c != '\'';
        } else if (*c == '\\' && c[1]) { /* an escaped character, whatever it is */
            bad |= gleam__buf_add(&b, c, 2);
            c += 2;
            continue;
        } else if (*c == '\'' && !dq) {
            sq = 1;
        } else if (*c == '"') {
            dq = !dq;
        } else if (*c == '$' && d[brace] >= '1' && d[brace] <= '9') {
            d += brace;
            if (brace)
                while (*d >= '0' && *d <= '9' && ref < 1000000) ref = ref * 10 + (*d++ - '0');
            else ref = *d++ - '0';
            if (!brace || *d == '}') {
                d += brace;
                if (ref > *maxref) *maxref = (int)ref;
                bad |= (!dq && gleam__buf_add(&b, "\"", 1)) || gleam__buf_add(&b, c, (size_t)(d - c)) ||
                       (!dq && gleam__buf_add(&b, "\"", 1));
                c = d;
                continue;
            }
        }
        bad |= gleam__buf_add(&b, c++, 1);
    }
    if (bad || gleam__buf_add(&b, "", 1)) {
        gleam__buf_free(&b);
        return NULL;
    }
    return b.p;
}

/* argv for the row: sh -c script sh field1 ... fieldN, each field as %v prints it. */
static gleam_result gleam__args_argv(gleam__pipeop *po, const gleam_value *row, int n) {
    gleam__op *op = &po->op;
    size_t off;
    int i;
    if (n < po->maxref)
        return gleam__fail(op->task, op->node, GLEAM_ERR_INPUT, "a row has %d field%s; the command needs $%d", n,
                           n == 1 ? "" : "s", po->maxref);
    po->args.len = 0;
    for (i = 0; i < n; i++) {
        size_t from = po->args.len;
        if (gleam__value_text(&po->args, row[i]) || gleam__buf_add(&po->args, "", 1)) return gleam__nomem(op);
        if (strlen(po->args.p + from) != po->args.len - from - 1)
            return gleam__fail(op->task, op->node, GLEAM_ERR_INPUT,
                               "field %d holds a NUL byte, which no command argument can", i + 1);
    }
    if (!(po->argv = (char **)gleam__realloc(po->argv, ((size_t)n + 5) * sizeof *po->argv))) return gleam__nomem(op);
    po->argv[0] = (char *)"sh";
    po->argv[1] = (char *)"-c";
    po->argv[2] = po->script;
    po->argv[3] = (char *)"sh"; /* $0 */
    for (i = 0, off = 0; i < n; i++) {
        po->argv[4 + i] = po->args.p + off;
        off += strlen(po->args.p + off) + 1;
    }
    po->argv[4 + n] = NULL;
    return GLEAM_OK;
}

static gleam_result gleam__args_push(gleam__op *op, const gleam_value *row, int n) {
    gleam__pipeop *po = (gleam__pipeop *)op;
    const char *cmd = op->node->step->command;
    gleam_result r;
    int e;
    if (!po->script && !(po->script = gleam__args_script(cmd, &po->maxref))) return gleam__nomem(op);
    if ((r = gleam__args_argv(po, row, n)) != GLEAM_OK) return r;
    po->pr.ntail = 0;
    if ((e = gleam__proc_start(&po->pr, po->argv, 0)) != 0)
        return gleam__fail(op->task, op->node, GLEAM_ERR_COMMAND, "cannot start command \"%.200s\": %s", cmd, strerror(e));
    r = gleam__proc_pump(op, &po->pr, GLEAM__UNTIL_EOF);
    if (r != GLEAM_OK) {
        gleam__proc_end(&po->pr, 1, NULL);
        return r;
    }
    return gleam__proc_check(op, &po->pr, cmd, gleam__proc_end(&po->pr, 0, op->task->job));
}

GLEAM__PRIV gleam__op *gleam__make_pipe(gleam__task *t, gleam__node *node) {
    gleam__pipeop *po = (gleam__pipeop *)gleam__op_alloc(t, node, sizeof *po);
    if (!po) return NULL;
    po->pr.in = po->pr.out = po->pr.err = -1;
    po->op.free = gleam__pipe_free;
    if (node->step->kind == GLEAM__PIPE) {
        po->op.push = gleam__pipe_push;
        po->op.finish = gleam__pipe_finish;
    } else {
        po->op.push = gleam__args_push;
    }
    return &po->op;
}
