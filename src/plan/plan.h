/* plan.h: the description of a job. A flow records the steps a program asks for; a plan
   is what runs: the steps as data, with their shard counts, cut into stages of fused
   operators. A plan names functions and commands, never points at them or into the
   program that built it, so it can be encoded, shipped to another process of the same
   binary and decoded there (codec.c). */
#ifndef GLEAM_PLAN_H
#define GLEAM_PLAN_H

#include "data/data.h"

/* >>process: what a process knows before any flow ------------------------------------- */

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

/* The registered function of that name, or NULL. Entries never move once made. */
GLEAM__PRIV const gleam__fn *gleam__lookup(const char *name);
GLEAM__PRIV const char *gleam__fn_kind_name(int kind);
/* The settings gleam_init took from argv (zero: not given), and the text of the last
   failure of gleam_init or a registration (gleam_error(NULL)). */
GLEAM__PRIV gleam_options *gleam__settings(void);
GLEAM__PRIV char *gleam__init_error(void);
/* -gleam.roundtrip: every plan is run from its own encoding, decoded again. */
GLEAM__PRIV int *gleam__roundtrip(void);
/* Worker threads: -gleam.threads, else the online CPUs (1 to 1024). */
GLEAM__PRIV int gleam__default_threads(void);

/* >>steps: what each step does ------------------------------------------------------- */

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

GLEAM__PRIV const char *gleam__step_kind_name(int kind);
GLEAM__PRIV int gleam__step_class(int kind);
/* The kind of function a step of that kind names (GLEAM__FN_*), or -1. */
GLEAM__PRIV int gleam__step_fn_kind(int kind);
/* The kind named so ("reduce_by"), or -1. */
GLEAM__PRIV int gleam__step_kind_of(const char *name, size_t len);

/* One step, as data. Steps are numbered from 1 in the order the flow made them, so a
   step's inputs always come before it. Strings are NUL-terminated and owned by the step,
   but `values`, the packed in-memory rows of a values source: a flow's steps own them; a
   plan's steps borrow them from the flow, or from the bytes the plan was decoded from. */
typedef struct gleam__step {
    int id, kind;
    int in[2];              /* the steps whose output it reads; 0: none */
    int nin;
    int nshards;            /* of its output; an output step: of its input */
    int ordered;            /* its output (an output step: its input) is ordered: shard i's
                               rows all come before shard i+1's, in order */
    int in_nshards;         /* of its first input (0 for a source) */
    int in_ordered;         /* its first input is ordered */
    char *fn_name;          /* registered function; a pipe's name */
    char *command;          /* pipe, pipe_as_args: the shell command */
    gleam_fields key;       /* key fields (n >= 1 once made); select: the fields kept */
    int whole_row;          /* distinct on whole rows */
    gleam_order order;
    int64_t k;              /* top, local_top, limit */
    int shards;             /* sources: shards asked (0: the default); partition: shards */
    gleam_join_kind join;
    gleam_format format;    /* read */
    int header;
    char delim;
    char **paths;
    int npaths;
    const char *values;     /* values: packed rows */
    size_t values_len, nrows;
    char *path;             /* outputs: a file; NULL: standard output */
    char *format_text;      /* printlnf */
} gleam__step;

/* "step 3 map(tokenize)" */
GLEAM__PRIV void gleam__step_label(const gleam__step *s, char *buf, size_t cap);
/* Free what a step owns (not the step, not its values). */
GLEAM__PRIV void gleam__step_clear(gleam__step *s);

/* >>flow: steps and datasets as the user built them ------------------------------------ */

/* A flow's step: what it does (copied into plans), and what stays with the program: the
   datasets it links, its context pointer, its in-memory rows, where collected rows go. */
typedef struct gleam__fstep {
    gleam__step s;
    gleam_flow *flow;
    gleam_dataset *in[2];
    gleam_dataset *out;     /* NULL for outputs */
    gleam__buf values;      /* s.values points here */
    void *user;             /* gleam_set_ctx */
    gleam_rows *rows;       /* collect */
} gleam__fstep;

struct gleam_dataset {
    gleam_flow *flow;
    int id;
    gleam__fstep *from;
};

struct gleam_rows {
    gleam__buf data;        /* packed rows */
    size_t count;
    gleam_value *vals;      /* decoded, after the run */
    size_t *start;          /* row i: vals[start[i] .. start[i+1]) */
};

