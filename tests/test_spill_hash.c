/* test_spill_hash.c: the hash-based wide steps (reduce_by, distinct, group_by, cogroup, the
   joins) with a memory bound small enough that their consumers spill to files: the answers
   must equal those of naive loops here, the spill files must have been used while the job
   ran, and nothing may be left in the spill directory afterwards. */
#include "run/run.h" /* the engine's internal declarations (build with -Isrc), gleam.h's among them */
#include "harness.h"

#include <dirent.h>

/* >>data: rows of (key, int), a third of them on one key --------------------------------- */

#define NROWS 120000
#define NKEYS 20000

static char keys[NKEYS][16];
static gleam_value left_rows[NROWS * 2], right_rows[NROWS / 2 * 2];
static int left_key[NROWS], right_key[NROWS / 2];
static uint64_t rng = 7;

static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void make_data(void) {
    int i;
    for (i = 0; i < NKEYS; i++) snprintf(keys[i], sizeof keys[i], "key%05d", i);
    for (i = 0; i < NROWS; i++) {
        int k = next_rand() % 3 == 0 ? 7 : (int)(next_rand() % NKEYS);
        left_key[i] = k;
        left_rows[2 * i] = gleam_str(keys[k]);
        left_rows[2 * i + 1] = gleam_int(i);
    }
    for (i = 0; i < NROWS / 2; i++) { /* keys 0..2*NKEYS: half of them match no left key */
        int k = (int)(next_rand() % NKEYS);
        right_key[i] = next_rand() % 2 ? k : -1 - k;
        right_rows[2 * i] = right_key[i] >= 0 ? gleam_str(keys[k]) : gleam_str("nokey");
        right_rows[2 * i + 1] = gleam_int(1000000 + i);
    }
}

/* >>text: rows as sorted lines ------------------------------------------------------------- */

typedef struct lines {
    char **v;
    size_t n, cap;
} lines;

static void lines_add(lines *l, const char *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->v = (char **)realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) exit(2);
    }
    l->v[l->n] = (char *)malloc(strlen(s) + 1);
    if (!l->v[l->n]) exit(2);
    strcpy(l->v[l->n++], s);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void lines_free(lines *l) {
    size_t i;
    for (i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* The text of a value; a list's elements are sorted (their order is arrival order). */
static void value_text(gleam_value v, char *out, size_t cap) {
    if (v.type == GLEAM_LIST) {
        gleam_list_iter it = gleam_list_begin(v);
        gleam_value e;
        lines el = {0, 0, 0};
        size_t i, at = 0;
        char one[256];
        while (gleam_list_next(&it, &e)) {
            value_text(e, one, sizeof one);
            lines_add(&el, one);
        }
        if (el.n) qsort(el.v, el.n, sizeof *el.v, cmp_str);
        at += (size_t)snprintf(out + at, cap - at, "[");
        for (i = 0; i < el.n && at < cap; i++) at += (size_t)snprintf(out + at, cap - at, i ? " %s" : "%s", el.v[i]);
        if (at < cap) snprintf(out + at, cap - at, "]");
        lines_free(&el);
        return;
    }
    if (v.type == GLEAM_NIL) snprintf(out, cap, "nil");
    else gleam_to_string(v, out, cap);
}

static void rows_lines(const gleam_rows *rows, lines *out) {
    size_t i;
    static char buf[1 << 20];
    for (i = 0; i < gleam_rows_count(rows); i++) {
        int n, j;
        size_t at = 0;
        const gleam_value *r = gleam_rows_get(rows, i, &n);
        for (j = 0; j < n && at < sizeof buf - 1; j++) {
            if (j) buf[at++] = '|';
            value_text(r[j], buf + at, sizeof buf - at);
            at += strlen(buf + at);
        }
        buf[at] = 0;
        lines_add(out, buf);
    }
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_str);
}

static void check_lines(const char *file, int line, const char *what, lines *got, lines *want) {
    size_t i;
    if (want->n) qsort(want->v, want->n, sizeof *want->v, cmp_str);
    if (got->n != want->n) {
        th_failf(file, line, "%s: %zu rows, expected %zu", what, got->n, want->n);
        return;
    }
    for (i = 0; i < got->n; i++)
        if (strcmp(got->v[i], want->v[i])) {
            th_failf(file, line, "%s: row %zu is \"%.200s\", expected \"%.200s\"", what, i, got->v[i], want->v[i]);
            return;
        }
}

/* >>spill evidence: spill files open while the job runs ------------------------------------ */

static char spill_dir[512];
static int max_spill_fds;

/* Open descriptors of nameless files in spill_dir (Linux: /proc/self/fd). */
static int spill_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d))) {
        char path[600], target[1024];
        ssize_t len;
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        len = readlink(path, target, sizeof target - 1);
        if (len <= 0) continue;
        target[len] = 0;
        if (!strncmp(target, spill_dir, strlen(spill_dir)) && (strstr(target, "(deleted)") || strstr(target, "/#")))
            n++;
    }
    closedir(d);
    return n;
}

