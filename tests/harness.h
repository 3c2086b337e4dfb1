/* harness.h: the project's small test harness: checks that report file and line, a list
   of test functions, scratch files, and the closing "N passed, N failed" line.

   A test file defines GLEAM_IMPLEMENTATION, includes "gleam.h" then this file, writes
   static void test_x(void) functions that use CHECK*, and ends with
       int main(void) { RUN(test_x); ...; return th_done(); }
   A test passes when none of its checks fail. */
#ifndef GLEAM_TEST_HARNESS_H
#define GLEAM_TEST_HARNESS_H

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Not every test file uses every helper. */
#if defined(__GNUC__) || defined(__clang__)
#define TH_FN static __attribute__((unused))
#else
#define TH_FN static
#endif

/* A test's own reference computation (a byte-by-byte comparison, say), run on its one
   thread: ThreadSanitizer has nothing to find there, and instrumenting every byte it reads
   would cost more than the engine's whole run. */
#if defined(__GNUC__) || defined(__clang__)
#define TH_REFERENCE __attribute__((no_sanitize("thread")))
#else
#define TH_REFERENCE
#endif

/* The rows of a heavy test: n, or a quarter of n under a sanitizer, which checks every
   memory access (the code paths and the threads are what it checks; the plain build runs
   the full size). Under ThreadSanitizer a test's loops over thread counts start at two. */
#if defined(__SANITIZE_THREAD__)
#define TH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TH_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TH_ASAN 1
#endif
#endif
#if defined(TH_TSAN) || defined(TH_ASAN)
#define TH_ROWS(n) ((n) / 4)
#else
#define TH_ROWS(n) (n)
#endif
#ifdef TH_TSAN
#define TH_MIN_THREADS 2 /* one thread has no other to race with */
#else
#define TH_MIN_THREADS 1
#endif

static int th_passed, th_failed, th_cur_failed;
static const char *th_name = "";
static char th_dir[256];

TH_FN void th_failf(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    if (!th_cur_failed) fprintf(stderr, "FAIL %s\n", th_name);
    th_cur_failed = 1;
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) th_failf(__FILE__, __LINE__, "%s", #c);                          \
    } while (0)
#define CHECK_INT(a, b)                                                            \
    do {                                                                           \
        long long th_a = (long long)(a), th_b = (long long)(b);                    \
        if (th_a != th_b) th_failf(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, th_a, th_b); \
    } while (0)
#define CHECK_STR(a, b)                                                            \
    do {                                                                           \
        const char *th_a = (a), *th_b = (b);                                       \
        if (!th_a || !th_b || strcmp(th_a, th_b))                                  \
            th_failf(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, th_a ? th_a : "(null)", \
                     th_b ? th_b : "(null)");                                      \
    } while (0)
/* hay contains needle */
#define CHECK_HAS(hay, needle)                                                     \
    do {                                                                           \
        const char *th_h = (hay), *th_n = (needle);                                \
        if (!th_h || !strstr(th_h, th_n))                                          \
            th_failf(__FILE__, __LINE__, "\"%s\" should contain \"%s\"", th_h ? th_h : "(null)", th_n); \
    } while (0)

/* A growable text buffer, always NUL-terminated; exits on out of memory. */
typedef struct th_buf {
    char *p;
    size_t len, cap;
} th_buf;

TH_FN void th_buf_add(th_buf *b, const void *p, size_t n) {
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->len < n + 1) cap *= 2;
        b->p = (char *)realloc(b->p, cap);
        if (!b->p) exit(2);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}
TH_FN void th_buf_str(th_buf *b, const char *s) { th_buf_add(b, s, strlen(s)); }
TH_FN void th_buf_ch(th_buf *b, char c) { th_buf_add(b, &c, 1); }
/* printf into the buffer (at most 511 bytes at a time). */
TH_FN void th_buf_fmt(th_buf *b, const char *fmt, ...) {
    char tmp[512];
    int n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) th_buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
TH_FN void th_buf_free(th_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

#ifdef GLEAM_H /* helpers for tests of the engine */
/* gleam_init on a copy of args (n of them); the resulting argv in out (room for n + 1),
   its count in *argc. */
TH_FN gleam_result th_init_args(const char *const *args, int n, char **out, int *argc) {
    char **av = out;
    int i;
    for (i = 0; i < n; i++) out[i] = (char *)args[i];
    out[n] = NULL;
    *argc = n;
    return gleam_init(argc, &av);
}

/* Run f on `threads` threads, every other option the default. */
TH_FN gleam_result th_run_threads(gleam_flow *f, int threads) {
    gleam_options o;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    return gleam_run_with(f, &o);
}
#endif

#define RUN(fn) th_run(#fn, fn)

/* Run one test; with TH_TIMES set in the environment, print its seconds to stderr. With
   TH_ONLY set (names separated by commas), run only those tests. */
TH_FN void th_run(const char *name, void (*fn)(void)) {
    struct timespec a, b;
    const char *only = getenv("TH_ONLY");
    if (only && *only) {
        size_t n = strlen(name);
        const char *p = only;
        while ((p = strstr(p, name)) && ((p > only && p[-1] != ',') || (p[n] && p[n] != ','))) p += n;
        if (!p) return;
    }
    th_name = name;
    th_cur_failed = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    fn();
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (getenv("TH_TIMES"))
        fprintf(stderr, "%8.3f s  %s\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9, name);
    if (th_cur_failed) th_failed++;
    else th_passed++;
}

TH_FN void th_rm_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st)) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        if (d) {
            while ((e = readdir(d))) {
                char sub[1024];
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                th_rm_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

TH_FN void th_cleanup(void) {
    if (th_dir[0]) th_rm_tree(th_dir);
}

/* A private scratch directory, removed at exit. */
TH_FN const char *th_tmpdir(void) {
    if (!th_dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(th_dir, sizeof th_dir, "%s/gleam-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(th_dir)) {
            perror("mkdtemp");
            exit(2);
        }
        atexit(th_cleanup);
    }
    return th_dir;
}

/* The path of `name` in the scratch directory (a static buffer: copy it to keep it). */
TH_FN const char *th_path(const char *name) {
    static char buf[2][512];
    static int which;
    which ^= 1;
    snprintf(buf[which], sizeof buf[which], "%s/%s", th_tmpdir(), name);
    return buf[which];
}


/* A copy of th_path(name), which the caller frees (th_path's buffers are reused). */
TH_FN char *th_path_copy(const char *name) {
    const char *p = th_path(name);
    char *s = (char *)malloc(strlen(p) + 1);
    if (!s) exit(2);
    strcpy(s, p);
    return s;
}

/* Write len bytes to the scratch file `name`; returns its path. */
TH_FN const char *th_write(const char *name, const void *data, size_t len) {
    const char *path = th_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
        perror(path);
        exit(2);
    }
    return path;
}

/* The whole content of a file, NUL-terminated (free it); *len gets its size. */
TH_FN char *th_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f) return NULL;
    for (;;) {
        size_t got;
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 65536;
            buf = (char *)realloc(buf, cap + 1);
            if (!buf) exit(2);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* Print the closing line; the exit status for main. */
TH_FN int th_done(void) {
    printf("%d passed, %d failed\n", th_passed, th_failed);
    return th_failed ? 1 : 0;
}

#endif
