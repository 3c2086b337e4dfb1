/* seeds.c: writes the seed corpora of the fuzz targets (DIR/NAME/seed-*), made by the
   engine from real inputs: the plans of flows with a step of every kind, the frames the
   tasks of the flows of flows.h really send (each consumer's input stream is assembled
   from what its producer tasks wrote, as the driver routes it, and checked to run), the
   messages the roles send, their blocks of packed rows, rows of every type and width,
   and CSV files with quotes, CRLF and empty fields. tests/fuzz/seeds.sh builds and runs
   it, and adds the plans of the examples.
   Run: seeds DIR   (DIR: tests/fuzz/corpus) */
#include "fuzz.h"
#include "flows.h"

static const char *fuzz_dir;
static int fuzz_written;

/* DIR/target/seed-name: the prefix bytes, then n bytes at p. */
static void put(const char *target, const char *name, const void *prefix, size_t np, const void *p, size_t n) {
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s/seed-%s", fuzz_dir, target, name);
    if (!(f = fopen(path, "wb")) || fwrite(prefix, 1, np, f) != np || (n && fwrite(p, 1, n, f) != n) || fclose(f)) {
        perror(path);
        exit(1);
    }
    fuzz_written++;
}

/* The whole contents of fd (a memfd), into b. */
static void slurp(int fd, gleam__buf *b) {
    char chunk[65536];
    ssize_t k;
    b->len = 0;
    FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);
    while ((k = read(fd, chunk, sizeof chunk)) > 0) FUZZ_CHECK(gleam__buf_add(b, chunk, (size_t)k) == 0);
    FUZZ_CHECK(k == 0);
}

static gleam_result nop_row(gleam_ctx *c, const gleam_value *row, int n) {
    (void)c, (void)row, (void)n;
    return GLEAM_OK;
}
static gleam_result nop_source(gleam_ctx *c, int shard, int nshards) {
    (void)c, (void)shard, (void)nshards;
    return GLEAM_OK;
}

/* >>plans ------------------------------------------------------------------------------- */

/* A flow with a step of every kind, several stages, unions and both sides of joins. */
static gleam_flow *every_step_flow(void) {
    static const char *const strs[] = {"a b", "c", "", "d\te \"f\""};
    gleam_value vals[6];
    gleam_flow *f = gleam_flow_new("every step: \"quoted\"\tname");
    gleam_dataset *a, *b, *c, *u, *j, *s;
    gleam_source_desc csv = gleam_csv("data-*.csv", 3);
    vals[0] = gleam_str("k1");
    vals[1] = gleam_int(-5);
    vals[2] = gleam_str("k2");
    vals[3] = gleam_double(2.5);
    vals[4] = gleam_nil();
    vals[5] = gleam_bool(1);
    csv.header = 1;
    csv.delimiter = ';';
    a = gleam_map(gleam_read(f, gleam_txt("input.txt", 2)), "m");
    b = gleam_from_values(f, vals, 3, 2, 2);
    c = gleam_read(f, csv);
    u = gleam_union(gleam_select(a, GLEAM_FIELDS(1, 2)), b);
    u = gleam_union(u, gleam_from_strings(f, strs, 4, 1));
    j = gleam_join_by(gleam_reduce_by_key(u, "r"), gleam_partition(c, 4), GLEAM_LEFT_OUTER, GLEAM_FIELDS(1));
    j = gleam_right_outer_join(j, gleam_distinct(gleam_generate(f, "s", 5)));
    s = gleam_sort(gleam_local_top(j, 7, gleam_order_by(1, GLEAM_DESC)), gleam_then_by(gleam_order_by(2, GLEAM_ASC), 1, GLEAM_DESC));
    gleam_printlnf(gleam_limit(s, 10), "%s %5.2f|%v%%");
    gleam_fprintlnf(gleam_top(s, 3, gleam_order_by(1, GLEAM_ASC)), "out.txt", "%d");
    gleam_write_tsv(gleam_cogroup_by(gleam_group_by(b, GLEAM_FIELDS(2)), gleam_distinct_by(c, GLEAM_FIELDS(2)), GLEAM_FIELDS(1)),
                    "out.tsv");
    gleam_write_csv(gleam_local_sort(gleam_reduce(gleam_pipe(a, "upper", "tr a-z A-Z"), "r"), gleam_order_by(1, GLEAM_ASC)), NULL);
    gleam_output_row(gleam_pipe_as_args(gleam_group_by_key(b), "echo", "echo"), "o");
    gleam_collect(gleam_partition_by(gleam_join(b, gleam_select(c, GLEAM_FIELDS(1, 2))), 2, GLEAM_FIELDS(1)));
    return f;
}

