/* net.h: the distributed mode (gleam_net.h): the same job binary as master, agent, driver
   and executor. Below the roles: SHA-256 and HMAC (sha256.c), TCP with timeouts (sock.c),
   the greeting that proves the shared secret and the messages after it (wire.c). The
   roles: master.c with its status page (status.c), agent.c with the blocks it keeps
   (store.c), driver.c (gleam_run with -distributed, with its parts prepare.c, split.c,
   outputs.c and drive.c) and executor.c; roles.c tells them apart by argv in gleam_init. */
#ifndef GLEAM__NET_H
#define GLEAM__NET_H

#include "run/run.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#ifdef __GLIBC__
#include <malloc.h> /* mallopt */
#endif

/* >>sha256: FIPS 180-4 and RFC 2104 ------------------------------------------------------- */

#define GLEAM__SHA256_LEN 32

typedef struct gleam__sha256_ctx {
    uint32_t h[8];
    uint64_t n;             /* bytes added */
    unsigned char buf[64];
    size_t fill;
} gleam__sha256_ctx;

GLEAM__PRIV void gleam__sha256_init(gleam__sha256_ctx *s);
GLEAM__PRIV void gleam__sha256_add(gleam__sha256_ctx *s, const void *data, size_t len);
GLEAM__PRIV void gleam__sha256_end(gleam__sha256_ctx *s, unsigned char out[GLEAM__SHA256_LEN]);
GLEAM__PRIV void gleam__sha256(const void *data, size_t len, unsigned char out[GLEAM__SHA256_LEN]);
GLEAM__PRIV void gleam__hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                                    unsigned char out[GLEAM__SHA256_LEN]);
/* 1 when a[0..n) and b[0..n) are equal, in a time that does not depend on where they differ. */
GLEAM__PRIV int gleam__ct_equal(const void *a, const void *b, size_t n);
/* n bytes as 2n lowercase hex digits and a NUL at out. */
GLEAM__PRIV void gleam__hex(const unsigned char *p, size_t n, char *out);

/* >>sock: TCP with timeouts --------------------------------------------------------------- */

#define GLEAM__NET_MASTER_PORT 45326
#define GLEAM__NET_AGENT_PORT 45327
/* How long a read or write on a connection may wait before its peer counts as gone, and
   how often a peer that has nothing to say shows that it lives. */
#define GLEAM__NET_TIMEOUT_MS 30000
#define GLEAM__NET_BEAT_MS 1000
/* How long a peer that connects to a server has to finish its greeting (and a browser to
   send its request for the status page). */
#define GLEAM__NET_GREET_MS 10000
/* A task that fails for a reason outside its own code (its executor killed, its agent
   gone, its input lost, a full -dir) runs again, on another agent where there is one, up
   to this many attempts in all; a failure of its own code fails the job at once. */
#define GLEAM__NET_ATTEMPTS 4
/* Bytes of the blocks an executor sends (local mode's are 64 KB): a quarter as many frames,
   each a read of its header, a read of its body and a wakeup in every process it passes
   through (a distributed sort of 250 MB in 0.75 of the time: bench/RESULTS.md). */
#define GLEAM__NET_BLOCK ((size_t)256 << 10)
/* Values per producer in a task's spec. */
#define GLEAM__SPEC_PER_PROD 5

/* "host:port" (or ":port", or "port") into host and *port. 0, or -1 with err set. */
GLEAM__PRIV int gleam__hostport(const char *s, char *host, size_t hcap, int *port, char *err, size_t cap);
/* 1 when host names this machine's loopback (127.x, ::1, localhost). */
GLEAM__PRIV int gleam__is_loopback(const char *host);
/* A socket listening on host:port (port 0: any free one). fd, or -1 with err set. */
GLEAM__PRIV int gleam__listen(const char *host, int port, char *err, size_t cap);
/* The port a listening socket got. */
GLEAM__PRIV int gleam__local_port(int fd);
/* A connection to host:port within timeout_ms, its reads and writes timing out after
   GLEAM__NET_TIMEOUT_MS. fd, or -1 with err set. */
GLEAM__PRIV int gleam__connect(const char *host, int port, int timeout_ms, char *err, size_t cap);
/* Reads and writes on fd give up (EAGAIN) after ms milliseconds; 0: never. */
GLEAM__PRIV void gleam__timeouts(int fd, int ms);
/* The address of fd's peer as text ("127.0.0.1"), and its port. */
GLEAM__PRIV void gleam__peer(int fd, char *host, size_t cap, int *port);

