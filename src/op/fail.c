/* fail.c: the job's first error, with its context: the step, the shard, and the file and
   line of the row at hand. The first failure stops the job; later ones only return. */
#include "op/op.h"

GLEAM__PRIV int gleam__aborted(gleam__job *job) {
    int a;
    pthread_mutex_lock(&job->mu);
    a = job->aborted;
    pthread_mutex_unlock(&job->mu);
    return a;
}

/* The line number of byte `off` of a file (counting from 1), or 0 if it cannot be read. */
static uint64_t gleam__line_of(const char *path, uint64_t off) {
    char buf[65536];
    uint64_t line = 1, pos = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    while (pos < off) {
        size_t want = (size_t)GLEAM__MIN((uint64_t)sizeof buf, off - pos);
        ssize_t got = read(fd, buf, want), i;
        if (got <= 0) break;
        for (i = 0; i < got; i++) line += buf[i] == '\n';
        pos += (uint64_t)got;
    }
    close(fd);
    return line;
}

/* Make r the job's error and stop the job, if it is its first failure: 1, else 0. */
static int gleam__claim(gleam__job *job, gleam_result r) {
    int first;
    pthread_mutex_lock(&job->mu);
    first = job->err == GLEAM_OK;
    if (first) {
        job->err = r;
        job->aborted = 1;
        pthread_cond_broadcast(&job->cv);
    }
    pthread_mutex_unlock(&job->mu);
    return first;
}

/* Record the failure if it is the job's first: the slot is claimed before the message is
   made, since finding the line number rereads the input (never a pipe: it cannot). */
static gleam_result gleam__vfail(gleam__task *t, const gleam__node *where, int shard, gleam_result r, const char *fmt,
                                 va_list ap) {
    gleam__job *job = t->job;
    char msg[GLEAM__ERRMAX], label[160] = "", pos[GLEAM__ERRMAX / 2] = "";
    if (!gleam__claim(job, r)) return r;
    gleam__vfmt(msg, sizeof msg, fmt, ap);
    if (where) {
        const gleam__step *s = where->step;
        int shards = s->nshards;
        char step[128];
        gleam__step_label(s, step, sizeof step);
        gleam__fmt_into(label, sizeof label, "%s, shard %d of %d", step, shard + 1, shards);
    }
    if (t->in_path) {
        uint64_t line = t->in_stream ? 0 : gleam__line_of(t->in_path, t->in_off);
        if (line) gleam__fmt_into(pos, sizeof pos, "%s%s line %llu", *label ? ", " : "", t->in_path, (unsigned long long)line);
        else gleam__fmt_into(pos, sizeof pos, "%s%s", *label ? ", " : "", t->in_path);
    }
    pthread_mutex_lock(&job->mu);
    if (*label || *pos) gleam__fmt_into(job->errmsg, sizeof job->errmsg, "%s%s: %s", label, pos, msg);
    else gleam__fmt_into(job->errmsg, sizeof job->errmsg, "%s", msg);
    pthread_mutex_unlock(&job->mu);
    if (job->on_abort) job->on_abort(job);
    return r;
}

GLEAM__PRIV gleam_result gleam__fail(gleam__task *t, const gleam__node *where, gleam_result r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    r = gleam__vfail(t, where, t->shard + (where ? where->offset : 0), r, fmt, ap);
    va_end(ap);
    return r;
}

GLEAM__PRIV gleam_result gleam__fail_at(gleam__task *t, const gleam__node *where, int shard, gleam_result r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    r = gleam__vfail(t, where, shard, r, fmt, ap);
    va_end(ap);
    return r;
}

GLEAM__PRIV gleam_result gleam__nomem(gleam__op *op) { return gleam__fail(op->task, op->node, GLEAM_ERR_NOMEM, "out of memory"); }


/* Fail the job for a spill file that could not be made or written (errno says why). */
GLEAM__PRIV gleam_result gleam__spill_fail(gleam__op *op, const char *what) {
    int e = errno;
    if (e == ENOMEM) return gleam__nomem(op);
    return gleam__fail(op->task, op->node, GLEAM_ERR_IO, "cannot %s a spill file in %s: %s", what,
                       op->task->job->opt.tmpdir, strerror(e));
}

/* Stop the job with r and a message naming no step, unless it failed already. */
GLEAM__PRIV void gleam__job_fail(gleam__job *job, gleam_result r, const char *fmt, ...) {
    va_list ap;
    if (!gleam__claim(job, r)) return;
    pthread_mutex_lock(&job->mu);
    va_start(ap, fmt);
    gleam__vfmt(job->errmsg, sizeof job->errmsg, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&job->mu);
    if (job->on_abort) job->on_abort(job);
}
