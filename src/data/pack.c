/* pack.c: rows in MessagePack, the one encoding used wherever rows leave a function call:
   between shards, to disk, and (later) over the network. Encoding is canonical (the
   shortest form of each value), so equal keys have equal bytes. */
#include "data/data.h"

static size_t gleam__int_size(int64_t i) {
    if (i >= 0) {
        if (i < 128) return 1;
        if (i < 256) return 2;
        if (i < 65536) return 3;
        if (i <= 0xffffffffll) return 5;
        return 9;
    }
    if (i >= -32) return 1;
    if (i >= -128) return 2;
    if (i >= -32768) return 3;
    if (i >= -2147483647ll - 1) return 5;
    return 9;
}

static size_t gleam__str_hdr(uint32_t n) { return n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5; }

GLEAM__PRIV size_t gleam__packed_size(gleam_value v) {
    switch (v.type) {
    case GLEAM_NIL:
    case GLEAM_BOOL: return 1;
    case GLEAM_INT: return gleam__int_size(v.u.i);
    case GLEAM_DOUBLE: return 9;
    case GLEAM_BYTES: return gleam__str_hdr(v.len) + v.len;
    case GLEAM_LIST: return v.len;
    }
    return 1;
}

/* Write v at p, which has gleam__packed_size(v) bytes. */
GLEAM__PRIV unsigned char *gleam__put_value(unsigned char *p, gleam_value v) {
    switch (v.type) {
    case GLEAM_NIL: *p++ = 0xc0; break;
    case GLEAM_BOOL: *p++ = v.u.i ? 0xc3 : 0xc2; break;
    case GLEAM_INT: {
        int64_t i = v.u.i;
        if (i >= 0) {
            if (i < 128) *p++ = (unsigned char)i;
            else if (i < 256) { *p++ = 0xcc; *p++ = (unsigned char)i; }
            else if (i < 65536) { *p++ = 0xcd; gleam__be16(p, (uint32_t)i); p += 2; }
            else if (i <= 0xffffffffll) { *p++ = 0xce; gleam__be32(p, (uint32_t)i); p += 4; }
            else { *p++ = 0xcf; gleam__be64(p, (uint64_t)i); p += 8; }
        } else {
            if (i >= -32) *p++ = (unsigned char)(0xe0 | (i & 0x1f));
            else if (i >= -128) { *p++ = 0xd0; *p++ = (unsigned char)(i & 0xff); }
            else if (i >= -32768) { *p++ = 0xd1; gleam__be16(p, (uint32_t)(i & 0xffff)); p += 2; }
            else if (i >= -2147483647ll - 1) { *p++ = 0xd2; gleam__be32(p, (uint32_t)(i & 0xffffffff)); p += 4; }
            else { *p++ = 0xd3; gleam__be64(p, (uint64_t)i); p += 8; }
        }
        break;
    }
    case GLEAM_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v.u.d, 8);
        *p++ = 0xcb;
        gleam__be64(p, bits);
        p += 8;
        break;
    }
    case GLEAM_BYTES: {
        uint32_t n = v.len;
        if (n < 32) *p++ = (unsigned char)(0xa0 | n);
        else if (n < 256) { *p++ = 0xd9; *p++ = (unsigned char)n; }
        else if (n < 65536) { *p++ = 0xda; gleam__be16(p, n); p += 2; }
        else { *p++ = 0xdb; gleam__be32(p, n); p += 4; }
        if (n) memcpy(p, v.u.s, n);
        p += n;
        break;
    }
    case GLEAM_LIST:
        if (v.len) memcpy(p, v.u.s, v.len);
        p += v.len;
        break;
    default: *p++ = 0xc0; break; /* not a type: gleam_emit refuses these; never write garbage */
    }
    return p;
}

GLEAM__PRIV int gleam__pack_value(gleam__buf *b, gleam_value v) {
    size_t n = gleam__packed_size(v);
    if (gleam__buf_reserve(b, n)) return -1;
    gleam__put_value((unsigned char *)b->p + b->len, v);
    b->len += n;
    return 0;
}

GLEAM__PRIV unsigned char *gleam__put_array(unsigned char *p, uint32_t n) {
    if (n < 16) *p++ = (unsigned char)(0x90 | n);
    else if (n < 65536) { *p++ = 0xdc; gleam__be16(p, n); p += 2; }
    else { *p++ = 0xdd; gleam__be32(p, n); p += 4; }
    return p;
}

GLEAM__PRIV size_t gleam__array_hdr(uint32_t n) { return n < 16 ? 1 : n < 65536 ? 3 : 5; }

GLEAM__PRIV size_t gleam__row_size(const gleam_value *row, int n) {
    size_t need = gleam__array_hdr((uint32_t)n);
    int i;
    for (i = 0; i < n; i++) need += gleam__packed_size(row[i]);
    return need;
}