/* Accept connections on lfd for ever, each served by fn(gleam__conn *) on a thread of its
   own, which greets its peer (gleam__greet as the server) before it closes the connection
   and takes 1 from *conns (under mu) when it ends. A connection whose greeting has not
   ended within GLEAM__NET_GREET_MS is shut down (its thread's reads end); so is the oldest
   of them when a new connection finds maxconns served; with none of them left the newest
   is closed. Returns -1 when accept fails for good or memory is short. */
typedef struct gleam__conn {
    int fd;
} gleam__conn;
GLEAM__PRIV int gleam__serve(int lfd, int maxconns, int *conns, pthread_mutex_t *mu, void *(*fn)(void *));
/* The greeting on fd, a connection of gleam__serve, has ended: the accept loop lets it be.
   0; or 1 when the loop had cut it short past GLEAM__NET_GREET_MS, 2 to make room for a
   newer connection. 0 for a descriptor gleam__serve did not accept. */
GLEAM__PRIV int gleam__serve_greeted(int fd);

/* >>wire: the greeting and the messages --------------------------------------------------- */

#define GLEAM__NET_VERSION 1
/* Most bytes of one message: a block of rows, a plan, or a part of a binary. */
#define GLEAM__NET_FRAME_MAX ((size_t)64 << 20)
/* What a task's message needs besides the rows earlier flows collected and the program's
   arguments, at most (its producers, a sort's ranges): a flow whose collected rows leave
   less fails before it starts, with a message that says so. */
#define GLEAM__NET_SPEC_ROOM ((size_t)4 << 20)

/* Who is on the other end of a connection. */
enum {
    GLEAM__ROLE_MASTER = 'M',
    GLEAM__ROLE_AGENT = 'A',
    GLEAM__ROLE_DRIVER = 'D',
    GLEAM__ROLE_EXECUTOR = 'E'
};

/* Messages: frames of type GLEAM__FRAME_MSG + n whose bytes are one packed row. */
enum {
    GLEAM__MSG_OK = GLEAM__FRAME_MSG, /* [..]: what a request asked for */
    GLEAM__MSG_ERR,         /* [message] */
    GLEAM__MSG_REGISTER,    /* agent to master: [host, port, slots, memory MB, pid] */
    GLEAM__MSG_BEAT,        /* [running executors, bytes kept, jobs]: alive */
    GLEAM__MSG_AGENTS,      /* driver to master: []; the answer: OK [n, then host, port, slots of each] */
    GLEAM__MSG_JOB,         /* driver to master: [name, stages: a packed row per stage] -> OK [job id] */
    GLEAM__MSG_PROGRESS,    /* driver to master: [stage, tasks done, running, rows, bytes] */
    GLEAM__MSG_HAVE,        /* driver to agent: [binary hash] -> OK [0 or 1] */
    GLEAM__MSG_BINARY,      /* [binary hash, size], then its bytes as PIECE messages -> OK [] */
    GLEAM__MSG_PIECE,       /* [bytes] */
    GLEAM__MSG_HOLD,        /* driver to agent: [job]: the job lives while this connection does */
    GLEAM__MSG_RUN,         /* driver to agent: [job, binary hash, stage, shard, argv, cwd, spec] */
    GLEAM__MSG_LOG,         /* agent to driver: [stream (1 stdout, 2 stderr), text] */
    GLEAM__MSG_DONE,        /* agent to driver: [result, message, bytes kept, rows kept] */
    GLEAM__MSG_FETCH,       /* to an agent: [job, stage, shard, step, part, blocks]: the frames that
                               task made for that step and part, then OK []; blocks (bytes or
                               nil): of its sorted runs' blocks, numbered in order, only those in
                               these [from, to) ranges (4-byte big-endian pairs) */
    GLEAM__MSG_SAMPLE,      /* to an agent: [job, stage, shard, step, most]: OK [rows, index] of
                               that task's sorted runs: rows evenly spaced; index a packed row
                               [run, first row] per block of its runs, in order */
    GLEAM__MSG_SPEC,        /* agent to executor: [spec] */
    GLEAM__MSG_LAST
};

/* The secret of this process: GLEAM_SECRET, or the file of -gleam.secret-file. Its length;
   0 when there is none. */
GLEAM__PRIV size_t gleam__secret(const unsigned char **key);
/* Set the secret to n bytes at p (n = 0: none). */
GLEAM__PRIV void gleam__secret_set(const void *p, size_t n);
/* Set the secret from a file's contents (without a trailing newline). 0, or -1 with err. */
GLEAM__PRIV int gleam__secret_file(const char *path, char *err, size_t cap);

