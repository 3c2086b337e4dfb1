/* flow.c: building a flow. Building only records steps; nothing runs until gleam_run.
   A builder call that fails records the first error in the flow (gleam_run returns it)
   and still returns a dataset, so a chain of calls never has to be checked link by link. */
#include "plan/plan.h"

GLEAM__PRIV void gleam__flow_fail(gleam_flow *f, gleam_result r, const char *fmt, ...) {
    va_list ap;
    if (!f || f->err != GLEAM_OK) return;
    f->err = r;
    va_start(ap, fmt);
    gleam__vfmt(f->errmsg, sizeof f->errmsg, fmt, ap);
    va_end(ap);
}

GLEAM_API gleam_flow *gleam_flow_new(const char *name) {
    gleam_flow *f = (gleam_flow *)gleam__calloc(1, sizeof *f);
    if (!f) return NULL;
    f->name = gleam__strdup(name ? name : "flow");
    if (!f->name) {
        gleam__free(f);
        return NULL;
    }
    return f;
}

static void gleam__rows_free(gleam_rows *r) {
    if (!r) return;
    gleam__buf_free(&r->data);
    gleam__free(r->vals);
    gleam__free(r->start);
    gleam__free(r);
}

GLEAM_API void gleam_flow_free(gleam_flow *f) {
    int i;
    if (!f) return;
    for (i = 0; i < f->nsteps; i++) {
        gleam__fstep *s = f->steps[i];
        gleam__step_clear(&s->s);
        gleam__buf_free(&s->values);
        gleam__rows_free(s->rows);
        gleam__free(s);
    }
    gleam__free(f->stats);
    for (i = 0; i < f->nds; i++) gleam__free(f->ds[i]);
    gleam__free(f->steps);
    gleam__free(f->ds);
    gleam__free(f->name);
    gleam__free(f);
}

/* A new step with inputs a (and b), and its output dataset unless it is an output. */
static gleam__fstep *gleam__add_step(gleam_flow *f, int kind, gleam_dataset *a, gleam_dataset *b) {
    gleam__fstep *s;
    if (!f) return NULL;
    if (f->nsteps == f->capsteps) {
        int cap = f->capsteps ? f->capsteps * 2 : 16;
        gleam__fstep **p = (gleam__fstep **)gleam__realloc(f->steps, (size_t)cap * sizeof *p);
        if (!p) goto nomem;
        f->steps = p;
        f->capsteps = cap;
    }
    if (f->nds == f->capds) {
        int cap = f->capds ? f->capds * 2 : 16;
        gleam_dataset **p = (gleam_dataset **)gleam__realloc(f->ds, (size_t)cap * sizeof *p);
        if (!p) goto nomem;
        f->ds = p;
        f->capds = cap;
    }
    s = (gleam__fstep *)gleam__calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->flow = f;
    s->s.id = f->nsteps + 1;
    s->s.kind = kind;
    s->in[0] = a;
    s->in[1] = b;
    s->s.in[0] = a ? a->from->s.id : 0;
    s->s.in[1] = b ? b->from->s.id : 0;
    s->s.nin = b ? 2 : a ? 1 : 0;
    if (gleam__step_class(kind) != GLEAM__OUTPUT) {
        gleam_dataset *d = (gleam_dataset *)gleam__calloc(1, sizeof *d);
        if (!d) {
            gleam__free(s);
            goto nomem;
        }
        d->flow = f;
        d->id = f->nds + 1;
        d->from = s;
        s->out = d;
        f->ds[f->nds++] = d;
    }
    f->steps[f->nsteps++] = s;
    return s;
nomem:
    gleam__flow_fail(f, GLEAM_ERR_NOMEM, "building the flow: out of memory");
    return NULL;
}

