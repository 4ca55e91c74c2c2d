/* sandbox.c: Landlock rules (sandbox.h). */
#include <linux/landlock.h>
#include <string.h>
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

#define READS (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define NEVER (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR | \
	LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
	LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SYM)

/* Every access right the running kernel knows (0: no Landlock). */
static unsigned long long known_rights(void)
{
	unsigned long long all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);

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
	if (access & SANDBOX_WRITE)
		r |= all & ~(READS | NEVER);
	return r & all;
}

int sandbox_restrict(const struct sandbox_rule *rules, size_t n,
    int read_anywhere)
{
	struct landlock_ruleset_attr ra;
	struct landlock_path_beneath_attr pb;
	unsigned long long all = known_rights();
	int rfd, r = 0;

	if (all == 0)
		return 0;
	memset(&ra, 0, sizeof ra);
	ra.handled_access_fs = read_anywhere ? all & ~READS : all;
	if ((rfd = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof ra,
	    0)) < 0)
		return err_sys("landlock");
	for (size_t i = 0; i < n && r == 0; i++) {
		memset(&pb, 0, sizeof pb);
		pb.allowed_access = rights_of(rules[i].access, all) &
		    ra.handled_access_fs;
		pb.parent_fd = rules[i].fd;
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
