/* group_stats: per key of a "key<TAB>integer" file, the number of rows, the sum, the
   minimum and the maximum of the integers, printed as key<TAB>count<TAB>sum<TAB>min<TAB>max.
   A sum outside the int64 range is an error naming the key, not a wrong total.

   usage: group_stats FILE        (plus the -gleam.* flags) */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h" /* -distributed, and the master and agent roles */

#include <stdio.h>

/* (key, value) in, (key, 1, value, value, value) out: the stats of one row. */
static gleam_result to_stats(gleam_ctx *c, const gleam_value *row, int n) {
    int64_t v;
    if (n != 2) return gleam_fail(c, "expected key<TAB>integer, found %d field%s", n, n == 1 ? "" : "s");
    if (gleam_parse_int64(row[1], &v) != GLEAM_OK)
        return gleam_fail(c, "\"%.*s\" is not an integer", (int)(row[1].len > 40 ? 40 : row[1].len), row[1].u.s);
    return GLEAM_EMIT(c, row[0], gleam_int(1), gleam_int(v), gleam_int(v), gleam_int(v));
}

/* Fold two stats: counts and sums add, minimum and maximum. A sum past the int64 range
   stops the job with the key and the two values (gleam_add_int64), never a wrapped total. */
static gleam_result merge_stats(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int64_t count, sum;
    gleam_result r;
    (void)n;
    if ((r = gleam_add_int64(c, acc[0].u.i, x[0].u.i, &count)) != GLEAM_OK) return r;
    if ((r = gleam_add_int64(c, acc[1].u.i, x[1].u.i, &sum)) != GLEAM_OK) return r;
    acc[0].u.i = count;
    acc[1].u.i = sum;
    if (x[2].u.i < acc[2].u.i) acc[2].u.i = x[2].u.i;
    if (x[3].u.i > acc[3].u.i) acc[3].u.i = x[3].u.i;
    return GLEAM_OK;
}

int main(int argc, char **argv) {
    gleam_flow *f;
    gleam_dataset *d;
    gleam_result r;

    gleam_register_mapper("toStats", to_stats);
    gleam_register_reducer("mergeStats", merge_stats);
    if (gleam_init(&argc, &argv) != GLEAM_OK) {
        fprintf(stderr, "group_stats: %s\n", gleam_error(NULL));
        return 2;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: group_stats FILE\n");
        return 2;
    }
    f = gleam_flow_new("group stats");
    d = gleam_read(f, gleam_tsv(argv[1], 0));
    d = gleam_map(d, "toStats");
    d = gleam_reduce_by_key(d, "mergeStats");
    gleam_printlnf(d, "%s\t%d\t%d\t%d\t%d");
    r = gleam_run(f);
    if (r != GLEAM_OK) fprintf(stderr, "group_stats: %s\n", gleam_error(f));
    gleam_flow_free(f);
    return r == GLEAM_OK ? 0 : 1;
}
