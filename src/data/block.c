/* block.c: blocks, the buffers of packed rows that cross between shards. */
#include "data/data.h"

GLEAM__PRIV gleam__block *gleam__block_new(size_t cap) {
    gleam__block *b = (gleam__block *)gleam__malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->next = NULL;
    b->len = 0;
    b->cap = cap;
    b->side = 0;
    b->producer = 0;
    b->kept = 0;
    b->data = (char *)(b + 1);
    return b;
}

GLEAM__PRIV void gleam__block_free(gleam__block *b) { gleam__free(b); }

GLEAM__PRIV void gleam__blocks_free(gleam__block *b) {
    while (b) {
        gleam__block *n = b->next;
        gleam__block_free(b);
        b = n;
    }
}
