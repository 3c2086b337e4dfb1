/* roles.c: one binary, four roles, told apart in gleam_init: `JOB master ...` and
   `JOB agent ...` run those servers and never return to main; a process started by an
   agent (GLEAM_NET_EXEC in its environment) is an executor and goes on into main, whose
   gleam_run then runs its one task; with -distributed, gleam_run drives the cluster.
   Installed before main by a constructor, so that gleam.h needs no reference to it. */
#include "net/net.h"

static const char gleam__master_usage[] = "usage: JOB master [-address HOST:PORT]";
static const char gleam__agent_usage[] =
    "usage: JOB agent -master HOST:PORT [-host ADDRESS] [-port N] [-dir DIR] [-slots N] [-memory MB]";

/* A role's flag: "-name value", "--name value", "-name=value". Its value and how many
   arguments it took (0: not this flag). */
static int gleam__role_flag(char **av, int i, int n, const char *name, const char **value) {
    const char *a = av[i];
    size_t len = strlen(name);
    if (a[0] != '-') return 0;
    a += a[1] == '-' ? 2 : 1;
    if (strncmp(a, name, len)) return 0;
    if (a[len] == '=') {
        *value = a + len + 1;
        return 1;
    }
    if (a[len] || i + 1 >= n) return a[len] ? 0 : -1;
    *value = av[i + 1];
    return 2;
}

static int gleam__role_int(const char *role, const char *name, const char *v, long lo, long hi, long *out) {
    char *end;
    long x;
    errno = 0;
    x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "gleam %s: -%s \"%s\" is not a number from %ld to %ld\n", role, name, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

/* Parse a role's flags into cfg: 0, or 2 (a message printed). */
static int gleam__role_flags(int master, int n, char **av, gleam__netcfg *cfg) {
    const char *role = master ? "master" : "agent", *v = NULL;
    char err[512];
    long x;
    int i, k, have_master = 0;
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->host, sizeof cfg->host, "127.0.0.1");
    cfg->port = master ? GLEAM__NET_MASTER_PORT : GLEAM__NET_AGENT_PORT;
    cfg->slots = (int)GLEAM__MAX(1, sysconf(_SC_NPROCESSORS_ONLN));
    cfg->memory_mb = 1024;
    if (!master) {
        const unsigned char *key;
        if (gleam__secret(&key)) snprintf(cfg->host, sizeof cfg->host, "0.0.0.0"); /* with a secret: every address */
    }
    for (i = 2; i < n; i += k) {
        if (master && (k = gleam__role_flag(av, i, n, "address", &v)) > 0) {
            if (gleam__hostport(v, cfg->host, sizeof cfg->host, &cfg->port, err, sizeof err)) goto bad;
        } else if (!master && (k = gleam__role_flag(av, i, n, "master", &v)) > 0) {
            snprintf(cfg->master, sizeof cfg->master, "127.0.0.1");
            cfg->master_port = GLEAM__NET_MASTER_PORT;
            if (gleam__hostport(v, cfg->master, sizeof cfg->master, &cfg->master_port, err, sizeof err)) goto bad;
            have_master = 1;
        } else if (!master && (k = gleam__role_flag(av, i, n, "host", &v)) > 0) {
            snprintf(cfg->advertise, sizeof cfg->advertise, "%s", v);
        } else if (!master && (k = gleam__role_flag(av, i, n, "port", &v)) > 0) {
            if (gleam__role_int(role, "port", v, 0, 65535, &x)) return 2;
            cfg->port = (int)x;
        } else if (!master && (k = gleam__role_flag(av, i, n, "dir", &v)) > 0) {
            if (!*v || strlen(v) >= sizeof cfg->dir - 200) {
                fprintf(stderr, "gleam agent: -dir needs a directory of at most %d bytes\n", (int)sizeof cfg->dir - 200);
                return 2;
            }
            snprintf(cfg->dir, sizeof cfg->dir, "%s", v);
        } else if (!master && (k = gleam__role_flag(av, i, n, "slots", &v)) > 0) {
            if (gleam__role_int(role, "slots", v, 1, 4096, &x)) return 2;
            cfg->slots = (int)x;
        } else if (!master && (k = gleam__role_flag(av, i, n, "memory", &v)) > 0) {
            if (gleam__role_int(role, "memory", v, 1, 1L << 30, &x)) return 2;
            cfg->memory_mb = x;
        } else if (!master && (k = gleam__role_flag(av, i, n, "listen", &v)) > 0) { /* the address it listens on */
            snprintf(cfg->host, sizeof cfg->host, "%s", v);
        } else {
            fprintf(stderr, "gleam %s: unknown or incomplete flag \"%s\"\n%s\n", role, av[i],
                    master ? gleam__master_usage : gleam__agent_usage);
            return 2;
        }
    }
    if (!master && !have_master) {
        snprintf(cfg->master, sizeof cfg->master, "127.0.0.1");
        cfg->master_port = GLEAM__NET_MASTER_PORT;
    }
    if (!master && !cfg->dir[0]) snprintf(cfg->dir, sizeof cfg->dir, "%s/gleam-agent-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", cfg->port);
    return 0;
bad:
    fprintf(stderr, "gleam %s: %s\n", role, err);
    return 2;
}

static gleam_result gleam__net_init(int *argc, char ***argv) {
    gleam__netflags *nf = gleam__net_flags();
    char **av = *argv, err[512];
    const char *exec_fd = getenv("GLEAM_NET_EXEC");
    gleam__netcfg cfg;
    int r;
    if (nf->secret_file && gleam__secret_file(nf->secret_file, err, sizeof err)) {
        gleam__fmt_into(gleam__init_error(), GLEAM__ERRMAX, "-gleam.secret-file: %s", err);
        return GLEAM_ERR_FLAG;
    }
    if (exec_fd) return gleam__executor_init(exec_fd);
    if (*argc >= 2 && (!strcmp(av[1], "master") || !strcmp(av[1], "agent"))) {
        int master = !strcmp(av[1], "master");
        signal(SIGPIPE, SIG_IGN);
        if ((r = gleam__role_flags(master, *argc, av, &cfg)) == 0) r = master ? gleam__master_main(&cfg) : gleam__agent_main(&cfg);
        exit(r);
    }
    return GLEAM_OK;
}

static gleam_result gleam__net_run(gleam_flow *f, const gleam_options *opt, int *handled) {
    if (gleam__executor_active()) {
        *handled = 1;
        return gleam__executor_run(f, opt);
    }
    if (!gleam__net_flags()->distributed || opt->explain) return GLEAM_OK;
    *handled = 1;
    return gleam__driver_run(f, opt);
}

static const gleam__net_ops gleam__net_table = {gleam__net_init, gleam__net_run};

#if defined(__GNUC__) || defined(__clang__)
__attribute__((constructor))
#endif
static void gleam__net_install(void) {
    gleam__net = &gleam__net_table;
}
