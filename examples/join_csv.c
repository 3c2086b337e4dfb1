/* join_csv: the join of two CSV files, as in Gleam's README: rows of A (a1..a5) and of B
   (b1..b3) where a1 = b2, printed as "a1,a4,b3", one line per matching pair.

   usage: join_csv A.csv B.csv        (plus the -gleam.* flags) */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h" /* -distributed, and the master and agent roles */

#include <stdio.h>

int main(int argc, char **argv) {
    gleam_flow *f;
    gleam_dataset *a, *b;
    gleam_result r;

    if (gleam_init(&argc, &argv) != GLEAM_OK) {
        fprintf(stderr, "join_csv: %s\n", gleam_error(NULL));
        return 2;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: join_csv A.csv B.csv\n");
        return 2;
    }
    f = gleam_flow_new("join a.csv and b.csv by a1 = b2");
    a = gleam_select(gleam_read(f, gleam_csv(argv[1], 0)), GLEAM_FIELDS(1, 4)); /* a1, a4 */
    b = gleam_select(gleam_read(f, gleam_csv(argv[2], 0)), GLEAM_FIELDS(2, 3)); /* b2, b3 */
    gleam_printlnf(gleam_join(a, b), "%s,%s,%s");                                 /* a1, a4, b3 */
    r = gleam_run(f);
    if (r != GLEAM_OK) fprintf(stderr, "join_csv: %s\n", gleam_error(f));
    gleam_flow_free(f);
    return r == GLEAM_OK ? 0 : 1;
}
