/* narrow.c: the narrow operators but pipes (io/pipe.c): map, select, union, local sort and
   local top. Each takes a row by function call and hands its rows to the next operators of
   the same task by function call: no queue, no copy, no encoding. */
#include "steps/steps.h"

static gleam_result gleam__map_push(gleam__op *op, const gleam_value *row, int n) {
    return gleam__call_user_row(op, op->fn->u.row, row, n);
}

static gleam_result gleam__select_push(gleam__op *op, const gleam_value *row, int n) {
    const gleam_fields *f = &op->node->step->key;
    int i;
    if (gleam__check_fields(op, f, n)) return GLEAM_ERR_INPUT;
    if (gleam__vals_reserve(&op->vals, f->n)) return gleam__nomem(op);
    for (i = 0; i < f->n; i++) op->vals.v[i] = row[f->f[i] - 1];
    return gleam__emit(op, op->vals.v, f->n);
}

static gleam_result gleam__pass_push(gleam__op *op, const gleam_value *row, int n) { return gleam__emit(op, row, n); }

/* >>ordered: local sort and local top --------------------------------------------------- */

typedef struct gleam__sortop {
    gleam__op op;
    gleam__run *run;
    gleam__cmp cmp;
    gleam__run **disk;      /* runs spilled so far, oldest first */
    int ndisk;
} gleam__sortop;

static gleam_result gleam__lsort_push(gleam__op *op, const gleam_value *row, int n) {
    gleam__sortop *s = (gleam__sortop *)op;
    gleam__run *d, **v;
    gleam_result r;
    if (op->node->step->kind == GLEAM__LOCAL_TOP) return gleam__run_push(op, s->run, &s->cmp, op->node->step->k, row, n);
    if ((r = gleam__run_push(op, s->run, &s->cmp, -1, row, n)) != GLEAM_OK) return r;
    GLEAM__NOTE_PEAK(op, gleam__run_bytes(s->run));
    if (gleam__run_bytes(s->run) <= op->task->job->share) return GLEAM_OK;
    if (!(v = (gleam__run **)gleam__realloc(s->disk, (size_t)(s->ndisk + 1) * sizeof *v))) return gleam__nomem(op);
    s->disk = v;
    if (gleam__run_spill(s->run, &s->cmp, op->task->job->opt.tmpdir, &d)) return gleam__spill_fail(op, "write");
    s->disk[s->ndisk++] = d;
    if (s->ndisk == 2 * GLEAM__MERGE_WAY) { /* the oldest runs into one, first: ties keep input order */
        int failed = gleam__runs_compact(s->disk, GLEAM__MERGE_WAY, &s->cmp, op->task->job->opt.tmpdir, &d);
        s->ndisk -= GLEAM__MERGE_WAY - !failed; /* the merged runs are gone; their merge takes the first place */
        memmove(s->disk + !failed, s->disk + GLEAM__MERGE_WAY, (size_t)GLEAM__MERGE_WAY * sizeof *s->disk);
        if (failed) return gleam__spill_fail(op, "merge");
        s->disk[0] = d;
    }
    return GLEAM_OK;
}

static gleam_result gleam__lsort_finish(gleam__op *op) {
    gleam__sortop *s = (gleam__sortop *)op;
    gleam__cursor *cur;
    gleam_result r;
    int i;
    if (!s->ndisk)
        return gleam__run_emit(op, s->run, &s->cmp, op->node->step->kind == GLEAM__LOCAL_TOP ? op->node->step->k : -1);
    if (gleam__run_sort(s->run, &s->cmp) || !(cur = (gleam__cursor *)gleam__calloc((size_t)s->ndisk + 1, sizeof *cur)))
        return gleam__nomem(op);
    for (i = 0; i < s->ndisk; i++) gleam__cursor_init(&cur[i], s->disk[i], 0, 0, NULL, NULL);
    gleam__cursor_init(&cur[i], s->run, 0, s->run->n, NULL, NULL); /* the newest rows last: ties keep input order */
    r = gleam__merge(op, cur, s->ndisk + 1, &s->cmp);
    for (i = 0; i <= s->ndisk; i++) gleam__cursor_free(&cur[i]);
    gleam__free(cur);
    return r;
}

static void gleam__sortop_free(gleam__op *op) {
    gleam__sortop *s = (gleam__sortop *)op;
    int i;
    gleam__run_free(s->run);
    for (i = 0; i < s->ndisk; i++) gleam__run_free(s->disk[i]);
    gleam__free(s->disk);
}

/* Set up a sort op's run and comparison for order o. */
static int gleam__sortop_init(gleam__sortop *s, const gleam_order *o) {
    gleam__cmp_init(&s->cmp, o);
    s->op.free = gleam__sortop_free;
    return (s->run = gleam__run_new()) ? 0 : -1;
}

GLEAM__PRIV gleam__op *gleam__make_narrow(gleam__task *t, gleam__node *node) {
    gleam__step *s = node->step;
    gleam__op *op;
    switch (s->kind) {
    case GLEAM__MAP:
        if ((op = gleam__op_alloc(t, node, sizeof *op))) op->push = gleam__map_push;
        return op;
    case GLEAM__SELECT:
        if ((op = gleam__op_alloc(t, node, sizeof *op))) op->push = gleam__select_push;
        return op;
    case GLEAM__LOCAL_SORT:
    case GLEAM__LOCAL_TOP:
        if (!(op = gleam__op_alloc(t, node, sizeof(gleam__sortop)))) return NULL;
        op->push = gleam__lsort_push;
        op->finish = gleam__lsort_finish;
        if (gleam__sortop_init((gleam__sortop *)op, &s->order)) {
            gleam__free(op);
            return NULL;
        }
        return op;
    default: /* union */
        if ((op = gleam__op_alloc(t, node, sizeof *op))) op->push = gleam__pass_push;
        return op;
    }
}
