/* test_errors.c: bad input, failing user functions, bad plans and bad flags give a clear error and a non-zero result, without crash, hang or leak. */
#include "gleam.h"
#include "harness.h"

#include <fcntl.h>
#include <stdint.h>

/* >>helpers ---------------------------------------------------------------------------- */

/* Options are global: put back threads=2 and no explain before each test. */
static void reset_flags(void) {
    static const char *const args[] = {"prog", "-gleam.threads=2", "-gleam.explain=false"};
    char *av[4];
    int ac;
    if (th_init_args(args, 3, av, &ac) != GLEAM_OK || ac != 1) {
        fprintf(stderr, "cannot reset the flags: %s\n", gleam_error(NULL));
        exit(2);
    }
}

static void run_test(const char *name, void (*fn)(void)) {
    reset_flags();
    th_run(name, fn);
}
#define TRUN(fn) run_test(#fn, fn)

/* Run with standard error sent to /dev/null (explain mode prints the plan there). */
static gleam_result run_quiet(gleam_flow *f) {
    int saved, nul;
    gleam_result r;
    fflush(stderr);
    saved = dup(2);
    nul = open("/dev/null", O_WRONLY);
    if (saved < 0 || nul < 0) exit(2);
    dup2(nul, 2);
    close(nul);
    r = gleam_run(f);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    return r;
}

/* Read path as text into a collect, with `shards` shards; the flow's result. */
static gleam_result read_error(gleam_source_desc src, char *msg, size_t cap) {
    gleam_flow *f = gleam_flow_new("bad read");
    gleam_result r;
    gleam_collect(gleam_read(f, src));
    r = th_run_threads(f, 3);
    snprintf(msg, cap, "%s", gleam_error(f));
    gleam_flow_free(f);
    return r;
}

/* A line number, as the message writes it: "line N:" (so "line 7" does not match 70). */
static const char *line_tag(char *buf, size_t cap, long n) {
    snprintf(buf, cap, "line %ld:", n);
    return buf;
}

/* >>files ------------------------------------------------------------------------------ */

static void test_missing_file(void) {
    char msg[2048], *p = th_path_copy("does-not-exist.txt"), *ok = th_path_copy("exists.txt");
    int sh;
    th_write("exists.txt", "x\n", 2);
    for (sh = 1; sh <= 4; sh += 3) {
        CHECK_INT(read_error(gleam_txt(p, sh), msg, sizeof msg), GLEAM_ERR_IO);
        CHECK_HAS(msg, p);
        CHECK_HAS(msg, "step 1 read");
        CHECK_HAS(msg, "No such file");
        CHECK_INT(read_error(gleam_csv(p, sh), msg, sizeof msg), GLEAM_ERR_IO);
        CHECK_HAS(msg, p);
        CHECK_HAS(msg, "step 1 read");
    }
    {   /* the second of two files is missing: that one is named */
        const char *paths[2];
        gleam_source_desc s = gleam_txt(NULL, 2);
        paths[0] = ok;
        paths[1] = p;
        s.paths = paths;
        s.npaths = 2;
        CHECK_INT(read_error(s, msg, sizeof msg), GLEAM_ERR_IO);
        CHECK_HAS(msg, p);
        CHECK_HAS(msg, "step 1 read");
    }
    {   /* a read that is not the first step: its own step number */
        gleam_flow *f = gleam_flow_new("two reads");
        gleam_dataset *a = gleam_read(f, gleam_txt(ok, 1)), *b = gleam_read(f, gleam_txt(p, 1));
        gleam_collect(gleam_union(a, b));
        CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_IO);
        CHECK_HAS(gleam_error(f), "step 2 read");
        CHECK_HAS(gleam_error(f), p);
        gleam_flow_free(f);
    }
    free(p);
    free(ok);
}

static void test_directory(void) {
    char msg[2048];
    const char *dir = th_tmpdir();
    CHECK_INT(read_error(gleam_txt(dir, 2), msg, sizeof msg), GLEAM_ERR_IO);
    CHECK_HAS(msg, dir);
    CHECK_HAS(msg, "directory");
    CHECK_HAS(msg, "step 1 read");
    CHECK_INT(read_error(gleam_csv(dir, 1), msg, sizeof msg), GLEAM_ERR_IO);
    CHECK_HAS(msg, "directory");
}

static void test_glob_no_match(void) {
    char msg[2048], *pat = th_path_copy("nothing-here-*.txt");
    CHECK_INT(read_error(gleam_txt(pat, 2), msg, sizeof msg), GLEAM_ERR_IO);
    CHECK_HAS(msg, pat);
    CHECK_HAS(msg, "no file matches");
    CHECK_HAS(msg, "step 1 read");
    free(pat);
}

static void test_unreadable_file(void) {
    char msg[2048], *p;
    if (geteuid() == 0) return; /* root reads any file: nothing to check */
    p = th_path_copy("secret.txt");
    th_write("secret.txt", "hidden\n", 7);
    CHECK(chmod(p, 0) == 0);
    CHECK_INT(read_error(gleam_txt(p, 2), msg, sizeof msg), GLEAM_ERR_IO);
    CHECK_HAS(msg, p);
    CHECK_HAS(msg, "Permission denied");
    CHECK_HAS(msg, "step 1 read");
    chmod(p, 0600);
    free(p);
}

static void test_path_under_a_file(void) {
    char msg[2048], *p;
    th_write("plain-file", "x\n", 2);
    p = th_path_copy("plain-file/inside.txt");
    CHECK_INT(read_error(gleam_txt(p, 2), msg, sizeof msg), GLEAM_ERR_IO);
    CHECK_HAS(msg, p);
    CHECK_HAS(msg, "Not a directory");
    CHECK_HAS(msg, "step 1 read");
    free(p);
}

/* >>malformed CSV ---------------------------------------------------------------------- */

/* A CSV file whose physical line 7 holds `bad` (its start), after six lines of which two
   records have quoted fields with newlines, then `after` lines of good records. */
static char *bad_csv(const char *name, const char *bad, int after, int quotes_after, size_t *len) {
    static const char head[] =
        "id,text,n\n"                                   /* line 1 */
        "1,\"two\nlines\",10\n"                         /* lines 2-3 */
        "2,\"a \"\"quoted\"\", word\",20\n"             /* line 4 */
        "3,\"x\r\ny\",30\n"                             /* lines 5-6 */;
    size_t cap = sizeof head + strlen(bad) + (size_t)after * 64 + 64, n = 0;
    char *b = (char *)malloc(cap);
    int i;
    if (!b) exit(2);
    n += (size_t)snprintf(b + n, cap - n, "%s%s\n", head, bad);
    for (i = 0; i < after; i++)
        n += (size_t)snprintf(b + n, cap - n, quotes_after ? "%d,\"ok,%d\",%d\n" : "%d,ok %d,%d\n", 100 + i, i, i);
    th_write(name, b, n);
    if (len) *len = n;
    free(b);
    return th_path_copy(name);
}

