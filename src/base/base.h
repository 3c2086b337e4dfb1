/* base.h: the bottom layer: system headers, allocation hooks, buffers, arenas, hashing,
   text helpers and nameless spill files. Nothing here knows rows, plans or jobs. */
#ifndef GLEAM_BASE_H
#define GLEAM_BASE_H

/* A file of src/ compiled on its own asks for POSIX before the first system header, as
   gleam.h does for the file that defines GLEAM_IMPLEMENTATION. */
#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE) && !defined(_XOPEN_SOURCE) && !defined(_DEFAULT_SOURCE)
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1
#endif

#include "gleam_api.h"

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
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Linkage of the engine's own functions: static in the amalgamated gleam.h, which is one
   translation unit; external where each file of src/ is a translation unit of its own (make
   dev), so that compilers and tools see every call between files. */
#if defined(GLEAM__AMALGAMATION) && !defined(GLEAM__EXTERN)
#define GLEAM__PRIV static
#define GLEAM__VAR static /* an internal variable, declared in a header ... */
#define GLEAM__VARDEF static /* ... and defined in one file */
#else
#define GLEAM__PRIV /* GLEAM__EXTERN: the tests link their internal checks against them */
#define GLEAM__VAR extern
#define GLEAM__VARDEF
#endif

#if defined(GLEAM_MALLOC) && defined(GLEAM_REALLOC) && defined(GLEAM_FREE)
#define GLEAM__USER_ALLOC 1 /* every allocation goes through them, big blocks too */
#elif !defined(GLEAM_MALLOC) && !defined(GLEAM_REALLOC) && !defined(GLEAM_FREE)
#define GLEAM_MALLOC(n) malloc(n)
#define GLEAM_REALLOC(p, n) realloc(p, n)
#define GLEAM_FREE(p) free(p)
#else
#error "gleam.h: define all of GLEAM_MALLOC, GLEAM_REALLOC and GLEAM_FREE, or none"
#endif
/* The engine's invariants: a broken one is a bug of the engine, never of the input. */
#ifndef GLEAM_ASSERT
#define GLEAM_ASSERT(c) assert(c)
#endif

#define GLEAM__MIN(a, b) ((a) < (b) ? (a) : (b))
#define GLEAM__MAX(a, b) ((a) > (b) ? (a) : (b))
/* Start fetching the cache line at p (a hint: never faults). */
#if defined(__GNUC__) || defined(__clang__)
#define GLEAM__PREFETCH(p) __builtin_prefetch(p)
#define GLEAM__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define GLEAM__PREFETCH(p) ((void)(p))
#define GLEAM__PRINTF(f, a)
#endif

/* A small function on the path of every row, inlined even where the compiler's size
   rules would call it; its rare cases are separate functions (OFFPATH: never inlined, so
   the row path saves no registers for them). */
#if defined(__GNUC__) || defined(__clang__)
#define GLEAM__ROWPATH static inline __attribute__((always_inline))
#define GLEAM__NOINLINE __attribute__((noinline))
#else
#define GLEAM__ROWPATH static inline
#define GLEAM__NOINLINE
#endif
#define GLEAM__OFFPATH GLEAM__PRIV GLEAM__NOINLINE
/* A function for what includes gleam.h beside the engine (gleam_net.h, the tests): the
   amalgamation does not warn when a program uses none of them. */
#if defined(__GNUC__) || defined(__clang__)
#define GLEAM__HOOK GLEAM__PRIV __attribute__((unused))
#else
#define GLEAM__HOOK GLEAM__PRIV
#endif

#define GLEAM__ERRMAX 1024

/* >>memory: growable buffers and arenas ----------------------------------------------- */

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

GLEAM__PRIV void *gleam__malloc(size_t n);
GLEAM__PRIV void *gleam__calloc(size_t n, size_t size);
GLEAM__PRIV void *gleam__realloc(void *p, size_t n);
GLEAM__PRIV void gleam__free(void *p);
GLEAM__PRIV char *gleam__strdup(const char *s);
/* Room for `extra` more bytes; 0 on success, -1 when out of memory (b is unchanged). */
GLEAM__PRIV int gleam__buf_reserve(gleam__buf *b, size_t extra);
GLEAM__PRIV int gleam__buf_add(gleam__buf *b, const void *p, size_t n);
GLEAM__PRIV void gleam__buf_free(gleam__buf *b);
/* Big blocks (tables, arena chunks, sort arrays of 256 KB and more) come straight from
   mmap in whole 2 MB pages, aligned so the kernel can back them with huge pages: random
   probes then miss the TLB far less, and a first touch faults once per 2 MB, not per
   4 KB. The memory comes zeroed. */
