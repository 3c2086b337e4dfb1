/* files.c: the files a read step reads, cut into byte ranges, one per shard, aligned to
   line (or CSV record) starts, so one big file still uses every core. Each range is a
   list of pieces of up to 4 MB; a shard that has read its own goes on with pieces another
   running shard has not begun, so the shards finish together however unevenly the
   machine runs them. */
#include "io/io.h"

static void gleam__files_free(gleam__files *fs) {
    int i;
    if (!fs) return;
    for (i = 0; i < fs->nfiles; i++) gleam__free(fs->paths[i]);
    if (fs->segs)
        for (i = 0; i < fs->nshards; i++) gleam__free(fs->segs[i]);
    gleam__free(fs->paths);
    gleam__free(fs->sizes);
    gleam__free(fs->dev);
    gleam__free(fs->ino);
    gleam__free(fs->stream);
    gleam__free(fs->segs);
    gleam__free(fs->nsegs);
    gleam__free(fs->front);
    gleam__free(fs->back);
    gleam__free(fs->running);
    if (fs->have_mu) pthread_mutex_destroy(&fs->mu);
    gleam__free(fs);
}

GLEAM__PRIV void gleam__free_sources(gleam__job *job) {
    int i;
    for (i = 0; i <= job->plan->nsteps; i++) {
        if (job->files) gleam__files_free(job->files[i]);
        if (job->starts) gleam__free(job->starts[i]);
    }
    gleam__free(job->files);
    gleam__free(job->starts);
    job->files = NULL;
    job->starts = NULL;
}

/* >>listing: globs, sizes, splits ---------------------------------------------------------- */

static int gleam__add_file(gleam__files *fs, const char *path) {
    char **p = (char **)gleam__realloc(fs->paths, (size_t)(fs->nfiles + 1) * sizeof *p);
    if (!p) return -1;
    fs->paths = p;
    if (!(fs->paths[fs->nfiles] = gleam__strdup(path))) return -1;
    fs->nfiles++;
    return 0;
}

static gleam_result gleam__seg_add(gleam__files *fs, int shard, gleam__seg sg) {
    int n = fs->nsegs[shard];
    if (n >= 4 && !(n & (n - 1))) { /* room for 4, 8, 16, ...: full at each power of two */
        gleam__seg *p = (gleam__seg *)gleam__realloc(fs->segs[shard], (size_t)n * 2 * sizeof *p);
        if (!p) return GLEAM_ERR_NOMEM;
        fs->segs[shard] = p;
    } else if (!fs->segs[shard] && !(fs->segs[shard] = (gleam__seg *)gleam__malloc(4 * sizeof(gleam__seg)))) {
        return GLEAM_ERR_NOMEM;
    }
    fs->segs[shard][fs->nsegs[shard]++] = sg;
    return GLEAM_OK;
}

static int gleam__cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The '"' bytes in p[0..n): eight bytes a step where the bytes of a word are in memory
   order (the high bit of each byte of y is set exactly where that byte was '"'). */
GLEAM__PRIV uint64_t gleam__count_quotes(const char *p, size_t n) {
    uint64_t c = 0;
    size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full, qu = 0x0101010101010101ull * '"';
    for (; i + 8 <= n; i += 8) {
        uint64_t x = gleam__load64((const unsigned char *)p + i) ^ qu, y = ~(((x & low7) + low7) | x | low7);
        c += ((y >> 7) * 0x0101010101010101ull) >> 56; /* the bytes' sum: no popcount instruction needed */
    }
#endif
    for (; i < n; i++) c += p[i] == '"';
    return c;
}

/* Where the first record of a CSV file starts: after the blank lines ("\n" or "\r\n") at
   its head, which gleam__read_csv skips (its size when it holds no record). 0, or the
   errno of a failed read. */
static int gleam__csv_first(int fd, uint64_t *first) {
    char buf[4096];
    uint64_t pos = 0;
    int cr = 0; /* the byte before was a '\r' that a '\n' must follow for the line to be blank */
    for (;;) {
        ssize_t got = pread(fd, buf, sizeof buf, (off_t)pos), i;
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return errno;
        if (got == 0) {
            *first = pos - (uint64_t)cr;
            return 0;
        }
        for (i = 0; i < got; i++) {
            if (buf[i] == '\n') cr = 0;
            else if (buf[i] == '\r' && !cr) cr = 1;
            else {
                *first = pos + (uint64_t)i - (uint64_t)cr;
                return 0;
            }
        }
        pos += (uint64_t)got;
    }
}

