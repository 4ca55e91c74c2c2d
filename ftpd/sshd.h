/* sshd.h: the SSH side of nodebak-ftpd (docs/sftp.md): host key, modern
 * algorithms only, password and public-key logins, and one session channel
 * per connection carrying either the SFTP subsystem or the console (shell
 * or exec), both served by the connection's worker (sshd_worker.h). The
 * only module that includes libssh. */
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

/* What the network-facing process of a connection needs, filled by
 * sshd_session() in sshd_ctx.c. */
struct sshd_opts {
	const char *host_key;
	long login_timeout, idle_timeout, max_login_attempts;
	/* The socket to the worker (sshd_ipc.h): the session's file work is
	 * asked of it and its bytes relayed. */
	int worker;
	/* Login checks (asked of the worker, which decides, counts and
	 * logs them): 0 and the user's role in *rolep when the user may log
	 * in, ERR_REFUSED with err_msg() the line for the client when the
	 * login was not even checked (a lockout: the connection is then
	 * closed with that line), else another negative ERR_* code.
	 * pubkey: verified 0 for a probe ("would you take this key?"), 1
	 * once libssh has checked the signature. */
	int (*password)(void *arg, const char *user, const char *password,
	    enum role *rolep);
	int (*pubkey)(void *arg, const char *user, const char *type,
	    const char *blob_b64, int verified, enum role *rolep);
	/* After the host key is loaded and the connection accepted, before
	 * the first byte from the client is read: give up every privilege
	 * (may be NULL). 0 or an ERR_* code that ends the connection. */
	int (*drop)(void *arg);
	void *arg;
};

/* Serve one connection with explicit options (sshd_session() in full). */
int sshd_serve(int fd, const struct sshd_opts *o);

#endif