/* Greet the peer on fd and prove the shared secret both ways: the side that connected
   (server = 0) speaks first. A server whose peer starts with "GET " or "HEAD" (a browser)
   gets 2, those 4 bytes in peek. Returns 1 when both proved the secret, *peer_role set;
   0 with err set when the peer is not ours, refused us, or did not prove it (or, on a
   connection of gleam__serve, did not finish within GLEAM__NET_GREET_MS). */
GLEAM__PRIV int gleam__greet(int fd, int server, int role, int *peer_role, char peek[4], char *err, size_t cap);

/* Send a message of values. 0, or -1 with errno set. */
GLEAM__PRIV int gleam__msg_send(int fd, int type, const gleam_value *v, int n);
/* Read a message of at least `least` values into v (values point into buf). Its type; 0
   when the peer closed between messages; -1 with err set for a read error, a timeout, a
   frame over GLEAM__NET_FRAME_MAX or a message that does not decode. An ERR message is
   returned as GLEAM__MSG_ERR, its text in err. */
GLEAM__PRIV int gleam__msg_recv(int fd, gleam__buf *buf, gleam__vals *v, int least, char *err, size_t cap);
/* Values of a message, checked: an integer in [lo, hi], or bytes. 0, or -1. */
GLEAM__PRIV int gleam__mint(const gleam__vals *v, int i, int64_t lo, int64_t hi, int64_t *out);
GLEAM__PRIV int gleam__mbytes(const gleam__vals *v, int i, const char **p, size_t *len);
/* Bytes of a message as a NUL-terminated name of at most cap - 1 bytes, with no NUL, '/'
   or ".." in it and not empty: what may become part of a path. 0, or -1. */
GLEAM__PRIV int gleam__mname(const gleam__vals *v, int i, char *out, size_t cap);

/* >>roles --------------------------------------------------------------------------------- */

/* A server's settings: where it listens, whom it registers with, what it may use. */
typedef struct gleam__netcfg {
    char host[256];         /* listen on */
    int port;
    char master[256];       /* agent: the master's host and port */
    int master_port;
    char advertise[256];    /* agent: -host, the address it tells the master */
    char dir[1024];
    int slots;
    long memory_mb;
} gleam__netcfg;


/* >>master: its state, and the status page made of it (status.c) ----------------------- */

#define GLEAM__MAX_AGENTS 256
#define GLEAM__MAX_JOBS 64
#define GLEAM__MAX_STAGES 64
#define GLEAM__MAX_CONNS 512
/* Requests for the status page answered at once, at most (each builds the page in memory
   and may wait GLEAM__NET_GREET_MS for its request); more get 503 at once. */
#define GLEAM__HTTP_MAX 16

typedef struct gleam__magent {
    int used, id;
    char host[256];
    int port, slots;
    int64_t memory_mb, running, kept, jobs;
    long pid;
    double since, beat;
} gleam__magent;

typedef struct gleam__mstage {
    int id, shards, done, running;
    int64_t rows, bytes;
    char label[512];
    int inputs[8], ninputs;
} gleam__mstage;

typedef struct gleam__mjob {
    int used, id;
    char name[256], driver[64];
    double started, ended;
    int result;             /* 0 running, 1 done, 2 failed, 3 its driver went */
    gleam__mstage stages[GLEAM__MAX_STAGES];
    int nstages;
} gleam__mjob;

typedef struct gleam__master {
    pthread_mutex_t mu;
    char host[256];
    int port, conns, next_agent, next_job;
    int http;               /* requests for the status page being answered */
    double started;
    gleam__magent agents[GLEAM__MAX_AGENTS];
    gleam__mjob jobs[GLEAM__MAX_JOBS];
} gleam__master;

GLEAM__PRIV void gleam__mjob_clear(gleam__mjob *j);
/* The stages of a job from its driver's JOB message: a packed row per stage, [id, label,
   shards, the ids of the stages it reads]. What does not decode is left out. */
GLEAM__PRIV void gleam__mjob_stages(gleam__mjob *j, const char *p, size_t n);
/* Answer one HTTP request on fd whose first 4 bytes were peek: GET / (the page), GET
   /status.json (the same as data); anything else 404. A request that has not come within
   GLEAM__NET_GREET_MS gets no answer, an answer not taken within GLEAM__NET_TIMEOUT_MS
   is cut short, and past GLEAM__HTTP_MAX requests at once the next gets 503. */
GLEAM__PRIV void gleam__status_http(gleam__master *m, int fd, const char peek[4]);
/* The master's state as JSON and as an HTML page, into b. 0, or -1 when out of memory. */
GLEAM__PRIV int gleam__status_json(gleam__master *m, gleam__buf *b);
GLEAM__PRIV int gleam__status_html(gleam__master *m, gleam__buf *b);

