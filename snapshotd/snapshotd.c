/* snapshotd.c: the daemon: the control socket (each connection is a
 * session, session.c), the job loop (job.c), signals (SIGHUP reloads,
 * SIGTERM waits for the running operation and exits). Listing and
 * verifying run concurrently; mutating commands and jobs take the node's
 * operation lock. */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "err.h"
#include "job.h"
#include "certwatch.h"
#include "scheduled.h"
#include "log.h"
#include "node.h"
#include "session.h"
#include "snapshotd.h"
#include "banned.h"

static gid_t socket_gid = (gid_t)-1;

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
	node_begin_wait(n, "reload");
	pthread_mutex_lock(&n->state_lock);
	old = n->conf;
	n->conf = nc;
	pthread_mutex_unlock(&n->state_lock);
	sched_reload(n, old);
	node_end(n);
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
	/* Background jobs: their thread inherits the blocked signals. */
	if ((r = job_start(n)) != 0) {
		close(sfd);
		return r;
	}
	if ((r = sched_start(n)) != 0 || (r = certwatch_start(n)) != 0) {
		job_stop();
		close(sfd);
		return r;
	}
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
				session_start(n, fd, socket_gid);
		}
	}
	close(lfd);
	unlink(n->conf->socket);
	/* A mutating operation runs to its end, a job as much as a command;
	 * neither is ever cut off. Jobs not started yet are dropped. */
	job_stop();
	node_begin_wait(n, "exit");
	if (db_server_stop(n->conf) != 0)
		log_err("stopping the database server: %s", err_msg());
	log_info("exiting");
	close(sfd);
	return r;
}
