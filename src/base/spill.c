/* spill.c: files for what does not fit in memory. A spill file has no name from the moment
   it exists (O_TMPFILE, or mkstemp then unlink), so it is gone when the job ends, fails,
   is interrupted or crashes: there is nothing to clean up. Writes go through a buffer;
   reads are positioned (pread), so several readers can share one descriptor. */
#include "base/base.h"

#define GLEAM__SPILL_WBUF (1u << 20)

/* O_TMPFILE (Linux 3.11) is declared only under _GNU_SOURCE, which gleam.h does not ask for:
   on Linux its value is 020000000 | O_DIRECTORY, but on the few architectures that give
   __O_TMPFILE a value of their own. A kernel or file system without it refuses the open,
   and mkstemp serves (with a moment between making the file and unlinking it). */
#if !defined(O_TMPFILE) && defined(__linux__) && defined(O_DIRECTORY) && !defined(__alpha__) && !defined(__sparc__) && \
    !defined(__hppa__)
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif

/* Make a spill file in dir. 0, or -1 with errno set. */
GLEAM__PRIV int gleam__spill_open(gleam__spill *s, const char *dir) {
    char *path;
    size_t n = strlen(dir);
    memset(s, 0, sizeof *s);
    s->fd = -1;
#ifdef O_TMPFILE
    s->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (s->fd >= 0) return 0;
#endif
    if (!(path = (char *)gleam__malloc(n + 32))) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(path, dir, n);
    memcpy(path + n, "/gleam-spill-XXXXXX", 20);
    s->fd = mkstemp(path);
    if (s->fd >= 0) {
        unlink(path);
        (void)fcntl(s->fd, F_SETFD, FD_CLOEXEC);
    }
    gleam__free(path);
    return s->fd >= 0 ? 0 : -1;
}

/* Write all n bytes to fd. 0, or -1 with errno set (ENOSPC when nothing could be written). */
GLEAM__PRIV int gleam__write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int gleam__spill_flush(gleam__spill *s) {
    if (gleam__write_all(s->fd, s->wbuf.p, s->wbuf.len)) return -1;
    s->wbuf.len = 0;
    return 0;
}

/* Append n bytes. 0, or -1 with errno set. */
GLEAM__PRIV int gleam__spill_write(gleam__spill *s, const void *p, size_t n) {
    if (s->wbuf.len + n > GLEAM__SPILL_WBUF && s->wbuf.len && gleam__spill_flush(s)) return -1;
    s->size += n;
    if (n >= GLEAM__SPILL_WBUF) return gleam__write_all(s->fd, (const char *)p, n); /* large: straight through */
    if (gleam__buf_add(&s->wbuf, p, n)) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

/* Everything written is in the file, and the write buffer is freed. 0, or -1. */
GLEAM__PRIV int gleam__spill_end(gleam__spill *s) {
    int r = gleam__spill_flush(s);
    gleam__buf_free(&s->wbuf);
    return r;
}

/* Read up to n bytes at off. The count read (short only at the end), or -1. */
static ssize_t gleam__spill_read(const gleam__spill *s, uint64_t off, void *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(s->fd, (char *)p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

GLEAM__PRIV void gleam__spill_close(gleam__spill *s) {
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    gleam__buf_free(&s->wbuf);
}

/* >>records: length-prefixed byte strings in a spill file ---------------------------------- */

GLEAM__PRIV int gleam__spill_record(gleam__spill *s, const void *p, size_t n) {
    unsigned char h[4];
    if (n > 0xffffffffu) {
        errno = EFBIG;
        return -1;
    }
    h[0] = (unsigned char)(n >> 24);
    h[1] = (unsigned char)(n >> 16);
    h[2] = (unsigned char)(n >> 8);
    h[3] = (unsigned char)n;
    return gleam__spill_write(s, h, 4) || gleam__spill_write(s, p, n) ? -1 : 0;
}

GLEAM__PRIV void gleam__recs_init(gleam__recs *r, const gleam__spill *file, uint64_t from, uint64_t to) {
    memset(r, 0, sizeof *r);
    r->file = file;
    r->off = from;
    r->end = to;
}

/* The next record: 1 with *p and *n set (valid until the next call), 0 at the end, -1 on a
   read error (errno set; EIO for a damaged file). */
GLEAM__PRIV int gleam__recs_next(gleam__recs *r, const char **p, size_t *n) {
    for (;;) {
        size_t have = r->buf.len - r->at;
        if (have >= 4) {
            const unsigned char *h = (const unsigned char *)r->buf.p + r->at;
            size_t len = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
            if (have - 4 >= len) {
                *p = r->buf.p + r->at + 4;
                *n = len;
                r->at += 4 + len;
                return 1;
            }
            if (len + 4 > r->buf.cap && gleam__buf_reserve(&r->buf, len + 4 - r->buf.len)) {
                errno = ENOMEM;
                return -1;
            }
        }
        if (r->off >= r->end) {
            if (have) {
                errno = EIO;
                return -1;
            }
            return 0;
        }
        if (have) memmove(r->buf.p, r->buf.p + r->at, have); /* keep the partial record, read on */
        r->buf.len = have;
        r->at = 0;
        if (r->buf.cap - r->buf.len < 64 * 1024 && gleam__buf_reserve(&r->buf, 64 * 1024)) {
            errno = ENOMEM;
            return -1;
        }
        {
            size_t want = r->buf.cap - r->buf.len;
            ssize_t got;
            if (want > r->end - r->off) want = (size_t)(r->end - r->off);
            got = gleam__spill_read(r->file, r->off, r->buf.p + r->buf.len, want);
            if (got < 0) return -1;
            if (got == 0) {
                errno = EIO;
                return -1;
            }
            r->buf.len += (size_t)got;
            r->off += (uint64_t)got;
        }
    }
}

GLEAM__PRIV void gleam__recs_free(gleam__recs *r) { gleam__buf_free(&r->buf); }
