/* sorted.c: sorted runs of packed rows. Each row carries a 64-bit prefix of its first order
   field that orders like the field itself, so most comparisons are one integer compare
   and the sort is a radix sort on the prefix; equal prefixes fall back to comparing the
   decoded fields. */
#include "data/data.h"

/* An order-preserving (not strictly) 64-bit image of v: type rank in the top 3 bits, then
   the top bits of the value's own order key. */
GLEAM__PRIV uint64_t gleam__prefix(gleam_value v, gleam_dir dir) {
    uint64_t rank, k = 0;
    switch (v.type) {
    case GLEAM_NIL: rank = 0; break;
    case GLEAM_BOOL: rank = 1; k = (uint64_t)v.u.i << 63; break;
    case GLEAM_INT:
    case GLEAM_DOUBLE: {
        double d = v.type == GLEAM_INT ? (double)v.u.i : v.u.d;
        rank = 2;
        if (d != d) k = 0;
        else {
            uint64_t bits;
            if (d == 0) d = 0; /* -0.0 and 0.0 are equal */
            memcpy(&bits, &d, 8);
            k = bits >> 63 ? ~bits : bits | (1ull << 63);
        }
        break;
    }
    case GLEAM_BYTES: {
        unsigned char b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int i;
        rank = 3;
        memcpy(b, v.u.s, v.len < 8 ? v.len : 8);
        for (i = 0; i < 8; i++) k = k << 8 | b[i];
        break;
    }
    default: rank = 4; break;
    }
    k = rank << 61 | k >> 3;
    return dir == GLEAM_DESC ? ~k : k;
}

GLEAM__PRIV int gleam__srow_cmp(const gleam__cmp *c, const gleam__srow *a, const gleam__srow *b) {
    int i;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    for (i = 0; i < c->order->n; i++) {
        int f = c->order->by[i].field, r;
        r = gleam_compare(gleam__row_field(a->row, f), gleam__row_field(b->row, f));
        if (r) return c->order->by[i].dir == GLEAM_DESC ? -r : r;
    }
    return 0;
}

GLEAM__PRIV void gleam__cmp_init(gleam__cmp *c, const gleam_order *o) {
    int i;
    c->order = o;
    c->maxfield = 0;
    for (i = 0; i < o->n; i++) c->maxfield = GLEAM__MAX(c->maxfield, o->by[i].field);
}

GLEAM__PRIV gleam__run *gleam__run_new(void) { return (gleam__run *)gleam__calloc(1, sizeof(gleam__run)); }

/* A run's rows are kept in GLEAM__RUN_PARTS parts by the top byte of their key (below the
   type rank), each a series of blocks cut from the run's arena, so that rows next to each
   other in sorted order sit near each other in memory: reading a big sorted run then walks
   a few megabytes at a time instead of jumping across all of it, which costs a TLB miss per
   row once the run outgrows the TLB's reach. A part's blocks grow from 4 KB to 64 KB, so a
   small run stays small. */
#define GLEAM__RUN_PARTS 256
#define GLEAM__PART_BLOCK (64 * 1024)

struct gleam__run_part {
    char *at;      /* free room in the part's current block */
    size_t left;
    size_t block;  /* the size of its next block */
};

GLEAM__PRIV void gleam__run_free(gleam__run *r) {
    if (!r) return;
    if (r->file) gleam__spill_close(r->file);
    gleam__free(r->file);
    gleam__free(r->offs);
    gleam__big_free(r->rows, r->cap * sizeof *r->rows);
    gleam__arena_free(&r->mem);
    gleam__free(r->parts);
    gleam__free(r);
}

