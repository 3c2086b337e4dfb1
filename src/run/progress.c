/* progress.c: the progress line: steps done, rows and bytes read, the rate, the time. */
#include "run/run.h"

/* The progress line (under smu): steps done, rows and bytes read, rate, elapsed. */
static void gleam__progress_line(gleam__job *job, char *line, size_t cap) {
    const gleam__plan *p = job->plan;
    int nsteps = p->nsteps, done = 0, s, i;
    double el = gleam__now() - job->t_start;
    char rows[32], bytes[32], rate[32];
    memset(job->step_busy, 0, (size_t)nsteps + 1);
    for (s = 0; s < p->nstages; s++)
        if (job->stage_left[s] > 0)
            for (i = 0; i < p->stages[s]->nnodes; i++) job->step_busy[p->stages[s]->nodes[i]->step->id] = 1;
    for (i = 1; i <= nsteps; i++) done += !job->step_busy[i];
    gleam__fmt_into(line, cap, "gleam: %d/%d steps done, %s rows and %s read (%s/s), %.1f s", done, nsteps,
                    gleam__fmt_count(rows, sizeof rows, (double)job->rows_read),
                    gleam__fmt_bytes(bytes, sizeof bytes, (double)job->bytes_read),
                    gleam__fmt_bytes(rate, sizeof rate, el > 0 ? (double)job->bytes_read / el : 0), el);
}

/* The progress thread: on a terminal, one line redrawn four times a second once the job
   has run a second (taken off while the job writes to the terminal, cleared at the end);
   forced on (-gleam.progress), from the start, and when stderr is not a terminal a line a
   second; forced, a last line at the end. Lines are written under smu, so that they never
   cut into the job's own output. */
GLEAM__PRIV void *gleam__progress_main(void *arg) {
    gleam__job *job = (gleam__job *)arg;
    int tty = job->progress_tty, forced = job->opt.progress == 1;
    char line[256], out[300];
    int n;
    pthread_mutex_lock(&job->smu);
    while (!job->stop_progress) {
        struct timespec ts;
        long step = tty ? 250000000L : 1000000000L;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += step;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&job->scv, &job->smu, &ts);
        if (job->stop_progress) break;
        if (!forced && gleam__now() - job->t_start < 1.0) continue;
        gleam__progress_line(job, line, sizeof line);
        n = gleam__fmt_into(out, sizeof out, tty ? "\r%s\033[K" : "%s\n", line);
        (void)gleam__write_all(2, out, (size_t)GLEAM__MIN(n, (int)sizeof out - 1));
        job->drawn = tty;
    }
    if (forced) {
        gleam__progress_line(job, line, sizeof line);
        n = gleam__fmt_into(out, sizeof out, tty ? "\r%s\033[K\n" : "%s\n", line);
        (void)gleam__write_all(2, out, (size_t)GLEAM__MIN(n, (int)sizeof out - 1));
        job->drawn = 0;
    }
    gleam__progress_erase(job);
    pthread_mutex_unlock(&job->smu);
    return NULL;
}

