/* exchange.c: wide steps. A producer op at the end of one stage packs rows into blocks,
   one per destination partition; a full block goes to that partition's queue. Whoever
   pushes into a partition that nobody is consuming runs the consumer on it right away
   (the consumer op is the root of the next stage's task for that partition); when the
   queue is full and another thread consumes it, the producer waits: that is the back
   pressure. Waits only ever point downstream, so they cannot form a cycle. When every
   producer has closed, each partition is finished by a work item of the pool. */
#include "internal.h"

/* >>blocks ----------------------------------------------------------------------------- */

static gleam__block *gleam__block_new(size_t cap) {
    gleam__block *b = (gleam__block *)gleam__malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->next = NULL;
    b->len = 0;
    b->cap = cap;
    b->side = 0;
    b->producer = 0;
    b->data = (char *)(b + 1);
    return b;
}

static void gleam__block_free(gleam__block *b) { gleam__free(b); }

static void gleam__blocks_free(gleam__block *b) {
    while (b) {
        gleam__block *n = b->next;
        gleam__block_free(b);
        b = n;
    }
}

static void gleam__xchg_free(gleam__xchg *x) {
    int j;
    if (!x) return;
    if (x->parts) {
        for (j = 0; j < x->nparts; j++) {
            gleam__blocks_free(x->parts[j].head[0]);
            gleam__blocks_free(x->parts[j].head[1]);
            pthread_mutex_destroy(&x->parts[j].mu);
            pthread_cond_destroy(&x->parts[j].cv);
        }
        pthread_mutex_destroy(&x->mu);
        gleam__free(x->parts);
    }
    for (j = 0; j < x->nruns; j++) gleam__run_free(x->runs[j]);
    gleam__free(x->runs);
    gleam__free(x->bounds);
    gleam__free(x->splits);
    gleam__free(x);
}

static void gleam__xchg_wake_all(gleam__job *job) {
    gleam__plan *p = job->plan;
    int i, j;
    for (i = 1; i <= p->nsteps; i++) {
        gleam__xchg *x = p->xchgs[i];
        if (!x || !x->parts) continue;
        for (j = 0; j < x->nparts; j++) {
            pthread_mutex_lock(&x->parts[j].mu);
            x->parts[j].aborted = 1;
            pthread_cond_broadcast(&x->parts[j].cv);
            pthread_mutex_unlock(&x->parts[j].mu);
        }
    }
}

/* >>queues ----------------------------------------------------------------------------- */

/* May blocks of this side be consumed as they come? Not the left side of a join before
   its right side is complete, and nothing of an ordered gather before the end. */
static int gleam__can_absorb(gleam__xchg *x, int side) {
    int ok;
    if (x->ordered || x->step->kind == GLEAM__SORT) return 0;
    if (side == 1 || x->step->kind != GLEAM__JOIN) return 1;
    pthread_mutex_lock(&x->mu);
    ok = x->build_done;
    pthread_mutex_unlock(&x->mu);
    return ok;
}

static void gleam__enqueue(gleam__part *pt, gleam__block *b) {
    b->next = NULL;
    if (pt->tail[b->side]) pt->tail[b->side]->next = b;
    else pt->head[b->side] = b;
    pt->tail[b->side] = b;
    pt->bytes += b->len;
}

/* Take the queued blocks of `side` (caller holds pt->mu). */
static gleam__block *gleam__take(gleam__part *pt, int side) {
    gleam__block *b = pt->head[side], *c;
    for (c = b; c; c = c->next) pt->bytes -= c->len;
    pt->head[side] = pt->tail[side] = NULL;
    return b;
}

/* Run the consumer of partition pt on blocks, freeing them. */
static gleam_result gleam__absorb_list(gleam__part *pt, gleam__block *b) {
    gleam__op *root = pt->task->ops[0];
    gleam_result r = GLEAM_OK;
    if (!pt->task->t0 && b) pt->task->t0 = gleam__now();
    while (b) {
        gleam__block *n = b->next;
        b->kept = 0;
        if (r >= 0) r = root->absorb(root, b);
        if (!b->kept) gleam__block_free(b);
        b = n;
    }
    return r;
}

static gleam_result gleam__xchg_push(gleam__op *from, gleam__xchg *x, int part, gleam__block *b) {
    gleam__job *job = from->task->job;
    gleam__part *pt = &x->parts[part];
    gleam_result r = GLEAM_OK;
    int side = b->side;
    from->bytes += b->len;
    pthread_mutex_lock(&pt->mu);
    gleam__enqueue(pt, b);
    for (;;) {
        int can1, can0;
        if (pt->aborted) {
            r = GLEAM_ERR_INTERNAL;
            break;
        }
        can1 = gleam__can_absorb(x, 1) && pt->head[1];
        can0 = gleam__can_absorb(x, 0) && pt->head[0];
        if (!pt->busy && (can0 || can1)) {
            gleam__block *b1 = can1 ? gleam__take(pt, 1) : NULL, *b0 = can0 ? gleam__take(pt, 0) : NULL;
            pt->busy = 1;
            pthread_mutex_unlock(&pt->mu);
            r = gleam__absorb_list(pt, b1);
            if (r >= 0) r = gleam__absorb_list(pt, b0);
            else gleam__blocks_free(b0);
            pthread_mutex_lock(&pt->mu);
            pt->busy = 0;
            pthread_cond_broadcast(&pt->cv);
            if (r < 0) break;
            continue;
        }
        if (pt->busy && pt->bytes > job->part_cap && gleam__can_absorb(x, side)) {
            pthread_cond_wait(&pt->cv, &pt->mu);
            continue;
        }
        break;
    }
    pthread_mutex_unlock(&pt->mu);
    return r;
}

/* >>sorted runs: splitting them into key ranges --------------------------------------- */