/* A pass-through mapper after the wide step: notes the spill files open right now. */
static int watch_calls;
static gleam_result watch(gleam_ctx *c, const gleam_value *row, int n) {
    if (__atomic_add_fetch(&watch_calls, 1, __ATOMIC_RELAXED) % 256 == 1) { /* now and then: /proc is slow */
        int k = spill_fds();
        if (k > __atomic_load_n(&max_spill_fds, __ATOMIC_RELAXED)) __atomic_store_n(&max_spill_fds, k, __ATOMIC_RELAXED);
    }
    return gleam_emit(c, row, n);
}

static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Sums the integers, keeps the rest (a long text that makes each key's fold big). */
static gleam_result sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int i;
    (void)c;
    for (i = 0; i < n; i++)
        if (acc[i].type == GLEAM_INT) acc[i] = gleam_int(acc[i].u.i + gleam_to_int64(x[i]));
    return GLEAM_OK;
}

#define PAD "padding-padding-padding-padding-padding-padding-padding-padding-padding-padding-padding-padding"


/* Run f with 1 MB of memory; collect its rows as sorted lines. */
static gleam_result run_small(gleam_flow *f, gleam_rows *rows, int threads, lines *out) {
    gleam_options o;
    gleam_result r;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    o.memory_mb = 1;
    o.tmpdir = spill_dir;
    max_spill_fds = 0;
    watch_calls = 0;
    r = gleam_run_with(f, &o);
    if (r == GLEAM_OK) rows_lines(rows, out);
    return r;
}

#define SPILLED() CHECK(spill_fds() < 0 || max_spill_fds > 0)
#define CLEAN() CHECK_INT(dir_entries(spill_dir), 0)

/* >>tests ------------------------------------------------------------------------------------ */

static void test_reduce_by(void) {
    int threads;
    for (threads = TH_MIN_THREADS; threads <= 4; threads *= 2) {
        static int64_t total[NKEYS], count[NKEYS];
        lines got = {0, 0, 0}, want = {0, 0, 0};
        gleam_flow *f = gleam_flow_new("reduce_by spill");
        gleam_dataset *d = gleam_from_values(f, left_rows, NROWS, 2, 3);
        gleam_rows *rows;
        char buf[256];
        int i;
        d = gleam_map(d, "appendOneSpill");
        rows = gleam_collect(gleam_map(gleam_reduce_by_key(d, "sumSpill"), "watch"));
        CHECK_INT(run_small(f, rows, threads, &got), GLEAM_OK);
        memset(total, 0, sizeof total);
        memset(count, 0, sizeof count);
        for (i = 0; i < NROWS; i++) total[left_key[i]] += i, count[left_key[i]]++;
        for (i = 0; i < NKEYS; i++)
            if (count[i]) {
                snprintf(buf, sizeof buf, "%.15s|%lld|%lld|%s", keys[i], (long long)total[i], (long long)count[i], PAD);
                lines_add(&want, buf);
            }
        check_lines(__FILE__, __LINE__, "reduce_by", &got, &want);
        if (threads <= 2) SPILLED(); /* four partitions may each fit */
        CLEAN();
        gleam_flow_free(f);
        lines_free(&got);
        lines_free(&want);
    }
}

/* >>numbers that turn into text: a fold of numbers is kept compactly until its reducer
   leaves bytes in it; then it moves. Rows (key, i) become (key, 1, i/4, odd, nil, i%100,
   i%7); the fold counts, sums the doubles, ors the booleans, keeps the nil, sums i%100
   until the count reaches MANY (then the text "many", made in scratch memory) and turns
   the integer sum of i%7 into a double. The key is (key, PAD): long keys, so the step
   spills. */
