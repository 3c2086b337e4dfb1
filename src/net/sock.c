/* sock.c: TCP for the roles: addresses, listening, connecting within a time, reads and
   writes that give up when the peer is silent for too long, and a server's accept loop
   with a thread per connection (the master's and the agents') that gives a peer a
   deadline to greet, so that peers that connect and say nothing never lock it out. */
#include "net/net.h"

GLEAM__PRIV int gleam__hostport(const char *s, char *host, size_t hcap, int *port, char *err, size_t cap) {
    const char *colon = strrchr(s, ':');
    const char *ps = colon ? colon + 1 : s;
    size_t hl = colon ? (size_t)(colon - s) : 0;
    char *end;
    long p;
    if (!colon && strspn(s, "0123456789") != strlen(s)) { /* a host without a port */
        ps = NULL;
        hl = strlen(s);
    }
    if (hl >= hcap) {
        gleam__fmt_into(err, cap, "address \"%s\": the host name is too long", s);
        return -1;
    }
    if (hl) {
        memcpy(host, s, hl);
        host[hl] = 0;
    } else if (!colon && ps) {
        /* "port" alone: keep the host the caller set */
    } else {
        snprintf(host, hcap, "127.0.0.1");
    }
    if (!ps) return 0;
    errno = 0;
    p = strtol(ps, &end, 10);
    if (!*ps || *end || errno || p < 0 || p > 65535) {
        gleam__fmt_into(err, cap, "address \"%s\": \"%s\" is not a port (0 to 65535)", s, ps);
        return -1;
    }
    *port = (int)p;
    return 0;
}

GLEAM__PRIV int gleam__is_loopback(const char *host) {
    struct in_addr a;
    if (!strcmp(host, "localhost") || !strcmp(host, "::1")) return 1;
    if (inet_pton(AF_INET, host, &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
    return 0;
}

/* The addresses of host:port, for a listener (passive) or a connection. */
static struct addrinfo *gleam__resolve_addr(const char *host, int port, int passive, char *err, size_t cap) {
    struct addrinfo hints, *res = NULL;
    char ps[16];
    int e;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    snprintf(ps, sizeof ps, "%d", port);
    if ((e = getaddrinfo(*host ? host : NULL, ps, &hints, &res)) != 0) {
        gleam__fmt_into(err, cap, "cannot resolve \"%s\": %s", host, gai_strerror(e));
        return NULL;
    }
    return res;
}

GLEAM__PRIV int gleam__listen(const char *host, int port, char *err, size_t cap) {
    struct addrinfo *res = gleam__resolve_addr(host, port, 1, err, cap), *a;
    int fd = -1, one = 1, e = 0;
    if (!res) return -1;
    for (a = res; a && fd < 0; a = a->ai_next) {
        if ((fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol)) < 0) {
            e = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, 128)) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) gleam__fmt_into(err, cap, "cannot listen on %s:%d: %s", host, port, strerror(e));
    return fd;
}

GLEAM__PRIV int gleam__local_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len)) return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

GLEAM__PRIV void gleam__timeouts(int fd, int ms) {
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Connect fd to a within timeout_ms: 0, or -1 with errno set (ETIMEDOUT). */
static int gleam__connect_within(int fd, const struct addrinfo *a, int timeout_ms) {
    int fl = fcntl(fd, F_GETFL), e = 0;
    socklen_t el = sizeof e;
    struct pollfd p;
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        fcntl(fd, F_SETFL, fl);
        return 0;
    }
    if (errno != EINPROGRESS) return -1;
    p.fd = fd;
    p.events = POLLOUT;
    for (;;) {
        int k = poll(&p, 1, timeout_ms);
        if (k < 0 && errno == EINTR) continue;
        if (k == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (k < 0) return -1;
        break;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) || e) {
        errno = e ? e : errno;
        return -1;
    }
    fcntl(fd, F_SETFL, fl);
    return 0;
}

GLEAM__PRIV int gleam__connect(const char *host, int port, int timeout_ms, char *err, size_t cap) {
    struct addrinfo *res = gleam__resolve_addr(host, port, 0, err, cap), *a;
    int fd = -1, e = 0, one = 1;
    if (!res) return -1;
    for (a = res; a && fd < 0; a = a->ai_next) {
        if ((fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol)) < 0) {
            e = errno;
            continue;
        }
        if (gleam__connect_within(fd, a, timeout_ms)) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        gleam__fmt_into(err, cap, "cannot connect to %s:%d: %s", host, port, strerror(e));
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    gleam__timeouts(fd, GLEAM__NET_TIMEOUT_MS);
    return fd;
}

GLEAM__PRIV void gleam__peer(int fd, char *host, size_t cap, int *port) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    snprintf(host, cap, "?");
    *port = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &len)) return;
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, (socklen_t)cap);
        *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, (socklen_t)cap);
        *port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
}

/* >>serve: the accept loop ------------------------------------------------------------------ */