/* The message for reading p as CSV with `shards` shards must name the file, line 7, the
   read step and `why`. */
static void check_csv_error(const char *p, const char *why) {
    static const int shards[] = {1, 2, 3, 5, 8, 17};
    size_t i;
    for (i = 0; i < sizeof shards / sizeof *shards; i++) {
        char msg[2048], tag[32];
        gleam_result r = read_error(gleam_csv(p, shards[i]), msg, sizeof msg);
        if (r != GLEAM_ERR_INPUT) th_failf(__FILE__, __LINE__, "%d shards: result %d, expected %d (%s)", shards[i], (int)r, GLEAM_ERR_INPUT, msg);
        CHECK_HAS(msg, p);
        CHECK_HAS(msg, line_tag(tag, sizeof tag, 7));
        CHECK_HAS(msg, "step 1 read");
        CHECK_HAS(msg, "malformed CSV");
        CHECK_HAS(msg, why);
    }
}

static void test_csv_unterminated_quote(void) {
    /* the last quote of the file: every line after it is inside the field */
    char *p = bad_csv("unterminated.csv", "4,\"never closed,40", 400, 0, NULL);
    check_csv_error(p, "not closed");
    free(p);
    /* the same with the field starting a line */
    p = bad_csv("unterminated2.csv", "\"open", 300, 0, NULL);
    check_csv_error(p, "not closed");
    free(p);
}

static void test_csv_quote_in_unquoted_field(void) {
    /* two quotes, so the quotes after stay paired and later shards read good records */
    char *p = bad_csv("stray-quote.csv", "4,ab\"c\"d,40", 400, 1, NULL);
    check_csv_error(p, "quote inside an unquoted field");
    free(p);
}

static void test_csv_text_after_closing_quote(void) {
    char *p = bad_csv("after-quote.csv", "4,\"abc\"x,40", 400, 1, NULL);
    check_csv_error(p, "quoted field is followed by");
    free(p);
    /* a quoted field opening on line 8 and closing, with junk after it, on line 10: the
       error is on line 10 */
    {
        static const char data[] = "id,text\n1,\"a\nb\"\n2,c\n\"x\ny\",z\n3,d\n4,\"multi\nline\nfield\"junk,5\n6,e\n";
        char msg[2048], tag[32];
        const char *q = th_write("after-quote2.csv", data, sizeof data - 1);
        int sh;
        for (sh = 1; sh <= 9; sh++) {
            CHECK_INT(read_error(gleam_csv(q, sh), msg, sizeof msg), GLEAM_ERR_INPUT);
            CHECK_HAS(msg, line_tag(tag, sizeof tag, 10));
            CHECK_HAS(msg, "quoted field is followed by");
        }
    }
}

/* >>user functions --------------------------------------------------------------------- */

/* Fails on the row "row 537" with a message naming it. */
static gleam_result fail_on_537(gleam_ctx *c, const gleam_value *row, int n) {
    if (n >= 1 && row[0].type == GLEAM_BYTES && row[0].len == 7 && !memcmp(row[0].u.s, "row 537", 7))
        return gleam_fail(c, "cannot handle '%.*s'", (int)row[0].len, row[0].u.s);
    return gleam_emit(c, row, n);
}

/* Returns GLEAM_ERR_VALUE on "row 42", without gleam_fail. */
static gleam_result code_on_42(gleam_ctx *c, const gleam_value *row, int n) {
    if (n >= 1 && row[0].type == GLEAM_BYTES && row[0].len == 6 && !memcmp(row[0].u.s, "row 42", 6)) return GLEAM_ERR_VALUE;
    return gleam_emit(c, row, n);
}

static gleam_result pass_row(gleam_ctx *c, const gleam_value *row, int n) { return gleam_emit(c, row, n); }

/* (row) -> (row, 1) */
static gleam_result append_one(gleam_ctx *c, const gleam_value *row, int n) {
    gleam_value v[2];
    (void)n;
    v[0] = row[0];
    v[1] = gleam_int(1);
    return gleam_emit(c, v, 2);
}

static gleam_result sum_ok(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int i;
    (void)c;
    for (i = 0; i < n; i++) acc[i] = gleam_int(gleam_to_int64(acc[i]) + gleam_to_int64(x[i]));
    return GLEAM_OK;
}

/* Fails once a sum reaches 50. */
static gleam_result sum_fail_50(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int64_t s = gleam_to_int64(acc[0]) + gleam_to_int64(x[0]);
    (void)n;
    if (s >= 50) return gleam_fail(c, "sum reached %lld", (long long)s);
    acc[0] = gleam_int(s);
    return GLEAM_OK;
}

static gleam_result sum_code(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    (void)c; (void)acc; (void)x; (void)n;
    return GLEAM_ERR_INTERNAL;
}

/* Output callback failing on the row "row 100". */
static gleam_result out_fail_100(gleam_ctx *c, const gleam_value *row, int n) {
    if (n >= 1 && row[0].len == 7 && !memcmp(row[0].u.s, "row 100", 7)) return gleam_fail(c, "cannot store row 100");
    return GLEAM_OK;
}

