/* gleam.h: a data-flow engine (map, reduce, sort, join over sharded rows) in one C header.

   HOW TO USE IT
   -------------
   In exactly one C file of your program:

       #define GLEAM_IMPLEMENTATION
       #include "gleam.h"

   and include "gleam.h" plainly everywhere else. Link with -pthread. Nothing else is
   needed: the engine uses libc and POSIX threads only.

   A job is one C program. It registers its functions by name, describes a flow (a DAG of
   datasets and steps), and runs it on all cores:

       static gleam_result tokenize(gleam_ctx *c, const gleam_value *row, int n);
       ...
       int main(int argc, char **argv) {
           gleam_register_mapper("tokenize", tokenize);
           gleam_register_mapper("appendOne", append_one);
           gleam_register_reducer("sum", sum);
           if (gleam_init(&argc, &argv) != GLEAM_OK) { ... gleam_error(NULL) ... }

           gleam_flow *f = gleam_flow_new("top5 words in passwd");
           gleam_dataset *d = gleam_read(f, gleam_txt("/etc/passwd", 2));
           d = gleam_map(d, "tokenize");
           d = gleam_map(d, "appendOne");
           d = gleam_reduce_by_key(d, "sum");
           d = gleam_top(d, 5, gleam_order_by(2, GLEAM_DESC));
           gleam_printlnf(d, "%s\t%d");
           gleam_result r = gleam_run(f);
           ...
       }

   OPTIONS (define before including the implementation)
   -------
   GLEAM_STATIC                    make every function static to the including file
   GLEAM_MALLOC/REALLOC/FREE       your allocator (define all three or none); without them,
                                   blocks of 256 KB and more come from mmap (huge pages)
   GLEAM_ASSERT(c)                 your assert (default: assert from <assert.h>)

   COMMAND-LINE FLAGS (taken out of argv by gleam_init)
   ------------------
   -gleam.threads=N     worker threads (default: the online CPUs)
   -gleam.explain       print the fused plan to stderr instead of running the flow
   -gleam.memory=MB     memory the wide steps may hold (see gleam_options)
   -gleam.tmpdir=DIR    where spill files go (default $TMPDIR, else /tmp)
   -gleam.dot=FILE      also write the fused plan as Graphviz DOT to FILE
   -gleam.stats         print each step's rows, bytes, time and memory to stderr at the end
   -gleam.progress      a progress line on stderr (default: when stderr is a terminal and
                        the job runs over a second); -gleam.quiet: never
   -gleam.roundtrip     run the plan decoded from its own bytes (checks that a plan survives
                        the trip to another process)
   -distributed         run the flows on the cluster (needs gleam_net.h; without it, an error)
   -gleam.master=H:P    the cluster's master (default 127.0.0.1:45326)
   -gleam.secret-file=F the cluster's shared secret (else $GLEAM_SECRET)
   Forms accepted: -gleam.x=v, --gleam.x=v, -gleam.x v. Anything after "--" is left alone.

   SECTIONS (grep for the banners)
   --------
   >>results  >>values  >>functions  >>flow  >>sources  >>steps  >>outputs  >>running  >>stats

   ROWS
   ----
   A row is an array of typed values (nil, bool, int64, double, bytes, list). Field numbers
   in the API are 1-based, as in Gleam. Steps that need a key (reduce_by, group_by, join,
   cogroup, distinct_by, partition) use field 1 unless given other fields. Values handed to
   a user function point into the engine's buffers and are valid until it returns; values
   it emits may point anywhere that stays valid until gleam_emit returns.
*/
#ifndef GLEAM_H
#define GLEAM_H

/* The implementation uses POSIX (threads, pread, glob): ask for it before the first
   system header. Under a strict -std=c99/c11, include gleam.h before other headers in
   the file that defines GLEAM_IMPLEMENTATION, or define _POSIX_C_SOURCE yourself. */
#if defined(GLEAM_IMPLEMENTATION) && !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE) && \
    !defined(_XOPEN_SOURCE) && !defined(_DEFAULT_SOURCE)
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1 /* glibc: also madvise(MADV_HUGEPAGE) for the big tables */
#endif

#include <stddef.h>
#include <stdint.h>

