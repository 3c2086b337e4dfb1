/* text.c: formatting into a caller's buffer, the texts of result codes, the clock. */
#include "base/base.h"

GLEAM__PRIV int gleam__vfmt(char *dst, size_t cap, const char *fmt, va_list ap) {
    int n = vsnprintf(dst, cap, fmt, ap);
    if (n < 0 && cap) dst[0] = 0;
    return n;
}

GLEAM__PRIV int gleam__fmt_into(char *dst, size_t cap, const char *fmt, ...) {
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = gleam__vfmt(dst, cap, fmt, ap);
    va_end(ap);
    return n;
}

GLEAM__PRIV double gleam__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

GLEAM_API const char *gleam_result_str(gleam_result r) {
    switch (r) {
#define GLEAM__CASE(name, value, text) \
    case name: return text;
        GLEAM_RESULTS(GLEAM__CASE)
#undef GLEAM__CASE
    default: return "unknown result";
    }
}

/* "812 B", "1.5 KB", "12.3 MB", "1.20 GB" */
GLEAM__PRIV const char *gleam__fmt_bytes(char *buf, size_t cap, double x) {
    if (x < 1024) gleam__fmt_into(buf, cap, "%.0f B", x);
    else if (x < 1024.0 * 1024) gleam__fmt_into(buf, cap, "%.1f KB", x / 1024);
    else if (x < 1024.0 * 1024 * 1024) gleam__fmt_into(buf, cap, "%.1f MB", x / (1024.0 * 1024));
    else gleam__fmt_into(buf, cap, "%.2f GB", x / (1024.0 * 1024 * 1024));
    return buf;
}

/* "950", "12.3 k", "4.56 M" */
GLEAM__PRIV const char *gleam__fmt_count(char *buf, size_t cap, double x) {
    if (x < 1e4) gleam__fmt_into(buf, cap, "%.0f", x);
    else if (x < 1e6) gleam__fmt_into(buf, cap, "%.1f k", x / 1e3);
    else if (x < 1e9) gleam__fmt_into(buf, cap, "%.2f M", x / 1e6);
    else gleam__fmt_into(buf, cap, "%.2f G", x / 1e9);
    return buf;
}
