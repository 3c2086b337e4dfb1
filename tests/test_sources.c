/* test_sources.c: reading files (text, CSV, TSV; shards, globs, pipes) checked against rows split by a plain reference loop. */
#include "gleam.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

/* >>rows: encoded rows and multisets of them ------------------------------------------ */

/* A growable byte buffer. */


/* A row encoded as "len:bytes" per field, so that rows compare as byte strings. */
typedef struct rec {
    char *p;
    size_t len;
} rec;
typedef struct recs {
    rec *v;
    size_t n, cap;
} recs;

static void recs_free(recs *r) {
    size_t i;
    for (i = 0; i < r->n; i++) free(r->v[i].p);
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* Add the row of nf fields f[i] (lens l[i]). */
static void recs_add(recs *r, const char *const *f, const size_t *l, int nf) {
    th_buf b = {0, 0, 0};
    int i;
    for (i = 0; i < nf; i++) {
        char num[32];
        snprintf(num, sizeof num, "%zu:", l[i]);
        th_buf_str(&b, num);
        th_buf_add(&b, f[i], l[i]);
    }
    if (!b.p) th_buf_add(&b, "", 0);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = (rec *)realloc(r->v, r->cap * sizeof *r->v);
        if (!r->v) exit(2);
    }
    r->v[r->n].p = b.p;
    r->v[r->n].len = b.len;
    r->n++;
}
static void recs_add1(recs *r, const char *p, size_t len) { recs_add(r, &p, &len, 1); }

