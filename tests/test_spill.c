/* test_spill.c: sorts and ordered outputs that do not fit in -gleam.memory spill to nameless
   files in the tmpdir. With memory_mb = 1 every test below spills (checked by looking for
   open descriptors on files in the tmpdir, under /proc/self/fd, where there is one). The
   rows must equal references made with qsort; after every run, successful or failed, the
   tmpdir is empty and no descriptor on a file in it is left open; a tmpdir that cannot
   take a spill file gives an error naming it. */
#include "gleam.h"
#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <time.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* >>helpers: buffers, random numbers, rows ---------------------------------------------- */


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

/* A test row: (key bytes, int). The key is owned (malloc) by the row set. */
typedef struct trow {
    char *s;
    size_t len;
    int64_t v;
} trow;
typedef struct rowset {
    trow *r;
    size_t n, cap;
} rowset;

static void rows_add(rowset *rs, const char *s, size_t len, int64_t v) {
    trow *t;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 1024;
        rs->r = (trow *)realloc(rs->r, rs->cap * sizeof *rs->r);
        if (!rs->r) exit(2);
    }
    t = &rs->r[rs->n++];
    t->s = (char *)malloc(len + 1);
    if (!t->s) exit(2);
    if (len) memcpy(t->s, s, len);
    t->s[len] = 0;
    t->len = len;
    t->v = v;
}
static void rows_free(rowset *rs) {
    size_t i;
    for (i = 0; i < rs->n; i++) free(rs->r[i].s);
    free(rs->r);
    memset(rs, 0, sizeof *rs);
}
static size_t rows_bytes(const rowset *rs) {
    size_t i, b = 0;
    for (i = 0; i < rs->n; i++) b += rs->r[i].len + 8;
    return b;
}

/* Reference comparison, written independently of the engine: bytes unsigned, shorter
   first; ints by value. */
static int cmp_bytes(const char *a, size_t la, const char *b, size_t lb) {
    int c = memcmp(a, b, la < lb ? la : lb); /* memcmp compares unsigned chars */
    if (c) return c < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}
static int cmp_field(const trow *a, const trow *b, int field) {
    if (field == 1) return cmp_bytes(a->s, a->len, b->s, b->len);
    return (a->v > b->v) - (a->v < b->v);
}
static gleam_order ref_order;
static int ref_row_cmp(const trow *a, const trow *b, const gleam_order *o) {
    int i;
    for (i = 0; i < o->n; i++) {
        int c = cmp_field(a, b, o->by[i].field);
        if (c) return o->by[i].dir == GLEAM_DESC ? -c : c;
    }
    return 0;
}
static int qsort_cmp(const void *a, const void *b) { return ref_row_cmp((const trow *)a, (const trow *)b, &ref_order); }
/* Exact equality of two rows (both fields). */
static int same_row(const trow *a, const trow *b) { return a->v == b->v && !cmp_bytes(a->s, a->len, b->s, b->len); }
static int full_cmp(const void *a, const void *b) {
    const trow *x = (const trow *)a, *y = (const trow *)b;
    int c = cmp_bytes(x->s, x->len, y->s, y->len);
    return c ? c : (x->v > y->v) - (x->v < y->v);
}

/* A sorted copy (shallow: the keys stay owned by src) of src by order o. */
static trow *sorted_copy(const rowset *src, gleam_order o) {
    trow *t = (trow *)malloc((src->n ? src->n : 1) * sizeof *t);
    if (!t) exit(2);
    if (src->n) memcpy(t, src->r, src->n * sizeof *t);
    ref_order = o;
    if (src->n > 1) qsort(t, src->n, sizeof *t, qsort_cmp);
    return t;
}

/* A printable excerpt of a key. */
static const char *show(const char *s, size_t len) {
    static char buf[4][160];
    static int which;
    char *o;
    size_t i, j = 0;
    which = (which + 1) & 3;
    o = buf[which];
    for (i = 0; i < len && j < 100; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 32 && c < 127) o[j++] = (char)c;
        else j += (size_t)snprintf(o + j, 8, "\\x%02x", c);
    }
    if (i < len) j += (size_t)snprintf(o + j, 40, "...(%zu bytes)", len);
    o[j] = 0;
    return o;
}

/* The rows as a dataset with `shards` shards (cols 2: key, int; cols 1: the key only). */
static gleam_dataset *rows_dataset(gleam_flow *f, const rowset *rs, int shards, int cols) {
    gleam_value *vals = (gleam_value *)malloc((rs->n ? rs->n : 1) * 2 * sizeof *vals);
    gleam_dataset *d;
    size_t i;
    if (!vals) exit(2);
    for (i = 0; i < rs->n; i++) {
        vals[i * (size_t)cols] = gleam_bytes(rs->r[i].s, rs->r[i].len);
        if (cols == 2) vals[i * 2 + 1] = gleam_int(rs->r[i].v);
    }
    d = gleam_from_values(f, vals, rs->n, cols, shards);
    free(vals);
    return d;
}

