/* gleam.c: the cluster's two servers, `gleam master` and `gleam agent`: any job binary
   takes the same first argument; this one is only smaller to copy to a machine. */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h"
#include <stdio.h>

int main(int argc, char **argv) {
    if (gleam_init(&argc, &argv) != GLEAM_OK) { /* master and agent never come back here */
        fprintf(stderr, "gleam: %s\n", gleam_error(NULL));
        return 2;
    }
    fprintf(stderr, "usage: gleam master [-address HOST:PORT]\n"
                    "       gleam agent -master HOST:PORT [-host ADDRESS] [-port N] [-dir DIR] [-slots N] [-memory MB]\n");
    return 2;
}
