/* status.c: the master's status page, read-only: GET / is an HTML page (the agents with
   their slots and memory, the jobs with each stage's tasks, rows and bytes, and each job's
   plan drawn as an SVG of its stages), GET /status.json the same as data. */
#include "net/net.h"

GLEAM__PRIV void gleam__mjob_clear(gleam__mjob *j) { memset(j, 0, sizeof *j); }

GLEAM__PRIV void gleam__mjob_stages(gleam__mjob *j, const char *p, size_t n) {
    const char *end = p + n;
    gleam__vals v = {NULL, 0, 0};
    while (p < end && j->nstages < GLEAM__MAX_STAGES && gleam__unpack_row(&p, end, &v) == GLEAM_OK) {
        gleam__mstage *s = &j->stages[j->nstages];
        const char *label;
        size_t len;
        int64_t id, shards, in;
        int i;
        if (gleam__mint(&v, 0, 1, INT32_MAX, &id) || gleam__mbytes(&v, 1, &label, &len) ||
            gleam__mint(&v, 2, 1, INT32_MAX, &shards))
            break;
        memset(s, 0, sizeof *s);
        s->id = (int)id;
        s->shards = (int)shards;
        snprintf(s->label, sizeof s->label, "%.*s", (int)GLEAM__MIN(len, sizeof s->label - 1), label);
        for (i = 3; i < v.n && s->ninputs < 8; i++)
            if (!gleam__mint(&v, i, 1, INT32_MAX, &in)) s->inputs[s->ninputs++] = (int)in;
        j->nstages++;
    }
    gleam__vals_free(&v);
}

/* Append text with printf; failures are remembered in *bad. */
static void gleam__page(gleam__buf *b, int *bad, const char *fmt, ...) GLEAM__PRINTF(3, 4);
static void gleam__page(gleam__buf *b, int *bad, const char *fmt, ...) {
    va_list ap;
    int n;
    char small[1024];
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        *bad = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        if (gleam__buf_add(b, small, (size_t)n)) *bad = 1;
        return;
    }
    if (gleam__buf_reserve(b, b->len + (size_t)n + 1)) {
        *bad = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* s escaped for JSON (json = 1) or HTML (json = 0). */
static void gleam__esc(gleam__buf *b, int *bad, const char *s, int json) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (json && (c == '"' || c == '\\')) gleam__page(b, bad, "\\%c", c);
        else if (json && c < 32) gleam__page(b, bad, "\\u%04x", c);
        else if (!json && c == '<') gleam__page(b, bad, "&lt;");
        else if (!json && c == '>') gleam__page(b, bad, "&gt;");
        else if (!json && c == '&') gleam__page(b, bad, "&amp;");
        else if (!json && c == '"') gleam__page(b, bad, "&quot;");
        else if (c < 32) gleam__page(b, bad, " ");
        else gleam__page(b, bad, "%c", c);
    }
}

/* The jobs in use, newest first, as indexes into m->jobs: their number. */
static int gleam__jobs_newest(const gleam__master *m, int *order) {
    int i, n = 0, k;
    for (i = 0; i < GLEAM__MAX_JOBS; i++) {
        if (!m->jobs[i].used) continue;
        for (k = n++; k > 0 && m->jobs[order[k - 1]].id < m->jobs[i].id; k--) order[k] = order[k - 1];
        order[k] = i;
    }
    return n;
}

static const char *gleam__job_state(const gleam__mjob *j) {
    static const char *names[] = {"running", "done", "failed", "driver gone"};
    return names[j->result >= 0 && j->result <= 3 ? j->result : 0];
}