static int rec_cmp(const void *a, const void *b) {
    const rec *x = (const rec *)a, *y = (const rec *)b;
    int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Print a row readably (escapes, cut to 60 bytes) into a static buffer. */
static const char *rec_show(const rec *r) {
    static char out[2][300];
    static int which;
    char *o = out[which ^= 1];
    size_t i, k = 0;
    for (i = 0; i < r->len && i < 60 && k + 8 < sizeof out[0]; i++) {
        unsigned char c = (unsigned char)r->p[i];
        if (c >= 32 && c < 127 && c != '\\') o[k++] = (char)c;
        else k += (size_t)snprintf(o + k, 8, "\\x%02x", c);
    }
    if (i < r->len) k += (size_t)snprintf(o + k, 16, "...(%zu)", r->len);
    o[k] = 0;
    return o;
}

/* got and want hold the same rows (in order when ordered, else as multisets). */
static void check_same(const char *file, int line, const char *what, recs *got, recs *want, int ordered) {
    size_t i;
    rec *g = got->v, *w = want->v;
    if (got->n != want->n) {
        th_failf(file, line, "%s: %zu rows, expected %zu", what, got->n, want->n);
        return;
    }
    if (!ordered && got->n) { /* sort copies: want stays in file order for later checks */
        g = (rec *)malloc(got->n * sizeof *g);
        w = (rec *)malloc(want->n * sizeof *w);
        if (!g || !w) exit(2);
        memcpy(g, got->v, got->n * sizeof *g);
        memcpy(w, want->v, want->n * sizeof *w);
        qsort(g, got->n, sizeof *g, rec_cmp);
        qsort(w, want->n, sizeof *w, rec_cmp);
    }
    for (i = 0; i < got->n; i++)
        if (rec_cmp(&g[i], &w[i])) {
            th_failf(file, line, "%s: row %zu (%s) is %s, expected %s", what, i, ordered ? "in order" : "sorted",
                     rec_show(&g[i]), rec_show(&w[i]));
            break;
        }
    if (g != got->v) free(g);
    if (w != want->v) free(w);
}

/* >>engine: read with gleam_read and collect ----------------------------------------- */

/* Read src with `threads` threads and collect the rows into *out. On failure the message
   goes into err. Every value must be bytes. */
static gleam_result read_rows(gleam_source_desc src, int threads, recs *out, char *err, size_t errcap) {
    gleam_flow *f = gleam_flow_new("read test");
    gleam_rows *rows = gleam_collect(gleam_read(f, src));
    gleam_options o;
    gleam_result r;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    r = gleam_run_with(f, &o);
    if (err) snprintf(err, errcap, "%s", gleam_error(f));
    if (r == GLEAM_OK) {
        size_t i, n = gleam_rows_count(rows);
        for (i = 0; i < n; i++) {
            int nf, k;
            const gleam_value *v = gleam_rows_get(rows, i, &nf);
            const char *fp[64];
            size_t fl[64];
            if (!v || nf < 0 || nf > 64) {
                r = GLEAM_ERR_INTERNAL;
                if (err) snprintf(err, errcap, "row %zu: bad row (%d fields)", i, nf);
                break;
            }
            for (k = 0; k < nf; k++) {
                if (v[k].type != GLEAM_BYTES) {
                    r = GLEAM_ERR_INTERNAL;
                    if (err) snprintf(err, errcap, "row %zu field %d has type %d, not bytes", i, k + 1, (int)v[k].type);
                    break;
                }
                fp[k] = v[k].len ? v[k].u.s : "";
                fl[k] = v[k].len;
            }
            if (r != GLEAM_OK) break;
            recs_add(out, fp, fl, nf);
        }
    }
    gleam_flow_free(f);
    return r;
}

/* Read src and compare with want (ordered: exact order). */
static void check_read(const char *file, int line, const char *what, gleam_source_desc src, int threads, recs *want,
                       int ordered) {
    recs got = {0, 0, 0};
    char err[1024];
    gleam_result r = read_rows(src, threads, &got, err, sizeof err);
    if (r != GLEAM_OK) th_failf(file, line, "%s (%d shards, %d threads): result %d: %s", what, src.shards, threads, (int)r, err);
    else {
        char label[300];
        snprintf(label, sizeof label, "%s (%d shards, %d threads)", what, src.shards, threads);
        check_same(file, line, label, &got, want, ordered);
    }
    recs_free(&got);
}
#define CHECK_READ(what, src, threads, want, ordered) check_read(__FILE__, __LINE__, what, src, threads, want, ordered)

/* >>reference: splitting bytes with plain loops --------------------------------------- */

/* Text: one row per '\n'-ended piece, plus a last piece without '\n' if not empty. */
static void ref_text(const char *d, size_t n, recs *out) {
    size_t s = 0, i;
    for (i = 0; i < n; i++)
        if (d[i] == '\n') {
            recs_add1(out, d + s, i - s);
            s = i + 1;
        }
    if (s < n) recs_add1(out, d + s, n - s);
}

/* TSV: lines as text, a trailing '\r' dropped, fields split on tabs; header skips line 1. */
static void ref_tsv(const char *d, size_t n, int header, recs *out) {
    size_t s = 0, i;
    int lineno = 0;
    for (i = 0; i <= n; i++) {
        if (i < n && d[i] != '\n') continue;
        if (i == n && s == n) break;
        {
            size_t end = i, a = s, k;
            const char *fp[64];
            size_t fl[64];
            int nf = 0;
            if (end > s && d[end - 1] == '\r') end--;
            for (k = s; k <= end; k++)
                if (k == end || d[k] == '\t') {
                    fp[nf] = d + a;
                    fl[nf++] = k - a;
                    a = k + 1;
                }
            if (!(header && lineno == 0)) recs_add(out, fp, fl, nf);
        }
        lineno++;
        s = i + 1;
    }
}

/* CSV, RFC 4180, one character at a time: quoted fields ("" is a quote inside), a '\r'
   before a record's '\n' dropped, blank lines skipped; header skips the first record.
   The input must be well formed. */
static void ref_csv(const char *d, size_t n, char delim, int header, recs *out) {
    size_t pos = 0;
    int nrec = 0;
    th_buf fields[64];
    memset(fields, 0, sizeof fields);
    while (pos < n) {
        int nf = 0, k;
        if (d[pos] == '\n') {
            pos++;
            continue;
        }
        if (d[pos] == '\r' && pos + 1 < n && d[pos + 1] == '\n') {
            pos += 2;
            continue;
        }
        for (;;) {
            th_buf *fb = &fields[nf++];
            fb->len = 0;
            th_buf_add(fb, "", 0);
            if (pos < n && d[pos] == '"') {
                pos++;
                for (;;) {
                    if (pos >= n) break; /* not well formed: never generated */
                    if (d[pos] == '"') {
                        if (pos + 1 < n && d[pos + 1] == '"') {
                            th_buf_ch(fb, '"');
                            pos += 2;
                            continue;
                        }
                        pos++;
                        break;
                    }
                    th_buf_ch(fb, d[pos++]);
                }
                if (pos + 1 < n && d[pos] == '\r' && d[pos + 1] == '\n') pos++;
            } else {
                while (pos < n && d[pos] != delim && d[pos] != '\n') th_buf_ch(fb, d[pos++]);
                if (pos < n && d[pos] == '\n' && fb->len > 0 && fb->p[fb->len - 1] == '\r') fb->p[--fb->len] = 0;
            }
            if (pos < n && d[pos] == delim) {
                pos++;
                continue;
            }
            if (pos < n) pos++; /* the '\n' */
            break;
        }
        if (!(header && nrec == 0)) {
            const char *fp[64];
            size_t fl[64];
            for (k = 0; k < nf; k++) {
                fp[k] = fields[k].p;
                fl[k] = fields[k].len;
            }
            recs_add(out, fp, fl, nf);
        }
        nrec++;
    }
    for (nrec = 0; nrec < 64; nrec++) free(fields[nrec].p);
}

/* Build a list of expected rows from fields given as strings (a NULL ends a row, two end
   the list): for small hand-written cases. */
static void rows_of(recs *out, const char *const *cells) {
    while (*cells) {
        const char *fp[64];
        size_t fl[64];
        int nf = 0;
        for (; *cells; cells++) {
            fp[nf] = *cells;
            fl[nf++] = strlen(*cells);
        }
        recs_add(out, fp, fl, nf);
        cells++;
    }
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) { /* xorshift64 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static size_t rnd_to(size_t n) { return (size_t)(rnd() % n); }

static gleam_source_desc desc(const char *path, gleam_format fmt, int shards) {
    gleam_source_desc d;
    memset(&d, 0, sizeof d);
    d.path = path;
    d.format = fmt;
    d.shards = shards;
    return d;
}

/* >>text ------------------------------------------------------------------------------ */

static void test_text_final_newline(void) {
    static const char with[] = "alpha\nbeta\n\ngamma delta\n", without[] = "alpha\nbeta\n\ngamma delta";
    const char *pw = th_write("with.txt", with, sizeof with - 1);
    char pwo[512];
    recs want = {0, 0, 0};
    static const char *const cells[] = {"alpha", NULL, "beta", NULL, "", NULL, "gamma delta", NULL, NULL};
    int sh;
    snprintf(pwo, sizeof pwo, "%s", th_write("without.txt", without, sizeof without - 1));
    rows_of(&want, cells); /* both files have the same four lines */
    CHECK_READ("final newline", gleam_txt(pw, 1), 1, &want, 1);
    CHECK_READ("no final newline", gleam_txt(pwo, 1), 1, &want, 1);
    CHECK_READ("default format is text", desc(pwo, GLEAM_FORMAT_DEFAULT, 3), 2, &want, 0);
    for (sh = 2; sh <= 9; sh++) {
        CHECK_READ("final newline", gleam_txt(pw, sh), 1 + sh % 3, &want, 0);
        CHECK_READ("no final newline", gleam_txt(pwo, sh), 1 + sh % 3, &want, 0);
    }
    recs_free(&want);
    {   /* a one-line file without '\n', and a file of just "\n" */
        static const char *const one[] = {"x", NULL, NULL}, *const blank[] = {"", NULL, NULL};
        const char *p1 = th_write("one.txt", "x", 1);
        rows_of(&want, one);
        CHECK_READ("one byte", gleam_txt(p1, 1), 1, &want, 1);
        CHECK_READ("one byte", gleam_txt(p1, 4), 2, &want, 1);
        recs_free(&want);
        p1 = th_write("nl.txt", "\n", 1);
        rows_of(&want, blank);
        CHECK_READ("just a newline", gleam_txt(p1, 1), 1, &want, 1);
        CHECK_READ("just a newline", gleam_txt(p1, 5), 2, &want, 1);
        recs_free(&want);
    }
}

static void test_crlf(void) {
    static const char txt[] = "a\r\nbb\r\n\r\nc\r\nlast";
    static const char csv[] = "a,b\r\n\"q,1\",\"x\r\ny\"\r\n\r\nc,\r\nd,\"e\"\r\n";
    static const char tsv[] = "a\tb\r\n\tc\r\nd\t\r\n";
    static const char *const want_txt[] = {"a\r", NULL, "bb\r", NULL, "\r", NULL, "c\r", NULL, "last", NULL, NULL};
    static const char *const want_csv[] = {"a", "b", NULL, "q,1", "x\r\ny", NULL, "c", "", NULL, "d", "e", NULL, NULL};
    static const char *const want_tsv[] = {"a", "b", NULL, "", "c", NULL, "d", "", NULL, NULL};
    const char *p;
    recs want = {0, 0, 0}, ref = {0, 0, 0};
    int sh;

    /* text keeps the '\r' (as cat, wc and sort do); the reference loop agrees */
    p = th_write("crlf.txt", txt, sizeof txt - 1);
    rows_of(&want, want_txt);
    ref_text(txt, sizeof txt - 1, &ref);
    check_same(__FILE__, __LINE__, "reference text split", &ref, &want, 1);
    for (sh = 1; sh <= 6; sh++) CHECK_READ("CRLF text", gleam_txt(p, sh), 2, &want, sh == 1);
    recs_free(&want);
    recs_free(&ref);

    p = th_write("crlf.csv", csv, sizeof csv - 1);
    rows_of(&want, want_csv);
    ref_csv(csv, sizeof csv - 1, ',', 0, &ref);
    check_same(__FILE__, __LINE__, "reference CSV parse", &ref, &want, 1);
    for (sh = 1; sh <= 6; sh++) CHECK_READ("CRLF CSV", gleam_csv(p, sh), 2, &want, sh == 1);
    recs_free(&want);
    recs_free(&ref);

    p = th_write("crlf.tsv", tsv, sizeof tsv - 1);
    rows_of(&want, want_tsv);
    ref_tsv(tsv, sizeof tsv - 1, 0, &ref);
    check_same(__FILE__, __LINE__, "reference TSV split", &ref, &want, 1);
    for (sh = 1; sh <= 6; sh++) CHECK_READ("CRLF TSV", gleam_tsv(p, sh), 2, &want, sh == 1);
    recs_free(&want);
    recs_free(&ref);
}

static void test_empty_file(void) {
    const char *p = th_write("empty.txt", "", 0);
    recs none = {0, 0, 0};
    int sh;
    for (sh = 1; sh <= 5; sh++) {
        gleam_source_desc d = gleam_csv(p, sh);
        CHECK_READ("empty text", gleam_txt(p, sh), 2, &none, 1);
        CHECK_READ("empty CSV", d, 2, &none, 1);
        d.header = 1;
        CHECK_READ("empty CSV with header", d, 2, &none, 1);
        CHECK_READ("empty TSV", gleam_tsv(p, sh), 2, &none, 1);
    }
}

static void test_empty_lines(void) {
    th_buf b = {0, 0, 0};
    recs want = {0, 0, 0};
    const char *p;
    int i, sh;
    for (i = 0; i < 3000; i++) {
        int k = (int)rnd_to(5);
        if (k < 2) th_buf_ch(&b, '\n'); /* runs of empty lines */
        else {
            char line[32];
            snprintf(line, sizeof line, "L%d\n", i % 97);
            th_buf_str(&b, line);
        }
    }
    th_buf_str(&b, "\n\n\n");
    p = th_write("empties.txt", b.p, b.len);
    ref_text(b.p, b.len, &want);
    CHECK_READ("empty lines", gleam_txt(p, 1), 1, &want, 1);
    for (sh = 2; sh <= 13; sh += 1) CHECK_READ("empty lines", gleam_txt(p, sh), 1 + sh % 4, &want, 0);
    recs_free(&want);
    {   /* only newlines: each is an empty row, whatever the shard count */
        p = th_write("newlines.txt", "\n\n\n\n\n\n\n", 7);
        ref_text("\n\n\n\n\n\n\n", 7, &want);
        CHECK_INT(want.n, 7);
        for (sh = 1; sh <= 17; sh++) CHECK_READ("only newlines", gleam_txt(p, sh), 1 + sh % 3, &want, 0);
        recs_free(&want);
    }
    free(b.p);
}

/* A line of n bytes, none a '\n', its bytes depending on seed. */
static void add_line_bytes(th_buf *b, size_t n, unsigned seed) {
    size_t i, at = b->len;
    th_buf_add(b, NULL, 0);
    if (b->cap - b->len < n + 2) {
        b->cap = b->len + n + 2;
        b->p = (char *)realloc(b->p, b->cap);
        if (!b->p) exit(2);
    }
    for (i = 0; i < n; i++) {
        char c = (char)('a' + (i * 7 + seed) % 26);
        b->p[at + i] = c;
    }
    b->len = at + n;
    b->p[b->len] = 0;
}

static void test_long_line(void) {
    th_buf b = {0, 0, 0};
    recs want = {0, 0, 0};
    const char *p;
    static const int shards[] = {1, 2, 3, 5};
    size_t i;
    th_buf_str(&b, "first\n");
    add_line_bytes(&b, 10u << 20, 1); /* 10 MB */
    th_buf_str(&b, "\nmiddle\n");
    add_line_bytes(&b, (3u << 20) + 17, 2); /* the last line, no '\n' */
    p = th_write("long.txt", b.p, b.len);
    ref_text(b.p, b.len, &want);
    CHECK_INT(want.n, 4);
    for (i = 0; i < sizeof shards / sizeof *shards; i++)
        CHECK_READ("10 MB line", gleam_txt(p, shards[i]), 2, &want, shards[i] == 1);
    recs_free(&want);
    free(b.p);
}

/* Lines ending right before, at and after the reader's 1 MB (and 2 MB) buffer sizes, and
   random lengths so that lines cross the buffer's end from every segment start. */
static void test_buffer_boundary(void) {
    static const long delta[] = {-2, -1, 0, 1, 2};
    recs want = {0, 0, 0};
    th_buf b = {0, 0, 0};
    size_t i;
    for (i = 0; i < sizeof delta / sizeof *delta; i++) {
        const char *p;
        char name[32];
        b.len = 0;
        /* the first line's '\n' lands at 1 MB + delta; then lines to cross 2 MB the same way */
        add_line_bytes(&b, (size_t)((1L << 20) + delta[i] - 1), 3);
        th_buf_ch(&b, '\n');
        add_line_bytes(&b, 100, 4);
        th_buf_ch(&b, '\n');
        add_line_bytes(&b, (size_t)((2L << 20) + delta[i] - 1) - b.len, 5);
        th_buf_ch(&b, '\n');
        th_buf_str(&b, "tail\n");
        snprintf(name, sizeof name, "edge%zu.txt", i);
        p = th_write(name, b.p, b.len);
        ref_text(b.p, b.len, &want);
        CHECK_READ("line at 1 MB", gleam_txt(p, 1), 1, &want, 1);
        CHECK_READ("line at 1 MB", gleam_txt(p, 2), 2, &want, 0);
        recs_free(&want);
    }
    {
        const char *p;
        int sh;
        b.len = 0;
        while (b.len < (3u << 20) + 500000) {
            size_t n = rnd_to(8) == 0 ? rnd_to(200000) : rnd_to(3000);
            add_line_bytes(&b, n, (unsigned)b.len);
            th_buf_ch(&b, '\n');
        }
        p = th_write("random-lengths.txt", b.p, b.len);
        ref_text(b.p, b.len, &want);
        CHECK_READ("random lengths", gleam_txt(p, 1), 1, &want, 1);
        for (sh = 2; sh <= 7; sh++) CHECK_READ("random lengths", gleam_txt(p, sh), 1 + sh % 3, &want, 0);
        recs_free(&want);
    }
    free(b.p);
}

static void test_binary_bytes(void) {
    static const char data[] = "a\0b\n\xff\xfe\xff\n\0\n\0\0\0\n\n\xff\nmid\0dle\r\n\x01\x7f\x80\n\xff";
    size_t n = sizeof data - 1;
    recs want = {0, 0, 0};
    const char *p = th_write("binary.txt", data, n);
    int sh;
    ref_text(data, n, &want);
    CHECK_INT(want.n, 9);
    CHECK_READ("NUL and 0xff", gleam_txt(p, 1), 1, &want, 1);
    for (sh = 2; sh <= 10; sh++) CHECK_READ("NUL and 0xff", gleam_txt(p, sh), 2, &want, 0);
    recs_free(&want);
    /* as TSV: fields with NUL and 0xff bytes */
    {
        static const char t[] = "\0\t\xff\n\xff\xff\t\0x\0\t\n";
        const char *pt = th_write("binary.tsv", t, sizeof t - 1);
        ref_tsv(t, sizeof t - 1, 0, &want);
        CHECK_INT(want.n, 2);
        for (sh = 1; sh <= 4; sh++) CHECK_READ("NUL and 0xff TSV", gleam_tsv(pt, sh), 2, &want, sh == 1);
        recs_free(&want);
    }
}

/* Every shard count from 1 to 17 reads the same multiset of lines. */
static void test_every_shard_count(void) {
    th_buf dup = {0, 0, 0}, uniq = {0, 0, 0};
    recs want_dup = {0, 0, 0}, want_uniq = {0, 0, 0};
    const char *pd, *pu;
    char pdup[512];
    int i, sh;
    for (i = 0; i < 20000; i++) { /* many equal lines, lengths from 0 to ~60 */
        char line[80];
        int k = (int)rnd_to(101), len = snprintf(line, sizeof line, "w%d", k);
        if (k % 7 == 0) len = 0;
        memset(line + len, '.', (size_t)(k % 50));
        line[len + k % 50] = '\n';
        th_buf_add(&dup, line, (size_t)(len + k % 50 + 1));
    }
    th_buf_str(&dup, "no newline at the end");
    for (i = 0; i < 15000; i++) { /* every line different */
        char line[80];
        int len = snprintf(line, sizeof line, "line %d %.*s\n", i, (int)(i * 13 % 40), "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH");
        th_buf_add(&uniq, line, (size_t)len);
    }
    pd = th_write("dups.txt", dup.p, dup.len);
    snprintf(pdup, sizeof pdup, "%s", pd);
    pu = th_write("uniq.txt", uniq.p, uniq.len);
    ref_text(dup.p, dup.len, &want_dup);
    ref_text(uniq.p, uniq.len, &want_uniq);
    CHECK_INT(want_uniq.n, 15000);
    for (sh = 1; sh <= 17; sh++) {
        recs got = {0, 0, 0};
        char err[512];
        size_t k;
        int threads = 1 + sh % 4;
        CHECK_READ("duplicate lines", gleam_txt(pdup, sh), threads, &want_dup, sh == 1);
        /* distinct lines: each exactly once */
        if (read_rows(gleam_txt(pu, sh), threads, &got, err, sizeof err) != GLEAM_OK) {
            th_failf(__FILE__, __LINE__, "distinct lines, %d shards: %s", sh, err);
            continue;
        }
        CHECK_INT(got.n, 15000);
        qsort(got.v, got.n, sizeof *got.v, rec_cmp);
        for (k = 1; k < got.n; k++)
            if (!rec_cmp(&got.v[k - 1], &got.v[k])) {
                th_failf(__FILE__, __LINE__, "%d shards: line %s read twice", sh, rec_show(&got.v[k]));
                break;
            }
        check_same(__FILE__, __LINE__, "distinct lines", &got, &want_uniq, 0);
        recs_free(&got);
    }
    recs_free(&want_dup);
    recs_free(&want_uniq);
    free(dup.p);
    free(uniq.p);
}

/* >>pieces: a shard that is done reads what a slow shard has not begun -------------------- */

static int piece_rows[2]; /* rows each shard's mapper saw, under piece_mu */
static pthread_mutex_t piece_mu = PTHREAD_MUTEX_INITIALIZER;

static int piece_count(int sh) {
    int n;
    pthread_mutex_lock(&piece_mu);
    n = piece_rows[sh];
    pthread_mutex_unlock(&piece_mu);
    return n;
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Shard 1 waits at its first row until shard 0 has one (so both have begun); shard 0 then
   holds that row until shard 1 has seen no new row for a second (at most 20 s): shard 1 has
   read all it could by then, its own pieces and those shard 0 had not taken. */
static gleam_result slow_shard0(gleam_ctx *c, const gleam_value *row, int n) {
    int sh = gleam_ctx_shard(c);
    struct timespec nap = {0, 5000000};
    if (sh == 1 && piece_count(1) == 0) {
        long start = now_ms();
        while (piece_count(0) == 0 && now_ms() - start < 20000) nanosleep(&nap, NULL);
    }
    if (sh == 0 && piece_count(0) == 0) {
        long start = now_ms(), quiet = start;
        int seen;
        pthread_mutex_lock(&piece_mu);
        piece_rows[0] = 1; /* shard 1 may go on */
        pthread_mutex_unlock(&piece_mu);
        seen = piece_count(1);
        while (now_ms() - quiet < 1000 && now_ms() - start < 20000) {
            nanosleep(&nap, NULL);
            if (piece_count(1) != seen) {
                seen = piece_count(1);
                quiet = now_ms();
            }
        }
        return gleam_emit(c, row, n); /* counted above */
    }
    pthread_mutex_lock(&piece_mu);
    piece_rows[sh]++;
    pthread_mutex_unlock(&piece_mu);
    return gleam_emit(c, row, n);
}

static void test_pieces_balance(void) {
    th_buf text = {0, 0, 0};
    recs want = {0, 0, 0}, got = {0, 0, 0};
    const char *p;
    gleam_flow *f;
    gleam_rows *rows;
    gleam_options o;
    int i;
    for (i = 0; i < 220000; i++) { /* 19 MB: two shards of three pieces each */
        char line[128];
        int len = snprintf(line, sizeof line, "line %d %.*s\n", i, 60 + i % 30,
                           "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
        th_buf_add(&text, line, (size_t)len);
    }
    p = th_write("pieces.txt", text.p, text.len);
    ref_text(text.p, text.len, &want);
    gleam_register_mapper("slowShard0", slow_shard0);
    piece_rows[0] = piece_rows[1] = 0;
    f = gleam_flow_new("pieces");
    rows = gleam_collect(gleam_map(gleam_read(f, gleam_txt(p, 2)), "slowShard0"));
    memset(&o, 0, sizeof o);
    o.threads = 2;
    CHECK_INT(gleam_run_with(f, &o), GLEAM_OK);
    for (i = 0; i < (int)gleam_rows_count(rows); i++) {
        int nf;
        const gleam_value *v = gleam_rows_get(rows, (size_t)i, &nf);
        if (v && nf == 1) recs_add1(&got, v[0].len ? v[0].u.s : "", v[0].len);
    }
    check_same(__FILE__, __LINE__, "pieces, one shard held", &got, &want, 0); /* each line once */
    CHECK_INT(piece_rows[0] + piece_rows[1], 220000);
    CHECK(piece_rows[1] > 2 * piece_rows[0]); /* shard 1 read five pieces of six */
    gleam_flow_free(f);
    recs_free(&want);
    recs_free(&got);
    free(text.p);
}

/* >>several files ---------------------------------------------------------------------- */

static void test_several_files(void) {
    static const char a[] = "a1\na2\na3\n", b[] = "b1\nb2 without newline", c[] = "", d[] = "d1\r\n\nd3\n";
    char pa[512], pb[512], pc[512], pdd[512];
    const char *paths[3];
    recs want = {0, 0, 0};
    int sh;
    snprintf(pa, sizeof pa, "%s", th_write("multi-a.txt", a, sizeof a - 1));
    snprintf(pb, sizeof pb, "%s", th_write("multi-b.txt", b, sizeof b - 1));
    snprintf(pc, sizeof pc, "%s", th_write("multi-c.txt", c, sizeof c - 1));
    snprintf(pdd, sizeof pdd, "%s", th_write("multi-d.txt", d, sizeof d - 1));
    /* b's last line must not run into the next file */
    ref_text(b, sizeof b - 1, &want);
    ref_text(c, sizeof c - 1, &want);
    ref_text(d, sizeof d - 1, &want);
    ref_text(a, sizeof a - 1, &want);
    CHECK_INT(want.n, 8);
    paths[0] = pb;
    paths[1] = pc;
    paths[2] = pdd;
    for (sh = 1; sh <= 9; sh++) {
        gleam_source_desc s = desc(pa, GLEAM_FORMAT_TEXT, sh); /* path and paths together */
        s.paths = paths;
        s.npaths = 3;
        CHECK_READ("path + paths", s, 1 + sh % 3, &want, 0);
    }
    recs_free(&want);
    {   /* paths only, a file twice: read twice */
        const char *twice[3];
        twice[0] = pa;
        twice[1] = pb;
        twice[2] = pa;
        ref_text(a, sizeof a - 1, &want);
        ref_text(b, sizeof b - 1, &want);
        ref_text(a, sizeof a - 1, &want);
        for (sh = 1; sh <= 5; sh++) {
            gleam_source_desc s = desc(NULL, GLEAM_FORMAT_TEXT, sh);
            s.paths = twice;
            s.npaths = 3;
            CHECK_READ("paths, one file twice", s, 2, &want, 0);
        }
        recs_free(&want);
    }
}

static void test_glob(void) {
    static const char *const parts[] = {"one\ntwo\n", "three\nfour", "five\n\nsix\n"};
    char dir[512], pat[600];
    recs want = {0, 0, 0};
    int i, sh;
    snprintf(dir, sizeof dir, "%s", th_path("globdir"));
    CHECK(mkdir(dir, 0700) == 0);
    for (i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "globdir/part-%d.txt", i + 1);
        th_write(name, parts[i], strlen(parts[i]));
        ref_text(parts[i], strlen(parts[i]), &want);
    }
    th_write("globdir/other.log", "not me\n", 7);
    th_write("globdir/part-9.csv", "nor me\n", 7);
    snprintf(pat, sizeof pat, "%s/part-*.txt", dir);
    for (sh = 1; sh <= 6; sh++) CHECK_READ("glob", gleam_txt(pat, sh), 2, &want, 0);
    /* files in glob order (sorted) with one shard: in order */
    CHECK_READ("glob in order", gleam_txt(pat, 1), 1, &want, 1);
    recs_free(&want);
    snprintf(pat, sizeof pat, "%s/part-[13].txt", dir);
    ref_text(parts[0], strlen(parts[0]), &want);
    ref_text(parts[2], strlen(parts[2]), &want);
    CHECK_READ("glob with a class", gleam_txt(pat, 3), 2, &want, 0);
    recs_free(&want);
}

/* >>not regular files ------------------------------------------------------------------ */

typedef struct fifo_job {
    const char *path;
    const char *data;
    size_t len;
    int write_err;          /* errno of a failed open or write */
    size_t written;
    pthread_mutex_t mu;
    int done;               /* the read has returned */
    int rescued;            /* the watchdog had to unblock the reader */
} fifo_job;

/* The usual producer: open the pipe, write everything, close it. */
static void *fifo_writer(void *arg) {
    fifo_job *j = (fifo_job *)arg;
    int fd = open(j->path, O_WRONLY);
    size_t at = 0;
    if (fd < 0) {
        j->write_err = errno;
        return NULL;
    }
    while (at < j->len) {
        size_t chunk = j->len - at < 4096 ? j->len - at : 4096;
        ssize_t w = write(fd, j->data + at, chunk);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            j->write_err = w < 0 ? errno : EIO;
            break;
        }
        at += (size_t)w;
    }
    j->written = at;
    close(fd);
    return NULL;
}

/* If the read is still blocked after a few seconds, open and close the pipe's write end
   (non-blocking, so it never waits) until the reader sees the end: a failure, not a hang. */
static void *fifo_watchdog(void *arg) {
    fifo_job *j = (fifo_job *)arg;
    int waited = 0;
    for (;;) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        int done;
        pthread_mutex_lock(&j->mu);
        done = j->done;
        pthread_mutex_unlock(&j->mu);
        if (done) return NULL;
        nanosleep(&ts, NULL);
        if (++waited >= 60) { /* 3 s */
            int fd = open(j->path, O_WRONLY | O_NONBLOCK);
            if (fd >= 0) {
                pthread_mutex_lock(&j->mu);
                j->rescued = 1;
                pthread_mutex_unlock(&j->mu);
                close(fd);
            }
            waited = 50;
        }
    }
}

static void fifo_case(const char *name, gleam_format fmt, const char *data, size_t len, int shards) {
    fifo_job j;
    pthread_t w, dog;
    recs got = {0, 0, 0}, want = {0, 0, 0};
    char err[512];
    gleam_result r;
    memset(&j, 0, sizeof j);
    j.path = th_path(name);
    j.data = data;
    j.len = len;
    pthread_mutex_init(&j.mu, NULL);
    if (mkfifo(j.path, 0600)) {
        th_failf(__FILE__, __LINE__, "mkfifo %s: %s", j.path, strerror(errno));
        return;
    }
    if (fmt == GLEAM_FORMAT_CSV) ref_csv(data, len, ',', 0, &want);
    else ref_text(data, len, &want);
    pthread_create(&w, NULL, fifo_writer, &j);
    pthread_create(&dog, NULL, fifo_watchdog, &j);
    r = read_rows(desc(j.path, fmt, shards), 2, &got, err, sizeof err);
    pthread_mutex_lock(&j.mu);
    j.done = 1;
    pthread_mutex_unlock(&j.mu);
    pthread_join(dog, NULL);
    pthread_join(w, NULL);
    if (j.rescued) { /* the reader was stuck: the writer has long finished */
        th_failf(__FILE__, __LINE__, "%s: the read blocked on the pipe after the writer %s (%zu of %zu bytes written%s%s)",
                 name, j.write_err ? "failed" : "closed it", j.written, len, j.write_err ? ": " : "",
                 j.write_err ? strerror(j.write_err) : "");
    }
    CHECK_INT(j.write_err, 0);
    CHECK_INT(j.written, len);
    if (r != GLEAM_OK) th_failf(__FILE__, __LINE__, "%s: result %d: %s", name, (int)r, err);
    else check_same(__FILE__, __LINE__, name, &got, &want, 1);
    recs_free(&got);
    recs_free(&want);
    pthread_mutex_destroy(&j.mu);
    unlink(j.path);
}

static void test_named_pipe(void) {
    th_buf b = {0, 0, 0};
    int i;
    /* small: one write, well under the pipe's buffer */
    fifo_case("small.fifo", GLEAM_FORMAT_TEXT, "p1\np2\n\np4", 9, 1);
    /* bigger than the pipe's buffer, several shards (a stream is read whole by one) */
    for (i = 0; i < 40000; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "pipe line %d\n", i);
        th_buf_add(&b, line, (size_t)n);
    }
    fifo_case("big.fifo", GLEAM_FORMAT_TEXT, b.p, b.len, 3);
    fifo_case("csv.fifo", GLEAM_FORMAT_CSV, "a,\"b\nc\"\nd,e\n", 13, 2);
    free(b.p);
}

