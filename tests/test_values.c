/* test_values.c: unit tests of the pieces under the flows: values and their conversions,
   the total order, MessagePack encoding (against the specification's byte layouts), the
   hash table and the sorted runs. */
#include "run/run.h" /* the engine's internal declarations (build with -Isrc), gleam.h's among them */
#include "harness.h"

/* The bytes gleam__pack_value makes for v, as a hex string. */
static const char *packed_hex(gleam_value v) {
    static char hex[256];
    gleam__buf b = {0, 0, 0};
    size_t i;
    gleam__pack_value(&b, v);
    for (i = 0; i < b.len && i * 2 + 2 < sizeof hex; i++) sprintf(hex + i * 2, "%02x", (unsigned char)b.p[i]);
    hex[i * 2] = 0;
    gleam__buf_free(&b);
    return hex;
}

static void test_pack_spec_layouts(void) {
    /* The MessagePack specification's formats, shortest form first. */
    CHECK_STR(packed_hex(gleam_nil()), "c0");
    CHECK_STR(packed_hex(gleam_bool(0)), "c2");
    CHECK_STR(packed_hex(gleam_bool(1)), "c3");
    CHECK_STR(packed_hex(gleam_int(0)), "00");
    CHECK_STR(packed_hex(gleam_int(127)), "7f");
    CHECK_STR(packed_hex(gleam_int(128)), "cc80");
    CHECK_STR(packed_hex(gleam_int(255)), "ccff");
    CHECK_STR(packed_hex(gleam_int(256)), "cd0100");
    CHECK_STR(packed_hex(gleam_int(65535)), "cdffff");
    CHECK_STR(packed_hex(gleam_int(65536)), "ce00010000");
    CHECK_STR(packed_hex(gleam_int(4294967295ll)), "ceffffffff");
    CHECK_STR(packed_hex(gleam_int(4294967296ll)), "cf0000000100000000");
    CHECK_STR(packed_hex(gleam_int(-1)), "ff");
    CHECK_STR(packed_hex(gleam_int(-32)), "e0");
    CHECK_STR(packed_hex(gleam_int(-33)), "d0df");
    CHECK_STR(packed_hex(gleam_int(-128)), "d080");
    CHECK_STR(packed_hex(gleam_int(-129)), "d1ff7f");
    CHECK_STR(packed_hex(gleam_int(-32768)), "d18000");
    CHECK_STR(packed_hex(gleam_int(-32769)), "d2ffff7fff");
    CHECK_STR(packed_hex(gleam_int(INT64_MIN)), "d38000000000000000");
    CHECK_STR(packed_hex(gleam_double(1.0)), "cb3ff0000000000000");
    CHECK_STR(packed_hex(gleam_str("")), "a0");
    CHECK_STR(packed_hex(gleam_str("abc")), "a3616263");
}

static void test_pack_string_lengths(void) {
    static char big[70000];
    gleam__buf b = {0, 0, 0};
    memset(big, 'x', sizeof big);
    gleam__pack_value(&b, gleam_bytes(big, 31));
    CHECK_INT((unsigned char)b.p[0], 0xbf);
    CHECK_INT(b.len, 32);
    b.len = 0;
    gleam__pack_value(&b, gleam_bytes(big, 32));
    CHECK_INT((unsigned char)b.p[0], 0xd9);
    CHECK_INT((unsigned char)b.p[1], 32);
    b.len = 0;
    gleam__pack_value(&b, gleam_bytes(big, 256));
    CHECK_INT((unsigned char)b.p[0], 0xda);
    b.len = 0;
    gleam__pack_value(&b, gleam_bytes(big, 65536));
    CHECK_INT((unsigned char)b.p[0], 0xdb);
    CHECK_INT(b.len, 5 + 65536);
    gleam__buf_free(&b);
}