/* Generator: 1000 ints per shard; shard 2 fails half way. */
static gleam_result gen_fail(gleam_ctx *c, int shard, int nshards) {
    int i;
    (void)nshards;
    for (i = 0; i < 1000; i++) {
        gleam_result r;
        if (shard == 2 && i == 500) return gleam_fail(c, "generator broke on shard %d at %d", gleam_ctx_shard(c), i);
        if ((r = GLEAM_EMIT(c, gleam_int(shard * 1000 + i))) != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

static gleam_result gen_code(gleam_ctx *c, int shard, int nshards) {
    (void)c; (void)nshards;
    return shard == 1 ? GLEAM_ERR_IO : GLEAM_OK;
}

static gleam_result emit_shards(gleam_ctx *c, const gleam_value *row, int n) {
    (void)row; (void)n;
    return GLEAM_EMIT(c, gleam_int(gleam_ctx_shards(c)));
}

/* A file of lines "row 1" .. "row n": row i on line i. */
static char *rows_file(const char *name, int n) {
    size_t cap = (size_t)n * 16 + 1, len = 0;
    char *b = (char *)malloc(cap);
    int i;
    if (!b) exit(2);
    for (i = 1; i <= n; i++) len += (size_t)snprintf(b + len, cap - len, "row %d\n", i);
    th_write(name, b, len);
    free(b);
    return th_path_copy(name);
}

static void test_mapper_fails(void) {
    char *p = rows_file("rows1000.txt", 1000), tag[32];
    int sh;
    for (sh = 1; sh <= 8; sh *= 2) {
        gleam_flow *f = gleam_flow_new("failing mapper");
        char shards_of[32];
        gleam_collect(gleam_map(gleam_map(gleam_read(f, gleam_txt(p, sh)), "passRow"), "failOn537"));
        CHECK_INT(th_run_threads(f, 3), GLEAM_ERR_USER);
        CHECK_HAS(gleam_error(f), "cannot handle 'row 537'");
        CHECK_HAS(gleam_error(f), "step 3 map(failOn537)");
        CHECK_HAS(gleam_error(f), "shard ");
        snprintf(shards_of, sizeof shards_of, " of %d", sh);
        CHECK_HAS(gleam_error(f), shards_of);
        CHECK_HAS(gleam_error(f), p);
        CHECK_HAS(gleam_error(f), line_tag(tag, sizeof tag, 537));
        CHECK_HAS(gleam_error(f), "failing mapper"); /* the flow's name */
        gleam_flow_free(f);
    }
    {   /* rows from memory: no file, still the step and shard */
        const char *strs[] = {"row 1", "row 537", "row 3"};
        gleam_flow *f = gleam_flow_new("failing mapper on strings");
        gleam_collect(gleam_map(gleam_from_strings(f, strs, 3, 1), "failOn537"));
        CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_USER);
        CHECK_HAS(gleam_error(f), "cannot handle 'row 537'");
        CHECK_HAS(gleam_error(f), "step 2 map(failOn537), shard 1 of 1");
        gleam_flow_free(f);
    }
    free(p);
}

static void test_mapper_returns_code(void) {
    char *p = rows_file("rows100.txt", 100), tag[32];
    gleam_flow *f = gleam_flow_new("mapper returning a code");
    gleam_collect(gleam_map(gleam_read(f, gleam_txt(p, 3)), "codeOn42"));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_VALUE);
    CHECK_HAS(gleam_error(f), "mapper \"codeOn42\" returned");
    CHECK_HAS(gleam_error(f), gleam_result_str(GLEAM_ERR_VALUE));
    CHECK_HAS(gleam_error(f), "step 2 map(codeOn42)");
    CHECK_HAS(gleam_error(f), p);
    CHECK_HAS(gleam_error(f), line_tag(tag, sizeof tag, 42));
    gleam_flow_free(f);
    free(p);
}

/* "row N" -> ("k", N): every row on one key */
static gleam_result row_number(gleam_ctx *c, const gleam_value *row, int n) {
    gleam_value v[2];
    (void)n;
    v[0] = gleam_str("k");
    v[1] = gleam_int(atoi(row[0].u.s + 4));
    return gleam_emit(c, v, 2);
}

static int64_t fold_fails_at = 537; /* set before a run, read by its threads */

static gleam_result fail_on_x537(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    (void)n;
    if (x[0].u.i == fold_fails_at) return gleam_fail(c, "cannot fold %lld", (long long)fold_fails_at);
    acc[0] = gleam_int(acc[0].u.i + x[0].u.i);
    return GLEAM_OK;
}

/* The map-side fold holds rows back to fetch their slots and entries first, and keeps the
   last rows of each batch for the next one: an error must still name the line of the row
   being folded, wherever in a batch it falls (with one shard, rows 24k+1 to 24k+8 are the
   ones kept; 530 is one of them, 537 is not). */
static void test_reducer_fails_names_line(void) {
    static const int64_t at[] = {537, 530, 999, 1000};
    char *p = rows_file("rows1000b.txt", 1000), tag[32], want[32];
    int sh, i;
    for (i = 0; i < (int)(sizeof at / sizeof at[0]); i++)
        for (sh = 1; sh <= 4; sh *= 2) {
            gleam_flow *f = gleam_flow_new("failing fold");
            fold_fails_at = at[i];
            gleam_collect(gleam_reduce_by_key(gleam_map(gleam_read(f, gleam_txt(p, sh)), "rowNumber"), "failOnX537"));
            CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_USER);
            snprintf(want, sizeof want, "cannot fold %lld", (long long)at[i]);
            CHECK_HAS(gleam_error(f), want);
            CHECK_HAS(gleam_error(f), "reduce_by(failOnX537)");
            CHECK_HAS(gleam_error(f), p);
            CHECK_HAS(gleam_error(f), line_tag(tag, sizeof tag, at[i])); /* 999, 1000: folded after the file's end */
            gleam_flow_free(f);
        }
    {   /* two files in one task: rows of the first still waiting while the second is read */
        char *q = rows_file("rows1000c.txt", 1000), *both[2];
        gleam_source_desc src = gleam_txt(NULL, 1);
        gleam_flow *f = gleam_flow_new("failing fold, two files");
        both[0] = p;
        both[1] = q;
        src.paths = (const char *const *)both;
        src.npaths = 2;
        fold_fails_at = 999; /* on line 999 of both files: the first file's is folded first */
        gleam_collect(gleam_reduce_by_key(gleam_map(gleam_read(f, src), "rowNumber"), "failOnX537"));
        CHECK_INT(th_run_threads(f, 1), GLEAM_ERR_USER);
        CHECK_HAS(gleam_error(f), p);
        CHECK_HAS(gleam_error(f), line_tag(tag, sizeof tag, 999));
        CHECK(strstr(gleam_error(f), q) == NULL);
        gleam_flow_free(f);
        free(q);
    }
    fold_fails_at = 537;
    free(p);
}

static void test_reducer_fails(void) {
    static const char *const words[] = {"a", "b", "a", "c", "a", "b"};
    const char *many[200];
    gleam_flow *f;
    int i;
    for (i = 0; i < 200; i++) many[i] = words[i % 6];
    /* "a" appears 100 times: its sum reaches 50 */
    f = gleam_flow_new("failing reducer");
    gleam_collect(gleam_reduce_by_key(gleam_map(gleam_from_strings(f, many, 200, 4), "appendOne"), "sumFail50"));
    CHECK_INT(th_run_threads(f, 3), GLEAM_ERR_USER);
    CHECK_HAS(gleam_error(f), "sum reached ");
    CHECK_HAS(gleam_error(f), "reduce_by(sumFail50)");
    CHECK_HAS(gleam_error(f), "shard ");
    gleam_flow_free(f);
    /* a reducer returning a code, in a whole-dataset reduce */
    f = gleam_flow_new("reducer returning a code");
    gleam_collect(gleam_reduce(gleam_map(gleam_from_strings(f, many, 200, 4), "appendOne"), "sumCode"));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_INTERNAL);
    CHECK_HAS(gleam_error(f), "reducer \"sumCode\" returned");
    CHECK_HAS(gleam_error(f), "reduce(sumCode)");
    gleam_flow_free(f);
}

