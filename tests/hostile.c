/* hostile.c: a hostile peer for tests/hostile.sh: it attacks a master or an agent over a
   real socket and prints what the server did (its answer, and when it closed the
   connection), one fact per line, for the script to check.

   usage: hostile CASE HOST:PORT [ARGS]
     garbage HP                 4096 bytes of noise where the greeting belongs
     early HP                   a well-formed message frame (HAVE) before any greeting
     early-short HP             a well-formed frame shorter than a greeting (AGENTS), then silence
     claim HP ROLE LEN KB S     greeted as ROLE (D or A; - : not greeted), a frame header that
                                claims LEN bytes, KB kilobytes of it, S seconds of silence, close
     truncated HP ROLE [stall]  greeted, a frame cut short, then our end closed for writing (or,
                                with stall, silence)
     secret HP SECRET           the greeting with another secret
     replay HP                  a relay between a driver and the master that records the
                                greeting; then the driver's recorded proof played to the master
                                against a fresh challenge, and the master's recorded proof played
                                to a second driver (both relay and fake master print "listening PORT")
     idle HP N S [dribble]      N connections, 50 every 50 ms, that say nothing (or a byte of a
                                greeting each second), watched for S seconds from the first
     paths HP                   an agent asked for names that are paths (HOLD HAVE BINARY FETCH
                                SAMPLE RUN), each on a greeted connection of its own
     noread HP                  greeted as a driver, requests without end (HAVE to an agent,
                                AGENTS to a master) and not one answer read
     slowhttp HP                an HTTP request that comes a byte every half second
     httpflood HP N             N HTTP requests at once, each "GET " and no more
     job HP NAME LABEL          a driver's JOB message to the master with that name and one stage
     get HP PATH                an HTTP GET; the answer to stdout
   The greeted cases prove $GLEAM_SECRET, as a member of the cluster would; replay knows no
   secret: it only moves bytes and plays them again.
   Lines printed: "closed MS" (the server closed MS ms after the attack), "open MS" (still
   open when we stopped watching), "answer TYPE TEXT", and the case's own. Exit 0 when the
   case ran, 2 when it could not (the server could not be reached, bad usage). */
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include "gleam_net.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static char h_host[256];
static int h_port;

static void h_die(const char *what) {
    printf("error %s\n", what);
    exit(2);
}

static double h_ms(void) { return gleam__now() * 1000.0; }

/* A connection to the server. fd, or exit. */
static int h_dial(void) {
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)h_port);
    if (fd < 0 || inet_pton(AF_INET, h_host, &a.sin_addr) != 1) h_die("socket");
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) h_die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    gleam__timeouts(fd, 30000);
    return fd;
}

/* A connection greeted as role. fd, or exit. */
static int h_greeted(int role) {
    char err[512];
    int fd = h_dial(), peer;
    if (gleam__greet(fd, 0, role, &peer, NULL, err, sizeof err) != 1) {
        printf("error greeting: %s\n", err);
        exit(2);
    }
    return fd;
}

/* The states of the server's ends of the connections to its port, by our port, as the
   system lists them (1 established; 0 none), when it does (h_proc). A server that closes
   a connection whose peer reads nothing may never get its FIN through (it waits behind
   the data the peer's window does not take): only its own end shows that it let go. */
static unsigned char h_srv[65536];
static int h_proc = 1;

static void h_scan(void) {
    FILE *f = h_proc ? fopen("/proc/net/tcp", "r") : NULL;
    char line[512];
    memset(h_srv, 0, sizeof h_srv);
    if (!f) {
        h_proc = 0;
        return;
    }
    while (fgets(line, sizeof line, f)) {
        unsigned la, lp, ra, rp, st;
        if (sscanf(line, " %*d: %x:%x %x:%x %x", &la, &lp, &ra, &rp, &st) == 5 && lp == (unsigned)h_port &&
            la == ra) /* both ends on the same address: loopback */
            h_srv[rp & 0xffff] = (unsigned char)st;
    }
    fclose(f);
}

/* 1 when the server has closed its end, seen without reading: at ours (a FIN or a reset
   came) or at its own (after h_scan, when scan is 0). */
