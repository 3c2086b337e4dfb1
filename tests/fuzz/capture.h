/* capture.h: included before an example's own code (cc -include) by tests/fuzz/seeds.sh:
   the example then builds its flows as usual, but each gleam_run writes the encoded plan of
   its flow to the file $GLEAM_FUZZ_PLAN (a second flow to $GLEAM_FUZZ_PLAN-2, and so on)
   and returns GLEAM_OK without running it. These are the plan seeds of the examples. */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h"

#include <stdio.h>
#include <stdlib.h>

static gleam_result gleam_fuzz_capture_run(gleam_flow *f) {
    static int n;
    const char *base = getenv("GLEAM_FUZZ_PLAN");
    gleam__plan *p = NULL;
    gleam__buf b = {NULL, 0, 0};
    char path[1024];
    FILE *out;
    if (!base) {
        fprintf(stderr, "capture: GLEAM_FUZZ_PLAN is not set\n");
        exit(2);
    }
    if (++n == 1) snprintf(path, sizeof path, "%s", base);
    else snprintf(path, sizeof path, "%s-%d", base, n);
    if (gleam__plan_build(f, 2, &p) != GLEAM_OK || gleam__plan_encode(p, &b)) {
        fprintf(stderr, "capture: %s\n", gleam_error(f));
        exit(2);
    }
    if (!(out = fopen(path, "wb")) || fwrite(b.p, 1, b.len, out) != b.len || fclose(out)) {
        perror(path);
        exit(2);
    }
    gleam__plan_free(p);
    gleam__buf_free(&b);
    return GLEAM_OK;
}

#define gleam_run gleam_fuzz_capture_run
