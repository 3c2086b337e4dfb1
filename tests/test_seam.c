/* test_seam.c: one stage of a flow run in separate processes of this test binary (spawned
   with --exec and a socket on fd 3), from the plan's bytes alone, its input and output
   blocks crossing the socket: the answer must be exactly the in-process one, for a fold,
   joins of every kind, a sort (in memory and spilled), a limit in shard order, and a
   source stage feeding a sort and a fold. Rows made in the other processes carry their
   process id, which must not be this one's. */
#include "run/run.h" /* the engine's internal declarations (build with -Isrc) */
#include "harness.h"

#include <sys/socket.h>

extern char **environ;

static gleam_result t_gen(gleam_ctx *c, int shard, int nshards) {
    int i;
    gleam_result r;
    (void)nshards;
    for (i = 0; i < 20000; i++) {
        char key[16];
        int k = (i * 7919 + shard * 104729) % 997;
        snprintf(key, sizeof key, "k%d", k);
        if ((r = GLEAM_EMIT(c, gleam_str(key), gleam_int(i % 101 + shard))) != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

/* Rows of 120 bytes or so: 20000 of them pass a 1 MB share, and a sort spills. */
static gleam_result t_gen_wide(gleam_ctx *c, int shard, int nshards) {
    static const char pad[100] = {0};
    int i;
    gleam_result r;
    (void)nshards;
    for (i = 0; i < 20000; i++)
        if ((r = GLEAM_EMIT(c, gleam_int((i * 7919 + shard * 104729) % 4999), gleam_bytes(pad, sizeof pad), gleam_int(i))) != GLEAM_OK)
            return r;
    return GLEAM_OK;
}

/* Shard 0's keys all come before shard 1's: each sorted run lies in one partition, and
   the other partitions' slices of it are empty. */
static gleam_result t_gen_apart(gleam_ctx *c, int shard, int nshards) {
    char key[16];
    int i;
    gleam_result r;
    (void)nshards;
    for (i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "%c%04d", shard ? 'z' : 'a', (i * 37) % 500);
        if ((r = GLEAM_EMIT(c, gleam_str(key), gleam_int(i))) != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

static gleam_result t_sum(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    (void)c;
    (void)n;
    acc[0] = gleam_int(acc[0].u.i + x[0].u.i);
    return GLEAM_OK;
}

/* The row, then the id of the process that saw it. */
static gleam_result t_pid(gleam_ctx *c, const gleam_value *row, int n) {
    gleam_value v[8];
    int i;
    for (i = 0; i < n && i < 7; i++) v[i] = row[i];
    v[i] = gleam_int((int64_t)getpid());
    return gleam_emit(c, v, i + 1);
}

static gleam_result t_fail_on_k13(gleam_ctx *c, const gleam_value *row, int n) {
    (void)n;
    if (row[0].len == 3 && !memcmp(row[0].u.s, "k13", 3)) return gleam_fail(c, "key %.*s is not wanted", 3, row[0].u.s);
    return gleam_emit(c, row, n);
}

static void t_register(void) {
    gleam_register_source("gen", t_gen);
    gleam_register_source("genWide", t_gen_wide);
    gleam_register_source("genApart", t_gen_apart);
    gleam_register_reducer("sum", t_sum);
    gleam_register_mapper("pid", t_pid);
    gleam_register_mapper("failOnK13", t_fail_on_k13);
}

/* Start this binary with --exec, a socket to it on its fd 3. */
static pid_t t_launch(void *arg, int stage, int shard, int *fd) {
    char *argv[3];
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    int sv[2], e;
    (void)arg;
    (void)stage;
    (void)shard;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return -1;
    (void)fcntl(sv[0], F_SETFD, FD_CLOEXEC);
    (void)fcntl(sv[1], F_SETFD, FD_CLOEXEC);
    argv[0] = (char *)"test_seam";
    argv[1] = (char *)"--exec";
    argv[2] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    e = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    if (e) {
        close(sv[0]);
        errno = e;
        return -1;
    }
    *fd = sv[0];
    return pid;
}

static int t_cmp_lines(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The collected rows as lines ("%v\t%v..."), the last field left out when drop_last (the
   process id), sorted unless ordered. */
static char *t_lines(gleam_rows *rows, int drop_last, int ordered, int *foreign) {
    th_buf b = {0, 0, 0};
    char **lines;
    size_t i, n = gleam_rows_count(rows);
    char *out;
    if (!(lines = (char **)calloc(n + 1, sizeof *lines))) exit(2);
    for (i = 0; i < n; i++) {
        th_buf l = {0, 0, 0};
        int k, nv;
        const gleam_value *v = gleam_rows_get(rows, i, &nv);
        for (k = 0; k < nv - drop_last; k++) {
            char tmp[256];
            gleam_to_string(v[k], tmp, sizeof tmp);
            th_buf_fmt(&l, "%s%s", k ? "\t" : "", tmp);
        }
        if (drop_last && nv > 0 && v[nv - 1].type == GLEAM_INT && v[nv - 1].u.i != (int64_t)getpid()) (*foreign)++;
        th_buf_ch(&l, 0);
        lines[i] = l.p;
    }
    if (!ordered) qsort(lines, n, sizeof *lines, t_cmp_lines);
    for (i = 0; i < n; i++) {
        th_buf_str(&b, lines[i]);
        th_buf_ch(&b, '\n');
        free(lines[i]);
    }
    free(lines);
    th_buf_ch(&b, 0);
    out = b.p;
    return out;
}

typedef gleam_rows *(*t_build_fn)(gleam_flow *f);

/* Build the flow twice: run it in-process, and with stage `stage` in other processes.
   The same rows (the same order when ordered), each made away from this process when
   pid_field says the rows end with the pid of where they were made. */
static void t_same(t_build_fn build, int stage, int ordered, int pid_field, size_t memory_mb) {
    gleam_flow *f1 = gleam_flow_new("seam"), *f2 = gleam_flow_new("seam");
    gleam_rows *r1 = build(f1), *r2 = build(f2);
    gleam_options o;
    gleam_result r;
    int foreign1 = 0, foreign2 = 0;
    memset(&o, 0, sizeof o);
    o.threads = 2;
    o.memory_mb = memory_mb;
    CHECK_INT(gleam_run_with(f1, &o), GLEAM_OK);
    r = gleam__run_flow(f2, &o, stage, t_launch, NULL);
    CHECK_INT(r, GLEAM_OK);
    if (r != GLEAM_OK) fprintf(stderr, "  %s\n", gleam_error(f2));
    if (r == GLEAM_OK) {
        char *a = t_lines(r1, pid_field, ordered, &foreign1), *b = t_lines(r2, pid_field, ordered, &foreign2);
        CHECK(gleam_rows_count(r1) > 0);
        CHECK_INT(gleam_rows_count(r1), gleam_rows_count(r2));
        CHECK(!strcmp(a, b));
        if (strcmp(a, b)) fprintf(stderr, "  in-process:\n%.400s\n  other processes:\n%.400s\n", a, b);
        CHECK_INT(foreign1, 0);
        if (pid_field) CHECK_INT(foreign2, (long long)gleam_rows_count(r2));
        free(a);
        free(b);
    }
    gleam_flow_free(f1);
    gleam_flow_free(f2);
}

/* stage 1: generate; stage 2: reduce_by's consumer -> map(pid) -> collect */
static gleam_rows *t_fold(gleam_flow *f) {
    return gleam_collect(gleam_map(gleam_reduce_by_key(gleam_generate(f, "gen", 3), "sum"), "pid"));
}

static void test_fold_elsewhere(void) { t_same(t_fold, 2, 0, 1, 0); }

static const char *const t_left[] = {"a", "b", "b", "c", "e", "e", "f"};
static const char *const t_right[] = {"b", "c", "c", "d", "e", "g"};

/* stages 1, 2: the values; stage 3: the join's consumer -> map(pid) -> collect */
static gleam_rows *t_join_kind(gleam_flow *f, gleam_join_kind kind) {
    gleam_value l[14], r[12];
    int i;
    for (i = 0; i < 7; i++) {
        l[2 * i] = gleam_str(t_left[i]);
        l[2 * i + 1] = gleam_int(i);
    }
    for (i = 0; i < 6; i++) { /* a right row has three fields: the padding of a left outer join */
        r[2 * i] = gleam_str(t_right[i]);
        r[2 * i + 1] = gleam_int(100 + i);
    }
    return gleam_collect(gleam_map(gleam_join_by(gleam_from_values(f, l, 7, 2, 3), gleam_map(gleam_from_values(f, r, 6, 2, 2), "pid"),
                                                 kind, GLEAM_FIELDS(1)),
                                   "pid"));
}
static gleam_rows *t_inner(gleam_flow *f) { return t_join_kind(f, GLEAM_INNER); }
static gleam_rows *t_left_outer(gleam_flow *f) { return t_join_kind(f, GLEAM_LEFT_OUTER); }
static gleam_rows *t_right_outer(gleam_flow *f) { return t_join_kind(f, GLEAM_RIGHT_OUTER); }

static void test_join_elsewhere(void) {
    /* the right side's rows carry this process's pid (its map runs here): compared as is */
    t_same(t_inner, 3, 0, 1, 0);
    t_same(t_left_outer, 3, 0, 1, 0);
    t_same(t_right_outer, 3, 0, 1, 0);
}

/* stage 1: generate -> map(pid); stage 2: the sort's consumer -> collect */
static gleam_rows *t_sort(gleam_flow *f) {
    return gleam_collect(gleam_sort(gleam_generate(f, "gen", 3), gleam_then_by(gleam_order_by(1, GLEAM_ASC), 2, GLEAM_DESC)));
}

static gleam_rows *t_sort_wide(gleam_flow *f) {
    return gleam_collect(gleam_sort(gleam_generate(f, "genWide", 3), gleam_then_by(gleam_order_by(1, GLEAM_DESC), 3, GLEAM_ASC)));
}

static gleam_rows *t_sort_apart(gleam_flow *f) {
    return gleam_collect(gleam_sort(gleam_generate(f, "genApart", 2), gleam_order_by(1, GLEAM_ASC)));
}

static void test_sort_elsewhere(void) {
    gleam_flow *f = gleam_flow_new("seam");
    gleam_options o;
    t_same(t_sort, 2, 1, 0, 0);
    t_same(t_sort_apart, 2, 1, 0, 0); /* empty slices */
    /* in 1 MB the runs spill (where no spill file can be made, the sort fails), and the
       slices sent are read from disk */
    memset(&o, 0, sizeof o);
    o.threads = 2;
    o.memory_mb = 1;
    o.tmpdir = "/nonexistent-gleam-dir";
    t_sort_wide(f);
    CHECK_INT(gleam__run_flow(f, &o, 2, t_launch, NULL), GLEAM_ERR_IO);
    CHECK_HAS(gleam_error(f), "spill file in /nonexistent-gleam-dir");
    gleam_flow_free(f);
    t_same(t_sort_wide, 2, 1, 0, 1);
}

/* The source stage elsewhere: its sort runs and its partial folds come back here. */
static void test_source_elsewhere(void) {
    t_same(t_sort, 1, 1, 0, 0);
    t_same(t_fold, 1, 0, 0, 0); /* (its pids are this process's: the map runs here) */
}

/* stage 1: generate; 2: sort; 3: the limit's consumer (rows in shard order) -> collect */
static gleam_rows *t_limit(gleam_flow *f) {
    return gleam_collect(gleam_limit(gleam_sort(gleam_generate(f, "gen", 3), gleam_then_by(gleam_order_by(2, GLEAM_DESC), 1, GLEAM_ASC)), 777));
}

static void test_limit_elsewhere(void) {
    t_same(t_limit, 3, 1, 0, 0);
    t_same(t_limit, 2, 1, 0, 0);
}

/* A user function that fails in the other process fails the job here, with its step,
   shard and message. */
static void test_failure_comes_back(void) {
    gleam_flow *f = gleam_flow_new("seam");
    gleam_options o;
    gleam_result r;
    memset(&o, 0, sizeof o);
    o.threads = 2;
    gleam_collect(gleam_map(gleam_reduce_by_key(gleam_generate(f, "gen", 2), "sum"), "failOnK13"));
    r = gleam__run_flow(f, &o, 2, t_launch, NULL);
    CHECK_INT(r, GLEAM_ERR_USER);
    CHECK_HAS(gleam_error(f), "step 3 map(failOnK13), shard ");
    CHECK_HAS(gleam_error(f), "key k13 is not wanted");
    gleam_flow_free(f);
}

int main(int argc, char **argv) {
    t_register();
    if (argc > 1 && !strcmp(argv[1], "--exec")) return gleam__exec_task(3);
    RUN(test_fold_elsewhere);
    RUN(test_join_elsewhere);
    RUN(test_sort_elsewhere);
    RUN(test_source_elsewhere);
    RUN(test_limit_elsewhere);
    RUN(test_failure_comes_back);
    return th_done();
}
