/* codec.c: a plan as bytes, and back. The encoding is MessagePack:

       ["gleam-plan", version, name, [step...], [stage...]]
       step:  [kind, in1, in2, shards, ordered, in_shards, in_ordered, function, command,
               [key field...], whole_row, [order field, desc, ...], k, shards_asked, join,
               format, header, delimiter, [path...], values, rows, output_path, format]
       stage: [shards, root step, [[step, side, parent node or -1, shard offset]...]]

   Steps are numbered by their place, from 1; strings are nil when absent. The decoder
   faces bytes from other processes, so it trusts nothing: every count is checked against
   the bytes left before anything is allocated for it, every string for NUL bytes, every
   step's inputs, shards and parameters against its kind, in-memory rows for being whole
   rows; the nodes its steps fuse into are counted against the bytes left before they are
   made; and the stages must be exactly those its steps fuse into. */
#include "plan/plan.h"

#define GLEAM__PLAN_MAGIC "gleam-plan"
#define GLEAM__STEP_FIELDS 23
#define GLEAM__PLAN_MAX_STEPS 65536
#define GLEAM__PLAN_MAX_SHARDS 65536
#define GLEAM__PLAN_MAX_STRING (1u << 20)

/* >>encode --------------------------------------------------------------------------------- */

static int gleam__enc_array(gleam__buf *b, uint32_t n) {
    if (gleam__buf_reserve(b, 5)) return -1;
    b->len = (size_t)((char *)gleam__put_array((unsigned char *)b->p + b->len, n) - b->p);
    return 0;
}

static int gleam__enc_int(gleam__buf *b, int64_t i) { return gleam__pack_value(b, gleam_int(i)); }

static int gleam__enc_str(gleam__buf *b, const char *s) { return gleam__pack_value(b, s ? gleam_str(s) : gleam_nil()); }

/* Bytes as MessagePack bin (nil when p is NULL). */
static int gleam__enc_bin(gleam__buf *b, const char *p, size_t n) {
    unsigned char h[5];
    size_t k;
    if (!p) return gleam__pack_value(b, gleam_nil());
    if (n > 0xffffffffu) return -1;
    if (n < 256) h[0] = 0xc4, h[1] = (unsigned char)n, k = 2;
    else if (n < 65536) h[0] = 0xc5, gleam__be16(h + 1, (uint32_t)n), k = 3;
    else h[0] = 0xc6, gleam__be32(h + 1, (uint32_t)n), k = 5;
    return gleam__buf_add(b, h, k) || gleam__buf_add(b, p, n);
}

static int gleam__enc_step(gleam__buf *b, const gleam__step *s) {
    int i, bad = gleam__enc_array(b, GLEAM__STEP_FIELDS);
    bad |= gleam__enc_str(b, gleam__step_kind_name(s->kind)) || gleam__enc_int(b, s->in[0]) || gleam__enc_int(b, s->in[1]);
    bad |= gleam__enc_int(b, s->nshards) || gleam__pack_value(b, gleam_bool(s->ordered));
    bad |= gleam__enc_int(b, s->in_nshards) || gleam__pack_value(b, gleam_bool(s->in_ordered));
    bad |= gleam__enc_str(b, s->fn_name) || gleam__enc_str(b, s->command);
    bad |= gleam__enc_array(b, (uint32_t)s->key.n);
    for (i = 0; i < s->key.n; i++) bad |= gleam__enc_int(b, s->key.f[i]);
    bad |= gleam__pack_value(b, gleam_bool(s->whole_row));
    bad |= gleam__enc_array(b, (uint32_t)s->order.n * 2);
    for (i = 0; i < s->order.n; i++) bad |= gleam__enc_int(b, s->order.by[i].field) || gleam__enc_int(b, s->order.by[i].dir);
    bad |= gleam__enc_int(b, s->k) || gleam__enc_int(b, s->shards) || gleam__enc_int(b, s->join);
    bad |= gleam__enc_int(b, s->format) || gleam__pack_value(b, gleam_bool(s->header)) || gleam__enc_int(b, (unsigned char)s->delim);
    bad |= gleam__enc_array(b, (uint32_t)s->npaths);
    for (i = 0; i < s->npaths; i++) bad |= gleam__enc_str(b, s->paths[i]);
    bad |= gleam__enc_bin(b, s->kind == GLEAM__VALUES ? (s->values ? s->values : "") : NULL, s->values_len);
    bad |= gleam__enc_int(b, (int64_t)s->nrows) || gleam__enc_str(b, s->path) || gleam__enc_str(b, s->format_text);
    return bad ? -1 : 0;
}

