/* op.h: what operators run on: the job (its pool of threads, its first error, what the
   plan's steps hold while running), tasks made of one operator per fused step, and the
   calls every operator makes (emit a row, fail with context, pack a key, call a user
   function). The scheduler above (src/run) builds jobs and tasks; the steps (src/steps,
   src/io) and exchanges (src/exchange) use what is here. */
#ifndef GLEAM_OP_H
#define GLEAM_OP_H

#include "plan/plan.h"

typedef struct gleam__job gleam__job;
typedef struct gleam__task gleam__task;
typedef struct gleam__op gleam__op;

/* >>ops: operator instances ------------------------------------------------------------ */

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
    const gleam__fn *fn;    /* the step's registered function, or NULL */
    void *user;             /* the step's context pointer (gleam_set_ctx) */
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

/* One stage's work on one shard: its operators, by node index. */
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

/* >>job: a plan while it runs ---------------------------------------------------------- */

struct gleam__job {
    gleam_flow *flow;       /* the program's flow, or NULL where only the plan came */
    const gleam__plan *plan;
    gleam_options opt;
    /* the pool: one mutex, one condition variable */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gleam__work *q;
    size_t qhead, qlen, qcap;
    int running, remaining, aborted, stalled;
    gleam_result err;
    char errmsg[GLEAM__ERRMAX];
    /* Called once, outside any lock, when the job fails: wakes whoever waits in its
       exchanges. Set by the runner, which owns the exchanges. */
    void (*on_abort)(gleam__job *job);
    gleam__task ***tasks;   /* by stage, by shard */
    /* what the steps hold while running, by step id */
    struct gleam__xchg **xchgs;   /* wide steps */
    struct gleam__sink **sinks;   /* outputs */
    struct gleam__files **files;  /* read steps: files and splits */
    size_t **starts;              /* values steps: each shard's first row */
    const gleam__fn **fns;        /* registered functions, found by name */
    void **users;                 /* context pointers, from the program's flow */
    gleam_rows **rows;            /* collect steps' rows, in the program's flow */
    /* A stage whose tasks run in other processes of this binary, 0 for none (run/exec.c);
       and, in such a process, the operator that sends an output step's rows back up. */
    int remote_stage;
    struct gleam__remote *remote;
    gleam__op *(*make_output)(gleam__task *t, gleam__node *node);
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

/* >>calls: what operators call --------------------------------------------------------- */

/* Record the first failure of the job, with its context, and stop the job. Returns r. */
GLEAM__PRIV gleam_result gleam__fail(gleam__task *t, const gleam__node *where, gleam_result r, const char *fmt, ...)
    GLEAM__PRINTF(4, 5);
/* The same, naming `shard` (for rows delivered on another shard's behalf). */
GLEAM__PRIV gleam_result gleam__fail_at(gleam__task *t, const gleam__node *where, int shard, gleam_result r,
                                        const char *fmt, ...) GLEAM__PRINTF(5, 6);
/* Stop the job with r and a message naming no step, unless it failed already. */
GLEAM__PRIV void gleam__job_fail(gleam__job *job, gleam_result r, const char *fmt, ...) GLEAM__PRINTF(3, 4);
/* gleam__fail with GLEAM_ERR_NOMEM at op. Rows we packed ourselves can only fail to unpack
   for want of memory, so this also serves there. */
GLEAM__PRIV gleam_result gleam__nomem(gleam__op *op);
/* Fail the job for a spill file that could not be made, written or read (errno says why). */
GLEAM__PRIV gleam_result gleam__spill_fail(gleam__op *op, const char *what);
GLEAM__PRIV int gleam__aborted(gleam__job *job);
/* An op of `size` bytes (a gleam__op first), zeroed and tied to its node and task. */
GLEAM__PRIV gleam__op *gleam__op_alloc(gleam__task *t, gleam__node *node, size_t size);
GLEAM__PRIV gleam_result gleam__op_nopush(gleam__op *op, const gleam_value *row, int n);
GLEAM__PRIV gleam_result gleam__op_nofinish(gleam__op *op);
/* Check that a row of n fields has every field in f (failing the job if not): 0 or -1. */
GLEAM__PRIV int gleam__check_fields(gleam__op *op, const gleam_fields *f, int n);
GLEAM__PRIV gleam_result gleam__emit_all(gleam__op *op, const gleam_value *row, int n);
GLEAM__PRIV gleam_result gleam__user_failed(gleam__op *op, gleam_result r);
GLEAM__PRIV gleam_result gleam__pack_key_any(gleam__op *op, const gleam_fields *key, const gleam_value *row, int n,
                                             gleam__buf *b, uint64_t *h);

/* Hand a row to every child that still wants rows. GLEAM_DONE once none does. */
static inline gleam_result gleam__emit(gleam__op *op, const gleam_value *row, int n) {
    gleam__op *k;
    gleam_result r;
    if (op->nkids != 1) return gleam__emit_all(op, row, n);
    k = op->kids[0]; /* the usual case: a chain of fused steps */
    if (k->done) return GLEAM_DONE;
    op->nout++; /* rows delivered, for the statistics */
    k->nin++;
    if ((r = k->push(k, row, n)) == GLEAM_OK) return GLEAM_OK;
    if (r < 0) return r;
    k->done = 1;
    op->ndone = 1;
    return GLEAM_DONE;
}

/* Call a mapper or output function on a row, turning its failure into the job's error. */
static inline gleam_result gleam__call_user_row(gleam__op *op, gleam_row_fn fn, const gleam_value *row, int n) {
    gleam_result r;
    op->ctx.in_call = 1;
    op->task->has_usermsg = 0;
    r = fn(&op->ctx, row, n);
    if (op->ctx.in_call & 2) gleam__arena_reset(&op->ctx.scratch);
    op->ctx.in_call = 0;
    return r < 0 ? gleam__user_failed(op, r) : r;
}

/* Append the packed key fields of row to b and hash them (the bytes appended). The
   commonest key, one short string, is packed here, inline, as gleam__put_value packs it. */
static inline gleam_result gleam__pack_key_to(gleam__op *op, const gleam_fields *key, const gleam_value *row, int n,
                                              gleam__buf *b, uint64_t *h) {
    const gleam_value *v;
    unsigned char *k;
    if (key->n != 1 || key->f[0] > n || (v = &row[key->f[0] - 1])->type != GLEAM_BYTES || v->len >= 32)
        return gleam__pack_key_any(op, key, row, n, b, h);
    if (b->cap - b->len < 32 && gleam__buf_reserve(b, 32)) return gleam__nomem(op);
    k = (unsigned char *)b->p + b->len;
    *h = gleam__put_short(k, 0xa0 | v->len, (const unsigned char *)v->u.s, v->len);
    b->len += v->len + 1;
    return GLEAM_OK;
}

/* Pack the key fields of row into op->key and hash them. */
static inline gleam_result gleam__pack_key(gleam__op *op, const gleam_fields *key, const gleam_value *row, int n,
                                           uint64_t *h) {
    op->key.len = 0;
    return gleam__pack_key_to(op, key, row, n, &op->key, h);
}

/* >>pool and tasks --------------------------------------------------------------------- */

/* Queue fn(job, arg, i) for a worker thread. If it cannot be queued, the job fails. */
GLEAM__PRIV void gleam__schedule(gleam__job *job, void (*fn)(gleam__job *, void *, int), void *arg, int i);
/* A worker thread: takes work items until the job is over. */
GLEAM__PRIV void *gleam__worker(void *arg);
/* A task has finished (or given up): one less to wait for. */
GLEAM__PRIV void gleam__task_done(gleam__job *job);
/* Run every op's finish, in node order (the root first). */
GLEAM__PRIV gleam_result gleam__finish_task(gleam__task *t);
/* Free a finished task's operators (its memory), keeping the task itself; their
   statistics go to the job first. */
GLEAM__PRIV void gleam__task_release(gleam__task *t);

/* >>terminal: progress and the job's own writes ---------------------------------------- */

/* Write to fd (1 or 2) without breaking into the progress line: it is cleared first when
   it is on the same terminal. 0, or -1 with errno set. */
GLEAM__PRIV int gleam__term_write(gleam__job *job, int fd, const char *p, size_t n);
/* Under smu: take the progress line off the terminal if it is on it. */
GLEAM__PRIV void gleam__progress_erase(gleam__job *job);
/* Publish rows and bytes read by a source, for the progress line. */
GLEAM__PRIV void gleam__progress_add(gleam__job *job, uint64_t rows, uint64_t bytes);
/* The same for the rows a source op has emitted since it last did, every 4096. */
GLEAM__PRIV void gleam__progress_rows(gleam__op *op);

#endif /* GLEAM_OP_H */