GLEAM__PRIV int gleam__master_main(const gleam__netcfg *cfg);

/* >>store: the blocks an agent keeps, by job and task --------------------------------------- */

/* One frame an executor sent (its bytes after the length), in memory or in the job's file
   under -dir. */
typedef struct gleam__sframe {
    struct gleam__sframe *next;
    uint32_t len;
    uint32_t rows;          /* of a BLOCK or ROWS frame, counted as it came; GLEAM__SROWS_NONE:
                               another frame, or not whole rows */
    int64_t off;            /* in the job's file; -1: in data */
    char data[1];
} gleam__sframe;

#define GLEAM__SROWS_NONE UINT32_MAX

/* Memory for kept frames, taken in pieces of GLEAM__KCHUNK and given back to the store's
   pool when a task's frames go, so that the next job reuses pages the system has given. */
#define GLEAM__KCHUNK ((size_t)4 << 20)
typedef struct gleam__kchunk {
    struct gleam__kchunk *next;
    size_t size, used;      /* of the bytes after this header */
} gleam__kchunk;

/* What one task made. */
typedef struct gleam__stask {
    struct gleam__stask *next;
    int stage, shard, done;
    gleam__sframe *head, *tail;
    gleam__kchunk *chunks;   /* its frames in memory live here, the newest chunk first */
    uint64_t bytes, rows;
} gleam__stask;

typedef struct gleam__sjob {
    struct gleam__sjob *next;
    char name[64];
    gleam__stask *tasks;
    int holds;              /* drivers' connections holding it */
    int fd;                 /* its file under -dir, once memory is full; -1 before */
    int64_t fsize;
    pid_t pids[64];         /* process groups of its executors running here */
    int npids;
    int readers, dropped;   /* connections reading its frames; dropped: freed by the last */
} gleam__sjob;

typedef struct gleam__store {
    pthread_mutex_t mu;
    gleam__sjob *jobs;
    uint64_t mem, cap;      /* bytes kept in memory; most before they go to files */
    uint64_t kept;          /* bytes kept in all */
    gleam__kchunk *pool;     /* chunks to reuse */
    uint64_t pooled;
    uint64_t made;          /* jobs made so far: one that came and went between two looks shows here */
    char dir[1024];
} gleam__store;

/* The job of that name, made when make. NULL when out of memory or absent. With mu held. */
GLEAM__PRIV gleam__sjob *gleam__store_job(gleam__store *st, const char *name, int make);
/* Task (stage, shard) of job j, emptied for a new attempt when fresh. NULL when out of
   memory. With mu held. */
GLEAM__PRIV gleam__stask *gleam__store_task(gleam__store *st, gleam__sjob *j, int stage, int shard, int fresh);
/* Keep one frame body for task t, holding `rows` whole rows (GLEAM__SROWS_NONE: not a
   frame of rows, or not whole rows). 0, or -1 with errno set. With mu held. */
GLEAM__PRIV int gleam__store_add(gleam__store *st, gleam__sjob *j, gleam__stask *t, const char *p, size_t n, uint32_t rows);
/* The bytes of frame f into buf (reading the job's file when it is there). 0, or -1. */
GLEAM__PRIV int gleam__store_read(const gleam__sjob *j, const gleam__sframe *f, gleam__buf *buf);
/* Forget job j and free what it kept (its file too), now or, while connections read its
   frames, when the last of them lets go (gleam__store_release). With mu held. */
GLEAM__PRIV void gleam__store_drop(gleam__store *st, gleam__sjob *j);
GLEAM__PRIV void gleam__store_release(gleam__store *st, gleam__sjob *j);
/* Give the pooled chunks back to the system (an agent with no job for a while). With mu
   held. */
GLEAM__PRIV void gleam__store_trim(gleam__store *st);

GLEAM__PRIV int gleam__agent_main(const gleam__netcfg *cfg);

/* >>spec: what a driver tells the executor of one task ------------------------------------ */

/* A packed row: [flow number, plan hash, default shards, stage, shard, job, the sort's lower
   and upper splitter rows (packed rows as bytes, or nil), the number of producer tasks
   whose frames it reads, then stage, shard, host, port, blocks (as in a FETCH) of each;
   then the number of
   collects of the program's earlier flows, and their rows as bytes: a packed row [flow
   number, step index, packed rows] each]. Producers come in the order to read them: a join's build side first. An earlier
   flow's collected rows are what main may build this flow from. */
