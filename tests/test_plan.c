/* test_plan.c: the plan as data. Plans of every shape of flow survive their encoding
   (the same bytes again, the same explained plan, the same hash), and the decoder, which
   will face the network, refuses truncated, oversized and hostile bytes with a message
   and never reads outside them (run under ASan+UBSan in make test). */
#include "run/run.h" /* the engine's internal declarations (build with -Isrc) */
#include "harness.h"

static gleam_result t_words(gleam_ctx *c, const gleam_value *row, int n) {
    (void)n;
    return GLEAM_EMIT(c, row[0], gleam_int(1));
}
static gleam_result t_sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    (void)c;
    (void)n;
    acc[0] = gleam_int(acc[0].u.i + x[0].u.i);
    return GLEAM_OK;
}
static gleam_result t_gen(gleam_ctx *c, int shard, int nshards) {
    (void)nshards;
    return GLEAM_EMIT(c, gleam_int(shard));
}
static gleam_result t_out(gleam_ctx *c, const gleam_value *row, int n) {
    (void)c;
    (void)row;
    (void)n;
    return GLEAM_OK;
}

static void t_register(void) {
    gleam_register_mapper("words", t_words);
    gleam_register_reducer("sum", t_sum);
    gleam_register_source("gen", t_gen);
    gleam_register_output("out", t_out);
}

/* A flow with a step of every kind, several stages, unions, both sides of joins. */
static gleam_flow *t_big_flow(void) {
    static const char *const strs[] = {"a b", "c", "", "d\te \"f\""};
    gleam_value vals[6];
    gleam_flow *f = gleam_flow_new("every step: \"quoted\"\tname");
    gleam_dataset *a, *b, *c, *u, *j, *s;
    gleam_source_desc csv = gleam_csv("data-*.csv", 3);
    vals[0] = gleam_str("k1");
    vals[1] = gleam_int(-5);
    vals[2] = gleam_str("k2");
    vals[3] = gleam_double(2.5);
    vals[4] = gleam_nil();
    vals[5] = gleam_bool(1);
    csv.header = 1;
    csv.delimiter = ';';
    a = gleam_map(gleam_read(f, gleam_txt("input.txt", 2)), "words");
    b = gleam_from_values(f, vals, 3, 2, 2);
    c = gleam_read(f, csv);
    u = gleam_union(gleam_select(a, GLEAM_FIELDS(1, 2)), b);
    u = gleam_union(u, gleam_from_strings(f, strs, 4, 1));
    j = gleam_join_by(gleam_reduce_by_key(u, "sum"), gleam_partition(c, 4), GLEAM_LEFT_OUTER, GLEAM_FIELDS(1));
    j = gleam_right_outer_join(j, gleam_distinct(gleam_generate(f, "gen", 5)));
    s = gleam_sort(gleam_local_top(j, 7, gleam_order_by(1, GLEAM_DESC)), gleam_then_by(gleam_order_by(2, GLEAM_ASC), 1, GLEAM_DESC));
    gleam_printlnf(gleam_limit(s, 10), "%s %5.2f|%v%%");
    gleam_fprintlnf(gleam_top(s, 3, gleam_order_by(1, GLEAM_ASC)), "out.txt", "%d");
    gleam_write_csv(gleam_group_by(gleam_pipe(s, "p", "sort -r | uniq"), GLEAM_FIELDS(2)), "-");
    gleam_write_tsv(gleam_cogroup(gleam_pipe_as_args(c, "args", "echo $1 '$2'"), gleam_distinct_by(a, GLEAM_FIELDS(1))), "o.tsv");
    gleam_output_row(gleam_reduce(gleam_local_sort(a, gleam_order_by(2, GLEAM_ASC)), "sum"), "out");
    gleam_collect(gleam_cogroup_by(gleam_union(a, a), c, GLEAM_FIELDS(1)));
    return f;
}

/* The text -gleam.explain prints for p (free it). */
static char *t_explain(const gleam__plan *p) {
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) exit(2);
    gleam__plan_print(p, 4, m);
    fclose(m);
    return text;
}

static gleam__plan *t_plan(gleam_flow *f) {
    gleam__plan *p = NULL;
    gleam_result r = gleam__plan_build(f, 4, &p);
    if (r != GLEAM_OK) {
        fprintf(stderr, "plan: %s\n", gleam_error(f));
        exit(2);
    }
    return p;
}

