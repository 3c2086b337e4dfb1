/* keyspill.c: a hash consumer past its share. Its table goes to GLEAM__FANOUT files by key
   hash, as rows with the key fields first (and a side byte); so does every later row that
   cannot be folded into the table. At the end each file is read back alone, a sixteenth
   of the keys at a time, into a fresh table that is emitted before the next. */
#include "steps/steps.h"

static gleam_result gleam__sub_open(gleam__cons *c) {
    int i;
    if (!(c->sub = (gleam__spill *)gleam__calloc(GLEAM__FANOUT, sizeof *c->sub))) return gleam__nomem(&c->op);
    for (i = 0; i < GLEAM__FANOUT; i++) c->sub[i].fd = -1;
    for (i = 0; i < GLEAM__FANOUT; i++)
        if (gleam__spill_open(&c->sub[i], c->op.task->job->opt.tmpdir)) return gleam__spill_fail(&c->op, "make");
    return GLEAM_OK;
}

/* Append [side, row] to sub-file f, opening the files on first use. */
GLEAM__PRIV gleam_result gleam__spill_row(gleam__cons *c, int f, int side, const gleam_value *row, int n) {
    gleam__op *op = &c->op;
    unsigned char sb = (unsigned char)side;
    gleam_result r;
    if (!c->sub && (r = gleam__sub_open(c)) != GLEAM_OK) return r;
    c->rec.len = 0;
    if (gleam__buf_add(&c->rec, &sb, 1) || gleam__pack_row(&c->rec, row, n)) return gleam__nomem(op);
    if (gleam__spill_record(&c->sub[f], c->rec.p, c->rec.len)) return gleam__spill_fail(op, "write");
    return GLEAM_OK;
}

/* Spill a row with its key fields moved first. */
GLEAM__PRIV gleam_result gleam__spill_canon(gleam__cons *c, uint64_t h, int side, const gleam_value *row, int n,
                                       const gleam_fields *key) {
    int i, m = 0;
    if (gleam__vals_reserve(&c->canon, n)) return gleam__nomem(&c->op);
    for (i = 0; i < key->n; i++) c->canon.v[m++] = row[key->f[i] - 1];
    if (gleam__value_fields(key, row, n, &c->op.vals)) return gleam__nomem(&c->op);
    for (i = 0; i < c->op.vals.n; i++) c->canon.v[m++] = c->op.vals.v[i];
    return gleam__spill_row(c, gleam__sub_of(h), side, c->canon.v, m);
}

/* Spill key values nk plus the values of element e. */
static gleam_result gleam__spill_elem(gleam__cons *c, int f, int side, int nk, const gleam__elem *e) {
    const char *p = e->data;
    gleam__vals *v = &c->canon;
    if (e->is_row) {
        if (gleam__unpack_row(&p, p + e->len, &c->row2) != GLEAM_OK) return gleam__nomem(&c->op);
        if (gleam__vals_reserve(v, nk + c->row2.n)) return gleam__nomem(&c->op);
        if (c->row2.n) memcpy(v->v + nk, c->row2.v, (size_t)c->row2.n * sizeof *v->v);
        return gleam__spill_row(c, f, side, v->v, nk + c->row2.n);
    }
    if (gleam__vals_reserve(v, nk + 1)) return gleam__nomem(&c->op);
    if (gleam__unpack_value(&p, p + e->len, &v->v[nk]) != GLEAM_OK) return gleam__nomem(&c->op);
    return gleam__spill_row(c, f, side, v->v, nk + 1);
}

GLEAM__PRIV gleam_result gleam__spill_lists(gleam__cons *c, char *e, int f, int lists, int join) {
    gleam__op *op = &c->op;
    gleam__elems *l = (gleam__elems *)gleam__entry_payload(e);
    gleam_result r = GLEAM_OK;
    int nk = op->node->step->key.n, k;
    if (gleam__vals_reserve(&c->canon, nk + 1)) return gleam__nomem(op);
    for (k = 0; k < lists && r == GLEAM_OK; k++) {
        const gleam__elem *el;
        for (el = l[k].first; el && r == GLEAM_OK; el = el->next) {
            gleam__key_values(e, c->canon.v, nk); /* again: unpacking an element may move canon */
            r = gleam__spill_elem(c, f, join ? 1 : k, nk, el);
        }
    }
    return r;
}

GLEAM__PRIV gleam_result gleam__spill_table(gleam__cons *c) {
    gleam__op *op = &c->op;
    size_t i;
    gleam_result r = c->sub ? GLEAM_OK : gleam__sub_open(c);
    for (i = 0; i <= c->table.mask && r == GLEAM_OK; i++) {
        char *e = c->table.slots[i].e;
        GLEAM__TABLE_AHEAD(&c->table, i);
        if (e) r = c->ops->spill_entry(c, e, gleam__sub_of(c->table.slots[i].h));
    }
    if (r != GLEAM_OK) return r;
    gleam__table_free(&c->table);
    return gleam__cons_table(c) ? gleam__nomem(op) : GLEAM_OK;
}

/* Read the spilled rows back, one file at a time, into a fresh table, and emit it. */
GLEAM__PRIV gleam_result gleam__cons_unspill(gleam__cons *c) {
    gleam__op *op = &c->op;
    gleam_result r = GLEAM_OK;
    int f;
    if (!c->ops->seen && !c->probing && (r = gleam__spill_table(c)) != GLEAM_OK) return r; /* (distinct: emitted) */
    c->replay = 1;
    for (f = 0; f < GLEAM__FANOUT && r == GLEAM_OK; f++) {
        gleam__recs rd;
        const char *p;
        size_t n;
        int got;
        if (gleam__spill_end(&c->sub[f])) return gleam__spill_fail(op, "write");
        gleam__table_free(&c->table);
        if (gleam__cons_table(c)) return gleam__nomem(op);
        c->probing = 0;
        gleam__recs_init(&rd, &c->sub[f], 0, c->sub[f].size);
        while (r == GLEAM_OK && (got = gleam__recs_next(&rd, &p, &n)) != 0) {
            const char *q = p + 1;
            int side;
            if (got < 0 || n < 1 || gleam__unpack_row(&q, p + n, &c->in) != GLEAM_OK) {
                r = got < 0 ? gleam__spill_fail(op, "read")
                            : gleam__fail(op->task, op->node, GLEAM_ERR_IO, "a spill file in %s is damaged", op->task->job->opt.tmpdir);
                break;
            }
            side = (unsigned char)p[0];
            if (c->ops->seen && side == 1) r = c->ops->seen(c, c->in.v, c->in.n); /* a key emitted before the spill */
            else r = c->ops->take(c, side, c->in.v, c->in.n, c->spill_key, NULL);
        }
        if (r == GLEAM_DONE) op->done = 1; /* nobody wants more rows */
        gleam__recs_free(&rd);
        gleam__spill_close(&c->sub[f]);
        if (r == GLEAM_OK) r = c->ops->emit_table(c);
    }
    return r < 0 ? r : GLEAM_OK;
}

