/* fuse.c: from a flow to a plan. The flow's steps are copied as data, with the shard count
   and order of every dataset worked out; then consecutive narrow steps fuse into one tree
   of operators per task group (stage): each source and each wide step starts a stage, and
   within a stage a row goes from step to step by a function call. */
#include "plan/plan.h"

/* Steps' own parameters: fields >= 1, functions registered with the right kind. */
static gleam_result gleam__check_step(gleam_flow *f, const gleam__step *s) {
    char label[128];
    int i, fk = gleam__step_fn_kind(s->kind);
    gleam__step_label(s, label, sizeof label);
    if (fk >= 0) {
        const gleam__fn *fn;
        if (!s->fn_name) {
            gleam__flow_fail(f, GLEAM_ERR_PLAN, "%s: no function name given", label);
            return GLEAM_ERR_PLAN;
        }
        if (!(fn = gleam__lookup(s->fn_name))) {
            gleam__flow_fail(f, GLEAM_ERR_PLAN, "%s: no %s is registered as \"%s\"", label, gleam__fn_kind_name(fk),
                             s->fn_name);
            return GLEAM_ERR_PLAN;
        }
        if (fn->kind != fk) {
            gleam__flow_fail(f, GLEAM_ERR_PLAN, "%s: \"%s\" is registered as a %s, not a %s", label, s->fn_name,
                             gleam__fn_kind_name(fn->kind), gleam__fn_kind_name(fk));
            return GLEAM_ERR_PLAN;
        }
    }
    for (i = 0; i < s->key.n; i++)
        if (s->key.f[i] < 1) {
            gleam__flow_fail(f, GLEAM_ERR_PLAN, "%s: field %d is not a field number (they start at 1, at most %d)",
                             label, s->key.f[i], GLEAM_MAX_FIELDS);
            return GLEAM_ERR_PLAN;
        }
    for (i = 0; i < s->order.n; i++)
        if (s->order.by[i].field < 1) {
            gleam__flow_fail(f, GLEAM_ERR_PLAN, "%s: order field %d is not a field number (they start at 1, at most %d)",
                             label, s->order.by[i].field, GLEAM_MAX_FIELDS);
            return GLEAM_ERR_PLAN;
        }
    return GLEAM_OK;
}

/* A copy of s's strings into d (d holds s's other fields already). -1 when out of memory. */
static int gleam__step_copy_strings(gleam__step *d, const gleam__step *s) {
    int j;
    d->fn_name = d->command = d->path = d->format_text = NULL;
    d->paths = NULL;
    d->npaths = 0;
    if ((s->fn_name && !(d->fn_name = gleam__strdup(s->fn_name))) || (s->command && !(d->command = gleam__strdup(s->command))) ||
        (s->path && !(d->path = gleam__strdup(s->path))) ||
        (s->format_text && !(d->format_text = gleam__strdup(s->format_text))))
        return -1;
    if (s->npaths) {
        if (!(d->paths = (char **)gleam__calloc((size_t)s->npaths, sizeof *d->paths))) return -1;
        for (j = 0; j < s->npaths; j++) {
            if (!(d->paths[j] = gleam__strdup(s->paths[j]))) return -1;
            d->npaths = j + 1;
        }
    }
    return 0;
}

static gleam__stage *gleam__stage_new(gleam__plan *p, gleam__step *root) {
    gleam__stage *st = (gleam__stage *)gleam__calloc(1, sizeof *st);
    gleam__stage **ss;
    if (!st) return NULL;
    ss = (gleam__stage **)gleam__realloc(p->stages, (size_t)(p->nstages + 1) * sizeof *ss);
    if (!ss) {
        gleam__free(st);
        return NULL;
    }
    p->stages = ss;
    st->id = p->nstages + 1;
    st->root = root;
    st->nshards = root->nshards;
    p->stages[p->nstages++] = st;
    return st;
}

static gleam__node *gleam__node_add(gleam__stage *st, gleam__node *parent, gleam__step *s, int side, int offset) {
    gleam__node *n = (gleam__node *)gleam__calloc(1, sizeof *n);
    if (!n) return NULL;
    if (st->nnodes == st->capnodes) {
        int cap = st->capnodes ? st->capnodes * 2 : 8;
        gleam__node **nn = (gleam__node **)gleam__realloc(st->nodes, (size_t)cap * sizeof *nn);
        if (!nn) {
            gleam__free(n);
            return NULL;
        }
        st->nodes = nn;
        st->capnodes = cap;
    }
    if (parent) {
        gleam__node **kk = (gleam__node **)gleam__realloc(parent->kids, (size_t)(parent->nkids + 1) * sizeof *kk);
        if (!kk) {
            gleam__free(n);
            return NULL;
        }
        parent->kids = kk;
        parent->kids[parent->nkids++] = n;
    }
    n->step = s;
    n->side = side;
    n->offset = offset;
    n->parent = parent;
    n->index = st->nnodes;
    st->nodes[st->nnodes++] = n;
    return n;
}

/* Grow the tree below `at`: every step that reads at's step joins this stage, narrow ones
   with their own readers after them. */
