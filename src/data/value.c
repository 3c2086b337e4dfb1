/* value.c: typed values: conversions, the total order, their text form, lists. */
#include "data/data.h"

GLEAM_API gleam_value gleam_str(const char *s) { return gleam_bytes(s, s ? strlen(s) : 0); }

static int gleam__is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

GLEAM_API gleam_result gleam_parse_int64(gleam_value v, int64_t *out) {
    const char *p, *e;
    uint64_t acc = 0, limit;
    int neg = 0;
    if (v.type == GLEAM_INT) {
        *out = v.u.i;
        return GLEAM_OK;
    }
    if (v.type != GLEAM_BYTES) return GLEAM_ERR_VALUE;
    p = v.u.s;
    e = p + v.len;
    while (p < e && gleam__is_space(*p)) p++;
    while (e > p && gleam__is_space(e[-1])) e--;
    if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
    if (p == e) return GLEAM_ERR_VALUE;
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; p < e; p++) {
        unsigned d = (unsigned char)*p - '0';
        if (d > 9) return GLEAM_ERR_VALUE;
        if (acc >= 922337203685477580ull && acc > (limit - d) / 10) return GLEAM_ERR_VALUE; /* divide only near the limit */
        acc = acc * 10 + d;
    }
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return GLEAM_OK;
}

GLEAM_API gleam_result gleam_parse_double(gleam_value v, double *out) {
    char small[64], *buf = small, *end;
    const char *p, *e;
    size_t n;
    gleam_result r = GLEAM_OK;
    if (v.type == GLEAM_DOUBLE) {
        *out = v.u.d;
        return GLEAM_OK;
    }
    if (v.type == GLEAM_INT) {
        *out = (double)v.u.i;
        return GLEAM_OK;
    }
    if (v.type != GLEAM_BYTES) return GLEAM_ERR_VALUE;
    p = v.u.s;
    e = p + v.len;
    while (p < e && gleam__is_space(*p)) p++;
    while (e > p && gleam__is_space(e[-1])) e--;
    n = (size_t)(e - p);
    if (n == 0) return GLEAM_ERR_VALUE;
    if (n >= sizeof small && !(buf = (char *)gleam__malloc(n + 1))) return GLEAM_ERR_NOMEM;
    memcpy(buf, p, n);
    buf[n] = 0;
    errno = 0;
    *out = strtod(buf, &end);
    if (end != buf + n) r = GLEAM_ERR_VALUE;
    if (buf != small) gleam__free(buf);
    return r;
}

GLEAM_API int64_t gleam_to_int64_any(gleam_value v) {
    int64_t i;
    double d;
    switch (v.type) {
    case GLEAM_INT:
    case GLEAM_BOOL: return v.u.i;
    case GLEAM_DOUBLE:
        if (v.u.d != v.u.d) return 0;
        if (v.u.d >= 9223372036854775807.0) return INT64_MAX;
        if (v.u.d <= -9223372036854775808.0) return INT64_MIN;
        return (int64_t)v.u.d;
    case GLEAM_BYTES:
        if (gleam_parse_int64(v, &i) == GLEAM_OK) return i;
        if (gleam_parse_double(v, &d) == GLEAM_OK) return gleam_to_int64(gleam_double(d));
        return 0;
    default: return 0;
    }
}

GLEAM_API double gleam_to_double(gleam_value v) {
    double d;
    switch (v.type) {
    case GLEAM_INT:
    case GLEAM_BOOL: return (double)v.u.i;
    case GLEAM_DOUBLE: return v.u.d;
    case GLEAM_BYTES: return gleam_parse_double(v, &d) == GLEAM_OK ? d : 0.0;
    default: return 0.0;
    }
}

/* The shortest "%.*g" text that reads back as the same double. */
static int gleam__double_text(double d, char *buf, size_t cap) {
    int prec, n = 0;
    if (d != d) return gleam__fmt_into(buf, cap, "NaN");
    if (d == HUGE_VAL) return gleam__fmt_into(buf, cap, "+Inf");
    if (d == -HUGE_VAL) return gleam__fmt_into(buf, cap, "-Inf");
    for (prec = 15; prec <= 17; prec++) {
        char tmp[40];
        n = gleam__fmt_into(tmp, sizeof tmp, "%.*g", prec, d);
        if (prec == 17 || strtod(tmp, NULL) == d) {
            if (cap) {
                size_t k = (size_t)n < cap ? (size_t)n : cap - 1;
                memcpy(buf, tmp, k);
                buf[k] = 0;
            }
            break;
        }
    }
    return n;
}