#ifndef GLEAM_API
#ifdef GLEAM_STATIC /* a program uses only part of the API: the rest is not an error */
#if defined(__GNUC__) || defined(__clang__)
#define GLEAM_API static __attribute__((unused))
#else
#define GLEAM_API static
#endif
#else
#define GLEAM_API extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* >>results ------------------------------------------------------------------------- */

typedef struct gleam_flow gleam_flow;
typedef struct gleam_dataset gleam_dataset;

/* X(name, value, text): every result code, grouped in ranges. 0 is success, a positive
   value is a signal (GLEAM_DONE), negative values are errors. */
#define GLEAM_RESULTS(X)                                                                  \
    X(GLEAM_OK, 0, "ok")                                                                 \
    X(GLEAM_DONE, 1, "the consumer needs no more rows")                                  \
    X(GLEAM_ERR_NOMEM, -1, "out of memory")                                              \
    X(GLEAM_ERR_ARG, -2, "invalid argument")                                             \
    X(GLEAM_ERR_FLAG, -3, "unknown or malformed flag")                                   \
    X(GLEAM_ERR_PLAN, -4, "invalid flow")                                                \
    X(GLEAM_ERR_IO, -10, "input/output error")                                           \
    X(GLEAM_ERR_INPUT, -11, "malformed input")                                           \
    X(GLEAM_ERR_VALUE, -12, "value of the wrong type")                                   \
    X(GLEAM_ERR_USER, -13, "a user function failed")                                     \
    X(GLEAM_ERR_COMMAND, -14, "a piped command failed")                                  \
    X(GLEAM_ERR_NET, -15, "a member of the cluster failed or cannot be reached")         \
    X(GLEAM_ERR_OVERFLOW, -16, "integer overflow")                                       \
    X(GLEAM_ERR_INTERNAL, -20, "internal error")

typedef enum gleam_result {
#define GLEAM__ENUM(name, value, text) name = value,
    GLEAM_RESULTS(GLEAM__ENUM)
#undef GLEAM__ENUM
    GLEAM__RESULT_FORCE_INT = 0x7fffffff
} gleam_result;

/* The fixed text of a result code ("out of memory"). Never NULL. */
GLEAM_API const char *gleam_result_str(gleam_result r);

/* The message of the last failure of flow f: what failed, with the step, shard, file and
   line where known. With f == NULL: the last failure of gleam_init or a registration.
   Returns "" when there was none. The text stays valid until the next call on f. */
GLEAM_API const char *gleam_error(const gleam_flow *f);

/* >>values -------------------------------------------------------------------------- */

typedef enum gleam_type {
    GLEAM_NIL = 0,
    GLEAM_BOOL,
    GLEAM_INT,    /* int64 */
    GLEAM_DOUBLE,
    GLEAM_BYTES,  /* bytes or text, not NUL-terminated */
    GLEAM_LIST    /* a list of values, made by group_by and cogroup; read with gleam_list_next */
} gleam_type;

/* A value: 16 bytes, passed by value. For bytes and lists, u.s points to memory the value
   does not own and len is its length in bytes. */
typedef struct gleam_value {
    gleam_type type;
    uint32_t len;
    union {
        int64_t i;     /* GLEAM_INT, GLEAM_BOOL (0 or 1) */
        double d;      /* GLEAM_DOUBLE */
        const char *s; /* GLEAM_BYTES, GLEAM_LIST */
    } u;
} gleam_value;

static inline gleam_value gleam_nil(void) { gleam_value v; v.type = GLEAM_NIL; v.len = 0; v.u.i = 0; return v; }
static inline gleam_value gleam_bool(int b) { gleam_value v; v.type = GLEAM_BOOL; v.len = 0; v.u.i = b != 0; return v; }
static inline gleam_value gleam_int(int64_t i) { gleam_value v; v.type = GLEAM_INT; v.len = 0; v.u.i = i; return v; }
static inline gleam_value gleam_double(double d) { gleam_value v; v.type = GLEAM_DOUBLE; v.len = 0; v.u.d = d; return v; }
/* Bytes of length len at p (not copied). Lengths above 4 GiB - 1 are cut to that. */
static inline gleam_value gleam_bytes(const void *p, size_t len) {
    gleam_value v; v.type = GLEAM_BYTES; v.len = len > 0xffffffffu ? 0xffffffffu : (uint32_t)len;
    v.u.s = (const char *)p; return v;
}
/* A NUL-terminated string, without its NUL. */
GLEAM_API gleam_value gleam_str(const char *s);

