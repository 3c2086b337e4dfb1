/* stream.c: exchanges across a process boundary, as frames on a file descriptor (a pipe or
   a socket). Three pieces: the sending side of an exchange whose consumers run in other
   processes (one descriptor per partition), the sending side of the producers of a
   process that runs one task (its outputs go up one descriptor), and the receiving side
   of such a task, which hands the blocks to its consumer in the exchange's take order.
   Every length and count read is checked before it is used. */
#include "exchange/exchange.h"

/* >>frames -------------------------------------------------------------------------------- */

GLEAM__PRIV int gleam__frame_fields(int type) {
    switch (type) {
    case GLEAM__FRAME_PLAN: return 0;
    case GLEAM__FRAME_TASK: return 2;
    case GLEAM__FRAME_BLOCK: return 4;
    case GLEAM__FRAME_CLOSE: return 4;
    case GLEAM__FRAME_RUNS: return 2;
    case GLEAM__FRAME_ROWS: return 2;
    case GLEAM__FRAME_RUN: return 2;
    case GLEAM__FRAME_END: return 1;
    case GLEAM__FRAME_TEXT: return 2;
    default: return type >= GLEAM__FRAME_MSG && type <= 255 ? 0 : -1;
    }
}

GLEAM__PRIV int gleam__fd_write2(int fd, const char *a, size_t an, const char *b, size_t bn) {
    while (an + bn) {
        struct iovec io[2];
        struct msghdr m;
        ssize_t w;
        memset(&m, 0, sizeof m);
        io[0].iov_base = (void *)(an ? a : b);
        io[0].iov_len = an ? an : bn;
        io[1].iov_base = (void *)b;
        io[1].iov_len = an ? bn : 0;
        m.msg_iov = io;
        m.msg_iovlen = an && bn ? 2 : 1;
        w = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == ENOTSOCK) return gleam__write_all(fd, a, an) || gleam__write_all(fd, b, bn) ? -1 : 0;
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { /* no room: wait for the peer to read */
            struct timeval tv = {0, 0};
            socklen_t tl = sizeof tv;
            struct pollfd pl;
            int k, ms = getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &tl) ? 0 : (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
            pl.fd = fd;
            pl.events = POLLOUT;
            pl.revents = 0;
            if ((k = poll(&pl, 1, ms > 0 ? ms : -1)) == 0) {
                errno = EAGAIN; /* not one byte read by the peer within the send timeout */
                return -1;
            }
            if (k < 0 && errno != EINTR) return -1;
            continue;
        }
        if (w <= 0) {
            if (w == 0) errno = EPIPE;
            return -1;
        }
        if ((size_t)w >= an) { /* the first part gone: the rest of the second */
            b += (size_t)w - an;
            bn -= (size_t)w - an;
            an = 0;
        } else {
            a += w;
            an -= (size_t)w;
        }
    }
    return 0;
}

GLEAM__PRIV int gleam__frame_write(int fd, int type, const uint32_t *f, int nf, const void *data, size_t len) {
    unsigned char hdr[4 + 1 + 4 * 4];
    size_t h = 5 + 4 * (size_t)nf;
    int i;
    GLEAM_ASSERT(nf == gleam__frame_fields(type));
    if (len > GLEAM__FRAME_MAX - h) {
        errno = EMSGSIZE;
        return -1;
    }
    gleam__be32(hdr, (uint32_t)(h - 4 + len));
    hdr[4] = (unsigned char)type;
    for (i = 0; i < nf; i++) gleam__be32(hdr + 5 + 4 * i, f[i]);
    return gleam__fd_write2(fd, (const char *)hdr, h, (const char *)data, len); /* one send: no lone header on the wire */
}

/* Read exactly n bytes: 1, 0 at the end of the input before the first byte, -1 (errno set;
   EPROTO when the input ends inside). */
GLEAM__PRIV int gleam__read_exact(int fd, char *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) {
            if (got == 0) return 0;
            errno = EPROTO;
            return -1;
        }
        got += (size_t)r;
    }
    return 1;
}

