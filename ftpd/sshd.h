/* sshd.h: the SSH side of nodebak-ftpd (docs/sftp.md): host key, modern
 * algorithms only, password and public-key logins, and one session channel
 * per connection carrying either the SFTP subsystem or the console (shell
 * or exec). The only module that includes libssh. */
#ifndef NODEBAK_SSHD_H
#define NODEBAK_SSHD_H
#include <stddef.h>

#include "users.h"

/* Create the Ed25519 key at path if it is missing (mode 0600), and log
 * its fingerprint. 0, or an ERR_* code with err_msg() set. */
int sshd_host_key(const char *path);

/* "SHA256:<base64>" (as OpenSSH prints it) of the key at host_key_path
 * into out. 0, or an ERR_* code naming the file. */
int sshd_fingerprint(const char *host_key_path, char *out, size_t outsz);

/* What a session needs, filled from the listener's context by
 * sshd_session() in sshd_ctx.c (and by tests directly). */
struct sshd_opts {
	const char *host_key;
	const char *files_dir;
	const char *conf_file;	/* handed to the console with -c */
	const char *console;	/* bin/nodebak; NULL: beside this program */
	long login_timeout, idle_timeout, max_login_attempts, max_handles;
	long umask;		/* [ftpd] umask for uploads (rootfs.h) */
	/* Login checks: 0 and the user's role in *rolep when the user may
	 * log in, else a negative ERR_* code. A role without a console
	 * (role_has_console()) gets SFTP only. */
	int (*password)(void *arg, const char *user, const char *password,
	    enum role *rolep);
	int (*pubkey)(void *arg, const char *user, const char *type,
	    const char *blob_b64, enum role *rolep);
	/* After a login, before serving: drop privileges and open what the
	 * session needs from outside the files root (may be NULL). 0 or an
	 * ERR_* code that ends the session. */
	int (*drop)(void *arg);
	/* gate.c: the listener's failed-login counts, asked before every
	 * password or signature check and told its outcome; -1: none. */
	int gate;
	/* One line per login attempt (with the listener's counts after it)
	 * and per transfer (may be NULL). */
	void (*login_log)(void *arg, const char *user, const char *peer,
	    const char *method, int ok, long addr_failures, long user_failures);
	void (*xfer_log)(void *arg, const char *user, const char *peer,
	    const char *vpath, int upload, unsigned long long bytes,
	    double seconds, int complete);
	void *arg;
};

/* Serve one connection with explicit options (sshd_session() in full). */
int sshd_serve(int fd, const struct sshd_opts *o);

#endif
