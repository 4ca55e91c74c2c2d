/* sshd_worker.c: the worker of an SSH connection (see sshd_worker.h):
 * answers logins, then serves SFTP on the socket or runs the console,
 * with the rights the role has and nothing the network-facing process
 * asks for beyond them. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "gate.h"
#include "log.h"
#include "rconsole.h"
#include "rootfs.h"
#include "sandbox.h"
#include "scp.h"
#include "sftp.h"
#include "sshd_ipc.h"
#include "sshd_worker.h"
#include "banned.h"

#define MAX_RULES 24

struct worker {
	const struct worker_opts *o;
	struct buf msg;
	char user[128];
	int authed;
	long failures;		/* refused probes too: the per-connection limit */
	long real_failures;	/* passwords and signatures: the lockout */
	enum role role;
	int rcvtimeo;		/* the socket's SO_RCVTIMEO, ms (0: none) */
	struct rconsole *con;
	int con_failed;
	time_t last_io;
	const char *proto;	/* for the transfer log; NULL: "sftp" */
	size_t in_off;		/* legacy scp: bytes of msg already used */
	int in_eof;
};

static time_t now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

static void close_rules(struct sandbox_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(rules[i].fd);
}

/* The console's rules (rconsole.c) and, for verify, the files root to
 * read: all of it for admin, backups/ for the others; plus, before the
 * role is known, the whole root to read and change. */
static int confine(const struct worker_opts *o, enum role role, int console)
{
	struct rconsole_spec spec;
	struct sandbox_rule rules[MAX_RULES];
	size_t n = 0;
	char dir[4096];
	int r;

	memset(&spec, 0, sizeof(spec));
	spec.console = o->console;
	spec.conf_file = o->conf_file;
	if (console && (r = rconsole_rules(&spec, o->console_read, rules,
	    MAX_RULES - 1, &n)) != 0)
		return r;
	if (role == ROLE_NONE || role == ROLE_ADMIN)
		snprintf(dir, sizeof(dir), "%s", o->files_dir);
	else
		snprintf(dir, sizeof(dir), "%s/backups", o->files_dir);
	if ((rules[n].fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) >= 0)
		rules[n++].access = role == ROLE_NONE ?
		    SANDBOX_READ | SANDBOX_WRITE : SANDBOX_READ;
	r = sandbox_restrict(rules, n, SANDBOX_SCOPED);
	close_rules(rules, n);
	return r;
}

int worker_confine(const struct worker_opts *o)
{
	return confine(o, ROLE_NONE, 1);
}

/* ---- logins ---- */

/* ok, the role, and why the login was not even checked ("" when it
 * was): the network process closes the connection with that line. */
static int answer_auth(struct worker *w, int ok, const char *why)
{
	struct buf b = BUF_INIT(256);
	int r;

	if ((r = ipc_put_u32(&b, (uint32_t)ok)) == 0 &&
	    (r = ipc_put_u32(&b, ok ? (uint32_t)w->role : 0)) == 0 &&
	    (r = ipc_put_str(&b, why)) == 0)
		r = ipc_send(w->o->sock, IPC_AUTH_ANSWER, b.p, b.len);
	buf_free(&b);
	return r;
}

static void logged_in(struct worker *w, const char *user, enum role role)
{
	w->authed = 1;
	w->role = role;
	snprintf(w->user, sizeof(w->user), "%s", user);
}

/* Before a password or a signature is checked: ask the listener (gate.c).
 * 0 to go ahead, after the listener's delay for a password (the same
 * whatever the check will say; a signature cannot be guessed, so its
 * check is not delayed); else why[] holds the line for the client. */
