/* test_pipe.c: pipe steps (gleam_pipe, gleam_pipe_as_args) through real shell commands,
   checked against a naive model of the text they exchange; failing, killed and stopped
   commands, quoting, bad arguments, explain, and no process or descriptor left behind. */
#include "gleam.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

/* >>helpers: text buffers, lists of lines ------------------------------------------------ */


/* The text of v as gleam_to_string prints it, appended to b. */
static void sb_value(th_buf *b, gleam_value v) {
    char small[64];
    size_t n = gleam_to_string(v, small, sizeof small);
    if (n < sizeof small) {
        th_buf_add(b, small, n);
    } else {
        char *big = (char *)malloc(n + 1);
        if (!big) exit(2);
        gleam_to_string(v, big, n + 1);
        th_buf_add(b, big, n);
        free(big);
    }
}

/* A list of lines (copies, NUL-terminated). */
typedef struct lines {
    char **s;
    size_t n, cap;
} lines;

static void ln_add(lines *l, const char *p, size_t n) {
    char *c = (char *)malloc(n + 1);
    if (!c) exit(2);
    if (n) memcpy(c, p, n);
    c[n] = 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->s = (char **)realloc(l->s, l->cap * sizeof *l->s);
        if (!l->s) exit(2);
    }
    l->s[l->n++] = c;
}
static void ln_str(lines *l, const char *s) { ln_add(l, s, strlen(s)); }
static void ln_free(lines *l) {
    size_t i;
    for (i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}
static int cmp_strp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static void ln_sort(lines *l) {
    if (l->n) qsort(l->s, l->n, sizeof *l->s, cmp_strp);
}

/* The naive model of a pipe through `cat`: the rows written as text (fields as
   gleam_to_string prints them, tabs between, a newline after each row), that text cut back
   into its lines. Each line is one row the step must give back, split on its tabs. */
static void model_lines(lines *out, const gleam_value *vals, size_t rows, int cols) {
    th_buf t = {0, 0, 0};
    size_t r, i, start = 0;
    int c;
    for (r = 0; r < rows; r++) {
        for (c = 0; c < cols; c++) {
            if (c) th_buf_add(&t, "\t", 1);
            sb_value(&t, vals[r * (size_t)cols + (size_t)c]);
        }
        th_buf_add(&t, "\n", 1);
    }
    for (i = 0; i < t.len; i++)
        if (t.p[i] == '\n') {
            ln_add(out, t.p + start, i - start);
            start = i + 1;
        }
    th_buf_free(&t);
}

/* The collected rows as lines: fields joined by tabs. A field that is not bytes, or that
   holds a tab or a newline (which the step should have split on), is a failure. */
static void rows_lines_at(const char *file, int line, lines *out, const gleam_rows *rows) {
    size_t i, count = gleam_rows_count(rows);
    th_buf t = {0, 0, 0};
    int bad = 0;
    for (i = 0; i < count; i++) {
        int n, k;
        const gleam_value *v = gleam_rows_get(rows, i, &n);
        t.len = 0;
        th_buf_add(&t, "", 0);
        for (k = 0; k < n; k++) {
            if (k) th_buf_add(&t, "\t", 1);
            if (v[k].type != GLEAM_BYTES) {
                if (!bad++) th_failf(file, line, "row %zu field %d has type %d, not bytes", i, k + 1, (int)v[k].type);
                continue;
            }
            if (v[k].len && (memchr(v[k].u.s, '\t', v[k].len) || memchr(v[k].u.s, '\n', v[k].len)))
                if (!bad++) th_failf(file, line, "row %zu field %d holds a tab or newline: it was not split", i, k + 1);
            th_buf_add(&t, v[k].u.s, v[k].len);
        }
        ln_add(out, t.p, t.len);
    }
    th_buf_free(&t);
}
#define ROWS_LINES(out, rows) rows_lines_at(__FILE__, __LINE__, out, rows)

/* The two lists are equal line by line; the first difference is reported. */
static void check_lines_at(const char *file, int line, const char *what, const lines *exp, const lines *act) {
    size_t i;
    if (exp->n != act->n) th_failf(file, line, "%s: %zu rows, expected %zu", what, act->n, exp->n);
    for (i = 0; i < exp->n && i < act->n; i++)
        if (strcmp(exp->s[i], act->s[i])) {
            th_failf(file, line, "%s: row %zu is \"%.200s\", expected \"%.200s\"", what, i, act->s[i], exp->s[i]);
            return;
        }
}
#define CHECK_LINES(what, exp, act) check_lines_at(__FILE__, __LINE__, what, exp, act)

/* Field k (0-based) of row i is the bytes `text`. */
static int row_field_is(const gleam_rows *rows, size_t i, int k, const char *text) {
    int n;
    const gleam_value *v = gleam_rows_get(rows, i, &n);
    return v && k < n && v[k].type == GLEAM_BYTES && v[k].len == strlen(text) && !memcmp(v[k].u.s, text, v[k].len);
}

/* >>helpers: running, capturing stderr, processes ---------------------------------------- */

/* Run f with standard error going to a scratch file; *err gets its text (free it). The
   commands' stderr is passed on to ours, and explain prints the plan there. */
static gleam_result run_captured(gleam_flow *f, int threads, int explain, char **err) {
    char path[512];
    gleam_options o;
    int saved, fd;
    gleam_result r;
    snprintf(path, sizeof path, "%s", th_path("stderr.txt"));
    fflush(stderr);
    saved = dup(2);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0) exit(2);
    dup2(fd, 2);
    close(fd);
    memset(&o, 0, sizeof o);
    o.threads = threads;
    o.explain = explain;
    r = gleam_run_with(f, &o);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    *err = th_read(path, NULL);
    if (!*err) exit(2);
    return r;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* No child process is left, not even a zombie: waitpid finds none at all. */
static void check_no_children_at(const char *file, int line) {
    int st;
    pid_t p;
    errno = 0;
    p = waitpid(-1, &st, WNOHANG);
    if (!(p == -1 && errno == ECHILD))
        th_failf(file, line, "waitpid(-1, WNOHANG) returned %ld (errno %d): a child process was left behind", (long)p, errno);
}
#define CHECK_NO_CHILDREN() check_no_children_at(__FILE__, __LINE__)

/* The processes of group pgid that are alive (zombies do not count: an orphan's is for
   init to reap), from /proc; -1 when /proc cannot be read. */
static int live_in_group(long pgid) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    int live = 0;
    if (!d) return -1;
    while ((e = readdir(d))) {
        char path[300], buf[1024], state = 0;
        const char *close_paren;
        long ppid = 0, pgrp = 0;
        FILE *fp;
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        if (!(fp = fopen(path, "r"))) continue;
        if (fgets(buf, sizeof buf, fp) && (close_paren = strrchr(buf, ')')) != NULL &&
            sscanf(close_paren + 1, " %c %ld %ld", &state, &ppid, &pgrp) == 3 && pgrp == pgid && state != 'Z')
            live++;
        fclose(fp);
    }
    closedir(d);
    return live;
}

/* Every process group listed in pidfile (one `echo $$` per command) has no live process
   within 3 seconds of the run's end; at least `min` groups were listed. */
static void check_groups_gone_at(const char *file, int line, const char *pidfile, int min) {
    char *text = th_read(pidfile, NULL), *p;
    int groups = 0;
    if (!text) {
        if (min > 0) th_failf(file, line, "no command wrote its pid to %s", pidfile);
        return;
    }
    for (p = text; *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p) break;
        p = end;
        while (*p == '\n') p++;
        groups++;
        {
            double until = now_s() + 3;
            int live;
            while ((live = live_in_group(pid)) > 0 && now_s() < until) {
                struct timespec nap = {0, 20 * 1000 * 1000};
                nanosleep(&nap, NULL);
            }
            if (live > 0) th_failf(file, line, "process group %ld still has %d live process(es)", pid, live);
        }
    }
    if (groups < min) th_failf(file, line, "%d process group(s) listed in %s, expected at least %d", groups, pidfile, min);
    free(text);
}
#define CHECK_GROUPS_GONE(pidfile, min) check_groups_gone_at(__FILE__, __LINE__, pidfile, min)

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* >>registered functions ----------------------------------------------------------------- */