/* The decimal digits of i at out (room for 20 bytes); their number. */
GLEAM__PRIV size_t gleam__int_digits(char *out, int64_t i) {
    char tmp[24], *p = tmp + sizeof tmp;
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (i < 0) *--p = '-';
    memcpy(out, p, (size_t)(tmp + sizeof tmp - p));
    return (size_t)(tmp + sizeof tmp - p);
}

/* Append the decimal text of i to b; 0, or -1 when out of memory. */
GLEAM__PRIV int gleam__int_text(gleam__buf *b, int64_t i) {
    if (gleam__buf_reserve(b, 20)) return -1;
    b->len += gleam__int_digits(b->p + b->len, i);
    return 0;
}

/* Append the text form of v, a value `depth` lists deep, to b; 0, or -1 when out of memory. */
static int gleam__value_text_at(gleam__buf *b, gleam_value v, int depth) {
    char tmp[48];
    int n;
    switch (v.type) {
    case GLEAM_NIL: return 0;
    case GLEAM_BOOL: return gleam__buf_add(b, v.u.i ? "true" : "false", v.u.i ? 4 : 5);
    case GLEAM_INT: return gleam__int_text(b, v.u.i);
    case GLEAM_DOUBLE:
        n = gleam__double_text(v.u.d, tmp, sizeof tmp);
        return gleam__buf_add(b, tmp, (size_t)n);
    case GLEAM_BYTES: return gleam__buf_add(b, v.u.s, v.len);
    case GLEAM_LIST: {
        gleam_list_iter it = gleam_list_begin(v);
        gleam_value e;
        int first = 1;
        if (depth >= GLEAM__LIST_DEPTH) return gleam__buf_add(b, "[...]", 5);
        if (gleam__buf_add(b, "[", 1)) return -1;
        while (gleam_list_next(&it, &e)) {
            if (!first && gleam__buf_add(b, " ", 1)) return -1;
            if (gleam__value_text_at(b, e, depth + 1)) return -1;
            first = 0;
        }
        return gleam__buf_add(b, "]", 1);
    }
    }
    return 0;
}

GLEAM__PRIV int gleam__value_text(gleam__buf *b, gleam_value v) { return gleam__value_text_at(b, v, 0); }

/* Append bytes v to b in double quotes, escaped as C would, cut after 64 bytes. 0 or -1. */
static int gleam__quoted_text(gleam__buf *b, gleam_value v) {
    static const char hex[] = "0123456789abcdef";
    uint32_t i, n = v.len > 64 ? 64 : v.len;
    if (gleam__buf_add(b, "\"", 1)) return -1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v.u.s[i];
        char e[4] = {'\\', (char)c, 0, 0};
        size_t k = 2;
        if (c == '\t') e[1] = 't';
        else if (c == '\n') e[1] = 'n';
        else if (c == '\r') e[1] = 'r';
        else if (c < 0x20 || c == 0x7f) {
            e[1] = 'x';
            e[2] = hex[c >> 4];
            e[3] = hex[c & 15];
            k = 4;
        } else if (c != '"' && c != '\\') {
            e[0] = (char)c;
            k = 1;
        }
        if (gleam__buf_add(b, e, k)) return -1;
    }
    return gleam__buf_add(b, n < v.len ? "\"..." : "\"", n < v.len ? 4 : 1);
}

GLEAM__PRIV const char *gleam__key_text(char *out, size_t cap, const char *key, size_t klen) {
    gleam__buf b = {0, 0, 0};
    const char *p = key, *end = key + klen;
    gleam_value v;
    int nf = 0, i, bad = 0;
    if (!cap) return out;
    while (p < end && gleam__skip_value(&p, end) == GLEAM_OK) nf++;
    p = key;
    if (nf > 1) bad |= gleam__buf_add(&b, "(", 1);
    for (i = 0; i < nf && !bad && gleam__unpack_value(&p, end, &v) == GLEAM_OK; i++) {
        if (i) bad |= gleam__buf_add(&b, ", ", 2);
        bad |= v.type == GLEAM_BYTES ? gleam__quoted_text(&b, v) : gleam__value_text(&b, v);
    }
    if (nf > 1) bad |= gleam__buf_add(&b, ")", 1);
    if (bad) gleam__fmt_into(out, cap, "(a key that cannot be shown: out of memory)");
    else if (b.len < cap) {
        if (b.len) memcpy(out, b.p, b.len);
        out[b.len] = 0;
    } else {
        gleam__fmt_into(out, cap, "%.*s...", cap > 4 ? (int)(cap - 4) : 0, b.p);
    }
    gleam__buf_free(&b);
    return out;
}

