/* hashcons.c: what the hash consumers (reduce_by, group_by, cogroup, distinct, join) share:
   a table on packed keys, the keys of a block's rows found and hashed in one pass (the
   rows of a block lead with their key, packed as the table packs it), the generic loop
   over a block's rows, and the end: the table emitted, or its spill files read back. */
#include "steps/steps.h"

GLEAM__PRIV gleam__cons *gleam__cons_new(gleam__task *t, gleam__node *node, size_t size, const gleam__cons_ops *ops) {
    gleam__cons *c = (gleam__cons *)gleam__op_alloc(t, node, size);
    const gleam__step *s = node->step;
    int i;
    if (!c) return NULL;
    c->ops = ops;
    c->op.absorb = gleam__cons_absorb;
    c->op.finish = gleam__cons_finish;
    c->op.free = gleam__cons_free;
    c->x = t->job->xchgs[s->id];
    c->lead.n = s->key.n;
    for (i = 0; i < s->key.n; i++) c->lead.f[i] = i + 1;
    /* a reduce_by's partial folds lead with their key; so do the rows read back from spill
       files (but distinct's, which are its input rows) */
    c->bkey_fields = s->kind == GLEAM__REDUCE_BY ? &c->lead : &s->key;
    c->spill_key = s->kind == GLEAM__DISTINCT ? &s->key : &c->lead;
    c->dense = s->kind == GLEAM__REDUCE_BY;
    c->block_keys = !s->whole_row;
    for (i = 0; i < c->bkey_fields->n; i++) c->block_keys &= c->bkey_fields->f[i] == i + 1;
    if (gleam__cons_table(c)) {
        gleam__cons_free(&c->op);
        gleam__free(c);
        return NULL;
    }
    return c;
}

/* Find and hash the key of every row of a block whose key is its leading fields (packed
   there as the table packs keys), into c->hs: the absorbing loop fetches ahead with the
   hashes and hands each row its key. The number of rows, or 0 when the rows do not
   qualify. */
GLEAM__PRIV size_t gleam__hash_block(gleam__cons *c, const char *p, const char *end) {
    const gleam_fields *key = c->bkey_fields;
    size_t n = 0;
    int k;
    if (!c->block_keys || c->sub) return 0;
    for (k = 0; k < key->n; k++)
        if (key->f[k] != k + 1) return 0;
    while (p < end) {
        const char *q = p, *kb;
        uint32_t nf;
        gleam__bkey *bk;
        uint32_t f;
        if (gleam__unpack_header(&q, end, &nf) != GLEAM_OK || nf < (uint32_t)key->n) return 0;
        kb = q;
        for (k = 0; k < key->n; k++)
            if (gleam__skip_fast(&q, end) != GLEAM_OK) return 0;
        if (c->hs.cap < (n + 1) * sizeof *bk && gleam__buf_reserve(&c->hs, (n + 1) * sizeof *bk - c->hs.len)) return 0;
        bk = (gleam__bkey *)(void *)c->hs.p + n;
        bk->row = p;
        bk->p = kb;
        bk->len = (uint32_t)(q - kb);
        bk->nf = nf;
        bk->h = gleam__hash(kb, bk->len);
        c->hs.len = ++n * sizeof *bk;
        for (f = (uint32_t)key->n; f < nf; f++) /* the rest of the row */
            if (gleam__skip_fast(&q, end) != GLEAM_OK) return 0;
        p = q;
    }
    return n;
}

/* The packed key of a row and its hash: bk when its block gave it, else packed into
   op->key. */
GLEAM__PRIV gleam_result gleam__cons_key(gleam__cons *c, const gleam__bkey *bk, const gleam_fields *key,
                                    const gleam_value *row, int n, const char **k, uint32_t *klen, uint64_t *h) {
    gleam_result r;
    if (bk) {
        *k = bk->p;
        *klen = bk->len;
        *h = bk->h;
        return GLEAM_OK;
    }
    if ((r = gleam__pack_key(&c->op, key, row, n, h)) != GLEAM_OK) return r;
    *k = c->op.key.p;
    *klen = (uint32_t)c->op.key.len;
    return GLEAM_OK;
}

/* Append the value fields of a row to a key's list: the value itself when there is one,
   else a list of them (as Gleam's GroupByKey does). */
GLEAM__PRIV gleam_result gleam__elems_add(gleam__cons *c, gleam__elems *l, const gleam_value *v, int n, int as_row) {
    gleam__op *op = &c->op;
    gleam__elem *e;
    size_t size = as_row || n != 1 ? gleam__row_size(v, n) : gleam__packed_size(v[0]);
    if (l->count == 0xffffffffu) return gleam__fail(op->task, op->node, GLEAM_ERR_INPUT, "a key has more than 4294967295 rows");
    e = (gleam__elem *)gleam__arena_alloc(&c->table.mem, sizeof *e + size);
    if (!e) return gleam__nomem(op);
    if (as_row || n != 1) gleam__put_row(e->data, v, n);
    else {
        gleam__buf b;
        b.p = e->data;
        b.len = 0;
        b.cap = size;
        gleam__pack_value(&b, v[0]);
    }
    e->len = (uint32_t)size;
    e->is_row = (unsigned char)(as_row || n != 1);
    e->next = NULL;
    if (l->last) l->last->next = e;
    else l->first = e;
    l->last = e;
    l->count++;
    return GLEAM_OK;
}

GLEAM__PRIV gleam_result gleam__cons_absorb(gleam__op *op, gleam__block *b) {
    gleam__cons *c = (gleam__cons *)op;
    size_t nh = 0;
    c->hs.len = 0;
    if (c->table.slots) nh = gleam__hash_block(c, b->data, b->data + b->len);
    return gleam__cons_after_block(c, gleam__cons_rows(c, b, nh, 0, c->ops->take));
}

GLEAM__PRIV gleam_result gleam__cons_after_block(gleam__cons *c, gleam_result r) {
    if (c->table.slots) GLEAM__NOTE_PEAK(&c->op, gleam__table_bytes(&c->table));
    if (r >= 0 && c->table.slots && gleam__table_bytes(&c->table) > c->op.task->job->share) r = gleam__spill_table(c);
    return r;
}

GLEAM__PRIV gleam_result gleam__cons_finish(gleam__op *op) {
    gleam__cons *c = (gleam__cons *)op;
    return c->sub ? gleam__cons_unspill(c) : c->ops->emit_table(c);
}

GLEAM__PRIV void gleam__cons_free(gleam__op *op) {
    gleam__cons *c = (gleam__cons *)op;
    int f;
    if (c->sub) {
        for (f = 0; f < GLEAM__FANOUT; f++) gleam__spill_close(&c->sub[f]);
        gleam__free(c->sub);
    }
    gleam__buf_free(&c->rec);
    gleam__buf_free(&c->hs);
    gleam__buf_free(&c->sweep);
    gleam__buf_free(&c->sweep_tmp);
    gleam__blocks_free(c->held);
    if (c->layout) gleam__big_free(c->layout, c->layout_len);
    gleam__vals_free(&c->canon);
    gleam__table_free(&c->table);
    gleam__vals_free(&c->acc);
    gleam__vals_free(&c->row2);
    gleam__vals_free(&c->in);
    gleam__buf_free(&c->tmp);
}