static int gate_open(struct worker *w, const char *user, int password,
    char *why, size_t whysz)
{
	struct gate_answer a;

	if (gate_ask(w->o->gate, user, &a) != 0) {
		log_warn("ssh: %s: %s", w->o->peer, err_msg());
		snprintf(why, whysz, "cannot check logins now; try again later");
		return -1;
	}
	if (a.refused) {
		gate_why(&a, w->o->peer, user, why, whysz);
		return -1;
	}
	if (password)
		gate_delay(&a);
	return 0;
}

/* The outcome of a checked login: counted by the listener and logged.
 * Returns ok, or 0 when the listener could not count it (fail closed). */
static int gate_close(struct worker *w, const char *user, const char *method,
    int ok)
{
	struct gate_answer a;

	memset(&a, 0, sizeof a);
	if (gate_report(w->o->gate, user, ok, &a) != 0) {
		log_warn("ssh: %s: %s", w->o->peer, err_msg());
		ok = 0;
	}
	if (w->o->login_log)
		w->o->login_log(w->o->arg, user, w->o->peer, method, ok,
		    w->o->gate >= 0 ? a.addr_failures : -1, a.user_failures);
	return ok;
}

/* A password or a signed public key logs in; a key probe only says
 * whether the key is listed. The worker's count of failures and the
 * listener's are the ones that decide: the network process may lie
 * about its own. */
static int on_auth(struct worker *w, int type)
{
	const struct worker_opts *o = w->o;
	struct ipc_cur c = { w->msg.p, w->msg.len };
	const char *user, *a = NULL, *ktype, *blob;
	enum role role = ROLE_NONE;
	uint32_t sig = 0;
	char why[256] = "";
	int ok = 0, real, r;

	if (type == IPC_AUTH_PASSWORD) {
		if ((r = ipc_get_str(&c, &user)) != 0 ||
		    (r = ipc_get_str(&c, &a)) != 0)
			return r;
	} else if ((r = ipc_get_str(&c, &user)) != 0 ||
	    (r = ipc_get_str(&c, &ktype)) != 0 ||
	    (r = ipc_get_str(&c, &blob)) != 0 ||
	    (r = ipc_get_u32(&c, &sig)) != 0)
		return r;
	real = type == IPC_AUTH_PASSWORD || sig;
	if (w->authed || w->failures >= o->max_login_attempts)
		ok = 0;
	else if (real && gate_open(w, user, type == IPC_AUTH_PASSWORD, why,
	    sizeof why) != 0) {
		log_info("ssh: %s: login refused: %s", o->peer, why);
		ok = 0;
	} else if (type == IPC_AUTH_PASSWORD) {
		ok = o->password(o->arg, user, a, &role) == 0;
		ok = gate_close(w, user, "password", ok);
	} else {
		/* NEEDSWORK: libssh verifies the signature in the network
		 * process and gives no way to check it here (OpenSSH's
		 * monitor verifies it itself): a subverted network process
		 * can log in as any user who has a key listed. */
		ok = o->pubkey(o->arg, user, ktype, blob, &role) == 0;
		if (sig)
			ok = gate_close(w, user, "publickey", ok);
	}
	if (a)
		explicit_bzero((char *)a, strlen(a));
	if (!ok) {
		w->failures++;
		if (real)
			w->real_failures++;
	} else if (real)
		logged_in(w, user, role);
	return answer_auth(w, ok, why);
}

/* ---- SFTP ---- */

static int sock_read(void *ctx, void *p, size_t len, int timeout_ms)
{
	struct worker *w = ctx;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	ssize_t n;

	/* The idle limit as the socket's own timeout: one system call per
	 * read rather than a poll(2) before each. */
	if (timeout_ms != w->rcvtimeo) {
		if (setsockopt(w->o->sock, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv)) != 0)
			return err_sys("privsep socket");
		w->rcvtimeo = timeout_ms;
	}
	do
		n = read(w->o->sock, p, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return err_set(ERR_IO, "idle for %d seconds", timeout_ms / 1000);
	if (n < 0)
		return err_sys("privsep socket");
	return (int)n;
}

