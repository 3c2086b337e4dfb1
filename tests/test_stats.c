/* test_stats.c: per-step statistics (gleam_stats, gleam_stats_step), -gleam.stats, the progress line and the DOT plan, checked against counts and sizes the test works out itself. */
#include "gleam.h"
#include "harness.h"

#include <fcntl.h>

/* >>helpers ---------------------------------------------------------------------------- */

/* Options are global: put back threads=2, no explain, no stats, the default progress. */
static void reset_flags(void) {
    static const char *const args[] = {"prog", "-gleam.threads=2", "-gleam.explain=false", "-gleam.stats=false",
                                       "-gleam.quiet=false"};
    char *av[8];
    int ac;
    if (th_init_args(args, 5, av, &ac) != GLEAM_OK || ac != 1) {
        fprintf(stderr, "cannot reset the flags: %s\n", gleam_error(NULL));
        exit(2);
    }
}

/* gleam_init with one flag; GLEAM_OK or its error. */
static gleam_result set_flag(const char *flag) {
    const char *args[2];
    char *av[4];
    int ac;
    args[0] = "prog";
    args[1] = flag;
    return th_init_args(args, 2, av, &ac);
}

static void run_test(const char *name, void (*fn)(void)) {
    reset_flags();
    th_run(name, fn);
}
#define TRUN(fn) run_test(#fn, fn)

static gleam_options opts(int threads) {
    gleam_options o;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    return o;
}

static gleam_result run_threads(gleam_flow *f, int threads) {
    gleam_options o = opts(threads);
    return gleam_run_with(f, &o);
}

/* Run f with opt (NULL: the flags) with standard error going to a scratch file; its text
   (free it) and the result in *r. */
static char *run_capture(gleam_flow *f, const gleam_options *opt, gleam_result *r) {
    char *path = th_path_copy("stderr.txt"), *text;
    int saved, fd;
    fflush(stderr);
    saved = dup(2);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0) exit(2);
    dup2(fd, 2);
    close(fd);
    *r = gleam_run_with(f, opt);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    text = th_read(path, NULL);
    if (!text) exit(2);
    free(path);
    return text;
}

/* The size of a file, -1 if it is missing. */
static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) ? -1 : (long long)st.st_size;
}

/* Occurrences of needle in hay. */
static int count_of(const char *hay, const char *needle) {
    int n = 0;
    size_t len = strlen(needle);
    while (hay && (hay = strstr(hay, needle))) {
        n++;
        hay += len;
    }
    return n;
}

/* Lines of a text ("\n"-terminated lines; a last unterminated one counts too). */
static long lines_of(const char *text) {
    long n = 0;
    const char *p;
    for (p = text; *p; p++) n += *p == '\n';
    if (p > text && p[-1] != '\n') n++;
    return n;
}

/* The last non-empty line of text, into buf. */
static const char *last_line(const char *text, char *buf, size_t cap) {
    size_t len = strlen(text), end, start;
    while (len > 0 && text[len - 1] == '\n') len--;
    end = len;
    start = end;
    while (start > 0 && text[start - 1] != '\n') start--;
    snprintf(buf, cap, "%.*s", (int)(end - start), text + start);
    return buf;
}

/* Every step's figures are there, numbered 1..steps, with times within the run's. */
static void check_common(const gleam_flow *f, int steps, int threads) {
    const gleam_job_stats *js = gleam_stats(f);
    int i;
    CHECK(js != NULL);
    if (!js) return;
    CHECK_INT(js->steps, steps);
    CHECK_INT(js->threads, threads);
    CHECK(js->seconds >= 0);
    CHECK(js->peak_rss > 0); /* Linux reports it */
    CHECK(gleam_stats_step(f, 0) == NULL);
    CHECK(gleam_stats_step(f, -1) == NULL);
    CHECK(gleam_stats_step(f, steps + 1) == NULL);
    for (i = 1; i <= steps; i++) {
        const gleam_step_stats *ss = gleam_stats_step(f, i);
        CHECK(ss != NULL);
        if (!ss) continue;
        CHECK_INT(ss->step, i);
        CHECK(ss->kind != NULL && *ss->kind);
        CHECK(ss->name != NULL);
        CHECK(ss->seconds >= 0);
        CHECK(ss->seconds <= js->seconds + 1e-6);
    }
}

/* >>functions -------------------------------------------------------------------------- */