enum {
    GLEAM__SPEC_FLOW, GLEAM__SPEC_HASH, GLEAM__SPEC_SHARDS, GLEAM__SPEC_STAGE, GLEAM__SPEC_SHARD, GLEAM__SPEC_JOB,
    GLEAM__SPEC_LO, GLEAM__SPEC_HI, GLEAM__SPEC_NPROD, GLEAM__SPEC_PROD
};

/* gleam_init in an executor: read its task from descriptor fd (GLEAM_NET_EXEC). */
GLEAM__PRIV gleam_result gleam__executor_init(const char *fd);
GLEAM__PRIV int gleam__executor_active(void);
/* gleam_run in an executor: a flow before its own returns at once; its own flow runs its
   one task, and the process ends. */
GLEAM__PRIV gleam_result gleam__executor_run(gleam_flow *f, const gleam_options *opt);
/* >>driver: gleam_run with -distributed (driver.c), and its parts ---------------------------- */

typedef struct gleam__dagent {
    char host[256];
    int port, slots, running, hold;
    int gone;               /* its hold connection broke: nothing more runs there */
} gleam__dagent;

typedef struct gleam__dtask {
    int state;              /* 0 waiting, 1 running, 2 done, 3 failed (the job with it) */
    int agent;
    int attempts, avoid;    /* attempts started; the agent where the last one failed, or -1 */
    int64_t bytes, rows;
    double t0, t1;          /* started, ended */
} gleam__dtask;

typedef struct gleam__drive {
    gleam_flow *f;
    gleam__plan *p;
    gleam_options o;
    char job[64], bin[65];
    int flow, shards, mfd;  /* mfd: to the master, -1 while it is gone */
    char mhost[256];        /* the master, to connect to again after it restarts */
    int mport;
    double mretry;
    uint64_t hash;
    gleam__dagent *ag;
    int nag;
    gleam__dtask **t;       /* by stage - 1, then shard */
    gleam__buf *splits;     /* by stage - 1: a sort's splitter rows, packed one after another */
    gleam__buf **index;     /* by stage - 1, then shard: a producer's sorted blocks, [run, first row] each */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, failed, stop;
    gleam_result err;
    char msg[GLEAM__ERRMAX];
    gleam__buf args;
    char cwd[4096];
} gleam__drive;

GLEAM__PRIV gleam_result gleam__driver_run(gleam_flow *f, const gleam_options *opt);
/* drive.c: record the job's first failure (later ones are dropped) and wake the scheduler. */
GLEAM__PRIV void gleam__drive_fail(gleam__drive *d, gleam_result r, const char *fmt, ...) GLEAM__PRINTF(3, 4);
/* A greeted connection to agent a: fd, or -1 with the failure in err (the caller decides
   whether the job goes on). */
GLEAM__PRIV int gleam__drive_dial(gleam__drive *d, int a, char *err, size_t cap);
/* Does stage o feed stage st's root (a non-root node of it)? Its side, or -1. */
GLEAM__PRIV int gleam__feeds(const gleam__stage *o, const gleam__stage *st);
/* prepare.c: this program's binary, read once, and its SHA-256 in hex into hash. 0, or -1
   with err set. */
GLEAM__PRIV int gleam__read_exe(char hash[65], char *err, size_t cap);
/* Make sure agent a has the binary; hold the job there. 0, or -1 with why in why[cap]. */
GLEAM__PRIV int gleam__drive_ship(gleam__drive *d, int a, char *why, size_t cap);
GLEAM__PRIV int gleam__drive_hold(gleam__drive *d, int a, char *why, size_t cap);
/* The master's agents into d->ag (0, or -1 with the failure recorded); the job's stages
   to the master; each stage's progress to it (a master gone is let go, and tried again
   every 2 s: a restarted master learns about the job again). */
GLEAM__PRIV int gleam__drive_master(gleam__drive *d);
GLEAM__PRIV void gleam__drive_announce(gleam__drive *d);
GLEAM__PRIV void gleam__drive_progress(gleam__drive *d);
/* split.c: the splitters of sort stage s (an index) into d->splits[s] and each producer's
   block index into d->index (0, or -1 with the failure recorded); the blocks partition
   `shard` of stage s needs from a producer with that index, as [from, to) pairs. */
GLEAM__PRIV int gleam__drive_splitters(gleam__drive *d, int s);
GLEAM__PRIV int gleam__drive_ranges(const gleam__drive *d, int s, int shard, const gleam__buf *index, gleam__buf *out);
/* outputs.c: the last stages' rows into job's sinks (opened and closed here), shard by
   shard. GLEAM_OK or an error recorded in job. */
GLEAM__PRIV gleam_result gleam__drive_outputs(gleam__drive *d, gleam__job *job);

#endif /* GLEAM__NET_H */
