/* priv.c: the privilege side of nodebak-ftpd's sessions (see priv.h):
 * resolving the session user, and dropping root or every capability. */
#include <dirent.h>
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
#include "sandbox.h"
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

/* The bounding set, so that nothing exec'd later can get a capability. */
static int drop_bounding(void)
{
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
			return err_sys("drop capability %d", cap);
	return 0;
}

/* The empty folder the network-facing process is chrooted into: made
 * when missing; root's, written by nobody else, and empty. */
static int empty_dir(void)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (geteuid() != 0)
		return 0;	/* no chroot without root (tests as a user) */
	if (mkdir(PRIV_EMPTY_DIR, 0755) != 0 && errno != EEXIST)
		return err_sys("%s", PRIV_EMPTY_DIR);
	if (lstat(PRIV_EMPTY_DIR, &st) != 0)
		return err_sys("%s", PRIV_EMPTY_DIR);
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return err_set(ERR_INVAL, "%s: must be a folder of root's that "
		    "nobody else may write", PRIV_EMPTY_DIR);
	if ((d = opendir(PRIV_EMPTY_DIR)) == NULL)
		return err_sys("%s", PRIV_EMPTY_DIR);
	while (r == 0 && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			r = err_set(ERR_INVAL, "%s: must be empty (holds %s)",
			    PRIV_EMPTY_DIR, e->d_name);
	closedir(d);
	return r;
}

int priv_resolve_privsep(const char *name, uid_t files_uid, struct priv *p)
{
	static const char *const fallback[] = { PRIV_PRIVSEP_USER, "nobody" };
	struct passwd *pw = NULL;

	memset(p, 0, sizeof *p);
	if (name && *name) {
		if ((pw = getpwnam(name)) == NULL)
			return err_set(ERR_INVAL, "privsep_user %s: no such user",
			    name);
	} else {
		for (size_t i = 0; i < 2 && pw == NULL; i++)
			pw = getpwnam(fallback[i]);
		if (pw == NULL)
			return err_set(ERR_INVAL, "privsep_user: neither %s nor "
			    "nobody exists", PRIV_PRIVSEP_USER);
		name = pw->pw_name;
	}
	/* The network-facing process must own nothing worth having: not
	 * root, and not the files root's owner (whose worker it could
	 * otherwise signal or trace). */
	if (pw->pw_uid == 0 || pw->pw_uid == files_uid)
		return err_set(ERR_INVAL, "privsep_user %s: uid %ld owns %s; "
		    "choose a user that owns nothing", name, (long)pw->pw_uid,
		    pw->pw_uid == 0 ? "everything" : "the files root");
	p->switch_user = 1;
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	return empty_dir();
}

int priv_drop_privsep(const struct priv *p)
{
	int r;

	if (geteuid() == 0) {
		/* An empty root as well as Landlock: the one wall on a kernel
		 * without Landlock (OpenSSH's /run/sshd). */
		if (chroot(PRIV_EMPTY_DIR) != 0 || chdir("/") != 0)
			return err_sys("chroot %s", PRIV_EMPTY_DIR);
		if ((r = drop_bounding()) != 0)
			return r;
		if (setgroups(0, NULL) != 0 || setresgid(p->gid, p->gid,
		    p->gid) != 0 || setresuid(p->uid, p->uid, p->uid) != 0)
			return err_sys("switch to uid %ld", (long)p->uid);
		if (setuid(0) == 0)
			return err_set(ERR_DENIED, "could regain root after dropping it");
	}
	/* Not traceable by the other processes of the same user (nobody is
	 * shared), and no core file holding the host key. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return err_sys("prctl");
	/* No file at all from here on: the process has its socket, its host
	 * key and its libraries, and needs nothing else. */
	return sandbox_restrict(NULL, 0, SANDBOX_SCOPED);
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
		if (drop_bounding() != 0)
			return ERR_SYS;
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
