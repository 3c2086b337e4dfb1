/* fuzz.h: what the fuzz harnesses share: the engine's internal declarations, a check that
   crashes on a broken contract, and an input handed over as a file descriptor or a path.

   A harness is one file that defines LLVMFuzzerTestOneInput and is linked against the
   implementation compiled on its own with GLEAM__EXTERN (as the tests are): with clang's
   -fsanitize=fuzzer for `make fuzz` (tests/fuzz/round.sh), or with replay.c under gcc's
   ASan+UBSan to run the corpora as regression tests (tests/fuzz.sh). Inputs are parsed
   for real: whatever goes wrong must come back as an error status, never as a crash, a
   leak, undefined behaviour, a hang or an allocation sized by what the bytes claim. */
#ifndef GLEAM_FUZZ_H
#define GLEAM_FUZZ_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include "net/net.h" /* the engine's internal declarations (build with -Isrc) */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not every harness uses every helper. */
#if defined(__GNUC__) || defined(__clang__)
#define FUZZ_FN static __attribute__((unused))
#else
#define FUZZ_FN static
#endif

/* A contract the code under test broke: report it and crash, so that the fuzzer keeps the
   input and the replay fails. */
#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* A file descriptor (a memfd, made once) holding exactly p[0..n), read from its start.
   Frames and files are read from descriptors; a memfd takes any size, where a pipe would
   block past its buffer. Crashes when the system refuses. */
FUZZ_FN int fuzz_fd_slot(int *slot, const void *p, size_t n) {
    const char *c = (const char *)p;
    size_t done = 0;
    if (*slot < 0 && (*slot = memfd_create("gleam-fuzz", MFD_CLOEXEC)) < 0) {
        perror("memfd_create");
        abort();
    }
    if (ftruncate(*slot, 0)) {
        perror("ftruncate");
        abort();
    }
    while (done < n) {
        ssize_t w = pwrite(*slot, c + done, n - done, (off_t)done);
        if (w <= 0) {
            perror("pwrite");
            abort();
        }
        done += (size_t)w;
    }
    if (lseek(*slot, 0, SEEK_SET) != 0) {
        perror("lseek");
        abort();
    }
    return *slot;
}

FUZZ_FN int fuzz_fd(const void *p, size_t n) {
    static int fd = -1;
    return fuzz_fd_slot(&fd, p, n);
}

/* A path that opens a file holding exactly p[0..n): the memfd of fuzz_fd, by its name
   under /proc/self/fd. */
FUZZ_FN const char *fuzz_path(const void *p, size_t n) {
    static char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fuzz_fd(p, n));
    return path;
}

/* A descriptor that takes every write and keeps nothing: where a task's own output goes. */
FUZZ_FN int fuzz_null_fd(void) {
    static int fd = -1;
    if (fd < 0 && (fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
        perror("/dev/null");
        abort();
    }
    return fd;
}

#endif /* GLEAM_FUZZ_H */
