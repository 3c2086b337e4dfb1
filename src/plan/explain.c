/* explain.c: the plan in words (-gleam.explain) and as a Graphviz graph (-gleam.dot): which
   steps run fused in one task group, and how each wide step moves its rows. */
#include "plan/plan.h"

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
        case GLEAM__LIMIT: how = gleam__gathers_in_order(s) ? "first rows in shard order" : "first rows"; break;
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

GLEAM__PRIV void gleam__plan_print(const gleam__plan *p, int threads, FILE *out) {
    int i;
    fprintf(out, "plan of flow \"%s\": %d task group%s, %d thread%s\n", p->name, p->nstages,
            p->nstages == 1 ? "" : "s", threads, threads == 1 ? "" : "s");
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
GLEAM__PRIV void gleam__plan_dot(const gleam__plan *p, int threads, FILE *out) {
    int i, k;
    fputs("digraph \"", out);
    gleam__dot_text(out, p->name, strlen(p->name));
    fprintf(out, "\" {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n"
                 "  edge [fontname=\"Helvetica\", fontsize=9];\n  label=\"%d task group%s, %d thread%s\";\n",
            p->nstages, p->nstages == 1 ? "" : "s", threads, threads == 1 ? "" : "s");
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
