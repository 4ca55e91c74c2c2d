/* sshd_worker.h: the privileged half of an SSH connection (docs/sftp.md,
 * "Privilege separation"). The listener's child for an SSH connection
 * forks the network-facing process (sshd.c, which keeps the transport
 * and speaks to the client as an unprivileged user with no file access)
 * and becomes this worker: with the files root owner's rights (no
 * capability, Landlock) it answers the login questions from the users
 * file it holds (OpenSSH's monitor), decides the role itself, and then
 * does the file work of the one session: SFTP over the socket, or the
 * console program, whose input and output it relays as IPC messages. It
 * includes no libssh and never sees the client's bytes unframed except
 * for the SFTP stream, which sftp.c parses. */
#ifndef NODEBAK_SSHD_WORKER_H
#define NODEBAK_SSHD_WORKER_H

#include "users.h"

struct worker_opts {
	int sock;		/* to the network-facing process */
	const char *files_dir;
	const char *peer;	/* client address, for the log */
	const char *console;	/* the console program; NULL: beside us */
	const char *conf_file;	/* handed to the console with -c */
	/* Files the console may read besides its program and libraries
	 * (the configuration, the node's public key); NULL-terminated. */
	const char *const *console_read;
	long max_login_attempts, idle_timeout, max_handles;
	long umask;		/* [ftpd] umask for uploads (rootfs.h) */
	/* gate.c: the listener's failed-login counts, asked before every
	 * password or signature check and told its outcome; -1: none. */
	int gate;
	/* Login checks against what was loaded before the fork: 0 and
	 * *rolep, or a negative ERR_* code. */
	int (*password)(void *arg, const char *user, const char *password,
	    enum role *rolep);
	int (*pubkey)(void *arg, const char *user, const char *type,
	    const char *blob_b64, enum role *rolep);
	/* One line per checked login, with the listener's counts after it
	 * (-1: no listener). */
	void (*login_log)(void *arg, const char *user, const char *peer,
	    const char *method, int ok, long addr_failures, long user_failures);
	/* One line per transfer; proto: "sftp" or "scp". */
	void (*xfer_log)(void *arg, const char *proto, const char *user,
	    const char *peer, const char *vpath, int upload,
	    unsigned long long bytes, double seconds, int complete);
	void *arg;
};

/* Confine this process (Landlock) to what any session may need: the
 * files root and the console's program, libraries and files. Called
 * once the privileges are dropped, before the first message is read;
 * the session's role narrows it further. 0 or ERR_SYS. */
int worker_confine(const struct worker_opts *o);

/* Answer logins until a session starts, serve it, and return when it has
 * ended or the network-facing process has gone: 0, ERR_DENIED when the
 * connection reached max_login_attempts (the listener then locks the
 * address out), or another ERR_* code with err_msg() set. */
int worker_run(const struct worker_opts *o);

#endif