/* Conversions in the spirit of Gleam's ToInt64/ToFloat/ToString. Numbers convert to each
   other (doubles truncate toward zero), bools are 0 or 1, bytes are parsed as decimal text
   (0 when they are not a number), nil and lists are 0. An int is returned in place; the
   other types go through gleam_to_int64_any. */
GLEAM_API int64_t gleam_to_int64_any(gleam_value v);
static inline int64_t gleam_to_int64(gleam_value v) { return v.type == GLEAM_INT ? v.u.i : gleam_to_int64_any(v); }
/* v as a double, by the same rules. */
GLEAM_API double gleam_to_double(gleam_value v);
/* Strict parse: GLEAM_OK and *out set when v is an int, or bytes holding a whole decimal
   integer in range (surrounding spaces allowed); GLEAM_ERR_VALUE otherwise. */
GLEAM_API gleam_result gleam_parse_int64(gleam_value v, int64_t *out);
/* The same for a double (any strtod form, whole). */
GLEAM_API gleam_result gleam_parse_double(gleam_value v, double *out);
/* The text form of v into buf (as the %v conversion prints it), NUL-terminated and cut to
   cap bytes; returns the full length, as snprintf does. */
GLEAM_API size_t gleam_to_string(gleam_value v, char *buf, size_t cap);
/* Total order: nil < bool < numbers (int and double compared by value) < bytes (unsigned
   bytewise, shorter first) < lists (element by element). Returns <0, 0 or >0. */
GLEAM_API int gleam_compare(gleam_value a, gleam_value b);

/* Reading a list value. */
typedef struct gleam_list_iter {
    const char *p, *end;
    uint32_t left;
} gleam_list_iter;
/* The number of elements of a list value (0 for other values). */
GLEAM_API uint32_t gleam_list_len(gleam_value list);
/* An iterator at the first element of a list value. */
GLEAM_API gleam_list_iter gleam_list_begin(gleam_value list);
/* Sets *out to the next element and returns 1, or returns 0 at the end. */
GLEAM_API int gleam_list_next(gleam_list_iter *it, gleam_value *out);

/* >>functions ----------------------------------------------------------------------- */

/* What a user function gets: emit rows, fail with a message, reach its step's context. */
typedef struct gleam_ctx gleam_ctx;

/* Mapper (map, flat_map and filter are all mappers): one row in, any number of rows out
   through gleam_emit. Also the type of an output callback (gleam_output_row). */
typedef gleam_result (*gleam_row_fn)(gleam_ctx *c, const gleam_value *row, int n);
/* Reducer: fold the n values x into the n values acc, in place (two values in, one out).
   Bytes written into acc may point into x or into gleam_scratch memory: the engine copies
   them. */
typedef gleam_result (*gleam_reducer_fn)(gleam_ctx *c, gleam_value *acc, const gleam_value *x, int n);
/* Generator source: emits the rows of shard `shard` of `nshards`. */
typedef gleam_result (*gleam_source_fn)(gleam_ctx *c, int shard, int nshards);

/* Register a function under a name; steps refer to it by that name, so a plan can name it
   in another process of the same binary. Register before gleam_init. Registering a name
   again with the same function is a no-op; with another function it is GLEAM_ERR_ARG. */
/* A mapper, for gleam_map. */
GLEAM_API gleam_result gleam_register_mapper(const char *name, gleam_row_fn fn);
/* A reducer, for gleam_reduce_by_key, gleam_reduce_by and gleam_reduce. */
GLEAM_API gleam_result gleam_register_reducer(const char *name, gleam_reducer_fn fn);
/* An output callback, for gleam_output_row. */
GLEAM_API gleam_result gleam_register_output(const char *name, gleam_row_fn fn);
/* A generator, for gleam_generate. */
GLEAM_API gleam_result gleam_register_source(const char *name, gleam_source_fn fn);

/* Emit one row of n values downstream. Returns GLEAM_OK, GLEAM_DONE when no more rows are
   wanted (stop and return it), or an error to return as is. */
GLEAM_API gleam_result gleam_emit(gleam_ctx *c, const gleam_value *row, int n);
/* Emit the values given as arguments: return GLEAM_EMIT(c, gleam_str(w), gleam_int(1)); (C only) */
#define GLEAM_EMIT(c, ...)                                                                \
    gleam_emit((c), (const gleam_value[]){__VA_ARGS__},                                   \
               (int)(sizeof((const gleam_value[]){__VA_ARGS__}) / sizeof(gleam_value)))
