/* sftp.h: the SFTP server, protocol version 3 (draft-ietf-secsh-filexfer-02)
 * with OpenSSH's extensions (docs/sftp.md), over any reliable byte stream.
 * It knows nothing of SSH: sshd.c hands it the channel as two functions. */
#ifndef NODEBAK_SFTP_H
#define NODEBAK_SFTP_H
#include <sys/types.h>
#include <stddef.h>

#include "users.h"

/* Largest packet accepted or sent, and the longest READ/WRITE data
 * (OpenSSH's figures, advertised through limits@openssh.com). */
#define SFTP_MAX_PACKET (256 * 1024)
#define SFTP_MAX_DATA (SFTP_MAX_PACKET - 1024)

struct sftp_io {
	void *ctx;
	/* Read up to len bytes into p, waiting at most timeout_ms: the byte
	 * count, 0 at the end of the stream, a negative ERR_* code on an
	 * error or when the time is up. */
	int (*read)(void *ctx, void *p, size_t len, int timeout_ms);
	/* Write all of len bytes: 0 or a negative ERR_* code. */
	int (*write)(void *ctx, const void *p, size_t len);
};

struct sftp_params {
	const char *root;	/* the files root (a host path) */
	const char *user;	/* for the log */
	const char *peer;	/* client address, for the log */
	enum role role;		/* the user's role (ftpd/rootfs.c's table) */
	long max_handles;	/* open files and folders at once */
	long idle_timeout;	/* seconds without a request */
	mode_t umask;		/* [ftpd] umask: taken from new files' modes */
	/* 1: confine the whole process to the root with Landlock for the
	 * rest of its life (the session process serves nothing else). */
	int lockdown;
	/* Called once per finished transfer (a handle that read or wrote
	 * data is closed); may be NULL. */
	void (*xfer)(void *arg, const char *vpath, int upload,
	    unsigned long long bytes, double seconds, int complete);
	void *xfer_arg;
};

/* Serve one SFTP session until the client closes the stream, goes idle
 * or breaks the protocol. Every handle is closed and every unfinished
 * upload removed before it returns. 0 when the client ended the session,
 * else a negative ERR_* code with err_msg() saying why. */
int sftp_serve(const struct sftp_io *io, const struct sftp_params *p);

#endif
