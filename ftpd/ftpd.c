/* ftpd.c: nodebak-ftpd's listener process: binds the configured listeners
 * as root, accepts, enforces the total and per-address session limits,
 * and forks one session process per connection, which gives up its
 * privileges after login (docs/ftpd.md). It keeps the failed-login counts
 * its sessions ask about (gate.c, lockout.c) and ends every session that
 * has not logged in within login_timeout, whatever the session is doing.
 * It loads the users file again whenever it changes on disk (checked
 * before each fork and every second) and ends the sessions of a user
 * that was deleted, lost a key or changed role.
 * Signals: SIGHUP reloads, SIGTERM lets sessions finish up to
 * shutdown_timeout. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "clock.h"
#include "conf.h"
#include "err.h"
#include "esc.h"
#include "ftp.h"
#include "ftpd.h"
#include "gate.h"
#include "log.h"
#include "sshd_ctx.h"
#include "tls.h"
#include "users.h"
#include "xmalloc.h"
#include "banned.h"

#define MAX_LISTENERS 16

enum lkind { L_SFTP, L_FTP, L_FTPS };

struct listener {
	int fd;
	enum lkind kind;
	char name[80];
};

struct child {
	pid_t pid;
	char addr[INET6_ADDRSTRLEN];
	int gate;		/* the listener's end of its gate.c socketpair */
	long long start_ms;	/* accepted at (monotonic) */
	int logged_in;		/* reported through the gate */
	int cut;		/* killed at login_timeout */
	char user[64];		/* who logged in (the gate), "" before */
	long users_gen;		/* the users file it was forked with */
	long long ended_ms;	/* sent SIGTERM (its user's access went), or 0 */
};

/* The users file as last loaded: its stat(2) stamp, and a count of the
 * loads that changed something (a session forked before the last one
 * checked its login against an older file). */
#define USERS_CHECK_MS 1000
#define USERS_END_GRACE_MS 5000	/* SIGTERM, then SIGKILL this much later */
static struct users_stamp users_seen;
static long users_gen;
static long long users_checked_ms;

/* Addresses and user names the failed-login counts remember. */
#define LOCKOUT_CAP 4096
static struct gate_policy policy;

static struct listener listeners[MAX_LISTENERS];
static int nlisteners;
static struct child *children;
static long nchildren, children_cap;

/* "ADDR:PORT" or "[ADDR]:PORT" -> bound, listening socket. */
static int bind_one(const char *spec, enum lkind kind)
{
	char host[INET6_ADDRSTRLEN + 2], port[8];
	struct addrinfo hints, *ai = NULL;
	const char *colon = strrchr(spec, ':');
	size_t hl;
	int fd = -1, one = 1, r;

	if (colon == NULL || nlisteners == MAX_LISTENERS)
		return err_set(ERR_INVAL, "%s: expected ADDRESS:PORT", spec);
	hl = (size_t)(colon - spec);
	if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof host || strlen(colon + 1) >= sizeof port)
		return err_set(ERR_INVAL, "%s: expected ADDRESS:PORT", spec);
	memcpy(host, spec, hl);
	host[hl] = '\0';
	snprintf(port, sizeof port, "%s", colon + 1);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((r = getaddrinfo(host, port, &hints, &ai)) != 0)
		return err_set(ERR_INVAL, "%s: %s", spec, gai_strerror(r));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = err_sys("socket for %s", spec);
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	/* A burst of clients (200 curls at once) must queue in the kernel,
	 * not have its SYNs dropped and retried a second later. */
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
		r = err_sys("listen on %s", spec);
		close(fd);
		goto out;
	}
	listeners[nlisteners].fd = fd;
	listeners[nlisteners].kind = kind;
	snprintf(listeners[nlisteners].name, sizeof listeners[0].name, "%s", spec);
	nlisteners++;
	r = 0;
out:
	freeaddrinfo(ai);
	return r;
}

