/* sandbox.c: Landlock rules (sandbox.h). */
#include <linux/landlock.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "err.h"
#include "sandbox.h"
#include "banned.h"

#ifndef LANDLOCK_ACCESS_FS_REFER	/* Linux 5.19; headers may be older */
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE	/* Linux 6.2 */
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

/* Landlock ABI 6 (Linux 6.12): the "scoped" field of the ruleset. */
#define SCOPE_ABSTRACT_UNIX (1ULL << 0)
#define SCOPE_SIGNAL (1ULL << 1)

struct ruleset_attr {
	unsigned long long handled_access_fs;
	unsigned long long handled_access_net;	/* ABI 4 */
	unsigned long long scoped;		/* ABI 6 */
};

#define READS (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define NEVER (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR | \
	LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
	LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SYM)

static long landlock_abi(void)
{
	return syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
}

/* Every access right the running kernel knows (0: no Landlock). */
static unsigned long long known_rights(long abi)
{
	unsigned long long all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;

	if (abi < 1)
		return 0;
	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return all;
}

static unsigned long long rights_of(unsigned access, unsigned long long all)
{
	unsigned long long r = 0;

	if (access & SANDBOX_READ)
		r |= READS;
	if (access & SANDBOX_EXEC)
		r |= LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE;
	if (access & SANDBOX_WRITE)
		r |= all & ~(READS | NEVER);
	return r & all;
}

/* A folder's rights given to a file: only those that apply to files. */
#define FILE_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)

int sandbox_restrict(const struct sandbox_rule *rules, size_t n,
    unsigned flags)
{
	struct ruleset_attr ra;
	struct landlock_path_beneath_attr pb;
	struct stat st;
	long abi = landlock_abi();
	unsigned long long all = known_rights(abi);
	size_t rasz = offsetof(struct ruleset_attr, handled_access_net);
	int rfd, r = 0;

	if (all == 0)
		return 0;
	memset(&ra, 0, sizeof ra);
	ra.handled_access_fs = (flags & SANDBOX_READ_ANYWHERE) ? all & ~READS :
	    all;
	if ((flags & SANDBOX_SCOPED) && abi >= 6) {
		ra.scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL;
		rasz = sizeof ra;
	}
	if ((rfd = (int)syscall(SYS_landlock_create_ruleset, &ra, rasz,
	    0)) < 0)
		return err_sys("landlock");
	for (size_t i = 0; i < n && r == 0; i++) {
		memset(&pb, 0, sizeof pb);
		pb.allowed_access = rights_of(rules[i].access, all) &
		    ra.handled_access_fs;
		pb.parent_fd = rules[i].fd;
		if (fstat(rules[i].fd, &st) == 0 && !S_ISDIR(st.st_mode))
			pb.allowed_access &= FILE_RIGHTS;
		if (pb.allowed_access && syscall(SYS_landlock_add_rule, rfd,
		    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0)
			r = err_sys("landlock rule");
	}
	if (r == 0 && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    syscall(SYS_landlock_restrict_self, rfd, 0) != 0))
		r = err_sys("landlock");
	close(rfd);
	return r;
}
