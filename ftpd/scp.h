/* scp.h: the server side of the legacy SCP protocol (the "rcp" protocol
 * of OpenSSH's `scp -O`, PuTTY's `pscp -scp`): an exec request of
 * `scp [-v] [-r] [-p] [-d] -t|-f [--] PATH...` on an SSH channel. It
 * sends files (source, -f) or receives them (sink, -t) through the files
 * root policy (rootfs.h), as SFTP does; docs/sftp.md "Legacy SCP". Like
 * sftp.c it knows nothing of SSH: the worker hands it the channel's bytes
 * as two functions. */
#ifndef NODEBAK_SCP_H
#define NODEBAK_SCP_H
#include <stddef.h>
#include <sys/types.h>

#include "users.h"

#define SCP_MAX_LINE 4352	/* longest control line: a name up to 4096 */
#define SCP_MAX_DEPTH 64	/* folders within folders, either way */

struct scp_io {
	void *ctx;
	/* Read up to len bytes into p, waiting at most timeout_ms (< 0:
	 * forever): the byte count, 0 at the end of the stream, or a
	 * negative ERR_* code. */
	int (*read)(void *ctx, void *p, size_t len, int timeout_ms);
	/* Write all of len bytes: 0 or a negative ERR_* code. */
	int (*write)(void *ctx, const void *p, size_t len);
};

struct scp_params {
	const char *root;	/* the files root (a host path) */
	const char *user;	/* for the log */
	const char *peer;
	enum role role;
	long idle_timeout;	/* seconds without a byte from the client */
	mode_t umask;		/* [ftpd] umask (rootfs.h, upload modes) */
	int lockdown;		/* 1: rootfs_lockdown() for the role */
	/* One call per file sent or received (may be NULL). */
	void (*xfer)(void *arg, const char *vpath, int upload,
	    unsigned long long bytes, double seconds, int complete);
	void *xfer_arg;
};

/* 1 when an exec request's command is for this module: its first word is
 * "scp". */
int scp_is_command(const char *command);

/* Serve one legacy SCP exec request (command as the client sent it) until
 * it is done, the client has gone or broken the protocol. Each refusal
 * has been sent to the client as one \x01 (or, when the session cannot go
 * on, \x02) line. *status: the exit status for the client, 0 when every
 * file went through, else 1. Returns 0, or a negative ERR_* code when the
 * stream itself failed (err_msg() says why; *status is then 1). */
int scp_serve(const char *command, const struct scp_io *io,
    const struct scp_params *p, int *status);

#endif
