/* sshd_ctx.c: an SSH connection as the listener starts it (see
 * sshd_ctx.h): the split into the network-facing process (sshd.c,
 * unprivileged, no file access) and the worker (sshd_worker.c, the files
 * root owner's rights), and each side's options from the listener's
 * context: logins against the users file, privilege drops (priv.c) and
 * logging (xferlog.c). docs/sftp.md, "Privilege separation". */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netdb.h>

#include "buf.h"
#include "conf.h"
#include "err.h"
#include "fsutil.h"
#include "ftpd.h"
#include "log.h"
#include "priv.h"
#include "sshd.h"
#include "sshd_ctx.h"
#include "sshd_ipc.h"
#include "sshd_worker.h"
#include "sysfilter.h"
#include "users.h"
#include "xferlog.h"
#include "banned.h"

#define AUTH_TIMEOUT_MS 30000	/* the worker answering a login */
#define SOCK_BUF (1024 * 1024)	/* each way between the two processes */
#define NET_FILES 16		/* the network process: two sockets, stdio */

/* ---- the worker's side ---- */

static int check_password(void *arg, const char *user, const char *password,
    enum role *rolep)
{
	const struct ftpd_ctx *ctx = arg;

	return users_check_password(ctx->users, user, password, rolep);
}

static int check_pubkey(void *arg, const char *user, const char *type,
    const char *blob_b64, enum role *rolep)
{
	const struct ftpd_ctx *ctx = arg;
	int r;

	if ((r = users_key_allowed(ctx->users, user, type, blob_b64)) != 0)
		return r;
	return users_role(ctx->users, user, rolep);
}

/* The xferlog file, opened after the privilege drop and before the
 * worker confines itself. */
static struct xferlog xlog = { -1, NULL };

static void login_log(void *arg, const char *user, const char *peer,
    const char *method, int ok, long addr_failures, long user_failures)
{
	(void)arg;
	xferlog_login("sftp", user, peer, method, ok, addr_failures,
	    user_failures);
}

static void xfer_log(void *arg, const char *proto, const char *user,
    const char *peer, const char *vpath, int upload, unsigned long long bytes,
    double seconds, int complete)
{
	(void)arg;
	xferlog_transfer(&xlog, proto, user, peer, vpath, upload, bytes,
	    seconds, complete);
}

static void peer_name(int fd, char *out, size_t outsz)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	snprintf(out, outsz, "?");
	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, out, (socklen_t)outsz,
	    NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out, outsz, "?");
}

/* The files root owner's rights (or uid 0 without any capability), not
 * traceable, sandboxed, then the logins and the session. */