/* (fields...) -> (shard, fields...) */
static gleam_result tag_shard(gleam_ctx *c, const gleam_value *row, int n) {
    gleam_value v[33];
    int i;
    if (n > 32) return gleam_fail(c, "tagShard: %d fields", n);
    v[0] = gleam_int(gleam_ctx_shard(c));
    for (i = 0; i < n; i++) v[i + 1] = row[i];
    return gleam_emit(c, v, n + 1);
}

static gleam_result drop_all(gleam_ctx *c, const gleam_value *row, int n) {
    (void)c;
    (void)row;
    (void)n;
    return GLEAM_OK;
}

static gleam_result fail_on_bad(gleam_ctx *c, const gleam_value *row, int n) {
    if (n >= 1 && row[0].type == GLEAM_BYTES && row[0].len == 3 && !memcmp(row[0].u.s, "bad", 3))
        return gleam_fail(c, "saw the bad row");
    return gleam_emit(c, row, n);
}

/* GEN_ROWS rows in all, spread over the shards: shard s emits "s:0", "s:1", ... */
enum { GEN_ROWS = 200000 };
static gleam_result gen_rows(gleam_ctx *c, int shard, int nshards) {
    int i, count = GEN_ROWS / nshards + (shard == nshards - 1 ? GEN_ROWS % nshards : 0);
    for (i = 0; i < count; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%d:%d", shard, i);
        gleam_result r = GLEAM_EMIT(c, gleam_bytes(buf, (size_t)len));
        if (r != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

/* Shard 0 starts with the row "bad"; every shard then has 100000 rows "good". */
static gleam_result gen_bad(gleam_ctx *c, int shard, int nshards) {
    int i;
    gleam_result r;
    (void)nshards;
    if (shard == 0 && (r = GLEAM_EMIT(c, gleam_str("bad"))) != GLEAM_OK) return r;
    for (i = 0; i < 100000; i++)
        if ((r = GLEAM_EMIT(c, gleam_str("good"))) != GLEAM_OK) return r;
    return GLEAM_OK;
}

/* >>pipe: rows through cat ---------------------------------------------------------------- */

/* One-field rows of every type, then 4-field rows; through `cat` in 1 shard (the same rows
   in the same order) and in 3 shards (the same multiset). */
static void test_cat_values(void) {
    static const char *const words[] = {"hello", "", "with space", "\xc3\xbc" "n" "\xc3\xaf" "c" "\xc3\xb6" "d" "\xc3\xa9", "a\tb",
                                        "x\ny", "trailing\n", "\t", "back\\slash", "quote'\"", "\r\n", "tab at end\t"};
    gleam_value one[64], four[4 * 48];
    size_t n1 = 0, n4 = 0, i;
    int shards;
    one[n1++] = gleam_int(0);
    one[n1++] = gleam_int(1);
    one[n1++] = gleam_int(-7);
    one[n1++] = gleam_int(42);
    one[n1++] = gleam_int(INT64_MAX);
    one[n1++] = gleam_int(INT64_MIN);
    one[n1++] = gleam_double(0.5);
    one[n1++] = gleam_double(-2.25);
    one[n1++] = gleam_double(3.0);
    one[n1++] = gleam_double(1e100);
    one[n1++] = gleam_double(1.0 / 3.0);
    one[n1++] = gleam_double(-0.0);
    one[n1++] = gleam_double(1e-300);
    one[n1++] = gleam_double((double)INFINITY);
    one[n1++] = gleam_double((double)NAN);
    one[n1++] = gleam_bool(1);
    one[n1++] = gleam_bool(0);
    one[n1++] = gleam_nil();
    for (i = 0; i < sizeof words / sizeof *words; i++) one[n1++] = gleam_str(words[i]);
    for (i = 0; i < 40; i++) {
        gleam_value *r = four + 4 * n4++;
        switch (i % 4) {
        case 0:
            r[0] = gleam_int((int64_t)i * 37 - 500);
            r[1] = gleam_double((double)i / 8.0 - 3);
            r[2] = gleam_bool((int)(i & 1));
            r[3] = gleam_nil();
            break;
        case 1:
            r[0] = gleam_str(words[i % (sizeof words / sizeof *words)]);
            r[1] = gleam_nil();
            r[2] = gleam_int((int64_t)i);
            r[3] = gleam_double((double)i * 1.5);
            break;
        case 2:
            r[0] = gleam_nil();
            r[1] = gleam_nil();
            r[2] = gleam_nil();
            r[3] = gleam_nil();
            break;
        default:
            r[0] = gleam_str(words[(i * 7) % (sizeof words / sizeof *words)]);
            r[1] = gleam_str(words[(i * 5) % (sizeof words / sizeof *words)]);
            r[2] = gleam_bool(1);
            r[3] = gleam_str("last");
            break;
        }
    }
    {   /* the model's oracle prints what we expect for the simple cases */
        char buf[64];
        gleam_to_string(gleam_int(-7), buf, sizeof buf);
        CHECK_STR(buf, "-7");
        gleam_to_string(gleam_str("hello"), buf, sizeof buf);
        CHECK_STR(buf, "hello");
    }
    for (shards = 1; shards <= 3; shards += 2) {
        int cols;
        for (cols = 1; cols <= 4; cols += 3) {
            gleam_flow *f = gleam_flow_new("cat values");
            const gleam_value *vals = cols == 1 ? one : four;
            size_t rows = cols == 1 ? n1 : n4;
            gleam_rows *out = gleam_collect(gleam_pipe(gleam_from_values(f, vals, rows, cols, shards), "cat", "cat"));
            lines exp = {0, 0, 0}, act = {0, 0, 0};
            char what[64];
            gleam_result r = th_run_threads(f, 2);
            CHECK_INT(r, GLEAM_OK);
            if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f));
            model_lines(&exp, vals, rows, cols);
            ROWS_LINES(&act, out);
            if (shards > 1) {
                ln_sort(&exp);
                ln_sort(&act);
            }
            snprintf(what, sizeof what, "%d-field rows, %d shard(s)", cols, shards);
            CHECK_LINES(what, &exp, &act);
            if (shards == 1 && cols == 1) {
                /* a few spot checks of the split: "a\tb" is two fields, "x\ny" two rows */
                size_t k;
                int found_ab = 0;
                for (k = 0; k < gleam_rows_count(out); k++) {
                    int n;
                    gleam_rows_get(out, k, &n);
                    if (n == 2 && row_field_is(out, k, 0, "a") && row_field_is(out, k, 1, "b")) found_ab = 1;
                }
                CHECK(found_ab);
                CHECK(row_field_is(out, 2, 0, "-7"));
            }
            ln_free(&exp);
            ln_free(&act);
            gleam_flow_free(f);
        }
    }
}

/* A 300 kB value (longer than every buffer of the step) comes back whole. */
static void test_cat_long_value(void) {
    size_t len = 300000, i;
    char *big = (char *)malloc(len);
    gleam_value v[2];
    gleam_flow *f = gleam_flow_new("cat long value");
    gleam_rows *out;
    gleam_result r;
    int n;
    const gleam_value *row;
    if (!big) exit(2);
    for (i = 0; i < len; i++) big[i] = (char)('a' + i % 26);
    v[0] = gleam_bytes(big, len);
    v[1] = gleam_str("after");
    out = gleam_collect(gleam_pipe(gleam_from_values(f, v, 2, 1, 1), "cat", "cat"));
    r = th_run_threads(f, 2);
    CHECK_INT(r, GLEAM_OK);
    CHECK_INT(gleam_rows_count(out), 2);
    row = gleam_rows_get(out, 0, &n);
    CHECK(row && n == 1 && row[0].type == GLEAM_BYTES && row[0].len == len && !memcmp(row[0].u.s, big, len));
    CHECK(row_field_is(out, 1, 0, "after"));
    gleam_flow_free(f);
    free(big);
}

/* >>pipe: sort in several shards ---------------------------------------------------------- */

/* 4 shards through `LC_ALL=C sort`, with 2 threads and with 1: each row keeps its shard, each
   shard's output is sorted bytewise, and all rows together are the input's multiset. */
static void test_sort_shards(void) {
    enum { NROWS = 3000 };
    static const char alphabet[] = "abcXYZ019 -_.";
    static char text[NROWS][16];
    const char *strs[NROWS];
    unsigned seed = 12345;
    int threads, i;
    for (i = 0; i < NROWS; i++) {
        int len, k;
        seed = seed * 1103515245u + 12345u;
        len = (int)((seed >> 16) % 13);
        for (k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            text[i][k] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        text[i][len] = 0;
        if (i % 10 == 3) strcpy(text[i], text[i / 2]); /* repeats */
        strs[i] = text[i];
    }
    for (threads = 2; threads >= 1; threads--) {
        gleam_flow *f = gleam_flow_new("sort in shards");
        gleam_dataset *d = gleam_map(gleam_from_strings(f, strs, NROWS, 4), "tagShard");
        gleam_rows *out = gleam_collect(gleam_map(gleam_pipe(d, "sort", "LC_ALL=C sort"), "tagShard"));
        lines exp = {0, 0, 0}, act = {0, 0, 0};
        const char *last[4] = {NULL, NULL, NULL, NULL};
        size_t k, unsorted = 0, moved = 0, malformed = 0;
        gleam_result r = th_run_threads(f, threads);
        CHECK_INT(r, GLEAM_OK);
        if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f));
        CHECK_INT(gleam_rows_count(out), NROWS);
        for (k = 0; k < gleam_rows_count(out); k++) {
            int n;
            const gleam_value *v = gleam_rows_get(out, k, &n);
            char before[16];
            int shard;
            /* (shard after the pipe, shard before it as text, the string) */
            if (n != 3 || v[0].type != GLEAM_INT || v[0].u.i < 0 || v[0].u.i > 3 || v[1].type != GLEAM_BYTES ||
                v[2].type != GLEAM_BYTES) {
                malformed++;
                continue;
            }
            shard = (int)v[0].u.i;
            snprintf(before, sizeof before, "%d", shard);
            if (v[1].len != strlen(before) || memcmp(v[1].u.s, before, v[1].len)) moved++;
            ln_add(&act, v[2].u.s, v[2].len);
            if (last[shard] && strcmp(last[shard], act.s[act.n - 1]) > 0) unsorted++;
            last[shard] = act.s[act.n - 1];
        }
        CHECK_INT(malformed, 0);
        CHECK_INT(moved, 0);
        CHECK_INT(unsorted, 0);
        for (i = 0; i < NROWS; i++) ln_str(&exp, strs[i]);
        ln_sort(&exp);
        ln_sort(&act);
        CHECK_LINES(threads == 2 ? "sorted shards, 2 threads" : "sorted shards, 1 thread", &exp, &act);
        ln_free(&exp);
        ln_free(&act);
        gleam_flow_free(f);
    }
}

