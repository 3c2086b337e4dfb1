/* op.c: making operators, and the checks and key packing they share. */
#include "op/op.h"

GLEAM__PRIV gleam_result gleam__op_nopush(gleam__op *op, const gleam_value *row, int n) {
    (void)op; (void)row; (void)n;
    return GLEAM_OK;
}

GLEAM__PRIV gleam_result gleam__op_nofinish(gleam__op *op) {
    (void)op;
    return GLEAM_OK;
}

/* An op of `size` bytes (a gleam__op first), zeroed and tied to its node and task. */
GLEAM__PRIV gleam__op *gleam__op_alloc(gleam__task *t, gleam__node *node, size_t size) {
    gleam__op *op = (gleam__op *)gleam__calloc(1, size);
    if (!op) return NULL;
    op->node = node;
    op->task = t;
    op->push = gleam__op_nopush;
    op->finish = gleam__op_nofinish;
    op->ctx.op = op;
    op->ctx.task = t;
    op->ctx.shard = t->shard + node->offset;
    op->fn = t->job->fns ? t->job->fns[node->step->id] : NULL;
    op->user = t->job->users ? t->job->users[node->step->id] : NULL;
    return op;
}

/* Check that a row of n fields has every field in f. */
GLEAM__PRIV int gleam__check_fields(gleam__op *op, const gleam_fields *f, int n) {
    int i;
    for (i = 0; i < f->n; i++)
        if (f->f[i] > n) {
            gleam__fail(op->task, op->node, GLEAM_ERR_INPUT, "a row has %d field%s; field %d is needed", n,
                        n == 1 ? "" : "s", f->f[i]);
            return -1;
        }
    return 0;
}

/* gleam__pack_key_to for any key but a short string. */
GLEAM__PRIV gleam_result gleam__pack_key_any(gleam__op *op, const gleam_fields *key, const gleam_value *row, int n,
                                        gleam__buf *b, uint64_t *h) {
    size_t from = b->len;
    int i;
    if (key->n == 1 && key->f[0] <= n) { /* one field, packed in place */
        gleam_value v = row[key->f[0] - 1];
        size_t need = gleam__packed_size(v);
        if (b->cap - b->len < need && gleam__buf_reserve(b, need)) return gleam__nomem(op);
        gleam__put_value((unsigned char *)b->p + from, v);
        b->len += need;
        *h = gleam__hash(b->p + from, need);
        return GLEAM_OK;
    }
    if (gleam__check_fields(op, key, n)) return GLEAM_ERR_INPUT;
    for (i = 0; i < key->n; i++)
        if (gleam__pack_value(b, row[key->f[i] - 1]))
            return gleam__nomem(op);
    *h = gleam__hash(b->p + from, b->len - from);
    return GLEAM_OK;
}