static int h_gone_as(int fd, int scan) {
    struct tcp_info ti;
    struct sockaddr_in me;
    socklen_t len = sizeof ti, ml = sizeof me;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len)) return 1;
    if (ti.tcpi_state != TCP_ESTABLISHED && ti.tcpi_state != TCP_FIN_WAIT1 && ti.tcpi_state != TCP_FIN_WAIT2 &&
        ti.tcpi_state != TCP_SYN_SENT && ti.tcpi_state != TCP_SYN_RECV)
        return 1;
    if (ti.tcpi_state == TCP_SYN_SENT || getsockname(fd, (struct sockaddr *)&me, &ml)) return 0;
    if (scan) h_scan();
    return h_proc && h_srv[ntohs(me.sin_port)] != 1;
}

static int h_gone(int fd) { return h_gone_as(fd, 1); }

/* Watch fd for up to limit_ms: print "closed MS" or "open MS", from t0. */
static void h_watch(int fd, double t0, double limit_ms) {
    while (!h_gone(fd) && h_ms() - t0 < limit_ms) usleep(h_ms() - t0 < 1000 ? 10000 : 100000);
    printf("%s %.0f\n", h_gone(fd) ? "closed" : "open", h_ms() - t0);
}

static int h_send(int fd, const void *p, size_t n) { return gleam__fd_write2(fd, (const char *)p, n, NULL, 0); }

/* The server's next message: "answer OK ...", "answer ERR text", or "answer none (why)". */
static int h_answer(int fd, const char *what) {
    gleam__buf buf = {NULL, 0, 0};
    gleam__vals v = {NULL, 0, 0};
    char err[1100] = "";
    int k = gleam__msg_recv(fd, &buf, &v, 0, err, sizeof err);
    if (k == GLEAM__MSG_ERR) printf("answer ERR %s: %s\n", what, err);
    else if (k == GLEAM__MSG_OK) printf("answer OK %s\n", what);
    else if (k > 0) printf("answer type%d %s\n", k, what);
    else printf("answer none %s (%s)\n", what, k == 0 ? "closed" : err);
    gleam__buf_free(&buf);
    gleam__vals_free(&v);
    return k;
}

/* n bytes of noise that no protocol starts with. */
static void h_noise(unsigned char *p, size_t n) {
    uint32_t x = 2463534242u;
    size_t i;
    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    p[0] = 0x9c;
}

static const char h_hash0[] = "0000000000000000000000000000000000000000000000000000000000000000";

/* >>cases ------------------------------------------------------------------------------------ */

static void h_garbage(void) {
    unsigned char p[4096];
    int fd = h_dial();
    double t0;
    h_noise(p, sizeof p);
    t0 = h_ms();
    h_send(fd, p, sizeof p);
    h_watch(fd, t0, 20000);
}

static void h_early(int shortone) {
    gleam_value v = gleam_str(h_hash0);
    int fd = h_dial();
    double t0 = h_ms();
    if (shortone) gleam__msg_send(fd, GLEAM__MSG_AGENTS, NULL, 0); /* 6 bytes */
    else gleam__msg_send(fd, GLEAM__MSG_HAVE, &v, 1);              /* 72 bytes */
    h_watch(fd, t0, 60000);
}

static void h_claim(const char *role, const char *len, const char *kb, const char *secs) {
    int fd = role[0] == '-' ? h_dial() : h_greeted(role[0]);
    unsigned char hdr[4];
    char *chunk = (char *)calloc(1, 1024);
    long k = atol(kb), i;
    double t0;
    if (!chunk) h_die("memory");
    memset(chunk, 'x', 1024); /* bytes that take memory wherever they are kept */
    chunk[0] = (char)GLEAM__MSG_PIECE;
    gleam__be32(hdr, (uint32_t)strtoul(len, NULL, 10));
    t0 = h_ms();
    h_send(fd, hdr, 4);
    for (i = 0; i < k && (i % 64 || !h_gone(fd)); i++)
        if (h_send(fd, chunk, 1024)) break;
    printf("sent %ld KB\n", i);
    fflush(stdout);
    while (!h_gone(fd) && h_ms() - t0 < atof(secs) * 1000) usleep(10000);
    printf("%s %.0f\n", h_gone(fd) ? "closed" : "open", h_ms() - t0);
    free(chunk);
}

