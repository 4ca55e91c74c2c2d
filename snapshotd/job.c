/* job.c: the daemon's background jobs on one loop (see job.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "job.h"
#include "log.h"
#include "node.h"
#include "rollback.h"
#include "xmalloc.h"
#include "banned.h"

struct job {
	char what[128];
	job_fn fn;
	void *arg;
	job_free_fn free_arg;
	int64_t due;
	time_t wall;		/* job_at_time()'s: due at this clock_now() */
	int held;		/* its command handed it the node lock */
	unsigned tries;		/* times it found the node busy */
	struct job *next;
};

static struct {
	pthread_mutex_t lock;	/* guards everything below */
	struct job *queue;	/* jobs handed the lock first, then by due */
	struct node *n;
	int tfd, efd;		/* timerfd: the next due job; eventfd: wake */
	int running, stopping;
	pthread_t thread;
} loop = { .lock = PTHREAD_MUTEX_INITIALIZER, .tfd = -1, .efd = -1 };

int64_t job_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ring the loop (with loop.lock held, so that efd is open). */
static void wake(void)
{
	uint64_t one = 1;
	ssize_t w = write(loop.efd, &one, sizeof one);

	(void)w;	/* a full counter still wakes the loop */
}

static void job_free(struct job *j)
{
	if (j->free_arg)
		j->free_arg(j->arg);
	free(j);
}

/* Into the queue (loop.lock held): after the jobs handed the lock, and
 * after the jobs due no later than j. */
static void enqueue(struct job *j)
{
	struct job **pp = &loop.queue;

	while (*pp && ((*pp)->held || (!j->held && (*pp)->due <= j->due)))
		pp = &(*pp)->next;
	j->next = *pp;
	*pp = j;
}

/* A wall-clock job's due time on job_now()'s scale, as of now. */
static int64_t wall_due(time_t wall)
{
	int64_t now = job_now();
	time_t w = clock_now();

	return wall <= w ? now : now + ((int64_t)wall - (int64_t)w) * 1000;
}

/* Re-place the wall-clock jobs (loop.lock held): the clock may have been
 * set or moved since they were queued (clock.h). */
static void rewall(void)
{
	struct job **pp = &loop.queue, *moved = NULL, *j;

	while ((j = *pp) != NULL)
		if (j->wall && !j->held) {
			*pp = j->next;
			j->due = wall_due(j->wall);
			j->next = moved;
			moved = j;
		} else
			pp = &j->next;
	while ((j = moved) != NULL) {
		moved = j->next;
		enqueue(j);
	}
}

/* The clock changed: ring the loop so it re-evaluates what is due. */
static void clock_changed(void)
{
	pthread_mutex_lock(&loop.lock);
	if (loop.running)
		wake();
	pthread_mutex_unlock(&loop.lock);
}

static int submit(int64_t due, time_t wall, int held, const char *what,
    job_fn fn, void *arg, job_free_fn free_arg)
{
	struct job *j;

	pthread_mutex_lock(&loop.lock);
	if (!loop.running || loop.stopping) {
		pthread_mutex_unlock(&loop.lock);
		return err_set(ERR_INVAL, "%s: the job loop is not running", what);
	}
	j = xcalloc(1, sizeof *j);
	snprintf(j->what, sizeof j->what, "%s", what);
	j->fn = fn;
	j->arg = arg;
	j->free_arg = free_arg;
	j->due = wall ? wall_due(wall) : due;
	j->wall = wall;
	j->held = held;
	enqueue(j);
	wake();
	pthread_mutex_unlock(&loop.lock);
	return 0;
}

int job_at(int64_t due, const char *what, job_fn fn, void *arg,
    job_free_fn free_arg)
{
	return submit(due, 0, 0, what, fn, arg, free_arg);
}

int job_at_time(time_t when, const char *what, job_fn fn, void *arg,
    job_free_fn free_arg)
{
	return submit(0, when > 0 ? when : 1, 0, what, fn, arg, free_arg);
}

int job_handover(const char *what, job_fn fn, void *arg,
    job_free_fn free_arg)
{
	return submit(job_now(), 0, 1, what, fn, arg, free_arg);
}

/* The first job if it is due (loop.lock held); only one handed the lock
 * when stopping. Otherwise NULL, and *next gets the next due time (-1:
 * none). */
static struct job *take_due(int64_t now, int64_t *next)
{
	struct job *j = loop.queue;