GLEAM__PRIV void *gleam__big_alloc(size_t n);
GLEAM__PRIV void gleam__big_free(void *p, size_t n);
GLEAM__PRIV void *gleam__big_realloc(void *p, size_t old, size_t n);
GLEAM__PRIV void *gleam__arena_dup(gleam__arena *a, const void *p, size_t n);
/* Forget every allocation but keep every chunk, to be handed out again: memory that is
   refilled at once (a combine table after its flush) is not given back to the system and
   faulted in afresh, zeroed by the kernel page by page. */
GLEAM__PRIV void gleam__arena_rewind(gleam__arena *a);
GLEAM__PRIV void gleam__arena_free(gleam__arena *a);
GLEAM__PRIV void *gleam__arena_grow(gleam__arena *a, size_t n);
GLEAM__PRIV void gleam__arena_shrink(gleam__arena *a);

#define GLEAM__CHUNK_HDR ((sizeof(gleam__chunk) + 15) & ~(size_t)15)

/* n bytes, 8-byte aligned, valid until the arena is reset or freed; NULL when out of
   memory. The bump is inline; a new chunk is not. */
static inline void *gleam__arena_alloc(gleam__arena *a, size_t n) {
    gleam__chunk *c = a->head;
    if (c && n <= c->cap - c->used && ((n + 7) & ~(size_t)7) <= c->cap - c->used) {
        char *p = (char *)c + GLEAM__CHUNK_HDR + c->used;
        size_t need = (n + 7) & ~(size_t)7;
        c->used += need;
        a->used += need;
        return p;
    }
    return gleam__arena_grow(a, n);
}

/* Forget every allocation but keep the newest (largest) chunk for reuse. */
static inline void gleam__arena_reset(gleam__arena *a) {
    gleam__chunk *c = a->head;
    if (!c) return;
    if (c->next || a->spare) {
        gleam__arena_shrink(a);
        return;
    }
    c->used = 0; /* the usual case for scratch memory: one chunk */
    a->used = 0;
}

/* >>hash ---------------------------------------------------------------------------- */

