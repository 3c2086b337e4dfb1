/* flags.c: gleam_init: the -gleam.* flags taken out of argv into the process's settings. */
#include "run/run.h"

static const char gleam__known_flags[] = "-gleam.threads=N, -gleam.explain, -gleam.memory=MB, -gleam.tmpdir=DIR, "
                                        "-gleam.dot=FILE, -gleam.stats, -gleam.progress, -gleam.quiet, -gleam.roundtrip, "
                                        "-distributed, -gleam.master=HOST:PORT, -gleam.secret-file=FILE";

GLEAM__VARDEF const gleam__net_ops *gleam__net;
static gleam__netflags gleam__nf;

GLEAM__PRIV gleam__netflags *gleam__net_flags(void) { return &gleam__nf; }

/* A true/false flag: no value, or true/false/1/0. */
static gleam_result gleam__flag_bool(const char *name, const char *v, int *out) {
    if (!v || !strcmp(v, "true") || !strcmp(v, "1")) *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0")) *out = 0;
    else {
        gleam__fmt_into(gleam__init_error(), GLEAM__ERRMAX, "flag -gleam.%s: \"%s\" is not true or false", name, v);
        return GLEAM_ERR_FLAG;
    }
    return GLEAM_OK;
}

static gleam_result gleam__flag_int(const char *name, const char *v, long lo, long hi, long *out) {
    char *end;
    long x;
    errno = 0;
    x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        gleam__fmt_into(gleam__init_error(), GLEAM__ERRMAX, "flag -gleam.%s: \"%s\" is not a number from %ld to %ld",
                        name, v, lo, hi);
        return GLEAM_ERR_FLAG;
    }
    *out = x;
    return GLEAM_OK;
}

/* Apply one -gleam flag; *used_next when it took the next argument as its value. */
static gleam_result gleam__flag(const char *arg, const char *next, int *used_next) {
    const char *name = arg + (arg[1] == '-' ? 8 : 7), *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const char *v = eq ? eq + 1 : NULL;
    long x;
    gleam_result r;
    *used_next = 0;
#define GLEAM__IS(s) (len == sizeof(s) - 1 && !memcmp(name, s, len))
    if (GLEAM__IS("explain")) return gleam__flag_bool("explain", v, &gleam__settings()->explain);
    if (GLEAM__IS("stats")) return gleam__flag_bool("stats", v, &gleam__settings()->stats);
    if (GLEAM__IS("roundtrip")) return gleam__flag_bool("roundtrip", v, gleam__roundtrip());
    if (GLEAM__IS("progress") || GLEAM__IS("quiet")) {
        int on;
        if ((r = gleam__flag_bool(GLEAM__IS("quiet") ? "quiet" : "progress", v, &on)) != GLEAM_OK) return r;
        if (GLEAM__IS("quiet")) gleam__settings()->progress = on ? -1 : 0; /* quiet=false: the default again */
        else gleam__settings()->progress = on ? 1 : -1;
        return GLEAM_OK;
    }
    if (!GLEAM__IS("threads") && !GLEAM__IS("memory") && !GLEAM__IS("tmpdir") && !GLEAM__IS("dot") && !GLEAM__IS("master") &&
        !GLEAM__IS("secret-file")) {
        gleam__fmt_into(gleam__init_error(), GLEAM__ERRMAX, "unknown flag %.*s; the known flags are %s",
                        (int)(len + (size_t)(name - arg)), arg, gleam__known_flags);
        return GLEAM_ERR_FLAG;
    }
    if (!v) {
        if (!next || !strncmp(next, "-gleam.", 7) || !strncmp(next, "--gleam.", 8)) { /* not a value: a flag */
            gleam__fmt_into(gleam__init_error(), GLEAM__ERRMAX, "flag %s needs a value", arg);
            return GLEAM_ERR_FLAG;
        }
        v = next;
        *used_next = 1;
    }
    if (GLEAM__IS("threads")) {
        if ((r = gleam__flag_int("threads", v, 1, 1024, &x)) != GLEAM_OK) return r;
        gleam__settings()->threads = (int)x;
    } else if (GLEAM__IS("memory")) {
        if ((r = gleam__flag_int("memory", v, 1, 1L << 30, &x)) != GLEAM_OK) return r;
        gleam__settings()->memory_mb = (size_t)x;
    } else if (GLEAM__IS("master") || GLEAM__IS("secret-file")) {
        if (!*v) {
            gleam__fmt_into(gleam__init_error(), GLEAM__ERRMAX, "flag -gleam.%s needs a value", GLEAM__IS("master") ? "master" : "secret-file");
            return GLEAM_ERR_FLAG;
        }
        if (GLEAM__IS("master")) gleam__nf.master = v;
        else gleam__nf.secret_file = v;
    } else if (GLEAM__IS("dot")) {
        if (!*v) {
            gleam__fmt_into(gleam__init_error(), GLEAM__ERRMAX, "flag -gleam.dot needs a file name");
            return GLEAM_ERR_FLAG;
        }
        gleam__settings()->dot = v;
    } else {
        if (!*v) {
            gleam__fmt_into(gleam__init_error(), GLEAM__ERRMAX, "flag -gleam.tmpdir needs a directory");
            return GLEAM_ERR_FLAG;
        }
        gleam__settings()->tmpdir = v;
    }
#undef GLEAM__IS
    return GLEAM_OK;
}

GLEAM_API gleam_result gleam_init(int *argc, char ***argv) {
    int i, out = 1, n;
    char **av;
    gleam__init_error()[0] = 0;
    if (!argc || !argv || !*argv || *argc < 1) return GLEAM_OK;
    n = *argc;
    av = *argv;
    if (!gleam__net_flags()->argv) { /* argv as main got it, for the executors of -distributed */
        gleam__netflags *nf = gleam__net_flags();
        if ((nf->argv = (char **)gleam__calloc((size_t)n + 1, sizeof *nf->argv)) == NULL) return GLEAM_ERR_NOMEM;
        memcpy(nf->argv, av, (size_t)n * sizeof *av);
        nf->argc = n;
    }
    for (i = 1; i < n; i++) {
        const char *a = av[i];
        int used_next = 0;
        gleam_result r;
        if (!strcmp(a, "--")) {
            while (i < n) av[out++] = av[i++];
            break;
        }
        if (!strcmp(a, "-distributed") || !strcmp(a, "--distributed")) {
            if (!gleam__net) {
                gleam__fmt_into(gleam__init_error(), GLEAM__ERRMAX,
                                "%s: this program was built without gleam_net.h, the distributed mode; include it after "
                                "gleam.h in the file that defines GLEAM_IMPLEMENTATION",
                                a);
                return GLEAM_ERR_FLAG;
            }
            gleam__nf.distributed = 1;
            continue;
        }
        if (strncmp(a, "-gleam.", 7) && strncmp(a, "--gleam.", 8)) {
            av[out++] = av[i];
            continue;
        }
        if ((r = gleam__flag(a, i + 1 < n ? av[i + 1] : NULL, &used_next)) != GLEAM_OK) return r;
        i += used_next;
    }
    av[out] = NULL;
    *argc = out;
    return gleam__net ? gleam__net->init(argc, argv) : GLEAM_OK;
}
