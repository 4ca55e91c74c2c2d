/* daemon.c: nodebak-pull daemon (pull.h): sync on the [schedule] of
 * pull.conf, with the node scheduler's engine (common/schedule.c), one
 * run at a time. With catch_up (the default) a run missed while the
 * daemon was down, or no run ever, is taken at start. SIGHUP rereads
 * pull.conf; SIGTERM and SIGINT stop it between runs (a run under way is
 * finished first; its partial downloads are resumed anyway). The
 * per-node locks keep a manual sync from overlapping a scheduled one.
 *
 * Each run is a child process, confined (pull_confine()) before it
 * talks to a node: the long-lived parent parses nothing from the
 * network, and a reload may name another archive_dir. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "manifest.h"
#include "pull.h"
#include "pullconf.h"
#include "schedule.h"
#include "sync.h"
#include "banned.h"

static volatile sig_atomic_t stop, reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		stop = 1;
}

static char *record_path(const struct pull_conf *c)
{
	return fs_join(c->archive_dir, ".state/daemon.state");
}

/* The scheduled time of the last run (0: none). */
static long long record_load(const struct pull_conf *c)
{
	char *p = record_path(c);
	struct buf b = BUF_INIT(256);
	long long t = 0;

	if (fs_exists(p) && fs_read_file(p, 255, &b) == 0 && b.len)
		t = strtoll(b.p, NULL, 10);
	buf_free(&b);
	free(p);
	return t;
}

static void record_save(const struct pull_conf *c, long long slot)
{
	char *p = record_path(c), text[32];
	int n = snprintf(text, sizeof text, "%lld\n", slot);

	if (fs_mkdir_parent(p, 0700) != 0 ||
	    fs_write_atomic(p, text, (size_t)n, 0600) != 0)
		fprintf(stderr, "nodebak-pull: %s\n", err_msg());
	free(p);
}

static int load(const char *path, struct pull_conf **c, struct schedule *sc)
{
	struct pull_conf *n = NULL;

	if (pullconf_load(path, &n) != 0)
		return -1;
	if (n->sched_schedule == NULL) {
		err_set(ERR_INVAL, "%s: [schedule] schedule is not set: the "
		    "daemon needs it (%s)", esc(n->file), SCHEDULE_ALLOWED);
		pullconf_free(n);
		return -1;
	}
	schedule_parse(n->sched_schedule, sc);	/* checked by the load */
	sc->local = !strcmp(n->sched_timezone, "local");
	pullconf_free(*c);
	*c = n;
	return 0;
}

/* One sync in a confined child; its exit status. */
static int sync_in_child(const struct pull_conf *c, const struct sync_opts *o)
{
	struct sigaction sa;
	pid_t pid;
	int st;

	fflush(NULL);
	if ((pid = fork()) < 0) {
		fprintf(stderr, "nodebak-pull: fork: %s\n", strerror(errno));
		return PULL_EXIT_ALL;
	}
	if (pid == 0) {
		/* The parent decides when to stop; the run finishes. */
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_IGN;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		pull_confine(c, 1);
		st = pull_run_sync(c, o);
		fflush(NULL);
		_exit(st);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return PULL_EXIT_ALL;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void when(time_t t, char out[21])
{
	manifest_time(t, out);
}

/* Sleep until t or a signal. */
static void wait_until(time_t t)
{
	while (!stop && !reload && clock_now() < t)
		sleep(1);
}

int pull_daemon(const char *path, int argc, char **argv)
{
	struct pull_conf *c = NULL;
	struct sync_opts o;
	struct schedule sc;
	struct sigaction sa;
	long long last;
	time_t next, now;
	char ts[21];

	if (argc > 0)
		return pull_usage("daemon: unknown argument %s", argv[0]);
	if (load(path, &c, &sc) != 0) {
		fprintf(stderr, "nodebak-pull: %s\n", err_msg());
		return PULL_EXIT_CONFIG;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	memset(&o, 0, sizeof o);
	last = record_load(c);
	now = clock_now();
	next = !strcmp(c->sched_catch_up, "yes") &&
	    (last == 0 || (long long)schedule_prev(&sc, now) > last) ? now :
	    schedule_next(&sc, now);
	fprintf(stderr, "nodebak-pull: daemon started: %zu node%s, schedule "
	    "%s\n", c->n_nodes, c->n_nodes == 1 ? "" : "s", c->sched_schedule);
	while (!stop) {
		when(next, ts);
		fprintf(stderr, "nodebak-pull: next sync %s\n", ts);
		wait_until(next);
		if (reload) {
			reload = 0;
			if (load(path, &c, &sc) != 0)
				fprintf(stderr, "nodebak-pull: reload: %s (the old "
				    "configuration stays)\n", err_msg());
			else
				fprintf(stderr, "nodebak-pull: reloaded %s\n",
				    esc(c->file));
			next = schedule_next(&sc, clock_now() - 1);
			continue;
		}
		if (stop)
			break;
		fprintf(stderr, "nodebak-pull: sync: exit status %d\n",
		    sync_in_child(c, &o));
		record_save(c, (long long)next);
		next = schedule_next(&sc, clock_now());
	}
	fprintf(stderr, "nodebak-pull: daemon stopped\n");
	pullconf_free(c);
	return PULL_EXIT_OK;
}
