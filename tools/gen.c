/* gen: makes the test and benchmark data of gleam-c, the same bytes for the same arguments on any machine. */
/*
 * usage: gen MODE ARGS... > FILE
 *
 *   gen text    BYTES [SEED] [VOCAB]      lines of 1..24 words until BYTES bytes are out (the
 *                                         last line completed); VOCAB distinct words (default
 *                                         100000) drawn with Zipf(1.0) frequencies
 *   gen records N [SEED]                  N sort records of exactly 100 bytes each: a 10-byte
 *                                         printable key, then printable filler and '\n'
 *   gen csv-a   N KEYS [SEED]             N lines a1,a2,a3,a4,a5, a1 a key k<digits> below KEYS
 *   gen csv-b   N KEYS [SEED]             N lines b1,b2,b3, b2 a key as in csv-a
 *   gen kv      N KEYS [SEED] [SKEW]      N lines key<TAB>int, keys Zipf(SKEW) (default 1.0;
 *                                         0 = uniform) over KEYS keys, ints in [-5000, 5000]
 *
 * SEED defaults to 1. Bad arguments print this usage and exit with status 2.
 * Build: cc -std=c11 -O2 -o gen tools/gen.c -lm
 *
 * How the output stays the same everywhere: every choice comes from one 64-bit generator
 * (xoshiro256**, seeded through a 64-bit mixer) and only integer arithmetic decides what is
 * written. The Zipf tables are built in fixed point (log2 and exp2 by integer algorithms,
 * SKEW parsed as a decimal fraction), so no libm function and no floating-point rounding or
 * contraction can change a single byte. Draws map a 64-bit random number onto a range with
 * the high half of a 64x64-bit product.
 *
 * The words of `text`: vocabulary entry i is fixed by i alone (SEED only changes which
 * entries are drawn), so texts with different seeds share their words, and a smaller VOCAB
 * is a prefix of a larger one. Each entry picks a length 1..12 (uniform); one in 16 entries
 * of length 2 or more ends in a digit, which takes the last place. Its letters are then the
 * next unused string of that many letters: entries of each letter count are numbered
 * 0, 1, 2... and number j is turned into a string by a bijection of [0, 26^m) (base-26
 * digits, mixed by invertible Feistel-like steps), so no two entries share their letters;
 * when every string of m letters is taken the entry moves to m + 1 letters. Some entries
 * are then capitalised (about 1 in 9) or written in capitals (1 in 64). Distinct entries
 * thus always give distinct words, and a vocabulary of 5 M words stays within 12
 * characters (the short lengths fill up and spill into 5 and 6 letters).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: gen text    BYTES [SEED] [VOCAB]\n"
    "       gen records N [SEED]\n"
    "       gen csv-a   N KEYS [SEED]\n"
    "       gen csv-b   N KEYS [SEED]\n"
    "       gen kv      N KEYS [SEED] [SKEW]\n";

static int usage(void) {
    fputs(usage_text, stderr);
    return 2;
}

static void die(const char *what) {
    fprintf(stderr, "gen: %s\n", what);
    exit(1);
}

static void *alloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) die("out of memory");
    size_t bytes = count * size;
    void *p = malloc(bytes > 0 ? bytes : 1);
    if (!p) die("out of memory");
    return p;
}

/* ---- output: one large buffer, written out with fwrite ---------------------------------- */

enum { OUT_SIZE = 1 << 20, OUT_SLACK = 1024 };
static char out_buf[OUT_SIZE + OUT_SLACK];
static size_t out_len;
static uint64_t out_total; /* bytes made so far, flushed or not */

static void out_flush(void) {
    if (out_len && fwrite(out_buf, 1, out_len, stdout) != out_len) die("cannot write the output");
    out_len = 0;
}

/* Room for `need` more bytes (need <= OUT_SLACK) at out_buf + out_len. */
static char *out_room(size_t need) {
    if (out_len + need > OUT_SIZE) out_flush();
    return out_buf + out_len;
}

static void out_advance(size_t n) {
    out_len += n;
    out_total += n;
}

static void out_bytes(const char *s, size_t n) {
    memcpy(out_room(n), s, n);
    out_advance(n);
}