/* Each space-separated word of field 1 as (word, 1). */
static gleam_result words(gleam_ctx *c, const gleam_value *row, int n) {
    const char *s = row[0].u.s, *end = s + row[0].len, *w;
    gleam_result r;
    (void)n;
    while (s < end) {
        while (s < end && *s == ' ') s++;
        for (w = s; s < end && *s != ' '; s++) {}
        if (s > w && (r = GLEAM_EMIT(c, gleam_bytes(w, (size_t)(s - w)), gleam_int(1))) != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

static gleam_result twice(gleam_ctx *c, const gleam_value *row, int n) {
    gleam_result r = gleam_emit(c, row, n);
    return r == GLEAM_OK ? gleam_emit(c, row, n) : r;
}

static gleam_result pass(gleam_ctx *c, const gleam_value *row, int n) { return gleam_emit(c, row, n); }

static gleam_result sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    (void)c;
    (void)n;
    acc[0] = gleam_int(gleam_to_int64(acc[0]) + gleam_to_int64(x[0]));
    return GLEAM_OK;
}

/* GEN_ROWS rows (i) in all, shared out between the shards. */
#define GEN_ROWS 9000
static gleam_result gen(gleam_ctx *c, int shard, int nshards) {
    int64_t i, lo = (int64_t)GEN_ROWS * shard / nshards, hi = (int64_t)GEN_ROWS * (shard + 1) / nshards;
    gleam_result r;
    for (i = lo; i < hi; i++)
        if ((r = GLEAM_EMIT(c, gleam_int(i))) != GLEAM_OK) return r;
    return GLEAM_OK;
}

/* >>inputs ----------------------------------------------------------------------------- */

/* NLINES lines of 0 to 5 words out of NVOCAB, the same every time. */
#define NLINES 3000
#define NVOCAB 500
static char word_lines[NLINES][64];
static const char *word_ptrs[NLINES];
static long word_total;           /* words in all lines */
static long word_count[NVOCAB];   /* how often each word occurs */
static int word_distinct;         /* words that occur */

static void make_words(void) {
    uint32_t x = 12345;
    int i, j;
    if (word_ptrs[0]) return;
    for (i = 0; i < NLINES; i++) {
        int nw = (i * 7) % 6, len = 0;
        for (j = 0; j < nw; j++) {
            int w;
            x = x * 1103515245u + 12345u;
            w = (int)((x >> 8) % NVOCAB);
            len += snprintf(word_lines[i] + len, sizeof word_lines[i] - (size_t)len, "%s%sw%d", j ? " " : "",
                            j == 2 ? " " : "", w); /* a double space now and then */
            word_total++;
            word_count[w]++;
        }
        word_ptrs[i] = word_lines[i];
    }
    for (i = 0; i < NVOCAB; i++) word_distinct += word_count[i] > 0;
}

/* A text file of n lines of varying length (the last one without '\n' when !last_nl);
   returns its path (free it). */
static char *make_text(const char *name, long n, int width, int last_nl) {
    size_t cap = (size_t)n * (size_t)(width + 16) + 16, len = 0;
    char *b = (char *)malloc(cap), *path;
    long i;
    if (!b) exit(2);
    for (i = 0; i < n; i++) {
        int pad = (int)((i * 37) % width), k;
        len += (size_t)snprintf(b + len, cap - len, "line %ld ", i);
        for (k = 0; k < pad; k++) b[len++] = (char)('a' + (i + k) % 26);
        if (i + 1 < n || last_nl) b[len++] = '\n';
    }
    th_write(name, b, len);
    free(b);
    path = th_path_copy(name);
    return path;
}

/* >>availability ------------------------------------------------------------------------ */

static void test_null_until_run(void) {
    gleam_flow *f;
    gleam_rows *rows;
    gleam_options o = opts(2);
    gleam_result r;
    char *err;
    make_words();
    CHECK(gleam_stats(NULL) == NULL);
    CHECK(gleam_stats_step(NULL, 1) == NULL);
    /* explained only: no figures */
    f = gleam_flow_new("explained");
    gleam_collect(gleam_map(gleam_from_strings(f, word_ptrs, NLINES, 2), "words"));
    CHECK(gleam_stats(f) == NULL);
    o.explain = 1;
    err = run_capture(f, &o, &r);
    CHECK_INT(r, GLEAM_OK);
    CHECK_HAS(err, "plan of flow");
    CHECK(gleam_stats(f) == NULL);
    CHECK(gleam_stats_step(f, 1) == NULL);
    free(err);
    gleam_flow_free(f);
    /* run: figures for each of its 3 steps */
    f = gleam_flow_new("ran");
    rows = gleam_collect(gleam_map(gleam_from_strings(f, word_ptrs, NLINES, 2), "words"));
    CHECK(gleam_stats(f) == NULL);
    CHECK(gleam_stats_step(f, 1) == NULL);
    CHECK_INT(run_threads(f, 2), GLEAM_OK);
    CHECK_INT(gleam_rows_count(rows), word_total);
    CHECK(gleam_stats(f) != NULL);
    check_common(f, 3, 2);
    gleam_flow_free(f);
}

/* >>rows --------------------------------------------------------------------------------- */

/* from_strings -> map(words) -> map(twice) -> reduce_by(sum) -> collect */
static void check_word_flow(int threads, int shards) {
    gleam_flow *f = gleam_flow_new("word stats");
    gleam_dataset *d = gleam_from_strings(f, word_ptrs, NLINES, shards);
    gleam_rows *rows;
    const gleam_step_stats *s1, *s2, *s3, *s4, *s5;
    const gleam_job_stats *js;
    size_t i;
    long got_sum = 0;
    d = gleam_map(d, "words");
    d = gleam_map(d, "twice");
    d = gleam_reduce_by_key(d, "sum");
    rows = gleam_collect(d);
    CHECK_INT(run_threads(f, threads), GLEAM_OK);
    check_common(f, 5, threads);
    /* the answer itself, so the figures describe a right run */
    CHECK_INT(gleam_rows_count(rows), word_distinct);
    for (i = 0; i < gleam_rows_count(rows); i++) {
        int n, w = 0;
        uint32_t k;
        const gleam_value *v = gleam_rows_get(rows, i, &n);
        CHECK_INT(n, 2);
        if (n != 2 || v[0].type != GLEAM_BYTES || v[0].len < 2 || v[0].u.s[0] != 'w') continue;
        for (k = 1; k < v[0].len; k++) w = w * 10 + (v[0].u.s[k] - '0'); /* "w123" */
        if (w >= 0 && w < NVOCAB) CHECK_INT(gleam_to_int64(v[1]), 2 * word_count[w]);
        got_sum += (long)gleam_to_int64(v[1]);
    }
    CHECK_INT(got_sum, 2 * word_total);
    s1 = gleam_stats_step(f, 1);
    s2 = gleam_stats_step(f, 2);
    s3 = gleam_stats_step(f, 3);
    s4 = gleam_stats_step(f, 4);
    s5 = gleam_stats_step(f, 5);
    js = gleam_stats(f);
    if (!s1 || !s2 || !s3 || !s4 || !s5 || !js) {
        CHECK(!"figures missing");
        gleam_flow_free(f);
        return;
    }
    CHECK_STR(s1->kind, "values");
    CHECK_STR(s1->name, "");
    CHECK_INT(s1->rows_in, 0);
    CHECK_INT(s1->rows_out, NLINES);
    CHECK_INT(s1->bytes, 0); /* no file read */
    CHECK_STR(s2->kind, "map");
    CHECK_STR(s2->name, "words");
    CHECK_INT(s2->rows_in, NLINES);
    CHECK_INT(s2->rows_out, word_total);
    CHECK_INT(s2->bytes, 0);
    CHECK_INT(s2->peak_bytes, 0);
    CHECK_STR(s3->kind, "map");
    CHECK_STR(s3->name, "twice");
    CHECK_INT(s3->rows_in, word_total);
    CHECK_INT(s3->rows_out, 2 * word_total);
    CHECK_INT(s3->peak_bytes, 0);
    CHECK_STR(s4->kind, "reduce_by");
    CHECK_STR(s4->name, "sum");
    CHECK_INT(s4->rows_in, 2 * word_total);
    CHECK_INT(s4->rows_out, word_distinct);
    CHECK(s4->bytes > 0); /* sent between shards */
    CHECK_STR(s5->kind, "collect");
    CHECK_STR(s5->name, "");
    CHECK_INT(s5->rows_in, word_distinct);
    CHECK_INT(s5->rows_out, 0);
    CHECK_INT(s5->bytes, 0); /* nothing written */
    CHECK_INT(js->rows_read, NLINES);
    CHECK_INT(js->bytes_read, 0);
    CHECK_INT(js->bytes_written, 0);
    gleam_flow_free(f);
}

static void test_rows_per_step(void) {
    make_words();
    check_word_flow(1, 1);
    check_word_flow(1, 3);
    check_word_flow(2, 3);
    check_word_flow(2, 4);
}

/* A dataset read by two outputs: each counts every row. */
static void test_two_outputs(void) {
    gleam_flow *f = gleam_flow_new("two outputs");
    gleam_dataset *d;
    gleam_rows *a, *b;
    const gleam_step_stats *s;
    make_words();
    d = gleam_map(gleam_from_strings(f, word_ptrs, NLINES, 3), "words");
    a = gleam_collect(d);
    b = gleam_collect(gleam_map(d, "twice"));
    CHECK_INT(run_threads(f, 2), GLEAM_OK);
    check_common(f, 5, 2);
    CHECK_INT(gleam_rows_count(a), word_total);
    CHECK_INT(gleam_rows_count(b), 2 * word_total);
    if ((s = gleam_stats_step(f, 2))) {
        CHECK_INT(s->rows_in, NLINES);
        CHECK_INT(s->rows_out, word_total); /* emitted once, whatever the number of readers */
    }
    if ((s = gleam_stats_step(f, 3))) {
        CHECK_STR(s->kind, "collect");
        CHECK_INT(s->rows_in, word_total);
    }
    if ((s = gleam_stats_step(f, 4))) {
        CHECK_INT(s->rows_in, word_total);
        CHECK_INT(s->rows_out, 2 * word_total);
    }
    if ((s = gleam_stats_step(f, 5))) CHECK_INT(s->rows_in, 2 * word_total);
    gleam_flow_free(f);
}

/* A union counts the rows of both inputs. */
static void test_union_rows(void) {
    gleam_flow *f = gleam_flow_new("union");
    gleam_dataset *a, *b;
    gleam_rows *rows;
    const gleam_step_stats *s;
    long i, nb = 0;
    make_words();
    for (i = 0; i < NLINES / 2; i++) nb += (i * 7) % 6; /* words in the first NLINES/2 lines */
    a = gleam_from_strings(f, word_ptrs, NLINES, 3);
    b = gleam_map(gleam_from_strings(f, word_ptrs, NLINES / 2, 2), "words");
    rows = gleam_collect(gleam_union(a, b));
    CHECK_INT(run_threads(f, 2), GLEAM_OK);
    check_common(f, 5, 2);
    CHECK_INT(gleam_rows_count(rows), NLINES + nb);
    if ((s = gleam_stats_step(f, 3))) CHECK_INT(s->rows_out, nb);
    if ((s = gleam_stats_step(f, 4))) {
        CHECK_STR(s->kind, "union");
        CHECK_INT(s->rows_in, NLINES + nb);
        CHECK_INT(s->rows_out, NLINES + nb);
    }
    if ((s = gleam_stats_step(f, 5))) CHECK_INT(s->rows_in, NLINES + nb);
    if (gleam_stats(f)) CHECK_INT(gleam_stats(f)->rows_read, NLINES + NLINES / 2);
    gleam_flow_free(f);
}

/* A limit of 5 after 100000 rows makes 5, however many it was given. */
static void test_limit(void) {
    enum { N = 100000 };
    gleam_value *v = (gleam_value *)malloc(N * sizeof *v);
    int i, threads;
    if (!v) exit(2);
    for (i = 0; i < N; i++) v[i] = gleam_int(i);
    for (threads = 1; threads <= 2; threads++) {
        gleam_flow *f = gleam_flow_new("limit");
        gleam_rows *rows = gleam_collect(gleam_limit(gleam_from_values(f, v, N, 1, 4), 5));
        const gleam_step_stats *src, *lim, *out;
        CHECK_INT(run_threads(f, threads), GLEAM_OK);
        check_common(f, 3, threads);
        CHECK_INT(gleam_rows_count(rows), 5);
        src = gleam_stats_step(f, 1);
        lim = gleam_stats_step(f, 2);
        out = gleam_stats_step(f, 3);
        if (src && lim && out) {
            CHECK_STR(lim->kind, "limit");
            CHECK_INT(lim->rows_out, 5);
            CHECK(src->rows_out >= 5 && src->rows_out <= N); /* may stop early */
            CHECK_INT(lim->rows_in, src->rows_out);
            CHECK_INT(out->rows_in, 5);
            CHECK_INT(gleam_stats(f)->rows_read, src->rows_out);
        }
        gleam_flow_free(f);
    }
    free(v);
}

/* >>bytes -------------------------------------------------------------------------------- */

/* read text (in `shards` shards) -> write_tsv: bytes in = the file, bytes out = the file written. */
static void check_copy(const char *in, long nlines, int threads, int shards) {
    char *out = th_path_copy("copy.tsv");
    gleam_flow *f = gleam_flow_new("copy");
    const gleam_step_stats *rd, *wr;
    const gleam_job_stats *js;
    long long insize = file_size(in), outsize;
    char *text;
    gleam_write_tsv(gleam_read(f, gleam_txt(in, shards)), out);
    CHECK_INT(run_threads(f, threads), GLEAM_OK);
    check_common(f, 2, threads);
    outsize = file_size(out);
    text = th_read(out, NULL);
    CHECK(text != NULL);
    if (text) CHECK_INT(lines_of(text), nlines);
    free(text);
    rd = gleam_stats_step(f, 1);
    wr = gleam_stats_step(f, 2);
    js = gleam_stats(f);
    if (rd && wr && js) {
        CHECK_STR(rd->kind, "read");
        CHECK_STR(rd->name, "");
        CHECK_INT(rd->rows_in, 0);
        CHECK_INT(rd->rows_out, nlines);
        CHECK_INT(rd->bytes, insize);
        CHECK_INT(rd->peak_bytes, 0);
        CHECK_STR(wr->kind, "write_tsv");
        CHECK_INT(wr->rows_in, nlines);
        CHECK_INT(wr->rows_out, 0);
        CHECK_INT(wr->bytes, outsize);
        CHECK_INT(js->rows_read, nlines);
        CHECK_INT(js->bytes_read, insize);
        CHECK_INT(js->bytes_written, outsize);
    }
    gleam_flow_free(f);
    free(out);
}

static void test_file_bytes(void) {
    char *small = make_text("small.txt", 6000, 60, 1);
    char *ragged = make_text("ragged.txt", 4321, 50, 0); /* no '\n' at the end */
    char *big = make_text("big.txt", 24000, 200, 1); /* ~2.5 MB: 2 shards, each past the 1 MB read buffer */
    CHECK(file_size(big) > 2 * (1 << 20) + (1 << 19));
    char *tiny = make_text("tiny.txt", 3, 4, 1), *empty = make_text("empty.txt", 0, 1, 1);
    CHECK_INT(file_size(empty), 0);
    check_copy(small, 6000, 1, 3);
    check_copy(small, 6000, 2, 3);
    check_copy(ragged, 4321, 1, 3);
    check_copy(ragged, 4321, 2, 3);
    check_copy(big, 24000, 2, 2);
    check_copy(tiny, 3, 2, 8); /* more shards than lines */
    check_copy(empty, 0, 2, 3);
    free(tiny);
    free(empty);
    free(small);
    free(ragged);
    free(big);
}

/* Several files (by list and by glob), CSV with a header, CSV and printlnf outputs. */
static void test_more_bytes(void) {
    char *a = make_text("many-1.txt", 1500, 40, 1), *b = make_text("many-2.txt", 2500, 70, 0);
    char *c = make_text("many-3.txt", 10, 5, 1), *glob = th_path_copy("many-*.txt");
    char *csv_out = th_path_copy("out.csv"), *txt_out = th_path_copy("out.txt"), *csv_in;
    long long sa = file_size(a), sb = file_size(b), sc = file_size(c);
    const char *paths[2];
    const gleam_step_stats *s;
    gleam_flow *f;
    gleam_source_desc src;
    {   /* two files by list */
        f = gleam_flow_new("two files");
        src = gleam_txt(NULL, 3);
        paths[0] = a;
        paths[1] = b;
        src.paths = paths;
        src.npaths = 2;
        gleam_collect(gleam_read(f, src));
        CHECK_INT(run_threads(f, 2), GLEAM_OK);
        if ((s = gleam_stats_step(f, 1))) {
            CHECK_INT(s->rows_out, 1500 + 2500);
            CHECK_INT(s->bytes, sa + sb);
        }
        if (gleam_stats(f)) CHECK_INT(gleam_stats(f)->bytes_read, sa + sb);
        gleam_flow_free(f);
    }
    {   /* a glob of three, to CSV */
        f = gleam_flow_new("glob");
        gleam_write_csv(gleam_read(f, gleam_txt(glob, 4)), csv_out);
        CHECK_INT(run_threads(f, 2), GLEAM_OK);
        if ((s = gleam_stats_step(f, 1))) {
            CHECK_INT(s->rows_out, 1500 + 2500 + 10);
            CHECK_INT(s->bytes, sa + sb + sc);
        }
        if ((s = gleam_stats_step(f, 2))) {
            CHECK_STR(s->kind, "write_csv");
            CHECK_INT(s->rows_in, 1500 + 2500 + 10);
            CHECK_INT(s->bytes, file_size(csv_out));
        }
        if (gleam_stats(f)) CHECK_INT(gleam_stats(f)->bytes_written, file_size(csv_out));
        gleam_flow_free(f);
    }
    {   /* CSV with a header and quoted fields (a comma, a quote, a newline) -> printlnf */
        size_t cap = 1 << 20, len = 0;
        char *buf = (char *)malloc(cap);
        int i, nrec = 3000;
        if (!buf) exit(2);
        len += (size_t)snprintf(buf, cap, "key,text\n");
        for (i = 0; i < nrec; i++)
            len += (size_t)snprintf(buf + len, cap - len, i % 3 == 0 ? "%d,\"a,\"\"b\"\"\nc\"\n" : "%d,plain %d\n", i, i);
        th_write("in.csv", buf, len);
        free(buf);
        csv_in = th_path_copy("in.csv");
        f = gleam_flow_new("csv");
        src = gleam_csv(csv_in, 3);
        src.header = 1;
        gleam_fprintlnf(gleam_read(f, src), txt_out, "%s|%d");
        CHECK_INT(run_threads(f, 2), GLEAM_OK);
        check_common(f, 2, 2);
        if ((s = gleam_stats_step(f, 1))) {
            CHECK_INT(s->rows_out, nrec);
            CHECK_INT(s->bytes, file_size(csv_in));
        }
        if ((s = gleam_stats_step(f, 2))) {
            CHECK_STR(s->kind, "printlnf");
            CHECK_INT(s->rows_in, nrec);
            CHECK_INT(s->bytes, file_size(txt_out));
        }
        if (gleam_stats(f)) {
            CHECK_INT(gleam_stats(f)->bytes_read, file_size(csv_in));
            CHECK_INT(gleam_stats(f)->bytes_written, file_size(txt_out));
        }
        gleam_flow_free(f);
        free(csv_in);
    }
    free(a);
    free(b);
    free(c);
    free(glob);
    free(csv_out);
    free(txt_out);
}

/* A pipe's bytes are the rows as lines written to its command. */
static void test_pipe_bytes(void) {
    enum { N = 2000 };
    static char strs[N][32];
    const char *ptrs[N];
    long long expect = 0;
    gleam_flow *f = gleam_flow_new("pipe");
    gleam_rows *rows;
    const gleam_step_stats *s;
    int i;
    for (i = 0; i < N; i++) {
        snprintf(strs[i], sizeof strs[i], "row %d%s", i, i % 5 ? "" : " and more");
        ptrs[i] = strs[i];
        expect += (long long)strlen(strs[i]) + 1;
    }
    rows = gleam_collect(gleam_pipe(gleam_from_strings(f, ptrs, N, 3), "cat", "cat"));
    CHECK_INT(run_threads(f, 2), GLEAM_OK);
    check_common(f, 3, 2);
    CHECK_INT(gleam_rows_count(rows), N);
    if ((s = gleam_stats_step(f, 2))) {
        CHECK_STR(s->kind, "pipe");
        CHECK_STR(s->name, "cat");
        CHECK_INT(s->rows_in, N);
        CHECK_INT(s->rows_out, N);
        CHECK_INT(s->bytes, expect);
    }
    gleam_flow_free(f);
}

/* >>memory -------------------------------------------------------------------------------- */

static void test_peak_memory(void) {
    enum { N = 20000 };
    gleam_value *v = (gleam_value *)malloc(2 * N * sizeof *v);
    const gleam_step_stats *s;
    gleam_flow *f;
    gleam_rows *rows;
    int i;
    if (!v) exit(2);
    for (i = 0; i < N; i++) {
        v[2 * i] = gleam_int((int64_t)(i * 7919) % N); /* all distinct */
        v[2 * i + 1] = gleam_int(1);
    }
    f = gleam_flow_new("reduce many keys");
    rows = gleam_collect(gleam_reduce_by_key(gleam_map(gleam_from_values(f, v, N, 2, 3), "pass"), "sum"));
    CHECK_INT(run_threads(f, 2), GLEAM_OK);
    check_common(f, 4, 2);
    CHECK_INT(gleam_rows_count(rows), N);
    if ((s = gleam_stats_step(f, 1))) CHECK_INT(s->peak_bytes, 0);
    if ((s = gleam_stats_step(f, 2))) {
        CHECK_STR(s->kind, "map");
        CHECK_INT(s->peak_bytes, 0);
    }
    if ((s = gleam_stats_step(f, 3))) {
        CHECK_STR(s->kind, "reduce_by");
        CHECK(s->peak_bytes > 0);
        CHECK_INT(s->rows_in, N);
        CHECK_INT(s->rows_out, N);
    }
    gleam_flow_free(f);

    f = gleam_flow_new("sort many rows");
    rows = gleam_collect(gleam_sort(gleam_map(gleam_from_values(f, v, N, 2, 3), "pass"), gleam_order_by(1, GLEAM_DESC)));
    CHECK_INT(run_threads(f, 2), GLEAM_OK);
    check_common(f, 4, 2);
    CHECK_INT(gleam_rows_count(rows), N);
    if ((s = gleam_stats_step(f, 2))) CHECK_INT(s->peak_bytes, 0);
    if ((s = gleam_stats_step(f, 3))) {
        CHECK_STR(s->kind, "sort");
        CHECK(s->peak_bytes > 0);
        CHECK(s->bytes > 0);
        CHECK_INT(s->rows_in, N);
        CHECK_INT(s->rows_out, N);
    }
    gleam_flow_free(f);
    free(v);
}

/* >>-gleam.stats ------------------------------------------------------------------------- */

/* The table's line of step i: the figures gleam_stats_step has, the rows expected. */
static void check_stats_line(const char *text, const gleam_flow *f, int i, unsigned long long in,
                             unsigned long long out) {
    const gleam_step_stats *ss = gleam_stats_step(f, i);
    const char *p = text;
    char want[96];
    int found = 0;
    if (!ss) {
        CHECK(!"no figures");
        return;
    }
    if (*ss->name) snprintf(want, sizeof want, "%s(%s)", ss->kind, ss->name);
    else snprintf(want, sizeof want, "%s", ss->kind);
    while (p && *p) {
        int step;
        char what[96];
        unsigned long long a, b;
        if (sscanf(p, "%d %95s %llu %llu", &step, what, &a, &b) == 4 && step == i) {
            found++;
            CHECK_STR(what, want);
            CHECK_INT(a, in);
            CHECK_INT(b, out);
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (found != 1) th_failf(__FILE__, __LINE__, "step %d (%s) has %d lines in:\n%s", i, want, found, text);
}

static void test_stats_flag(void) {
    gleam_flow *f;
    gleam_result r;
    char *err;
    make_words();
    CHECK_INT(set_flag("-gleam.stats"), GLEAM_OK);
    f = gleam_flow_new("flagged");
    gleam_collect(gleam_reduce_by_key(gleam_map(gleam_from_strings(f, word_ptrs, NLINES, 3), "words"), "sum"));
    err = run_capture(f, NULL, &r);
    CHECK_INT(r, GLEAM_OK);
    CHECK_HAS(err, "stats of flow");
    CHECK_HAS(err, "\"flagged\"");
    CHECK_HAS(err, "rows in");
    CHECK_HAS(err, "rows out");
    check_stats_line(err, f, 1, 0, NLINES);
    check_stats_line(err, f, 2, NLINES, (unsigned long long)word_total);
    check_stats_line(err, f, 3, (unsigned long long)word_total, (unsigned long long)word_distinct);
    check_stats_line(err, f, 4, (unsigned long long)word_distinct, 0);
    free(err);
    gleam_flow_free(f);

    /* =false: off again */
    CHECK_INT(set_flag("-gleam.stats=false"), GLEAM_OK);
    f = gleam_flow_new("not flagged");
    gleam_collect(gleam_from_strings(f, word_ptrs, NLINES, 2));
    err = run_capture(f, NULL, &r);
    CHECK_INT(r, GLEAM_OK);
    CHECK(strstr(err, "stats of flow") == NULL);
    CHECK(gleam_stats(f) != NULL); /* figures are kept anyway */
    free(err);
    gleam_flow_free(f);

    /* gleam_options.stats without the flag */
    {
        gleam_options o = opts(2);
        o.stats = 1;
        f = gleam_flow_new("by option");
        gleam_collect(gleam_from_strings(f, word_ptrs, NLINES, 2));
        err = run_capture(f, &o, &r);
        CHECK_INT(r, GLEAM_OK);
        CHECK_HAS(err, "stats of flow \"by option\"");
        check_stats_line(err, f, 1, 0, NLINES);
        check_stats_line(err, f, 2, NLINES, 0);
        free(err);
        gleam_flow_free(f);
    }
}

/* >>progress ------------------------------------------------------------------------------ */

/* Generated rows -> map -> collect, run with the flags or opt; the captured stderr. */
static char *progress_run(const gleam_options *opt, int *steps) {
    gleam_flow *f = gleam_flow_new("progress");
    gleam_rows *rows = gleam_collect(gleam_map(gleam_generate(f, "gen", 1), "pass"));
    gleam_result r;
    char *err = run_capture(f, opt, &r);
    CHECK_INT(r, GLEAM_OK);
    CHECK_INT(gleam_rows_count(rows), GEN_ROWS);
    *steps = gleam_stats(f) ? gleam_stats(f)->steps : -1;
    if (gleam_stats(f)) CHECK_INT(gleam_stats(f)->rows_read, GEN_ROWS);
    gleam_flow_free(f);
    return err;
}

static void test_progress(void) {
    char *err, line[512], want[64];
    int steps;
    /* forced on, stderr a file: a last line at the end */
    CHECK_INT(set_flag("-gleam.progress"), GLEAM_OK);
    err = progress_run(NULL, &steps);
    last_line(err, line, sizeof line);
    CHECK(!strncmp(line, "gleam: ", 7));
    CHECK_HAS(line, "steps done");
    snprintf(want, sizeof want, "%d/%d steps done", steps, steps);
    CHECK_HAS(line, want);
    /* the rows the generator made (fewer than 10000: printed in full) */
    snprintf(want, sizeof want, " %d rows", GEN_ROWS);
    CHECK_HAS(line, want);
    CHECK(strchr(err, '\r') == NULL && strchr(err, '\033') == NULL); /* not a terminal: plain lines */
    free(err);

    /* a file source: its rows and bytes in the last line */
    {
        char *in = make_text("progress.txt", 40, 10, 1), *out;
        long long size = file_size(in);
        gleam_flow *f = gleam_flow_new("progress of a read");
        gleam_result r;
        CHECK(size > 0 && size < 1024); /* printed in bytes */
        gleam_collect(gleam_read(f, gleam_txt(in, 3)));
        out = run_capture(f, NULL, &r);
        CHECK_INT(r, GLEAM_OK);
        last_line(out, line, sizeof line);
        CHECK(!strncmp(line, "gleam: ", 7));
        CHECK_HAS(line, "2/2 steps done");
        CHECK_HAS(line, " 40 rows");
        snprintf(want, sizeof want, " %lld B read", size);
        CHECK_HAS(line, want);
        free(out);
        gleam_flow_free(f);
        free(in);
    }

    /* -gleam.quiet: nothing */
    CHECK_INT(set_flag("-gleam.quiet"), GLEAM_OK);
    err = progress_run(NULL, &steps);
    CHECK(strstr(err, "gleam: ") == NULL);
    CHECK(strstr(err, "steps done") == NULL);
    free(err);
    /* an option overrides the flags */
    {
        gleam_options o = opts(2);
        o.progress = 1;
        err = progress_run(&o, &steps);
        CHECK_HAS(last_line(err, line, sizeof line), "steps done");
        free(err);
    }
    /* quiet=false: the default, which for a file is nothing */
    CHECK_INT(set_flag("-gleam.quiet=false"), GLEAM_OK);
    err = progress_run(NULL, &steps);
    CHECK(strstr(err, "steps done") == NULL);
    free(err);
    /* progress=false, and the option -1 over a forced flag */
    CHECK_INT(set_flag("-gleam.progress=false"), GLEAM_OK);
    err = progress_run(NULL, &steps);
    CHECK(strstr(err, "steps done") == NULL);
    free(err);
    CHECK_INT(set_flag("-gleam.progress=true"), GLEAM_OK);
    {
        gleam_options o = opts(2);
        o.progress = -1;
        err = progress_run(&o, &steps);
        CHECK(strstr(err, "steps done") == NULL);
        free(err);
    }
    err = progress_run(NULL, &steps);
    CHECK_HAS(err, "steps done");
    free(err);
}

/* >>flags ---------------------------------------------------------------------------------- */

static void test_bad_flags(void) {
    static const char *const cases[][3] = {
        {"-gleam.stats=maybe", "-gleam.stats", "\"maybe\""},
        {"-gleam.stats=", "-gleam.stats", "\"\""},
        {"-gleam.progress=2", "-gleam.progress", "\"2\""},
        {"--gleam.progress=yes", "-gleam.progress", "\"yes\""},
        {"-gleam.quiet=loud", "-gleam.quiet", "\"loud\""},
        {"-gleam.dot=", "-gleam.dot", "-gleam.dot"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (set_flag(cases[i][0]) != GLEAM_ERR_FLAG) th_failf(__FILE__, __LINE__, "%s was accepted", cases[i][0]);
        CHECK_HAS(gleam_error(NULL), cases[i][1]);
        CHECK_HAS(gleam_error(NULL), cases[i][2]);
        reset_flags();
    }
    {   /* -gleam.dot needs a value; at the end there is none */
        static const char *const args[] = {"prog", "x", "-gleam.dot"};
        char *av[4];
        int ac;
        CHECK_INT(th_init_args(args, 3, av, &ac), GLEAM_ERR_FLAG);
        CHECK_HAS(gleam_error(NULL), "-gleam.dot");
        CHECK_HAS(gleam_error(NULL), "needs a value");
    }
    {   /* -gleam.stats takes no separate value: the next argument stays the program's */
        static const char *const args[] = {"prog", "-gleam.stats", "false", "-gleam.quiet", "x"};
        char *av[6];
        int ac;
        CHECK_INT(th_init_args(args, 5, av, &ac), GLEAM_OK);
        CHECK_INT(ac, 3);
        if (ac == 3) {
            CHECK_STR(av[1], "false");
            CHECK_STR(av[2], "x");
        }
    }
    reset_flags();
    CHECK_INT(set_flag("-gleam.nosuchthing"), GLEAM_ERR_FLAG);
    CHECK_HAS(gleam_error(NULL), "-gleam.nosuchthing");
    CHECK_HAS(gleam_error(NULL), "-gleam.dot");
    CHECK_HAS(gleam_error(NULL), "-gleam.stats");
    CHECK_HAS(gleam_error(NULL), "-gleam.progress");
    CHECK_HAS(gleam_error(NULL), "-gleam.quiet");
    reset_flags();
    CHECK_STR(gleam_error(NULL), "");
}

/* >>dot ------------------------------------------------------------------------------------ */

#define JOIN_A 400
#define JOIN_B 500

/* Two sources, a join, printlnf into out: a flow with quotes, a newline and a backslash
   in its name, which DOT must escape. */
static gleam_flow *join_flow(const char *out, gleam_value *va, gleam_value *vb) {
    gleam_flow *f = gleam_flow_new("join \"a\"\nand \\b");
    gleam_dataset *a = gleam_from_values(f, va, JOIN_A, 2, 3);
    gleam_dataset *b = gleam_from_values(f, vb, JOIN_B, 2, 2);
    gleam_fprintlnf(gleam_join(gleam_map(a, "pass"), b), out, "%d\t%s\t%s");
    return f;
}

/* The number before " task group" in explain's first line, or -1. */
static int task_groups(const char *text) {
    const char *p = strstr(text, " task group"), *q;
    if (!p) return -1;
    for (q = p; q > text && q[-1] >= '0' && q[-1] <= '9'; q--) {}
    return q == p ? -1 : atoi(q);
}

/* Some line of text has all of a, b and c. */
static int line_with(const char *text, const char *a, const char *b, const char *c) {
    const char *p = text;
    while (p && *p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *line = (char *)malloc(len + 1);
        int ok;
        if (!line) exit(2);
        memcpy(line, p, len);
        line[len] = 0;
        ok = strstr(line, a) && strstr(line, b) && strstr(line, c);
        free(line);
        if (ok) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Check a DOT file of the join flow against explain's count of task groups; with
   run_dot, also that Graphviz reads it (when it is installed). */
static void check_dot(const char *dot, int groups, int nsteps, int run_dot) {
    char *text = th_read(dot, NULL), want[32];
    int i;
    CHECK(text != NULL);
    if (!text) return;
    CHECK(!strncmp(text, "digraph", 7));
    CHECK_INT(count_of(text, "subgraph cluster_"), groups);
    CHECK(line_with(text, "->", "join", "[left side]"));
    CHECK(line_with(text, "->", "join", "[right side]"));
    CHECK_INT(count_of(text, "[left side]"), 1);
    CHECK_INT(count_of(text, "[right side]"), 1);
    for (i = 1; i <= nsteps; i++) { /* each step is labelled with its number */
        snprintf(want, sizeof want, "label=\"%d: ", i);
        CHECK_HAS(text, want);
    }
    if (run_dot && access("/usr/bin/dot", X_OK) == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "/usr/bin/dot -Tsvg '%s' -o /dev/null 2>/dev/null", dot);
        CHECK_INT(system(cmd), 0);
    }
    free(text);
}

static void make_join_values(gleam_value **va, gleam_value **vb, long *matches) {
    static char sa[JOIN_A][16], sb[JOIN_B][16];
    int i, j;
    *va = (gleam_value *)malloc(2 * JOIN_A * sizeof **va);
    *vb = (gleam_value *)malloc(2 * JOIN_B * sizeof **vb);
    if (!*va || !*vb) exit(2);
    for (i = 0; i < JOIN_A; i++) {
        snprintf(sa[i], sizeof sa[i], "a%d", i);
        (*va)[2 * i] = gleam_int(i);
        (*va)[2 * i + 1] = gleam_str(sa[i]);
    }
    for (i = 0; i < JOIN_B; i++) {
        snprintf(sb[i], sizeof sb[i], "b%d", i);
        (*vb)[2 * i] = gleam_int((i * 3) % 600);
        (*vb)[2 * i + 1] = gleam_str(sb[i]);
    }
    *matches = 0;
    for (i = 0; i < JOIN_A; i++)
        for (j = 0; j < JOIN_B; j++) *matches += (*va)[2 * i].u.i == (*vb)[2 * j].u.i;
}

static void test_dot(void) {
    char *out = th_path_copy("joined.txt"), *dot = th_path_copy("plan.dot"), *text;
    gleam_value *va, *vb;
    long matches;
    int groups, nsteps = 5;
    gleam_result r;
    gleam_flow *f;
    make_join_values(&va, &vb, &matches);
    {   /* what explain says */
        gleam_options o = opts(2);
        o.explain = 1;
        f = join_flow(out, va, vb);
        text = run_capture(f, &o, &r);
        CHECK_INT(r, GLEAM_OK);
        groups = task_groups(text);
        CHECK(groups >= 3); /* two sources, the join's consumer */
        free(text);
        gleam_flow_free(f);
    }
    {
        gleam_options o = opts(2);
        o.dot = dot;
        f = join_flow(out, va, vb);
        CHECK_INT(gleam_run_with(f, &o), GLEAM_OK);
        check_common(f, nsteps, 2);
        text = th_read(out, NULL);
        CHECK(text != NULL); /* the job ran */
        if (text) CHECK_INT(lines_of(text), matches);
        free(text);
        if (gleam_stats_step(f, 4)) {
            CHECK_STR(gleam_stats_step(f, 4)->kind, "join");
            CHECK_INT(gleam_stats_step(f, 4)->rows_in, JOIN_A + JOIN_B);
            CHECK_INT(gleam_stats_step(f, 4)->rows_out, matches);
        }
        if (gleam_stats_step(f, 5)) {
            CHECK_STR(gleam_stats_step(f, 5)->kind, "printlnf");
            CHECK_INT(gleam_stats_step(f, 5)->rows_in, matches);
            CHECK_INT(gleam_stats_step(f, 5)->bytes, file_size(out));
        }
        gleam_flow_free(f);
        check_dot(dot, groups, nsteps, 1);
    }
    {   /* a DOT file that cannot be made: the run fails before it starts */
        gleam_options o = opts(2);
        char *bad = th_path_copy("no-such-dir/plan.dot"), *out2 = th_path_copy("never.txt");
        o.dot = bad;
        f = join_flow(out2, va, vb);
        CHECK_INT(gleam_run_with(f, &o), GLEAM_ERR_IO);
        CHECK_HAS(gleam_error(f), bad);
        CHECK(gleam_stats(f) == NULL);
        CHECK_INT(file_size(out2), -1);
        gleam_flow_free(f);
        free(bad);
        free(out2);
    }
    free(va);
    free(vb);
    free(out);
    free(dot);
}

/* -gleam.dot=FILE cannot be turned off again ("-gleam.dot=" is an error), so this runs
   last. */
static void test_dot_flag(void) {
    static char arg[600], path2[600]; /* the flag keeps pointing at its value */
    char *out = th_path_copy("joined2.txt"), *dot = th_path_copy("flag.dot"), *other = th_path_copy("option.dot"), *text;
    gleam_value *va, *vb;
    long matches;
    int groups;
    gleam_result r;
    gleam_flow *f;
    make_join_values(&va, &vb, &matches);
    snprintf(arg, sizeof arg, "-gleam.dot=%s", dot);
    snprintf(path2, sizeof path2, "%s", th_path("flag2.dot"));
    {
        gleam_options o = opts(2);
        o.explain = 1;
        f = join_flow(out, va, vb);
        text = run_capture(f, &o, &r);
        CHECK_INT(r, GLEAM_OK);
        groups = task_groups(text);
        free(text);
        gleam_flow_free(f);
    }
    CHECK_INT(set_flag(arg), GLEAM_OK);
    f = join_flow(out, va, vb);
    CHECK_INT(run_threads(f, 2), GLEAM_OK);
    CHECK_INT(file_size(out) > 0, 1);
    gleam_flow_free(f);
    check_dot(dot, groups, 5, 0);
    {   /* -gleam.dot FILE, the value as the next argument */
        static const char *args[] = {"prog", "-gleam.dot", path2, "x"};
        char *av[6];
        int ac;
        CHECK_INT(th_init_args(args, 4, av, &ac), GLEAM_OK);
        CHECK_INT(ac, 2);
        unlink(out);
        f = join_flow(out, va, vb);
        CHECK_INT(run_threads(f, 2), GLEAM_OK);
        CHECK_INT(file_size(out) > 0, 1);
        gleam_flow_free(f);
        check_dot(path2, groups, 5, 0);
    }
    {   /* the option wins over the flag */
        gleam_options o = opts(2);
        unlink(path2);
        unlink(out);
        o.dot = other;
        f = join_flow(out, va, vb);
        CHECK_INT(gleam_run_with(f, &o), GLEAM_OK);
        CHECK_INT(file_size(out) > 0, 1);
        CHECK_INT(file_size(path2), -1);
        gleam_flow_free(f);
        check_dot(other, groups, 5, 0);
    }
    free(va);
    free(vb);
    free(out);
    free(dot);
    free(other);
}

int main(void) {
    alarm(300); /* a hang fails the run instead of blocking it */
    if (gleam_register_mapper("words", words) || gleam_register_mapper("twice", twice) ||
        gleam_register_mapper("pass", pass) || gleam_register_reducer("sum", sum) ||
        gleam_register_source("gen", gen)) {
        fprintf(stderr, "register: %s\n", gleam_error(NULL));
        return 2;
    }
    TRUN(test_null_until_run);
    TRUN(test_rows_per_step);
    TRUN(test_two_outputs);
    TRUN(test_union_rows);
    TRUN(test_limit);
    TRUN(test_file_bytes);
    TRUN(test_more_bytes);
    TRUN(test_pipe_bytes);
    TRUN(test_peak_memory);
    TRUN(test_stats_flag);
    TRUN(test_progress);
    TRUN(test_bad_flags);
    TRUN(test_dot);
    TRUN(test_dot_flag); /* last: leaves -gleam.dot set */
    reset_flags();
    return th_done();
}
