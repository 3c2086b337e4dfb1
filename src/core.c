/* core.c: allocation hooks, buffers, arenas, hashing and result texts. */
#include "internal.h"

/* >>memory ---------------------------------------------------------------------------- */

static void *gleam__malloc(size_t n) { return GLEAM_MALLOC(n ? n : 1); }
static void *gleam__realloc(void *p, size_t n) { return GLEAM_REALLOC(p, n ? n : 1); }
static void gleam__free(void *p) {
    if (p) GLEAM_FREE(p);
}

static void *gleam__calloc(size_t n, size_t size) {
    void *p;
    if (size && n > (size_t)-1 / size) return NULL;
    p = gleam__malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

static char *gleam__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)gleam__malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* Room for `extra` more bytes; 0 on success, -1 when out of memory (b is unchanged). */
static int gleam__buf_reserve(gleam__buf *b, size_t extra) {
    size_t want, cap;
    char *p;
    if (b->cap - b->len >= extra) return 0;
    if (extra > (size_t)-1 / 2 - b->len) return -1;
    want = b->len + extra;
    cap = b->cap ? b->cap : 256;
    while (cap < want) cap *= 2;
    p = (char *)gleam__realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int gleam__buf_add(gleam__buf *b, const void *p, size_t n) {
    if (gleam__buf_reserve(b, n)) return -1;
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static void gleam__buf_free(gleam__buf *b) {
    gleam__free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

#define GLEAM__HUGE ((size_t)2 << 20)
/* From this size a block is mapped in whole huge pages: a first touch of a small page (of
   the heap, or of realloc's own maps) is a fault of its own, dear on a virtual machine. */
#define GLEAM__BIG (GLEAM__HUGE / 8)

static void *gleam__big_alloc(size_t n) {
#if defined(MAP_ANONYMOUS) && !defined(GLEAM__USER_ALLOC)
    if (n >= GLEAM__BIG) {
        size_t len = (n + GLEAM__HUGE - 1) & ~(GLEAM__HUGE - 1), lead;
        char *p = (char *)mmap(NULL, len + GLEAM__HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *q;
        if (p == (char *)MAP_FAILED) return NULL;
        q = (char *)(((uintptr_t)p + GLEAM__HUGE - 1) & ~(uintptr_t)(GLEAM__HUGE - 1));
        lead = (size_t)(q - p);
        if (lead) munmap(p, lead);
        if (GLEAM__HUGE - lead) munmap(q + len, GLEAM__HUGE - lead);
#ifdef MADV_HUGEPAGE
        madvise(q, len, MADV_HUGEPAGE);
#endif
        return q;
    }
#endif
    return gleam__calloc(1, n);
}

static void gleam__big_free(void *p, size_t n) {
    (void)n; /* without mmap, only free() */
    if (!p) return;
#if defined(MAP_ANONYMOUS) && !defined(GLEAM__USER_ALLOC)
    if (n >= GLEAM__BIG) {
        munmap(p, (n + GLEAM__HUGE - 1) & ~(GLEAM__HUGE - 1));
        return;
    }
#endif
    gleam__free(p);
}

/* Grow or shrink a block of gleam__big_alloc from old to n bytes, keeping what fits (the
   rest is not zeroed). A big block is copied into a new one rather than grown by realloc,
   whose own big blocks are mapped page by page: on a virtual machine a first touch of a
   small page costs far more than copying it. NULL when out of memory (p is kept). */
static void *gleam__big_realloc(void *p, size_t old, size_t n) {
    void *q;
    if (old < GLEAM__BIG && n < GLEAM__BIG) return gleam__realloc(p, n ? n : 1);
    if (!(q = gleam__big_alloc(n))) return NULL;
    if (p) {
        memcpy(q, p, old < n ? old : n);
        gleam__big_free(p, old);
    }
    return q;
}

#define GLEAM__CHUNK_HDR ((sizeof(gleam__chunk) + 15) & ~(size_t)15)

/* gleam__arena_alloc when the newest chunk has no room: a new chunk, 64 KB doubling to
   16 MB, header included, so a big chunk covers whole huge pages and never touches one
   more for its last bytes. */
GLEAM__OFFPATH void *gleam__arena_grow(gleam__arena *a, size_t n) {
    gleam__chunk *c;
    size_t need;
    if (n > (size_t)-1 / 2) return NULL; /* no size arithmetic below may wrap */
    need = (n + 7) & ~(size_t)7;
    if (a->spare && a->spare->cap >= need) { /* a chunk kept by gleam__arena_rewind */
        c = a->spare;
        a->spare = c->next;
    } else {
        size_t cap = (a->head ? (GLEAM__CHUNK_HDR + a->head->cap) * 2 : 64 * 1024) - GLEAM__CHUNK_HDR;
        if (cap > (16u << 20) - GLEAM__CHUNK_HDR) cap = (16u << 20) - GLEAM__CHUNK_HDR;
        if (cap < need) cap = need;
        if (!(c = (gleam__chunk *)gleam__big_alloc(GLEAM__CHUNK_HDR + cap))) return NULL;
        c->cap = cap;
        a->bytes += cap;
    }
    c->used = need;
    c->next = a->head;
    a->head = c;
    a->used += need;
    return (char *)c + GLEAM__CHUNK_HDR;
}

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

static void *gleam__arena_dup(gleam__arena *a, const void *p, size_t n) {
    void *q = gleam__arena_alloc(a, n);
    if (q && n) memcpy(q, p, n);
    return q;
}

static void gleam__chunks_free(gleam__chunk *c) {
    while (c) {
        gleam__chunk *n = c->next;
        gleam__big_free(c, GLEAM__CHUNK_HDR + c->cap);
        c = n;
    }
}

/* gleam__arena_reset of an arena of more than one chunk, or with spare ones. */
GLEAM__OFFPATH void gleam__arena_shrink(gleam__arena *a) {
    gleam__chunk *c = a->head;
    gleam__chunks_free(a->spare);
    gleam__chunks_free(c->next);
    a->spare = c->next = NULL;
    c->used = 0;
    a->bytes = c->cap;
    a->used = 0;
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

static void gleam__arena_rewind(gleam__arena *a) {
    gleam__chunk *c = a->head;
    if (!c) return;
    while (c->next) c = c->next;
    c->next = a->spare; /* the newest, largest chunks first */
    a->spare = a->head;
    a->head = NULL;
    a->used = 0;
}

static void gleam__arena_free(gleam__arena *a) {
    gleam__chunks_free(a->head);
    gleam__chunks_free(a->spare);
    a->head = a->spare = NULL;
    a->bytes = a->used = 0;
}

/* >>hash ------------------------------------------------------------------------------- */

/* A 64-bit hash of n bytes, in the manner of the multiply-and-fold hashes (wyhash): each 16
   bytes are folded into the state by one 64x64->128-bit multiply whose halves are xored,
   and the length and state get one more such multiply at the end, so both the high bits
   (partitions) and the low bits (table slots) are well mixed. Keys of up to 16 bytes, the
   common case, take two multiplies and no loop. */
static uint64_t gleam__load64(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static uint64_t gleam__load32(const unsigned char *p) {
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* The high and low halves of a * b, xored. */
static uint64_t gleam__mix(uint64_t a, uint64_t b) {
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

static uint64_t gleam__hash(const void *key, size_t n) {
    const unsigned char *p = (const unsigned char *)key;
    uint64_t seed = GLEAM__H0, a, b;
    if (n <= 16) {
        if (n >= 8) {
            a = gleam__load64(p);
            b = gleam__load64(p + n - 8);
        } else if (n >= 4) {
            a = gleam__load32(p);
            b = gleam__load32(p + n - 4);
        } else if (n) {
            a = (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t left = n;
        while (left > 16) {
            seed = gleam__mix(gleam__load64(p) ^ GLEAM__H1, gleam__load64(p + 8) ^ seed);
            p += 16;
            left -= 16;
        }
        a = gleam__load64(p + left - 16); /* the last 16 bytes, overlapping earlier ones */
        b = gleam__load64(p + left - 8);
    }
    return gleam__mix(GLEAM__H1 ^ n, gleam__mix(a ^ GLEAM__H1, b ^ seed ^ GLEAM__H2));
}

static void gleam__store64(unsigned char *p, uint64_t w) { memcpy(p, &w, 8); }
static void gleam__store32(unsigned char *p, uint64_t w) {
    uint32_t x = (uint32_t)w;
    memcpy(p, &x, 4);
}

/* Write the byte `tag` and then the len bytes at s (len < 32) to k, which has room for 32,
   and return gleam__hash of those len + 1 bytes. The words the hash reads are assembled
   from the loads of s instead of being read back from k: a load that spans the tag byte's
   store and the copy's stores cannot be forwarded from them and waits until they reach
   the cache, which cost more than the whole hash. */
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

/* >>text ------------------------------------------------------------------------------- */

static int gleam__vfmt(char *dst, size_t cap, const char *fmt, va_list ap) {
    int n = vsnprintf(dst, cap, fmt, ap);
    if (n < 0 && cap) dst[0] = 0;
    return n;
}

static int gleam__fmt_into(char *dst, size_t cap, const char *fmt, ...) {
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = gleam__vfmt(dst, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* >>results ---------------------------------------------------------------------------- */

GLEAM_API const char *gleam_result_str(gleam_result r) {
    switch (r) {
#define GLEAM__CASE(name, value, text) \
    case name: return text;
        GLEAM_RESULTS(GLEAM__CASE)
#undef GLEAM__CASE
    default: return "unknown result";
    }
}

GLEAM_API const char *gleam_error(const gleam_flow *f) {
    if (!f) return gleam__init_err;
    return f->errmsg;
}