GLEAM__PRIV int gleam__status_json(gleam__master *m, gleam__buf *b) {
    double now = gleam__now();
    int bad = 0, i, k, first = 1, order[GLEAM__MAX_JOBS], nj;
    pthread_mutex_lock(&m->mu);
    gleam__page(b, &bad, "{\"master\":\"%s:%d\",\"uptime_s\":%.1f,\"agents\":[", m->host, m->port, now - m->started);
    for (i = 0; i < GLEAM__MAX_AGENTS; i++) {
        const gleam__magent *a = &m->agents[i];
        if (!a->used) continue;
        gleam__page(b, &bad, "%s{\"id\":%d,\"address\":\"", first ? "" : ",", a->id);
        gleam__esc(b, &bad, a->host, 1);
        gleam__page(b, &bad,
                   ":%d\",\"slots\":%d,\"running\":%lld,\"memory_mb\":%lld,\"kept_bytes\":%lld,\"jobs\":%lld,"
                   "\"last_beat_s\":%.1f}",
                   a->port, a->slots, (long long)a->running, (long long)a->memory_mb, (long long)a->kept,
                   (long long)a->jobs, now - a->beat);
        first = 0;
    }
    gleam__page(b, &bad, "],\"jobs\":[");
    nj = gleam__jobs_newest(m, order);
    for (i = 0, first = 1; i < nj; i++) {
        const gleam__mjob *j = &m->jobs[order[i]];
        gleam__page(b, &bad, "%s{\"id\":%d,\"name\":\"", first ? "" : ",", j->id);
        gleam__esc(b, &bad, j->name, 1);
        gleam__page(b, &bad, "\",\"driver\":\"%s\",\"state\":\"%s\",\"seconds\":%.1f,\"stages\":[", j->driver,
                   gleam__job_state(j), (j->ended > 0 ? j->ended : now) - j->started);
        for (k = 0; k < j->nstages; k++) {
            const gleam__mstage *s = &j->stages[k];
            int q;
            gleam__page(b, &bad, "%s{\"id\":%d,\"label\":\"", k ? "," : "", s->id);
            gleam__esc(b, &bad, s->label, 1);
            gleam__page(b, &bad, "\",\"tasks\":%d,\"done\":%d,\"running\":%d,\"rows\":%lld,\"bytes\":%lld,\"inputs\":[",
                       s->shards, s->done, s->running, (long long)s->rows, (long long)s->bytes);
            for (q = 0; q < s->ninputs; q++) gleam__page(b, &bad, "%s%d", q ? "," : "", s->inputs[q]);
            gleam__page(b, &bad, "]}");
        }
        gleam__page(b, &bad, "]}");
        first = 0;
    }
    gleam__page(b, &bad, "]}\n");
    pthread_mutex_unlock(&m->mu);
    return bad ? -1 : 0;
}

/* A job's stages as boxes in columns by depth (a stage one column right of the deepest
   stage it reads), an arrow per input, each box filled as far as its tasks are done. */
static void gleam__svg(gleam__buf *b, int *bad, const gleam__mjob *j) {
    int depth[GLEAM__MAX_STAGES], row[GLEAM__MAX_STAGES], count[GLEAM__MAX_STAGES], i, q, k, w = 0, h = 0;
    const int BW = 230, BH = 64, GX = 60, GY = 24;
    memset(count, 0, sizeof count);
    for (i = 0; i < j->nstages; i++) { /* stages come in order: what a stage reads is before it */
        depth[i] = 0;
        for (q = 0; q < j->stages[i].ninputs; q++)
            for (k = 0; k < i; k++)
                if (j->stages[k].id == j->stages[i].inputs[q] && depth[k] + 1 > depth[i]) depth[i] = depth[k] + 1;
        row[i] = count[depth[i]]++;
        w = GLEAM__MAX(w, (depth[i] + 1) * (BW + GX));
        h = GLEAM__MAX(h, (row[i] + 1) * (BH + GY));
    }
    gleam__page(b, bad,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"12\"><defs><marker id=\"a\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" "
               "markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0L10,5L0,10z\" fill=\"#555\"/></marker></defs>",
               w, h);
    for (i = 0; i < j->nstages; i++)
        for (q = 0; q < j->stages[i].ninputs; q++)
            for (k = 0; k < i; k++)
                if (j->stages[k].id == j->stages[i].inputs[q])
                    gleam__page(b, bad, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#555\" marker-end=\"url(#a)\"/>",
                               depth[k] * (BW + GX) + BW, row[k] * (BH + GY) + BH / 2 + 4, depth[i] * (BW + GX),
                               row[i] * (BH + GY) + BH / 2 + 4);
    for (i = 0; i < j->nstages; i++) {
        const gleam__mstage *s = &j->stages[i];
        int x = depth[i] * (BW + GX), y = row[i] * (BH + GY) + 4;
        gleam__page(b, bad, "<g><title>");
        gleam__esc(b, bad, s->label, 0);
        gleam__page(b, bad,
                   "</title><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"6\" fill=\"#eef\" stroke=\"#447\"/>"
                   "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"6\" fill=\"#6a6\"/>"
                   "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">stage %d: %d/%d tasks</text><text x=\"%d\" y=\"%d\">",
                   x, y, BW, BH, x, y + BH - 6, s->shards ? BW * s->done / s->shards : 0, x + 8, y + 18, s->id, s->done,
                   s->shards, x + 8, y + 36);
        { /* the label cut to what fits in the box */
            char cut[34];
            size_t n = strlen(s->label);
            memcpy(cut, s->label, GLEAM__MIN(n, (size_t)30));
            cut[GLEAM__MIN(n, (size_t)30)] = 0;
            if (n > 30) memcpy(cut + 27, "...", 4);
            gleam__esc(b, bad, cut, 0);
        }
        gleam__page(b, bad, "</text><text x=\"%d\" y=\"%d\" fill=\"#555\">%lld rows, %lld bytes</text></g>", x + 8, y + 52,
                   (long long)s->rows, (long long)s->bytes);
    }
    gleam__page(b, bad, "</svg>");
}

