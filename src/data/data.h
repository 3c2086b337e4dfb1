/* data.h: rows and what holds them: values, their MessagePack form, blocks of packed
   rows, hash tables on packed keys, and sorted runs (in memory or spilled). */
#ifndef GLEAM_DATA_H
#define GLEAM_DATA_H

#include "base/base.h"

/* >>pack: MessagePack rows ------------------------------------------------------------- */

/* A growable array of values a task decodes rows into. */
typedef struct gleam__vals {
    gleam_value *v;
    int n, cap;
} gleam__vals;

GLEAM__PRIV size_t gleam__packed_size(gleam_value v);
/* Write v at p, which has gleam__packed_size(v) bytes; returns the end. */
GLEAM__PRIV unsigned char *gleam__put_value(unsigned char *p, gleam_value v);
GLEAM__PRIV int gleam__pack_value(gleam__buf *b, gleam_value v);
/* The header of an array of n values at p; returns the end. */
GLEAM__PRIV unsigned char *gleam__put_array(unsigned char *p, uint32_t n);
GLEAM__PRIV size_t gleam__array_hdr(uint32_t n);
GLEAM__PRIV size_t gleam__row_size(const gleam_value *row, int n);
GLEAM__PRIV char *gleam__put_row(char *out, const gleam_value *row, int n);
/* Append the packed row to b. 0, or -1 when out of memory. */
GLEAM__PRIV int gleam__pack_row(gleam__buf *b, const gleam_value *row, int n);
/* Rows we packed ourselves are well formed: walking them needs no end bound, but one is
   given (far beyond any row) so that the same checked decoder serves. */
#define GLEAM__NOEND(p) ((p) + ((size_t)1 << 40))
/* Field `field` (1-based) of a packed row; nil when the row is shorter. */
GLEAM__PRIV gleam_value gleam__row_field(const char *row, int field);
/* Bytes of the packed row at row. */
GLEAM__PRIV size_t gleam__row_len(const char *row);
/* Decode one value at *p; advances *p. GLEAM_ERR_INPUT on bad or truncated data. */
GLEAM__PRIV gleam_result gleam__unpack_value(const char **p, const char *end, gleam_value *out);
/* Decode the array header of a row at *p: its number of values. */
GLEAM__PRIV gleam_result gleam__unpack_header(const char **p, const char *end, uint32_t *n);
GLEAM__PRIV gleam_result gleam__skip_value(const char **p, const char *end);
GLEAM__PRIV int gleam__vals_reserve(gleam__vals *a, int n);
/* n packed values at *p into a (resized). */
GLEAM__PRIV gleam_result gleam__unpack_values(const char **p, const char *end, uint32_t n, gleam__vals *a);
/* Decode the row at *p into a (resized as needed). */
GLEAM__PRIV gleam_result gleam__unpack_row(const char **p, const char *end, gleam__vals *a);
GLEAM__PRIV void gleam__vals_free(gleam__vals *a);
/* Walk the packed rows of p[0..n): GLEAM_OK when they are whole rows of ours, with their
   count in *rows; GLEAM_ERR_INPUT otherwise. For bytes that came from elsewhere. */
GLEAM__PRIV gleam_result gleam__check_rows(const char *p, size_t n, uint64_t *rows);
/* gleam__check_rows, and where the last row starts (NULL when there is none): one walk for
   a reader that needs both. */
GLEAM__PRIV gleam_result gleam__check_rows_last(const char *p, size_t n, uint64_t *rows, const char **last);

/* The length of a packed value from its first byte, when that decides it (numbers, nil,
   booleans, strings of up to 31 bytes); else 0. */
static inline size_t gleam__fixed_len(unsigned c) {
    static const unsigned char num[10] = {5, 9, 2, 3, 5, 9, 2, 3, 5, 9}; /* 0xca .. 0xd3 */
    if (c < 0x80 || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) return 1;
    if ((c & 0xe0) == 0xa0) return 1 + (c & 0x1f);
    if (c >= 0xca && c <= 0xd3) return num[c - 0xca];
    return 0;
}

/* gleam__skip_value with the common values inline, for a row's fields. Not in
   gleam__skip_value itself: most of its callers skip whole rows, arrays, for which the
   first-byte test is only a cost. */