/* Every value packs and unpacks to itself; a row of them too. */
static void test_pack_round_trip(void) {
    gleam_value vals[12];
    gleam__buf b = {0, 0, 0};
    gleam__vals out = {0, 0, 0};
    const char *p, *end;
    char bin[5] = {0, 1, 2, (char)0xff, '\n'};
    int i;
    vals[0] = gleam_nil();
    vals[1] = gleam_bool(1);
    vals[2] = gleam_int(-5);
    vals[3] = gleam_int(300);
    vals[4] = gleam_int(INT64_MAX);
    vals[5] = gleam_int(INT64_MIN);
    vals[6] = gleam_double(-0.25);
    vals[7] = gleam_double(1e300);
    vals[8] = gleam_bytes(bin, sizeof bin);
    vals[9] = gleam_str("hello");
    vals[10] = gleam_int(-2147483648ll);
    vals[11] = gleam_int(4000000000ll);
    CHECK(gleam__pack_row(&b, vals, 12) == 0);
    CHECK(gleam__pack_row(&b, vals + 2, 1) == 0);
    p = b.p;
    end = b.p + b.len;
    CHECK_INT(gleam__unpack_row(&p, end, &out), GLEAM_OK);
    CHECK_INT(out.n, 12);
    for (i = 0; i < 12 && out.n == 12; i++) {
        CHECK_INT(out.v[i].type, vals[i].type);
        CHECK_INT(gleam_compare(out.v[i], vals[i]), 0);
    }
    CHECK_INT(out.v[8].len, 5);
    CHECK(out.v[8].len == 5 && !memcmp(out.v[8].u.s, bin, 5));
    CHECK_INT(gleam__unpack_row(&p, end, &out), GLEAM_OK);
    CHECK_INT(out.n, 1);
    CHECK_INT(out.v[0].u.i, -5);
    CHECK(p == end);
    gleam__vals_free(&out);
    gleam__buf_free(&b);
}

/* Truncated and foreign encodings are rejected, never read past the end. */
static void test_unpack_rejects_bad_data(void) {
    gleam__buf b = {0, 0, 0};
    gleam__vals out = {0, 0, 0};
    gleam_value v[2];
    size_t cut;
    const char map[] = {(char)0x91, (char)0x81, 0x01, 0x02};
    const char *p;
    v[0] = gleam_str("a string of some length");
    v[1] = gleam_double(2.5);
    gleam__pack_row(&b, v, 2);
    for (cut = 0; cut < b.len; cut++) {
        char *copy = (char *)malloc(cut + 1);
        memcpy(copy, b.p, cut);
        p = copy;
        CHECK_INT(gleam__unpack_row(&p, copy + cut, &out), GLEAM_ERR_INPUT);
        free(copy);
    }
    p = map;
    CHECK_INT(gleam__unpack_row(&p, map + sizeof map, &out), GLEAM_ERR_INPUT);
    /* bin and float32 are read (from other writers) as bytes and double */
    {
        const char foreign[] = {(char)0x92, (char)0xc4, 0x02, 'h', 'i', (char)0xca, 0x3f, (char)0xc0, 0x00, 0x00};
        p = foreign;
        CHECK_INT(gleam__unpack_row(&p, foreign + sizeof foreign, &out), GLEAM_OK);
        CHECK_INT(out.v[0].type, GLEAM_BYTES);
        CHECK(out.v[0].len == 2 && !memcmp(out.v[0].u.s, "hi", 2));
        CHECK_INT(out.v[1].type, GLEAM_DOUBLE);
        CHECK(out.v[1].u.d == 1.5);
    }
    gleam__vals_free(&out);
    gleam__buf_free(&b);
}