GLEAM__PRIV int gleam__status_html(gleam__master *m, gleam__buf *b) {
    double now = gleam__now();
    int bad = 0, i, k, n = 0, order[GLEAM__MAX_JOBS], nj;
    pthread_mutex_lock(&m->mu);
    gleam__page(b, &bad,
               "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"2\">"
               "<title>gleam-c master %s:%d</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
               "collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}th{background:#eef}h2{margin-top:"
               "1.5em}</style></head><body><h1>gleam-c master %s:%d</h1><p>up %.0f s; this page is read-only and "
               "reloads every 2 s; <a href=\"/status.json\">status.json</a></p><h2>Agents</h2><table><tr><th>agent</th>"
               "<th>address</th><th>slots</th><th>executors running</th><th>memory (MB)</th><th>bytes kept</th><th>jobs"
               "</th><th>last heartbeat</th></tr>",
               m->host, m->port, m->host, m->port, now - m->started);
    for (i = 0; i < GLEAM__MAX_AGENTS; i++) {
        const gleam__magent *a = &m->agents[i];
        if (!a->used) continue;
        gleam__page(b, &bad, "<tr class=\"agent\"><td>%d</td><td>", a->id);
        gleam__esc(b, &bad, a->host, 0);
        gleam__page(b, &bad, ":%d</td><td>%d</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%.1f s ago</td></tr>",
                   a->port, a->slots, (long long)a->running, (long long)a->memory_mb, (long long)a->kept,
                   (long long)a->jobs, now - a->beat);
        n++;
    }
    if (!n) gleam__page(b, &bad, "<tr><td colspan=\"8\">no agents</td></tr>");
    gleam__page(b, &bad, "</table><h2>Jobs</h2>");
    nj = gleam__jobs_newest(m, order);
    for (i = 0, n = 0; i < nj; i++) {
        const gleam__mjob *j = &m->jobs[order[i]];
        gleam__page(b, &bad, "<div class=\"job\"><h3>job %d: ", j->id);
        gleam__esc(b, &bad, j->name, 0);
        gleam__page(b, &bad,
                   " (%s, %.1f s, driver %s)</h3><table><tr><th>stage</th><th>steps</th><th>tasks</th><th>done</th><th>"
                   "running</th><th>rows</th><th>bytes</th></tr>",
                   gleam__job_state(j), (j->ended > 0 ? j->ended : now) - j->started, j->driver);
        for (k = 0; k < j->nstages; k++) {
            const gleam__mstage *s = &j->stages[k];
            gleam__page(b, &bad, "<tr class=\"stage\"><td>%d</td><td>", s->id);
            gleam__esc(b, &bad, s->label, 0);
            gleam__page(b, &bad, "</td><td>%d</td><td>%d</td><td>%d</td><td>%lld</td><td>%lld</td></tr>", s->shards, s->done,
                       s->running, (long long)s->rows, (long long)s->bytes);
        }
        gleam__page(b, &bad, "</table><p>");
        gleam__svg(b, &bad, j);
        gleam__page(b, &bad, "</p></div>");
        n++;
    }
    if (!n) gleam__page(b, &bad, "<p>no jobs</p>");
    gleam__page(b, &bad, "</body></html>\n");
    pthread_mutex_unlock(&m->mu);
    return bad ? -1 : 0;
}

