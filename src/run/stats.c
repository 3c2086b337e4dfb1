/* stats.c: what a run did, kept in the flow (gleam_stats) and printed by -gleam.stats. */
#include "run/run.h"

/* Move the run's figures into the flow. */
GLEAM__PRIV void gleam__stats_keep(gleam_flow *f, gleam__job *job) {
    gleam_job_stats *js = &f->jstats;
    struct rusage ru;
    int i;
    if (!job->stats || !job->span) return;
    gleam__free(f->stats);
    f->stats = job->stats;
    job->stats = NULL;
    memset(js, 0, sizeof *js);
    for (i = 1; i <= f->nsteps; i++) {
        gleam_step_stats *ss = &f->stats[i];
        const gleam__step *s = &f->steps[i - 1]->s;
        int cls = gleam__step_class(s->kind);
        ss->step = i;
        ss->kind = gleam__step_kind_name(s->kind);
        ss->name = s->fn_name ? s->fn_name : "";
        ss->seconds = job->span[2 * i + 1] > job->span[2 * i] ? job->span[2 * i + 1] - job->span[2 * i] : 0;
        if (cls == GLEAM__SOURCE) {
            js->rows_read += ss->rows_out;
            js->bytes_read += ss->bytes;
        } else if (cls == GLEAM__OUTPUT) {
            js->bytes_written += ss->bytes;
        }
    }
    js->seconds = gleam__now() - job->t_start;
    js->steps = f->nsteps;
    js->threads = job->opt.threads;
    if (!getrusage(RUSAGE_SELF, &ru))
#ifdef __APPLE__
        js->peak_rss = (uint64_t)ru.ru_maxrss;
#else
        js->peak_rss = (uint64_t)ru.ru_maxrss * 1024;
#endif
    f->has_stats = 1;
}

/* -gleam.stats: the table of the run's figures. */
GLEAM__PRIV void gleam__stats_print(const gleam_flow *f, FILE *out) {
    const gleam_job_stats *js = &f->jstats;
    char a[32], b[32], c[32], d[32];
    int i;
    fprintf(out, "stats of flow \"%s\": %.3f s on %d thread%s; read %s rows, %s; wrote %s; peak RSS %s\n", f->name,
            js->seconds, js->threads, js->threads == 1 ? "" : "s", gleam__fmt_count(a, sizeof a, (double)js->rows_read),
            gleam__fmt_bytes(b, sizeof b, (double)js->bytes_read), gleam__fmt_bytes(c, sizeof c, (double)js->bytes_written),
            js->peak_rss ? gleam__fmt_bytes(d, sizeof d, (double)js->peak_rss) : "unknown");
    fprintf(out, "%5s  %-28s %14s %14s %11s %9s %11s\n", "step", "what", "rows in", "rows out", "bytes", "time", "peak mem");
    for (i = 1; i <= js->steps; i++) {
        const gleam_step_stats *ss = &f->stats[i];
        char what[64];
        if (*ss->name) gleam__fmt_into(what, sizeof what, "%s(%s)", ss->kind, ss->name);
        else gleam__fmt_into(what, sizeof what, "%s", ss->kind);
        fprintf(out, "%5d  %-28.28s %14llu %14llu %11s %8.3fs %11s\n", ss->step, what, (unsigned long long)ss->rows_in,
                (unsigned long long)ss->rows_out, ss->bytes ? gleam__fmt_bytes(a, sizeof a, (double)ss->bytes) : "-",
                ss->seconds, ss->peak_bytes ? gleam__fmt_bytes(b, sizeof b, (double)ss->peak_bytes) : "-");
    }
}

GLEAM_API const gleam_job_stats *gleam_stats(const gleam_flow *f) { return f && f->has_stats ? &f->jstats : NULL; }

GLEAM_API const gleam_step_stats *gleam_stats_step(const gleam_flow *f, int step) {
    if (!f || !f->has_stats || step < 1 || step > f->jstats.steps) return NULL;
    return &f->stats[step];
}

