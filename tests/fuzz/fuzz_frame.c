/* fuzz_frame.c: fuzzing what reads frames from another process: the length-prefixed frames
   of src/exchange/stream.c (gleam__frame_read, gleam__frame_read_max), the messages of
   src/net/wire.c (gleam__msg_recv and the checks gleam__mint, gleam__mbytes, gleam__mname
   that the roles apply to their values), and the consumer side of an exchange in an
   executor (gleam__receive, through gleam__exec_stage), which turns BLOCK, CLOSE and RUNS
   frames into rows for a wide step. The input is read from a file descriptor.

   Input: byte 0 picks what reads the rest (its low two bits):
     0  frames, up to the largest frame (1 GB): each is checked, written again and read
        back the same; its rows, messages and plans decoded
     1  messages (byte 1: the values a message must have, 0 to 7), each value checked
        as an integer, bytes and a name
     2  an exchange's frames (byte 1: the flow of flows.h, byte 2: which of its stages
        rooted at a wide step, byte 3: the shard; each modulo their number), as the
        executor of that task reads them
     3  frames of at most 256 bytes, as 0 */
#include "fuzz.h"
#include "flows.h"

static gleam_flow *fuzz_flows[FUZZ_NFLOWS]; /* kept as long as their plans: a plan borrows their rows */
static gleam__plan *fuzz_plans[FUZZ_NFLOWS];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    int i;
    (void)argc, (void)argv;
    for (i = 0; i < FUZZ_NFLOWS; i++) {
        fuzz_flows[i] = fuzz_flow(i);
        FUZZ_CHECK(fuzz_flows[i] && gleam__plan_build(fuzz_flows[i], 2, &fuzz_plans[i]) == GLEAM_OK);
    }
    return 0;
}

/* >>frames ------------------------------------------------------------------------------ */

/* The rows of a frame that carries them. */
static void fuzz_frame_rows(const gleam__frame *fr) {
    gleam__vals v = {NULL, 0, 0};
    const char *p = fr->data, *end = fr->data + fr->len;
    uint64_t rows = 0, n = 0;
    gleam_result whole = gleam__check_rows(fr->data, fr->len, &rows), r = GLEAM_OK;
    while (p < end && (r = gleam__unpack_row(&p, end, &v)) == GLEAM_OK) n++;
    FUZZ_CHECK((whole == GLEAM_OK) == (r == GLEAM_OK));
    if (whole == GLEAM_OK) FUZZ_CHECK(n == rows);
    gleam__vals_free(&v);
}

static void fuzz_frames(int fd, size_t max) {
    static int back = -1;
    gleam__buf buf = {NULL, 0, 0}, again = {NULL, 0, 0};
    for (;;) {
        gleam__frame fr, fr2;
        int k = gleam__frame_read_max(fd, &buf, &fr, max), nf, bfd;
        if (k == 0) break;
        if (k < 0) {
            FUZZ_CHECK(errno == EPROTO);
            break;
        }
        FUZZ_CHECK(k == 1);
        nf = gleam__frame_fields(fr.type);
        FUZZ_CHECK(nf >= 0 && fr.type >= 1 && fr.type <= 255);
        FUZZ_CHECK(buf.len <= max && fr.len + 1 + 4 * (size_t)nf == buf.len && fr.data == buf.p + 1 + 4 * nf);
        switch (fr.type) {
        case GLEAM__FRAME_BLOCK:
        case GLEAM__FRAME_ROWS: fuzz_frame_rows(&fr); break;
        case GLEAM__FRAME_PLAN: {
            gleam__plan *p = NULL;
            char err[256];
            if (gleam__plan_decode(fr.data, fr.len, &p, err, sizeof err) == GLEAM_OK) gleam__plan_free(p);
            else FUZZ_CHECK(p == NULL && err[0]);
            break;
        }
        default:
            if (fr.type >= GLEAM__FRAME_MSG) fuzz_frame_rows(&fr);
            break;
        }
        /* the frame written again reads back the same */
        bfd = fuzz_fd_slot(&back, NULL, 0);
        FUZZ_CHECK(gleam__frame_write(bfd, fr.type, fr.f, nf, fr.data, fr.len) == 0);
        FUZZ_CHECK(lseek(bfd, 0, SEEK_SET) == 0);
        FUZZ_CHECK(gleam__frame_read_max(bfd, &again, &fr2, max) == 1);
        FUZZ_CHECK(fr2.type == fr.type && fr2.len == fr.len && !memcmp(fr2.f, fr.f, sizeof fr.f));
        FUZZ_CHECK(fr.len == 0 || !memcmp(fr2.data, fr.data, fr.len));
        FUZZ_CHECK(gleam__frame_read_max(bfd, &again, &fr2, max) == 0);
    }
    gleam__buf_free(&buf);
    gleam__buf_free(&again);
}