/* Room for a row of `size` bytes in the part of key. NULL when out of memory. */
static char *gleam__run_room(gleam__run *r, uint64_t key, size_t size) {
    struct gleam__run_part *pt;
    char *p;
    size = (size + 7) & ~(size_t)7;
    if (!r->parts && !(r->parts = (struct gleam__run_part *)gleam__calloc(GLEAM__RUN_PARTS, sizeof *r->parts)))
        return NULL;
    pt = &r->parts[(key >> 53) & (GLEAM__RUN_PARTS - 1)];
    if (pt->left < size) {
        if (size > GLEAM__PART_BLOCK / 4) return (char *)gleam__arena_alloc(&r->mem, size); /* a big row alone */
        pt->block = pt->block ? GLEAM__MIN(pt->block * 2, GLEAM__PART_BLOCK) : 4096;
        while (pt->block < size) pt->block *= 2;
        if (!(pt->at = (char *)gleam__arena_alloc(&r->mem, pt->block))) return NULL;
        pt->left = pt->block;
    }
    p = pt->at;
    pt->at += size;
    pt->left -= size;
    return p;
}

/* Copy the row into the run. 0, or -1 when out of memory. A row without the order's first
   field (one that came from another process unchecked) sorts as if it were nil, as
   gleam__srow_cmp reads it. */
GLEAM__PRIV int gleam__run_add(gleam__run *r, const gleam__cmp *c, const gleam_value *row, int n) {
    size_t size = gleam__row_size(row, n);
    int f = c->order->by[0].field;
    uint64_t key = gleam__prefix(f <= n ? row[f - 1] : gleam_nil(), c->order->by[0].dir);
    char *p;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        gleam__srow *rows = (gleam__srow *)gleam__big_realloc(r->rows, r->cap * sizeof *rows, cap * sizeof *rows);
        if (!rows) return -1;
        r->rows = rows;
        r->cap = cap;
    }
    if (!(p = gleam__run_room(r, key, size))) return -1;
    gleam__put_row(p, row, n);
    r->rows[r->n].row = p;
    r->rows[r->n].key = key;
    r->n++;
    return 0;
}

static void gleam__insertion_sort(gleam__srow *a, size_t n, const gleam__cmp *c) {
    size_t i, j;
    for (i = 1; i < n; i++) {
        gleam__srow x = a[i];
        for (j = i; j > 0 && gleam__srow_cmp(c, &x, &a[j - 1]) < 0; j--) a[j] = a[j - 1];
        a[j] = x;
    }
}

static void gleam__merge_sort(gleam__srow *a, gleam__srow *tmp, size_t n, const gleam__cmp *c) {
    size_t h = n / 2, i = 0, j = h, k = 0;
    if (n < 32) {
        gleam__insertion_sort(a, n, c);
        return;
    }
    gleam__merge_sort(a, tmp, h, c);
    gleam__merge_sort(a + h, tmp, n - h, c);
    if (gleam__srow_cmp(c, &a[h - 1], &a[h]) <= 0) return;
    while (i < h && j < n) tmp[k++] = gleam__srow_cmp(c, &a[j], &a[i]) < 0 ? a[j++] : a[i++];
    while (i < h) tmp[k++] = a[i++];
    memcpy(a, tmp, k * sizeof *a);
}

/* MSD radix sort on the prefix, byte `shift/8` first; runs of equal prefixes go to the
   comparison sort. */
static void gleam__radix_sort(gleam__srow *a, gleam__srow *tmp, size_t n, int shift, const gleam__cmp *c) {
    size_t count[256], pos[256], i;
    int b;
    while (n >= 64 && shift >= 0) {
        memset(count, 0, sizeof count);
        for (i = 0; i < n; i++) count[(a[i].key >> shift) & 0xff]++;
        if (count[(a[0].key >> shift) & 0xff] == n) { /* one bucket: next byte */
            shift -= 8;
            continue;
        }
        pos[0] = 0;
        for (b = 1; b < 256; b++) pos[b] = pos[b - 1] + count[b - 1];
        for (i = 0; i < n; i++) tmp[pos[(a[i].key >> shift) & 0xff]++] = a[i];
        memcpy(a, tmp, n * sizeof *a);
        for (b = 0, i = 0; b < 256; i += count[b], b++)
            if (count[b] > 1) gleam__radix_sort(a + i, tmp, count[b], shift - 8, c);
        return;
    }
    if (shift < 0) gleam__merge_sort(a, tmp, n, c);
    else gleam__insertion_sort(a, n, c);
}

