/* wire.c: what goes over a connection. First a greeting: each side names its protocol
   version and role and sends a fresh random challenge, then proves the shared secret with
   an HMAC-SHA256 of both challenges (so a recorded proof is worth nothing on another
   connection), and says whether it accepts the other's proof. Then messages: frames whose
   bytes are one MessagePack row, of at most GLEAM__NET_FRAME_MAX bytes. */
#include "net/net.h"

#define GLEAM__HELLO_LEN 45 /* "GLEAMNET", version (4 bytes), role, challenge (32) */

static unsigned char gleam__key[1024];
static size_t gleam__keylen;
static int gleam__key_set;

GLEAM__PRIV void gleam__secret_set(const void *p, size_t n) {
    gleam__keylen = GLEAM__MIN(n, sizeof gleam__key);
    memmove(gleam__key, p, gleam__keylen);
    gleam__key_set = 1;
}

/* The secret of GLEAM_SECRET, once. */
static void gleam__secret_env(void) {
    const char *s;
    if (gleam__key_set) return;
    gleam__key_set = 1;
    if ((s = getenv("GLEAM_SECRET")) != NULL && *s) gleam__secret_set(s, strlen(s));
}

GLEAM__PRIV size_t gleam__secret(const unsigned char **key) {
    gleam__secret_env();
    *key = gleam__key;
    return gleam__keylen;
}