typedef struct pipe_job {
    int fd;
    const char *data;
    size_t len;
} pipe_job;

static void *pipe_writer(void *arg) {
    pipe_job *j = (pipe_job *)arg;
    size_t at = 0;
    while (at < j->len) {
        ssize_t w = write(j->fd, j->data + at, j->len - at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        at += (size_t)w;
    }
    close(j->fd);
    return NULL;
}

/* An anonymous pipe opened by its /dev/fd name, as a shell's <(command) passes it. */
static void test_anonymous_pipe(void) {
    th_buf b = {0, 0, 0};
    recs got = {0, 0, 0}, want = {0, 0, 0};
    pipe_job j;
    pthread_t w;
    char name[64], err[512];
    int fds[2], i;
    gleam_result r;
    for (i = 0; i < 30000; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "%d,\"anon\n%d\"\n", i, i * 7);
        th_buf_add(&b, line, (size_t)n);
    }
    if (pipe(fds)) {
        th_failf(__FILE__, __LINE__, "pipe: %s", strerror(errno));
        free(b.p);
        return;
    }
    snprintf(name, sizeof name, "/dev/fd/%d", fds[0]);
    j.fd = fds[1];
    j.data = b.p;
    j.len = b.len;
    ref_csv(b.p, b.len, ',', 0, &want);
    CHECK_INT(want.n, 30000);
    pthread_create(&w, NULL, pipe_writer, &j);
    r = read_rows(gleam_csv(name, 3), 2, &got, err, sizeof err);
    pthread_join(w, NULL);
    close(fds[0]);
    if (r != GLEAM_OK) th_failf(__FILE__, __LINE__, "%s: result %d: %s", name, (int)r, err);
    else check_same(__FILE__, __LINE__, "anonymous pipe", &got, &want, 1);
    recs_free(&got);
    recs_free(&want);
    free(b.p);
}