/* A step on dataset d (and e): checks that they belong to one flow. */
static gleam__fstep *gleam__on(int kind, gleam_dataset *d, gleam_dataset *e) {
    if (!d) return NULL;
    if ((kind == GLEAM__UNION || kind == GLEAM__JOIN || kind == GLEAM__COGROUP) && !e) {
        gleam__flow_fail(d->flow, GLEAM_ERR_ARG, "%s: the second dataset is NULL", gleam__step_kind_name(kind));
        return NULL;
    }
    if (e && e->flow != d->flow) {
        gleam__flow_fail(d->flow, GLEAM_ERR_ARG, "%s: the two datasets belong to different flows",
                         gleam__step_kind_name(kind));
        return NULL;
    }
    return gleam__add_step(d->flow, kind, d, e);
}

static gleam_dataset *gleam__out(gleam__fstep *s) { return s ? s->out : NULL; }

static gleam__fstep *gleam__with_fn(gleam__fstep *s, const char *fn) {
    if (!s) return NULL;
    if (!fn || !*fn) {
        gleam__flow_fail(s->flow, GLEAM_ERR_ARG, "step %d %s: no %s given", s->s.id, gleam__step_kind_name(s->s.kind),
                         s->s.kind == GLEAM__PIPE || s->s.kind == GLEAM__PIPE_ARGS ? "name" : "function name");
        return s;
    }
    if (!(s->s.fn_name = gleam__strdup(fn))) gleam__flow_fail(s->flow, GLEAM_ERR_NOMEM, "building the flow: out of memory");
    return s;
}

static gleam_fields gleam__key_or_default(gleam_fields k) {
    if (k.n == 0) {
        k.n = 1;
        k.f[0] = 1;
    }
    return k;
}

/* >>fields and orders ------------------------------------------------------------------- */

GLEAM_API gleam_fields gleam_field_list(int first, ...) {
    gleam_fields fl;
    va_list ap;
    int x = first;
    memset(&fl, 0, sizeof fl);
    va_start(ap, first);
    while (x != 0) {
        if (fl.n == GLEAM_MAX_FIELDS) { /* too many: an impossible field makes planning fail */
            fl.f[GLEAM_MAX_FIELDS - 1] = -1;
            break;
        }
        fl.f[fl.n++] = x;
        x = va_arg(ap, int);
    }
    va_end(ap);
    return fl;
}

GLEAM_API gleam_order gleam_order_by(int field, gleam_dir dir) {
    gleam_order o;
    memset(&o, 0, sizeof o);
    return gleam_then_by(o, field, dir);
}

GLEAM_API gleam_order gleam_then_by(gleam_order o, int field, gleam_dir dir) {
    if (o.n < GLEAM_MAX_FIELDS) {
        o.by[o.n].field = field;
        o.by[o.n].dir = dir;
        o.n++;
    } else {
        o.by[GLEAM_MAX_FIELDS - 1].field = -1;
    }
    return o;
}

/* >>sources ------------------------------------------------------------------------------ */

static gleam_source_desc gleam__desc(const char *path, int shards, gleam_format format) {
    gleam_source_desc d;
    memset(&d, 0, sizeof d);
    d.path = path;
    d.shards = shards;
    d.format = format;
    return d;
}

GLEAM_API gleam_source_desc gleam_txt(const char *path, int shards) { return gleam__desc(path, shards, GLEAM_FORMAT_TEXT); }
GLEAM_API gleam_source_desc gleam_csv(const char *path, int shards) { return gleam__desc(path, shards, GLEAM_FORMAT_CSV); }
GLEAM_API gleam_source_desc gleam_tsv(const char *path, int shards) { return gleam__desc(path, shards, GLEAM_FORMAT_TSV); }

static int gleam__check_shards(gleam_flow *f, const char *what, int shards) {
    if (shards < 0 || shards > 1 << 16) {
        gleam__flow_fail(f, GLEAM_ERR_ARG, "%s: %d shards is out of range (0 to 65536)", what, shards);
        return -1;
    }
    return 0;
}