static void test_output_fails(void) {
    /* 20000 rows, more than one 64 KB output buffer */
    char *p = rows_file("rows20000.txt", 20000);
    int sh;
    for (sh = 1; sh <= 4; sh += 3) {
        gleam_flow *f = gleam_flow_new("failing output");
        const char *msg, *at;
        gleam_output_row(gleam_read(f, gleam_txt(p, sh)), "outFail100");
        CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_USER);
        msg = gleam_error(f);
        CHECK_HAS(msg, "cannot store row 100");
        CHECK_HAS(msg, "output_row(outFail100)");
        CHECK_HAS(msg, "shard ");
        /* if it names an input line, it must be the failing row's */
        if ((at = strstr(msg, " line ")) != NULL) CHECK_HAS(at, " line 100:");
        gleam_flow_free(f);
    }
    {   /* after a sort: no input line, still the step */
        gleam_flow *f = gleam_flow_new("failing output after sort");
        gleam_output_row(gleam_sort(gleam_read(f, gleam_txt(p, 3)), gleam_order_by(1, GLEAM_ASC)), "outFail100");
        CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_USER);
        CHECK_HAS(gleam_error(f), "cannot store row 100");
        CHECK_HAS(gleam_error(f), "step 3 output_row(outFail100)");
        gleam_flow_free(f);
    }
    free(p);
}

static void test_generator_fails(void) {
    gleam_flow *f = gleam_flow_new("failing generator");
    gleam_collect(gleam_generate(f, "genFail", 4));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_USER);
    CHECK_HAS(gleam_error(f), "generator broke on shard 2 at 500");
    CHECK_HAS(gleam_error(f), "step 1 generate(genFail), shard 3 of 4");
    gleam_flow_free(f);
    f = gleam_flow_new("generator returning a code");
    gleam_collect(gleam_map(gleam_generate(f, "genCode", 3), "passRow"));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_IO);
    CHECK_HAS(gleam_error(f), "source \"genCode\" returned");
    CHECK_HAS(gleam_error(f), "step 1 generate(genCode), shard 2 of 3");
    gleam_flow_free(f);
}

/* >>plans ------------------------------------------------------------------------------ */

static void test_unknown_function(void) {
    static const char *const strs[] = {"x", "y"};
    gleam_flow *f = gleam_flow_new("unknown mapper");
    gleam_rows *rows;
    rows = gleam_collect(gleam_map(gleam_from_strings(f, strs, 2, 1), "noSuchMapper"));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_PLAN);
    CHECK_HAS(gleam_error(f), "step 2 map(noSuchMapper)");
    CHECK_HAS(gleam_error(f), "no mapper is registered as \"noSuchMapper\"");
    CHECK_INT(gleam_rows_count(rows), 0);
    gleam_flow_free(f);

    f = gleam_flow_new("unknown reducer");
    gleam_collect(gleam_reduce_by_key(gleam_map(gleam_from_strings(f, strs, 2, 1), "appendOne"), "noSuchReducer"));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_PLAN);
    CHECK_HAS(gleam_error(f), "step 3 reduce_by(noSuchReducer)");
    CHECK_HAS(gleam_error(f), "no reducer");
    gleam_flow_free(f);

    f = gleam_flow_new("unknown source and output");
    gleam_output_row(gleam_generate(f, "noSuchSource", 2), "noSuchOutput");
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_PLAN);
    CHECK_HAS(gleam_error(f), "step 1 generate(noSuchSource)");
    gleam_flow_free(f);

    f = gleam_flow_new("unknown output");
    gleam_output_row(gleam_from_strings(f, strs, 2, 1), "noSuchOutput");
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_PLAN);
    CHECK_HAS(gleam_error(f), "step 2 output_row(noSuchOutput)");
    gleam_flow_free(f);
}

static void test_wrong_kind(void) {
    static const char *const strs[] = {"x", "y"};
    gleam_flow *f = gleam_flow_new("reducer used as a mapper");
    gleam_collect(gleam_map(gleam_from_strings(f, strs, 2, 1), "sumOk"));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_PLAN);
    CHECK_HAS(gleam_error(f), "step 2 map(sumOk)");
    CHECK_HAS(gleam_error(f), "registered as a reducer, not a mapper");
    gleam_flow_free(f);

    f = gleam_flow_new("mapper used as a reducer");
    gleam_collect(gleam_reduce_by_key(gleam_map(gleam_from_strings(f, strs, 2, 1), "appendOne"), "appendOne"));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_PLAN);
    CHECK_HAS(gleam_error(f), "step 3 reduce_by(appendOne)");
    CHECK_HAS(gleam_error(f), "registered as a mapper, not a reducer");
    gleam_flow_free(f);

    f = gleam_flow_new("mapper used as an output");
    gleam_output_row(gleam_from_strings(f, strs, 2, 1), "passRow");
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_PLAN);
    CHECK_HAS(gleam_error(f), "step 2 output_row(passRow)");
    CHECK_HAS(gleam_error(f), "registered as a mapper");
    gleam_flow_free(f);
}

static void test_field_beyond_row(void) {
    char tag[32];
    const char *p = th_write("two-fields.csv", "a,b\nc,d\n", 8);
    char *path = th_path_copy("two-fields.csv");
    gleam_flow *f = gleam_flow_new("select beyond the row");
    (void)p;
    gleam_collect(gleam_select(gleam_read(f, gleam_csv(path, 1)), GLEAM_FIELDS(1, 9)));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_INPUT);
    CHECK_HAS(gleam_error(f), "step 2 select");
    CHECK_HAS(gleam_error(f), "field 9");
    CHECK_HAS(gleam_error(f), "2 fields");
    CHECK_HAS(gleam_error(f), path);
    CHECK_HAS(gleam_error(f), line_tag(tag, sizeof tag, 1));
    gleam_flow_free(f);
    {   /* from memory, after a map */
        gleam_value vals[4];
        vals[0] = gleam_str("k");
        vals[1] = gleam_int(1);
        vals[2] = gleam_str("j");
        vals[3] = gleam_int(2);
        f = gleam_flow_new("select beyond the row, in memory");
        gleam_collect(gleam_select(gleam_map(gleam_from_values(f, vals, 2, 2, 2), "passRow"), GLEAM_FIELDS(9)));
        CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_INPUT);
        CHECK_HAS(gleam_error(f), "step 3 select");
        CHECK_HAS(gleam_error(f), "field 9");
        gleam_flow_free(f);
    }
    free(path);
}