/* Let fd's next recv or send wait until `end` at most. 0, or -1 when that has passed. */
static int gleam__http_until(int fd, double end) {
    double left = end - gleam__now();
    if (left <= 0) return -1;
    gleam__timeouts(fd, (int)(left * 1000) + 1);
    return 0;
}

GLEAM__PRIV void gleam__status_http(gleam__master *m, int fd, const char peek[4]) {
    char req[4096], path[256], hdr[256], peer[64];
    size_t n = 4, off = 0;
    gleam__buf body = {NULL, 0, 0};
    const char *type = "text/html; charset=utf-8", *status = "200 OK";
    int head = !memcmp(peek, "HEAD", 4), r = 0, busy, whole = 0, late = 0, port;
    double end = gleam__now() + GLEAM__NET_GREET_MS / 1000.0;
    pthread_mutex_lock(&m->mu);
    if (!(busy = m->http >= GLEAM__HTTP_MAX)) m->http++;
    pthread_mutex_unlock(&m->mu);
    if (busy) {
        static const char full[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";
        send(fd, full, sizeof full - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        return;
    }
    memcpy(req, peek, 4);
    req[4] = 0;
    while (!whole && n < sizeof req - 1) { /* the request line and headers, up to their blank line */
        ssize_t k = -1;
        if (gleam__http_until(fd, end)) errno = EAGAIN;
        else k = recv(fd, req + n, sizeof req - 1 - n, 0);
        if (k <= 0) {
            whole = k == 0; /* it said all it will say */
            late = k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
            break;
        }
        n += (size_t)k;
        req[n] = 0;
        whole = strstr(req, "\r\n\r\n") || strstr(req, "\n\n");
    }
    if (!whole && n < sizeof req - 1) { /* a request that trickles or never ends holds no thread for long */
        if (late) {
            gleam__peer(fd, peer, sizeof peer, &port);
            fprintf(stderr, "gleam master: refused %s:%d: its HTTP request did not come within %d s\n", peer, port,
                    GLEAM__NET_GREET_MS / 1000);
        }
        goto out;
    }
    if (sscanf(req + (head ? 5 : 4), "%255s", path) != 1) snprintf(path, sizeof path, "/");
    if (!strcmp(path, "/") || !strcmp(path, "/index.html")) r = gleam__status_html(m, &body);
    else if (!strcmp(path, "/status.json")) {
        r = gleam__status_json(m, &body);
        type = "application/json";
    } else {
        status = "404 Not Found";
        type = "text/plain";
        r = gleam__buf_add(&body, "not found: the master serves / and /status.json\n", 48);
    }
    if (r) goto out;
    snprintf(hdr, sizeof hdr, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
             status, type, body.len);
    end = gleam__now() + GLEAM__NET_TIMEOUT_MS / 1000.0; /* the answer, to a reader however slow, within this */
    if (!gleam__http_until(fd, end) && send(fd, hdr, strlen(hdr), MSG_NOSIGNAL) > 0 && !head)
        while (off < body.len && !gleam__http_until(fd, end)) {
            ssize_t k = send(fd, body.p + off, body.len - off, MSG_NOSIGNAL);
            if (k <= 0) break;
            off += (size_t)k;
        }
out:
    gleam__buf_free(&body);
    pthread_mutex_lock(&m->mu);
    m->http--;
    pthread_mutex_unlock(&m->mu);
}