/* Whether each CSV segment that starts inside a file starts inside a quoted field: in
   RFC 4180 every '"' opens, closes or doubles inside a quoted field, so the parity of the
   quotes before a byte says which. One pass over the file, up to its last split. And
   which segment holds the file's first record (its header). */
static gleam_result gleam__csv_parity(gleam__files *fs, int file, char *err, size_t errcap) {
    char buf[1 << 16];
    uint64_t *starts, pos = 0, quotes = 0, first = 0;
    int n = 0, sh, k, idx = 0, fd, e;
    for (sh = 0; sh < fs->nshards; sh++)
        for (k = 0; k < fs->nsegs[sh]; k++) n += fs->segs[sh][k].file == file && fs->segs[sh][k].start > 0;
    if (n == 0) return GLEAM_OK;
    if (!(starts = (uint64_t *)gleam__malloc((size_t)n * 2 * sizeof *starts))) return GLEAM_ERR_NOMEM;
    n = 0;
    for (sh = 0; sh < fs->nshards; sh++)
        for (k = 0; k < fs->nsegs[sh]; k++)
            if (fs->segs[sh][k].file == file && fs->segs[sh][k].start > 0) starts[n++] = fs->segs[sh][k].start;
    qsort(starts, (size_t)n, sizeof *starts, gleam__cmp_u64);
    if ((fd = open(fs->paths[file], O_RDONLY | O_CLOEXEC)) < 0) {
        gleam__fmt_into(err, errcap, "cannot open %s: %s", fs->paths[file], strerror(errno));
        gleam__free(starts);
        return GLEAM_ERR_IO;
    }
    /* starts[n + i] becomes the parity at starts[i] */
    while (idx < n) {
        if (pos == starts[idx]) {
            starts[n + idx++] = quotes & 1;
            continue;
        }
        {
            size_t want = (size_t)GLEAM__MIN((uint64_t)sizeof buf, starts[idx] - pos);
            ssize_t got = pread(fd, buf, want, (off_t)pos);
            if (got <= 0) break; /* the file shrank: the readers will see its end */
            quotes += gleam__count_quotes(buf, (size_t)got);
            pos += (uint64_t)got;
        }
    }
    while (idx < n) starts[n + idx++] = 0;
    if ((e = gleam__csv_first(fd, &first)) != 0) {
        gleam__fmt_into(err, errcap, "cannot read %s: %s", fs->paths[file], strerror(e));
        close(fd);
        gleam__free(starts);
        return GLEAM_ERR_IO;
    }
    close(fd);
    for (sh = 0; sh < fs->nshards; sh++)
        for (k = 0; k < fs->nsegs[sh]; k++) {
            gleam__seg *sg = &fs->segs[sh][k];
            const uint64_t *at;
            if (sg->file != file) continue;
            sg->first = sg->start <= first && first < sg->end;
            if (sg->start == 0) continue;
            at = (const uint64_t *)bsearch(&sg->start, starts, (size_t)n, sizeof *starts, gleam__cmp_u64);
            sg->inquote = at && (int)starts[n + (at - starts)];
        }
    gleam__free(starts);
    return GLEAM_OK;
}

/* List the files of read step s (expanding globs), check each can be read, and cut them
   into the shards' segments. */
