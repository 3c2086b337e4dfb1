/* steps.h: the operators of the steps, one file per family: narrow.c (map, select, union,
   local sort and top), fold.c (reduce and reduce_by), group.c (group_by,
   cogroup, distinct), join.c, partition.c, sort.c (sort, top, limit). A wide step has two
   operators: its producer ends one stage and writes to the exchange, its consumer roots
   the next stage and takes the exchange's blocks. The hash consumers (reduce_by, group_by,
   cogroup, distinct, join) share a table, the keys of a block's rows found in one pass,
   and spilling to files by key hash (hashcons.c, keyspill.c). */
#ifndef GLEAM_STEPS_H
#define GLEAM_STEPS_H

#include "exchange/exchange.h"

/* The operator of a narrow step other than a pipe (map, select, union, local sort and top). */
GLEAM__PRIV gleam__op *gleam__make_narrow(gleam__task *t, gleam__node *node);

/* A wide step's two operators. */
typedef struct gleam__wide {
    gleam__op *(*producer)(gleam__task *t, gleam__node *node);
    gleam__op *(*consumer)(gleam__task *t, gleam__node *node);
} gleam__wide;
/* The operators of wide step kind `kind`. */
GLEAM__PRIV const gleam__wide *gleam__wide_of(int kind);
/* The families' operators (wide.c puts them in a table by kind). */
GLEAM__PRIV gleam__op *gleam__make_fold_producer(gleam__task *t, gleam__node *node);  /* reduce, reduce_by */
GLEAM__PRIV gleam__op *gleam__make_fold_consumer(gleam__task *t, gleam__node *node);
GLEAM__PRIV gleam__op *gleam__make_hash_producer(gleam__task *t, gleam__node *node);  /* group_by, cogroup, join, partition */
GLEAM__PRIV gleam__op *gleam__make_pass_consumer(gleam__task *t, gleam__node *node);  /* partition */
GLEAM__PRIV gleam__op *gleam__make_group_consumer(gleam__task *t, gleam__node *node); /* group_by, cogroup */
GLEAM__PRIV gleam__op *gleam__make_distinct_producer(gleam__task *t, gleam__node *node);
GLEAM__PRIV gleam__op *gleam__make_distinct_consumer(gleam__task *t, gleam__node *node);
GLEAM__PRIV gleam__op *gleam__make_join_consumer(gleam__task *t, gleam__node *node);
GLEAM__PRIV gleam__op *gleam__make_order_producer(gleam__task *t, gleam__node *node); /* sort, top, limit */
GLEAM__PRIV gleam__op *gleam__make_order_consumer(gleam__task *t, gleam__node *node);

/* The sizes at which the steps change their ways, in one place so that the tests can move
   them and reach on small data what needs big data: a join whose table has sweep_bytes or
   more sweeps its probes in table order, sweep_rows at a time (join.c); a fold keeps the
   numbers of a key made after nums_after others compactly (fold.c). */
typedef struct gleam__tuning {
    size_t sweep_bytes;
    size_t sweep_rows;
    size_t nums_after;
} gleam__tuning;
GLEAM__VAR gleam__tuning gleam__tune;

/* The bytes a producer's table (a map-side combine, a distinct's keys seen) holds before
   it is sent on or forgotten: each byte of a table is memory touched for the first time. */
#ifndef GLEAM__COMBINE_MAX
#define GLEAM__COMBINE_MAX (32u << 20)
#endif

/* >>ordered: sorting inside operators ------------------------------------------------------ */

/* Check that a row has the fields an order needs (failing the job if not): 0 or -1. */
GLEAM__PRIV int gleam__check_order(gleam__op *op, const gleam_order *o, int n);
/* Add a row to a run, keeping only the first k of the order when k >= 0. */
GLEAM__PRIV gleam_result gleam__run_push(gleam__op *op, gleam__run *run, const gleam__cmp *cmp, int64_t k,
                                         const gleam_value *row, int n);
/* Sort the run, keep k rows (k < 0: all) and emit them in order. */
GLEAM__PRIV gleam_result gleam__run_emit(gleam__op *op, gleam__run *run, const gleam__cmp *cmp, int64_t k);
/* Emit the rows of n cursors (not yet started) in order, ties to the lower cursor. */
GLEAM__PRIV gleam_result gleam__merge(gleam__op *op, gleam__cursor *cur, int n, const gleam__cmp *c);

/* >>hash consumers ------------------------------------------------------------------------ */

/* A list of packed elements kept per key (group_by, cogroup, the right side of a join). */
typedef struct gleam__elem {
    struct gleam__elem *next;
    uint32_t len;
    unsigned char is_row;   /* data is a packed row of values, else one packed value */
    char data[1];
} gleam__elem;

typedef struct gleam__elems {
    gleam__elem *first, *last;
    uint32_t count;
    int matched;            /* join: some left row matched this key */
} gleam__elems;