/* >>pipe: more, fewer and unterminated lines -------------------------------------------------- */

/* A command printing each line twice (in 3 shards: as a multiset), and one printing each
   line 5 times (in 1 shard: in order): far more than the step writes, while it is still
   writing (the input is larger than the step's buffer and the pipe's together). */
static void test_more_lines_than_read(void) {
    enum { NROWS = 5000 };
    static char text[NROWS][48];
    static gleam_value vals[NROWS];
    int variant, i;
    for (i = 0; i < NROWS; i++) {
        snprintf(text[i], sizeof text[i], "r%d padding to make the input larger", i * 7919 % 100003);
        vals[i] = i % 5 == 4 ? gleam_int(i) : gleam_str(text[i]);
    }
    for (variant = 0; variant < 2; variant++) {
        int shards = variant ? 1 : 3, times = variant ? 5 : 2;
        gleam_flow *f = gleam_flow_new("more lines");
        gleam_rows *out = gleam_collect(gleam_pipe(gleam_from_values(f, vals, NROWS, 1, shards), "dup",
                                                   times == 2 ? "awk '{print; print}'" : "awk '{for (i = 0; i < 5; i++) print}'"));
        lines model = {0, 0, 0}, exp = {0, 0, 0}, act = {0, 0, 0};
        size_t k;
        int t;
        gleam_result r = th_run_threads(f, 2);
        char what[64];
        CHECK_INT(r, GLEAM_OK);
        if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f));
        model_lines(&model, vals, NROWS, 1);
        for (k = 0; k < model.n; k++)
            for (t = 0; t < times; t++) ln_str(&exp, model.s[k]);
        ROWS_LINES(&act, out);
        if (shards > 1) {
            ln_sort(&exp);
            ln_sort(&act);
        }
        snprintf(what, sizeof what, "each line %d times, %d shard(s)", times, shards);
        CHECK_LINES(what, &exp, &act);
        ln_free(&model);
        ln_free(&exp);
        ln_free(&act);
        gleam_flow_free(f);
    }
}

/* A last line without its newline is still a row; an empty line is a row of one empty
   field; a 1 MB last line without a newline comes back whole. */
static void test_last_line_without_newline(void) {
    static const char *const strs[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    {
        gleam_flow *f = gleam_flow_new("no newline");
        gleam_rows *out =
            gleam_collect(gleam_pipe(gleam_from_strings(f, strs, 10, 3), "xy", "cat >/dev/null; printf 'x\\ty'"));
        size_t k;
        CHECK_INT(th_run_threads(f, 2), GLEAM_OK);
        CHECK_INT(gleam_rows_count(out), 3); /* one per shard */
        for (k = 0; k < gleam_rows_count(out); k++) {
            int n;
            gleam_rows_get(out, k, &n);
            CHECK_INT(n, 2);
            CHECK(row_field_is(out, k, 0, "x"));
            CHECK(row_field_is(out, k, 1, "y"));
        }
        gleam_flow_free(f);
    }
    {
        gleam_flow *f = gleam_flow_new("empty line");
        gleam_rows *out = gleam_collect(gleam_pipe(gleam_from_strings(f, strs, 1, 1), "abc", "cat >/dev/null; printf 'a\\n\\nb\\n'"));
        int n = -1;
        CHECK_INT(th_run_threads(f, 2), GLEAM_OK);
        CHECK_INT(gleam_rows_count(out), 3);
        CHECK(row_field_is(out, 0, 0, "a"));
        gleam_rows_get(out, 1, &n);
        CHECK_INT(n, 1);
        CHECK(row_field_is(out, 1, 0, ""));
        CHECK(row_field_is(out, 2, 0, "b"));
        gleam_flow_free(f);
    }
    {
        gleam_flow *f = gleam_flow_new("1 MB line");
        gleam_rows *out = gleam_collect(gleam_pipe(gleam_from_strings(f, strs, 2, 1), "mb",
                                                   "cat >/dev/null; head -c 1048576 /dev/zero | tr '\\000' x"));
        int n = 0;
        const gleam_value *v;
        size_t k, notx = 0;
        CHECK_INT(th_run_threads(f, 2), GLEAM_OK);
        CHECK_INT(gleam_rows_count(out), 1);
        v = gleam_rows_get(out, 0, &n);
        CHECK(v && n == 1 && v[0].type == GLEAM_BYTES && v[0].len == 1048576);
        if (v && n == 1)
            for (k = 0; k < v[0].len; k++) notx += v[0].u.s[k] != 'x';
        CHECK_INT(notx, 0);
        gleam_flow_free(f);
    }
}

/* A line of 1000 tab-separated fields is a row of 1000 fields. */
static void test_wide_line(void) {
    static const char *const strs[] = {"x"};
    gleam_flow *f = gleam_flow_new("wide line");
    gleam_rows *out = gleam_collect(gleam_pipe(gleam_from_strings(f, strs, 1, 1), "wide",
                                               "cat >/dev/null; awk 'BEGIN { for (i = 1; i < 1000; i++) printf \"f%d\\t\", i; print \"f1000\" }'"));
    const gleam_value *v;
    int n = 0, k, wrong = 0;
    CHECK_INT(th_run_threads(f, 2), GLEAM_OK);
    CHECK_INT(gleam_rows_count(out), 1);
    v = gleam_rows_get(out, 0, &n);
    CHECK_INT(n, 1000);
    for (k = 0; v && k < n; k++) {
        char want[16];
        snprintf(want, sizeof want, "f%d", k + 1);
        if (!row_field_is(out, 0, k, want)) wrong++;
    }
    CHECK_INT(wrong, 0);
    gleam_flow_free(f);
}

/* A shard without rows still runs its command, with an empty input. */
static void test_empty_shards(void) {
    static const char *const strs[] = {"a", "b", "c", "d", "e", "f"};
    gleam_flow *f = gleam_flow_new("empty shards");
    gleam_rows *out = gleam_collect(gleam_pipe(gleam_map(gleam_from_strings(f, strs, 6, 3), "dropAll"), "count", "wc -l | tr -d ' '"));
    size_t k;
    CHECK_INT(th_run_threads(f, 2), GLEAM_OK);
    CHECK_INT(gleam_rows_count(out), 3);
    for (k = 0; k < gleam_rows_count(out); k++) CHECK(row_field_is(out, k, 0, "0"));
    gleam_flow_free(f);
    CHECK_NO_CHILDREN();
}

/* Three pipes in a row, as in word_count_pipe: each line twice, sorted, counted by
   `uniq -c` in each of 2 shards; the counts, summed over the shards, are twice the input's. */
static void test_chain(void) {
    enum { NROWS = 20000, NWORDS = 997 };
    static char text[NROWS][16];
    const char *strs[NROWS];
    static long exp[NWORDS], got[NWORDS];
    gleam_flow *f = gleam_flow_new("chain");
    gleam_dataset *d;
    gleam_rows *out;
    gleam_result r;
    size_t k, bad = 0;
    int i, differ = 0;
    memset(exp, 0, sizeof exp);
    memset(got, 0, sizeof got);
    for (i = 0; i < NROWS; i++) {
        int w = (int)((unsigned)i * 7919u % NWORDS);
        snprintf(text[i], sizeof text[i], "w%d", w);
        strs[i] = text[i];
        exp[w] += 2;
    }
    d = gleam_from_strings(f, strs, NROWS, 2);
    d = gleam_pipe(d, "twice", "awk '{print; print}'");
    d = gleam_pipe(d, "sort", "LC_ALL=C sort");
    out = gleam_collect(gleam_pipe(d, "count", "uniq -c"));
    r = th_run_threads(f, 2);
    CHECK_INT(r, GLEAM_OK);
    if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f));
    for (k = 0; k < gleam_rows_count(out); k++) {
        int n, count = 0, w = -1;
        const gleam_value *v = gleam_rows_get(out, k, &n);
        char buf[64];
        if (n != 1 || v[0].type != GLEAM_BYTES || v[0].len >= sizeof buf) {
            bad++;
            continue;
        }
        memcpy(buf, v[0].u.s, v[0].len);
        buf[v[0].len] = 0;
        if (sscanf(buf, " %d w%d", &count, &w) != 2 || w < 0 || w >= NWORDS) {
            bad++;
            continue;
        }
        got[w] += count;
    }
    CHECK_INT(bad, 0);
    CHECK(gleam_rows_count(out) >= NWORDS && gleam_rows_count(out) <= 2 * NWORDS); /* a line per word and shard */
    for (i = 0; i < NWORDS; i++)
        if (exp[i] != got[i] && !differ++) th_failf(__FILE__, __LINE__, "w%d counted %ld times, expected %ld", i, got[i], exp[i]);
    gleam_flow_free(f);
}

