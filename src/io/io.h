/* io.h: where rows come from and where they go, and the steps that talk to processes:
   files cut into line-aligned pieces (files.c), read as text, TSV (source.c) or CSV
   (csv.c), rows from memory and generators; lines formatted for output (lines.c) and
   the sinks that write them in order (sink.c); shell commands as steps (pipe.c). */
#ifndef GLEAM_IO_H
#define GLEAM_IO_H

#include "op/op.h"

/* >>files: the files of a read step and each shard's pieces of them ------------------------- */

/* A byte range of one file that a shard reads. A stream (pipe, terminal) is read whole. */
typedef struct gleam__seg {
    int file;
    uint64_t start, end;
    int stream;
    int inquote;    /* CSV: the range starts inside a quoted field */
    int first;      /* the file's first record starts in the range (a stream's: always): its
                       header, when it has one. CSV skips blank lines, so it may lie past the
                       first range */
} gleam__seg;

/* The files of a read step, and each shard's segments. */
typedef struct gleam__files {
    char **paths;
    uint64_t *sizes;
    dev_t *dev;         /* to refuse writing over an input */
    ino_t *ino;
    int *stream;
    int nfiles;
    gleam__seg **segs;  /* by shard, in file order: pieces of at most GLEAM__PIECE bytes */
    int *nsegs;
    int nshards;
    /* claiming pieces (under mu): a shard reads its own from the front; one that is done
       takes the last of a running shard with the most left, so both finish together */
    pthread_mutex_t mu;
    int have_mu;
    int *front, *back;      /* by shard: segs[front, back) are not yet taken */
    char *running;          /* by shard: its task has begun */
} gleam__files;

#define GLEAM__PIECE ((uint64_t)4 << 20)

/* List the files of the read steps among `only` (by step id; NULL: every step) and cut
   them into the shards' pieces, and find where each shard's rows of a values step begin
   (job->files, job->starts). GLEAM_OK, or an error recorded in the job. */
GLEAM__PRIV gleam_result gleam__prepare_sources(gleam__job *job, const char *only);
GLEAM__PRIV void gleam__free_sources(gleam__job *job);
/* Is dev/ino one of the job's input files? */
GLEAM__PRIV int gleam__is_input(const gleam__job *job, dev_t dev, ino_t ino);
/* The '"' bytes in p[0..n). */
GLEAM__PRIV uint64_t gleam__count_quotes(const char *p, size_t n);
/* The first separator, '\n' or '"' at or after q (end if none). */
GLEAM__PRIV const char *gleam__csv_plain_end(const char *q, const char *end, char delim);
/* The next segment for shard sh to read: its own next, else the last not yet taken of the
   running shard with the most left. NULL when there is none. */
GLEAM__PRIV const gleam__seg *gleam__next_seg(gleam__files *fs, int sh);

/* >>sources -------------------------------------------------------------------------------- */

/* A window of a file. */
typedef struct gleam__reader {
    gleam__op *op;          /* the source reading (its byte count and the progress line) */
    uint64_t counted, limit; /* bytes of the segment counted up to `counted`, which stops at limit */
    int fd, stream, eof;
    uint64_t base;          /* file offset of buf[0] */
    char *buf;
    size_t len, cap;        /* bytes in buf, its size */
} gleam__reader;

typedef struct gleam__source {
    gleam__op op;
    gleam__reader rd;
    gleam__buf unq;     /* unescaped CSV fields */
} gleam__source;

/* Keep buf[keep..len) (moved to the front) and read more after it, growing the buffer
   when keep == 0 and it is full. 0, or the errno of a failed read. */
GLEAM__PRIV int gleam__reader_fill(gleam__reader *rd, size_t keep);
/* Emit one row from the source; DONE or errors end the reading. */
GLEAM__PRIV gleam_result gleam__source_emit(gleam__op *op, const gleam_value *row, int n);
/* The rows of one CSV segment of path. */
GLEAM__PRIV gleam_result gleam__read_csv(gleam__source *src, const gleam__seg *sg, const char *path);
/* The operator at the root of a source's task, and running it (every row of the task's
   shard, through the task's operators). */
GLEAM__PRIV gleam__op *gleam__make_source(gleam__task *t, gleam__node *node);
GLEAM__PRIV gleam_result gleam__run_source(gleam__task *t);

/* >>outputs -------------------------------------------------------------------------------- */

/* A row as a printlnf line (fmt: the parsed format), a TSV or a CSV line, appended to b. */
GLEAM__PRIV gleam_result gleam__format_row(gleam__buf *b, const gleam__fmt *fmt, int nfmt, const gleam_value *row, int n);
GLEAM__PRIV gleam_result gleam__delimited_row(gleam__buf *b, const gleam_value *row, int n, int csv);

typedef struct gleam__sink gleam__sink;
/* Open the sinks of the output steps among `only` (NULL: every step): files created,
   formats parsed (job->sinks). GLEAM_OK, or an error recorded in the job. */
GLEAM__PRIV gleam_result gleam__sinks_open(gleam__job *job, const char *only);
/* Close the sinks' files: an error writing them is the job's. */
GLEAM__PRIV gleam_result gleam__sinks_close(gleam__job *job);
GLEAM__PRIV void gleam__sink_free(gleam__sink *s);
GLEAM__PRIV gleam__op *gleam__make_output(gleam__task *t, gleam__node *node);
/* Lines already formatted (by the same step in another process) for the text output op
   (printlnf, TSV, CSV), written as its own would be, in its shard's turn. */
GLEAM__PRIV gleam_result gleam__output_text(gleam__op *op, const char *p, size_t n);
/* Is step kind a text output, whose rows become lines (printlnf, TSV, CSV)? */
static inline int gleam__is_text_output(int kind) {
    return kind == GLEAM__PRINTF || kind == GLEAM__WRITE_TSV || kind == GLEAM__WRITE_CSV;
}

/* >>pipes ---------------------------------------------------------------------------------- */

GLEAM__PRIV gleam__op *gleam__make_pipe(gleam__task *t, gleam__node *node);

#endif /* GLEAM_IO_H */