static void test_bad_arguments(void) {
    static const char *const strs[] = {"a", "b"};
    char *ok = th_path_copy("args-ok.txt");
    gleam_flow *f;
    gleam_source_desc s;
    gleam_options o;
    th_write("args-ok.txt", "x\n", 2);
    CHECK_INT(gleam_run(NULL), GLEAM_ERR_ARG);

    f = gleam_flow_new("no file");
    memset(&s, 0, sizeof s);
    gleam_collect(gleam_read(f, s));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_ARG);
    CHECK_HAS(gleam_error(f), "no file given");
    gleam_flow_free(f);

    f = gleam_flow_new("a NULL path");
    {
        const char *paths[2];
        paths[0] = ok;
        paths[1] = NULL;
        s = gleam_txt(NULL, 1);
        s.paths = paths;
        s.npaths = 2;
        gleam_collect(gleam_read(f, s));
    }
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_ARG);
    CHECK_HAS(gleam_error(f), "path 2 is NULL");
    gleam_flow_free(f);

    f = gleam_flow_new("negative shards");
    gleam_collect(gleam_read(f, gleam_txt(ok, -1)));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_ARG);
    CHECK_HAS(gleam_error(f), "-1 shards");
    gleam_flow_free(f);

    f = gleam_flow_new("bad format");
    s = gleam_txt(ok, 1);
    s.format = (gleam_format)99;
    gleam_collect(gleam_read(f, s));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_ARG);
    CHECK_HAS(gleam_error(f), "unknown format 99");
    gleam_flow_free(f);

    { /* a CSV delimiter that the reader gives another meaning: refused when the flow is built */
        const char bad[] = {'"', '\n', '\r'};
        int k;
        for (k = 0; k < 3; k++) {
            f = gleam_flow_new("bad delimiter");
            s = gleam_csv(ok, 1);
            s.delimiter = bad[k];
            gleam_collect(gleam_read(f, s));
            CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_ARG);
            CHECK_HAS(gleam_error(f), "the delimiter cannot be a double quote, a newline or a carriage return");
            gleam_flow_free(f);
        }
    }

    f = gleam_flow_new("too many threads");
    gleam_collect(gleam_read(f, gleam_txt(ok, 1)));
    memset(&o, 0, sizeof o);
    o.threads = 2000;
    CHECK_INT(gleam_run_with(f, &o), GLEAM_ERR_ARG);
    CHECK_HAS(gleam_error(f), "2000 threads");
    gleam_flow_free(f);

    f = gleam_flow_new("field -1");
    gleam_collect(gleam_select(gleam_from_strings(f, strs, 2, 1), GLEAM_FIELDS(1, -1)));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_PLAN);
    CHECK_HAS(gleam_error(f), "step 2 select");
    CHECK_HAS(gleam_error(f), "field -1");
    gleam_flow_free(f);

    f = gleam_flow_new("order field 0");
    gleam_collect(gleam_sort(gleam_from_strings(f, strs, 2, 1), gleam_order_by(0, GLEAM_ASC)));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_PLAN);
    CHECK_HAS(gleam_error(f), "step 2 sort");
    CHECK_HAS(gleam_error(f), "order field 0");
    gleam_flow_free(f);

    f = gleam_flow_new("sort by a missing field");
    gleam_collect(gleam_sort(gleam_from_strings(f, strs, 2, 2), gleam_order_by(3, GLEAM_ASC)));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_INPUT);
    CHECK_HAS(gleam_error(f), "step 2 sort");
    CHECK_HAS(gleam_error(f), "field 3");
    gleam_flow_free(f);
    free(ok);
}

static gleam_result dup_a(gleam_ctx *c, const gleam_value *row, int n) {
    (void)row; (void)n;
    return GLEAM_EMIT(c, gleam_str("from dup_a"));
}
static gleam_result dup_b(gleam_ctx *c, const gleam_value *row, int n) {
    (void)row; (void)n;
    return GLEAM_EMIT(c, gleam_str("from dup_b"));
}

static void test_register_twice(void) {
    static const char *const strs[] = {"x"};
    gleam_flow *f;
    gleam_rows *rows;
    CHECK_INT(gleam_register_mapper("dupName", dup_a), GLEAM_OK);
    CHECK_INT(gleam_register_mapper("dupName", dup_a), GLEAM_OK); /* the same: a no-op */
    CHECK_INT(gleam_register_mapper("dupName", dup_b), GLEAM_ERR_ARG);
    CHECK_HAS(gleam_error(NULL), "dupName");
    CHECK_HAS(gleam_error(NULL), "already registered");
    CHECK_INT(gleam_register_reducer("dupName", sum_ok), GLEAM_ERR_ARG);
    CHECK_HAS(gleam_error(NULL), "dupName");
    CHECK_INT(gleam_register_output("dupName", dup_a), GLEAM_ERR_ARG);
    CHECK_INT(gleam_register_mapper("", dup_a), GLEAM_ERR_ARG);
    /* the first registration still holds */
    f = gleam_flow_new("dup");
    rows = gleam_collect(gleam_map(gleam_from_strings(f, strs, 1, 1), "dupName"));
    CHECK_INT(th_run_threads(f, 1), GLEAM_OK);
    CHECK_INT(gleam_rows_count(rows), 1);
    if (gleam_rows_count(rows) == 1) {
        int n;
        const gleam_value *v = gleam_rows_get(rows, 0, &n);
        CHECK_INT(n, 1);
        CHECK(v && v[0].type == GLEAM_BYTES && v[0].len == 10 && !memcmp(v[0].u.s, "from dup_a", 10));
    }
    gleam_flow_free(f);
}

