/* wide.c: the operators of each kind of wide step, in one table. */
#include "steps/steps.h"

/* A table is far from the cache from 128 MB; a table's first 4096 keys, the frequent ones
   of a skewed input, are folded in place. */
GLEAM__VARDEF gleam__tuning gleam__tune = {(size_t)128 << 20, 256u * 1024, 4096};

static const gleam__wide gleam__wide_fold = {gleam__make_fold_producer, gleam__make_fold_consumer};
static const gleam__wide gleam__wide_group = {gleam__make_hash_producer, gleam__make_group_consumer};
static const gleam__wide gleam__wide_join = {gleam__make_hash_producer, gleam__make_join_consumer};
static const gleam__wide gleam__wide_partition = {gleam__make_hash_producer, gleam__make_pass_consumer};
static const gleam__wide gleam__wide_distinct = {gleam__make_distinct_producer, gleam__make_distinct_consumer};
static const gleam__wide gleam__wide_order = {gleam__make_order_producer, gleam__make_order_consumer};

GLEAM__PRIV const gleam__wide *gleam__wide_of(int kind) {
    switch (kind) {
    case GLEAM__REDUCE_BY:
    case GLEAM__REDUCE: return &gleam__wide_fold;
    case GLEAM__GROUP_BY:
    case GLEAM__COGROUP: return &gleam__wide_group;
    case GLEAM__JOIN: return &gleam__wide_join;
    case GLEAM__PARTITION: return &gleam__wide_partition;
    case GLEAM__DISTINCT: return &gleam__wide_distinct;
    case GLEAM__SORT:
    case GLEAM__TOP:
    case GLEAM__LIMIT: return &gleam__wide_order;
    default: return NULL;
    }
}