static gleam_result gleam__list_files(const gleam__step *s, gleam__files **out, char *err, size_t errcap) {
    gleam__files *fs = (gleam__files *)gleam__calloc(1, sizeof *fs);
    uint64_t total = 0, acc = 0;
    int i, nshards = s->nshards, next_stream = 0;
    gleam_result r = GLEAM_ERR_NOMEM;
    *out = fs;
    if (!fs) return GLEAM_ERR_NOMEM;
    fs->nshards = nshards;
    for (i = 0; i < s->npaths; i++) {
        const char *pat = s->paths[i];
        if (strpbrk(pat, "*?[")) {
            glob_t g;
            size_t k;
            int gr = glob(pat, 0, NULL, &g);
            if (gr == GLOB_NOMATCH) {
                gleam__fmt_into(err, errcap, "no file matches %s", pat);
                return GLEAM_ERR_IO;
            }
            if (gr != 0) {
                gleam__fmt_into(err, errcap, "cannot list %s", pat);
                return GLEAM_ERR_IO;
            }
            for (k = 0; k < g.gl_pathc; k++)
                if (gleam__add_file(fs, g.gl_pathv[k])) {
                    globfree(&g);
                    return GLEAM_ERR_NOMEM;
                }
            globfree(&g);
        } else if (gleam__add_file(fs, pat)) {
            return GLEAM_ERR_NOMEM;
        }
    }
    fs->sizes = (uint64_t *)gleam__calloc((size_t)fs->nfiles + 1, sizeof *fs->sizes);
    fs->stream = (int *)gleam__calloc((size_t)fs->nfiles + 1, sizeof *fs->stream);
    fs->dev = (dev_t *)gleam__calloc((size_t)fs->nfiles + 1, sizeof *fs->dev);
    fs->ino = (ino_t *)gleam__calloc((size_t)fs->nfiles + 1, sizeof *fs->ino);
    fs->segs = (gleam__seg **)gleam__calloc((size_t)nshards, sizeof *fs->segs);
    fs->nsegs = (int *)gleam__calloc((size_t)nshards, sizeof *fs->nsegs);
    fs->front = (int *)gleam__calloc((size_t)nshards, sizeof *fs->front);
    fs->back = (int *)gleam__calloc((size_t)nshards, sizeof *fs->back);
    fs->running = (char *)gleam__calloc((size_t)nshards, 1);
    if (!fs->sizes || !fs->stream || !fs->dev || !fs->ino || !fs->segs || !fs->nsegs || !fs->front || !fs->back ||
        !fs->running)
        return GLEAM_ERR_NOMEM;
    pthread_mutex_init(&fs->mu, NULL);
    fs->have_mu = 1;
    for (i = 0; i < fs->nfiles; i++) {
        struct stat st;
        int fd;
        /* stat, not open: opening a named pipe here would pair with its writer */
        if (stat(fs->paths[i], &st)) {
            gleam__fmt_into(err, errcap, "cannot open %s: %s", fs->paths[i], strerror(errno));
            return GLEAM_ERR_IO;
        }
        if (S_ISDIR(st.st_mode)) {
            gleam__fmt_into(err, errcap, "cannot read %s: it is a directory", fs->paths[i]);
            return GLEAM_ERR_IO;
        }
        fs->dev[i] = st.st_dev;
        fs->ino[i] = st.st_ino;
        if (!S_ISREG(st.st_mode)) {
            fs->stream[i] = 1;
            continue;
        }
        if ((fd = open(fs->paths[i], O_RDONLY | O_CLOEXEC)) < 0) {
            gleam__fmt_into(err, errcap, "cannot open %s: %s", fs->paths[i], strerror(errno));
            return GLEAM_ERR_IO;
        }
        close(fd);
        fs->sizes[i] = (uint64_t)st.st_size;
        total += fs->sizes[i];
    }
    /* Shard k reads bytes [k*total/n, (k+1)*total/n) of the files laid end to end. */
    for (i = 0; i < fs->nfiles; i++) {
        gleam__seg sg;
        memset(&sg, 0, sizeof sg);
        sg.file = i;
        if (fs->stream[i]) {
            sg.stream = 1;
            sg.first = 1;
            sg.end = (uint64_t)-1;
            if ((r = gleam__seg_add(fs, next_stream++ % nshards, sg)) != GLEAM_OK) return r;
            continue;
        }
        {
            uint64_t lo = acc, hi = acc + fs->sizes[i];
            int k;
            for (k = 0; k < nshards; k++) {
                uint64_t a = total ? (uint64_t)((double)k / nshards * (double)total) : 0;
                uint64_t b = total ? (uint64_t)((double)(k + 1) / nshards * (double)total) : 0;
                uint64_t from, to, n, piece, q, rem;
                if (k == nshards - 1) b = total;
                if (b <= lo || a >= hi) continue;
                from = GLEAM__MAX(a, lo) - lo;
                to = GLEAM__MIN(b, hi) - lo;
                n = (to - from + GLEAM__PIECE - 1) / GLEAM__PIECE; /* pieces of equal size, give or take a byte */
                q = n ? (to - from) / n : 0;
                rem = n ? (to - from) % n : 0;
                for (piece = 0; piece < n; piece++) {
                    sg.start = from + piece * q + GLEAM__MIN(piece, rem);
                    sg.end = sg.start + q + (piece < rem);
                    sg.first = sg.start == 0; /* CSV: gleam__csv_parity says, once the file is cut */
                    if ((r = gleam__seg_add(fs, k, sg)) != GLEAM_OK) return r;
                }
            }
            acc = hi;
        }
    }
    for (i = 0; i < nshards; i++) fs->back[i] = fs->nsegs[i]; /* (a stream last in a shard's list: none taken from it) */
    if (s->format == GLEAM_FORMAT_CSV)
        for (i = 0; i < fs->nfiles; i++)
            if (!fs->stream[i] && (r = gleam__csv_parity(fs, i, err, errcap)) != GLEAM_OK) return r;
    return GLEAM_OK;
}

