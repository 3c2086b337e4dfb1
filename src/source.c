/* source.c: where rows come from. Files are cut into byte ranges, one per shard, aligned
   to line (or CSV record) starts, so one big file still uses every core; each range is
   read in pieces of up to 4 MB, and a shard that has read its own goes on with pieces
   another running shard has not begun, so the shards finish together however unevenly
   the machine runs them. Rows point into the read buffer and are never copied. Also rows
   from memory and from generators. */
#include "internal.h"

/* A byte range of one file that a shard reads. A stream (pipe, terminal) is read whole. */
typedef struct gleam__seg {
    int file;
    uint64_t start, end;
    int stream;
    int inquote;    /* CSV: the range starts inside a quoted field */
} gleam__seg;

/* The files of a read step, and each shard's segments. */
typedef struct gleam__files {
    char **paths;
    uint64_t *sizes;
    dev_t *dev;         /* to refuse writing over an input */
    ino_t *ino;
    int *stream;
    int nfiles;
    gleam__seg **segs;  /* by shard, in file order: pieces of at most GLEAM__PIECE bytes */
    int *nsegs;
    int nshards;
    /* claiming pieces (under mu): a shard reads its own from the front; one that is done
       takes the last of a running shard with the most left, so both finish together */
    pthread_mutex_t mu;
    int have_mu;
    int *front, *back;      /* by shard: segs[front, back) are not yet taken */
    char *running;          /* by shard: its task has begun */
} gleam__files;

#define GLEAM__PIECE ((uint64_t)4 << 20)

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