static inline uint64_t gleam__load64(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t gleam__load32(const unsigned char *p) {
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

static inline void gleam__store64(unsigned char *p, uint64_t w) { memcpy(p, &w, 8); }
static inline void gleam__store32(unsigned char *p, uint64_t w) {
    uint32_t x = (uint32_t)w;
    memcpy(p, &x, 4);
}

/* The high and low halves of a * b, xored. */
static inline uint64_t gleam__mix(uint64_t a, uint64_t b) {
#if defined(__SIZEOF_INT128__)
    __extension__ typedef unsigned __int128 gleam__u128;
    gleam__u128 r = (gleam__u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    uint64_t lo = (ll & 0xffffffffu) | mid << 32, hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return lo ^ hi;
#endif
}

#define GLEAM__H0 0xa0761d6478bd642full
#define GLEAM__H1 0xe7037ed1a0b428dbull
#define GLEAM__H2 0x8ebc6af09c88c6e3ull

/* A 64-bit hash of n bytes (see hash.c). */
GLEAM__PRIV uint64_t gleam__hash(const void *p, size_t n);

/* Write the byte `tag` and then the len bytes at s (len < 32) to k, which has room for 32,
   and return gleam__hash of those len + 1 bytes. The words the hash reads are assembled
   from the loads of s instead of being read back from k: a load that spans the tag byte's
   store and the copy's stores cannot be forwarded from them and waits until they reach
   the cache, which costs more than the whole hash. */
static inline uint64_t gleam__put_short(unsigned char *k, unsigned tag, const unsigned char *s, size_t len) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t t = tag, n = len + 1, a, b, seed = GLEAM__H0;
    k[0] = (unsigned char)tag;
    if (len >= 16) { /* 17 to 32 bytes: one round of the loop, then the last 16 */
        uint64_t w0 = gleam__load64(s), w1 = gleam__load64(s + 8);
        a = gleam__load64(s + len - 16);
        b = gleam__load64(s + len - 8);
        gleam__store64(k + 1, w0);
        gleam__store64(k + 9, w1);
        gleam__store64(k + len - 15, a);
        gleam__store64(k + len - 7, b);
        seed = gleam__mix((w0 << 8 | t) ^ GLEAM__H1, gleam__load64(s + 7) ^ seed);
    } else if (len >= 8) {
        uint64_t w = gleam__load64(s);
        b = gleam__load64(s + len - 8);
        gleam__store64(k + 1, w);
        gleam__store64(k + len - 7, b);
        a = w << 8 | t;
    } else if (len >= 4) {
        uint64_t w = gleam__load32(s), x = gleam__load32(s + len - 4);
        gleam__store32(k + 1, w);
        gleam__store32(k + len - 3, x);
        if (len == 7) a = b = (w | x << 24) << 8 | t;  /* 8 bytes: both words are all of them */
        else a = (w << 8 | t) & 0xffffffffu, b = x; /* 5 to 7 bytes */
    } else if (len == 3) { /* 4 bytes */
        k[1] = s[0], k[2] = s[1], k[3] = s[2];
        a = b = (uint64_t)s[2] << 24 | (uint64_t)s[1] << 16 | (uint64_t)s[0] << 8 | t;
    } else if (len) { /* 2 or 3 bytes */
        k[1] = s[0], k[len] = s[len - 1];
        a = t << 16 | (uint64_t)s[0] << 8 | s[len - 1];
        b = 0;
    } else {
        a = t << 16 | t << 8 | t;
        b = 0;
    }
    return gleam__mix(GLEAM__H1 ^ n, gleam__mix(a ^ GLEAM__H1, b ^ seed ^ GLEAM__H2));
#else
    k[0] = (unsigned char)tag;
    if (len) memcpy(k + 1, s, len);
    return gleam__hash(k, len + 1);
#endif
}

/* Big-endian integers, as MessagePack and our frames write them. */
static inline void gleam__be16(unsigned char *p, uint32_t v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }
static inline void gleam__be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}
static inline void gleam__be64(unsigned char *p, uint64_t v) {
    gleam__be32(p, (uint32_t)(v >> 32));
    gleam__be32(p + 4, (uint32_t)v);
}
static inline uint32_t gleam__rd16(const unsigned char *p) { return (uint32_t)p[0] << 8 | p[1]; }
static inline uint32_t gleam__rd32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t gleam__rd64(const unsigned char *p) { return (uint64_t)gleam__rd32(p) << 32 | gleam__rd32(p + 4); }


/* >>text ------------------------------------------------------------------------------ */

GLEAM__PRIV int gleam__vfmt(char *dst, size_t cap, const char *fmt, va_list ap);
GLEAM__PRIV int gleam__fmt_into(char *dst, size_t cap, const char *fmt, ...) GLEAM__PRINTF(3, 4);
/* Seconds on a monotonic clock. */
GLEAM__PRIV double gleam__now(void);
/* "812 B", "1.5 KB", "12.3 MB", "1.20 GB" into buf; returns buf. */
GLEAM__PRIV const char *gleam__fmt_bytes(char *buf, size_t cap, double x);
/* "950", "12.3 k", "4.56 M" into buf; returns buf. */
GLEAM__PRIV const char *gleam__fmt_count(char *buf, size_t cap, double x);

/* >>spill: nameless temporary files --------------------------------------------------- */

typedef struct gleam__spill {
    int fd;
    uint64_t size;          /* bytes written */
    gleam__buf wbuf;
} gleam__spill;

/* Make a spill file in dir. 0, or -1 with errno set. */
GLEAM__PRIV int gleam__spill_open(gleam__spill *s, const char *dir);
/* Write all n bytes to fd. 0, or -1 with errno set (ENOSPC when nothing could be written). */
GLEAM__PRIV int gleam__write_all(int fd, const char *p, size_t n);
/* Append n bytes. 0, or -1 with errno set. */
GLEAM__PRIV int gleam__spill_write(gleam__spill *s, const void *p, size_t n);
/* Append a record: a 4-byte length, then the bytes. 0, or -1 with errno set. */
GLEAM__PRIV int gleam__spill_record(gleam__spill *s, const void *p, size_t n);
/* Everything written is in the file, and the write buffer is freed. 0, or -1. */
GLEAM__PRIV int gleam__spill_end(gleam__spill *s);
GLEAM__PRIV void gleam__spill_close(gleam__spill *s);

/* A reader of the records of a spill file from one offset to another. */
typedef struct gleam__recs {
    const gleam__spill *file;
    uint64_t off, end;      /* file position of buf's end; where to stop */
    gleam__buf buf;
    size_t at;              /* next record in buf */
} gleam__recs;

GLEAM__PRIV void gleam__recs_init(gleam__recs *r, const gleam__spill *file, uint64_t from, uint64_t to);
/* The next record: 1 with *p and *n set (valid until the next call), 0 at the end, -1 on a
   read error (errno set; EIO for a damaged file). */
GLEAM__PRIV int gleam__recs_next(gleam__recs *r, const char **p, size_t *n);
GLEAM__PRIV void gleam__recs_free(gleam__recs *r);

#endif /* GLEAM_BASE_H */