/* Record a printf-style message for the failure and return GLEAM_ERR_USER: a user function
   ends with `return gleam_fail(c, "bad number '%s'", s);`. The job stops; gleam_error names
   the step, shard and input line around this message. */
GLEAM_API gleam_result gleam_fail(gleam_ctx *c, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The failure of gleam_add_int64, out of line: records the message "integer overflow: A + B
   is out of the int64 range" as gleam_fail does and returns GLEAM_ERR_OVERFLOW. */
GLEAM_API gleam_result gleam_add_overflow(gleam_ctx *c, int64_t a, int64_t b);
/* Checked addition, for the sums and counts of reducers (and mappers): *sum = a + b and
   GLEAM_OK when the exact sum is an int64; otherwise *sum is left alone, the message
   "integer overflow: A + B is out of the int64 range" is recorded as by gleam_fail, and the
   result is GLEAM_ERR_OVERFLOW, to be returned as is:
       if ((r = gleam_add_int64(c, acc[0].u.i, x[0].u.i, &s)) != GLEAM_OK) return r;
   The job stops; gleam_error names the step, shard, input line and, in reduce_by, the key.
   The rule for every int64 sum: exact or an error, never wrapped around and never widened
   to a double (which past 2^53 would print a rounded number as if it were exact). A
   reducer folds both rows within a shard and the shards' partial folds, so a sum checked
   here is checked at both. */
static inline gleam_result gleam_add_int64(gleam_ctx *c, int64_t a, int64_t b, int64_t *sum) {
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 5)
    int64_t s;
    if (!__builtin_add_overflow(a, b, &s)) { /* an add and a jump on the overflow flag */
        *sum = s;
        return GLEAM_OK;
    }
#else
    if (b > 0 ? a <= INT64_MAX - b : a >= INT64_MIN - b) {
        *sum = a + b;
        return GLEAM_OK;
    }
#endif
    gleam_add_overflow(c, a, b);
    return GLEAM_ERR_OVERFLOW; /* a constant: the compiler sees that GLEAM_OK means *sum is set */
}
/* The context pointer of the step (gleam_set_ctx), or NULL. */
GLEAM_API void *gleam_ctx_user(gleam_ctx *c);
/* The shard this call works on. */
GLEAM_API int gleam_ctx_shard(gleam_ctx *c);
/* How many shards the step has. */
GLEAM_API int gleam_ctx_shards(gleam_ctx *c);
/* n bytes of memory valid until the user function returns; NULL when out of memory. */
GLEAM_API void *gleam_scratch(gleam_ctx *c, size_t n);

/* >>flow ---------------------------------------------------------------------------- */

/* A new empty flow, or NULL when out of memory. */
GLEAM_API gleam_flow *gleam_flow_new(const char *name);
/* Free the flow, its datasets and collected rows. NULL is allowed. */
GLEAM_API void gleam_flow_free(gleam_flow *f);

/* Field lists (1-based), as Gleam's Field(1, 4): GLEAM_FIELDS(1, 4). */
#define GLEAM_MAX_FIELDS 16
typedef struct gleam_fields {
    int n;                      /* 0 means "the default": field 1 */
    int f[GLEAM_MAX_FIELDS];
} gleam_fields;
/* The fields given, up to a 0. More than GLEAM_MAX_FIELDS makes the step fail to plan. */
GLEAM_API gleam_fields gleam_field_list(int first, ...);
#define GLEAM_FIELDS(...) gleam_field_list(__VA_ARGS__, 0)

/* Sort orders, as Gleam's OrderBy(2, false).By(1, true). */
typedef enum gleam_dir { GLEAM_ASC = 0, GLEAM_DESC = 1 } gleam_dir;
typedef struct gleam_order {
    int n;
    struct { int field; gleam_dir dir; } by[GLEAM_MAX_FIELDS];
} gleam_order;
/* An order on one field. */
GLEAM_API gleam_order gleam_order_by(int field, gleam_dir dir);
/* Order o, then `field` for rows that o finds equal. */
GLEAM_API gleam_order gleam_then_by(gleam_order o, int field, gleam_dir dir);

/* >>sources ------------------------------------------------------------------------- */

