/* session.c: one control connection per console, each in a thread of its
 * own (docs/control-protocol.md): the peer check, the frames, and the ui
 * through which a command's output and questions reach the console. */
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "commands.h"
#include "ctl.h"
#include "err.h"
#include "log.h"
#include "node.h"
#include "session.h"
#include "ui.h"
#include "xmalloc.h"
#include "banned.h"

#define MAX_SESSIONS 64

struct session {
	struct ctl ctl;
	struct node *node;
	enum ctl_role role;
	uid_t uid;
	pid_t pid;
	struct buf data;	/* a file the console sent with the command */
	int has_data;
	int progress;		/* the console asked for progress frames */
	struct timespec last_progress;
};

/* Progress frames at most this often (and the last one, done == total). */
#define PROGRESS_INTERVAL_MS 250

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static int nsessions;

static int sess_vprint(void *ctx, enum ui_stream st, const char *fmt,
    va_list ap)
{
	struct session *s = ctx;

	return ctl_vsendf(&s->ctl, st == UI_ERR ? "err" : "out", fmt, ap);
}

/* A progress frame, "<done> <total>", to a console that asked for them,
 * at most every PROGRESS_INTERVAL_MS. A console that did not ask (all
 * of them before this frame existed) never gets one. */
static void sess_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct session *s = ctx;
	struct timespec now;
	long long ms;

	if (!s->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - s->last_progress.tv_sec) * 1000LL +
	    (now.tv_nsec - s->last_progress.tv_nsec) / 1000000;
	if (ms < PROGRESS_INTERVAL_MS && done != total)
		return;
	s->last_progress = now;
	ctl_sendf(&s->ctl, "progress", "%llu %llu", (unsigned long long)done,
	    (unsigned long long)total);
}

/* 1 only when the answer is exactly "Y". */
static int sess_confirm(void *ctx, const char *text)
{
	struct session *s = ctx;
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
static enum ctl_role peer_role(uid_t uid, gid_t gid, gid_t socket_gid)
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

/* One command: the words, with the file the console sent if any. */
static int run(struct session *s, int argc, char **argv)
{
	const struct ui ui = { sess_vprint, sess_confirm, s, sess_progress };
	struct cmdctx cx;

	memset(&cx, 0, sizeof cx);
	cx.node = s->node;
	cx.role = s->role;
	cx.ui = &ui;
	cx.data = s->has_data ? &s->data : NULL;
	return commands_run(&cx, argc, argv);
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
	if (ctl_sendf(&s->ctl, "hello", "%s\nnode %s\nrole %s\noptions %s",
	    CTL_VERSION, s->node->conf->node_name, s->role == CTL_ADMIN ?
	    "admin" : "readonly", CTL_OPTIONS) != 0)
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
		} else if (!strcmp(type, "option")) {
			/* Only what the hello offered: a console asks for an
			 * option only when the daemon said it has it. */
			if (strcmp(buf_cstr(&p), "progress"))
				break;
			s->progress = 1;
		} else if (!strcmp(type, "data")) {
			buf_reset(&s->data);
			if (buf_add(&s->data, p.p ? p.p : "", p.len) != 0)
				break;
			s->has_data = 1;
		} else if (!strcmp(type, "run")) {
			argv[argc] = NULL;
			r = run(s, argc, argv);
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

static void session_free(struct session *s)
{
	close(s->ctl.fd);
	ctl_free(&s->ctl);
	buf_free(&s->data);
	free(s);
	pthread_mutex_lock(&count_lock);
	nsessions--;
	pthread_mutex_unlock(&count_lock);
}

static void *session_thread(void *arg)
{
	struct session *s = arg;

	serve(s);
	session_free(s);
	return NULL;
}

void session_start(struct node *n, int fd, gid_t group)
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
	if ((role = peer_role(cred.uid, cred.gid, group)) == CTL_NONE) {
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
		session_free(s);
	}
	pthread_attr_destroy(&attr);
}