static int gleam__grow(gleam__plan *p, gleam__stage *st, gleam__node *at) {
    int i, side, id = at->step->id;
    for (i = id; i < p->nsteps; i++) { /* readers come after what they read */
        gleam__step *c = &p->steps[i];
        for (side = 0; side < c->nin; side++) {
            gleam__node *n;
            int offset = at->offset;
            if (c->in[side] != id) continue;
            if (c->kind == GLEAM__UNION && side == 1) offset += p->steps[c->in[0] - 1].nshards;
            if (!(n = gleam__node_add(st, at, c, side, offset))) return -1;
            if (gleam__step_class(c->kind) == GLEAM__NARROW && gleam__grow(p, st, n)) return -1;
        }
    }
    return 0;
}

GLEAM__PRIV gleam_result gleam__plan_fuse(gleam__plan *p) {
    int i;
    if (!(p->consumer = (int *)gleam__calloc((size_t)p->nsteps + 1, sizeof *p->consumer))) return GLEAM_ERR_NOMEM;
    for (i = 0; i < p->nsteps; i++) {
        gleam__step *s = &p->steps[i];
        int cls = gleam__step_class(s->kind);
        gleam__stage *st;
        gleam__node *root;
        if (cls != GLEAM__SOURCE && cls != GLEAM__WIDE) continue;
        if (!(st = gleam__stage_new(p, s)) || !(root = gleam__node_add(st, NULL, s, 0, 0))) return GLEAM_ERR_NOMEM;
        GLEAM_ASSERT(st->nshards >= 1);
        if (cls == GLEAM__WIDE) p->consumer[s->id] = st->id;
        if (gleam__grow(p, st, root)) return GLEAM_ERR_NOMEM;
    }
    return GLEAM_OK;
}

/* The shard count and order of step s's output, from its inputs' (set before it). */
static void gleam__step_shape(gleam__plan *p, gleam__step *s, int dflt) {
    const gleam__step *a = s->nin > 0 ? &p->steps[s->in[0] - 1] : NULL, *b = s->nin > 1 ? &p->steps[s->in[1] - 1] : NULL;
    s->in_nshards = a ? a->nshards : 0;
    s->in_ordered = a ? a->ordered : 0;
    switch (s->kind) {
    case GLEAM__READ:
    case GLEAM__VALUES:
    case GLEAM__GENERATE: s->nshards = s->shards > 0 ? s->shards : dflt; break;
    case GLEAM__UNION: s->nshards = a->nshards + b->nshards; break;
    case GLEAM__PARTITION: s->nshards = s->shards; break;
    case GLEAM__REDUCE:
    case GLEAM__TOP:
    case GLEAM__LIMIT: s->nshards = 1; break;
    default: s->nshards = a->nshards; break;
    }
    switch (s->kind) {
    case GLEAM__SORT:
    case GLEAM__TOP:
    case GLEAM__LIMIT:
    case GLEAM__REDUCE: s->ordered = 1; break;
    case GLEAM__MAP:
    case GLEAM__SELECT: s->ordered = a->ordered; break;
    case GLEAM__LOCAL_SORT:
    case GLEAM__LOCAL_TOP: s->ordered = s->nshards == 1; break;
    case GLEAM__UNION: s->ordered = a->ordered && b->ordered; break;
    default: s->ordered = gleam__step_class(s->kind) == GLEAM__OUTPUT ? a->ordered : 0;
    }
}

GLEAM__PRIV gleam_result gleam__plan_build(gleam_flow *f, int dflt, gleam__plan **out) {
    gleam__plan *p;
    int i;
    *out = NULL;
    for (i = 0; i < f->nsteps; i++)
        if (gleam__check_step(f, &f->steps[i]->s) != GLEAM_OK) return f->err;
    if (!(p = (gleam__plan *)gleam__calloc(1, sizeof *p)) || !(p->name = gleam__strdup(f->name))) goto nomem;
    if (!(p->steps = (gleam__step *)gleam__calloc((size_t)f->nsteps + 1, sizeof *p->steps))) goto nomem;
    for (i = 0; i < f->nsteps; i++) {
        gleam__step *s = &p->steps[i];
        *s = f->steps[i]->s; /* the data; its strings are copied below, its values borrowed */
        p->nsteps = i + 1;
        if (gleam__step_copy_strings(s, &f->steps[i]->s)) goto nomem;
        GLEAM_ASSERT(s->id == i + 1 && s->in[0] < s->id && s->in[1] < s->id);
        gleam__step_shape(p, s, dflt);
    }
    if (gleam__plan_fuse(p) != GLEAM_OK) goto nomem;
    *out = p;
    return GLEAM_OK;
nomem:
    gleam__plan_free(p);
    gleam__flow_fail(f, GLEAM_ERR_NOMEM, "planning: out of memory");
    return GLEAM_ERR_NOMEM;
}

GLEAM__PRIV void gleam__plan_free(gleam__plan *p) {
    int i, j;
    if (!p) return;
    for (i = 0; i < p->nstages; i++) {
        gleam__stage *st = p->stages[i];
        for (j = 0; j < st->nnodes; j++) {
            gleam__free(st->nodes[j]->kids);
            gleam__free(st->nodes[j]);
        }
        gleam__free(st->nodes);
        gleam__free(st);
    }
    for (i = 0; i < p->nsteps; i++) gleam__step_clear(&p->steps[i]);
    gleam__free(p->steps);
    gleam__free(p->stages);
    gleam__free(p->consumer);
    gleam__free(p->bytes);
    gleam__free(p->name);
    gleam__free(p);
}

GLEAM__PRIV const gleam__stage *gleam__consumer_stage(const gleam__plan *p, const gleam__step *s) {
    int id = p->consumer ? p->consumer[s->id] : 0;
    return id ? p->stages[id - 1] : NULL;
}
