/* sysfilter.h: system call allowlists for the processes that parse what the
 * network sends (docs/security.md), the one home of libseccomp. After
 * sysfilter_confine() the calling process (and its threads) may make only
 * the system calls its profile lists: a few that libraries try and that
 * the process must not make (opening files, making sockets in the SSH
 * network process) fail with EACCES; any other call outside the list
 * kills the process (SIGSYS), never the server. Filters stack: a later,
 * narrower profile only takes away. */
#ifndef NODEBAK_SYSFILTER_H
#define NODEBAK_SYSFILTER_H

enum sysfilter_profile {
	/* The SSH network process after its drop: the client's socket and
	 * the socketpair to its worker, memory, time; no file, no new
	 * socket, no process. */
	SYSF_SSH_NET,
	/* An FTP session from its drop (to the files root's owner, before
	 * the first command) to its login: the session's calls, and what
	 * the login needs to narrow its sandbox and this filter. */
	SYSF_FTP_SESSION,
	/* An FTP session after its login: files (beneath the root: Landlock
	 * says where), data connections; nothing that changes credentials
	 * or sandboxes. */
	SYSF_FTP_LOGGED_IN,
};

/* Install the profile's filter (no_new_privs is set first). 0, or an
 * ERR_* with one line; ERR_SYS when the kernel lacks seccomp filters. */
int sysfilter_confine(enum sysfilter_profile p);

/* The profile's name, for log lines. */
const char *sysfilter_name(enum sysfilter_profile p);

#endif
