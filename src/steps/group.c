/* group.c: group_by and cogroup (each key with the list of its rows' other fields; a
   cogroup's two inputs give two lists) and distinct (each row or key once: dropped early
   by the producer's table of what it has seen, finally by the consumer's). */
#include "steps/steps.h"

/* >>group_by and cogroup ---------------------------------------------------------------- */

/* A list value of the elements, built in c->tmp from offset `at`. */
static gleam_value gleam__elems_value(gleam__cons *c, const gleam__elems *l, size_t at, int *nomem) {
    gleam__elem *e;
    unsigned char hdr[5];
    size_t h;
    gleam_value v;
    if (l->count < 16) { hdr[0] = (unsigned char)(0x90 | l->count); h = 1; }
    else if (l->count < 65536) { hdr[0] = 0xdc; hdr[1] = (unsigned char)(l->count >> 8); hdr[2] = (unsigned char)l->count; h = 3; }
    else {
        hdr[0] = 0xdd;
        hdr[1] = (unsigned char)(l->count >> 24); hdr[2] = (unsigned char)(l->count >> 16);
        hdr[3] = (unsigned char)(l->count >> 8); hdr[4] = (unsigned char)l->count;
        h = 5;
    }
    c->tmp.len = at;
    *nomem = gleam__buf_add(&c->tmp, hdr, h) != 0;
    for (e = l->first; e && !*nomem; e = e->next) *nomem = gleam__buf_add(&c->tmp, e->data, e->len) != 0;
    v.type = GLEAM_LIST;
    v.len = (uint32_t)(c->tmp.len - at);
    v.u.s = NULL; /* set by the caller once tmp stops moving */
    return v;
}

static gleam_result gleam__group_take(gleam__cons *c, int side, const gleam_value *row, int n, const gleam_fields *key,
                                      const gleam__bkey *bk) {
    gleam__op *op = &c->op;
    gleam__elems *l;
    gleam_result r;
    const char *k;
    uint32_t klen;
    uint64_t h;
    int made;
    if ((r = gleam__cons_key(c, bk, key, row, n, &k, &klen, &h)) != GLEAM_OK) return r;
    l = (gleam__elems *)gleam__table_upsert(&c->table, h, k, klen, 2 * sizeof *l, &made);
    if (!l) return gleam__nomem(op);
    if (gleam__value_fields(key, row, n, &op->vals)) return gleam__nomem(op);
    return gleam__elems_add(c, &l[side], op->vals.v, op->vals.n, 0);
}

/* Each key's row: its key fields, then its list (a cogroup: its two lists). */
static gleam_result gleam__group_emit_table(gleam__cons *c) {
    gleam__op *op = &c->op;
    const gleam__step *s = op->node->step;
    gleam_result r = GLEAM_OK;
    int lists = s->kind == GLEAM__COGROUP ? 2 : 1, nomem = 0, k, nk = s->key.n;
    size_t i;
    for (i = 0; i <= c->table.mask && r == GLEAM_OK; i++) {
        char *e = c->table.slots[i].e;
        gleam__elems *l;
        size_t at[2];
        GLEAM__TABLE_AHEAD(&c->table, i);
        if (!e) continue;
        l = (gleam__elems *)gleam__entry_payload(e);
        if (gleam__vals_reserve(&op->vals, nk + lists)) return gleam__nomem(op);
        gleam__key_values(e, op->vals.v, nk);
        c->tmp.len = 0;
        for (k = 0; k < lists; k++) {
            at[k] = c->tmp.len;
            op->vals.v[nk + k] = gleam__elems_value(c, &l[k], at[k], &nomem);
            if (nomem) return gleam__nomem(op);
        }
        for (k = 0; k < lists; k++) op->vals.v[nk + k].u.s = c->tmp.p + at[k];
        r = gleam__emit(op, op->vals.v, nk + lists);
    }
    return r < 0 ? r : GLEAM_OK;
}

static gleam_result gleam__group_spill_entry(gleam__cons *c, char *e, int f) {
    return gleam__spill_lists(c, e, f, c->op.node->step->kind == GLEAM__COGROUP ? 2 : 1, 0);
}

static const gleam__cons_ops gleam__group_ops = {gleam__group_take, gleam__group_emit_table, gleam__group_spill_entry, NULL};

GLEAM__PRIV gleam__op *gleam__make_group_consumer(gleam__task *t, gleam__node *node) {
    gleam__cons *c = gleam__cons_new(t, node, sizeof(gleam__cons), &gleam__group_ops);
    return c ? &c->op : NULL;
}

/* >>distinct ---------------------------------------------------------------------------- */

/* The packed key of a distinct step's row (the whole row, or its key fields) and its
   hash: bk's when its block gave it, else packed into op->key. */
