/* outputs.c: the end of a distributed job: the last stages' rows, read from the agents
   that keep them, shard by shard, into the program's outputs as local mode writes them. */
#include "net/net.h"

GLEAM__PRIV gleam_result gleam__drive_outputs(gleam__drive *d, gleam__job *job) {
    const gleam__plan *p = d->p;
    gleam__buf buf = {NULL, 0, 0};
    gleam_result r = GLEAM_OK;
    int s, j, i, role;
    char err[512] = "";
    if ((r = gleam__sinks_open(job, NULL)) != GLEAM_OK) return r;
    for (s = 0; s < p->nstages && r == GLEAM_OK; s++) {
        gleam__stage *st = p->stages[s];
        int outs = 0;
        for (i = 1; i < st->nnodes; i++) outs += gleam__step_class(st->nodes[i]->step->kind) == GLEAM__OUTPUT;
        if (!outs) continue;
        for (j = 0; j < st->nshards && r == GLEAM_OK; j++) {
            const gleam__dagent *a = &d->ag[d->t[s][j].agent];
            gleam__task *t = (gleam__task *)gleam__calloc(1, sizeof *t);
            int fd = -1;
            if (!t || !(t->ops = (gleam__op **)gleam__calloc((size_t)st->nnodes, sizeof *t->ops))) {
                gleam__free(t);
                r = GLEAM_ERR_NOMEM;
                break;
            }
            t->job = job;
            t->stage = st;
            t->shard = j;
            t->t0 = gleam__now();
            for (i = 1; i < st->nnodes && r == GLEAM_OK; i++)
                if (gleam__step_class(st->nodes[i]->step->kind) == GLEAM__OUTPUT &&
                    !(t->ops[i] = gleam__make_output(t, st->nodes[i])))
                    r = GLEAM_ERR_NOMEM;
            for (i = 1; i < st->nnodes && r == GLEAM_OK; i++) {
                gleam__op *op = t->ops[i];
                gleam_value m[5];
                if (!op) continue;
                if (fd < 0 && ((fd = gleam__connect(a->host, a->port, 10000, err, sizeof err)) < 0 ||
                               gleam__greet(fd, 0, GLEAM__ROLE_DRIVER, &role, NULL, err, sizeof err) != 1)) {
                    r = GLEAM_ERR_NET;
                    break;
                }
                m[0] = gleam_str(d->job);
                m[1] = gleam_int(s + 1);
                m[2] = gleam_int(j);
                m[3] = gleam_int(st->nodes[i]->step->id);
                m[4] = gleam_int(j + st->nodes[i]->offset);
                if (gleam__msg_send(fd, GLEAM__MSG_FETCH, m, 5)) {
                    gleam__fmt_into(err, sizeof err, "%s", strerror(errno));
                    r = GLEAM_ERR_NET;
                    break;
                }
                for (;;) {
                    gleam__frame fr;
                    const char *q, *e;
                    int k = gleam__frame_read_max(fd, &buf, &fr, GLEAM__NET_FRAME_MAX);
                    if (k <= 0) {
                        gleam__fmt_into(err, sizeof err, "%s", k == 0 ? "it closed the connection" : strerror(errno));
                        r = GLEAM_ERR_NET;
                        break;
                    }
                    if (fr.type == GLEAM__MSG_OK) break;
                    if (fr.type == GLEAM__FRAME_TEXT && gleam__is_text_output(st->nodes[i]->step->kind)) { /* lines made there */
                        if (!op->done) r = gleam__output_text(op, fr.data, fr.len);
                        if (r < 0) break;
                        continue;
                    }
                    if (fr.type != GLEAM__FRAME_ROWS) {
                        gleam__fmt_into(err, sizeof err, "%.*s", fr.type == GLEAM__MSG_ERR ? (int)GLEAM__MIN(fr.len, (size_t)400) : 0, fr.data);
                        if (!err[0]) gleam__fmt_into(err, sizeof err, "a frame of type %d among the rows", fr.type);
                        r = GLEAM_ERR_NET;
                        break;
                    }
                    for (q = fr.data, e = fr.data + fr.len; q < e && r >= 0 && !op->done;) {
                        if (gleam__unpack_row(&q, e, &op->vals) != GLEAM_OK) {
                            gleam__fmt_into(err, sizeof err, "rows that do not decode");
                            r = GLEAM_ERR_NET;
                            break;
                        }
                        op->nin++;
                        r = op->push(op, op->vals.v, op->vals.n);
                    }
                }
                if (r >= 0) r = op->finish(op);
            }
            if (fd >= 0) close(fd);
            if (r == GLEAM_ERR_NET && err[0]) gleam__job_fail(job, r, "reading the output of stage %d, shard %d from agent %s:%d: %s",
                                                             s + 1, j + 1, a->host, a->port, err);
            gleam__task_release(t);
            gleam__free(t);
            if (r > 0) r = GLEAM_OK;
        }
    }
    gleam__buf_free(&buf);
    {
        gleam_result rc = gleam__sinks_close(job);
        if (r == GLEAM_OK) r = rc;
    }
    return r != GLEAM_OK ? r : job->err;
}
