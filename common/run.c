/* run.c: start, capture and wait for child programs (see run.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "run.h"
#include "banned.h"

const char *const RUN_ENV_DEFAULT[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", NULL
};

const char *run_name(const struct child *c)
{
	const char *slash = strrchr(c->argv[0], '/');

	return slash ? slash + 1 : c->argv[0];
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* In the child: fd (RUN_NULL, RUN_PIPE's child end, or the caller's) onto
 * target. */
static int child_fd(int want, int pipe_end, int target)
{
	int fd = want;

	if (want == RUN_PIPE)
		fd = pipe_end;
	else if (want <= 0) {
		if ((fd = open("/dev/null", O_RDWR)) < 0)
			return -1;
	}
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, target) < 0 ? -1 : 0;
}

static void child_exec(const struct child *c, int pin, int pout, int perr,
    int report)
{
	sigset_t none;
	int e;

	/* The daemons block signals for signalfd and ignore some: a child
	 * starts with neither. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Keep 0, 1, 2 and the report pipe out of the way of the dup2s. */
	if ((report = fcntl(report, F_DUPFD_CLOEXEC, 10)) < 0)
		_exit(127);
	if (c->new_session && setsid() < 0)
		goto fail;
	if (child_fd(c->in, pin, 0) != 0 || child_fd(c->out, pout, 1) != 0 ||
	    child_fd(c->err, perr, 2) != 0)
		goto fail;
	if (c->new_session && c->ctty && ioctl(0, TIOCSCTTY, 0) != 0)
		goto fail;
	if (report > 3)
		close_range(3, (unsigned)report - 1, 0);
	close_range((unsigned)report + 1, ~0U, 0);
	if (c->as_user && (setgroups(1, &c->gid) != 0 || setgid(c->gid) != 0 ||
	    setuid(c->uid) != 0))
		goto fail;
	if (chdir(c->cwd ? c->cwd : "/") != 0)
		goto fail;
	execve(c->argv[0], (char *const *)c->argv,
	    (char *const *)(c->env ? c->env : RUN_ENV_DEFAULT));
fail:
	e = errno;
	if (write(report, &e, sizeof e) < 0) {
		/* nothing more to do */
	}
	_exit(127);
}

