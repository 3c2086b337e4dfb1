/* term.c: the terminal the job shares with its progress line: the job's own writes to
   stdout and stderr step around the line, and sources publish what they have read. */
#include "op/op.h"

GLEAM__PRIV void gleam__progress_add(gleam__job *job, uint64_t rows, uint64_t bytes) {
    pthread_mutex_lock(&job->smu);
    job->rows_read += rows;
    job->bytes_read += bytes;
    pthread_mutex_unlock(&job->smu);
}

GLEAM__PRIV void gleam__progress_rows(gleam__op *op) {
    if (op->nout - op->published < 4096) return;
    gleam__progress_add(op->task->job, op->nout - op->published, 0);
    op->published = op->nout;
}

/* Under smu: take the progress line off the screen, if it is on it. */
GLEAM__PRIV void gleam__progress_erase(gleam__job *job) {
    if (job->drawn) (void)gleam__write_all(2, "\r\033[K", 4);
    job->drawn = 0;
}

GLEAM__PRIV int gleam__term_write(gleam__job *job, int fd, const char *p, size_t n) {
    int r;
    if (!job->progress_tty || (fd != 2 && !(fd == 1 && job->out_tty))) return gleam__write_all(fd, p, n);
    pthread_mutex_lock(&job->smu); /* the line is redrawn at the next tick */
    gleam__progress_erase(job);
    r = gleam__write_all(fd, p, n);
    pthread_mutex_unlock(&job->smu);
    return r;
}

