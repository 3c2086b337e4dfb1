/* ordered.c: sorting inside operators (local sort and top, the top and sort steps): runs
   of rows that keep only the first k, emitted in order, and merges of sorted runs. */
#include "steps/steps.h"

/* Check that a row has the fields an order needs. */
GLEAM__PRIV int gleam__check_order(gleam__op *op, const gleam_order *o, int n) {
    int i;
    for (i = 0; i < o->n; i++)
        if (o->by[i].field > n) {
            gleam__fail(op->task, op->node, GLEAM_ERR_INPUT, "a row has %d field%s; the order needs field %d", n,
                        n == 1 ? "" : "s", o->by[i].field);
            return -1;
        }
    return 0;
}

/* Add a row to a run, keeping only the first k of the order when k >= 0. */
GLEAM__PRIV gleam_result gleam__run_push(gleam__op *op, gleam__run *run, const gleam__cmp *cmp, int64_t k,
                                    const gleam_value *row, int n) {
    if (gleam__check_order(op, cmp->order, n)) return GLEAM_ERR_INPUT;
    if (k == 0) return GLEAM_OK;
    if (gleam__run_add(run, cmp, row, n)) return gleam__nomem(op);
    /* past twice k rows, keep the first k: O(n log k) overall, bounded memory */
    if (k > 0 && (uint64_t)k <= ((size_t)-1 - 1024) / 2 && run->n >= 2 * (size_t)k + 1024)
        if (gleam__run_sort(run, cmp) || gleam__run_truncate(run, (size_t)k))
            return gleam__nomem(op);
    return GLEAM_OK;
}

/* Sort the run, keep k rows (k < 0: all) and emit them in order. */
GLEAM__PRIV gleam_result gleam__run_emit(gleam__op *op, gleam__run *run, const gleam__cmp *cmp, int64_t k) {
    size_t i, n;
    gleam_result r = GLEAM_OK;
    if (gleam__run_sort(run, cmp)) return gleam__nomem(op);
    n = k >= 0 && (uint64_t)k < run->n ? (size_t)k : run->n;
    for (i = 0; i < n && r == GLEAM_OK; i++) {
        const char *p = run->rows[i].row;
        if (gleam__unpack_row(&p, GLEAM__NOEND(p), &op->vals) != GLEAM_OK) return gleam__nomem(op);
        r = gleam__emit(op, op->vals.v, op->vals.n);
    }
    return r < 0 ? r : GLEAM_OK;
}

static gleam_result gleam__merge_emit(void *arg, const gleam__cursor *from) {
    gleam__op *op = (gleam__op *)arg;
    const char *p = from->head.row;
    if (gleam__unpack_row(&p, p + gleam__cursor_len(from), &op->vals) != GLEAM_OK)
        return gleam__fail(op->task, op->node, GLEAM_ERR_IO, "a spill file in %s is damaged", op->task->job->opt.tmpdir);
    return gleam__emit(op, op->vals.v, op->vals.n);
}

/* Emit the rows of n cursors (not yet started) in order, ties to the lower cursor. */
GLEAM__PRIV gleam_result gleam__merge(gleam__op *op, gleam__cursor *cur, int n, const gleam__cmp *c) {
    gleam_result r = gleam__heap_merge(cur, n, c, gleam__merge_emit, op);
    if (r == GLEAM__READ_FAILED) return gleam__spill_fail(op, "read");
    if (r == GLEAM_ERR_NOMEM) return gleam__nomem(op);
    return r < 0 ? r : GLEAM_OK;
}

