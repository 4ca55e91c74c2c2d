/* t_job.c: the job loop (snapshotd/job.c) on a real node: due order, the
 * node lock held for the whole job under the job's name, a job that
 * finds the node busy waits and runs after, a handed-over lock, and a
 * stop that drops what has not started. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"
#include "fsutil.h"
#include "job.h"
#include "node.h"
#include "tap.h"

struct rec {
	int ran, freed;
	int64_t at;
	int order;		/* the how-manieth job that ran */
	int busy_inside;	/* node_begin() refused while it ran */
	char refusal[256];
};

static int nran;

static int record(struct node *n, void *arg)
{
	struct rec *r = arg;

	r->at = job_now();
	r->order = ++nran;
	if (node_begin(n, "probe") == ERR_BUSY) {
		r->busy_inside = 1;
		snprintf(r->refusal, sizeof r->refusal, "%s", err_msg());
	} else
		node_end(n);
	__atomic_store_n(&r->ran, 1, __ATOMIC_RELEASE);
	return 0;
}

static void mark_freed(void *arg)
{
	((struct rec *)arg)->freed = 1;
}

/* Wait up to ms for r to run. */
static int ran_within(struct rec *r, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (__atomic_load_n(&r->ran, __ATOMIC_ACQUIRE))
			return 1;
		usleep(10000);
	}
	return __atomic_load_n(&r->ran, __ATOMIC_ACQUIRE);
}

static struct node *open_node(char *dir)
{
	char text[512], *file;
	struct conf *c = NULL;
	struct node *n = NULL;

	file = fs_join(dir, "nodebak.conf");
	snprintf(text, sizeof text, "[node]\nname = unit\nstate_dir = %s/state\n"
	    "files_dir = %s/files\n[database]\npath = %s/db/node.db\n"
	    "[snapshotd]\nsocket = %s/sock\n", dir, dir, dir, dir);
	if (fs_write_atomic(file, text, strlen(text), 0600) != 0 ||
	    conf_load(file, &c) != 0 || node_open(c, &n) != 0)
		n = NULL;
	free(file);
	return n;
}

void t_job(void)
{
	char dir[] = "/tmp/nodebak-unit-job-XXXXXX";
	struct rec a = { 0 }, early = { 0 }, late = { 0 }, waits = { 0 };
	struct rec handed = { 0 }, never = { 0 };
	struct node *n;
	int64_t t0;

	if (mkdtemp(dir) == NULL || (n = open_node(dir)) == NULL) {
		ok(0, "job: a node to run jobs on: %s", err_msg());
		return;
	}
	ok(job_at(job_now(), "too soon", record, &a, NULL) == ERR_INVAL,
	    "job: refused before the loop runs");
	ok(job_start(n) == 0, "job: the loop starts");

	ok(job_at(job_now(), "unit job a", record, &a, NULL) == 0 &&
	    ran_within(&a, 3000), "job: a job due now runs");
	ok(a.busy_inside && strstr(a.refusal, "another operation is in "
	    "progress (unit job a)"), "job: it holds the node lock under its "
	    "name: %s", a.refusal);
	ok(node_begin(n, "after a") == 0, "job: and releases it at its end");
	node_end(n);

	t0 = job_now();
	job_at(t0 + 400, "late", record, &late, NULL);
	job_at(t0 + 150, "early", record, &early, NULL);
	ok(ran_within(&late, 3000) && early.ran && early.order < late.order,
	    "job: jobs run in order of their due time, not of submission");
	ok(early.at >= t0 + 150 && late.at >= t0 + 400,
	    "job: none before it is due (%lld and %lld ms after)",
	    (long long)(early.at - t0), (long long)(late.at - t0));

	ok(node_begin(n, "console op") == 0, "job: a console command holds the "
	    "lock");
	job_at(job_now(), "waits", record, &waits, NULL);
	ok(!ran_within(&waits, 300), "job: a job due meanwhile does not run");
	t0 = job_now();
	node_end(n);
	ok(ran_within(&waits, JOB_RETRY_MS + 3000) && waits.busy_inside,
	    "job: it runs, under the lock, once the command ended (%lld ms "
	    "after)", (long long)(waits.at - t0));

	ok(node_begin(n, "database cluster initialize") == 0 &&
	    job_handover("handed", record, &handed, NULL) == 0,
	    "job: a command hands its lock to a job");
	ok(ran_within(&handed, 3000) && strstr(handed.refusal, "(handed)"),
	    "job: the job runs at once, holding that lock under its own name: "
	    "%s", handed.refusal);
	ok(node_begin(n, "after handed") == 0, "job: the job released it");
	node_end(n);

	job_at(job_now() + 60000, "never", record, &never, mark_freed);
	job_stop();
	ok(!never.ran && never.freed, "job: a stop drops a job not yet due, "
	    "freeing its argument");
	ok(job_at(job_now(), "after stop", record, &never, NULL) == ERR_INVAL,
	    "job: nothing is accepted after the stop");
	node_free(n);
	fs_rm_rf(dir);
}