static void plan_seed(gleam_flow *f, const char *name) {
    gleam__plan *p = NULL;
    gleam__buf b = {NULL, 0, 0};
    FUZZ_CHECK(gleam__plan_build(f, 2, &p) == GLEAM_OK);
    FUZZ_CHECK(gleam__plan_encode(p, &b) == 0);
    put("plan", name, "", 0, b.p, b.len);
    gleam__plan_free(p);
    gleam__buf_free(&b);
}

static void plan_seeds(void) {
    gleam_flow *f = every_step_flow();
    char name[64];
    int i;
    plan_seed(f, "every-step");
    gleam_flow_free(f);
    f = gleam_flow_new("");
    plan_seed(f, "empty");
    gleam_flow_free(f);
    for (i = 0; i < FUZZ_NFLOWS; i++) {
        f = fuzz_flow(i);
        snprintf(name, sizeof name, "exchange-flow%d", i);
        plan_seed(f, name);
        gleam_flow_free(f);
    }
}

/* >>frames of real tasks -------------------------------------------------------------------- */

static int in_slot = -1, out_slot = -1;

/* What each task of a flow's plan wrote up its descriptor: by stage index, by shard. */
#define MAX_STAGES 16
#define MAX_SHARDS 64
static gleam__buf task_out[MAX_STAGES][MAX_SHARDS];

/* The frames in b, one at a time: 1 and *fr, or 0 at the end. */
typedef struct frame_iter {
    int fd;
    gleam__buf buf;
} frame_iter;

static void frames_begin(frame_iter *it, const gleam__buf *b) {
    static int slot = -1;
    it->fd = fuzz_fd_slot(&slot, b->p, b->len);
    it->buf.p = NULL;
    it->buf.len = it->buf.cap = 0;
}

static int frames_next(frame_iter *it, gleam__frame *fr) {
    int k = gleam__frame_read(it->fd, &it->buf, fr);
    FUZZ_CHECK(k >= 0);
    if (k == 0) gleam__buf_free(&it->buf);
    return k;
}

/* The input of task `shard` of stage index s, written to fd: the frames of wide step w that
   the tasks before it wrote for that partition, as the driver passes them on. A sort's runs
   came up whole (blocks, then a RUN frame); the driver cuts them at splitters and sends
   each partition its slice of every run: here partition 0 gets every row (splitters that put
   every key below the first cut), the others none. */
static void exchange_input(const gleam__plan *p, int s, int shard, int fd) {
    const gleam__step *w = p->stages[s]->root;
    int runs = gleam__take_of(w) == GLEAM__TAKE_RUNS, i, j;
    uint32_t nruns = 0, f[4];
    for (i = 0; i < s; i++)
        for (j = 0; j < p->stages[i]->nshards; j++) {
            frame_iter it;
            gleam__frame fr;
            gleam__buf run = {NULL, 0, 0};
            frames_begin(&it, &task_out[i][j]);
            while (frames_next(&it, &fr)) {
                if (fr.f[0] != (uint32_t)w->id) continue;
                if (runs && fr.type == GLEAM__FRAME_BLOCK && fr.f[1] == GLEAM__PART_RUN) {
                    FUZZ_CHECK(gleam__buf_add(&run, fr.data, fr.len) == 0);
                } else if (runs && fr.type == GLEAM__FRAME_RUN) {
                    f[0] = (uint32_t)w->id, f[1] = (uint32_t)shard, f[2] = 0, f[3] = nruns++;
                    if (shard == 0 && run.len) FUZZ_CHECK(gleam__frame_write(fd, GLEAM__FRAME_BLOCK, f, 4, run.p, run.len) == 0);
                    run.len = 0;
                } else if (!runs && ((fr.type == GLEAM__FRAME_BLOCK && fr.f[1] == (uint32_t)shard) || fr.type == GLEAM__FRAME_CLOSE)) {
                    FUZZ_CHECK(gleam__frame_write(fd, fr.type, fr.f, gleam__frame_fields(fr.type), fr.data, fr.len) == 0);
                }
            }
            gleam__buf_free(&run);
        }
    if (runs) {
        f[0] = (uint32_t)w->id, f[1] = nruns;
        FUZZ_CHECK(gleam__frame_write(fd, GLEAM__FRAME_RUNS, f, 2, NULL, 0) == 0);
    }
}

