/* rconsole.c: runs the console program for an SSH user (see rconsole.h)
 * through common/run.c, on pipes or on a pseudo-terminal, and streams its
 * output. No shell is involved: an exec command is split on spaces into
 * the console's arguments, and the role is passed with --role, which the
 * console can only lower. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "err.h"
#include "rconsole.h"
#include "run.h"
#include "sandbox.h"
#include "xmalloc.h"
#include "banned.h"

#define STOP_GRACE_MS 2000

struct rconsole {
	struct child ch;	/* the console program (run.h) */
	const char *argv[RCONSOLE_MAX_WORDS + 8];
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

int rconsole_split(char *command, const char **words, size_t max)
{
	size_t n = 0;
	char *w;

	for (w = command; w && *w; ) {
		while (*w == ' ')
			*w++ = '\0';
		if (!*w)
			break;
		if (n == max)
			return err_set(ERR_INVAL, "too many words in the command");
		words[n++] = w;
		while (*w && *w != ' ')
			w++;
	}
	return (int)n;
}

/* argv for the console: program, -c, --role, then the command's words. */
static int build_argv(const struct rconsole_spec *spec, const char *prog,
    char *words, const char **argv, size_t max)
{
	size_t n = 0;
	int nwords;

	argv[n++] = prog;
	if (spec->conf_file) {
		argv[n++] = "-c";
		argv[n++] = spec->conf_file;
	}
	argv[n++] = "--role";
	argv[n++] = spec->readonly ? "readonly" : "admin";
	argv[n++] = "--";
	/* Room for the words and the NULL after them. */
	if ((nwords = rconsole_split(words, argv + n, max - n - 1)) < 0)
		return nwords;
	if (spec->command && nwords == 0)
		return err_set(ERR_INVAL, "empty command");
	argv[n + (size_t)nwords] = NULL;
	return 0;
}

/* The console on a new pseudo-terminal of the client's size: *masterp
 * for us, *slavep to hand over (both close-on-exec; run.c gives the slave
 * to the console as 0, 1 and 2 and its controlling terminal). */
static int open_pty(const struct rconsole_pty *pty, int *masterp, int *slavep)
{
	struct winsize ws;
	int fd;

	memset(&ws, 0, sizeof(ws));
	ws.ws_col = (unsigned short)pty->cols;
	ws.ws_row = (unsigned short)pty->rows;
	ws.ws_xpixel = (unsigned short)pty->xpixel;
	ws.ws_ypixel = (unsigned short)pty->ypixel;
	if (openpty(masterp, slavep, NULL, NULL, &ws) != 0)
		return err_sys("openpty");
	fcntl(*masterp, F_SETFD, FD_CLOEXEC);
	fcntl(*slavep, F_SETFD, FD_CLOEXEC);
	if (*slavep >= 3)
		return 0;
	/* run.c hands over descriptors of 3 and more only. */
	fd = fcntl(*slavep, F_DUPFD_CLOEXEC, 3);
	close(*slavep);
	if ((*slavep = fd) < 0) {
		close(*masterp);
		*masterp = -1;
		return err_sys("openpty");
	}
	return 0;
}

/* Where a program and its shared libraries live, and what the dynamic
 * linker and the C library read at start. */
static const char *const exec_dirs[] = { "/usr", "/lib", "/lib64", "/bin",
    "/sbin", NULL };
static const char *const lib_files[] = { "/etc/ld.so.cache",
    "/etc/localtime", NULL };
static const char *const dev_files[] = { "/dev/null", "/dev/ptmx",
    "/dev/pts", NULL };

static void add_rule(const char *path, unsigned access,
    struct sandbox_rule *rules, size_t max, size_t *np)
{
	int fd;

	if (*np >= max || (fd = open(path, O_PATH | O_CLOEXEC)) < 0)
		return;		/* what does not exist needs no rule */
	rules[*np].fd = fd;
	rules[*np].access = access;
	(*np)++;
}