GLEAM__PRIV int gleam__frame_read(int fd, gleam__buf *buf, gleam__frame *fr) {
    return gleam__frame_read_max(fd, buf, fr, GLEAM__FRAME_MAX);
}

GLEAM__PRIV int gleam__frame_read_max(int fd, gleam__buf *buf, gleam__frame *fr, size_t max) {
    unsigned char hdr[4];
    size_t len, got = 0;
    int k, nf, i;
    if ((k = gleam__read_exact(fd, (char *)hdr, 4)) <= 0) return k;
    len = gleam__rd32(hdr);
    if (len < 1 || len > max) {
        errno = EPROTO;
        return -1;
    }
    buf->len = 0;
    while (got < len) { /* memory grows with the bytes that came, not with the length claimed */
        size_t step = GLEAM__MIN(len - got, got + ((size_t)1 << 20));
        if (gleam__buf_reserve(buf, got + step)) {
            errno = ENOMEM;
            return -1;
        }
        if ((k = gleam__read_exact(fd, buf->p + got, step)) <= 0) {
            if (k == 0) errno = EPROTO;
            return -1;
        }
        got += step;
    }
    buf->len = len;
    fr->type = (unsigned char)buf->p[0];
    nf = gleam__frame_fields(fr->type);
    if (nf < 0 || len < 1 + 4 * (size_t)nf) {
        errno = EPROTO;
        return -1;
    }
    for (i = 0; i < 4; i++) fr->f[i] = i < nf ? gleam__rd32((const unsigned char *)buf->p + 1 + 4 * i) : 0;
    fr->data = buf->p + 1 + 4 * nf;
    fr->len = len - 1 - 4 * (size_t)nf;
    return 1;
}

/* frame_write under mu: 0, or the errno of the failure. */
GLEAM__PRIV int gleam__frame_write_locked(int fd, pthread_mutex_t *mu, int type, const uint32_t *f, int nf, const void *data,
                                     size_t len) {
    int e = 0;
    pthread_mutex_lock(mu);
    if (gleam__frame_write(fd, type, f, nf, data, len)) e = errno ? errno : EIO;
    pthread_mutex_unlock(mu);
    return e;
}

/* The fields of a BLOCK frame of exchange x for block b of partition part. */
static void gleam__block_fields(uint32_t *f, const gleam__xchg *x, uint32_t part, const gleam__block *b) {
    f[0] = (uint32_t)x->step->id;
    f[1] = part;
    f[2] = (uint32_t)b->side;
    f[3] = (uint32_t)b->producer;
}

/* >>send: an exchange whose consumers are elsewhere ---------------------------------------- */

typedef struct gleam__send {
    int *fds;               /* by partition */
    pthread_mutex_t *mus;   /* one writer at a time per descriptor */
} gleam__send;

#define GLEAM__SEND(x) ((gleam__send *)(x)->impl)

/* Write a frame to partition j's consumer; a failure fails the job at op. */
static gleam_result gleam__send_frame(gleam__xchg *x, gleam__op *op, int j, int type, const uint32_t *f, int nf,
                                      const void *data, size_t len) {
    gleam__send *s = GLEAM__SEND(x);
    int e = gleam__frame_write_locked(s->fds[j], &s->mus[j], type, f, nf, data, len);
    if (!e) return GLEAM_OK;
    if (gleam__aborted(x->job)) return GLEAM_ERR_INTERNAL;
    return gleam__fail(op->task, op->node, GLEAM_ERR_IO, "cannot send to the process of partition %d: %s", j + 1,
                       strerror(e));
}

static gleam_result gleam__send_put(gleam__xchg *x, gleam__op *from, int part, gleam__block *b) {
    uint32_t f[4];
    gleam_result r;
    gleam__block_fields(f, x, (uint32_t)part, b);
    r = gleam__send_frame(x, from, part, GLEAM__FRAME_BLOCK, f, 4, b->data, b->len);
    gleam__block_free(b);
    return r;
}