GLEAM__PRIV int gleam__plan_encode(const gleam__plan *p, gleam__buf *b) {
    int i, j, bad = gleam__enc_array(b, 5);
    bad |= gleam__enc_str(b, GLEAM__PLAN_MAGIC) || gleam__enc_int(b, GLEAM__PLAN_VERSION) || gleam__enc_str(b, p->name);
    bad |= gleam__enc_array(b, (uint32_t)p->nsteps);
    for (i = 0; i < p->nsteps && !bad; i++) bad |= gleam__enc_step(b, &p->steps[i]);
    bad |= gleam__enc_array(b, (uint32_t)p->nstages);
    for (i = 0; i < p->nstages && !bad; i++) {
        const gleam__stage *st = p->stages[i];
        bad |= gleam__enc_array(b, 3) || gleam__enc_int(b, st->nshards) || gleam__enc_int(b, st->root->id);
        bad |= gleam__enc_array(b, (uint32_t)st->nnodes);
        for (j = 0; j < st->nnodes; j++) {
            const gleam__node *n = st->nodes[j];
            bad |= gleam__enc_array(b, 4) || gleam__enc_int(b, n->step->id) || gleam__enc_int(b, n->side);
            bad |= gleam__enc_int(b, n->parent ? n->parent->index : -1) || gleam__enc_int(b, n->offset);
        }
    }
    return bad ? -1 : 0;
}

GLEAM__HOOK uint64_t gleam__plan_hash(const gleam__plan *p) {
    gleam__buf b = {NULL, 0, 0};
    uint64_t h = gleam__plan_encode(p, &b) ? 0 : gleam__hash(b.p, b.len);
    gleam__buf_free(&b);
    return h;
}

/* >>decode --------------------------------------------------------------------------------- */

typedef struct gleam__dec {
    const char *p, *end;
    char *err;
    size_t errcap;
    int bad;                /* an error is recorded: every later read fails at once */
} gleam__dec;

static int gleam__dec_fail(gleam__dec *d, const char *fmt, ...) GLEAM__PRINTF(2, 3);
static int gleam__dec_fail(gleam__dec *d, const char *fmt, ...) {
    va_list ap;
    if (d->bad) return -1;
    d->bad = 1;
    va_start(ap, fmt);
    gleam__vfmt(d->err, d->errcap, fmt, ap);
    va_end(ap);
    return -1;
}

/* The next value, which must be of type `type` (nil allowed when nil_ok). */
static int gleam__dec_value(gleam__dec *d, gleam_type type, int nil_ok, gleam_value *v, const char *what) {
    if (d->bad) return -1;
    if (gleam__unpack_value(&d->p, d->end, v) != GLEAM_OK) return gleam__dec_fail(d, "%s: truncated or malformed", what);
    if (v->type == type || (nil_ok && v->type == GLEAM_NIL)) return 0;
    return gleam__dec_fail(d, "%s: a value of the wrong type", what);
}

/* An array header of at most max values, and at most one per byte left. */
static int gleam__dec_array(gleam__dec *d, uint32_t *n, uint32_t min, uint32_t max, const char *what) {
    if (d->bad) return -1;
    if (d->p >= d->end) return gleam__dec_fail(d, "%s: truncated", what);
    if (gleam__unpack_header(&d->p, d->end, n) != GLEAM_OK) return gleam__dec_fail(d, "%s: not an array", what);
    if (*n < min || *n > max || *n > (size_t)(d->end - d->p))
        return gleam__dec_fail(d, "%s: %u values, not %u to %u", what, *n, min, max);
    return 0;
}

static int gleam__dec_int(gleam__dec *d, int64_t *out, int64_t lo, int64_t hi, const char *what) {
    gleam_value v;
    if (gleam__dec_value(d, GLEAM_INT, 0, &v, what)) return -1;
    if (v.u.i < lo || v.u.i > hi) return gleam__dec_fail(d, "%s: %lld is not from %lld to %lld", what, (long long)v.u.i, (long long)lo, (long long)hi);
    *out = v.u.i;
    return 0;
}

static int gleam__dec_intf(gleam__dec *d, int *out, int64_t lo, int64_t hi, const char *what) {
    int64_t x = 0;
    if (gleam__dec_int(d, &x, lo, hi, what)) return -1;
    *out = (int)x;
    return 0;
}