GLEAM_API gleam_dataset *gleam_read(gleam_flow *f, gleam_source_desc src) {
    gleam__fstep *s;
    int i, n = (src.path ? 1 : 0) + (src.npaths > 0 ? src.npaths : 0);
    if (!f) return NULL;
    if (gleam__check_shards(f, "read", src.shards)) return NULL;
    if (n == 0) {
        gleam__flow_fail(f, GLEAM_ERR_ARG, "read: no file given");
        return NULL;
    }
    if (src.npaths > 0 && !src.paths) {
        gleam__flow_fail(f, GLEAM_ERR_ARG, "read: %d paths given but the array is NULL", src.npaths);
        return NULL;
    }
    if (src.format > GLEAM_FORMAT_TSV) {
        gleam__flow_fail(f, GLEAM_ERR_ARG, "read: unknown format %d", (int)src.format);
        return NULL;
    }
    if (src.delimiter && !gleam__delim_ok(src.delimiter)) {
        gleam__flow_fail(f, GLEAM_ERR_ARG, "read: the delimiter cannot be a double quote, a newline or a carriage return");
        return NULL;
    }
    if (!(s = gleam__add_step(f, GLEAM__READ, NULL, NULL))) return NULL;
    s->s.format = src.format == GLEAM_FORMAT_DEFAULT ? GLEAM_FORMAT_TEXT : src.format;
    s->s.header = src.header;
    s->s.delim = src.delimiter ? src.delimiter : s->s.format == GLEAM_FORMAT_TSV ? '\t' : ',';
    s->s.shards = src.shards;
    s->s.paths = (char **)gleam__calloc((size_t)n, sizeof *s->s.paths);
    if (!s->s.paths) goto nomem;
    if (src.path && !(s->s.paths[s->s.npaths++] = gleam__strdup(src.path))) goto nomem;
    for (i = 0; i < src.npaths; i++) {
        if (!src.paths[i]) {
            gleam__flow_fail(f, GLEAM_ERR_ARG, "read: path %d is NULL", i + 1);
            return s->out;
        }
        if (!(s->s.paths[s->s.npaths++] = gleam__strdup(src.paths[i]))) goto nomem;
    }
    return s->out;
nomem:
    gleam__flow_fail(f, GLEAM_ERR_NOMEM, "read: out of memory");
    return s->out;
}

GLEAM_API gleam_dataset *gleam_from_values(gleam_flow *f, const gleam_value *values, size_t rows,
                                           int cols, int shards) {
    gleam__fstep *s;
    size_t i;
    if (!f) return NULL;
    if (gleam__check_shards(f, "from_values", shards)) return NULL;
    if (cols < 0 || (rows && (cols == 0 || !values))) {
        gleam__flow_fail(f, GLEAM_ERR_ARG, "from_values: %d columns for %zu rows", cols, rows);
        return NULL;
    }
    for (i = 0; i < rows * (size_t)cols; i++)
        if (values[i].type > GLEAM_LIST) {
            gleam__flow_fail(f, GLEAM_ERR_VALUE, "from_values: value %zu of row %zu has no type (%d)", i % (size_t)cols + 1,
                             i / (size_t)cols + 1, (int)values[i].type);
            return NULL;
        }
    if (!(s = gleam__add_step(f, GLEAM__VALUES, NULL, NULL))) return NULL;
    s->s.shards = shards;
    for (i = 0; i < rows; i++)
        if (gleam__pack_row(&s->values, values + i * (size_t)cols, cols)) {
            gleam__flow_fail(f, GLEAM_ERR_NOMEM, "from_values: out of memory");
            break;
        }
    s->s.nrows = rows;
    s->s.values = s->values.p;
    s->s.values_len = s->values.len;
    return s->out;
}

