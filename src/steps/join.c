/* join.c: the hash join. The right side (side 1) is the build side: its rows go into a
   table by key; the left side (side 0) probes it as it streams, which the exchange allows
   only once every right producer has closed (GLEAM__TAKE_BUILD_FIRST). An outer join pads
   the missing side with nils. Past its share the join goes to spill files by key hash
   (a grace hash join): the build side first, then the probes. */
#include "steps/steps.h"

/* The join's output row: key, left values (or nils), right values (or nils). */
static gleam_result gleam__join_emit(gleam__cons *c, const gleam_value *key, int nk, const gleam_value *a, int na,
                                     const gleam_value *b, int nb) {
    gleam__op *op = &c->op;
    int i, n = 0;
    if (gleam__vals_reserve(&c->row2, nk + na + nb)) return gleam__nomem(op);
    for (i = 0; i < nk; i++) c->row2.v[n++] = key[i];
    for (i = 0; i < na; i++) c->row2.v[n++] = a ? a[i] : gleam_nil();
    for (i = 0; i < nb; i++) c->row2.v[n++] = b ? b[i] : gleam_nil();
    return gleam__emit(op, c->row2.v, n);
}

/* The join's output for a probing row (its value fields in op->vals) whose key has the
   build side's rows l (NULL: none). */