static int gleam__dec_bool(gleam__dec *d, int *out, const char *what) {
    gleam_value v;
    if (gleam__dec_value(d, GLEAM_BOOL, 0, &v, what)) return -1;
    *out = (int)v.u.i;
    return 0;
}

/* A string (a copy, NUL-terminated), or NULL for nil when nil_ok. */
static int gleam__dec_str(gleam__dec *d, char **out, int nil_ok, const char *what) {
    gleam_value v;
    *out = NULL;
    if (gleam__dec_value(d, GLEAM_BYTES, nil_ok, &v, what)) return -1;
    if (v.type == GLEAM_NIL) return 0;
    if (v.len > GLEAM__PLAN_MAX_STRING || memchr(v.u.s, 0, v.len)) return gleam__dec_fail(d, "%s: not a string", what);
    if (!(*out = (char *)gleam__malloc((size_t)v.len + 1))) return gleam__dec_fail(d, "out of memory");
    memcpy(*out, v.u.s, v.len);
    (*out)[v.len] = 0;
    return 0;
}

static int gleam__dec_step(gleam__dec *d, gleam__step *s, int id) {
    gleam_value v;
    uint32_t n, i;
    int64_t x;
    char what[64];
    gleam__fmt_into(what, sizeof what, "step %d", id);
    s->id = id;
    if (gleam__dec_array(d, &n, GLEAM__STEP_FIELDS, GLEAM__STEP_FIELDS, what) ||
        gleam__dec_value(d, GLEAM_BYTES, 0, &v, what))
        return -1;
    if ((s->kind = gleam__step_kind_of(v.u.s, v.len)) < 0) return gleam__dec_fail(d, "%s: no step kind is called \"%.*s\"", what, (int)GLEAM__MIN(v.len, 32u), v.u.s);
    if (gleam__dec_intf(d, &s->in[0], 0, id - 1, what) || gleam__dec_intf(d, &s->in[1], 0, id - 1, what) ||
        gleam__dec_intf(d, &s->nshards, 1, GLEAM__PLAN_MAX_SHARDS, what) || gleam__dec_bool(d, &s->ordered, what) ||
        gleam__dec_intf(d, &s->in_nshards, 0, GLEAM__PLAN_MAX_SHARDS, what) || gleam__dec_bool(d, &s->in_ordered, what) ||
        gleam__dec_str(d, &s->fn_name, 1, what) || gleam__dec_str(d, &s->command, 1, what) ||
        gleam__dec_array(d, &n, 0, GLEAM_MAX_FIELDS, what))
        return -1;
    s->nin = s->in[0] ? (s->in[1] ? 2 : 1) : 0;
    s->key.n = (int)n;
    for (i = 0; i < n; i++)
        if (gleam__dec_intf(d, &s->key.f[i], 1, INT_MAX, what)) return -1;
    if (gleam__dec_bool(d, &s->whole_row, what) || gleam__dec_array(d, &n, 0, 2 * GLEAM_MAX_FIELDS, what)) return -1;
    if (n % 2) return gleam__dec_fail(d, "%s: an order of %u values", what, n);
    s->order.n = (int)n / 2;
    for (i = 0; i < n / 2; i++) {
        int dir;
        if (gleam__dec_intf(d, &s->order.by[i].field, 1, INT_MAX, what) || gleam__dec_intf(d, &dir, 0, 1, what)) return -1;
        s->order.by[i].dir = (gleam_dir)dir;
    }
    if (gleam__dec_int(d, &s->k, 0, INT64_MAX, what) || gleam__dec_intf(d, &s->shards, 0, GLEAM__PLAN_MAX_SHARDS, what) ||
        gleam__dec_int(d, &x, GLEAM_INNER, GLEAM_RIGHT_OUTER, what))
        return -1;
    s->join = (gleam_join_kind)x;
    if (gleam__dec_int(d, &x, 0, GLEAM_FORMAT_TSV, what)) return -1;
    s->format = (gleam_format)x;
    if (gleam__dec_bool(d, &s->header, what) || gleam__dec_int(d, &x, 0, 255, what)) return -1;
    s->delim = (char)(unsigned char)x;
    if (gleam__dec_array(d, &n, 0, 65536, what)) return -1;
    if (n && !(s->paths = (char **)gleam__calloc(n, sizeof *s->paths))) return gleam__dec_fail(d, "out of memory");
    for (i = 0; i < n; i++) {
        if (gleam__dec_str(d, &s->paths[i], 0, what)) return -1;
        s->npaths = (int)i + 1;
    }
    if (d->bad || gleam__unpack_value(&d->p, d->end, &v) != GLEAM_OK || (v.type != GLEAM_BYTES && v.type != GLEAM_NIL))
        return gleam__dec_fail(d, "%s: its rows are not bytes", what);
    s->values = v.type == GLEAM_BYTES ? v.u.s : NULL;
    s->values_len = v.len;
    if (gleam__dec_int(d, &x, 0, INT64_MAX, what)) return -1;
    s->nrows = (size_t)x;
    return gleam__dec_str(d, &s->path, 1, what) || gleam__dec_str(d, &s->format_text, 1, what);
}