/* Writes v in decimal, at least `width` digits (zero-padded); returns the length. */
static size_t put_uint(char *p, uint64_t v, int width) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width) tmp[n++] = '0';
    for (int i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
    return (size_t)n;
}

static void out_uint(uint64_t v, int width) { out_advance(put_uint(out_room(24), v, width)); }

static void out_int(int64_t v) {
    if (v < 0) {
        out_bytes("-", 1);
        out_uint((uint64_t)0 - (uint64_t)v, 1);
    } else {
        out_uint((uint64_t)v, 1);
    }
}

static void out_char(char c) {
    *out_room(1) = c;
    out_advance(1);
}

/* ---- random numbers ----------------------------------------------------------------------- */

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* An invertible 64-bit mixer (MurmurHash3's finaliser). */
static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

typedef struct {
    uint64_t s[4];
} rng;

/* A generator for (seed, stream): different streams of one seed are unrelated. */
static rng rng_new(uint64_t seed, uint64_t stream) {
    rng g;
    uint64_t x = mix64(seed ^ mix64(stream + 0x6a09e667f3bcc909ull));
    for (int i = 0; i < 4; i++) {
        x += 0xbb67ae8584caa73bull;
        g.s[i] = mix64(x);
    }
    if (!(g.s[0] | g.s[1] | g.s[2] | g.s[3])) g.s[0] = 1;
    return g;
}

/* xoshiro256** */
static uint64_t rng_next(rng *g) {
    uint64_t *s = g->s;
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* The high 64 bits of a * b, in portable integer arithmetic. */
static uint64_t mul_high(uint64_t a, uint64_t b) {
    uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

/* A number in [0, n). */
static uint64_t below(rng *g, uint64_t n) { return mul_high(rng_next(g), n); }

/* ---- Zipf draws in fixed point -------------------------------------------------------------- */

enum { FRAC = 30 };             /* fractional bits of log2 and of the exponent */
#define SKEW_ONE (1ull << 20)   /* SKEW in units of 2^-20 */
#define SKEW_MAX (64 * SKEW_ONE)

/* floor(sqrt(x)), digit by digit. */
static uint64_t isqrt(uint64_t x) {
    uint64_t root = 0, bit = 1ull << 62;
    while (bit > x) bit >>= 2;
    while (bit) {
        if (x >= root + bit) {
            x -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return root;
}

/* log2(r) for r >= 1, with FRAC fractional bits (truncated): squaring the mantissa yields
   one bit of the fraction per step. */
static uint64_t log2_fixed(uint64_t r) {
    int e = 0;
    while (r >> (e + 1)) e++;
    uint64_t y = e >= FRAC ? r >> (e - FRAC) : r << (FRAC - e); /* in [1, 2), FRAC bits */
    uint64_t result = (uint64_t)e << FRAC;
    for (int bit = FRAC - 1; bit >= 0; bit--) {
        y = (y * y) >> FRAC; /* y < 2^31: the square fits */
        if (y >> (FRAC + 1)) {
            y >>= 1;
            result |= 1ull << bit;
        }
    }
    return result;
}

/* half_root[k] = 2^(-2^-k) with 31 fractional bits, k = 1..FRAC, each the square root of the
   one before it (half_root[0] = 1/2). */
static uint64_t half_root[FRAC + 1];

static void half_root_init(void) {
    half_root[0] = 1ull << 30;
    for (int k = 1; k <= FRAC; k++) half_root[k] = isqrt(half_root[k - 1] << 31);
}

/* 2^(-t) for t >= 0 with FRAC fractional bits, as a number with 62 fractional bits. */
static uint64_t exp2_neg_fixed(uint64_t t) {
    uint64_t whole = t >> FRAC, acc = 1ull << 31; /* 1.0, 31 fractional bits */
    if (whole >= 62) return 0;
    for (int k = 1; k <= FRAC; k++)
        if ((t >> (FRAC - k)) & 1) acc = (acc * half_root[k]) >> 31;
    return (acc << 31) >> whole;
}

/* Ranks 0..n-1, rank r with weight (r + 1)^-skew. cum[r] holds the sum of the weights of ranks
   0..r in integers; a draw takes u in [0, total) and looks for the first r with cum[r] > u,
   starting from guide[b], the answer for the smallest u of the draw's bucket b (the top bits
   of the random number). A skew of 0 draws uniformly without tables. */
typedef struct {
    uint64_t n, total;
    uint64_t *cum;
    uint32_t *guide;
    int guide_bits;
} zipf;

static zipf zipf_new(uint64_t n, uint64_t skew) {
    zipf z = { n, 0, NULL, NULL, 0 };
    if (skew == 0) return z;
    if (n > UINT32_MAX) die("too many keys for a Zipf table");
    z.cum = alloc(n, sizeof *z.cum);
    /* the weights with 62 fractional bits, and their sum in 128 bits */
    uint64_t lo = 0, hi = 0;
    for (uint64_t r = 0; r < n; r++) {
        uint64_t w = exp2_neg_fixed(skew * log2_fixed(r + 1) / SKEW_ONE);
        z.cum[r] = w;
        lo += w;
        hi += lo < w;
    }
    /* scale them down so that the sum fits in 63 bits */
    int shift = 0;
    while (hi || lo >> 63) {
        lo = (lo >> 1) | (hi << 63);
        hi >>= 1;
        shift++;
    }
    uint64_t acc = 0;
    for (uint64_t r = 0; r < n; r++) {
        acc += z.cum[r] >> shift;
        z.cum[r] = acc;
    }
    z.total = acc;
    if (z.total == 0) die("Zipf weights underflow");
    z.guide_bits = 1; /* 2..2^24 buckets, about one for 16 ranks: small enough to stay in cache */
    while (z.guide_bits < 24 && (1ull << z.guide_bits) < n / 16) z.guide_bits++;
    uint64_t buckets = 1ull << z.guide_bits;
    z.guide = alloc(buckets + 1, sizeof *z.guide);
    uint64_t r = 0;
    for (uint64_t b = 0; b < buckets; b++) {
        uint64_t u = mul_high(b << (64 - z.guide_bits), z.total);
        while (z.cum[r] <= u) r++;
        z.guide[b] = (uint32_t)r;
    }
    z.guide[buckets] = (uint32_t)(n - 1);
    return z;
}

static void zipf_free(zipf *z) {
    free(z->cum);
    free(z->guide);
}

static uint64_t zipf_draw(const zipf *z, rng *g) {
    uint64_t x = rng_next(g);
    if (!z->cum) return mul_high(x, z->n);
    uint64_t u = mul_high(x, z->total);
    uint64_t b = x >> (64 - z->guide_bits);
    uint64_t lo = z->guide[b], hi = z->guide[b + 1];
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (z->cum[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ---- text ------------------------------------------------------------------------------------ */

enum { WORD_MAX = 15 };
typedef struct {
    char c[WORD_MAX];
    unsigned char len;
} word;

enum { LETTERS_MAX = 13 };
static uint64_t letter_weight[LETTERS_MAX];

/* The j-th string of m lowercase letters (j < 26^m), different for every j. */
static void letters_of(uint64_t j, int m, char *dst) {
    int d[LETTERS_MAX];
    uint64_t sum = 0;
    for (int i = 0; i < m; i++) {
        d[i] = (int)(j % 26);
        j /= 26;
        sum += (uint64_t)d[i] * letter_weight[i];
    }
    /* each step adds to one digit a function of the others: undone by subtracting it */
    for (int step = 0; step < 3 * m; step++) {
        int k = step % m;
        uint64_t others = sum - (uint64_t)d[k] * letter_weight[k];
        int add = (int)(mix64(others + (uint64_t)step * 0x9e3779b97f4a7c15ull + (uint64_t)m) % 26);
        int nd = (d[k] + add) % 26;
        sum = others + (uint64_t)nd * letter_weight[k];
        d[k] = nd;
    }
    for (int i = 0; i < m; i++) dst[i] = (char)('a' + d[i]);
}

static word *vocabulary(uint64_t vocab) {
    word *v = alloc(vocab, sizeof *v);
    for (int i = 0; i < LETTERS_MAX; i++) letter_weight[i] = mix64((uint64_t)i + 101) | 1;
    uint64_t used[LETTERS_MAX + 1] = { 0 }, room[LETTERS_MAX + 1];
    room[0] = 0;
    for (int m = 1; m <= LETTERS_MAX; m++) room[m] = room[m - 1] ? room[m - 1] * 26 : 26;
    rng g = rng_new(0x766f636162756c61ull, 0); /* the same words whatever the seed */
    for (uint64_t i = 0; i < vocab; i++) {
        int len = 1 + (int)below(&g, 12);
        int digit = len >= 2 && below(&g, 16) == 0;
        int m = len - digit;
        while (used[m] == room[m])
            if (++m > LETTERS_MAX) die("vocabulary too large");
        word *w = &v[i];
        letters_of(used[m]++, m, w->c);
        uint64_t caps = below(&g, 64);
        if (caps == 0)
            for (int k = 0; k < m; k++) w->c[k] = (char)(w->c[k] - 'a' + 'A');
        else if (caps <= 7)
            w->c[0] = (char)(w->c[0] - 'a' + 'A');
        if (digit) w->c[m] = (char)('0' + below(&g, 10));
        w->len = (unsigned char)(m + digit);
    }
    return v;
}

static void gen_text(uint64_t bytes, uint64_t seed, uint64_t vocab) {
    static const char *const sep[] = { ", ", ". ", " - ", "; " };
    word *words = vocabulary(vocab);
    zipf z = zipf_new(vocab, SKEW_ONE);
    rng g = rng_new(seed, 1);
    while (out_total < bytes) {
        int n = 1 + (int)below(&g, 24);
        for (int i = 0; i < n; i++) {
            const word *w = &words[zipf_draw(&z, &g)];
            memcpy(out_room(sizeof *w), w->c, sizeof w->c);
            out_advance(w->len);
            if (i + 1 == n) break;
            uint64_t s = below(&g, 32); /* 28 in 32 a single space */
            if (s < 28)
                out_char(' ');
            else
                out_bytes(sep[s - 28], strlen(sep[s - 28]));
        }
        out_char('\n');
    }
    zipf_free(&z);
    free(words);
}

/* ---- records ----------------------------------------------------------------------------------- */

static void gen_records(uint64_t n, uint64_t seed) {
    static const char hex[] = "0123456789ABCDEF";
    rng g = rng_new(seed, 2);
    for (uint64_t r = 0; r < n; r++) {
        char *p = out_room(100);
        /* the key: 10 characters from '!' to '~', five from each random number */
        for (int half = 0; half < 2; half++) {
            uint64_t x = below(&g, 7339040224ull); /* 94^5 */
            for (int k = 0; k < 5; k++) {
                p[half * 5 + k] = (char)('!' + x % 94);
                x /= 94;
            }
        }
        /* the filler: the record's number twice (decimal, hex), then letters from it */
        memcpy(p + 10, " #", 2);
        put_uint(p + 12, r, 20);
        memcpy(p + 32, " 0x", 3);
        for (int k = 0; k < 16; k++) p[35 + k] = hex[(r >> (60 - 4 * k)) & 15];
        p[51] = ' ';
        uint64_t h = mix64(r ^ seed);
        for (int k = 52; k < 99; k++) { /* a linear congruential sequence's top bits */
            h = h * 0x5851f42d4c957f2dull + 0x14057b7ef767814full;
            p[k] = (char)((k & 1 ? 'a' : 'A') + mul_high(h, 26));
        }
        p[99] = '\n';
        out_advance(100);
    }
}

/* ---- CSV and key/value rows --------------------------------------------------------------------- */

static int key_width(uint64_t keys) {
    int w = 1;
    for (uint64_t k = keys - 1; k >= 10; k /= 10) w++;
    return w < 8 ? 8 : w;
}

static void out_key(uint64_t k, int width) {
    out_char('k');
    out_uint(k, width);
}

/* 3..8 lowercase letters */
static void out_name(rng *g) {
    int n = 3 + (int)below(g, 6);
    char *p = out_room(8);
    uint64_t x = rng_next(g);
    for (int i = 0; i < n; i++) {
        p[i] = (char)('a' + mul_high(x, 26));
        x *= 26;
    }
    out_advance((size_t)n);
}

static void gen_csv_a(uint64_t n, uint64_t keys, uint64_t seed) {
    int width = key_width(keys);
    rng g = rng_new(seed, 3);
    for (uint64_t r = 0; r < n; r++) {
        out_key(below(&g, keys), width);
        out_char(',');
        out_name(&g);
        out_char(',');
        out_uint(below(&g, 1000), 1);
        out_bytes(",a4_", 4);
        out_uint(below(&g, 100000), 1);
        out_char(',');
        uint64_t milli = below(&g, 1000000); /* 0.000 .. 999.999 */
        out_uint(milli / 1000, 1);
        out_char('.');
        out_uint(milli % 1000, 3);
        out_char('\n');
    }
}

static void gen_csv_b(uint64_t n, uint64_t keys, uint64_t seed) {
    int width = key_width(keys);
    rng g = rng_new(seed, 4);
    for (uint64_t r = 0; r < n; r++) {
        out_bytes("b", 1);
        out_uint(r, 1);
        out_char(',');
        out_key(below(&g, keys), width);
        out_bytes(",b3_", 4);
        out_uint(below(&g, 100000), 1);
        out_char('\n');
    }
}

static void gen_kv(uint64_t n, uint64_t keys, uint64_t seed, uint64_t skew) {
    zipf z = zipf_new(keys, skew);
    rng g = rng_new(seed, 5);
    for (uint64_t r = 0; r < n; r++) {
        out_bytes("key", 3);
        out_uint(zipf_draw(&z, &g), 1);
        out_char('\t');
        out_int((int64_t)below(&g, 10001) - 5000);
        out_char('\n');
    }
    zipf_free(&z);
}

/* ---- arguments ------------------------------------------------------------------------------------ */

/* A decimal number: digits only, no overflow. */
static int parse_uint(const char *s, uint64_t *v) {
    uint64_t x = 0;
    if (!*s) return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10) return 0;
        x = x * 10 + d;
    }
    *v = x;
    return 1;
}

/* A non-negative decimal fraction ("1", "1.8", ".5") in units of 2^-20, rounded; at most
   SKEW_MAX. */
static int parse_skew(const char *s, uint64_t *v) {
    uint64_t whole = 0, frac = 0, scale = 1;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        whole = whole * 10 + (uint64_t)(*s - '0');
        if (whole > 64) return 0;
    }
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++, digits++)
            if (scale < 1000000000ull) {
                frac = frac * 10 + (uint64_t)(*s - '0');
                scale *= 10;
            }
    if (*s || !digits) return 0;
    *v = whole * SKEW_ONE + (frac * SKEW_ONE + scale / 2) / scale;
    return *v <= SKEW_MAX;
}

int main(int argc, char **argv) {
    uint64_t n, keys = 0, seed = 1, extra = 0, skew = SKEW_ONE;
    if (argc < 3 || !parse_uint(argv[2], &n)) return usage();
    const char *mode = argv[1];
    int keyed = !strcmp(mode, "csv-a") || !strcmp(mode, "csv-b") || !strcmp(mode, "kv");
    int most = !strcmp(mode, "kv") ? 6 : !strcmp(mode, "records") ? 4 : 5;
    if (strcmp(mode, "records") && strcmp(mode, "text") && !keyed) return usage();
    if (argc > most) return usage();
    int at = 3;
    if (keyed) {
        if (argc <= at || !parse_uint(argv[at], &keys) || keys == 0) return usage();
        at++;
    }
    if (argc > at && !parse_uint(argv[at], &seed)) return usage();
    at++;
    if (argc > at) {
        if (!strcmp(mode, "kv") ? !parse_skew(argv[at], &skew) : !parse_uint(argv[at], &extra))
            return usage();
    }
    half_root_init();
    if (!strcmp(mode, "text")) {
        if (argc <= 4) extra = 100000;
        if (extra == 0) return usage();
        gen_text(n, seed, extra);
    } else if (!strcmp(mode, "records")) {
        gen_records(n, seed);
    } else if (!strcmp(mode, "csv-a")) {
        gen_csv_a(n, keys, seed);
    } else if (!strcmp(mode, "csv-b")) {
        gen_csv_b(n, keys, seed);
    } else {
        gen_kv(n, keys, seed, skew);
    }
    out_flush();
    if (fflush(stdout) != 0 || ferror(stdout)) die("cannot write the output");
    return 0;
}
