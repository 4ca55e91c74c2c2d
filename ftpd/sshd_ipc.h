/* sshd_ipc.h: the messages between an SSH connection's two processes
 * (docs/sftp.md, "Privilege separation"): the network-facing process
 * (sshd.c, unprivileged, sandboxed) asks, the worker (sshd_worker.c,
 * the files root owner's rights) answers and does the file work. A
 * message is a type byte, a 4-byte big-endian length and that many
 * bytes; after an IPC_START for SFTP that the worker accepted, the
 * socket carries the SFTP stream itself, unframed, both ways. Neither
 * side trusts the other's bytes: lengths are checked before anything is
 * read into memory. */
#ifndef NODEBAK_SSHD_IPC_H
#define NODEBAK_SSHD_IPC_H
#include <stddef.h>
#include <stdint.h>

struct buf;

#define IPC_MAX (64 * 1024)	/* longest message payload */

enum ipc_type {
	/* network -> worker */
	IPC_AUTH_PASSWORD = 1,	/* str user, str password */
	IPC_AUTH_PUBKEY,	/* str user, str type, str base64, u32 signed */
	IPC_START,		/* u32 mode, u32 pty, 4 x u32 size, str command */
	IPC_IN,			/* console input bytes */
	IPC_IN_EOF,
	IPC_WINCH,		/* 4 x u32: cols, rows, xpixel, ypixel */
	/* worker -> network */
	IPC_AUTH_ANSWER = 64,	/* u32 ok, u32 role */
	IPC_START_ANSWER,	/* u32 IPC_START_* */
	IPC_OUT,		/* console output bytes */
	IPC_ERR,		/* console error output bytes */
	IPC_EXIT,		/* u32 exit status: the session is over */
};

/* IPC_START's modes and the worker's answers. */
enum { IPC_MODE_SFTP = 1, IPC_MODE_EXEC, IPC_MODE_SHELL };
enum { IPC_START_OK = 0, IPC_START_NOCONSOLE, IPC_START_FAILED };

/* Write all of p (waiting for room on a non-blocking socket): the SFTP
 * stream after IPC_START, and every message. 0 or ERR_IO. */
int ipc_write_all(int fd, const void *p, size_t len);

/* Send one message (blocking, whole). 0 or ERR_IO. */
int ipc_send(int fd, int type, const void *p, size_t len);
/* Receive one message into out (reset first), waiting at most timeout_ms
 * (< 0: forever). 0 and *typep, or ERR_IO (closed, timed out) / ERR_PROTO
 * (too long). */
int ipc_recv(int fd, int *typep, struct buf *out, int timeout_ms);

/* Building a payload: appends to b (0 or ERR_TOOBIG). */
int ipc_put_u32(struct buf *b, uint32_t v);
int ipc_put_str(struct buf *b, const char *s);

/* Reading one: a cursor over a received payload. Each getter returns 0,
 * or ERR_PROTO when the field runs past the end (or a string holds a
 * NUL); a string points into the payload and is NUL-terminated. */
struct ipc_cur {
	const char *p;
	size_t left;
};
int ipc_get_u32(struct ipc_cur *c, uint32_t *v);
int ipc_get_str(struct ipc_cur *c, const char **s);

#endif
