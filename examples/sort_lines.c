/* sort_lines: the lines of a file sorted by their bytes, exactly as `LC_ALL=C sort`
   prints them: a parallel sort (each shard sorts a run, then shards merge key ranges).

   usage: sort_lines FILE        (plus the -gleam.* flags) */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h" /* -distributed, and the master and agent roles */

#include <stdio.h>

int main(int argc, char **argv) {
    gleam_flow *f;
    gleam_dataset *d;
    gleam_result r;

    if (gleam_init(&argc, &argv) != GLEAM_OK) {
        fprintf(stderr, "sort_lines: %s\n", gleam_error(NULL));
        return 2;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: sort_lines FILE\n");
        return 2;
    }
    f = gleam_flow_new("sort lines");
    d = gleam_read(f, gleam_txt(argv[1], 0));
    d = gleam_sort(d, gleam_order_by(1, GLEAM_ASC));
    gleam_printlnf(d, "%s");
    r = gleam_run(f);
    if (r != GLEAM_OK) fprintf(stderr, "sort_lines: %s\n", gleam_error(f));
    gleam_flow_free(f);
    return r == GLEAM_OK ? 0 : 1;
}
