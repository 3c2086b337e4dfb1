/* internal.h: the engine's private types and the prototypes its source files share. */
#ifndef GLEAM_INTERNAL_H
#define GLEAM_INTERNAL_H

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(GLEAM_MALLOC) && defined(GLEAM_REALLOC) && defined(GLEAM_FREE)
#define GLEAM__USER_ALLOC 1 /* every allocation goes through them, big blocks too */
#elif !defined(GLEAM_MALLOC) && !defined(GLEAM_REALLOC) && !defined(GLEAM_FREE)
#define GLEAM_MALLOC(n) malloc(n)
#define GLEAM_REALLOC(p, n) realloc(p, n)
#define GLEAM_FREE(p) free(p)
#else
#error "gleam.h: define all of GLEAM_MALLOC, GLEAM_REALLOC and GLEAM_FREE, or none"
#endif
#ifndef GLEAM_ASSERT
#define GLEAM_ASSERT(c) assert(c)
#endif

#define GLEAM__MIN(a, b) ((a) < (b) ? (a) : (b))
#define GLEAM__MAX(a, b) ((a) > (b) ? (a) : (b))
/* Start fetching the cache line at p (a hint: never faults). */
#if defined(__GNUC__) || defined(__clang__)
#define GLEAM__PREFETCH(p) __builtin_prefetch(p)
#else
#define GLEAM__PREFETCH(p) ((void)(p))
#endif

/* A small function on the path of every row, inlined even where the compiler's size
   rules would call it; its rare cases are separate functions (OFFPATH: never inlined, so
   the row path saves no registers for them). */
#if defined(__GNUC__) || defined(__clang__)
#define GLEAM__ROWPATH static inline __attribute__((always_inline))
#define GLEAM__OFFPATH static __attribute__((noinline))
#else
#define GLEAM__ROWPATH static inline
#define GLEAM__OFFPATH static
#endif

#define GLEAM__ERRMAX 1024

typedef struct gleam__step gleam__step;
typedef struct gleam__node gleam__node;
typedef struct gleam__stage gleam__stage;
typedef struct gleam__plan gleam__plan;
typedef struct gleam__xchg gleam__xchg;
typedef struct gleam__part gleam__part;
typedef struct gleam__block gleam__block;
typedef struct gleam__job gleam__job;
typedef struct gleam__task gleam__task;
typedef struct gleam__op gleam__op;
typedef struct gleam__sink gleam__sink;
typedef struct gleam__fmt gleam__fmt;

/* >>memory: growable buffers and arenas -------------------------------------------- */

typedef struct gleam__buf {
    char *p;
    size_t len, cap;
} gleam__buf;

typedef struct gleam__chunk {
    struct gleam__chunk *next;
    size_t cap, used;
} gleam__chunk;

/* Bump allocation from chunks, all freed at once: no malloc per row or value. */
typedef struct gleam__arena {
    gleam__chunk *head;
    gleam__chunk *spare; /* kept by gleam__arena_rewind for reuse, largest first */
    size_t bytes; /* held by all chunks, spare ones too */
    size_t used;  /* handed out since the last reset */
} gleam__arena;

static void *gleam__malloc(size_t n);
static void *gleam__calloc(size_t n, size_t size);
static void *gleam__realloc(void *p, size_t n);
static void gleam__free(void *p);
static char *gleam__strdup(const char *s);
static int gleam__buf_reserve(gleam__buf *b, size_t extra);
static int gleam__buf_add(gleam__buf *b, const void *p, size_t n);
static void gleam__buf_free(gleam__buf *b);
/* Big blocks (tables, arena chunks, sort arrays of 256 KB and more) come straight from
   mmap in whole 2 MB pages, aligned so the kernel can back them with huge pages: random
   probes then miss the TLB far less, and a first touch faults once per 2 MB, not per
   4 KB (each fault is dear on a virtual machine). The memory comes zeroed. */