static void test_dev_null(void) {
    recs none = {0, 0, 0};
    CHECK_READ("/dev/null text", gleam_txt("/dev/null", 1), 1, &none, 1);
    CHECK_READ("/dev/null text", gleam_txt("/dev/null", 4), 2, &none, 1);
    CHECK_READ("/dev/null CSV", gleam_csv("/dev/null", 3), 2, &none, 1);
    {   /* a stream next to a regular file */
        static const char a[] = "r1\nr2\n";
        const char *paths[2];
        char pa[512];
        recs want = {0, 0, 0};
        gleam_source_desc s = desc(NULL, GLEAM_FORMAT_TEXT, 3);
        snprintf(pa, sizeof pa, "%s", th_write("beside-null.txt", a, sizeof a - 1));
        paths[0] = "/dev/null";
        paths[1] = pa;
        s.paths = paths;
        s.npaths = 2;
        ref_text(a, sizeof a - 1, &want);
        CHECK_READ("/dev/null and a file", s, 2, &want, 0);
        recs_free(&want);
    }
}

/* >>CSV -------------------------------------------------------------------------------- */

/* Hand-written RFC 4180 cases and what the RFC says they hold. */
static void test_csv_rfc4180(void) {
    static const char data[] =
        "plain,\"with, comma\",\"say \"\"hi\"\"\"\n"   /* quoted comma, doubled quotes */
        "\"multi\nline\nfield\",x\n"                    /* newlines inside quotes */
        ",,\n"                                          /* three empty fields */
        "a,b,\n"                                        /* trailing empty field */
        "\"\",\"\"\"\",\"\"\"\"\"\"\"\"\"\"\n"          /* "" -> empty, """" -> ", """""""""" -> 4 quotes */
        "one\n"
        "\"q\"\n"
        "\"ends with newline\n\",\"\",last";            /* no final newline */
    static const char *const want_cells[] = {
        "plain", "with, comma", "say \"hi\"", NULL,
        "multi\nline\nfield", "x", NULL,
        "", "", "", NULL,
        "a", "b", "", NULL,
        "", "\"", "\"\"\"\"", NULL,
        "one", NULL,
        "q", NULL,
        "ends with newline\n", "", "last", NULL,
        NULL};
    const char *p = th_write("rfc.csv", data, sizeof data - 1);
    recs want = {0, 0, 0}, ref = {0, 0, 0};
    int sh;
    rows_of(&want, want_cells);
    ref_csv(data, sizeof data - 1, ',', 0, &ref);
    check_same(__FILE__, __LINE__, "reference parser on the RFC cases", &ref, &want, 1);
    CHECK_READ("RFC 4180", gleam_csv(p, 1), 1, &want, 1);
    for (sh = 2; sh <= 17; sh++) CHECK_READ("RFC 4180", gleam_csv(p, sh), 1 + sh % 3, &want, 0);
    recs_free(&want);
    recs_free(&ref);
}

