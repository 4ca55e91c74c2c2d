/* xferlog.h: the session's log lines: one per login and one per transfer
 * (log.c: stderr or syslog), each transfer also appended in xferlog(5)
 * format to [ftpd] xferlog when it is set. Shared by FTP and SFTP. */
#ifndef NODEBAK_XFERLOG_H
#define NODEBAK_XFERLOG_H

struct xferlog {
	int fd;			/* the xferlog file, -1 when none */
	const char *path;	/* its name, for messages (not owned) */
};

/* Open path for appending (created mode 0640); NULL or "": no file. Done
 * once per session, before the session confines itself to the files root
 * (rootfs_lockdown), which the file usually lies outside of; the time zone
 * for its lines is loaded now for the same reason. A file that cannot be
 * opened is no file (as before: transfers are then only logged). Never
 * fails. */
void xferlog_open(struct xferlog *x, const char *path);
void xferlog_close(struct xferlog *x);

/* "PROTO login ok|FAILED: user U from ADDR by METHOD (failed logins: A
 * from ADDR, N for U)", the listener's counts after this one (gate.c);
 * the part in brackets is left out when addr_failures is negative. */
void xferlog_login(const char *proto, const char *user, const char *peer,
    const char *method, int ok, long addr_failures, long user_failures);

/* "PROTO download|upload PATH: user U from ADDR, N bytes in S s,
 * complete|INCOMPLETE", and the xferlog(5) line when x has a file. */
void xferlog_transfer(const struct xferlog *x, const char *proto,
    const char *user, const char *peer, const char *vpath, int upload,
    unsigned long long bytes, double seconds, int complete);

#endif