static void test_conversions(void) {
    int64_t i;
    double d;
    CHECK_INT(gleam_to_int64(gleam_str("42")), 42);
    CHECK_INT(gleam_to_int64(gleam_str(" -17 ")), -17);
    CHECK_INT(gleam_to_int64(gleam_str("2.9")), 2);
    CHECK_INT(gleam_to_int64(gleam_str("abc")), 0);
    CHECK_INT(gleam_to_int64(gleam_double(-3.99)), -3);
    CHECK_INT(gleam_to_int64(gleam_double(1e30)), INT64_MAX);
    CHECK_INT(gleam_to_int64(gleam_bool(1)), 1);
    CHECK_INT(gleam_to_int64(gleam_nil()), 0);
    CHECK(gleam_to_double(gleam_str("2.5")) == 2.5);
    CHECK(gleam_to_double(gleam_int(-7)) == -7.0);
    CHECK_INT(gleam_parse_int64(gleam_str("9223372036854775807"), &i), GLEAM_OK);
    CHECK(i == INT64_MAX);
    CHECK_INT(gleam_parse_int64(gleam_str("-9223372036854775808"), &i), GLEAM_OK);
    CHECK(i == INT64_MIN);
    CHECK_INT(gleam_parse_int64(gleam_str("9223372036854775808"), &i), GLEAM_ERR_VALUE);
    CHECK_INT(gleam_parse_int64(gleam_str("12x"), &i), GLEAM_ERR_VALUE);
    CHECK_INT(gleam_parse_int64(gleam_str(""), &i), GLEAM_ERR_VALUE);
    CHECK_INT(gleam_parse_int64(gleam_str("-"), &i), GLEAM_ERR_VALUE);
    CHECK_INT(gleam_parse_int64(gleam_double(1.0), &i), GLEAM_ERR_VALUE);
    CHECK_INT(gleam_parse_double(gleam_str("1e3"), &d), GLEAM_OK);
    CHECK(d == 1000.0);
    CHECK_INT(gleam_parse_double(gleam_str("1e3z"), &d), GLEAM_ERR_VALUE);
}

static void test_text_forms(void) {
    char buf[64];
    CHECK_INT(gleam_to_string(gleam_int(-12), buf, sizeof buf), 3);
    CHECK_STR(buf, "-12");
    gleam_to_string(gleam_double(0.1), buf, sizeof buf);
    CHECK_STR(buf, "0.1");
    gleam_to_string(gleam_double(1.0 / 3.0), buf, sizeof buf);
    CHECK(strtod(buf, NULL) == 1.0 / 3.0); /* the shortest text that reads back */
    gleam_to_string(gleam_double(3.0), buf, sizeof buf);
    CHECK_STR(buf, "3");
    gleam_to_string(gleam_bool(0), buf, sizeof buf);
    CHECK_STR(buf, "false");
    gleam_to_string(gleam_nil(), buf, sizeof buf);
    CHECK_STR(buf, "");
    CHECK_INT(gleam_to_string(gleam_str("truncated"), buf, 4), 9);
    CHECK_STR(buf, "tru");
}

/* gleam_compare is a total order: antisymmetric and transitive on a mixed set, and it
   agrees with memcmp on bytes and with < on numbers. */
static void test_compare_order(void) {
    gleam_value v[12];
    int i, j, k;
    v[0] = gleam_nil();
    v[1] = gleam_bool(0);
    v[2] = gleam_bool(1);
    v[3] = gleam_int(-5);
    v[4] = gleam_double(-4.5);
    v[5] = gleam_int(0);
    v[6] = gleam_double(0.5);
    v[7] = gleam_int(INT64_MAX);
    v[8] = gleam_str("");
    v[9] = gleam_str("a");
    v[10] = gleam_bytes("a\0", 2);
    v[11] = gleam_bytes("\xff", 1);
    for (i = 0; i < 12; i++)
        for (j = 0; j < 12; j++) {
            int c = gleam_compare(v[i], v[j]);
            CHECK_INT(c < 0, i < j);
            CHECK_INT(c == 0, i == j);
            CHECK_INT(c, -gleam_compare(v[j], v[i]));
            for (k = 0; k < 12; k++)
                if (c < 0 && gleam_compare(v[j], v[k]) < 0) CHECK(gleam_compare(v[i], v[k]) < 0);
        }
    CHECK_INT(gleam_compare(gleam_int(2), gleam_double(2.0)), 0);
    CHECK(gleam_compare(gleam_int(INT64_MAX), gleam_int(INT64_MAX - 1)) > 0);
}