/* p's bytes decode into a plan that encodes to the same bytes and explains the same. */
static void t_roundtrip(gleam__plan *p) {
    gleam__buf b1 = {NULL, 0, 0}, b2 = {NULL, 0, 0};
    gleam__plan *q = NULL;
    char err[256] = "", *e1, *e2;
    CHECK(gleam__plan_encode(p, &b1) == 0);
    CHECK_INT(gleam__plan_decode(b1.p, b1.len, &q, err, sizeof err), GLEAM_OK);
    if (!q) {
        fprintf(stderr, "  decode: %s\n", err);
        gleam__buf_free(&b1);
        return;
    }
    CHECK(gleam__plan_encode(q, &b2) == 0);
    CHECK(b1.len == b2.len && !memcmp(b1.p, b2.p, b1.len));
    e1 = t_explain(p);
    e2 = t_explain(q);
    CHECK_STR(e1, e2);
    CHECK(gleam__plan_hash(p) == gleam__plan_hash(q));
    CHECK(gleam__plan_hash(p) != 0);
    free(e1);
    free(e2);
    gleam__plan_free(q);
    gleam__buf_free(&b1);
    gleam__buf_free(&b2);
}

static void test_roundtrip_every_kind(void) {
    gleam_flow *f = t_big_flow();
    gleam__plan *p = t_plan(f);
    int kinds[GLEAM__NSTEPKINDS] = {0}, i, all = 1;
    for (i = 0; i < p->nsteps; i++) kinds[p->steps[i].kind] = 1;
    for (i = 0; i < GLEAM__NSTEPKINDS; i++)
        if (!kinds[i]) {
            fprintf(stderr, "  no %s step in the flow\n", gleam__step_kind_name(i));
            all = 0;
        }
    CHECK(all);
    CHECK(p->nstages >= 10);
    t_roundtrip(p);
    gleam__plan_free(p);
    gleam_flow_free(f);
}

/* The same flow built twice gives the same bytes; a flow that differs in one parameter,
   other bytes and another hash. */
static void test_encoding_is_deterministic(void) {
    gleam_flow *f1 = t_big_flow(), *f2 = t_big_flow(), *f3 = gleam_flow_new("small"), *f4 = gleam_flow_new("small");
    gleam__plan *p1 = t_plan(f1), *p2 = t_plan(f2), *p3, *p4;
    gleam__buf b1 = {NULL, 0, 0}, b2 = {NULL, 0, 0};
    gleam_printlnf(gleam_top(gleam_read(f3, gleam_txt("x", 2)), 5, gleam_order_by(1, GLEAM_ASC)), "%s");
    gleam_printlnf(gleam_top(gleam_read(f4, gleam_txt("x", 2)), 6, gleam_order_by(1, GLEAM_ASC)), "%s");
    p3 = t_plan(f3);
    p4 = t_plan(f4);
    CHECK(gleam__plan_encode(p1, &b1) == 0 && gleam__plan_encode(p2, &b2) == 0);
    CHECK(b1.len == b2.len && !memcmp(b1.p, b2.p, b1.len));
    CHECK(gleam__plan_hash(p1) == gleam__plan_hash(p2));
    CHECK(gleam__plan_hash(p3) != gleam__plan_hash(p4));
    t_roundtrip(p3);
    gleam__buf_free(&b1);
    gleam__buf_free(&b2);
    gleam__plan_free(p1);
    gleam__plan_free(p2);
    gleam__plan_free(p3);
    gleam__plan_free(p4);
    gleam_flow_free(f1);
    gleam_flow_free(f2);
    gleam_flow_free(f3);
    gleam_flow_free(f4);
}

/* The plan names functions and carries shard counts, not pointers or threads: shards
   asked for 0 get the planner's default, written into the plan. */
static void test_plan_is_data(void) {
    gleam_flow *f = gleam_flow_new("data");
    gleam__plan *p;
    gleam_map(gleam_read(f, gleam_txt("in.txt", 0)), "words");
    p = t_plan(f);
    CHECK_INT(p->steps[0].nshards, 4);
    CHECK_INT(p->steps[1].nshards, 4);
    CHECK_STR(p->steps[1].fn_name, "words");
    CHECK_STR(p->steps[0].paths[0], "in.txt");
    CHECK(p->steps[0].paths[0] != f->steps[0]->s.paths[0]); /* its own copy */
    gleam__plan_free(p);
    gleam_flow_free(f);
}