static inline gleam_result gleam__skip_fast(const char **pp, const char *end) {
    const unsigned char *p = (const unsigned char *)*pp;
    size_t n = p < (const unsigned char *)end ? gleam__fixed_len(*p) : 0;
    if (n && n <= (size_t)((const unsigned char *)end - p)) {
        *pp = (const char *)(p + n);
        return GLEAM_OK;
    }
    return gleam__skip_value(pp, end);
}

/* >>value: text forms ---------------------------------------------------------------- */

/* The decimal digits of i at out (room for 20 bytes); their number. */
GLEAM__PRIV size_t gleam__int_digits(char *out, int64_t i);
/* Append the decimal text of i to b; 0, or -1 when out of memory. */
GLEAM__PRIV int gleam__int_text(gleam__buf *b, int64_t i);
/* How deep the text form and gleam_compare go into lists within lists (a group_by adds a
   level or two). The decoder takes any depth (it walks lists without recursion), so rows
   from elsewhere may nest them thousands deep; past this depth a list shows as "[...]"
   and compares by its bytes, which keeps both off the end of the stack and their time
   within this many walks of the bytes. */
#define GLEAM__LIST_DEPTH 16
/* Append the text form of v (as %v prints it). 0, or -1 when out of memory. */
GLEAM__PRIV int gleam__value_text(gleam__buf *b, gleam_value v);
/* The key fields packed at key (klen bytes) as an error message names them: each as %v
   prints it, bytes in double quotes with quotes, backslashes and control bytes escaped;
   two or more fields in parentheses, split by ", ". Cut to fit cap bytes ("..." at the
   cut). Returns out. */
GLEAM__PRIV const char *gleam__key_text(char *out, size_t cap, const char *key, size_t klen);

/* >>blocks: packed rows in one buffer ---------------------------------------------------- */

/* A block of packed rows on its way to one partition. */
typedef struct gleam__block {
    struct gleam__block *next;
    size_t len, cap;
    int side;               /* input of the wide step */
    int producer;           /* shard (with union offset) that made it */
    int kept;               /* its consumer keeps it and frees it later */
    char *data;
} gleam__block;

/* A block with room for cap bytes, or NULL when out of memory. */
GLEAM__PRIV gleam__block *gleam__block_new(size_t cap);
GLEAM__PRIV void gleam__block_free(gleam__block *b);
/* Free a chain of blocks (linked by next). */
GLEAM__PRIV void gleam__blocks_free(gleam__block *b);

/* >>table: open addressing on hashed packed keys ---------------------------------------- */

typedef struct gleam__slot {
    uint64_t h;
    char *e;                /* entry: uint32 klen, key bytes, padding, payload */
} gleam__slot;

typedef struct gleam__table {
    gleam__slot *slots;
    size_t mask, count;
    gleam__arena mem;
    int dense;              /* grow at 3/4 full, not 1/2 */
} gleam__table;

#define GLEAM__ENTRY_HDR 4 /* uint32 key length */

GLEAM__PRIV int gleam__table_init(gleam__table *t, size_t hint);
/* gleam__table_upsert of a key not in the table: slot i ends its probe. */
GLEAM__PRIV void *gleam__table_insert(gleam__table *t, size_t i, uint64_t h, const char *key, uint32_t klen,
                                      size_t payload, int *made);
GLEAM__PRIV void *gleam__table_find(const gleam__table *t, uint64_t h, const char *key, uint32_t klen);
/* Empty the table but keep its slots and its entries' memory for what comes next. */
GLEAM__PRIV void gleam__table_clear(gleam__table *t);
GLEAM__PRIV void gleam__table_free(gleam__table *t);
/* The bytes a table holds: its entries and its slots. */
GLEAM__PRIV size_t gleam__table_bytes(const gleam__table *t);
GLEAM__PRIV size_t gleam__entry_key(const char *e, const char **key);
GLEAM__PRIV void *gleam__entry_payload(char *e);

static inline size_t gleam__payload_offset(uint32_t klen) { return (GLEAM__ENTRY_HDR + (size_t)klen + 7) & ~(size_t)7; }

