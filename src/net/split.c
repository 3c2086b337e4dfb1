/* split.c: a distributed sort's partitions: the splitters, from samples of every
   producer's sorted runs, and for each partition the blocks of each run that may hold
   its key range, from the first row of every block. */
#include "net/net.h"

/* Which blocks of a producer's sorted runs partition `shard` of sort stage s needs: in each
   run, those whose keys may lie in [lo, hi) (a block holds the keys from its first row to
   the next block's first row), as [from, to) pairs in out. 0, or -1 when the index does
   not decode or out of memory. */
GLEAM__PRIV int gleam__drive_ranges(const gleam__drive *d, int s, int shard, const gleam__buf *index, gleam__buf *out) {
    const gleam_order *o = &d->p->stages[s]->root->order;
    const char *p = d->splits[s].p, *e = p + d->splits[s].len, *q = index->p, *qe = q + index->len;
    gleam__srow lo, hi, *first = NULL;
    int64_t *run = NULL;
    gleam__cmp cmp;
    gleam__vals v = {NULL, 0, 0};
    size_t n = 0, cap = 0, b, from = 0, to = 0;
    int has_lo = 0, has_hi = 0, i, bad = 0;
    gleam__cmp_init(&cmp, o);
    for (i = 0; p < e && i <= shard; i++, p += gleam__row_len(p)) {
        if (i == shard - 1) lo = gleam__srow_at(p, o), has_lo = 1;
        if (i == shard) hi = gleam__srow_at(p, o), has_hi = 1;
    }
    while (!bad && q && q < qe) { /* the index: run and first row of every block */
        if (n == cap) {
            size_t c = cap ? 2 * cap : 256;
            gleam__srow *f = (gleam__srow *)gleam__realloc(first, c * sizeof *f);
            int64_t *r = f ? (int64_t *)gleam__realloc(run, c * sizeof *r) : NULL;
            if (f) first = f;
            if (r) run = r;
            if (!f || !r) {
                bad = 1;
                break;
            }
            cap = c;
        }
        if (gleam__unpack_row(&q, qe, &v) != GLEAM_OK || v.n != 2 || v.v[0].type != GLEAM_INT || v.v[1].type != GLEAM_BYTES) {
            bad = 1;
            break;
        }
        run[n] = v.v[0].u.i;
        first[n++] = gleam__srow_at(v.v[1].u.s, o); /* points into index, which outlives this */
    }
    for (b = 0; !bad && b < n; b++) {
        int last = b + 1 == n || run[b + 1] != run[b];
        int need = (!has_hi || gleam__srow_cmp(&cmp, &first[b], &hi) < 0) &&
                   (last || !has_lo || gleam__srow_cmp(&cmp, &first[b + 1], &lo) >= 0);
        if (need) {
            if (from == to) from = b;
            to = b + 1;
        }
        if (last && from < to) { /* this run's blocks */
            unsigned char pair[8];
            gleam__be32(pair, (uint32_t)from);
            gleam__be32(pair + 4, (uint32_t)to);
            if (gleam__buf_add(out, pair, 8)) bad = 1;
            from = to = 0;
        }
    }
    gleam__free(first);
    gleam__free(run);
    gleam__vals_free(&v);
    return bad ? -1 : 0;
}

/* The splitters of sort stage s (index), from samples of every run its producers made. */
GLEAM__PRIV int gleam__drive_splitters(gleam__drive *d, int s) {
    const gleam__stage *st = d->p->stages[s];
    int P = st->nshards, i, j, role;
    gleam__cmp cmp;
    gleam__run *samples;
    gleam__vals row = {NULL, 0, 0};
    gleam__buf buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    char err[512] = "";
    if (P < 2) return 0;
    gleam__cmp_init(&cmp, &st->root->order);
    if (!(samples = gleam__run_new())) return -1;
    for (i = 0; i < d->p->nstages && !err[0]; i++) {
        if (gleam__feeds(d->p->stages[i], st) < 0) continue;
        for (j = 0; j < d->p->stages[i]->nshards && !err[0]; j++) {
            const gleam__dagent *a = &d->ag[d->t[i][j].agent];
            gleam_value m[5];
            const char *p, *e;
            size_t len;
            int fd = gleam__connect(a->host, a->port, 10000, err, sizeof err);
            if (fd < 0) break;
            m[0] = gleam_str(d->job);
            m[1] = gleam_int(i + 1);
            m[2] = gleam_int(j);
            m[3] = gleam_int(st->root->id);
            m[4] = gleam_int(64 * P);
            if (gleam__greet(fd, 0, GLEAM__ROLE_DRIVER, &role, NULL, err, sizeof err) != 1 ||
                gleam__msg_send(fd, GLEAM__MSG_SAMPLE, m, 5) ||
                gleam__msg_recv(fd, &buf, &v, 2, err, sizeof err) != GLEAM__MSG_OK || gleam__mbytes(&v, 1, &p, &len)) {
                if (!err[0]) gleam__fmt_into(err, sizeof err, "no samples from agent %s:%d", a->host, a->port);
                close(fd);
                break;
            }
            if (gleam__buf_add(&d->index[i][j], p, len)) gleam__fmt_into(err, sizeof err, "out of memory");
            gleam__mbytes(&v, 0, &p, &len);
            for (e = p + len; p < e;)
                if (gleam__unpack_row(&p, e, &row) != GLEAM_OK || gleam__run_add(samples, &cmp, row.v, row.n)) {
                    gleam__fmt_into(err, sizeof err, "the samples of agent %s:%d do not decode", a->host, a->port);
                    break;
                }
            close(fd);
        }
    }
    if (!err[0] && gleam__run_sort(samples, &cmp)) gleam__fmt_into(err, sizeof err, "out of memory");
    for (i = 1; i < P && !err[0] && samples->n; i++) {
        const char *r = samples->rows[(size_t)i * samples->n / (size_t)P].row;
        if (gleam__buf_add(&d->splits[s], r, gleam__row_len(r))) gleam__fmt_into(err, sizeof err, "out of memory");
    }
    gleam__run_free(samples);
    gleam__vals_free(&row);
    gleam__vals_free(&v);
    gleam__buf_free(&buf);
    if (err[0]) gleam__drive_fail(d, GLEAM_ERR_NET, "stage %d: cannot agree on the sort's splitters: %s", s + 1, err);
    return err[0] ? -1 : 0;
}
