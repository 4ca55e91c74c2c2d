/* rjournal.h: the renewal's journal on the orchestrating machine
 * (docs/cluster.md, "If the orchestrator dies"): which step started and
 * which succeeded on which node, so that `nodebak cluster renew --resume`
 * continues and `--abort` rolls back every node it touched. Rewritten
 * whole at every change: a temporary file, fsync, rename, fsync of the
 * folder; mode 0600. */
#ifndef NODEBAK_RJOURNAL_H
#define NODEBAK_RJOURNAL_H
#include "rnode.h"

#define RJOURNAL_NODES_MAX 32

enum rj_outcome {
	RJ_PENDING = 0,
	RJ_RENEWED,		/* renewed, in sync */
	RJ_ROLLED_BACK,		/* rolled back to the pre-renew snapshot */
	RJ_ATTENTION,		/* needs the operator: see note */
	RJ_UNCHANGED,		/* the renewal stopped before changing it */
};

struct rj_node {
	char spec[160];			/* USER@ADDRESS[:PORT] */
	unsigned started, done;		/* bit per step (renew.c's table) */
	enum rj_outcome outcome;
	int member;			/* before: Status Enabled */
	char note[512];			/* one line, for RJ_ATTENTION */
};

struct rjournal {
	char stamp[32];			/* the snapshot is pre-renew-<stamp> */
	char master[RNODE_ADDR_MAX];
	char certs[1024];		/* the --certs folder */
	int n;
	struct rj_node node[RJOURNAL_NODES_MAX];
};

/* Read path into j (zeroed first). ERR_NOTFOUND when there is none;
 * ERR_FORMAT naming the line. */
int rjournal_load(const char *path, struct rjournal *j);
/* Write j to path, durably (see above). */
int rjournal_save(const char *path, const struct rjournal *j);
/* 1 when every node has an outcome. */
int rjournal_finished(const struct rjournal *j);
/* The words of an outcome ("renewed", ...). */
const char *rjournal_outcome_name(enum rj_outcome o);

#endif
