/* bakcheck.h: what an archive in the backups folder proves about itself,
 * for backup list and the rollback confirmation: bak_read()'s checks and
 * node_check_claim(), run once per version of the file and remembered. */
#ifndef NODEBAK_BAKCHECK_H
#define NODEBAK_BAKCHECK_H
#include <time.h>

#include "age.h"
#include "crypto.h"
#include "names.h"

struct node;

enum bakcheck_status {
	BC_VERIFIED,	/* every check of backup verify but the .json passed */
	BC_FORGED,	/* signature ok; the key may not sign for that node */
	BC_UNBOUND,	/* signature ok; key trusted with no node recorded */
	BC_BADSIG,	/* the signature does not verify */
	BC_UNTRUSTED,	/* signed by a key this node does not trust */
	BC_UNVERIFIED,	/* unreadable, malformed, damaged or over a limit */
};

struct bakcheck {
	enum bakcheck_status status;
	/* BC_VERIFIED: the verified MANIFEST's fields. Otherwise what the
	 * MANIFEST claims ("" when it is unreadable): a claim, to be shown
	 * as one and escaped (key_id is not checked to be hex). */
	char node_name[NAME_MAX_LEN + 1];
	char node_id[37];
	char snapshot[NAME_MAX_LEN + 1];
	char key_id[KEYID_HEX_LEN + 1];
	time_t created;
	/* A sealed archive (format 2): the ENVELOPE's recipients (claimed
	 * unless BC_VERIFIED); opened: this node's recovery identity opened
	 * it, so its inside was checked too. */
	int sealed, opened;
	size_t nrec;
	struct age_recipient rec[AGE_MAX_RECIPIENTS];
};

/* Check backups/<file> (or take the answer remembered for the same file:
 * device, inode, size, mtime, ctime, and the same trusted keys). Reads the
 * whole archive the first time. Returns 0 and fills *out, or an error
 * when the file cannot be found (lstat). Safe from several sessions. */
int bakcheck_file(struct node *n, const char *file, struct bakcheck *out);
/* "verified", "FORGED NODE", "BAD SIGNATURE", ... */
const char *bakcheck_status_name(enum bakcheck_status st);

#endif
