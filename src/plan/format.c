/* format.c: printlnf's format, parsed once into literal runs and conversions: when the
   flow is built (to report a bad format there) and when a job opens the step's output. */
#include "plan/plan.h"

#define GLEAM__FMT_WIDTH_MAX 65536 /* a width or precision past this is a mistake */

/* A width or precision at *p (digits), advanced past; -2 when it is too large. */
static int gleam__fmt_number(const char **p) {
    long x = 0;
    while (**p >= '0' && **p <= '9') {
        if (x <= GLEAM__FMT_WIDTH_MAX) x = x * 10 + (**p - '0');
        (*p)++;
    }
    return x > GLEAM__FMT_WIDTH_MAX ? -2 : (int)x;
}

GLEAM__PRIV gleam_result gleam__parse_format(const char *text, gleam__fmt **out, int *count, char *err, size_t errcap) {
    const char *p = text;
    gleam__fmt *fmt;
    int cap = 8, n = 0;
    *out = NULL;
    *count = 0;
    if (!(fmt = (gleam__fmt *)gleam__calloc((size_t)cap, sizeof *fmt))) goto nomem;
    while (*p) {
        gleam__fmt *x;
        if (n == cap) {
            gleam__fmt *g = (gleam__fmt *)gleam__realloc(fmt, (size_t)cap * 2 * sizeof *g);
            if (!g) goto nomem;
            fmt = g;
            cap *= 2;
        }
        x = &fmt[n++];
        memset(x, 0, sizeof *x);
        x->width = x->prec = -1;
        if (*p != '%' || p[1] == '%') { /* literal text; "%%" is one '%' */
            x->text = p;
            if (*p == '%') {
                x->len = 1;
                p += 2;
            } else {
                const char *q = strchr(p, '%');
                x->len = q ? (size_t)(q - p) : strlen(p);
                p += x->len;
            }
            continue;
        }
        {
            const char *start = p++;
            size_t k;
            while (*p && strchr("-+ #0", *p)) x->left |= *p++ == '-';
            if (*p >= '0' && *p <= '9') x->width = gleam__fmt_number(&p);
            if (*p == '.') {
                p++;
                x->prec = gleam__fmt_number(&p);
            }
            if (x->width == -2 || x->prec == -2) {
                gleam__fmt_into(err, errcap, "conversion \"%.*s\" has a width or precision over %d", (int)(p - start), start,
                                GLEAM__FMT_WIDTH_MAX);
                goto bad;
            }
            if (!*p || !strchr("svdifFeEgGxX", *p)) {
                gleam__fmt_into(err, errcap, "\"%.*s\" is not a conversion this format knows (%%s %%v %%d %%f %%e %%g %%x)",
                                (int)(p - start + (*p ? 1 : 0)), start);
                goto bad;
            }
            x->conv = *p == 'i' ? 'd' : *p;
            k = (size_t)(p - start);
            if (k + 4 > sizeof x->spec) {
                gleam__fmt_into(err, errcap, "conversion \"%.*s\" is too long", (int)k + 1, start);
                goto bad;
            }
            memcpy(x->spec, start, k);
            if (x->conv == 'd' || x->conv == 'x' || x->conv == 'X') x->spec[k++] = 'l', x->spec[k++] = 'l';
            x->spec[k++] = x->conv;
            x->spec[k] = 0;
            x->plain = !strcmp(x->spec, "%lld");
            p++;
        }
    }
    *out = fmt;
    *count = n;
    return GLEAM_OK;
nomem:
    gleam__free(fmt);
    gleam__fmt_into(err, errcap, "out of memory");
    return GLEAM_ERR_NOMEM;
bad:
    gleam__free(fmt);
    return GLEAM_ERR_ARG;
}