/* Sort the run's rows. 0, or -1 when out of memory (the run is unchanged). */
GLEAM__PRIV int gleam__run_sort(gleam__run *r, const gleam__cmp *c) {
    gleam__srow *tmp;
    if (r->n < 2) return 0;
    if (!(tmp = (gleam__srow *)gleam__big_alloc(r->n * sizeof *tmp))) return -1;
    gleam__radix_sort(r->rows, tmp, r->n, 56, c);
    gleam__big_free(tmp, r->n * sizeof *tmp);
    return 0;
}

/* Keep the first k rows of a sorted run, copying them into fresh memory so the rest is
   freed. 0, or -1 when out of memory (the run is unchanged). */
GLEAM__PRIV int gleam__run_truncate(gleam__run *r, size_t k) {
    gleam__arena mem = {0};
    const char **copy;
    size_t i;
    if (r->n <= k) return 0;
    if (!(copy = (const char **)gleam__malloc(k * sizeof *copy))) return -1;
    for (i = 0; i < k; i++) {
        const char *p = r->rows[i].row;
        if (!(copy[i] = (const char *)gleam__arena_dup(&mem, p, gleam__row_len(p)))) {
            gleam__arena_free(&mem);
            gleam__free(copy);
            return -1;
        }
    }
    for (i = 0; i < k; i++) r->rows[i].row = copy[i];
    gleam__free(copy);
    gleam__arena_free(&r->mem);
    gleam__free(r->parts);
    r->parts = NULL;
    r->mem = mem;
    r->n = k;
    return 0;
}

/* >>spilled runs ---------------------------------------------------------------------------- */

#define GLEAM__INDEX_EVERY (64 * 1024)

/* The bytes a run holds in memory. */
GLEAM__PRIV size_t gleam__run_bytes(const gleam__run *r) { return r->mem.used + r->n * sizeof(gleam__srow); }

/* A new, empty run on disk in dir. NULL with errno set. */
static gleam__run *gleam__disk_new(const char *dir) {
    gleam__run *d = gleam__run_new();
    int e;
    if (!d || !(d->file = (gleam__spill *)gleam__calloc(1, sizeof *d->file))) {
        gleam__run_free(d);
        errno = ENOMEM;
        return NULL;
    }
    d->file->fd = -1;
    if (gleam__spill_open(d->file, dir) == 0) return d;
    e = errno;
    gleam__run_free(d);
    errno = e;
    return NULL;
}

/* Append a row (in order) to run d on disk, indexing it about every 64 KB (d->cap counts
   the index's room). 0, or -1 with errno set. */
static int gleam__disk_add(gleam__run *d, uint64_t key, const char *row, size_t len) {
    if (d->n == 0 || d->file->size >= d->offs[d->n - 1] + GLEAM__INDEX_EVERY) {
        if (d->n == d->cap) {
            size_t ncap = d->cap ? d->cap * 2 : 64;
            uint64_t *offs = (uint64_t *)gleam__realloc(d->offs, ncap * sizeof *offs);
            gleam__srow *rows;
            if (offs) d->offs = offs; /* room past d->cap is harmless */
            rows = offs ? (gleam__srow *)gleam__big_realloc(d->rows, d->cap * sizeof *rows, ncap * sizeof *rows) : NULL;
            if (!rows) {
                errno = ENOMEM;
                return -1;
            }
            d->rows = rows;
            d->cap = ncap;
        }
        d->rows[d->n].key = key;
        if (!(d->rows[d->n].row = (const char *)gleam__arena_dup(&d->mem, row, len))) {
            errno = ENOMEM;
            return -1;
        }
        d->offs[d->n++] = d->file->size;
    }
    return gleam__spill_record(d->file, row, len);
}

/* Sort run r and write it to a new spill file in dir: *out gets the run on disk, and r is
   emptied for reuse. 0, or -1 with errno set (r is then unchanged but sorted). */