#define MANY 5

static gleam_result to_mixed(gleam_ctx *c, const gleam_value *row, int n) {
    int64_t i = row[1].u.i;
    (void)n;
    return GLEAM_EMIT(c, row[0], gleam_str(PAD), gleam_int(1), gleam_double((double)i / 4), gleam_bool(i & 1), gleam_nil(),
                      gleam_int(i % 100), gleam_int(i % 7));
}

static double num_of(gleam_value v) { return v.type == GLEAM_INT ? (double)v.u.i : v.u.d; }

static gleam_result mixed_fold(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    if (n != 6 || acc[1].type != GLEAM_DOUBLE || acc[2].type != GLEAM_BOOL || acc[3].type != GLEAM_NIL ||
        x[3].type != GLEAM_NIL)
        return gleam_fail(c, "mixedFold: unexpected values (n=%d, types %d %d %d)", n, (int)acc[1].type, (int)acc[2].type,
                          (int)acc[3].type);
    if (!gleam_scratch(c, 16)) return GLEAM_ERR_NOMEM; /* every call: numbers left after scratch stay numbers */
    acc[0].u.i += x[0].u.i;
    acc[1].u.d += x[1].u.d;
    acc[2] = gleam_bool(acc[2].u.i | x[2].u.i);
    if (acc[4].type == GLEAM_BYTES || x[4].type == GLEAM_BYTES || acc[0].u.i >= MANY) {
        char *t = (char *)gleam_scratch(c, 4);
        if (!t) return GLEAM_ERR_NOMEM;
        memcpy(t, "many", 4);
        acc[4] = gleam_bytes(t, 4);
    } else
        acc[4].u.i += x[4].u.i;
    acc[5] = gleam_double(num_of(acc[5]) + num_of(x[5]));
    return GLEAM_OK;
}

static void test_reduce_by_mixed(void) {
    int threads;
    for (threads = TH_MIN_THREADS; threads <= 4; threads *= 2) {
        static int64_t count[NKEYS], mod100[NKEYS], mod7[NKEYS], quarters[NKEYS], odd[NKEYS];
        lines got = {0, 0, 0}, want = {0, 0, 0};
        gleam_flow *f = gleam_flow_new("reduce_by mixed spill");
        gleam_rows *rows;
        int i, many = 0, few = 0;
        rows = gleam_collect(gleam_map(gleam_reduce_by(gleam_map(gleam_from_values(f, left_rows, NROWS, 2, 3), "toMixed"), "mixedFold",
                                                        GLEAM_FIELDS(1, 2)),
                                       "watch"));
        CHECK_INT(run_small(f, rows, threads, &got), GLEAM_OK);
        memset(count, 0, sizeof count);
        memset(mod100, 0, sizeof mod100);
        memset(mod7, 0, sizeof mod7);
        memset(quarters, 0, sizeof quarters);
        memset(odd, 0, sizeof odd);
        for (i = 0; i < NROWS; i++) {
            int k = left_key[i];
            count[k]++, mod100[k] += i % 100, mod7[k] += i % 7, quarters[k] += i, odd[k] |= i & 1;
        }
        for (i = 0; i < NKEYS; i++)
            if (count[i]) {
                gleam_value v[8];
                char buf[512];
                size_t at = 0;
                int j;
                v[0] = gleam_str(keys[i]);
                v[1] = gleam_str(PAD);
                v[2] = gleam_int(count[i]);
                v[3] = gleam_double((double)quarters[i] / 4); /* quarters: exact in a double */
                v[4] = gleam_bool((int)odd[i]);
                v[5] = gleam_nil();
                v[6] = count[i] >= MANY ? gleam_str("many") : gleam_int(mod100[i]);
                v[7] = gleam_double((double)mod7[i]);
                count[i] >= MANY ? many++ : few++;
                if (count[i] == 1) v[7] = gleam_int(mod7[i]); /* one row: never folded */
                for (j = 0; j < 8; j++) {
                    if (j) buf[at++] = '|';
                    value_text(v[j], buf + at, sizeof buf - at);
                    at += strlen(buf + at);
                }
                lines_add(&want, buf);
            }
        CHECK(many > 100 && few > 100); /* both kinds of keys are there */
        check_lines(__FILE__, __LINE__, "reduce_by mixed", &got, &want);
        if (threads <= 2) SPILLED();
        CLEAN();
        gleam_flow_free(f);
        lines_free(&got);
        lines_free(&want);
    }
}