GLEAM__PRIV char *gleam__put_row(char *out, const gleam_value *row, int n) {
    unsigned char *p = gleam__put_array((unsigned char *)out, (uint32_t)n);
    int i;
    for (i = 0; i < n; i++) p = gleam__put_value(p, row[i]);
    return (char *)p;
}

GLEAM__PRIV int gleam__pack_row(gleam__buf *b, const gleam_value *row, int n) {
    size_t need = gleam__row_size(row, n);
    if (gleam__buf_reserve(b, need)) return -1;
    gleam__put_row(b->p + b->len, row, n);
    b->len += need;
    return 0;
}

GLEAM__PRIV size_t gleam__row_len(const char *row) {
    const char *p = row;
    gleam__skip_value(&p, GLEAM__NOEND(row));
    return (size_t)(p - row);
}

GLEAM__PRIV gleam_value gleam__row_field(const char *row, int field) {
    const char *p = row, *end = GLEAM__NOEND(row);
    uint32_t n, i;
    gleam_value v = gleam_nil();
    if (gleam__unpack_header(&p, end, &n) != GLEAM_OK || field < 1 || (uint32_t)field > n) return v;
    for (i = 1; i < (uint32_t)field; i++) gleam__skip_value(&p, end);
    gleam__unpack_value(&p, end, &v);
    return v;
}

GLEAM__PRIV gleam_result gleam__unpack_header(const char **pp, const char *end, uint32_t *n) {
    const unsigned char *p = (const unsigned char *)*pp, *e = (const unsigned char *)end;
    if (p >= e) return GLEAM_ERR_INPUT;
    if ((*p & 0xf0) == 0x90) { *n = *p & 0x0f; p += 1; }
    else if (*p == 0xdc) { if (e - p < 3) return GLEAM_ERR_INPUT; *n = gleam__rd16(p + 1); p += 3; }
    else if (*p == 0xdd) { if (e - p < 5) return GLEAM_ERR_INPUT; *n = gleam__rd32(p + 1); p += 5; }
    else return GLEAM_ERR_INPUT;
    *pp = (const char *)p;
    return GLEAM_OK;
}

GLEAM__PRIV gleam_result gleam__skip_value(const char **pp, const char *end) {
    gleam_value v;
    return gleam__unpack_value(pp, end, &v);
}