/* Run every task of flow fi's plan in stage order, as executors would, each reading the
   input the tasks before it made; keep each consumer's input as a seed of fuzz_frame (mode
   2), each task's output as one of mode 0, and its blocks of rows as seeds of
   fuzz_msgpack. */
static void exchange_seeds(int fi) {
    gleam_flow *f = fuzz_flow(fi);
    gleam__plan *p = NULL;
    gleam__buf in = {NULL, 0, 0};
    gleam_options opt;
    char name[96];
    int s, j, which = 0, blocks = 0;
    FUZZ_CHECK(gleam__plan_build(f, 2, &p) == GLEAM_OK && p->nstages <= MAX_STAGES);
    memset(&opt, 0, sizeof opt);
    opt.threads = 1;
    opt.memory_mb = 64;
    opt.progress = -1;
    for (s = 0; s < p->nstages; s++) {
        const gleam__stage *st = p->stages[s];
        int wide = gleam__step_class(st->root->kind) == GLEAM__WIDE;
        FUZZ_CHECK(st->nshards <= MAX_SHARDS);
        for (j = 0; j < st->nshards; j++) {
            gleam__job job;
            gleam__frames src;
            gleam_result r;
            int infd = -1, outfd = fuzz_fd_slot(&out_slot, NULL, 0);
            if (wide) {
                unsigned char head[4];
                infd = fuzz_fd_slot(&in_slot, NULL, 0);
                exchange_input(p, s, j, infd);
                slurp(infd, &in);
                FUZZ_CHECK(lseek(infd, 0, SEEK_SET) == 0);
                head[0] = 2, head[1] = (unsigned char)fi, head[2] = (unsigned char)which, head[3] = (unsigned char)j;
                snprintf(name, sizeof name, "exchange-flow%d-%s-shard%d", fi, gleam__step_kind_name(st->root->kind), j);
                if (j < 3) put("frame", name, head, 4, in.p, in.len); /* of 64 partitions, a few */
            }
            FUZZ_CHECK(gleam__job_init(&job, p, NULL, &opt) == GLEAM_OK);
            src.next = gleam__frames_fd;
            src.fd = infd;
            r = gleam__exec_stage(&job, st->id, j, outfd, &src);
            if (r != GLEAM_OK) fprintf(stderr, "seeds: flow %d, stage %d, shard %d: %s\n", fi, st->id, j, job.errmsg);
            FUZZ_CHECK(r == GLEAM_OK);
            gleam__job_free(&job);
            slurp(outfd, &task_out[s][j]);
            if (j == 0) {
                frame_iter it;
                gleam__frame fr;
                snprintf(name, sizeof name, "task-output-flow%d-stage%d", fi, st->id);
                put("frame", name, "\0", 1, task_out[s][j].p, task_out[s][j].len);
                frames_begin(&it, &task_out[s][j]);
                while (frames_next(&it, &fr))
                    if ((fr.type == GLEAM__FRAME_BLOCK || fr.type == GLEAM__FRAME_ROWS) && fr.len && blocks < 4) {
                        snprintf(name, sizeof name, "block-flow%d-%d", fi, blocks++);
                        put("msgpack", name, "", 0, fr.data, fr.len);
                    }
            }
        }
        which += wide;
    }
    for (s = 0; s < p->nstages; s++)
        for (j = 0; j < MAX_SHARDS; j++) gleam__buf_free(&task_out[s][j]);
    gleam__buf_free(&in);
    gleam__plan_free(p);
    gleam_flow_free(f);
}