static int bind_list(const char *list, enum lkind kind)
{
	char *copy, *save = NULL, *w;
	int r = 0;

	if (list == NULL || *list == '\0')
		return 0;
	copy = xstrdup(list);
	for (w = strtok_r(copy, " ", &save); w && r == 0; w = strtok_r(NULL, " ", &save))
		r = bind_one(w, kind);
	free(copy);
	return r;
}

static long count_from(const char *addr)
{
	long n = 0;

	for (long i = 0; i < nchildren; i++)
		if (!strcmp(children[i].addr, addr))
			n++;
	return n;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The failed-login rules of the running configuration. */
static void policy_set(const struct conf_ftpd *f)
{
	if (policy.table == NULL)
		policy.table = lockout_new(LOCKOUT_CAP);
	policy.limits.addr_failures = f->lockout_address_failures;
	policy.limits.user_failures = f->lockout_user_failures;
	policy.limits.decay = f->lockout_decay;
	policy.limits.lock_seconds = f->lockout_seconds;
	policy.delay_ms = f->login_delay_ms;
	policy.max_delay_ms = f->login_timeout * 1000 / 2;
}

static void lock_out(const char *addr, long seconds)
{
	if (seconds <= 0)
		return;
	lockout_lock_addr(policy.table, &policy.limits, addr, seconds,
	    clock_now());
	log_warn("%s: locked out for %ld s after too many failed logins", addr,
	    seconds);
}

static void reap(long lockout_seconds)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (long i = 0; i < nchildren; i++)
			if (children[i].pid == pid) {
				if (WIFEXITED(st) && WEXITSTATUS(st) == FTPD_EXIT_LOCKOUT)
					lock_out(children[i].addr, lockout_seconds);
				/* An SSH session's own login deadline is SIGALRM. */
				if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM &&
				    !children[i].logged_in)
					log_info("%s: no login within login_timeout: "
					    "connection closed", children[i].addr);
				/* A system call outside the session's filter
				 * (docs/security.md): worth a look. */
				else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
					log_warn("%s: session %ld killed by its "
					    "system call filter (SIGSYS)",
					    children[i].addr, (long)pid);
				else if (WIFSIGNALED(st) && WTERMSIG(st) != SIGTERM &&
				    WTERMSIG(st) != SIGKILL)
					log_warn("%s: session %ld ended by signal %d",
					    children[i].addr, (long)pid,
					    WTERMSIG(st));
				if (children[i].gate >= 0)
					close(children[i].gate);
				children[i] = children[--nchildren];
				break;
			}
}

/* The session says why itself at its own login deadline (421, SSH's
 * alarm); the listener's, this much later, holds whatever it is stuck in. */
#define LOGIN_CUT_GRACE_MS 1000

/* login_timeout bounds everything before a login (TCP, the TLS
 * handshake, the SSH key exchange, the password) in total: the session
 * keeps its own deadlines, and this one holds whatever the session is
 * stuck in (a handshake dripped a byte at a time, a libssh wait).
 * Returns the milliseconds until the next session's deadline, or -1. */
static int cut_slow_logins(long login_timeout)
{
	long long now = now_ms(), next = -1;

	for (long i = 0; i < nchildren; i++) {
		struct child *c = &children[i];
		long long end = c->start_ms + login_timeout * 1000 +
		    LOGIN_CUT_GRACE_MS;
		if (c->logged_in || c->cut)
			continue;
		if (now >= end) {
			kill(c->pid, SIGKILL);
			c->cut = 1;
			log_info("%s: no login within %ld s (login_timeout): "
			    "connection closed", c->addr, login_timeout);
		} else if (next < 0 || end - now < next)
			next = end - now;
	}
	return next < 0 ? -1 : next > INT_MAX ? INT_MAX : (int)next;
}

static void end_session(struct child *c, const char *why)
{
	kill(c->pid, SIGTERM);
	c->ended_ms = now_ms();
	log_info("%s: session %ld of user %s ended (%s)", c->addr, (long)c->pid,
	    esc(c->user), why);
}