static void test_csv_header(void) {
    static const char a[] = "name,age\nann,31\n\"name\",\"age\"\nbob,\"4\n2\"\n";
    static const char b[] = "\"name\",\"age\"\r\ncid,7\r\nname,age\r\n";
    static const char c[] = "name,age"; /* a header only */
    char pa[512], pb[512], pc[512];
    const char *paths[3];
    recs want = {0, 0, 0};
    static const char *const cells[] = {"ann", "31", NULL, "name", "age", NULL, "bob", "4\n2", NULL,
                                        "cid", "7", NULL, "name", "age", NULL, NULL};
    int sh;
    snprintf(pa, sizeof pa, "%s", th_write("hdr-a.csv", a, sizeof a - 1));
    snprintf(pb, sizeof pb, "%s", th_write("hdr-b.csv", b, sizeof b - 1));
    snprintf(pc, sizeof pc, "%s", th_write("hdr-c.csv", c, sizeof c - 1));
    rows_of(&want, cells);
    {
        recs ref = {0, 0, 0};
        ref_csv(a, sizeof a - 1, ',', 1, &ref);
        ref_csv(b, sizeof b - 1, ',', 1, &ref);
        ref_csv(c, sizeof c - 1, ',', 1, &ref);
        check_same(__FILE__, __LINE__, "reference parser with headers", &ref, &want, 1);
        recs_free(&ref);
    }
    paths[0] = pa;
    paths[1] = pb;
    paths[2] = pc;
    for (sh = 1; sh <= 12; sh++) {
        gleam_source_desc s = desc(NULL, GLEAM_FORMAT_CSV, sh);
        s.paths = paths;
        s.npaths = 3;
        s.header = 1;
        CHECK_READ("CSV headers, once per file", s, 1 + sh % 3, &want, sh == 1);
    }
    recs_free(&want);
    {   /* without header = 1 the header rows are rows */
        gleam_source_desc s = gleam_csv(pa, 2);
        ref_csv(a, sizeof a - 1, ',', 0, &want);
        CHECK_INT(want.n, 4);
        CHECK_READ("CSV, header not skipped", s, 2, &want, 0);
        recs_free(&want);
    }
}