/* What an executor is sent before its input (a PLAN frame, a TASK frame) and what it sends
   last (an END frame), and frames of every type at their smallest. */
static void frame_seeds(void) {
    gleam_flow *f = fuzz_flow(0);
    gleam__plan *p = NULL;
    gleam__buf b = {NULL, 0, 0}, out = {NULL, 0, 0};
    gleam__job job;
    uint32_t task[2] = {2, 1}, zero[4] = {0, 0, 0, 0};
    int fd = fuzz_fd_slot(&out_slot, NULL, 0), t;
    FUZZ_CHECK(gleam__plan_build(f, 2, &p) == GLEAM_OK && gleam__plan_encode(p, &b) == 0);
    FUZZ_CHECK(gleam__frame_write(fd, GLEAM__FRAME_PLAN, NULL, 0, b.p, b.len) == 0);
    FUZZ_CHECK(gleam__frame_write(fd, GLEAM__FRAME_TASK, task, 2, NULL, 0) == 0);
    slurp(fd, &out);
    put("frame", "plan-and-task", "\0", 1, out.p, out.len);
    fd = fuzz_fd_slot(&out_slot, NULL, 0);
    FUZZ_CHECK(gleam__job_init(&job, p, NULL, NULL) == GLEAM_OK);
    gleam__fmt_into(job.errmsg, sizeof job.errmsg, "step 2 reduce_by(sum), shard 1 of 2: reducer \"sum\" returned %s",
                    gleam_result_str(GLEAM_ERR_USER));
    FUZZ_CHECK(gleam__exec_end(&job, fd, GLEAM_ERR_USER) == 0);
    gleam__job_free(&job);
    slurp(fd, &out);
    put("frame", "end-failed", "\0", 1, out.p, out.len);
    fd = fuzz_fd_slot(&out_slot, NULL, 0);
    for (t = 1; t < GLEAM__FRAME_MSG; t++)
        if (gleam__frame_fields(t) >= 0) FUZZ_CHECK(gleam__frame_write(fd, t, zero, gleam__frame_fields(t), NULL, 0) == 0);
    slurp(fd, &out);
    put("frame", "every-type-small", "\3", 1, out.p, out.len);
    gleam__buf_free(&b);
    gleam__buf_free(&out);
    gleam__plan_free(p);
    gleam_flow_free(f);
}

/* >>messages ---------------------------------------------------------------------------- */

static int msg_fd;

static void msg(int type, const gleam_value *v, int n) { FUZZ_CHECK(gleam__msg_send(msg_fd, type, v, n) == 0); }

/* Conversations as the roles hold them: an agent with the master, a driver with the
   master and with an agent, an executor fetching its input. */