GLEAM_API gleam_dataset *gleam_from_strings(gleam_flow *f, const char *const *strs, size_t n,
                                            int shards) {
    gleam__fstep *s;
    size_t i;
    if (!f) return NULL;
    if (gleam__check_shards(f, "from_strings", shards)) return NULL;
    if (n && !strs) {
        gleam__flow_fail(f, GLEAM_ERR_ARG, "from_strings: %zu strings given but the array is NULL", n);
        return NULL;
    }
    if (!(s = gleam__add_step(f, GLEAM__VALUES, NULL, NULL))) return NULL;
    s->s.shards = shards;
    for (i = 0; i < n; i++) {
        gleam_value v = gleam_str(strs[i]); /* a NULL string is empty */
        if (gleam__pack_row(&s->values, &v, 1)) {
            gleam__flow_fail(f, GLEAM_ERR_NOMEM, "from_strings: out of memory");
            break;
        }
    }
    s->s.nrows = n;
    s->s.values = s->values.p;
    s->s.values_len = s->values.len;
    return s->out;
}

GLEAM_API gleam_dataset *gleam_generate(gleam_flow *f, const char *source_fn, int shards) {
    gleam__fstep *s;
    if (!f) return NULL;
    if (gleam__check_shards(f, "generate", shards)) return NULL;
    s = gleam__with_fn(gleam__add_step(f, GLEAM__GENERATE, NULL, NULL), source_fn);
    if (!s) return NULL;
    s->s.shards = shards;
    return s->out;
}

/* >>steps -------------------------------------------------------------------------------- */

GLEAM_API gleam_dataset *gleam_map(gleam_dataset *d, const char *mapper) {
    return gleam__out(gleam__with_fn(gleam__on(GLEAM__MAP, d, NULL), mapper));
}

/* A pipe step: `name` labels it, `command` runs under sh -c. */
static gleam_dataset *gleam__pipe_step(int kind, gleam_dataset *d, const char *name, const char *command) {
    gleam__fstep *s = gleam__with_fn(gleam__on(kind, d, NULL), name);
    if (!s) return NULL;
    if (!command || !*command) gleam__flow_fail(d->flow, GLEAM_ERR_ARG, "step %d %s: no command given", s->s.id, gleam__step_kind_name(kind));
    else if (!(s->s.command = gleam__strdup(command))) gleam__flow_fail(d->flow, GLEAM_ERR_NOMEM, "building the flow: out of memory");
    return s->out;
}
GLEAM_API gleam_dataset *gleam_pipe(gleam_dataset *d, const char *name, const char *command) {
    return gleam__pipe_step(GLEAM__PIPE, d, name, command);
}
GLEAM_API gleam_dataset *gleam_pipe_as_args(gleam_dataset *d, const char *name, const char *command) {
    return gleam__pipe_step(GLEAM__PIPE_ARGS, d, name, command);
}

GLEAM_API gleam_dataset *gleam_select(gleam_dataset *d, gleam_fields fields) {
    gleam__fstep *s = gleam__on(GLEAM__SELECT, d, NULL);
    if (!s) return NULL;
    if (fields.n == 0) gleam__flow_fail(d->flow, GLEAM_ERR_ARG, "step %d select: no fields given", s->s.id);
    s->s.key = fields;
    return s->out;
}

static gleam_dataset *gleam__ordered_step(int kind, gleam_dataset *d, int64_t k, gleam_order order) {
    gleam__fstep *s = gleam__on(kind, d, NULL);
    if (!s) return NULL;
    if (order.n == 0)
        gleam__flow_fail(d->flow, GLEAM_ERR_ARG, "step %d %s: no order given", s->s.id, gleam__step_kind_name(kind));
    if (k < 0)
        gleam__flow_fail(d->flow, GLEAM_ERR_ARG, "step %d %s: negative count %lld", s->s.id,
                         gleam__step_kind_name(kind), (long long)k);
    s->s.order = order;
    s->s.k = k;
    return s->out;
}