static void *gleam__big_alloc(size_t n);
static void gleam__big_free(void *p, size_t n);
static void *gleam__big_realloc(void *p, size_t old, size_t n);
static void *gleam__arena_alloc(gleam__arena *a, size_t n);
static void *gleam__arena_dup(gleam__arena *a, const void *p, size_t n);
static void gleam__arena_reset(gleam__arena *a);
/* Forget every allocation but keep every chunk, to be handed out again: memory that is
   refilled at once (a combine table after its flush) is not given back to the system and
   faulted in afresh, zeroed by the kernel page by page. */
static void gleam__arena_rewind(gleam__arena *a);
static void gleam__arena_free(gleam__arena *a);
static uint64_t gleam__hash(const void *p, size_t n);
static int gleam__vfmt(char *dst, size_t cap, const char *fmt, va_list ap);
static int gleam__fmt_into(char *dst, size_t cap, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* >>spill: nameless temporary files -------------------------------------------------- */

typedef struct gleam__spill {
    int fd;
    uint64_t size;          /* bytes written */
    gleam__buf wbuf;
} gleam__spill;

static int gleam__spill_open(gleam__spill *s, const char *dir);
static int gleam__write_all(int fd, const char *p, size_t n);
static int gleam__spill_write(gleam__spill *s, const void *p, size_t n);
static int gleam__spill_record(gleam__spill *s, const void *p, size_t n);
static int gleam__spill_end(gleam__spill *s);
static void gleam__spill_close(gleam__spill *s);

/* >>pack: MessagePack rows ----------------------------------------------------------- */

static int gleam__pack_value(gleam__buf *b, gleam_value v);
static int gleam__pack_row(gleam__buf *b, const gleam_value *row, int n);
static size_t gleam__row_size(const gleam_value *row, int n);
/* Rows we packed ourselves are well formed: walking them needs no end bound, but one is
   given (far beyond any row) so that the same checked decoder serves. */
#define GLEAM__NOEND(p) ((p) + ((size_t)1 << 40))
static char *gleam__put_row(char *p, const gleam_value *row, int n);
/* Field `field` (1-based) of a packed row; nil when the row is shorter. */
static gleam_value gleam__row_field(const char *row, int field);
/* Bytes of the packed row at row. */
static size_t gleam__row_len(const char *row);
static size_t gleam__packed_size(gleam_value v);
/* Decode one value at *p; advances *p. GLEAM_ERR_INPUT on bad or truncated data. */
static gleam_result gleam__unpack_value(const char **p, const char *end, gleam_value *out);
/* Decode the array header of a row at *p: its number of values. */
static gleam_result gleam__unpack_header(const char **p, const char *end, uint32_t *n);
static gleam_result gleam__skip_value(const char **p, const char *end);

/* A growable array of values a task decodes rows into. */
typedef struct gleam__vals {
    gleam_value *v;
    int n, cap;
} gleam__vals;
static int gleam__vals_reserve(gleam__vals *a, int n);
/* Decode the row at *p into a (resized as needed). */
static gleam_result gleam__unpack_row(const char **p, const char *end, gleam__vals *a);
static void gleam__vals_free(gleam__vals *a);
/* Append the text form of v (as %v prints it). 0, or -1 when out of memory. */
static int gleam__value_text(gleam__buf *b, gleam_value v);

/* >>registry ------------------------------------------------------------------------- */

enum { GLEAM__FN_MAPPER, GLEAM__FN_REDUCER, GLEAM__FN_OUTPUT, GLEAM__FN_SOURCE };
typedef struct gleam__fn {
    char *name;
    int kind;
    union {
        gleam_row_fn row;
        gleam_reducer_fn reducer;
        gleam_source_fn source;
    } u;
} gleam__fn;
static const gleam__fn *gleam__lookup(const char *name);
static const char *gleam__fn_kind_name(int kind);

/* >>flow: steps and datasets as the user built them ---------------------------------- */

enum { GLEAM__SOURCE, GLEAM__NARROW, GLEAM__WIDE, GLEAM__OUTPUT };

/* X(id, name, class, function kind or -1) */
#define GLEAM__STEPS(X)                                                                   \
    X(READ, "read", GLEAM__SOURCE, -1)                                                    \
    X(VALUES, "values", GLEAM__SOURCE, -1)                                                \
    X(GENERATE, "generate", GLEAM__SOURCE, GLEAM__FN_SOURCE)                              \
    X(MAP, "map", GLEAM__NARROW, GLEAM__FN_MAPPER)                                        \
    X(SELECT, "select", GLEAM__NARROW, -1)                                                \
    X(LOCAL_SORT, "local_sort", GLEAM__NARROW, -1)                                        \
    X(LOCAL_TOP, "local_top", GLEAM__NARROW, -1)                                          \
    X(UNION, "union", GLEAM__NARROW, -1)                                                  \
    X(PIPE, "pipe", GLEAM__NARROW, -1)                                                    \
    X(PIPE_ARGS, "pipe_as_args", GLEAM__NARROW, -1)                                       \
    X(REDUCE_BY, "reduce_by", GLEAM__WIDE, GLEAM__FN_REDUCER)                             \
    X(REDUCE, "reduce", GLEAM__WIDE, GLEAM__FN_REDUCER)                                   \
    X(GROUP_BY, "group_by", GLEAM__WIDE, -1)                                              \
    X(SORT, "sort", GLEAM__WIDE, -1)                                                      \
    X(TOP, "top", GLEAM__WIDE, -1)                                                        \
    X(DISTINCT, "distinct", GLEAM__WIDE, -1)                                              \
    X(LIMIT, "limit", GLEAM__WIDE, -1)                                                    \
    X(PARTITION, "partition", GLEAM__WIDE, -1)                                            \
    X(JOIN, "join", GLEAM__WIDE, -1)                                                      \
    X(COGROUP, "cogroup", GLEAM__WIDE, -1)                                                \
    X(PRINTF, "printlnf", GLEAM__OUTPUT, -1)                                              \
    X(WRITE_TSV, "write_tsv", GLEAM__OUTPUT, -1)                                          \
    X(WRITE_CSV, "write_csv", GLEAM__OUTPUT, -1)                                          \
    X(OUTPUT_ROW, "output_row", GLEAM__OUTPUT, GLEAM__FN_OUTPUT)                          \
    X(COLLECT, "collect", GLEAM__OUTPUT, -1)

enum {
#define GLEAM__STEP_ENUM(id, name, cls, fk) GLEAM__##id,
    GLEAM__STEPS(GLEAM__STEP_ENUM)
#undef GLEAM__STEP_ENUM
    GLEAM__NSTEPKINDS
};

/* One conversion (or literal run) of a printlnf format. */
struct gleam__fmt {
    char conv;          /* 0: literal text; else s d v f g e x X c ... */
    char spec[24];      /* the printf spec for numbers, "%-08.3f" */
    int width, prec;    /* for %s / %v: -1 when absent */
    int left;           /* '-' flag */
    int plain;          /* %d alone: written without printf */
    const char *text;   /* literal */
    size_t len;
};

struct gleam__step {
    gleam_flow *flow;
    int id, kind;
    gleam_dataset *in[2];
    int nin;
    gleam_dataset *out;     /* NULL for outputs */
    char *fn_name;          /* registered function; a pipe's name */
    char *command;          /* pipe, pipe_as_args: the shell command */
    const gleam__fn *fn;    /* resolved when planning */
    void *user;             /* gleam_set_ctx */
    gleam_fields key;       /* key fields (n >= 1 once made) */
    int whole_row;          /* distinct on whole rows */
    gleam_order order;
    int64_t k;              /* top, local_top, limit */
    int shards;             /* partition */
    gleam_join_kind join;
    /* sources */
    gleam_format format;
    int header;
    char delim;
    char **paths;
    int npaths;
    gleam__buf values;      /* in-memory rows, packed */
    size_t nrows;
    /* outputs */
    char *path;             /* NULL: standard output */
    char *format_text;
    gleam__fmt *fmt;
    int nfmt;
    gleam_rows *rows;
};

struct gleam_dataset {
    gleam_flow *flow;
    int id;
    gleam__step *from;
    int nshards;
    int ordered;            /* shard i's rows all come before shard i+1's, in order */
};

struct gleam_rows {
    gleam__buf data;        /* packed rows */
    size_t count;
    gleam_value *vals;      /* decoded, after the run */
    size_t *start;          /* row i: vals[start[i] .. start[i+1]) */
};

struct gleam_flow {
    char *name;
    gleam__step **steps;
    int nsteps, capsteps;
    gleam_dataset **ds;
    int nds, capds;
    gleam_step_stats *stats; /* after a run: by step id */
    gleam_job_stats jstats;
    int has_stats;
    gleam_result err;       /* first builder error, or the run's result */
    char errmsg[GLEAM__ERRMAX];
    int ran;
};

static void gleam__flow_fail(gleam_flow *f, gleam_result r, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* "step 3 map(tokenize)" */
static void gleam__step_label(const gleam__step *s, char *buf, size_t cap);
static const char *gleam__step_kind_name(int kind);
static int gleam__default_threads(void);
static int gleam__ds_shards(const gleam_dataset *d, int threads);
static int gleam__rows_index(gleam_rows *r);
static int gleam__step_class(int kind);

/* >>plan: stages of fused steps ------------------------------------------------------ */

/* A step placed in a stage's tree of fused operators. */
struct gleam__node {
    gleam__step *step;
    int side;               /* which input of step this node feeds (join, cogroup, union) */
    int index;              /* position in stage->nodes: the task's op of this node */
    int offset;             /* shard number offset added by unions on the way here */
    gleam__node *parent;
    gleam__node **kids;
    int nkids;
};

struct gleam__stage {
    int id;
    int nshards;
    gleam__step *root;      /* a source step, or the wide step whose consumer roots this stage */
    gleam__xchg *in;        /* the exchange read, for a wide root */
    gleam__node **nodes;    /* preorder; nodes[0] is the root */
    int nnodes, capnodes;
};

struct gleam__plan {
    gleam_flow *flow;
    gleam__stage **stages;
    int nstages;
    gleam__xchg **xchgs;    /* by step id; NULL for other steps */
    gleam__sink **sinks;    /* by step id */
    struct gleam__files **files; /* read steps' files and splits, by step id */
    size_t **starts;        /* in-memory sources: each shard's first row, by step id */
    int nsteps;
};

/* >>exchange: rows moving between shards -------------------------------------------- */

/* A block of packed rows on its way to one partition. */
struct gleam__block {
    gleam__block *next;
    size_t len, cap;
    int side;               /* input of the wide step */
    int producer;           /* shard (with union offset) that made it */
    int kept;               /* its consumer keeps it and frees it later */
    char *data;
};

struct gleam__part {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gleam__block *head[2], *tail[2];
    size_t bytes;           /* queued */
    int busy;               /* a thread is running the consumer on this partition */
    int finished;
    int aborted;            /* the job stopped: nobody waits here any more */
    gleam__task *task;      /* the consumer task */
};

typedef struct gleam__srow gleam__srow;
typedef struct gleam__run gleam__run;

struct gleam__xchg {
    gleam__step *step;
    gleam__stage *stage;    /* consumer */
    int nparts, nsides;
    int producers[2];       /* producer op instances per side */
    int open[2];            /* not yet closed */
    int width[2];           /* widest row seen per side (join padding) */
    int ordered;            /* consume blocks in producer order, at the end (ordered limit) */
    int build_done;         /* join: the right side is complete, the left may be probed */
    int parts_done;         /* partitions finished: at nparts the runs are freed */
    pthread_mutex_t mu;
    gleam__part *parts;
    gleam__run **runs;      /* sort: one sorted run per producer */
    int nruns, capruns;
    int ndisk;              /* sort: runs on disk, also those being merged into one */
    size_t *bounds;         /* sort: run r, partition j: rows [bounds[r*(P+1)+j], ..[j+1]) */
    gleam__srow *splits;    /* sort: partition j holds keys in [splits[j-1], splits[j]) */
};

/* >>sort: sorted runs of packed rows ------------------------------------------------- */

struct gleam__srow {
    uint64_t key;           /* order-preserving prefix of the first order field */
    const char *row;        /* packed row */
};

/* Sorted rows, in memory or on disk. On disk, `file` holds every row as a record, in
   order, and rows[] is a sparse index: a copy of the row at offs[i], about every 64 KB. */
struct gleam__run {
    gleam__srow *rows;
    size_t n, cap;
    gleam__arena mem;
    struct gleam__run_part *parts; /* GLEAM__RUN_PARTS of them: rows by the top byte of their key */
    gleam__spill *file;
    uint64_t *offs;
};

typedef struct gleam__cmp {
    const gleam_order *order;
    int maxfield;
} gleam__cmp;

static int gleam__run_add(gleam__run *r, const gleam__cmp *c, const gleam_value *row, int n);
static int gleam__run_sort(gleam__run *r, const gleam__cmp *c);
static void gleam__run_free(gleam__run *r);
static int gleam__srow_cmp(const gleam__cmp *c, const gleam__srow *a, const gleam__srow *b);
static gleam__run *gleam__run_new(void);
static int gleam__run_truncate(gleam__run *r, size_t k);

/* >>table: open addressing on hashed packed keys ------------------------------------- */

typedef struct gleam__slot {
    uint64_t h;
    char *e;                /* entry: uint32 klen, key bytes, padding, payload */
} gleam__slot;

typedef struct gleam__table {
    gleam__slot *slots;
    size_t mask, count;
    gleam__arena mem;
    int dense;              /* grow at 3/4 full, not 1/2 */
} gleam__table;

static int gleam__table_init(gleam__table *t, size_t hint);
/* The payload of the entry for key, made (zeroed, `payload` bytes) if absent: *made = 1. */
static void *gleam__table_upsert(gleam__table *t, uint64_t h, const char *key, uint32_t klen,
                                 size_t payload, int *made);
static void *gleam__table_find(const gleam__table *t, uint64_t h, const char *key, uint32_t klen);
/* gleam__table_upsert in two: the probe (the payload, or NULL and the slot it ends at), and
   the insert at that slot. */
static inline void *gleam__table_probe(const gleam__table *t, uint64_t h, const char *key, uint32_t klen, size_t *at);
static void *gleam__table_insert(gleam__table *t, size_t i, uint64_t h, const char *key, uint32_t klen, size_t payload,
                                 int *made);
static size_t gleam__table_bytes(const gleam__table *t);
static void gleam__table_clear(gleam__table *t);
static void gleam__table_free(gleam__table *t);
static size_t gleam__entry_key(const char *e, const char **key);
static void *gleam__entry_payload(char *e);

/* >>run: the job, its tasks and operators -------------------------------------------- */

struct gleam_ctx {
    gleam__op *op;
    gleam__task *task;
    int shard;              /* the shard (with union offsets) whose rows this call sees */
    gleam__arena scratch;
    int in_call;
    int source;             /* the op is a source: its rows are counted as read */
};

/* An operator instance: one per node per task. Rows come in by push; finish marks the end
   of the input (and flushes whatever the op holds); absorb takes a block of a wide step
   (consumer roots only). */
struct gleam__op {
    gleam__node *node;
    gleam__task *task;
    gleam_result (*push)(gleam__op *op, const gleam_value *row, int n);
    gleam_result (*finish)(gleam__op *op);
    gleam_result (*absorb)(gleam__op *op, gleam__block *b);
    void (*free)(gleam__op *op);
    gleam__op **kids;
    int nkids, ndone;
    int done;               /* wants no more rows */
    gleam_ctx ctx;
    gleam__vals vals;       /* scratch row */
    gleam__buf key;         /* scratch packed key */
    uint64_t nin, nout;     /* rows pushed into it, rows it emitted (statistics) */
    uint64_t published;     /* sources: rows already counted on the progress line */
    uint64_t bytes;         /* read, sent, piped or written: see gleam_step_stats */
    size_t peak;            /* the most memory its tables or runs held */
};
#define GLEAM__NOTE_PEAK(op, n)                                                           \
    do {                                                                                  \
        size_t gleam__n = (n);                                                            \
        if (gleam__n > (op)->peak) (op)->peak = gleam__n;                                 \
    } while (0)

struct gleam__task {
    gleam__job *job;
    gleam__stage *stage;
    int shard;
    gleam__op **ops;        /* by node index */
    /* where the current input row comes from, for error messages */
    const char *in_path;
    uint64_t in_off;
    int in_stream;          /* a pipe: no line number can be looked up afterwards */
    char usermsg[GLEAM__ERRMAX]; /* gleam_fail */
    int has_usermsg;
    double t0;              /* when it began work (0: not yet) */
};

typedef struct gleam__work {
    void (*fn)(gleam__job *job, void *arg, int i);
    void *arg;
    int i;
} gleam__work;

struct gleam__job {
    gleam_flow *flow;
    gleam__plan *plan;
    gleam_options opt;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gleam__work *q;
    size_t qhead, qlen, qcap;
    int running, remaining, aborted, stalled;
    gleam_result err;
    char errmsg[GLEAM__ERRMAX];
    gleam__task ***tasks;   /* by stage, by shard */
    size_t part_cap;        /* bytes a partition queue holds before producers wait */
    size_t share;           /* bytes one operator may hold before it spills */
    size_t block_size;
    /* statistics and progress, under smu */
    pthread_mutex_t smu;
    pthread_cond_t scv;
    gleam_step_stats *stats; /* by step id */
    double *span;           /* by step id: when its first task began, when its last ended */
    int *stage_left;        /* tasks of each stage not yet finished */
    uint64_t rows_read, bytes_read;
    char *step_busy;        /* scratch for the progress line, by step id */
    int progress_tty;       /* the progress line is redrawn in place on a terminal */
    int out_tty;            /* standard output is a terminal too */
    int drawn;              /* the progress line is on the screen now */
    int stop_progress;
    double t_start;
};

static gleam_result gleam__emit(gleam__op *op, const gleam_value *row, int n);
/* Record the first failure of the job, with its context, and stop the job. Returns r. */
static gleam_result gleam__fail(gleam__task *t, const gleam__node *where, gleam_result r,
                                const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* The same, naming `shard` (for rows delivered on another shard's behalf). */
static gleam_result gleam__fail_at(gleam__task *t, const gleam__node *where, int shard, gleam_result r,
                                   const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* gleam__fail with GLEAM_ERR_NOMEM at op. Rows we packed ourselves can only fail to unpack
   for want of memory, so this also serves there. */
static gleam_result gleam__nomem(gleam__op *op);
/* Seconds on a monotonic clock. */
static double gleam__now(void);
/* Write to fd (1 or 2) without breaking into the progress line: it is cleared first when
   it is on the same terminal. 0, or -1 with errno set. */
static int gleam__term_write(gleam__job *job, int fd, const char *p, size_t n);
/* Under smu: take the progress line off the terminal if it is on it. */
static void gleam__progress_erase(gleam__job *job);
/* Publish rows and bytes read by a source, for the progress line. */
static void gleam__progress_add(gleam__job *job, uint64_t rows, uint64_t bytes);
/* The same for the rows a source op has emitted since it last did, every 4096. */
static void gleam__progress_rows(gleam__op *op);
/* Free a finished task's operators (its memory), keeping the task itself; their
   statistics go to the job first. */
static void gleam__task_release(gleam__task *t);
static int gleam__aborted(gleam__job *job);
static void gleam__schedule(gleam__job *job, void (*fn)(gleam__job *, void *, int), void *arg, int i);
static gleam_result gleam__call_user_row(gleam__op *op, gleam_row_fn fn, const gleam_value *row, int n);
static gleam__op *gleam__op_alloc(gleam__task *t, gleam__node *node, size_t size);
static gleam_result gleam__op_nopush(gleam__op *op, const gleam_value *row, int n);
static gleam_result gleam__op_nofinish(gleam__op *op);
static gleam_result gleam__pack_key(gleam__op *op, const gleam_fields *key, const gleam_value *row,
                                    int n, uint64_t *h);
static int gleam__check_fields(gleam__op *op, const gleam_fields *f, int n);
static gleam_result gleam__finish_task(gleam__task *t);
static void gleam__task_done(gleam__job *job);
/* Sorted runs inside operators (ops.c): add a row (keeping the first k of the order when
   k >= 0), or sort and emit the first k (all when k < 0). */
static gleam_result gleam__run_push(gleam__op *op, gleam__run *run, const gleam__cmp *cmp, int64_t k,
                                    const gleam_value *row, int n);
static gleam_result gleam__run_emit(gleam__op *op, gleam__run *run, const gleam__cmp *cmp, int64_t k);

/* Operators by role (ops.c, exchange.c, source.c, output.c). */
static gleam__op *gleam__make_narrow(gleam__task *t, gleam__node *node);
static gleam__op *gleam__make_pipe(gleam__task *t, gleam__node *node); /* pipe.c */
static gleam__op *gleam__make_producer(gleam__task *t, gleam__node *node);
static gleam__op *gleam__make_consumer(gleam__task *t, gleam__node *node);
static gleam__op *gleam__make_source(gleam__task *t, gleam__node *node);
static gleam__op *gleam__make_output(gleam__task *t, gleam__node *node);
static gleam_result gleam__run_source(gleam__task *t);
static gleam_result gleam__prepare_sources(gleam__job *job);
static void gleam__free_sources(gleam__plan *p);
static int gleam__is_input(const gleam__plan *p, dev_t dev, ino_t ino);

/* Exchanges (exchange.c). */
static gleam_result gleam__xchg_push(gleam__op *from, gleam__xchg *x, int part, gleam__block *b);
static void gleam__xchg_close(gleam__job *job, gleam__xchg *x, int side, int width);
static void gleam__xchg_wake_all(gleam__job *job);
static void gleam__xchg_free(gleam__xchg *x);
static gleam__block *gleam__block_new(size_t cap);
static void gleam__block_free(gleam__block *b);

/* Sinks (output.c). */
static gleam_result gleam__sinks_open(gleam__job *job);
static gleam_result gleam__sinks_close(gleam__job *job);
static void gleam__sink_free(gleam__sink *s);
static gleam_result gleam__parse_format(gleam_flow *f, gleam__step *s);
static gleam_result gleam__format_row(gleam__buf *b, const gleam__fmt *fmt, int nfmt,
                                      const gleam_value *row, int n);

/* Plan (plan.c). */
/* The plan of f; sources asking for 0 shards get one per thread. */
static gleam_result gleam__plan_build(gleam_flow *f, int threads, gleam__plan **out);
static void gleam__plan_free(gleam__plan *p);
static void gleam__plan_print(const gleam__plan *p, const gleam_options *opt, FILE *out);
static void gleam__plan_dot(const gleam__plan *p, const gleam_options *opt, FILE *out);

/* Options (run.c). */
static gleam_options gleam__opts;
static char gleam__init_err[GLEAM__ERRMAX];

#endif /* GLEAM_INTERNAL_H */