/* A pipe right after a pipe gets the first command's lines: a last line without its
   newline, an empty line, a 1 MB line; two pipes reading one; a failure in either; a limit
   after the second, which stops both. */
static void test_pipe_into_pipe(void) {
    static const char *const strs[] = {"a", "b", "c", "d", "e", "f"};
    {
        gleam_flow *f = gleam_flow_new("pipe into pipe");
        gleam_dataset *d = gleam_pipe(gleam_from_strings(f, strs, 6, 3), "first", "cat >/dev/null; printf 'x\\ty\\n\\nlast'");
        gleam_rows *out = gleam_collect(gleam_pipe(d, "second", "cat"));
        lines exp = {0, 0, 0}, act = {0, 0, 0};
        int k;
        gleam_result r = th_run_threads(f, 2);
        CHECK_INT(r, GLEAM_OK);
        if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f));
        for (k = 0; k < 3; k++) { /* each shard's */
            ln_str(&exp, "x\ty");
            ln_str(&exp, "");
            ln_str(&exp, "last");
        }
        ROWS_LINES(&act, out);
        ln_sort(&exp);
        ln_sort(&act);
        CHECK_LINES("unterminated, empty and tabbed lines through a second pipe", &exp, &act);
        ln_free(&exp);
        ln_free(&act);
        gleam_flow_free(f);
    }
    {
        gleam_flow *f = gleam_flow_new("1 MB line into a pipe");
        gleam_dataset *d =
            gleam_pipe(gleam_from_strings(f, strs, 1, 1), "mb", "cat >/dev/null; head -c 1048576 /dev/zero | tr '\\000' x");
        gleam_rows *out = gleam_collect(gleam_pipe(d, "len", "awk '{ print length($0) }'"));
        CHECK_INT(th_run_threads(f, 2), GLEAM_OK);
        CHECK_INT(gleam_rows_count(out), 1);
        CHECK(row_field_is(out, 0, 0, "1048576"));
        gleam_flow_free(f);
    }
    {   /* two pipes read the rows of one */
        gleam_flow *f = gleam_flow_new("fan out");
        gleam_dataset *d = gleam_pipe(gleam_from_strings(f, strs, 6, 2), "upper", "tr a-z A-Z");
        gleam_rows *twice = gleam_collect(gleam_pipe(d, "dup", "awk '{print; print}'"));
        gleam_rows *counts = gleam_collect(gleam_pipe(d, "count", "wc -l | tr -d ' '"));
        lines exp = {0, 0, 0}, act = {0, 0, 0};
        size_t k;
        long total = 0;
        CHECK_INT(th_run_threads(f, 2), GLEAM_OK);
        for (k = 0; k < 6; k++) {
            char up[2] = {(char)(strs[k][0] - 'a' + 'A'), 0};
            ln_str(&exp, up);
            ln_str(&exp, up);
        }
        ROWS_LINES(&act, twice);
        ln_sort(&exp);
        ln_sort(&act);
        CHECK_LINES("fan out: each row twice", &exp, &act);
        CHECK_INT(gleam_rows_count(counts), 2);
        for (k = 0; k < gleam_rows_count(counts); k++) {
            int n;
            const gleam_value *v = gleam_rows_get(counts, k, &n);
            if (n == 1 && v[0].type == GLEAM_BYTES && v[0].len == 1 && v[0].u.s[0] >= '0' && v[0].u.s[0] <= '9') total += v[0].u.s[0] - '0';
        }
        CHECK_INT(total, 6);
        ln_free(&exp);
        ln_free(&act);
        gleam_flow_free(f);
    }
    {   /* the second command fails; then the first */
        int which;
        for (which = 0; which < 2; which++) {
            gleam_flow *f = gleam_flow_new("failure in a chain");
            gleam_dataset *d = gleam_pipe(gleam_from_strings(f, strs, 6, 2), "first", which ? "exit 6" : "cat");
            gleam_collect(gleam_pipe(d, "second", which ? "cat" : "exit 5"));
            CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_COMMAND);
            CHECK_HAS(gleam_error(f), which ? "pipe(first)" : "pipe(second)");
            CHECK_HAS(gleam_error(f), which ? "status 6" : "status 5");
            gleam_flow_free(f);
        }
    }
    {   /* `yes` into `cat`, limit 5 */
        gleam_flow *f = gleam_flow_new("yes into cat");
        gleam_dataset *d = gleam_pipe(gleam_pipe(gleam_from_strings(f, strs, 2, 2), "yes", "yes"), "cat", "cat");
        gleam_rows *out = gleam_collect(gleam_limit(d, 5));
        double t0 = now_s(), took;
        gleam_result r = th_run_threads(f, 2);
        size_t k;
        took = now_s() - t0;
        CHECK_INT(r, GLEAM_OK);
        if (took > 5) th_failf(__FILE__, __LINE__, "yes | cat with a limit of 5 took %.1f s", took);
        CHECK_INT(gleam_rows_count(out), 5);
        for (k = 0; k < gleam_rows_count(out); k++) CHECK(row_field_is(out, k, 0, "y"));
        gleam_flow_free(f);
    }
    CHECK_NO_CHILDREN();
}

