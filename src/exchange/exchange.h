/* exchange.h: rows moving between stages. A wide step's producers (operators at the end of
   one stage) write blocks of packed rows, one stream per partition, and close their
   stream when they are done; a sort's producers hand over sorted runs instead. The
   consumer of each partition (the root operator of the next stage's task for it) takes
   the blocks in the order the step asks for (gleam__take_of) and is finished once every
   producer has closed. Between the two is a transport: the in-process queues with their
   back pressure (local.c), or frames on a file descriptor to and from another process
   of the same binary (stream.c). The steps never see which. */
#ifndef GLEAM_EXCHANGE_H
#define GLEAM_EXCHANGE_H

#include "op/op.h"

typedef struct gleam__xchg gleam__xchg;

/* The order in which a partition's consumer takes its blocks. */
enum {
    GLEAM__TAKE_STREAM,      /* as they come, from either side */
    GLEAM__TAKE_BUILD_FIRST, /* every block of side 1 before any of side 0: a join builds its
                                table from its right side, then probes it as the left streams */
    GLEAM__TAKE_AT_END,      /* nothing before every producer has closed, then by producer:
                                the first rows of an ordered input, in shard order */
    GLEAM__TAKE_RUNS         /* sorted runs: sampled, cut at splitters agreed from the samples
                                of every run, each partition merging its key range of all */
};

/* How an exchange's blocks travel. Every call may come from any producer's thread. */
typedef struct gleam__xport {
    const char *name;
    /* A producer's block for partition part; the transport owns b from the call on, also
       when it fails. GLEAM_OK, or an error (the job has stopped). May wait for room. */
    gleam_result (*put)(gleam__xchg *x, gleam__op *from, int part, gleam__block *b);
    /* A sorted run (TAKE_RUNS), owned by the transport from the call on. */
    gleam_result (*put_run)(gleam__xchg *x, gleam__op *from, gleam__run *run);
    /* The end of one producer's stream on `side`: all it put comes before. width: the most
       values its rows had. */
    gleam_result (*close)(gleam__xchg *x, gleam__op *from, int side, int width);
    /* The job has stopped: whoever waits in the exchange wakes up and gives up. */
    void (*abort)(gleam__xchg *x);
    /* Free the transport's own state (x->impl). */
    void (*free_impl)(gleam__xchg *x);
} gleam__xport;

/* A slice of one sorted run that a partition merges: rows [from, to) of a run in memory,
   or a run on disk read from index entry `from` within the key range [lo, hi); or, from
   another process, the slice's rows in blocks. */
typedef struct gleam__slice {
    const gleam__run *run;
    size_t from, to;
    const gleam__srow *lo, *hi;
    gleam__block *blocks;
} gleam__slice;

/* One wide step's exchange in a running job. */
struct gleam__xchg {
    gleam__job *job;
    const gleam__step *step;
    const gleam__stage *stage;  /* the consumer's */
    int nparts, nsides;
    int producers[2];           /* producer streams per side */
    int take;                   /* GLEAM__TAKE_* */
    const gleam__xport *xport;
    void *impl;                 /* the transport's state */
    pthread_mutex_t mu;
    int open[2];                /* producer streams not yet closed, per side */
    int width[2];               /* the most values a row had, per side (a join's padding) */
    /* TAKE_RUNS */
    gleam__cmp cmp;
    gleam__run **runs;
    int nruns, capruns;
    int ndisk;                  /* runs on disk, also those being merged into one */
    gleam__srow *splits;        /* partition j holds keys in [splits[j-1], splits[j]) */
    gleam__slice *slices;       /* partition j, run r: slices[j * nruns + r] */
};

/* How the consumer of step s takes its blocks (GLEAM__TAKE_*). */
GLEAM__PRIV int gleam__take_of(const gleam__step *s);
/* The exchange of wide step s of job's plan, through transport xp. NULL when out of
   memory. */
GLEAM__PRIV gleam__xchg *gleam__xchg_new(gleam__job *job, const gleam__step *s, const gleam__xport *xp);
GLEAM__PRIV void gleam__xchg_free(gleam__xchg *x);
/* Count a producer's close: 1 when it was the last of all, else 0. */
GLEAM__PRIV int gleam__xchg_closed(gleam__xchg *x, int side, int width);
/* Is every side-1 producer closed? */
GLEAM__PRIV int gleam__xchg_built(gleam__xchg *x);
/* Keep a sorted run; with 2 * GLEAM__MERGE_WAY runs on disk, merge GLEAM__MERGE_WAY of them
   into one first, so the files open and the ways of the final merge stay bounded. The
   run is the exchange's from the call on. */