GLEAM_API gleam_dataset *gleam_local_sort(gleam_dataset *d, gleam_order order) {
    return gleam__ordered_step(GLEAM__LOCAL_SORT, d, 0, order);
}
GLEAM_API gleam_dataset *gleam_local_top(gleam_dataset *d, int64_t k, gleam_order order) {
    return gleam__ordered_step(GLEAM__LOCAL_TOP, d, k, order);
}
GLEAM_API gleam_dataset *gleam_sort(gleam_dataset *d, gleam_order order) {
    return gleam__ordered_step(GLEAM__SORT, d, 0, order);
}
GLEAM_API gleam_dataset *gleam_top(gleam_dataset *d, int64_t k, gleam_order order) {
    return gleam__ordered_step(GLEAM__TOP, d, k, order);
}

GLEAM_API gleam_dataset *gleam_union(gleam_dataset *a, gleam_dataset *b) {
    return gleam__out(gleam__on(GLEAM__UNION, a, b));
}

GLEAM_API gleam_dataset *gleam_reduce_by(gleam_dataset *d, const char *reducer, gleam_fields key) {
    gleam__fstep *s = gleam__with_fn(gleam__on(GLEAM__REDUCE_BY, d, NULL), reducer);
    if (!s) return NULL;
    s->s.key = gleam__key_or_default(key);
    return s->out;
}
GLEAM_API gleam_dataset *gleam_reduce_by_key(gleam_dataset *d, const char *reducer) {
    gleam_fields none;
    memset(&none, 0, sizeof none);
    return gleam_reduce_by(d, reducer, none);
}
GLEAM_API gleam_dataset *gleam_reduce(gleam_dataset *d, const char *reducer) {
    return gleam__out(gleam__with_fn(gleam__on(GLEAM__REDUCE, d, NULL), reducer));
}

static gleam_dataset *gleam__keyed(int kind, gleam_dataset *a, gleam_dataset *b, gleam_fields key) {
    gleam__fstep *s = gleam__on(kind, a, b);
    if (!s) return NULL;
    s->s.key = gleam__key_or_default(key);
    return s->out;
}

GLEAM_API gleam_dataset *gleam_group_by(gleam_dataset *d, gleam_fields key) {
    return gleam__keyed(GLEAM__GROUP_BY, d, NULL, key);
}
GLEAM_API gleam_dataset *gleam_group_by_key(gleam_dataset *d) {
    gleam_fields none;
    memset(&none, 0, sizeof none);
    return gleam__keyed(GLEAM__GROUP_BY, d, NULL, none);
}
GLEAM_API gleam_dataset *gleam_distinct_by(gleam_dataset *d, gleam_fields key) {
    return gleam__keyed(GLEAM__DISTINCT, d, NULL, key);
}
GLEAM_API gleam_dataset *gleam_distinct(gleam_dataset *d) {
    gleam_fields none;
    gleam_dataset *out;
    memset(&none, 0, sizeof none);
    out = gleam__keyed(GLEAM__DISTINCT, d, NULL, none);
    if (out) out->from->s.whole_row = 1;
    return out;
}

GLEAM_API gleam_dataset *gleam_limit(gleam_dataset *d, int64_t n) {
    gleam__fstep *s = gleam__on(GLEAM__LIMIT, d, NULL);
    if (!s) return NULL;
    if (n < 0) gleam__flow_fail(d->flow, GLEAM_ERR_ARG, "step %d limit: negative count %lld", s->s.id, (long long)n);
    s->s.k = n;
    return s->out;
}

