/* test_exec.c: the executor: back pressure between task groups, and flow shapes that
   stress the plan (fan-out, diamonds, self-joins, long chains), each checked against a
   plain computation. */
#include "gleam.h"
#include "harness.h"

#include <pthread.h>

/* >>back pressure: a fast producer waits for a slow consumer ----------------------------- */

/* Two generator shards of 250000 rows (50 MB each) feed one slow consumer. Without a
   bound the producers run about 220000 rows ahead; with the engine's 4 MB queue (plus the
   batch a consumer holds and the blocks under way) they stay near 40000. */
enum { BP_ROWS = 250000, BP_WIDTH = 200 };
static pthread_mutex_t bp_mu = PTHREAD_MUTEX_INITIALIZER;
static long bp_produced, bp_consumed, bp_max_lag;

static gleam_result bp_source(gleam_ctx *c, int shard, int nshards) {
    static const char pad[BP_WIDTH] = {0};
    int i;
    (void)shard;
    (void)nshards;
    for (i = 0; i < BP_ROWS; i++) {
        gleam_result r;
        pthread_mutex_lock(&bp_mu);
        bp_produced++;
        pthread_mutex_unlock(&bp_mu);
        if ((r = GLEAM_EMIT(c, gleam_int(i), gleam_bytes(pad, sizeof pad))) != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

static gleam_result bp_slow(gleam_ctx *c, const gleam_value *row, int n) {
    volatile unsigned spin = 0;
    long lag;
    (void)c;
    (void)row;
    (void)n;
    while (spin < 3000) spin++;
    pthread_mutex_lock(&bp_mu);
    lag = bp_produced - ++bp_consumed;
    if (lag > bp_max_lag) bp_max_lag = lag;
    pthread_mutex_unlock(&bp_mu);
    return GLEAM_OK;
}

static void test_back_pressure(void) {
    gleam_flow *f = gleam_flow_new("back pressure");
    gleam_options o;
    long bound = (12L << 20) / BP_WIDTH; /* a few queues' worth of rows, far below the total */
    memset(&o, 0, sizeof o);
    o.threads = 2;
    gleam_map(gleam_partition(gleam_generate(f, "bpSource", 2), 1), "bpSlow");
    CHECK_INT(gleam_run_with(f, &o), GLEAM_OK);
    CHECK_INT(bp_consumed, 2 * BP_ROWS);
    if (bp_max_lag > bound) th_failf(__FILE__, __LINE__, "producers ran %ld rows ahead of the consumer (bound %ld)", bp_max_lag, bound);
    gleam_flow_free(f);
}

/* >>flow shapes ----------------------------------------------------------------------------- */

enum { N = 5000 };
static gleam_value vals[N * 2];

/* Rows (k, v): k = i % 97, v = i. */
static gleam_dataset *numbers(gleam_flow *f, int shards) {
    int i;
    for (i = 0; i < N; i++) {
        vals[2 * i] = gleam_int(i % 97);
        vals[2 * i + 1] = gleam_int(i);
    }
    return gleam_from_values(f, vals, N, 2, shards);
}

static gleam_result sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int i;
    (void)c;
    for (i = 0; i < n; i++) acc[i].u.i += x[i].u.i;
    return GLEAM_OK;
}

static gleam_result twice(gleam_ctx *c, const gleam_value *row, int n) {
    (void)n;
    return GLEAM_EMIT(c, row[0], gleam_int(row[1].u.i * 2));
}

/* The sum of v per key k, for v scaled by mul, as a plain loop would. */
static long long expect_sum(int key, int mul) {
    long long s = 0;
    int i;
    for (i = key; i < N; i += 97) s += (long long)i * mul;
    return s;
}

/* One dataset consumed by two wide steps and an output, in one run. */
static void test_fan_out(void) {
    gleam_flow *f = gleam_flow_new("fan-out");
    gleam_dataset *d = numbers(f, 3);
    gleam_rows *sums = gleam_collect(gleam_reduce_by_key(d, "sum"));
    gleam_rows *top = gleam_collect(gleam_top(d, 5, gleam_order_by(2, GLEAM_DESC)));
    gleam_rows *all = gleam_collect(d);
    size_t i;
    int n;
    CHECK_INT(gleam_run(f), GLEAM_OK);
    CHECK_INT(gleam_rows_count(sums), 97);
    for (i = 0; i < gleam_rows_count(sums); i++) {
        const gleam_value *r = gleam_rows_get(sums, i, &n);
        CHECK_INT(r[1].u.i, expect_sum((int)r[0].u.i, 1));
    }
    CHECK_INT(gleam_rows_count(top), 5);
    for (i = 0; i < 5; i++) CHECK_INT(gleam_rows_get(top, i, &n)[1].u.i, N - 1 - (int)i);
    CHECK_INT(gleam_rows_count(all), N);
    gleam_flow_free(f);
}

/* a -> (b = sums of v, c = sums of 2v) -> join(b, c): every key once, with both sums. */
static void test_diamond(void) {
    gleam_flow *f = gleam_flow_new("diamond");
    gleam_dataset *a = numbers(f, 4);
    gleam_dataset *b = gleam_reduce_by_key(a, "sum");
    gleam_dataset *c = gleam_reduce_by_key(gleam_map(a, "twice"), "sum");
    gleam_rows *j = gleam_collect(gleam_join(b, c));
    size_t i;
    int n;
    CHECK_INT(gleam_run(f), GLEAM_OK);
    CHECK_INT(gleam_rows_count(j), 97);
    for (i = 0; i < gleam_rows_count(j); i++) {
        const gleam_value *r = gleam_rows_get(j, i, &n);
        CHECK_INT(n, 3);
        CHECK_INT(r[1].u.i, expect_sum((int)r[0].u.i, 1));
        CHECK_INT(r[2].u.i, expect_sum((int)r[0].u.i, 2));
    }
    gleam_flow_free(f);
}

/* A dataset joined with itself: for each key with m rows, m * m output rows. The left side
   cannot be probed before the right side is complete, and both come from the same tasks. */
static void test_self_join(void) {
    int shards;
    for (shards = 1; shards <= 5; shards += 2) {
        gleam_flow *f = gleam_flow_new("self join");
        gleam_dataset *a = numbers(f, shards);
        gleam_rows *j = gleam_collect(gleam_join(a, a));
        long long want = 0, got = 0;
        size_t i;
        int k, n;
        for (k = 0; k < 97; k++) {
            long long m = (N - k + 96) / 97;
            want += m * m;
        }
        CHECK_INT(gleam_run(f), GLEAM_OK);
        CHECK_INT(gleam_rows_count(j), want);
        for (i = 0; i < gleam_rows_count(j); i++) {
            const gleam_value *r = gleam_rows_get(j, i, &n);
            got += r[1].u.i % 97 == r[0].u.i && r[2].u.i % 97 == r[0].u.i;
        }
        CHECK_INT(got, want);
        gleam_flow_free(f);
    }
}

/* union(d, d) has every row twice; reduced, every sum doubles. */
static void test_union_with_itself(void) {
    gleam_flow *f = gleam_flow_new("union with itself");
    gleam_dataset *a = numbers(f, 3);
    gleam_rows *s = gleam_collect(gleam_reduce_by_key(gleam_union(a, a), "sum"));
    size_t i;
    int n;
    CHECK_INT(gleam_run(f), GLEAM_OK);
    CHECK_INT(gleam_rows_count(s), 97);
    for (i = 0; i < gleam_rows_count(s); i++) {
        const gleam_value *r = gleam_rows_get(s, i, &n);
        CHECK_INT(r[1].u.i, 2 * expect_sum((int)r[0].u.i, 1));
    }
    gleam_flow_free(f);
}

/* Eight wide steps in a row, with more shards than threads at every stage. */
static void test_long_chain(void) {
    gleam_flow *f = gleam_flow_new("long chain");
    gleam_options o;
    gleam_dataset *d = numbers(f, 7);
    gleam_rows *out;
    size_t i;
    int n;
    memset(&o, 0, sizeof o);
    o.threads = 3;
    d = gleam_partition(d, 5);
    d = gleam_sort(d, gleam_order_by(2, GLEAM_ASC));
    d = gleam_partition(d, 11);
    d = gleam_distinct(d);
    d = gleam_reduce_by_key(d, "sum");
    d = gleam_partition(d, 2);
    d = gleam_sort(d, gleam_order_by(1, GLEAM_DESC));
    d = gleam_limit(d, 50);
    out = gleam_collect(d);
    CHECK_INT(gleam_run_with(f, &o), GLEAM_OK);
    CHECK_INT(gleam_rows_count(out), 50);
    for (i = 0; i < gleam_rows_count(out); i++) {
        const gleam_value *r = gleam_rows_get(out, i, &n);
        CHECK_INT(r[0].u.i, 96 - (int)i);
        CHECK_INT(r[1].u.i, expect_sum((int)r[0].u.i, 1));
    }
    gleam_flow_free(f);
}

/* A flow that fails in its third stage while others still push: the run ends, with the
   failing step named, and nothing leaks or hangs. */
static gleam_result fail_late(gleam_ctx *c, const gleam_value *row, int n) {
    (void)n;
    if (row[0].u.i == 42) return gleam_fail(c, "key 42 is not welcome");
    return gleam_emit(c, row, n);
}

static void test_failure_mid_flow(void) {
    int threads;
    for (threads = 1; threads <= 4; threads++) {
        gleam_flow *f = gleam_flow_new("failing");
        gleam_options o;
        gleam_dataset *d = numbers(f, 6);
        memset(&o, 0, sizeof o);
        o.threads = threads;
        d = gleam_map(gleam_reduce_by_key(gleam_partition(d, 4), "sum"), "failLate");
        gleam_collect(gleam_sort(d, gleam_order_by(1, GLEAM_ASC)));
        CHECK_INT(gleam_run_with(f, &o), GLEAM_ERR_USER);
        CHECK_HAS(gleam_error(f), "key 42 is not welcome");
        CHECK_HAS(gleam_error(f), "map(failLate)");
        gleam_flow_free(f);
    }
}

int main(void) {
    gleam_register_source("bpSource", bp_source);
    gleam_register_mapper("bpSlow", bp_slow);
    gleam_register_reducer("sum", sum);
    gleam_register_mapper("twice", twice);
    gleam_register_mapper("failLate", fail_late);
    RUN(test_back_pressure);
    RUN(test_fan_out);
    RUN(test_diamond);
    RUN(test_self_join);
    RUN(test_union_with_itself);
    RUN(test_long_chain);
    RUN(test_failure_mid_flow);
    return th_done();
}