static void test_run_twice(void) {
    static const char *const strs[] = {"a", "b", "c"};
    gleam_flow *f = gleam_flow_new("twice");
    gleam_rows *rows = gleam_collect(gleam_from_strings(f, strs, 3, 2));
    CHECK_INT(th_run_threads(f, 2), GLEAM_OK);
    CHECK_STR(gleam_error(f), "");
    CHECK_INT(gleam_rows_count(rows), 3);
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_ARG);
    CHECK_HAS(gleam_error(f), "twice");
    CHECK_HAS(gleam_error(f), "run");
    CHECK_INT(gleam_rows_count(rows), 3); /* the first run's rows are still there */
    CHECK_INT(gleam_run(f), GLEAM_ERR_ARG);
    gleam_flow_free(f);
    /* a failed flow stays failed */
    f = gleam_flow_new("failed twice");
    gleam_collect(gleam_map(gleam_from_strings(f, strs, 3, 1), "noSuchMapper"));
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_PLAN);
    CHECK(th_run_threads(f, 2) != GLEAM_OK);
    gleam_flow_free(f);
}

static void test_output_cannot_be_created(void) {
    static const char *const strs[] = {"a", "b"};
    char *out = th_path_copy("missing-dir/sub/out.tsv");
    gleam_flow *f = gleam_flow_new("bad output path");
    gleam_write_tsv(gleam_from_strings(f, strs, 2, 2), out);
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_IO);
    CHECK_HAS(gleam_error(f), out);
    CHECK_HAS(gleam_error(f), "step 2 write_tsv");
    CHECK_HAS(gleam_error(f), "No such file");
    gleam_flow_free(f);
    f = gleam_flow_new("bad output path, printlnf");
    gleam_fprintlnf(gleam_from_strings(f, strs, 2, 1), out, "%s");
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_IO);
    CHECK_HAS(gleam_error(f), out);
    gleam_flow_free(f);
    f = gleam_flow_new("bad output path, csv");
    gleam_write_csv(gleam_from_strings(f, strs, 2, 1), out);
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_IO);
    CHECK_HAS(gleam_error(f), out);
    gleam_flow_free(f);
    free(out);
}

/* Writing over a file the flow reads would truncate it before it is read: refused. */
static void test_output_is_an_input(void) {
    char *in = th_path_copy("in-and-out.txt"), *got;
    gleam_flow *f = gleam_flow_new("output over input");
    th_write("in-and-out.txt", "b\na\n", 4);
    gleam_write_tsv(gleam_read(f, gleam_txt(in, 2)), in);
    CHECK_INT(th_run_threads(f, 2), GLEAM_ERR_ARG);
    CHECK_HAS(gleam_error(f), "is also an input");
    CHECK_HAS(gleam_error(f), "step 2 write_tsv");
    gleam_flow_free(f);
    got = th_read(in, NULL);
    CHECK_STR(got, "b\na\n"); /* untouched */
    free(got);
    free(in);
}

/* >>flags ------------------------------------------------------------------------------ */

/* argv after init equals want (n entries), NULL-terminated. */
static void check_argv(const char *file, int line, char **av, int ac, const char *const *want, int n) {
    int i;
    if (ac != n) {
        th_failf(file, line, "argc %d, expected %d", ac, n);
        return;
    }
    for (i = 0; i < n; i++)
        if (!av[i] || strcmp(av[i], want[i])) {
            th_failf(file, line, "argv[%d] is \"%s\", expected \"%s\"", i, av[i] ? av[i] : "(null)", want[i]);
            return;
        }
    if (av[n]) th_failf(file, line, "argv[%d] is \"%s\", expected NULL", n, av[n]);
}
#define CHECK_ARGV(av, ac, ...)                                                                      \
    do {                                                                                             \
        static const char *const want_[] = {__VA_ARGS__};                                            \
        check_argv(__FILE__, __LINE__, av, ac, want_, (int)(sizeof want_ / sizeof *want_));          \
    } while (0)

/* The default shard count of a source, which follows -gleam.threads, seen by a mapper. */
static int shards_seen(void) {
    static const char *const strs[] = {"a", "b", "c", "d", "e", "f", "g"};
    gleam_flow *f = gleam_flow_new("shards");
    gleam_dataset *d = gleam_from_strings(f, strs, 7, 0);
    gleam_rows *rows = gleam_collect(gleam_map(d, "emitShards"));
    int seen = -1, ds = gleam_shards(d);
    size_t i;
    if (gleam_run(f) == GLEAM_OK && gleam_rows_count(rows) == 7) {
        seen = (int)gleam_to_int64(gleam_rows_get(rows, 0, NULL)[0]);
        for (i = 1; i < 7; i++)
            if (gleam_to_int64(gleam_rows_get(rows, i, NULL)[0]) != seen) seen = -2;
    }
    gleam_flow_free(f);
    return seen == ds ? seen : -3;
}

/* Whether a flow runs (explain off) or only prints its plan (explain on). */
static int flow_runs(void) {
    static const char *const strs[] = {"a", "b"};
    gleam_flow *f = gleam_flow_new("explain?");
    gleam_rows *rows = gleam_collect(gleam_from_strings(f, strs, 2, 1));
    gleam_result r = run_quiet(f);
    int ran = r == GLEAM_OK ? (int)gleam_rows_count(rows) == 2 : -1;
    gleam_flow_free(f);
    return ran;
}

static void test_flag_unknown(void) {
    char *av[16];
    int ac;
    {
        static const char *const args[] = {"prog", "-gleam.x=1"};
        CHECK_INT(th_init_args(args, 2, av, &ac), GLEAM_ERR_FLAG);
        CHECK_HAS(gleam_error(NULL), "-gleam.x");
        CHECK_HAS(gleam_error(NULL), "-gleam.threads");
        CHECK_HAS(gleam_error(NULL), "-gleam.explain");
        CHECK_HAS(gleam_error(NULL), "-gleam.memory");
        CHECK_HAS(gleam_error(NULL), "-gleam.tmpdir");
    }
    {
        static const char *const args[] = {"prog", "a", "--gleam.bogus", "b"};
        CHECK_INT(th_init_args(args, 4, av, &ac), GLEAM_ERR_FLAG);
        CHECK_HAS(gleam_error(NULL), "gleam.bogus");
        CHECK_HAS(gleam_error(NULL), "-gleam.threads");
    }
    {
        static const char *const args[] = {"prog", "-gleam.thread=2"}; /* a typo */
        CHECK_INT(th_init_args(args, 2, av, &ac), GLEAM_ERR_FLAG);
        CHECK_HAS(gleam_error(NULL), "-gleam.thread");
    }
    /* after a success the message is gone */
    reset_flags();
    CHECK_STR(gleam_error(NULL), "");
}