GLEAM_API size_t gleam_to_string(gleam_value v, char *buf, size_t cap) {
    gleam__buf b = {0, 0, 0};
    size_t n;
    if (gleam__value_text(&b, v)) {
        if (cap) buf[0] = 0;
        gleam__buf_free(&b);
        return 0;
    }
    n = b.len;
    if (cap) {
        size_t k = n < cap ? n : cap - 1;
        if (k) memcpy(buf, b.p, k);
        buf[k] = 0;
    }
    gleam__buf_free(&b);
    return n;
}

static int gleam__type_rank(gleam_type t) {
    switch (t) {
    case GLEAM_NIL: return 0;
    case GLEAM_BOOL: return 1;
    case GLEAM_INT:
    case GLEAM_DOUBLE: return 2;
    case GLEAM_BYTES: return 3;
    case GLEAM_LIST: return 4;
    }
    return 5;
}

static int gleam__cmp_bytes(const char *a, size_t na, const char *b, size_t nb) {
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c < 0 ? -1 : 1;
    return na < nb ? -1 : na > nb;
}

/* gleam_compare of a and b, values `depth` lists deep. */
static int gleam__compare_at(gleam_value a, gleam_value b, int depth) {
    int ra = gleam__type_rank(a.type), rb = gleam__type_rank(b.type);
    if (ra != rb) return ra < rb ? -1 : 1;
    switch (a.type) {
    case GLEAM_NIL: return 0;
    case GLEAM_BOOL: return (a.u.i > b.u.i) - (a.u.i < b.u.i);
    case GLEAM_INT:
    case GLEAM_DOUBLE: {
        long double x, y;
        if (a.type == GLEAM_INT && b.type == GLEAM_INT) return (a.u.i > b.u.i) - (a.u.i < b.u.i);
        x = a.type == GLEAM_INT ? (long double)a.u.i : (long double)a.u.d;
        y = b.type == GLEAM_INT ? (long double)b.u.i : (long double)b.u.d;
        if (x != x || y != y) return (x == x) - (y == y); /* NaN first among numbers */
        return (x > y) - (x < y);
    }
    case GLEAM_BYTES: return gleam__cmp_bytes(a.u.s, a.len, b.u.s, b.len);
    case GLEAM_LIST: {
        gleam_list_iter ia = gleam_list_begin(a), ib = gleam_list_begin(b);
        gleam_value ea, eb;
        if (depth >= GLEAM__LIST_DEPTH) return gleam__cmp_bytes(a.u.s, a.len, b.u.s, b.len); /* still a total order */
        for (;;) {
            int ha = gleam_list_next(&ia, &ea), hb = gleam_list_next(&ib, &eb), c;
            if (!ha || !hb) return ha - hb;
            if ((c = gleam__compare_at(ea, eb, depth + 1)) != 0) return c;
        }
    }
    }
    return 0;
}

GLEAM_API int gleam_compare(gleam_value a, gleam_value b) { return gleam__compare_at(a, b, 0); }

/* >>lists: a list value holds the MessagePack array it was made from ------------------- */

GLEAM_API gleam_list_iter gleam_list_begin(gleam_value list) {
    gleam_list_iter it;
    it.p = it.end = NULL;
    it.left = 0;
    if (list.type == GLEAM_LIST) {
        const char *p = list.u.s;
        it.end = p + list.len;
        if (gleam__unpack_header(&p, it.end, &it.left) == GLEAM_OK) it.p = p;
        else it.left = 0;
    }
    return it;
}

GLEAM_API uint32_t gleam_list_len(gleam_value list) { return gleam_list_begin(list).left; }

GLEAM_API int gleam_list_next(gleam_list_iter *it, gleam_value *out) {
    if (!it->left || !it->p) return 0;
    if (gleam__unpack_value(&it->p, it->end, out) != GLEAM_OK) {
        it->left = 0;
        return 0;
    }
    it->left--;
    return 1;
}