static gleam_result append_one(gleam_ctx *c, const gleam_value *row, int n) {
    (void)n;
    return GLEAM_EMIT(c, row[0], row[1], gleam_int(1), gleam_str(PAD));
}

static void test_distinct(void) {
    int threads;
    for (threads = TH_MIN_THREADS; threads <= 4; threads *= 2) {
        static char seen[NKEYS];
        lines got = {0, 0, 0}, want = {0, 0, 0};
        gleam_flow *f = gleam_flow_new("distinct spill");
        gleam_rows *rows;
        int i;
        /* distinct keys: select the key field, then distinct */
        rows = gleam_collect(gleam_map(gleam_distinct(gleam_select(gleam_from_values(f, left_rows, NROWS, 2, 3), GLEAM_FIELDS(1))), "watch"));
        CHECK_INT(run_small(f, rows, threads, &got), GLEAM_OK);
        memset(seen, 0, sizeof seen);
        for (i = 0; i < NROWS; i++)
            if (!seen[left_key[i]]) {
                seen[left_key[i]] = 1;
                lines_add(&want, keys[left_key[i]]);
            }
        check_lines(__FILE__, __LINE__, "distinct keys", &got, &want);
        CLEAN();
        gleam_flow_free(f);
        lines_free(&got);
        lines_free(&want);
        /* distinct whole rows: every row is distinct, so every row comes out once */
        f = gleam_flow_new("distinct rows spill");
        rows = gleam_collect(gleam_map(gleam_distinct(gleam_union(gleam_from_values(f, left_rows, NROWS, 2, 2),
                                                                  gleam_from_values(f, left_rows, NROWS, 2, 1))),
                                       "watch"));
        CHECK_INT(run_small(f, rows, threads, &got), GLEAM_OK);
        for (i = 0; i < NROWS; i++) {
            char buf[64];
            snprintf(buf, sizeof buf, "%s|%d", keys[left_key[i]], i);
            lines_add(&want, buf);
        }
        check_lines(__FILE__, __LINE__, "distinct rows", &got, &want);
        SPILLED();
        CLEAN();
        gleam_flow_free(f);
        lines_free(&got);
        lines_free(&want);
    }
}

/* The expected group of key k: "[v v v]", the value texts sorted. Rows of one key are
   chained through next[] from first[k] (built by chain()). */
static void group_line(lines *want, int k, const int *first, const int *next, const gleam_value *vals, int stride) {
    lines el = {0, 0, 0};
    static char buf[1 << 21];
    size_t at, i;
    int r;
    for (r = first[k]; r >= 0; r = next[r]) {
        char one[32];
        snprintf(one, sizeof one, "%lld", (long long)vals[r * stride].u.i);
        lines_add(&el, one);
    }
    if (el.n) qsort(el.v, el.n, sizeof *el.v, cmp_str);
    at = (size_t)snprintf(buf, sizeof buf, "[");
    for (i = 0; i < el.n; i++) at += (size_t)snprintf(buf + at, sizeof buf - at, i ? " %s" : "%s", el.v[i]);
    snprintf(buf + at, sizeof buf - at, "]");
    lines_add(want, buf);
    lines_free(&el);
}

/* Chain rows 0..n-1 by key index (kidx[r] in 0..nk-1; others are skipped). */
static void chain(const int *kidx, int n, int nk, int *first, int *next) {
    int r;
    for (r = 0; r < nk; r++) first[r] = -1;
    for (r = n - 1; r >= 0; r--)
        if (kidx[r] >= 0 && kidx[r] < nk) {
            next[r] = first[kidx[r]];
            first[kidx[r]] = r;
        }
}

static int lfirst[NKEYS + 1], lnext[NROWS], rfirst[NKEYS + 1], rnext[NROWS / 2];