static void h_truncated(const char *role, int stall) {
    int fd = h_greeted(role[0]);
    unsigned char p[14];
    double t0;
    gleam__be32(p, 100); /* 100 bytes claimed, 10 sent */
    memset(p + 4, 0, 10);
    p[4] = (unsigned char)GLEAM__MSG_REGISTER;
    t0 = h_ms();
    h_send(fd, p, sizeof p);
    if (!stall) shutdown(fd, SHUT_WR);
    h_watch(fd, t0, 60000);
}

static void h_secret(const char *secret) {
    char err[512] = "";
    int fd = h_dial(), peer, k;
    double t0 = h_ms();
    gleam__secret_set(secret, strlen(secret));
    k = gleam__greet(fd, 0, GLEAM__ROLE_DRIVER, &peer, NULL, err, sizeof err);
    printf("greeting %d: %s\n", k, err);
    h_watch(fd, t0, 20000);
}

/* Copy what comes on a to b (and the other way) until either closes. */
static void h_pipe(int a, int b) {
    char p[65536];
    for (;;) {
        struct pollfd q[2];
        int i;
        q[0].fd = a, q[0].events = POLLIN;
        q[1].fd = b, q[1].events = POLLIN;
        if (poll(q, 2, 60000) <= 0) return;
        for (i = 0; i < 2; i++)
            if (q[i].revents) {
                ssize_t n = read(q[i].fd, p, sizeof p);
                if (n <= 0 || h_send(q[1 - i].fd, p, (size_t)n)) return;
            }
    }
}

/* A listener on a free loopback port whose number is printed; the one connection that
   comes within 60 s. */
static int h_accept_one(void) {
    char err[256];
    int lfd = gleam__listen("127.0.0.1", 0, err, sizeof err), fd = -1;
    struct pollfd q;
    if (lfd < 0) h_die(err);
    printf("listening %d\n", gleam__local_port(lfd));
    fflush(stdout);
    q.fd = lfd, q.events = POLLIN;
    if (poll(&q, 1, 60000) != 1 || (fd = accept(lfd, NULL, NULL)) < 0) h_die("nobody came");
    close(lfd);
    gleam__timeouts(fd, 30000);
    return fd;
}

static void h_replay(void) {
    unsigned char c2s[45 + 32 + 1], s2c[45 + 33], fresh[45], verdict = 9;
    int d = h_accept_one(), m = h_dial();
    double t0;
    /* the greeting goes through as it is, recorded, step by step */
    if (gleam__read_exact(d, (char *)c2s, 45) != 1 || h_send(m, c2s, 45) || gleam__read_exact(m, (char *)s2c, 45) != 1 ||
        h_send(d, s2c, 45) || gleam__read_exact(d, (char *)c2s + 45, 32) != 1 || h_send(m, c2s + 45, 32) ||
        gleam__read_exact(m, (char *)s2c + 45, 33) != 1 || h_send(d, s2c + 45, 33) ||
        gleam__read_exact(d, (char *)c2s + 77, 1) != 1 || h_send(m, c2s + 77, 1))
        h_die("the relayed greeting broke");
    printf("recorded a greeting: the master's verdict %d, the driver's %d\n", s2c[45], c2s[77]);
    fflush(stdout);
    h_pipe(d, m); /* the driver's job, through the relay */
    close(d);
    close(m);
    /* the driver's HELLO and proof again, to the master: its challenge is new */
    m = h_dial();
    t0 = h_ms();
    if (h_send(m, c2s, 45) || gleam__read_exact(m, (char *)fresh, 45) != 1 || h_send(m, c2s + 45, 32) ||
        gleam__read_exact(m, (char *)&verdict, 1) != 1)
        printf("replayed the driver's proof: the master closed the connection\n");
    else
        printf("replayed the driver's proof: fresh challenge %s, the master's verdict %d\n",
               memcmp(fresh + 13, s2c + 13, 32) ? "yes" : "no", verdict);
    h_watch(m, t0, 20000);
    close(m);
    /* the master's HELLO and proof again, to a second driver */
    d = h_accept_one();
    verdict = 9;
    if (gleam__read_exact(d, (char *)fresh, 45) != 1 || h_send(d, s2c, 45) || gleam__read_exact(d, (char *)fresh, 32) != 1 ||
        h_send(d, s2c + 45, 33) || gleam__read_exact(d, (char *)&verdict, 1) != 1)
        printf("replayed the master's proof: the driver closed the connection\n");
    else
        printf("replayed the master's proof: the driver's verdict %d\n", verdict);
    close(d);
}

