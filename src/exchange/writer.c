/* writer.c: a producer's rows packed into one block per destination partition; a full
   block goes through the exchange's transport, and closing puts the rest and ends the
   producer's stream. */
#include "exchange/exchange.h"

GLEAM__PRIV int gleam__writer_init(gleam__writer *w, gleam__xchg *x, int side) {
    w->x = x;
    w->side = side;
    w->width = 0;
    w->cur = (gleam__block **)gleam__calloc((size_t)x->nparts, sizeof *w->cur);
    return w->cur ? 0 : -1;
}

GLEAM__PRIV void gleam__writer_free(gleam__writer *w) {
    int j;
    if (!w->cur) return;
    for (j = 0; j < w->x->nparts; j++) gleam__block_free(w->cur[j]);
    gleam__free(w->cur);
    w->cur = NULL;
}

/* Hand a block to the transport, counting its bytes as the producer's. */
static gleam_result gleam__writer_put(gleam__op *op, gleam__writer *w, int part, gleam__block *b) {
    op->bytes += b->len;
    return w->x->xport->put(w->x, op, part, b);
}

GLEAM__PRIV gleam_result gleam__writer_room(gleam__op *op, gleam__writer *w, int part, int n, size_t size, char **at) {
    gleam__block *b = w->cur[part];
    gleam_result r;
    if (n > w->width) w->width = n;
    if (!b || b->cap - b->len < size) {
        w->cur[part] = NULL;
        if (b && (r = gleam__writer_put(op, w, part, b)) < 0) return r;
        if (!(b = gleam__block_new(GLEAM__MAX(op->task->job->block_size, size)))) return gleam__nomem(op);
        b->side = w->side;
        b->producer = op->task->shard + op->node->offset;
        w->cur[part] = b;
    }
    *at = b->data + b->len;
    b->len += size;
    return GLEAM_OK;
}

GLEAM__PRIV gleam_result gleam__write_row(gleam__op *op, gleam__writer *w, int part, const gleam_value *row, int n) {
    size_t size = gleam__row_size(row, n);
    char *at;
    gleam_result r = gleam__writer_room(op, w, part, n, size, &at);
    if (r < 0) return r;
    gleam__put_row(at, row, n);
    return GLEAM_OK;
}

GLEAM__PRIV gleam_result gleam__writer_close(gleam__op *op, gleam__writer *w) {
    gleam_result r = GLEAM_OK;
    int j;
    for (j = 0; j < w->x->nparts; j++) {
        gleam__block *b = w->cur[j];
        w->cur[j] = NULL;
        if (!b) continue;
        if (r >= 0 && b->len) r = gleam__writer_put(op, w, j, b);
        else gleam__block_free(b);
    }
    if (r >= 0) r = w->x->xport->close(w->x, op, w->side, w->width);
    return r;
}
