/* pool.c: a pool of threads taking work items from one queue, under one mutex and one
   condition variable. The job is over when no task remains, or it failed; a pool with
   tasks left but nothing running and nothing queued has stalled, which is a bug. */
#include "op/op.h"

GLEAM__PRIV void gleam__schedule(gleam__job *job, void (*fn)(gleam__job *, void *, int), void *arg, int i) {
    pthread_mutex_lock(&job->mu);
    if (job->qlen == job->qcap) {
        size_t cap = job->qcap ? job->qcap * 2 : 64, k;
        gleam__work *q = (gleam__work *)gleam__malloc(cap * sizeof *q);
        if (!q) { /* cannot queue: stop the job rather than lose work */
            pthread_mutex_unlock(&job->mu);
            gleam__job_fail(job, GLEAM_ERR_NOMEM, "out of memory");
            return;
        }
        for (k = 0; k < job->qlen; k++) q[k] = job->q[(job->qhead + k) % job->qcap];
        gleam__free(job->q);
        job->q = q;
        job->qcap = cap;
        job->qhead = 0;
    }
    job->q[(job->qhead + job->qlen) % job->qcap].fn = fn;
    job->q[(job->qhead + job->qlen) % job->qcap].arg = arg;
    job->q[(job->qhead + job->qlen) % job->qcap].i = i;
    job->qlen++;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
}

/* A task has finished (or given up): one less to wait for. */
GLEAM__PRIV void gleam__task_done(gleam__job *job) {
    pthread_mutex_lock(&job->mu);
    GLEAM_ASSERT(job->remaining > 0);
    job->remaining--;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
}

static int gleam__job_over(gleam__job *job) {
    if (job->running) return 0;
    if (job->aborted || job->remaining == 0) return 1;
    if (job->qlen == 0) { /* nothing runs, nothing waits, yet tasks remain: a bug, not a hang */
        job->stalled = 1;
        return 1;
    }
    return 0;
}

GLEAM__PRIV void *gleam__worker(void *arg) {
    gleam__job *job = (gleam__job *)arg;
    pthread_mutex_lock(&job->mu);
    for (;;) {
        gleam__work w;
        while (job->qlen == 0 && !gleam__job_over(job)) pthread_cond_wait(&job->cv, &job->mu);
        if (job->qlen == 0) break;
        w = job->q[job->qhead];
        job->qhead = (job->qhead + 1) % job->qcap;
        job->qlen--;
        if (job->aborted) continue; /* drop queued work once the job failed */
        job->running++;
        pthread_mutex_unlock(&job->mu);
        w.fn(job, w.arg, w.i);
        pthread_mutex_lock(&job->mu);
        GLEAM_ASSERT(job->running > 0);
        job->running--;
        pthread_cond_broadcast(&job->cv);
    }
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
    return NULL;
}