/* A connection gleam__serve accepted whose greeting has not ended. The accept loop cuts
   one short (shutdown: its thread's read ends at once) when it passes GLEAM__NET_GREET_MS,
   or, when a newer connection finds the server full, the oldest: a peer that connects and
   says nothing holds a thread for a while, never the server's door. The table holds open
   descriptors only: an entry leaves it (gleam__serve_greeted) before its thread may close
   the descriptor, so a number the system gives again is never cut by mistake. */
typedef struct gleam__pending {
    int fd, cut;            /* cut: 0 greeting; 1 past the deadline; 2 its place went to a newer one */
    double since;
} gleam__pending;

static pthread_mutex_t gleam__pend_mu = PTHREAD_MUTEX_INITIALIZER;
static gleam__pending *gleam__pend;
static int gleam__npend, gleam__pend_cap;

/* Add fd to the table. 0, or -1 when it is full. */
static int gleam__pend_add(int fd) {
    int r = -1;
    pthread_mutex_lock(&gleam__pend_mu);
    if (gleam__npend < gleam__pend_cap) {
        gleam__pend[gleam__npend].fd = fd;
        gleam__pend[gleam__npend].cut = 0;
        gleam__pend[gleam__npend++].since = gleam__now();
        r = 0;
    }
    pthread_mutex_unlock(&gleam__pend_mu);
    return r;
}

/* Cut the greetings past their deadline; with room, also the oldest greeting left. 1 when
   room was asked for and made. */
static int gleam__pend_cut(int room) {
    double now = gleam__now();
    int i, oldest = -1;
    pthread_mutex_lock(&gleam__pend_mu);
    for (i = 0; i < gleam__npend; i++) {
        gleam__pending *p = &gleam__pend[i];
        if (p->cut) continue;
        if (now - p->since >= GLEAM__NET_GREET_MS / 1000.0) {
            shutdown(p->fd, SHUT_RDWR);
            p->cut = 1;
        } else if (oldest < 0 || p->since < gleam__pend[oldest].since) {
            oldest = i;
        }
    }
    if (room && oldest >= 0) {
        shutdown(gleam__pend[oldest].fd, SHUT_RDWR);
        gleam__pend[oldest].cut = 2;
    }
    pthread_mutex_unlock(&gleam__pend_mu);
    return room && oldest >= 0;
}

GLEAM__PRIV int gleam__serve_greeted(int fd) {
    int i, cut = 0;
    pthread_mutex_lock(&gleam__pend_mu);
    for (i = 0; i < gleam__npend; i++)
        if (gleam__pend[i].fd == fd) {
            cut = gleam__pend[i].cut;
            gleam__pend[i] = gleam__pend[--gleam__npend];
            break;
        }
    pthread_mutex_unlock(&gleam__pend_mu);
    return cut;
}

GLEAM__PRIV int gleam__serve(int lfd, int maxconns, int *conns, pthread_mutex_t *mu, void *(*fn)(void *)) {
    pthread_mutex_lock(&gleam__pend_mu); /* one table per process: its connections' descriptors are its own */
    if (!gleam__pend && (gleam__pend = (gleam__pending *)gleam__calloc(2 * (size_t)maxconns, sizeof *gleam__pend)) != NULL)
        gleam__pend_cap = 2 * maxconns;
    pthread_mutex_unlock(&gleam__pend_mu);
    if (!gleam__pend) {
        errno = ENOMEM;
        return -1;
    }
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK); /* a connection gone before accept must not block the loop */
    for (;;) {
        gleam__conn *c;
        pthread_t th;
        pthread_attr_t at;
        struct pollfd pl;
        int fd, n, admit, one = 1;
        pl.fd = lfd;
        pl.events = POLLIN;
        n = poll(&pl, 1, GLEAM__NET_BEAT_MS); /* at least once a second: the greetings past their deadline go */
        gleam__pend_cut(0);
        if (n < 0 && errno != EINTR) return -1;
        if (n <= 0) continue;
        if ((fd = accept(lfd, NULL, NULL)) < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED || errno == EMFILE ||
                errno == ENFILE) {
                if (errno == EMFILE || errno == ENFILE) usleep(100000);
                continue;
            }
            return -1;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* a greeting is small writes, each waited for */
        pthread_mutex_lock(mu);
        n = *conns;
        pthread_mutex_unlock(mu);
        /* full: the oldest connection still greeting makes room (its thread ends at once),
           while those on their way out stay under twice maxconns */
        admit = n < maxconns || (n < 2 * maxconns && gleam__pend_cut(1));
        if (!admit || gleam__pend_add(fd) || !(c = (gleam__conn *)gleam__malloc(sizeof *c))) {
            if (admit) gleam__serve_greeted(fd);
            close(fd); /* more connections than it serves, none of them still greeting: the newest goes */
            continue;
        }
        pthread_mutex_lock(mu);
        (*conns)++; /* only this loop adds: n + 1 */
        pthread_mutex_unlock(mu);
        c->fd = fd;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 256 * 1024);
        if (pthread_create(&th, &at, fn, c)) {
            gleam__serve_greeted(fd);
            gleam__free(c);
            close(fd);
            pthread_mutex_lock(mu);
            (*conns)--;
            pthread_mutex_unlock(mu);
        }
        pthread_attr_destroy(&at);
    }
}