/* n bytes at a and b are equal: up to 16 of them by two overlapping loads, no call. */
static inline int gleam__same_bytes(const char *a, const char *b, size_t n) {
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    if (n > 16) return !memcmp(a, b, n);
    if (n >= 8) return gleam__load64(x) == gleam__load64(y) && gleam__load64(x + n - 8) == gleam__load64(y + n - 8);
    if (n >= 4) return gleam__load32(x) == gleam__load32(y) && gleam__load32(x + n - 4) == gleam__load32(y + n - 4);
    return n == 0 || (x[0] == y[0] && x[n / 2] == y[n / 2] && x[n - 1] == y[n - 1]);
}

static inline int gleam__entry_is(const char *e, const char *key, uint32_t klen) {
    uint32_t k;
    memcpy(&k, e, 4);
    return k == klen && gleam__same_bytes(e + GLEAM__ENTRY_HDR, key, klen);
}

/* The payload of key, or NULL with *at the empty slot that ends its probe (for
   gleam__table_insert). */
GLEAM__ROWPATH void *gleam__table_probe(const gleam__table *t, uint64_t h, const char *key, uint32_t klen, size_t *at) {
    size_t i;
    for (i = h & t->mask; t->slots[i].e; i = (i + 1) & t->mask)
        if (t->slots[i].h == h && gleam__entry_is(t->slots[i].e, key, klen))
            return t->slots[i].e + gleam__payload_offset(klen);
    *at = i;
    return NULL;
}

/* The payload of key, made (zeroed, `payload` bytes, *made = 1) if new. The probe is
   inline; the insert, rarer by far in a fold, is not. */
GLEAM__ROWPATH void *gleam__table_upsert(gleam__table *t, uint64_t h, const char *key, uint32_t klen, size_t payload,
                                        int *made) {
    size_t i;
    void *e = gleam__table_probe(t, h, key, klen, &i);
    *made = 0;
    return e ? e : gleam__table_insert(t, i, h, key, klen, payload, made);
}

/* While walking the slots in order: start fetching the entry GLEAM__AHEAD slots on (entries
   sit in the order they were made, not in slot order), its first two lines. A macro: gcc
   drops a call to a function whose only effect is a prefetch. */
#define GLEAM__AHEAD 32
#define GLEAM__TABLE_AHEAD(t, i)                                                              \
    do {                                                                                      \
        if ((i) + GLEAM__AHEAD <= (t)->mask && (t)->slots[(i) + GLEAM__AHEAD].e) {            \
            GLEAM__PREFETCH((t)->slots[(i) + GLEAM__AHEAD].e);                                \
            GLEAM__PREFETCH((t)->slots[(i) + GLEAM__AHEAD].e + 64);                           \
        }                                                                                     \
    } while (0)

/* >>sorted: sorted runs of packed rows ------------------------------------------------- */

typedef struct gleam__srow {
    uint64_t key;           /* order-preserving prefix of the first order field */
    const char *row;        /* packed row */
} gleam__srow;

/* Sorted rows, in memory or on disk. On disk, `file` holds every row as a record, in
   order, and rows[] is a sparse index: a copy of the row at offs[i], about every 64 KB. */
typedef struct gleam__run {
    gleam__srow *rows;
    size_t n, cap;
    gleam__arena mem;
    struct gleam__run_part *parts; /* GLEAM__RUN_PARTS of them: rows by the top byte of their key */
    gleam__spill *file;
    uint64_t *offs;
} gleam__run;

typedef struct gleam__cmp {
    const gleam_order *order;
    int maxfield;
} gleam__cmp;

/* Most runs on disk one merge may read at once: each holds a descriptor and a buffer. */
#define GLEAM__MERGE_WAY 32

/* An order-preserving (not strictly) 64-bit image of v for an order's direction. */
GLEAM__PRIV uint64_t gleam__prefix(gleam_value v, gleam_dir dir);
GLEAM__PRIV void gleam__cmp_init(gleam__cmp *c, const gleam_order *o);
/* The sort row of a packed row: its key prefix for order o, and the row. */
static inline gleam__srow gleam__srow_at(const char *row, const gleam_order *o) {
    gleam__srow r;
    r.key = gleam__prefix(gleam__row_field(row, o->by[0].field), o->by[0].dir);
    r.row = row;
    return r;
}
GLEAM__PRIV int gleam__srow_cmp(const gleam__cmp *c, const gleam__srow *a, const gleam__srow *b);
GLEAM__PRIV gleam__run *gleam__run_new(void);
GLEAM__PRIV void gleam__run_free(gleam__run *r);
/* Copy the row into the run. 0, or -1 when out of memory. A row shorter than the order's
   first field (unchecked, from another process) sorts as if that field were nil. */
