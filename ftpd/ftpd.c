/* ftpd.c: nodebak-ftpd's listener process: binds the configured listeners
 * as root, accepts, enforces the total and per-address session limits,
 * and forks one session process per connection, which gives up its
 * privileges after login (docs/ftpd.md). Signals: SIGHUP reloads, SIGTERM
 * lets sessions finish up to shutdown_timeout. */
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
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "conf.h"
#include "err.h"
#include "ftp.h"
#include "ftpd.h"
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
};

/* Addresses locked out after a session hit the login attempt limit. */
#define MAX_LOCKS 1024
struct lock {
	char addr[INET6_ADDRSTRLEN];
	time_t until;
};
static struct lock locks[MAX_LOCKS];

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

static void lock_out(const char *addr, long seconds)
{
	size_t oldest = 0;

	if (seconds <= 0)
		return;
	for (size_t i = 0; i < MAX_LOCKS; i++) {
		if (!strcmp(locks[i].addr, addr) || locks[i].until < time(NULL)) {
			oldest = i;
			break;
		}
		if (locks[i].until < locks[oldest].until)
			oldest = i;
	}
	snprintf(locks[oldest].addr, sizeof locks[0].addr, "%s", addr);
	locks[oldest].until = time(NULL) + seconds;
	log_warn("%s: locked out for %ld s after too many failed logins", addr,
	    seconds);
}

static int locked_out(const char *addr)
{
	for (size_t i = 0; i < MAX_LOCKS; i++)
		if (locks[i].until > time(NULL) && !strcmp(locks[i].addr, addr))
			return 1;
	return 0;
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
				children[i] = children[--nchildren];
				break;
			}
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
    const sigset_t *mask)
{
	int r = 0;

	for (int i = 0; i < nlisteners; i++)
		close(listeners[i].fd);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_UNBLOCK, mask, NULL);
	if (l->kind == L_SFTP)
		r = sshd_session(fd, ctx);
	else {
		struct ftp_params p = { ctx->conf, ctx->users, &ctx->priv,
		    l->kind == L_FTPS, FTPD_SIG_DRAIN };
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
	int fd;

	if ((fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC)) < 0)
		return -1;
	peer_name(&ss, addr, sizeof addr);
	if (nchildren >= f->max_clients || nchildren >= children_cap) {
		log_warn("%s: refused %s: %ld sessions (max_clients)", l->name, addr,
		    nchildren);
		close(fd);
		return 0;
	}
	if (locked_out(addr)) {
		log_warn("%s: refused %s: locked out after failed logins", l->name,
		    addr);
		close(fd);
		return 0;
	}
	if (count_from(addr) >= f->max_per_address) {
		log_warn("%s: refused %s: %ld sessions from it (max_per_address)",
		    l->name, addr, count_from(addr));
		close(fd);
		return 0;
	}
	if ((pid = fork()) < 0) {
		log_err("fork: %s", strerror(errno));
		close(fd);
		return 0;
	}
	if (pid == 0)
		session(ctx, l, fd, mask);
	close(fd);
	children[nchildren].pid = pid;
	snprintf(children[nchildren].addr, sizeof children[0].addr, "%s", addr);
	nchildren++;
	return 0;
}

static int load(struct ftpd_ctx *ctx, const char *path)
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
	users_free(ctx->users);
	ctx->conf = c;
	ctx->users = u;
	return 0;
}

static void reload(struct ftpd_ctx *ctx)
{
	struct conf *old = ctx->conf;
	struct priv p;
	char files[4096];

	snprintf(files, sizeof files, "%s", old->files_dir);
	if (load(ctx, ctx->conf_path) != 0) {
		log_err("reload: %s (keeping the running configuration)", err_msg());
		return;
	}
	if (strcmp(files, ctx->conf->files_dir))
		log_warn("reload: files_dir changed; new sessions use %s",
		    ctx->conf->files_dir);
	/* A run_as that no longer resolves keeps the user sessions had. */
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

static int serve(struct ftpd_ctx *ctx)
{
	struct pollfd pfd[MAX_LISTENERS + 1];
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
	for (;;) {
		struct signalfd_siginfo si;
		for (int i = 0; i < nlisteners; i++) {
			pfd[i].fd = listeners[i].fd;
			pfd[i].events = POLLIN;
		}
		pfd[nlisteners].fd = sfd;
		pfd[nlisteners].events = POLLIN;
		if (poll(pfd, (nfds_t)nlisteners + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return err_sys("poll");
		}
		if (pfd[nlisteners].revents & POLLIN &&
		    read(sfd, &si, sizeof si) == sizeof si) {
			if (si.ssi_signo == SIGCHLD)
				reap(ctx->conf->ftpd.lockout_seconds);
			else if (si.ssi_signo == SIGHUP)
				reload(ctx);
			else {
				shut_down(ctx);
				close(sfd);
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
	if ((r = load(&ctx, conf_path)) != 0 || (r = priv_resolve(ctx.conf->ftpd.run_as,
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
