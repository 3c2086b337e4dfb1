/* ctx.c: what user functions see (gleam_emit, gleam_fail, their context, scratch memory)
   and the paths of a row from an operator to the next ones. */
#include "op/op.h"

/* gleam_emit's row has a value of no type: name it. */
static GLEAM__NOINLINE gleam_result gleam__emit_untyped(gleam_ctx *c, const gleam_value *row, int n) {
    int i = 0;
    while (i < n - 1 && (unsigned)row[i].type <= GLEAM_LIST) i++;
    return gleam__fail_at(c->task, c->op->node, c->shard, GLEAM_ERR_VALUE, "value %d of an emitted row has no type (%d)",
                          i + 1, (int)row[i].type);
}

/* A generator's row: counted on the progress line. */
static GLEAM__NOINLINE gleam_result gleam__emit_generated(gleam_ctx *c, const gleam_value *row, int n) {
    gleam_result r = gleam__emit(c->op, row, n);
    gleam__progress_rows(c->op);
    return r;
}

GLEAM_API gleam_result gleam_emit(gleam_ctx *c, const gleam_value *row, int n) {
    int i, bad = 0;
    if (!c || !c->op || n < 0 || (n > 0 && !row)) return GLEAM_ERR_ARG;
    if (n == 1) bad = (unsigned)row[0].type > GLEAM_LIST; /* one value, or two: no loop */
    else if (n == 2) bad = ((unsigned)row[0].type > GLEAM_LIST) | ((unsigned)row[1].type > GLEAM_LIST);
    else
        for (i = 0; i < n; i++) bad |= (unsigned)row[i].type > GLEAM_LIST;
    if (bad) return gleam__emit_untyped(c, row, n);
    if (c->source) return gleam__emit_generated(c, row, n);
    return gleam__emit(c->op, row, n);
}

GLEAM_API gleam_result gleam_fail(gleam_ctx *c, const char *fmt, ...) {
    va_list ap;
    if (!c || !c->task) return GLEAM_ERR_USER;
    va_start(ap, fmt);
    gleam__vfmt(c->task->usermsg, sizeof c->task->usermsg, fmt ? fmt : "failed", ap);
    va_end(ap);
    c->task->has_usermsg = 1;
    return GLEAM_ERR_USER;
}

GLEAM_API gleam_result gleam_add_overflow(gleam_ctx *c, int64_t a, int64_t b) {
    if (c && c->task) {
        gleam__fmt_into(c->task->usermsg, sizeof c->task->usermsg, "integer overflow: %lld + %lld is out of the int64 range",
                        (long long)a, (long long)b);
        c->task->has_usermsg = 1;
    }
    return GLEAM_ERR_OVERFLOW;
}

GLEAM_API void *gleam_ctx_user(gleam_ctx *c) { return c && c->op ? c->op->user : NULL; }

GLEAM_API int gleam_ctx_shard(gleam_ctx *c) { return c ? c->shard : 0; }

GLEAM_API int gleam_ctx_shards(gleam_ctx *c) { return c && c->op ? c->op->node->step->nshards : 0; }

GLEAM_API void *gleam_scratch(gleam_ctx *c, size_t n) {
    if (!c) return NULL;
    c->in_call |= 2; /* reset the scratch arena when the call returns */
    return gleam__arena_alloc(&c->scratch, n ? n : 1);
}

/* gleam__emit to more than one child. */
GLEAM__OFFPATH gleam_result gleam__emit_all(gleam__op *op, const gleam_value *row, int n) {
    int i;
    if (op->ndone < op->nkids) op->nout++;
    for (i = 0; i < op->nkids; i++) {
        gleam__op *k = op->kids[i];
        gleam_result r;
        if (k->done) continue;
        k->nin++;
        r = k->push(k, row, n);
        if (r != GLEAM_OK) {
            if (r < 0) return r;
            k->done = 1;
            op->ndone++;
        }
    }
    return op->ndone == op->nkids ? GLEAM_DONE : GLEAM_OK;
}

/* A user function's failure (r < 0) as the job's error. */
GLEAM__OFFPATH gleam_result gleam__user_failed(gleam__op *op, gleam_result r) {
    gleam__task *t = op->task;
    if (gleam__aborted(t->job)) return r;
    if (t->has_usermsg) return gleam__fail_at(t, op->node, op->ctx.shard, r, "%s", t->usermsg);
    return gleam__fail_at(t, op->node, op->ctx.shard, r, "%s \"%s\" returned %s", gleam__fn_kind_name(op->fn->kind),
                          op->node->step->fn_name, gleam_result_str(r));
}