struct gleam_flow {
    char *name;
    gleam__fstep **steps;
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

GLEAM__PRIV void gleam__flow_fail(gleam_flow *f, gleam_result r, const char *fmt, ...) GLEAM__PRINTF(3, 4);
/* The shard count of d, as a plan whose sources ask for 0 shards get `dflt` will give it. */
GLEAM__PRIV int gleam__ds_shards(const gleam_dataset *d, int dflt);
/* Decode the collected rows once the run is over; -1 when out of memory. */
GLEAM__PRIV int gleam__rows_index(gleam_rows *r);

/* >>format: printlnf's format, parsed ------------------------------------------------- */

/* One conversion (or literal run) of a printlnf format. */
typedef struct gleam__fmt {
    char conv;          /* 0: literal text; else s d v f g e x X c ... */
    char spec[24];      /* the printf spec for numbers, "%-08.3f" */
    int width, prec;    /* for %s / %v: -1 when absent */
    int left;           /* '-' flag */
    int plain;          /* %d alone: written without printf */
    const char *text;   /* literal */
    size_t len;
} gleam__fmt;

/* Parse a printlnf format into *out (n of them, freed by the caller with gleam__free).
   GLEAM_OK, or an error with its text in err. */
GLEAM__PRIV gleam_result gleam__parse_format(const char *text, gleam__fmt **out, int *n, char *err, size_t errcap);

/* >>plan: stages of fused steps ------------------------------------------------------- */

/* A step placed in a stage's tree of fused operators. */
typedef struct gleam__node {
    gleam__step *step;
    int side;               /* which input of step this node feeds (join, cogroup, union) */
    int index;              /* position in stage->nodes: the task's op of this node */
    int offset;             /* shard number offset added by unions on the way here */
    struct gleam__node *parent;
    struct gleam__node **kids;
    int nkids;
} gleam__node;

/* A task group: a source or the consumer side of a wide step at its root, then every
   narrow step fused after it, ending in outputs and the producer sides of wide steps. */
typedef struct gleam__stage {
    int id;                 /* from 1 */
    int nshards;
    gleam__step *root;      /* a source step, or the wide step whose consumer roots this stage */
    gleam__node **nodes;    /* preorder; nodes[0] is the root */
    int nnodes, capnodes;
} gleam__stage;

typedef struct gleam__plan {
    char *name;             /* the flow's */
    gleam__step *steps;     /* steps[i] has id i + 1 */
    int nsteps;
    gleam__stage **stages;
    int nstages;
    int *consumer;          /* by step id: the stage rooted at a wide step, 0 for others */
    char *bytes;            /* a decoded plan: the bytes its steps' values point into */
} gleam__plan;

/* Can c split CSV fields? Not a quote or a line end, which the reader gives meanings of
   their own (nor 0, which a plan never holds). */
static inline int gleam__delim_ok(char c) { return c && c != '"' && c != '\n' && c != '\r'; }

/* A limit of an ordered input in several shards: its consumer takes the shards' rows in
   shard order, once they are all there. */
static inline int gleam__gathers_in_order(const gleam__step *s) {
    return s->kind == GLEAM__LIMIT && s->in_ordered && s->in_nshards > 1;
}

/* The version of the plan's encoding; a decoder refuses any other. */
#define GLEAM__PLAN_VERSION 1

/* The plan of flow f: its steps checked (functions registered with the right kind, field
   numbers), sources asking for 0 shards given `dflt`. GLEAM_OK, or an error recorded in f. */
GLEAM__PRIV gleam_result gleam__plan_build(gleam_flow *f, int dflt, gleam__plan **out);
/* Cut a plan's steps into stages (p->stages, p->consumer). GLEAM_OK or GLEAM_ERR_NOMEM. */
GLEAM__PRIV gleam_result gleam__plan_fuse(gleam__plan *p);
GLEAM__PRIV void gleam__plan_free(gleam__plan *p);
/* The stage whose root is wide step s, or NULL. */
GLEAM__PRIV const gleam__stage *gleam__consumer_stage(const gleam__plan *p, const gleam__step *s);
/* The plan as bytes (MessagePack, versioned) appended to out. 0, or -1 when out of memory. */
GLEAM__PRIV int gleam__plan_encode(const gleam__plan *p, gleam__buf *out);
/* A plan from bytes that may be truncated, oversized or hostile: GLEAM_OK and *out, or
   GLEAM_ERR_INPUT (GLEAM_ERR_NOMEM) with what is wrong in err. Never reads outside
   p[0..n). The plan copies the bytes it keeps. */
GLEAM__PRIV gleam_result gleam__plan_decode(const char *p, size_t n, gleam__plan **out, char *err, size_t errcap);
/* The plan's hash: a 64-bit hash of its encoding. 0 when out of memory. */
GLEAM__PRIV uint64_t gleam__plan_hash(const gleam__plan *p);
/* -gleam.explain and -gleam.dot. */
GLEAM__PRIV void gleam__plan_print(const gleam__plan *p, int threads, FILE *out);
GLEAM__PRIV void gleam__plan_dot(const gleam__plan *p, int threads, FILE *out);

#endif /* GLEAM_PLAN_H */
