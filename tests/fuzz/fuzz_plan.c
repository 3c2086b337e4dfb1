/* fuzz_plan.c: fuzzing the plan decoder (gleam__plan_decode in src/plan/codec.c), which
   an executor runs on the bytes of a PLAN frame. A plan it refuses comes back as an error
   with a message and nothing allocated; a plan it accepts must be a whole plan: it encodes,
   its encoding decodes to the same bytes and hash, it can be explained, and a job can be
   set up for it as an executor would (its functions looked up by name). */
#include "fuzz.h"

static gleam_result fuzz_row_fn(gleam_ctx *c, const gleam_value *row, int n) {
    (void)c, (void)row, (void)n;
    return GLEAM_OK;
}
static gleam_result fuzz_reducer(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n) {
    (void)c, (void)acc, (void)x, (void)n;
    return GLEAM_OK;
}
static gleam_result fuzz_source(gleam_ctx *c, int shard, int nshards) {
    (void)c, (void)shard, (void)nshards;
    return GLEAM_OK;
}

/* The names the seeds' plans use (the examples' functions, and the seed generator's). */
static void fuzz_register(void) {
    static const char *const mappers[] = {"appendOne", "field",       "parseCount", "readContent", "tfidf",
                                          "throwPoints", "toStats",   "tokenize",   "wordsOfLine", "m"};
    static const char *const reducers[] = {"add", "mergeStats", "sum", "r"};
    static const char *const outputs[] = {"printPi", "o"};
    static const char *const sources[] = {"chunks", "s"};
    size_t i;
    for (i = 0; i < sizeof mappers / sizeof *mappers; i++) gleam_register_mapper(mappers[i], fuzz_row_fn);
    for (i = 0; i < sizeof reducers / sizeof *reducers; i++) gleam_register_reducer(reducers[i], fuzz_reducer);
    for (i = 0; i < sizeof outputs / sizeof *outputs; i++) gleam_register_output(outputs[i], fuzz_row_fn);
    for (i = 0; i < sizeof sources / sizeof *sources; i++) gleam_register_source(sources[i], fuzz_source);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_register();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *devnull;
    gleam__plan *p = NULL, *q = NULL;
    gleam__buf a = {NULL, 0, 0}, b = {NULL, 0, 0};
    gleam_options opt;
    gleam__job job;
    char err[512];
    gleam_result r;
    int i;
    if (!devnull && !(devnull = fopen("/dev/null", "w"))) abort();
    r = gleam__plan_decode((const char *)data, size, &p, err, sizeof err);
    if (r != GLEAM_OK) {
        FUZZ_CHECK(p == NULL && err[0] != 0 && (r == GLEAM_ERR_INPUT || r == GLEAM_ERR_NOMEM));
        return 0;
    }
    FUZZ_CHECK(p != NULL);
    FUZZ_CHECK(gleam__plan_encode(p, &a) == 0);
    r = gleam__plan_decode(a.p, a.len, &q, err, sizeof err);
    if (r != GLEAM_OK) fprintf(stderr, "a decoded plan's own encoding does not decode: %s\n", err);
    FUZZ_CHECK(r == GLEAM_OK);
    FUZZ_CHECK(gleam__plan_encode(q, &b) == 0);
    FUZZ_CHECK(a.len == b.len && !memcmp(a.p, b.p, a.len));
    FUZZ_CHECK(gleam__plan_hash(p) == gleam__plan_hash(q));
    FUZZ_CHECK(q->nsteps == p->nsteps && q->nstages == p->nstages);
    for (i = 0; i < p->nstages; i++) FUZZ_CHECK(p->stages[i]->nshards >= 1 && p->stages[i]->nnodes >= 1);
    gleam__plan_print(p, 2, devnull);
    gleam__plan_dot(p, 2, devnull);
    memset(&opt, 0, sizeof opt);
    opt.threads = 2;
    opt.memory_mb = 64;
    opt.progress = -1;
    r = gleam__job_init(&job, p, NULL, &opt); /* what an executor does next */
    FUZZ_CHECK(r == GLEAM_OK || (r == GLEAM_ERR_PLAN && job.errmsg[0]));
    gleam__job_free(&job);
    gleam__plan_free(q);
    gleam__plan_free(p);
    gleam__buf_free(&a);
    gleam__buf_free(&b);
    return 0;
}
