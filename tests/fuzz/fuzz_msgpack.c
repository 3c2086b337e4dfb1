/* fuzz_msgpack.c: fuzzing the MessagePack row decoder (src/data/pack.c) on bytes that came
   from another process: gleam__check_rows must accept exactly the blocks that
   gleam__unpack_row decodes to their end, and whatever it accepts must be safe to use as
   the engine uses rows: as text, compared, iterated as lists, packed again, sorted. */
#include "fuzz.h"

/* What the engine does with one value of a row that passed the checks. */
static void fuzz_value(gleam_value v) {
    char text[64];
    int64_t i;
    double d;
    (void)gleam_to_string(v, text, sizeof text);
    FUZZ_CHECK(gleam_compare(v, v) == 0);
    (void)gleam_to_int64_any(v);
    (void)gleam_to_double(v);
    (void)gleam_parse_int64(v, &i);
    (void)gleam_parse_double(v, &d);
    if (v.type == GLEAM_LIST) { /* a checked list holds exactly as many values as it says */
        gleam_list_iter it = gleam_list_begin(v);
        uint32_t n = gleam_list_len(v), got = 0;
        gleam_value e;
        while (gleam_list_next(&it, &e)) got++;
        FUZZ_CHECK(got == n);
    }
}

/* One decoded row: its values, then the row packed again, which must hold the same values. */
static void fuzz_row(const gleam__vals *row, gleam__run *run, const gleam__cmp *cmp) {
    gleam__buf b = {NULL, 0, 0};
    gleam__vals again = {NULL, 0, 0};
    const char *p;
    uint64_t rows = 0;
    char key[80];
    int i;
    for (i = 0; i < row->n; i++) fuzz_value(row->v[i]);
    FUZZ_CHECK(gleam__pack_row(&b, row->v, row->n) == 0);
    FUZZ_CHECK(gleam__check_rows(b.p, b.len, &rows) == GLEAM_OK && rows == 1);
    FUZZ_CHECK(gleam__row_len(b.p) == b.len);
    p = b.p;
    FUZZ_CHECK(gleam__unpack_row(&p, b.p + b.len, &again) == GLEAM_OK && p == b.p + b.len);
    FUZZ_CHECK(again.n == row->n);
    for (i = 0; i < row->n; i++) {
        FUZZ_CHECK(gleam_compare(again.v[i], row->v[i]) == 0);
        FUZZ_CHECK(gleam_compare(gleam__row_field(b.p, i + 1), row->v[i]) == 0);
    }
    FUZZ_CHECK(gleam__row_field(b.p, row->n + 1).type == GLEAM_NIL);
    p = b.p;
    FUZZ_CHECK(gleam__unpack_header(&p, b.p + b.len, (uint32_t[1]){0}) == GLEAM_OK);
    (void)gleam__key_text(key, sizeof key, p, (size_t)(b.p + b.len - p)); /* as error messages show keys */
    FUZZ_CHECK(strlen(key) < sizeof key);
    FUZZ_CHECK(gleam__run_add(run, cmp, row->v, row->n) == 0);
    gleam__vals_free(&again);
    gleam__buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *start = (const char *)data, *end = start + size, *p = start;
    gleam__vals row = {NULL, 0, 0};
    gleam_order order = gleam_then_by(gleam_order_by(1, GLEAM_ASC), 2, GLEAM_DESC);
    gleam__cmp cmp;
    gleam__run *run = gleam__run_new();
    uint64_t rows = 0, decoded = 0;
    int failed = 0;
    gleam_result whole = gleam__check_rows(start, size, &rows);
    FUZZ_CHECK(run != NULL);
    gleam__cmp_init(&cmp, &order);
    while (p < end) {
        const char *at = p;
        gleam_result r = gleam__unpack_row(&p, end, &row);
        if (r != GLEAM_OK) {
            FUZZ_CHECK(r == GLEAM_ERR_INPUT);
            failed = 1;
            break;
        }
        FUZZ_CHECK(p > at && p <= end);
        decoded++;
        fuzz_row(&row, run, &cmp);
    }
    /* the block check and the decoder agree on every byte */
    FUZZ_CHECK((whole == GLEAM_OK) == !failed);
    if (whole == GLEAM_OK) FUZZ_CHECK(rows == decoded);
    else FUZZ_CHECK(whole == GLEAM_ERR_INPUT);
    FUZZ_CHECK(gleam__run_sort(run, &cmp) == 0); /* rows from a peer go through the sort's comparator */
    {
        gleam__cursor cur;
        size_t n = 0;
        int k;
        gleam__cursor_init(&cur, run, 0, run->n, NULL, NULL);
        while ((k = gleam__cursor_next(&cur, &cmp)) > 0) {
            const char *q = cur.head.row;
            FUZZ_CHECK(gleam__unpack_row(&q, q + gleam__cursor_len(&cur), &row) == GLEAM_OK);
            n++;
        }
        FUZZ_CHECK(k == 0 && n == decoded);
        gleam__cursor_free(&cur);
    }
    gleam__run_free(run);
    gleam__vals_free(&row);
    return 0;
}
