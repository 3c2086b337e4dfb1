/* replay.c: runs a fuzz harness without libFuzzer: every file named on the command line,
   and every file in the directories named there, is read and given to
   LLVMFuzzerTestOneInput once, in name order. Linked with a harness under gcc's
   ASan+UBSan, it turns the corpora (seeds and regression inputs) into a test
   (tests/fuzz.sh). Prints one line per input with -v, and a closing line; a crash is the
   harness's own (abort, a sanitizer's report). Exits 2 when an input cannot be read. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* DIR, struct dirent */
#endif
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a harness, as in libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int verbose;
static unsigned long ran;

/* Read a whole file into fresh memory of exactly its size (so that ASan sees any read
   past it), and run it. 0, or -1 when it cannot be read. */
static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    unsigned char *p = NULL;
    size_t n = 0, cap = 0, got;
    if (!f) {
        perror(path);
        return -1;
    }
    for (;;) {
        if (n == cap) {
            unsigned char *q = (unsigned char *)realloc(p, cap = cap ? cap * 2 : 4096);
            if (!q) {
                fprintf(stderr, "%s: out of memory\n", path);
                free(p);
                fclose(f);
                return -1;
            }
            p = q;
        }
        got = fread(p + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        perror(path);
        free(p);
        fclose(f);
        return -1;
    }
    fclose(f);
    {
        unsigned char *exact = (unsigned char *)malloc(n ? n : 1);
        if (!exact) {
            free(p);
            return -1;
        }
        if (n) memcpy(exact, p, n);
        free(p);
        if (verbose) fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
    }
    ran++;
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every regular file in dir, in name order. 0, or -1. */
static int replay_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, i;
    int bad = 0;
    if (!d) {
        perror(dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        char **more;
        size_t len;
        if (e->d_name[0] == '.') continue;
        len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(more = (char **)realloc(names, (n + 1) * sizeof *names)) || !(more[n] = (char *)malloc(len))) {
            fprintf(stderr, "%s: out of memory\n", dir);
            exit(2);
        }
        names = more;
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, by_name);
    for (i = 0; i < n; i++) {
        struct stat st;
        if (!bad && stat(names[i], &st) == 0 && S_ISREG(st.st_mode) && replay_file(names[i])) bad = 1;
        free(names[i]);
    }
    free(names);
    return bad ? -1 : 0;
}

int main(int argc, char **argv) {
    int i, bad = 0;
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    for (i = 1; i < argc && !bad; i++) {
        struct stat st;
        if (!strcmp(argv[i], "-v")) {
            verbose = 1;
            continue;
        }
        if (stat(argv[i], &st)) {
            perror(argv[i]);
            bad = 1;
        } else {
            bad = (S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i])) != 0;
        }
    }
    if (bad) return 2;
    printf("%lu inputs replayed\n", ran);
    return 0;
}