GLEAM_API gleam_dataset *gleam_partition_by(gleam_dataset *d, int shards, gleam_fields key) {
    gleam__fstep *s;
    if (d && (shards < 1 || shards > 1 << 16)) {
        gleam__flow_fail(d->flow, GLEAM_ERR_ARG, "partition: %d shards is out of range (1 to 65536)", shards);
        return NULL;
    }
    s = gleam__on(GLEAM__PARTITION, d, NULL);
    if (!s) return NULL;
    s->s.key = gleam__key_or_default(key);
    s->s.shards = shards;
    return s->out;
}
GLEAM_API gleam_dataset *gleam_partition(gleam_dataset *d, int shards) {
    gleam_fields none;
    memset(&none, 0, sizeof none);
    return gleam_partition_by(d, shards, none);
}

GLEAM_API gleam_dataset *gleam_join_by(gleam_dataset *a, gleam_dataset *b, gleam_join_kind kind,
                                       gleam_fields key) {
    gleam_dataset *out;
    if (a && (kind < GLEAM_INNER || kind > GLEAM_RIGHT_OUTER)) {
        gleam__flow_fail(a->flow, GLEAM_ERR_ARG, "join: unknown join kind %d", (int)kind);
        return NULL;
    }
    out = gleam__keyed(GLEAM__JOIN, a, b, key);
    if (out) out->from->s.join = kind;
    return out;
}
GLEAM_API gleam_dataset *gleam_join(gleam_dataset *a, gleam_dataset *b) {
    gleam_fields none;
    memset(&none, 0, sizeof none);
    return gleam_join_by(a, b, GLEAM_INNER, none);
}
GLEAM_API gleam_dataset *gleam_left_outer_join(gleam_dataset *a, gleam_dataset *b) {
    gleam_fields none;
    memset(&none, 0, sizeof none);
    return gleam_join_by(a, b, GLEAM_LEFT_OUTER, none);
}
GLEAM_API gleam_dataset *gleam_right_outer_join(gleam_dataset *a, gleam_dataset *b) {
    gleam_fields none;
    memset(&none, 0, sizeof none);
    return gleam_join_by(a, b, GLEAM_RIGHT_OUTER, none);
}
GLEAM_API gleam_dataset *gleam_cogroup_by(gleam_dataset *a, gleam_dataset *b, gleam_fields key) {
    return gleam__keyed(GLEAM__COGROUP, a, b, key);
}
GLEAM_API gleam_dataset *gleam_cogroup(gleam_dataset *a, gleam_dataset *b) {
    gleam_fields none;
    memset(&none, 0, sizeof none);
    return gleam__keyed(GLEAM__COGROUP, a, b, none);
}

GLEAM_API gleam_dataset *gleam_set_ctx(gleam_dataset *d, void *ctx) {
    if (d) d->from->user = ctx;
    return d;
}

/* >>outputs ------------------------------------------------------------------------------ */

static gleam__fstep *gleam__output(int kind, gleam_dataset *d, const char *path) {
    gleam__fstep *s = gleam__on(kind, d, NULL);
    if (!s) return NULL;
    if (path && strcmp(path, "-") && !(s->s.path = gleam__strdup(path)))
        gleam__flow_fail(d->flow, GLEAM_ERR_NOMEM, "out of memory");
    return s;
}

GLEAM_API void gleam_fprintlnf(gleam_dataset *d, const char *path, const char *format) {
    gleam__fstep *s = gleam__output(GLEAM__PRINTF, d, path);
    if (!s) return;
    if (!format) {
        gleam__flow_fail(d->flow, GLEAM_ERR_ARG, "step %d printlnf: no format given", s->s.id);
        return;
    }
    if (!(s->s.format_text = gleam__strdup(format))) {
        gleam__flow_fail(d->flow, GLEAM_ERR_NOMEM, "out of memory");
        return;
    }
    {
        gleam__fmt *fmt = NULL;
        char err[256];
        int n;
        if (gleam__parse_format(format, &fmt, &n, err, sizeof err) != GLEAM_OK)
            gleam__flow_fail(d->flow, GLEAM_ERR_ARG, "step %d printlnf: %s", s->s.id, err);
        gleam__free(fmt);
    }
}
GLEAM_API void gleam_printlnf(gleam_dataset *d, const char *format) { gleam_fprintlnf(d, NULL, format); }
GLEAM_API void gleam_write_tsv(gleam_dataset *d, const char *path) { gleam__output(GLEAM__WRITE_TSV, d, path); }
GLEAM_API void gleam_write_csv(gleam_dataset *d, const char *path) { gleam__output(GLEAM__WRITE_CSV, d, path); }
GLEAM_API void gleam_output_row(gleam_dataset *d, const char *output_fn) {
    gleam__with_fn(gleam__output(GLEAM__OUTPUT_ROW, d, NULL), output_fn);
}

