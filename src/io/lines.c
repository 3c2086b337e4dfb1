/* lines.c: rows as lines of text: printlnf's formats (its common case, strings and integers
   by %s, %v or %d, without printf), TSV, and CSV quoted as RFC 4180 asks. */
#include "io/io.h"

/* Append printf(spec, x) to b. */
static int gleam__buf_printf(gleam__buf *b, const char *spec, int is_int, long long i, double d) {
    int n = is_int ? snprintf(NULL, 0, spec, i) : snprintf(NULL, 0, spec, d);
    if (n < 0 || gleam__buf_reserve(b, (size_t)n + 1)) return -1;
    if (is_int) snprintf(b->p + b->len, (size_t)n + 1, spec, i);
    else snprintf(b->p + b->len, (size_t)n + 1, spec, d);
    b->len += (size_t)n;
    return 0;
}

/* gleam__format_row's common case: text, strings and integers by %s, %v or %d, no width or
   precision. The line's room is reserved once and each piece copied without a check.
   GLEAM_ERR_ARG when the row is not that case. */
static gleam_result gleam__format_plain(gleam__buf *b, const gleam__fmt *fmt, int nfmt, const gleam_value *row, int n) {
    size_t need = 1;
    int i, arg = 0;
    char *o;
    for (i = 0; i < nfmt; i++) {
        const gleam__fmt *x = &fmt[i];
        int str = x->conv == 's' || x->conv == 'v';
        if (!x->conv) {
            need += x->len;
            continue;
        }
        if (arg >= n || x->width >= 0 || x->prec >= 0) return GLEAM_ERR_ARG;
        if (str && row[arg].type == GLEAM_BYTES) need += row[arg].len;
        else if ((str || x->plain) && row[arg].type == GLEAM_INT) need += 20;
        else return GLEAM_ERR_ARG;
        arg++;
    }
    if (b->cap - b->len < need && gleam__buf_reserve(b, need)) return GLEAM_ERR_NOMEM;
    o = b->p + b->len;
    for (i = 0, arg = 0; i < nfmt; i++) {
        const gleam__fmt *x = &fmt[i];
        const gleam_value *v = &row[arg];
        if (!x->conv) {
            memcpy(o, x->text, x->len);
            o += x->len;
            continue;
        }
        arg++;
        if (v->type == GLEAM_BYTES) {
            if (v->len) memcpy(o, v->u.s, v->len);
            o += v->len;
        } else {
            o += gleam__int_digits(o, v->u.i);
        }
    }
    *o++ = '\n';
    b->len = (size_t)(o - b->p);
    return GLEAM_OK;
}

GLEAM__PRIV gleam_result gleam__format_row(gleam__buf *b, const gleam__fmt *fmt, int nfmt, const gleam_value *row, int n) {
    int i, arg = 0;
    gleam_result r = gleam__format_plain(b, fmt, nfmt, row, n);
    if (r != GLEAM_ERR_ARG) return r;
    for (i = 0; i < nfmt; i++) {
        const gleam__fmt *x = &fmt[i];
        int bad = 0;
        if (!x->conv) {
            bad = gleam__buf_add(b, x->text, x->len);
        } else if (arg >= n) {
            char miss[32];
            int k = gleam__fmt_into(miss, sizeof miss, "%%!%c(MISSING)", x->conv);
            bad = gleam__buf_add(b, miss, (size_t)k);
        } else {
            gleam_value v = row[arg++];
            switch (x->conv) {
            case 's':
            case 'v': {
                size_t at = b->len, len, pad;
                if (gleam__value_text(b, v)) return GLEAM_ERR_NOMEM;
                len = b->len - at;
                if (x->prec >= 0 && (size_t)x->prec < len) b->len = at + (len = (size_t)x->prec);
                if (x->width > 0 && (size_t)x->width > len) {
                    pad = (size_t)x->width - len;
                    if (gleam__buf_reserve(b, pad)) return GLEAM_ERR_NOMEM;
                    if (!x->left) memmove(b->p + at + pad, b->p + at, len);
                    memset(x->left ? b->p + at + len : b->p + at, ' ', pad);
                    b->len += pad;
                }
                break;
            }
            case 'd':
                if (x->plain) { /* no printf */
                    bad = gleam__int_text(b, gleam_to_int64(v));
                    break;
                }
                bad = gleam__buf_printf(b, x->spec, 1, (long long)gleam_to_int64(v), 0);
                break;
            case 'x': case 'X': bad = gleam__buf_printf(b, x->spec, 1, (long long)gleam_to_int64(v), 0); break;
            default: bad = gleam__buf_printf(b, x->spec, 0, 0, gleam_to_double(v)); break;
            }
        }
        if (bad) return GLEAM_ERR_NOMEM;
    }
    return gleam__buf_add(b, "\n", 1) ? GLEAM_ERR_NOMEM : GLEAM_OK;
}

/* A TSV or CSV line for the row. */
GLEAM__PRIV gleam_result gleam__delimited_row(gleam__buf *b, const gleam_value *row, int n, int csv) {
    int i;
    for (i = 0; i < n; i++) {
        size_t at;
        if (i && gleam__buf_add(b, csv ? "," : "\t", 1)) return GLEAM_ERR_NOMEM;
        at = b->len;
        if (gleam__value_text(b, row[i])) return GLEAM_ERR_NOMEM;
        if (csv) {
            size_t len = b->len - at, k, quotes = 0;
            int need = 0;
            for (k = at; k < b->len; k++) {
                char c = b->p[k];
                need |= c == ',' || c == '"' || c == '\n' || c == '\r';
                quotes += c == '"';
            }
            if (need) { /* RFC 4180: quote the field, double its quotes */
                size_t src, dst;
                if (gleam__buf_reserve(b, quotes + 2)) return GLEAM_ERR_NOMEM;
                dst = at + len + quotes + 2;
                b->p[--dst] = '"';
                for (src = at + len; src-- > at;) {
                    b->p[--dst] = b->p[src];
                    if (b->p[src] == '"') b->p[--dst] = '"';
                }
                b->p[--dst] = '"';
                b->len = at + len + quotes + 2;
            }
        }
    }
    return gleam__buf_add(b, "\n", 1) ? GLEAM_ERR_NOMEM : GLEAM_OK;
}

