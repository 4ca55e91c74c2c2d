/* rconsole.c: runs the console program for an SSH user (see rconsole.h).
 * No shell is involved: an exec command is split on spaces into the
 * console's arguments, and the role is passed with --role, which the
 * console can only lower. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "rconsole.h"
#include "xmalloc.h"
#include "banned.h"

#define STOP_GRACE_MS 2000

struct rconsole {
	pid_t pid;
	int in;			/* the console's input (the pty with one) */
	int out, err;		/* its output; -1 once at the end */
	int pty;
	int (*output)(void *arg, const void *p, size_t len, int is_stderr);
	void *arg;
};

/* The console program: spec->console, or "nodebak" in our own folder. */
static int console_path(const struct rconsole_spec *spec, char *out,
    size_t outsz)
{
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (spec->console) {
		snprintf(out, outsz, "%s", spec->console);
		return 0;
	}
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		return err_sys("/proc/self/exe");
	self[n] = '\0';
	if (!(slash = strrchr(self, '/')))
		return err_set(ERR_INVAL, "%s: no folder", self);
	*slash = '\0';
	if ((size_t)snprintf(out, outsz, "%s/nodebak", self) >= outsz)
		return err_set(ERR_INVAL, "console path too long");
	return 0;
}

/* argv for the console: program, -c, --role, then the command's words. */
static int build_argv(const struct rconsole_spec *spec, const char *prog,
    char *words, char **argv, size_t max)
{
	size_t n = 0, nwords = 0;
	char *w;

	argv[n++] = (char *)prog;
	if (spec->conf_file) {
		argv[n++] = (char *)"-c";
		argv[n++] = (char *)spec->conf_file;
	}
	argv[n++] = (char *)"--role";
	argv[n++] = (char *)(spec->readonly ? "readonly" : "admin");
	argv[n++] = (char *)"--";
	for (w = words; w && *w; ) {
		while (*w == ' ')
			*w++ = '\0';
		if (!*w)
			break;
		if (n + 1 >= max)
			return err_set(ERR_INVAL, "too many words in the command");
		argv[n++] = w;
		nwords++;
		while (*w && *w != ' ')
			w++;
	}
	if (spec->command && nwords == 0)
		return err_set(ERR_INVAL, "empty command");
	argv[n] = NULL;
	return 0;
}

static void child(const struct rconsole_spec *spec, char **argv, int in,
    int out, int err, int slave)
{
	static char *env[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	    (char *)"LANG=C.UTF-8", NULL };

	signal(SIGPIPE, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);	/* the listener's drain signal, ignored */
	if (slave >= 0) {
		setsid();
		ioctl(slave, TIOCSCTTY, 0);
		in = out = err = slave;
	}
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	closefrom(3);
	(void)spec;
	execve(argv[0], argv, env);
	dprintf(2, "nodebak: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int rconsole_start(const struct rconsole_spec *spec, struct rconsole **outp)
{
	char prog[PATH_MAX], *words = NULL;
	char *argv[RCONSOLE_MAX_WORDS + 8];
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int master = -1, slave = -1, r;
	struct winsize ws;
	struct rconsole *c;
	pid_t pid;

	*outp = NULL;
	if (spec->command && strlen(spec->command) > RCONSOLE_MAX_COMMAND)
		return err_set(ERR_INVAL, "command too long");
	if ((r = console_path(spec, prog, sizeof(prog))) != 0)
		return r;
	if (spec->command)
		words = xstrdup(spec->command);
	if ((r = build_argv(spec, prog, words, argv,
	    sizeof(argv) / sizeof(argv[0]))) != 0)
		goto out;
	if (spec->pty) {
		memset(&ws, 0, sizeof(ws));
		ws.ws_col = (unsigned short)spec->pty->cols;
		ws.ws_row = (unsigned short)spec->pty->rows;
		ws.ws_xpixel = (unsigned short)spec->pty->xpixel;
		ws.ws_ypixel = (unsigned short)spec->pty->ypixel;
		if (openpty(&master, &slave, NULL, NULL, &ws) != 0) {
			r = err_sys("openpty");
			goto out;
		}
	} else if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) ||
	    pipe2(perr, O_CLOEXEC)) {
		r = err_sys("pipe");
		goto out;
	}
	if ((pid = fork()) < 0) {
		r = err_sys("fork");
		goto out;
	}
	if (pid == 0)
		child(spec, argv, pin[0], pout[1], perr[1], slave);
	c = xcalloc(1, sizeof(*c));
	c->pid = pid;
	c->output = spec->output;
	c->arg = spec->arg;
	c->pty = master >= 0;
	if (c->pty) {
		fcntl(master, F_SETFD, FD_CLOEXEC);
		c->in = c->out = master;
		c->err = -1;
		master = -1;
	} else {
		c->in = pin[1];
		c->out = pout[0];
		c->err = perr[0];
		pin[1] = pout[0] = perr[0] = -1;
	}
	*outp = c;
	r = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
	}
	if (master >= 0)
		close(master);
	if (slave >= 0)
		close(slave);
	free(words);
	return r;
}