/* >>hostile bytes ------------------------------------------------------------------------- */

/* Decode n bytes at p from a buffer of exactly n bytes (so ASan sees any read past them):
   the result, with the message in err. */
static gleam_result t_decode(const char *p, size_t n, char *err, size_t cap) {
    char *copy = (char *)malloc(n ? n : 1);
    gleam__plan *q = NULL;
    gleam_result r;
    if (!copy) exit(2);
    if (n) memcpy(copy, p, n);
    r = gleam__plan_decode(copy, n, &q, err, cap);
    if (r == GLEAM_OK) {
        CHECK(q != NULL);
        gleam__plan_free(q);
    } else {
        CHECK(q == NULL);
        CHECK(err[0] != 0);
    }
    free(copy);
    return r;
}

static void t_big_bytes(gleam__buf *b) {
    gleam_flow *f = t_big_flow();
    gleam__plan *p = t_plan(f);
    if (gleam__plan_encode(p, b)) exit(2);
    gleam__plan_free(p);
    gleam_flow_free(f);
}

static void test_decode_truncated(void) {
    gleam__buf b = {NULL, 0, 0};
    char err[256];
    size_t n;
    int refused = 0;
    t_big_bytes(&b);
    for (n = 0; n < b.len; n++) refused += t_decode(b.p, n, err, sizeof err) != GLEAM_OK;
    CHECK_INT(refused, (long long)b.len);
    CHECK_INT(t_decode(b.p, b.len, err, sizeof err), GLEAM_OK);
    gleam__buf_free(&b);
}