/* With our stdin and stdout closed, a new pipe may get descriptors 0 and 1: the step must
   not hand those to the command as its own. */
static void test_closed_std_fds(void) {
    static const char *const strs[] = {"one", "two", "three", "four"};
    gleam_flow *f = gleam_flow_new("closed fds");
    gleam_rows *out = gleam_collect(gleam_pipe(gleam_from_strings(f, strs, 4, 2), "cat", "cat"));
    lines exp = {0, 0, 0}, act = {0, 0, 0};
    gleam_result r;
    int in, outfd, k;
    fflush(stdout);
    in = dup(0);
    outfd = dup(1);
    if (in < 0 || outfd < 0) exit(2);
    close(0);
    close(1);
    r = th_run_threads(f, 2);
    dup2(in, 0);
    dup2(outfd, 1);
    close(in);
    close(outfd);
    CHECK_INT(r, GLEAM_OK);
    if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f));
    for (k = 0; k < 4; k++) ln_str(&exp, strs[k]);
    ROWS_LINES(&act, out);
    ln_sort(&exp);
    ln_sort(&act);
    CHECK_LINES("rows through cat with fds 0 and 1 closed", &exp, &act);
    ln_free(&exp);
    ln_free(&act);
    gleam_flow_free(f);
    CHECK_NO_CHILDREN();
}

/* The commands get none of the step's descriptors: only 0, 1, 2 and those this process had
   open before the run (inherited ones, which are not ours to close). 4 shards on 2
   threads start commands while other shards make their pipes. */
static void test_no_descriptor_leak(void) {
    static const char *const strs[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    char open_before[1024];
    gleam_flow *f = gleam_flow_new("descriptors");
    gleam_rows *out = gleam_collect(gleam_pipe(gleam_from_strings(f, strs, 8, 4), "fds", "cat >/dev/null; ls /proc/$$/fd"));
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    size_t k;
    gleam_result r;
    if (!d) { /* no /proc: nothing to look at */
        gleam_flow_free(f);
        return;
    }
    memset(open_before, 0, sizeof open_before);
    while ((e = readdir(d)))
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') {
            int fd = atoi(e->d_name);
            if (fd != dirfd(d) && fd < (int)sizeof open_before) open_before[fd] = 1;
        }
    closedir(d);
    r = th_run_threads(f, 2);
    CHECK_INT(r, GLEAM_OK);
    if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f));
    CHECK(gleam_rows_count(out) >= 4 * 3);
    for (k = 0; k < gleam_rows_count(out); k++) {
        int n;
        const gleam_value *v = gleam_rows_get(out, k, &n);
        char buf[32];
        int fd;
        if (n != 1 || v[0].type != GLEAM_BYTES || v[0].len == 0 || v[0].len >= sizeof buf) {
            th_failf(__FILE__, __LINE__, "row %zu is not a descriptor number", k);
            continue;
        }
        memcpy(buf, v[0].u.s, v[0].len);
        buf[v[0].len] = 0;
        fd = atoi(buf);
        if (fd > 2 && (fd >= (int)sizeof open_before || !open_before[fd]))
            th_failf(__FILE__, __LINE__, "a command has descriptor %d open, which this process opened during the run", fd);
    }
    gleam_flow_free(f);
}

/* >>pipe: failing commands ------------------------------------------------------------------ */

/* `exit 3` fed few rows, fed 200000 rows in 4 shards (it never reads them), and after a
   partition (in the second task group). */
static void test_exit_status(void) {
    static const char *const strs[] = {"a", "b", "c", "d", "e"};
    int variant;
    for (variant = 0; variant < 3; variant++) {
        gleam_flow *f = gleam_flow_new("exit 3");
        gleam_dataset *d = variant == 0 ? gleam_from_strings(f, strs, 5, 1) : gleam_generate(f, "genRows", 4);
        gleam_result r;
        if (variant == 2) d = gleam_partition(d, 3);
        gleam_collect(gleam_pipe(d, "three", "exit 3"));
        r = th_run_threads(f, 2);
        CHECK_INT(r, GLEAM_ERR_COMMAND);
        CHECK_HAS(gleam_error(f), "pipe(three)");
        CHECK_HAS(gleam_error(f), variant == 2 ? "step 3 pipe(three)" : "step 2 pipe(three)");
        CHECK_HAS(gleam_error(f), "\"exit 3\"");
        CHECK_HAS(gleam_error(f), "status 3");
        gleam_flow_free(f);
    }
    CHECK_NO_CHILDREN();
}

/* A failing command's stderr ends its message, and is passed on to ours; so is the
   stderr of a command that succeeds. */
static void test_stderr(void) {
    static const char *const strs[] = {"one", "two", "three"};
    {
        gleam_flow *f = gleam_flow_new("boom");
        char *err;
        gleam_result r;
        gleam_collect(gleam_pipe(gleam_from_strings(f, strs, 3, 2), "boomer", "echo boom >&2; exit 1"));
        r = run_captured(f, 2, 0, &err);
        CHECK_INT(r, GLEAM_ERR_COMMAND);
        CHECK_HAS(gleam_error(f), "pipe(boomer)");
        CHECK_HAS(gleam_error(f), "echo boom >&2; exit 1");
        CHECK_HAS(gleam_error(f), "status 1");
        CHECK_HAS(gleam_error(f), "boom");
        CHECK_HAS(err, "boom");
        free(err);
        gleam_flow_free(f);
    }
    {   /* 5000 bytes of stderr, then the last words: those are the ones kept */
        gleam_flow *f = gleam_flow_new("long stderr");
        char *err;
        gleam_result r;
        gleam_collect(gleam_pipe(gleam_from_strings(f, strs, 3, 1), "chatty",
                                 "{ head -c 5000 /dev/zero | tr '\\000' a; echo; echo the last words; } >&2; exit 2"));
        r = run_captured(f, 2, 0, &err);
        CHECK_INT(r, GLEAM_ERR_COMMAND);
        CHECK_HAS(gleam_error(f), "status 2");
        CHECK_HAS(gleam_error(f), "the last words");
        CHECK_HAS(err, "the last words");
        free(err);
        gleam_flow_free(f);
    }
    {   /* a warning on stderr does not fail the step */
        gleam_flow *f = gleam_flow_new("warning");
        gleam_rows *out = gleam_collect(gleam_pipe(gleam_from_strings(f, strs, 3, 1), "warn", "echo careful >&2; cat"));
        char *err;
        gleam_result r = run_captured(f, 2, 0, &err);
        CHECK_INT(r, GLEAM_OK);
        CHECK_INT(gleam_rows_count(out), 3);
        CHECK(row_field_is(out, 0, 0, "one"));
        CHECK(row_field_is(out, 2, 0, "three"));
        CHECK_HAS(err, "careful");
        free(err);
        gleam_flow_free(f);
    }
    CHECK_NO_CHILDREN();
}

static void test_command_not_found(void) {
    static const char *const strs[] = {"x", "y"};
    gleam_flow *f = gleam_flow_new("not found");
    char *err;
    gleam_result r;
    gleam_collect(gleam_pipe(gleam_from_strings(f, strs, 2, 2), "missing", "no-such-command-gleam-test-7"));
    r = run_captured(f, 2, 0, &err);
    CHECK_INT(r, GLEAM_ERR_COMMAND);
    CHECK_HAS(gleam_error(f), "pipe(missing)");
    CHECK_HAS(gleam_error(f), "no-such-command-gleam-test-7");
    CHECK_HAS(gleam_error(f), "status 127");
    CHECK_HAS(gleam_error(f), "not found");
    free(err);
    gleam_flow_free(f);
    CHECK_NO_CHILDREN();
}