/* What the step's kind asks of its fields, once it is decoded. */
static int gleam__dec_check_step(gleam__dec *d, const gleam__plan *p, gleam__step *s) {
    int cls = gleam__step_class(s->kind), two = s->kind == GLEAM__UNION || s->kind == GLEAM__JOIN || s->kind == GLEAM__COGROUP;
    int keyed = s->kind == GLEAM__REDUCE_BY || s->kind == GLEAM__GROUP_BY || s->kind == GLEAM__PARTITION || s->kind == GLEAM__JOIN ||
                s->kind == GLEAM__COGROUP || (s->kind == GLEAM__DISTINCT && !s->whole_row) || s->kind == GLEAM__SELECT;
    int ordered = s->kind == GLEAM__SORT || s->kind == GLEAM__TOP || s->kind == GLEAM__LOCAL_SORT || s->kind == GLEAM__LOCAL_TOP;
    int pipe = s->kind == GLEAM__PIPE || s->kind == GLEAM__PIPE_ARGS, i;
    char label[160];
    gleam__step_label(s, label, sizeof label);
    if (s->nin != (cls == GLEAM__SOURCE ? 0 : two ? 2 : 1) || (s->nin == 1 && s->in[1]))
        return gleam__dec_fail(d, "%s: %d inputs", label, s->nin);
    for (i = 0; i < s->nin; i++)
        if (gleam__step_class(p->steps[s->in[i] - 1].kind) == GLEAM__OUTPUT)
            return gleam__dec_fail(d, "%s: it reads an output step", label);
    if ((gleam__step_fn_kind(s->kind) >= 0 || pipe) != (s->fn_name != NULL) || pipe != (s->command != NULL))
        return gleam__dec_fail(d, "%s: a function or command where its kind has none, or none where it needs one", label);
    if ((keyed && s->key.n < 1) || (ordered && s->order.n < 1))
        return gleam__dec_fail(d, "%s: no key or order", label);
    if (s->whole_row && s->kind != GLEAM__DISTINCT) return gleam__dec_fail(d, "%s: whole rows where only a distinct has them", label);
    if ((s->kind == GLEAM__READ) != (s->npaths > 0) || (s->kind == GLEAM__READ && (s->format < GLEAM_FORMAT_TEXT || !gleam__delim_ok(s->delim))))
        return gleam__dec_fail(d, "%s: files or a format where its kind has none, or none where it needs them", label);
    if ((s->kind == GLEAM__VALUES) != (s->values != NULL) || (s->kind != GLEAM__VALUES && s->nrows))
        return gleam__dec_fail(d, "%s: rows in memory where its kind has none, or none where it needs them", label);
    if (s->kind == GLEAM__VALUES) {
        uint64_t rows;
        if (gleam__check_rows(s->values, s->values_len, &rows) != GLEAM_OK || rows != s->nrows)
            return gleam__dec_fail(d, "%s: its rows in memory are not %zu whole rows", label, s->nrows);
    }
    if (s->path && cls != GLEAM__OUTPUT) return gleam__dec_fail(d, "%s: an output file where its kind has none", label);
    if ((s->kind == GLEAM__PRINTF) != (s->format_text != NULL)) return gleam__dec_fail(d, "%s: a format where its kind has none", label);
    if (s->format_text) {
        gleam__fmt *fmt;
        char err[128];
        int n;
        if (gleam__parse_format(s->format_text, &fmt, &n, err, sizeof err) != GLEAM_OK) return gleam__dec_fail(d, "%s: %s", label, err);
        gleam__free(fmt);
    }
    if (cls == GLEAM__SOURCE && s->shards && s->shards != s->nshards) return gleam__dec_fail(d, "%s: shards that do not add up", label);
    if (s->kind == GLEAM__PARTITION && s->shards < 1) return gleam__dec_fail(d, "%s: no shard count", label);
    return 0;
}