/* Partition j's slice of every run, as blocks of rows in order, then the RUNS frame. */
static gleam_result gleam__send_slices(gleam__xchg *x, gleam__op *op, int j) {
    gleam__buf blk = {NULL, 0, 0};
    gleam_result r = GLEAM_OK;
    uint32_t f[4];
    int i, k;
    f[0] = (uint32_t)x->step->id;
    f[1] = (uint32_t)j;
    f[2] = 0;
    for (i = 0; i < x->nruns && r == GLEAM_OK; i++) {
        const gleam__slice *sl = &x->slices[(size_t)j * (size_t)x->nruns + (size_t)i];
        gleam__cursor cur;
        gleam__cursor_init(&cur, sl->run, sl->from, sl->to, sl->lo, sl->hi);
        f[3] = (uint32_t)i;
        blk.len = 0;
        while (r == GLEAM_OK && (k = gleam__cursor_next(&cur, &x->cmp)) != 0) {
            size_t n = k < 0 ? 0 : gleam__cursor_len(&cur);
            if (k < 0) r = gleam__spill_fail(op, "read");
            else if (gleam__buf_add(&blk, cur.head.row, n)) r = gleam__nomem(op);
            else if (blk.len >= x->job->block_size) {
                r = gleam__send_frame(x, op, j, GLEAM__FRAME_BLOCK, f, 4, blk.p, blk.len);
                blk.len = 0;
            }
        }
        if (r == GLEAM_OK && blk.len) r = gleam__send_frame(x, op, j, GLEAM__FRAME_BLOCK, f, 4, blk.p, blk.len);
        gleam__cursor_free(&cur);
    }
    gleam__buf_free(&blk);
    f[1] = (uint32_t)x->nruns;
    return r == GLEAM_OK ? gleam__send_frame(x, op, j, GLEAM__FRAME_RUNS, f, 2, NULL, 0) : r;
}

static gleam_result gleam__send_close(gleam__xchg *x, gleam__op *from, int side, int width) {
    gleam_result r = GLEAM_OK;
    uint32_t f[4];
    int j, last = gleam__xchg_closed(x, side, width);
    if (x->take == GLEAM__TAKE_RUNS) { /* the runs are cut once all are in */
        if (!last) return GLEAM_OK;
        if (gleam__xchg_cut_runs(x)) return gleam__nomem(from);
        for (j = 0; j < x->nparts && r == GLEAM_OK; j++) r = gleam__send_slices(x, from, j);
        return r;
    }
    f[0] = (uint32_t)x->step->id;
    f[1] = (uint32_t)side;
    f[2] = (uint32_t)(from->task->shard + from->node->offset);
    f[3] = (uint32_t)width;
    for (j = 0; j < x->nparts && r == GLEAM_OK; j++) r = gleam__send_frame(x, from, j, GLEAM__FRAME_CLOSE, f, 4, NULL, 0);
    return r;
}

static gleam_result gleam__send_put_run(gleam__xchg *x, gleam__op *from, gleam__run *run) {
    return gleam__xchg_keep_run(x, from, run);
}

static void gleam__send_abort(gleam__xchg *x) {
    gleam__send *s = GLEAM__SEND(x);
    int j;
    if (!s) return;
    for (j = 0; j < x->nparts; j++) shutdown(s->fds[j], SHUT_WR); /* a writer waiting for room gives up */
}

static void gleam__send_free(gleam__xchg *x) {
    gleam__send *s = GLEAM__SEND(x);
    int j;
    if (!s) return;
    for (j = 0; j < x->nparts; j++) pthread_mutex_destroy(&s->mus[j]);
    gleam__free(s->fds);
    gleam__free(s->mus);
    gleam__free(s);
    x->impl = NULL;
}

static const gleam__xport gleam__send_xport = {"send", gleam__send_put, gleam__send_put_run, gleam__send_close,
                                               gleam__send_abort, gleam__send_free};

GLEAM__PRIV const gleam__xport *gleam__xport_send(void) { return &gleam__send_xport; }