GLEAM__PRIV int gleam__secret_file(const char *path, char *err, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n;
    if (!f) {
        gleam__fmt_into(err, cap, "secret file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    n = fread(gleam__key, 1, sizeof gleam__key, f);
    if (!feof(f) || ferror(f)) {
        gleam__fmt_into(err, cap, "secret file \"%s\": %s", path, ferror(f) ? strerror(errno) : "longer than 1024 bytes");
        fclose(f);
        return -1;
    }
    fclose(f);
    while (n && (gleam__key[n - 1] == '\n' || gleam__key[n - 1] == '\r')) n--;
    if (!n) {
        gleam__fmt_into(err, cap, "secret file \"%s\" is empty", path);
        return -1;
    }
    gleam__secret_set(gleam__key, n);
    return 0;
}

/* n random bytes. 0, or -1. */
static int gleam__random(unsigned char *p, size_t n) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t k = -1;
    if (fd >= 0) {
        k = read(fd, p, n);
        close(fd);
    }
    return k == (ssize_t)n ? 0 : -1;
}

/* Exactly n bytes, or -1 (errno EPROTO when the peer closed). */
static int gleam__recv_all(int fd, unsigned char *p, size_t n) {
    int k = gleam__read_exact(fd, (char *)p, n);
    if (k == 0) errno = EPROTO;
    return k == 1 ? 0 : -1;
}

static int gleam__send_all(int fd, const unsigned char *p, size_t n) { return gleam__fd_write2(fd, (const char *)p, n, NULL, 0); }

/* The proof of side `who` ('C' or 'S') of role `role`: HMAC(secret, label, who, role,
   the other side's challenge, its own). */
static void gleam__proof(int who, int role, const unsigned char *theirs, const unsigned char *mine, unsigned char *out) {
    unsigned char m[16 + 2 + 64];
    const unsigned char *key;
    size_t klen = gleam__secret(&key);
    memcpy(m, "gleam-c proof v1", 16);
    m[16] = (unsigned char)who;
    m[17] = (unsigned char)role;
    memcpy(m + 18, theirs, 32);
    memcpy(m + 50, mine, 32);
    gleam__hmac_sha256(key, klen, m, sizeof m, out);
}

static const char *gleam__io_why(void) {
    return errno == EAGAIN || errno == EWOULDBLOCK ? "it was silent too long" : errno == EPROTO ? "it closed the connection" : strerror(errno);
}

/* gleam__greet, without telling the accept loop that it ended. */
static int gleam__greet_peer(int fd, int server, int role, int *peer_role, char peek[4], char *err, size_t cap) {
    unsigned char mine[GLEAM__HELLO_LEN], theirs[GLEAM__HELLO_LEN], proof[32], want[32], ok;
    uint32_t version;
    memcpy(mine, "GLEAMNET", 8);
    gleam__be32(mine + 8, GLEAM__NET_VERSION);
    mine[12] = (unsigned char)role;
    if (gleam__random(mine + 13, 32)) {
        gleam__fmt_into(err, cap, "cannot read /dev/urandom for a challenge");
        return 0;
    }
    if (!server && gleam__send_all(fd, mine, sizeof mine)) goto io;
    if (gleam__recv_all(fd, theirs, 4)) goto io;
    if (server && (!memcmp(theirs, "GET ", 4) || !memcmp(theirs, "HEAD", 4))) {
        memcpy(peek, theirs, 4);
        return 2;
    }
    if (gleam__recv_all(fd, theirs + 4, sizeof theirs - 4)) goto io;
    if (memcmp(theirs, "GLEAMNET", 8)) {
        gleam__fmt_into(err, cap, "the peer does not speak gleam-c's protocol");
        return 0;
    }
    if ((version = gleam__rd32(theirs + 8)) != GLEAM__NET_VERSION) {
        if (server) gleam__send_all(fd, mine, sizeof mine); /* so that it can say why */
        gleam__fmt_into(err, cap, "the peer speaks protocol version %u, this binary %d", (unsigned)version, GLEAM__NET_VERSION);
        return 0;
    }
    *peer_role = theirs[12];
    if (server) {
        if (gleam__send_all(fd, mine, sizeof mine) || gleam__recv_all(fd, proof, 32)) goto io;
        gleam__proof('C', *peer_role, mine + 13, theirs + 13, want);
        ok = (unsigned char)gleam__ct_equal(proof, want, 32);
        if (!ok) {
            gleam__send_all(fd, &ok, 1);
            gleam__fmt_into(err, cap, "the peer did not prove the shared secret (GLEAM_SECRET or -gleam.secret-file differs)");
            return 0;
        }
        { /* the verdict and this side's proof in one write */
            unsigned char out[33];
            out[0] = ok;
            gleam__proof('S', role, theirs + 13, mine + 13, out + 1);
            if (gleam__send_all(fd, out, sizeof out) || gleam__recv_all(fd, &ok, 1)) goto io;
        }
        if (!ok) {
            gleam__fmt_into(err, cap, "the peer refused this process's proof of the shared secret");
            return 0;
        }
        return 1;
    }
    gleam__proof('C', role, theirs + 13, mine + 13, proof);
    if (gleam__send_all(fd, proof, 32) || gleam__recv_all(fd, &ok, 1)) goto io;
    if (!ok) {
        gleam__fmt_into(err, cap, "it refused this process: the shared secret differs (GLEAM_SECRET or -gleam.secret-file)");
        return 0;
    }
    if (gleam__recv_all(fd, proof, 32)) goto io;
    gleam__proof('S', *peer_role, mine + 13, theirs + 13, want);
    ok = (unsigned char)gleam__ct_equal(proof, want, 32);
    if (gleam__send_all(fd, &ok, 1)) goto io;
    if (!ok) {
        gleam__fmt_into(err, cap, "it did not prove the shared secret (GLEAM_SECRET or -gleam.secret-file differs)");
        return 0;
    }
    return 1;
io:
    gleam__fmt_into(err, cap, "greeting failed: %s", gleam__io_why());
    return 0;
}

GLEAM__PRIV int gleam__greet(int fd, int server, int role, int *peer_role, char peek[4], char *err, size_t cap) {
    int k = gleam__greet_peer(fd, server, role, peer_role, peek, err, cap), cut;
    if (!server || !(cut = gleam__serve_greeted(fd)) || k != 0) return k; /* cut as it ended: what follows fails */
    if (cut == 1)
        gleam__fmt_into(err, cap, "it did not finish the greeting within %d s", GLEAM__NET_GREET_MS / 1000);
    else
        gleam__fmt_into(err, cap, "it had not finished the greeting when a newer connection needed its place");
    return 0;
}

GLEAM__PRIV int gleam__msg_send(int fd, int type, const gleam_value *v, int n) {
    gleam__buf b = {NULL, 0, 0};
    int r;
    if (gleam__pack_row(&b, v, n)) {
        errno = ENOMEM;
        return -1;
    }
    r = gleam__frame_write(fd, type, NULL, 0, b.p, b.len);
    gleam__buf_free(&b);
    return r;
}

GLEAM__PRIV int gleam__msg_recv(int fd, gleam__buf *buf, gleam__vals *v, int least, char *err, size_t cap) {
    gleam__frame fr;
    const char *p, *end;
    int k = gleam__frame_read_max(fd, buf, &fr, GLEAM__NET_FRAME_MAX);
    if (k == 0) return 0;
    if (k < 0) {
        gleam__fmt_into(err, cap, "%s", errno == EPROTO ? "it sent a malformed or oversized frame" : gleam__io_why());
        return -1;
    }
    if (fr.type < GLEAM__MSG_OK || fr.type >= GLEAM__MSG_LAST) {
        gleam__fmt_into(err, cap, "it sent a frame of type %d where a message belongs", fr.type);
        return -1;
    }
    p = fr.data;
    end = fr.data + fr.len;
    if (gleam__unpack_row(&p, end, v) != GLEAM_OK || p != end || v->n < (fr.type == GLEAM__MSG_ERR ? 1 : least)) {
        gleam__fmt_into(err, cap, "it sent a message (type %d) that does not decode", fr.type);
        return -1;
    }
    if (fr.type == GLEAM__MSG_ERR) {
        const char *s;
        size_t len;
        if (gleam__mbytes(v, 0, &s, &len)) s = "", len = 0;
        gleam__fmt_into(err, cap, "%.*s", (int)GLEAM__MIN(len, (size_t)1000), s);
    }
    return fr.type;
}

GLEAM__PRIV int gleam__mint(const gleam__vals *v, int i, int64_t lo, int64_t hi, int64_t *out) {
    if (i >= v->n || v->v[i].type != GLEAM_INT || v->v[i].u.i < lo || v->v[i].u.i > hi) return -1;
    *out = v->v[i].u.i;
    return 0;
}

GLEAM__PRIV int gleam__mbytes(const gleam__vals *v, int i, const char **p, size_t *len) {
    if (i >= v->n || v->v[i].type != GLEAM_BYTES) return -1;
    *p = v->v[i].u.s;
    *len = v->v[i].len;
    return 0;
}

GLEAM__PRIV int gleam__mname(const gleam__vals *v, int i, char *out, size_t cap) {
    const char *p;
    size_t len, k;
    if (gleam__mbytes(v, i, &p, &len) || !len || len >= cap) return -1;
    for (k = 0; k < len; k++)
        if (p[k] == 0 || p[k] == '/' || (unsigned char)p[k] < 32) return -1;
    if (len >= 2 && p[0] == '.' && p[1] == '.') return -1;
    if (len == 1 && p[0] == '.') return -1;
    memcpy(out, p, len);
    out[len] = 0;
    return 0;
}
