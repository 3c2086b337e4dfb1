/* reader.c: what every source reader shares: a window of a file that moves forward (its
   bytes counted once for the statistics and the progress line), and a source's rows
   handed on. */
#include "io/io.h"

/* Keep buf[keep..len) (moved to the front) and read more after it, growing the buffer
   when keep == 0 and it is full. 0, or the errno of a failed read. */
GLEAM__PRIV int gleam__reader_fill(gleam__reader *rd, size_t keep) {
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

/* Emit one row from the source; DONE or errors end the reading. */
GLEAM__PRIV gleam_result gleam__source_emit(gleam__op *op, const gleam_value *row, int n) {
    gleam_result r = gleam__emit(op, row, n);
    gleam__progress_rows(op);
    if (r < 0 && !gleam__aborted(op->task->job))
        return gleam__fail(op->task, op->node, r, "%s", gleam_result_str(r));
    return r;
}