int rconsole_rules(const struct rconsole_spec *spec,
    const char *const *also_read, struct sandbox_rule *rules, size_t max,
    size_t *np)
{
	char prog[PATH_MAX], *slash;
	size_t i;
	int r;

	*np = 0;
	if ((r = console_path(spec, prog, sizeof(prog))) != 0)
		return r;
	if ((slash = strrchr(prog, '/')) != NULL && slash != prog)
		*slash = '\0';
	add_rule(prog, SANDBOX_EXEC | SANDBOX_READ, rules, max, np);
	for (i = 0; exec_dirs[i]; i++)
		add_rule(exec_dirs[i], SANDBOX_EXEC | SANDBOX_READ, rules, max, np);
	for (i = 0; lib_files[i]; i++)
		add_rule(lib_files[i], SANDBOX_READ, rules, max, np);
	for (i = 0; dev_files[i]; i++)
		add_rule(dev_files[i], SANDBOX_READ | SANDBOX_WRITE, rules, max, np);
	if (spec->conf_file)
		add_rule(spec->conf_file, SANDBOX_READ, rules, max, np);
	for (i = 0; also_read && also_read[i]; i++)
		add_rule(also_read[i], SANDBOX_READ, rules, max, np);
	return 0;
}

int rconsole_start(const struct rconsole_spec *spec, struct rconsole **outp)
{
	char prog[PATH_MAX], *words = NULL;
	int master = -1, slave = -1, r;
	struct rconsole *c;

	*outp = NULL;
	if (spec->command && strlen(spec->command) > RCONSOLE_MAX_COMMAND)
		return err_set(ERR_INVAL, "command too long");
	if ((r = console_path(spec, prog, sizeof(prog))) != 0)
		return r;
	c = xcalloc(1, sizeof(*c));
	c->in = c->out = c->err = -1;
	if (spec->command)
		words = xstrdup(spec->command);
	if ((r = build_argv(spec, prog, words, c->argv,
	    sizeof(c->argv) / sizeof(c->argv[0]))) != 0)
		goto out;
	c->ch.argv = c->argv;	/* RUN_ENV_DEFAULT: PATH and LANG only */
	if (spec->pty) {
		if ((r = open_pty(spec->pty, &master, &slave)) != 0)
			goto out;
		c->ch.in = c->ch.out = c->ch.err = slave;
		c->ch.new_session = 1;
		c->ch.ctty = 1;
	} else
		c->ch.in = c->ch.out = c->ch.err = RUN_PIPE;
	/* exec copies argv: prog and words may go once it has started. */
	if ((r = run_start(&c->ch)) != 0)
		goto out;
	c->output = spec->output;
	c->arg = spec->arg;
	c->pty = master >= 0;
	if (c->pty) {
		c->in = c->out = master;
		master = -1;
	} else {
		/* Ours from now on: run_finish() must not close them. */
		c->in = c->ch.in_fd;
		c->out = c->ch.out_fd;
		c->err = c->ch.err_fd;
		c->ch.in_fd = c->ch.out_fd = c->ch.err_fd = -1;
	}
	*outp = c;
	c = NULL;
out:
	if (master >= 0)
		close(master);
	if (slave >= 0)
		close(slave);
	free(c);
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

void rconsole_wait(struct rconsole *c, int stop, int *status)
{
	int wst = 0, r;

	*status = 255;
	if (c->ch.pid <= 0)
		return;
	r = stop ? run_stop(&c->ch, STOP_GRACE_MS, &wst) :
	    run_finish(&c->ch, &wst);
	if (r != 0 && c->ch.pid > 0)
		return;		/* not reaped (waitpid failed): no status */
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
	if (c->ch.pid > 0)
		rconsole_wait(c, 1, &status);
	if (c->in >= 0 && c->in != c->out)
		close(c->in);
	if (c->out >= 0)
		close(c->out);
	if (c->err >= 0)
		close(c->err);
	free(c);
}