/* >>messages ---------------------------------------------------------------------------- */

/* Value i of a message through each check, and what each promises when it passes. */
static void fuzz_check_value(const gleam__vals *v, int i) {
    static const int64_t ranges[][2] = {{0, 65535}, {1, 1 << 20}, {INT64_MIN, INT64_MAX}, {-1, 0}};
    char name[256], small[8];
    const char *p;
    size_t len, k, r;
    int64_t x;
    for (r = 0; r < sizeof ranges / sizeof *ranges; r++)
        if (gleam__mint(v, i, ranges[r][0], ranges[r][1], &x) == 0)
            FUZZ_CHECK(i < v->n && v->v[i].type == GLEAM_INT && x == v->v[i].u.i && x >= ranges[r][0] && x <= ranges[r][1]);
        else
            FUZZ_CHECK(i >= v->n || v->v[i].type != GLEAM_INT || v->v[i].u.i < ranges[r][0] || v->v[i].u.i > ranges[r][1]);
    if (gleam__mbytes(v, i, &p, &len) == 0) FUZZ_CHECK(i < v->n && v->v[i].type == GLEAM_BYTES && p == v->v[i].u.s && len == v->v[i].len);
    else FUZZ_CHECK(i >= v->n || v->v[i].type != GLEAM_BYTES);
    if (gleam__mname(v, i, name, sizeof name) == 0) { /* what may become part of a path */
        len = strlen(name);
        FUZZ_CHECK(len >= 1 && len < sizeof name && len == v->v[i].len && !memcmp(name, v->v[i].u.s, len));
        FUZZ_CHECK(strcmp(name, ".") && strcmp(name, "..") && strncmp(name, "..", 2));
        for (k = 0; k < len; k++) FUZZ_CHECK(name[k] != '/' && (unsigned char)name[k] >= 32);
    }
    if (gleam__mname(v, i, small, sizeof small) == 0) FUZZ_CHECK(strlen(small) < sizeof small);
}

static void fuzz_messages(int fd, int least) {
    gleam__buf buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    for (;;) {
        char err[1200];
        int type, i;
        err[0] = 0;
        type = gleam__msg_recv(fd, &buf, &v, least, err, sizeof err);
        if (type == 0) break;
        if (type < 0) {
            FUZZ_CHECK(type == -1 && err[0]);
            break;
        }
        FUZZ_CHECK(type >= GLEAM__MSG_OK && type < GLEAM__MSG_LAST);
        FUZZ_CHECK(v.n >= (type == GLEAM__MSG_ERR ? 1 : least));
        if (type == GLEAM__MSG_ERR) FUZZ_CHECK(strlen(err) <= 1000);
        for (i = 0; i <= v.n; i++) fuzz_check_value(&v, i);
    }
    gleam__vals_free(&v);
    gleam__buf_free(&buf);
}

/* >>exchange ------------------------------------------------------------------------------ */

/* Task `shard` of a stage rooted at a wide step of flow `flow`, its input the frames on fd,
   its own output to nowhere: it must end with its result, and a message when it failed. */
static void fuzz_exchange(int fd, int flow, int which, int shard) {
    const gleam__plan *p = fuzz_plans[flow % FUZZ_NFLOWS];
    const gleam__stage *st = NULL;
    gleam_options opt;
    gleam__job job;
    gleam__frames in;
    gleam_result r;
    int i, n = 0;
    for (i = 0; i < p->nstages; i++) n += gleam__step_class(p->stages[i]->root->kind) == GLEAM__WIDE;
    FUZZ_CHECK(n > 0);
    which %= n;
    for (i = 0; i < p->nstages && !st; i++)
        if (gleam__step_class(p->stages[i]->root->kind) == GLEAM__WIDE && which-- == 0) st = p->stages[i];
    memset(&opt, 0, sizeof opt);
    opt.threads = 1;
    opt.memory_mb = 64;
    opt.progress = -1;
    FUZZ_CHECK(gleam__job_init(&job, p, NULL, &opt) == GLEAM_OK);
    in.next = gleam__frames_fd;
    in.fd = fd;
    r = gleam__exec_stage(&job, st->id, shard % st->nshards, fuzz_null_fd(), &in);
    FUZZ_CHECK(r == GLEAM_OK || job.errmsg[0]);
    gleam__job_free(&job);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    switch (data[0] & 3) {
    case 0: fuzz_frames(fuzz_fd(data + 1, size - 1), GLEAM__FRAME_MAX); break;
    case 1: fuzz_messages(fuzz_fd(data + 2, size - 2), data[1] & 7); break;
    case 2: fuzz_exchange(fuzz_fd(data + 4, size - 4), data[1], data[2], data[3]); break;
    default: fuzz_frames(fuzz_fd(data + 1, size - 1), 256); break;
    }
    return 0;
}