typedef enum gleam_format {
    GLEAM_FORMAT_DEFAULT = 0, /* text */
    GLEAM_FORMAT_TEXT,        /* one row per line: the line's bytes without its '\n' */
    GLEAM_FORMAT_CSV,         /* RFC 4180: one bytes value per field */
    GLEAM_FORMAT_TSV          /* fields split on tabs, no quoting */
} gleam_format;

/* Where rows come from; zero fields mean the default. */
typedef struct gleam_source_desc {
    const char *path;          /* a file or a glob pattern (day-*.txt) */
    const char *const *paths;  /* or several of them */
    int npaths;
    int shards;                /* 0: one per thread. Files are cut into line-aligned ranges */
    gleam_format format;
    int header;                /* CSV/TSV: the first line of each file is a header; skip it */
    char delimiter;            /* CSV: field separator, 0 for ',' */
} gleam_source_desc;

/* Text lines of path (a file or a glob), in `shards` shards (0: one per thread). */
GLEAM_API gleam_source_desc gleam_txt(const char *path, int shards);
/* CSV rows of path; set .header = 1 to skip a header line, .delimiter for ';' and the like. */
GLEAM_API gleam_source_desc gleam_csv(const char *path, int shards);
/* TSV rows of path (fields split on tabs). */
GLEAM_API gleam_source_desc gleam_tsv(const char *path, int shards);
/* Read files. Files that are missing or unreadable make gleam_run fail with their name. */
GLEAM_API gleam_dataset *gleam_read(gleam_flow *f, gleam_source_desc src);
/* Rows from memory: `rows` rows of `cols` values each, row after row; the values (and the
   bytes they point to) are copied. */
GLEAM_API gleam_dataset *gleam_from_values(gleam_flow *f, const gleam_value *values, size_t rows,
                                           int cols, int shards);
/* One-field rows from strings, as Gleam's Strings(). */
GLEAM_API gleam_dataset *gleam_from_strings(gleam_flow *f, const char *const *strs, size_t n,
                                            int shards);
/* Rows made by a registered source function, called once per shard. */
GLEAM_API gleam_dataset *gleam_generate(gleam_flow *f, const char *source_fn, int shards);

/* >>steps --------------------------------------------------------------------------- */

/* Narrow steps: rows stay in their shard, and consecutive narrow steps run fused. */
/* Call a registered mapper on every row: it emits any number of rows (map, flat_map, filter). */
GLEAM_API gleam_dataset *gleam_map(gleam_dataset *d, const char *mapper);
/* Keep the given fields, in the given order (GLEAM_FIELDS(2, 1) swaps two). */
GLEAM_API gleam_dataset *gleam_select(gleam_dataset *d, gleam_fields fields);
/* Sort each shard on its own (spilling past the memory share). */
GLEAM_API gleam_dataset *gleam_local_sort(gleam_dataset *d, gleam_order order);
/* The first k rows of each shard by order. */
GLEAM_API gleam_dataset *gleam_local_top(gleam_dataset *d, int64_t k, gleam_order order);
/* All rows of a and b; the shards of a then those of b. Keeps order if both are ordered. */
GLEAM_API gleam_dataset *gleam_union(gleam_dataset *a, gleam_dataset *b);

/* Shell commands as narrow steps (Gleam's Pipe and PipeAsArgs). `name` labels the step in
   plans, statistics and errors; `command` runs under /bin/sh -c. Rows go to the command
   as text, one line per row, fields separated by tabs, every value as %v prints it
   (bytes as they are: a tab or newline inside a value splits it); each line the command
   prints comes back as a row of bytes fields split on tabs. A command that exits non-zero
   or is killed fails the job with its status and the end of its stderr (which is also
   passed on to ours); one whose rows are no longer wanted (a limit was reached) is killed. */
/* One process per shard, fed all the shard's rows; a slow command slows its producer. */
GLEAM_API gleam_dataset *gleam_pipe(gleam_dataset *d, const char *name, const char *command);
/* One process per row, its stdin empty, the row's fields (as %v prints them) its positional
   parameters: $1 .. $9, ${10}. A bare $N is read as "$N", one word however many spaces or
   quotes the value holds, and a value never becomes part of the script, so it cannot run
   as code. Inside single quotes $N stays text ('{print $2}' for awk). */
GLEAM_API gleam_dataset *gleam_pipe_as_args(gleam_dataset *d, const char *name, const char *command);