static uint64_t t_rng = 0x243f6a8885a308d3ull;
static uint64_t t_next(void) {
    uint64_t z = (t_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Every byte changed, one at a time, in several ways; then random changes of a few bytes.
   Whatever is decoded must encode back to what was decoded (a plan that passes the checks
   is a whole plan), and nothing may crash or read outside the bytes. */
static void test_decode_mutated(void) {
    static const unsigned char subst[] = {0x00, 0xff, 0x7f, 0x80, 0xc0, 0xdd, 0xdb, 0xcf, 0x93};
    gleam__buf b = {NULL, 0, 0};
    char err[256];
    size_t i, k, ok = 0, tried = 0;
    int m;
    t_big_bytes(&b);
    for (i = 0; i < b.len; i++)
        for (k = 0; k < sizeof subst + 2; k++) {
            char saved = b.p[i];
            b.p[i] = k < sizeof subst ? (char)subst[k] : k == sizeof subst ? (char)(saved + 1) : (char)(saved ^ 0x20);
            if (b.p[i] != saved) {
                tried++;
                ok += t_decode(b.p, b.len, err, sizeof err) == GLEAM_OK;
            }
            b.p[i] = saved;
        }
    for (m = 0; m < 3000; m++) {
        gleam__buf c = {NULL, 0, 0};
        int changes = 1 + (int)(t_next() % 6);
        gleam__buf_add(&c, b.p, b.len);
        while (changes--) c.p[t_next() % c.len] = (char)t_next();
        tried++;
        ok += t_decode(c.p, c.len, err, sizeof err) == GLEAM_OK;
        gleam__buf_free(&c);
    }
    CHECK(tried > 10000);
    CHECK(ok < tried / 4); /* most changes are refused; the rest are other valid plans */
    gleam__buf_free(&b);
}

/* The first place of needle (n bytes) in hay (len bytes), or NULL. */
static char *t_find(char *hay, size_t len, const char *needle, size_t n) {
    size_t i;
    for (i = 0; i + n <= len; i++)
        if (!memcmp(hay + i, needle, n)) return hay + i;
    return NULL;
}

static void t_expect_refused(const char *p, size_t n, const char *want) {
    char err[256] = "";
    CHECK(t_decode(p, n, err, sizeof err) != GLEAM_OK);
    CHECK_HAS(err, want);
}

/* A plan of one read step and its stage, with `patch` applied to its bytes. */
static void t_small_bytes(gleam__buf *b) {
    gleam_flow *f = gleam_flow_new("s");
    gleam__plan *p;
    gleam_printlnf(gleam_read(f, gleam_txt("x", 2)), "%s");
    p = t_plan(f);
    if (gleam__plan_encode(p, b)) exit(2);
    gleam__plan_free(p);
    gleam_flow_free(f);
}

static void test_decode_crafted(void) {
    gleam__buf b = {NULL, 0, 0}, c = {NULL, 0, 0};
    char *at;
    static const char huge_steps[] = "\x95\xaagleam-plan\x01\xa1s\xdd\xff\xff\xff\xff";
    static const char huge_string[] = "\x95\xaagleam-plan\x01\xdb\xff\xff\xff\xf0";
    static const char not_plan[] = "\x95\xaagleam-blan\x01\xa1s\x90\x90";
    static const char version2[] = "\x95\xaagleam-plan\x02\xa1s\x90\x90";
    static const char empty[] = "\x95\xaagleam-plan\x01\xa1s\x90\x90";
    char *deep;
    size_t i;
    t_expect_refused("", 0, "truncated");
    t_expect_refused("\xc1", 1, "not an array");
    t_expect_refused(huge_steps, sizeof huge_steps - 1, "the steps");
    t_expect_refused(huge_string, sizeof huge_string - 1, "name");
    t_expect_refused(not_plan, sizeof not_plan - 1, "not a plan");
    t_expect_refused(version2, sizeof version2 - 1, "version 2");
    CHECK_INT(t_decode(empty, sizeof empty - 1, (char[256]){0}, 256), GLEAM_OK); /* no steps: a plan of nothing */
    /* a million nested arrays where the name should be: walked without recursion */
    deep = (char *)malloc(2000000 + 32);
    if (!deep) exit(2);
    memcpy(deep, "\x95\xaagleam-plan\x01", 13);
    for (i = 0; i < 2000000; i++) deep[13 + i] = (char)0x91;
    t_expect_refused(deep, 13 + 2000000, "name");
    free(deep);
    t_small_bytes(&b);
    /* trailing bytes */
    gleam__buf_add(&c, b.p, b.len);
    gleam__buf_add(&c, "\x01", 1);
    t_expect_refused(c.p, c.len, "after the plan");
    /* a step kind nobody knows */
    c.len = 0;
    gleam__buf_add(&c, b.p, b.len);
    at = t_find(c.p, c.len, "\xa4read", 5);
    CHECK(at != NULL);
    if (at) {
        memcpy(at, "\xa4rEad", 5);
        t_expect_refused(c.p, c.len, "no step kind");
    }
    /* a NUL inside a path */
    c.len = 0;
    gleam__buf_add(&c, b.p, b.len);
    at = t_find(c.p, c.len, "\xa1x", 2);
    CHECK(at != NULL);
    if (at) {
        at[1] = 0;
        t_expect_refused(c.p, c.len, "not a string");
    }
    /* shards that the stage does not have: step 1's count changed */
    c.len = 0;
    gleam__buf_add(&c, b.p, b.len);
    at = t_find(c.p, c.len, "\xa4read\x00\x00\x02", 8);
    CHECK(at != NULL);
    if (at) {
        at[7] = 3;
        t_expect_refused(c.p, c.len, "shards");
    }
    gleam__buf_free(&b);
    gleam__buf_free(&c);
}

/* A printlnf format that the builder refuses is refused in a decoded plan too. */
static void test_decode_checks_formats(void) {
    gleam__buf b = {NULL, 0, 0};
    gleam_flow *f = gleam_flow_new("fmt");
    gleam__plan *p;
    char *at;
    gleam_printlnf(gleam_read(f, gleam_txt("x", 1)), "%s %d");
    p = t_plan(f);
    CHECK(gleam__plan_encode(p, &b) == 0);
    at = t_find(b.p, b.len, "%s %d", 5);
    CHECK(at != NULL);
    if (at) {
        at[4] = 'q';
        t_expect_refused(b.p, b.len, "not a conversion");
    }
    gleam__buf_free(&b);
    gleam__plan_free(p);
    gleam_flow_free(f);
}

int main(void) {
    t_register();
    RUN(test_roundtrip_every_kind);
    RUN(test_encoding_is_deterministic);
    RUN(test_plan_is_data);
    RUN(test_decode_truncated);
    RUN(test_decode_mutated);
    RUN(test_decode_crafted);
    RUN(test_decode_checks_formats);
    return th_done();
}
