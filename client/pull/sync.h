/* sync.h: nodebak-pull sync (docs/pull.md): every node in parallel (at
 * most jobs at once), each on its own connection and under its own lock;
 * a node that fails does not stop the others. */
#ifndef NODEBAK_SYNC_H
#define NODEBAK_SYNC_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "names.h"

struct pull_conf;
struct pull_node;

struct sync_opts {
	char **only;		/* --node NAME...: these nodes only */
	size_t n_only;
	long jobs;		/* 0: the configuration's */
	int dry_run;
	int tty;		/* progress redrawn in place on stderr */
	int quiet;		/* no progress or log lines (--json) */
};

/* What happened to one node; the progress fields are read by the main
 * thread under the runner's lock. */
struct node_report {
	const struct pull_node *node;
	int ok;				/* everything pulled and verified */
	long n_new, n_skipped, n_failed, n_deleted;
	uint64_t bytes;			/* archive bytes downloaded */
	uint64_t resumed;		/* downloads continued */
	double seconds;
	/* [pull] store: copies stored, already there, failed, deleted by
	 * retention; archive bytes sent; uploads continued */
	int has_store;
	long n_stored, n_store_skipped, n_store_failed, n_store_deleted;
	uint64_t store_bytes, store_resumed;
	struct buf errors;		/* one line each */
	/* progress */
	char current[NAME_MAX_LEN + 5];
	uint64_t done, total;
	double started, last_progress;	/* monotonic seconds */
	int fd;				/* socket, -1 when not connected */
	int stalled;			/* the watchdog cut the connection */
	int finished;
};

/* Sync the selected nodes; *reps gets one report per node (free with
 * sync_reports_free()). Returns the exit status: 0 all pulled and
 * verified, 1 some nodes failed, 2 all failed; 3 when an --node name is
 * not in the configuration (err_msg() says which). */
int sync_run(const struct pull_conf *c, const struct sync_opts *o,
    struct node_report **reps, size_t *n);
void sync_reports_free(struct node_report *reps, size_t n);
/* The --json summary of a run. */
void sync_json(const struct node_report *reps, size_t n, int status,
    struct buf *out);

#endif
