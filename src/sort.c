/* sort.c: sorted runs of packed rows. Each row carries a 64-bit prefix of its first order
   field that orders like the field itself, so most comparisons are one integer compare
   and the sort is a radix sort on the prefix; equal prefixes fall back to comparing the
   decoded fields. */
#include "internal.h"

/* An order-preserving (not strictly) 64-bit image of v: type rank in the top 3 bits, then
   the top bits of the value's own order key. */
static uint64_t gleam__prefix(gleam_value v, gleam_dir dir) {
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

static int gleam__srow_cmp(const gleam__cmp *c, const gleam__srow *a, const gleam__srow *b) {
    int i;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    for (i = 0; i < c->order->n; i++) {
        int f = c->order->by[i].field, r;
        r = gleam_compare(gleam__row_field(a->row, f), gleam__row_field(b->row, f));
        if (r) return c->order->by[i].dir == GLEAM_DESC ? -r : r;
    }
    return 0;
}

static gleam__run *gleam__run_new(void) { return (gleam__run *)gleam__calloc(1, sizeof(gleam__run)); }

static void gleam__run_free(gleam__run *r) {
    if (!r) return;
    gleam__free(r->rows);
    gleam__arena_free(&r->mem);
    gleam__free(r);
}

/* Copy the row into the run. 0, or -1 when out of memory. */
static int gleam__run_add(gleam__run *r, const gleam__cmp *c, const gleam_value *row, int n) {
    size_t size = gleam__row_size(row, n);
    char *p;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        gleam__srow *rows = (gleam__srow *)gleam__realloc(r->rows, cap * sizeof *rows);
        if (!rows) return -1;
        r->rows = rows;
        r->cap = cap;
    }
    if (!(p = (char *)gleam__arena_alloc(&r->mem, size))) return -1;
    gleam__put_row(p, row, n);
    r->rows[r->n].row = p;
    r->rows[r->n].key = gleam__prefix(row[c->order->by[0].field - 1], c->order->by[0].dir);
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

/* Sort the run's rows. Falls back to an in-place comparison sort without scratch memory. */
static void gleam__run_sort(gleam__run *r, const gleam__cmp *c) {
    gleam__srow *tmp;
    if (r->n < 2) return;
    tmp = (gleam__srow *)gleam__malloc(r->n * sizeof *tmp);
    if (tmp) {
        gleam__radix_sort(r->rows, tmp, r->n, 56, c);
        gleam__free(tmp);
    } else {
        gleam__insertion_sort(r->rows, r->n, c); /* slow, but right */
    }
}

/* Keep the first k rows of a sorted run, copying them into fresh memory so the rest is
   freed. 0, or -1 when out of memory (the run is unchanged). */
static int gleam__run_truncate(gleam__run *r, size_t k) {
    gleam__arena mem = {0, 0};
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
    r->mem = mem;
    r->n = k;
    return 0;
}