static void test_killed_by_signal(void) {
    static const char *const strs[] = {"x", "y", "z"};
    gleam_flow *f = gleam_flow_new("signal");
    gleam_result r;
    gleam_collect(gleam_pipe(gleam_from_strings(f, strs, 3, 1), "suicide", "kill -9 $$"));
    r = th_run_threads(f, 2);
    CHECK_INT(r, GLEAM_ERR_COMMAND);
    CHECK_HAS(gleam_error(f), "pipe(suicide)");
    CHECK_HAS(gleam_error(f), "kill -9 $$");
    CHECK_HAS(gleam_error(f), "signal 9");
    gleam_flow_free(f);
    CHECK_NO_CHILDREN();
}

/* >>pipe: early stop ------------------------------------------------------------------------ */

/* `yes` never ends: a limit of 5 after it ends the job promptly with 5 rows, and kills the
   command with the processes it started. */
static void test_yes_limit(void) {
    static const char *const strs[] = {"a", "b", "c"};
    char *pids = th_path_copy("yes-pids.txt"), cmd[700];
    int variant;
    for (variant = 0; variant < 3; variant++) {
        gleam_flow *f = gleam_flow_new("yes");
        gleam_rows *out;
        gleam_dataset *d = gleam_from_strings(f, strs, 3, 3);
        double t0, took;
        gleam_result r;
        size_t k;
        if (variant == 0) snprintf(cmd, sizeof cmd, "yes");
        else if (variant == 1) snprintf(cmd, sizeof cmd, "echo $$ >> '%s'; yes | cat", pids);
        else snprintf(cmd, sizeof cmd, "echo $$ >> '%s'; yes; true", pids);
        out = gleam_collect(gleam_limit(gleam_pipe(d, "yes", cmd), 5));
        t0 = now_s();
        r = th_run_threads(f, 2);
        took = now_s() - t0;
        CHECK_INT(r, GLEAM_OK);
        if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f));
        if (took > 5) th_failf(__FILE__, __LINE__, "%s with a limit of 5 took %.1f s", cmd, took);
        CHECK_INT(gleam_rows_count(out), 5);
        for (k = 0; k < gleam_rows_count(out); k++) {
            int n;
            gleam_rows_get(out, k, &n);
            CHECK_INT(n, 1);
            CHECK(row_field_is(out, k, 0, "y"));
        }
        gleam_flow_free(f);
        CHECK_NO_CHILDREN();
    }
    {   /* one `yes` per row: the limit stops the current one, and no other starts */
        gleam_flow *f = gleam_flow_new("yes per row");
        gleam_rows *out = gleam_collect(gleam_limit(gleam_pipe_as_args(gleam_from_strings(f, strs, 3, 1), "yes", "yes $1"), 4));
        double t0 = now_s(), took;
        gleam_result r = th_run_threads(f, 2);
        size_t k;
        took = now_s() - t0;
        CHECK_INT(r, GLEAM_OK);
        if (took > 5) th_failf(__FILE__, __LINE__, "yes $1 with a limit of 4 took %.1f s", took);
        CHECK_INT(gleam_rows_count(out), 4);
        for (k = 0; k < gleam_rows_count(out); k++) CHECK(row_field_is(out, k, 0, "a"));
        gleam_flow_free(f);
        CHECK_NO_CHILDREN();
    }
    CHECK_GROUPS_GONE(pids, 1);
    free(pids);
}

/* `cat` fed 200000 rows with a limit of 3 after it; `head -n 1` and `true`, which stop
   reading early, fed 200000 rows: one row per shard, and none. */
static void test_stops_reading(void) {
    {
        gleam_flow *f = gleam_flow_new("cat limit");
        gleam_rows *out = gleam_collect(gleam_limit(gleam_pipe(gleam_generate(f, "genRows", 4), "cat", "cat"), 3));
        size_t k;
        gleam_result r = th_run_threads(f, 2);
        CHECK_INT(r, GLEAM_OK);
        CHECK_INT(gleam_rows_count(out), 3);
        for (k = 0; k < gleam_rows_count(out); k++) {
            int n, s = -1, i = -1;
            const gleam_value *v = gleam_rows_get(out, k, &n);
            char buf[64];
            CHECK(n == 1 && v[0].type == GLEAM_BYTES && v[0].len < sizeof buf);
            if (n == 1 && v[0].len < sizeof buf) {
                memcpy(buf, v[0].u.s, v[0].len);
                buf[v[0].len] = 0;
                CHECK(sscanf(buf, "%d:%d", &s, &i) == 2 && s >= 0 && s < 4 && i >= 0);
            }
        }
        gleam_flow_free(f);
    }
    {
        gleam_flow *f = gleam_flow_new("head");
        gleam_rows *out = gleam_collect(gleam_pipe(gleam_generate(f, "genRows", 4), "first", "head -n 1"));
        lines exp = {0, 0, 0}, act = {0, 0, 0};
        gleam_result r = th_run_threads(f, 2);
        CHECK_INT(r, GLEAM_OK);
        if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f));
        ln_str(&exp, "0:0");
        ln_str(&exp, "1:0");
        ln_str(&exp, "2:0");
        ln_str(&exp, "3:0");
        ROWS_LINES(&act, out);
        ln_sort(&act);
        CHECK_LINES("head -n 1 in 4 shards", &exp, &act);
        ln_free(&exp);
        ln_free(&act);
        gleam_flow_free(f);
    }
    {   /* `head -n 2` after `cat`: the second command stops reading, so the first is stopped */
        gleam_flow *f = gleam_flow_new("cat then head");
        gleam_rows *out =
            gleam_collect(gleam_pipe(gleam_pipe(gleam_generate(f, "genRows", 4), "cat", "cat"), "first2", "head -n 2"));
        lines exp = {0, 0, 0}, act = {0, 0, 0};
        int s;
        gleam_result r = th_run_threads(f, 2);
        CHECK_INT(r, GLEAM_OK);
        if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f));
        for (s = 0; s < 4; s++) {
            char line[16];
            snprintf(line, sizeof line, "%d:0", s);
            ln_str(&exp, line);
            snprintf(line, sizeof line, "%d:1", s);
            ln_str(&exp, line);
        }
        ROWS_LINES(&act, out);
        ln_sort(&exp);
        ln_sort(&act);
        CHECK_LINES("cat then head -n 2 in 4 shards", &exp, &act);
        ln_free(&exp);
        ln_free(&act);
        gleam_flow_free(f);
    }
    {   /* the same after a partition: the step runs in the second task group */
        gleam_flow *f = gleam_flow_new("head after partition");
        gleam_rows *out = gleam_collect(gleam_pipe(gleam_partition(gleam_generate(f, "genRows", 4), 2), "first", "head -n 1"));
        gleam_result r = th_run_threads(f, 2);
        CHECK_INT(r, GLEAM_OK);
        if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f));
        CHECK_INT(gleam_rows_count(out), 2);
        gleam_flow_free(f);
    }
    {
        gleam_flow *f = gleam_flow_new("true");
        gleam_rows *out = gleam_collect(gleam_pipe(gleam_generate(f, "genRows", 4), "nothing", "true"));
        gleam_result r = th_run_threads(f, 2);
        CHECK_INT(r, GLEAM_OK);
        if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f));
        CHECK_INT(gleam_rows_count(out), 0);
        gleam_flow_free(f);
    }
    CHECK_NO_CHILDREN();
}

/* A row after the pipe fails in shard 0 while the other shards' commands sleep with input
   waiting for them: the job fails promptly and every command, with the processes it
   started, is killed and reaped. */
static void test_failure_kills_commands(void) {
    char *pids = th_path_copy("abort-pids.txt"), cmd[700];
    gleam_flow *f = gleam_flow_new("abort");
    double t0, took;
    gleam_result r;
    snprintf(cmd, sizeof cmd, "echo $$ >> '%s'; read x; echo \"$x\"; sleep 20; cat", pids);
    gleam_collect(gleam_map(gleam_pipe(gleam_generate(f, "genBad", 3), "sleepy", cmd), "failOnBad"));
    t0 = now_s();
    r = th_run_threads(f, 2);
    took = now_s() - t0;
    CHECK_INT(r, GLEAM_ERR_USER);
    CHECK_HAS(gleam_error(f), "saw the bad row");
    if (took > 10) th_failf(__FILE__, __LINE__, "the failing job took %.1f s to end", took);
    gleam_flow_free(f);
    CHECK_NO_CHILDREN();
    CHECK_GROUPS_GONE(pids, 1);
    free(pids);
}

