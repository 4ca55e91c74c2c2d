/* journal.h: the redo journal that makes a rollback atomic across many
 * files (docs/crash-safety.md). Written once, atomically, at the commit
 * point; every step is idempotent, so replaying the whole journal after a
 * crash at any moment finishes the rollback. */
#ifndef NODEBAK_JOURNAL_H
#define NODEBAK_JOURNAL_H
#include <stddef.h>

#define JOURNAL_FILE "rollback.journal"
#define JOURNAL_INTENT "rollback.intent"	/* in state_dir/work */
#define JOURNAL_STAGE "rollback-stage"		/* in state_dir/work */
/* In state_dir/work, written before the journal is removed and removed
 * after the services are started: the node is in the restored state. */
#define JOURNAL_DONE "rollback.done"

enum jop { JOP_REMOVE, JOP_MKDIR, JOP_REPLACE };

struct jstep {
	enum jop op;
	char *src;		/* JOP_REPLACE: staged file */
	char *dst;
	unsigned mode;		/* JOP_MKDIR */
};

struct journal {
	char bak[80];		/* the archive being restored */
	struct jstep *s;
	size_t n, cap;
};

void journal_init(struct journal *j, const char *bak);
void journal_free(struct journal *j);
void journal_add(struct journal *j, enum jop op, const char *src,
    const char *dst, unsigned mode);
/* Write j to path atomically (the commit point). */
int journal_write(const struct journal *j, const char *path);
/* Read the journal at path; ERR_FORMAT if damaged. */
int journal_read(const char *path, struct journal *j);
/* Perform every step (idempotent), fsyncing what each touched. */
int journal_apply(const struct journal *j);

#endif
