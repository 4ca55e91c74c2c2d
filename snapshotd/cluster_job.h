/* cluster_job.h: the database cluster's background jobs (initialize, join,
 * remove), run on the job loop (job.h) once their console command
 * (cmd_cluster.c) has checked and confirmed them. Their outcome goes to
 * cluster.conf, where `database cluster status` reads it, and the log. */
#ifndef NODEBAK_CLUSTER_JOB_H
#define NODEBAK_CLUSTER_JOB_H

struct node;

enum cluster_job_kind {
	CLUSTER_JOB_INITIALIZE,
	CLUSTER_JOB_JOIN,
	CLUSTER_JOB_REMOVE,
};

/* "Initialize", "Join", "Remove". */
const char *cluster_job_name(enum cluster_job_kind k);

/* Start job k (master: the address a join joins, else NULL). The caller
 * holds the node lock (rollback_begin()); it passes to the job, which
 * holds it until the job ends: nothing can change the node between the
 * command and its job. 0: started. Otherwise a negative ERR_* code, the
 * failure is recorded in cluster.conf as the job's, and the caller keeps
 * the lock. */
int cluster_job_start(struct node *n, enum cluster_job_kind k,
    const char *master);

#endif