static size_t gleam__lower_bound(const gleam__run *run, const gleam__srow *key, const gleam__cmp *c) {
    size_t lo = 0, hi = run->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (gleam__srow_cmp(c, &run->rows[mid], key) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Cut every run into nparts key ranges at splitters sampled from all runs, so partition j
   holds keys before partition j+1's. -1 when out of memory. */
static int gleam__split_runs(gleam__xchg *x) {
    int P = x->nparts, R = x->nruns, r, i;
    gleam__cmp c;
    gleam__run samples;
    memset(&samples, 0, sizeof samples);
    c.order = &x->step->order;
    c.maxfield = 0;
    if (!(x->bounds = (size_t *)gleam__calloc((size_t)R * (size_t)(P + 1), sizeof *x->bounds))) return -1;
    if (!(x->splits = (gleam__srow *)gleam__calloc((size_t)P, sizeof *x->splits))) return -1;
    for (r = 0; r < R; r++) x->bounds[r * (P + 1) + P] = x->runs[r]->n;
    if (P == 1) return 0;
    for (r = 0; r < R; r++) {
        const gleam__run *run = x->runs[r];
        size_t k, want = GLEAM__MIN(run->n, (size_t)P * 64);
        for (k = 0; k < want; k++) {
            if (samples.n == samples.cap) {
                size_t cap = samples.cap ? samples.cap * 2 : 256;
                gleam__srow *s = (gleam__srow *)gleam__realloc(samples.rows, cap * sizeof *s);
                if (!s) {
                    gleam__free(samples.rows);
                    return -1;
                }
                samples.rows = s;
                samples.cap = cap;
            }
            samples.rows[samples.n++] = run->rows[(size_t)((double)k / (double)want * (double)run->n)];
        }
    }
    if (gleam__run_sort(&samples, &c)) {
        gleam__free(samples.rows);
        return -1;
    }
    for (i = 1; i < P; i++) {
        gleam__srow split;
        if (!samples.n) break;
        split = x->splits[i - 1] = samples.rows[(size_t)i * samples.n / (size_t)P];
        for (r = 0; r < R; r++) x->bounds[r * (P + 1) + i] = gleam__lower_bound(x->runs[r], &split, &c);
    }
    gleam__free(samples.rows);
    return 0;
}

/* >>closing and finishing ---------------------------------------------------------------- */

static void gleam__part_finish(gleam__job *job, void *arg, int j);

static void gleam__xchg_close(gleam__job *job, gleam__xchg *x, int side, int width) {
    int complete, j;
    pthread_mutex_lock(&x->mu);
    x->open[side]--;
    x->width[side] = GLEAM__MAX(x->width[side], width);
    if (x->open[1] == 0) x->build_done = 1;
    complete = x->open[0] == 0 && x->open[1] == 0;
    pthread_mutex_unlock(&x->mu);
    if (!complete) return;
    if (x->step->kind == GLEAM__SORT && gleam__split_runs(x)) {
        gleam__fail(x->parts[0].task, x->stage->nodes[0], GLEAM_ERR_NOMEM, "out of memory");
        return;
    }
    for (j = 0; j < x->nparts; j++) gleam__schedule(job, gleam__part_finish, x, j);
}

/* Sort the blocks of an ordered gather by producer. The sort is stable: the blocks of one
   producer arrive in order and stay so. 0, or -1 when out of memory (list unchanged). */
static int gleam__by_producer(gleam__block **list) {
    gleam__block **v, *c, *b = *list;
    size_t n = 0, i;
    for (c = b; c; c = c->next) n++;
    if (n < 2) return 0;
    if (!(v = (gleam__block **)gleam__malloc(n * sizeof *v))) return -1;
    for (i = 0, c = b; c; c = c->next) v[i++] = c;
    /* insertion sort: n is the number of blocks, small for a limit */
    for (i = 1; i < n; i++) {
        gleam__block *x = v[i];
        size_t k = i;
        while (k > 0 && v[k - 1]->producer > x->producer) {
            v[k] = v[k - 1];
            k--;
        }
        v[k] = x;
    }
    for (i = 0; i + 1 < n; i++) v[i]->next = v[i + 1];
    v[n - 1]->next = NULL;
    *list = v[0];
    gleam__free(v);
    return 0;
}

/* All producers closed: consume what is left in partition j, then finish its task. */
static void gleam__part_finish(gleam__job *job, void *arg, int j) {
    gleam__xchg *x = (gleam__xchg *)arg;
    gleam__part *pt = &x->parts[j];
    gleam__block *b0, *b1;
    gleam_result r;
    int k;
    pthread_mutex_lock(&pt->mu);
    while (pt->busy && !pt->aborted) pthread_cond_wait(&pt->cv, &pt->mu);
    pt->busy = 1;
    pt->finished = 1;
    b1 = gleam__take(pt, 1);
    b0 = gleam__take(pt, 0);
    pthread_mutex_unlock(&pt->mu);
    r = x->ordered && gleam__by_producer(&b0) ? gleam__nomem(pt->task->ops[0]) : GLEAM_OK;
    if (r >= 0) r = gleam__absorb_list(pt, b1);
    else gleam__blocks_free(b1);
    if (r >= 0) r = gleam__absorb_list(pt, b0);
    else gleam__blocks_free(b0);
    if (!pt->task->t0) pt->task->t0 = gleam__now();
    if (r >= 0) r = gleam__finish_task(pt->task);
    if (r < 0 && !gleam__aborted(job)) gleam__fail(pt->task, x->stage->nodes[0], r, "%s", gleam_result_str(r));
    gleam__task_release(pt->task);
    pthread_mutex_lock(&x->mu); /* the last partition done frees the sorted runs */
    if (++x->parts_done == x->nparts) {
        for (k = 0; k < x->nruns; k++) gleam__run_free(x->runs[k]);
        x->nruns = 0;
    }
    pthread_mutex_unlock(&x->mu);
    gleam__task_done(job);
}

/* >>writer: rows into per-partition blocks ----------------------------------------------- */

typedef struct gleam__writer {
    gleam__xchg *x;
    int side, producer, width;
    gleam__block **cur;     /* by partition */
} gleam__writer;

static int gleam__part_of(uint64_t h, int nparts) { return (int)(((h >> 32) * (uint64_t)nparts) >> 32); }

/* Room for a row of n values and `size` bytes in the block of `part` (a full block is
   pushed first); *at is where it goes. */
static gleam_result gleam__writer_room(gleam__op *op, gleam__writer *w, int part, int n, size_t size, char **at) {
    gleam__block *b = w->cur[part];
    gleam_result r;
    if (n > w->width) w->width = n;
    if (!b || b->cap - b->len < size) {
        if (b && (r = gleam__xchg_push(op, w->x, part, b)) < 0) {
            w->cur[part] = NULL;
            return r;
        }
        w->cur[part] = NULL;
        if (!(b = gleam__block_new(GLEAM__MAX(op->task->job->block_size, size))))
            return gleam__nomem(op);
        b->side = w->side;
        b->producer = w->producer;
        w->cur[part] = b;
    }
    *at = b->data + b->len;
    b->len += size;
    return GLEAM_OK;
}

static gleam_result gleam__write_row(gleam__op *op, gleam__writer *w, int part, const gleam_value *row, int n) {
    size_t size = gleam__row_size(row, n);
    char *at;
    gleam_result r = gleam__writer_room(op, w, part, n, size, &at);
    if (r < 0) return r;
    gleam__put_row(at, row, n);
    return GLEAM_OK;
}

/* Push every block under way and close this producer. */
static gleam_result gleam__writer_close(gleam__op *op, gleam__writer *w) {
    gleam_result r = GLEAM_OK;
    int j;
    for (j = 0; j < w->x->nparts; j++) {
        gleam__block *b = w->cur[j];
        w->cur[j] = NULL;
        if (!b) continue;
        if (r >= 0 && b->len) r = gleam__xchg_push(op, w->x, j, b);
        else gleam__block_free(b);
    }
    if (r >= 0) gleam__xchg_close(op->task->job, w->x, w->side, w->width);
    return r;
}

/* >>folding: reduce and reduce_by ------------------------------------------------------- */

/* The fields of row that are not key fields, in order, into out (resized). */
static int gleam__value_fields(const gleam_fields *key, const gleam_value *row, int n, gleam__vals *out) {
    int i, k, m = 0;
    if (gleam__vals_reserve(out, n)) return -1;
    for (i = 0; i < n; i++) {
        int is_key = 0;
        for (k = 0; k < key->n; k++) is_key |= key->f[k] == i + 1;
        if (!is_key) out->v[m++] = row[i];
    }
    out->n = m;
    return 0;
}

/* Copy the bytes of values into mem so they outlive the row. -1 when out of memory. */
static int gleam__own_values(gleam__arena *mem, gleam_value *v, int n) {
    int i;
    for (i = 0; i < n; i++)
        if ((v[i].type == GLEAM_BYTES || v[i].type == GLEAM_LIST) && v[i].len) {
            const char *p = (const char *)gleam__arena_dup(mem, v[i].u.s, v[i].len);
            if (!p) return -1;
            v[i].u.s = p;
        } else if (v[i].type == GLEAM_BYTES || v[i].type == GLEAM_LIST) {
            v[i].u.s = ""; /* empty: pointing into nothing that could be handed out again */
        }
    return 0;
}

/* After a reducer's call: its error as the job's, and bytes it left in acc owned by mem
   (old: the pointers acc held before, unless was_plain). */
GLEAM__OFFPATH gleam_result gleam__fold_after(gleam__op *op, gleam_value *acc, int n, gleam__arena *mem, int *plain,
                                      gleam_result r, int was_plain, const char *const *old) {
    const gleam__step *s = op->node->step;
    gleam__task *t = op->task;
    int i, m = n < GLEAM_MAX_FIELDS ? n : GLEAM_MAX_FIELDS;
    if (r < 0 && !gleam__aborted(t->job)) {
        if (t->has_usermsg) r = gleam__fail(t, op->node, r, "%s", t->usermsg);
        else r = gleam__fail(t, op->node, r, "reducer \"%s\" returned %s", s->fn_name, gleam_result_str(r));
    }
    *plain = 0;
    if (r >= 0)
        for (i = 0; i < n; i++) {
            gleam_value *a = &acc[i];
            /* An empty value must not keep pointing into scratch memory: the next call's
               scratch could start at that address, and its bytes then pass for the acc's own. */
            if (a->type >= GLEAM_BYTES && !a->len) a->u.s = "";
            if (a->type >= GLEAM_BYTES && a->len && (was_plain || i >= m || a->u.s != old[i]) && gleam__own_values(mem, a, 1)) {
                r = gleam__nomem(op);
                break;
            }
        }
    if (op->ctx.in_call & 2) gleam__arena_reset(&op->ctx.scratch);
    op->ctx.in_call = 0;
    return r < 0 ? r : GLEAM_OK;
}

/* Call the step's reducer on acc and x. *plain_out: it succeeded and left numbers only. */
static inline gleam_result gleam__reduce_call(gleam__op *op, gleam_value *acc, const gleam_value *x, int n, int *plain_out) {
    gleam_result r;
    int i;
    op->ctx.in_call = 1;
    op->task->has_usermsg = 0;
    r = op->node->step->fn->u.reducer(&op->ctx, acc, x, n);
    *plain_out = 0;
    if (r == GLEAM_OK && op->ctx.in_call == 1) {
        if (n == 1) i = acc[0].type < GLEAM_BYTES; /* a count, a sum: no loop */
        else
            for (i = 0; i < n && acc[i].type < GLEAM_BYTES; i++) {
            }
        if (i == n) { /* numbers out */
            *plain_out = 1;
            op->ctx.in_call = 0;
        }
    }
    return r;
}

/* acc = reducer(acc, x); bytes the reducer left pointing elsewhere are copied into mem.
   *plain says that acc holds no bytes or lists, before the call (then nothing needs
   remembering: the short path) and after it (the usual fold of numbers). */
GLEAM__OFFPATH gleam_result gleam__fold_bytes(gleam__op *op, gleam_value *acc, const gleam_value *x, int n, gleam__arena *mem,
                                      int *plain);

static inline gleam_result gleam__fold(gleam__op *op, gleam_value *acc, const gleam_value *x, int n, gleam__arena *mem,
                                       int *plain) {
    gleam_result r;
    int now_plain;
    if (!*plain) return gleam__fold_bytes(op, acc, x, n, mem, plain);
    r = gleam__reduce_call(op, acc, x, n, &now_plain);
    return now_plain ? GLEAM_OK : gleam__fold_after(op, acc, n, mem, plain, r, 1, NULL);
}

/* gleam__fold of an acc that may hold bytes (out of line: the short path is the usual). */
GLEAM__OFFPATH gleam_result gleam__fold_bytes(gleam__op *op, gleam_value *acc, const gleam_value *x, int n, gleam__arena *mem,
                                      int *plain) {
    const char *old[GLEAM_MAX_FIELDS];
    gleam_result r;
    int i, m = n < GLEAM_MAX_FIELDS ? n : GLEAM_MAX_FIELDS, now_plain;
    for (i = 0; i < m; i++) old[i] = acc[i].u.s;
    r = gleam__reduce_call(op, acc, x, n, &now_plain);
    if (now_plain) {
        *plain = 1;
        return GLEAM_OK;
    }
    return gleam__fold_after(op, acc, n, mem, plain, r, 0, old);
}

/* The payload of a fold table's entry. A fold of a few numbers (a count, a sum, a minimum:
   the usual case) keeps them as 8-byte numbers with their 2-bit types in the header
   (GLEAM__ACC_NUMS): half the memory of gleam_values, so a combine table holds more keys
   between flushes and a consumer's table leaves the cache later. Other folds keep
   gleam_values (GLEAM__ACC_VALUES). A numbers entry whose reducer leaves bytes in it moves
   to a values entry made then (GLEAM__ACC_MOVED: its address in u.moved). */
#define GLEAM__NUMS_MAX 8
enum { GLEAM__ACC_VALUES, GLEAM__ACC_NUMS, GLEAM__ACC_MOVED };

typedef struct gleam__acc {
    uint32_t n;             /* values */
    uint8_t form;           /* GLEAM__ACC_* */
    uint8_t plain;          /* VALUES: no bytes or lists among them */
    uint16_t types;         /* NUMS: the type of value i in bits 2i and 2i+1 */
    union {
        gleam_value v[1];   /* VALUES */
        int64_t num[1];     /* NUMS: u.i, or the bits of u.d */
        struct gleam__acc *moved;
    } u;
} gleam__acc;

static size_t gleam__acc_size(int nv, int nums) {
    return offsetof(gleam__acc, u) + (size_t)nv * (nums ? sizeof(int64_t) : sizeof(gleam_value));
}

/* nv values that a numbers entry can hold. */
static inline int gleam__nums_fit(const gleam_value *v, int nv) {
    int i, ok = nv >= 1 && nv <= GLEAM__NUMS_MAX;
    for (i = 0; ok && i < nv; i++) ok = v[i].type < GLEAM_BYTES;
    return ok;
}

static inline void gleam__nums_get(const gleam__acc *a, gleam_value *out) {
    uint32_t i;
    if (a->n == 1) { /* a count, a sum: no loop */
        out[0].type = (gleam_type)a->types;
        out[0].len = 0;
        out[0].u.i = a->u.num[0];
        return;
    }
    for (i = 0; i < a->n; i++) {
        out[i].type = (gleam_type)(a->types >> (2 * i) & 3);
        out[i].len = 0;
        out[i].u.i = a->u.num[i];
    }
}

static inline void gleam__nums_put(gleam__acc *a, const gleam_value *v) {
    uint32_t i;
    unsigned types = 0;
    if (a->n == 1) {
        a->types = (uint16_t)v[0].type;
        a->u.num[0] = v[0].u.i;
        return;
    }
    for (i = 0; i < a->n; i++) {
        types |= (unsigned)v[i].type << (2 * i);
        a->u.num[i] = v[i].u.i;
    }
    a->types = (uint16_t)types;
}

/* The entry's values: its own, or unpacked into tmp (room for GLEAM__NUMS_MAX). */
static const gleam_value *gleam__acc_values(const gleam__acc *a, gleam_value *tmp) {
    if (a->form == GLEAM__ACC_MOVED) a = a->u.moved;
    if (a->form == GLEAM__ACC_VALUES) return a->u.v;
    gleam__nums_get(a, tmp);
    return tmp;
}

/* Start fetching a fold entry of a key of klen bytes and nv values: its first line, and
   its last when that is another. The last is reckoned from the row's values as a numbers
   entry (which a bad row may have more of than the entry: an address in integers, then,
   never a pointer past the entry). */
#define GLEAM__PREFETCH_FOLD(e, klen, nv)                                                          \
    do {                                                                                           \
        const char *e_ = (e);                                                                      \
        uintptr_t l_ = (uintptr_t)e_ + gleam__payload_offset(klen) + offsetof(gleam__acc, u) +     \
                       (size_t)(nv) * ((nv) <= GLEAM__NUMS_MAX ? 8 : sizeof(gleam_value)) - 1;     \
        GLEAM__PREFETCH(e_);                                                                       \
        GLEAM__PREFETCH((const void *)l_);                                                         \
    } while (0)

/* A numbers entry's reducer failed, used scratch memory or left bytes: its error, the
   numbers kept, or the entry moved to values. */
GLEAM__OFFPATH gleam_result gleam__nums_move(gleam__op *op, gleam__table *t, gleam__acc *a, gleam_value *acc,
                                            gleam_result r) {
    gleam__acc *b;
    int plain;
    if (r < 0 || gleam__nums_fit(acc, (int)a->n)) { /* an error, or numbers after scratch was used */
        if ((r = gleam__fold_after(op, acc, (int)a->n, &t->mem, &plain, r, 1, NULL)) >= 0) gleam__nums_put(a, acc);
        return r;
    }
    if (!(b = (gleam__acc *)gleam__arena_alloc(&t->mem, gleam__acc_size((int)a->n, 0)))) {
        if (op->ctx.in_call & 2) gleam__arena_reset(&op->ctx.scratch);
        op->ctx.in_call = 0;
        return gleam__nomem(op);
    }
    b->n = a->n;
    b->form = GLEAM__ACC_VALUES;
    memcpy(b->u.v, acc, a->n * sizeof(gleam_value));
    if ((r = gleam__fold_after(op, b->u.v, (int)a->n, &t->mem, &plain, r, 1, NULL)) < 0) return r;
    b->plain = (uint8_t)plain;
    a->form = GLEAM__ACC_MOVED;
    a->u.moved = b;
    return GLEAM_OK;
}

/* Fold values v into table t under the packed key (hash h). A table's first keys (in a
   skewed input the frequent ones, folded most) keep gleam_values, folded in place; keys
   made after GLEAM__NUMS_AFTER others, where memory counts, keep numbers compactly. */
#ifndef GLEAM__NUMS_AFTER
#define GLEAM__NUMS_AFTER 4096
#endif
GLEAM__ROWPATH gleam_result gleam__fold_packed(gleam__op *op, gleam__table *t, uint64_t h, const char *key, uint32_t klen,
                                       const gleam_value *v, int nv) {
    int plain;
    size_t at;
    gleam_result r;
    gleam__acc *a = (gleam__acc *)gleam__table_probe(t, h, key, klen, &at);
    if (!a) {
        int i, made, nums = t->count + 1 > (size_t)GLEAM__NUMS_AFTER && gleam__nums_fit(v, nv);
        if (!(a = (gleam__acc *)gleam__table_insert(t, at, h, key, klen, gleam__acc_size(nv, nums), &made)))
            return gleam__nomem(op);
        a->n = (uint32_t)nv;
        if (nums) {
            a->form = GLEAM__ACC_NUMS;
            gleam__nums_put(a, v);
            return GLEAM_OK;
        }
        a->form = GLEAM__ACC_VALUES;
        if (nv) memcpy(a->u.v, v, (size_t)nv * sizeof(gleam_value));
        for (i = 0, plain = 1; i < nv; i++) plain &= v[i].type < GLEAM_BYTES;
        a->plain = (uint8_t)plain; /* numbers only: its folds take the short path from the first */
        if (!plain && gleam__own_values(&t->mem, a->u.v, nv)) return gleam__nomem(op);
        return GLEAM_OK;
    }
    if (a->n != (uint32_t)nv)
        return gleam__fail(op->task, op->node, GLEAM_ERR_INPUT, "rows of one key have %u and %d values to fold", a->n, nv);
    if (a->form == GLEAM__ACC_NUMS) {
        gleam_value acc[GLEAM__NUMS_MAX];
        gleam__nums_get(a, acc);
        r = gleam__reduce_call(op, acc, v, nv, &plain);
        if (!plain) return gleam__nums_move(op, t, a, acc, r);
        gleam__nums_put(a, acc);
        return GLEAM_OK;
    }
    if (a->form == GLEAM__ACC_MOVED) a = a->u.moved;
    plain = a->plain;
    r = gleam__fold(op, a->u.v, v, nv, &t->mem, &plain);
    a->plain = (uint8_t)plain;
    return r;
}

/* Fold a row into table t under its `key` fields. */
static gleam_result gleam__fold_row(gleam__op *op, gleam__table *t, const gleam_fields *key, const gleam_value *row, int n) {
    uint64_t h;
    gleam_result r;
    const gleam_value *v;
    int nv;
    if ((r = gleam__pack_key(op, key, row, n, &h)) != GLEAM_OK) return r;
    if (key->n == 1 && key->f[0] == 1) { /* the values follow the key: no copy */
        v = row + 1;
        nv = n - 1;
    } else {
        if (gleam__value_fields(key, row, n, &op->vals)) return gleam__nomem(op);
        v = op->vals.v;
        nv = op->vals.n;
    }
    return gleam__fold_packed(op, t, h, op->key.p, (uint32_t)op->key.len, v, nv);
}

/* Rebuild the row of a fold-table entry (key fields first) into op->vals. */
static gleam_result gleam__entry_row(gleam__op *op, char *e) {
    const char *key, *p;
    size_t klen = gleam__entry_key(e, &key);
    const gleam__acc *a = (const gleam__acc *)gleam__entry_payload(e);
    const gleam_value *v;
    int nk = op->node->step->key.n, i;
    p = key;
    if (gleam__vals_reserve(&op->vals, nk + (int)a->n)) return gleam__nomem(op);
    for (i = 0; i < nk; i++) gleam__unpack_value(&p, key + klen, &op->vals.v[i]);
    if ((v = gleam__acc_values(a, op->vals.v + nk)) != op->vals.v + nk) memcpy(op->vals.v + nk, v, a->n * sizeof(gleam_value));
    op->vals.n = nk + (int)a->n;
    return GLEAM_OK;
}

/* >>producers ---------------------------------------------------------------------------- */

/* reduce_by's producer folds rows GLEAM__BATCH at a time, in a pipeline: a row's table
   slot is fetched when it arrives and its entry GLEAM__LAG rows later; when the batch is
   full, all but its last GLEAM__LAG rows are folded (so at least GLEAM__LAG folds come
   between fetching an entry and using it) and those wait for the next batch. */
#define GLEAM__BATCH 32
#define GLEAM__LAG 8
/* The bytes a map-side combine table holds before it is sent on. Each byte of a table is
   memory touched for the first time, which costs a virtual machine dearly: at 32 MB a
   2.4 M-word count took 0.89x the time of 64 MB and a 1 M-key group by 0.95x; a 4 M-key
   group by is the same either way (1.01x), and so is an 85 k-word count. */
#ifndef GLEAM__COMBINE_MAX
#define GLEAM__COMBINE_MAX (32u << 20)
#endif

typedef struct gleam__prod {
    gleam__op op;
    gleam__writer w;
    gleam__table table;     /* reduce_by: combine; distinct: seen */
    gleam__run *run;        /* sort, top */
    gleam__cmp cmp;
    gleam__vals acc;        /* reduce */
    gleam__arena accmem;
    int have_acc, acc_plain;
    int spilled;            /* sort: some runs went to disk */
    int64_t count;          /* limit */
    size_t combine_limit;
    int key_first;          /* reduce_by: the key is field 1 alone, the values follow it */
    /* reduce_by: rows waiting to be folded, their table slots already being fetched */
    struct gleam__pend {
        uint64_t h, in_off;
        size_t key;         /* offset in bkeys */
        uint32_t klen;
        int val, nv;        /* bvals[val .. val+nv) */
    } pend[GLEAM__BATCH];
    int npend;
    const char *pend_path;  /* the file they were read from, for an error: it may be done */
    int pend_stream;
    gleam__buf bkeys;
    gleam_value bvals[GLEAM__BATCH * 8];
} gleam__prod;

/* Fold the waiting rows but the last `keep`, which move to the front of the batch. */
static gleam_result gleam__prod_fold_pending(gleam__prod *p, int keep) {
    gleam__op *op = &p->op;
    gleam__table *t = &p->table;
    gleam__task *task = op->task;
    uint64_t in_off = task->in_off;
    const char *in_path = task->in_path;
    gleam_result r = GLEAM_OK;
    int i, n = p->npend - keep, in_stream = task->in_stream;
    for (i = GLEAM__MAX(0, p->npend - GLEAM__LAG); i < n; i++) { /* rows whose entries are not on their way */
        const gleam__slot *sl = &t->slots[p->pend[i].h & t->mask];
        if (sl->e) GLEAM__PREFETCH_FOLD(sl->e, p->pend[i].klen, p->pend[i].nv);
    }
    task->in_path = p->pend_path; /* an error names the row's file and line */
    task->in_stream = p->pend_stream;
    for (i = 0; i < n && r == GLEAM_OK; i++) {
        struct gleam__pend *q = &p->pend[i];
        task->in_off = q->in_off;
        r = gleam__fold_packed(op, t, q->h, p->bkeys.p + q->key, q->klen, p->bvals + q->val, q->nv);
    }
    task->in_off = in_off;
    task->in_path = in_path;
    task->in_stream = in_stream;
    if (keep && r == GLEAM_OK) {
        struct gleam__pend *q = &p->pend[n];
        size_t k0 = q->key;
        int v0 = q->val, nvals = q[keep - 1].val + q[keep - 1].nv - v0;
        memmove(p->bkeys.p, p->bkeys.p + k0, p->bkeys.len - k0);
        p->bkeys.len -= k0;
        memmove(p->bvals, p->bvals + v0, (size_t)nvals * sizeof *p->bvals);
        for (i = 0; i < keep; i++) {
            q[i].key -= k0;
            q[i].val -= v0;
        }
        memmove(p->pend, q, (size_t)keep * sizeof *q);
        p->npend = keep;
        return GLEAM_OK;
    }
    p->npend = 0;
    p->bkeys.len = 0;
    return r;
}

/* Hand a sorted run to the sort's exchange. */
static gleam_result gleam__xchg_add_run(gleam__op *op, gleam__xchg *x, gleam__run *run) {
    int added = 0;
    pthread_mutex_lock(&x->mu);
    if (x->nruns == x->capruns) {
        int cap = x->capruns ? x->capruns * 2 : 8;
        gleam__run **rs = (gleam__run **)gleam__realloc(x->runs, (size_t)cap * sizeof *rs);
        if (rs) {
            x->runs = rs;
            x->capruns = cap;
        }
    }
    if (x->nruns < x->capruns) {
        x->runs[x->nruns++] = run;
        x->ndisk += run->file != NULL;
        added = 1;
    }
    pthread_mutex_unlock(&x->mu);
    if (added) return GLEAM_OK;
    gleam__run_free(run);
    return gleam__nomem(op);
}

/* With 2 * GLEAM__MERGE_WAY runs on disk, merge GLEAM__MERGE_WAY of them into one, so the
   files open and the ways of the final merge stay bounded however big the input. */
static gleam_result gleam__xchg_compact(gleam__op *op, gleam__xchg *x, const gleam__cmp *cmp) {
    gleam__run *batch[GLEAM__MERGE_WAY], *d;
    int i, n = 0, failed, e;
    pthread_mutex_lock(&x->mu);
    if (x->ndisk >= 2 * GLEAM__MERGE_WAY) { /* take a batch out; the others go on meanwhile */
        int k = 0;
        for (i = 0; i < x->nruns; i++)
            if (x->runs[i]->file && n < GLEAM__MERGE_WAY) batch[n++] = x->runs[i];
            else x->runs[k++] = x->runs[i];
        x->nruns = k;
    }
    pthread_mutex_unlock(&x->mu);
    if (!n) return GLEAM_OK;
    failed = gleam__runs_compact(batch, n, cmp, op->task->job->opt.tmpdir, &d);
    e = errno;
    pthread_mutex_lock(&x->mu);
    x->ndisk -= n;
    pthread_mutex_unlock(&x->mu);
    if (failed) {
        errno = e;
        return gleam__spill_fail(op, "merge");
    }
    return gleam__xchg_add_run(op, x, d);
}

/* Write the sort producer's rows so far to disk as one more run. */
static gleam_result gleam__prod_spill(gleam__prod *p) {
    gleam__run *d;
    gleam_result r;
    p->op.bytes += p->run->mem.used;
    if (gleam__run_spill(p->run, &p->cmp, p->op.task->job->opt.tmpdir, &d)) return gleam__spill_fail(&p->op, "write");
    p->spilled = 1;
    if ((r = gleam__xchg_add_run(&p->op, p->w.x, d)) != GLEAM_OK) return r;
    return gleam__xchg_compact(&p->op, p->w.x, &p->cmp);
}

/* A fold-table entry as a row, its key fields then its values, into the block of part:
   the key goes as it is packed in the entry. */
static gleam_result gleam__write_entry(gleam__op *op, gleam__writer *w, int part, char *e, int nk) {
    const char *key;
    size_t klen = gleam__entry_key(e, &key), size;
    const gleam__acc *a = (const gleam__acc *)gleam__entry_payload(e);
    gleam_value tmp[GLEAM__NUMS_MAX];
    const gleam_value *v = gleam__acc_values(a, tmp);
    int n = nk + (int)a->n, i;
    unsigned char *q;
    char *at;
    gleam_result r;
    size = gleam__array_hdr((uint32_t)n) + klen;
    for (i = 0; i < (int)a->n; i++) size += gleam__packed_size(v[i]);
    if ((r = gleam__writer_room(op, w, part, n, size, &at)) < 0) return r;
    q = gleam__put_array((unsigned char *)at, (uint32_t)n);
    memcpy(q, key, klen);
    q += klen;
    for (i = 0; i < (int)a->n; i++) q = gleam__put_value(q, v[i]);
    return GLEAM_OK;
}

static gleam_result gleam__prod_flush_table(gleam__prod *p) {
    gleam__op *op = &p->op;
    size_t i;
    gleam_result r;
    int nk = op->node->step->key.n;
    for (i = 0; i <= p->table.mask; i++) {
        char *e = p->table.slots[i].e;
        GLEAM__TABLE_AHEAD(&p->table, i);
        if (!e) continue;
        if ((r = gleam__write_entry(op, &p->w, gleam__part_of(p->table.slots[i].h, p->w.x->nparts), e, nk)) < 0) return r;
    }
    gleam__table_clear(&p->table); /* to be refilled at once: keep its memory */
    return GLEAM_OK;
}

/* reduce_by's producer: fold each row into the combine table, a batch at a time. */
static gleam_result gleam__prod_push_reduce_by(gleam__op *op, const gleam_value *row, int n) {
    gleam__prod *p = (gleam__prod *)op;
    const gleam__step *s = op->node->step;
    gleam_result r;
    uint64_t h;
    int i, nv = n - 1, plain = p->key_first && n >= 1 && nv <= 8;
    if (nv == 1) plain = plain && row[1].type < GLEAM_BYTES; /* a count, a sum: no loop */
    else
        for (i = 1; plain && i < n; i++) plain = row[i].type < GLEAM_BYTES;
    if (!plain) { /* values that point into the input: fold now */
        if (p->npend && (r = gleam__prod_fold_pending(p, 0)) != GLEAM_OK) return r;
        if ((r = gleam__fold_row(op, &p->table, &s->key, row, n)) != GLEAM_OK) return r;
    } else { /* keep the row (its key packed) and start fetching its slot */
        struct gleam__pend *q;
        int at;
        if (!p->npend || op->task->in_path != p->pend_path) { /* the waiting rows are all of one file */
            if (p->npend && (r = gleam__prod_fold_pending(p, 0)) != GLEAM_OK) return r;
            p->pend_path = op->task->in_path;
            p->pend_stream = op->task->in_stream;
        }
        q = &p->pend[p->npend];
        at = p->npend ? q[-1].val + q[-1].nv : 0;
        q->key = p->bkeys.len; /* the key packed straight into the batch's buffer */
        if ((r = gleam__pack_key_to(op, &s->key, row, n, &p->bkeys, &h)) != GLEAM_OK) return r;
        q->klen = (uint32_t)(p->bkeys.len - q->key);
        q->h = h;
        q->val = at;
        q->in_off = op->task->in_off;
        q->nv = nv;
        if (nv == 1) p->bvals[at] = row[1]; /* a count, a sum */
        else
            for (i = 0; i < nv; i += 2) { /* a few values: two at a time, not a string copy's start-up */
                p->bvals[at + i] = row[1 + i];
                if (i + 1 < nv) p->bvals[at + i + 1] = row[2 + i];
            }
        GLEAM__PREFETCH(&p->table.slots[h & p->table.mask]);
        if (p->npend >= GLEAM__LAG) { /* the slot of the row GLEAM__LAG back has come: fetch its entry */
            const gleam__slot *sl = &p->table.slots[q[-GLEAM__LAG].h & p->table.mask];
            if (sl->e) GLEAM__PREFETCH_FOLD(sl->e, q[-GLEAM__LAG].klen, q[-GLEAM__LAG].nv);
        }
        if (++p->npend < GLEAM__BATCH) return GLEAM_OK; /* the table grows only when rows fold */
        if ((r = gleam__prod_fold_pending(p, GLEAM__LAG)) != GLEAM_OK) return r;
    }
    GLEAM__NOTE_PEAK(op, p->table.mem.bytes);
    if (gleam__table_bytes(&p->table) > p->combine_limit) {
        if (p->npend && (r = gleam__prod_fold_pending(p, 0)) != GLEAM_OK) return r;
        return gleam__prod_flush_table(p);
    }
    return GLEAM_OK;
}

static gleam_result gleam__prod_push(gleam__op *op, const gleam_value *row, int n) {
    gleam__prod *p = (gleam__prod *)op;
    const gleam__step *s = op->node->step;
    gleam_result r;
    uint64_t h;
    int made;
    switch (s->kind) { /* reduce_by has its own push, gleam__prod_push_reduce_by */
    case GLEAM__REDUCE:
        if (!p->have_acc) {
            if (gleam__vals_reserve(&p->acc, n)) return gleam__nomem(op);
            memcpy(p->acc.v, row, (size_t)n * sizeof *row);
            p->acc.n = n;
            p->have_acc = 1;
            return gleam__own_values(&p->accmem, p->acc.v, n) ? gleam__nomem(op) : GLEAM_OK;
        }
        if (n != p->acc.n)
            return gleam__fail(op->task, op->node, GLEAM_ERR_INPUT, "rows have %d and %d values to fold", p->acc.n, n);
        return gleam__fold(op, p->acc.v, row, n, &p->accmem, &p->acc_plain);
    case GLEAM__SORT:
        if ((r = gleam__run_push(op, p->run, &p->cmp, -1, row, n)) != GLEAM_OK) return r;
        GLEAM__NOTE_PEAK(op, gleam__run_bytes(p->run));
        return gleam__run_bytes(p->run) > op->task->job->share ? gleam__prod_spill(p) : GLEAM_OK;
    case GLEAM__TOP:
        return gleam__run_push(op, p->run, &p->cmp, s->k, row, n);
    case GLEAM__LIMIT:
        if (p->count >= s->k) return GLEAM_DONE;
        p->count++;
        if ((r = gleam__write_row(op, &p->w, 0, row, n)) < 0) return r;
        return p->count >= s->k ? GLEAM_DONE : GLEAM_OK;
    case GLEAM__DISTINCT:
        if (s->whole_row) {
            op->key.len = 0;
            if (gleam__pack_row(&op->key, row, n)) return gleam__nomem(op);
            h = gleam__hash(op->key.p, op->key.len);
        } else if ((r = gleam__pack_key(op, &s->key, row, n, &h)) != GLEAM_OK) {
            return r;
        }
        if (gleam__table_bytes(&p->table) > p->combine_limit) gleam__table_clear(&p->table); /* forget what was seen, keep memory bounded */
        if (!gleam__table_upsert(&p->table, h, op->key.p, (uint32_t)op->key.len, 0, &made))
            return gleam__nomem(op);
        if (!made) return GLEAM_OK;
        return gleam__write_row(op, &p->w, gleam__part_of(h, p->w.x->nparts), row, n);
    default: /* group_by, join, cogroup, partition: hash-partition by key */
        if ((r = gleam__pack_key(op, &s->key, row, n, &h)) != GLEAM_OK) return r;
        return gleam__write_row(op, &p->w, gleam__part_of(h, p->w.x->nparts), row, n);
    }
}

static gleam_result gleam__prod_finish(gleam__op *op) {
    gleam__prod *p = (gleam__prod *)op;
    const gleam__step *s = op->node->step;
    gleam_result r = GLEAM_OK;
    size_t i;
    switch (s->kind) {
    case GLEAM__REDUCE_BY:
        if (p->npend && (r = gleam__prod_fold_pending(p, 0)) != GLEAM_OK) return r;
        r = gleam__prod_flush_table(p);
        break;
    case GLEAM__REDUCE:
        if (p->have_acc) r = gleam__write_row(op, &p->w, 0, p->acc.v, p->acc.n);
        break;
    case GLEAM__TOP:
        if (gleam__run_sort(p->run, &p->cmp)) return gleam__nomem(op);
        for (i = 0; i < p->run->n && (int64_t)i < s->k && r >= 0; i++) {
            const char *q = p->run->rows[i].row;
            if (gleam__unpack_row(&q, GLEAM__NOEND(q), &op->vals) != GLEAM_OK) return gleam__nomem(op);
            r = gleam__write_row(op, &p->w, 0, op->vals.v, op->vals.n);
        }
        break;
    case GLEAM__SORT:
        if (p->spilled) { /* the rest to disk as well: the merge then holds little memory */
            if (p->run->n && (r = gleam__prod_spill(p)) != GLEAM_OK) return r;
            break;
        }
        if (gleam__run_sort(p->run, &p->cmp)) return gleam__nomem(op);
        op->bytes += p->run->mem.used;
        if ((r = gleam__xchg_add_run(op, p->w.x, p->run)) != GLEAM_OK) {
            p->run = NULL;
            return r;
        }
        p->run = NULL;
        break;
    default: break;
    }
    if (r < 0) return r;
    return gleam__writer_close(op, &p->w);
}

static void gleam__prod_free(gleam__op *op) {
    gleam__prod *p = (gleam__prod *)op;
    int j;
    if (p->w.cur) {
        for (j = 0; j < p->w.x->nparts; j++) gleam__block_free(p->w.cur[j]);
        gleam__free(p->w.cur);
    }
    gleam__table_free(&p->table);
    gleam__run_free(p->run);
    gleam__vals_free(&p->acc);
    gleam__arena_free(&p->accmem);
    gleam__buf_free(&p->bkeys);
}

static gleam__op *gleam__make_producer(gleam__task *t, gleam__node *node) {
    gleam__prod *p = (gleam__prod *)gleam__op_alloc(t, node, sizeof(gleam__prod));
    gleam__step *s = node->step;
    int i;
    if (!p) return NULL;
    p->op.push = s->kind == GLEAM__REDUCE_BY ? gleam__prod_push_reduce_by : gleam__prod_push;
    p->op.finish = gleam__prod_finish;
    p->op.free = gleam__prod_free;
    p->w.x = t->job->plan->xchgs[s->id];
    p->w.side = node->side;
    p->w.producer = t->shard + node->offset;
    p->combine_limit = GLEAM__MIN((size_t)GLEAM__COMBINE_MAX, t->job->share / 2);
    p->key_first = s->key.n == 1 && s->key.f[0] == 1;
    p->cmp.order = &s->order;
    for (i = 0; i < s->order.n; i++) p->cmp.maxfield = GLEAM__MAX(p->cmp.maxfield, s->order.by[i].field);
    if (!(p->w.cur = (gleam__block **)gleam__calloc((size_t)p->w.x->nparts, sizeof *p->w.cur))) goto fail;
    if ((s->kind == GLEAM__REDUCE_BY || s->kind == GLEAM__DISTINCT) && gleam__table_init(&p->table, 16)) goto fail;
    if ((s->kind == GLEAM__SORT || s->kind == GLEAM__TOP) && !(p->run = gleam__run_new())) goto fail;
    return &p->op;
fail:
    gleam__prod_free(&p->op);
    gleam__free(p);
    return NULL;
}

/* >>consumers ---------------------------------------------------------------------------- */

/* A list of packed elements kept per key (group_by, cogroup, the right side of a join). */
typedef struct gleam__elem {
    struct gleam__elem *next;
    uint32_t len;
    unsigned char is_row;   /* data is a packed row of values, else one packed value */
    char data[1];
} gleam__elem;

typedef struct gleam__elems {
    gleam__elem *first, *last;
    uint32_t count;
    int matched;            /* join: some left row matched this key */
} gleam__elems;

typedef struct gleam__cons {
    gleam__op op;
    gleam__xchg *x;
    gleam__table table;
    gleam__run *run;
    gleam__cmp cmp;
    gleam__vals acc, row2, in;
    gleam_fields lead;      /* fields 1..k: where a reduce_by's key is after the shuffle */
    gleam__arena accmem;
    int have_acc, acc_plain;
    int64_t count;
    gleam__buf tmp;
    gleam__spill *sub;      /* past its share: GLEAM__FANOUT files of rows, by key hash */
    int probing;            /* join, spilled: left rows go to the files */
    int replay;             /* reading the files back */
    gleam__buf rec;         /* a record on its way to a file */
    gleam__buf hs;          /* the keys of a block's rows: gleam__bkey each */
    gleam__vals canon;
    /* join: probes gathered from many blocks, then made in slot order (>>sweeps) */
    gleam__block *held;     /* the blocks they point into */
    size_t held_bytes;
    gleam__buf sweep, sweep_tmp; /* gleam__probe each */
    size_t nsweep;
    int laid_out;           /* the build side's entries were copied in slot order (or not) */
    char *layout;           /* into this block, then */
    size_t layout_len;
} gleam__cons;

#define GLEAM__FANOUT 16
/* How far ahead a consumer fetches, in rows of a block: the slot of row i+32, the entry of
   row i+16 (its slot has arrived by then), a join's first right row of row i+8. Fetching
   every slot of a block at once overflows the cache before the rows get there. */
#define GLEAM__PF1 32
#define GLEAM__PF2 16
#define GLEAM__PF3 8
static int gleam__sub_of(uint64_t h) { return (int)((h >> 20) & (GLEAM__FANOUT - 1)); }

/* Append the value fields of a row to a key's list: the value itself when there is one,
   else a list of them (as Gleam's GroupByKey does). */
static gleam_result gleam__elems_add(gleam__cons *c, gleam__elems *l, const gleam_value *v, int n, int as_row) {
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

/* Decode the key bytes of an entry into out[0..nk). */
static void gleam__key_values(char *e, gleam_value *out, int nk) {
    const char *key, *p;
    size_t klen = gleam__entry_key(e, &key);
    int i;
    p = key;
    for (i = 0; i < nk; i++) gleam__unpack_value(&p, key + klen, &out[i]);
}

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

/* >>consumer spilling: past its share, a consumer's table goes to GLEAM__FANOUT files by key
   hash, as rows with the key fields first (and a side byte); so does every later row that
   cannot be folded into the table. At the end each file is read back alone: a sixteenth of
   the keys at a time. */

static size_t gleam__table_bytes(const gleam__table *t) { return t->mem.used + (t->mask + 1) * sizeof(gleam__slot); }

static gleam_result gleam__sub_open(gleam__cons *c) {
    int i;
    if (!(c->sub = (gleam__spill *)gleam__calloc(GLEAM__FANOUT, sizeof *c->sub))) return gleam__nomem(&c->op);
    for (i = 0; i < GLEAM__FANOUT; i++) c->sub[i].fd = -1;
    for (i = 0; i < GLEAM__FANOUT; i++)
        if (gleam__spill_open(&c->sub[i], c->op.task->job->opt.tmpdir)) return gleam__spill_fail(&c->op, "make");
    return GLEAM_OK;
}

/* Append [side, row] to sub-file f, opening the files on first use. */
static gleam_result gleam__spill_row(gleam__cons *c, int f, int side, const gleam_value *row, int n) {
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
static gleam_result gleam__spill_canon(gleam__cons *c, uint64_t h, int side, const gleam_value *row, int n,
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
        memcpy(v->v + nk, c->row2.v, (size_t)c->row2.n * sizeof *v->v);
        return gleam__spill_row(c, f, side, v->v, nk + c->row2.n);
    }
    if (gleam__vals_reserve(v, nk + 1)) return gleam__nomem(&c->op);
    if (gleam__unpack_value(&p, p + e->len, &v->v[nk]) != GLEAM_OK) return gleam__nomem(&c->op);
    return gleam__spill_row(c, f, side, v->v, nk + 1);
}

/* Write the table's contents to the files and empty it. */
/* A consumer's empty table. A reduce_by's is dense (3/4 full before it grows, not 1/2): its
   folds mostly find their key, so the longer probes cost little, and the slots of millions
   of keys take less fresh memory, which a virtual machine makes dear; a join's probes of
   keys it lacks would run long. */
static int gleam__cons_table(gleam__cons *c) {
    if (gleam__table_init(&c->table, 16)) return -1;
    c->table.dense = c->op.node->step->kind == GLEAM__REDUCE_BY;
    return 0;
}

static gleam_result gleam__spill_table(gleam__cons *c) {
    gleam__op *op = &c->op;
    const gleam__step *s = op->node->step;
    int nk = s->key.n, k;
    size_t i;
    gleam_result r = c->sub ? GLEAM_OK : gleam__sub_open(c);
    for (i = 0; i <= c->table.mask && r == GLEAM_OK; i++) {
        char *e = c->table.slots[i].e;
        int f = gleam__sub_of(c->table.slots[i].h);
        GLEAM__TABLE_AHEAD(&c->table, i);
        if (!e) continue;
        switch (s->kind) {
        case GLEAM__REDUCE_BY:
            if ((r = gleam__entry_row(op, e)) == GLEAM_OK) r = gleam__spill_row(c, f, 0, op->vals.v, op->vals.n);
            break;
        case GLEAM__DISTINCT: { /* keys already emitted: side 1, the key bytes as one value */
            const char *key;
            size_t klen = gleam__entry_key(e, &key);
            gleam_value kv;
            kv.type = GLEAM_BYTES;
            kv.len = (uint32_t)klen;
            kv.u.s = key;
            r = gleam__spill_row(c, f, 1, &kv, 1);
            break;
        }
        default: { /* group_by, cogroup: both lists; join: the build side */
            gleam__elems *l = (gleam__elems *)gleam__entry_payload(e);
            int lists = s->kind == GLEAM__COGROUP ? 2 : 1;
            if (gleam__vals_reserve(&c->canon, nk + 1)) return gleam__nomem(op);
            for (k = 0; k < lists && r == GLEAM_OK; k++) {
                const gleam__elem *el;
                for (el = l[k].first; el && r == GLEAM_OK; el = el->next) {
                    gleam__key_values(e, c->canon.v, nk); /* again: unpacking an element may move canon */
                    r = gleam__spill_elem(c, f, s->kind == GLEAM__JOIN ? 1 : k, nk, el);
                }
            }
            break;
        }
        }
    }
    if (r != GLEAM_OK) return r;
    gleam__table_free(&c->table);
    return gleam__cons_table(c) ? gleam__nomem(op) : GLEAM_OK;
}

/* A row's packed key, as its block holds it, and the key's hash. */
typedef struct gleam__bkey {
    const char *p;
    uint32_t len;
    uint32_t nf;            /* the row's number of values */
    uint64_t h;
    const char *row;        /* where the row starts */
} gleam__bkey;

/* The packed key of a row and its hash: bk when its block gave it, else packed into
   op->key. */
static gleam_result gleam__cons_key(gleam__cons *c, const gleam__bkey *bk, const gleam_fields *key,
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

/* Take one row from side `side` of the exchange (bk: its key from the block, or NULL). */
static gleam_result gleam__cons_take(gleam__cons *c, int side, const gleam_value *row, int n, const gleam_fields *key,
                                     const gleam__bkey *bk) {
    gleam__op *op = &c->op;
    const gleam__step *s = op->node->step;
    gleam_result r;
    uint64_t h;
    const char *k;
    uint32_t klen;
    int made;
    switch (s->kind) {
    case GLEAM__REDUCE_BY: /* partial folds arrive as key fields first, then values */
        if (bk) return gleam__fold_packed(op, &c->table, bk->h, bk->p, bk->len, row + c->lead.n, n - c->lead.n);
        return gleam__fold_row(op, &c->table, &c->lead, row, n);
    case GLEAM__REDUCE:
        if (!c->have_acc) {
            if (gleam__vals_reserve(&c->acc, n)) return gleam__nomem(op);
            memcpy(c->acc.v, row, (size_t)n * sizeof *row);
            c->acc.n = n;
            c->have_acc = 1;
            return gleam__own_values(&c->accmem, c->acc.v, n) ? gleam__nomem(op) : GLEAM_OK;
        }
        if (n != c->acc.n) return gleam__fail(op->task, op->node, GLEAM_ERR_INPUT, "rows have %d and %d values to fold", c->acc.n, n);
        return gleam__fold(op, c->acc.v, row, n, &c->accmem, &c->acc_plain);
    case GLEAM__TOP: return gleam__run_push(op, c->run, &c->cmp, s->k, row, n);
    case GLEAM__LIMIT:
        if (c->count >= s->k) return GLEAM_DONE;
        c->count++;
        if ((r = gleam__emit(op, row, n)) < 0) return r;
        return c->count >= s->k ? GLEAM_DONE : r;
    case GLEAM__PARTITION: return gleam__emit(op, row, n);
    case GLEAM__DISTINCT:
        if (s->whole_row) {
            op->key.len = 0;
            if (gleam__pack_row(&op->key, row, n)) return gleam__nomem(op);
            h = gleam__hash(op->key.p, op->key.len);
            k = op->key.p;
            klen = (uint32_t)op->key.len;
        } else if ((r = gleam__cons_key(c, bk, key, row, n, &k, &klen, &h)) != GLEAM_OK) {
            return r;
        }
        if (c->sub && !c->replay) return gleam__spill_row(c, gleam__sub_of(h), 0, row, n);
        if (!gleam__table_upsert(&c->table, h, k, klen, 0, &made))
            return gleam__nomem(op);
        return made ? gleam__emit(op, row, n) : GLEAM_OK;
    case GLEAM__GROUP_BY:
    case GLEAM__COGROUP: {
        gleam__elems *l;
        if ((r = gleam__cons_key(c, bk, key, row, n, &k, &klen, &h)) != GLEAM_OK) return r;
        l = (gleam__elems *)gleam__table_upsert(&c->table, h, k, klen, 2 * sizeof *l, &made);
        if (!l) return gleam__nomem(op);
        if (gleam__value_fields(key, row, n, &op->vals)) return gleam__nomem(op);
        return gleam__elems_add(c, &l[side], op->vals.v, op->vals.n, 0);
    }
    case GLEAM__JOIN: {
        gleam__elems *l;
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
    default: return gleam__emit(op, row, n);
    }
}

/* Find and hash the key of every row of a block whose key is its leading fields (packed
   there as the table packs keys), into c->hs: the absorbing loop fetches ahead with the
   hashes and hands each row its key. The number of rows, or 0 when the rows do not
   qualify. */
static size_t gleam__hash_block(gleam__cons *c, const char *p, const char *end) {
    const gleam__step *s = c->op.node->step;
    const gleam_fields *key = s->kind == GLEAM__REDUCE_BY ? &c->lead : &s->key;
    size_t n = 0;
    int k;
    if (s->whole_row || c->sub) return 0;
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

/* >>sweeps: a join's probes in table order. A probe of a table far bigger than the cache
   costs a miss for its slot and another for its entry, wherever they are. So once the
   build side is complete its entries (and their rows) are copied into one block in slot
   order, and the probing rows of many blocks are gathered (their blocks kept) and sorted
   by slot: each sweep then walks the slots and the entries forward, once. The copy holds
   the build side twice for a moment (peak memory about 1.6x at the benchmark's SCALE 4),
   and only when that fits in half the share; a table that is smaller, or nearly in the
   cache, gains nothing from it (1.05x at 52 MB) and is probed as its rows come. */
#ifndef GLEAM__SWEEP_ROWS
#define GLEAM__SWEEP_ROWS (256u * 1024) /* probes gathered before a sweep */
#endif
#ifndef GLEAM__SWEEP_BYTES
#define GLEAM__SWEEP_BYTES ((size_t)128 << 20) /* a smaller table (in cache, or nearly) is probed as rows come */
#endif

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
    if (!c->laid_out && !op->done && n >= GLEAM__SWEEP_ROWS / 4) { /* not for a last few rows */
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
    if (c->nsweep >= GLEAM__SWEEP_ROWS || c->held_bytes + b->cap > c->op.task->job->share / 8) return gleam__sweep(c);
    b->kept = 1;
    b->next = c->held;
    c->held = b;
    c->held_bytes += b->cap;
    GLEAM__NOTE_PEAK(&c->op, gleam__table_bytes(&c->table) + c->held_bytes + c->sweep.cap);
    return GLEAM_OK;
}

static gleam_result gleam__cons_absorb(gleam__op *op, gleam__block *b) {
    gleam__cons *c = (gleam__cons *)op;
    const char *p = b->data, *end = b->data + b->len;
    gleam__vals *rowv = &c->in;
    gleam_result r = GLEAM_OK;
    const gleam__bkey *ks;
    size_t nh = 0, i = 0;
    int probe = b->side == 0 && op->node->step->kind == GLEAM__JOIN, fold = op->node->step->kind == GLEAM__REDUCE_BY;
    if (b->side == 0 && c->sub && !c->probing && op->node->step->kind == GLEAM__JOIN) {
        if ((r = gleam__spill_table(c)) != GLEAM_OK) return r; /* the build side, all on disk */
        c->probing = 1;
    }
    c->hs.len = 0;
    if (c->table.slots) nh = gleam__hash_block(c, p, end);
    ks = (const gleam__bkey *)(const void *)c->hs.p;
    if (probe && nh && !c->sub && gleam__table_bytes(&c->table) + 1 > GLEAM__SWEEP_BYTES) return gleam__gather(c, b, nh);
    for (i = 0; i < nh && i < GLEAM__PF1; i++) GLEAM__PREFETCH(&c->table.slots[ks[i].h & c->table.mask]);
    i = 0;
    while (p < end) {
        if (i + GLEAM__PF1 < nh) GLEAM__PREFETCH(&c->table.slots[ks[i + GLEAM__PF1].h & c->table.mask]);
        if (i + GLEAM__PF2 < nh) { /* the slot of row i+PF2 has arrived by now: fetch its entry */
            const gleam__bkey *bk = &ks[i + GLEAM__PF2];
            const gleam__slot *sl = &c->table.slots[bk->h & c->table.mask];
            if (sl->e && fold) GLEAM__PREFETCH_FOLD(sl->e, bk->len, bk->nf - (uint32_t)c->lead.n);
            else if (sl->e) GLEAM__PREFETCH(sl->e);
        }
        if (probe && i + GLEAM__PF3 < nh) { /* and the entry of row i+PF3: fetch its first right row */
            const gleam__slot *sl = &c->table.slots[ks[i + GLEAM__PF3].h & c->table.mask];
            if (sl->e) {
                const gleam__elems *l = (const gleam__elems *)gleam__entry_payload(sl->e);
                if (l->first) GLEAM__PREFETCH(l->first);
            }
        }
        i++;
        if (fold && i <= nh) { /* a partial fold: its key is found and hashed, only its values are unpacked */
            const gleam__bkey *bk = &ks[i - 1];
            if (op->done) break;
            p = bk->p + bk->len;
            if (gleam__unpack_values(&p, end, bk->nf - (uint32_t)c->lead.n, rowv) != GLEAM_OK) {
                r = gleam__nomem(op);
                break;
            }
            if ((r = gleam__fold_packed(op, &c->table, bk->h, bk->p, bk->len, rowv->v, rowv->n)) < 0) break;
            continue;
        }
        if (gleam__unpack_row(&p, end, rowv) != GLEAM_OK) {
            r = gleam__nomem(op);
            break;
        }
        r = op->done ? GLEAM_DONE
                     : gleam__cons_take(c, b->side, rowv->v, rowv->n,
                                        op->node->step->kind == GLEAM__REDUCE_BY ? &c->lead : &op->node->step->key,
                                        i <= nh ? &ks[i - 1] : NULL); /* its key as found: not packed or hashed again */
        if (r < 0) break;
        if (r == GLEAM_DONE) {
            op->done = 1;
            r = GLEAM_OK;
            break;
        }
    }
    if (c->table.slots) GLEAM__NOTE_PEAK(op, gleam__table_bytes(&c->table));
    if (r >= 0 && c->table.slots && gleam__table_bytes(&c->table) > op->task->job->share) r = gleam__spill_table(c);
    return r;
}

/* The sort consumer: merge this partition's key range of every run. */
static gleam_result gleam__merge_runs(gleam__cons *c) {
    gleam__op *op = &c->op;
    gleam__xchg *x = c->x;
    int P = x->nparts, R = x->nruns, j = op->task->shard, i;
    gleam__cursor *cur;
    gleam_result r;
    if (R == 0) return GLEAM_OK;
    if (!(cur = (gleam__cursor *)gleam__calloc((size_t)R, sizeof *cur))) return gleam__nomem(op);
    for (i = 0; i < R; i++)
        gleam__cursor_init(&cur[i], x->runs[i], x->bounds[i * (P + 1) + j], x->bounds[i * (P + 1) + j + 1],
                           j > 0 ? &x->splits[j - 1] : NULL, j < P - 1 ? &x->splits[j] : NULL);
    r = gleam__merge(op, cur, R, &c->cmp);
    for (i = 0; i < R; i++) gleam__cursor_free(&cur[i]);
    gleam__free(cur);
    return r;
}

/* Emit what the table holds at the end: folds, groups, a right outer join's unmatched rows. */
static gleam_result gleam__cons_emit_table(gleam__cons *c) {
    gleam__op *op = &c->op;
    const gleam__step *s = op->node->step;
    gleam_result r = GLEAM_OK;
    size_t i;
    int nk = s->key.n;
    switch (s->kind) {
    case GLEAM__REDUCE_BY:
        for (i = 0; i <= c->table.mask && r == GLEAM_OK; i++) {
            char *e = c->table.slots[i].e;
            GLEAM__TABLE_AHEAD(&c->table, i);
            if (!e) continue;
            if ((r = gleam__entry_row(op, e)) != GLEAM_OK) return r;
            r = gleam__emit(op, op->vals.v, op->vals.n);
        }
        return r < 0 ? r : GLEAM_OK;
    case GLEAM__GROUP_BY:
    case GLEAM__COGROUP: {
        int lists = s->kind == GLEAM__COGROUP ? 2 : 1, nomem = 0, k;
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
    case GLEAM__JOIN:
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
    default: return GLEAM_OK;
    }
}

/* Read the spilled rows back, one file at a time, into a fresh table, and emit it. */
static gleam_result gleam__cons_unspill(gleam__cons *c) {
    gleam__op *op = &c->op;
    const gleam__step *s = op->node->step;
    gleam_result r = GLEAM_OK;
    int f;
    if (s->kind != GLEAM__DISTINCT && !c->probing && (r = gleam__spill_table(c)) != GLEAM_OK) return r;
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
            if (s->kind == GLEAM__DISTINCT && side == 1) { /* a key emitted before the spill */
                int made;
                if (c->in.n != 1 || c->in.v[0].type != GLEAM_BYTES) { r = gleam__nomem(op); break; }
                if (!gleam__table_upsert(&c->table, gleam__hash(c->in.v[0].u.s, c->in.v[0].len), c->in.v[0].u.s, c->in.v[0].len, 0, &made))
                    r = gleam__nomem(op);
                continue;
            }
            r = gleam__cons_take(c, side, c->in.v, c->in.n, s->kind == GLEAM__DISTINCT ? &s->key : &c->lead, NULL);
        }
        if (r == GLEAM_DONE) op->done = 1; /* nobody wants more rows */
        gleam__recs_free(&rd);
        gleam__spill_close(&c->sub[f]);
        if (r == GLEAM_OK) r = gleam__cons_emit_table(c);
    }
    return r < 0 ? r : GLEAM_OK;
}

static gleam_result gleam__cons_finish(gleam__op *op) {
    gleam__cons *c = (gleam__cons *)op;
    const gleam__step *s = op->node->step;
    gleam_result r = GLEAM_OK;
    switch (s->kind) {
    case GLEAM__SORT: return gleam__merge_runs(c);
    case GLEAM__TOP: return gleam__run_emit(op, c->run, &c->cmp, s->k);
    case GLEAM__REDUCE:
        if (c->have_acc) r = gleam__emit(op, c->acc.v, c->acc.n);
        return r < 0 ? r : GLEAM_OK;
    default:
        if (c->nsweep && (r = gleam__sweep(c)) < 0) return r;
        return c->sub ? gleam__cons_unspill(c) : gleam__cons_emit_table(c);
    }
}

static void gleam__cons_free(gleam__op *op) {
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
    gleam__run_free(c->run);
    gleam__vals_free(&c->acc);
    gleam__vals_free(&c->row2);
    gleam__vals_free(&c->in);
    gleam__arena_free(&c->accmem);
    gleam__buf_free(&c->tmp);
}

static gleam__op *gleam__make_consumer(gleam__task *t, gleam__node *node) {
    gleam__cons *c = (gleam__cons *)gleam__op_alloc(t, node, sizeof(gleam__cons));
    gleam__step *s = node->step;
    int i;
    if (!c) return NULL;
    c->op.absorb = gleam__cons_absorb;
    c->op.finish = gleam__cons_finish;
    c->op.free = gleam__cons_free;
    c->x = t->job->plan->xchgs[s->id];
    c->lead.n = s->key.n;
    for (i = 0; i < s->key.n; i++) c->lead.f[i] = i + 1;
    c->cmp.order = &s->order;
    for (i = 0; i < s->order.n; i++) c->cmp.maxfield = GLEAM__MAX(c->cmp.maxfield, s->order.by[i].field);
    if ((s->kind == GLEAM__REDUCE_BY || s->kind == GLEAM__DISTINCT || s->kind == GLEAM__GROUP_BY ||
         s->kind == GLEAM__COGROUP || s->kind == GLEAM__JOIN) && gleam__cons_table(c))
        goto fail;
    if (s->kind == GLEAM__TOP && !(c->run = gleam__run_new())) goto fail;
    return &c->op;
fail:
    gleam__cons_free(&c->op);
    gleam__free(c);
    return NULL;
}