static void message_seeds(void) {
    static const char hash[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    gleam__buf out = {NULL, 0, 0}, stages = {NULL, 0, 0}, args = {NULL, 0, 0}, ranges = {NULL, 0, 0};
    gleam_value v[8];
    unsigned char head[2] = {1, 0};
    char range[8];

    msg_fd = fuzz_fd_slot(&out_slot, NULL, 0); /* an agent registers and beats */
    v[0] = gleam_str("10.0.0.7"), v[1] = gleam_int(45327), v[2] = gleam_int(4), v[3] = gleam_int(2048), v[4] = gleam_int(31337);
    msg(GLEAM__MSG_REGISTER, v, 5);
    v[0] = gleam_int(1);
    msg(GLEAM__MSG_OK, v, 1);
    v[0] = gleam_int(2), v[1] = gleam_int(1 << 20), v[2] = gleam_int(1);
    msg(GLEAM__MSG_BEAT, v, 3);
    slurp(msg_fd, &out);
    head[1] = 1;
    put("frame", "messages-agent-master", head, 2, out.p, out.len);

    msg_fd = fuzz_fd_slot(&out_slot, NULL, 0); /* a driver asks the master */
    msg(GLEAM__MSG_AGENTS, NULL, 0);
    v[0] = gleam_int(2), v[1] = gleam_str("10.0.0.7"), v[2] = gleam_int(45327), v[3] = gleam_int(4);
    v[4] = gleam_str("10.0.0.8"), v[5] = gleam_int(45327), v[6] = gleam_int(2);
    msg(GLEAM__MSG_OK, v, 7);
    v[0] = gleam_int(1), v[1] = gleam_str("step 1 values, step 2 reduce_by(sum)"), v[2] = gleam_int(2);
    FUZZ_CHECK(gleam__pack_row(&stages, v, 3) == 0);
    v[0] = gleam_int(2), v[1] = gleam_str("step 2 reduce_by(sum) -> step 3 collect"), v[2] = gleam_int(2), v[3] = gleam_int(1);
    FUZZ_CHECK(gleam__pack_row(&stages, v, 4) == 0);
    v[0] = gleam_str("word count"), v[1] = gleam_bytes(stages.p, stages.len);
    msg(GLEAM__MSG_JOB, v, 2);
    v[0] = gleam_int(7);
    msg(GLEAM__MSG_OK, v, 1);
    v[0] = gleam_int(1), v[1] = gleam_int(2), v[2] = gleam_int(0), v[3] = gleam_int(4), v[4] = gleam_int(52);
    msg(GLEAM__MSG_PROGRESS, v, 5);
    v[0] = gleam_str("no agent has a free slot");
    msg(GLEAM__MSG_ERR, v, 1);
    slurp(msg_fd, &out);
    head[1] = 0;
    put("frame", "messages-driver-master", head, 2, out.p, out.len);

    msg_fd = fuzz_fd_slot(&out_slot, NULL, 0); /* a driver ships its binary and runs a task */
    v[0] = gleam_str(hash);
    msg(GLEAM__MSG_HAVE, v, 1);
    v[0] = gleam_int(0);
    msg(GLEAM__MSG_OK, v, 1);
    v[0] = gleam_str(hash), v[1] = gleam_int(12);
    msg(GLEAM__MSG_BINARY, v, 2);
    v[0] = gleam_bytes("\177ELF\2\1\1\0\0\0\0\0", 12);
    msg(GLEAM__MSG_PIECE, v, 1);
    msg(GLEAM__MSG_OK, NULL, 0);
    v[0] = gleam_str("job-7-1f2e");
    msg(GLEAM__MSG_HOLD, v, 1);
    msg(GLEAM__MSG_OK, NULL, 0);
    v[0] = gleam_str("build/word_count"), v[1] = gleam_str("-distributed"), v[2] = gleam_str("examples/data/flow.txt");
    FUZZ_CHECK(gleam__pack_row(&args, v, 3) == 0);
    v[0] = gleam_str("job-7-1f2e"), v[1] = gleam_str(hash), v[2] = gleam_int(2), v[3] = gleam_int(1);
    v[4] = gleam_bytes(args.p, args.len), v[5] = gleam_str("/home/gleam"), v[6] = gleam_bytes("\x95\x01\x02\x03\x04\x05", 6);
    msg(GLEAM__MSG_RUN, v, 7);
    v[0] = gleam_int(2), v[1] = gleam_str("word_count: 42 lines\n");
    msg(GLEAM__MSG_LOG, v, 2);
    msg(GLEAM__MSG_BEAT, NULL, 0);
    v[0] = gleam_int(0), v[1] = gleam_str(""), v[2] = gleam_int(4096), v[3] = gleam_int(311);
    msg(GLEAM__MSG_DONE, v, 4);
    slurp(msg_fd, &out);
    head[1] = 1;
    put("frame", "messages-driver-agent", head, 2, out.p, out.len);

    msg_fd = fuzz_fd_slot(&out_slot, NULL, 0); /* an executor fetches its input, samples are taken */
    gleam__be32((unsigned char *)range, 0);
    gleam__be32((unsigned char *)range + 4, 3);
    FUZZ_CHECK(gleam__buf_add(&ranges, range, 8) == 0);
    v[0] = gleam_str("job-7-1f2e"), v[1] = gleam_int(1), v[2] = gleam_int(0), v[3] = gleam_int(2), v[4] = gleam_int(1);
    v[5] = gleam_bytes(ranges.p, ranges.len);
    msg(GLEAM__MSG_FETCH, v, 6);
    v[5] = gleam_nil();
    msg(GLEAM__MSG_FETCH, v, 6);
    msg(GLEAM__MSG_OK, NULL, 0);
    v[4] = gleam_int(64);
    msg(GLEAM__MSG_SAMPLE, v, 5);
    v[0] = gleam_bytes("\x92\xa1" "a\x01", 4), v[1] = gleam_bytes("\x92\x00\x00", 3);
    msg(GLEAM__MSG_OK, v, 2);
    v[0] = gleam_bytes("\x93\x01\x02\x03", 4);
    msg(GLEAM__MSG_SPEC, v, 1);
    slurp(msg_fd, &out);
    head[1] = 2;
    put("frame", "messages-executor-agent", head, 2, out.p, out.len);

    msg_fd = fuzz_fd_slot(&out_slot, NULL, 0); /* names that may and may not become paths */
    v[0] = gleam_str("job-7"), v[1] = gleam_str(".."), v[2] = gleam_str("a/b"), v[3] = gleam_str(".hidden");
    v[4] = gleam_str(""), v[5] = gleam_bytes("a\0b", 3), v[6] = gleam_int(-1), v[7] = gleam_str("..x");
    msg(GLEAM__MSG_HOLD, v, 8);
    slurp(msg_fd, &out);
    head[1] = 1;
    put("frame", "messages-names", head, 2, out.p, out.len);

    gleam__buf_free(&out);
    gleam__buf_free(&stages);
    gleam__buf_free(&args);
    gleam__buf_free(&ranges);
}

/* >>rows -------------------------------------------------------------------------------- */

static void row_seed(const char *name, const gleam_value *v, int n) {
    gleam__buf b = {NULL, 0, 0};
    FUZZ_CHECK(gleam__pack_row(&b, v, n) == 0);
    put("msgpack", name, "", 0, b.p, b.len);
    gleam__buf_free(&b);
}

/* Rows of every type, each integer and length at the edges of its encodings, lists from a
   real group_by, and forms other encoders use (bin, float 32, uint 64, 16- and 32-bit
   array headers). */
static void msgpack_seeds(void) {
    static const int64_t ints[] = {0, 127, 128, 255, 256, 65535, 65536, 4294967295ll, 4294967296ll, INT64_MAX,
                                   -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1, INT64_MIN};
    static const unsigned char other[] = {
        0x96, 0xc4, 0x03, 'b', 'i', 'n', 0xca, 0x3f, 0xc0, 0x00, 0x00, /* bin 8, float 32 */
        0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,           /* uint 64 past INT64_MAX */
        0xcc, 0x05, 0xc5, 0x00, 0x01, 'x', 0xc6, 0x00, 0x00, 0x00, 0x00, /* a 5 that could be shorter, bin 16, bin 32 */
        0xdc, 0x00, 0x02, 0xc0, 0xc3,                                   /* array 16 */
        0xdd, 0x00, 0x00, 0x00, 0x01, 0xdd, 0x00, 0x00, 0x00, 0x00};    /* array 32 holding an empty one */
    char big[300];
    gleam_value v[32];
    gleam_flow *f;
    gleam_rows *rows;
    size_t i;
    for (i = 0; i < sizeof ints / sizeof *ints; i++) v[i] = gleam_int(ints[i]);
    row_seed("ints", v, (int)(sizeof ints / sizeof *ints));
    memset(big, 'x', sizeof big);
    v[0] = gleam_nil(), v[1] = gleam_bool(0), v[2] = gleam_bool(1), v[3] = gleam_double(-0.0), v[4] = gleam_double(1e308);
    v[5] = gleam_double(0.1), v[6] = gleam_str(""), v[7] = gleam_bytes(big, 31), v[8] = gleam_bytes(big, 32);
    v[9] = gleam_bytes(big, 255), v[10] = gleam_bytes(big, 256), v[11] = gleam_bytes("a\0b\xff", 4);
    row_seed("types", v, 12);
    row_seed("empty-row", v, 0);
    put("msgpack", "other-encoders", "", 0, other, sizeof other);
    f = gleam_flow_new("lists"); /* a group_by's rows hold lists: (key, [values], [values]) */
    v[0] = gleam_str("a"), v[1] = gleam_int(1), v[2] = gleam_str("b"), v[3] = gleam_int(2), v[4] = gleam_str("a");
    v[5] = gleam_double(3.5), v[6] = gleam_str("a"), v[7] = gleam_str("x");
    rows = gleam_collect(gleam_group_by_key(gleam_group_by_key(gleam_from_values(f, v, 4, 2, 2))));
    FUZZ_CHECK(gleam_run(f) == GLEAM_OK);
    put("msgpack", "group-by-lists", "", 0, rows->data.p, rows->data.len);
    gleam_flow_free(f);
}

/* >>csv --------------------------------------------------------------------------------- */

/* CSV byte 0: delimiter (0 , 1 ; 2 tab 3 |) | header << 2 | (shards - 1) << 3; byte 1: the
   small window less one. */
static void csv_seed(const char *name, int delim, int header, int shards, int window, const char *text, size_t n) {
    unsigned char head[2];
    head[0] = (unsigned char)(delim | header << 2 | (shards - 1) << 3);
    head[1] = (unsigned char)(window - 1);
    put("csv", name, head, 2, text, n);
}
#define CSV_SEED(name, delim, header, shards, window, lit) csv_seed(name, delim, header, shards, window, lit, sizeof lit - 1)

static void csv_file_seed(const char *name, const char *path, int header, int shards) {
    gleam__buf b = {NULL, 0, 0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    slurp(fd, &b);
    close(fd);
    csv_seed(name, 0, header, shards, 7, b.p, b.len);
    gleam__buf_free(&b);
}

static void csv_seeds(void) {
    csv_file_seed("orders", "examples/data/orders.csv", 0, 3);
    csv_file_seed("people", "examples/data/people.csv", 0, 2);
    CSV_SEED("quotes", 0, 1, 2, 5, "id,name,note\n1,\"Smith, John\",\"said \"\"hi\"\"\"\n2,plain,\n3,\"\",\"\"\"\"\n");
    CSV_SEED("crlf", 0, 0, 3, 3, "a,b,c\r\n1,2,3\r\n\"x\r\ny\",\"q\",z\r\n\r\n4,,6\r\n");
    CSV_SEED("empty-fields", 0, 0, 2, 1, ",,\n,\n\n\"\",,\"\"\nlast");
    CSV_SEED("quoted-newlines", 0, 1, 4, 16, "k,v\n\"multi\nline\nfield\",1\n\"a\"\"\n\"\"b\",2\n\"\n\",3\n");
    CSV_SEED("semicolon", 1, 1, 2, 8, "name;city\n\"Dupont; Jean\";Paris\nM\xc3\xbcller;\"K\xc3\xb6ln\"\n");
    CSV_SEED("tabs", 2, 0, 2, 4, "a\tb\t\"c\td\"\n\t\t\n");
    CSV_SEED("pipes-no-newline", 3, 0, 1, 2, "x|y|\"z|w\"");
    CSV_SEED("blank-lines", 0, 0, 3, 2, "\n\n1,2\n\r\n\n3,4\n\n");
    CSV_SEED("bad-quote", 0, 0, 2, 4, "a,b\"c\n1,2\n");
    CSV_SEED("unclosed-quote", 0, 0, 2, 4, "a,\"b\n1,2\n");
    CSV_SEED("after-quote", 0, 0, 1, 6, "\"a\"b,c\n");
}

int main(int argc, char **argv) {
    int i;
    if (argc != 2) {
        fprintf(stderr, "usage: seeds DIR\n");
        return 2;
    }
    fuzz_dir = argv[1];
    gleam_register_mapper("m", nop_row);
    gleam_register_reducer("r", fuzz_sum);
    gleam_register_output("o", nop_row);
    gleam_register_source("s", nop_source);
    plan_seeds();
    for (i = 0; i < FUZZ_NFLOWS; i++) exchange_seeds(i);
    frame_seeds();
    message_seeds();
    msgpack_seeds();
    csv_seeds();
    printf("%d seeds written under %s\n", fuzz_written, fuzz_dir);
    return 0;
}
