/* test_steps.c: every step type (narrow, wide, outputs) checked against answers computed by
   naive reference loops. With TH_SWEEP set in the environment, the engine is tuned to
   sweep every join after every 7 probing rows and to fold numbers compactly from the first
   key: paths that otherwise need tables of 128 MB and 4096 keys. */
#include "run/run.h" /* the engine's internal declarations (build with -Isrc), gleam.h's among them */
#include "harness.h"

#include <fcntl.h>
#include <stdatomic.h>

/* >>helpers: buffers, random numbers, encoded rows ----------------------------------- */


static uint64_t rng_state = 1;
static void rng_seed(uint64_t s) { rng_state = s * 0x9e3779b97f4a7c15ull + 1; }
static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* uniform in [0, n) */
static int64_t rng_below(int64_t n) { return (int64_t)(rng_next() % (uint64_t)n); }

/* An arena of allocations freed together (bytes that test rows point to). */
typedef struct arena {
    void **p;
    size_t n, cap;
} arena;
static void *ar_alloc(arena *a, size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) exit(2);
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->p = (void **)realloc(a->p, a->cap * sizeof *a->p);
        if (!a->p) exit(2);
    }
    a->p[a->n++] = p;
    return p;
}
static char *ar_dup(arena *a, const void *s, size_t n) {
    char *p = (char *)ar_alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}
static void ar_free(arena *a) {
    size_t i;
    for (i = 0; i < a->n; i++) free(a->p[i]);
    free(a->p);
    memset(a, 0, sizeof *a);
}

/* Encoded values: a canonical byte string per value so that rows compare with memcmp.
   Lists at the top level of a row are multisets (their elements are sorted); nested lists
   (the rows inside a list of lists) keep their order. */
typedef struct enc {
    char *p;
    size_t len;
} enc;
typedef struct rs {
    enc *v;
    size_t n, cap;
} rs;

static void rs_push(rs *r, const char *p, size_t len) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = (enc *)realloc(r->v, r->cap * sizeof *r->v);
        if (!r->v) exit(2);
    }
    r->v[r->n].p = (char *)malloc(len + 1);
    if (!r->v[r->n].p) exit(2);
    memcpy(r->v[r->n].p, p, len);
    r->v[r->n].p[len] = 0;
    r->v[r->n].len = len;
    r->n++;
}
static void rs_free(rs *r) {
    size_t i;
    for (i = 0; i < r->n; i++) free(r->v[i].p);
    free(r->v);
    memset(r, 0, sizeof *r);
}
static int enc_cmp(const void *a, const void *b) {
    const enc *x = (const enc *)a, *y = (const enc *)b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, m);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}
static void rs_sort(rs *r) {
    if (r->n > 1) qsort(r->v, r->n, sizeof *r->v, enc_cmp);
}

static void enc_val(th_buf *b, gleam_value v, int sort_list);

/* Concatenate encoded elements as a list (sorted when sort != 0); consumes els. */
static void enc_list_of(th_buf *b, rs *els, int sort) {
    size_t i;
    if (sort) rs_sort(els);
    th_buf_fmt(b, "L%zu[", els->n);
    for (i = 0; i < els->n; i++) th_buf_add(b, els->v[i].p, els->v[i].len);
    th_buf_ch(b, ']');
    rs_free(els);
}

static void enc_val(th_buf *b, gleam_value v, int sort_list) {
    switch (v.type) {
    case GLEAM_NIL: th_buf_str(b, "N;"); break;
    case GLEAM_BOOL: th_buf_fmt(b, "B%d;", (int)v.u.i); break;
    case GLEAM_INT: th_buf_fmt(b, "I%lld;", (long long)v.u.i); break;
    case GLEAM_DOUBLE: th_buf_fmt(b, "D%a;", v.u.d); break;
    case GLEAM_BYTES:
        th_buf_fmt(b, "S%u:", (unsigned)v.len);
        th_buf_add(b, v.u.s, v.len);
        th_buf_ch(b, ';');
        break;
    case GLEAM_LIST: {
        rs els = {0, 0, 0};
        gleam_list_iter it = gleam_list_begin(v);
        gleam_value e;
        uint32_t count = 0;
        while (gleam_list_next(&it, &e)) {
            th_buf eb = {0, 0, 0};
            enc_val(&eb, e, 0);
            rs_push(&els, eb.p ? eb.p : "", eb.len);
            th_buf_free(&eb);
            count++;
        }
        if (count != gleam_list_len(v)) th_buf_str(b, "<list_len mismatch>");
        enc_list_of(b, &els, sort_list);
        break;
    }
    default: th_buf_fmt(b, "?%d;", (int)v.type); break;
    }
}

static void enc_row(th_buf *b, const gleam_value *row, int n) {
    int i;
    th_buf_fmt(b, "#%d|", n);
    for (i = 0; i < n; i++) enc_val(b, row[i], 1);
}

static void rs_add(rs *r, const gleam_value *row, int n) {
    th_buf b = {0, 0, 0};
    enc_row(&b, row, n);
    rs_push(r, b.p, b.len);
    th_buf_free(&b);
}

static void rs_from_rows(rs *r, const gleam_rows *rows) {
    size_t i, cnt = gleam_rows_count(rows);
    for (i = 0; i < cnt; i++) {
        int n = -1;
        const gleam_value *row = gleam_rows_get(rows, i, &n);
        if (!row) {
            rs_push(r, "<NULL row>", 10);
            continue;
        }
        rs_add(r, row, n);
    }
}

/* A printable rendering of an encoding, cut to about 160 characters. */
static const char *show(const enc *e) {
    static char buf[4][200];
    static int which;
    char *o;
    size_t i, j = 0;
    which = (which + 1) & 3;
    o = buf[which];
    if (!e) return "(none)";
    for (i = 0; i < e->len && j < 170; i++) {
        unsigned char c = (unsigned char)e->p[i];
        if (c >= 32 && c < 127) o[j++] = (char)c;
        else j += (size_t)snprintf(o + j, 8, "\\x%02x", c);
    }
    if (i < e->len) {
        memcpy(o + j, "...", 3);
        j += 3;
    }
    o[j] = 0;
    return o;
}

/* Compare expected and actual: as multisets (ordered == 0) or exactly in order. Returns 1
   when equal; reports the first difference otherwise. Sorts both when ordered == 0. */
static int rs_compare(const char *file, int line, const char *what, int threads, rs *exp, rs *act, int ordered) {
    size_t i;
    if (!ordered) {
        rs_sort(exp);
        rs_sort(act);
    }
    for (i = 0; i < exp->n && i < act->n; i++)
        if (enc_cmp(&exp->v[i], &act->v[i])) {
            th_failf(file, line, "%s (threads=%d): row %zu of %zu/%zu differs%s:\n    expected %s\n    actual   %s", what,
                     threads, i, exp->n, act->n, ordered ? "" : " (sorted)", show(&exp->v[i]), show(&act->v[i]));
            return 0;
        }
    if (exp->n != act->n) {
        th_failf(file, line, "%s (threads=%d): %zu rows expected, %zu found; first extra: %s", what, threads, exp->n, act->n,
                 exp->n > act->n ? show(&exp->v[i]) : show(&act->v[i]));
        return 0;
    }
    return 1;
}

/* >>running flows --------------------------------------------------------------------- */

typedef gleam_dataset *(*build_fn)(gleam_flow *f, void *arg);
/* Extra checks of the collected rows. */
typedef void (*post_fn)(const char *file, int line, const char *what, int threads, const gleam_rows *rows, void *arg);

static const int thread_counts[] = {1, 2, 3, 8};
#define NTHREADS ((int)(sizeof thread_counts / sizeof thread_counts[0]))

static int run_flow(gleam_flow *f, int threads) {
    gleam_options o;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    return gleam_run_with(f, &o);
}

/* Build, collect and run the flow with 1, 2, 3 and 8 threads; compare with exp (and call
   post when given). */
static void check_flow_at(const char *file, int line, const char *what, build_fn b, void *arg, rs *exp, int ordered,
                          post_fn post) {
    int t;
    for (t = 0; t < NTHREADS; t++) {
        gleam_flow *f = gleam_flow_new(what);
        gleam_dataset *d = b(f, arg);
        gleam_rows *rows = gleam_collect(d);
        gleam_result r = run_flow(f, thread_counts[t]);
        if (r != GLEAM_OK) {
            th_failf(file, line, "%s (threads=%d): run failed: %s: %s", what, thread_counts[t], gleam_result_str(r),
                     gleam_error(f));
        } else {
            if (exp) {
                rs act = {0, 0, 0};
                rs_from_rows(&act, rows);
                rs_compare(file, line, what, thread_counts[t], exp, &act, ordered);
                rs_free(&act);
            }
            if (post) post(file, line, what, thread_counts[t], rows, arg);
        }
        gleam_flow_free(f);
    }
}
#define CHECK_FLOW(what, b, arg, exp, ordered) check_flow_at(__FILE__, __LINE__, what, b, arg, exp, ordered, NULL)
#define CHECK_FLOW_POST(what, b, arg, exp, ordered, post) check_flow_at(__FILE__, __LINE__, what, b, arg, exp, ordered, post)

/* A table of test rows: rows of up to 8 values, with bytes in an arena. */
#define MAXC 8
typedef struct trow {
    gleam_value v[MAXC];
    int n;
} trow;
typedef struct table {
    trow *r;
    size_t n, cap;
    int cols; /* for gleam_from_values: every row has this many values */
    arena ar;
} table;
static trow *tb_add(table *t) {
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->r = (trow *)realloc(t->r, t->cap * sizeof *t->r);
        if (!t->r) exit(2);
    }
    memset(&t->r[t->n], 0, sizeof t->r[t->n]);
    t->r[t->n].n = t->cols;
    return &t->r[t->n++];
}
static gleam_value tb_str(table *t, const char *s, size_t n) { return gleam_bytes(ar_dup(&t->ar, s, n), n); }
static void tb_free(table *t) {
    free(t->r);
    ar_free(&t->ar);
    memset(t, 0, sizeof *t);
}
/* The rows of t as a dataset with `shards` shards. */
static gleam_dataset *tb_dataset(gleam_flow *f, const table *t, int shards) {
    size_t i;
    gleam_value *vals = (gleam_value *)malloc((t->n ? t->n : 1) * (size_t)t->cols * sizeof *vals);
    gleam_dataset *d;
    if (!vals) exit(2);
    for (i = 0; i < t->n; i++) memcpy(vals + i * (size_t)t->cols, t->r[i].v, (size_t)t->cols * sizeof *vals);
    d = gleam_from_values(f, vals, t->n, t->cols, shards);
    free(vals);
    return d;
}
static void tb_expect_all(const table *t, rs *exp) {
    size_t i;
    for (i = 0; i < t->n; i++) rs_add(exp, t->r[i].v, t->r[i].n);
}

/* Reference ordering, written independently of gleam_compare: nil < bool < numbers <
   bytes (unsigned bytewise, shorter first). */
static int type_rank(gleam_type t) {
    switch (t) {
    case GLEAM_NIL: return 0;
    case GLEAM_BOOL: return 1;
    case GLEAM_INT: case GLEAM_DOUBLE: return 2;
    case GLEAM_BYTES: return 3;
    default: return 4;
    }
}
TH_REFERENCE static int ref_cmp(gleam_value a, gleam_value b) {
    int ra = type_rank(a.type), rb = type_rank(b.type);
    if (ra != rb) return ra < rb ? -1 : 1;
    switch (ra) {
    case 1: return (a.u.i > b.u.i) - (a.u.i < b.u.i);
    case 2:
        if (a.type == GLEAM_INT && b.type == GLEAM_INT) return (a.u.i > b.u.i) - (a.u.i < b.u.i);
        else {
            long double x = a.type == GLEAM_INT ? (long double)a.u.i : (long double)a.u.d;
            long double y = b.type == GLEAM_INT ? (long double)b.u.i : (long double)b.u.d;
            return (x > y) - (x < y);
        }
    case 3: {
        size_t m = a.len < b.len ? a.len : b.len, i;
        for (i = 0; i < m; i++) {
            unsigned char x = (unsigned char)a.u.s[i], y = (unsigned char)b.u.s[i];
            if (x != y) return x < y ? -1 : 1;
        }
        return (a.len > b.len) - (a.len < b.len);
    }
    default: return 0;
    }
}
static gleam_order cur_order;
static int ref_row_cmp(const gleam_value *a, const gleam_value *b, const gleam_order *o) {
    int i;
    for (i = 0; i < o->n; i++) {
        int k = o->by[i].field - 1;
        int c = ref_cmp(a[k], b[k]);
        if (c) return o->by[i].dir == GLEAM_DESC ? -c : c;
    }
    return 0;
}
static int trow_order_cmp(const void *a, const void *b) {
    return ref_row_cmp(((const trow *)a)->v, ((const trow *)b)->v, &cur_order);
}
/* Sort rows by an order (qsort is not stable: orders used with it must be total on the
   rows, or the comparison must be as multisets within ties). */
static void trows_sort(trow *r, size_t n, gleam_order o) {
    cur_order = o;
    if (n > 1) qsort(r, n, sizeof *r, trow_order_cmp);
}

/* Keys equal under the reference comparison on fields `key`. */
static int keys_equal(const gleam_value *a, const gleam_value *b, const gleam_fields *key) {
    int i;
    for (i = 0; i < key->n; i++)
        if (ref_cmp(a[key->f[i] - 1], b[key->f[i] - 1]) != 0 || a[key->f[i] - 1].type != b[key->f[i] - 1].type) return 0;
    return 1;
}

/* >>functions used by the flows -------------------------------------------------------- */