GLEAM__PRIV int gleam__run_add(gleam__run *r, const gleam__cmp *c, const gleam_value *row, int n);
/* Sort the run's rows (stable: ties keep the order they were added in). 0, or -1 when out
   of memory (the run is unchanged). */
GLEAM__PRIV int gleam__run_sort(gleam__run *r, const gleam__cmp *c);
/* Keep the first k rows of a sorted run, copying them into fresh memory so the rest is
   freed. 0, or -1 when out of memory (the run is unchanged). */
GLEAM__PRIV int gleam__run_truncate(gleam__run *r, size_t k);
/* The bytes a run holds in memory. */
GLEAM__PRIV size_t gleam__run_bytes(const gleam__run *r);
/* Sort run r and write it to a new spill file in dir: *out gets the run on disk, and r is
   emptied for reuse. 0, or -1 with errno set (r is then unchanged but sorted). */
GLEAM__PRIV int gleam__run_spill(gleam__run *r, const gleam__cmp *c, const char *dir, gleam__run **out);
/* The first row of a sorted run (in memory, or the index of one on disk) not before key. */
GLEAM__PRIV size_t gleam__run_lower_bound(const gleam__run *run, const gleam__srow *key, const gleam__cmp *c);
/* Merge n runs on disk (n <= GLEAM__MERGE_WAY, oldest first) into one new run in dir, which
   replaces them. The runs are freed, also on failure. 0, or -1 with errno set. */
GLEAM__PRIV int gleam__runs_compact(gleam__run **runs, int n, const gleam__cmp *c, const char *dir, gleam__run **out);

/* A reader of rows in order: [pos, end) of a run in memory; a run on disk from an index
   entry, skipping rows before `lo` and stopping at `hi` (NULL: no bound); or a chain of
   blocks of rows in order (from another process). */
typedef struct gleam__cursor {
    gleam__srow head;
    const gleam__run *run;
    size_t pos, end;
    gleam__recs recs;
    size_t len;             /* on disk, in blocks: bytes of head.row */
    const gleam__srow *lo, *hi;
    const gleam__block *blk; /* blocks: the one being read, and where in it */
    const char *at;
} gleam__cursor;

/* Start a cursor on rows [from, to) of a run in memory, or on a run on disk from index entry
   `from` (0: the start) within the key range [lo, hi). */
GLEAM__PRIV void gleam__cursor_init(gleam__cursor *k, const gleam__run *run, size_t from, size_t to,
                                    const gleam__srow *lo, const gleam__srow *hi);
/* Start a cursor on the rows of a chain of blocks, whose rows are in order and checked. */
GLEAM__PRIV void gleam__cursor_blocks(gleam__cursor *k, const gleam__block *b);
/* Step to the next row: 1 (k->head is it, valid until the next step), 0 at the end, -1 on a
   read error (errno set). */
GLEAM__PRIV int gleam__cursor_next(gleam__cursor *k, const gleam__cmp *c);
/* The packed bytes of a cursor's head row. */
GLEAM__PRIV size_t gleam__cursor_len(const gleam__cursor *k);
GLEAM__PRIV void gleam__cursor_free(gleam__cursor *k);

/* Where merged rows go: GLEAM_OK to go on, else the result to stop with. */
typedef gleam_result (*gleam__merge_fn)(void *arg, const gleam__cursor *from);

#define GLEAM__READ_FAILED (-1000) /* a cursor could not read its file (errno says why) */

/* Hand the rows of n cursors (not yet started) to out in order, ties to the lower cursor.
   GLEAM_OK, out's result, GLEAM_ERR_NOMEM or GLEAM__READ_FAILED. */
GLEAM__PRIV gleam_result gleam__heap_merge(gleam__cursor *cur, int n, const gleam__cmp *c, gleam__merge_fn out,
                                           void *arg);

#endif /* GLEAM_DATA_H */
