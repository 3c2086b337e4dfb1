/* table.c: a hash table on packed keys: open addressing with linear probing, the full
   hash stored in each slot (so a probe rarely touches an entry that does not match), and
   entries in an arena (one allocation per many keys). */
#include "internal.h"

#define GLEAM__ENTRY_HDR 4 /* uint32 key length */

static size_t gleam__payload_offset(uint32_t klen) { return (GLEAM__ENTRY_HDR + (size_t)klen + 7) & ~(size_t)7; }

static int gleam__table_init(gleam__table *t, size_t hint) {
    size_t n = 16;
    while (n < hint * 2) n *= 2;
    memset(t, 0, sizeof *t);
    t->slots = (gleam__slot *)gleam__big_alloc(n * sizeof *t->slots);
    if (!t->slots) return -1;
    t->mask = n - 1;
    return 0;
}

static int gleam__table_grow(gleam__table *t) {
    size_t n = (t->mask + 1) * 2, i;
    gleam__slot *s = (gleam__slot *)gleam__big_alloc(n * sizeof *s);
    if (!s) return -1;
    for (i = 0; i <= t->mask; i++) {
        size_t j;
        if (!t->slots[i].e) continue;
        for (j = t->slots[i].h & (n - 1); s[j].e; j = (j + 1) & (n - 1)) {
        }
        s[j] = t->slots[i];
    }
    gleam__big_free(t->slots, (t->mask + 1) * sizeof *t->slots);
    t->slots = s;
    t->mask = n - 1;
    return 0;
}

/* n bytes at a and b are equal: up to 16 of them by two overlapping loads, no call. */
static inline int gleam__same_bytes(const char *a, const char *b, size_t n) {
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    if (n > 16) return !memcmp(a, b, n);
    if (n >= 8) return gleam__load64(x) == gleam__load64(y) && gleam__load64(x + n - 8) == gleam__load64(y + n - 8);
    if (n >= 4) return gleam__load32(x) == gleam__load32(y) && gleam__load32(x + n - 4) == gleam__load32(y + n - 4);
    return n == 0 || (x[0] == y[0] && x[n / 2] == y[n / 2] && x[n - 1] == y[n - 1]);
}

static inline int gleam__entry_is(const char *e, const char *key, uint32_t klen) {
    uint32_t k;
    memcpy(&k, e, 4);
    return k == klen && gleam__same_bytes(e + GLEAM__ENTRY_HDR, key, klen);
}

/* gleam__table_upsert of a key not in the table: slot i ends its probe. */
GLEAM__OFFPATH void *gleam__table_insert(gleam__table *t, size_t i, uint64_t h, const char *key, uint32_t klen, size_t payload,
                                 int *made) {
    char *e;
    if (t->dense ? (t->count + 1) * 4 > (t->mask + 1) * 3 : (t->count + 1) * 2 > t->mask + 1) {
        if (gleam__table_grow(t)) return NULL;
        for (i = h & t->mask; t->slots[i].e; i = (i + 1) & t->mask) {
        }
    }
    e = (char *)gleam__arena_alloc(&t->mem, gleam__payload_offset(klen) + payload);
    if (!e) return NULL;
    memcpy(e, &klen, 4);
    memcpy(e + GLEAM__ENTRY_HDR, key, klen);
    memset(e + gleam__payload_offset(klen), 0, payload);
    t->slots[i].h = h;
    t->slots[i].e = e;
    t->count++;
    *made = 1;
    return e + gleam__payload_offset(klen);
}

/* The payload of key, or NULL with *at the empty slot that ends its probe (for
   gleam__table_insert). */
GLEAM__ROWPATH void *gleam__table_probe(const gleam__table *t, uint64_t h, const char *key, uint32_t klen, size_t *at) {
    size_t i;
    for (i = h & t->mask; t->slots[i].e; i = (i + 1) & t->mask)
        if (t->slots[i].h == h && gleam__entry_is(t->slots[i].e, key, klen))
            return t->slots[i].e + gleam__payload_offset(klen);
    *at = i;
    return NULL;
}

static void *gleam__table_find(const gleam__table *t, uint64_t h, const char *key, uint32_t klen) {
    size_t at;
    return gleam__table_probe(t, h, key, klen, &at);
}

/* The payload of key, made (zeroed, *made = 1) if new. The probe is inline; the insert,
   rarer by far in a fold, is not. */
GLEAM__ROWPATH void *gleam__table_upsert(gleam__table *t, uint64_t h, const char *key, uint32_t klen, size_t payload,
                                        int *made) {
    size_t i;
    void *e = gleam__table_probe(t, h, key, klen, &i);
    *made = 0;
    return e ? e : gleam__table_insert(t, i, h, key, klen, payload, made);
}

static size_t gleam__entry_key(const char *e, const char **key) {
    uint32_t k;
    memcpy(&k, e, 4);
    *key = e + GLEAM__ENTRY_HDR;
    return k;
}

static void *gleam__entry_payload(char *e) {
    uint32_t k;
    memcpy(&k, e, 4);
    return e + gleam__payload_offset(k);
}

/* While walking the slots in order: start fetching the entry GLEAM__AHEAD slots on (entries
   sit in the order they were made, not in slot order), its first two lines. A macro: gcc
   drops a call to a function whose only effect is a prefetch. */
#define GLEAM__AHEAD 32
#define GLEAM__TABLE_AHEAD(t, i)                                                              \
    do {                                                                                      \
        if ((i) + GLEAM__AHEAD <= (t)->mask && (t)->slots[(i) + GLEAM__AHEAD].e) {            \
            GLEAM__PREFETCH((t)->slots[(i) + GLEAM__AHEAD].e);                                \
            GLEAM__PREFETCH((t)->slots[(i) + GLEAM__AHEAD].e + 64);                           \
        }                                                                                     \
    } while (0)

/* Empty the table but keep its slots and its entries' memory for what comes next. */
static void gleam__table_clear(gleam__table *t) {
    memset(t->slots, 0, (t->mask + 1) * sizeof *t->slots);
    t->count = 0;
    gleam__arena_rewind(&t->mem);
}

static void gleam__table_free(gleam__table *t) {
    if (t->slots) gleam__big_free(t->slots, (t->mask + 1) * sizeof *t->slots);
    gleam__arena_free(&t->mem);
    memset(t, 0, sizeof *t);
}