/* (k, m): emits m % 4 rows (k, j, "k-j" built in scratch memory) for j in 0..m%4-1. */
static gleam_result fan_out(gleam_ctx *c, const gleam_value *row, int n) {
    int64_t m, j;
    (void)n;
    m = row[1].u.i % 4;
    for (j = 0; j < m; j++) {
        char *s = (char *)gleam_scratch(c, 40);
        int len;
        gleam_result r;
        if (!s) return gleam_fail(c, "no scratch");
        len = snprintf(s, 40, "%lld-%lld", (long long)row[0].u.i, (long long)j);
        if (j == 1) {
            r = GLEAM_EMIT(c, row[0], gleam_int(j), gleam_bytes(s, (size_t)len));
        } else {
            gleam_value out[3];
            out[0] = row[0];
            out[1] = gleam_int(j);
            out[2] = gleam_bytes(s, (size_t)len);
            r = gleam_emit(c, out, 3);
        }
        if (r != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

/* Per-shard sequence numbers (a mapper after a narrow step tags rows with (shard, seq)). */
#define MAX_SHARDS 64
static atomic_long shard_seq[MAX_SHARDS];
static atomic_int tag_shards_seen; /* gleam_ctx_shards as the tagger saw it */
static void reset_seq(void) {
    int i;
    for (i = 0; i < MAX_SHARDS; i++) atomic_store(&shard_seq[i], 0);
    atomic_store(&tag_shards_seen, 0);
}
/* row -> (shard, seq, row...) */
static gleam_result tag_shard(gleam_ctx *c, const gleam_value *row, int n) {
    gleam_value out[MAXC + 2];
    int s = gleam_ctx_shard(c), i;
    if (s < 0 || s >= MAX_SHARDS || n > MAXC) return gleam_fail(c, "shard %d / n %d out of range", s, n);
    atomic_store(&tag_shards_seen, gleam_ctx_shards(c));
    out[0] = gleam_int(s);
    out[1] = gleam_int(atomic_fetch_add(&shard_seq[s], 1));
    for (i = 0; i < n; i++) out[i + 2] = row[i];
    return gleam_emit(c, out, n + 2);
}

/* Generated input with a known shard for every row: row i of GEN_N goes to shard i % ns,
   and is (key = hash(i) % GEN_KEYS, i). */
static int64_t gen_n = 1000, gen_keys = 50;
static int64_t gen_key(int64_t i) {
    uint64_t z = (uint64_t)i * 0x9e3779b97f4a7c15ull;
    z ^= z >> 29;
    z *= 0xbf58476d1ce4e5b9ull;
    z ^= z >> 32;
    return (int64_t)(z % (uint64_t)gen_keys);
}
static gleam_result gen_rows(gleam_ctx *c, int shard, int nshards) {
    int64_t i;
    for (i = shard; i < gen_n; i += nshards) {
        gleam_result r = GLEAM_EMIT(c, gleam_int(gen_key(i)), gleam_int(i));
        if (r != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

/* >>narrow steps ------------------------------------------------------------------------ */

static table g_tb; /* the input of the current test */

static gleam_dataset *build_map(gleam_flow *f, void *arg) {
    (void)arg;
    return gleam_map(tb_dataset(f, &g_tb, 5), "fanOut");
}

static void test_map(void) {
    rs exp = {0, 0, 0};
    size_t i;
    int64_t j;
    g_tb.cols = 2;
    rng_seed(1);
    for (i = 0; i < 3000; i++) {
        trow *r = tb_add(&g_tb);
        r->v[0] = gleam_int(rng_below(1000) - 500);
        r->v[1] = gleam_int(rng_below(1000));
    }
    for (i = 0; i < g_tb.n; i++)
        for (j = 0; j < g_tb.r[i].v[1].u.i % 4; j++) {
            char s[40];
            gleam_value o[3];
            int len = snprintf(s, sizeof s, "%lld-%lld", (long long)g_tb.r[i].v[0].u.i, (long long)j);
            o[0] = g_tb.r[i].v[0];
            o[1] = gleam_int(j);
            o[2] = gleam_bytes(s, (size_t)len);
            rs_add(&exp, o, 3);
        }
    CHECK(exp.n > 3000);
    CHECK_FLOW("map fan-out", build_map, NULL, &exp, 0);
    rs_free(&exp);
    tb_free(&g_tb);
}

static gleam_dataset *build_select(gleam_flow *f, void *arg) {
    (void)arg;
    return gleam_select(tb_dataset(f, &g_tb, 3), GLEAM_FIELDS(3, 1, 1, 2));
}

static void test_select(void) {
    rs exp = {0, 0, 0};
    size_t i;
    g_tb.cols = 3;
    rng_seed(2);
    for (i = 0; i < 500; i++) {
        trow *r = tb_add(&g_tb);
        char s[16];
        int len = snprintf(s, sizeof s, "s%d", (int)rng_below(100));
        r->v[0] = gleam_int(rng_below(100));
        r->v[1] = tb_str(&g_tb, s, (size_t)len);
        r->v[2] = gleam_double((double)rng_below(1000) / 8.0);
    }
    for (i = 0; i < g_tb.n; i++) {
        gleam_value o[4];
        o[0] = g_tb.r[i].v[2];
        o[1] = g_tb.r[i].v[0];
        o[2] = g_tb.r[i].v[0];
        o[3] = g_tb.r[i].v[1];
        rs_add(&exp, o, 4);
    }
    CHECK_FLOW("select 3,1,1,2", build_select, NULL, &exp, 0);
    rs_free(&exp);
    tb_free(&g_tb);
}

/* Per-shard steps on generated input whose shards are known. */
typedef struct narrow_arg {
    int kind; /* 0 local_sort, 1 local_top */
    int shards;
    int64_t k;
} narrow_arg;

static gleam_order key_desc_then_i(void) { return gleam_then_by(gleam_order_by(1, GLEAM_DESC), 2, GLEAM_ASC); }

static gleam_dataset *build_narrow(gleam_flow *f, void *arg) {
    narrow_arg *a = (narrow_arg *)arg;
    gleam_dataset *d = gleam_generate(f, "genRows", a->shards);
    reset_seq();
    if (a->kind == 0) d = gleam_local_sort(d, key_desc_then_i());
    else d = gleam_local_top(d, a->k, key_desc_then_i());
    return gleam_map(d, "tagShard");
}

/* Expected: for each shard s, its rows (i % shards == s) sorted (and cut to k), tagged
   (s, seq). The answer is unique: (key, i) is unique. */
static void expect_narrow(rs *exp, const narrow_arg *a) {
    int s;
    for (s = 0; s < a->shards; s++) {
        trow *rows = (trow *)calloc((size_t)gen_n + 1, sizeof *rows);
        size_t n = 0, j, lim;
        int64_t i;
        if (!rows) exit(2);
        for (i = s; i < gen_n; i += a->shards) {
            rows[n].v[0] = gleam_int(gen_key(i));
            rows[n].v[1] = gleam_int(i);
            rows[n].n = 2;
            n++;
        }
        trows_sort(rows, n, key_desc_then_i());
        lim = a->kind == 1 && (size_t)a->k < n ? (size_t)a->k : n;
        for (j = 0; j < lim; j++) {
            gleam_value o[4];
            o[0] = gleam_int(s);
            o[1] = gleam_int((int64_t)j);
            o[2] = rows[j].v[0];
            o[3] = rows[j].v[1];
            rs_add(exp, o, 4);
        }
        free(rows);
    }
}

static void test_local_sort(void) {
    narrow_arg a = {0, 4, 0};
    rs exp = {0, 0, 0};
    gen_n = 2000;
    gen_keys = 37;
    expect_narrow(&exp, &a);
    CHECK_FLOW("local_sort per shard", build_narrow, &a, &exp, 0);
    CHECK_INT(atomic_load(&tag_shards_seen), 4);
    rs_free(&exp);
}

static void test_local_top(void) {
    static const int64_t ks[] = {0, 1, 7, 100000};
    size_t t;
    gen_n = 2000;
    gen_keys = 37;
    for (t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        narrow_arg a = {1, 5, 0};
        rs exp = {0, 0, 0};
        a.k = ks[t];
        expect_narrow(&exp, &a);
        CHECK_FLOW("local_top per shard", build_narrow, &a, &exp, 0);
        rs_free(&exp);
    }
}

static table g_tb2;

static gleam_dataset *build_union(gleam_flow *f, void *arg) {
    int sorted = *(int *)arg;
    gleam_dataset *a = tb_dataset(f, &g_tb, 4), *b = tb_dataset(f, &g_tb2, 3);
    if (sorted) {
        a = gleam_sort(a, gleam_order_by(1, GLEAM_ASC));
        b = gleam_sort(b, gleam_order_by(1, GLEAM_DESC));
    }
    return gleam_union(a, b);
}

static void test_union(void) {
    rs exp = {0, 0, 0};
    size_t i;
    int sorted = 0;
    g_tb.cols = 1;
    g_tb2.cols = 1;
    rng_seed(3);
    /* unique values so that the sorted order is unique */
    for (i = 0; i < 3000; i++) tb_add(&g_tb)->v[0] = gleam_int((int64_t)(i * 7919 % 3001) * 2);
    for (i = 0; i < 2000; i++) tb_add(&g_tb2)->v[0] = gleam_int((int64_t)(i * 7919 % 2003) * 2 + 1);
    tb_expect_all(&g_tb, &exp);
    tb_expect_all(&g_tb2, &exp);
    CHECK_FLOW("union", build_union, &sorted, &exp, 0);
    rs_free(&exp);

    sorted = 1;
    trows_sort(g_tb.r, g_tb.n, gleam_order_by(1, GLEAM_ASC));
    trows_sort(g_tb2.r, g_tb2.n, gleam_order_by(1, GLEAM_DESC));
    tb_expect_all(&g_tb, &exp);
    tb_expect_all(&g_tb2, &exp);
    CHECK_FLOW("ordered union of two sorts", build_union, &sorted, &exp, 1);
    rs_free(&exp);
    tb_free(&g_tb);
    tb_free(&g_tb2);
}


/* >>reducing and grouping ------------------------------------------------------------------ */

static int uchar_cmp(const void *a, const void *b) {
    return (int)*(const unsigned char *)a - (int)*(const unsigned char *)b;
}
/* Adds every value field (ints add as ints, doubles as doubles). */
static gleam_result sum_all(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int i;
    for (i = 0; i < n; i++) {
        if (acc[i].type == GLEAM_INT && x[i].type == GLEAM_INT) acc[i].u.i += x[i].u.i;
        else if (acc[i].type == GLEAM_DOUBLE && x[i].type == GLEAM_DOUBLE) acc[i].u.d += x[i].u.d;
        else return gleam_fail(c, "sumAll: field %d has types %d and %d", i + 1, (int)acc[i].type, (int)x[i].type);
    }
    return GLEAM_OK;
}
/* (a, b, c): sum of a, minimum of b, maximum of c. */
static gleam_result sum_min_max(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    if (n != 3) return gleam_fail(c, "sumMinMax: %d fields", n);
    acc[0].u.i += x[0].u.i;
    if (x[1].u.i < acc[1].u.i) acc[1].u.i = x[1].u.i;
    if (x[2].u.i > acc[2].u.i) acc[2].u.i = x[2].u.i;
    return GLEAM_OK;
}
/* Bytes value fields: the concatenation of both, its bytes sorted (a commutative,
   associative concatenation), built in scratch memory; int fields add. */
static gleam_result merge_bytes(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int i;
    for (i = 0; i < n; i++) {
        if (acc[i].type == GLEAM_BYTES && x[i].type == GLEAM_BYTES) {
            size_t la = acc[i].len, lb = x[i].len, p = 0, q = 0, o = 0;
            unsigned char *out = (unsigned char *)gleam_scratch(c, la + lb + 1);
            const unsigned char *a = (const unsigned char *)acc[i].u.s, *b = (const unsigned char *)x[i].u.s;
            if (!out) return gleam_fail(c, "no scratch");
            for (p = 0; p < la; p++) out[o++] = a[p];
            for (q = 0; q < lb; q++) out[o++] = b[q];
            if (o > 1) qsort(out, o, 1, uchar_cmp);
            acc[i] = gleam_bytes(out, o);
        } else if (acc[i].type == GLEAM_INT && x[i].type == GLEAM_INT) {
            acc[i].u.i += x[i].u.i;
        } else {
            return gleam_fail(c, "mergeBytes: field %d has types %d and %d", i + 1, (int)acc[i].type, (int)x[i].type);
        }
    }
    return GLEAM_OK;
}

/* The rows of t grouped by `key` (reference: sort a copy by the key fields, then scan).
   For each group, fn gets the rows of the group. */
typedef void (*group_cb)(const trow *rows, size_t n, const gleam_fields *key, void *arg);
static void ref_group(const table *t, gleam_fields key, group_cb fn, void *arg) {
    trow *rows = (trow *)malloc((t->n ? t->n : 1) * sizeof *rows);
    gleam_order o;
    size_t i, j;
    int k;
    if (!rows) exit(2);
    if (t->n) memcpy(rows, t->r, t->n * sizeof *rows);
    memset(&o, 0, sizeof o);
    o.n = key.n;
    for (k = 0; k < key.n; k++) {
        o.by[k].field = key.f[k];
        o.by[k].dir = GLEAM_ASC;
    }
    trows_sort(rows, t->n, o);
    for (i = 0; i < t->n; i = j) {
        for (j = i + 1; j < t->n && ref_row_cmp(rows[i].v, rows[j].v, &o) == 0; j++) {}
        fn(rows + i, j - i, &key, arg);
    }
    free(rows);
}
static int in_key(const gleam_fields *key, int field) {
    int i;
    for (i = 0; i < key->n; i++)
        if (key->f[i] == field) return 1;
    return 0;
}
/* The key fields of row, then its other fields: returns the count. */
static int split_row(const trow *r, const gleam_fields *key, gleam_value *keys, int *nk, gleam_value *others) {
    int i, no = 0;
    for (i = 0; i < key->n; i++) keys[i] = r->v[key->f[i] - 1];
    *nk = key->n;
    for (i = 1; i <= r->n; i++)
        if (!in_key(key, i)) others[no++] = r->v[i - 1];
    return no;
}

/* reduce_by reference: key fields, then each other field folded by sum (ints) or sorted
   merge (bytes). */
static void ref_reduce_cb(const trow *rows, size_t n, const gleam_fields *key, void *arg) {
    rs *exp = (rs *)arg;
    gleam_value keys[MAXC], acc[MAXC], oth[MAXC], out[2 * MAXC];
    int nk, no, i;
    size_t j;
    char *bytes[MAXC];
    size_t blen[MAXC];
    no = split_row(&rows[0], key, keys, &nk, acc);
    for (i = 0; i < no; i++) {
        bytes[i] = NULL;
        blen[i] = 0;
        if (acc[i].type == GLEAM_INT) acc[i].u.i = 0;
    }
    for (j = 0; j < n; j++) {
        split_row(&rows[j], key, keys, &nk, oth);
        for (i = 0; i < no; i++) {
            if (oth[i].type == GLEAM_INT) acc[i].u.i += oth[i].u.i;
            else if (oth[i].type == GLEAM_BYTES) {
                bytes[i] = (char *)realloc(bytes[i], blen[i] + oth[i].len + 1);
                if (!bytes[i]) exit(2);
                memcpy(bytes[i] + blen[i], oth[i].u.s, oth[i].len);
                blen[i] += oth[i].len;
            }
        }
    }
    split_row(&rows[0], key, keys, &nk, oth);
    for (i = 0; i < nk; i++) out[i] = keys[i];
    for (i = 0; i < no; i++) {
        if (acc[i].type == GLEAM_BYTES) {
            if (blen[i]) qsort(bytes[i], blen[i], 1, uchar_cmp);
            acc[i] = gleam_bytes(bytes[i] ? bytes[i] : "", blen[i]);
        }
        out[nk + i] = acc[i];
    }
    rs_add(exp, out, nk + no);
    for (i = 0; i < no; i++) free(bytes[i]);
}

typedef struct wide_arg {
    int kind;
    int shards;
    gleam_fields key;
    const char *fn;
} wide_arg;
enum { W_REDUCE_BY, W_REDUCE, W_GROUP_BY, W_DISTINCT, W_DISTINCT_BY };

static gleam_dataset *build_wide(gleam_flow *f, void *arg) {
    wide_arg *a = (wide_arg *)arg;
    gleam_dataset *d = tb_dataset(f, &g_tb, a->shards);
    switch (a->kind) {
    case W_REDUCE_BY: return a->key.n ? gleam_reduce_by(d, a->fn, a->key) : gleam_reduce_by_key(d, a->fn);
    case W_REDUCE: return gleam_reduce(d, a->fn);
    case W_GROUP_BY: return a->key.n ? gleam_group_by(d, a->key) : gleam_group_by_key(d);
    case W_DISTINCT: return gleam_distinct(d);
    default: return gleam_distinct_by(d, a->key);
    }
}

static void test_reduce_by_key(void) {
    wide_arg a = {W_REDUCE_BY, 6, {0, {0}}, "sumAll"};
    rs exp = {0, 0, 0};
    size_t i;
    g_tb.cols = 3;
    rng_seed(4);
    for (i = 0; i < 20000; i++) {
        trow *r = tb_add(&g_tb);
        r->v[0] = gleam_int(rng_below(300) - 150);
        r->v[1] = gleam_int(rng_below(1000000) - 500000);
        r->v[2] = gleam_int(1);
    }
    ref_group(&g_tb, GLEAM_FIELDS(1), ref_reduce_cb, &exp);
    CHECK_INT(exp.n, 300);
    CHECK_FLOW("reduce_by_key sum", build_wide, &a, &exp, 0);
    rs_free(&exp);
    tb_free(&g_tb);
}

static void test_reduce_by_two_fields(void) {
    wide_arg a = {W_REDUCE_BY, 4, {0, {0}}, "sumAll"};
    rs exp = {0, 0, 0};
    size_t i;
    a.key = GLEAM_FIELDS(3, 1);
    g_tb.cols = 4;
    rng_seed(5);
    for (i = 0; i < 10000; i++) {
        trow *r = tb_add(&g_tb);
        char s[8];
        int len = snprintf(s, sizeof s, "k%d", (int)rng_below(20));
        r->v[0] = tb_str(&g_tb, s, (size_t)len);
        r->v[1] = gleam_int(rng_below(1000));
        r->v[2] = gleam_int(rng_below(15));
        r->v[3] = gleam_int(rng_below(7) - 3);
    }
    ref_group(&g_tb, a.key, ref_reduce_cb, &exp);
    CHECK_INT(exp.n, 300);
    CHECK_FLOW("reduce_by key 3,1", build_wide, &a, &exp, 0);
    rs_free(&exp);
    /* a key that is a prefix: fields 1,2 (value fields 3 and 4) */
    for (i = 0; i < g_tb.n; i++) g_tb.r[i].v[1] = gleam_int(g_tb.r[i].v[1].u.i % 11);
    a.key = GLEAM_FIELDS(1, 2);
    ref_group(&g_tb, a.key, ref_reduce_cb, &exp);
    CHECK_INT(exp.n, 220);
    CHECK_FLOW("reduce_by key 1,2", build_wide, &a, &exp, 0);
    rs_free(&exp);
    /* a key in the middle: field 3 alone */
    a.key = GLEAM_FIELDS(3);
    a.fn = "mergeBytes";
    ref_group(&g_tb, a.key, ref_reduce_cb, &exp);
    CHECK_INT(exp.n, 15);
    CHECK_FLOW("reduce_by key 3", build_wide, &a, &exp, 0);
    rs_free(&exp);
    tb_free(&g_tb);
}

static void test_reduce_all(void) {
    wide_arg a = {W_REDUCE, 7, {0, {0}}, "sumMinMax"};
    rs exp = {0, 0, 0};
    size_t i;
    gleam_value o[3];
    g_tb.cols = 3;
    rng_seed(6);
    o[0] = gleam_int(0);
    o[1] = gleam_int(INT64_MAX);
    o[2] = gleam_int(INT64_MIN);
    for (i = 0; i < 5000; i++) {
        trow *r = tb_add(&g_tb);
        r->v[0] = gleam_int(rng_below(100000));
        r->v[1] = gleam_int(rng_below(2000000) - 1000000);
        r->v[2] = r->v[1];
        o[0].u.i += r->v[0].u.i;
        if (r->v[1].u.i < o[1].u.i) o[1].u.i = r->v[1].u.i;
        if (r->v[2].u.i > o[2].u.i) o[2].u.i = r->v[2].u.i;
    }
    rs_add(&exp, o, 3);
    CHECK_FLOW("reduce whole dataset", build_wide, &a, &exp, 0);
    rs_free(&exp);
    tb_free(&g_tb);
}

/* group_by reference: key fields, then the list of other fields (values, or lists). */
static void ref_group_cb(const trow *rows, size_t n, const gleam_fields *key, void *arg) {
    rs *exp = (rs *)arg;
    gleam_value keys[MAXC], oth[MAXC];
    int nk, no = 0, i;
    size_t j;
    th_buf b = {0, 0, 0};
    rs els = {0, 0, 0};
    for (j = 0; j < n; j++) {
        th_buf eb = {0, 0, 0};
        no = split_row(&rows[j], key, keys, &nk, oth);
        if (no == 1) {
            enc_val(&eb, oth[0], 0);
        } else {
            rs inner = {0, 0, 0};
            for (i = 0; i < no; i++) {
                th_buf ib = {0, 0, 0};
                enc_val(&ib, oth[i], 0);
                rs_push(&inner, ib.p, ib.len);
                th_buf_free(&ib);
            }
            enc_list_of(&eb, &inner, 0);
        }
        rs_push(&els, eb.p, eb.len);
        th_buf_free(&eb);
    }
    split_row(&rows[0], key, keys, &nk, oth);
    th_buf_fmt(&b, "#%d|", nk + 1);
    for (i = 0; i < nk; i++) enc_val(&b, keys[i], 1);
    enc_list_of(&b, &els, 1);
    rs_push(exp, b.p, b.len);
    th_buf_free(&b);
}

static void test_group_by_key(void) {
    wide_arg a = {W_GROUP_BY, 5, {0, {0}}, NULL};
    rs exp = {0, 0, 0};
    size_t i;
    /* one value field: a list of values */
    g_tb.cols = 2;
    rng_seed(7);
    for (i = 0; i < 4000; i++) {
        trow *r = tb_add(&g_tb);
        r->v[0] = gleam_int(rng_below(97));
        r->v[1] = gleam_int(rng_below(50));
    }
    ref_group(&g_tb, GLEAM_FIELDS(1), ref_group_cb, &exp);
    CHECK_FLOW("group_by_key, one value field", build_wide, &a, &exp, 0);
    rs_free(&exp);
    tb_free(&g_tb);

    /* three value fields: a list of lists */
    g_tb.cols = 4;
    for (i = 0; i < 3000; i++) {
        trow *r = tb_add(&g_tb);
        char s[8];
        int len = snprintf(s, sizeof s, "v%d", (int)rng_below(9));
        r->v[0] = gleam_int(rng_below(41));
        r->v[1] = tb_str(&g_tb, s, (size_t)len);
        r->v[2] = gleam_int(rng_below(5));
        r->v[3] = gleam_double((double)rng_below(64) / 4);
    }
    ref_group(&g_tb, GLEAM_FIELDS(1), ref_group_cb, &exp);
    CHECK_FLOW("group_by_key, three value fields", build_wide, &a, &exp, 0);
    rs_free(&exp);

    /* group_by on fields 3,2: other fields 1 and 4 */
    a.key = GLEAM_FIELDS(3, 2);
    ref_group(&g_tb, a.key, ref_group_cb, &exp);
    CHECK_FLOW("group_by 3,2", build_wide, &a, &exp, 0);
    rs_free(&exp);
    tb_free(&g_tb);
}

/* Reading a list by hand: the first row's list of a one-value group has the right values. */
static gleam_dataset *build_group_small(gleam_flow *f, void *arg) {
    (void)arg;
    return gleam_group_by_key(tb_dataset(f, &g_tb, 2));
}
static void post_group_small(const char *file, int line, const char *what, int threads, const gleam_rows *rows, void *arg) {
    int n = 0, sum = 0, cnt = 0;
    const gleam_value *r = gleam_rows_get(rows, 0, &n);
    gleam_list_iter it;
    gleam_value e;
    (void)arg;
    if (gleam_rows_count(rows) != 1 || !r || n != 2 || r[1].type != GLEAM_LIST) {
        th_failf(file, line, "%s (threads=%d): want one row (key, list)", what, threads);
        return;
    }
    it = gleam_list_begin(r[1]);
    while (gleam_list_next(&it, &e)) {
        if (e.type != GLEAM_INT) th_failf(file, line, "%s: element type %d", what, (int)e.type);
        sum += (int)e.u.i;
        cnt++;
    }
    if (cnt != 4 || sum != 1 + 2 + 3 + 4 || gleam_list_len(r[1]) != 4)
        th_failf(file, line, "%s (threads=%d): list of %d elements summing to %d", what, threads, cnt, sum);
}
static void test_group_list_read(void) {
    int i;
    g_tb.cols = 2;
    for (i = 1; i <= 4; i++) {
        trow *r = tb_add(&g_tb);
        r->v[0] = gleam_str("k");
        r->v[1] = gleam_int(i);
    }
    CHECK_FLOW_POST("group_by_key list iteration", build_group_small, NULL, NULL, 0, post_group_small);
    tb_free(&g_tb);
}

/* cogroup: key, list of a's other fields, list of b's other fields. a has one other
   field, b two. */
typedef struct cog_arg {
    gleam_fields key; /* n == 0: gleam_cogroup */
} cog_arg;
static gleam_dataset *build_cogroup(gleam_flow *f, void *arg) {
    cog_arg *a = (cog_arg *)arg;
    gleam_dataset *x = tb_dataset(f, &g_tb, 3), *y = tb_dataset(f, &g_tb2, 4);
    return a->key.n ? gleam_cogroup_by(x, y, a->key) : gleam_cogroup(x, y);
}
static void enc_others_list(th_buf *b, const table *t, gleam_value key, int keyfield) {
    rs els = {0, 0, 0};
    size_t i;
    gleam_fields kf = {1, {0}};
    kf.f[0] = keyfield;
    for (i = 0; i < t->n; i++) {
        gleam_value keys[MAXC], oth[MAXC];
        int nk, no, j;
        th_buf eb = {0, 0, 0};
        if (t->r[i].v[keyfield - 1].type != key.type || ref_cmp(t->r[i].v[keyfield - 1], key)) continue;
        no = split_row(&t->r[i], &kf, keys, &nk, oth);
        if (no == 1) enc_val(&eb, oth[0], 0);
        else {
            rs inner = {0, 0, 0};
            for (j = 0; j < no; j++) {
                th_buf ib = {0, 0, 0};
                enc_val(&ib, oth[j], 0);
                rs_push(&inner, ib.p, ib.len);
                th_buf_free(&ib);
            }
            enc_list_of(&eb, &inner, 0);
        }
        rs_push(&els, eb.p, eb.len);
        th_buf_free(&eb);
    }
    enc_list_of(b, &els, 1);
}
typedef struct cog_ctx {
    rs *exp;
    int keyfield;
} cog_ctx;
static void cog_key_cb(const trow *rows, size_t n, const gleam_fields *key, void *arg) {
    cog_ctx *c = (cog_ctx *)arg;
    th_buf b = {0, 0, 0};
    (void)n;
    (void)key;
    th_buf_fmt(&b, "#3|");
    enc_val(&b, rows[0].v[0], 1);
    enc_others_list(&b, &g_tb, rows[0].v[0], c->keyfield);
    enc_others_list(&b, &g_tb2, rows[0].v[0], c->keyfield);
    rs_push(c->exp, b.p, b.len);
    th_buf_free(&b);
}
/* Expected cogroup of g_tb and g_tb2 on field keyfield: one row per distinct key. */
static void expect_cogroup(rs *exp, int keyfield) {
    table keys = {0, 0, 0, 1, {0, 0, 0}};
    cog_ctx c;
    size_t i;
    for (i = 0; i < g_tb.n; i++) tb_add(&keys)->v[0] = g_tb.r[i].v[keyfield - 1];
    for (i = 0; i < g_tb2.n; i++) tb_add(&keys)->v[0] = g_tb2.r[i].v[keyfield - 1];
    c.exp = exp;
    c.keyfield = keyfield;
    ref_group(&keys, GLEAM_FIELDS(1), cog_key_cb, &c);
    tb_free(&keys);
}
static void test_cogroup(void) {
    cog_arg a = {{0, {0}}};
    rs exp = {0, 0, 0};
    size_t i;
    rng_seed(8);
    g_tb.cols = 2;
    g_tb2.cols = 3;
    /* keys 0..39 in a, 20..59 in b: some on one side only */
    for (i = 0; i < 600; i++) {
        trow *r = tb_add(&g_tb);
        r->v[0] = gleam_int(rng_below(40));
        r->v[1] = gleam_int(rng_below(1000));
    }
    for (i = 0; i < 500; i++) {
        trow *r = tb_add(&g_tb2);
        r->v[0] = gleam_int(20 + rng_below(40));
        r->v[1] = gleam_int(rng_below(1000));
        r->v[2] = tb_str(&g_tb2, i % 2 ? "odd" : "even", i % 2 ? 3 : 4);
    }
    expect_cogroup(&exp, 1);
    CHECK_INT(exp.n, 60);
    CHECK_FLOW("cogroup", build_cogroup, &a, &exp, 0);
    rs_free(&exp);

    /* cogroup_by field 2: make field 2 small keys */
    for (i = 0; i < g_tb.n; i++) g_tb.r[i].v[1] = gleam_int(g_tb.r[i].v[1].u.i % 30 - 5);
    for (i = 0; i < g_tb2.n; i++) g_tb2.r[i].v[1] = gleam_int(g_tb2.r[i].v[1].u.i % 30 + 25);
    a.key = GLEAM_FIELDS(2);
    expect_cogroup(&exp, 2);
    CHECK_INT(exp.n, 60);
    CHECK_FLOW("cogroup_by 2", build_cogroup, &a, &exp, 0);
    rs_free(&exp);
    tb_free(&g_tb);
    tb_free(&g_tb2);
}

/* >>integer overflow: a sum is exact or an error ---------------------------------------------- */

/* Adds every value field with gleam_add_int64: exact sums, or GLEAM_ERR_OVERFLOW. */
static gleam_result sum_checked(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int i;
    for (i = 0; i < n; i++) {
        int64_t s;
        gleam_result r = gleam_add_int64(c, gleam_to_int64(acc[i]), gleam_to_int64(x[i]), &s);
        if (r != GLEAM_OK) return r;
        acc[i] = gleam_int(s);
    }
    return GLEAM_OK;
}

static void test_add_int64(void) {
    static const struct { int64_t a, b, sum; } fit[] = {
        {INT64_MAX, 0, INT64_MAX}, {INT64_MAX - 1, 1, INT64_MAX}, {1, INT64_MAX - 1, INT64_MAX},
        {INT64_MIN, 0, INT64_MIN}, {INT64_MIN + 1, -1, INT64_MIN}, {-1, INT64_MIN + 1, INT64_MIN},
        {INT64_MAX, INT64_MIN, -1}, {INT64_MIN, INT64_MAX, -1}, {-7, 5, -2}, {0, 0, 0},
    };
    static const struct { int64_t a, b; } over[] = {
        {INT64_MAX, 1}, {1, INT64_MAX}, {INT64_MAX, INT64_MAX}, {INT64_MIN, -1}, {-1, INT64_MIN},
        {INT64_MIN, INT64_MIN}, {INT64_MAX / 2 + 1, INT64_MAX / 2 + 1}, {INT64_MIN / 2 - 1, INT64_MIN / 2},
    };
    size_t i;
    for (i = 0; i < sizeof fit / sizeof fit[0]; i++) {
        int64_t s = 42;
        CHECK_INT(gleam_add_int64(NULL, fit[i].a, fit[i].b, &s), GLEAM_OK);
        CHECK_INT(s, fit[i].sum);
    }
    for (i = 0; i < sizeof over / sizeof over[0]; i++) {
        int64_t s = 42;
        CHECK_INT(gleam_add_int64(NULL, over[i].a, over[i].b, &s), GLEAM_ERR_OVERFLOW);
        CHECK_INT(s, 42); /* left alone */
    }
    CHECK_STR(gleam_result_str(GLEAM_ERR_OVERFLOW), "integer overflow");
}

/* Run a reduce_by on `key` (key.n > 0) or a reduce (key.n == 0) of the rows of g_tb in
   `shards` shards, with the reducer sumChecked, on every thread count: it must fail with
   GLEAM_ERR_OVERFLOW and the error must be want, whose one %d (if any) is the shard of
   the failing task, any of 1 to `shards`. */
static void overflow_at(const char *file, int line, gleam_fields key, int shards, const char *want) {
    int t;
    for (t = 0; t < NTHREADS; t++) {
        gleam_flow *f = gleam_flow_new("sum overflow");
        gleam_dataset *d = tb_dataset(f, &g_tb, shards);
        gleam_rows *rows = gleam_collect(key.n ? gleam_reduce_by(d, "sumChecked", key) : gleam_reduce(d, "sumChecked"));
        gleam_result r = run_flow(f, thread_counts[t]);
        const char *err = gleam_error(f);
        int k, found = 0;
        for (k = 1; k <= shards && !found; k++) {
            char w[1024];
            snprintf(w, sizeof w, want, k);
            found = !strcmp(err, w);
        }
        if (r != GLEAM_ERR_OVERFLOW || !found)
            th_failf(file, line, "threads=%d: %s, \"%s\"; want GLEAM_ERR_OVERFLOW, \"%s\"", thread_counts[t], gleam_result_str(r),
                     err, want);
        CHECK_INT(gleam_rows_count(rows), 0); /* never a wrapped total */
        gleam_flow_free(f);
    }
}
#define CHECK_OVERFLOW(key, shards, want) overflow_at(__FILE__, __LINE__, key, shards, want)

/* Rows (key, value) into g_tb: n_fill rows of keys "f0".."f<n_fill-1>" and value 1 between
   the given (key, value) rows, the first half of the given rows before them. */
static void overflow_rows(const char *const *keys, const int64_t *vals, int n, int n_fill) {
    int i;
    tb_free(&g_tb);
    g_tb.cols = 2;
    for (i = 0; i < n + n_fill; i++) {
        trow *r = tb_add(&g_tb);
        int j = i < n / 2 ? i : i - n_fill;
        if (i >= n / 2 && i < n / 2 + n_fill) {
            char s[16];
            int len = snprintf(s, sizeof s, "f%d", i - n / 2);
            r->v[0] = tb_str(&g_tb, s, (size_t)len);
            r->v[1] = gleam_int(1);
            continue;
        }
        r->v[0] = tb_str(&g_tb, keys[j], strlen(keys[j]));
        r->v[1] = gleam_int(vals[j]);
    }
}

static void test_sum_overflow(void) {
    static const char *const big[] = {"big", "big", "big", "big"};
    static const size_t nums_after[] = {(size_t)1 << 30, 0}; /* table entries as gleam_values, then as numbers */
    size_t saved = gleam__tune.nums_after, m;
    rs exp = {0, 0, 0};
    for (m = 0; m < sizeof nums_after / sizeof nums_after[0]; m++) {
        gleam__tune.nums_after = nums_after[m];
        {   /* INT64_MAX + 1 and INT64_MIN - 1 in one shard: the map-side fold names the key */
            static const int64_t up[] = {INT64_MAX, 1}, down[] = {INT64_MIN, -1};
            overflow_rows(big, up, 2, 0);
            CHECK_OVERFLOW(GLEAM_FIELDS(1), 1,
                           "flow \"sum overflow\": step 2 reduce_by(sumChecked), shard 1 of 1: key \"big\": "
                           "integer overflow: 9223372036854775807 + 1 is out of the int64 range");
            overflow_rows(big, down, 2, 0);
            CHECK_OVERFLOW(GLEAM_FIELDS(1), 1,
                           "flow \"sum overflow\": step 2 reduce_by(sumChecked), shard 1 of 1: key \"big\": "
                           "integer overflow: -9223372036854775808 + -1 is out of the int64 range");
            overflow_rows(big, up, 2, 300); /* among other keys, the two rows far apart */
            CHECK_OVERFLOW(GLEAM_FIELDS(1), 1,
                           "flow \"sum overflow\": step 2 reduce_by(sumChecked), shard 1 of 1: key \"big\": "
                           "integer overflow: 9223372036854775807 + 1 is out of the int64 range");
        }
        {   /* each shard's sum fits (5e18); only merging the two shards' partial sums overflows */
            static const int64_t up[] = {3000000000000000000, 2000000000000000000, 3000000000000000000, 2000000000000000000};
            static const int64_t down[] = {-3000000000000000000, -2000000000000000000, -3000000000000000000,
                                           -2000000000000000000};
            overflow_rows(big, up, 4, 200);
            CHECK_OVERFLOW(GLEAM_FIELDS(1), 2,
                           "flow \"sum overflow\": step 2 reduce_by(sumChecked), shard %d of 2: key \"big\", merging partial "
                           "folds: integer overflow: 5000000000000000000 + 5000000000000000000 is out of the int64 range");
            overflow_rows(big, down, 4, 200);
            CHECK_OVERFLOW(GLEAM_FIELDS(1), 2,
                           "flow \"sum overflow\": step 2 reduce_by(sumChecked), shard %d of 2: key \"big\", merging partial "
                           "folds: integer overflow: -5000000000000000000 + -5000000000000000000 is out of the int64 range");
        }
    }
    gleam__tune.nums_after = saved;
    {   /* a whole-dataset reduce: in a shard, then only where the shards' folds merge */
        static const int64_t up[] = {INT64_MAX, 1}, half[] = {5000000000000000000, 5000000000000000000};
        overflow_rows(big, up, 2, 0);
        CHECK_OVERFLOW(GLEAM_FIELDS(0), 1,
                       "flow \"sum overflow\": step 2 reduce(sumChecked), shard 1 of 1: "
                       "integer overflow: 9223372036854775807 + 1 is out of the int64 range");
        tb_free(&g_tb);
        g_tb.cols = 1;
        tb_add(&g_tb)->v[0] = gleam_int(half[0]);
        tb_add(&g_tb)->v[0] = gleam_int(half[1]);
        CHECK_OVERFLOW(GLEAM_FIELDS(0), 2,
                       "flow \"sum overflow\": step 2 reduce(sumChecked), shard 1 of 1: merging partial folds: "
                       "integer overflow: 5000000000000000000 + 5000000000000000000 is out of the int64 range");
    }
    {   /* keys as the error names them: several fields, escaped bytes, numbers, a long key cut */
        static const char long_key[] = "0123456789012345678901234567890123456789012345678901234567890123456789";
        trow *r;
        tb_free(&g_tb);
        g_tb.cols = 3;
        r = tb_add(&g_tb);
        r->v[0] = tb_str(&g_tb, "a\"b\tc\\\n\001", 8);
        r->v[1] = gleam_int(-7);
        r->v[2] = gleam_int(INT64_MAX);
        r = tb_add(&g_tb);
        *r = g_tb.r[0];
        CHECK_OVERFLOW(GLEAM_FIELDS(1, 2), 1,
                       "flow \"sum overflow\": step 2 reduce_by(sumChecked), shard 1 of 1: key (\"a\\\"b\\tc\\\\\\n\\x01\", -7): "
                       "integer overflow: 9223372036854775807 + 9223372036854775807 is out of the int64 range");
        CHECK_OVERFLOW(GLEAM_FIELDS(2), 1,
                       "flow \"sum overflow\": step 2 reduce_by(sumChecked), shard 1 of 1: key -7: integer overflow: "
                       "9223372036854775807 + 9223372036854775807 is out of the int64 range");
        tb_free(&g_tb);
        g_tb.cols = 2;
        r = tb_add(&g_tb);
        r->v[0] = tb_str(&g_tb, long_key, strlen(long_key));
        r->v[1] = gleam_int(INT64_MIN);
        r = tb_add(&g_tb);
        *r = g_tb.r[0];
        CHECK_OVERFLOW(GLEAM_FIELDS(1), 1,
                       "flow \"sum overflow\": step 2 reduce_by(sumChecked), shard 1 of 1: key "
                       "\"0123456789012345678901234567890123456789012345678901234567890123\"...: integer overflow: "
                       "-9223372036854775808 + -9223372036854775808 is out of the int64 range");
    }
    {   /* sums at the very ends of the range are exact, in any shards */
        static const char *const keys[] = {"max", "max", "min", "min", "ends", "ends", "up", "up", "down", "down"};
        static const int64_t vals[] = {INT64_MAX, 0, INT64_MIN, 0, INT64_MAX, INT64_MIN, INT64_MAX - 1, 1, INT64_MIN + 1, -1};
        static const int64_t sums[] = {INT64_MAX, INT64_MIN, -1, INT64_MAX, INT64_MIN};
        wide_arg a = {W_REDUCE_BY, 3, {0, {0}}, "sumChecked"};
        int i;
        overflow_rows(keys, vals, 10, 100);
        for (i = 0; i < 5; i++) {
            gleam_value o[2];
            o[0] = gleam_str(keys[2 * i]);
            o[1] = gleam_int(sums[i]);
            rs_add(&exp, o, 2);
        }
        for (i = 0; i < 100; i++) {
            gleam_value o[2];
            char s[16];
            int len = snprintf(s, sizeof s, "f%d", i);
            o[0] = gleam_bytes(s, (size_t)len);
            o[1] = gleam_int(1);
            rs_add(&exp, o, 2);
        }
        CHECK_FLOW("sums at the ends of the int64 range", build_wide, &a, &exp, 0);
        rs_free(&exp);
    }
    tb_free(&g_tb);
}

/* >>sort, top, distinct, limit, partition --------------------------------------------------- */

typedef struct sort_arg {
    int kind; /* 0 sort, 1 top, 2 limit after sort */
    int shards;
    gleam_order order;
    int64_t k;
} sort_arg;
static gleam_dataset *build_sort(gleam_flow *f, void *arg) {
    sort_arg *a = (sort_arg *)arg;
    gleam_dataset *d = tb_dataset(f, &g_tb, a->shards);
    if (a->kind == 0) return gleam_sort(d, a->order);
    if (a->kind == 1) return gleam_top(d, a->k, a->order);
    return gleam_limit(gleam_sort(d, a->order), a->k);
}
/* Expected: the rows of g_tb sorted by a->order (cut to k for top and limit). */
static void expect_sorted(rs *exp, const sort_arg *a) {
    trow *rows = (trow *)malloc((g_tb.n ? g_tb.n : 1) * sizeof *rows);
    size_t i, lim = g_tb.n;
    if (!rows) exit(2);
    if (g_tb.n) memcpy(rows, g_tb.r, g_tb.n * sizeof *rows);
    trows_sort(rows, g_tb.n, a->order);
    if (a->kind != 0 && (uint64_t)a->k < lim) lim = (size_t)a->k;
    for (i = 0; i < lim; i++) rs_add(exp, rows[i].v, rows[i].n);
    free(rows);
}
/* The collected rows are in order by the sort's order (ties in any order). */
static void post_is_sorted(const char *file, int line, const char *what, int threads, const gleam_rows *rows, void *arg) {
    sort_arg *a = (sort_arg *)arg;
    size_t i, n = gleam_rows_count(rows);
    for (i = 1; i < n; i++) {
        int n0, n1;
        const gleam_value *x = gleam_rows_get(rows, i - 1, &n0), *y = gleam_rows_get(rows, i, &n1);
        if (ref_row_cmp(x, y, &a->order) > 0) {
            th_failf(file, line, "%s (threads=%d): rows %zu and %zu out of order", what, threads, i - 1, i);
            return;
        }
    }
}

static const char *const words[] = {"", "a", "ab", "abc", "abd", "abcd", "b", "ba", "a\x01", "\xff", "\xff\xff", "zz", "A", "Z", "ab\x7f", "ab\x80"};
#define NWORDS (sizeof words / sizeof words[0])

static void test_sort_fields(void) {
    sort_arg a = {0, 16, {0, {{0, 0}}}, 0};
    rs exp = {0, 0, 0};
    size_t i;
    g_tb.cols = 4;
    rng_seed(9);
    for (i = 0; i < (size_t)TH_ROWS(20000); i++) {
        trow *r = tb_add(&g_tb);
        const char *w = words[rng_below((int64_t)NWORDS)];
        r->v[0] = gleam_int(rng_below(101) - 50);
        r->v[1] = gleam_double((double)(rng_below(81) - 40) / 4.0);
        r->v[2] = tb_str(&g_tb, w, strlen(w) + (w[0] == 'a' && w[1] == 0 && i % 2 ? 1 : 0)); /* "a\0" too */
        r->v[3] = gleam_int((int64_t)(i * 7919 % 20011));
    }
    /* unique orders: compare exactly */
    a.order = gleam_then_by(gleam_then_by(gleam_then_by(gleam_order_by(1, GLEAM_ASC), 2, GLEAM_DESC), 3, GLEAM_ASC), 4, GLEAM_ASC);
    expect_sorted(&exp, &a);
    CHECK_FLOW("sort 1 asc, 2 desc, 3 asc, 4 asc", build_sort, &a, &exp, 1);
    rs_free(&exp);
    a.order = gleam_then_by(gleam_then_by(gleam_order_by(3, GLEAM_DESC), 2, GLEAM_ASC), 4, GLEAM_DESC);
    expect_sorted(&exp, &a);
    CHECK_FLOW("sort 3 desc, 2 asc, 4 desc", build_sort, &a, &exp, 1);
    rs_free(&exp);
    /* with ties: in order, same multiset */
    a.order = gleam_then_by(gleam_order_by(2, GLEAM_ASC), 3, GLEAM_DESC);
    a.shards = 5;
    expect_sorted(&exp, &a);
    CHECK_FLOW_POST("sort 2 asc, 3 desc (ties)", build_sort, &a, &exp, 0, post_is_sorted);
    rs_free(&exp);
    /* limit after a sort: the first n rows in order */
    a.kind = 2;
    a.k = 777;
    a.shards = 16;
    a.order = gleam_then_by(gleam_order_by(3, GLEAM_ASC), 4, GLEAM_ASC);
    expect_sorted(&exp, &a);
    CHECK_INT(exp.n, 777);
    CHECK_FLOW("limit 777 after sort", build_sort, &a, &exp, 1);
    rs_free(&exp);
    tb_free(&g_tb);
}

/* Texts that agree on their first bytes: the sort's first split falls on a later byte of
   the prefix, or on none (the first 8 bytes of every text alike), in one shard and in few. */
static void test_sort_common_prefix(void) {
    static const char *const heads[] = {"", "q", "common-", "common-p", "common-prefix-"};
    sort_arg a = {0, 1, {0, {{0, 0}}}, 0};
    rs exp = {0, 0, 0};
    size_t h, i;
    for (h = 0; h < sizeof heads / sizeof *heads; h++) {
        char what[64];
        g_tb.cols = 2;
        rng_seed(11 + h);
        for (i = 0; i < 5000; i++) {
            trow *r = tb_add(&g_tb);
            char s[64];
            int len = snprintf(s, sizeof s, "%s%c%c%d", heads[h], (char)('a' + rng_below(26)), (char)('a' + rng_below(26)),
                               (int)rng_below(1000));
            r->v[0] = tb_str(&g_tb, s, (size_t)len);
            r->v[1] = gleam_int((int64_t)i);
        }
        a.order = gleam_then_by(gleam_order_by(1, h % 2 ? GLEAM_DESC : GLEAM_ASC), 2, GLEAM_ASC);
        a.shards = h % 2 ? 1 : 3;
        expect_sorted(&exp, &a);
        snprintf(what, sizeof what, "sort texts after \"%s\"", heads[h]);
        CHECK_FLOW(what, build_sort, &a, &exp, 1);
        rs_free(&exp);
        tb_free(&g_tb);
    }
}

/* A sort keeps ties in input order: rows (k, i) with k taking two values, sorted by k alone
   in one shard, come out as if sorted by (k, i). */
static void test_sort_stable(void) {
    sort_arg a = {0, 1, {0, {{0, 0}}}, 0};
    rs exp = {0, 0, 0};
    size_t i;
    g_tb.cols = 2;
    for (i = 0; i < 3000; i++) {
        trow *r = tb_add(&g_tb);
        r->v[0] = gleam_int(i * 7919 % 3 ? 1 : 1000);
        r->v[1] = gleam_int((int64_t)i);
    }
    a.order = gleam_then_by(gleam_order_by(1, GLEAM_ASC), 2, GLEAM_ASC);
    expect_sorted(&exp, &a);
    a.order = gleam_order_by(1, GLEAM_ASC);
    CHECK_FLOW("sort with ties, one shard", build_sort, &a, &exp, 1);
    rs_free(&exp);
    tb_free(&g_tb);
}

static void test_sort_mixed_types(void) {
    sort_arg a = {0, 16, {0, {{0, 0}}}, 0};
    rs exp = {0, 0, 0};
    size_t i;
    g_tb.cols = 2;
    rng_seed(10);
    for (i = 0; i < 6000; i++) {
        trow *r = tb_add(&g_tb);
        switch (rng_below(6)) {
        case 0: r->v[0] = gleam_nil(); break;
        case 1: r->v[0] = gleam_bool((int)rng_below(2)); break;
        case 2: r->v[0] = gleam_int(rng_below(2001) - 1000); break;
        case 3: r->v[0] = gleam_int(rng_below(2) ? INT64_MIN + rng_below(3) : INT64_MAX - rng_below(3)); break;
        case 4: r->v[0] = gleam_double((double)(rng_below(4001) - 2000) / 2.0 + (rng_below(2) ? 0.25 : 0)); break;
        default: {
            const char *w = words[rng_below((int64_t)NWORDS)];
            r->v[0] = tb_str(&g_tb, w, strlen(w));
        }
        }
        r->v[1] = gleam_int((int64_t)i);
    }
    a.order = gleam_then_by(gleam_order_by(1, GLEAM_ASC), 2, GLEAM_ASC);
    expect_sorted(&exp, &a);
    CHECK_FLOW("sort mixed types asc", build_sort, &a, &exp, 1);
    rs_free(&exp);
    a.order = gleam_then_by(gleam_order_by(1, GLEAM_DESC), 2, GLEAM_DESC);
    a.shards = 3;
    expect_sorted(&exp, &a);
    CHECK_FLOW("sort mixed types desc", build_sort, &a, &exp, 1);
    rs_free(&exp);
    tb_free(&g_tb);
}

static void test_top(void) {
    static const int64_t ks[] = {1, 10, 999, 5000, 20000, 0};
    sort_arg a = {1, 8, {0, {{0, 0}}}, 0};
    size_t i, t;
    g_tb.cols = 3;
    rng_seed(11);
    for (i = 0; i < 5000; i++) {
        trow *r = tb_add(&g_tb);
        r->v[0] = gleam_int(rng_below(40)); /* many ties */
        r->v[1] = gleam_int((int64_t)(i * 7919 % 5003)); /* unique tie-break */
        r->v[2] = gleam_double((double)rng_below(100) / 3.0);
    }
    a.order = gleam_then_by(gleam_order_by(1, GLEAM_DESC), 2, GLEAM_ASC);
    for (t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        rs exp = {0, 0, 0};
        char what[64];
        a.k = ks[t];
        snprintf(what, sizeof what, "top %lld of 5000", (long long)a.k);
        expect_sorted(&exp, &a);
        CHECK_INT(exp.n, a.k < 5000 ? a.k : 5000);
        CHECK_FLOW(what, build_sort, &a, &exp, 1);
        rs_free(&exp);
    }
    tb_free(&g_tb);
}

/* Is e (an encoded row) in the sorted rs? */
static int rs_has(const rs *sorted, const enc *e) {
    size_t lo = 0, hi = sorted->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = enc_cmp(&sorted->v[mid], e);
        if (!c) return 1;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

static void test_distinct(void) {
    wide_arg a = {W_DISTINCT, 6, {0, {0}}, NULL};
    rs exp = {0, 0, 0}, all = {0, 0, 0};
    size_t i;
    g_tb.cols = 3;
    rng_seed(12);
    for (i = 0; i < 20000; i++) {
        trow *r = tb_add(&g_tb);
        const char *w = words[rng_below(4)];
        r->v[0] = gleam_int(rng_below(10));
        r->v[1] = tb_str(&g_tb, w, strlen(w));
        r->v[2] = rng_below(2) ? gleam_int(rng_below(3)) : gleam_double((double)rng_below(3) + 0.5);
    }
    tb_expect_all(&g_tb, &all);
    rs_sort(&all);
    for (i = 0; i < all.n; i++)
        if (i == 0 || enc_cmp(&all.v[i - 1], &all.v[i])) rs_push(&exp, all.v[i].p, all.v[i].len);
    CHECK(exp.n > 100 && exp.n <= 240);
    CHECK_FLOW("distinct", build_wide, &a, &exp, 0);
    rs_free(&exp);
    rs_free(&all);
}

/* distinct_by 2,1: one row per key, each an input row. */
static void post_distinct_by(const char *file, int line, const char *what, int threads, const gleam_rows *rows, void *arg) {
    wide_arg *a = (wide_arg *)arg;
    rs all = {0, 0, 0}, keys = {0, 0, 0}, got = {0, 0, 0};
    size_t i;
    tb_expect_all(&g_tb, &all);
    rs_sort(&all);
    for (i = 0; i < g_tb.n; i++) {
        gleam_value k[2];
        k[0] = g_tb.r[i].v[a->key.f[0] - 1];
        k[1] = g_tb.r[i].v[a->key.f[1] - 1];
        rs_add(&keys, k, 2);
    }
    rs_sort(&keys);
    {
        size_t w = 0;
        for (i = 0; i < keys.n; i++) {
            if (w && !enc_cmp(&keys.v[w - 1], &keys.v[i])) {
                free(keys.v[i].p);
                continue;
            }
            keys.v[w++] = keys.v[i];
        }
        keys.n = w;
    }
    for (i = 0; i < gleam_rows_count(rows); i++) {
        int n;
        const gleam_value *r = gleam_rows_get(rows, i, &n);
        gleam_value k[2];
        th_buf b = {0, 0, 0};
        enc e;
        enc_row(&b, r, n);
        e.p = b.p;
        e.len = b.len;
        if (!rs_has(&all, &e)) th_failf(file, line, "%s (threads=%d): row %s is no input row", what, threads, show(&e));
        th_buf_free(&b);
        k[0] = r[a->key.f[0] - 1];
        k[1] = r[a->key.f[1] - 1];
        rs_add(&got, k, 2);
    }
    rs_compare(file, line, what, threads, &keys, &got, 0); /* each key exactly once */
    rs_free(&all);
    rs_free(&keys);
    rs_free(&got);
}
static void test_distinct_by(void) {
    wide_arg a = {W_DISTINCT_BY, 6, {0, {0}}, NULL};
    a.key = GLEAM_FIELDS(3, 1);
    /* g_tb from test_distinct */
    CHECK_FLOW_POST("distinct_by 3,1", build_wide, &a, NULL, 0, post_distinct_by);
    tb_free(&g_tb);
}

static int64_t lim_n;
static gleam_dataset *build_limit(gleam_flow *f, void *arg) {
    (void)arg;
    return gleam_limit(tb_dataset(f, &g_tb, 7), lim_n);
}
static void post_limit(const char *file, int line, const char *what, int threads, const gleam_rows *rows, void *arg) {
    rs all = {0, 0, 0}, got = {0, 0, 0};
    size_t i, j = 0, want = (uint64_t)lim_n < g_tb.n ? (size_t)lim_n : g_tb.n;
    (void)arg;
    if (gleam_rows_count(rows) != want)
        th_failf(file, line, "%s (threads=%d): %zu rows, want %zu", what, threads, gleam_rows_count(rows), want);
    tb_expect_all(&g_tb, &all);
    rs_from_rows(&got, rows);
    rs_sort(&all);
    rs_sort(&got);
    /* got is a sub-multiset of all */
    for (i = 0; i < got.n; i++) {
        while (j < all.n && enc_cmp(&all.v[j], &got.v[i]) < 0) j++;
        if (j == all.n || enc_cmp(&all.v[j], &got.v[i])) {
            th_failf(file, line, "%s (threads=%d): row %s not in the input (or too often)", what, threads, show(&got.v[i]));
            break;
        }
        j++;
    }
    rs_free(&all);
    rs_free(&got);
}
static void test_limit(void) {
    static const int64_t ns[] = {0, 1, 5, 999, 1000, 5000};
    size_t i;
    g_tb.cols = 2;
    for (i = 0; i < 1000; i++) {
        trow *r = tb_add(&g_tb);
        r->v[0] = gleam_int((int64_t)(i % 10)); /* duplicates */
        r->v[1] = gleam_int((int64_t)(i % 3));
    }
    for (i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        lim_n = ns[i];
        CHECK_FLOW_POST("limit", build_limit, NULL, NULL, 0, post_limit);
    }
    tb_free(&g_tb);
}

typedef struct part_arg {
    int in_shards, out_shards;
    gleam_fields key; /* n == 0: gleam_partition */
} part_arg;
static int part_ds_shards;
static gleam_dataset *build_partition(gleam_flow *f, void *arg) {
    part_arg *a = (part_arg *)arg;
    gleam_dataset *d = tb_dataset(f, &g_tb, a->in_shards);
    reset_seq();
    d = a->key.n ? gleam_partition_by(d, a->out_shards, a->key) : gleam_partition(d, a->out_shards);
    part_ds_shards = gleam_shards(d);
    return gleam_map(d, "tagShard");
}
/* rows are (shard, seq, row...): equal keys share a shard; shards in range. */
static void post_partition(const char *file, int line, const char *what, int threads, const gleam_rows *rows, void *arg) {
    part_arg *a = (part_arg *)arg;
    size_t i, j, n = gleam_rows_count(rows);
    rs all = {0, 0, 0}, got = {0, 0, 0};
    gleam_fields key = a->key.n ? a->key : GLEAM_FIELDS(1);
    int used = 0;
    char seen[MAX_SHARDS] = {0};
    if (part_ds_shards != a->out_shards) th_failf(file, line, "%s: gleam_shards %d", what, part_ds_shards);
    if (atomic_load(&tag_shards_seen) != a->out_shards && n)
        th_failf(file, line, "%s: gleam_ctx_shards %d", what, atomic_load(&tag_shards_seen));
    /* multiset of rows without the tags */
    tb_expect_all(&g_tb, &all);
    for (i = 0; i < n; i++) {
        int m;
        const gleam_value *r = gleam_rows_get(rows, i, &m);
        int s = (int)r[0].u.i;
        if (s < 0 || s >= a->out_shards) {
            th_failf(file, line, "%s (threads=%d): shard %d out of range", what, threads, s);
            break;
        }
        if (!seen[s]) used++;
        seen[s] = 1;
        rs_add(&got, r + 2, m - 2);
    }
    rs_compare(file, line, what, threads, &all, &got, 0);
    /* equal keys, same shard (quadratic over distinct keys: fine for small inputs) */
    for (i = 0; i < n; i++) {
        int m;
        const gleam_value *r = gleam_rows_get(rows, i, &m);
        for (j = i + 1; j < n && j < i + 400; j++) {
            int m2;
            const gleam_value *q = gleam_rows_get(rows, j, &m2);
            if (keys_equal(r + 2, q + 2, &key) && r[0].u.i != q[0].u.i) {
                th_failf(file, line, "%s (threads=%d): equal keys in shards %lld and %lld", what, threads, (long long)r[0].u.i,
                         (long long)q[0].u.i);
                i = n;
                break;
            }
        }
    }
    if (n > 1000 && used < a->out_shards / 2)
        th_failf(file, line, "%s (threads=%d): only %d of %d shards used", what, threads, used, a->out_shards);
    rs_free(&all);
    rs_free(&got);
}
/* A full check of "equal keys share a shard": map key -> shard through sorting. */
static void post_partition_full(const char *file, int line, const char *what, int threads, const gleam_rows *rows, void *arg) {
    part_arg *a = (part_arg *)arg;
    gleam_fields key = a->key.n ? a->key : GLEAM_FIELDS(1);
    size_t i, n = gleam_rows_count(rows);
    table t = {0, 0, 0, 0, {0, 0, 0}};
    gleam_order o;
    int k;
    post_partition(file, line, what, threads, rows, arg);
    t.cols = 1 + key.n;
    for (i = 0; i < n; i++) {
        int m;
        const gleam_value *r = gleam_rows_get(rows, i, &m);
        trow *x = tb_add(&t);
        for (k = 0; k < key.n; k++) x->v[k] = r[2 + key.f[k] - 1];
        x->v[key.n] = r[0];
    }
    memset(&o, 0, sizeof o);
    o.n = key.n;
    for (k = 0; k < key.n; k++) o.by[k].field = k + 1;
    trows_sort(t.r, t.n, o);
    for (i = 1; i < t.n; i++)
        if (ref_row_cmp(t.r[i - 1].v, t.r[i].v, &o) == 0 && t.r[i - 1].v[key.n].u.i != t.r[i].v[key.n].u.i) {
            th_failf(file, line, "%s (threads=%d): a key in shards %lld and %lld", what, threads, (long long)t.r[i - 1].v[key.n].u.i,
                     (long long)t.r[i].v[key.n].u.i);
            break;
        }
    tb_free(&t);
}

static void test_partition(void) {
    part_arg a = {3, 7, {0, {0}}};
    size_t i;
    g_tb.cols = 3;
    rng_seed(13);
    for (i = 0; i < 5000; i++) {
        trow *r = tb_add(&g_tb);
        char s[16];
        int len = snprintf(s, sizeof s, "key%d", (int)rng_below(300));
        r->v[0] = tb_str(&g_tb, s, (size_t)len);
        r->v[1] = gleam_int(rng_below(50));
        r->v[2] = gleam_int((int64_t)i);
    }
    CHECK_FLOW_POST("partition 7", build_partition, &a, NULL, 0, post_partition_full);
    a.key = GLEAM_FIELDS(2, 1);
    a.out_shards = 16;
    CHECK_FLOW_POST("partition_by 16 on 2,1", build_partition, &a, NULL, 0, post_partition_full);
    tb_free(&g_tb);
}

/* >>joins ---------------------------------------------------------------------------------- */

typedef struct join_arg {
    gleam_join_kind kind;
    gleam_fields key; /* n == 0: the default calls */
    int sa, sb;       /* shards */
} join_arg;
static gleam_dataset *build_join(gleam_flow *f, void *arg) {
    join_arg *a = (join_arg *)arg;
    gleam_dataset *x = tb_dataset(f, &g_tb, a->sa), *y = tb_dataset(f, &g_tb2, a->sb);
    if (a->key.n) return gleam_join_by(x, y, a->kind, a->key);
    switch (a->kind) {
    case GLEAM_INNER: return gleam_join(x, y);
    case GLEAM_LEFT_OUTER: return gleam_left_outer_join(x, y);
    default: return gleam_right_outer_join(x, y);
    }
}
/* Nested-loop reference: key fields, a's others, b's others; nils for a missing side. */
static void expect_join(rs *exp, const table *ta, const table *tb, gleam_join_kind kind, gleam_fields key) {
    size_t i, j;
    int k;
    for (i = 0; i < ta->n; i++) {
        int matched = 0;
        for (j = 0; j < tb->n; j++) {
            gleam_value ka[MAXC], oa[MAXC], kb[MAXC], ob[MAXC], out[3 * MAXC];
            int nka, nkb, na, nb, m = 0;
            if (!keys_equal(ta->r[i].v, tb->r[j].v, &key)) continue;
            matched = 1;
            na = split_row(&ta->r[i], &key, ka, &nka, oa);
            nb = split_row(&tb->r[j], &key, kb, &nkb, ob);
            for (k = 0; k < nka; k++) out[m++] = ka[k];
            for (k = 0; k < na; k++) out[m++] = oa[k];
            for (k = 0; k < nb; k++) out[m++] = ob[k];
            rs_add(exp, out, m);
        }
        if (!matched && kind == GLEAM_LEFT_OUTER) {
            gleam_value ka[MAXC], oa[MAXC], out[3 * MAXC];
            int nka, na, m = 0;
            na = split_row(&ta->r[i], &key, ka, &nka, oa);
            for (k = 0; k < nka; k++) out[m++] = ka[k];
            for (k = 0; k < na; k++) out[m++] = oa[k];
            for (k = 0; k < tb->cols - key.n; k++) out[m++] = gleam_nil();
            rs_add(exp, out, m);
        }
    }
    if (kind == GLEAM_RIGHT_OUTER)
        for (j = 0; j < tb->n; j++) {
            gleam_value kb[MAXC], ob[MAXC], out[3 * MAXC];
            int nkb, nb, m = 0, matched = 0;
            for (i = 0; i < ta->n && !matched; i++) matched = keys_equal(ta->r[i].v, tb->r[j].v, &key);
            if (matched) continue;
            nb = split_row(&tb->r[j], &key, kb, &nkb, ob);
            for (k = 0; k < nkb; k++) out[m++] = kb[k];
            for (k = 0; k < ta->cols - key.n; k++) out[m++] = gleam_nil();
            for (k = 0; k < nb; k++) out[m++] = ob[k];
            rs_add(exp, out, m);
        }
}

static void test_joins(void) {
    static const gleam_join_kind kinds[] = {GLEAM_INNER, GLEAM_LEFT_OUTER, GLEAM_RIGHT_OUTER};
    static const char *const names[] = {"inner join", "left outer join", "right outer join"};
    join_arg a = {GLEAM_INNER, {0, {0}}, 4, 3};
    size_t i, t;
    rng_seed(14);
    /* a: (k, x) with keys 0..59 (k % 3 == 0 missing), b: (k, y, z) with keys 30..89 */
    g_tb.cols = 2;
    g_tb2.cols = 3;
    for (i = 0; i < 400; i++) {
        trow *r = tb_add(&g_tb);
        int64_t k = rng_below(60);
        char s[16];
        int len = snprintf(s, sizeof s, "k%lld", (long long)k);
        r->v[0] = tb_str(&g_tb, s, (size_t)len);
        r->v[1] = gleam_int((int64_t)i);
    }
    for (i = 0; i < 300; i++) {
        trow *r = tb_add(&g_tb2);
        int64_t k = 30 + rng_below(60);
        char s[16];
        int len = snprintf(s, sizeof s, "k%lld", (long long)k);
        r->v[0] = tb_str(&g_tb2, s, (size_t)len);
        r->v[1] = gleam_double((double)i / 2);
        r->v[2] = rng_below(3) ? gleam_int((int64_t)i) : gleam_nil();
    }
    for (t = 0; t < 3; t++) {
        rs exp = {0, 0, 0};
        a.kind = kinds[t];
        a.key.n = 0;
        expect_join(&exp, &g_tb, &g_tb2, a.kind, GLEAM_FIELDS(1));
        CHECK(exp.n > 500);
        CHECK_FLOW(names[t], build_join, &a, &exp, 0);
        rs_free(&exp);
    }
    tb_free(&g_tb);
    tb_free(&g_tb2);

    /* join_by field 2: a = (x, k, y), b = (p, k, q, r) */
    g_tb.cols = 3;
    g_tb2.cols = 4;
    for (i = 0; i < 300; i++) {
        trow *r = tb_add(&g_tb);
        r->v[0] = gleam_int((int64_t)i);
        r->v[1] = gleam_int(rng_below(50) - 10);
        r->v[2] = tb_str(&g_tb, "left", 4);
    }
    for (i = 0; i < 200; i++) {
        trow *r = tb_add(&g_tb2);
        r->v[0] = tb_str(&g_tb2, "right", 5);
        r->v[1] = gleam_int(rng_below(50) + 10);
        r->v[2] = gleam_int((int64_t)i * 3);
        r->v[3] = gleam_bool((int)(i % 2));
    }
    for (t = 0; t < 3; t++) {
        rs exp = {0, 0, 0};
        char what[64];
        a.kind = kinds[t];
        a.key = GLEAM_FIELDS(2);
        a.sa = 5;
        a.sb = 2;
        snprintf(what, sizeof what, "join_by field 2, %s", names[t]);
        expect_join(&exp, &g_tb, &g_tb2, a.kind, a.key);
        CHECK_FLOW(what, build_join, &a, &exp, 0);
        rs_free(&exp);
    }
    tb_free(&g_tb);
    tb_free(&g_tb2);
}

/* >>outputs -------------------------------------------------------------------------------- */

/* The lines of a file (without their '\n'), sorted or not. */
static void lines_of(rs *out, const char *text, size_t len) {
    size_t i = 0;
    while (i < len) {
        const char *nl = (const char *)memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        rs_push(out, text + i, e - i);
        i = e + 1;
    }
}

typedef struct out_arg {
    int kind; /* 0 printf, 1 tsv, 2 csv, 3 output_row */
    int sorted;
    const char *path;
    const char *format;
} out_arg;
static gleam_dataset *build_out(gleam_flow *f, void *arg) {
    out_arg *a = (out_arg *)arg;
    gleam_dataset *d = tb_dataset(f, &g_tb, 6);
    if (a->sorted) d = gleam_sort(d, gleam_order_by(2, GLEAM_DESC));
    switch (a->kind) {
    case 0: gleam_fprintlnf(d, a->path, a->format); break;
    case 1: gleam_write_tsv(d, a->path); break;
    case 2: gleam_write_csv(d, a->path); break;
    default: gleam_output_row(d, "recordRow"); break;
    }
    return d;
}
/* Rows (word, unique int, small int, double, nonnegative int, bytes) */
static void make_out_table(void) {
    size_t i;
    g_tb.cols = 6;
    rng_seed(15);
    for (i = 0; i < 3000; i++) {
        trow *r = tb_add(&g_tb);
        const char *w = words[1 + rng_below(6)];
        char s[32];
        int len = snprintf(s, sizeof s, "x%dy", (int)rng_below(1000));
        r->v[0] = tb_str(&g_tb, w, strlen(w));
        r->v[1] = gleam_int((int64_t)(i * 7919 % 3001) - 1500);
        r->v[2] = gleam_int(rng_below(200000) - 100000);
        r->v[3] = gleam_double((double)(rng_below(2000000) - 1000000) / 64.0);
        r->v[4] = gleam_int(rng_below(1 << 30));
        r->v[5] = tb_str(&g_tb, s, (size_t)len);
    }
}
/* The expected lines in the order of a sort by field 2 desc (unique), or of g_tb. */
static void expect_lines(rs *exp, int sorted, int kind) {
    trow *rows = (trow *)malloc(g_tb.n * sizeof *rows);
    size_t i;
    if (!rows) exit(2);
    if (g_tb.n) memcpy(rows, g_tb.r, g_tb.n * sizeof *rows);
    if (sorted) trows_sort(rows, g_tb.n, gleam_order_by(2, GLEAM_DESC));
    for (i = 0; i < g_tb.n; i++) {
        const gleam_value *v = rows[i].v;
        char line[256];
        int len;
        if (kind == 2) /* strings and integers alone: the printer's short path */
            len = snprintf(line, sizeof line, "%.*s=%lld,%lld%%", (int)v[0].len, v[0].u.s, (long long)v[1].u.i, (long long)v[2].u.i);
        else if (kind == 0)
            len = snprintf(line, sizeof line, "[%-6.*s|%5lld|%lld|%8.3f|%llx|%.*s|%%]", (int)v[0].len, v[0].u.s, (long long)v[1].u.i,
                           (long long)v[2].u.i, v[3].u.d, (unsigned long long)v[4].u.i, (int)v[5].len, v[5].u.s);
        else
            len = snprintf(line, sizeof line, "%.*s\t%lld\t%lld\t%.*s", (int)v[0].len, v[0].u.s, (long long)v[1].u.i, (long long)v[2].u.i,
                           (int)v[5].len, v[5].u.s);
        rs_push(exp, line, (size_t)len);
    }
    free(rows);
}

static void check_file_lines(const char *file, int line, const char *what, out_arg *a, int kind_lines, table *src_fields) {
    int t;
    (void)src_fields;
    for (t = 0; t < NTHREADS; t++) {
        gleam_flow *f = gleam_flow_new(what);
        gleam_result r;
        build_out(f, a);
        r = run_flow(f, thread_counts[t]);
        if (r != GLEAM_OK) {
            th_failf(file, line, "%s (threads=%d): run failed: %s", what, thread_counts[t], gleam_error(f));
        } else {
            size_t len;
            char *text = th_read(a->path, &len);
            rs exp = {0, 0, 0}, got = {0, 0, 0};
            if (!text) {
                th_failf(file, line, "%s: no file %s", what, a->path);
            } else {
                if (len && text[len - 1] != '\n') th_failf(file, line, "%s: the last line has no newline", what);
                lines_of(&got, text, len);
                expect_lines(&exp, a->sorted, kind_lines);
                rs_compare(file, line, what, thread_counts[t], &exp, &got, a->sorted);
            }
            free(text);
            rs_free(&exp);
            rs_free(&got);
        }
        gleam_flow_free(f);
    }
}

static void test_fprintlnf(void) {
    out_arg a = {0, 0, NULL, "[%-6s|%5d|%v|%8.3f|%x|%v|%%]"};
    char path[512];
    make_out_table();
    snprintf(path, sizeof path, "%s", th_path("printf.txt"));
    a.path = path;
    check_file_lines(__FILE__, __LINE__, "fprintlnf", &a, 0, NULL);
    a.sorted = 1;
    check_file_lines(__FILE__, __LINE__, "fprintlnf after sort (in order)", &a, 0, NULL);
    a.format = "%s=%d,%v%%"; /* no width or precision, no double: each line's room reserved at once */
    a.sorted = 0;
    check_file_lines(__FILE__, __LINE__, "fprintlnf of strings and integers", &a, 2, NULL);
}

/* printlnf at the ends of its short path: the widest integers (20 bytes of text), empty
   strings, a literal %, and a format with more conversions than the row has fields (the
   general path's %!d(MISSING)). */
static void test_fprintlnf_edges(void) {
    static const char *formats[] = {"%s=%d,%v%%", "[%v|%d|%s|%d]"};
    table t = {0};
    trow *r;
    char path[512], want[1024];
    int k, at;
    t.cols = 3;
    r = tb_add(&t);
    r->v[0] = tb_str(&t, "", 0);
    r->v[1] = gleam_int(INT64_MIN);
    r->v[2] = gleam_int(INT64_MAX);
    r = tb_add(&t);
    r->v[0] = tb_str(&t, "x", 1);
    r->v[1] = gleam_int(-1);
    r->v[2] = gleam_int(0);
    r = tb_add(&t);
    r->v[0] = tb_str(&t, "a string of forty-one bytes, give or take", 41);
    r->v[1] = gleam_int(1000000007);
    r->v[2] = tb_str(&t, "", 0);
    snprintf(path, sizeof path, "%s", th_path("edges.txt"));
    for (k = 0; k < 2; k++) {
        gleam_flow *f = gleam_flow_new("printlnf edges");
        size_t len, i;
        char *text;
        gleam_fprintlnf(tb_dataset(f, &t, 1), path, formats[k]);
        CHECK_INT(run_flow(f, 2), GLEAM_OK);
        for (i = 0, at = 0; i < t.n; i++) {
            const gleam_value *v = t.r[i].v;
            char third[32];
            if (v[2].type == GLEAM_INT) snprintf(third, sizeof third, "%lld", (long long)v[2].u.i);
            else snprintf(third, sizeof third, "%.*s", (int)v[2].len, v[2].u.s);
            if (k == 0)
                at += snprintf(want + at, sizeof want - (size_t)at, "%.*s=%lld,%s%%\n", (int)v[0].len, v[0].u.s,
                               (long long)v[1].u.i, third);
            else
                at += snprintf(want + at, sizeof want - (size_t)at, "[%.*s|%lld|%s|%%!d(MISSING)]\n", (int)v[0].len,
                               v[0].u.s, (long long)v[1].u.i, third);
        }
        text = th_read(path, &len);
        CHECK(text != NULL);
        if (text) {
            CHECK_INT((int)len, at);
            CHECK(len == (size_t)at && memcmp(text, want, len) == 0);
            if (len != (size_t)at || memcmp(text, want, len)) th_failf(__FILE__, __LINE__, "got:\n%.*s\nwant:\n%s", (int)len, text, want);
        }
        free(text);
        gleam_flow_free(f);
    }
    tb_free(&t);
}

static void test_write_tsv(void) {
    out_arg a = {1, 0, NULL, NULL};
    char path[512];
    size_t i;
    /* the table of test_fprintlnf as (word, int, int, bytes): without the double and hex
       fields (expect_lines reads the bytes from v[5], left in place) */
    for (i = 0; i < g_tb.n; i++) {
        g_tb.r[i].v[3] = g_tb.r[i].v[5];
        g_tb.r[i].n = 4;
    }
    g_tb.cols = 4;
    snprintf(path, sizeof path, "%s", th_path("out.tsv"));
    a.path = path;
    check_file_lines(__FILE__, __LINE__, "write_tsv", &a, 1, NULL);
    a.sorted = 1;
    check_file_lines(__FILE__, __LINE__, "write_tsv after sort (in order)", &a, 1, NULL);
    tb_free(&g_tb);
}

/* A strict RFC 4180 parser: records of fields (LF or CRLF line ends). Each record is
   encoded as a row of bytes values. Returns 0 on malformed input. */
static int parse_csv(const char *p, size_t len, rs *out) {
    size_t i = 0;
    while (i < len) {
        gleam_value fields[MAXC];
        th_buf fb[MAXC];
        int nf = 0, k, end = 0;
        memset(fb, 0, sizeof fb);
        while (!end) {
            if (nf == MAXC) return 0;
            th_buf_add(&fb[nf], "", 0);
            if (i < len && p[i] == '"') {
                i++;
                for (;;) {
                    if (i >= len) return 0;
                    if (p[i] == '"') {
                        if (i + 1 < len && p[i + 1] == '"') {
                            th_buf_ch(&fb[nf], '"');
                            i += 2;
                        } else {
                            i++;
                            break;
                        }
                    } else {
                        th_buf_ch(&fb[nf], p[i++]);
                    }
                }
            } else {
                while (i < len && p[i] != ',' && p[i] != '\n' && !(p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')) {
                    if (p[i] == '"') return 0;
                    th_buf_ch(&fb[nf], p[i++]);
                }
            }
            nf++;
            if (i < len && p[i] == ',') i++;
            else if (i < len && p[i] == '\n') i++, end = 1;
            else if (i + 1 < len && p[i] == '\r' && p[i + 1] == '\n') i += 2, end = 1;
            else if (i >= len) end = 1;
            else return 0;
        }
        for (k = 0; k < nf; k++) fields[k] = gleam_bytes(fb[k].p, fb[k].len);
        rs_add(out, fields, nf);
        for (k = 0; k < nf; k++) th_buf_free(&fb[k]);
    }
    return 1;
}

static gleam_dataset *build_csv(gleam_flow *f, void *arg) {
    gleam_dataset *d = tb_dataset(f, &g_tb, 4);
    gleam_write_csv(d, (const char *)arg);
    return d;
}
static void test_write_csv(void) {
    static const char *const texts[] = {"plain", "with,comma", "with \"quotes\"", "\"", "line\nbreak", "both,\"\n", "", " spaced ", "tab\there", "x"};
    char path[512];
    size_t i;
    int t;
    rs exp = {0, 0, 0};
    g_tb.cols = 3;
    for (i = 0; i < 500; i++) {
        trow *r = tb_add(&g_tb);
        const char *x = texts[i % 10], *y = texts[(i * 7 + 3) % 10];
        r->v[0] = tb_str(&g_tb, x, strlen(x));
        r->v[1] = gleam_int((int64_t)i - 250);
        r->v[2] = tb_str(&g_tb, y, strlen(y));
    }
    for (i = 0; i < g_tb.n; i++) {
        char num[32];
        gleam_value o[3];
        int len = snprintf(num, sizeof num, "%lld", (long long)g_tb.r[i].v[1].u.i);
        o[0] = g_tb.r[i].v[0];
        o[1] = gleam_bytes(num, (size_t)len);
        o[2] = g_tb.r[i].v[2];
        rs_add(&exp, o, 3);
    }
    snprintf(path, sizeof path, "%s", th_path("out.csv"));
    for (t = 0; t < NTHREADS; t++) {
        gleam_flow *f = gleam_flow_new("csv");
        gleam_result r;
        build_csv(f, path);
        r = run_flow(f, thread_counts[t]);
        if (r != GLEAM_OK) {
            th_failf(__FILE__, __LINE__, "write_csv: %s", gleam_error(f));
        } else {
            size_t len;
            char *text = th_read(path, &len);
            rs got = {0, 0, 0};
            if (!text || !parse_csv(text, len, &got)) {
                th_failf(__FILE__, __LINE__, "write_csv (threads=%d): malformed CSV:\n%.300s", thread_counts[t], text ? text : "(none)");
            } else {
                CHECK(strstr(text, "\"with,comma\"") != NULL);
                CHECK(strstr(text, "\"with \"\"quotes\"\"\"") != NULL);
                CHECK(strstr(text, "\"line\nbreak\"") != NULL);
                CHECK(strstr(text, "\"plain\"") == NULL); /* no needless quoting */
                rs_compare(__FILE__, __LINE__, "write_csv", thread_counts[t], &exp, &got, 0);
            }
            free(text);
            rs_free(&got);
        }
        gleam_flow_free(f);
    }
    rs_free(&exp);
    tb_free(&g_tb);
}

/* output_row: calls must never overlap. */
static volatile int out_busy;
static long out_calls, out_overlaps;
static rs out_rows;
static gleam_result record_row(gleam_ctx *c, const gleam_value *row, int n) {
    volatile int spin;
    (void)c;
    if (out_busy) out_overlaps++;
    out_busy = 1;
    out_calls++;
    rs_add(&out_rows, row, n);
    for (spin = 0; spin < 50; spin++) {}
    out_busy = 0;
    return GLEAM_OK;
}
static void test_output_row(void) {
    int sorted, t;
    size_t i;
    g_tb.cols = 3;
    rng_seed(16);
    for (i = 0; i < 20000; i++) {
        trow *r = tb_add(&g_tb);
        r->v[0] = gleam_int(rng_below(100));
        r->v[1] = gleam_int((int64_t)(i * 7919 % 20011));
        r->v[2] = tb_str(&g_tb, words[i % NWORDS], strlen(words[i % NWORDS]));
    }
    for (sorted = 0; sorted < 2; sorted++)
        for (t = 0; t < NTHREADS; t++) {
            out_arg a = {3, 0, NULL, NULL};
            gleam_flow *f = gleam_flow_new("output_row");
            gleam_result r;
            a.sorted = sorted;
            out_calls = out_overlaps = 0;
            build_out(f, &a);
            r = run_flow(f, thread_counts[t]);
            if (r != GLEAM_OK) {
                th_failf(__FILE__, __LINE__, "output_row: %s", gleam_error(f));
            } else {
                rs exp = {0, 0, 0};
                trow *rows = (trow *)malloc(g_tb.n * sizeof *rows);
                if (!rows) exit(2);
                if (g_tb.n) memcpy(rows, g_tb.r, g_tb.n * sizeof *rows);
                if (sorted) trows_sort(rows, g_tb.n, gleam_order_by(2, GLEAM_DESC));
                for (i = 0; i < g_tb.n; i++) rs_add(&exp, rows[i].v, rows[i].n);
                free(rows);
                CHECK_INT(out_overlaps, 0);
                CHECK_INT(out_calls, 20000);
                rs_compare(__FILE__, __LINE__, sorted ? "output_row after sort (in order)" : "output_row", thread_counts[t], &exp, &out_rows,
                           sorted);
                rs_free(&exp);
            }
            rs_free(&out_rows);
            gleam_flow_free(f);
        }
    tb_free(&g_tb);
}

/* >>edge cases of the wide steps ------------------------------------------------------------- */

/* Every wide step on g_tb = (key, int, ...) and g_tb2 = (key, ...), against the references. */
typedef struct all_arg {
    int step, shards;
} all_arg;
enum { A_REDUCE_BY, A_REDUCE, A_GROUP, A_SORT, A_TOP, A_DISTINCT, A_DISTINCT_BY, A_LIMIT, A_JOIN, A_LEFT, A_RIGHT, A_COGROUP, A_NSTEPS };
static const char *const all_names[] = {"reduce_by_key", "reduce", "group_by_key", "sort", "top 3", "distinct", "distinct_by", "limit 2",
                                        "join", "left_outer_join", "right_outer_join", "cogroup"};
static gleam_dataset *build_all(gleam_flow *f, void *arg) {
    all_arg *a = (all_arg *)arg;
    gleam_dataset *d = tb_dataset(f, &g_tb, a->shards), *e;
    gleam_order o = gleam_then_by(gleam_then_by(gleam_order_by(1, GLEAM_ASC), 2, GLEAM_DESC), 3, GLEAM_ASC);
    switch (a->step) {
    case A_REDUCE_BY: return gleam_reduce_by_key(d, "mergeBytes");
    case A_REDUCE: return gleam_reduce(gleam_select(d, GLEAM_FIELDS(2)), "sumAll");
    case A_GROUP: return gleam_group_by_key(d);
    case A_SORT: return gleam_sort(d, o);
    case A_TOP: return gleam_top(d, 3, o);
    case A_DISTINCT: return gleam_distinct(d);
    case A_DISTINCT_BY: return gleam_distinct_by(d, GLEAM_FIELDS(2, 1));
    case A_LIMIT: return gleam_limit(d, 2);
    default: break;
    }
    e = tb_dataset(f, &g_tb2, a->shards > 1 ? a->shards - 1 : 1);
    switch (a->step) {
    case A_JOIN: return gleam_join(d, e);
    case A_LEFT: return gleam_left_outer_join(d, e);
    case A_RIGHT: return gleam_right_outer_join(d, e);
    default: return gleam_cogroup(d, e);
    }
}
/* skip: a mask of steps not to check (1 << step) */
static void check_all_wide_at(const char *file, int line, const char *label, int shards, int skip) {
    int step;
    gleam_order o = gleam_then_by(gleam_then_by(gleam_order_by(1, GLEAM_ASC), 2, GLEAM_DESC), 3, GLEAM_ASC);
    for (step = 0; step < A_NSTEPS; step++) {
        all_arg a;
        rs exp = {0, 0, 0};
        char what[160];
        sort_arg sa = {0, 0, {0, {{0, 0}}}, 0};
        wide_arg wa = {W_DISTINCT_BY, 0, {0, {0}}, NULL};
        if (skip & (1 << step)) continue;
        a.step = step;
        a.shards = shards;
        snprintf(what, sizeof what, "%s: %s", label, all_names[step]);
        sa.order = o;
        switch (step) {
        case A_REDUCE_BY: ref_group(&g_tb, GLEAM_FIELDS(1), ref_reduce_cb, &exp); break;
        case A_REDUCE:
            if (g_tb.n) {
                gleam_value v = gleam_int(0);
                size_t i;
                for (i = 0; i < g_tb.n; i++) v.u.i += g_tb.r[i].v[1].u.i;
                rs_add(&exp, &v, 1);
            }
            break;
        case A_GROUP: ref_group(&g_tb, GLEAM_FIELDS(1), ref_group_cb, &exp); break;
        case A_SORT: expect_sorted(&exp, &sa); break;
        case A_TOP:
            sa.kind = 1;
            sa.k = 3;
            expect_sorted(&exp, &sa);
            break;
        case A_DISTINCT: {
            rs all = {0, 0, 0};
            size_t i;
            tb_expect_all(&g_tb, &all);
            rs_sort(&all);
            for (i = 0; i < all.n; i++)
                if (i == 0 || enc_cmp(&all.v[i - 1], &all.v[i])) rs_push(&exp, all.v[i].p, all.v[i].len);
            rs_free(&all);
            break;
        }
        case A_JOIN: expect_join(&exp, &g_tb, &g_tb2, GLEAM_INNER, GLEAM_FIELDS(1)); break;
        case A_LEFT: expect_join(&exp, &g_tb, &g_tb2, GLEAM_LEFT_OUTER, GLEAM_FIELDS(1)); break;
        case A_RIGHT: expect_join(&exp, &g_tb, &g_tb2, GLEAM_RIGHT_OUTER, GLEAM_FIELDS(1)); break;
        case A_COGROUP: expect_cogroup(&exp, 1); break;
        default: break;
        }
        if (step == A_DISTINCT_BY) {
            wa.key = GLEAM_FIELDS(2, 1);
            /* build_all uses the same key; post_distinct_by reads wa.key */
            check_flow_at(file, line, what, build_all, &a, NULL, 0, NULL);
            {
                int t;
                for (t = 0; t < NTHREADS; t++) {
                    gleam_flow *f = gleam_flow_new(what);
                    gleam_rows *rows = gleam_collect(build_all(f, &a));
                    if (run_flow(f, thread_counts[t]) != GLEAM_OK) th_failf(file, line, "%s: %s", what, gleam_error(f));
                    else post_distinct_by(file, line, what, thread_counts[t], rows, &wa);
                    gleam_flow_free(f);
                }
            }
        } else if (step == A_LIMIT) {
            int t;
            lim_n = 2;
            for (t = 0; t < NTHREADS; t++) {
                gleam_flow *f = gleam_flow_new(what);
                gleam_rows *rows = gleam_collect(build_all(f, &a));
                if (run_flow(f, thread_counts[t]) != GLEAM_OK) th_failf(file, line, "%s: %s", what, gleam_error(f));
                else post_limit(file, line, what, thread_counts[t], rows, NULL);
                gleam_flow_free(f);
            }
        } else {
            check_flow_at(file, line, what, build_all, &a, &exp, step == A_SORT || step == A_TOP, NULL);
        }
        rs_free(&exp);
    }
}
#define CHECK_ALL_WIDE(label, shards) check_all_wide_at(__FILE__, __LINE__, label, shards, 0)

/* g_tb = (key, value bytes, int) rows: mergeBytes folds bytes and ints. */
static void add_kv(table *t, gleam_value key, int64_t i) {
    trow *r = tb_add(t);
    char s[4];
    s[0] = (char)('0' + i % 10); /* sorted bytes, as mergeBytes makes them */
    s[1] = (char)('a' + i % 26);
    r->v[0] = key;
    if (t->cols >= 2) r->v[1] = gleam_int(i % 1000);
    if (t->cols >= 3) r->v[2] = tb_str(t, s, 2);
}

static void test_wide_empty(void) {
    g_tb.cols = 3;
    g_tb2.cols = 2;
    CHECK_ALL_WIDE("empty input, 4 shards", 4);
    CHECK_ALL_WIDE("empty input, 1 shard", 1);
    add_kv(&g_tb2, gleam_int(1), 5);
    /* with no row on a side, the width of that side is unknown: the nil padding of the
       outer join that keeps the other side is not checked */
    check_all_wide_at(__FILE__, __LINE__, "empty left side", 3, 1 << A_RIGHT);
    tb_free(&g_tb2);
    g_tb2.cols = 2;
    add_kv(&g_tb, gleam_int(1), 5);
    add_kv(&g_tb, gleam_int(2), 6);
    check_all_wide_at(__FILE__, __LINE__, "empty right side", 3, 1 << A_LEFT);
    tb_free(&g_tb);
    tb_free(&g_tb2);
}

static void test_wide_one_row(void) {
    g_tb.cols = 3;
    g_tb2.cols = 2;
    add_kv(&g_tb, gleam_str("only"), 7);
    add_kv(&g_tb2, gleam_str("only"), 8);
    CHECK_ALL_WIDE("one row", 1);
    CHECK_ALL_WIDE("one row, 16 shards", 16);
    tb_free(&g_tb);
    tb_free(&g_tb2);
}

static void test_wide_many_shards(void) {
    int64_t i;
    g_tb.cols = 3;
    g_tb2.cols = 2;
    /* more shards than rows */
    for (i = 0; i < 5; i++) add_kv(&g_tb, gleam_int(i % 3), i);
    for (i = 0; i < 4; i++) add_kv(&g_tb2, gleam_int(i % 4), i + 10);
    CHECK_ALL_WIDE("5 rows, 16 shards", 16);
    tb_free(&g_tb);
    tb_free(&g_tb2);
    /* many shards, many rows (3 threads among the thread counts) */
    g_tb.cols = 3;
    g_tb2.cols = 2;
    rng_seed(17);
    for (i = 0; i < 3000; i++) add_kv(&g_tb, gleam_int(rng_below(150) - 20), i);
    for (i = 0; i < 200; i++) add_kv(&g_tb2, gleam_int(rng_below(150) + 20), i);
    CHECK_ALL_WIDE("3000 rows, 16 shards", 16);
    tb_free(&g_tb);
    tb_free(&g_tb2);
}

static void test_wide_binary_keys(void) {
    static const char *const keys[] = {"\0", "\0\0", "a\0b", "a\0c", "\xff", "\xff\0", "\n", "a\nb", "\r\n", "\t", "", "a", "\x80\x7f", "a\0"};
    static const size_t lens[] = {1, 2, 3, 3, 1, 2, 1, 3, 2, 1, 0, 1, 2, 2};
    int64_t i;
    g_tb.cols = 3;
    g_tb2.cols = 2;
    rng_seed(18);
    for (i = 0; i < 2000; i++) {
        int k = (int)rng_below(14);
        add_kv(&g_tb, tb_str(&g_tb, keys[k], lens[k]), i);
    }
    for (i = 0; i < 40; i++) {
        int k = (int)rng_below(12) + 2;
        add_kv(&g_tb2, tb_str(&g_tb2, keys[k], lens[k]), i);
    }
    CHECK_ALL_WIDE("binary keys", 6);
    tb_free(&g_tb);
    tb_free(&g_tb2);
}

static void test_wide_long_keys(void) {
    int64_t i;
    char *buf = (char *)malloc(6000);
    if (!buf) exit(2);
    memset(buf, 'p', 6000);
    g_tb.cols = 3;
    g_tb2.cols = 2;
    rng_seed(19);
    for (i = 0; i < TH_ROWS(1500); i++) {
        /* shared prefixes of a few KB, differing at the end or in length */
        size_t len = 3000 + (size_t)rng_below(4) * 1000;
        int64_t tail = rng_below(5);
        memset(buf, 'p', 6000);
        buf[len - 1] = (char)('0' + tail);
        add_kv(&g_tb, tb_str(&g_tb, buf, len), i);
        if (i % 50 == 0) add_kv(&g_tb2, tb_str(&g_tb2, buf, len), i);
    }
    free(buf);
    CHECK_ALL_WIDE("long keys", 5);
    tb_free(&g_tb);
    tb_free(&g_tb2);
}

/* Keys whose first bytes take all 256 values and whose lengths run from 0 to 20 KB: sorted
   runs keep rows in parts by their key's top byte, each part in growing blocks, so rows of
   every size must land in every part and come back in order. */
static void test_wide_mixed_sizes(void) {
    int64_t i;
    char *buf = (char *)malloc(20000);
    if (!buf) exit(2);
    g_tb.cols = 3;
    g_tb2.cols = 2;
    rng_seed(23);
    for (i = 0; i < TH_ROWS(6000); i++) {
        size_t len = i % 97 == 0 ? 4000 + (size_t)rng_below(16000) : (size_t)rng_below(200), j;
        for (j = 0; j < len; j++) buf[j] = (char)rng_below(256);
        add_kv(&g_tb, tb_str(&g_tb, buf, len), i);
        if (i % 7 == 0) add_kv(&g_tb2, tb_str(&g_tb2, buf, len), i);
    }
    free(buf);
    CHECK_ALL_WIDE("mixed sizes", 5);
    tb_free(&g_tb);
    tb_free(&g_tb2);
}

/* A reducer building long bytes (a sorted concatenation) that must survive the shuffle. */
static void test_reduce_built_bytes(void) {
    wide_arg a = {W_REDUCE_BY, 8, {0, {0}}, "mergeBytes"};
    rs exp = {0, 0, 0};
    int64_t i;
    g_tb.cols = 3;
    rng_seed(20);
    for (i = 0; i < TH_ROWS(30000); i++) {
        trow *r = tb_add(&g_tb);
        char s[16];
        size_t len = (size_t)rng_below(12), j;
        for (j = 0; j < len; j++) s[j] = (char)rng_below(256);
        if (len > 1) qsort(s, len, 1, uchar_cmp); /* a single-row group is not folded */
        r->v[0] = gleam_int(rng_below(7));
        r->v[1] = tb_str(&g_tb, s, len);
        r->v[2] = gleam_int(1);
    }
    ref_group(&g_tb, GLEAM_FIELDS(1), ref_reduce_cb, &exp);
    CHECK_INT(exp.n, 7);
    CHECK_FLOW("reduce_by_key building long values", build_wide, &a, &exp, 0);
    rs_free(&exp);
    tb_free(&g_tb);
}

/* A key whose value folds to empty bytes and then grows, while another key's folds use the
   same scratch memory in between: the empty value once kept pointing into the scratch
   memory, the next fold's bytes were taken for the key's own and then overwritten. */
static void test_reduce_empty_then_bytes(void) {
    static const char *const vals[] = {"", "", "abc", "zzzzzzzzzz", "d", "yyyy", "ef", "", "xxxxxxxx", "g"};
    static const int keyof[] = {1, 1, 1, 2, 1, 2, 1, 1, 2, 1};
    gleam_value rows[20];
    gleam_flow *f = gleam_flow_new("empty then bytes");
    gleam_rows *out;
    int i, seen = 0;
    for (i = 0; i < 10; i++) {
        rows[2 * i] = gleam_int(keyof[i]);
        rows[2 * i + 1] = gleam_str(vals[i]);
    }
    out = gleam_collect(gleam_reduce_by_key(gleam_from_values(f, rows, 10, 2, 1), "mergeBytes"));
    CHECK_INT(th_run_threads(f, 1), GLEAM_OK);
    CHECK_INT(gleam_rows_count(out), 2);
    for (i = 0; i < (int)gleam_rows_count(out); i++) {
        int n;
        const gleam_value *v = gleam_rows_get(out, (size_t)i, &n);
        char text[64];
        gleam_to_string(v[1], text, sizeof text);
        if (v[0].u.i == 1) {
            CHECK_STR(text, "abcdefg");
            seen |= 1;
        } else {
            CHECK_STR(text, "xxxxxxxxyyyyzzzzzzzzzz");
            seen |= 2;
        }
    }
    CHECK_INT(seen, 3);
    gleam_flow_free(f);
}

/* One key holds half of 200000 rows (TH_ROWS). */
static void test_wide_skewed(void) {
    int64_t i;
    rs exp = {0, 0, 0};
    wide_arg a = {W_REDUCE_BY, 6, {0, {0}}, "sumAll"};
    wide_arg g = {W_GROUP_BY, 6, {0, {0}}, NULL};
    sort_arg sa = {0, 8, {0, {{0, 0}}}, 0};
    g_tb.cols = 2;
    rng_seed(21);
    for (i = 0; i < TH_ROWS(200000); i++) {
        trow *r = tb_add(&g_tb);
        r->v[0] = gleam_int(i % 2 ? 42 : 100 + rng_below(5000));
        r->v[1] = gleam_int(rng_below(1000));
    }
    ref_group(&g_tb, GLEAM_FIELDS(1), ref_reduce_cb, &exp);
    CHECK_FLOW("skewed reduce_by_key", build_wide, &a, &exp, 0);
    rs_free(&exp);
    ref_group(&g_tb, GLEAM_FIELDS(1), ref_group_cb, &exp);
    CHECK_FLOW("skewed group_by_key", build_wide, &g, &exp, 0);
    rs_free(&exp);
    sa.order = gleam_order_by(1, GLEAM_DESC);
    expect_sorted(&exp, &sa);
    CHECK_FLOW_POST("skewed sort", build_sort, &sa, &exp, 0, post_is_sorted);
    rs_free(&exp);
    /* a join on the heavy key: 100000 x 2 rows */
    g_tb2.cols = 2;
    tb_add(&g_tb2)->v[0] = gleam_int(42);
    g_tb2.r[0].v[1] = gleam_str("x");
    tb_add(&g_tb2)->v[0] = gleam_int(42);
    g_tb2.r[1].v[1] = gleam_str("y");
    tb_add(&g_tb2)->v[0] = gleam_int(-1);
    g_tb2.r[2].v[1] = gleam_str("z");
    {
        join_arg j = {GLEAM_INNER, {0, {0}}, 6, 2};
        for (i = 0; i < (int64_t)g_tb.n; i++) {
            if (g_tb.r[i].v[0].u.i == 42) {
                gleam_value o[3];
                o[0] = g_tb.r[i].v[0];
                o[1] = g_tb.r[i].v[1];
                o[2] = gleam_str("x");
                rs_add(&exp, o, 3);
                o[2] = gleam_str("y");
                rs_add(&exp, o, 3);
            }
        }
        CHECK_INT(exp.n, TH_ROWS(200000));
        CHECK_FLOW("skewed join", build_join, &j, &exp, 0);
        rs_free(&exp);
    }
    tb_free(&g_tb);
    tb_free(&g_tb2);
}

/* >>step context, shards, GLEAM_DONE, explain -------------------------------------------------- */

typedef struct mul_ctx {
    int64_t mul;
    atomic_long calls;
    atomic_int bad_shard;
} mul_ctx;
/* (x) -> (x * ctx->mul, shard, shards); fails without a context */
static gleam_result mul_map(gleam_ctx *c, const gleam_value *row, int n) {
    mul_ctx *m = (mul_ctx *)gleam_ctx_user(c);
    int s = gleam_ctx_shard(c), ns = gleam_ctx_shards(c);
    (void)n;
    if (!m) return gleam_fail(c, "no context");
    atomic_fetch_add(&m->calls, 1);
    if (s < 0 || s >= ns) atomic_store(&m->bad_shard, 1);
    return GLEAM_EMIT(c, gleam_int(row[0].u.i * m->mul), gleam_int(s), gleam_int(ns));
}
/* records whether it had a context */
static atomic_int nullctx_seen_null, nullctx_seen_ptr;
static gleam_result nullctx_map(gleam_ctx *c, const gleam_value *row, int n) {
    if (gleam_ctx_user(c)) atomic_store(&nullctx_seen_ptr, 1);
    else atomic_store(&nullctx_seen_null, 1);
    return gleam_emit(c, row, n);
}
/* sum with a context: adds ctx->mul to every fold */
static gleam_result ctx_sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    mul_ctx *m = (mul_ctx *)gleam_ctx_user(c);
    (void)n;
    if (!m) return gleam_fail(c, "reducer: no context");
    atomic_fetch_add(&m->calls, 1);
    acc[0].u.i += x[0].u.i;
    return GLEAM_OK;
}

static mul_ctx ctx_a, ctx_b, ctx_r;
static gleam_dataset *build_ctx(gleam_flow *f, void *arg) {
    gleam_dataset *d = tb_dataset(f, &g_tb, 5);
    (void)arg;
    atomic_store(&ctx_a.calls, 0);
    atomic_store(&ctx_b.calls, 0);
    atomic_store(&ctx_a.bad_shard, 0);
    atomic_store(&ctx_b.bad_shard, 0);
    d = gleam_set_ctx(gleam_map(d, "mulMap"), &ctx_a);                                     /* (3x, s, 5) */
    d = gleam_map(gleam_select(d, GLEAM_FIELDS(1)), "nullCtxMap");                          /* (3x) */
    d = gleam_set_ctx(gleam_map(gleam_partition(d, 4), "mulMap"), &ctx_b);                  /* (-6x, s, 4) */
    return d;
}
static void test_ctx(void) {
    rs exp = {0, 0, 0};
    size_t i;
    ctx_a.mul = 3;
    ctx_b.mul = -2;
    g_tb.cols = 1;
    for (i = 0; i < 1000; i++) tb_add(&g_tb)->v[0] = gleam_int((int64_t)i);
    /* the shard fields are checked by a post function; compare only the first field */
    {
        int t;
        for (t = 0; t < NTHREADS; t++) {
            gleam_flow *f = gleam_flow_new("ctx");
            gleam_rows *rows = gleam_collect(gleam_select(build_ctx(f, NULL), GLEAM_FIELDS(1, 3)));
            gleam_result r = run_flow(f, thread_counts[t]);
            if (r != GLEAM_OK) {
                th_failf(__FILE__, __LINE__, "ctx: %s", gleam_error(f));
            } else {
                rs got = {0, 0, 0};
                for (i = 0; i < g_tb.n; i++) {
                    gleam_value o[2];
                    o[0] = gleam_int((int64_t)i * -6);
                    o[1] = gleam_int(4);
                    rs_add(&exp, o, 2);
                }
                rs_from_rows(&got, rows);
                rs_compare(__FILE__, __LINE__, "two contexts, shard counts", thread_counts[t], &exp, &got, 0);
                rs_free(&exp);
                rs_free(&got);
                CHECK_INT(atomic_load(&ctx_a.calls), 1000);
                CHECK_INT(atomic_load(&ctx_b.calls), 1000);
                CHECK_INT(atomic_load(&ctx_a.bad_shard), 0);
                CHECK_INT(atomic_load(&ctx_b.bad_shard), 0);
                CHECK_INT(atomic_load(&nullctx_seen_ptr), 0);
                CHECK_INT(atomic_load(&nullctx_seen_null), 1);
            }
            gleam_flow_free(f);
        }
    }
    /* shard numbers seen by the first mapper: all of 0..4 used, ctx_shards 5 */
    {
        gleam_flow *f = gleam_flow_new("ctx shards");
        gleam_rows *rows = gleam_collect(gleam_set_ctx(gleam_map(tb_dataset(f, &g_tb, 5), "mulMap"), &ctx_a));
        if (run_flow(f, 3) != GLEAM_OK) {
            th_failf(__FILE__, __LINE__, "ctx: %s", gleam_error(f));
        } else {
            int used[5] = {0}, k;
            for (i = 0; i < gleam_rows_count(rows); i++) {
                int n;
                const gleam_value *r = gleam_rows_get(rows, i, &n);
                CHECK_INT(r[2].u.i, 5);
                if (r[1].u.i >= 0 && r[1].u.i < 5) used[r[1].u.i]++;
                else CHECK(!"shard out of range");
            }
            for (k = 0; k < 5; k++) CHECK(used[k] > 0);
            CHECK_INT(gleam_rows_count(rows), 1000);
        }
        gleam_flow_free(f);
    }
    /* a reducer's context */
    {
        gleam_flow *f = gleam_flow_new("reducer ctx");
        gleam_rows *rows;
        table t2 = {0, 0, 0, 2, {0, 0, 0}};
        int64_t sum[7] = {0};
        for (i = 0; i < 700; i++) {
            trow *r = tb_add(&t2);
            r->v[0] = gleam_int((int64_t)(i % 7));
            r->v[1] = gleam_int((int64_t)i);
            sum[i % 7] += (int64_t)i;
        }
        ctx_r.mul = 1;
        atomic_store(&ctx_r.calls, 0);
        rows = gleam_collect(gleam_set_ctx(gleam_reduce_by_key(tb_dataset(f, &t2, 4), "ctxSum"), &ctx_r));
        if (run_flow(f, 2) != GLEAM_OK) {
            th_failf(__FILE__, __LINE__, "reducer ctx: %s", gleam_error(f));
        } else {
            rs got = {0, 0, 0};
            int k;
            for (k = 0; k < 7; k++) {
                gleam_value o[2];
                o[0] = gleam_int(k);
                o[1] = gleam_int(sum[k]);
                rs_add(&exp, o, 2);
            }
            rs_from_rows(&got, rows);
            rs_compare(__FILE__, __LINE__, "reducer with a context", 2, &exp, &got, 0);
            CHECK(atomic_load(&ctx_r.calls) >= 700 - 7 * 4);
            rs_free(&exp);
            rs_free(&got);
        }
        tb_free(&t2);
        gleam_flow_free(f);
    }
    tb_free(&g_tb);
}

/* A mapper emitting up to 1,000,000 rows per input row, stopping on GLEAM_DONE. */
static atomic_long flood_max_emits, flood_done_calls, flood_calls, flood_bad;
static gleam_result flood(gleam_ctx *c, const gleam_value *row, int n) {
    long i;
    (void)n;
    atomic_fetch_add(&flood_calls, 1);
    for (i = 0; i < 1000000; i++) {
        gleam_result r = GLEAM_EMIT(c, row[0], gleam_int(i));
        if (r == GLEAM_DONE) {
            long cur = atomic_load(&flood_max_emits);
            while (i + 1 > cur && !atomic_compare_exchange_weak(&flood_max_emits, &cur, i + 1)) {}
            atomic_fetch_add(&flood_done_calls, 1);
            return r;
        }
        if (r != GLEAM_OK) {
            atomic_store(&flood_bad, 1);
            return r;
        }
    }
    atomic_store(&flood_max_emits, 1000000);
    return GLEAM_OK;
}
static void test_done(void) {
    int t;
    table in = {0, 0, 0, 1, {0, 0, 0}};
    int64_t i;
    for (i = 0; i < 3; i++) tb_add(&in)->v[0] = gleam_int(100 + i);
    for (t = 0; t < NTHREADS; t++) {
        gleam_flow *f = gleam_flow_new("done");
        gleam_rows *rows;
        atomic_store(&flood_max_emits, 0);
        atomic_store(&flood_done_calls, 0);
        atomic_store(&flood_calls, 0);
        atomic_store(&flood_bad, 0);
        rows = gleam_collect(gleam_limit(gleam_map(tb_dataset(f, &in, 3), "flood"), 10));
        if (run_flow(f, thread_counts[t]) != GLEAM_OK) {
            th_failf(__FILE__, __LINE__, "done: %s", gleam_error(f));
        } else {
            size_t j;
            CHECK_INT(gleam_rows_count(rows), 10);
            for (j = 0; j < gleam_rows_count(rows); j++) {
                int n;
                const gleam_value *r = gleam_rows_get(rows, j, &n);
                CHECK(n == 2 && r[0].u.i >= 100 && r[0].u.i < 103 && r[1].u.i >= 0 && r[1].u.i < 11);
            }
            CHECK(atomic_load(&flood_done_calls) >= 1);
            CHECK(atomic_load(&flood_max_emits) <= 11);
            CHECK_INT(atomic_load(&flood_bad), 0);
            /* every call that ran either saw GLEAM_DONE or emitted everything; none emitted everything */
            CHECK_INT(atomic_load(&flood_done_calls), atomic_load(&flood_calls));
        }
        gleam_flow_free(f);
    }
    tb_free(&in);
}

/* Run f with explain = 1, stderr into a scratch file; returns its text (free it). */
static char *explain_text(gleam_flow *f, const char *name) {
    char path[512];
    gleam_options o;
    int saved, fd;
    gleam_result r;
    snprintf(path, sizeof path, "%s", th_path(name));
    fflush(stderr);
    saved = dup(2);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0) return NULL;
    dup2(fd, 2);
    close(fd);
    memset(&o, 0, sizeof o);
    o.threads = 2;
    o.explain = 1;
    r = gleam_run_with(f, &o);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    CHECK_INT(r, GLEAM_OK);
    return th_read(path, NULL);
}
/* The line of text containing needle (which may start with its line's '\n') (a copy; free it), or NULL. */
static char *line_with(const char *text, const char *needle) {
    const char *p = text ? strstr(text, needle) : NULL, *b, *e;
    if (!p) return NULL;
    if (*p == '\n') p++;
    for (b = p; b > text && b[-1] != '\n'; b--) {}
    e = strchr(p, '\n');
    if (!e) e = p + strlen(p);
    return ar_dup(&g_tb.ar, b, (size_t)(e - b));
}
static atomic_int explain_calls;
static gleam_result count_map(gleam_ctx *c, const gleam_value *row, int n) {
    atomic_fetch_add(&explain_calls, 1);
    return gleam_emit(c, row, n);
}
static void test_explain(void) {
    const char *txt = th_write("explain.txt", "a\nb\nc\na\n", 8);
    gleam_flow *f = gleam_flow_new("explain me");
    gleam_dataset *d;
    gleam_rows *rows;
    char *text, *l1, *l2;
    atomic_store(&explain_calls, 0);
    d = gleam_read(f, gleam_txt(txt, 2));
    d = gleam_map(gleam_map(d, "countMapA"), "countMapB");
    d = gleam_reduce_by_key(d, "sumAll");
    rows = gleam_collect(d);
    text = explain_text(f, "explain1.txt");
    CHECK(text != NULL);
    l1 = line_with(text, "map(countMapA)");
    CHECK(l1 != NULL);
    if (l1) {
        CHECK_HAS(l1, "group 1");
        CHECK_HAS(l1, "read");
        CHECK_HAS(l1, "map(countMapA) -> map(countMapB)");
        CHECK_HAS(l1, "reduce_by(sumAll)");
    }
    l2 = line_with(text, "\ngroup 2,");
    CHECK(l2 != NULL);
    if (l2) CHECK(strstr(l2, "map(") == NULL);
    CHECK_INT(atomic_load(&explain_calls), 0); /* explain does not run the flow */
    CHECK_INT(gleam_rows_count(rows), 0);
    free(text);
    gleam_flow_free(f);

    /* a wide step between the maps puts them in different groups */
    f = gleam_flow_new("explain two groups");
    d = gleam_read(f, gleam_txt(txt, 2));
    d = gleam_map(gleam_sort(gleam_map(d, "countMapA"), gleam_order_by(1, GLEAM_ASC)), "countMapB");
    gleam_collect(d);
    text = explain_text(f, "explain2.txt");
    l1 = line_with(text, "map(countMapA)");
    l2 = line_with(text, "map(countMapB)");
    CHECK(l1 && l2);
    if (l1 && l2) {
        CHECK_HAS(l1, "group 1");
        CHECK(strstr(l1, "countMapB") == NULL);
        CHECK_HAS(l2, "group 2");
    }
    free(text);
    gleam_flow_free(f);
    tb_free(&g_tb);
}

/* A failing mapper: gleam_run returns GLEAM_ERR_USER and gleam_error names the step and
   carries the message. */
static gleam_result fail_at(gleam_ctx *c, const gleam_value *row, int n) {
    if (row[0].u.i == 777) return gleam_fail(c, "bad row %lld", (long long)row[0].u.i);
    return gleam_emit(c, row, n);
}
static void test_error_message(void) {
    table in = {0, 0, 0, 1, {0, 0, 0}};
    int64_t i;
    int t;
    for (i = 0; i < 2000; i++) tb_add(&in)->v[0] = gleam_int(i);
    for (t = 0; t < NTHREADS; t++) {
        gleam_flow *f = gleam_flow_new("failing");
        gleam_result r;
        gleam_collect(gleam_sort(gleam_map(tb_dataset(f, &in, 4), "failAt"), gleam_order_by(1, GLEAM_ASC)));
        r = run_flow(f, thread_counts[t]);
        CHECK_INT(r, GLEAM_ERR_USER);
        CHECK_HAS(gleam_error(f), "bad row 777");
        CHECK_HAS(gleam_error(f), "failAt");
        gleam_flow_free(f);
    }
    tb_free(&in);
}

int main(void) {
    if (getenv("TH_SWEEP")) {
        gleam__tune.sweep_bytes = 0;
        gleam__tune.sweep_rows = 7;
        gleam__tune.nums_after = 0;
    }
    gleam_register_mapper("fanOut", fan_out);
    gleam_register_mapper("tagShard", tag_shard);
    gleam_register_source("genRows", gen_rows);
    gleam_register_reducer("sumAll", sum_all);
    gleam_register_reducer("sumMinMax", sum_min_max);
    gleam_register_reducer("mergeBytes", merge_bytes);
    gleam_register_output("recordRow", record_row);
    gleam_register_mapper("mulMap", mul_map);
    gleam_register_mapper("nullCtxMap", nullctx_map);
    gleam_register_reducer("ctxSum", ctx_sum);
    gleam_register_mapper("flood", flood);
    gleam_register_mapper("countMapA", count_map);
    gleam_register_mapper("countMapB", count_map);
    gleam_register_mapper("failAt", fail_at);
    gleam_register_reducer("sumChecked", sum_checked);
    RUN(test_map);
    RUN(test_select);
    RUN(test_local_sort);
    RUN(test_local_top);
    RUN(test_union);
    RUN(test_reduce_by_key);
    RUN(test_reduce_by_two_fields);
    RUN(test_reduce_all);
    RUN(test_group_by_key);
    RUN(test_group_list_read);
    RUN(test_cogroup);
    RUN(test_add_int64);
    RUN(test_sum_overflow);
    RUN(test_sort_fields);
    RUN(test_sort_mixed_types);
    RUN(test_sort_common_prefix);
    RUN(test_sort_stable);
    RUN(test_top);
    RUN(test_distinct);
    RUN(test_distinct_by);
    RUN(test_limit);
    RUN(test_partition);
    RUN(test_joins);
    RUN(test_fprintlnf);
    RUN(test_fprintlnf_edges);
    RUN(test_write_tsv);
    RUN(test_write_csv);
    RUN(test_output_row);
    RUN(test_wide_empty);
    RUN(test_wide_one_row);
    RUN(test_wide_many_shards);
    RUN(test_wide_binary_keys);
    RUN(test_wide_long_keys);
    RUN(test_wide_mixed_sizes);
    RUN(test_reduce_built_bytes);
    RUN(test_reduce_empty_then_bytes);
    RUN(test_wide_skewed);
    RUN(test_ctx);
    RUN(test_done);
    RUN(test_explain);
    RUN(test_error_message);
    return th_done();
}