static void test_csv_delimiter(void) {
    static const char data[] = "a,b;\"c;d\";\"e\"\"f\"\n;x,y;\n\"1;\n2\";3\n";
    static const char *const cells[] = {"a,b", "c;d", "e\"f", NULL, "", "x,y", "", NULL, "1;\n2", "3", NULL, NULL};
    const char *p = th_write("semi.csv", data, sizeof data - 1);
    recs want = {0, 0, 0}, ref = {0, 0, 0};
    int sh;
    rows_of(&want, cells);
    ref_csv(data, sizeof data - 1, ';', 0, &ref);
    check_same(__FILE__, __LINE__, "reference parser with ';'", &ref, &want, 1);
    for (sh = 1; sh <= 8; sh++) {
        gleam_source_desc s = gleam_csv(p, sh);
        s.delimiter = ';';
        CHECK_READ("CSV with ';'", s, 2, &want, sh == 1);
    }
    recs_free(&want);
    recs_free(&ref);
}

/* A random field: plain, empty, quoted with commas, doubled quotes, newlines or CRLF. */
static void gen_field(th_buf *b) {
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789 ";
    size_t k = rnd_to(10), n, i;
    switch (k) {
    case 0: break; /* empty */
    case 1: case 2: case 3:
        n = 1 + rnd_to(12);
        for (i = 0; i < n; i++) th_buf_ch(b, alnum[rnd_to(sizeof alnum - 1)]);
        break;
    default:
        th_buf_ch(b, '"');
        n = rnd_to(40);
        for (i = 0; i < n; i++) {
            size_t c = rnd_to(12);
            if (c == 0) th_buf_str(b, "\"\"");
            else if (c == 1) th_buf_ch(b, '\n');
            else if (c == 2) th_buf_str(b, "\r\n");
            else if (c == 3) th_buf_ch(b, ',');
            else if (c == 4) th_buf_str(b, "\n\n");
            else th_buf_ch(b, alnum[rnd_to(sizeof alnum - 1)]);
        }
        th_buf_ch(b, '"');
    }
}