GLEAM__PRIV int gleam__send_init(gleam__xchg *x, const int *fds) {
    gleam__send *s = (gleam__send *)gleam__calloc(1, sizeof *s);
    int j;
    if (!s || !(s->fds = (int *)gleam__calloc((size_t)x->nparts, sizeof *s->fds)) ||
        !(s->mus = (pthread_mutex_t *)gleam__calloc((size_t)x->nparts, sizeof *s->mus))) {
        if (s) gleam__free(s->fds);
        gleam__free(s);
        return -1;
    }
    for (j = 0; j < x->nparts; j++) {
        s->fds[j] = fds[j];
        pthread_mutex_init(&s->mus[j], NULL);
    }
    x->impl = s;
    return 0;
}

/* >>up: the producers of a process that runs one task ------------------------------------ */

typedef struct gleam__up {
    int fd;
    pthread_mutex_t *mu;    /* shared by everything this process writes to fd */
} gleam__up;

#define GLEAM__UP(x) ((gleam__up *)(x)->impl)

static gleam_result gleam__up_frame(gleam__xchg *x, gleam__op *op, int type, const uint32_t *f, int nf, const void *data,
                                    size_t len) {
    gleam__up *u = GLEAM__UP(x);
    int e = gleam__frame_write_locked(u->fd, u->mu, type, f, nf, data, len);
    return e ? gleam__fail(op->task, op->node, GLEAM_ERR_IO, "cannot send rows on: %s", strerror(e)) : GLEAM_OK;
}

static gleam_result gleam__up_put(gleam__xchg *x, gleam__op *from, int part, gleam__block *b) {
    uint32_t f[4];
    gleam_result r;
    gleam__block_fields(f, x, (uint32_t)part, b);
    r = gleam__up_frame(x, from, GLEAM__FRAME_BLOCK, f, 4, b->data, b->len);
    gleam__block_free(b);
    return r;
}

/* A sorted run goes up as blocks of its rows in order, then a RUN frame. */
static gleam_result gleam__up_put_run(gleam__xchg *x, gleam__op *from, gleam__run *run) {
    gleam__buf blk = {NULL, 0, 0};
    gleam__cursor cur;
    gleam_result r = GLEAM_OK;
    uint32_t f[4];
    int k;
    f[0] = (uint32_t)x->step->id;
    f[1] = GLEAM__PART_RUN;
    f[2] = 0;
    f[3] = (uint32_t)(from->task->shard + from->node->offset);
    gleam__cursor_init(&cur, run, 0, run->n, NULL, NULL);
    while (r == GLEAM_OK && (k = gleam__cursor_next(&cur, &x->cmp)) != 0) {
        if (k < 0) r = gleam__spill_fail(from, "read");
        else if (gleam__buf_add(&blk, cur.head.row, gleam__cursor_len(&cur))) r = gleam__nomem(from);
        else if (blk.len >= x->job->block_size) {
            r = gleam__up_frame(x, from, GLEAM__FRAME_BLOCK, f, 4, blk.p, blk.len);
            blk.len = 0;
        }
    }
    if (r == GLEAM_OK && blk.len) r = gleam__up_frame(x, from, GLEAM__FRAME_BLOCK, f, 4, blk.p, blk.len);
    gleam__cursor_free(&cur);
    gleam__buf_free(&blk);
    gleam__run_free(run);
    f[1] = f[3];
    return r == GLEAM_OK ? gleam__up_frame(x, from, GLEAM__FRAME_RUN, f, 2, NULL, 0) : r;
}

static gleam_result gleam__up_close(gleam__xchg *x, gleam__op *from, int side, int width) {
    uint32_t f[4];
    f[0] = (uint32_t)x->step->id;
    f[1] = (uint32_t)side;
    f[2] = (uint32_t)(from->task->shard + from->node->offset);
    f[3] = (uint32_t)width;
    return gleam__up_frame(x, from, GLEAM__FRAME_CLOSE, f, 4, NULL, 0);
}

static void gleam__up_abort(gleam__xchg *x) { (void)x; }

static void gleam__up_free(gleam__xchg *x) {
    gleam__free(x->impl);
    x->impl = NULL;
}