static void test_flag_forms(void) {
    char *av[16];
    int ac;
    CHECK_INT(shards_seen(), 2); /* reset_flags set 2 */
    {
        static const char *const args[] = {"prog", "a", "-gleam.threads=3", "b"};
        CHECK_INT(th_init_args(args, 4, av, &ac), GLEAM_OK);
        CHECK_ARGV(av, ac, "prog", "a", "b");
        CHECK_INT(shards_seen(), 3);
    }
    {
        static const char *const args[] = {"prog", "--gleam.threads=4", "a"};
        CHECK_INT(th_init_args(args, 3, av, &ac), GLEAM_OK);
        CHECK_ARGV(av, ac, "prog", "a");
        CHECK_INT(shards_seen(), 4);
    }
    {
        static const char *const args[] = {"prog", "-x", "-gleam.threads", "5", "-y", "z"};
        CHECK_INT(th_init_args(args, 6, av, &ac), GLEAM_OK);
        CHECK_ARGV(av, ac, "prog", "-x", "-y", "z");
        CHECK_INT(shards_seen(), 5);
    }
    {
        static const char *const args[] = {"prog", "--gleam.threads", "2"};
        CHECK_INT(th_init_args(args, 3, av, &ac), GLEAM_OK);
        CHECK_ARGV(av, ac, "prog");
        CHECK_INT(shards_seen(), 2);
    }
    CHECK_INT(flow_runs(), 1);
    {   /* -gleam.explain takes no value: the next argument is the program's */
        static const char *const args[] = {"prog", "-gleam.explain", "false", "x"};
        CHECK_INT(th_init_args(args, 4, av, &ac), GLEAM_OK);
        CHECK_ARGV(av, ac, "prog", "false", "x");
        CHECK_INT(flow_runs(), 0);
    }
    {
        static const char *const args[] = {"prog", "one", "-gleam.explain=false", "two"};
        CHECK_INT(th_init_args(args, 4, av, &ac), GLEAM_OK);
        CHECK_ARGV(av, ac, "prog", "one", "two");
        CHECK_INT(flow_runs(), 1);
    }
    {
        static const char *const args[] = {"prog", "--gleam.explain=true"};
        CHECK_INT(th_init_args(args, 2, av, &ac), GLEAM_OK);
        CHECK_ARGV(av, ac, "prog");
        CHECK_INT(flow_runs(), 0);
    }
    {   /* all at once, in any order, with the program's arguments in between */
        static const char *const args[] = {"prog", "-gleam.explain=false", "in.txt", "--gleam.threads", "3",
                                           "-n", "10", "-gleam.explain", "-gleam.explain=0", "out.txt"};
        CHECK_INT(th_init_args(args, 10, av, &ac), GLEAM_OK);
        CHECK_ARGV(av, ac, "prog", "in.txt", "-n", "10", "out.txt");
        CHECK_INT(flow_runs(), 1);
        CHECK_INT(shards_seen(), 3);
    }
    {   /* nothing to take */
        static const char *const args[] = {"prog", "gleam.threads=2", "-gleamthreads=2"};
        CHECK_INT(th_init_args(args, 3, av, &ac), GLEAM_OK);
        CHECK_ARGV(av, ac, "prog", "gleam.threads=2", "-gleamthreads=2");
    }
}

static void test_flag_double_dash(void) {
    char *av[16];
    int ac;
    static const char *const args[] = {"prog", "a", "-gleam.threads=3", "--", "-gleam.threads=5", "-gleam.x", "b"};
    CHECK_INT(th_init_args(args, 7, av, &ac), GLEAM_OK);
    /* "--" itself may stay for the program's parser or go; what follows stays, in order */
    if (ac == 6) CHECK_ARGV(av, ac, "prog", "a", "--", "-gleam.threads=5", "-gleam.x", "b");
    else CHECK_ARGV(av, ac, "prog", "a", "-gleam.threads=5", "-gleam.x", "b");
    CHECK_INT(shards_seen(), 3);
}