static void gleam__free_sources(gleam__plan *p) {
    int i;
    for (i = 0; i <= p->nsteps; i++) {
        if (p->files) gleam__files_free(p->files[i]);
        if (p->starts) gleam__free(p->starts[i]);
    }
    gleam__free(p->files);
    gleam__free(p->starts);
    p->files = NULL;
    p->starts = NULL;
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
static uint64_t gleam__count_quotes(const char *p, size_t n) {
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

/* Whether each CSV segment that starts inside a file starts inside a quoted field: in
   RFC 4180 every '"' opens, closes or doubles inside a quoted field, so the parity of the
   quotes before a byte says which. One pass over the file, up to its last split. */
static gleam_result gleam__csv_parity(gleam__files *fs, int file, char *err, size_t errcap) {
    char buf[1 << 16];
    uint64_t *starts, pos = 0, quotes = 0;
    int n = 0, sh, k, idx = 0, fd;
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
    close(fd);
    for (sh = 0; sh < fs->nshards; sh++)
        for (k = 0; k < fs->nsegs[sh]; k++) {
            gleam__seg *sg = &fs->segs[sh][k];
            const uint64_t *at;
            if (sg->file != file || sg->start == 0) continue;
            at = (const uint64_t *)bsearch(&sg->start, starts, (size_t)n, sizeof *starts, gleam__cmp_u64);
            sg->inquote = at && (int)starts[n + (at - starts)];
        }
    gleam__free(starts);
    return GLEAM_OK;
}

/* List the files of read step s (expanding globs), check each can be read, and cut them
   into the shards' segments. */
static gleam_result gleam__list_files(gleam__step *s, gleam__files **out, char *err, size_t errcap) {
    gleam__files *fs = (gleam__files *)gleam__calloc(1, sizeof *fs);
    uint64_t total = 0, acc = 0;
    int i, nshards = s->out->nshards, next_stream = 0;
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
static gleam_result gleam__value_starts(gleam__step *s, size_t **out) {
    size_t nsh = (size_t)s->out->nshards, k, row = 0;
    const char *p = s->values.p, *end = s->values.p + s->values.len;
    size_t *starts = (size_t *)gleam__calloc(nsh + 1, sizeof *starts);
    if (!(*out = starts)) return GLEAM_ERR_NOMEM;
    for (k = 0; k <= nsh; k++) {
        size_t first = s->nrows * k / nsh;
        for (; row < first; row++) gleam__skip_value(&p, end);
        starts[k] = (size_t)(p - s->values.p);
    }
    return GLEAM_OK;
}

/* Is dev/ino one of the flow's input files? */
static int gleam__is_input(const gleam__plan *p, dev_t dev, ino_t ino) {
    int i, k;
    for (i = 0; i <= p->nsteps; i++) {
        const gleam__files *fs = p->files ? p->files[i] : NULL;
        if (!fs) continue;
        for (k = 0; k < fs->nfiles; k++)
            if (!fs->stream[k] && fs->dev[k] == dev && fs->ino[k] == ino) return 1;
    }
    return 0;
}

static gleam_result gleam__prepare_sources(gleam__job *job) {
    gleam__plan *p = job->plan;
    int i;
    if (!(p->files = (gleam__files **)gleam__calloc((size_t)p->nsteps + 1, sizeof *p->files))) return GLEAM_ERR_NOMEM;
    if (!(p->starts = (size_t **)gleam__calloc((size_t)p->nsteps + 1, sizeof *p->starts))) return GLEAM_ERR_NOMEM;
    for (i = 0; i < p->flow->nsteps; i++) {
        gleam__step *s = p->flow->steps[i];
        char err[GLEAM__ERRMAX / 2] = "out of memory", label[128];
        gleam_result r;
        if (s->kind == GLEAM__VALUES && gleam__value_starts(s, &p->starts[s->id]) != GLEAM_OK) return GLEAM_ERR_NOMEM;
        if (s->kind != GLEAM__READ) continue;
        if ((r = gleam__list_files(s, &p->files[s->id], err, sizeof err)) != GLEAM_OK) {
            gleam__step_label(s, label, sizeof label);
            gleam__fmt_into(job->errmsg, sizeof job->errmsg, "%s: %s", label, err);
            job->err = r;
            return r;
        }
    }
    return GLEAM_OK;
}

/* >>reading: a window of a file ----------------------------------------------------------- */

typedef struct gleam__reader {
    gleam__op *op;          /* the source reading (its byte count and the progress line) */
    uint64_t counted, limit; /* bytes of the segment counted up to `counted`, which stops at limit */
    int fd, stream, eof;
    uint64_t base;          /* file offset of buf[0] */
    char *buf;
    size_t len, cap;        /* bytes in buf, its size */
} gleam__reader;

/* Keep buf[keep..len) (moved to the front) and read more after it, growing the buffer
   when keep == 0 and it is full. 0, or the errno of a failed read. */
static int gleam__reader_fill(gleam__reader *rd, size_t keep) {
    size_t rest = rd->len - keep;
    ssize_t got;
    if (keep) {
        memmove(rd->buf, rd->buf + keep, rest);
        rd->base += keep;
        rd->len = rest;
    }
    if (rd->len == rd->cap) {
        size_t cap = rd->cap ? rd->cap * 2 : 1 << 20;
        char *b = (char *)gleam__realloc(rd->buf, cap);
        if (!b) return ENOMEM;
        rd->buf = b;
        rd->cap = cap;
    }
    do {
        got = rd->stream ? read(rd->fd, rd->buf + rd->len, rd->cap - rd->len)
                         : pread(rd->fd, rd->buf + rd->len, rd->cap - rd->len, (off_t)(rd->base + rd->len));
    } while (got < 0 && errno == EINTR);
    if (got < 0) return errno;
    if (got == 0) rd->eof = 1;
    rd->len += (size_t)got;
    if (got > 0 && rd->op) { /* count the segment's bytes once, not what is read past its end */
        uint64_t to = GLEAM__MIN(rd->base + rd->len, rd->limit);
        if (to > rd->counted) {
            rd->op->bytes += to - rd->counted;
            gleam__progress_add(rd->op->task->job, 0, to - rd->counted);
            rd->counted = to;
        }
    }
    return 0;
}

typedef struct gleam__source {
    gleam__op op;
    gleam__reader rd;
    gleam__buf unq;     /* unescaped CSV fields */
} gleam__source;

static void gleam__source_free(gleam__op *op) {
    gleam__source *s = (gleam__source *)op;
    gleam__free(s->rd.buf);
    gleam__buf_free(&s->unq);
}

static gleam__op *gleam__make_source(gleam__task *t, gleam__node *node) {
    gleam__op *op = gleam__op_alloc(t, node, sizeof(gleam__source));
    if (!op) return NULL;
    op->free = gleam__source_free;
    op->ctx.source = 1; /* a generator's gleam_emit counts its rows as read */
    ((gleam__source *)op)->rd.op = op;
    return op;
}

/* Emit one row from the source; DONE or errors end the reading. */
static gleam_result gleam__source_emit(gleam__op *op, const gleam_value *row, int n) {
    gleam_result r = gleam__emit(op, row, n);
    gleam__progress_rows(op);
    if (r < 0 && !gleam__aborted(op->task->job))
        return gleam__fail(op->task, op->node, r, "%s", gleam_result_str(r));
    return r;
}

/* Lines (text and TSV) of one segment. */
static gleam_result gleam__read_lines(gleam__source *src, const gleam__seg *sg, const char *path) {
    gleam__op *op = &src->op;
    gleam__reader *rd = &src->rd;
    gleam__step *s = op->node->step;
    gleam__task *t = op->task;
    size_t at = 0;          /* start of the current line in buf */
    int skip_header = s->header && sg->start == 0, tsv = s->format == GLEAM_FORMAT_TSV, e;
    gleam_result r;
    if (!sg->stream && sg->start > 0) { /* the line under way at `start` belongs to the shard before */
        rd->base = sg->start - 1;
        if ((e = gleam__reader_fill(rd, 0))) goto ioerr;
        for (;;) {
            char *nl = rd->len > at ? (char *)memchr(rd->buf + at, '\n', rd->len - at) : NULL;
            if (nl) {
                at = (size_t)(nl - rd->buf) + 1;
                break;
            }
            if (rd->eof) return GLEAM_OK;
            at = rd->len;
            if ((e = gleam__reader_fill(rd, at))) goto ioerr;
            at = 0;
        }
    } else {
        rd->base = 0;
        if ((e = gleam__reader_fill(rd, 0))) goto ioerr;
    }
    for (;;) {
        char *nl;
        size_t len;
        if (rd->base + at >= sg->end) return GLEAM_OK;
        nl = rd->len > at ? (char *)memchr(rd->buf + at, '\n', rd->len - at) : NULL;
        if (!nl) {
            if (rd->eof) {
                if (at == rd->len) return GLEAM_OK;
                nl = rd->buf + rd->len; /* a last line without '\n' */
            } else {
                if (gleam__aborted(t->job)) return GLEAM_ERR_INTERNAL;
                if ((e = gleam__reader_fill(rd, at))) goto ioerr;
                at = 0;
                continue;
            }
        }
        len = (size_t)(nl - (rd->buf + at));
        t->in_path = path;
        t->in_off = rd->base + at;
        if (skip_header) {
            skip_header = 0;
        } else if (!tsv) {
            gleam_value v = gleam_bytes(rd->buf + at, len);
            if ((r = gleam__source_emit(op, &v, 1)) != GLEAM_OK) return r;
        } else {
            const char *p = rd->buf + at, *end = p + len;
            int n = 0;
            if (end > p && end[-1] == '\r') end--;
            for (;;) {
                const char *tab = (const char *)memchr(p, s->delim, (size_t)(end - p));
                if (gleam__vals_reserve(&op->vals, n + 1)) return gleam__fail(t, op->node, GLEAM_ERR_NOMEM, "out of memory");
                op->vals.v[n++] = gleam_bytes(p, (size_t)((tab ? tab : end) - p));
                if (!tab) break;
                p = tab + 1;
            }
            if ((r = gleam__source_emit(op, op->vals.v, n)) != GLEAM_OK) return r;
        }
        at = (size_t)(nl - rd->buf) + 1;
        if (at > rd->len) return GLEAM_OK;
    }
ioerr:
    return gleam__fail(t, op->node, GLEAM_ERR_IO, "cannot read %s: %s", path, strerror(e));
}

/* >>csv ---------------------------------------------------------------------------------- */

enum { GLEAM__CSV_ROW, GLEAM__CSV_MORE, GLEAM__CSV_BAD };

/* Parse the record at buf[at..len): fields into op->vals, *next after its end. */
/* The first separator, '\n' or '"' at or after q (end if none): eight bytes a step where
   the bytes of a word are in memory order, one at a time elsewhere. */
static const char *gleam__csv_plain_end(const char *q, const char *end, char delim) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const uint64_t d = ones * (unsigned char)delim, nl = ones * '\n', qu = ones * '"';
    while (end - q >= 8) {
        uint64_t w = gleam__load64((const unsigned char *)q), a = w ^ d, b = w ^ nl, c = w ^ qu;
        /* a byte of a, b or c is zero where w has that byte: the lowest such is exact */
        uint64_t hit = ((a - ones) & ~a) | ((b - ones) & ~b) | ((c - ones) & ~c);
        if (hit & highs) return q + (__builtin_ctzll(hit & highs) >> 3);
        q += 8;
    }
#endif
    while (q < end && *q != delim && *q != '\n' && *q != '"') q++;
    return q;
}

static int gleam__csv_record(gleam__source *src, size_t at, int eof, size_t *next, const char **why,
                             size_t *bad_at) {
    gleam__op *op = &src->op;
    const char *buf = src->rd.buf, *p = buf + at, *end = buf + src->rd.len;
    char delim = op->node->step->delim;
    int n = 0;
    src->unq.len = 0;
    for (;;) { /* one field */
        gleam_value v;
        if (p < end && *p == '"') {
            const char *q = p + 1, *start = q;
            int escaped = 0;
            for (;;) {
                q = (const char *)memchr(q, '"', (size_t)(end - q));
                if (!q) {
                    if (!eof) return GLEAM__CSV_MORE;
                    *why = "a quoted field is not closed before the end of the file";
                    *bad_at = (size_t)(p - buf);
                    return GLEAM__CSV_BAD;
                }
                if (q + 1 == end && !eof) return GLEAM__CSV_MORE;
                if (q + 1 < end && q[1] == '"') {
                    escaped = 1;
                    q += 2;
                    continue;
                }
                break;
            }
            if (escaped) { /* "" inside becomes " */
                size_t off = src->unq.len;
                const char *c;
                if (gleam__buf_reserve(&src->unq, (size_t)(q - start))) return GLEAM__CSV_BAD;
                for (c = start; c < q; c++) {
                    src->unq.p[src->unq.len++] = *c;
                    if (*c == '"') c++;
                }
                /* unq may still move: mark the field (CSV fields are never nil) and point
                   it into unq once the record is complete */
                v.type = GLEAM_NIL;
                v.u.i = (int64_t)off;
                v.len = (uint32_t)(src->unq.len - off);
            } else {
                v = gleam_bytes(start, (size_t)(q - start));
            }
            p = q + 1;
            if (p < end && *p == '\r' && p + 1 < end && p[1] == '\n') p++;
            else if (p == end - 1 && *p == '\r' && !eof) return GLEAM__CSV_MORE;
            if (p < end && *p != delim && *p != '\n') {
                *why = "a quoted field is followed by something other than a separator or the line's end";
                *bad_at = (size_t)(p - buf);
                return GLEAM__CSV_BAD;
            }
        } else {
            const char *q = gleam__csv_plain_end(p, end, delim);
            if (q < end && *q == '"') {
                *why = "a quote inside an unquoted field (quote the field and double the quote)";
                *bad_at = (size_t)(q - buf);
                return GLEAM__CSV_BAD;
            }
            if (q == end && !eof) return GLEAM__CSV_MORE;
            v = gleam_bytes(p, (size_t)((q < end && *q == '\n' && q > p && q[-1] == '\r') ? q - 1 - p : q - p));
            p = q;
        }
        if (gleam__vals_reserve(&op->vals, n + 1)) return GLEAM__CSV_BAD;
        op->vals.v[n++] = v;
        if (p < end && *p == delim) {
            p++;
            continue;
        }
        if (p < end) p++; /* '\n' */
        break;
    }
    {   /* unescaped fields point into unq, which no longer moves */
        int i;
        for (i = 0; i < n; i++)
            if (op->vals.v[i].type == GLEAM_NIL) {
                size_t off = (size_t)op->vals.v[i].u.i;
                op->vals.v[i] = gleam_bytes(src->unq.p + off, op->vals.v[i].len);
            }
    }
    op->vals.n = n;
    *next = (size_t)(p - buf);
    return GLEAM__CSV_ROW;
}

/* The first record start at or after the segment start, given whether the start is
   inside quotes: its offset in buf in *at, or (size_t)-1 when the file holds none.
   Returns 0, or the errno of a failed read. */
static int gleam__csv_seek(gleam__reader *rd, const gleam__seg *sg, size_t *at) {
    int inq = sg->inquote, e;
    size_t i = 1; /* buf[0] is the byte before the start */
    rd->base = sg->start - 1;
    if ((e = gleam__reader_fill(rd, 0))) return e;
    if (!inq && rd->len > 0 && rd->buf[0] == '\n') {
        *at = 1;
        return 0;
    }
    for (;;) {
        for (; i < rd->len; i++) {
            if (rd->buf[i] == '"') inq = !inq;
            else if (rd->buf[i] == '\n' && !inq) {
                *at = i + 1;
                return 0;
            }
        }
        if (rd->eof) {
            *at = (size_t)-1;
            return 0;
        }
        if ((e = gleam__reader_fill(rd, i))) return e; /* keeps nothing before i */
        i = 0;
    }
}

static gleam_result gleam__read_csv(gleam__source *src, const gleam__seg *sg, const char *path) {
    gleam__op *op = &src->op;
    gleam__reader *rd = &src->rd;
    gleam__task *t = op->task;
    size_t at = 0, next, bad_at = 0;
    const char *why = NULL;
    int skip_header = op->node->step->header && sg->start == 0, e;
    gleam_result r;
    if (!sg->stream && sg->start > 0) {
        if ((e = gleam__csv_seek(rd, sg, &at))) goto ioerr;
        if (at == (size_t)-1) return GLEAM_OK;
    } else {
        rd->base = 0;
        if ((e = gleam__reader_fill(rd, 0))) goto ioerr;
    }
    for (;;) {
        int k;
        if (rd->base + at >= sg->end) return GLEAM_OK;
        if (at == rd->len) {
            if (rd->eof) return GLEAM_OK;
            if ((e = gleam__reader_fill(rd, at))) goto ioerr;
            at = 0;
            continue;
        }
        if (rd->buf[at] == '\n' || (rd->buf[at] == '\r' && at + 1 < rd->len && rd->buf[at + 1] == '\n')) {
            at += rd->buf[at] == '\n' ? 1 : 2; /* blank line */
            continue;
        }
        k = gleam__csv_record(src, at, rd->eof, &next, &why, &bad_at);
        if (k == GLEAM__CSV_MORE) {
            if (gleam__aborted(t->job)) return GLEAM_ERR_INTERNAL;
            if ((e = gleam__reader_fill(rd, at))) goto ioerr;
            at = 0;
            continue;
        }
        t->in_path = path;
        t->in_off = rd->base + (k == GLEAM__CSV_BAD && why ? bad_at : at);
        if (k == GLEAM__CSV_BAD) {
            if (!why) return gleam__fail(t, op->node, GLEAM_ERR_NOMEM, "out of memory");
            return gleam__fail(t, op->node, GLEAM_ERR_INPUT, "malformed CSV: %s", why);
        }
        if (skip_header) skip_header = 0;
        else if ((r = gleam__source_emit(op, op->vals.v, op->vals.n)) != GLEAM_OK) return r;
        at = next;
    }
ioerr:
    return gleam__fail(t, op->node, GLEAM_ERR_IO, "cannot read %s: %s", path, strerror(e));
}

/* >>run a source task --------------------------------------------------------------------- */

/* The next segment for shard sh to read: its own next, else the last not yet taken of the
   running shard with the most left (not a stream, which is read whole by its shard; not a
   shard whose task has not begun, which keeps its rows). NULL when there is none. */
static const gleam__seg *gleam__next_seg(gleam__files *fs, int sh) {
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

static gleam_result gleam__run_files(gleam__source *src) {
    gleam__op *op = &src->op;
    gleam__task *t = op->task;
    gleam__step *s = op->node->step;
    gleam__files *fs = t->job->plan->files[s->id];
    const gleam__seg *sg;
    while ((sg = gleam__next_seg(fs, t->shard))) {
        const char *path = fs->paths[sg->file];
        gleam_result r;
        int fd;
        if (gleam__aborted(t->job)) return GLEAM_ERR_INTERNAL; /* another task failed: its error stands */
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return gleam__fail(t, op->node, GLEAM_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        src->rd.fd = fd;
        src->rd.stream = sg->stream;
        src->rd.counted = sg->stream ? 0 : sg->start;
        src->rd.limit = sg->stream ? (uint64_t)-1 : sg->end;
        src->rd.eof = 0;
        src->rd.len = 0;
        t->in_stream = sg->stream;
        r = s->format == GLEAM_FORMAT_CSV ? gleam__read_csv(src, sg, path) : gleam__read_lines(src, sg, path);
        close(fd);
        t->in_path = NULL;
        if (r != GLEAM_OK) return r;
    }
    gleam__free(src->rd.buf); /* the task's other steps may hold memory long after this */
    src->rd.buf = NULL;
    src->rd.cap = 0;
    return GLEAM_OK;
}

static gleam_result gleam__run_values(gleam__op *op) {
    gleam__task *t = op->task;
    gleam__step *s = op->node->step;
    size_t n = s->nrows, nsh = (size_t)s->out->nshards, sh = (size_t)t->shard;
    size_t lo = n * sh / nsh, hi = n * (sh + 1) / nsh, i;
    const char *p = s->values.p + t->job->plan->starts[s->id][sh], *end = s->values.p + s->values.len;
    gleam_result r;
    for (i = lo; i < hi; i++) {
        if (gleam__unpack_row(&p, end, &op->vals) != GLEAM_OK)
            return gleam__fail(t, op->node, GLEAM_ERR_INTERNAL, "in-memory rows are damaged");
        if ((r = gleam__source_emit(op, op->vals.v, op->vals.n)) != GLEAM_OK) return r;
    }
    return GLEAM_OK;
}

static gleam_result gleam__run_generate(gleam__op *op) {
    gleam__task *t = op->task;
    gleam__step *s = op->node->step;
    gleam_result r;
    op->ctx.in_call = 1;
    t->has_usermsg = 0;
    r = s->fn->u.source(&op->ctx, t->shard, s->out->nshards);
    op->ctx.in_call = 0;
    gleam__arena_reset(&op->ctx.scratch);
    if (r < 0 && !gleam__aborted(t->job)) {
        if (t->has_usermsg) return gleam__fail(t, op->node, r, "%s", t->usermsg);
        return gleam__fail(t, op->node, r, "source \"%s\" returned %s", s->fn_name, gleam_result_str(r));
    }
    return r < 0 ? r : GLEAM_OK;
}

static gleam_result gleam__run_source(gleam__task *t) {
    gleam__op *op = t->ops[0];
    gleam_result r;
    switch (op->node->step->kind) {
    case GLEAM__READ: r = gleam__run_files((gleam__source *)op); break;
    case GLEAM__VALUES: r = gleam__run_values(op); break;
    default: r = gleam__run_generate(op); break;
    }
    return r == GLEAM_DONE ? GLEAM_OK : r;
}