/* A row's packed key, as its block holds it, and the key's hash. */
typedef struct gleam__bkey {
    const char *p;
    uint32_t len;
    uint32_t nf;            /* the row's number of values */
    uint64_t h;
    const char *row;        /* where the row starts */
} gleam__bkey;

typedef struct gleam__cons gleam__cons;

/* What one kind of hash consumer does with its rows and its table. */
typedef struct gleam__cons_ops {
    /* Take one row from `side` (bk: its key as its block holds it, or NULL: pack `key`). */
    gleam_result (*take)(gleam__cons *c, int side, const gleam_value *row, int n, const gleam_fields *key,
                         const gleam__bkey *bk);
    /* At the end (and after each spill file is read back): emit what the table holds. */
    gleam_result (*emit_table)(gleam__cons *c);
    /* Write entry e of the table to spill file f. */
    gleam_result (*spill_entry)(gleam__cons *c, char *e, int f);
    /* Reading a spill file back: a row of side 1 is a key seen before the spill (NULL: rows
       of side 1 are taken as rows). */
    gleam_result (*seen)(gleam__cons *c, const gleam_value *row, int n);
} gleam__cons_ops;

struct gleam__cons {
    gleam__op op;
    const gleam__cons_ops *ops;
    gleam__xchg *x;
    gleam__table table;
    int dense;              /* its table grows at 3/4 full */
    int block_keys;         /* a block's rows lead with their key: found and hashed at once */
    const gleam_fields *bkey_fields; /* the key fields as the block's rows have them */
    const gleam_fields *spill_key;   /* the key of the rows read back from a spill file */
    gleam__vals acc, row2, in;
    gleam_fields lead;      /* fields 1..k: where a reduce_by's key is after the shuffle */
    gleam__buf tmp;
    gleam__spill *sub;      /* past its share: GLEAM__FANOUT files of rows, by key hash */
    int probing;            /* join, spilled: left rows go to the files */
    int replay;             /* reading the files back */
    gleam__buf rec;         /* a record on its way to a file */
    gleam__buf hs;          /* the keys of a block's rows: gleam__bkey each */
    gleam__vals canon;
    /* join: probes gathered from many blocks, then made in slot order (join.c) */
    gleam__block *held;     /* the blocks they point into */
    size_t held_bytes;
    gleam__buf sweep, sweep_tmp; /* gleam__probe each */
    size_t nsweep;
    int laid_out;           /* the build side's entries were copied in slot order (or not) */
    char *layout;           /* into this block, then */
    size_t layout_len;
};

#define GLEAM__FANOUT 16
/* How far ahead a consumer fetches, in rows of a block: the slot of row i+32, the entry of
   row i+16 (its slot has arrived by then), a join's first right row of row i+8. Fetching
   every slot of a block at once overflows the cache before the rows get there. */
#define GLEAM__PF1 32
#define GLEAM__PF2 16
#define GLEAM__PF3 8
static inline int gleam__sub_of(uint64_t h) { return (int)((h >> 20) & (GLEAM__FANOUT - 1)); }

/* The fields of row that are not key fields, in order, into out (resized). */
static inline int gleam__value_fields(const gleam_fields *key, const gleam_value *row, int n, gleam__vals *out) {
    int i, k, m = 0;
    if (gleam__vals_reserve(out, n)) return -1;
    for (i = 0; i < n; i++) {
        int is_key = 0;
        for (k = 0; k < key->n; k++) is_key |= key->f[k] == i + 1;
        if (!is_key) out->v[m++] = row[i];
    }
    out->n = m;
    return 0;
}

/* A hash consumer of `size` bytes (a gleam__cons first) for node, with its empty table.
   NULL when out of memory. */
GLEAM__PRIV gleam__cons *gleam__cons_new(gleam__task *t, gleam__node *node, size_t size, const gleam__cons_ops *ops);
/* The consumer's empty table. A reduce_by's is dense (3/4 full before it grows, not 1/2):
   its folds mostly find their key, so the longer probes cost little, and the slots of
   millions of keys take less fresh memory; a join's probes of keys it lacks would run
   long. -1 when out of memory. */
static inline int gleam__cons_table(gleam__cons *c) {
    if (gleam__table_init(&c->table, 16)) return -1;
    c->table.dense = c->dense;
    return 0;
}

/* Find and hash the key of every row of a block (rows whose key is their leading fields)
   into c->hs. The number of rows, or 0 when the rows do not qualify. */
GLEAM__PRIV size_t gleam__hash_block(gleam__cons *c, const char *p, const char *end);
/* The packed key of a row and its hash: bk's when its block gave it, else packed into
   op->key. */
GLEAM__PRIV gleam_result gleam__cons_key(gleam__cons *c, const gleam__bkey *bk, const gleam_fields *key,
                                         const gleam_value *row, int n, const char **k, uint32_t *klen, uint64_t *h);