GLEAM__PRIV gleam_result gleam__xchg_keep_run(gleam__xchg *x, gleam__op *from, gleam__run *run);
/* Agree on splitters from samples of every run and cut each run into the partitions' key
   ranges (x->splits, x->slices). 0, or -1 when out of memory. */
GLEAM__PRIV int gleam__xchg_cut_runs(gleam__xchg *x);
/* Hand a list of blocks to task t's root operator (a consumer), freeing each unless the
   consumer keeps it; once one fails, the rest are only freed. Its first error, or GLEAM_OK. */
GLEAM__PRIV gleam_result gleam__xchg_absorb(gleam__task *t, gleam__block *b);
/* Sort a list of blocks by producer; blocks of one producer keep their order. 0, or -1
   when out of memory (the list is unchanged). */
GLEAM__PRIV int gleam__blocks_by_producer(gleam__block **list);

/* >>writer: rows into per-partition blocks --------------------------------------------- */

typedef struct gleam__writer {
    gleam__xchg *x;
    int side, width;
    gleam__block **cur;     /* by partition */
} gleam__writer;

/* The partition of a key hash. */
static inline int gleam__part_of(uint64_t h, int nparts) { return (int)(((h >> 32) * (uint64_t)nparts) >> 32); }

/* A writer into exchange x, side `side`. -1 when out of memory. */
GLEAM__PRIV int gleam__writer_init(gleam__writer *w, gleam__xchg *x, int side);
GLEAM__PRIV void gleam__writer_free(gleam__writer *w);
/* Room for a row of n values and `size` bytes in the block of `part` (a full block is
   put first); *at is where it goes. */
GLEAM__PRIV gleam_result gleam__writer_room(gleam__op *op, gleam__writer *w, int part, int n, size_t size, char **at);
GLEAM__PRIV gleam_result gleam__write_row(gleam__op *op, gleam__writer *w, int part, const gleam_value *row, int n);
/* Put every block under way and close this producer's stream. */
GLEAM__PRIV gleam_result gleam__writer_close(gleam__op *op, gleam__writer *w);

/* >>local: the in-process transport ------------------------------------------------------ */

/* Queues per partition. A block goes to its partition's queue; the thread that puts it
   runs the consumer on the partition right away if nobody else is (and the take order
   allows); when the queue is full and another thread consumes it, the producer waits:
   that is the back pressure, and it only ever waits downstream, so it cannot deadlock.
   Once every producer has closed, each partition is finished by a work item of the pool:
   its consumer task's last blocks, its finish, its release. */
GLEAM__PRIV const gleam__xport *gleam__xport_local(void);
/* Set up the local transport's state of x, whose consumers are job->tasks of its stage.
   -1 when out of memory. */
GLEAM__PRIV int gleam__local_init(gleam__xchg *x);

/* >>stream: frames on a file descriptor --------------------------------------------------- */

/* Frames: a 4-byte length (of what follows), a type byte, then the type's fields as 4-byte
   big-endian integers and the rest as bytes. A frame of more than GLEAM__FRAME_MAX is
   refused before anything is allocated for it. */
#define GLEAM__FRAME_MAX ((size_t)1 << 30)
enum {
    GLEAM__FRAME_PLAN = 1,  /* the plan's bytes */
    GLEAM__FRAME_TASK,      /* stage, shard: the task to run */
    GLEAM__FRAME_BLOCK,     /* step, part, side, producer, then packed rows */
    GLEAM__FRAME_CLOSE,     /* step, side, producer, width: the end of one producer's stream */
    GLEAM__FRAME_RUNS,      /* step, count: every slice of a sorted exchange has been sent */
    GLEAM__FRAME_ROWS,      /* step, shard, then packed rows for an output step */
    GLEAM__FRAME_RUN,       /* step, producer: the blocks of one sorted run (part
                               GLEAM__PART_RUN) that a producer sent end here */
    GLEAM__FRAME_END,       /* result (as a 32-bit two's complement), then the error message */
    GLEAM__FRAME_TEXT,      /* step, shard, then the lines a text output (printlnf, TSV, CSV) wrote */
    GLEAM__FRAME_MSG = 32   /* from here to 255: the messages of gleam_net.h, no fields */
};
#define GLEAM__PART_RUN 0xffffffffu