/* Collected rows (key, int[, ...]) against exp[0..n), in order. Returns 1 when equal. */
static int check_rows_at(int line, const char *what, int threads, const gleam_rows *got, const trow *exp, size_t n, int cols) {
    size_t i, cnt = gleam_rows_count(got);
    for (i = 0; i < cnt && i < n; i++) {
        int k = -1;
        const gleam_value *v = gleam_rows_get(got, i, &k);
        trow g;
        if (!v || k < cols || v[0].type != GLEAM_BYTES || (cols == 2 && v[1].type != GLEAM_INT)) {
            th_failf(__FILE__, line, "%s (threads=%d): row %zu has %d fields or wrong types", what, threads, i, k);
            return 0;
        }
        g.s = (char *)(uintptr_t)v[0].u.s;
        g.len = v[0].len;
        g.v = cols == 2 ? v[1].u.i : exp[i].v;
        if (!same_row(&g, &exp[i])) {
            th_failf(__FILE__, line, "%s (threads=%d): row %zu of %zu differs:\n    expected %s | %lld\n    actual   %s | %lld", what,
                     threads, i, n, show(exp[i].s, exp[i].len), (long long)exp[i].v, show(g.s, g.len), (long long)g.v);
            return 0;
        }
    }
    if (cnt != n) {
        th_failf(__FILE__, line, "%s (threads=%d): %zu rows expected, %zu collected", what, threads, n, cnt);
        return 0;
    }
    return 1;
}
#define CHECK_ROWS(what, threads, got, exp, n, cols) check_rows_at(__LINE__, what, threads, got, exp, n, cols)

/* >>the tmpdir: entries and open spill files ---------------------------------------------- */

static char g_real_dir[PATH_MAX]; /* the tmpdir of the current run, resolved (set before it) */

/* A new empty directory in the harness's scratch directory; the path is static. */
static const char *fresh_dir(const char *name) {
    static char buf[8][PATH_MAX];
    static int which;
    char *p = buf[which++ & 7];
    snprintf(p, PATH_MAX, "%s", th_path(name));
    if (mkdir(p, 0700) && errno != EEXIST) {
        perror(p);
        exit(2);
    }
    return p;
}

/* Entries of dir besides . and .. (-1 when it cannot be opened). */
static int dir_entries(const char *dir, char *first, size_t cap) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!n && first) snprintf(first, cap, "%s", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

/* Descriptors of this process open on files in g_real_dir (spill files: deleted, or
   O_TMPFILE "#inode" files); -1 when /proc/self/fd cannot be read. */
static int spill_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    size_t len = strlen(g_real_dir);
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d))) {
        char link[300], target[PATH_MAX + 32];
        ssize_t k;
        if (e->d_name[0] == '.') continue;
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        k = readlink(link, target, sizeof target - 1);
        if (k <= 0) continue;
        target[k] = 0;
        if (len && !strncmp(target, g_real_dir, len) && target[len] == '/') n++;
    }
    closedir(d);
    return n;
}

static void set_dir(const char *dir) {
    if (!realpath(dir, g_real_dir)) snprintf(g_real_dir, sizeof g_real_dir, "%s", dir);
}

/* After a run: nothing in dir, and no descriptor open on a file in it. */
static void check_clean_at(int line, const char *what, int threads, const char *dir) {
    char first[256] = "";
    int n = dir_entries(dir, first, sizeof first), fds;
    if (n != 0) th_failf(__FILE__, line, "%s (threads=%d): tmpdir %s holds %d entries (first: %s)", what, threads, dir, n, first);
    set_dir(dir);
    fds = spill_fds();
    if (fds > 0) th_failf(__FILE__, line, "%s (threads=%d): %d descriptors still open on files in %s after the run", what, threads, fds, dir);
}
#define CHECK_CLEAN(what, threads, dir) check_clean_at(__LINE__, what, threads, dir)

static gleam_result run_spill(gleam_flow *f, int threads, size_t memory_mb, const char *dir) {
    gleam_options o;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    o.memory_mb = memory_mb;
    o.tmpdir = dir;
    if (dir) set_dir(dir);
    return gleam_run_with(f, &o);
}

static const int thread_counts[] = {1, 2, 4};
#define NTHREADS ((int)(sizeof thread_counts / sizeof thread_counts[0]))

/* >>functions used by the flows ------------------------------------------------------------ */

#define MAXSH 16
static atomic_int g_probe_max;       /* most spill files seen open at once */
static atomic_long g_calls;          /* rows through spillProbe */
static atomic_long g_shard_rows[MAXSH];
static int g_wait_shard0;            /* spillProbe: shard 0 waits for the others first */
static atomic_int g_waited;
static atomic_int g_probe_after_wait; /* spill files open when shard 0 stopped waiting */

static void probe_reset(void) {
    int i;
    atomic_store(&g_probe_max, 0);
    atomic_store(&g_calls, 0);
    for (i = 0; i < MAXSH; i++) atomic_store(&g_shard_rows[i], 0);
    atomic_store(&g_waited, 0);
    atomic_store(&g_probe_after_wait, -1);
}

static int probe_now(void) {
    int k = spill_fds(), m = atomic_load(&g_probe_max);
    while (k > m && !atomic_compare_exchange_weak(&g_probe_max, &m, k)) {
    }
    return k;
}

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

/* Wait until the rows of the other shards stop coming (100 ms without one), at most 10 s:
   by then they have finished, and their output waits for shard 0's turn. */
static void wait_for_others(void) {
    long prev = -1;
    int still = 0, i, waited;
    for (waited = 0; waited < 10000 && still < 5; waited += 20) {
        long sum = 0;
        sleep_ms(20);
        for (i = 1; i < MAXSH; i++) sum += atomic_load(&g_shard_rows[i]);
        still = sum > 0 && sum == prev ? still + 1 : 0;
        prev = sum;
    }
}

/* Pass the row on; now and then count the spill files open. With g_wait_shard0, shard 0
   first waits for the other shards to be done, then counts. */
static gleam_result spill_probe(gleam_ctx *c, const gleam_value *row, int n) {
    int sh = gleam_ctx_shard(c);
    long k = atomic_fetch_add(&g_calls, 1);
    if (sh >= 0 && sh < MAXSH) atomic_fetch_add(&g_shard_rows[sh], 1);
    if (g_wait_shard0 && sh == 0 && !atomic_exchange(&g_waited, 1)) {
        wait_for_others();
        atomic_store(&g_probe_after_wait, probe_now());
    } else if (k % 256 == 0) {
        probe_now();
    }
    return gleam_emit(c, row, n);
}