/* End the logged-in sessions whose user lost access from old to cur
 * (users_revoked(): deleted, a key deleted, role changed). */
static void end_revoked(const struct users *old, const struct users *cur)
{
	for (long i = 0; i < nchildren; i++) {
		struct child *c = &children[i];
		const char *why;
		if (!c->logged_in || c->ended_ms || !c->user[0])
			continue;
		if ((why = users_revoked(old, cur, c->user)) != NULL)
			end_session(c, why);
	}
}

/* A session forked before the users file last changed checked its login
 * against the file it was forked with: one whose user has gone since
 * ends at once. NEEDSWORK: a key deleted in that window (a login with
 * it under way) is not seen, as the listener does not keep old files. */
static void check_late_login(struct child *c, const struct users *cur)
{
	enum role role;

	if (c->users_gen != users_gen && !c->ended_ms &&
	    users_role(cur, c->user, &role) != 0)
		end_session(c, "user deleted");
}

/* SIGTERM was not enough (a session stuck in a write): SIGKILL. */
static void kill_stuck(void)
{
	long long now = now_ms();

	for (long i = 0; i < nchildren; i++)
		if (children[i].ended_ms &&
		    now - children[i].ended_ms > USERS_END_GRACE_MS) {
			kill(children[i].pid, SIGKILL);
			children[i].ended_ms = now;
		}
}

/* Load the users file again when its stamp changed: new sessions inherit
 * the new one, and the sessions of a user who lost access end. The stamp
 * is taken before the file is read, so an edit during the read is seen at
 * the next check; a stamp of the last second is not trusted (an edit in
 * the same clock tick keeps the times: git's "racy" files), so the file
 * is read again, and a load that changed nothing says nothing. */
static void users_refresh(struct ftpd_ctx *ctx)
{
	const char *path = ctx->conf->ftpd.users;
	struct users_stamp st;
	struct users *u;
	time_t now = time(NULL);

	users_checked_ms = now_ms();
	kill_stuck();
	users_stamp(path, &st);
	if (users_stamp_eq(&st, &users_seen))
		return;
	users_seen = st;
	if (st.file.mtime_s >= now - 1 || st.keys.mtime_s >= now - 1 ||
	    st.file.ctime_s >= now - 1 || st.keys.ctime_s >= now - 1)
		memset(&users_seen, 0, sizeof users_seen);
	if (users_load(path, &u) != 0) {
		log_err("users file: %s (keeping the users loaded before)",
		    err_msg());
		return;
	}
	if (users_same(ctx->users, u)) {
		users_free(u);
		return;
	}
	users_gen++;
	log_info("users file %s changed: reloaded for the next logins", path);
	end_revoked(ctx->users, u);
	users_free(ctx->users);
	ctx->users = u;
}

static void peer_name(const struct sockaddr_storage *ss, char *out,
    size_t outsz)
{
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    out, (socklen_t)outsz);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr,
		    out, (socklen_t)outsz);
	else
		snprintf(out, outsz, "?");
}

static void session(struct ftpd_ctx *ctx, const struct listener *l, int fd,
    int gate, const sigset_t *mask)
{
	int r = 0;

	for (int i = 0; i < nlisteners; i++)
		close(listeners[i].fd);
	/* Other sessions' gates are the listener's, not this session's. */
	for (long i = 0; i < nchildren; i++)
		close(children[i].gate);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_UNBLOCK, mask, NULL);
	if (l->kind == L_SFTP)
		r = sshd_session(fd, gate, ctx);
	else {
		struct ftp_params p = { ctx->conf, ctx->users, &ctx->priv,
		    l->kind == L_FTPS, FTPD_SIG_DRAIN, gate };
		r = ftp_session(fd, &p);
	}
	_exit(r == ERR_DENIED ? FTPD_EXIT_LOCKOUT : r ? 1 : 0);
}