/* >>pipe_as_args ---------------------------------------------------------------------------- */

static void test_as_args_fields(void) {
    {
        gleam_value v[2 * 3];
        gleam_flow *f = gleam_flow_new("args");
        gleam_rows *out;
        v[0] = gleam_str("a");
        v[1] = gleam_str("b");
        v[2] = gleam_str("left");
        v[3] = gleam_str("right");
        v[4] = gleam_str("1");
        v[5] = gleam_str("2");
        out = gleam_collect(gleam_pipe_as_args(gleam_from_values(f, v, 3, 2, 1), "swap", "echo $2-$1"));
        CHECK_INT(th_run_threads(f, 2), GLEAM_OK);
        CHECK_INT(gleam_rows_count(out), 3);
        CHECK(row_field_is(out, 0, 0, "b-a"));
        CHECK(row_field_is(out, 1, 0, "right-left"));
        CHECK(row_field_is(out, 2, 0, "2-1"));
        gleam_flow_free(f);
    }
    {   /* ${N}; a field number of two digits needs braces: $12 is ${1} then "2", as in sh */
        gleam_value v[12];
        char txt[12][16];
        gleam_flow *f = gleam_flow_new("braces");
        gleam_rows *out;
        int i;
        for (i = 0; i < 12; i++) {
            snprintf(txt[i], sizeof txt[i], "%c%c", 'a' + i, 'a' + i);
            v[i] = gleam_str(txt[i]);
        }
        out = gleam_collect(gleam_pipe_as_args(gleam_from_values(f, v, 1, 12, 1), "braces", "echo ${1}x ${2}${1} $12 ${12} ${11}"));
        CHECK_INT(th_run_threads(f, 2), GLEAM_OK);
        CHECK_INT(gleam_rows_count(out), 1);
        CHECK(row_field_is(out, 0, 0, "aax bbaa aa2 ll kk"));
        gleam_flow_free(f);
    }
    {   /* $N inside single quotes is text for the command (awk's fields), not a row field;
           a bare $1 is one word however many spaces or wildcards it holds */
        static const char *const strs[] = {"x  *  y"};
        gleam_flow *f = gleam_flow_new("quotes");
        gleam_rows *out = gleam_collect(gleam_pipe_as_args(gleam_from_strings(f, strs, 1, 1), "awk",
                                                           "echo 'p q r' | awk '{print $3}'; printf '<%s>' $1; echo"));
        CHECK_INT(th_run_threads(f, 1), GLEAM_OK);
        CHECK_INT(gleam_rows_count(out), 2);
        CHECK(row_field_is(out, 0, 0, "r"));
        CHECK(row_field_is(out, 1, 0, "<x  *  y>"));
        gleam_flow_free(f);
    }
    {   /* values of every type, as gleam_to_string prints them */
        gleam_value v[5];
        th_buf exp = {0, 0, 0};
        gleam_flow *f = gleam_flow_new("typed args");
        gleam_rows *out;
        int i;
        v[0] = gleam_int(-5);
        v[1] = gleam_double(2.5);
        v[2] = gleam_bool(1);
        v[3] = gleam_nil();
        v[4] = gleam_int(INT64_MIN);
        for (i = 0; i < 5; i++) {
            if (i) th_buf_add(&exp, "|", 1);
            sb_value(&exp, v[i]);
        }
        out = gleam_collect(gleam_pipe_as_args(gleam_from_values(f, v, 1, 5, 1), "typed", "printf '%s|%s|%s|%s|%s\\n' $1 $2 $3 $4 $5"));
        CHECK_INT(th_run_threads(f, 2), GLEAM_OK);
        CHECK_INT(gleam_rows_count(out), 1);
        CHECK(row_field_is(out, 0, 0, exp.p));
        th_buf_free(&exp);
        gleam_flow_free(f);
    }
    {   /* stdin is empty; each command's lines are rows, split on tabs */
        static const char *const strs[] = {"p", "q", "r", "s"};
        gleam_flow *f = gleam_flow_new("args stdin");
        gleam_rows *out = gleam_collect(gleam_pipe_as_args(gleam_from_strings(f, strs, 4, 2), "each",
                                                           "printf '%s\\t%s\\n' $1 \"$(wc -c | tr -d ' ')\"; echo end"));
        lines exp = {0, 0, 0}, act = {0, 0, 0};
        int i;
        CHECK_INT(th_run_threads(f, 2), GLEAM_OK);
        for (i = 0; i < 4; i++) {
            char line[16];
            snprintf(line, sizeof line, "%s\t0", strs[i]);
            ln_str(&exp, line);
            ln_str(&exp, "end");
        }
        ROWS_LINES(&act, out);
        ln_sort(&exp);
        ln_sort(&act);
        CHECK_LINES("two lines per row, stdin empty", &exp, &act);
        ln_free(&exp);
        ln_free(&act);
        gleam_flow_free(f);
    }
    CHECK_NO_CHILDREN();
}

/* Fields that would run code if pasted into the command are passed as they are: the
   command prints them back unchanged, and the files they would make do not exist. */
static void test_as_args_no_injection(void) {
    enum { NCANARY = 7 };
    char *canary[NCANARY], text[16][600];
    const char *strs[16];
    size_t n = 0, i;
    int k;
    for (k = 0; k < NCANARY; k++) {
        char name[32];
        snprintf(name, sizeof name, "canary-%d", k);
        canary[k] = th_path_copy(name);
    }
    snprintf(text[n++], sizeof text[0], "with  two  spaces ");
    snprintf(text[n++], sizeof text[0], "it's");
    snprintf(text[n++], sizeof text[0], "'");
    snprintf(text[n++], sizeof text[0], "'\\''");
    snprintf(text[n++], sizeof text[0], "$(touch %s)", canary[0]);
    snprintf(text[n++], sizeof text[0], "`touch %s`", canary[1]);
    snprintf(text[n++], sizeof text[0], "x; touch %s", canary[2]);
    snprintf(text[n++], sizeof text[0], "' ; touch %s ; '", canary[3]);
    snprintf(text[n++], sizeof text[0], "\"$(touch %s)\"", canary[4]);
    snprintf(text[n++], sizeof text[0], "'$(touch %s)'", canary[5]);
    snprintf(text[n++], sizeof text[0], "$HOME * ?");
    snprintf(text[n++], sizeof text[0], "back\\slash \\n");
    snprintf(text[n++], sizeof text[0], "-n");
    snprintf(text[n++], sizeof text[0], "a | touch %s & wait", canary[6]);
    snprintf(text[n++], sizeof text[0], "%s", "");
    for (i = 0; i < n; i++) strs[i] = text[i];
    {
        gleam_flow *f = gleam_flow_new("injection");
        gleam_rows *out = gleam_collect(gleam_pipe_as_args(gleam_from_strings(f, strs, n, 1), "echo", "printf '%s\\n' $1"));
        lines exp = {0, 0, 0}, act = {0, 0, 0};
        gleam_result r = th_run_threads(f, 2);
        CHECK_INT(r, GLEAM_OK);
        if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f));
        for (i = 0; i < n; i++) ln_str(&exp, strs[i]);
        ROWS_LINES(&act, out);
        CHECK_LINES("fields printed back", &exp, &act);
        ln_free(&exp);
        ln_free(&act);
        gleam_flow_free(f);
    }
    {   /* the same field twice, as $1 and ${1}, and glued to text */
        gleam_flow *f = gleam_flow_new("injection twice");
        gleam_rows *out = gleam_collect(gleam_pipe_as_args(gleam_from_strings(f, strs, n, 2), "twice", "printf '%s|%s\\n' x$1 ${1}y"));
        lines exp = {0, 0, 0}, act = {0, 0, 0};
        gleam_result r = th_run_threads(f, 2);
        CHECK_INT(r, GLEAM_OK);
        for (i = 0; i < n; i++) {
            th_buf b = {0, 0, 0};
            th_buf_str(&b, "x");
            th_buf_str(&b, strs[i]);
            th_buf_str(&b, "|");
            th_buf_str(&b, strs[i]);
            th_buf_str(&b, "y");
            ln_str(&exp, b.p);
            th_buf_free(&b);
        }
        ROWS_LINES(&act, out);
        ln_sort(&exp);
        ln_sort(&act);
        CHECK_LINES("fields printed back twice", &exp, &act);
        ln_free(&exp);
        ln_free(&act);
        gleam_flow_free(f);
    }
    {   /* a newline inside a field is data too: the printed value is two lines */
        char nl[600];
        const char *one[1];
        gleam_flow *f = gleam_flow_new("newline field");
        gleam_rows *out;
        snprintf(nl, sizeof nl, "first\n$(touch %s)", canary[0]);
        one[0] = nl;
        out = gleam_collect(gleam_pipe_as_args(gleam_from_strings(f, one, 1, 1), "nl", "printf '%s\\n' $1"));
        CHECK_INT(th_run_threads(f, 2), GLEAM_OK);
        CHECK_INT(gleam_rows_count(out), 2);
        CHECK(row_field_is(out, 0, 0, "first"));
        CHECK(row_field_is(out, 1, 0, strchr(nl, '\n') + 1));
        gleam_flow_free(f);
    }
    for (k = 0; k < NCANARY; k++) {
        if (file_exists(canary[k])) th_failf(__FILE__, __LINE__, "%s exists: a field ran as code", canary[k]);
        free(canary[k]);
    }
    CHECK_NO_CHILDREN();
}

