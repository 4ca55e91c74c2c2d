/* sshd_ctx.h: the SSH server as the listener starts it: the connection
 * split into its network-facing process (sshd.c) and its worker
 * (sshd_worker.c), each with its options from the daemon's context
 * (users file, privileges, logs). */
#ifndef NODEBAK_SSHD_CTX_H
#define NODEBAK_SSHD_CTX_H

struct ftpd_ctx;

/* At start and on SIGHUP, in the listener before any fork: create the
 * Ed25519 host key at [ftpd] host_key when it is missing (mode 0600) and
 * log its fingerprint. 0, or an ERR_* code with err_msg() set. */
int sshd_init(struct ftpd_ctx *ctx);

/* In the forked child for an sftp_listen connection fd: forks the
 * network-facing process (which drops to [ftpd] privsep_user before the
 * key exchange) and becomes the worker (the session user's rights). The
 * network process frees ctx->users. gate: the session's end of its
 * socketpair to the listener (gate.h), kept by the worker only, or -1.
 * Returns when the client is gone and
 * the network process has ended; 0 after a clean end,
 * ERR_DENIED when it was cut at the login attempt limit, else another
 * ERR_* code (already logged). Closes fd. */
int sshd_session(int fd, int gate, struct ftpd_ctx *ctx);

#endif