/* Decode the key bytes of an entry into out[0..nk). */
static inline void gleam__key_values(char *e, gleam_value *out, int nk) {
    const char *key, *p;
    size_t klen = gleam__entry_key(e, &key);
    int i;
    p = key;
    for (i = 0; i < nk; i++) gleam__unpack_value(&p, key + klen, &out[i]);
}

/* Take the rows of block b one by one (the generic absorb of hash consumers). */
GLEAM__PRIV gleam_result gleam__cons_absorb(gleam__op *op, gleam__block *b);
/* After a block: note the table's memory, and spill it past the share. */
GLEAM__PRIV gleam_result gleam__cons_after_block(gleam__cons *c, gleam_result r);
/* The end of a hash consumer: emit its table, or read its spill files back one by one. */
GLEAM__PRIV gleam_result gleam__cons_finish(gleam__op *op);
GLEAM__PRIV void gleam__cons_free(gleam__op *op);
/* Append a row's value fields to a key's list: the value itself when there is one, else
   a list of them; as_row: always the row. */
GLEAM__PRIV gleam_result gleam__elems_add(gleam__cons *c, gleam__elems *l, const gleam_value *v, int n, int as_row);

/* Take the rows of block b (their keys in c->hs, nh of them, found by gleam__hash_block;
   0: none) with take, fetching each row's table slot and entry rows ahead; a probing
   join's (probe) also its first right row. GLEAM_OK (also once the consumer wants no more
   rows: op->done is set) or an error. */
GLEAM__ROWPATH gleam_result gleam__cons_rows(gleam__cons *c, gleam__block *b, size_t nh, int probe,
                                             gleam_result (*take)(gleam__cons *, int, const gleam_value *, int,
                                                                  const gleam_fields *, const gleam__bkey *)) {
    gleam__op *op = &c->op;
    const char *p = b->data, *end = b->data + b->len;
    const gleam__bkey *ks = (const gleam__bkey *)(const void *)c->hs.p;
    const gleam_fields *key = &op->node->step->key;
    gleam_result r = GLEAM_OK;
    size_t i;
    for (i = 0; i < nh && i < GLEAM__PF1; i++) GLEAM__PREFETCH(&c->table.slots[ks[i].h & c->table.mask]);
    i = 0;
    while (p < end) {
        if (i + GLEAM__PF1 < nh) GLEAM__PREFETCH(&c->table.slots[ks[i + GLEAM__PF1].h & c->table.mask]);
        if (i + GLEAM__PF2 < nh) { /* the slot of row i+PF2 has arrived by now: fetch its entry */
            const gleam__slot *sl = &c->table.slots[ks[i + GLEAM__PF2].h & c->table.mask];
            if (sl->e) GLEAM__PREFETCH(sl->e);
        }
        if (probe && i + GLEAM__PF3 < nh) { /* and the entry of row i+PF3: fetch its first right row */
            const gleam__slot *sl = &c->table.slots[ks[i + GLEAM__PF3].h & c->table.mask];
            if (sl->e) {
                const gleam__elems *l = (const gleam__elems *)gleam__entry_payload(sl->e);
                if (l->first) GLEAM__PREFETCH(l->first);
            }
        }
        i++;
        if (gleam__unpack_row(&p, end, &c->in) != GLEAM_OK) {
            r = gleam__nomem(op);
            break;
        }
        r = op->done ? GLEAM_DONE
                     : take(c, b->side, c->in.v, c->in.n, key, i <= nh ? &ks[i - 1] : NULL); /* its key as found */
        if (r < 0) break;
        if (r == GLEAM_DONE) {
            op->done = 1;
            r = GLEAM_OK;
            break;
        }
    }
    return r;
}

/* >>keyspill: a hash consumer past its share ------------------------------------------------ */

/* Append [side, row] to sub-file f, opening the files on first use. */
GLEAM__PRIV gleam_result gleam__spill_row(gleam__cons *c, int f, int side, const gleam_value *row, int n);
/* Spill a row with its key fields moved first. */
GLEAM__PRIV gleam_result gleam__spill_canon(gleam__cons *c, uint64_t h, int side, const gleam_value *row, int n,
                                            const gleam_fields *key);
/* Spill an entry's lists (group_by, cogroup: side k for list k; join: side 1). */
GLEAM__PRIV gleam_result gleam__spill_lists(gleam__cons *c, char *e, int f, int lists, int join);
/* Write the table's contents to the files and empty it. */
GLEAM__PRIV gleam_result gleam__spill_table(gleam__cons *c);
/* Read the spilled rows back, one file at a time, into a fresh table, and emit it. */
GLEAM__PRIV gleam_result gleam__cons_unspill(gleam__cons *c);

#endif /* GLEAM_STEPS_H */