/* N connections (nonblocking connects) that say nothing, or a byte of a greeting each
   second; every 100 ms, how many the server still holds. */
static void h_idle(int n, double secs, int dribble) {
    int *fd = (int *)calloc((size_t)n, sizeof *fd), i, held = 0, made = 0, step = 0;
    struct rlimit rl;
    struct sockaddr_in a;
    unsigned char hello[45];
    double t0, last = 0;
    if (!fd) h_die("memory");
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t)n + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    memcpy(hello, "GLEAMNET", 8);
    gleam__be32(hello + 8, GLEAM__NET_VERSION);
    hello[12] = 'D';
    h_noise(hello + 13, 32);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)h_port);
    inet_pton(AF_INET, h_host, &a.sin_addr);
    t0 = h_ms();
    for (i = 0; i < n; i++) { /* 50 every 50 ms: within the server's listen backlog, all accepted */
        if ((fd[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0) break;
        if (connect(fd[i], (struct sockaddr *)&a, sizeof a) && errno != EINPROGRESS) {
            close(fd[i]);
            break;
        }
        if (++made % 50 == 0) usleep(50000);
    }
    sleep(1); /* the connections come up; those the server closes at once are closed by now */
    h_scan();
    for (i = 0; i < made; i++) held += !h_gone_as(fd[i], 0);
    printf("opened %d held %d\n", made, held);
    fflush(stdout);
    while (held && h_ms() - t0 < secs * 1000) {
        usleep(100000);
        if (dribble && (int)((h_ms() - t0) / 1000) >= step) {
            h_scan();
            for (i = 0; i < made; i++)
                if (!h_gone_as(fd[i], 0) && step < 45) send(fd[i], hello + step, 1, MSG_NOSIGNAL);
            step++;
        }
        h_scan();
        for (i = 0, held = 0; i < made; i++) held += !h_gone_as(fd[i], 0);
        if (h_ms() - last >= 1000) {
            printf("after %.0f ms held %d\n", h_ms() - t0, held);
            fflush(stdout);
            last = h_ms();
        }
    }
    printf("%s %.0f held %d\n", held ? "open" : "closed", h_ms() - t0, held);
    for (i = 0; i < made; i++) close(fd[i]);
    free(fd);
}

/* One request on a greeted connection of its own, and the agent's answer. */
static void h_ask(int type, const gleam_value *v, int nv, const char *what) {
    int fd = h_greeted(GLEAM__ROLE_DRIVER);
    gleam__timeouts(fd, 10000);
    if (gleam__msg_send(fd, type, v, nv)) printf("answer none %s (cannot send)\n", what);
    else h_answer(fd, what);
    close(fd);
}

static void h_paths(void) {
    static char longname[5000];
    const char *names[10] = {"../../etc/passwd", "/etc/passwd", "../hostile-escape", "..", ".", "../../../../../../../../etc/passwd",
                             "hostile/../../x", longname, ""};
    size_t lens[10];
    gleam_value v[7];
    char what[200];
    int i, n = 9;
    memset(longname, 'a', sizeof longname - 1);
    for (i = 0; i < n; i++) lens[i] = strlen(names[i]);
    names[n] = "hostile\0../../etc/passwd"; /* a NUL inside: the C string would be "hostile" */
    lens[n++] = 24;
    for (i = 0; i < n; i++) {
        char shown[40];
        size_t k;
        for (k = 0; k < lens[i] && k < 36; k++) shown[k] = names[i][k] ? names[i][k] : '@';
        shown[k] = 0;
        v[0] = gleam_bytes(names[i], lens[i]);
        snprintf(what, sizeof what, "HOLD [%s]", shown);
        h_ask(GLEAM__MSG_HOLD, v, 1, what);
        snprintf(what, sizeof what, "HAVE [%s]", shown);
        h_ask(GLEAM__MSG_HAVE, v, 1, what);
        v[1] = gleam_int(10);
        snprintf(what, sizeof what, "BINARY [%s, 10]", shown);
        h_ask(GLEAM__MSG_BINARY, v, 2, what);
        v[1] = gleam_int(1), v[2] = gleam_int(0), v[3] = gleam_int(0), v[4] = gleam_int(0), v[5] = gleam_bytes("", 0);
        snprintf(what, sizeof what, "FETCH [%s, 1, 0, 0, 0]", shown);
        h_ask(GLEAM__MSG_FETCH, v, 6, what);
        v[4] = gleam_int(10);
        snprintf(what, sizeof what, "SAMPLE [%s, 1, 0, 0, 10]", shown);
        h_ask(GLEAM__MSG_SAMPLE, v, 5, what);
        v[1] = gleam_str(h_hash0), v[2] = gleam_int(1), v[3] = gleam_int(0), v[4] = gleam_bytes("x\0", 2);
        v[5] = gleam_str("/"), v[6] = gleam_bytes("", 0);
        snprintf(what, sizeof what, "RUN job [%s]", shown);
        h_ask(GLEAM__MSG_RUN, v, 7, what);
        v[0] = gleam_str("hostile-job"), v[1] = gleam_bytes(names[i], lens[i]);
        snprintf(what, sizeof what, "RUN binary [%s]", shown);
        h_ask(GLEAM__MSG_RUN, v, 7, what);
    }
    { /* a binary whose bytes do not hash to its name: nothing of it stays */
        int fd = h_greeted(GLEAM__ROLE_DRIVER);
        v[0] = gleam_str("1111111111111111111111111111111111111111111111111111111111111111");
        v[1] = gleam_int(5);
        gleam__msg_send(fd, GLEAM__MSG_BINARY, v, 2);
        v[0] = gleam_bytes("hello", 5);
        gleam__msg_send(fd, GLEAM__MSG_PIECE, v, 1);
        h_answer(fd, "BINARY [1111..., 5] of bytes that hash otherwise");
        close(fd);
    }
    { /* a proper name is held: the checks above refuse names, not everything */
        int fd = h_greeted(GLEAM__ROLE_DRIVER);
        v[0] = gleam_str("hostile-ok");
        gleam__msg_send(fd, GLEAM__MSG_HOLD, v, 1);
        printf("control ");
        h_answer(fd, "HOLD [hostile-ok]");
        close(fd);
    }
}

/* Requests without end, not one answer read: when our writes have waited 2 s, the server
   has stopped reading (its answers fill both buffers); then how long until it lets go. */
static void h_noread(void) {
    int fd = h_greeted(GLEAM__ROLE_DRIVER), agent;
    gleam__buf b = {NULL, 0, 0};
    gleam_value v = gleam_str(h_hash0);
    long sent = 0;
    double t0;
    {
        gleam__buf rb = {NULL, 0, 0};
        gleam__vals rv = {NULL, 0, 0};
        char err[256];
        gleam__msg_send(fd, GLEAM__MSG_AGENTS, NULL, 0); /* a master answers; an agent says it does not */
        agent = gleam__msg_recv(fd, &rb, &rv, 0, err, sizeof err) != GLEAM__MSG_OK;
        gleam__buf_free(&rb);
        gleam__vals_free(&rv);
        if (agent) { /* the agent closed that one */
            close(fd);
            fd = h_greeted(GLEAM__ROLE_DRIVER);
        }
    }
    if (gleam__pack_row(&b, &v, agent ? 1 : 0)) h_die("memory");
    {
        unsigned char one[128];
        size_t len = 5 + b.len, k;
        char *many = (char *)malloc(len * 1000);
        if (!many) h_die("memory");
        gleam__be32(one, (uint32_t)(1 + b.len));
        one[4] = (unsigned char)(agent ? GLEAM__MSG_HAVE : GLEAM__MSG_AGENTS);
        memcpy(one + 5, b.p, b.len);
        for (k = 0; k < 1000; k++) memcpy(many + k * len, one, len);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        for (k = 0;;) { /* k: where the next byte is in many, which is sent over and over */
            struct pollfd q;
            ssize_t w = send(fd, many + k, len * 1000 - k, MSG_NOSIGNAL);
            if (w > 0) {
                sent += (long)w;
                k = (k + (size_t)w) % (len * 1000);
                continue;
            }
            if (w < 0 && errno != EAGAIN) break;
            q.fd = fd, q.events = POLLOUT;
            if (poll(&q, 1, 2000) == 0) break; /* 2 s and not a byte taken */
        }
        free(many);
    }
    t0 = h_ms();
    printf("stopped reading after %ld bytes of requests to the %s\n", sent, agent ? "agent" : "master");
    fflush(stdout);
    h_watch(fd, t0, 90000);
    gleam__buf_free(&b);
}

static void h_slowhttp(void) {
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int fd = h_dial();
    size_t i;
    double t0 = h_ms();
    for (i = 0; i < sizeof req - 1 && !h_gone(fd); i++) {
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1) break;
        usleep(500000);
    }
    printf("%s %.0f after %zu bytes of the request\n", h_gone(fd) ? "closed" : "open", h_ms() - t0, i);
}

