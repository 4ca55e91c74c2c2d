/* t_cmdtab.c: the console's command table (client/cmdtab.c): what TAB
 * offers after given words, and help's answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmdtab.h"
#include "console.h"
#include "fsutil.h"
#include "tap.h"

struct got {
	char s[1024];
};

/* Joins the candidates with '|' in the order given, once each. */
static void collect(void *ctx, const char *word)
{
	struct got *g = ctx;
	char bar[200];

	snprintf(bar, sizeof bar, "|%s|", word);
	{
		char all[1100];
		snprintf(all, sizeof all, "|%s|", g->s);
		if (strstr(all, bar))
			return;
	}

	snprintf(g->s + strlen(g->s), sizeof g->s - strlen(g->s), "%s%s",
	    g->s[0] ? "|" : "", word);
}

/* The candidates after the words of line, for partial. */
static const char *cands(const char *files, const char *line,
    const char *partial)
{
	static struct got g;
	char copy[256], *w[16];
	int n;

	g.s[0] = '\0';
	snprintf(copy, sizeof copy, "%s", line);
	if ((n = console_split(copy, w, 16)) < 0)
		return "ERR";
	cmdtab_complete(files, n, w, partial, collect, &g);
	return g.s;
}

static void touch(const char *dir, const char *name)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) != NULL)
		fclose(f);
}

void t_cmdtab(void)
{
	char root[] = "/tmp/t_cmdtab-XXXXXX", backups[600];
	FILE *devnull = fopen("/dev/null", "w");

	ok(!strcmp(cands(NULL, "", "bac"), "backup"), "bac -> backup");
	ok(!strcmp(cands(NULL, "", "d"), "database"), "d -> database");
	ok(!strcmp(cands(NULL, "backup", "p"), "prune|pin"),
	    "backup p: prune and pin: %s",
	    cands(NULL, "backup", "p"));
	ok(!strcmp(cands(NULL, "backup list", ""), "--json"),
	    "backup list: --json");
	ok(!strcmp(cands(NULL, "database cluster clear", ""), "error"),
	    "database cluster clear: error");
	ok(!strcmp(cands(NULL, "help backup", "ro"), "rollback"),
	    "help completes command words");
	ok(!strcmp(cands(NULL, "nosuch", ""), ""), "unknown words: nothing");
	ok(!strcmp(cands(NULL, "backup rollback nightly.bak", "--"),
	    "--yes|--no-safety-snapshot|--force|--identity"),
	    "rollback's options: %s", cands(NULL, "backup rollback nightly.bak",
	    "--"));
	ok(!strcmp(cands(NULL, "backup rollback x.bak --yes", "--n"),
	    "--no-safety-snapshot"), "an option after an option");
	ok(!strcmp(cands(NULL, "backup list", "--"), "--json"),
	    "backup list --: --json (a word of the table)");
	ok(!strcmp(cands(NULL, "backup rollback", "n"), ""),
	    "no files root: no archive names");

	if (mkdtemp(root) == NULL)
		return;
	snprintf(backups, sizeof backups, "%s/backups", root);
	mkdir(backups, 0700);
	touch(backups, "nightly.bak");
	touch(backups, "nightly.json");
	touch(backups, ".nodebak-tmp-x.bak");
	touch(backups, "noon.bak");
	touch(root, "server.crt");
	ok(!strcmp(cands(root, "backup rollback", "nig"), "nightly.bak"),
	    "an archive name from backups/, not its .json: %s",
	    cands(root, "backup rollback", "nig"));
	ok(strlen(cands(root, "backup verify", "")) == strlen("nightly.bak|"
	    "noon.bak"), "every archive, no hidden file: %s",
	    cands(root, "backup verify", ""));
	ok(!strcmp(cands(root, "backup rollback nightly.bak", ""), ""),
	    "one archive per rollback");
	ok(!strcmp(cands(root, "pki inspect", "s"), "server.crt"),
	    "pki inspect: files of the files root, not folders: %s",
	    cands(root, "pki inspect", ""));

	ok(devnull && cmdtab_help(devnull, 0, NULL) == 0, "help: 0");
	{
		char w1[] = "backup", w2[] = "rollback", w3[] = "nosuch";
		char *a[] = { w1, w2 }, *b[] = { w3 };
		ok(cmdtab_help(devnull, 2, a) == 0, "help backup rollback: 0");
		fprintf(stderr, "# (an expected line follows)\n");
		ok(cmdtab_help(devnull, 1, b) == 2, "help nosuch: 2");
	}
	if (devnull)
		fclose(devnull);
	fs_rm_rf(root);
}
