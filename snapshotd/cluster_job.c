/* cluster_job.c: the database cluster's background jobs (see
 * cluster_job.h, docs/cluster.md). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "cluster.h"
#include "cluster_job.h"
#include "conf.h"
#include "db.h"
#include "err.h"
#include "fault.h"
#include "hooks.h"
#include "job.h"
#include "log.h"
#include "node.h"
#include "xmalloc.h"
#include "banned.h"

struct cjob {
	enum cluster_job_kind kind;
	char master[64];
};

static const char *const names[] = { "Initialize", "Join", "Remove" };

const char *cluster_job_name(enum cluster_job_kind k)
{
	return names[k];
}

static void tls_of(const struct cluster *cl, struct db_tls *t)
{
	t->server_key = cl->server_key;
	t->server_cert = cl->server_cert;
	t->client_key = cl->client_key;
	t->client_cert = cl->client_cert;
	t->ca_cert = cl->ca_cert;
}

static const struct conf *live_conf(struct node *n)
{
	const struct conf *c;

	pthread_mutex_lock(&n->state_lock);
	c = n->conf;
	pthread_mutex_unlock(&n->state_lock);
	return c;
}

/* The result goes to cluster.conf, where status reads it. */
static void finish(struct node *n, const struct cjob *j, int r,
    const char *me)
{
	struct cluster cl;
	char why[CLUSTER_VAL_MAX];

	snprintf(why, sizeof why, "%s", r ? err_msg() : "");
	if (cluster_load(n->cluster_path, &cl) != 0) {
		log_err("database cluster: %s", err_msg());
		return;
	}
	cl.since = clock_now();
	cl.last_ok = r == 0;
	cl.error[0] = '\0';
	if (r != 0) {
		cl.status = CS_ERROR;
		snprintf(cl.error, sizeof cl.error, "%s", why);
	} else if (j->kind == CLUSTER_JOB_REMOVE) {
		cl.status = CS_DISABLED;
		cl.node_in_use[0] = cl.master[0] = '\0';
	} else {
		cl.status = CS_ENABLED;
		snprintf(cl.node_in_use, sizeof cl.node_in_use, "%s",
		    j->kind == CLUSTER_JOB_JOIN ? j->master : me);
		snprintf(cl.master, sizeof cl.master, "%s",
		    j->kind == CLUSTER_JOB_JOIN ? j->master : "");
	}
	if (cluster_save(n->cluster_path, &cl) != 0)
		log_err("database cluster: %s", err_msg());
	if (r)
		log_err("database cluster %s: failed: %s", cl.last_command, why);
	else
		log_info("%s: done", cl.last_command);
}

/* The node's services stop around the database work, as around a
 * rollback's swap (the prompts say they restart at the end): service_stop
 * first; when it fails, service_start, and the job fails having changed
 * nothing. service_start runs after the work whatever its outcome; when
 * it fails, the outcome stands and the failure is logged. */
static int with_services(const struct conf *c, const struct cjob *j,
    const char *me, const struct cluster *cl, const struct db_tls *t)
{
	char why[1024];
	int r;

	if (hook_run("service_stop", c->service_stop) != 0) {
		snprintf(why, sizeof why, "%s", err_msg());
		hook_run("service_start", c->service_start);
		return err_set(ERR_IO, "%s; nothing was changed", why);
	}
	if (j->kind == CLUSTER_JOB_INITIALIZE)
		r = db_cluster_master(c, me, t);
	else if (j->kind == CLUSTER_JOB_JOIN)
		r = db_cluster_join(c, me, t, j->master);
	else
		r = db_cluster_leave(c, me, cl->master);
	snprintf(why, sizeof why, "%s", r ? err_msg() : "");
	if (hook_run("service_start", c->service_start) != 0)
		log_err("database cluster %s: %s", names[j->kind], err_msg());
	if (r)
		err_set(r, "%s", why);
	return r;
}

/* The job: 0 once its outcome, success or failure, is recorded (finish()
 * logs it); an error only when cluster.conf cannot be read. */
static int run(struct node *n, void *arg)
{
	const struct cjob *j = arg;
	const struct conf *c = live_conf(n);
	struct cluster cl;
	struct db_tls t;
	const char *me;
	int r;

	fault_point("cluster-job-running");
	if ((r = cluster_load(n->cluster_path, &cl)) != 0)
		return r;
	tls_of(&cl, &t);
	me = conf_iface(c, cl.interface);
	r = with_services(c, j, me, &cl, &t);
	finish(n, j, r, me ? me : "");
	return 0;
}

int cluster_job_start(struct node *n, enum cluster_job_kind k,
    const char *master)
{
	struct cjob *j = xcalloc(1, sizeof *j);
	char what[64];
	int r;

	j->kind = k;
	snprintf(j->master, sizeof j->master, "%s", master ? master : "");
	snprintf(what, sizeof what, "database cluster %s", names[k]);
	if ((r = job_handover(what, run, j, free)) != 0) {
		finish(n, j, r, "");
		free(j);
	}
	return r;
}
