/* flows.h: the flows whose exchanges fuzz_frame.c feeds with frames, one wide step of each
   kind (reduce_by, join, sort, limit of an ordered input, cogroup, group_by, distinct,
   top, partition, reduce, and a sort into 64 partitions, whose allocations grow with
   them), shared with the seed generator (seeds.c) so that its streams
   are made for the very plans the harness runs. Include after fuzz.h. */
#ifndef GLEAM_FUZZ_FLOWS_H
#define GLEAM_FUZZ_FLOWS_H

#define FUZZ_NFLOWS 6

/* The reducer "sum": numbers added up, anything else counted as 0. */
static gleam_result fuzz_sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int i;
    (void)c;
    for (i = 0; i < n; i++) acc[i] = gleam_int(gleam_to_int64_any(acc[i]) + gleam_to_int64_any(x[i]));
    return GLEAM_OK;
}

/* Flow i's rows in memory: two datasets of (key, number) rows in two shards each. */
static gleam_dataset *fuzz_values(gleam_flow *f, int which) {
    gleam_value v[8];
    v[0] = gleam_str(which ? "b" : "a");
    v[1] = gleam_int(1);
    v[2] = gleam_str("b");
    v[3] = gleam_int(2);
    v[4] = gleam_str("a");
    v[5] = gleam_int(3);
    v[6] = gleam_str(which ? "d" : "c");
    v[7] = gleam_int(4);
    return gleam_from_values(f, v, 4, 2, 2);
}

/* Flow i (0 .. FUZZ_NFLOWS - 1); the program keeps it as long as a plan made of it lives
   (a plan borrows its rows in memory). */
static gleam_flow *fuzz_flow(int i) {
    gleam_flow *f = gleam_flow_new("fuzz exchanges");
    gleam_dataset *a = fuzz_values(f, 0), *b = fuzz_values(f, 1);
    gleam_register_reducer("sum", fuzz_sum);
    switch (i) {
    case 0: gleam_collect(gleam_reduce_by_key(a, "sum")); break;
    case 1: gleam_collect(gleam_join(a, b)); break;
    case 2: gleam_collect(gleam_limit(gleam_sort(a, gleam_order_by(1, GLEAM_ASC)), 3)); break;
    case 3:
        gleam_collect(gleam_top(gleam_distinct(gleam_group_by_key(gleam_cogroup(a, b))), 2, gleam_order_by(1, GLEAM_DESC)));
        break;
    case 4: gleam_collect(gleam_reduce(gleam_partition(a, 3), "sum")); break;
    default: gleam_collect(gleam_sort(gleam_partition(a, 64), gleam_order_by(2, GLEAM_DESC))); break;
    }
    return f;
}

#endif /* GLEAM_FUZZ_FLOWS_H */