/* The sort prefix never contradicts gleam_compare: a < b implies prefix(a) <= prefix(b). */
static void test_prefix_monotone(void) {
    gleam_value v[10];
    int i, j, d;
    v[0] = gleam_nil();
    v[1] = gleam_bool(1);
    v[2] = gleam_double(-1e300);
    v[3] = gleam_int(-3);
    v[4] = gleam_double(-0.0);
    v[5] = gleam_int(0);
    v[6] = gleam_int(INT64_MAX);
    v[7] = gleam_str("abcdefgh");
    v[8] = gleam_str("abcdefghz");
    v[9] = gleam_str("abcdefgi");
    for (d = 0; d < 2; d++)
        for (i = 0; i < 10; i++)
            for (j = 0; j < 10; j++) {
                int c = gleam_compare(v[i], v[j]);
                uint64_t pi = gleam__prefix(v[i], (gleam_dir)d), pj = gleam__prefix(v[j], (gleam_dir)d);
                if (d) c = -c;
                if (c < 0) CHECK(pi <= pj);
                if (pi < pj) CHECK(c < 0);
            }
}

static void test_lists(void) {
    gleam_value row[3], list, e;
    gleam__buf b = {0, 0, 0};
    gleam_list_iter it;
    const char *p;
    int n = 0;
    row[0] = gleam_int(1);
    row[1] = gleam_str("two");
    row[2] = gleam_nil();
    gleam__pack_row(&b, row, 3);
    p = b.p;
    CHECK_INT(gleam__unpack_value(&p, b.p + b.len, &list), GLEAM_OK);
    CHECK_INT(list.type, GLEAM_LIST);
    CHECK_INT(gleam_list_len(list), 3);
    it = gleam_list_begin(list);
    while (gleam_list_next(&it, &e)) CHECK_INT(gleam_compare(e, row[n++]), 0);
    CHECK_INT(n, 3);
    {
        char text[64];
        gleam_to_string(list, text, sizeof text);
        CHECK_STR(text, "[1 two ]");
    }
    it = gleam_list_begin(gleam_int(3)); /* not a list: empty */
    CHECK_INT(gleam_list_next(&it, &e), 0);
    gleam__buf_free(&b);
}

static void test_hash_table(void) {
    gleam__table t;
    char key[32];
    int i, made;
    CHECK(gleam__table_init(&t, 4) == 0);
    for (i = 0; i < 20000; i++) {
        int len = sprintf(key, "k%d", i);
        int *v = (int *)gleam__table_upsert(&t, gleam__hash(key, (size_t)len), key, (uint32_t)len, sizeof(int), &made);
        CHECK(v && made);
        if (v) *v = i;
    }
    CHECK_INT(t.count, 20000);
    for (i = 0; i < 20000; i += 7) {
        int len = sprintf(key, "k%d", i);
        int *v = (int *)gleam__table_upsert(&t, gleam__hash(key, (size_t)len), key, (uint32_t)len, sizeof(int), &made);
        CHECK(v && !made && *v == i);
    }
    CHECK(gleam__table_find(&t, gleam__hash("nope", 4), "nope", 4) == NULL);
    /* keys that differ only after a NUL byte are different keys */
    CHECK(gleam__table_upsert(&t, gleam__hash("a\0b", 3), "a\0b", 3, 0, &made) && made);
    CHECK(gleam__table_upsert(&t, gleam__hash("a\0c", 3), "a\0c", 3, 0, &made) && made);
    gleam__table_free(&t);
}

/* gleam__put_short writes the tag and the bytes and returns the hash of what it wrote,
   for every length it takes, whatever bytes lie around the source (it must not read them)
   and wherever the source starts. */