static int sock_write(void *ctx, const void *p, size_t len)
{
	const struct worker *w = ctx;

	return ipc_write_all(w->o->sock, p, len);
}

static void xfer_line(void *arg, const char *vpath, int upload,
    unsigned long long bytes, double seconds, int complete)
{
	struct worker *w = arg;

	if (w->o->xfer_log)
		w->o->xfer_log(w->o->arg, w->proto ? w->proto : "sftp",
		    w->user, w->o->peer, vpath, upload, bytes, seconds,
		    complete);
}

static int run_sftp(struct worker *w)
{
	struct sftp_io io = { w, sock_read, sock_write };
	struct sftp_params p;
	int r;

	memset(&p, 0, sizeof(p));
	p.root = w->o->files_dir;
	p.user = w->user;
	p.peer = w->o->peer;
	p.role = w->role;
	p.max_handles = w->o->max_handles;
	p.idle_timeout = w->o->idle_timeout;
	p.umask = (mode_t)w->o->umask;
	p.lockdown = 1;		/* the role's layer on top of the worker's */
	p.xfer = xfer_line;
	p.xfer_arg = w;
	log_info("ssh: %s: %s: sftp session", w->o->peer, w->user);
	if ((r = sftp_serve(&io, &p)) != 0)
		log_info("ssh: %s: %s: sftp: %s", w->o->peer, w->user,
		    err_msg());
	return 0;
}

/* ---- the console ---- */

static int send_u32(struct worker *w, int type, uint32_t v)
{
	struct buf b = BUF_INIT(8);
	int r;

	if ((r = ipc_put_u32(&b, v)) == 0)
		r = ipc_send(w->o->sock, type, b.p, b.len);
	buf_free(&b);
	return r;
}

static int con_output(void *arg, const void *p, size_t len, int is_stderr)
{
	struct worker *w = arg;

	w->last_io = now_s();
	return ipc_send(w->o->sock, is_stderr ? IPC_ERR : IPC_OUT, p, len);
}

static int get_pty(struct ipc_cur *c, struct rconsole_pty *pty)
{
	uint32_t v[4];
	int r = 0;

	for (int i = 0; i < 4 && r == 0; i++)
		r = ipc_get_u32(c, &v[i]);
	if (r == 0 && (v[0] > 10000 || v[1] > 10000 || v[2] > 100000 ||
	    v[3] > 100000))
		r = err_set(ERR_PROTO, "privsep: absurd terminal size");
	pty->cols = (int)v[0];
	pty->rows = (int)v[1];
	pty->xpixel = (int)v[2];
	pty->ypixel = (int)v[3];
	return r;
}

/* A message from the network-facing process while the console runs:
 * 0, or ERR_IO when it has gone. */
static int con_message(struct worker *w)
{
	struct rconsole_pty pty;
	struct ipc_cur c;
	int type, r;

	if ((r = ipc_recv(w->o->sock, &type, &w->msg, 5000)) != 0)
		return r;
	c.p = w->msg.p;
	c.left = w->msg.len;
	w->last_io = now_s();
	if (type == IPC_IN)
		rconsole_input(w->con, w->msg.p, w->msg.len);
	else if (type == IPC_IN_EOF)
		rconsole_input_eof(w->con);
	else if (type == IPC_WINCH && get_pty(&c, &pty) == 0)
		rconsole_resize(w->con, &pty);
	else
		return err_set(ERR_PROTO, "privsep: message %d during the console",
		    type);
	return 0;
}

/* Relay until the console's output is all passed on; *status: its exit
 * code (255 when it had to be stopped). */