/* The shapes its inputs give a step (the planner's rules), against those it carries. */
static int gleam__dec_check_shape(gleam__dec *d, gleam__plan *p, gleam__step *s) {
    gleam__step want = *s;
    const gleam__step *a = s->nin > 0 ? &p->steps[s->in[0] - 1] : NULL, *b = s->nin > 1 ? &p->steps[s->in[1] - 1] : NULL;
    want.in_nshards = a ? a->nshards : 0;
    want.in_ordered = a ? a->ordered : 0;
    switch (s->kind) {
    case GLEAM__READ:
    case GLEAM__VALUES:
    case GLEAM__GENERATE: break; /* as planned (checked against shards asked) */
    case GLEAM__UNION: want.nshards = a->nshards + b->nshards; break;
    case GLEAM__PARTITION: want.nshards = s->shards; break;
    case GLEAM__REDUCE:
    case GLEAM__TOP:
    case GLEAM__LIMIT: want.nshards = 1; break;
    default: want.nshards = a->nshards; break;
    }
    switch (s->kind) {
    case GLEAM__SORT:
    case GLEAM__TOP:
    case GLEAM__LIMIT:
    case GLEAM__REDUCE: want.ordered = 1; break;
    case GLEAM__MAP:
    case GLEAM__SELECT: want.ordered = a->ordered; break;
    case GLEAM__LOCAL_SORT:
    case GLEAM__LOCAL_TOP: want.ordered = want.nshards == 1; break;
    case GLEAM__UNION: want.ordered = a->ordered && b->ordered; break;
    default: want.ordered = gleam__step_class(s->kind) == GLEAM__OUTPUT ? a->ordered : 0;
    }
    if (want.nshards != s->nshards || want.ordered != s->ordered || want.in_nshards != s->in_nshards ||
        want.in_ordered != s->in_ordered || want.nshards > GLEAM__PLAN_MAX_SHARDS)
        return gleam__dec_fail(d, "step %d: its shards or order do not follow from its inputs'", s->id);
    return 0;
}

/* The nodes the steps fuse into, counted before gleam__plan_fuse makes any: a stage lists
   each of them as four numbers, five bytes at least, so steps that would fuse into more
   nodes than the bytes left can list are refused here. Their number can grow as the
   product of the steps' fan-outs (a union of a dataset with itself doubles whatever reads
   it), and without this check a few kilobytes of steps would have fusing allocate
   gigabytes. grow[i]: the nodes of step i that its readers grow from (a stage's root, or
   a narrow step inside a stage). */
static int gleam__dec_count_nodes(gleam__dec *d, const gleam__plan *p) {
    uint64_t *grow = (uint64_t *)gleam__calloc((size_t)p->nsteps + 1, sizeof *grow), total = 0;
    uint64_t most = (uint64_t)(d->end - d->p) / 5;
    int i, side;
    if (!grow) return gleam__dec_fail(d, "out of memory");
    for (i = 0; i < p->nsteps; i++) {
        const gleam__step *s = &p->steps[i];
        int cls = gleam__step_class(s->kind), root = cls == GLEAM__SOURCE || cls == GLEAM__WIDE;
        uint64_t in = 0; /* nodes of s under its inputs' nodes: each below most, so no overflow */
        for (side = 0; side < s->nin; side++) in += grow[s->in[side]];
        grow[s->id] = root ? 1 : cls == GLEAM__NARROW ? in : 0;
        total += in + (uint64_t)root;
        if (total > most) {
            gleam__free(grow);
            return gleam__dec_fail(d, "its steps fuse into more nodes than the %zu bytes after them could list",
                                   (size_t)(d->end - d->p));
        }
    }
    gleam__free(grow);
    return 0;
}

