/* table.c: a hash table on packed keys: open addressing with linear probing, the full
   hash stored in each slot (so a probe rarely touches an entry that does not match), and
   entries in an arena (one allocation per many keys). */
#include "data/data.h"

GLEAM__PRIV int gleam__table_init(gleam__table *t, size_t hint) {
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

/* gleam__table_upsert of a key not in the table: slot i ends its probe. */
GLEAM__OFFPATH void *gleam__table_insert(gleam__table *t, size_t i, uint64_t h, const char *key, uint32_t klen, size_t payload,
                                 int *made) {
    char *e;
    if (t->dense ? (t->count + 1) * 4 > (t->mask + 1) * 3 : (t->count + 1) * 2 > t->mask + 1) {
        if (gleam__table_grow(t)) return NULL;
        for (i = h & t->mask; t->slots[i].e; i = (i + 1) & t->mask) {
        }
    }
    GLEAM_ASSERT(!t->slots[i].e);
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

GLEAM__PRIV void *gleam__table_find(const gleam__table *t, uint64_t h, const char *key, uint32_t klen) {
    size_t at;
    return gleam__table_probe(t, h, key, klen, &at);
}

GLEAM__PRIV size_t gleam__entry_key(const char *e, const char **key) {
    uint32_t k;
    memcpy(&k, e, 4);
    *key = e + GLEAM__ENTRY_HDR;
    return k;
}

GLEAM__PRIV void *gleam__entry_payload(char *e) {
    uint32_t k;
    memcpy(&k, e, 4);
    return e + gleam__payload_offset(k);
}

/* Empty the table but keep its slots and its entries' memory for what comes next. */
GLEAM__PRIV void gleam__table_clear(gleam__table *t) {
    memset(t->slots, 0, (t->mask + 1) * sizeof *t->slots);
    t->count = 0;
    gleam__arena_rewind(&t->mem);
}

GLEAM__PRIV void gleam__table_free(gleam__table *t) {
    if (t->slots) gleam__big_free(t->slots, (t->mask + 1) * sizeof *t->slots);
    gleam__arena_free(&t->mem);
    memset(t, 0, sizeof *t);
}

GLEAM__PRIV size_t gleam__table_bytes(const gleam__table *t) { return t->mem.used + (t->mask + 1) * sizeof(gleam__slot); }
