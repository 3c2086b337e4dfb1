/* plan.c: from a flow to a plan. Consecutive narrow steps fuse into one tree of operators
   per task group (stage); each source and each wide step starts a stage. Within a stage a
   row goes from step to step by a function call. The plan names functions, never points
   at them, so it can be printed, checked and shipped. */
#include "internal.h"

/* Steps' own parameters: fields >= 1, functions registered with the right kind. */
static gleam_result gleam__check_step(gleam_flow *f, gleam__step *s) {
    char label[128];
    int i, fk = -1;
    gleam__step_label(s, label, sizeof label);
    switch (s->kind) {
#define GLEAM__STEP_FK(id, name, cls, k) \
    case GLEAM__##id: fk = k; break;
        GLEAM__STEPS(GLEAM__STEP_FK)
#undef GLEAM__STEP_FK
    }
    if (fk >= 0) {
        if (!s->fn_name) {
            gleam__flow_fail(f, GLEAM_ERR_PLAN, "%s: no function name given", label);
            return GLEAM_ERR_PLAN;
        }
        s->fn = gleam__lookup(s->fn_name);
        if (!s->fn) {
            gleam__flow_fail(f, GLEAM_ERR_PLAN, "%s: no %s is registered as \"%s\"", label,
                             gleam__fn_kind_name(fk), s->fn_name);
            return GLEAM_ERR_PLAN;
        }
        if (s->fn->kind != fk) {
            gleam__flow_fail(f, GLEAM_ERR_PLAN, "%s: \"%s\" is registered as a %s, not a %s", label,
                             s->fn_name, gleam__fn_kind_name(s->fn->kind), gleam__fn_kind_name(fk));
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

static int gleam__default_threads(void) {
    long n;
    if (gleam__opts.threads > 0) return gleam__opts.threads;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

static gleam__stage *gleam__stage_new(gleam__plan *p, gleam__step *root, int nshards) {
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
    st->nshards = nshards;
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

/* Grow the tree below `at`, which makes dataset d: every consumer of d joins this stage,
   narrow ones with their own consumers after them. */
static int gleam__grow(gleam__plan *p, gleam__stage *st, gleam__node *at, gleam_dataset *d) {
    gleam_flow *f = p->flow;
    int i, side;
    for (i = 0; i < f->nsteps; i++) {
        gleam__step *c = f->steps[i];
        for (side = 0; side < c->nin; side++) {
            gleam__node *n;
            int offset = at->offset;
            if (c->in[side] != d) continue;
            if (c->kind == GLEAM__UNION && side == 1) offset += c->in[0]->nshards;
            if (!(n = gleam__node_add(st, at, c, side, offset))) return -1;
            if (gleam__step_class(c->kind) == GLEAM__NARROW && gleam__grow(p, st, n, c->out)) return -1;
        }
    }
    return 0;
}

static gleam__xchg *gleam__xchg_new(gleam__step *s, gleam__stage *consumer) {
    gleam__xchg *x = (gleam__xchg *)gleam__calloc(1, sizeof *x);
    if (!x) return NULL;
    x->step = s;
    x->stage = consumer;
    x->nparts = consumer->nshards;
    x->nsides = s->nin;
    x->ordered = s->kind == GLEAM__LIMIT && s->in[0]->ordered && s->in[0]->nshards > 1;
    return x;
}

static gleam_result gleam__plan_build(gleam_flow *f, int threads, gleam__plan **out) {
    gleam__plan *p;
    int i, j;
    gleam_result r;
    *out = NULL;
    for (i = 0; i < f->nsteps; i++)
        if ((r = gleam__check_step(f, f->steps[i])) != GLEAM_OK) return r;
    /* Shard counts and order, in step order (inputs always come first). */
    for (i = 0; i < f->nsteps; i++) {
        gleam__step *s = f->steps[i];
        gleam_dataset *d = s->out, *a = s->in[0];
        if (!d) continue;
        d->nshards = gleam__ds_shards(d, threads);
        switch (s->kind) {
        case GLEAM__SORT:
        case GLEAM__TOP:
        case GLEAM__LIMIT:
        case GLEAM__REDUCE: d->ordered = 1; break;
        case GLEAM__MAP:
        case GLEAM__SELECT: d->ordered = a->ordered; break;
        case GLEAM__LOCAL_SORT:
        case GLEAM__LOCAL_TOP: d->ordered = d->nshards == 1; break;
        case GLEAM__UNION: d->ordered = a->ordered && s->in[1]->ordered; break;
        default: d->ordered = 0;
        }
    }
    p = (gleam__plan *)gleam__calloc(1, sizeof *p);
    if (!p) goto nomem;
    p->flow = f;
    p->nsteps = f->nsteps;
    p->xchgs = (gleam__xchg **)gleam__calloc((size_t)f->nsteps + 1, sizeof *p->xchgs);
    p->sinks = (gleam__sink **)gleam__calloc((size_t)f->nsteps + 1, sizeof *p->sinks);
    if (!p->xchgs || !p->sinks) goto nomem;
    for (i = 0; i < f->nsteps; i++) {
        gleam__step *s = f->steps[i];
        int cls = gleam__step_class(s->kind);
        gleam__stage *st;
        gleam__node *root;
        if (cls != GLEAM__SOURCE && cls != GLEAM__WIDE) continue;
        if (!(st = gleam__stage_new(p, s, s->out->nshards))) goto nomem;
        if (!(root = gleam__node_add(st, NULL, s, 0, 0))) goto nomem;
        if (cls == GLEAM__WIDE) {
            if (!(st->in = p->xchgs[s->id] = gleam__xchg_new(s, st))) goto nomem;
        }
        if (gleam__grow(p, st, root, s->out)) goto nomem;
    }
    /* Producers of each exchange: every node of a wide step that is not a stage's root. */
    for (i = 0; i < p->nstages; i++) {
        gleam__stage *st = p->stages[i];
        for (j = 1; j < st->nnodes; j++) {
            gleam__node *n = st->nodes[j];
            if (gleam__step_class(n->step->kind) == GLEAM__WIDE)
                p->xchgs[n->step->id]->producers[n->side] += st->nshards;
        }
    }
    for (i = 1; i <= f->nsteps; i++) {
        gleam__xchg *x = p->xchgs[i];
        if (x) {
            x->open[0] = x->producers[0];
            x->open[1] = x->producers[1];
        }
    }
    *out = p;
    return GLEAM_OK;
nomem:
    gleam__plan_free(p);
    gleam__flow_fail(f, GLEAM_ERR_NOMEM, "planning: out of memory");
    return GLEAM_ERR_NOMEM;
}

static void gleam__plan_free(gleam__plan *p) {
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
    if (p->xchgs)
        for (i = 0; i <= p->nsteps; i++) gleam__xchg_free(p->xchgs[i]);
    if (p->sinks)
        for (i = 0; i <= p->nsteps; i++) gleam__sink_free(p->sinks[i]);
    gleam__free_sources(p);
    gleam__free(p->stages);
    gleam__free(p->xchgs);
    gleam__free(p->sinks);
    gleam__free(p);
}

/* >>explain --------------------------------------------------------------------------- */

static void gleam__print_fields(FILE *out, const gleam_fields *k) {
    int i;
    for (i = 0; i < k->n; i++) fprintf(out, "%s%d", i ? "," : "", k->f[i]);
}

static void gleam__print_order(FILE *out, const gleam_order *o) {
    int i;
    for (i = 0; i < o->n; i++)
        fprintf(out, "%s%d %s", i ? ", " : "", o->by[i].field, o->by[i].dir == GLEAM_DESC ? "desc" : "asc");
}

static const gleam__stage *gleam__consumer_stage(const gleam__plan *p, const gleam__step *s) {
    return p->xchgs[s->id] ? p->xchgs[s->id]->stage : NULL;
}

/* " text", in double quotes, with tabs, newlines, quotes and backslashes escaped. */
static void gleam__print_quoted(FILE *out, const char *text) {
    const char *c;
    fprintf(out, " \"");
    for (c = text; *c; c++)
        if (*c == '\t') fprintf(out, "\\t");
        else if (*c == '\n') fprintf(out, "\\n");
        else if (*c == '"' || *c == '\\') fprintf(out, "\\%c", *c);
        else fputc(*c, out);
    fputc('"', out);
}

/* What a node does, in a few words. */
static void gleam__print_node(FILE *out, const gleam__plan *p, const gleam__node *n, int is_root) {
    const gleam__step *s = n->step;
    const char *name = gleam__step_kind_name(s->kind);
    int cls = gleam__step_class(s->kind);
    fprintf(out, "%s", name);
    if (s->fn_name) fprintf(out, "(%s)", s->fn_name);
    switch (s->kind) {
    case GLEAM__READ:
        fprintf(out, " %s", s->format == GLEAM_FORMAT_CSV ? "csv" : s->format == GLEAM_FORMAT_TSV ? "tsv" : "text");
        if (s->npaths == 1) fprintf(out, " \"%s\"", s->paths[0]);
        else fprintf(out, " %d paths", s->npaths);
        break;
    case GLEAM__VALUES: fprintf(out, " %zu rows", s->nrows); break;
    case GLEAM__SELECT: fprintf(out, " "); gleam__print_fields(out, &s->key); break;
    case GLEAM__LOCAL_SORT: case GLEAM__SORT: fprintf(out, " by "); gleam__print_order(out, &s->order); break;
    case GLEAM__LOCAL_TOP: case GLEAM__TOP:
        fprintf(out, " %lld by ", (long long)s->k);
        gleam__print_order(out, &s->order);
        break;
    case GLEAM__LIMIT: fprintf(out, " %lld", (long long)s->k); break;
    case GLEAM__PRINTF:
        gleam__print_quoted(out, s->format_text);
        fprintf(out, "%s%s", s->path ? " to " : "", s->path ? s->path : "");
        break;
    case GLEAM__PIPE: case GLEAM__PIPE_ARGS: gleam__print_quoted(out, s->command); break;
    case GLEAM__WRITE_TSV: case GLEAM__WRITE_CSV: fprintf(out, " to %s", s->path ? s->path : "stdout"); break;
    default: break;
    }
    if (s->kind == GLEAM__JOIN)
        fprintf(out, " %s", s->join == GLEAM_LEFT_OUTER ? "left outer" : s->join == GLEAM_RIGHT_OUTER ? "right outer" : "inner");
    if (cls == GLEAM__WIDE && s->kind != GLEAM__SORT && s->kind != GLEAM__TOP && s->kind != GLEAM__LIMIT &&
        s->kind != GLEAM__REDUCE && !s->whole_row) {
        fprintf(out, " key ");
        gleam__print_fields(out, &s->key);
    }
    if (cls == GLEAM__WIDE && !is_root) {
        const gleam__stage *to = gleam__consumer_stage(p, s);
        const char *how;
        switch (s->kind) {
        case GLEAM__REDUCE_BY: how = "combine, then hash-partition"; break;
        case GLEAM__REDUCE: how = "fold locally, then gather"; break;
        case GLEAM__DISTINCT: how = "drop local repeats, then hash-partition"; break;
        case GLEAM__SORT: how = "sort a run per shard, then range-partition"; break;
        case GLEAM__TOP: how = "local top, then gather"; break;
        case GLEAM__LIMIT: how = "local limit, then gather"; break;
        default: how = "hash-partition"; break;
        }
        if (s->nin == 2) fprintf(out, " [%s side]", n->side == 0 ? "left" : "right");
        fprintf(out, " {%s into group %d}", how, to ? to->id : 0);
    } else if (cls == GLEAM__WIDE) {
        const char *how;
        switch (s->kind) {
        case GLEAM__REDUCE_BY: case GLEAM__REDUCE: how = "merge partial folds"; break;
        case GLEAM__GROUP_BY: case GLEAM__COGROUP: how = "gather groups"; break;
        case GLEAM__SORT: how = "merge the runs' key range"; break;
        case GLEAM__TOP: how = "merge local tops"; break;
        case GLEAM__JOIN: how = "hash join: build right, probe left"; break;
        case GLEAM__DISTINCT: how = "drop repeats"; break;
        case GLEAM__LIMIT: how = p->xchgs[s->id]->ordered ? "first rows in shard order" : "first rows"; break;
        default: how = "pass rows on"; break;
        }
        fprintf(out, " {%s}", how);
    }
}

static void gleam__print_tree(FILE *out, const gleam__plan *p, const gleam__node *n, int indent) {
    int i;
    for (;;) {
        if (n->nkids == 0) {
            fputc('\n', out);
            return;
        }
        if (n->nkids > 1) break;
        n = n->kids[0];
        fprintf(out, " -> ");
        gleam__print_node(out, p, n, 0);
    }
    fputc('\n', out);
    for (i = 0; i < n->nkids; i++) {
        fprintf(out, "%*s-> ", indent + 4, "");
        gleam__print_node(out, p, n->kids[i], 0);
        gleam__print_tree(out, p, n->kids[i], indent + 4);
    }
}

static void gleam__plan_print(const gleam__plan *p, const gleam_options *opt, FILE *out) {
    int i;
    fprintf(out, "plan of flow \"%s\": %d task group%s, %d thread%s\n", p->flow->name, p->nstages,
            p->nstages == 1 ? "" : "s", opt->threads, opt->threads == 1 ? "" : "s");
    for (i = 0; i < p->nstages; i++) {
        const gleam__stage *st = p->stages[i];
        fprintf(out, "group %d, %d shard%s: ", st->id, st->nshards, st->nshards == 1 ? "" : "s");
        gleam__print_node(out, p, st->nodes[0], 1);
        gleam__print_tree(out, p, st->nodes[0], 0);
    }
}

/* >>dot: the plan as a Graphviz graph ----------------------------------------------------- */

/* Write text as the inside of a DOT string. */
static void gleam__dot_text(FILE *out, const char *text, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        char c = text[i];
        if (c == '"' || c == '\\') fputc('\\', out);
        if (c == '\n') fputs("\\n", out);
        else fputc(c, out);
    }
}

/* A node's label: what -gleam.explain says of it. */
static void gleam__dot_label(FILE *out, const gleam__plan *p, const gleam__node *n, int is_root) {
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        fputs(gleam__step_kind_name(n->step->kind), out);
        return;
    }
    fprintf(mem, "%d: ", n->step->id);
    gleam__print_node(mem, p, n, is_root);
    fclose(mem);
    gleam__dot_text(out, text, len);
    free(text); /* open_memstream's buffer comes from malloc, whatever GLEAM_MALLOC is */
}

/* Task groups are clusters of their fused steps; a wide step is an edge from the step
   feeding it to the group that consumes it. */
static void gleam__plan_dot(const gleam__plan *p, const gleam_options *opt, FILE *out) {
    int i, k;
    fputs("digraph \"", out);
    gleam__dot_text(out, p->flow->name, strlen(p->flow->name));
    fprintf(out, "\" {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n"
                 "  edge [fontname=\"Helvetica\", fontsize=9];\n  label=\"%d task group%s, %d thread%s\";\n",
            p->nstages, p->nstages == 1 ? "" : "s", opt->threads, opt->threads == 1 ? "" : "s");
    for (i = 0; i < p->nstages; i++) {
        const gleam__stage *st = p->stages[i];
        fprintf(out, "  subgraph cluster_%d {\n    label=\"group %d, %d shard%s\";\n    style=rounded;\n", st->id, st->id,
                st->nshards, st->nshards == 1 ? "" : "s");
        for (k = 0; k < st->nnodes; k++) {
            const gleam__node *n = st->nodes[k];
            if (k > 0 && gleam__step_class(n->step->kind) == GLEAM__WIDE) continue; /* an edge, below */
            fprintf(out, "    g%d_%d [label=\"", st->id, k);
            gleam__dot_label(out, p, n, k == 0);
            fprintf(out, "\"%s];\n", gleam__step_class(n->step->kind) == GLEAM__OUTPUT ? ", shape=note" : "");
        }
        for (k = 1; k < st->nnodes; k++) {
            const gleam__node *n = st->nodes[k];
            if (gleam__step_class(n->step->kind) != GLEAM__WIDE)
                fprintf(out, "    g%d_%d -> g%d_%d;\n", st->id, n->parent->index, st->id, k);
        }
        fputs("  }\n", out);
    }
    for (i = 0; i < p->nstages; i++) { /* wide steps: between groups */
        const gleam__stage *st = p->stages[i];
        for (k = 1; k < st->nnodes; k++) {
            const gleam__node *n = st->nodes[k];
            const gleam__stage *to;
            if (gleam__step_class(n->step->kind) != GLEAM__WIDE || !(to = gleam__consumer_stage(p, n->step))) continue;
            fprintf(out, "  g%d_%d -> g%d_0 [style=bold, label=\"", st->id, n->parent->index, to->id);
            gleam__dot_label(out, p, n, 0);
            fputs("\"];\n", out);
        }
    }
    fputs("}\n", out);
}
