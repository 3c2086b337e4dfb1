/* hash.c: a 64-bit hash of bytes, in the manner of the multiply-and-fold hashes (wyhash):
   each 16 bytes are folded into the state by one 64x64->128-bit multiply whose halves are
   xored, and the length and state get one more such multiply at the end, so both the high
   bits (partitions) and the low bits (table slots) are well mixed. Keys of up to 16
   bytes, the common case, take two multiplies and no loop. */
#include "base/base.h"

GLEAM__PRIV uint64_t gleam__hash(const void *key, size_t n) {
    const unsigned char *p = (const unsigned char *)key;
    uint64_t seed = GLEAM__H0, a, b;
    if (n <= 16) {
        if (n >= 8) {
            a = gleam__load64(p);
            b = gleam__load64(p + n - 8);
        } else if (n >= 4) {
            a = gleam__load32(p);
            b = gleam__load32(p + n - 4);
        } else if (n) {
            a = (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t left = n;
        while (left > 16) {
            seed = gleam__mix(gleam__load64(p) ^ GLEAM__H1, gleam__load64(p + 8) ^ seed);
            p += 16;
            left -= 16;
        }
        a = gleam__load64(p + left - 16); /* the last 16 bytes, overlapping earlier ones */
        b = gleam__load64(p + left - 8);
    }
    return gleam__mix(GLEAM__H1 ^ n, gleam__mix(a ^ GLEAM__H1, b ^ seed ^ GLEAM__H2));
}
