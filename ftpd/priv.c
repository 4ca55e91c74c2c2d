/* priv.c: the privilege side of nodebak-ftpd's sessions (see priv.h):
 * resolving the session user, and dropping root or every capability. */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "err.h"
#include "priv.h"
#include "banned.h"

int priv_resolve(const char *run_as, const char *files_dir, struct priv *p)
{
	struct stat st;
	struct passwd *pw;

	memset(p, 0, sizeof *p);
	if (run_as && *run_as) {
		if ((pw = getpwnam(run_as)) == NULL)
			return err_set(ERR_INVAL, "run_as %s: no such user", run_as);
		p->uid = pw->pw_uid;
		p->gid = pw->pw_gid;
	} else {
		if (stat(files_dir, &st) != 0)
			return err_sys("%s", files_dir);
		p->uid = st.st_uid;
		p->gid = st.st_gid;
	}
	p->switch_user = p->uid != 0;
	if (geteuid() != 0 && p->switch_user && p->uid != geteuid())
		return err_set(ERR_DENIED, "cannot switch to uid %ld without root",
		    (long)p->uid);
	return 0;
}

int priv_drop(const struct priv *p)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (geteuid() == 0 && p->switch_user) {
		if (setgroups(0, NULL) != 0 || setgid(p->gid) != 0 ||
		    setuid(p->uid) != 0)
			return err_sys("switch to uid %ld", (long)p->uid);
		if (setuid(0) == 0)
			return err_set(ERR_DENIED, "could regain root after dropping it");
	}
	if (geteuid() == 0) {
		/* The files root belongs to root: stay uid 0 for file ownership,
		 * but without any capability, now or after exec. */
		for (int cap = 0; cap <= 63; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
				return err_sys("drop capability %d", cap);
		if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		    SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
		    SECBIT_KEEP_CAPS_LOCKED, 0, 0, 0) != 0)
			return err_sys("securebits");
		memset(data, 0, sizeof data);
		if (syscall(SYS_capset, &hdr, data) != 0)
			return err_sys("capset");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return err_sys("no_new_privs");
	return 0;
}

int priv_limits(long nofile, long data_mib)
{
	const struct {
		int what;
		const char *name;
		rlim_t max;
	} lim[] = {
		{ RLIMIT_NOFILE, "RLIMIT_NOFILE", (rlim_t)nofile },
		{ RLIMIT_DATA, "RLIMIT_DATA", (rlim_t)data_mib << 20 },
		{ RLIMIT_CORE, "RLIMIT_CORE", 0 },
	};

	for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
		struct rlimit rl;

		if (getrlimit(lim[i].what, &rl) != 0)
			return err_sys("getrlimit %s", lim[i].name);
		/* Never raise what the service manager set lower. */
		if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > lim[i].max)
			rl.rlim_max = lim[i].max;
		if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > rl.rlim_max)
			rl.rlim_cur = rl.rlim_max;
		if (setrlimit(lim[i].what, &rl) != 0)
			return err_sys("setrlimit %s", lim[i].name);
	}
	return 0;
}