static gleam_result gleam__distinct_key(gleam__op *op, gleam__cons *c, const gleam__bkey *bk, const gleam_value *row, int n,
                                        const char **k, uint32_t *klen, uint64_t *h) {
    const gleam__step *s = op->node->step;
    gleam_result r;
    if (!s->whole_row) {
        if (c) return gleam__cons_key(c, bk, &s->key, row, n, k, klen, h);
        if ((r = gleam__pack_key(op, &s->key, row, n, h)) != GLEAM_OK) return r;
    } else {
        op->key.len = 0;
        if (gleam__pack_row(&op->key, row, n)) return gleam__nomem(op);
        *h = gleam__hash(op->key.p, op->key.len);
    }
    *k = op->key.p;
    *klen = (uint32_t)op->key.len;
    return GLEAM_OK;
}

typedef struct gleam__distinctprod {
    gleam__op op;
    gleam__writer w;
    gleam__table table;     /* keys seen: a key is sent on once per table */
    size_t limit;
} gleam__distinctprod;

static gleam_result gleam__distinctprod_push(gleam__op *op, const gleam_value *row, int n) {
    gleam__distinctprod *p = (gleam__distinctprod *)op;
    const char *k;
    uint32_t klen;
    uint64_t h;
    gleam_result r;
    int made;
    if ((r = gleam__distinct_key(op, NULL, NULL, row, n, &k, &klen, &h)) != GLEAM_OK) return r;
    if (gleam__table_bytes(&p->table) > p->limit) gleam__table_clear(&p->table); /* forget what was seen: bounded memory */
    if (!gleam__table_upsert(&p->table, h, k, klen, 0, &made)) return gleam__nomem(op);
    if (!made) return GLEAM_OK;
    return gleam__write_row(op, &p->w, gleam__part_of(h, p->w.x->nparts), row, n);
}

static gleam_result gleam__distinctprod_finish(gleam__op *op) {
    return gleam__writer_close(op, &((gleam__distinctprod *)op)->w);
}

static void gleam__distinctprod_free(gleam__op *op) {
    gleam__distinctprod *p = (gleam__distinctprod *)op;
    gleam__writer_free(&p->w);
    gleam__table_free(&p->table);
}

GLEAM__PRIV gleam__op *gleam__make_distinct_producer(gleam__task *t, gleam__node *node) {
    gleam__distinctprod *p = (gleam__distinctprod *)gleam__op_alloc(t, node, sizeof *p);
    if (!p) return NULL;
    p->op.push = gleam__distinctprod_push;
    p->op.finish = gleam__distinctprod_finish;
    p->op.free = gleam__distinctprod_free;
    p->limit = GLEAM__MIN((size_t)GLEAM__COMBINE_MAX, t->job->share / 2);
    if (gleam__writer_init(&p->w, t->job->xchgs[node->step->id], node->side) || gleam__table_init(&p->table, 16)) {
        gleam__distinctprod_free(&p->op);
        gleam__free(p);
        return NULL;
    }
    return &p->op;
}

static gleam_result gleam__distinct_take(gleam__cons *c, int side, const gleam_value *row, int n, const gleam_fields *key,
                                         const gleam__bkey *bk) {
    gleam__op *op = &c->op;
    const char *k;
    uint32_t klen;
    uint64_t h;
    gleam_result r;
    int made;
    (void)side;
    (void)key;
    if ((r = gleam__distinct_key(op, c, bk, row, n, &k, &klen, &h)) != GLEAM_OK) return r;
    if (c->sub && !c->replay) return gleam__spill_row(c, gleam__sub_of(h), 0, row, n);
    if (!gleam__table_upsert(&c->table, h, k, klen, 0, &made)) return gleam__nomem(op);
    return made ? gleam__emit(op, row, n) : GLEAM_OK;
}

/* A distinct consumer emits each row as it first sees it: its table holds nothing more. */
static gleam_result gleam__distinct_emit_table(gleam__cons *c) {
    (void)c;
    return GLEAM_OK;
}

/* The keys already emitted go to the files as side 1, the key bytes as one value. */
static gleam_result gleam__distinct_spill_entry(gleam__cons *c, char *e, int f) {
    const char *key;
    gleam_value kv;
    kv.type = GLEAM_BYTES;
    kv.len = (uint32_t)gleam__entry_key(e, &key);
    kv.u.s = key;
    return gleam__spill_row(c, f, 1, &kv, 1);
}

/* A key emitted before the spill, read back: into the table, not emitted again. */
static gleam_result gleam__distinct_seen(gleam__cons *c, const gleam_value *row, int n) {
    int made;
    if (n != 1 || row[0].type != GLEAM_BYTES) return gleam__nomem(&c->op);
    if (!gleam__table_upsert(&c->table, gleam__hash(row[0].u.s, row[0].len), row[0].u.s, row[0].len, 0, &made))
        return gleam__nomem(&c->op);
    return GLEAM_OK;
}

static const gleam__cons_ops gleam__distinct_ops = {gleam__distinct_take, gleam__distinct_emit_table,
                                                    gleam__distinct_spill_entry, gleam__distinct_seen};

GLEAM__PRIV gleam__op *gleam__make_distinct_consumer(gleam__task *t, gleam__node *node) {
    gleam__cons *c = gleam__cons_new(t, node, sizeof(gleam__cons), &gleam__distinct_ops);
    return c ? &c->op : NULL;
}