int run_start(struct child *c)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int rep[2] = { -1, -1 }, e = 0, r = 0;
	ssize_t n;

	c->pid = -1;
	c->in_fd = c->out_fd = c->err_fd = -1;
	if ((c->in == RUN_PIPE && pipe2(pin, O_CLOEXEC) != 0) ||
	    (c->out == RUN_PIPE && pipe2(pout, O_CLOEXEC) != 0) ||
	    (c->err == RUN_PIPE && pipe2(perr, O_CLOEXEC) != 0) ||
	    pipe2(rep, O_CLOEXEC) != 0) {
		r = err_sys("pipe");
		goto fail;
	}
	if ((c->pid = fork()) < 0) {
		r = err_sys("fork");
		goto fail;
	}
	if (c->pid == 0)
		child_exec(c, pin[0], pout[1], perr[1], rep[1]);
	close_fd(&pin[0]);
	close_fd(&pout[1]);
	close_fd(&perr[1]);
	close_fd(&rep[1]);
	while ((n = read(rep[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	close_fd(&rep[0]);
	if (n == (ssize_t)sizeof e) {
		int st;
		while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
			;
		c->pid = -1;
		errno = e;
		r = err_sys("cannot run %s", c->argv[0]);
		goto fail;
	}
	c->in_fd = pin[1];
	c->out_fd = pout[0];
	c->err_fd = perr[0];
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		close_fd(&pin[i]);
		close_fd(&pout[i]);
		close_fd(&perr[i]);
		close_fd(&rep[i]);
	}
	return r;
}

/* "exited with status N" or "was killed by signal SIG". */
static void how(int st, char *out, size_t n)
{
	if (WIFEXITED(st))
		snprintf(out, n, "status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, n, "killed by signal %s", sigabbrev_np(WTERMSIG(st)) ?
		    sigabbrev_np(WTERMSIG(st)) : "?");
	else
		snprintf(out, n, "wait status %d", st);
}

/* c has ended with wait status st: run_finish()'s result. */
static int ended(struct child *c, int st, int *status)
{
	char h[64];

	c->pid = -1;
	if (status)
		*status = st;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	how(st, h, sizeof h);
	return err_set(ERR_IO, "%s failed (%s)", run_name(c), h);
}

int run_finish(struct child *c, int *status)
{
	int st = 0;

	close_fd(&c->in_fd);
	close_fd(&c->out_fd);
	close_fd(&c->err_fd);
	if (c->pid <= 0)
		return err_set(ERR_INVAL, "%s: not started", run_name(c));
	while (waitpid(c->pid, &st, 0) < 0)
		if (errno != EINTR)
			return err_sys("waitpid %s", run_name(c));
	return ended(c, st, status);
}

int run_stop(struct child *c, int grace_ms, int *status)
{
	struct timespec tick = { 0, 20 * 1000000L };
	int st = 0, waited = 0;
	pid_t w;

	close_fd(&c->in_fd);
	close_fd(&c->out_fd);
	close_fd(&c->err_fd);
	if (c->pid <= 0)
		return err_set(ERR_INVAL, "%s: not started", run_name(c));
	kill(c->pid, SIGTERM);
	while ((w = waitpid(c->pid, &st, WNOHANG)) != c->pid) {
		if (w < 0 && errno != EINTR)
			return err_sys("waitpid %s", run_name(c));
		if (waited >= grace_ms) {
			kill(c->pid, SIGKILL);
			return run_finish(c, status);
		}
		nanosleep(&tick, NULL);
		waited += 20;
	}
	return ended(c, st, status);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The last line of e (trailing blanks removed), or "no message". */
static const char *last_line(struct buf *e)
{
	char *p;

	while (e->len && (e->p[e->len - 1] == '\n' || e->p[e->len - 1] == ' ' ||
	    e->p[e->len - 1] == '\r'))
		e->p[--e->len] = '\0';
	if (e->len == 0)
		return "no message";
	p = strrchr(buf_cstr(e), '\n');
	return p ? p + 1 : e->p;
}

int run_capture(struct child *c, struct buf *out, struct buf *errtail,
    size_t err_max, int timeout_ms)
{
	struct buf errb = BUF_INIT(2 * err_max + 4096);
	struct pollfd p[2];
	char chunk[8192], h[64];
	long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	int r, over = 0, timed_out = 0, st = 0;

	if (c->in == RUN_PIPE)
		c->in = RUN_NULL;
	c->out = out ? RUN_PIPE : RUN_NULL;
	c->err = RUN_PIPE;
	if ((r = run_start(c)) != 0)
		return r;
	p[0].fd = c->out_fd;
	p[1].fd = c->err_fd;
	p[0].events = p[1].events = POLLIN;
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		int wait = -1, k;
		if (deadline && (wait = (int)(deadline - now_ms())) <= 0) {
			kill(c->pid, SIGKILL);
			timed_out = 1;
			break;
		}
		if ((k = poll(p, 2, wait)) < 0) {
			if (errno == EINTR)
				continue;
			r = err_sys("poll");
			kill(c->pid, SIGKILL);
			break;
		}
		for (int i = 0; i < 2 && k > 0; i++) {
			ssize_t n;
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			if ((n = read(p[i].fd, chunk, sizeof chunk)) <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				p[i].fd = -1;
			} else if (i == 0 && !over && buf_add(out, chunk, (size_t)n) != 0)
				over = 1;	/* keep reading: the child must not block */
			else if (i == 1) {
				if (errb.len + (size_t)n > 2 * err_max)
					buf_consume(&errb, errb.len > err_max ?
					    errb.len - err_max : errb.len);
				buf_add(&errb, chunk, (size_t)n);
			}
		}
	}
	if (run_finish(c, &st) == 0 && r == 0 && !timed_out && !over) {
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	if (errb.len > err_max)
		buf_consume(&errb, errb.len - err_max);
	if (timed_out)
		r = err_set(ERR_IO, "%s did not finish within %d s (killed): %s",
		    run_name(c), (timeout_ms + 999) / 1000, last_line(&errb));
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		r = err_set(ERR_TOOBIG, "%s: output larger than %zu bytes",
		    run_name(c), out->max);
	else {
		how(st, h, sizeof h);
		r = err_set(ERR_IO, "%s failed (%s): %s", run_name(c), h,
		    last_line(&errb));
	}
out:
	if (errtail && errb.len)
		buf_add(errtail, errb.p, errb.len);
	buf_free(&errb);
	return r;
}
