/* job.h: every background job of the daemon, run by one loop (Redis's ae
 * time events, STYLE.md "Timers and background work in one loop"). The
 * loop is a thread of its own, so that a long job never keeps the control
 * socket from answering; it sleeps on a timerfd set to the next due job
 * and an eventfd that a new job or a stop rings. Jobs run one at a time,
 * in order of their due time.
 *
 * A job changes the node under its operation lock, taken the one way
 * everything else takes it: rollback_begin() (node_begin() and the
 * pending-rollback gate) before it runs, node_end() after. A job that
 * finds the lock taken is logged and tried again JOB_RETRY_MS later. A
 * console command that starts a job hands over the lock it already holds
 * (job_handover()), so that nothing slips in between the command and its
 * job. The jobs: the database cluster commands (cluster_job.c) and the
 * scheduled snapshots and metrics (scheduled.c), which are wall-clock timer
 * jobs (job_at_time()) that follow clock.h's clock: setting the test
 * clock wakes the loop, which re-evaluates what is due. */
#ifndef NODEBAK_JOB_H
#define NODEBAK_JOB_H
#include <stdint.h>
#include <time.h>

struct node;

/* How long a job that found the node busy waits before it tries again. */
#define JOB_RETRY_MS 2000

/* The work of a job, run with the node lock held: 0, or a negative
 * ERR_* code with err_msg() saying why (the loop logs it). A job has no
 * console: it records its outcome where its status is read, and logs. */
typedef int (*job_fn)(struct node *n, void *arg);
/* Frees a job's argument (after it ran, or when it is dropped). */
typedef void (*job_free_fn)(void *arg);

/* The loop's clock, in milliseconds (CLOCK_MONOTONIC): the time scale of
 * job_at()'s due times and of retries. Decisions by the time of day use
 * clock_now() and job_at_time() instead. */
int64_t job_now(void);

/* Start the loop for node n, on a thread that inherits the caller's
 * signal mask. 0, or a negative ERR_* code. */
int job_start(struct node *n);
/* Stop the loop: the running job runs to its end, and so does a job
 * handed the lock (its console was told it started); the others are
 * dropped and logged. Returns when the loop's thread has ended. */
void job_stop(void);

/* Run fn(n, arg) at due (job_now()'s scale; now or earlier: at once)
 * under the node lock, then free_arg(arg) (NULL: nothing to free). what
 * names the job in the lock's refusals and the log. 0, or ERR_INVAL when
 * the loop is not running (arg is then still the caller's). */
int job_at(int64_t due, const char *what, job_fn fn, void *arg,
    job_free_fn free_arg);
/* As job_at(), but due when clock_now() (clock.h) reaches when: the due
 * time is re-evaluated whenever the loop wakes, and a change of the test
 * clock wakes it. A job that finds the node busy is retried JOB_RETRY_MS
 * later as job_at() jobs are. 0, or ERR_INVAL as job_at(). */
int job_at_time(time_t when, const char *what, job_fn fn, void *arg,
    job_free_fn free_arg);
/* As job_at(now), for a caller that holds the node lock (taken with
 * rollback_begin()): the lock passes to the job, which ends it when fn
 * returns. 0: the job owns the lock and arg; ERR_INVAL (the loop is not
 * running): the caller keeps both. */
int job_handover(const char *what, job_fn fn, void *arg,
    job_free_fn free_arg);

#endif