static gleam_result gleam__join_probe(gleam__cons *c, const gleam_value *row, const gleam_fields *key, gleam__elems *l) {
    gleam__op *op = &c->op;
    int nk = key->n, i;
    gleam__elem *e;
    gleam_result r;
    if (gleam__vals_reserve(&c->acc, nk)) return gleam__nomem(op);
    for (i = 0; i < nk; i++) c->acc.v[i] = row[key->f[i] - 1];
    if (!l) {
        if (op->node->step->join != GLEAM_LEFT_OUTER) return GLEAM_OK;
        return gleam__join_emit(c, c->acc.v, nk, op->vals.v, op->vals.n, NULL, GLEAM__MAX(c->x->width[1] - nk, 0));
    }
    l->matched = 1;
    for (e = l->first; e; e = e->next) {
        const char *p = e->data;
        int nb;
        gleam_value *bvals;
        if (gleam__unpack_row(&p, p + e->len, &c->row2) != GLEAM_OK) return gleam__nomem(op);
        nb = c->row2.n; /* row2 is reused for the output row: the right values go aside first */
        if (gleam__buf_reserve(&c->tmp, (size_t)nb * sizeof(gleam_value))) return gleam__nomem(op);
        bvals = (gleam_value *)(void *)c->tmp.p;
        for (i = 0; i < nb; i++) bvals[i] = c->row2.v[i];
        if ((r = gleam__join_emit(c, c->acc.v, nk, op->vals.v, op->vals.n, bvals, nb)) != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

static gleam_result gleam__join_take(gleam__cons *c, int side, const gleam_value *row, int n, const gleam_fields *key,
                                     const gleam__bkey *bk) {
    gleam__op *op = &c->op;
    gleam__elems *l;
    gleam_result r;
    const char *k;
    uint32_t klen;
    uint64_t h;
    int made;
    if ((r = gleam__cons_key(c, bk, key, row, n, &k, &klen, &h)) != GLEAM_OK) return r;
    if (gleam__value_fields(key, row, n, &op->vals)) return gleam__nomem(op);
    if (side == 0 && c->probing) return gleam__spill_canon(c, h, 0, row, n, key);
    if (side == 1) { /* build */
        l = (gleam__elems *)gleam__table_upsert(&c->table, h, k, klen, sizeof *l, &made);
        if (!l) return gleam__nomem(op);
        return gleam__elems_add(c, l, op->vals.v, op->vals.n, 1);
    }
    return gleam__join_probe(c, row, key, (gleam__elems *)gleam__table_find(&c->table, h, k, klen));
}

/* A right outer join's build rows that no probe matched. */
static gleam_result gleam__join_emit_table(gleam__cons *c) {
    gleam__op *op = &c->op;
    const gleam__step *s = op->node->step;
    gleam_result r = GLEAM_OK;
    size_t i;
    int nk = s->key.n;
    if (s->join != GLEAM_RIGHT_OUTER) return GLEAM_OK;
    for (i = 0; i <= c->table.mask && r == GLEAM_OK; i++) {
        char *e = c->table.slots[i].e;
        gleam__elems *l;
        gleam__elem *el;
        GLEAM__TABLE_AHEAD(&c->table, i);
        if (!e) continue;
        l = (gleam__elems *)gleam__entry_payload(e);
        if (l->matched) continue;
        if (gleam__vals_reserve(&c->acc, nk)) return gleam__nomem(op);
        gleam__key_values(e, c->acc.v, nk);
        for (el = l->first; el && r == GLEAM_OK; el = el->next) {
            const char *p = el->data;
            if (gleam__unpack_row(&p, p + el->len, &op->vals) != GLEAM_OK) return gleam__nomem(op);
            r = gleam__join_emit(c, c->acc.v, nk, NULL, GLEAM__MAX(c->x->width[0] - nk, 0), op->vals.v, op->vals.n);
        }
    }
    return r < 0 ? r : GLEAM_OK;
}

static gleam_result gleam__join_spill_entry(gleam__cons *c, char *e, int f) { return gleam__spill_lists(c, e, f, 1, 1); }

/* >>sweeps: a join's probes in table order. A probe of a table far bigger than the cache
   costs a miss for its slot and another for its entry, wherever they are. So once the
   build side is complete its entries (and their rows) are copied into one block in slot
   order, and the probing rows of many blocks are gathered (their blocks kept) and sorted
   by slot: each sweep then walks the slots and the entries forward, once. The copy holds
   the build side twice for a moment, so it is made only when that fits in half the share;
   a table that is smaller, nearly in the cache, gains nothing from it and is probed as its
   rows come. The sizes are gleam__tune's: sweep_bytes of table, sweep_rows probes. */

/* Copy the build side's entries and their rows into one block in slot order, when that
   fits in half the consumer's share next to the table; the arena they were in is freed.
   Without it (too big, out of memory) the table stays as it is, and still correct. */
static void gleam__lay_out(gleam__cons *c) {
    gleam__table *t = &c->table;
    size_t i, need = 0;
    char *at;
    for (i = 0; i <= t->mask; i++) {
        const char *e = t->slots[i].e, *key;
        const gleam__elem *el;
        if (!e) continue;
        need += (gleam__payload_offset((uint32_t)gleam__entry_key(e, &key)) + sizeof(gleam__elems) + 7) & ~(size_t)7;
        for (el = ((const gleam__elems *)gleam__entry_payload((char *)(uintptr_t)e))->first; el; el = el->next)
            need += (sizeof *el + el->len + 7) & ~(size_t)7;
    }
    if (!need || gleam__table_bytes(t) + need > c->op.task->job->share / 2 || !(at = (char *)gleam__big_alloc(need))) return;
    c->layout = at;
    c->layout_len = need;
    for (i = 0; i <= t->mask; i++) {
        char *e = t->slots[i].e;
        const char *key;
        size_t off;
        gleam__elems *l;
        gleam__elem *el, *prev = NULL;
        GLEAM__TABLE_AHEAD(t, i);
        if (!e) continue;
        off = gleam__payload_offset((uint32_t)gleam__entry_key(e, &key));
        memcpy(at, e, off + sizeof *l);
        t->slots[i].e = at;
        l = (gleam__elems *)(void *)(at + off);
        at += (off + sizeof *l + 7) & ~(size_t)7;
        for (el = l->first; el; el = el->next) {
            gleam__elem *n = (gleam__elem *)(void *)at;
            memcpy(n, el, sizeof *el + el->len);
            at += (sizeof *el + el->len + 7) & ~(size_t)7;
            n->next = NULL;
            if (prev) prev->next = n;
            else l->first = n;
            prev = n;
        }
        l->last = prev;
    }
    gleam__arena_free(&t->mem);
    t->mem.used = need; /* the table's bytes, for its share: now in the block */
}

/* A gathered probing row: its key, then the entry its slot holds. */
typedef struct gleam__probe {
    gleam__bkey k;
    char *e;                /* the entry in the first slot of its hash, NULL if none */
} gleam__probe;

/* Sort a[0..n) stably by slot (h & mask), on the slot's top 16 bits (tmp: room for n). */
static void gleam__by_slot(gleam__probe *a, gleam__probe *tmp, size_t n, uint64_t mask) {
    size_t count[256], i;
    gleam__probe *from = a, *to = tmp, *t;
    int bits = 0, shift;
    while (bits < 64 && (mask >> bits)) bits++;
    for (shift = bits > 16 ? bits - 16 : 0; shift < bits; shift += 8) { /* LSD: the lower digit first */
        size_t sum = 0;
        memset(count, 0, sizeof count);
        for (i = 0; i < n; i++) count[((from[i].k.h & mask) >> shift) & 0xff]++;
        for (i = 0; i < 256; i++) {
            size_t k = count[i];
            count[i] = sum;
            sum += k;
        }
        for (i = 0; i < n; i++) to[count[((from[i].k.h & mask) >> shift) & 0xff]++] = from[i];
        t = from;
        from = to;
        to = t;
    }
    if (from != a) memcpy(a, from, n * sizeof *a);
}

/* Probe with the gathered rows in slot order: a pass over the slots finds each row's
   entry, a second over the entries (in the same order, once laid out) makes the output.
   Then their blocks are freed. */
static gleam_result gleam__sweep(gleam__cons *c) {
    gleam__op *op = &c->op;
    gleam__table *t = &c->table;
    gleam__probe *a = (gleam__probe *)(void *)c->sweep.p;
    const gleam_fields *key = &op->node->step->key;
    size_t n = c->nsweep, i;
    gleam_result r = GLEAM_OK;
    if (!c->laid_out && !op->done && n >= gleam__tune.sweep_rows / 4) { /* not for a last few rows */
        c->laid_out = 1; /* the build side is complete: probes come after it */
        gleam__lay_out(c);
    }
    if (gleam__buf_reserve(&c->sweep_tmp, n * sizeof *a)) n = 0; /* fails the job, below */
    if (n) gleam__by_slot(a, (gleam__probe *)(void *)c->sweep_tmp.p, n, t->mask);
    for (i = 0; i < n; i++) {
        size_t j = a[i].k.h & t->mask;
        if (i + GLEAM__PF1 < n) GLEAM__PREFETCH(&t->slots[a[i + GLEAM__PF1].k.h & t->mask]);
        while (t->slots[j].e && t->slots[j].h != a[i].k.h) j = (j + 1) & t->mask;
        a[i].e = t->slots[j].e;
    }
    for (i = 0; i < n && r >= 0 && !op->done; i++) {
        const char *p = a[i].k.row;
        char *e = a[i].e;
        gleam__elems *l = NULL;
        if (i + GLEAM__PF2 < n) { /* the row sits in one of many blocks */
            GLEAM__PREFETCH(a[i + GLEAM__PF2].k.row);
            if (a[i + GLEAM__PF2].e) GLEAM__PREFETCH(a[i + GLEAM__PF2].e);
        }
        if (gleam__unpack_row(&p, GLEAM__NOEND(p), &c->in) != GLEAM_OK ||
            gleam__value_fields(key, c->in.v, c->in.n, &op->vals)) {
            r = gleam__nomem(op);
            break;
        }
        if (e) /* the first slot of its hash: another key's only if the two share all 64 bits */
            l = (gleam__elems *)(gleam__entry_is(e, a[i].k.p, a[i].k.len)
                                     ? gleam__entry_payload(e)
                                     : gleam__table_find(t, a[i].k.h, a[i].k.p, a[i].k.len));
        r = gleam__join_probe(c, c->in.v, key, l);
        if (r == GLEAM_DONE) {
            op->done = 1;
            r = GLEAM_OK;
        }
    }
    if (!n && c->nsweep) r = gleam__nomem(op);
    c->nsweep = 0;
    c->sweep.len = 0;
    gleam__blocks_free(c->held);
    c->held = NULL;
    c->held_bytes = 0;
    return r < 0 ? r : GLEAM_OK;
}

/* Keep block b and its probing rows (their keys in c->hs, nh of them) for the next sweep;
   when that makes enough, sweep now, b left to its caller to free. GLEAM_OK, or the
   sweep's result. */
static gleam_result gleam__gather(gleam__cons *c, gleam__block *b, size_t nh) {
    const gleam__bkey *ks = (const gleam__bkey *)(const void *)c->hs.p;
    gleam__probe *q;
    size_t i;
    if (gleam__buf_reserve(&c->sweep, nh * sizeof *q)) return gleam__nomem(&c->op);
    q = (gleam__probe *)(void *)(c->sweep.p + c->sweep.len);
    for (i = 0; i < nh; i++) q[i].k = ks[i];
    c->sweep.len += nh * sizeof *q;
    c->nsweep += nh;
    /* enough rows, or their blocks past an eighth of the share (wide rows) */
    if (c->nsweep >= gleam__tune.sweep_rows || c->held_bytes + b->cap > c->op.task->job->share / 8) return gleam__sweep(c);
    b->kept = 1;
    b->next = c->held;
    c->held = b;
    c->held_bytes += b->cap;
    GLEAM__NOTE_PEAK(&c->op, gleam__table_bytes(&c->table) + c->held_bytes + c->sweep.cap);
    return GLEAM_OK;
}

static gleam_result gleam__join_absorb(gleam__op *op, gleam__block *b) {
    gleam__cons *c = (gleam__cons *)op;
    gleam_result r;
    size_t nh = 0;
    int probe = b->side == 0;
    if (probe && c->sub && !c->probing) {
        if ((r = gleam__spill_table(c)) != GLEAM_OK) return r; /* the build side, all on disk */
        c->probing = 1;
    }
    c->hs.len = 0;
    if (c->table.slots) nh = gleam__hash_block(c, b->data, b->data + b->len);
    if (probe && nh && !c->sub && gleam__table_bytes(&c->table) + 1 > gleam__tune.sweep_bytes) return gleam__gather(c, b, nh);
    return gleam__cons_after_block(c, gleam__cons_rows(c, b, nh, probe, gleam__join_take));
}

static gleam_result gleam__join_finish(gleam__op *op) {
    gleam__cons *c = (gleam__cons *)op;
    gleam_result r;
    if (c->nsweep && (r = gleam__sweep(c)) < 0) return r;
    return gleam__cons_finish(op);
}

static const gleam__cons_ops gleam__join_ops = {gleam__join_take, gleam__join_emit_table, gleam__join_spill_entry, NULL};

GLEAM__PRIV gleam__op *gleam__make_join_consumer(gleam__task *t, gleam__node *node) {
    gleam__cons *c = gleam__cons_new(t, node, sizeof(gleam__cons), &gleam__join_ops);
    if (!c) return NULL;
    c->op.absorb = gleam__join_absorb;
    c->op.finish = gleam__join_finish;
    return &c->op;
}