static void gen_csv(th_buf *b, int records) {
    int r;
    for (r = 0; r < records; r++) {
        int nf = 1 + (int)rnd_to(5), k;
        for (k = 0; k < nf; k++) {
            if (k) th_buf_ch(b, ',');
            gen_field(b);
        }
        if (r == records / 2) { /* a big quoted field full of newlines and record-like lines */
            size_t i;
            th_buf_str(b, ",\"");
            for (i = 0; i < 3000; i++) {
                char line[64];
                snprintf(line, sizeof line, "in,quotes,%zu,\"\"x\"\"\n", i);
                th_buf_str(b, line);
            }
            th_buf_ch(b, '"');
        }
        th_buf_str(b, rnd_to(4) == 0 ? "\r\n" : "\n");
        if (rnd_to(20) == 0) th_buf_ch(b, '\n'); /* a blank line */
    }
}

/* CSV cut into 1..17 shards: many cuts fall inside quoted fields holding newlines, and
   the quote parity must put each record in exactly one shard. */
static void test_csv_shards_quoted_newlines(void) {
    th_buf b = {0, 0, 0};
    recs want = {0, 0, 0};
    const char *p;
    int sh;
    gen_csv(&b, 4000);
    th_buf_str(&b, "last,\"record\nwithout newline\"");
    p = th_write("quoted.csv", b.p, b.len);
    ref_csv(b.p, b.len, ',', 0, &want);
    CHECK(want.n > 3500); /* a record of one empty field is a blank line */
    CHECK_READ("quoted newlines", gleam_csv(p, 1), 1, &want, 1);
    for (sh = 2; sh <= 17; sh++) CHECK_READ("quoted newlines", gleam_csv(p, sh), 1 + sh % 4, &want, 0);
    recs_free(&want);
    {   /* one record whose quoted field is most of the file: every cut is inside it */
        size_t i;
        b.len = 0;
        th_buf_str(&b, "h1,h2\nstart,\"");
        for (i = 0; i < 20000; i++) {
            char line[64];
            snprintf(line, sizeof line, "%s%zu,\"\"%zu\"\"\n", i % 3 ? "" : "\"\"", i, i);
            th_buf_str(&b, line);
        }
        th_buf_str(&b, "\",end\nafter,1\n");
        p = th_write("one-big-field.csv", b.p, b.len);
        ref_csv(b.p, b.len, ',', 1, &want);
        CHECK_INT(want.n, 2);
        for (sh = 1; sh <= 17; sh++) {
            gleam_source_desc s = gleam_csv(p, sh);
            s.header = 1;
            CHECK_READ("one big quoted field", s, 1 + sh % 4, &want, sh == 1);
        }
        recs_free(&want);
    }
    {   /* quoted fields crossing the 1 MB buffer, cut into a few shards */
        size_t i;
        b.len = 0;
        for (i = 0; i < 5; i++) {
            size_t k;
            th_buf_str(&b, "x,\"");
            for (k = 0; k < 300000 + i * 1000; k++) th_buf_ch(&b, k % 1000 == 999 ? '\n' : k % 777 == 0 ? ',' : (char)('a' + k % 26));
            th_buf_str(&b, "\"\"\",y\n");
        }
        p = th_write("big-fields.csv", b.p, b.len);
        ref_csv(b.p, b.len, ',', 0, &want);
        CHECK_INT(want.n, 5);
        for (sh = 1; sh <= 6; sh++) CHECK_READ("big quoted fields", gleam_csv(p, sh), 2, &want, sh == 1);
        recs_free(&want);
    }
    free(b.p);
}