GLEAM_API gleam_rows *gleam_collect(gleam_dataset *d) {
    gleam__fstep *s = gleam__output(GLEAM__COLLECT, d, NULL);
    if (!s) return NULL;
    s->rows = (gleam_rows *)gleam__calloc(1, sizeof *s->rows);
    if (!s->rows) gleam__flow_fail(d->flow, GLEAM_ERR_NOMEM, "collect: out of memory");
    return s->rows;
}

GLEAM_API size_t gleam_rows_count(const gleam_rows *r) { return r && r->vals ? r->count : 0; }

GLEAM_API const gleam_value *gleam_rows_get(const gleam_rows *r, size_t i, int *n) {
    if (!r || !r->vals || i >= r->count) {
        if (n) *n = 0;
        return NULL;
    }
    if (n) *n = (int)(r->start[i + 1] - r->start[i]);
    return r->vals + r->start[i];
}

/* Decode the collected rows once the run is over; -1 when out of memory. */
GLEAM__PRIV int gleam__rows_index(gleam_rows *r) {
    const char *p = r->data.p, *end = r->data.p ? r->data.p + r->data.len : NULL; /* no rows: no buffer */
    size_t nvals = 0, i;
    gleam__vals tmp = {0, 0, 0};
    r->count = 0;
    while (p < end && gleam__unpack_row(&p, end, &tmp) == GLEAM_OK) {
        nvals += (size_t)tmp.n;
        r->count++;
    }
    r->vals = (gleam_value *)gleam__calloc(nvals ? nvals : 1, sizeof *r->vals);
    r->start = (size_t *)gleam__calloc(r->count + 1, sizeof *r->start);
    if (!r->vals || !r->start) {
        gleam__vals_free(&tmp);
        return -1;
    }
    p = r->data.p;
    nvals = 0;
    for (i = 0; i < r->count; i++) {
        r->start[i] = nvals;
        if (gleam__unpack_row(&p, end, &tmp) != GLEAM_OK) break;
        if (tmp.n) memcpy(r->vals + nvals, tmp.v, (size_t)tmp.n * sizeof *tmp.v);
        nvals += (size_t)tmp.n;
    }
    r->start[r->count] = nvals;
    gleam__vals_free(&tmp);
    return 0;
}

GLEAM__PRIV int gleam__ds_shards(const gleam_dataset *d, int dflt) {
    const gleam__fstep *s = d->from;
    switch (s->s.kind) {
    case GLEAM__READ:
    case GLEAM__VALUES:
    case GLEAM__GENERATE: return s->s.shards > 0 ? s->s.shards : dflt;
    case GLEAM__UNION: return gleam__ds_shards(s->in[0], dflt) + gleam__ds_shards(s->in[1], dflt);
    case GLEAM__PARTITION: return s->s.shards;
    case GLEAM__REDUCE:
    case GLEAM__TOP:
    case GLEAM__LIMIT: return 1;
    default: return gleam__ds_shards(s->in[0], dflt);
    }
}

GLEAM_API int gleam_shards(const gleam_dataset *d) {
    return d ? gleam__ds_shards(d, gleam__default_threads()) : 0;
}

GLEAM_API const char *gleam_error(const gleam_flow *f) {
    if (!f) return gleam__init_error();
    return f->errmsg;
}