static const gleam__xport gleam__up_xport = {"up", gleam__up_put, gleam__up_put_run, gleam__up_close, gleam__up_abort,
                                             gleam__up_free};

GLEAM__PRIV const gleam__xport *gleam__xport_up(void) { return &gleam__up_xport; }

GLEAM__PRIV int gleam__up_init(gleam__xchg *x, int fd, pthread_mutex_t *mu) {
    gleam__up *u = (gleam__up *)gleam__calloc(1, sizeof *u);
    if (!u) return -1;
    u->fd = fd;
    u->mu = mu;
    x->impl = u;
    return 0;
}

/* >>receive: the consumer of one partition, fed by frames --------------------------------- */

/* A block holding a frame's rows, checked to be whole rows of ours (unless its source did).
   NULL, with err set. */
static gleam__block *gleam__frame_block(const gleam__frame *fr, int checked, char *err, size_t errcap) {
    gleam__block *b;
    uint64_t rows;
    if (!checked && gleam__check_rows(fr->data, fr->len, &rows) != GLEAM_OK) {
        gleam__fmt_into(err, errcap, "a block of %zu bytes does not hold whole rows", fr->len);
        return NULL;
    }
    if (!(b = gleam__block_new(fr->len))) {
        gleam__fmt_into(err, errcap, "out of memory");
        return NULL;
    }
    memcpy(b->data, fr->data, fr->len);
    b->len = fr->len;
    return b;
}

static void gleam__list_add(gleam__block **head, gleam__block **tail, gleam__block *b) {
    b->next = NULL;
    if (*tail) (*tail)->next = b;
    else *head = b;
    *tail = b;
}

GLEAM__PRIV int gleam__frames_fd(gleam__frames *in, gleam__buf *buf, gleam__frame *fr) {
    in->checked = 0;
    return gleam__frame_read(in->fd, buf, fr);
}