/* The encoded stages, against those the decoded steps fuse into. */
static int gleam__dec_stages(gleam__dec *d, const gleam__plan *p) {
    uint32_t n, m, i, j;
    if (gleam__dec_array(d, &n, 0, GLEAM__PLAN_MAX_STEPS, "the stages")) return -1;
    if (n != (uint32_t)p->nstages) return gleam__dec_fail(d, "%u stages where its steps make %d", n, p->nstages);
    for (i = 0; i < n; i++) {
        const gleam__stage *st = p->stages[i];
        int64_t shards, root;
        if (gleam__dec_array(d, &m, 3, 3, "a stage") || gleam__dec_int(d, &shards, 1, GLEAM__PLAN_MAX_SHARDS, "a stage") ||
            gleam__dec_int(d, &root, 1, p->nsteps, "a stage") || gleam__dec_array(d, &m, 1, 1u << 20, "a stage"))
            return -1;
        if (shards != st->nshards || root != st->root->id || m != (uint32_t)st->nnodes)
            return gleam__dec_fail(d, "stage %u does not match its steps", i + 1);
        for (j = 0; j < m; j++) {
            const gleam__node *nd = st->nodes[j];
            uint32_t four;
            int64_t step, side, parent, offset;
            if (gleam__dec_array(d, &four, 4, 4, "a node") || gleam__dec_int(d, &step, 1, p->nsteps, "a node") ||
                gleam__dec_int(d, &side, 0, 1, "a node") || gleam__dec_int(d, &parent, -1, (int64_t)j - 1, "a node") ||
                gleam__dec_int(d, &offset, 0, GLEAM__PLAN_MAX_SHARDS, "a node"))
                return -1;
            if (step != nd->step->id || side != nd->side || parent != (nd->parent ? nd->parent->index : -1) || offset != nd->offset)
                return gleam__dec_fail(d, "stage %u, node %u does not match its steps", i + 1, j + 1);
        }
    }
    return 0;
}

GLEAM__PRIV gleam_result gleam__plan_decode(const char *bytes, size_t len, gleam__plan **out, char *err, size_t errcap) {
    gleam__plan *p = (gleam__plan *)gleam__calloc(1, sizeof *p);
    gleam__dec d;
    gleam_value v;
    uint32_t n, i;
    int64_t version;
    *out = NULL;
    if (errcap) err[0] = 0;
    if (!p || !(p->bytes = (char *)gleam__malloc(len ? len : 1))) {
        gleam__free(p);
        gleam__fmt_into(err, errcap, "out of memory");
        return GLEAM_ERR_NOMEM;
    }
    if (len) memcpy(p->bytes, bytes, len); /* the steps' rows in memory point into the plan's own copy */
    d.p = p->bytes;
    d.end = p->bytes + len;
    d.err = err;
    d.errcap = errcap;
    d.bad = 0;
    if (gleam__dec_array(&d, &n, 5, 5, "the plan") || gleam__dec_value(&d, GLEAM_BYTES, 0, &v, "the plan")) goto bad;
    if (v.len != sizeof GLEAM__PLAN_MAGIC - 1 || memcmp(v.u.s, GLEAM__PLAN_MAGIC, v.len)) {
        gleam__dec_fail(&d, "these bytes are not a plan");
        goto bad;
    }
    if (gleam__dec_int(&d, &version, 0, INT64_MAX, "the plan's version")) goto bad;
    if (version != GLEAM__PLAN_VERSION) {
        gleam__dec_fail(&d, "a plan of version %lld; this program reads version %d", (long long)version, GLEAM__PLAN_VERSION);
        goto bad;
    }
    if (gleam__dec_str(&d, &p->name, 0, "the plan's name") ||
        gleam__dec_array(&d, &n, 0, GLEAM__PLAN_MAX_STEPS, "the steps"))
        goto bad;
    if (!(p->steps = (gleam__step *)gleam__calloc((size_t)n + 1, sizeof *p->steps))) {
        gleam__dec_fail(&d, "out of memory");
        goto bad;
    }
    for (i = 0; i < n; i++) {
        p->nsteps = (int)i + 1;
        if (gleam__dec_step(&d, &p->steps[i], (int)i + 1) || gleam__dec_check_step(&d, p, &p->steps[i]) ||
            gleam__dec_check_shape(&d, p, &p->steps[i]))
            goto bad;
    }
    if (gleam__dec_count_nodes(&d, p)) goto bad;
    if (gleam__plan_fuse(p) != GLEAM_OK) {
        gleam__dec_fail(&d, "out of memory");
        goto bad;
    }
    if (gleam__dec_stages(&d, p)) goto bad;
    if (d.p != d.end) {
        gleam__dec_fail(&d, "%zu bytes after the plan", (size_t)(d.end - d.p));
        goto bad;
    }
    *out = p;
    return GLEAM_OK;
bad:
    gleam__plan_free(p);
    return strstr(err, "out of memory") ? GLEAM_ERR_NOMEM : GLEAM_ERR_INPUT;
}
