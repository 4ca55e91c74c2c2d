/* t_split.c: the word splitting of what an SSH client sends the console:
 * an exec request's command (rconsole_split(), ftpd/rconsole.c: spaces
 * only, no quoting) and a line typed into its shell (console_split(),
 * client/console.c: blanks, double quotes group). */
#include <stdio.h>
#include <string.h>

#include "console.h"
#include "err.h"
#include "rconsole.h"
#include "tap.h"

/* The words of s joined with '|', or "ERR". */
static const char *exec_words(const char *s, size_t max)
{
	static char out[512];
	char copy[512];
	const char *w[80];
	int n;

	snprintf(copy, sizeof copy, "%s", s);
	if ((n = rconsole_split(copy, w, max)) < 0)
		return "ERR";
	out[0] = '\0';
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s",
		    i ? "|" : "", w[i]);
	return out;
}

static const char *shell_words(const char *s, int max)
{
	static char out[512];
	char copy[512], *w[80];
	int n;

	snprintf(copy, sizeof copy, "%s", s);
	if ((n = console_split(copy, w, max)) < 0)
		return "ERR";
	out[0] = '\0';
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s",
		    i ? "|" : "", w[i]);
	return out;
}

static void t_exec(void)
{
	const char *w[2];
	char empty[] = "";

	ok(!strcmp(exec_words("backup snapshot nightly", 64),
	    "backup|snapshot|nightly"), "exec: three words");
	ok(!strcmp(exec_words("  user   key list  ", 64), "user|key|list"),
	    "exec: runs of spaces, leading and trailing, separate nothing");
	ok(!strcmp(exec_words("backup snapshot \"nightly run\"", 64),
	    "backup|snapshot|\"nightly|run\""),
	    "exec: no quoting: quotes stay in the words (docs/sftp.md)");
	ok(!strcmp(exec_words("a\tb\r\n", 64), "a\tb\r\n"),
	    "exec: only spaces split: tab, CR and LF are in the word");
	ok(rconsole_split(empty, w, 2) == 0 && !strcmp(exec_words("   ", 64), ""),
	    "exec: an empty or blank command has no words");
	ok(rconsole_split(NULL, w, 2) == 0, "exec: no command (a shell) has none");
	ok(!strcmp(exec_words("a b c", 3), "a|b|c") &&
	    !strcmp(exec_words("a b c d", 3), "ERR"),
	    "exec: max words fit, one more is ERR_INVAL");
	ok(!strcmp(exec_words("a b  ", 2), "a|b"),
	    "exec: trailing spaces after max words are not a word");
	ok(!strcmp(exec_words("a", 0), "ERR") && !strcmp(exec_words(" ", 0), ""),
	    "exec: max 0 takes no word");
}

static void t_shell(void)
{
	ok(!strcmp(shell_words("backup  snapshot\tnightly", 64),
	    "backup|snapshot|nightly"), "shell: spaces and tabs separate");
	ok(!strcmp(shell_words("key trust \"my key.pub\" --node 3f", 64),
	    "key|trust|my key.pub|--node|3f"), "shell: quotes group blanks");
	ok(!strcmp(shell_words("a \"\" b", 64), "a||b"),
	    "shell: \"\" is an empty word");
	ok(!strcmp(shell_words("\"ab\"cd", 64), "ab|cd"),
	    "shell: a word may follow a closing quote directly");
	ok(!strcmp(shell_words("ab\"cd\"", 64), "ab\"cd\""),
	    "shell: a quote inside a word is a byte of it");
	ok(!strcmp(shell_words("a \"b c", 64), "ERR"),
	    "shell: an unbalanced quote is an error");
	ok(!strcmp(shell_words("a b c", 3), "a|b|c") &&
	    !strcmp(shell_words("a b c d", 3), "ERR"),
	    "shell: max words fit, one more is an error");
	ok(!strcmp(shell_words(" \t ", 64), ""), "shell: a blank line has none");
}

void t_split(void)
{
	t_exec();
	t_shell();
}