GLEAM__PRIV gleam_result gleam__receive(gleam__xchg *x, gleam__task *t, gleam__frames *in, gleam__buf *buf, char *err,
                                        size_t errcap) {
    gleam__block *held = NULL, *tail = NULL, **runs = NULL, **rtail = NULL, *b;
    gleam_result r = GLEAM_OK;
    uint32_t nruns = 0, caprun = 0, last = 0; /* TAKE_RUNS: the runs that sent blocks, in order; the last one's number */
    int done = 0, j;
    err[0] = 0;
    while (!done && r >= 0) {
        gleam__frame fr;
        int k = in->next(in, buf, &fr);
        if (k <= 0) {
            gleam__fmt_into(err, errcap, k == 0 ? "the input ended before every producer of step %d had closed"
                                                : "cannot read the input of step %d: %s",
                            x->step->id, strerror(errno));
            r = GLEAM_ERR_INPUT;
            break;
        }
        if ((fr.type != GLEAM__FRAME_BLOCK && fr.type != GLEAM__FRAME_CLOSE && fr.type != GLEAM__FRAME_RUNS) ||
            fr.f[0] != (uint32_t)x->step->id) {
            gleam__fmt_into(err, errcap, "a frame of type %d for step %u came where step %d's input was read", fr.type,
                            fr.f[0], x->step->id);
            r = GLEAM_ERR_INPUT;
            break;
        }
        if (fr.type == GLEAM__FRAME_BLOCK) {
            int side = (int)fr.f[2];
            if (fr.f[1] != (uint32_t)t->shard || fr.f[2] >= (uint32_t)x->nsides || fr.f[3] > (1u << 20)) {
                gleam__fmt_into(err, errcap, "a block for partition %u, side %u, producer %u came to partition %d of step %d",
                                fr.f[1], fr.f[2], fr.f[3], t->shard, x->step->id);
                r = GLEAM_ERR_INPUT;
                break;
            }
            if (!(b = gleam__frame_block(&fr, in->checked, err, errcap))) {
                r = GLEAM_ERR_INPUT;
                break;
            }
            b->side = side;
            b->producer = (int)fr.f[3];
            if (x->take == GLEAM__TAKE_RUNS) { /* a run's slice: kept by run, the runs in their order */
                /* Runs come in their order, and only those with rows for this partition send
                   blocks: a run is kept when its first block comes, so what is kept grows
                   with the blocks that came, not with the run numbers they claim. */
                if (nruns && fr.f[3] < last) {
                    gleam__block_free(b);
                    gleam__fmt_into(err, errcap, "a block of run %u of step %d came after one of run %u", fr.f[3],
                                    x->step->id, last);
                    r = GLEAM_ERR_INPUT;
                    break;
                }
                if (!nruns || fr.f[3] != last) {
                    if (nruns == caprun) {
                        uint32_t n = caprun ? 2 * caprun : 8;
                        gleam__block **a = (gleam__block **)gleam__realloc(runs, n * sizeof *a),
                                     **z = a ? (gleam__block **)gleam__realloc(rtail, n * sizeof *z) : NULL;
                        if (a) runs = a;
                        if (z) rtail = z, caprun = n;
                        if (!a || !z) {
                            gleam__block_free(b);
                            gleam__fmt_into(err, errcap, "out of memory");
                            r = GLEAM_ERR_NOMEM;
                            break;
                        }
                    }
                    runs[nruns] = rtail[nruns] = NULL;
                    nruns++;
                    last = fr.f[3];
                }
                gleam__list_add(&runs[nruns - 1], &rtail[nruns - 1], b);
            } else if (x->take == GLEAM__TAKE_AT_END || (x->take == GLEAM__TAKE_BUILD_FIRST && side == 0 && !gleam__xchg_built(x))) {
                gleam__list_add(&held, &tail, b);
            } else {
                b->next = NULL;
                r = gleam__xchg_absorb(t, b);
            }
        } else if (fr.type == GLEAM__FRAME_CLOSE) {
            if (x->take == GLEAM__TAKE_RUNS || fr.f[1] >= (uint32_t)x->nsides || x->open[fr.f[1]] <= 0 ||
                fr.f[3] > (1u << 24)) {
                gleam__fmt_into(err, errcap, "a close of side %u of step %d came when none was open", fr.f[1], x->step->id);
                r = GLEAM_ERR_INPUT;
                break;
            }
            done = gleam__xchg_closed(x, (int)fr.f[1], (int)fr.f[3]);
            if (x->take == GLEAM__TAKE_BUILD_FIRST && fr.f[1] == 1 && gleam__xchg_built(x)) { /* the probes may go */
                b = held;
                held = tail = NULL;
                r = gleam__xchg_absorb(t, b);
            }
        } else { /* RUNS: every slice is in */
            if (x->take != GLEAM__TAKE_RUNS || (nruns && fr.f[1] <= last) || fr.f[1] > (1u << 20)) {
                gleam__fmt_into(err, errcap, "an end of %u runs of step %d that does not follow its blocks", fr.f[1], x->step->id);
                r = GLEAM_ERR_INPUT;
                break;
            }
            /* the merge takes the runs that sent rows; the others would add nothing to it */
            if (!(x->slices = (gleam__slice *)gleam__calloc((size_t)x->nparts * nruns + 1, sizeof *x->slices))) {
                gleam__fmt_into(err, errcap, "out of memory");
                r = GLEAM_ERR_NOMEM;
                break;
            }
            x->nruns = (int)nruns;
            for (j = 0; j < (int)nruns; j++) {
                x->slices[(size_t)t->shard * (size_t)x->nruns + j].blocks = runs[j];
                runs[j] = NULL;
            }
            done = 1;
        }
    }
    for (j = 0; j < (int)nruns; j++) gleam__blocks_free(runs[j]);
    gleam__free(runs);
    gleam__free(rtail);
    if (r >= 0 && held) {
        if (x->take == GLEAM__TAKE_AT_END && gleam__blocks_by_producer(&held)) {
            gleam__fmt_into(err, errcap, "out of memory");
            r = GLEAM_ERR_NOMEM;
        } else {
            b = held;
            held = NULL;
            r = gleam__xchg_absorb(t, b);
        }
    }
    gleam__blocks_free(held);
    return r;
}
