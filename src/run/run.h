/* run.h: the top layer: jobs built from plans and run on a pool of threads (job.c), the
   entry points gleam_init (flags.c) and gleam_run, statistics and progress, and a task run
   in another process of the same binary from the plan's bytes alone (remote.c, exec.c). */
#ifndef GLEAM_RUN_H
#define GLEAM_RUN_H

#include "steps/steps.h"
#include "io/io.h"

/* Start a process for task `shard` of stage `stage`: *fd gets a socket to it, which its
   gleam__exec_task reads and writes; returns its pid, or -1 with errno set. */
typedef pid_t (*gleam__launch_fn)(void *arg, int stage, int shard, int *fd);

/* Set up a job for plan p: its locks, its sizes from opt (resolved), the functions its
   steps name (found by name in this process) and, when flow is the program's flow of
   that plan, the steps' context pointers and where collected rows go. GLEAM_OK, or an
   error with its message in job->errmsg. */
GLEAM__PRIV gleam_result gleam__job_init(gleam__job *job, const gleam__plan *p, gleam_flow *flow, const gleam_options *opt);
GLEAM__PRIV void gleam__job_free(gleam__job *job);
/* The options of gleam_run_with, every zero field given its default. */
GLEAM__PRIV gleam_options gleam__resolve(const gleam_options *opt);
/* Task `shard` of stage st, its operators made. NULL when out of memory. */
GLEAM__PRIV gleam__task *gleam__task_new(gleam__job *job, gleam__stage *st, int shard);
GLEAM__PRIV void gleam__task_free(gleam__task *t);
/* Run the whole plan on the job's threads. GLEAM_OK or the job's first error. */
GLEAM__PRIV gleam_result gleam__job_run(gleam__job *job);
/* The job failed: wake whoever waits in its exchanges (the job's on_abort). */
GLEAM__PRIV void gleam__job_abort(gleam__job *job);

GLEAM__PRIV void gleam__stats_keep(gleam_flow *f, gleam__job *job);
GLEAM__PRIV void gleam__stats_print(const gleam_flow *f, FILE *out);
/* gleam_run_with, with stage `stage` of the flow's plan (0: none) run in other processes
   that launch starts (exec.c). */
GLEAM__PRIV gleam_result gleam__run_flow(gleam_flow *f, const gleam_options *opt, int stage, gleam__launch_fn launch, void *arg);
/* The progress thread. */
GLEAM__PRIV void *gleam__progress_main(void *arg);

/* >>remote: a stage in other processes (remote.c, and exec.c on their side) ---------------- */

/* Make stage `stage` of the job's plan run in other processes, one per shard, started by
   launch (before gleam__job_run). 0, or -1 when out of memory. */
GLEAM__PRIV int gleam__remote_set(gleam__job *job, int stage, gleam__launch_fn launch, void *arg);
/* In gleam__job_run: start the processes and send each its plan and task (GLEAM_OK, or the
   job's error); then, once the pool runs, the threads that read what they send back; at
   the end, wait for both. */
GLEAM__PRIV gleam_result gleam__remote_launch(gleam__job *job);
GLEAM__PRIV gleam_result gleam__remote_start(gleam__job *job);
GLEAM__PRIV void gleam__remote_join(gleam__job *job);
GLEAM__PRIV void gleam__remote_free(gleam__job *job);
/* The socket to the process of partition j of the remote stage. */
GLEAM__PRIV const int *gleam__remote_fds(const gleam__job *job);

/* The other end: this process runs the task the frames on fd name (a PLAN frame, then a
   TASK frame), its input read from fd, its output written to fd, and ends with an END
   frame. Returns 0 when the task succeeded, 1 when it failed (its error went up in the
   END frame), 2 when fd spoke something else (a message on stderr). */
GLEAM__PRIV int gleam__exec_task(int fd);
/* Run task `shard` of stage `stage` of job's plan (made by gleam__job_init) in this
   process: the blocks of the exchanges it feeds and the rows of its outputs go up out as
   frames, its input (when it reads an exchange) comes from in. GLEAM_OK, or its error
   with job->errmsg set. */
GLEAM__PRIV gleam_result gleam__exec_stage(gleam__job *job, int stage, int shard, int out, gleam__frames *in);
/* The END frame of a task with result r and job->errmsg, up out. 0, or -1. */
GLEAM__PRIV int gleam__exec_end(gleam__job *job, int out, gleam_result r);

/* >>net: what gleam_net.h plugs in -------------------------------------------------------- */

/* The flags gleam_init keeps for the distributed mode, and argv as main got it (an
   executor runs main again with the driver's arguments). */
typedef struct gleam__netflags {
    int distributed;        /* -distributed */
    const char *master;     /* -gleam.master=HOST:PORT */
    const char *secret_file; /* -gleam.secret-file=F */
    int argc;
    char **argv;
} gleam__netflags;
GLEAM__PRIV gleam__netflags *gleam__net_flags(void);

/* The distributed mode's entry points, set by gleam_net.h before main runs; NULL in a
   program built without it. init: at the end of gleam_init, with argv stripped of the
   -gleam flags: a role named by argv[1] (master, agent) runs and the process ends; an
   executor gets ready and returns. run: at the start of gleam_run: *handled = 1 when it
   ran the flow (as a driver or an executor), with its result. */
typedef struct gleam__net_ops {
    gleam_result (*init)(int *argc, char ***argv);
    gleam_result (*run)(gleam_flow *f, const gleam_options *opt, int *handled);
} gleam__net_ops;
GLEAM__VAR const gleam__net_ops *gleam__net;

#endif /* GLEAM_RUN_H */
