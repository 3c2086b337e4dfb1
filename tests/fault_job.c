/* fault_job: a word count in three stages that tests/faults.sh runs on a cluster and
   breaks on purpose: its steps can be slowed down (so that a fault lands mid-flight),
   leave a mark when a stage starts, fail on a poisoned row, or kill their own process.

   usage: fault_job [-slow US] [-slow2 US] [-mark FILE] [-die] [-collect] FILE
     -slow US     stage 1 sleeps US microseconds per 1000 lines
     -slow2 US    stage 2 sleeps US microseconds per 100 words
     -mark FILE   stage 2 creates FILE when it takes its first row
     -die         stage 1 kills its own process with SIGKILL at its first line
     -collect     a flow before the word count collects every line of FILE (and prints
                  how many): the word count is then a second flow, whose tasks carry them
   A line that holds the word POISON fails the job: a deterministic error of user code.
   Prints "word count" lines, sorted by word. */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long slow_us, slow2_us;
static const char *mark;
static int die, collect;

/* A line in, a [word, 1] row per word out (a word: a run of bytes other than spaces). */
static gleam_result words(gleam_ctx *c, const gleam_value *row, int n) {
    static __thread long lines;
    const char *s = row[0].u.s, *end = s + row[0].len;
    (void)n;
    if (die) raise(SIGKILL);
    if (slow_us && ++lines % 1000 == 0) usleep((useconds_t)slow_us);
    while (s < end) {
        const char *w;
        gleam_result r;
        while (s < end && *s == ' ') s++;
        for (w = s; s < end && *s != ' '; s++) {
        }
        if (s == w) break;
        if (s - w == 6 && !memcmp(w, "POISON", 6)) return gleam_fail(c, "a poisoned row: \"%.*s\"", (int)row[0].len, row[0].u.s);
        if ((r = GLEAM_EMIT(c, gleam_bytes(w, (size_t)(s - w)), gleam_int(1))) != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

static gleam_result sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    (void)c;
    (void)n;
    acc[0] = gleam_int(gleam_to_int64(acc[0]) + gleam_to_int64(x[0]));
    return GLEAM_OK;
}

/* The row as it is, after the mark and the delay of stage 2. */
static gleam_result settle(gleam_ctx *c, const gleam_value *row, int n) {
    static __thread long rows;
    if (rows++ == 0 && mark) {
        int fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) close(fd);
    }
    if (slow2_us && rows % 100 == 0) usleep((useconds_t)slow2_us);
    return gleam_emit(c, row, n);
}

static int usage(void) {
    fprintf(stderr, "usage: fault_job [-slow US] [-slow2 US] [-mark FILE] [-die] [-collect] FILE\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *file = NULL;
    gleam_flow *f, *first = NULL;
    gleam_dataset *d;
    gleam_result r;
    int i;

    gleam_register_mapper("words", words);
    gleam_register_mapper("settle", settle);
    gleam_register_reducer("sum", sum);
    if (gleam_init(&argc, &argv) != GLEAM_OK) {
        fprintf(stderr, "fault_job: %s\n", gleam_error(NULL));
        return 2;
    }
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-slow") && i + 1 < argc) slow_us = atol(argv[++i]);
        else if (!strcmp(argv[i], "-slow2") && i + 1 < argc) slow2_us = atol(argv[++i]);
        else if (!strcmp(argv[i], "-mark") && i + 1 < argc) mark = argv[++i];
        else if (!strcmp(argv[i], "-die")) die = 1;
        else if (!strcmp(argv[i], "-collect")) collect = 1;
        else if (argv[i][0] == '-' || file) return usage();
        else file = argv[i];
    }
    if (!file) return usage();
    if (collect) {
        gleam_rows *lines;
        first = gleam_flow_new("collect lines");
        lines = gleam_collect(gleam_read(first, gleam_txt(file, 0)));
        if ((r = gleam_run(first)) != GLEAM_OK) {
            fprintf(stderr, "fault_job: %s\n", gleam_error(first));
            gleam_flow_free(first);
            return 1;
        }
        printf("%zu lines\n", gleam_rows_count(lines));
    }
    f = gleam_flow_new("fault job");
    d = gleam_read(f, gleam_txt(file, 0));
    d = gleam_map(d, "words");
    d = gleam_reduce_by_key(d, "sum");
    d = gleam_map(d, "settle");
    d = gleam_sort(d, gleam_order_by(1, GLEAM_ASC));
    gleam_printlnf(d, "%s %d");
    r = gleam_run(f);
    if (r != GLEAM_OK) fprintf(stderr, "fault_job: %s\n", gleam_error(f));
    gleam_flow_free(f);
    gleam_flow_free(first);
    return r == GLEAM_OK ? 0 : 1;
}
