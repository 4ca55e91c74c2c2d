/* snapshotd.c: the control socket, one thread per console connection, and
 * signal handling (docs/control-protocol.md). Listing and verifying run
 * concurrently; mutating commands take the node's operation lock. */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "commands.h"
#include "conf.h"
#include "db.h"
#include "ctl.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "node.h"
#include "session.h"
#include "snapshotd.h"
#include "xmalloc.h"
#include "banned.h"

#define MAX_SESSIONS 64

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static int nsessions;
static gid_t socket_gid = (gid_t)-1;

int sess_out(struct session *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ctl_vsendf(&s->ctl, "out", fmt, ap);
	va_end(ap);
	return r;
}

int sess_err(struct session *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ctl_vsendf(&s->ctl, "err", fmt, ap);
	va_end(ap);
	return r;
}

int sess_confirm(struct session *s, const char *text)
{
	struct buf ans = BUF_INIT(4096);
	char type[CTL_TYPE_MAX + 1];
	int yes = 0;

	if (ctl_sends(&s->ctl, "ask", text) == 0 &&
	    ctl_recv(&s->ctl, type, &ans) == 0 && !strcmp(type, "answer"))
		yes = ans.len == 1 && ans.p[0] == 'Y';
	buf_free(&ans);
	return yes;
}

/* The highest role a peer may have: admin for root, the daemon's own user
 * and members of the socket's group; none otherwise. */
static enum ctl_role peer_role(uid_t uid, gid_t gid)
{
	struct passwd *pw;

	if (uid == 0 || uid == geteuid())
		return CTL_ADMIN;
	if (socket_gid != (gid_t)-1) {
		if (gid == socket_gid)
			return CTL_ADMIN;
		if ((pw = getpwuid(uid)) != NULL) {
			gid_t groups[64];
			int ng = 64;
			if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ng) >= 0)
				for (int i = 0; i < ng; i++)
					if (groups[i] == socket_gid)
						return CTL_ADMIN;
		}
	}
	return CTL_NONE;
}

static void free_args(char **argv, int *argc)
{
	for (int i = 0; i < *argc; i++)
		free(argv[i]);
	*argc = 0;
}

static void serve(struct session *s)
{
	struct buf p = BUF_INIT(CTL_MAX_PAYLOAD);
	char type[CTL_TYPE_MAX + 1], *argv[CTL_MAX_ARGS + 1];
	int argc = 0, r;

	if (ctl_recv(&s->ctl, type, &p) != 0 || strcmp(type, "hello") ||
	    strcmp(buf_cstr(&p), CTL_VERSION)) {
		ctl_sends(&s->ctl, "err", "control protocol version mismatch\n");
		goto out;
	}
	if (ctl_sendf(&s->ctl, "hello", "%s\nnode %s\nrole %s", CTL_VERSION,
	    s->node->conf->node_name, s->role == CTL_ADMIN ? "admin" :
	    "readonly") != 0)
		goto out;
	while ((r = ctl_recv(&s->ctl, type, &p)) == 0) {
		if (!strcmp(type, "arg")) {
			if (argc == CTL_MAX_ARGS || strlen(buf_cstr(&p)) != p.len)
				break;
			argv[argc++] = xstrndup(p.p ? p.p : "", p.len);
		} else if (!strcmp(type, "role")) {
			/* A console may lower its role, never raise it. */
			if (!strcmp(buf_cstr(&p), "readonly"))
				s->role = CTL_READONLY;
			else if (strcmp(buf_cstr(&p), "admin"))
				break;
		} else if (!strcmp(type, "data")) {
			buf_reset(&s->data);
			if (buf_add(&s->data, p.p ? p.p : "", p.len) != 0)
				break;
			s->has_data = 1;
		} else if (!strcmp(type, "run")) {
			argv[argc] = NULL;
			r = commands_run(s, argc, argv);
			free_args(argv, &argc);
			s->has_data = 0;
			if (ctl_sendf(&s->ctl, "exit", "%d", r) != 0)
				break;
		} else {
			ctl_sendf(&s->ctl, "err", "unexpected control frame '%s'\n",
			    type);
			break;
		}
	}
	if (r != 0 && r != ERR_NOTFOUND)
		log_warn("control connection from pid %ld: %s", (long)s->pid,
		    err_msg());
out:
	free_args(argv, &argc);
	buf_free(&p);
}

static void *session_thread(void *arg)
{
	struct session *s = arg;

	serve(s);
	close(s->ctl.fd);
	ctl_free(&s->ctl);
	buf_free(&s->data);
	free(s);
	pthread_mutex_lock(&count_lock);
	nsessions--;
	pthread_mutex_unlock(&count_lock);
	return NULL;
}