static void test_group_by(void) {
    int threads;
    for (threads = 1; threads <= 2; threads++) {
        static char has[NKEYS];
        lines got = {0, 0, 0}, want = {0, 0, 0}, parts = {0, 0, 0};
        gleam_flow *f = gleam_flow_new("group_by spill");
        gleam_rows *rows = gleam_collect(gleam_map(gleam_group_by_key(gleam_from_values(f, left_rows, NROWS, 2, 3)), "watch"));
        int i;
        CHECK_INT(run_small(f, rows, threads, &got), GLEAM_OK);
        memset(has, 0, sizeof has);
        for (i = 0; i < NROWS; i++) has[left_key[i]] = 1;
        chain(left_key, NROWS, NKEYS, lfirst, lnext);
        for (i = 0; i < NKEYS; i++) {
            char *line;
            if (!has[i]) continue;
            group_line(&parts, i, lfirst, lnext, left_rows + 1, 2);
            line = (char *)malloc(strlen(parts.v[parts.n - 1]) + 32);
            if (!line) exit(2);
            sprintf(line, "%s|%s", keys[i], parts.v[parts.n - 1]);
            lines_add(&want, line);
            free(line);
        }
        check_lines(__FILE__, __LINE__, "group_by", &got, &want);
        SPILLED();
        CLEAN();
        gleam_flow_free(f);
        lines_free(&got);
        lines_free(&want);
        lines_free(&parts);
    }
}

static void test_cogroup(void) {
    static char has[NKEYS];
    lines got = {0, 0, 0}, want = {0, 0, 0}, a = {0, 0, 0}, b = {0, 0, 0};
    gleam_flow *f = gleam_flow_new("cogroup spill");
    gleam_rows *rows =
        gleam_collect(gleam_map(gleam_cogroup(gleam_from_values(f, left_rows, NROWS, 2, 2),
                                              gleam_from_values(f, right_rows, NROWS / 2, 2, 3)),
                                "watch"));
    int i;
    char *line;
    CHECK_INT(run_small(f, rows, 2, &got), GLEAM_OK);
    memset(has, 0, sizeof has);
    for (i = 0; i < NROWS; i++) has[left_key[i]] = 1;
    for (i = 0; i < NROWS / 2; i++)
        if (right_key[i] >= 0) has[right_key[i]] = 1;
    chain(left_key, NROWS, NKEYS, lfirst, lnext);
    chain(right_key, NROWS / 2, NKEYS, rfirst, rnext);
    for (i = 0; i < NKEYS; i++) {
        if (!has[i]) continue;
        group_line(&a, i, lfirst, lnext, left_rows + 1, 2);
        group_line(&b, i, rfirst, rnext, right_rows + 1, 2);
        line = (char *)malloc(strlen(a.v[a.n - 1]) + strlen(b.v[b.n - 1]) + 32);
        if (!line) exit(2);
        sprintf(line, "%s|%s|%s", keys[i], a.v[a.n - 1], b.v[b.n - 1]);
        lines_add(&want, line);
        free(line);
    }
    { /* the rows of no left key: all under "nokey" */
        lines nb = {0, 0, 0};
        int *nk = (int *)malloc(sizeof(int) * (NROWS / 2));
        if (!nk) exit(2);
        for (i = 0; i < NROWS / 2; i++) nk[i] = right_key[i] < 0 ? 0 : 1;
        chain(nk, NROWS / 2, 1, rfirst, rnext);
        group_line(&nb, 0, rfirst, rnext, right_rows + 1, 2);
        line = (char *)malloc(strlen(nb.v[0]) + 32);
        if (!line) exit(2);
        sprintf(line, "nokey|[]|%s", nb.v[0]);
        lines_add(&want, line);
        free(line);
        free(nk);
        lines_free(&nb);
    }
    check_lines(__FILE__, __LINE__, "cogroup", &got, &want);
    SPILLED();
    CLEAN();
    gleam_flow_free(f);
    lines_free(&got);
    lines_free(&want);
    lines_free(&a);
    lines_free(&b);
}