static void pump_console(struct worker *w, int shell, int *status)
{
	struct pollfd pfd[3];
	int fds[2], gone = 0, n;

	w->last_io = now_s();
	while (!rconsole_drained(w->con) && !w->con_failed && !gone) {
		rconsole_fds(w->con, fds);
		pfd[0].fd = w->o->sock;
		pfd[0].events = POLLIN;
		for (n = 0; n < 2; n++) {
			pfd[n + 1].fd = fds[n];
			pfd[n + 1].events = POLLIN;
			pfd[n + 1].revents = 0;
		}
		if (poll(pfd, 3, 1000) < 0 && errno != EINTR)
			break;
		if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    con_message(w) != 0)
			gone = 1;
		for (n = 0; n < 2; n++)
			if (fds[n] >= 0 && pfd[n + 1].revents &&
			    rconsole_pump(w->con, fds[n]) != 0)
				w->con_failed = 1;
		if (shell && w->o->idle_timeout > 0 &&
		    now_s() - w->last_io > w->o->idle_timeout) {
			log_info("ssh: %s: %s: console idle for %ld seconds",
			    w->o->peer, w->user, w->o->idle_timeout);
			con_output(w, "\r\nidle timeout\r\n", 16, 1);
			gone = 1;
		}
	}
	rconsole_wait(w->con, gone || w->con_failed, status);
	rconsole_free(w->con);
	w->con = NULL;
}

static int run_console(struct worker *w, uint32_t mode, uint32_t want_pty,
    const struct rconsole_pty *pty, const char *command)
{
	struct rconsole_spec spec;
	int status = 255, r;

	log_info("ssh: %s: %s: console %s%s", w->o->peer, w->user,
	    mode == IPC_MODE_EXEC ? "exec: " : "shell",
	    mode == IPC_MODE_EXEC ? command : "");
	memset(&spec, 0, sizeof(spec));
	spec.console = w->o->console;
	spec.conf_file = w->o->conf_file;
	spec.readonly = w->role != ROLE_ADMIN;
	spec.command = mode == IPC_MODE_EXEC ? command : NULL;
	spec.pty = want_pty ? pty : NULL;
	spec.output = con_output;
	spec.arg = w;
	if ((r = confine(w->o, w->role, 1)) != 0 ||
	    (r = rconsole_start(&spec, &w->con)) != 0) {
		log_warn("ssh: %s: %s: console: %s", w->o->peer, w->user,
		    err_msg());
		return send_u32(w, IPC_START_ANSWER, IPC_START_FAILED);
	}
	if ((r = send_u32(w, IPC_START_ANSWER, IPC_START_OK)) != 0)
		return r;
	pump_console(w, mode == IPC_MODE_SHELL, &status);
	return send_u32(w, IPC_EXIT, (uint32_t)status);
}

/* ---- legacy scp: the exec channel's bytes as IPC_IN / IPC_OUT ---- */

static int scp_in(void *ctx, void *p, size_t len, int timeout_ms)
{
	struct worker *w = ctx;
	int type, r;
	size_t n;

	while (w->in_off >= w->msg.len) {
		if (w->in_eof)
			return 0;
		if ((r = ipc_recv(w->o->sock, &type, &w->msg, timeout_ms)) != 0)
			return r;
		w->in_off = 0;
		if (type == IPC_IN_EOF)
			w->in_eof = 1;
		else if (type != IPC_IN && type != IPC_WINCH)
			return err_set(ERR_PROTO, "privsep: message %d during "
			    "scp", type);
		else if (type == IPC_WINCH)
			buf_reset(&w->msg);
	}
	n = w->msg.len - w->in_off < len ? w->msg.len - w->in_off : len;
	memcpy(p, w->msg.p + w->in_off, n);
	w->in_off += n;
	return (int)n;
}

static int scp_out(void *ctx, const void *p, size_t len)
{
	struct worker *w = ctx;
	size_t n;
	int r;

	for (; len > 0; len -= n, p = (const char *)p + n) {
		n = len < IPC_MAX ? len : IPC_MAX;
		if ((r = ipc_send(w->o->sock, IPC_OUT, p, n)) != 0)
			return r;
	}
	return 0;
}

