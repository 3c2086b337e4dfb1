/* csv.c: CSV records (RFC 4180): quoted fields with doubled quotes, a record across lines,
   optional CRLF, and a bad record named by its file and line. A piece that starts inside
   a file first seeks the first record start, knowing from the quotes before it (files.c)
   whether it starts inside a quoted field. */
#include "io/io.h"

enum { GLEAM__CSV_ROW, GLEAM__CSV_MORE, GLEAM__CSV_BAD };

/* Parse the record at buf[at..len): fields into op->vals, *next after its end. */
/* The first separator, '\n' or '"' at or after q (end if none): eight bytes a step where
   the bytes of a word are in memory order, one at a time elsewhere. */
GLEAM__PRIV const char *gleam__csv_plain_end(const char *q, const char *end, char delim) {
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

GLEAM__PRIV gleam_result gleam__read_csv(gleam__source *src, const gleam__seg *sg, const char *path) {
    gleam__op *op = &src->op;
    gleam__reader *rd = &src->rd;
    gleam__task *t = op->task;
    size_t at = 0, next, bad_at = 0;
    const char *why = NULL;
    int skip_header = op->node->step->header && sg->first, e;
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

