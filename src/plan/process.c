/* process.c: what a process knows before any flow: user functions by name (so that a
   plan names them instead of pointing at them, and another process of the same binary
   finds them again), the settings gleam_init took from argv, and the text of the last
   failure outside a flow. */
#include "plan/plan.h"

static pthread_mutex_t gleam__reg_mu = PTHREAD_MUTEX_INITIALIZER;
static gleam__fn **gleam__reg; /* entries never move: jobs point at them */
static int gleam__nreg, gleam__capreg;

static gleam_options gleam__opts;
static int gleam__roundtrip_on;
static char gleam__init_err[GLEAM__ERRMAX];

GLEAM__PRIV gleam_options *gleam__settings(void) { return &gleam__opts; }
GLEAM__PRIV int *gleam__roundtrip(void) { return &gleam__roundtrip_on; }
GLEAM__PRIV char *gleam__init_error(void) { return gleam__init_err; }

GLEAM__PRIV int gleam__default_threads(void) {
    long n;
    if (gleam__opts.threads > 0) return gleam__opts.threads;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

GLEAM__PRIV const char *gleam__fn_kind_name(int kind) {
    switch (kind) {
    case GLEAM__FN_MAPPER: return "mapper";
    case GLEAM__FN_REDUCER: return "reducer";
    case GLEAM__FN_OUTPUT: return "output";
    case GLEAM__FN_SOURCE: return "source";
    }
    return "function";
}

GLEAM__PRIV const gleam__fn *gleam__lookup(const char *name) {
    const gleam__fn *found = NULL;
    int i;
    pthread_mutex_lock(&gleam__reg_mu);
    for (i = 0; i < gleam__nreg; i++)
        if (!strcmp(gleam__reg[i]->name, name)) found = gleam__reg[i];
    pthread_mutex_unlock(&gleam__reg_mu);
    return found;
}

static gleam_result gleam__register(const char *name, int kind, gleam__fn fn) {
    gleam_result r = GLEAM_OK;
    int i;
    if (!name || !*name) {
        gleam__fmt_into(gleam__init_err, GLEAM__ERRMAX, "register: a %s needs a name",
                        gleam__fn_kind_name(kind));
        return GLEAM_ERR_ARG;
    }
    pthread_mutex_lock(&gleam__reg_mu);
    for (i = 0; i < gleam__nreg; i++) {
        gleam__fn *e = gleam__reg[i];
        if (strcmp(e->name, name)) continue;
        if (e->kind != kind || memcmp(&e->u, &fn.u, sizeof fn.u)) {
            gleam__fmt_into(gleam__init_err, GLEAM__ERRMAX,
                            "register: \"%s\" is already registered as another %s", name,
                            gleam__fn_kind_name(e->kind));
            r = GLEAM_ERR_ARG;
        }
        goto out;
    }
    if (gleam__nreg == gleam__capreg) {
        int cap = gleam__capreg ? gleam__capreg * 2 : 16;
        gleam__fn **p = (gleam__fn **)gleam__realloc(gleam__reg, (size_t)cap * sizeof *p);
        if (!p) { r = GLEAM_ERR_NOMEM; goto out; }
        gleam__reg = p;
        gleam__capreg = cap;
    }
    {
        gleam__fn *e = (gleam__fn *)gleam__malloc(sizeof *e);
        if (!e || !(fn.name = gleam__strdup(name))) {
            gleam__free(e);
            r = GLEAM_ERR_NOMEM;
            goto out;
        }
        fn.kind = kind;
        *e = fn;
        gleam__reg[gleam__nreg++] = e;
    }
out:
    pthread_mutex_unlock(&gleam__reg_mu);
    return r;
}

GLEAM_API gleam_result gleam_register_mapper(const char *name, gleam_row_fn fn) {
    gleam__fn f;
    memset(&f, 0, sizeof f);
    f.u.row = fn;
    return gleam__register(name, GLEAM__FN_MAPPER, f);
}

GLEAM_API gleam_result gleam_register_reducer(const char *name, gleam_reducer_fn fn) {
    gleam__fn f;
    memset(&f, 0, sizeof f);
    f.u.reducer = fn;
    return gleam__register(name, GLEAM__FN_REDUCER, f);
}

GLEAM_API gleam_result gleam_register_output(const char *name, gleam_row_fn fn) {
    gleam__fn f;
    memset(&f, 0, sizeof f);
    f.u.row = fn;
    return gleam__register(name, GLEAM__FN_OUTPUT, f);
}

GLEAM_API gleam_result gleam_register_source(const char *name, gleam_source_fn fn) {
    gleam__fn f;
    memset(&f, 0, sizeof f);
    f.u.source = fn;
    return gleam__register(name, GLEAM__FN_SOURCE, f);
}