/* n connections that each say "GET " and no more: how many are answered at once (503),
   and when the server has closed them all. */
static void h_httpflood(int n) {
    int *fd = (int *)calloc((size_t)n, sizeof *fd), i, busy = 0, left = n;
    double t0;
    if (!fd) h_die("memory");
    for (i = 0; i < n; i++) {
        fd[i] = h_dial();
        h_send(fd[i], "GET ", 4);
    }
    t0 = h_ms();
    sleep(1);
    for (i = 0; i < n; i++) {
        char p[13] = "";
        busy += recv(fd[i], p, 12, MSG_DONTWAIT | MSG_PEEK) == 12 && !memcmp(p, "HTTP/1.1 503", 12);
    }
    printf("busy %d of %d\n", busy, n);
    while (left && h_ms() - t0 < 30000) {
        usleep(100000);
        for (i = 0, left = 0; i < n; i++) left += !h_gone(fd[i]);
    }
    printf("%s %.0f held %d\n", left ? "open" : "closed", h_ms() - t0, left);
    for (i = 0; i < n; i++) close(fd[i]);
    free(fd);
}

static void h_job(const char *name, const char *label) {
    int fd = h_greeted(GLEAM__ROLE_DRIVER);
    gleam__buf st = {NULL, 0, 0};
    gleam_value row[3], m[2];
    row[0] = gleam_int(1);
    row[1] = gleam_str(label);
    row[2] = gleam_int(1);
    if (gleam__pack_row(&st, row, 3)) h_die("memory");
    m[0] = gleam_str(name);
    m[1] = gleam_bytes(st.p, st.len);
    gleam__msg_send(fd, GLEAM__MSG_JOB, m, 2);
    h_answer(fd, "JOB");
    close(fd);
    gleam__buf_free(&st);
}