/* >>TSV -------------------------------------------------------------------------------- */

static void test_tsv(void) {
    static const char data[] = "id\tname\tnote\n1\tann\t\n2\t\"bob\"\ta,b\n\t\t\n3\tc d\tx\ty\n4\r\n";
    static const char *const cells[] = {"1", "ann", "", NULL, "2", "\"bob\"", "a,b", NULL, "", "", "", NULL,
                                        "3", "c d", "x", "y", NULL, "4", NULL, NULL};
    const char *p = th_write("data.tsv", data, sizeof data - 1);
    recs want = {0, 0, 0}, ref = {0, 0, 0};
    int sh;
    rows_of(&want, cells);
    ref_tsv(data, sizeof data - 1, 1, &ref);
    check_same(__FILE__, __LINE__, "reference TSV split", &ref, &want, 1);
    for (sh = 1; sh <= 9; sh++) {
        gleam_source_desc s = gleam_tsv(p, sh);
        s.header = 1;
        CHECK_READ("TSV with header", s, 2, &want, sh == 1);
    }
    recs_free(&want);
    recs_free(&ref);
    {   /* a bigger TSV, all shard counts to 17 */
        th_buf b = {0, 0, 0};
        int i;
        th_buf_str(&b, "k\tv\n");
        for (i = 0; i < 5000; i++) {
            char line[64];
            int n = snprintf(line, sizeof line, "%d\t%s\t%d%s\n", i % 50, i % 9 ? "v" : "", i, i % 4 ? "" : "\r");
            th_buf_add(&b, line, (size_t)n);
        }
        p = th_write("big.tsv", b.p, b.len);
        ref_tsv(b.p, b.len, 1, &want);
        CHECK_INT(want.n, 5000);
        for (sh = 1; sh <= 17; sh++) {
            gleam_source_desc s = gleam_tsv(p, sh);
            s.header = 1;
            CHECK_READ("big TSV", s, 1 + sh % 3, &want, sh == 1);
        }
        recs_free(&want);
        free(b.p);
    }
}

int main(void) {
    signal(SIGPIPE, SIG_IGN); /* a pipe writer gets EPIPE instead */
    alarm(600);               /* a hang fails the run instead of blocking it */
    RUN(test_text_final_newline);
    RUN(test_crlf);
    RUN(test_empty_file);
    RUN(test_empty_lines);
    RUN(test_long_line);
    RUN(test_buffer_boundary);
    RUN(test_binary_bytes);
    RUN(test_every_shard_count);
    RUN(test_pieces_balance);
    RUN(test_several_files);
    RUN(test_glob);
    RUN(test_named_pipe);
    RUN(test_anonymous_pipe);
    RUN(test_dev_null);
    RUN(test_csv_rfc4180);
    RUN(test_csv_header);
    RUN(test_csv_delimiter);
    RUN(test_csv_shards_quoted_newlines);
    RUN(test_tsv);
    return th_done();
}
