/* store.c: the frames an agent keeps for the tasks that ran on it, by job and task, until
   the job ends: in memory up to the agent's -memory, then appended to one file per job
   under -dir, named by the job (a name checked by gleam__mname: never a path). */
#include "net/net.h"

GLEAM__PRIV gleam__sjob *gleam__store_job(gleam__store *st, const char *name, int make) {
    gleam__sjob *j;
    for (j = st->jobs; j; j = j->next)
        if (!strcmp(j->name, name)) return j;
    if (!make || strlen(name) >= sizeof j->name || !(j = (gleam__sjob *)gleam__calloc(1, sizeof *j))) return NULL;
    snprintf(j->name, sizeof j->name, "%s", name);
    j->fd = -1;
    j->next = st->jobs;
    st->jobs = j;
    st->made++;
    return j;
}

/* Room for n bytes (a frame and its header) in task t's chunks. NULL when out of memory. */
static void *gleam__chunk_room(gleam__store *st, gleam__stask *t, size_t n) {
    gleam__kchunk *c = t->chunks;
    n = (n + 15) & ~(size_t)15;
    if (!c || c->size - c->used < n) {
        if (n <= GLEAM__KCHUNK && st->pool) { /* a chunk given back by an earlier task */
            c = st->pool;
            st->pool = c->next;
            st->pooled -= c->size;
        } else {
            size_t size = GLEAM__MAX(n, GLEAM__KCHUNK);
            if (!(c = (gleam__kchunk *)gleam__big_alloc(sizeof *c + size))) return NULL; /* mapped: freed, it goes back */
            c->size = size;
        }
        c->used = 0;
        c->next = t->chunks;
        t->chunks = c;
        st->mem += sizeof *c + c->size;
    }
    c->used += n;
    return (char *)(c + 1) + c->used - n;
}

static void gleam__stask_empty(gleam__store *st, gleam__stask *t) {
    gleam__sframe *f = t->head, *n;
    gleam__kchunk *c, *cn;
    for (; f; f = n) {
        n = f->next;
        if (f->off >= 0) gleam__free(f); /* on disk: only its header was allocated */
    }
    for (c = t->chunks; c; c = cn) { /* back to the pool, up to the memory the store may hold */
        cn = c->next;
        st->mem -= sizeof *c + c->size;
        if (c->size == GLEAM__KCHUNK && st->pooled + c->size <= st->cap) {
            c->next = st->pool;
            st->pool = c;
            st->pooled += c->size;
        } else {
            gleam__big_free(c, sizeof *c + c->size);
        }
    }
    t->chunks = NULL;
    st->kept -= t->bytes;
    t->head = t->tail = NULL;
    t->bytes = t->rows = 0;
    t->done = 0;
}

GLEAM__PRIV gleam__stask *gleam__store_task(gleam__store *st, gleam__sjob *j, int stage, int shard, int fresh) {
    gleam__stask *t;
    for (t = j->tasks; t; t = t->next)
        if (t->stage == stage && t->shard == shard) {
            if (fresh) gleam__stask_empty(st, t); /* what an earlier attempt kept is never read */
            return t;
        }
    if (!(t = (gleam__stask *)gleam__calloc(1, sizeof *t))) return NULL;
    t->stage = stage;
    t->shard = shard;
    t->next = j->tasks;
    j->tasks = t;
    return t;
}

GLEAM__PRIV int gleam__store_add(gleam__store *st, gleam__sjob *j, gleam__stask *t, const char *p, size_t n, uint32_t rows) {
    int disk = st->mem + n + GLEAM__KCHUNK > st->cap;
    gleam__sframe *f = (gleam__sframe *)(disk ? gleam__malloc(sizeof *f) : gleam__chunk_room(st, t, sizeof *f + n));
    if (!f) {
        errno = ENOMEM;
        return -1;
    }
    f->next = NULL;
    f->len = (uint32_t)n;
    f->rows = rows;
    f->off = -1;
    if (disk) {
        if (j->fd < 0) {
            char path[1200];
            snprintf(path, sizeof path, "%s/%s.blocks", st->dir, j->name);
            if ((j->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
                gleam__free(f);
                return -1;
            }
            j->fsize = 0;
        }
        ssize_t w = pwrite(j->fd, p, n, (off_t)j->fsize);
        if (w != (ssize_t)n) {
            if (w >= 0) errno = ENOSPC; /* a short write: the file system is full */
            gleam__free(f);
            return -1;
        }
        f->off = j->fsize;
        j->fsize += (int64_t)n;
    } else {
        memcpy(f->data, p, n);
    }
    if (t->tail) t->tail->next = f;
    else t->head = f;
    t->tail = f;
    t->bytes += n;
    st->kept += n;
    return 0;
}

GLEAM__PRIV int gleam__store_read(const gleam__sjob *j, const gleam__sframe *f, gleam__buf *buf) {
    buf->len = 0;
    if (gleam__buf_reserve(buf, f->len)) return -1;
    if (f->off < 0) memcpy(buf->p, f->data, f->len);
    else if (pread(j->fd, buf->p, f->len, (off_t)f->off) != (ssize_t)f->len) return -1;
    buf->len = f->len;
    return 0;
}

static void gleam__store_free(gleam__store *st, gleam__sjob *j) {
    gleam__stask *t, *n;
    for (t = j->tasks; t; t = n) {
        n = t->next;
        gleam__stask_empty(st, t);
        gleam__free(t);
    }
    if (j->fd >= 0) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.blocks", st->dir, j->name);
        unlink(path);
        close(j->fd);
    }
    gleam__free(j);
}

GLEAM__PRIV void gleam__store_drop(gleam__store *st, gleam__sjob *j) {
    gleam__sjob **at = &st->jobs;
    while (*at && *at != j) at = &(*at)->next;
    if (*at) *at = j->next;
    j->dropped = 1;
    if (!j->readers) gleam__store_free(st, j);
}

GLEAM__PRIV void gleam__store_release(gleam__store *st, gleam__sjob *j) {
    if (--j->readers == 0 && j->dropped) gleam__store_free(st, j);
}

GLEAM__PRIV void gleam__store_trim(gleam__store *st) {
    gleam__kchunk *c, *n;
    for (c = st->pool; c; c = n) {
        n = c->next;
        gleam__big_free(c, sizeof *c + c->size);
    }
    st->pool = NULL;
    st->pooled = 0;
}