/* 0 when a connection was taken (served or refused), -1 when none waits. */
static int accept_one(struct ftpd_ctx *ctx, const struct listener *l,
    const sigset_t *mask)
{
	const struct conf_ftpd *f = &ctx->conf->ftpd;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char addr[INET6_ADDRSTRLEN];
	pid_t pid;
	int fd, sp[2];

	if ((fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC)) < 0)
		return -1;
	peer_name(&ss, addr, sizeof addr);
	/* The limits count live sessions: one that has ended but whose
	 * SIGCHLD this turn of the loop has not read yet goes first. */
	if (nchildren >= f->max_clients || count_from(addr) >= f->max_per_address)
		reap(f->lockout_seconds);
	if (nchildren >= f->max_clients || nchildren >= children_cap) {
		log_warn("%s: refused %s: %ld sessions (max_clients)", l->name, addr,
		    nchildren);
		close(fd);
		return 0;
	}
	if (count_from(addr) >= f->max_per_address) {
		log_warn("%s: refused %s: %ld sessions from it (max_per_address)",
		    l->name, addr, count_from(addr));
		close(fd);
		return 0;
	}
	/* The session inherits the users: the newest, for this login. */
	users_refresh(ctx);
	/* A locked-out address is still served, by a session that says so
	 * (421, an SSH disconnect message): a silent close reads as a fault. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
		log_err("socketpair: %s", strerror(errno));
		close(fd);
		return 0;
	}
	if ((pid = fork()) < 0) {
		log_err("fork: %s", strerror(errno));
		close(fd);
		close(sp[0]);
		close(sp[1]);
		return 0;
	}
	if (pid == 0) {
		close(sp[0]);
		session(ctx, l, fd, sp[1], mask);
	}
	close(fd);
	close(sp[1]);
	memset(&children[nchildren], 0, sizeof children[0]);
	children[nchildren].pid = pid;
	children[nchildren].gate = sp[0];
	children[nchildren].start_ms = now_ms();
	children[nchildren].users_gen = users_gen;
	snprintf(children[nchildren].addr, sizeof children[0].addr, "%s", addr);
	nchildren++;
	return 0;
}

/* Load the configuration and the users file into ctx; the users loaded
 * before go to *old_users (the caller's) when it is not NULL. */
static int load(struct ftpd_ctx *ctx, const char *path,
    struct users **old_users)
{
	struct conf *c;
	struct users *u;
	int r;

	if ((r = conf_load(path, &c)) != 0)
		return r;
	if ((r = users_load(c->ftpd.users, &u)) != 0) {
		conf_free(c);
		return r;
	}
	conf_free(ctx->conf);
	if (old_users)
		*old_users = ctx->users;
	else
		users_free(ctx->users);
	ctx->conf = c;
	ctx->users = u;
	return 0;
}

static void reload(struct ftpd_ctx *ctx)
{
	struct conf *old = ctx->conf;
	struct users *old_users = NULL;
	struct priv p;
	char files[4096];

	snprintf(files, sizeof files, "%s", old->files_dir);
	if (load(ctx, ctx->conf_path, &old_users) != 0) {
		log_err("reload: %s (keeping the running configuration)", err_msg());
		return;
	}
	/* The next check stamps the file afresh (its path may have changed). */
	memset(&users_seen, 0, sizeof users_seen);
	users_gen++;
	end_revoked(old_users, ctx->users);
	users_free(old_users);
	if (strcmp(files, ctx->conf->files_dir))
		log_warn("reload: files_dir changed; new sessions use %s",
		    ctx->conf->files_dir);
	/* A run_as that no longer resolves keeps the user sessions had. */
	policy_set(&ctx->conf->ftpd);
	if (priv_resolve(ctx->conf->ftpd.run_as, ctx->conf->files_dir, &p) != 0)
		log_err("reload: %s (sessions keep the previous user)", err_msg());
	else
		ctx->priv = p;
	if (priv_resolve_privsep(ctx->conf->ftpd.privsep_user, ctx->priv.uid,
	    &p) != 0)
		log_err("reload: %s (SSH keeps the previous privsep user)",
		    err_msg());
	else
		ctx->privsep = p;
	if (sshd_init(ctx) != 0)
		log_err("reload: %s", err_msg());
	log_info("reloaded %s: users, limits and host key", ctx->conf_path);
}