/* Where each shard's rows start in an in-memory source's packed rows. */
static gleam_result gleam__value_starts(const gleam__step *s, size_t **out) {
    size_t nsh = (size_t)s->nshards, k, row = 0;
    const char *p = s->values, *end = s->values + s->values_len;
    size_t *starts = (size_t *)gleam__calloc(nsh + 1, sizeof *starts);
    if (!(*out = starts)) return GLEAM_ERR_NOMEM;
    for (k = 0; k <= nsh; k++) {
        size_t first = s->nrows * k / nsh;
        for (; row < first; row++) gleam__skip_value(&p, end);
        starts[k] = (size_t)(p - s->values);
    }
    return GLEAM_OK;
}

GLEAM__PRIV int gleam__is_input(const gleam__job *job, dev_t dev, ino_t ino) {
    int i, k;
    for (i = 0; i <= job->plan->nsteps; i++) {
        const gleam__files *fs = job->files ? job->files[i] : NULL;
        if (!fs) continue;
        for (k = 0; k < fs->nfiles; k++)
            if (!fs->stream[k] && fs->dev[k] == dev && fs->ino[k] == ino) return 1;
    }
    return 0;
}

GLEAM__PRIV gleam_result gleam__prepare_sources(gleam__job *job, const char *only) {
    const gleam__plan *p = job->plan;
    int i;
    if (!(job->files = (gleam__files **)gleam__calloc((size_t)p->nsteps + 1, sizeof *job->files)) ||
        !(job->starts = (size_t **)gleam__calloc((size_t)p->nsteps + 1, sizeof *job->starts))) {
        gleam__job_fail(job, GLEAM_ERR_NOMEM, "out of memory");
        return GLEAM_ERR_NOMEM;
    }
    for (i = 0; i < p->nsteps; i++) {
        const gleam__step *s = &p->steps[i];
        char err[GLEAM__ERRMAX / 2] = "out of memory", label[128];
        gleam_result r;
        if (only && !only[s->id]) continue;
        if (s->kind == GLEAM__VALUES && gleam__value_starts(s, &job->starts[s->id]) != GLEAM_OK) {
            gleam__job_fail(job, GLEAM_ERR_NOMEM, "out of memory");
            return GLEAM_ERR_NOMEM;
        }
        if (s->kind != GLEAM__READ) continue;
        if ((r = gleam__list_files(s, &job->files[s->id], err, sizeof err)) != GLEAM_OK) {
            gleam__step_label(s, label, sizeof label);
            gleam__job_fail(job, r, "%s: %s", label, err);
            return r;
        }
    }
    return GLEAM_OK;
}

/* The next segment for shard sh to read: its own next, else the last not yet taken of the
   running shard with the most left (not a stream, which is read whole by its shard; not a
   shard whose task has not begun, which keeps its rows). NULL when there is none. */
GLEAM__PRIV const gleam__seg *gleam__next_seg(gleam__files *fs, int sh) {
    const gleam__seg *sg = NULL;
    int v, best = -1;
    pthread_mutex_lock(&fs->mu);
    fs->running[sh] = 1;
    if (fs->front[sh] < fs->back[sh]) {
        sg = &fs->segs[sh][fs->front[sh]++];
    } else {
        for (v = 0; v < fs->nshards; v++)
            if (fs->running[v] && fs->back[v] > fs->front[v] && !fs->segs[v][fs->back[v] - 1].stream &&
                (best < 0 || fs->back[v] - fs->front[v] > fs->back[best] - fs->front[best]))
                best = v;
        if (best >= 0) sg = &fs->segs[best][--fs->back[best]];
    }
    pthread_mutex_unlock(&fs->mu);
    return sg;
}