/* Wide steps: rows move between shards. */
/* Fold the value fields of rows with equal key fields (key: field 1, or `key`), with
   map-side combining before the shuffle. Output rows: key fields, then folded values. */
GLEAM_API gleam_dataset *gleam_reduce_by_key(gleam_dataset *d, const char *reducer);
/* The same on the key fields given. */
GLEAM_API gleam_dataset *gleam_reduce_by(gleam_dataset *d, const char *reducer, gleam_fields key);
/* Fold all rows (every field) into one row. */
GLEAM_API gleam_dataset *gleam_reduce(gleam_dataset *d, const char *reducer);
/* Rows with equal keys become one row: key fields, then a list of the other fields (a list
   of values when there is one other field, else a list of lists). */
GLEAM_API gleam_dataset *gleam_group_by_key(gleam_dataset *d);
/* The same on the key fields given. */
GLEAM_API gleam_dataset *gleam_group_by(gleam_dataset *d, gleam_fields key);
/* Total order across shards (a parallel sort: shard i holds a key range before shard i+1). */
GLEAM_API gleam_dataset *gleam_sort(gleam_dataset *d, gleam_order order);
/* The k first rows by `order`, in that order, in one shard. */
GLEAM_API gleam_dataset *gleam_top(gleam_dataset *d, int64_t k, gleam_order order);
/* Each distinct row once. */
GLEAM_API gleam_dataset *gleam_distinct(gleam_dataset *d);
/* The first row seen of each distinct key. */
GLEAM_API gleam_dataset *gleam_distinct_by(gleam_dataset *d, gleam_fields key);
/* At most n rows, in one shard; the first n in order if d is ordered. */
GLEAM_API gleam_dataset *gleam_limit(gleam_dataset *d, int64_t n);
/* Hash-partition rows by field 1 into `shards` shards. */
GLEAM_API gleam_dataset *gleam_partition(gleam_dataset *d, int shards);
/* The same on the key fields given. */
GLEAM_API gleam_dataset *gleam_partition_by(gleam_dataset *d, int shards, gleam_fields key);

typedef enum gleam_join_kind { GLEAM_INNER = 0, GLEAM_LEFT_OUTER, GLEAM_RIGHT_OUTER } gleam_join_kind;
/* Join a and b on equal key fields (the same field numbers on both sides). Output rows:
   the key fields, a's other fields, b's other fields. In an outer join a missing side gives
   as many nils as that side's widest row has other fields (none if that side is empty:
   rows carry no schema). An inner join: */
GLEAM_API gleam_dataset *gleam_join(gleam_dataset *a, gleam_dataset *b);
/* Every row of a, padded with nils where b has no match. */
GLEAM_API gleam_dataset *gleam_left_outer_join(gleam_dataset *a, gleam_dataset *b);
/* Every row of b, padded with nils where a has no match. */
GLEAM_API gleam_dataset *gleam_right_outer_join(gleam_dataset *a, gleam_dataset *b);
/* A join of any kind on the key fields given. */
GLEAM_API gleam_dataset *gleam_join_by(gleam_dataset *a, gleam_dataset *b, gleam_join_kind kind,
                                       gleam_fields key);
/* For each key in a or b: key fields, the list of a's other fields, the list of b's. */
GLEAM_API gleam_dataset *gleam_cogroup(gleam_dataset *a, gleam_dataset *b);
/* The same on the key fields given. */
GLEAM_API gleam_dataset *gleam_cogroup_by(gleam_dataset *a, gleam_dataset *b, gleam_fields key);

/* Give the step that made d a context pointer, which its function reads with
   gleam_ctx_user. Returns d. */
GLEAM_API gleam_dataset *gleam_set_ctx(gleam_dataset *d, void *ctx);
/* The number of shards of d. */
GLEAM_API int gleam_shards(const gleam_dataset *d);

/* >>outputs ------------------------------------------------------------------------- */

/* One line per row on standard output, formatted as printf would with the row's values as
   arguments: %s %d %v %f %g %e %x (with flags, width, precision) and %%. Rows are written
   in order when d is ordered (after sort, top or an ordered limit). */