/* (row...) -> (row..., shard) */
static gleam_result tag_shard(gleam_ctx *c, const gleam_value *row, int n) {
    gleam_value *o = (gleam_value *)gleam_scratch(c, (size_t)(n + 1) * sizeof *o);
    if (!o) return gleam_fail(c, "no scratch");
    memcpy(o, row, (size_t)n * sizeof *o);
    o[n] = gleam_int(gleam_ctx_shard(c));
    return gleam_emit(c, o, n + 1);
}

/* (row...) -> (row..., shard, position in the shard's output) */
static atomic_long g_seq[MAXSH];
static gleam_result tag_seq(gleam_ctx *c, const gleam_value *row, int n) {
    gleam_value *o = (gleam_value *)gleam_scratch(c, (size_t)(n + 2) * sizeof *o);
    int sh = gleam_ctx_shard(c);
    if (!o) return gleam_fail(c, "no scratch");
    if (sh < 0 || sh >= MAXSH) return gleam_fail(c, "shard %d out of range", sh);
    memcpy(o, row, (size_t)n * sizeof *o);
    o[n] = gleam_int(sh);
    o[n + 1] = gleam_int(atomic_fetch_add(&g_seq[sh], 1));
    if (atomic_fetch_add(&g_calls, 1) % 256 == 0) probe_now();
    return gleam_emit(c, o, n + 2);
}

/* Fails on the g_fail_at-th row it sees (over all shards), noting the spill files open then. */
static long g_fail_at;
static atomic_long g_fail_seen;
static atomic_int g_fail_fds;
static gleam_result fail_after(gleam_ctx *c, const gleam_value *row, int n) {
    long k = atomic_fetch_add(&g_fail_seen, 1) + 1;
    if (k == g_fail_at) atomic_store(&g_fail_fds, spill_fds());
    if (k >= g_fail_at) return gleam_fail(c, "failAfter: stopped at row %ld", k);
    return gleam_emit(c, row, n);
}
static void fail_reset(long at) {
    g_fail_at = at;
    atomic_store(&g_fail_seen, 0);
    atomic_store(&g_fail_fds, -1);
}

/* Output callbacks: keep the rows (key, int) in the order seen; the failing one stops after
   g_fail_at rows. */
static rowset g_out;
static atomic_int g_in_call, g_overlaps;
static gleam_result out_rows(gleam_ctx *c, const gleam_value *row, int n) {
    (void)c;
    if (atomic_exchange(&g_in_call, 1)) atomic_fetch_add(&g_overlaps, 1);
    if (n >= 2 && row[0].type == GLEAM_BYTES && row[1].type == GLEAM_INT) rows_add(&g_out, row[0].u.s, row[0].len, row[1].u.i);
    else rows_add(&g_out, "<bad row>", 9, -1);
    atomic_store(&g_in_call, 0);
    return GLEAM_OK;
}
static gleam_result out_fail(gleam_ctx *c, const gleam_value *row, int n) {
    long k = atomic_fetch_add(&g_fail_seen, 1) + 1;
    (void)row;
    (void)n;
    if (k >= g_fail_at) return gleam_fail(c, "outFail: stopped at row %ld", k);
    return GLEAM_OK;
}

/* >>data ----------------------------------------------------------------------------------- */

/* n rows over n/6 distinct keys of KEYMIN..KEYMAX letters, values in [-10, 10]: ties on
   the key and on whole rows. Long keys make megabytes of few rows (ThreadSanitizer pays
   by the row). */
#define KEYMIN 200
#define KEYMAX 700
#define NROWS 10000 /* 4.6 MB */
static void gen_random(rowset *rs, size_t n, uint64_t seed) {
    size_t nkeys = n / 6 + 1, i;
    uint64_t bits = 0;
    char **keys = (char **)malloc(nkeys * sizeof *keys);
    size_t *lens = (size_t *)malloc(nkeys * sizeof *lens);
    if (!keys || !lens) exit(2);
    rng_seed(seed);
    for (i = 0; i < nkeys; i++) {
        size_t j;
        lens[i] = KEYMIN + (size_t)rng_below(KEYMAX - KEYMIN + 1);
        keys[i] = (char *)malloc(lens[i]);
        if (!keys[i]) exit(2);
        for (j = 0; j < lens[i]; j++) { /* 16 letters from each random number */
            if (j % 16 == 0) bits = rng_next();
            keys[i][j] = (char)('a' + (bits & 15));
            bits >>= 4;
        }
    }
    for (i = 0; i < n; i++) {
        size_t k = (size_t)rng_below((int64_t)nkeys);
        rows_add(rs, keys[k], lens[k], rng_below(21) - 10);
    }
    for (i = 0; i < nkeys; i++) free(keys[i]);
    free(keys);
    free(lens);
}

/* n rows whose keys share long prefixes (the first 8 bytes and more), with NUL and high
   bytes, keys that are prefixes of others, and ints that the 64-bit prefix of a double
   cannot tell apart; then `huge` keys of 2 MB that differ only at their end or length. */
