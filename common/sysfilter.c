/* sysfilter.c: the allowlists of sysfilter.h, built with libseccomp. The
 * lists are one table: a system call, the profiles that may make it, and
 * what happens (allowed, or failing with an errno). Names are resolved
 * for the machine's architecture; one it lacks (open on aarch64) is
 * skipped. The lists come from strace of every client the tests use
 * (OpenSSH sftp, scp and ssh, paramiko, curl, lftp, ftplib) over FTP,
 * FTPS and SFTP, plus what a C library does on its own (abort, syslog
 * reconnecting, malloc returning memory). */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "sysfilter.h"

#define NET	(1u << SYSF_SSH_NET)
#define SES	(1u << SYSF_FTP_SESSION)
#define LOG	(1u << SYSF_FTP_LOGGED_IN)
#define FTP	(SES | LOG)
#define ALL	(NET | SES | LOG)

enum how {
	ALLOW,
	DENY,			/* fails with EACCES: the process goes on */
	NOEXEC,			/* allowed without PROT_EXEC */
	INET,			/* socket(): AF_INET and AF_INET6 allowed,
				 * others fail with EACCES */
	SELF,			/* tgkill(): to its own process only */
	NNP,			/* prctl(): PR_SET_NO_NEW_PRIVS only */
};

static const struct {
	const char *name;
	unsigned profiles;
	enum how how;
} calls[] = {
	/* I/O on descriptors it holds. */
	{ "read", ALL, ALLOW }, { "write", ALL, ALLOW },
	{ "readv", ALL, ALLOW }, { "writev", ALL, ALLOW },
	{ "pread64", ALL, ALLOW }, { "pwrite64", FTP, ALLOW },
	{ "close", ALL, ALLOW }, { "lseek", ALL, ALLOW },
	{ "fcntl", ALL, ALLOW }, { "fstat", ALL, ALLOW },
	{ "newfstatat", ALL, ALLOW }, { "statx", ALL, ALLOW },
	{ "poll", ALL, ALLOW }, { "ppoll", ALL, ALLOW },
	{ "select", ALL, ALLOW }, { "pselect6", ALL, ALLOW },
	{ "recvfrom", ALL, ALLOW }, { "sendto", ALL, ALLOW },
	{ "recvmsg", ALL, ALLOW }, { "sendmsg", ALL, ALLOW },
	{ "shutdown", ALL, ALLOW },
	{ "getsockopt", ALL, ALLOW }, { "setsockopt", ALL, ALLOW },
	{ "getsockname", ALL, ALLOW }, { "getpeername", ALL, ALLOW },
	{ "ioctl", ALL, DENY },
	/* Memory. */
	{ "brk", ALL, ALLOW }, { "munmap", ALL, ALLOW },
	{ "mremap", ALL, ALLOW }, { "madvise", ALL, ALLOW },
	{ "mmap", ALL, NOEXEC }, { "mprotect", ALL, NOEXEC },
	{ "futex", ALL, ALLOW }, { "set_robust_list", ALL, ALLOW },
	{ "rseq", ALL, ALLOW }, { "getrandom", ALL, ALLOW },
	/* Time, signals, identity, the end. */
	{ "clock_gettime", ALL, ALLOW }, { "clock_getres", ALL, ALLOW },
	{ "gettimeofday", ALL, ALLOW }, { "time", ALL, ALLOW },
	{ "clock_nanosleep", ALL, ALLOW }, { "nanosleep", ALL, ALLOW },
	{ "alarm", ALL, ALLOW }, { "setitimer", ALL, ALLOW },
	{ "rt_sigreturn", ALL, ALLOW }, { "rt_sigprocmask", ALL, ALLOW },
	{ "rt_sigaction", ALL, ALLOW }, { "sigaltstack", ALL, ALLOW },
	{ "restart_syscall", ALL, ALLOW }, { "sched_yield", ALL, ALLOW },
	{ "getpid", ALL, ALLOW }, { "getppid", ALL, ALLOW },
	{ "gettid", ALL, ALLOW }, { "getuid", ALL, ALLOW },
	{ "geteuid", ALL, ALLOW }, { "getgid", ALL, ALLOW },
	{ "getegid", ALL, ALLOW }, { "getresuid", ALL, ALLOW },
	{ "getresgid", ALL, ALLOW }, { "uname", ALL, ALLOW },
	{ "tgkill", ALL, SELF },
	/* Signals to other processes: refused (Landlock's scopes refuse
	 * them too where the kernel has them); asked for only by a bug. */
	{ "kill", ALL, DENY }, { "tkill", ALL, DENY },
	{ "exit", ALL, ALLOW }, { "exit_group", ALL, ALLOW },
	/* The SSH network process opens nothing and makes no socket: a
	 * library that tries (syslog reconnecting) is told no. */
	{ "open", NET, DENY }, { "openat", NET, DENY },
	{ "socket", NET, DENY }, { "connect", NET, DENY },
	/* FTP: files beneath the root (Landlock and rootfs.c say where). */
	{ "open", FTP, ALLOW }, { "openat", FTP, ALLOW },
	{ "openat2", FTP, ALLOW }, { "getdents64", FTP, ALLOW },
	{ "stat", FTP, ALLOW }, { "lstat", FTP, ALLOW },
	{ "access", FTP, ALLOW }, { "faccessat", FTP, ALLOW },
	{ "faccessat2", FTP, ALLOW }, { "readlinkat", FTP, ALLOW },
	{ "mkdirat", FTP, ALLOW }, { "mkdir", FTP, ALLOW },
	{ "unlinkat", FTP, ALLOW }, { "unlink", FTP, ALLOW },
	{ "rmdir", FTP, ALLOW }, { "rename", FTP, ALLOW },
	{ "renameat", FTP, ALLOW }, { "renameat2", FTP, ALLOW },
	{ "fchmod", FTP, ALLOW }, { "fchmodat", FTP, ALLOW },
	{ "utimensat", FTP, ALLOW }, { "fsync", FTP, ALLOW },
	{ "fdatasync", FTP, ALLOW }, { "ftruncate", FTP, ALLOW },
	{ "fallocate", FTP, ALLOW }, { "fadvise64", FTP, ALLOW },
	{ "statfs", FTP, ALLOW }, { "fstatfs", FTP, ALLOW },
	{ "sendfile", FTP, ALLOW }, { "copy_file_range", FTP, ALLOW },
	{ "dup", FTP, ALLOW }, { "dup2", FTP, ALLOW }, { "dup3", FTP, ALLOW },
	{ "umask", FTP, ALLOW }, { "getcwd", FTP, ALLOW },
	{ "prlimit64", FTP, ALLOW },
	/* FTP data connections (PASV listens, PORT connects). */
	{ "socket", FTP, INET }, { "bind", FTP, ALLOW },
	{ "listen", FTP, ALLOW }, { "accept", FTP, ALLOW },
	{ "accept4", FTP, ALLOW }, { "connect", FTP, ALLOW },
	/* Until the login (the session has dropped to the files root's
	 * owner already): the role's Landlock layer and the next, narrower
	 * filter. */
	{ "prctl", SES, NNP },
	{ "landlock_create_ruleset", SES, ALLOW },
	{ "landlock_add_rule", SES, ALLOW },
	{ "landlock_restrict_self", SES, ALLOW },
	{ "seccomp", SES, ALLOW },
};