static void test_joins(void) {
    gleam_join_kind kinds[3] = {GLEAM_INNER, GLEAM_LEFT_OUTER, GLEAM_RIGHT_OUTER};
    int kind;
    /* right rows by key, for the naive join */
    static int first[NKEYS], next[NROWS / 2];
    static char matched[NROWS / 2];
    int i;
    for (i = 0; i < NKEYS; i++) first[i] = -1;
    for (i = NROWS / 2 - 1; i >= 0; i--)
        if (right_key[i] >= 0) {
            next[i] = first[right_key[i]];
            first[right_key[i]] = i;
        }
    for (kind = 0; kind < 3; kind++) {
        lines got = {0, 0, 0}, want = {0, 0, 0};
        gleam_flow *f = gleam_flow_new("join spill");
        gleam_rows *rows = gleam_collect(gleam_map(
            gleam_join_by(gleam_from_values(f, left_rows, NROWS, 2, 3), gleam_from_values(f, right_rows, NROWS / 2, 2, 2),
                          kinds[kind], GLEAM_FIELDS(1)),
            "watch"));
        char buf[128];
        CHECK_INT(run_small(f, rows, 2, &got), GLEAM_OK);
        memset(matched, 0, sizeof matched);
        for (i = 0; i < NROWS; i++) {
            int j = first[left_key[i]];
            if (j < 0 && kinds[kind] == GLEAM_LEFT_OUTER) {
                snprintf(buf, sizeof buf, "%s|%d|nil", keys[left_key[i]], i);
                lines_add(&want, buf);
            }
            for (; j >= 0; j = next[j]) {
                matched[j] = 1;
                snprintf(buf, sizeof buf, "%s|%d|%lld", keys[left_key[i]], i, (long long)right_rows[2 * j + 1].u.i);
                lines_add(&want, buf);
            }
        }
        if (kinds[kind] == GLEAM_RIGHT_OUTER)
            for (i = 0; i < NROWS / 2; i++)
                if (!matched[i]) {
                    snprintf(buf, sizeof buf, "%s|nil|%lld", right_key[i] >= 0 ? keys[right_key[i]] : "nokey",
                             (long long)right_rows[2 * i + 1].u.i);
                    lines_add(&want, buf);
                }
        check_lines(__FILE__, __LINE__, kind == 0 ? "inner join" : kind == 1 ? "left outer join" : "right outer join", &got,
                    &want);
        SPILLED();
        CLEAN();
        gleam_flow_free(f);
        lines_free(&got);
        lines_free(&want);
    }
}

/* A reducer that fails once the spilled folds are read back: the job fails, nothing is left. */
static int fail_after;
static gleam_result sum_then_fail(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    if (__atomic_add_fetch(&fail_after, -1, __ATOMIC_RELAXED) == 0) return gleam_fail(c, "enough folding");
    return sum(c, acc, x, n);
}

static void test_failure_cleans_up(void) {
    lines got = {0, 0, 0};
    gleam_flow *f = gleam_flow_new("spill then fail");
    gleam_rows *rows = gleam_collect(gleam_reduce_by_key(gleam_map(gleam_from_values(f, left_rows, NROWS, 2, 2), "appendOneSpill"), "sumThenFail"));
    fail_after = NROWS / 3;
    CHECK_INT(run_small(f, rows, 2, &got), GLEAM_ERR_USER);
    CHECK_HAS(gleam_error(f), "enough folding");
    CLEAN();
    gleam_flow_free(f);
}

static void test_no_tmpdir(void) {
    gleam_options o;
    gleam_flow *f = gleam_flow_new("no spill dir");
    gleam_collect(gleam_group_by_key(gleam_from_values(f, left_rows, NROWS, 2, 2)));
    memset(&o, 0, sizeof o);
    o.threads = 2;
    o.memory_mb = 1;
    o.tmpdir = "/nonexistent/spill/dir";
    CHECK_INT(gleam_run_with(f, &o), GLEAM_ERR_IO);
    CHECK_HAS(gleam_error(f), "/nonexistent/spill/dir");
    CHECK_HAS(gleam_error(f), "spill file");
    CHECK_HAS(gleam_error(f), "group_by");
    gleam_flow_free(f);
}

int main(void) {
    gleam__tune.nums_after = 16; /* folds of numbers kept compactly past a table's 16th key */
    make_data();
    snprintf(spill_dir, sizeof spill_dir, "%s", th_path("spill"));
    if (mkdir(spill_dir, 0700)) {
        perror(spill_dir);
        return 2;
    }
    gleam_register_mapper("watch", watch);
    gleam_register_mapper("appendOneSpill", append_one);
    gleam_register_reducer("sumSpill", sum);
    gleam_register_reducer("sumThenFail", sum_then_fail);
    gleam_register_mapper("toMixed", to_mixed);
    gleam_register_reducer("mixedFold", mixed_fold);
    RUN(test_reduce_by);
    RUN(test_reduce_by_mixed);
    RUN(test_distinct);
    RUN(test_group_by);
    RUN(test_cogroup);
    RUN(test_joins);
    RUN(test_failure_cleans_up);
    RUN(test_no_tmpdir);
    return th_done();
}