static void gen_prefix(rowset *rs, size_t n, int huge, uint64_t seed) {
    static const char *const pre[] = {"", "same-prefix-", "same-prefix-same-prefix-same-prefix-", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
                                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    static const char tail[] = {'a', 'b', 0, '\x80', '\xff', 'a'};
    char key[512];
    size_t i;
    int h;
    rng_seed(seed);
    for (i = 0; i < n; i++) {
        const char *p = pre[rng_below(5)];
        size_t len = strlen(p), extra = (size_t)rng_below(25), j;
        int64_t v;
        memcpy(key, p, len);
        for (j = 0; j < extra; j++) key[len + j] = tail[rng_below(6)];
        switch (rng_below(4)) {
        case 0: v = ((int64_t)1 << 60) + rng_below(200) - 100; break;             /* same double */
        case 1: v = -((int64_t)1 << 60) - rng_below(200); break;
        case 2: v = ((int64_t)1 << 52) + rng_below(64); break;                     /* same top 61 bits */
        default: v = rng_below(7) - 3; break;
        }
        rows_add(rs, key, len + extra, v);
    }
    for (h = 0; h < huge; h++) {
        size_t len = (size_t)2 << 20;
        char *s = (char *)malloc(len);
        if (!s) exit(2);
        memcpy(s, "same-prefix-", 12);
        memset(s + 12, 'q', len - 12);
        s[len - 1] = (char)('z' - h);
        rows_add(rs, s, len, h % 2 ? ((int64_t)1 << 60) : -1);
        free(s);
    }
    /* shuffle, so the huge rows are not all at the end */
    for (i = rs->n; i > 1; i--) {
        size_t j = (size_t)rng_below((int64_t)i);
        trow t = rs->r[i - 1];
        rs->r[i - 1] = rs->r[j];
        rs->r[j] = t;
    }
}

static int g_have_proc; /* /proc/self/fd can be read: check the spill files open */

static void fail_run(int line, const char *what, int threads, gleam_result r, gleam_flow *f) {
    th_failf(__FILE__, line, "%s (threads=%d): run failed: %s: %s", what, threads, gleam_result_str(r), gleam_error(f));
}

/* The spill files seen open during the run were at least `least`. */
static void check_spilled_at(int line, const char *what, int threads, int least) {
    int seen = atomic_load(&g_probe_max);
    if (g_have_proc && seen < least)
        th_failf(__FILE__, line, "%s (threads=%d): %d spill file(s) seen open during the run, expected at least %d: did it spill?", what,
                 threads, seen, least);
}
#define CHECK_SPILLED(what, threads, least) check_spilled_at(__LINE__, what, threads, least)

/* >>wide sort -------------------------------------------------------------------------------- */

/* A sort run: order, input shards, threads. Each order with several shard and thread
   counts would take too long under ThreadSanitizer: every run spills megabytes. */
typedef struct sort_case {
    int order, shards, threads;
} sort_case;

/* Sort rs by each case's order into a collect (through spillProbe) with memory_mb = 1;
   the rows must equal the reference, and at least `least(shards)` spill files must be
   seen open during the merge. */
static void run_sort_cases(const char *name, const rowset *rs, const gleam_order *orders, const char *const *onames,
                           const sort_case *cases, int ncases, int min_files, const char *dir) {
    int i;
    for (i = 0; i < ncases; i++) {
        const sort_case *k = &cases[i];
        trow *exp = sorted_copy(rs, orders[k->order]);
        char what[160];
        gleam_flow *f = gleam_flow_new(name);
        gleam_rows *got;
        gleam_result r;
        snprintf(what, sizeof what, "%s: %s, %d input shard(s), %zu rows, %.1f MB", name, onames[k->order], k->shards, rs->n,
                 (double)rows_bytes(rs) / 1048576.0);
        got = gleam_collect(gleam_map(gleam_sort(rows_dataset(f, rs, k->shards, 2), orders[k->order]), "spillProbe"));
        probe_reset();
        r = run_spill(f, k->threads, 1, dir);
        if (r != GLEAM_OK) fail_run(__LINE__, what, k->threads, r, f);
        else {
            CHECK_ROWS(what, k->threads, got, exp, rs->n, 2);
            CHECK_SPILLED(what, k->threads, min_files ? min_files : k->shards > 1 ? k->shards : 2);
        }
        gleam_flow_free(f);
        CHECK_CLEAN(what, k->threads, dir);
        free(exp);
    }
}

static void test_sort_spill(void) {
    /* 1.4 MB a producer with 4 shards: each one spills (a run, then the rest of its rows) */
    static const sort_case cases[] = {{0, 4, 1}, {0, 4, 4}, {1, 1, 2}, {2, 4, 2}};
    static const char *const onames[] = {"sort 1 asc, 2 asc", "sort 1 desc, 2 asc", "sort 2 desc, 1 asc"};
    const char *dir = fresh_dir("sort");
    rowset rs = {0, 0, 0};
    gleam_order orders[3];
    int t;
    gen_random(&rs, NROWS, 1);
    orders[0] = gleam_then_by(gleam_order_by(1, GLEAM_ASC), 2, GLEAM_ASC);
    orders[1] = gleam_then_by(gleam_order_by(1, GLEAM_DESC), 2, GLEAM_ASC);
    orders[2] = gleam_then_by(gleam_order_by(2, GLEAM_DESC), 1, GLEAM_ASC);
    run_sort_cases("wide sort", &rs, orders, onames, cases, (int)(sizeof cases / sizeof *cases), 0, dir);
    for (t = 2; t < NTHREADS; t++) { /* one-field rows from strings, in 4 shards */
        const char *what = "from_strings in 4 shards, sort 1 desc";
        const char **strs = (const char **)malloc(rs.n * sizeof *strs);
        trow *exp = sorted_copy(&rs, gleam_order_by(1, GLEAM_DESC));
        gleam_flow *f = gleam_flow_new(what);
        gleam_rows *got;
        gleam_result r;
        size_t i;
        if (!strs) exit(2);
        for (i = 0; i < rs.n; i++) strs[i] = rs.r[i].s;
        got = gleam_collect(gleam_map(gleam_sort(gleam_from_strings(f, strs, rs.n, 4), gleam_order_by(1, GLEAM_DESC)), "spillProbe"));
        probe_reset();
        r = run_spill(f, thread_counts[t], 1, dir);
        if (r != GLEAM_OK) fail_run(__LINE__, what, thread_counts[t], r, f);
        else {
            CHECK_ROWS(what, thread_counts[t], got, exp, rs.n, 1);
            CHECK_SPILLED(what, thread_counts[t], 4);
        }
        gleam_flow_free(f);
        CHECK_CLEAN(what, thread_counts[t], dir);
        free(strs);
        free(exp);
    }
    rows_free(&rs);
}

/* Keys that share their first 8 bytes and more, ints the prefix cannot tell apart, and
   two rows of 2 MB that differ in their last byte. */
static void test_sort_long_prefix(void) {
    static const sort_case cases[] = {{0, 1, 1}, {0, 3, 4}, {1, 3, 2}};
    static const char *const onames[] = {"sort 1 asc, 2 desc", "sort 2 asc, 1 desc"};
    const char *dir = fresh_dir("prefix");
    rowset rs = {0, 0, 0};
    gleam_order orders[2];
    gen_prefix(&rs, 20000, 2, 2);
    orders[0] = gleam_then_by(gleam_order_by(1, GLEAM_ASC), 2, GLEAM_DESC);
    orders[1] = gleam_then_by(gleam_order_by(2, GLEAM_ASC), 1, GLEAM_DESC);
    run_sort_cases("long prefixes", &rs, orders, onames, cases, (int)(sizeof cases / sizeof *cases), 2, dir);
    rows_free(&rs);
}

/* >>local sort ------------------------------------------------------------------------------- */

static void test_local_sort_spill(void) {
    const char *dir = fresh_dir("local");
    rowset rs = {0, 0, 0};
    gleam_order ord = gleam_then_by(gleam_order_by(1, GLEAM_DESC), 2, GLEAM_ASC);
    trow *exp, *all;
    int t, i;
    gen_random(&rs, NROWS, 3);
    exp = sorted_copy(&rs, ord);
    all = (trow *)malloc(rs.n * sizeof *all);
    if (!all) exit(2);
    memcpy(all, rs.r, rs.n * sizeof *all);
    qsort(all, rs.n, sizeof *all, full_cmp);
    for (t = 0; t < NTHREADS; t += 2) {
        /* 4 shards: each shard's output sorted, rows stay in their shard, same multiset */
        const char *what = "local_sort 1 desc, 2 asc in 4 shards";
        gleam_flow *f = gleam_flow_new(what);
        gleam_rows *got;
        gleam_result r;
        got = gleam_collect(gleam_map(gleam_local_sort(gleam_map(rows_dataset(f, &rs, 4, 2), "tagShard"), ord), "tagSeq"));
        probe_reset();
        for (i = 0; i < MAXSH; i++) atomic_store(&g_seq[i], 0);
        r = run_spill(f, thread_counts[t], 1, dir);
        if (r != GLEAM_OK) fail_run(__LINE__, what, thread_counts[t], r, f);
        else {
            size_t cnt = gleam_rows_count(got), k, bad = 0;
            trow *seen = (trow *)calloc(cnt ? cnt : 1, sizeof *seen), *byseq[MAXSH];
            long shard_n[MAXSH];
            for (i = 0; i < MAXSH; i++) {
                shard_n[i] = atomic_load(&g_seq[i]);
                byseq[i] = (trow *)calloc((size_t)shard_n[i] + 1, sizeof(trow));
                if (!byseq[i]) exit(2);
            }
            if (!seen) exit(2);
            CHECK_INT(cnt, rs.n);
            for (k = 0; k < cnt && !bad; k++) {
                int n = -1;
                const gleam_value *v = gleam_rows_get(got, k, &n);
                long sh, seq;
                if (!v || n != 5 || v[0].type != GLEAM_BYTES || v[1].type != GLEAM_INT || v[3].type != GLEAM_INT || v[4].type != GLEAM_INT) {
                    th_failf(__FILE__, __LINE__, "%s (threads=%d): row %zu: %d fields or wrong types", what, thread_counts[t], k, n);
                    bad = 1;
                    break;
                }
                seen[k].s = (char *)(uintptr_t)v[0].u.s;
                seen[k].len = v[0].len;
                seen[k].v = v[1].u.i;
                sh = (long)v[3].u.i;
                seq = (long)v[4].u.i;
                if (v[2].u.i != v[3].u.i) {
                    th_failf(__FILE__, __LINE__, "%s (threads=%d): a row of input shard %lld came out of shard %ld", what, thread_counts[t],
                             (long long)v[2].u.i, sh);
                    bad = 1;
                } else if (sh < 0 || sh >= 4 || seq < 0 || seq >= shard_n[sh] || byseq[sh][seq].s) {
                    th_failf(__FILE__, __LINE__, "%s (threads=%d): shard %ld position %ld out of range or repeated", what, thread_counts[t], sh, seq);
                    bad = 1;
                } else {
                    byseq[sh][seq] = seen[k];
                }
            }
            for (i = 0; i < 4 && !bad; i++) {
                long j;
                for (j = 1; j < shard_n[i]; j++)
                    if (ref_row_cmp(&byseq[i][j - 1], &byseq[i][j], &ord) > 0) {
                        th_failf(__FILE__, __LINE__, "%s (threads=%d): shard %d out of order at its row %ld of %ld:\n    %s | %lld\n    then %s | %lld",
                                 what, thread_counts[t], i, j, shard_n[i], show(byseq[i][j - 1].s, byseq[i][j - 1].len),
                                 (long long)byseq[i][j - 1].v, show(byseq[i][j].s, byseq[i][j].len), (long long)byseq[i][j].v);
                        bad = 1;
                        break;
                    }
            }
            if (!bad && cnt == rs.n) {
                qsort(seen, cnt, sizeof *seen, full_cmp);
                for (k = 0; k < cnt; k++)
                    if (!same_row(&seen[k], &all[k])) {
                        th_failf(__FILE__, __LINE__, "%s (threads=%d): the rows differ from the input (as multisets) at %zu: %s | %lld vs %s | %lld",
                                 what, thread_counts[t], k, show(all[k].s, all[k].len), (long long)all[k].v, show(seen[k].s, seen[k].len),
                                 (long long)seen[k].v);
                        break;
                    }
            }
            CHECK_SPILLED(what, thread_counts[t], 1); /* 1.7 MB a shard: at least one run on disk */
            for (i = 0; i < MAXSH; i++) free(byseq[i]);
            free(seen);
        }
        gleam_flow_free(f);
        CHECK_CLEAN(what, thread_counts[t], dir);
    }
    for (t = 1; t < 2; t++) {
        /* one shard: the output is ordered, so collect keeps it: equal to the reference */
        const char *what = "local_sort 1 desc, 2 asc in 1 shard";
        gleam_flow *f = gleam_flow_new(what);
        gleam_rows *got = gleam_collect(gleam_map(gleam_local_sort(rows_dataset(f, &rs, 1, 2), ord), "spillProbe"));
        gleam_result r;
        probe_reset();
        r = run_spill(f, thread_counts[t], 1, dir);
        if (r != GLEAM_OK) fail_run(__LINE__, what, thread_counts[t], r, f);
        else {
            CHECK_ROWS(what, thread_counts[t], got, exp, rs.n, 2);
            CHECK_SPILLED(what, thread_counts[t], 2);
        }
        gleam_flow_free(f);
        CHECK_CLEAN(what, thread_counts[t], dir);
    }
    free(all);
    free(exp);
    rows_free(&rs);
}

/* >>ordered outputs ---------------------------------------------------------------------------- */

/* The file at path equals want[0..n) byte for byte. */
static void check_file_at(int line, const char *what, int threads, const char *path, const th_buf *want) {
    size_t len = 0, i, lineno = 1;
    char *got = th_read(path, &len);
    if (!got) {
        th_failf(__FILE__, line, "%s (threads=%d): cannot read %s", what, threads, path);
        return;
    }
    for (i = 0; i < len && i < want->len && got[i] == want->p[i]; i++) lineno += got[i] == '\n';
    if (i < len || i < want->len) {
        size_t from = i;
        while (from > 0 && want->p[from - 1] != '\n') from--;
        th_failf(__FILE__, line, "%s (threads=%d): %s differs from the reference at byte %zu (line %zu; %zu vs %zu bytes):\n    expected %s\n    actual   %s",
                 what, threads, path, i, lineno, want->len, len, show(want->p + from, want->len - from < 80 ? want->len - from : 80),
                 show(got + (from < len ? from : len), from < len ? (len - from < 80 ? len - from : 80) : 0));
    }
    free(got);
}
#define CHECK_FILE(what, threads, path, want) check_file_at(__LINE__, what, threads, path, want)

static void test_ordered_output(void) {
    const char *dir = fresh_dir("ordered");
    char out1[PATH_MAX], out2[PATH_MAX];
    rowset rs = {0, 0, 0};
    gleam_order ord = gleam_then_by(gleam_order_by(1, GLEAM_ASC), 2, GLEAM_ASC);
    th_buf want1 = {0, 0, 0}, want2 = {0, 0, 0};
    trow *exp;
    size_t i;
    int t;
    snprintf(out1, sizeof out1, "%s", th_path("ordered.txt"));
    snprintf(out2, sizeof out2, "%s", th_path("ordered.tsv"));
    gen_random(&rs, NROWS, 4);
    exp = sorted_copy(&rs, ord);
    for (i = 0; i < rs.n; i++) {
        th_buf_add(&want1, exp[i].s, exp[i].len);
        th_buf_fmt(&want1, ",%lld\n", (long long)exp[i].v);
        th_buf_add(&want2, exp[i].s, exp[i].len);
        th_buf_fmt(&want2, "\t%lld\n", (long long)exp[i].v);
    }
    for (t = 0; t < NTHREADS; t += 2) {
        /* shard 0 waits for the others: their output goes to disk until its turn */
        const char *what = "fprintlnf and write_tsv after a sort in 4 shards, memory 1";
        gleam_flow *f = gleam_flow_new(what);
        gleam_dataset *d = gleam_map(gleam_sort(rows_dataset(f, &rs, 4, 2), ord), "spillProbe");
        gleam_result r;
        gleam_fprintlnf(d, out1, "%s,%d");
        gleam_write_tsv(d, out2);
        probe_reset();
        g_wait_shard0 = thread_counts[t] > 1;
        r = run_spill(f, thread_counts[t], 1, dir);
        g_wait_shard0 = 0;
        if (r != GLEAM_OK) fail_run(__LINE__, what, thread_counts[t], r, f);
        else {
            CHECK_FILE(what, thread_counts[t], out1, &want1);
            CHECK_FILE(what, thread_counts[t], out2, &want2);
            CHECK_SPILLED(what, thread_counts[t], 4);
        }
        gleam_flow_free(f);
        CHECK_CLEAN(what, thread_counts[t], dir);
    }
    for (t = 1; t < 2; t++) {
        const char *what = "output_row after a sort in 4 shards, memory 1";
        gleam_flow *f = gleam_flow_new(what);
        gleam_result r;
        gleam_output_row(gleam_map(gleam_sort(rows_dataset(f, &rs, 4, 2), ord), "spillProbe"), "outRows");
        probe_reset();
        rows_free(&g_out);
        atomic_store(&g_overlaps, 0);
        g_wait_shard0 = thread_counts[t] > 1;
        r = run_spill(f, thread_counts[t], 1, dir);
        g_wait_shard0 = 0;
        if (r != GLEAM_OK) fail_run(__LINE__, what, thread_counts[t], r, f);
        else {
            size_t k;
            CHECK_INT(atomic_load(&g_overlaps), 0);
            CHECK_INT(g_out.n, rs.n);
            for (k = 0; k < g_out.n && k < rs.n; k++)
                if (!same_row(&g_out.r[k], &exp[k])) {
                    th_failf(__FILE__, __LINE__, "%s (threads=%d): call %zu of %zu differs:\n    expected %s | %lld\n    actual   %s | %lld", what,
                             thread_counts[t], k, rs.n, show(exp[k].s, exp[k].len), (long long)exp[k].v, show(g_out.r[k].s, g_out.r[k].len),
                             (long long)g_out.r[k].v);
                    break;
                }
        }
        rows_free(&g_out);
        gleam_flow_free(f);
        CHECK_CLEAN(what, thread_counts[t], dir);
    }
    {   /* memory enough for the sort: the spill files seen while shard 0 waits are the later
           shards' parked output */
        const char *what = "fprintlnf after a sort in 4 shards, memory 64 (output parked)";
        gleam_flow *f = gleam_flow_new(what);
        gleam_result r;
        gleam_fprintlnf(gleam_map(gleam_sort(rows_dataset(f, &rs, 4, 2), ord), "spillProbe"), out1, "%s,%d");
        probe_reset();
        g_wait_shard0 = 1;
        r = run_spill(f, 4, 64, dir);
        g_wait_shard0 = 0;
        if (r != GLEAM_OK) fail_run(__LINE__, what, 4, r, f);
        else {
            int parked = atomic_load(&g_probe_after_wait);
            CHECK_FILE(what, 4, out1, &want1);
            if (g_have_proc && parked < 1)
                th_failf(__FILE__, __LINE__, "%s: %d spill files open while shard 0 waited: later shards' output was not parked on disk", what, parked);
        }
        gleam_flow_free(f);
        CHECK_CLEAN(what, 4, dir);
    }
    th_buf_free(&want1);
    th_buf_free(&want2);
    free(exp);
    rows_free(&rs);
}

/* >>failures ----------------------------------------------------------------------------------- */

static void test_failures_clean(void) {
    /* threads by case: before the sort with one thread, where whole shards go first */
    static const int tc[] = {1, 4, 2, 4};
    const char *dir = fresh_dir("fail");
    rowset rs = {0, 0, 0};
    gleam_order ord = gleam_then_by(gleam_order_by(1, GLEAM_ASC), 2, GLEAM_DESC);
    int c;
    gen_random(&rs, NROWS, 5);
    for (c = 0; c < 4; c++) {
        static const char *const whats[] = {"a mapper before the sort fails at 90%", "a mapper after the sort fails half way",
                                            "a mapper after a local sort fails at a third", "output_row fails while later shards are parked"};
        const char *what = whats[c];
        gleam_flow *f = gleam_flow_new(what);
        gleam_dataset *d;
        gleam_result r;
        switch (c) {
        case 0:
            gleam_collect(gleam_sort(gleam_map(rows_dataset(f, &rs, 4, 2), "failAfter"), ord));
            fail_reset((long)(rs.n * 9 / 10));
            break;
        case 1:
            gleam_collect(gleam_map(gleam_sort(rows_dataset(f, &rs, 4, 2), ord), "failAfter"));
            fail_reset((long)(rs.n / 2));
            break;
        case 2:
            gleam_collect(gleam_map(gleam_local_sort(rows_dataset(f, &rs, 2, 2), ord), "failAfter"));
            fail_reset((long)(rs.n / 3));
            break;
        default:
            d = gleam_map(gleam_sort(rows_dataset(f, &rs, 4, 2), ord), "spillProbe");
            gleam_output_row(d, "outFail");
            fail_reset(100);
            break;
        }
        probe_reset();
        g_wait_shard0 = c == 3 && tc[c] > 1;
        r = run_spill(f, tc[c], 1, dir);
        g_wait_shard0 = 0;
        if (r != GLEAM_ERR_USER) {
            th_failf(__FILE__, __LINE__, "%s (threads=%d): result %s, expected a user error (%s)", what, tc[c], gleam_result_str(r), gleam_error(f));
        } else {
            CHECK_HAS(gleam_error(f), c == 3 ? "outFail: stopped at row" : "failAfter: stopped at row");
            CHECK_HAS(gleam_error(f), c == 3 ? "output_row(outFail)" : "map(failAfter)");
            /* spill files existed when it failed */
            if (g_have_proc && c < 3 && atomic_load(&g_fail_fds) < 1)
                th_failf(__FILE__, __LINE__, "%s (threads=%d): no spill file was open when it failed (%d)", what, tc[c], atomic_load(&g_fail_fds));
            if (g_have_proc && c == 3 && tc[c] > 1 && atomic_load(&g_probe_after_wait) < 1)
                th_failf(__FILE__, __LINE__, "%s (threads=%d): no spill file was open while shard 0 waited", what, tc[c]);
        }
        gleam_flow_free(f);
        CHECK_CLEAN(what, tc[c], dir);
    }
    rows_free(&rs);
}

/* A tmpdir where no spill file can be made: the error names it, and why. */
static void test_bad_tmpdir(void) {
    static const int tc[] = {1, 4};
    char missing[PATH_MAX], notdir[PATH_MAX], want[PATH_MAX + 64], out[PATH_MAX];
    rowset rs = {0, 0, 0};
    gleam_order ord = gleam_order_by(1, GLEAM_ASC);
    int t, c;
    snprintf(missing, sizeof missing, "%s", th_path("no-such-dir/deeper"));
    snprintf(notdir, sizeof notdir, "%s", th_write("a-file", "x\n", 2));
    snprintf(out, sizeof out, "%s", th_path("bad-tmpdir-out.txt"));
    gen_random(&rs, NROWS, 6);
    for (c = 0; c < 3; c++)
        for (t = 0; t < 2; t++) {
            static const char *const whats[] = {"sort with a missing tmpdir", "local_sort with a missing tmpdir",
                                                "parked output with a missing tmpdir"};
            const char *what = whats[c];
            gleam_flow *f = gleam_flow_new(what);
            gleam_result r;
            if (c == 2 && tc[t] == 1) { /* with one thread no output needs to wait */
                gleam_flow_free(f);
                continue;
            }
            switch (c) {
            case 0: gleam_collect(gleam_sort(rows_dataset(f, &rs, 4, 2), ord)); break;
            case 1: gleam_collect(gleam_local_sort(rows_dataset(f, &rs, 2, 2), ord)); break;
            default: gleam_fprintlnf(gleam_map(gleam_sort(rows_dataset(f, &rs, 4, 2), ord), "spillProbe"), out, "%s,%d"); break;
            }
            probe_reset();
            g_wait_shard0 = c == 2;
            r = run_spill(f, tc[t], c == 2 ? 64 : 1, missing);
            g_wait_shard0 = 0;
            if (r != GLEAM_ERR_IO) {
                th_failf(__FILE__, __LINE__, "%s (threads=%d): result %s, expected an i/o error (%s)", what, tc[t], gleam_result_str(r), gleam_error(f));
            } else {
                snprintf(want, sizeof want, "cannot %s a spill file in %s: ", c == 2 ? "make" : "write", missing);
                CHECK_HAS(gleam_error(f), want);
                CHECK_HAS(gleam_error(f), strerror(ENOENT));
                CHECK_HAS(gleam_error(f), c == 0 ? "step 2 sort, shard " : c == 1 ? "step 2 local_sort, shard " : "step 4 printlnf, shard ");
            }
            gleam_flow_free(f);
        }
    for (t = 0; t < 2; t++) { /* a file, not a directory */
        const char *what = "sort with a tmpdir that is a file";
        gleam_flow *f = gleam_flow_new(what);
        gleam_result r;
        gleam_collect(gleam_sort(rows_dataset(f, &rs, 4, 2), ord));
        r = run_spill(f, tc[t], 1, notdir);
        if (r != GLEAM_ERR_IO) {
            th_failf(__FILE__, __LINE__, "%s (threads=%d): result %s, expected an i/o error (%s)", what, tc[t], gleam_result_str(r), gleam_error(f));
        } else {
            snprintf(want, sizeof want, "cannot write a spill file in %s: ", notdir);
            CHECK_HAS(gleam_error(f), want);
            CHECK_HAS(gleam_error(f), strerror(ENOTDIR));
        }
        gleam_flow_free(f);
    }
    if (geteuid() != 0) { /* a directory without write permission (root writes anyway) */
        const char *ro = fresh_dir("read-only");
        chmod(ro, 0500);
        for (t = 0; t < 2; t++) {
            const char *what = "sort with a read-only tmpdir";
            gleam_flow *f = gleam_flow_new(what);
            gleam_result r;
            gleam_collect(gleam_sort(rows_dataset(f, &rs, 4, 2), ord));
            r = run_spill(f, tc[t], 1, ro);
            if (r != GLEAM_ERR_IO) {
                th_failf(__FILE__, __LINE__, "%s (threads=%d): result %s, expected an i/o error (%s)", what, tc[t], gleam_result_str(r), gleam_error(f));
            } else {
                snprintf(want, sizeof want, "cannot write a spill file in %s: ", ro);
                CHECK_HAS(gleam_error(f), want);
                CHECK_HAS(gleam_error(f), strerror(EACCES));
            }
            gleam_flow_free(f);
            CHECK_CLEAN(what, tc[t], ro);
        }
        chmod(ro, 0700);
    }
    rows_free(&rs);
}

int main(void) {
    if (gleam_register_mapper("spillProbe", spill_probe) != GLEAM_OK || gleam_register_mapper("tagShard", tag_shard) != GLEAM_OK ||
        gleam_register_mapper("tagSeq", tag_seq) != GLEAM_OK || gleam_register_mapper("failAfter", fail_after) != GLEAM_OK ||
        gleam_register_output("outRows", out_rows) != GLEAM_OK || gleam_register_output("outFail", out_fail) != GLEAM_OK) {
        fprintf(stderr, "cannot register: %s\n", gleam_error(NULL));
        return 2;
    }
    g_real_dir[0] = 0;
    g_have_proc = spill_fds() >= 0;
    if (!g_have_proc) printf("(no /proc/self/fd: open spill files are not checked)\n");
    RUN(test_sort_spill);
    RUN(test_sort_long_prefix);
    RUN(test_local_sort_spill);
    RUN(test_ordered_output);
    RUN(test_failures_clean);
    RUN(test_bad_tmpdir);
    return th_done();
}