GLEAM__PRIV int gleam__run_spill(gleam__run *r, const gleam__cmp *c, const char *dir, gleam__run **out) {
    gleam__run *d;
    size_t i;
    int e;
    if (gleam__run_sort(r, c)) {
        errno = ENOMEM;
        return -1;
    }
    if (!(d = gleam__disk_new(dir))) return -1;
    for (i = 0; i < r->n; i++)
        if (gleam__disk_add(d, r->rows[i].key, r->rows[i].row, gleam__row_len(r->rows[i].row))) goto fail;
    if (gleam__spill_end(d->file)) goto fail;
    r->n = 0;
    gleam__arena_reset(&r->mem);
    if (r->parts) memset(r->parts, 0, GLEAM__RUN_PARTS * sizeof *r->parts);
    *out = d;
    return 0;
fail:
    e = errno;
    gleam__run_free(d);
    errno = e;
    return -1;
}

GLEAM__PRIV size_t gleam__run_lower_bound(const gleam__run *run, const gleam__srow *key, const gleam__cmp *c) {
    size_t lo = 0, hi = run->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (gleam__srow_cmp(c, &run->rows[mid], key) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* >>merging runs ---------------------------------------------------------------------------- */

/* Start a cursor on rows [from, to) of a run in memory, or on a run on disk from index entry
   `from` (0: the start) within the key range [lo, hi). */
GLEAM__PRIV void gleam__cursor_init(gleam__cursor *k, const gleam__run *run, size_t from, size_t to, const gleam__srow *lo,
                               const gleam__srow *hi) {
    memset(k, 0, sizeof *k);
    k->run = run;
    k->pos = from;
    k->end = to;
    if (run->file) {
        gleam__recs_init(&k->recs, run->file, from ? run->offs[from - 1] : 0, run->file->size);
        k->lo = lo;
        k->hi = hi;
    }
}

/* Step to the next row: 1 (k->head is it, valid until the next step), 0 at the end, -1 on a
   read error (errno set). */
GLEAM__PRIV int gleam__cursor_next(gleam__cursor *k, const gleam__cmp *c) {
    const char *p;
    size_t n;
    int r;
    if (!k->run) { /* rows in blocks, checked when they arrived; no block: an empty slice */
        if (!k->blk) return 0;
        while (k->at == k->blk->data + k->blk->len) {
            if (!(k->blk = k->blk->next)) return 0;
            k->at = k->blk->data;
        }
        p = k->at;
        k->len = gleam__row_len(p);
        k->at += k->len;
        k->head = gleam__srow_at(p, c->order);
        return 1;
    }
    if (!k->run->file) {
        if (k->pos >= k->end) return 0;
        if (k->pos + 16 < k->end) { /* rows sit in input order: fetch the one 16 ahead */
            const char *ahead = k->run->rows[k->pos + 16].row;
            GLEAM__PREFETCH(ahead);
            GLEAM__PREFETCH(ahead + 64);
        }
        k->head = k->run->rows[k->pos++];
        return 1;
    }
    for (;;) {
        if ((r = gleam__recs_next(&k->recs, &p, &n)) <= 0) return r;
        k->head = gleam__srow_at(p, c->order);
        k->len = n;
        if (k->lo) {
            if (gleam__srow_cmp(c, &k->head, k->lo) < 0) continue;
            k->lo = NULL;
        }
        if (k->hi && gleam__srow_cmp(c, &k->head, k->hi) >= 0) return 0;
        return 1;
    }
}

GLEAM__PRIV void gleam__cursor_blocks(gleam__cursor *k, const gleam__block *b) {
    memset(k, 0, sizeof *k);
    k->blk = b;
    k->at = b ? b->data : NULL;
}

GLEAM__PRIV void gleam__cursor_free(gleam__cursor *k) { gleam__recs_free(&k->recs); }

/* Hand the rows of n cursors (not yet started) to out in order, ties to the lower cursor.
   GLEAM_OK, out's result, GLEAM_ERR_NOMEM or GLEAM__READ_FAILED. */
GLEAM__PRIV gleam_result gleam__heap_merge(gleam__cursor *cur, int n, const gleam__cmp *c, gleam__merge_fn out, void *arg) {
    int *heap, live = 0, i, rc;
    gleam_result r = GLEAM_OK;
    if (!(heap = (int *)gleam__calloc((size_t)n + 1, sizeof *heap))) return GLEAM_ERR_NOMEM;
#define GLEAM__LESS(a, b)                                                                  \
    ((rc = gleam__srow_cmp(c, &cur[heap[a]].head, &cur[heap[b]].head)) < 0 ||             \
     (rc == 0 && heap[a] < heap[b]))
    for (i = 0; i < n && r == GLEAM_OK; i++) {
        int k;
        if ((rc = gleam__cursor_next(&cur[i], c)) < 0) r = GLEAM__READ_FAILED;
        if (rc <= 0) continue;
        heap[k = live++] = i;
        while (k > 0 && GLEAM__LESS(k, (k - 1) / 2)) {
            int t = heap[k];
            heap[k] = heap[(k - 1) / 2];
            heap[(k - 1) / 2] = t;
            k = (k - 1) / 2;
        }
    }
    while (live > 0 && r == GLEAM_OK) {
        gleam__cursor *top = &cur[heap[0]];
        int k = 0;
        if ((r = out(arg, top)) != GLEAM_OK) break;
        if ((rc = gleam__cursor_next(top, c)) < 0) {
            r = GLEAM__READ_FAILED;
            break;
        }
        if (rc == 0) heap[0] = heap[--live];
        for (;;) { /* sift down */
            int l = 2 * k + 1, m = k, t;
            if (l < live && GLEAM__LESS(l, m)) m = l;
            if (l + 1 < live && GLEAM__LESS(l + 1, m)) m = l + 1;
            if (m == k) break;
            t = heap[k];
            heap[k] = heap[m];
            heap[m] = t;
            k = m;
        }
    }
#undef GLEAM__LESS
    gleam__free(heap);
    return r;
}

/* The packed bytes of a cursor's head row. */
GLEAM__PRIV size_t gleam__cursor_len(const gleam__cursor *k) { return k->blk || k->run->file ? k->len : gleam__row_len(k->head.row); }

static gleam_result gleam__merge_write(void *arg, const gleam__cursor *from) {
    return gleam__disk_add((gleam__run *)arg, from->head.key, from->head.row, gleam__cursor_len(from)) ? GLEAM_ERR_IO
                                                                                                       : GLEAM_OK;
}

/* Merge n runs on disk (n <= GLEAM__MERGE_WAY, oldest first) into one new run in dir, which
   replaces them: fewer files open at the end, and fewer ways to merge. The runs are freed,
   also on failure. 0, or -1 with errno set. */
GLEAM__PRIV int gleam__runs_compact(gleam__run **runs, int n, const gleam__cmp *c, const char *dir, gleam__run **out) {
    gleam__cursor cur[GLEAM__MERGE_WAY];
    gleam__run *d = gleam__disk_new(dir);
    gleam_result r;
    int i, e = 0;
    if (!d) return -1;
    for (i = 0; i < n; i++) gleam__cursor_init(&cur[i], runs[i], 0, 0, NULL, NULL);
    r = gleam__heap_merge(cur, n, c, gleam__merge_write, d);
    if (r != GLEAM_OK) e = r == GLEAM_ERR_NOMEM ? ENOMEM : errno;
    for (i = 0; i < n; i++) {
        gleam__cursor_free(&cur[i]);
        gleam__run_free(runs[i]);
    }
    if (r == GLEAM_OK && gleam__spill_end(d->file)) {
        r = GLEAM_ERR_IO;
        e = errno;
    }
    if (r != GLEAM_OK) {
        gleam__run_free(d);
        errno = e ? e : EIO;
        return -1;
    }
    *out = d;
    return 0;
}
