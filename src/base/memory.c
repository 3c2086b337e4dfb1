/* memory.c: allocation through the user's hooks, growable buffers, big blocks mapped in
   huge pages, and arenas that hand out memory by bumping a pointer. */
#include "base/base.h"

GLEAM__PRIV void *gleam__malloc(size_t n) { return GLEAM_MALLOC(n ? n : 1); }
GLEAM__PRIV void *gleam__realloc(void *p, size_t n) { return GLEAM_REALLOC(p, n ? n : 1); }
GLEAM__PRIV void gleam__free(void *p) {
    if (p) GLEAM_FREE(p);
}

GLEAM__PRIV void *gleam__calloc(size_t n, size_t size) {
    void *p;
    if (size && n > (size_t)-1 / size) return NULL;
    p = gleam__malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

GLEAM__PRIV char *gleam__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)gleam__malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* Room for `extra` more bytes; 0 on success, -1 when out of memory (b is unchanged). */
GLEAM__PRIV int gleam__buf_reserve(gleam__buf *b, size_t extra) {
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

GLEAM__PRIV int gleam__buf_add(gleam__buf *b, const void *p, size_t n) {
    if (gleam__buf_reserve(b, n)) return -1;
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

GLEAM__PRIV void gleam__buf_free(gleam__buf *b) {
    gleam__free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}


#define GLEAM__HUGE ((size_t)2 << 20)
/* From this size a block is mapped in whole huge pages: a first touch of a small page (of
   the heap, or of realloc's own maps) is a fault of its own. */
#define GLEAM__BIG (GLEAM__HUGE / 8)

GLEAM__PRIV void *gleam__big_alloc(size_t n) {
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

GLEAM__PRIV void gleam__big_free(void *p, size_t n) {
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
   whose own big blocks are mapped page by page: a first touch of a small page costs more
   than copying it. NULL when out of memory (p is kept). */
GLEAM__PRIV void *gleam__big_realloc(void *p, size_t old, size_t n) {
    void *q;
    if (old < GLEAM__BIG && n < GLEAM__BIG) return gleam__realloc(p, n ? n : 1);
    if (!(q = gleam__big_alloc(n))) return NULL;
    if (p) {
        memcpy(q, p, old < n ? old : n);
        gleam__big_free(p, old);
    }
    return q;
}



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

GLEAM__PRIV void *gleam__arena_dup(gleam__arena *a, const void *p, size_t n) {
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

GLEAM__PRIV void gleam__arena_rewind(gleam__arena *a) {
    gleam__chunk *c = a->head;
    if (!c) return;
    while (c->next) c = c->next;
    c->next = a->spare; /* the newest, largest chunks first */
    a->spare = a->head;
    a->head = NULL;
    a->used = 0;
}

GLEAM__PRIV void gleam__arena_free(gleam__arena *a) {
    gleam__chunks_free(a->head);
    gleam__chunks_free(a->spare);
    a->head = a->spare = NULL;
    a->bytes = a->used = 0;
}
