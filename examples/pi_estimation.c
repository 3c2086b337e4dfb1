/* pi_estimation: estimate pi by throwing random points at a square and counting those
   inside the circle: a generator source, a map that does the work, a reduce to one row
   and an output callback. Deterministic: every chunk of points has its own seed.

   usage: pi_estimation [-points N]        (plus the -gleam.* flags) */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h" /* -distributed, and the master and agent roles */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 100000 /* points per row */

static long long points = 10000000;

/* Each shard emits the numbers of its chunks. */
static gleam_result chunks(gleam_ctx *c, int shard, int nshards) {
    long long k, n = points / CHUNK + (points % CHUNK != 0); /* rounded up; points + CHUNK - 1 could overflow */
    gleam_result r = GLEAM_OK;
    for (k = shard; k < n && r == GLEAM_OK; k += nshards) r = GLEAM_EMIT(c, gleam_int(k));
    return r;
}

static uint64_t next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A chunk number in; (points thrown, points inside) out. */
static gleam_result throw_points(gleam_ctx *c, const gleam_value *row, int n) {
    long long k = gleam_to_int64(row[0]), todo = points - k * CHUNK, inside = 0, i;
    uint64_t seed = (uint64_t)k;
    (void)n;
    if (todo > CHUNK) todo = CHUNK;
    for (i = 0; i < todo; i++) {
        double x = (double)(next(&seed) >> 11) / 9007199254740992.0, y = (double)(next(&seed) >> 11) / 9007199254740992.0;
        inside += x * x + y * y < 1.0;
    }
    return GLEAM_EMIT(c, gleam_int(todo), gleam_int(inside));
}

/* (thrown, inside) pairs add up, field by field. */
static gleam_result add(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    int64_t s;
    gleam_result r;
    int i;
    for (i = 0; i < n; i++) {
        if ((r = gleam_add_int64(c, acc[i].u.i, x[i].u.i, &s)) != GLEAM_OK) return r;
        acc[i].u.i = s;
    }
    return GLEAM_OK;
}

static gleam_result print_pi(gleam_ctx *c, const gleam_value *row, int n) {
    (void)c;
    (void)n;
    printf("pi = %.6f (%lld of %lld points inside)\n", 4.0 * (double)row[1].u.i / (double)row[0].u.i,
           (long long)row[1].u.i, (long long)row[0].u.i);
    return GLEAM_OK;
}

int main(int argc, char **argv) {
    gleam_flow *f;
    gleam_result r;

    gleam_register_source("chunks", chunks);
    gleam_register_mapper("throwPoints", throw_points);
    gleam_register_reducer("add", add);
    gleam_register_output("printPi", print_pi);
    if (gleam_init(&argc, &argv) != GLEAM_OK) {
        fprintf(stderr, "pi_estimation: %s\n", gleam_error(NULL));
        return 2;
    }
    if (argc == 3 && !strcmp(argv[1], "-points")) {
        char *end;
        errno = 0;
        points = strtoll(argv[2], &end, 10);
        if (errno || end == argv[2] || *end) points = 0;
    } else if (argc != 1) {
        fprintf(stderr, "usage: pi_estimation [-points N]\n");
        return 2;
    }
    if (points < 1) {
        fprintf(stderr, "pi_estimation: -points needs a positive count (up to 9223372036854775807)\n");
        return 2;
    }
    f = gleam_flow_new("pi estimation");
    gleam_output_row(gleam_reduce(gleam_map(gleam_generate(f, "chunks", 0), "throwPoints"), "add"), "printPi");
    r = gleam_run(f);
    if (r != GLEAM_OK) fprintf(stderr, "pi_estimation: %s\n", gleam_error(f));
    gleam_flow_free(f);
    fflush(stdout);
    return r == GLEAM_OK ? 0 : 1;
}