static void start_session(struct node *n, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	struct session *s;
	pthread_attr_t attr;
	pthread_t t;
	enum ctl_role role;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		close(fd);
		return;
	}
	if ((role = peer_role(cred.uid, cred.gid)) == CTL_NONE) {
		log_warn("refused control connection from uid %ld",
		    (long)cred.uid);
		close(fd);
		return;
	}
	pthread_mutex_lock(&count_lock);
	if (nsessions >= MAX_SESSIONS) {
		pthread_mutex_unlock(&count_lock);
		log_warn("refused control connection: %d sessions", MAX_SESSIONS);
		close(fd);
		return;
	}
	nsessions++;
	pthread_mutex_unlock(&count_lock);
	s = xcalloc(1, sizeof *s);
	ctl_init(&s->ctl, fd);
	buf_init(&s->data, CTL_MAX_PAYLOAD);
	s->node = n;
	s->role = role;
	s->uid = cred.uid;
	s->pid = cred.pid;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, session_thread, s) != 0) {
		log_err("cannot start a session thread");
		close(fd);
		ctl_free(&s->ctl);
		buf_free(&s->data);
		free(s);
		pthread_mutex_lock(&count_lock);
		nsessions--;
		pthread_mutex_unlock(&count_lock);
	}
	pthread_attr_destroy(&attr);
}

int snapshotd_listen(struct node *n)
{
	const struct conf *c = n->conf;
	struct sockaddr_un sa;
	int fd, probe;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(c->socket) >= sizeof sa.sun_path)
		return err_set(ERR_INVAL, "%s: socket path too long", c->socket);
	memcpy(sa.sun_path, c->socket, strlen(c->socket) + 1);
	if (c->socket_group) {
		struct group *g = getgrnam(c->socket_group);
		if (g == NULL)
			return err_set(ERR_INVAL, "socket_group %s: no such group",
			    c->socket_group);
		socket_gid = g->gr_gid;
	}
	/* A socket file left by a daemon that died is replaced; one that a
	 * running daemon answers on is not. */
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
		if (connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
			close(probe);
			return err_set(ERR_BUSY, "%s: another nodebak-snapshotd is "
			    "running", c->socket);
		}
		close(probe);
	}
	unlink(c->socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return err_sys("socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    chmod(c->socket, (mode_t)c->socket_mode) != 0 ||
	    (socket_gid != (gid_t)-1 && chown(c->socket, (uid_t)-1, socket_gid)) ||
	    listen(fd, 64) != 0) {
		int r = err_sys("%s", c->socket);
		close(fd);
		return r;
	}
	return fd;
}

/* Reload the configuration: keys that locate the node need a restart. */
static struct conf *retired[64];
static int nretired;

static void reload(struct node *n)
{
	struct conf *nc, *old;

	if (conf_load(n->conf->file, &nc) != 0) {
		log_err("reload: %s (keeping the running configuration)", err_msg());
		return;
	}
	if (strcmp(nc->state_dir, n->conf->state_dir) ||
	    strcmp(nc->files_dir, n->conf->files_dir) ||
	    strcmp(nc->db_path, n->conf->db_path) ||
	    strcmp(nc->socket, n->conf->socket) ||
	    strcmp(nc->db_engine, n->conf->db_engine) || nretired == 64) {
		log_err("reload: state_dir, files_dir, database or socket changed; "
		    "restart nodebak-snapshotd to apply (keeping the running "
		    "configuration)");
		conf_free(nc);
		return;
	}
	pthread_mutex_lock(&n->op_lock);
	pthread_mutex_lock(&n->state_lock);
	old = n->conf;
	n->conf = nc;
	pthread_mutex_unlock(&n->state_lock);
	pthread_mutex_unlock(&n->op_lock);
	retired[nretired++] = old;	/* sessions may still read it */
	node_load_trusted(n);
	log_info("reloaded %s", nc->file);
}

int snapshotd_run(struct node *n, int lfd)
{
	struct pollfd pfd[2];
	sigset_t set;
	int sfd, r = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
		return err_sys("signalfd");
	log_info("nodebak-snapshotd %s serving node %s on %s", NODEBAK_VERSION,
	    n->conf->node_name, n->conf->socket);
	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = sfd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = err_sys("poll");
			break;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) != sizeof si)
				continue;
			if (si.ssi_signo == SIGHUP) {
				reload(n);
				continue;
			}
			log_info("signal %u: waiting for the running operation, then "
			    "exiting", si.ssi_signo);
			break;
		}
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				start_session(n, fd);
		}
	}
	close(lfd);
	unlink(n->conf->socket);
	/* A mutating operation runs to its end; it is never cut off. */
	pthread_mutex_lock(&n->op_lock);
	if (db_server_stop(n->conf) != 0)
		log_err("stopping the database server: %s", err_msg());
	log_info("exiting");
	close(sfd);
	return r;
}