int rconsole_input(struct rconsole *c, const void *p, size_t len)
{
	const char *s = p;
	size_t done = 0;
	ssize_t n;

	while (c && c->in >= 0 && done < len) {
		n = write(c->in, s + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* the console has gone: drop the rest */
		done += (size_t)n;
	}
	return (int)len;
}

void rconsole_input_eof(struct rconsole *c)
{
	static const char eot = 4;

	if (!c || c->in < 0)
		return;
	if (c->pty) {
		/* A terminal has no half-close: send its end-of-file key. */
		if (write(c->in, &eot, 1) < 0)
			return;
		return;
	}
	close(c->in);
	c->in = -1;
}

void rconsole_resize(struct rconsole *c, const struct rconsole_pty *pty)
{
	struct winsize ws;

	if (!c || !c->pty || c->out < 0)
		return;
	memset(&ws, 0, sizeof(ws));
	ws.ws_col = (unsigned short)pty->cols;
	ws.ws_row = (unsigned short)pty->rows;
	ioctl(c->out, TIOCSWINSZ, &ws);
}

void rconsole_fds(const struct rconsole *c, int fds[2])
{
	fds[0] = c->out;
	fds[1] = c->err;
}

int rconsole_pump(struct rconsole *c, int fd)
{
	char chunk[16384];
	ssize_t n;
	int is_err = fd == c->err && !c->pty;

	do
		n = read(fd, chunk, sizeof(chunk));
	while (n < 0 && errno == EINTR);
	if (n <= 0) {	/* end, or EIO from a terminal whose side closed */
		if (fd == c->out) {
			if (c->pty)
				c->in = -1;
			c->out = -1;
		} else
			c->err = -1;
		close(fd);
		return 0;
	}
	return c->output(c->arg, chunk, (size_t)n, is_err);
}

int rconsole_drained(const struct rconsole *c)
{
	return c->out < 0 && c->err < 0;
}

static int wait_ms(pid_t pid, int *wst, int ms)
{
	struct timespec ts = { 0, 20 * 1000000L };
	int waited;

	for (waited = 0; waited <= ms; waited += 20) {
		if (waitpid(pid, wst, WNOHANG) == pid)
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

void rconsole_wait(struct rconsole *c, int stop, int *status)
{
	int wst = 0;

	*status = 255;
	if (c->pid <= 0)
		return;
	if (stop) {
		kill(c->pid, SIGTERM);
		if (!wait_ms(c->pid, &wst, STOP_GRACE_MS)) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &wst, 0);
		}
	} else {
		while (waitpid(c->pid, &wst, 0) < 0)
			if (errno != EINTR)
				return;
	}
	c->pid = 0;
	if (WIFEXITED(wst))
		*status = WEXITSTATUS(wst);
	else if (WIFSIGNALED(wst))
		*status = 128 + WTERMSIG(wst);
}

void rconsole_free(struct rconsole *c)
{
	int status;

	if (!c)
		return;
	if (c->pid > 0)
		rconsole_wait(c, 1, &status);
	if (c->in >= 0 && c->in != c->out)
		close(c->in);
	if (c->out >= 0)
		close(c->out);
	if (c->err >= 0)
		close(c->err);
	free(c);
}