static void test_as_args_errors(void) {
    {   /* the third row has 2 fields, the command needs 3 */
        gleam_value v[3 * 3];
        gleam_flow *f = gleam_flow_new("too few");
        gleam_dataset *a, *b;
        gleam_result r;
        int i;
        for (i = 0; i < 9; i++) v[i] = gleam_int(i);
        a = gleam_from_values(f, v, 2, 3, 1);
        b = gleam_from_values(f, v, 1, 2, 1);
        gleam_collect(gleam_pipe_as_args(gleam_union(a, b), "three", "echo $1 $2 $3"));
        r = th_run_threads(f, 2);
        CHECK(r < 0);
        CHECK_HAS(gleam_error(f), "pipe_as_args(three)");
        CHECK_HAS(gleam_error(f), "$3");
        gleam_flow_free(f);
    }
    {   /* one row's command fails: the job fails with its status and stderr */
        static const char *const strs[] = {"0", "0", "4", "0"};
        gleam_flow *f = gleam_flow_new("per row failure");
        gleam_result r;
        gleam_collect(gleam_pipe_as_args(gleam_from_strings(f, strs, 4, 1), "exiter", "echo out; echo oops$1 >&2; exit $1"));
        {
            char *err;
            r = run_captured(f, 2, 0, &err);
            free(err);
        }
        CHECK_INT(r, GLEAM_ERR_COMMAND);
        CHECK_HAS(gleam_error(f), "pipe_as_args(exiter)");
        CHECK_HAS(gleam_error(f), "status 4");
        CHECK_HAS(gleam_error(f), "oops4");
        gleam_flow_free(f);
    }
    {   /* killed by a signal */
        static const char *const strs[] = {"x"};
        gleam_flow *f = gleam_flow_new("per row signal");
        gleam_collect(gleam_pipe_as_args(gleam_from_strings(f, strs, 1, 1), "killer", "kill -9 $$"));
        CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_COMMAND);
        CHECK_HAS(gleam_error(f), "signal 9");
        gleam_flow_free(f);
    }
    {   /* a NUL byte cannot be a command argument */
        gleam_value v[1];
        gleam_flow *f = gleam_flow_new("nul field");
        v[0] = gleam_bytes("a\0b", 3);
        gleam_collect(gleam_pipe_as_args(gleam_from_values(f, v, 1, 1, 1), "nul", "echo $1"));
        CHECK(th_run_threads(f, 2) < 0);
        CHECK_HAS(gleam_error(f), "NUL");
        gleam_flow_free(f);
    }
    CHECK_NO_CHILDREN();
}

/* >>bad arguments, explain ------------------------------------------------------------------ */

static void test_bad_arguments(void) {
    static const char *const strs[] = {"x"};
    int k;
    for (k = 0; k < 4; k++) {
        gleam_flow *f = gleam_flow_new("no command");
        gleam_dataset *d = gleam_from_strings(f, strs, 1, 1);
        const char *cmd = k % 2 ? "" : NULL;
        d = k < 2 ? gleam_pipe(d, "p", cmd) : gleam_pipe_as_args(d, "p", cmd);
        gleam_collect(d);
        CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_ARG);
        CHECK_HAS(gleam_error(f), "no command");
        CHECK_HAS(gleam_error(f), k < 2 ? "pipe" : "pipe_as_args");
        gleam_flow_free(f);
    }
    {   /* no name */
        gleam_flow *f = gleam_flow_new("no name");
        gleam_collect(gleam_pipe(gleam_from_strings(f, strs, 1, 1), NULL, "cat"));
        CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_ARG);
        gleam_flow_free(f);
    }
    CHECK(gleam_pipe(NULL, "p", "cat") == NULL);
    CHECK(gleam_pipe_as_args(NULL, "p", "cat") == NULL);
}

static void test_explain(void) {
    static const char *const strs[] = {"x", "y"};
    char *canary = th_path_copy("explain-canary"), cmd[700], *err;
    gleam_flow *f = gleam_flow_new("explain pipes");
    gleam_dataset *d = gleam_from_strings(f, strs, 2, 2);
    gleam_rows *out;
    gleam_result r;
    snprintf(cmd, sizeof cmd, "touch '%s'; cat", canary);
    d = gleam_pipe(d, "lower", "tr 'A-Z' 'a-z'");
    d = gleam_pipe(d, "touch", cmd);
    d = gleam_pipe_as_args(d, "each", "echo \"$1\"");
    d = gleam_pipe(d, "cut", "cut -d'\t' -f1");
    out = gleam_collect(d);
    r = run_captured(f, 2, 1, &err);
    CHECK_INT(r, GLEAM_OK);
    CHECK_HAS(err, "pipe(lower) \"tr 'A-Z' 'a-z'\"");
    CHECK_HAS(err, "pipe(touch) \"touch '");
    CHECK_HAS(err, "pipe_as_args(each) \"echo \\\"$1\\\"\"");
    CHECK_HAS(err, "pipe(lower) \"tr 'A-Z' 'a-z'\" -> pipe(touch)"); /* narrow: fused */
    CHECK_HAS(err, "pipe(cut) \"cut -d'\\t' -f1\""); /* a tab is shown as \t */
    CHECK_INT(gleam_rows_count(out), 0);
    CHECK(!file_exists(canary)); /* explain runs nothing */
    free(err);
    free(canary);
    gleam_flow_free(f);
    CHECK_NO_CHILDREN();
}

/* After everything above: no child process of ours is left, not even a zombie. */
static void test_no_children_left(void) { CHECK_NO_CHILDREN(); }

int main(void) {
    alarm(120); /* a hang fails the run instead of blocking it */
    if (gleam_register_mapper("tagShard", tag_shard) || gleam_register_mapper("dropAll", drop_all) ||
        gleam_register_mapper("failOnBad", fail_on_bad) || gleam_register_source("genRows", gen_rows) ||
        gleam_register_source("genBad", gen_bad)) {
        fprintf(stderr, "register: %s\n", gleam_error(NULL));
        return 2;
    }
    RUN(test_cat_values);
    RUN(test_cat_long_value);
    RUN(test_sort_shards);
    RUN(test_more_lines_than_read);
    RUN(test_last_line_without_newline);
    RUN(test_wide_line);
    RUN(test_empty_shards);
    RUN(test_chain);
    RUN(test_pipe_into_pipe);
    RUN(test_closed_std_fds);
    RUN(test_no_descriptor_leak);
    RUN(test_exit_status);
    RUN(test_stderr);
    RUN(test_command_not_found);
    RUN(test_killed_by_signal);
    RUN(test_yes_limit);
    RUN(test_stops_reading);
    RUN(test_failure_kills_commands);
    RUN(test_as_args_fields);
    RUN(test_as_args_no_injection);
    RUN(test_as_args_errors);
    RUN(test_bad_arguments);
    RUN(test_explain);
    RUN(test_no_children_left);
    return th_done();
}
