/* partition.c: hash partitioning. The producer of group_by, cogroup, join and partition
   sends each row to the partition its key hashes to; partition's consumer passes the rows
   of its partition on. */
#include "steps/steps.h"

typedef struct gleam__hashprod {
    gleam__op op;
    gleam__writer w;
} gleam__hashprod;

static gleam_result gleam__hashprod_push(gleam__op *op, const gleam_value *row, int n) {
    gleam__hashprod *p = (gleam__hashprod *)op;
    gleam_result r;
    uint64_t h;
    if ((r = gleam__pack_key(op, &op->node->step->key, row, n, &h)) != GLEAM_OK) return r;
    return gleam__write_row(op, &p->w, gleam__part_of(h, p->w.x->nparts), row, n);
}

static gleam_result gleam__hashprod_finish(gleam__op *op) { return gleam__writer_close(op, &((gleam__hashprod *)op)->w); }

static void gleam__hashprod_free(gleam__op *op) { gleam__writer_free(&((gleam__hashprod *)op)->w); }

GLEAM__PRIV gleam__op *gleam__make_hash_producer(gleam__task *t, gleam__node *node) {
    gleam__hashprod *p = (gleam__hashprod *)gleam__op_alloc(t, node, sizeof *p);
    if (!p) return NULL;
    p->op.push = gleam__hashprod_push;
    p->op.finish = gleam__hashprod_finish;
    p->op.free = gleam__hashprod_free;
    if (gleam__writer_init(&p->w, t->job->xchgs[node->step->id], node->side)) {
        gleam__free(p);
        return NULL;
    }
    return &p->op;
}

/* The rows of each block, passed on one by one. */
static gleam_result gleam__pass_absorb(gleam__op *op, gleam__block *b) {
    const char *p = b->data, *end = b->data + b->len;
    gleam_result r = GLEAM_OK;
    while (p < end && !op->done) {
        if (gleam__unpack_row(&p, end, &op->vals) != GLEAM_OK) return gleam__nomem(op);
        if ((r = gleam__emit(op, op->vals.v, op->vals.n)) < 0) return r;
        if (r == GLEAM_DONE) op->done = 1;
    }
    return GLEAM_OK;
}

GLEAM__PRIV gleam__op *gleam__make_pass_consumer(gleam__task *t, gleam__node *node) {
    gleam__op *op = gleam__op_alloc(t, node, sizeof *op);
    if (op) op->absorb = gleam__pass_absorb;
    return op;
}