/* SIGTERM: no new sessions; running ones get shutdown_timeout seconds. */
static void shut_down(struct ftpd_ctx *ctx)
{
	time_t end = time(NULL) + ctx->conf->ftpd.shutdown_timeout;

	for (int i = 0; i < nlisteners; i++)
		close(listeners[i].fd);
	log_info("stopping: %ld sessions to finish (at most %ld s)", nchildren,
	    ctx->conf->ftpd.shutdown_timeout);
	/* FTP sessions finish the running transfer, then answer 421 and
	 * exit; idle ones exit at once. SSH sessions ignore it. */
	for (long i = 0; i < nchildren; i++)
		kill(children[i].pid, FTPD_SIG_DRAIN);
	while (nchildren > 0 && time(NULL) < end) {
		usleep(100000);
		reap(0);
	}
	for (long i = 0; i < nchildren; i++)
		kill(children[i].pid, SIGTERM);
	for (int i = 0; i < 20 && nchildren > 0; i++) {
		usleep(100000);
		reap(0);
	}
	for (long i = 0; i < nchildren; i++)
		kill(children[i].pid, SIGKILL);
	reap(0);
}

/* Answer the sessions' gate questions; a closed gate is closed here
 * too (the session is ending; reap() forgets it). */
static void serve_gates(const struct ftpd_ctx *ctx, const struct pollfd *pfd,
    long n)
{
	for (long i = 0; i < n && i < nchildren; i++) {
		struct child *c = &children[i];
		int was = c->logged_in;
		if (c->gate < 0 || pfd[i].fd != c->gate || !pfd[i].revents)
			continue;
		if (gate_serve(c->gate, &policy, c->addr, &c->logged_in, c->user,
		    sizeof c->user) != 0) {
			close(c->gate);
			c->gate = -1;
		}
		if (c->logged_in && !was)
			check_late_login(c, ctx->users);
	}
}

static int serve(struct ftpd_ctx *ctx)
{
	struct pollfd *pfd;
	sigset_t mask;
	int sfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0)
		return err_sys("signalfd");
	pfd = xcalloc((size_t)(MAX_LISTENERS + 1 + children_cap), sizeof *pfd);
	for (;;) {
		struct signalfd_siginfo si;
		struct pollfd *gp = pfd + nlisteners + 1;
		long ng = nchildren;
		int wait_ms = cut_slow_logins(ctx->conf->ftpd.login_timeout);
		long long since = now_ms() - users_checked_ms;
		if (since >= USERS_CHECK_MS)
			users_refresh(ctx);
		since = now_ms() - users_checked_ms;
		if (wait_ms < 0 || wait_ms > USERS_CHECK_MS - since)
			wait_ms = (int)(USERS_CHECK_MS - since);
		for (int i = 0; i < nlisteners; i++) {
			pfd[i].fd = listeners[i].fd;
			pfd[i].events = POLLIN;
		}
		pfd[nlisteners].fd = sfd;
		pfd[nlisteners].events = POLLIN;
		for (long i = 0; i < ng; i++) {
			gp[i].fd = children[i].gate;	/* -1: poll skips it */
			gp[i].events = POLLIN;
			gp[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)(nlisteners + 1 + ng), wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			free(pfd);
			return err_sys("poll");
		}
		/* Before reap() reorders the children. */
		serve_gates(ctx, gp, ng);
		if (pfd[nlisteners].revents & POLLIN &&
		    read(sfd, &si, sizeof si) == sizeof si) {
			if (si.ssi_signo == SIGCHLD)
				reap(ctx->conf->ftpd.lockout_seconds);
			else if (si.ssi_signo == SIGHUP)
				reload(ctx);
			else {
				shut_down(ctx);
				close(sfd);
				free(pfd);
				return 0;
			}
		}
		for (int i = 0; i < nlisteners; i++)
			for (int k = 0; k < 32 && (pfd[i].revents & POLLIN); k++)
				if (accept_one(ctx, &listeners[i], &mask) != 0)
					break;
	}
}

