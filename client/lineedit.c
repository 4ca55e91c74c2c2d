/* lineedit.c: line editing, history and completion for the interactive
 * console, through libedit's readline interface (lineedit.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <editline/readline.h>

#include "buf.h"
#include "err.h"
#include "lineedit.h"
#include "xmalloc.h"
#include "banned.h"

#define MAX_CANDIDATES 4096

static struct {
	char *history_file;
	lineedit_complete_fn *complete;
	void *ctx;
} le;

struct cands {
	char **v;
	size_t n;
};

/* c->v[0] is kept for the common prefix; candidates from v[1]. */
static void add_candidate(void *actx, const char *word)
{
	struct cands *c = actx;

	for (size_t i = 1; i <= c->n; i++)
		if (!strcmp(c->v[i], word))
			return;
	if (c->n + 2 >= MAX_CANDIDATES)
		return;
	c->v[1 + c->n++] = xstrdup(word);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* readline's contract: NULL for no match, else a malloc'd array whose
 * first entry is what replaces the word (the candidates' longest common
 * prefix; every candidate starts with text), then the candidates, then
 * NULL; readline frees it. */
static char **complete(const char *text, int start, int end)
{
	struct cands c = { NULL, 0 };
	char *before;
	size_t common;

	(void)end;
	rl_attempted_completion_over = 1;	/* never fall back to files */
	if (le.complete == NULL)
		return NULL;
	c.v = xcalloc(MAX_CANDIDATES, sizeof *c.v);
	before = xstrndup(rl_line_buffer ? rl_line_buffer : "", (size_t)start);
	le.complete(le.ctx, before, text, add_candidate, &c);
	free(before);
	if (c.n == 0) {
		free(c.v);
		return NULL;
	}
	if (c.n == 1) {		/* one match: it replaces the word alone */
		c.v[0] = c.v[1];
		c.v[1] = NULL;
		return c.v;
	}
	qsort(c.v + 1, c.n, sizeof *c.v, cmp_str);
	common = strlen(c.v[1]);
	for (size_t i = 2; i <= c.n; i++) {
		size_t k = 0;
		while (k < common && c.v[i][k] == c.v[1][k])
			k++;
		common = k;
	}
	c.v[0] = xcalloc(common + 1, 1);
	memcpy(c.v[0], c.v[1], common);
	return c.v;
}

void lineedit_open(const char *history_file, int max_history,
    lineedit_complete_fn *fn, void *ctx)
{
	le.complete = fn;
	le.ctx = ctx;
	le.history_file = history_file ? xstrdup(history_file) : NULL;
	rl_readline_name = "nodebak";	/* its section in ~/.editrc */
	rl_attempted_completion_function = complete;
	using_history();
	stifle_history(max_history);
	if (le.history_file)
		(void)read_history(le.history_file);
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* readline() with ^C discarding the line rather than ending the console:
 * SIGINT is caught only while the prompt waits (a running command keeps
 * the default, so ^C still leaves a command that hangs). NULL: ^C (with
 * interrupted set) or end of input. */
static char *read_one(const char *prompt)
{
	struct sigaction sa, old;
	char *s;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	interrupted = 0;
	sigaction(SIGINT, &sa, &old);
	s = readline(prompt);
	sigaction(SIGINT, &old, NULL);
	return s;
}

int lineedit_read(const char *prompt, struct buf *line)
{
	char *s;
	int r;

	buf_reset(line);
	while ((s = read_one(prompt)) == NULL && interrupted) {
		fputs("^C\n", rl_outstream ? rl_outstream : stdout);
		fflush(rl_outstream ? rl_outstream : stdout);
	}
	if (s == NULL)
		return 0;
	r = buf_adds(line, s);
	free(s);
	if (r != 0) {
		buf_reset(line);
		return err_set(ERR_TOOBIG, "line longer than %zu bytes", line->max);
	}
	return 1;
}

void lineedit_remember(const char *line)
{
	HIST_ENTRY *last = history_length > 0 ? history_get(history_base +
	    history_length - 1) : NULL;
	size_t len = strlen(line);
	char *s;

	/* Completion leaves a space after each word: not worth keeping. */
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	s = xstrndup(line, len);
	if (last == NULL || last->line == NULL || strcmp(last->line, s))
		add_history(s);
	free(s);
}

/* Create or open the history file with mode 0600 before libedit writes
 * it (write_history() opens with the umask's mode) and after. */
static int history_private(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return err_sys("%s", path);
	if (fchmod(fd, 0600) != 0) {
		int r = err_sys("%s: chmod", path);
		close(fd);
		return r;
	}
	close(fd);
	return 0;
}

int lineedit_close(void)
{
	int r = 0;

	if (le.history_file) {
		if ((r = history_private(le.history_file)) == 0 &&
		    write_history(le.history_file) != 0)
			r = err_set(ERR_IO, "%s: cannot write the history",
			    le.history_file);
		if (r == 0)
			r = history_private(le.history_file);
	}
	clear_history();
	free(le.history_file);
	le.history_file = NULL;
	return r;
}
