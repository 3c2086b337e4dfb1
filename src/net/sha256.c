/* sha256.c: SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the challenge and response
   that every connection of the cluster proves the shared secret with, and for naming a job
   binary by its contents. Checked against the FIPS examples and the RFC 4231 vectors. */
#include "net/net.h"

static const uint32_t gleam__k256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define GLEAM__ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* One 64-byte block into the state. */
static void gleam__sha256_block(uint32_t h[8], const unsigned char *p) {
    uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
    int i;
    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (i = 16; i < 64; i++) {
        uint32_t s0 = GLEAM__ROR(w[i - 15], 7) ^ GLEAM__ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = GLEAM__ROR(w[i - 2], 17) ^ GLEAM__ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (i = 0; i < 64; i++) {
        t1 = k + (GLEAM__ROR(e, 6) ^ GLEAM__ROR(e, 11) ^ GLEAM__ROR(e, 25)) + ((e & f) ^ (~e & g)) + gleam__k256[i] + w[i];
        t2 = (GLEAM__ROR(a, 2) ^ GLEAM__ROR(a, 13) ^ GLEAM__ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

GLEAM__PRIV void gleam__sha256_init(gleam__sha256_ctx *s) {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->n = 0;
    s->fill = 0;
}

GLEAM__PRIV void gleam__sha256_add(gleam__sha256_ctx *s, const void *data, size_t len) {
    const unsigned char *p = (const unsigned char *)data;
    s->n += len;
    if (s->fill) {
        size_t k = GLEAM__MIN(len, 64 - s->fill);
        memcpy(s->buf + s->fill, p, k);
        s->fill += k;
        p += k;
        len -= k;
        if (s->fill < 64) return;
        gleam__sha256_block(s->h, s->buf);
        s->fill = 0;
    }
    for (; len >= 64; p += 64, len -= 64) gleam__sha256_block(s->h, p);
    memcpy(s->buf, p, len);
    s->fill = len;
}

GLEAM__PRIV void gleam__sha256_end(gleam__sha256_ctx *s, unsigned char out[GLEAM__SHA256_LEN]) {
    uint64_t bits = (uint64_t)s->n * 8;
    unsigned char pad[72];
    size_t k = (s->fill < 56 ? 56 : 120) - s->fill; /* a 1 bit, zeros, then the length */
    int i;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    gleam__be64(pad + k, bits);
    gleam__sha256_add(s, pad, k + 8);
    for (i = 0; i < 8; i++) gleam__be32(out + 4 * i, s->h[i]);
}

GLEAM__PRIV void gleam__sha256(const void *data, size_t len, unsigned char out[GLEAM__SHA256_LEN]) {
    gleam__sha256_ctx s;
    gleam__sha256_init(&s);
    gleam__sha256_add(&s, data, len);
    gleam__sha256_end(&s, out);
}

GLEAM__PRIV void gleam__hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                                    unsigned char out[GLEAM__SHA256_LEN]) {
    unsigned char k[64], pad[64], inner[GLEAM__SHA256_LEN];
    gleam__sha256_ctx s;
    int i;
    memset(k, 0, sizeof k);
    if (klen > 64) gleam__sha256(key, klen, k); /* a key longer than a block is hashed first */
    else if (klen) memcpy(k, key, klen);
    for (i = 0; i < 64; i++) pad[i] = (unsigned char)(k[i] ^ 0x36);
    gleam__sha256_init(&s);
    gleam__sha256_add(&s, pad, 64);
    gleam__sha256_add(&s, msg, mlen);
    gleam__sha256_end(&s, inner);
    for (i = 0; i < 64; i++) pad[i] = (unsigned char)(k[i] ^ 0x5c);
    gleam__sha256_init(&s);
    gleam__sha256_add(&s, pad, 64);
    gleam__sha256_add(&s, inner, sizeof inner);
    gleam__sha256_end(&s, out);
}

GLEAM__PRIV int gleam__ct_equal(const void *a, const void *b, size_t n) {
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    unsigned char d = 0;
    size_t i;
    for (i = 0; i < n; i++) d |= (unsigned char)(x[i] ^ y[i]); /* the same time whatever differs */
    return d == 0;
}

GLEAM__PRIV void gleam__hex(const unsigned char *p, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}
