/* journal.h: the redo journal that makes a rollback atomic across many
 * files (docs/crash-safety.md). Written once, atomically, at the commit
 * point; every step is idempotent, so replaying the whole journal after a
 * crash at any moment finishes the rollback.
 *
 * A journal owns exactly one staging folder (named in it), and every
 * replace step carries the SHA-256 and size of the file it installs: a
 * staged file is checked against them before it is installed, and a step
 * whose staged file is gone counts as done only when its destination
 * holds exactly that content.
 *
 * One exception, in memory only: a staged file this process verified
 * itself (its bytes hashed against the signed MANIFEST as they were
 * written, in the same rollback) carries the stamp it had then, and is
 * installed without hashing it again while its stamp is unchanged. A
 * journal read back from disk has no stamps: after a crash every staged
 * file is hashed again. */
#ifndef NODEBAK_JOURNAL_H
#define NODEBAK_JOURNAL_H
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "fsutil.h"

#define JOURNAL_FILE "rollback.journal"
#define JOURNAL_INTENT "rollback.intent"	/* in state_dir/work */
/* Staging folders are state_dir/work/rollback-stage-XXXXXX (mkdtemp),
 * one per rollback; a pending journal names its own. */
#define JOURNAL_STAGE_PREFIX "rollback-stage"
/* In state_dir/work, written before the journal is removed and removed
 * after the services are started: the node is in the restored state. */
#define JOURNAL_DONE "rollback.done"

enum jop { JOP_REMOVE, JOP_MKDIR, JOP_REPLACE };

struct jstep {
	enum jop op;
	char *src;		/* JOP_REPLACE: staged file */
	char *dst;
	unsigned mode;		/* JOP_MKDIR */
	char sha[SHA256_HEX_LEN + 1];	/* JOP_REPLACE: content installed */
	uint64_t size;
	/* JOP_REPLACE, set by the caller, never written: see above. */
	int verified;
	struct fs_stamp stamp;
};

struct journal {
	char bak[80];		/* the archive being restored */
	char *stage;		/* the staging folder this journal owns */
	struct jstep *s;
	size_t n, cap;
};

void journal_init(struct journal *j, const char *bak, const char *stage);
void journal_free(struct journal *j);
/* Append a step; the caller fills sha and size of a JOP_REPLACE. */
struct jstep *journal_add(struct journal *j, enum jop op, const char *src,
    const char *dst, unsigned mode);
/* Write j to path atomically (the commit point). */
int journal_write(const struct journal *j, const char *path);
/* Read the journal at path; ERR_FORMAT if damaged. */
int journal_read(const char *path, struct journal *j);
/* Perform every step (idempotent), fsyncing what each touched. A staged
 * file that does not hold the step's content, or a missing one whose
 * destination does not either, is an error (ERR_MISMATCH): nothing
 * unverified is installed. */
int journal_apply(const struct journal *j);
/* Apply j (committed at jpath), then write done (the archive's name),
 * remove the journal, then its staging folder and intent. The node is in
 * the restored state when this returns 0. */
int journal_complete(const struct journal *j, const char *jpath,
    const char *done, const char *intent);

#endif
