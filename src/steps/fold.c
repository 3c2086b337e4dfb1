/* fold.c: reduce and reduce_by. A reducer folds a row's values into an accumulator. A
   reduce_by's producer folds its shard's rows into a combine table before they leave it
   (sending the table on whenever it passes GLEAM__COMBINE_MAX), its consumer folds the
   partial folds of its partition into a table of its own; a reduce folds everything into
   one row, per producer and then in one consumer. */
#include "steps/steps.h"

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

/* The key of a fold, packed, for an error to name: NULL in a reduce, which has none. */
typedef struct gleam__foldkey {
    const char *p;
    uint32_t len;
} gleam__foldkey;

/* After a reducer's call: its error as the job's, and bytes it left in acc owned by mem
   (old: the pointers acc held before, unless was_plain). The error names the key of a
   reduce_by's fold (k not NULL) and says when the values were partial folds being merged
   (in the consumer) rather than rows. */
static GLEAM__NOINLINE gleam_result gleam__fold_after(gleam__op *op, gleam_value *acc, int n, gleam__arena *mem, int *plain,
                                      gleam_result r, int was_plain, const char *const *old, const gleam__foldkey *k) {
    const gleam__step *s = op->node->step;
    gleam__task *t = op->task;
    int i, m = n < GLEAM_MAX_FIELDS ? n : GLEAM_MAX_FIELDS;
    if (r < 0 && !gleam__aborted(t->job)) {
        char at[GLEAM__ERRMAX / 4] = "", key[GLEAM__ERRMAX / 4 - 64] = "";
        const char *merging = op->absorb ? "merging partial folds" : "";
        if (k)
            gleam__fmt_into(at, sizeof at, "key %s%s%s: ", gleam__key_text(key, sizeof key, k->p, k->len), *merging ? ", " : "",
                            merging);
        else if (*merging) gleam__fmt_into(at, sizeof at, "%s: ", merging);
        if (t->has_usermsg) r = gleam__fail(t, op->node, r, "%s%s", at, t->usermsg);
        else r = gleam__fail(t, op->node, r, "%sreducer \"%s\" returned %s", at, s->fn_name, gleam_result_str(r));
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
    r = op->fn->u.reducer(&op->ctx, acc, x, n);
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
static GLEAM__NOINLINE gleam_result gleam__fold_bytes(gleam__op *op, gleam_value *acc, const gleam_value *x, int n, gleam__arena *mem,
                                      int *plain, const gleam__foldkey *k);

static inline gleam_result gleam__fold(gleam__op *op, gleam_value *acc, const gleam_value *x, int n, gleam__arena *mem,
                                       int *plain, const gleam__foldkey *k) {
    gleam_result r;
    int now_plain;
    if (!*plain) return gleam__fold_bytes(op, acc, x, n, mem, plain, k);
    r = gleam__reduce_call(op, acc, x, n, &now_plain);
    return now_plain ? GLEAM_OK : gleam__fold_after(op, acc, n, mem, plain, r, 1, NULL, k);
}

/* gleam__fold of an acc that may hold bytes (out of line: the short path is the usual). */
static GLEAM__NOINLINE gleam_result gleam__fold_bytes(gleam__op *op, gleam_value *acc, const gleam_value *x, int n, gleam__arena *mem,
                                      int *plain, const gleam__foldkey *k) {
    const char *old[GLEAM_MAX_FIELDS];
    gleam_result r;
    int i, m = n < GLEAM_MAX_FIELDS ? n : GLEAM_MAX_FIELDS, now_plain;
    for (i = 0; i < m; i++) old[i] = acc[i].u.s;
    r = gleam__reduce_call(op, acc, x, n, &now_plain);
    if (now_plain) {
        *plain = 1;
        return GLEAM_OK;
    }
    return gleam__fold_after(op, acc, n, mem, plain, r, 0, old, k);
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

/* A numbers entry's reducer failed, used scratch memory or left bytes: its error (naming
   key k), the numbers kept, or the entry moved to values. */
static GLEAM__NOINLINE gleam_result gleam__nums_move(gleam__op *op, gleam__table *t, gleam__acc *a, gleam_value *acc,
                                            gleam_result r, const gleam__foldkey *k) {
    gleam__acc *b;
    int plain;
    if (r < 0 || gleam__nums_fit(acc, (int)a->n)) { /* an error, or numbers after scratch was used */
        if ((r = gleam__fold_after(op, acc, (int)a->n, &t->mem, &plain, r, 1, NULL, k)) >= 0) gleam__nums_put(a, acc);
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
    if ((r = gleam__fold_after(op, b->u.v, (int)a->n, &t->mem, &plain, r, 1, NULL, k)) < 0) return r;
    b->plain = (uint8_t)plain;
    a->form = GLEAM__ACC_MOVED;
    a->u.moved = b;
    return GLEAM_OK;
}

/* Fold values v into table t under the packed key (hash h). A table's first keys (in a
   skewed input the frequent ones, folded most) keep gleam_values, folded in place; keys
   made after gleam__tune.nums_after others, where memory counts, keep numbers compactly. */
GLEAM__ROWPATH gleam_result gleam__fold_packed(gleam__op *op, gleam__table *t, uint64_t h, const char *key, uint32_t klen,
                                       const gleam_value *v, int nv) {
    int plain;
    size_t at;
    gleam_result r;
    gleam__foldkey fk;
    gleam__acc *a = (gleam__acc *)gleam__table_probe(t, h, key, klen, &at);
    if (!a) {
        int i, made, nums = t->count + 1 > gleam__tune.nums_after && gleam__nums_fit(v, nv);
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
    fk.p = key;
    fk.len = klen;
    if (a->form == GLEAM__ACC_NUMS) {
        gleam_value acc[GLEAM__NUMS_MAX];
        gleam__nums_get(a, acc);
        r = gleam__reduce_call(op, acc, v, nv, &plain);
        if (!plain) return gleam__nums_move(op, t, a, acc, r, &fk);
        gleam__nums_put(a, acc);
        return GLEAM_OK;
    }
    if (a->form == GLEAM__ACC_MOVED) a = a->u.moved;
    plain = a->plain;
    r = gleam__fold(op, a->u.v, v, nv, &t->mem, &plain, &fk);
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

typedef struct gleam__foldprod {
    gleam__op op;
    gleam__writer w;
    gleam__table table;     /* reduce_by: the combine table */
    gleam__vals acc;        /* reduce */
    gleam__arena accmem;
    int have_acc, acc_plain;
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
} gleam__foldprod;

/* Fold the waiting rows but the last `keep`, which move to the front of the batch. */
static gleam_result gleam__foldprod_fold_pending(gleam__foldprod *p, int keep) {
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

static gleam_result gleam__foldprod_flush_table(gleam__foldprod *p) {
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
static gleam_result gleam__foldprod_push_reduce_by(gleam__op *op, const gleam_value *row, int n) {
    gleam__foldprod *p = (gleam__foldprod *)op;
    const gleam__step *s = op->node->step;
    gleam_result r;
    uint64_t h;
    int i, nv = n - 1, plain = p->key_first && n >= 1 && nv <= 8;
    if (nv == 1) plain = plain && row[1].type < GLEAM_BYTES; /* a count, a sum: no loop */
    else
        for (i = 1; plain && i < n; i++) plain = row[i].type < GLEAM_BYTES;
    if (!plain) { /* values that point into the input: fold now */
        if (p->npend && (r = gleam__foldprod_fold_pending(p, 0)) != GLEAM_OK) return r;
        if ((r = gleam__fold_row(op, &p->table, &s->key, row, n)) != GLEAM_OK) return r;
    } else { /* keep the row (its key packed) and start fetching its slot */
        struct gleam__pend *q;
        int at;
        if (!p->npend || op->task->in_path != p->pend_path) { /* the waiting rows are all of one file */
            if (p->npend && (r = gleam__foldprod_fold_pending(p, 0)) != GLEAM_OK) return r;
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
        if ((r = gleam__foldprod_fold_pending(p, GLEAM__LAG)) != GLEAM_OK) return r;
    }
    GLEAM__NOTE_PEAK(op, p->table.mem.bytes);
    if (gleam__table_bytes(&p->table) > p->combine_limit) {
        if (p->npend && (r = gleam__foldprod_fold_pending(p, 0)) != GLEAM_OK) return r;
        return gleam__foldprod_flush_table(p);
    }
    return GLEAM_OK;
}


/* >>reduce_by and reduce: the producers -------------------------------------------------- */

static gleam_result gleam__reduce_push(gleam__op *op, const gleam_value *row, int n) {
    gleam__foldprod *p = (gleam__foldprod *)op;
    if (!p->have_acc) {
        if (gleam__vals_reserve(&p->acc, n)) return gleam__nomem(op);
        if (n) memcpy(p->acc.v, row, (size_t)n * sizeof *row); /* an empty row may have no values at all */
        p->acc.n = n;
        p->have_acc = 1;
        return gleam__own_values(&p->accmem, p->acc.v, n) ? gleam__nomem(op) : GLEAM_OK;
    }
    if (n != p->acc.n)
        return gleam__fail(op->task, op->node, GLEAM_ERR_INPUT, "rows have %d and %d values to fold", p->acc.n, n);
    return gleam__fold(op, p->acc.v, row, n, &p->accmem, &p->acc_plain, NULL);
}

static gleam_result gleam__foldprod_finish(gleam__op *op) {
    gleam__foldprod *p = (gleam__foldprod *)op;
    gleam_result r = GLEAM_OK;
    if (op->node->step->kind == GLEAM__REDUCE_BY) {
        if (p->npend && (r = gleam__foldprod_fold_pending(p, 0)) != GLEAM_OK) return r;
        r = gleam__foldprod_flush_table(p);
    } else if (p->have_acc) {
        r = gleam__write_row(op, &p->w, 0, p->acc.v, p->acc.n);
    }
    if (r < 0) return r;
    return gleam__writer_close(op, &p->w);
}

static void gleam__foldprod_free(gleam__op *op) {
    gleam__foldprod *p = (gleam__foldprod *)op;
    gleam__writer_free(&p->w);
    gleam__table_free(&p->table);
    gleam__vals_free(&p->acc);
    gleam__arena_free(&p->accmem);
    gleam__buf_free(&p->bkeys);
}

GLEAM__PRIV gleam__op *gleam__make_fold_producer(gleam__task *t, gleam__node *node) {
    gleam__foldprod *p = (gleam__foldprod *)gleam__op_alloc(t, node, sizeof(gleam__foldprod));
    const gleam__step *s = node->step;
    if (!p) return NULL;
    p->op.push = s->kind == GLEAM__REDUCE_BY ? gleam__foldprod_push_reduce_by : gleam__reduce_push;
    p->op.finish = gleam__foldprod_finish;
    p->op.free = gleam__foldprod_free;
    p->combine_limit = GLEAM__MIN((size_t)GLEAM__COMBINE_MAX, t->job->share / 2);
    p->key_first = s->key.n == 1 && s->key.f[0] == 1;
    if (gleam__writer_init(&p->w, t->job->xchgs[s->id], node->side)) goto fail;
    if (s->kind == GLEAM__REDUCE_BY && gleam__table_init(&p->table, 16)) goto fail;
    return &p->op;
fail:
    gleam__foldprod_free(&p->op);
    gleam__free(p);
    return NULL;
}

/* >>reduce_by: the consumer ---------------------------------------------------------------- */

/* Partial folds arrive as key fields first, then values. */
static gleam_result gleam__fold_take(gleam__cons *c, int side, const gleam_value *row, int n, const gleam_fields *key,
                                     const gleam__bkey *bk) {
    gleam__op *op = &c->op;
    (void)side;
    (void)key;
    if (bk) return gleam__fold_packed(op, &c->table, bk->h, bk->p, bk->len, row + c->lead.n, n - c->lead.n);
    return gleam__fold_row(op, &c->table, &c->lead, row, n);
}

static gleam_result gleam__fold_emit_table(gleam__cons *c) {
    gleam__op *op = &c->op;
    gleam_result r = GLEAM_OK;
    size_t i;
    for (i = 0; i <= c->table.mask && r == GLEAM_OK; i++) {
        char *e = c->table.slots[i].e;
        GLEAM__TABLE_AHEAD(&c->table, i);
        if (!e) continue;
        if ((r = gleam__entry_row(op, e)) != GLEAM_OK) return r;
        r = gleam__emit(op, op->vals.v, op->vals.n);
    }
    return r < 0 ? r : GLEAM_OK;
}

static gleam_result gleam__fold_spill_entry(gleam__cons *c, char *e, int f) {
    gleam_result r = gleam__entry_row(&c->op, e);
    return r == GLEAM_OK ? gleam__spill_row(c, f, 0, c->op.vals.v, c->op.vals.n) : r;
}

/* A block of partial folds: each row's key is found and hashed in one pass over the block,
   only its values are unpacked, and its table slot and entry are fetched rows ahead. */
static gleam_result gleam__fold_absorb(gleam__op *op, gleam__block *b) {
    gleam__cons *c = (gleam__cons *)op;
    const char *p = b->data, *end = b->data + b->len;
    gleam__vals *rowv = &c->in;
    gleam_result r = GLEAM_OK;
    const gleam__bkey *ks;
    size_t nh = 0, i = 0;
    c->hs.len = 0;
    if (c->table.slots) nh = gleam__hash_block(c, p, end);
    ks = (const gleam__bkey *)(const void *)c->hs.p;
    for (i = 0; i < nh && i < GLEAM__PF1; i++) GLEAM__PREFETCH(&c->table.slots[ks[i].h & c->table.mask]);
    i = 0;
    while (p < end) {
        if (i + GLEAM__PF1 < nh) GLEAM__PREFETCH(&c->table.slots[ks[i + GLEAM__PF1].h & c->table.mask]);
        if (i + GLEAM__PF2 < nh) { /* the slot of row i+PF2 has arrived by now: fetch its entry */
            const gleam__bkey *bk = &ks[i + GLEAM__PF2];
            const gleam__slot *sl = &c->table.slots[bk->h & c->table.mask];
            if (sl->e) GLEAM__PREFETCH_FOLD(sl->e, bk->len, bk->nf - (uint32_t)c->lead.n);
        }
        i++;
        if (i <= nh) { /* its key is found and hashed: only its values are unpacked */
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
        if (op->done) break;
        if ((r = gleam__fold_row(op, &c->table, &c->lead, rowv->v, rowv->n)) < 0) break;
    }
    return gleam__cons_after_block(c, r);
}

static const gleam__cons_ops gleam__fold_ops = {gleam__fold_take, gleam__fold_emit_table, gleam__fold_spill_entry, NULL};

/* >>reduce: the consumer ------------------------------------------------------------------ */

typedef struct gleam__reducecons {
    gleam__op op;
    gleam__vals acc, in;
    gleam__arena accmem;
    int have_acc, acc_plain;
} gleam__reducecons;

static gleam_result gleam__reduce_absorb(gleam__op *op, gleam__block *b) {
    gleam__reducecons *c = (gleam__reducecons *)op;
    const char *p = b->data, *end = b->data + b->len;
    gleam_result r = GLEAM_OK;
    while (p < end && r >= 0) {
        if (gleam__unpack_row(&p, end, &c->in) != GLEAM_OK) return gleam__nomem(op);
        if (!c->have_acc) {
            if (gleam__vals_reserve(&c->acc, c->in.n)) return gleam__nomem(op);
            if (c->in.n) memcpy(c->acc.v, c->in.v, (size_t)c->in.n * sizeof *c->in.v); /* a row of no values: no arrays */
            c->acc.n = c->in.n;
            c->have_acc = 1;
            if (gleam__own_values(&c->accmem, c->acc.v, c->acc.n)) return gleam__nomem(op);
            continue;
        }
        if (c->in.n != c->acc.n)
            return gleam__fail(op->task, op->node, GLEAM_ERR_INPUT, "rows have %d and %d values to fold", c->acc.n, c->in.n);
        r = gleam__fold(op, c->acc.v, c->in.v, c->in.n, &c->accmem, &c->acc_plain, NULL);
    }
    return r < 0 ? r : GLEAM_OK;
}

static gleam_result gleam__reduce_finish(gleam__op *op) {
    gleam__reducecons *c = (gleam__reducecons *)op;
    gleam_result r = c->have_acc ? gleam__emit(op, c->acc.v, c->acc.n) : GLEAM_OK;
    return r < 0 ? r : GLEAM_OK;
}

static void gleam__reducecons_free(gleam__op *op) {
    gleam__reducecons *c = (gleam__reducecons *)op;
    gleam__vals_free(&c->acc);
    gleam__vals_free(&c->in);
    gleam__arena_free(&c->accmem);
}

GLEAM__PRIV gleam__op *gleam__make_fold_consumer(gleam__task *t, gleam__node *node) {
    gleam__op *op;
    if (node->step->kind == GLEAM__REDUCE_BY) {
        gleam__cons *c = gleam__cons_new(t, node, sizeof(gleam__cons), &gleam__fold_ops);
        if (!c) return NULL;
        c->op.absorb = gleam__fold_absorb;
        return &c->op;
    }
    if (!(op = gleam__op_alloc(t, node, sizeof(gleam__reducecons)))) return NULL;
    op->absorb = gleam__reduce_absorb;
    op->finish = gleam__reduce_finish;
    op->free = gleam__reducecons_free;
    return op;
}
