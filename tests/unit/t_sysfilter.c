/* t_sysfilter.c: the seccomp allowlists (common/sysfilter.c), each in a child that
 * confines itself and then tries calls: allowed ones work, denied ones
 * fail with EACCES, and a call outside the list kills the child with
 * SIGSYS (the parent, like the server, goes on). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sysfilter.h"
#include "tap.h"

enum probe { P_OPEN, P_SOCKET_UNIX, P_SOCKET_INET, P_SETUID, P_FORK,
	P_EXEC, P_NARROWER };

/* In a child: confine to p, run the probe, write what happened to fd
 * ("ok", "EACCES", "error N") and exit 0. The parent gets the text (or ""
 * if the child died) and how it ended. */
static int probe(enum sysfilter_profile p, enum probe what, char *out,
    size_t outlen, int *sig)
{
	int fd[2], st;
	pid_t pid;
	ssize_t n;

	if (pipe(fd) != 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		char msg[64];
		long r = 0;

		close(fd[0]);
		if (sysfilter_confine(p) != 0)
			_exit(3);
		errno = 0;
		switch (what) {
		case P_OPEN: r = open("/etc/hostname", O_RDONLY); break;
		case P_SOCKET_UNIX: r = socket(AF_UNIX, SOCK_DGRAM, 0); break;
		case P_SOCKET_INET: r = socket(AF_INET, SOCK_STREAM, 0); break;
		case P_SETUID: r = setresuid(0, 0, 0); break;
		case P_FORK: r = fork(); if (r == 0) _exit(0); break;
		case P_EXEC:
			execl("/bin/true", "true", (char *)NULL);
			r = -1;
			break;
		case P_NARROWER:
			r = sysfilter_confine(SYSF_FTP_LOGGED_IN) == 0 ?
			    setresuid(0, 0, 0) : -1;
			break;
		}
		if (r >= 0)
			snprintf(msg, sizeof msg, "ok");
		else if (errno == EACCES)
			snprintf(msg, sizeof msg, "EACCES");
		else
			snprintf(msg, sizeof msg, "error %d", errno);
		if (write(fd[1], msg, strlen(msg)) < 0)
			_exit(4);
		_exit(0);
	}
	close(fd[1]);
	n = read(fd[0], out, outlen - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd[0]);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	*sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 0;
}

static void expect(enum sysfilter_profile p, enum probe what, const char *want,
    const char *label)
{
	char got[64];
	int sig = 0, rc = probe(p, what, got, sizeof got, &sig);

	if (!strcmp(want, "SIGSYS"))
		ok(rc == 0 && sig == SIGSYS && got[0] == '\0',
		    "seccomp %s: %s kills the process (SIGSYS; got rc %d, "
		    "signal %d, \"%s\")", sysfilter_name(p), label, rc,
		    sig, got);
	else
		ok(rc == 0 && sig == 0 && !strcmp(got, want),
		    "seccomp %s: %s: %s (got rc %d, signal %d, \"%s\")",
		    sysfilter_name(p), label, want, rc, sig, got);
}

void t_sysfilter(void)
{
	expect(SYSF_SSH_NET, P_OPEN, "EACCES", "opening a file fails");
	expect(SYSF_SSH_NET, P_SOCKET_UNIX, "EACCES",
	    "a new socket fails (syslog may try)");
	expect(SYSF_SSH_NET, P_SETUID, "SIGSYS", "setresuid");
	expect(SYSF_SSH_NET, P_FORK, "SIGSYS", "fork");
	expect(SYSF_SSH_NET, P_EXEC, "SIGSYS", "execve");
	expect(SYSF_FTP_SESSION, P_OPEN, "ok", "opening a file");
	expect(SYSF_FTP_SESSION, P_SOCKET_INET, "ok",
	    "a TCP socket (data connections)");
	expect(SYSF_FTP_SESSION, P_SOCKET_UNIX, "EACCES",
	    "a Unix socket fails");
	expect(SYSF_FTP_SESSION, P_EXEC, "SIGSYS", "execve");
	expect(SYSF_FTP_SESSION, P_SETUID, "SIGSYS", "setresuid");
	expect(SYSF_FTP_SESSION, P_NARROWER, "SIGSYS",
	    "the logged-in filter on top, then setresuid");
	expect(SYSF_FTP_LOGGED_IN, P_OPEN, "ok", "opening a file");
	expect(SYSF_FTP_LOGGED_IN, P_SETUID, "SIGSYS", "setresuid");
	expect(SYSF_FTP_LOGGED_IN, P_FORK, "SIGSYS", "fork");
}