/* An exec of "scp": the legacy protocol (scp.c) on the channel's bytes,
 * with the role's files rules, for every role (the archiver's too: it is
 * file transfer, not the console). */
static int run_scp(struct worker *w, const char *command)
{
	struct scp_io io = { w, scp_in, scp_out };
	struct scp_params p;
	int status = 1, r;

	memset(&p, 0, sizeof(p));
	p.root = w->o->files_dir;
	p.user = w->user;
	p.peer = w->o->peer;
	p.role = w->role;
	p.idle_timeout = w->o->idle_timeout;
	p.umask = (mode_t)w->o->umask;
	p.lockdown = 1;
	p.xfer = xfer_line;
	p.xfer_arg = w;
	w->proto = "scp";
	if ((r = send_u32(w, IPC_START_ANSWER, IPC_START_OK)) != 0)
		return r;
	buf_reset(&w->msg);
	if ((r = scp_serve(command, &io, &p, &status)) != 0)
		log_info("ssh: %s: %s: scp: %s", w->o->peer, w->user,
		    err_msg());
	return send_u32(w, IPC_EXIT, (uint32_t)status);
}

/* ---- the session ---- */

static int answer_start(struct worker *w, uint32_t a)
{
	return send_u32(w, IPC_START_ANSWER, a);
}

static int on_start(struct worker *w)
{
	struct ipc_cur c = { w->msg.p, w->msg.len };
	struct rconsole_pty pty;
	uint32_t mode, want_pty;
	const char *command;
	int r;

	if ((r = ipc_get_u32(&c, &mode)) != 0 ||
	    (r = ipc_get_u32(&c, &want_pty)) != 0 ||
	    (r = get_pty(&c, &pty)) != 0 || (r = ipc_get_str(&c, &command)) != 0)
		return r;
	if (!w->authed)
		return err_set(ERR_PROTO, "privsep: a session before a login");
	if (mode == IPC_MODE_SFTP) {
		if ((r = answer_start(w, IPC_START_OK)) != 0)
			return r;
		return run_sftp(w);
	}
	if (mode != IPC_MODE_EXEC && mode != IPC_MODE_SHELL)
		return err_set(ERR_PROTO, "privsep: unknown session mode");
	if (mode == IPC_MODE_EXEC && scp_is_command(command))
		return run_scp(w, command);
	if (!role_has_console(w->role)) {
		log_info("ssh: %s: %s: console refused: %s role", w->o->peer,
		    w->user, role_name(w->role));
		return answer_start(w, IPC_START_NOCONSOLE);
	}
	if (mode == IPC_MODE_EXEC && (!*command ||
	    strlen(command) > RCONSOLE_MAX_COMMAND))
		return answer_start(w, IPC_START_FAILED);
	return run_console(w, mode, want_pty, &pty, command);
}

int worker_run(const struct worker_opts *o)
{
	struct worker w;
	int type, r;

	memset(&w, 0, sizeof(w));
	w.o = o;
	buf_init(&w.msg, IPC_MAX + 1);
	tzset();	/* longnames' local time, before /etc is out of reach */
	for (;;) {
		/* The network process has its own login grace; this bounds a
		 * worker whose partner hangs. */
		if ((r = ipc_recv(o->sock, &type, &w.msg, -1)) != 0) {
			r = 0;	/* the network process has gone */
			break;
		}
		if (type == IPC_AUTH_PASSWORD || type == IPC_AUTH_PUBKEY)
			r = on_auth(&w, type);
		else if (type == IPC_START) {
			r = on_start(&w);
			break;		/* one session per connection */
		} else
			r = err_set(ERR_PROTO, "privsep: unexpected message %d",
			    type);
		if (r != 0)
			break;
	}
	buf_free_secret(&w.msg);
	if (w.real_failures >= o->max_login_attempts && !w.authed)
		return ERR_DENIED;
	return r;
}
