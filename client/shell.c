/* shell.c: the interactive console (docs/console.md, "The interactive
 * console"): prompt, line editing, history and tab completion on a
 * terminal (lineedit.c), plain lines from a pipe; `help` without the
 * daemon (cmdtab.c); commands through console.c. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cmdtab.h"
#include "conf.h"
#include "console.h"
#include "err.h"
#include "lineedit.h"
#include "shell.h"
#include "xmalloc.h"
#include "banned.h"

#define LINE_MAX_LEN 4096
#define MAX_WORDS 64
#define HISTORY_FILE ".nodebak_history"	/* in the user's home */
#define HISTORY_MAX 1000		/* lines kept */

struct shell {
	const struct conf *c;
	const char *role;
	struct console_conn *k;	/* NULL: not connected */
	int tty;		/* line editing on a terminal */
	char prompt[96];
};

/* lineedit's completion callback: the words before the cursor to the
 * command table. */
static void complete(void *ctx, const char *before, const char *partial,
    lineedit_add_fn *add, void *actx)
{
	struct shell *sh = ctx;
	char *copy = xstrdup(before), *w[MAX_WORDS];
	int n = console_split(copy, w, MAX_WORDS);

	if (n >= 0)
		cmdtab_complete(sh->c->files_dir, n, w, partial, add, actx);
	free(copy);
}

/* $HOME/.nodebak_history (the password database's home without $HOME);
 * NULL when there is no home folder (a system user's /nonexistent): no
 * history, and no complaint at each exit. The caller frees it. */
static char *history_path(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;
	struct buf b = BUF_INIT(4096);
	struct stat st;

	if ((home == NULL || *home == '\0') && (pw = getpwuid(getuid())))
		home = pw->pw_dir;
	if (home == NULL || *home == '\0' || stat(home, &st) != 0 ||
	    !S_ISDIR(st.st_mode) ||
	    buf_addf(&b, "%s/%s", home, HISTORY_FILE) != 0) {
		buf_free(&b);
		return NULL;
	}
	return b.p;
}

/* Connect when not connected; the prompt names the node. 0, or 1 having
 * said why not (unless quiet). */
static int reconnect(struct shell *sh, int quiet)
{
	if (sh->k && console_broken(sh->k)) {
		console_disconnect(sh->k);
		sh->k = NULL;
	}
	if (sh->k)
		return 0;
	if (console_connect(sh->c, sh->role, &sh->k) != 0) {
		if (!quiet)
			fprintf(stderr, "nodebak: %s\n", err_msg());
		snprintf(sh->prompt, sizeof sh->prompt, "nodebak> ");
		return 1;
	}
	snprintf(sh->prompt, sizeof sh->prompt, "%s> ", console_node(sh->k));
	return 0;
}

static int read_command(struct shell *sh, struct buf *line)
{
	if (sh->tty)
		return lineedit_read(sh->prompt, line);
	printf("%s", sh->prompt);
	fflush(stdout);
	return console_read_line(line);
}

/* One line: 1 to go on with its exit status in *status, 0 to leave. */
static int run_line(struct shell *sh, char *line, int *status)
{
	char *w[MAX_WORDS];
	int n;

	if ((n = console_split(line, w, MAX_WORDS)) < 0) {
		fprintf(stderr, "nodebak: too many words or unbalanced quote\n");
		*status = 2;
		return 1;
	}
	if (n == 0)
		return 1;
	if (!strcmp(w[0], "exit") || !strcmp(w[0], "quit"))
		return 0;
	if (!strcmp(w[0], "help")) {
		*status = cmdtab_help(stdout, n - 1, w + 1);
		return 1;
	}
	if (strcmp(w[0], "user") && strcmp(w[0], "ssh") && reconnect(sh, 0) != 0) {
		*status = 1;
		return 1;
	}
	*status = console_run(sh->c, sh->role, sh->k, n, w);
	fflush(stdout);
	return 1;
}

int shell_main(const struct conf *c, const char *role)
{
	struct shell sh = { c, role, NULL, 0, "" };
	struct buf line = BUF_INIT(LINE_MAX_LEN);
	char *hist = NULL;
	int status = 0, got;

	sh.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (sh.tty) {
		hist = history_path();
		lineedit_open(hist, HISTORY_MAX, complete, &sh);
	}
	/* A terminal hears at once that the daemon is away; a script, at
	 * its first command that needs it. */
	(void)reconnect(&sh, !sh.tty);
	for (;;) {
		if ((got = read_command(&sh, &line)) == 0) {
			printf("\n");
			break;
		}
		if (got < 0) {
			fprintf(stderr, "nodebak: %s\n", err_msg());
			status = 2;
			continue;
		}
		if (sh.tty && line.len)
			lineedit_remember(buf_cstr(&line));
		if (!run_line(&sh, line.p ? line.p : (char *)"", &status))
			break;
	}
	if (sh.tty && lineedit_close() != 0)
		fprintf(stderr, "nodebak: %s\n", err_msg());
	console_disconnect(sh.k);
	buf_free(&line);
	free(hist);
	return status;
}
