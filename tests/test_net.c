/* test_net.c: the pieces of gleam_net.h below the roles. SHA-256 against the FIPS 180-4
   examples, HMAC-SHA256 against the RFC 4231 vectors; the greeting between two processes
   with the same secret, another secret, a replayed proof, garbage, another version and a
   browser; messages whose frames lie about their length or never come; names from the
   network that must never become paths outside -dir. */
#include "net/net.h" /* the internal declarations (build with -Isrc) */
#include "harness.h"

static void t_hex_of(const unsigned char *p, size_t n, char *out) { gleam__hex(p, n, out); }

static void test_sha256_fips(void) {
    unsigned char d[GLEAM__SHA256_LEN];
    char hex[65];
    static const char two[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    char *million = (char *)malloc(1000000);
    gleam__sha256_ctx s;
    size_t off, step;
    gleam__sha256("abc", 3, d);
    t_hex_of(d, sizeof d, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    gleam__sha256(two, strlen(two), d);
    t_hex_of(d, sizeof d, hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    gleam__sha256("", 0, d);
    t_hex_of(d, sizeof d, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    if (!million) return;
    memset(million, 'a', 1000000);
    for (step = 1; step <= 1000; step = step * 7 + 3) { /* in pieces of odd sizes: the same digest */
        gleam__sha256_init(&s);
        for (off = 0; off < 1000000; off += step) gleam__sha256_add(&s, million + off, GLEAM__MIN(step, 1000000 - off));
        gleam__sha256_end(&s, d);
        t_hex_of(d, sizeof d, hex);
        CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
    free(million);
}

static void test_hmac_rfc4231(void) {
    unsigned char k[131], data[160], mac[GLEAM__SHA256_LEN];
    char hex[65];
    int i;
    memset(k, 0x0b, 20); /* 1 */
    gleam__hmac_sha256(k, 20, "Hi There", 8, mac);
    t_hex_of(mac, sizeof mac, hex);
    CHECK_STR(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    gleam__hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac); /* 2 */
    t_hex_of(mac, sizeof mac, hex);
    CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(k, 0xaa, 20); /* 3 */
    memset(data, 0xdd, 50);
    gleam__hmac_sha256(k, 20, data, 50, mac);
    t_hex_of(mac, sizeof mac, hex);
    CHECK_STR(hex, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    for (i = 0; i < 25; i++) k[i] = (unsigned char)(i + 1); /* 4 */
    memset(data, 0xcd, 50);
    gleam__hmac_sha256(k, 25, data, 50, mac);
    t_hex_of(mac, sizeof mac, hex);
    CHECK_STR(hex, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    memset(k, 0x0c, 20); /* 5: truncated to 128 bits */
    gleam__hmac_sha256(k, 20, "Test With Truncation", 20, mac);
    t_hex_of(mac, 16, hex);
    CHECK_STR(hex, "a3b6167473100ee06e0c796c2955552b");
    memset(k, 0xaa, 131); /* 6, 7: a key longer than a block is hashed first */
    gleam__hmac_sha256(k, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54, mac);
    t_hex_of(mac, sizeof mac, hex);
    CHECK_STR(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    {
        static const char m7[] = "This is a test using a larger than block-size key and a larger than block-size data. The key "
                                 "needs to be hashed before being used by the HMAC algorithm.";
        gleam__hmac_sha256(k, 131, m7, strlen(m7), mac);
        t_hex_of(mac, sizeof mac, hex);
        CHECK_STR(hex, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    }
    CHECK(gleam__ct_equal("abc", "abc", 3));
    CHECK(!gleam__ct_equal("abc", "abd", 3));
}

/* >>greeting: two processes on a socketpair ------------------------------------------------ */

/* Set this process's secret (empty: none). */
static void t_secret(const char *s) { gleam__secret_set(s, strlen(s)); }

/* Greet from a child process (the side that connects, as role D, with secret `theirs`)
   while this process serves (as role A, with secret `ours`). The server's result; *child
   its exit status (the client's result); err the server's message. */
static int t_greet_pair(const char *ours, const char *theirs, int *child, char *err, size_t cap) {
    int sv[2], role = 0, k, st = 0;
    char peek[4];
    pid_t pid;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return -1;
    if ((pid = fork()) == 0) {
        char e[256];
        close(sv[0]);
        t_secret(theirs);
        gleam__timeouts(sv[1], 5000);
        _exit(gleam__greet(sv[1], 0, GLEAM__ROLE_DRIVER, &role, NULL, e, sizeof e) == 1 && role == GLEAM__ROLE_AGENT ? 1 : 0);
    }
    close(sv[1]);
    t_secret(ours);
    gleam__timeouts(sv[0], 5000);
    k = gleam__greet(sv[0], 1, GLEAM__ROLE_AGENT, &role, peek, err, cap);
    if (k == 1 && role != GLEAM__ROLE_DRIVER) k = -2;
    close(sv[0]);
    waitpid(pid, &st, 0);
    *child = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return k;
}

static void test_greeting(void) {
    char err[512];
    int child;
    CHECK_INT(t_greet_pair("s3cret", "s3cret", &child, err, sizeof err), 1);
    CHECK_INT(child, 1);
    err[0] = 0;
    CHECK_INT(t_greet_pair("s3cret", "other", &child, err, sizeof err), 0);
    CHECK_INT(child, 0);
    CHECK_HAS(err, "did not prove the shared secret");
    CHECK_INT(t_greet_pair("s3cret", "", &child, err, sizeof err), 0); /* none against one */
    CHECK_INT(child, 0);
    CHECK_INT(t_greet_pair("", "", &child, err, sizeof err), 1); /* loopback without a secret */
    CHECK_INT(child, 1);
    t_secret("");
}

/* Hand-made clients: what a server does with bytes that are not a proper greeting. */
static int t_serve_bytes(const void *bytes, size_t n, char *peek, char *err, size_t cap) {
    int sv[2], role = 0, k;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return -1;
    if (write(sv[1], bytes, n) != (ssize_t)n) return -1;
    shutdown(sv[1], SHUT_WR);
    gleam__timeouts(sv[0], 2000);
    k = gleam__greet(sv[0], 1, GLEAM__ROLE_MASTER, &role, peek, err, cap);
    close(sv[0]);
    close(sv[1]);
    return k;
}

static void test_greeting_refuses(void) {
    unsigned char hello[45];
    char err[512], peek[4];
    CHECK_INT(t_serve_bytes("GET / HTTP/1.1\r\n\r\n", 18, peek, err, sizeof err), 2);
    CHECK(!memcmp(peek, "GET ", 4));
    CHECK_INT(t_serve_bytes("HEAD / HTTP/1.1\r\n\r\n", 19, peek, err, sizeof err), 2);
    {
        static const char ssh[] = "SSH-2.0-OpenSSH_9.2p1 Debian\r\n..............."; /* a greeting's length of another protocol */
        CHECK_INT(t_serve_bytes(ssh, sizeof ssh - 1, peek, err, sizeof err), 0);
    }
    CHECK_HAS(err, "does not speak gleam-c's protocol");
    memcpy(hello, "GLEAMNET", 8);
    gleam__be32(hello + 8, 99);
    hello[12] = 'D';
    memset(hello + 13, 7, 32);
    CHECK_INT(t_serve_bytes(hello, sizeof hello, peek, err, sizeof err), 0);
    CHECK_HAS(err, "protocol version 99");
    CHECK_INT(t_serve_bytes("GLEA", 4, peek, err, sizeof err), 0); /* cut short */
    CHECK_HAS(err, "greeting failed");
    CHECK_INT(t_serve_bytes("", 0, peek, err, sizeof err), 0);
}

/* A proof recorded on one connection, replayed on the next: the server's challenge has
   changed, so it is refused. The proof is made here from the protocol's description. */
static void test_replayed_proof(void) {
    unsigned char hello[45], theirs[45], proof[32], msg[82], verdict = 9;
    int sv[2], role = 0, k, round;
    char err[512], peek[4];
    unsigned char recorded[32];
    pid_t pid;
    t_secret("replay-secret");
    for (round = 0; round < 2; round++) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return;
        if ((pid = fork()) == 0) { /* the server */
            close(sv[1]);
            gleam__timeouts(sv[0], 5000);
            _exit(gleam__greet(sv[0], 1, GLEAM__ROLE_AGENT, &role, peek, err, sizeof err));
        }
        close(sv[0]);
        memcpy(hello, "GLEAMNET", 8);
        gleam__be32(hello + 8, GLEAM__NET_VERSION);
        hello[12] = 'D';
        memset(hello + 13, 0x42, 32); /* the same challenge of ours both times */
        CHECK_INT(write(sv[1], hello, sizeof hello), 45);
        CHECK_INT(read(sv[1], theirs, sizeof theirs), 45);
        memcpy(msg, "gleam-c proof v1", 16);
        msg[16] = 'C';
        msg[17] = 'D';
        memcpy(msg + 18, theirs + 13, 32);
        memcpy(msg + 50, hello + 13, 32);
        {
            const unsigned char *key;
            size_t klen = gleam__secret(&key);
            gleam__hmac_sha256(key, klen, msg, sizeof msg, proof);
        }
        if (round == 0) memcpy(recorded, proof, 32);
        CHECK_INT(write(sv[1], round == 0 ? proof : recorded, 32), 32);
        CHECK_INT(read(sv[1], &verdict, 1), 1);
        CHECK_INT(verdict, round == 0 ? 1 : 0); /* the first proof is good; the same bytes again are not */
        if (round == 0) { /* finish the greeting */
            unsigned char sp[32], ok = 1;
            CHECK_INT(read(sv[1], sp, 32), 32);
            CHECK_INT(write(sv[1], &ok, 1), 1);
        }
        close(sv[1]);
        k = 0;
        waitpid(pid, &k, 0);
        CHECK_INT(WEXITSTATUS(k), round == 0 ? 1 : 0);
    }
    t_secret("");
}

/* >>messages ---------------------------------------------------------------------------------- */

static void test_messages(void) {
    int sv[2], k;
    gleam__buf buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    gleam_value m[3];
    char err[256];
    int64_t x;
    const char *p;
    size_t len;
    unsigned char hdr[5];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return;
    gleam__timeouts(sv[0], 300);
    m[0] = gleam_str("job-1");
    m[1] = gleam_int(42);
    m[2] = gleam_bytes("a\0b", 3);
    CHECK_INT(gleam__msg_send(sv[1], GLEAM__MSG_FETCH, m, 3), 0);
    k = gleam__msg_recv(sv[0], &buf, &v, 3, err, sizeof err);
    CHECK_INT(k, GLEAM__MSG_FETCH);
    CHECK_INT(gleam__mint(&v, 1, 0, 100, &x), 0);
    CHECK_INT(x, 42);
    CHECK_INT(gleam__mint(&v, 1, 0, 41, &x), -1); /* out of the range asked */
    CHECK_INT(gleam__mint(&v, 0, 0, 100, &x), -1); /* not an integer */
    CHECK_INT(gleam__mbytes(&v, 2, &p, &len), 0);
    CHECK_INT(len, 3);
    /* fewer values than wanted */
    CHECK_INT(gleam__msg_send(sv[1], GLEAM__MSG_FETCH, m, 2), 0);
    CHECK_INT(gleam__msg_recv(sv[0], &buf, &v, 3, err, sizeof err), -1);
    CHECK_HAS(err, "does not decode");
    /* a frame that claims 4 GB: refused before anything is allocated for it */
    gleam__be32(hdr, 0xffffffffu);
    hdr[4] = GLEAM__MSG_OK;
    CHECK_INT(write(sv[1], hdr, 5), 5);
    CHECK_INT(gleam__msg_recv(sv[0], &buf, &v, 0, err, sizeof err), -1);
    CHECK_HAS(err, "malformed or oversized");
    close(sv[0]);
    close(sv[1]);
    /* a frame that claims 60 MB and sends 10 bytes, then nothing: the wait ends, and the
       buffer grew with what came, not with what was claimed */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return;
    gleam__timeouts(sv[0], 300);
    gleam__be32(hdr, 60u << 20);
    CHECK_INT(write(sv[1], hdr, 5), 5);
    CHECK_INT(write(sv[1], "0123456789", 10), 10);
    gleam__buf_free(&buf);
    CHECK_INT(gleam__msg_recv(sv[0], &buf, &v, 0, err, sizeof err), -1);
    CHECK_HAS(err, "silent too long");
    CHECK(buf.cap <= (size_t)4 << 20);
    /* an ERR message: its text */
    close(sv[0]);
    close(sv[1]);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return;
    m[0] = gleam_str("no such job");
    CHECK_INT(gleam__msg_send(sv[1], GLEAM__MSG_ERR, m, 1), 0);
    CHECK_INT(gleam__msg_recv(sv[0], &buf, &v, 5, err, sizeof err), GLEAM__MSG_ERR);
    CHECK_STR(err, "no such job");
    close(sv[1]);
    CHECK_INT(gleam__msg_recv(sv[0], &buf, &v, 0, err, sizeof err), 0); /* closed between messages */
    close(sv[0]);
    gleam__buf_free(&buf);
    gleam__vals_free(&v);
}

/* Names from the network that could leave -dir are refused. */
static void test_names(void) {
    static const char *const bad[] = {"../../etc/passwd", "/etc/passwd", "..", ".", "", "a/b", "..hidden", "tab\there"};
    gleam__vals v = {NULL, 0, 0};
    gleam__buf b = {NULL, 0, 0};
    char out[64];
    const char *p;
    size_t i;
    gleam_value x;
    for (i = 0; i < sizeof bad / sizeof *bad; i++) {
        x = gleam_str(bad[i]);
        b.len = 0;
        gleam__pack_row(&b, &x, 1);
        p = b.p;
        CHECK(gleam__unpack_row(&p, b.p + b.len, &v) == GLEAM_OK);
        CHECK_INT(gleam__mname(&v, 0, out, sizeof out), -1);
    }
    x = gleam_bytes("job\0x", 5); /* a NUL inside */
    b.len = 0;
    gleam__pack_row(&b, &x, 1);
    p = b.p;
    CHECK(gleam__unpack_row(&p, b.p + b.len, &v) == GLEAM_OK);
    CHECK_INT(gleam__mname(&v, 0, out, sizeof out), -1);
    x = gleam_str("job-123-1-a1b2c3");
    b.len = 0;
    gleam__pack_row(&b, &x, 1);
    p = b.p;
    CHECK(gleam__unpack_row(&p, b.p + b.len, &v) == GLEAM_OK);
    CHECK_INT(gleam__mname(&v, 0, out, sizeof out), 0);
    CHECK_STR(out, "job-123-1-a1b2c3");
    CHECK_INT(gleam__mname(&v, 0, out, 8), -1); /* too long for the room */
    gleam__buf_free(&b);
    gleam__vals_free(&v);
}

static void test_addresses(void) {
    char host[64] = "keep", err[256];
    int port = 1;
    CHECK_INT(gleam__hostport("10.0.0.7:45000", host, sizeof host, &port, err, sizeof err), 0);
    CHECK_STR(host, "10.0.0.7");
    CHECK_INT(port, 45000);
    CHECK_INT(gleam__hostport(":9", host, sizeof host, &port, err, sizeof err), 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK_INT(port, 9);
    CHECK_INT(gleam__hostport("node3", host, sizeof host, &port, err, sizeof err), 0);
    CHECK_STR(host, "node3");
    CHECK_INT(port, 9);
    CHECK_INT(gleam__hostport("h:99999", host, sizeof host, &port, err, sizeof err), -1);
    CHECK_HAS(err, "is not a port");
    CHECK_INT(gleam__hostport("h:", host, sizeof host, &port, err, sizeof err), -1);
    CHECK(gleam__is_loopback("127.0.0.1"));
    CHECK(gleam__is_loopback("127.1.2.3"));
    CHECK(gleam__is_loopback("localhost"));
    CHECK(!gleam__is_loopback("0.0.0.0"));
    CHECK(!gleam__is_loopback("10.1.1.1"));
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    RUN(test_sha256_fips);
    RUN(test_hmac_rfc4231);
    RUN(test_greeting);
    RUN(test_greeting_refuses);
    RUN(test_replayed_proof);
    RUN(test_messages);
    RUN(test_names);
    RUN(test_addresses);
    return th_done();
}