static void test_flag_bad_values(void) {
    char *av[16];
    int ac;
    static const char *const cases[][3] = {
        {"-gleam.threads=0", "-gleam.threads", "\"0\""},
        {"-gleam.threads=abc", "-gleam.threads", "\"abc\""},
        {"-gleam.threads=", "-gleam.threads", "\"\""},
        {"-gleam.threads=2x", "-gleam.threads", "\"2x\""},
        {"-gleam.threads=-1", "-gleam.threads", "\"-1\""},
        {"-gleam.threads=99999999999999999999", "-gleam.threads", "99999999999999999999"},
        {"-gleam.explain=maybe", "-gleam.explain", "\"maybe\""},
        {"-gleam.memory=0", "-gleam.memory", "\"0\""},
        {"-gleam.tmpdir=", "-gleam.tmpdir", "directory"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *args[3];
        args[0] = "prog";
        args[1] = cases[i][0];
        args[2] = "keep";
        if (th_init_args(args, 3, av, &ac) != GLEAM_ERR_FLAG) th_failf(__FILE__, __LINE__, "%s was accepted", cases[i][0]);
        CHECK_HAS(gleam_error(NULL), cases[i][1]);
        CHECK_HAS(gleam_error(NULL), cases[i][2]);
        reset_flags();
    }
    {   /* a flag that needs a value, at the end */
        static const char *const args[] = {"prog", "x", "-gleam.threads"};
        CHECK_INT(th_init_args(args, 3, av, &ac), GLEAM_ERR_FLAG);
        CHECK_HAS(gleam_error(NULL), "-gleam.threads");
        CHECK_HAS(gleam_error(NULL), "needs a value");
    }
    {
        static const char *const args[] = {"prog", "--gleam.tmpdir"};
        CHECK_INT(th_init_args(args, 2, av, &ac), GLEAM_ERR_FLAG);
        CHECK_HAS(gleam_error(NULL), "needs a value");
    }
    {   /* the separate value is checked too */
        static const char *const args[] = {"prog", "-gleam.threads", "many", "x"};
        CHECK_INT(th_init_args(args, 4, av, &ac), GLEAM_ERR_FLAG);
        CHECK_HAS(gleam_error(NULL), "\"many\"");
    }
    reset_flags();
    CHECK_INT(shards_seen(), 2); /* the good value survives */
}

/* >>a big failing flow: stops, frees ------------------------------------------------------ */

/* Fails on the row "n250000", the middle of 500000. */
static gleam_result fail_mid(gleam_ctx *c, const gleam_value *row, int n) {
    if (row[0].type == GLEAM_BYTES && row[0].len == 7 && !memcmp(row[0].u.s, "n250000", 7))
        return gleam_fail(c, "row %.*s is the bad one", (int)row[0].len, row[0].u.s);
    if (row[0].type == GLEAM_INT && row[0].u.i == 250000) return gleam_fail(c, "value 250000 is the bad one");
    return gleam_emit(c, row, n);
}

/* 500000 ints over the shards. */
static gleam_result gen_500k(gleam_ctx *c, int shard, int nshards) {
    int64_t i, lo = 500000LL * shard / nshards, hi = 500000LL * (shard + 1) / nshards;
    for (i = lo; i < hi; i++) {
        gleam_result r = GLEAM_EMIT(c, gleam_int(i), gleam_int(i % 1000));
        if (r != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

static void test_big_failing_flow(void) {
    char *p, tag[32];
    {
        size_t cap = 500000 * 9 + 1, len = 0;
        char *b = (char *)malloc(cap);
        int i;
        if (!b) exit(2);
        for (i = 0; i < 500000; i++) len += (size_t)snprintf(b + len, cap - len, "n%d\n", i);
        th_write("n500k.txt", b, len);
        free(b);
        p = th_path_copy("n500k.txt");
    }
    {   /* read -> map (fails) -> reduce_by -> sort -> collect */
        gleam_flow *f = gleam_flow_new("big failing flow");
        gleam_dataset *d = gleam_map(gleam_map(gleam_read(f, gleam_txt(p, 8)), "failMid"), "appendOne");
        gleam_collect(gleam_sort(gleam_reduce_by_key(d, "sumOk"), gleam_order_by(2, GLEAM_DESC)));
        CHECK_INT(th_run_threads(f, 8), GLEAM_ERR_USER);
        CHECK_HAS(gleam_error(f), "row n250000 is the bad one");
        CHECK_HAS(gleam_error(f), "step 2 map(failMid)");
        CHECK_HAS(gleam_error(f), " of 8");
        CHECK_HAS(gleam_error(f), line_tag(tag, sizeof tag, 250001));
        gleam_flow_free(f);
    }
    {   /* generate -> map (fails) -> join with a second side -> sort; and a partition */
        gleam_flow *f = gleam_flow_new("big failing join");
        gleam_dataset *a = gleam_map(gleam_generate(f, "gen500k", 8), "failMid");
        gleam_dataset *b = gleam_generate(f, "gen500k", 8);
        gleam_collect(gleam_sort(gleam_join(a, gleam_partition(b, 8)), gleam_order_by(1, GLEAM_ASC)));
        CHECK_INT(th_run_threads(f, 4), GLEAM_ERR_USER);
        CHECK_HAS(gleam_error(f), "value 250000 is the bad one");
        CHECK_HAS(gleam_error(f), "map(failMid)");
        gleam_flow_free(f);
    }
    {   /* the failing side is the build side of the join */
        gleam_flow *f = gleam_flow_new("big failing build side");
        gleam_dataset *a = gleam_generate(f, "gen500k", 8);
        gleam_dataset *b = gleam_map(gleam_generate(f, "gen500k", 8), "failMid");
        gleam_collect(gleam_distinct(gleam_join(a, b)));
        CHECK_INT(th_run_threads(f, 8), GLEAM_ERR_USER);
        CHECK_HAS(gleam_error(f), "value 250000 is the bad one");
        gleam_flow_free(f);
    }
    {   /* CSV error in the middle of a big file with 8 shards, sorted downstream */
        gleam_flow *f = gleam_flow_new("big malformed CSV");
        size_t cap = 300000 * 32 + 64, len = 0;
        char *b = (char *)malloc(cap), *q;
        int i;
        if (!b) exit(2);
        for (i = 1; i <= 300000; i++)
            len += (size_t)snprintf(b + len, cap - len, i == 150000 ? "%d,x\"y\"\n" : "%d,\"v\n%d\"\n", i, i);
        th_write("big-bad.csv", b, len);
        free(b);
        q = th_path_copy("big-bad.csv");
        gleam_collect(gleam_sort(gleam_read(f, gleam_csv(q, 8)), gleam_order_by(2, GLEAM_ASC)));
        CHECK_INT(th_run_threads(f, 8), GLEAM_ERR_INPUT);
        /* record i starts on line 2i-1 */
        CHECK_HAS(gleam_error(f), line_tag(tag, sizeof tag, 2 * 150000 - 1));
        CHECK_HAS(gleam_error(f), q);
        gleam_flow_free(f);
        free(q);
    }
    free(p);
}

int main(void) {
    alarm(600); /* a hang fails the run instead of blocking it */
    if (gleam_register_mapper("failOn537", fail_on_537) || gleam_register_mapper("codeOn42", code_on_42) ||
        gleam_register_mapper("passRow", pass_row) || gleam_register_mapper("appendOne", append_one) ||
        gleam_register_mapper("emitShards", emit_shards) || gleam_register_mapper("failMid", fail_mid) ||
        gleam_register_mapper("rowNumber", row_number) || gleam_register_reducer("failOnX537", fail_on_x537) ||
        gleam_register_reducer("sumOk", sum_ok) || gleam_register_reducer("sumFail50", sum_fail_50) ||
        gleam_register_reducer("sumCode", sum_code) || gleam_register_output("outFail100", out_fail_100) ||
        gleam_register_source("genFail", gen_fail) || gleam_register_source("genCode", gen_code) ||
        gleam_register_source("gen500k", gen_500k)) {
        fprintf(stderr, "register: %s\n", gleam_error(NULL));
        return 2;
    }
    TRUN(test_missing_file);
    TRUN(test_directory);
    TRUN(test_glob_no_match);
    TRUN(test_unreadable_file);
    TRUN(test_path_under_a_file);
    TRUN(test_csv_unterminated_quote);
    TRUN(test_csv_quote_in_unquoted_field);
    TRUN(test_csv_text_after_closing_quote);
    TRUN(test_mapper_fails);
    TRUN(test_mapper_returns_code);
    TRUN(test_reducer_fails);
    TRUN(test_output_fails);
    TRUN(test_generator_fails);
    TRUN(test_unknown_function);
    TRUN(test_wrong_kind);
    TRUN(test_field_beyond_row);
    TRUN(test_bad_arguments);
    TRUN(test_register_twice);
    TRUN(test_run_twice);
    TRUN(test_output_cannot_be_created);
    TRUN(test_output_is_an_input);
    TRUN(test_reducer_fails_names_line);
    TRUN(test_flag_unknown);
    TRUN(test_flag_forms);
    TRUN(test_flag_double_dash);
    TRUN(test_flag_bad_values);
    TRUN(test_big_failing_flow);
    reset_flags();
    return th_done();
}