static void test_put_short(void) {
    unsigned char src[64 + 40], out[40], want[40];
    unsigned seed = 12345;
    int len, round, off;
    for (round = 0; round < 8; round++)
        for (off = 0; off < 8; off++)
            for (len = 0; len < 32; len++) {
                int i;
                uint64_t h;
                for (i = 0; i < (int)sizeof src; i++) src[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
                memset(out, 0xee, sizeof out);
                want[0] = (unsigned char)(0xa0 | len);
                memcpy(want + 1, src + 16 + off, (size_t)len);
                h = gleam__put_short(out, 0xa0u | (unsigned)len, src + 16 + off, (size_t)len);
                CHECK(memcmp(out, want, (size_t)len + 1) == 0);
                CHECK(h == gleam__hash(want, (size_t)len + 1));
                /* bytes past the source's end change nothing */
                for (i = 16 + off + len; i < (int)sizeof src; i++) src[i] ^= 0x5a;
                for (i = 0; i < 16 + off; i++) src[i] ^= 0xa5;
                CHECK(gleam__put_short(out, 0xa0u | (unsigned)len, src + 16 + off, (size_t)len) == h);
            }
}

/* The CSV field scan and gleam__skip_fast against one byte at a time / the full decoder:
   every length and alignment, bytes from an alphabet rich in the bytes that stop a field
   (and in bytes with the high bit set, which upset a careless word trick). */
static void test_scans(void) {
    static const char alpha[] = {'a', ',', '\n', '"', '\t', '|', (char)0x80, (char)0xff, (char)0x2b, (char)0x0a ^ 0x20,
                                  (char)('"' ^ 0x80)};
    static const char delims[] = {',', '\t', '|', (char)0x80, (char)0xff, 0};
    char buf[80];
    unsigned seed = 777;
    int round, off, len, d, i;
    for (round = 0; round < 40; round++)
        for (d = 0; d < (int)sizeof delims; d++)
            for (off = 0; off < 8; off++)
                for (len = 0; len < 48; len++) {
                    const char *p = buf + off, *end = p + len, *want = p;
                    for (i = 0; i < (int)sizeof buf; i++) {
                        seed = seed * 1103515245u + 12345u;
                        buf[i] = (seed >> 16) % 4 ? 'a' + (char)((seed >> 20) % 26) : alpha[(seed >> 20) % sizeof alpha];
                    }
                    while (want < end && *want != delims[d] && *want != '\n' && *want != '"') want++;
                    CHECK(gleam__csv_plain_end(p, end, delims[d]) == want);
                    if (d == 0) { /* the quotes counted for a CSV file's splits, against a count byte by byte */
                        uint64_t quotes = 0;
                        for (i = 0; i < len; i++) quotes += p[i] == '"';
                        CHECK(gleam__count_quotes(p, (size_t)len) == quotes);
                    }
                }
    for (round = 0; round < 2000; round++) { /* a packed value of each kind, skipped two ways */
        gleam__buf b = {0};
        gleam_value v;
        const char *p, *q;
        seed = seed * 1103515245u + 12345u;
        switch (round % 6) {
        case 0: v = gleam_int((int64_t)(seed % 300) - 150); break;
        case 1: v = gleam_int((int64_t)seed * (round % 2 ? 1 : -77777)); break;
        case 2: v = gleam_bytes(buf, (size_t)(seed % 40)); break;
        case 3: v = gleam_double((double)seed / 3.0); break;
        case 4: v = round % 4 ? gleam_bool(1) : gleam_nil(); break;
        default: v = gleam_bytes(buf, (size_t)(seed % 80)); break;
        }
        CHECK(gleam__pack_value(&b, v) == 0);
        p = q = b.p;
        CHECK(gleam__skip_fast(&p, b.p + b.len) == GLEAM_OK);
        CHECK(gleam__skip_value(&q, b.p + b.len) == GLEAM_OK);
        CHECK(p == q && p == b.p + b.len);
        q = b.p; /* cut short: an error, as the full decoder gives */
        if (b.len > 1) CHECK(gleam__skip_fast(&q, b.p + b.len - 1) == GLEAM_ERR_INPUT);
        gleam__buf_free(&b);
    }
}

/* An arena rewound keeps its chunks and hands them out again, largest first, before it
   asks for more; what it hands out is writable and distinct; reset and free give all back. */
static void test_arena_rewind(void) {
    gleam__arena a = {0};
    char *first[3000];
    size_t held;
    int i, round;
    for (i = 0; i < 3000; i++) { /* 3000 x 1000 bytes: several chunks, 64 KB doubling */
        first[i] = (char *)gleam__arena_alloc(&a, 1000);
        CHECK(first[i] != NULL);
        if (first[i]) memset(first[i], i & 0xff, 1000);
    }
    held = a.bytes;
    CHECK(a.head && a.head->next);
    for (round = 0; round < 3; round++) {
        gleam__arena_rewind(&a);
        CHECK_INT(a.used, 0);
        CHECK(a.bytes == held);
        for (i = 0; i < 3000; i++) {
            char *p = (char *)gleam__arena_alloc(&a, 1000);
            CHECK(p != NULL);
            if (!p) break;
            memset(p, (i + round) & 0xff, 1000);
        }
        CHECK(a.bytes == held); /* the same memory again: nothing new was mapped */
        CHECK(a.used >= 3000u * 1000u);
    }
    /* a request larger than any spare chunk gets a new one */
    gleam__arena_rewind(&a);
    CHECK(gleam__arena_alloc(&a, 40u << 20) != NULL);
    CHECK(a.bytes > held);
    gleam__arena_reset(&a); /* keeps the newest chunk only, no spare ones */
    CHECK(a.spare == NULL && a.head && !a.head->next);
    CHECK(a.bytes == a.head->cap);
    gleam__arena_rewind(&a);
    gleam__arena_free(&a);
    CHECK(a.head == NULL && a.spare == NULL && a.bytes == 0);
}

/* The radix sort of a run agrees with qsort by gleam_compare, asc and desc, with many
   equal prefixes. */
static int cmp_values(const void *a, const void *b) { return gleam_compare(*(const gleam_value *)a, *(const gleam_value *)b); }

static void test_run_sort(void) {
    enum { N = 30000 };
    static gleam_value vals[N];
    static char text[N][16];
    gleam__run *run = gleam__run_new();
    gleam_order asc = gleam_order_by(1, GLEAM_ASC), desc = gleam_order_by(1, GLEAM_DESC);
    gleam__cmp c;
    uint64_t s = 7;
    size_t i;
    int d;
    for (i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        if (i % 3 == 0) vals[i] = gleam_int((int64_t)(s >> 40) - (1 << 23));
        else if (i % 3 == 1) vals[i] = gleam_double((double)(int64_t)(s >> 20) / 1e6 - 5e6);
        else {
            int len = sprintf(text[i], "prefix%05u", (unsigned)(s >> 50)); /* shared 8-byte prefix */
            vals[i] = gleam_bytes(text[i], (size_t)len);
        }
    }
    for (d = 0; d < 2; d++) {
        c.order = d ? &desc : &asc;
        c.maxfield = 1;
        for (i = 0; i < N; i++) CHECK(gleam__run_add(run, &c, &vals[i], 1) == 0);
        gleam__run_sort(run, &c);
        qsort(vals, N, sizeof *vals, cmp_values);
        for (i = 0; i < N; i++) {
            gleam_value got = gleam__row_field(run->rows[i].row, 1);
            if (gleam_compare(got, vals[d ? N - 1 - i : i]) != 0) {
                CHECK(!"sorted run differs from qsort");
                break;
            }
        }
        gleam__run_free(run);
        run = gleam__run_new();
    }
    gleam__run_free(run);
}

static void test_fields_and_orders(void) {
    gleam_fields f = GLEAM_FIELDS(3, 1, 2);
    gleam_order o = gleam_then_by(gleam_order_by(2, GLEAM_DESC), 1, GLEAM_ASC);
    CHECK_INT(f.n, 3);
    CHECK_INT(f.f[0], 3);
    CHECK_INT(f.f[2], 2);
    CHECK_INT(o.n, 2);
    CHECK_INT(o.by[0].field, 2);
    CHECK_INT(o.by[0].dir, GLEAM_DESC);
    CHECK_INT(o.by[1].dir, GLEAM_ASC);
    CHECK_STR(gleam_result_str(GLEAM_ERR_NOMEM), "out of memory");
    CHECK_STR(gleam_result_str((gleam_result)-99), "unknown result");
}

int main(void) {
    RUN(test_pack_spec_layouts);
    RUN(test_pack_string_lengths);
    RUN(test_pack_round_trip);
    RUN(test_unpack_rejects_bad_data);
    RUN(test_conversions);
    RUN(test_text_forms);
    RUN(test_compare_order);
    RUN(test_prefix_monotone);
    RUN(test_lists);
    RUN(test_hash_table);
    RUN(test_put_short);
    RUN(test_scans);
    RUN(test_arena_rewind);
    RUN(test_run_sort);
    RUN(test_fields_and_orders);
    return th_done();
}