	*next = -1;
	if (j && (j->held || (j->due <= now && !loop.stopping))) {
		loop.queue = j->next;
		j->next = NULL;
		return j;
	}
	if (j)
		*next = j->due;
	return NULL;
}

/* Set the timerfd to due (job_now()'s scale), or disarm it (-1). */
static void arm(int64_t due)
{
	struct itimerspec its;

	memset(&its, 0, sizeof its);
	if (due >= 0) {
		if (due < 1)
			due = 1;	/* an all-zero value would disarm it */
		its.it_value.tv_sec = (time_t)(due / 1000);
		its.it_value.tv_nsec = (long)(due % 1000) * 1000000;
	}
	if (timerfd_settime(loop.tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		log_err("job loop: timerfd_settime: %s", strerror(errno));
}

static void run_one(struct job *j)
{
	struct node *n = loop.n;
	int r;

	if (j->held)
		node_relabel(n, j->what);
	else if (rollback_begin(n, j->what, NULL) != 0) {
		/* The first wait is worth a line; the rest only for debugging. */
		logmsg(j->tries++ ? LOG_DEBUG : LOG_INFO, "%s: waiting: %s; "
		    "trying again every %d ms", j->what, err_msg(), JOB_RETRY_MS);
		j->due = job_now() + JOB_RETRY_MS;
		j->wall = 0;	/* retried on the loop's own scale */
		pthread_mutex_lock(&loop.lock);
		enqueue(j);
		pthread_mutex_unlock(&loop.lock);
		return;
	}
	if ((r = j->fn(n, j->arg)) != 0)
		log_err("%s: %s", j->what, err_msg());
	node_end(n);
	job_free(j);
}

/* Sleep until the next due time or a ring. */
static void sleep_until(int64_t next)
{
	struct pollfd pfd[2];
	uint64_t v;
	ssize_t got = 0;

	arm(next);
	pfd[0].fd = loop.tfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = loop.efd;
	pfd[1].events = POLLIN;
	if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
		log_err("job loop: poll: %s", strerror(errno));
		return;
	}
	if (pfd[0].revents & POLLIN)
		got = read(loop.tfd, &v, sizeof v);
	if (pfd[1].revents & POLLIN)
		got = read(loop.efd, &v, sizeof v);
	(void)got;	/* both are non-blocking; a spurious wake is harmless */
}

static void *loop_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct job *j;
		int64_t next;
		int stop;

		pthread_mutex_lock(&loop.lock);
		rewall();
		j = take_due(job_now(), &next);
		stop = j == NULL && loop.stopping;
		pthread_mutex_unlock(&loop.lock);
		if (stop)
			break;
		if (j)
			run_one(j);
		else
			sleep_until(next);
	}
	return NULL;
}

int job_start(struct node *n)
{
	int r;

	pthread_mutex_lock(&loop.lock);
	if (loop.running) {
		pthread_mutex_unlock(&loop.lock);
		return err_set(ERR_INVAL, "the job loop is already running");
	}
	loop.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	loop.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	loop.n = n;
	loop.stopping = 0;
	if (loop.tfd < 0 || loop.efd < 0)
		r = err_sys("job loop");
	else if ((errno = pthread_create(&loop.thread, NULL, loop_main,
	    NULL)) != 0)
		r = err_sys("job loop: cannot start its thread");
	else
		r = 0;
	if (r == 0)
		clock_on_change(clock_changed);
	if (r != 0) {
		if (loop.tfd >= 0)
			close(loop.tfd);
		if (loop.efd >= 0)
			close(loop.efd);
		loop.tfd = loop.efd = -1;
	} else
		loop.running = 1;
	pthread_mutex_unlock(&loop.lock);
	return r;
}

void job_stop(void)
{
	struct job *j;

	pthread_mutex_lock(&loop.lock);
	if (!loop.running) {
		pthread_mutex_unlock(&loop.lock);
		return;
	}
	loop.stopping = 1;
	wake();
	pthread_mutex_unlock(&loop.lock);
	clock_on_change(NULL);
	pthread_join(loop.thread, NULL);
	pthread_mutex_lock(&loop.lock);
	while ((j = loop.queue) != NULL) {
		loop.queue = j->next;
		log_info("%s: not run: nodebak-snapshotd is stopping", j->what);
		job_free(j);
	}
	close(loop.tfd);
	close(loop.efd);
	loop.tfd = loop.efd = -1;
	loop.running = loop.stopping = 0;
	pthread_mutex_unlock(&loop.lock);
}