GLEAM_API void gleam_printlnf(gleam_dataset *d, const char *format);
/* The same into a file (created or truncated). */
GLEAM_API void gleam_fprintlnf(gleam_dataset *d, const char *path, const char *format);
/* Rows as TSV lines into a file; path "-" is standard output. CSV quotes as RFC 4180. */
GLEAM_API void gleam_write_tsv(gleam_dataset *d, const char *path);
/* The same as CSV. */
GLEAM_API void gleam_write_csv(gleam_dataset *d, const char *path);
/* Call a registered output function with every row, one call at a time (in order when d
   is ordered). */
GLEAM_API void gleam_output_row(gleam_dataset *d, const char *output_fn);

/* Rows collected into memory: available after gleam_run, owned by the flow. */
typedef struct gleam_rows gleam_rows;
/* Keep d's rows in memory; read them after gleam_run. */
GLEAM_API gleam_rows *gleam_collect(gleam_dataset *d);
/* How many rows were collected (0 before the run). */
GLEAM_API size_t gleam_rows_count(const gleam_rows *r);
/* Row i: its values, and their number in *n. NULL when i is out of range. */
GLEAM_API const gleam_value *gleam_rows_get(const gleam_rows *r, size_t i, int *n);

/* >>running ------------------------------------------------------------------------- */

/* How to run; zero fields mean the default. Start from all zeros (memset, or a copy of a
   static gleam_options): later versions may add fields. */
typedef struct gleam_options {
    int threads;          /* 0: -gleam.threads, else the online CPUs */
    int explain;          /* print the plan to stderr and do not run */
    size_t memory_mb;     /* 0: -gleam.memory, else a quarter of physical memory */
    const char *tmpdir;   /* NULL: -gleam.tmpdir, else $TMPDIR, else /tmp */
    const char *dot;      /* NULL: -gleam.dot; else write the plan as Graphviz DOT to this file */
    int progress;         /* 0: -gleam.progress/-gleam.quiet, else on when stderr is a terminal;
                             1: a progress line on stderr; -1: none */
    int stats;            /* 0: -gleam.stats; 1: print each step's statistics to stderr at the end */
} gleam_options;

/* Take the -gleam.* flags out of argv (see the top of this file). Unknown -gleam.* flags
   are GLEAM_ERR_FLAG, with a message listing the known ones in gleam_error(NULL). */
GLEAM_API gleam_result gleam_init(int *argc, char ***argv);
/* Run the flow with the options of gleam_init. A flow can be run once. */
GLEAM_API gleam_result gleam_run(gleam_flow *f);
/* Run the flow with the options given (zero fields: those of gleam_init). */
GLEAM_API gleam_result gleam_run_with(gleam_flow *f, const gleam_options *opt);

/* >>stats: what a run did (after gleam_run; also printed by -gleam.stats) ---------- */

/* One step's figures. Fused steps run in the same tasks, so they share their time. */
typedef struct gleam_step_stats {
    int step;             /* the step's number, as -gleam.explain and error messages give it */
    const char *kind;     /* "read", "map", "pipe", "reduce_by", ... */
    const char *name;     /* its function or pipe name; "" when it has none */
    uint64_t rows_in;     /* rows that reached it (0 for sources) */
    uint64_t rows_out;    /* rows it made (0 for outputs) */
    uint64_t bytes;       /* sources: read; wide steps: sent between shards; pipes: written to
                             the commands; outputs: written */
    uint64_t peak_bytes;  /* memory its tables and runs held at the most, summed over shards */
    double seconds;       /* wall time from the start of its first task to the end of its last */
} gleam_step_stats;

/* The whole run's figures. */
typedef struct gleam_job_stats {
    double seconds;       /* wall time of gleam_run */
    int steps;            /* number of steps: gleam_stats_step takes 1 to steps */
    int threads;          /* worker threads used */
    uint64_t rows_read;   /* rows made by the sources */
    uint64_t bytes_read;  /* bytes read from input files */
    uint64_t bytes_written; /* bytes written by the outputs */
    uint64_t peak_rss;    /* the process's peak resident memory, bytes (0 if unknown) */
} gleam_job_stats;

/* The run's figures, or NULL when the flow has not run (or only explained its plan). */
GLEAM_API const gleam_job_stats *gleam_stats(const gleam_flow *f);
/* Step `step`'s figures (1 to gleam_stats(f)->steps), or NULL. */
GLEAM_API const gleam_step_stats *gleam_stats_step(const gleam_flow *f, int step);

#ifdef __cplusplus
}
#endif
#endif /* GLEAM_H */