static void h_get(const char *path) {
    char req[512], p[65536];
    int fd = h_dial();
    ssize_t n;
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    h_send(fd, req, strlen(req));
    while ((n = read(fd, p, sizeof p)) > 0) fwrite(p, 1, (size_t)n, stdout);
}

int main(int argc, char **argv) {
    char err[256];
    const char *c;
    if (argc < 3 || gleam__hostport(argv[2], h_host, sizeof h_host, &h_port, err, sizeof err)) {
        fprintf(stderr, "usage: hostile CASE HOST:PORT [ARGS] (see tests/hostile.c)\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    c = argv[1];
    if (!strcmp(c, "garbage")) h_garbage();
    else if (!strcmp(c, "early")) h_early(0);
    else if (!strcmp(c, "early-short")) h_early(1);
    else if (!strcmp(c, "claim") && argc == 7) h_claim(argv[3], argv[4], argv[5], argv[6]);
    else if (!strcmp(c, "truncated") && argc >= 4) h_truncated(argv[3], argc > 4);
    else if (!strcmp(c, "secret") && argc == 4) h_secret(argv[3]);
    else if (!strcmp(c, "replay")) h_replay();
    else if (!strcmp(c, "idle") && argc >= 5) h_idle(atoi(argv[3]), atof(argv[4]), argc > 5);
    else if (!strcmp(c, "paths")) h_paths();
    else if (!strcmp(c, "noread")) h_noread();
    else if (!strcmp(c, "slowhttp")) h_slowhttp();
    else if (!strcmp(c, "httpflood") && argc == 4) h_httpflood(atoi(argv[3]));
    else if (!strcmp(c, "job") && argc == 5) h_job(argv[3], argv[4]);
    else if (!strcmp(c, "get") && argc == 4) h_get(argv[3]);
    else {
        fprintf(stderr, "hostile: unknown case or wrong arguments: %s\n", c);
        return 2;
    }
    return 0;
}