GLEAM__PRIV gleam_result gleam__unpack_value(const char **pp, const char *end, gleam_value *out) {
    const unsigned char *p = (const unsigned char *)*pp, *e = (const unsigned char *)end;
    size_t avail;
    unsigned c;
    uint32_t n = 0;
    if (p >= e) return GLEAM_ERR_INPUT;
    avail = (size_t)(e - p);
    c = *p;
    out->len = 0;
    if (c < 0x80) { out->type = GLEAM_INT; out->u.i = c; p += 1; goto done; }
    if (c >= 0xe0) { out->type = GLEAM_INT; out->u.i = (int64_t)(int8_t)c; p += 1; goto done; }
    if ((c & 0xe0) == 0xa0) { n = c & 0x1f; p += 1; goto bytes; }
    if ((c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd) {
        /* An array: its values walked without recursion (nested arrays add their counts to
           what is left), so no depth of nesting can exhaust the stack. */
        const char *start = (const char *)p, *q = start;
        size_t left = 1;
        while (left) {
            unsigned d;
            uint32_t k;
            if (q >= end) return GLEAM_ERR_INPUT;
            d = (unsigned char)*q;
            if ((d & 0xf0) == 0x90 || d == 0xdc || d == 0xdd) {
                if (gleam__unpack_header(&q, end, &k) != GLEAM_OK || k > (size_t)(end - q)) return GLEAM_ERR_INPUT;
                left += k; /* each value takes a byte at least: left stays below the bytes left */
            } else {
                gleam_value v;
                if (gleam__unpack_value(&q, end, &v) != GLEAM_OK) return GLEAM_ERR_INPUT;
            }
            left--;
        }
        if ((size_t)(q - start) > 0xffffffffu) return GLEAM_ERR_INPUT;
        out->type = GLEAM_LIST;
        out->u.s = start;
        out->len = (uint32_t)(q - start);
        *pp = q;
        return GLEAM_OK;
    }
    switch (c) {
    case 0xc0: out->type = GLEAM_NIL; out->u.i = 0; p += 1; goto done;
    case 0xc2: case 0xc3: out->type = GLEAM_BOOL; out->u.i = c == 0xc3; p += 1; goto done;
    case 0xcc: if (avail < 2) return GLEAM_ERR_INPUT; out->type = GLEAM_INT; out->u.i = p[1]; p += 2; goto done;
    case 0xcd: if (avail < 3) return GLEAM_ERR_INPUT; out->type = GLEAM_INT; out->u.i = gleam__rd16(p + 1); p += 3; goto done;
    case 0xce: if (avail < 5) return GLEAM_ERR_INPUT; out->type = GLEAM_INT; out->u.i = gleam__rd32(p + 1); p += 5; goto done;
    case 0xcf: {
        uint64_t u;
        if (avail < 9) return GLEAM_ERR_INPUT;
        u = gleam__rd64(p + 1);
        if (u > (uint64_t)INT64_MAX) { out->type = GLEAM_DOUBLE; out->u.d = (double)u; }
        else { out->type = GLEAM_INT; out->u.i = (int64_t)u; }
        p += 9;
        goto done;
    }
    case 0xd0: if (avail < 2) return GLEAM_ERR_INPUT; out->type = GLEAM_INT; out->u.i = (int8_t)p[1]; p += 2; goto done;
    case 0xd1: if (avail < 3) return GLEAM_ERR_INPUT; out->type = GLEAM_INT; out->u.i = (int16_t)gleam__rd16(p + 1); p += 3; goto done;
    case 0xd2: if (avail < 5) return GLEAM_ERR_INPUT; out->type = GLEAM_INT; out->u.i = (int32_t)gleam__rd32(p + 1); p += 5; goto done;
    case 0xd3: if (avail < 9) return GLEAM_ERR_INPUT; out->type = GLEAM_INT; out->u.i = (int64_t)gleam__rd64(p + 1); p += 9; goto done;
    case 0xca: {
        uint32_t bits = 0;
        float f;
        if (avail < 5) return GLEAM_ERR_INPUT;
        bits = gleam__rd32(p + 1);
        memcpy(&f, &bits, 4);
        out->type = GLEAM_DOUBLE;
        out->u.d = f;
        p += 5;
        goto done;
    }
    case 0xcb: {
        uint64_t bits;
        if (avail < 9) return GLEAM_ERR_INPUT;
        bits = gleam__rd64(p + 1);
        out->type = GLEAM_DOUBLE;
        memcpy(&out->u.d, &bits, 8);
        p += 9;
        goto done;
    }
    case 0xd9: case 0xc4: if (avail < 2) return GLEAM_ERR_INPUT; n = p[1]; p += 2; goto bytes;
    case 0xda: case 0xc5: if (avail < 3) return GLEAM_ERR_INPUT; n = gleam__rd16(p + 1); p += 3; goto bytes;
    case 0xdb: case 0xc6: if (avail < 5) return GLEAM_ERR_INPUT; n = gleam__rd32(p + 1); p += 5; goto bytes;
    default: return GLEAM_ERR_INPUT; /* maps, ext types: not rows of ours */
    }
bytes:
    if ((size_t)(e - p) < n) return GLEAM_ERR_INPUT;
    out->type = GLEAM_BYTES;
    out->u.s = (const char *)p;
    out->len = n;
    p += n;
done:
    *pp = (const char *)p;
    return GLEAM_OK;
}

GLEAM__PRIV int gleam__vals_reserve(gleam__vals *a, int n) {
    if (n > a->cap) {
        int cap = a->cap ? a->cap : 8;
        gleam_value *v;
        while (cap < n) cap *= 2;
        v = (gleam_value *)gleam__realloc(a->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        a->v = v;
        a->cap = cap;
    }
    return 0;
}

/* n packed values at *p into a (resized). */
GLEAM__PRIV gleam_result gleam__unpack_values(const char **p, const char *end, uint32_t n, gleam__vals *a) {
    uint32_t i;
    gleam_result r;
    if ((size_t)n > (size_t)(end - *p)) return GLEAM_ERR_INPUT; /* each value takes a byte at least */
    if (gleam__vals_reserve(a, (int)n)) return GLEAM_ERR_NOMEM;
    for (i = 0; i < n; i++)
        if ((r = gleam__unpack_value(p, end, &a->v[i])) != GLEAM_OK) return r;
    a->n = (int)n;
    return GLEAM_OK;
}

GLEAM__PRIV gleam_result gleam__unpack_row(const char **p, const char *end, gleam__vals *a) {
    uint32_t n;
    gleam_result r = gleam__unpack_header(p, end, &n);
    return r != GLEAM_OK ? r : gleam__unpack_values(p, end, n, a);
}

GLEAM__PRIV void gleam__vals_free(gleam__vals *a) {
    gleam__free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

GLEAM__PRIV gleam_result gleam__check_rows_last(const char *p, size_t n, uint64_t *rows, const char **last) {
    const char *end = p + n, *at = NULL;
    uint64_t count = 0;
    while (p < end) {
        uint32_t k, i;
        at = p;
        if (gleam__unpack_header(&p, end, &k) != GLEAM_OK) return GLEAM_ERR_INPUT;
        for (i = 0; i < k; i++)
            if (gleam__skip_value(&p, end) != GLEAM_OK) return GLEAM_ERR_INPUT;
        count++;
    }
    *rows = count;
    if (last) *last = at;
    return GLEAM_OK;
}

GLEAM__PRIV gleam_result gleam__check_rows(const char *p, size_t n, uint64_t *rows) {
    return gleam__check_rows_last(p, n, rows, NULL);
}