const char *sysfilter_name(enum sysfilter_profile p)
{
	switch (p) {
	case SYSF_SSH_NET: return "SSH network process";
	case SYSF_FTP_SESSION: return "FTP session";
	case SYSF_FTP_LOGGED_IN: return "FTP session after login";
	}
	return "?";
}

static int add(scmp_filter_ctx ctx, int nr, enum how how)
{
	uint32_t deny = SCMP_ACT_ERRNO(EACCES);

	switch (how) {
	case ALLOW:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	case DENY:
		return seccomp_rule_add(ctx, deny, nr, 0);
	case NOEXEC:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	case INET: {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
		    SCMP_A0(SCMP_CMP_EQ, AF_INET));
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
			    SCMP_A0(SCMP_CMP_EQ, AF_INET6));
		if (r == 0)
			r = seccomp_rule_add(ctx, deny, nr, 1,
			    SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
		return r;
	}
	case NNP:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
		    SCMP_A0(SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS));
	case SELF:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	}
	return -EINVAL;
}

int sysfilter_confine(enum sysfilter_profile p)
{
	scmp_filter_ctx ctx;
	unsigned bit = 1u << p;
	size_t i;
	int r = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return err_sys("seccomp: no_new_privs");
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		return err_set(ERR_SYS, "seccomp: cannot start a filter");
	for (i = 0; i < sizeof calls / sizeof calls[0] && r == 0; i++) {
		int nr;

		if (!(calls[i].profiles & bit))
			continue;
		if ((nr = seccomp_syscall_resolve_name(calls[i].name)) ==
		    __NR_SCMP_ERROR)
			continue;	/* not a call of this architecture */
		if ((r = add(ctx, nr, calls[i].how)) != 0)
			r = err_set(ERR_SYS, "seccomp: %s rule for %s: %s",
			    sysfilter_name(p), calls[i].name,
			    strerror(-r));
	}
	if (r == 0 && (r = seccomp_load(ctx)) != 0)
		r = err_set(ERR_SYS, "seccomp: loading the %s filter: %s",
		    sysfilter_name(p), strerror(-r));
	seccomp_release(ctx);
	return r;
}