static int worker(int sock, int gate, const struct ftpd_ctx *ctx,
    const char *peer)
{
	const struct conf *c = ctx->conf;
	char *pub = fs_join(c->state_dir, "signing.pub");
	char *nid = fs_join(c->state_dir, "node-id");
	char *trusted = fs_join(c->state_dir, "trusted");
	const char *readable[] = { pub, nid, trusted, NULL };
	struct worker_opts o;
	int r;

	memset(&o, 0, sizeof o);
	o.sock = sock;
	o.files_dir = c->files_dir;
	o.peer = peer;
	o.conf_file = c->file;
	o.console_read = readable;
	o.max_login_attempts = c->ftpd.max_login_attempts;
	o.idle_timeout = c->ftpd.idle_timeout;
	o.max_handles = c->ftpd.max_handles;
	o.umask = c->ftpd.umask_bits;
	o.gate = gate;
	o.password = check_password;
	o.pubkey = check_pubkey;
	o.login_log = login_log;
	o.xfer_log = xfer_log;
	o.arg = (void *)(uintptr_t)ctx;
	if ((r = priv_drop(&ctx->priv)) == 0 &&
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		r = err_sys("prctl");
	if (r == 0) {
		xferlog_open(&xlog, c->ftpd.xferlog);
		r = worker_confine(&o);
	}
	if (r == 0)
		r = priv_limits(c->ftpd.max_handles + 64, c->ftpd.session_memory);
	if (r == 0)
		r = worker_run(&o);
	else
		log_warn("ssh: %s: %s", peer, err_msg());
	xferlog_close(&xlog);
	free(pub);
	free(nid);
	free(trusted);
	return r;
}

/* ---- the network-facing process's side: questions to the worker ---- */

struct net {
	const struct ftpd_ctx *ctx;
	int sock;
	pid_t worker;
};

static int ask(struct net *n, int type, const struct buf *q, enum role *rolep)
{
	struct buf a = BUF_INIT(IPC_MAX + 1);
	struct ipc_cur c;
	uint32_t ok = 0, role = 0;
	const char *why = "";
	int t, r;

	*rolep = ROLE_NONE;
	if ((r = ipc_send(n->sock, type, q->p, q->len)) == 0 &&
	    (r = ipc_recv(n->sock, &t, &a, AUTH_TIMEOUT_MS)) == 0) {
		c.p = a.p;
		c.left = a.len;
		if (t != IPC_AUTH_ANSWER || ipc_get_u32(&c, &ok) != 0 ||
		    ipc_get_u32(&c, &role) != 0 || ipc_get_str(&c, &why) != 0)
			r = err_set(ERR_PROTO, "privsep: bad login answer");
		else if (*why)
			/* Refused unchecked (a lockout): the client is told. */
			r = err_set(ERR_REFUSED, "%s", why);
	}
	buf_free(&a);
	if (r == 0 && !ok)
		r = ERR_DENIED;
	if (r == 0)
		*rolep = (enum role)role;
	return r;
}

static int ask_password(void *arg, const char *user, const char *password,
    enum role *rolep)
{
	struct buf q = BUF_INIT(IPC_MAX);
	int r;

	*rolep = ROLE_NONE;
	if ((r = ipc_put_str(&q, user)) == 0 && (r = ipc_put_str(&q, password)) == 0)
		r = ask(arg, IPC_AUTH_PASSWORD, &q, rolep);
	buf_free_secret(&q);
	return r;
}

static int ask_pubkey(void *arg, const char *user, const char *type,
    const char *blob_b64, int verified, enum role *rolep)
{
	struct buf q = BUF_INIT(IPC_MAX);
	int r;

	*rolep = ROLE_NONE;
	if ((r = ipc_put_str(&q, user)) == 0 && (r = ipc_put_str(&q, type)) == 0 &&
	    (r = ipc_put_str(&q, blob_b64)) == 0 &&
	    (r = ipc_put_u32(&q, (uint32_t)verified)) == 0)
		r = ask(arg, IPC_AUTH_PUBKEY, &q, rolep);
	buf_free(&q);
	return r;
}

/* The host key is in memory and the socket accepted: become the privsep
 * user in an empty sandbox, and die with the worker. */
static int net_drop(void *arg)
{
	struct net *n = arg;
	int r;

	if ((r = priv_drop_privsep(&n->ctx->privsep)) != 0)
		return r;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		return err_sys("prctl");
	if (getppid() != n->worker)
		return err_set(ERR_IO, "the worker has gone");
	/* Its limits, and the system calls it may make: the client's socket
	 * and the worker's, memory and time (docs/security.md). */
	if ((r = priv_limits(NET_FILES, n->ctx->conf->ftpd.session_memory)) != 0)
		return r;
	return sysfilter_confine(SYSF_SSH_NET);
}

static int network(int fd, int sock, struct ftpd_ctx *ctx, pid_t worker_pid)
{
	const struct conf *c = ctx->conf;
	struct net n = { ctx, sock, worker_pid };
	struct sshd_opts o;

	/* The password hashes and keys stay with the worker. */
	users_free(ctx->users);
	ctx->users = NULL;
	memset(&o, 0, sizeof o);
	o.host_key = c->ftpd.host_key;
	o.login_timeout = c->ftpd.login_timeout;
	o.idle_timeout = c->ftpd.idle_timeout;
	o.max_login_attempts = c->ftpd.max_login_attempts;
	o.worker = sock;
	o.password = ask_password;
	o.pubkey = ask_pubkey;
	o.drop = net_drop;
	o.arg = &n;
	return sshd_serve(fd, &o);
}

int sshd_init(struct ftpd_ctx *ctx)
{
	return sshd_host_key(ctx->conf->ftpd.host_key);
}

int sshd_session(int fd, int gate, struct ftpd_ctx *ctx)
{
	char peer[64];
	int sp[2], size = SOCK_BUF, st, r;
	pid_t self = getpid(), pid;

	peer_name(fd, peer, sizeof peer);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
		log_err("ssh: %s: socketpair: %s", peer, strerror(errno));
		return ERR_SYS;
	}
	/* Room for a whole SFTP reply each way (the listener's root may
	 * pass the system's limit). */
	for (int i = 0; i < 2; i++) {
		setsockopt(sp[i], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
		setsockopt(sp[i], SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
	}
	if ((pid = fork()) < 0) {
		log_err("ssh: %s: fork: %s", peer, strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return ERR_SYS;
	}
	if (pid == 0) {
		/* The listener's failed-login counts are the worker's to ask
		 * and tell: the network process could lie about its own. */
		if (gate >= 0)
			close(gate);
		close(sp[0]);
		_exit(network(fd, sp[1], ctx, self) ? 1 : 0);
	}
	close(sp[1]);
	close(fd);	/* the worker never touches the client's bytes */
	r = worker(sp[0], gate, ctx, peer);
	close(sp[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return r;
}
