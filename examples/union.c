/* union: Gleam's union example on a passwd-style file (name:x:uid:gid:info:home:shell):
   the file sorted, then three datasets made from it (the names, the uids, the home
   directories) united. Each part is ordered, so the union is too: all names in order,
   then all uids, then all homes.

   usage: union FILE        (plus the -gleam.* flags) */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h" /* -distributed, and the master and agent roles */

#include <stdio.h>
#include <string.h>

/* Field k (1-based) of a ':'-separated line; the step's context points at k. */
static gleam_result field(gleam_ctx *c, const gleam_value *row, int n) {
    int k = *(const int *)gleam_ctx_user(c), i;
    const char *s = row[0].u.s, *end = s + row[0].len, *colon;
    (void)n;
    for (i = 1; i < k; i++) {
        if (!(colon = memchr(s, ':', (size_t)(end - s)))) return GLEAM_OK; /* too few fields: skip */
        s = colon + 1;
    }
    colon = memchr(s, ':', (size_t)(end - s));
    return GLEAM_EMIT(c, gleam_bytes(s, (size_t)((colon ? colon : end) - s)));
}

int main(int argc, char **argv) {
    static int user = 1, uid = 3, home = 6;
    gleam_flow *f;
    gleam_dataset *sorted, *u;
    gleam_result r;

    gleam_register_mapper("field", field);
    if (gleam_init(&argc, &argv) != GLEAM_OK) {
        fprintf(stderr, "union: %s\n", gleam_error(NULL));
        return 2;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: union FILE\n");
        return 2;
    }
    f = gleam_flow_new("union of three fields");
    sorted = gleam_sort(gleam_read(f, gleam_txt(argv[1], 0)), gleam_order_by(1, GLEAM_ASC));
    u = gleam_union(gleam_set_ctx(gleam_map(sorted, "field"), &user), gleam_set_ctx(gleam_map(sorted, "field"), &uid));
    u = gleam_union(u, gleam_set_ctx(gleam_map(sorted, "field"), &home));
    gleam_printlnf(u, "%s");
    r = gleam_run(f);
    if (r != GLEAM_OK) fprintf(stderr, "union: %s\n", gleam_error(f));
    gleam_flow_free(f);
    return r == GLEAM_OK ? 0 : 1;
}
