/* drive.c: what the parts of a driver share: failing the job with its first error,
   a greeted connection to an agent, and which stages feed which. */
#include "net/net.h"

GLEAM__PRIV void gleam__drive_fail(gleam__drive *d, gleam_result r, const char *fmt, ...) GLEAM__PRINTF(3, 4);
GLEAM__PRIV void gleam__drive_fail(gleam__drive *d, gleam_result r, const char *fmt, ...) {
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

/* A connection to agent a, greeted. fd, or -1 with err set. */
GLEAM__PRIV int gleam__drive_dial(gleam__drive *d, int a, char *err, size_t cap) {
    int role, fd = gleam__connect(d->ag[a].host, d->ag[a].port, 10000, err, cap);
    if (fd >= 0 && gleam__greet(fd, 0, GLEAM__ROLE_DRIVER, &role, NULL, err, cap) != 1) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Stage st's inputs: is stage o one of its producers (o holds a non-root node of st's
   root), and on which side? -1 when not. */
GLEAM__PRIV int gleam__feeds(const gleam__stage *o, const gleam__stage *st) {
    int q;
    if (!st->root || gleam__step_class(st->root->kind) != GLEAM__WIDE) return -1;
    for (q = 1; q < o->nnodes; q++)
        if (o->nodes[q]->step == st->root) return o->nodes[q]->side;
    return -1;
}
