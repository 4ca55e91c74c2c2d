/* rollback.h: restore the node from a .bak (docs/crash-safety.md): the
 * engine. The console command (cmd_backup.c) asks and reports; this
 * stages, checks, snapshots, commits and completes, and tells its
 * progress through a ui (NULL: nobody listens). */
#ifndef NODEBAK_ROLLBACK_H
#define NODEBAK_ROLLBACK_H

#include "db.h"
#include "manifest.h"
#include "names.h"

struct age_identity;
struct bakcheck;
struct node;
struct ui;

/* --force: differences an operator may accept (never a forged claim). */
#define ROLLBACK_FORCE_NODE 1u
#define ROLLBACK_FORCE_VERSION 2u
#define ROLLBACK_FORCE_SCHEMA 4u

struct rollback_req {
	const char *file;		/* NAME.bak in the backups folder */
	unsigned force;			/* ROLLBACK_FORCE_* */
	int no_safety;			/* no safety snapshot first */
	/* What the operator was shown and confirmed (bakcheck_file()), which
	 * the staged archive must still be; NULL with --yes. */
	const struct bakcheck *seen;
	/* An operator's age identities (--identity) that open a sealed
	 * archive; none: the node's recovery identity. */
	const struct age_identity *ids;
	size_t nids;
};

struct rollback_res {
	struct manifest mf;		/* the archive restored */
	char safety[NAME_MAX_LEN + 1];	/* the safety snapshot's name, or "" */
	int committed;			/* the journal was written */
	int dbok;			/* the restored database checks out */
	char dbwhat[DB_CHECK_WHAT_MAX];	/* what was checked, or what failed */
};

/* Restore the node from rq->file, with the operation lock held. Progress
 * (the safety snapshot, warnings) goes to ui. 0 when the node is in the
 * restored state: res says what was restored and whether the database
 * checks out. Otherwise a negative ERR_* code with err_msg() saying why:
 * with res->committed 0 the node was not changed; with 1 the rollback is
 * committed but not complete (node_rollback_pending()). The caller frees
 * res with rollback_res_free() either way. */
int rollback_run(struct node *n, const struct rollback_req *rq,
    const struct ui *ui, struct rollback_res *res);
void rollback_res_free(struct rollback_res *res);

/* Complete a rollback that was committed but not completed (its journal
 * exists, or its PostgreSQL dump is not restored yet; see
 * node_rollback_pending()): called with the operation lock held before
 * any other operation changes the node; says so on ui. 0 when the node is
 * now wholly in the restored state; else ERR_REFUSED saying why and what
 * to do. */
int rollback_resume(struct node *n, const struct ui *ui);

/* The one way an operation that changes the node starts (a console
 * command, a job): take the operation lock (node_begin(), what names the
 * operation), then complete a pending rollback (rollback_resume(), saying
 * so on ui). 0 with the lock held; ERR_BUSY when another operation runs,
 * ERR_REFUSED when the pending rollback cannot be completed, without it. */
int rollback_begin(struct node *n, const char *what, const struct ui *ui);

#endif