/* FTPS: make the self-signed pair at first start (as root, before any
 * session) and check that the configured pair loads. */
static int tls_first_start(struct ftpd_ctx *ctx)
{
	const struct conf_ftpd *f = &ctx->conf->ftpd;
	struct tls_server *srv = NULL;
	int r;

	if (!strcmp(f->tls, "off"))
		return 0;
	if ((!f->ftp_listen || !*f->ftp_listen) &&
	    (!f->ftps_implicit_listen || !*f->ftps_implicit_listen))
		return 0;
	if ((r = tls_server_new(f->tls_cert, f->tls_key, &srv)) != 0)
		return r;
	tls_server_free(srv);
	return 0;
}

int ftpd_run(const char *conf_path, int foreground, int verbose)
{
	struct ftpd_ctx ctx;
	int r;

	memset(&ctx, 0, sizeof ctx);
	ctx.conf_path = conf_path;
	signal(SIGPIPE, SIG_IGN);
	signal(FTPD_SIG_DRAIN, SIG_IGN);	/* until an FTP session wants it */
	log_open("nodebak-ftpd", 1, verbose);
	/* The keys exist before any port listens: a client that can connect
	 * finds them. */
	if ((r = load(&ctx, conf_path, NULL)) != 0 || (r = priv_resolve(ctx.conf->ftpd.run_as,
	    ctx.conf->files_dir, &ctx.priv)) != 0 ||
	    (r = priv_resolve_privsep(ctx.conf->ftpd.privsep_user, ctx.priv.uid,
	    &ctx.privsep)) != 0 ||
	    (r = sshd_init(&ctx)) != 0 || (r = tls_first_start(&ctx)) != 0 ||
	    (r = bind_list(ctx.conf->ftpd.sftp_listen, L_SFTP)) != 0 ||
	    (r = bind_list(ctx.conf->ftpd.ftp_listen, L_FTP)) != 0 ||
	    (r = bind_list(ctx.conf->ftpd.ftps_implicit_listen, L_FTPS)) != 0) {
		fprintf(stderr, "nodebak-ftpd: %s\n", err_msg());
		return 1;
	}
	if (nlisteners == 0) {
		fprintf(stderr, "nodebak-ftpd: no listener configured (sftp_listen, ftp_listen)\n");
		return 1;
	}
	/* Room for the configured maximum; a reload can lower it, not raise it
	 * past this. */
	children_cap = ctx.conf->ftpd.max_clients;
	children = xcalloc((size_t)children_cap + 1, sizeof *children);
	policy_set(&ctx.conf->ftpd);
	if (!ctx.priv.switch_user)
		log_warn("the files root belongs to root: sessions keep uid 0 "
		    "without any capability (set run_as, or give %s to a service "
		    "user)", ctx.conf->files_dir);
	for (int i = 0; i < nlisteners; i++)
		log_info("%s listening on %s",
		    listeners[i].kind == L_SFTP ? "sftp" : listeners[i].kind == L_FTP ?
		    "ftp" : "ftps (implicit)", listeners[i].name);
	if (!foreground) {
		if (daemon(0, 0) != 0) {
			perror("nodebak-ftpd: daemon");
			return 1;
		}
		log_open("nodebak-ftpd", 0, verbose);
	}
	if ((r = serve(&ctx)) != 0) {
		log_err("%s", err_msg());
		return 1;
	}
	log_info("exiting");
	return 0;
}
