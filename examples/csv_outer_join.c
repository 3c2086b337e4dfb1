/* csv_outer_join: Gleam's CSV example: a CSV file with a header line joined to another
   on their first fields, keeping every row of the second (a right outer join); a row
   without a partner prints its missing fields empty.

   usage: csv_outer_join A.csv B.csv        (plus the -gleam.* flags)
   A has a header line; rows print as "key : a2 a3, b4 b5". */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h" /* -distributed, and the master and agent roles */

#include <stdio.h>

int main(int argc, char **argv) {
    gleam_flow *f;
    gleam_dataset *a, *b;
    gleam_source_desc src;
    gleam_result r;

    if (gleam_init(&argc, &argv) != GLEAM_OK) {
        fprintf(stderr, "csv_outer_join: %s\n", gleam_error(NULL));
        return 2;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: csv_outer_join A.csv B.csv\n");
        return 2;
    }
    f = gleam_flow_new("right outer join of two CSV files");
    src = gleam_csv(argv[1], 0);
    src.header = 1;
    a = gleam_select(gleam_read(f, src), GLEAM_FIELDS(1, 2, 3));
    b = gleam_select(gleam_read(f, gleam_csv(argv[2], 0)), GLEAM_FIELDS(1, 4, 5));
    gleam_printlnf(gleam_sort(gleam_right_outer_join(a, b), gleam_then_by(gleam_order_by(1, GLEAM_ASC), 4, GLEAM_ASC)),
                   "%s : %s %s, %s %s");
    r = gleam_run(f);
    if (r != GLEAM_OK) fprintf(stderr, "csv_outer_join: %s\n", gleam_error(f));
    gleam_flow_free(f);
    return r == GLEAM_OK ? 0 : 1;
}