typedef struct gleam__frame {
    int type;
    uint32_t f[4];          /* the fields */
    const char *data;       /* the rest, valid until the next read */
    size_t len;
} gleam__frame;

/* Write an bytes at a, then bn bytes at b (bn may be 0), to fd (a socket or not), in one
   send where they fit: a frame's header does not go on the wire alone. A socket whose
   peer is gone gives EPIPE, never SIGPIPE. On a socket with a send timeout (SO_SNDTIMEO),
   a peer that reads nothing for that long gives EAGAIN: the timeout bounds the wait for
   room, not the whole write (a blocking send would restart it after every byte taken).
   0, or -1 with errno set. */
GLEAM__PRIV int gleam__fd_write2(int fd, const char *a, size_t an, const char *b, size_t bn);
/* Read exactly n bytes: 1, 0 at the end of the input before the first byte, -1 (errno set;
   EPROTO when the input ends inside). */
GLEAM__PRIV int gleam__read_exact(int fd, char *p, size_t n);
/* Write one frame (type, nf fields, then len bytes of data). 0, or -1 with errno set. */
GLEAM__PRIV int gleam__frame_write(int fd, int type, const uint32_t *f, int nf, const void *data, size_t len);
/* gleam__frame_write with mu held (one writer at a time on fd): 0, or the errno of the
   failure. */
GLEAM__PRIV int gleam__frame_write_locked(int fd, pthread_mutex_t *mu, int type, const uint32_t *f, int nf, const void *data,
                                          size_t len);
/* The number of fields of a frame type, or -1 for a type that does not exist. */
GLEAM__PRIV int gleam__frame_fields(int type);
/* Read one frame into fr, its bytes in buf. 1, 0 at the end of the input (between frames),
   or -1: a read error (errno set) or a malformed frame (errno EPROTO). */
GLEAM__PRIV int gleam__frame_read(int fd, gleam__buf *buf, gleam__frame *fr);
/* gleam__frame_read of frames of at most max bytes (EPROTO past it). The buffer grows with
   the bytes that arrive, so a length that lies costs nothing. */
GLEAM__PRIV int gleam__frame_read_max(int fd, gleam__buf *buf, gleam__frame *fr, size_t max);

/* The transport of an exchange whose consumers are in other processes: fds[j] reaches the
   consumer of partition j. Blocks and closes go there as frames; a sorted exchange's runs
   are cut here, then each partition's slices go to it, block by block, ending with a
   RUNS frame. -1 when out of memory. */
GLEAM__PRIV const gleam__xport *gleam__xport_send(void);
GLEAM__PRIV int gleam__send_init(gleam__xchg *x, const int *fds);
/* The transport of an exchange whose consumer is in another process that reads fd: this
   process runs one task, and every block and close of its producers goes there. */
GLEAM__PRIV const gleam__xport *gleam__xport_up(void);
GLEAM__PRIV int gleam__up_init(gleam__xchg *x, int fd, pthread_mutex_t *mu);

/* Where a consumer's frames come from: next puts the next one in fr (its bytes in buf,
   valid until the next call) and returns 1; 0 at the end; -1 with errno set. */
typedef struct gleam__frames {
    int (*next)(struct gleam__frames *in, gleam__buf *buf, gleam__frame *fr);
    int fd;                 /* gleam__frames_fd's descriptor */
    int checked;            /* set by next: the block it gave was walked, whole rows */
} gleam__frames;
/* Frames read from in->fd. */
GLEAM__PRIV int gleam__frames_fd(gleam__frames *in, gleam__buf *buf, gleam__frame *fr);

/* The consumer side in a process that runs one task of exchange x's consumer stage (task
   t, whose shard is the partition): read x's frames from in until every producer has
   closed (or the runs are all in), handing the blocks to t's root operator in x's take
   order. GLEAM_OK; GLEAM_ERR_INPUT with err set for a frame that makes no sense here, the
   end of the input or a read error; or the consumer's error. */
GLEAM__PRIV gleam_result gleam__receive(gleam__xchg *x, gleam__task *t, gleam__frames *in, gleam__buf *buf, char *err,
                                        size_t errcap);

#endif /* GLEAM_EXCHANGE_H */
