/* cmdtab.c: the console's command table: help without a daemon, and what
 * tab completion offers (cmdtab.h). */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "cmdtab.h"
#include "esc.h"
#include "banned.h"

#define MAX_CWORDS 4

enum arg_kind {
	ARG_NONE,	/* words only (or arguments nothing can complete) */
	ARG_ARCHIVE,	/* a .bak in files_dir/backups */
	ARG_FILE,	/* a file of the files root */
};

#define F_ADMIN 1u	/* shown as (admin) */
#define F_LOCAL 2u	/* runs in the console itself */

struct centry {
	const char *words;	/* the command words, one space between */
	enum arg_kind arg;
	unsigned flags;
	const char *usage;	/* its Usage: line (the daemon's words) */
	const char *opts;	/* its options, one space between, or NULL */
};

/* In the order of the daemon's help (snapshotd/commands.c). */
static const struct centry table[] = {
	{ "backup snapshot", ARG_NONE, F_ADMIN, "backup snapshot <name>" },
	{ "backup rollback", ARG_ARCHIVE, F_ADMIN,
	  "backup rollback <name>.bak [--yes] [--no-safety-snapshot] "
	  "[--force node|version|schema]... [--identity /FILE]",
	  "--yes --no-safety-snapshot --force --identity" },
	{ "backup list --json", ARG_NONE, 0, "backup list --json" },
	{ "backup list", ARG_NONE, 0, "backup list" },
	{ "backup verify", ARG_ARCHIVE, 0, "backup verify <name>.bak" },
	{ "backup delete", ARG_ARCHIVE, F_ADMIN, "backup delete <name>.bak" },
	{ "backup prune --dry-run", ARG_NONE, 0, "backup prune --dry-run" },
	{ "backup prune", ARG_NONE, F_ADMIN, "backup prune" },
	{ "backup pin", ARG_ARCHIVE, F_ADMIN, "backup pin <name>.bak" },
	{ "backup unpin", ARG_ARCHIVE, F_ADMIN, "backup unpin <name>.bak" },
	{ "backup schedule status", ARG_NONE, 0,
	  "backup schedule status [--json]", "--json" },
	{ "pki list", ARG_NONE, 0, "pki list" },
	{ "pki inspect", ARG_FILE, 0, "pki inspect <file>" },
	{ "pki csr", ARG_NONE, F_ADMIN,
	  "pki csr <name> CN:<common name> [subjectAltName:<a>,<b>] "
	  "[O:<org>] [OU:<unit>] [L:<city>] [ST:<state>] [C:<country>]" },
	{ "pki verify", ARG_FILE, 0, "pki verify <cert> [<CA cert>]" },
	{ "pki match", ARG_FILE, 0, "pki match <key> <cert>" },
	{ "key show", ARG_NONE, 0, "key show" },
	{ "key list", ARG_NONE, 0, "key list" },
	{ "key trust", ARG_FILE, F_ADMIN,
	  "key trust <key show output of the node> [--node <node id>]",
	  "--node" },
	{ "database cluster status", ARG_NONE, 0, "database cluster status" },
	{ "database cluster initialize", ARG_NONE, F_ADMIN,
	  "database cluster initialize [--yes]", "--yes" },
	{ "database cluster join", ARG_NONE, F_ADMIN,
	  "database cluster join <master address> [--yes]", "--yes" },
	{ "database cluster remove", ARG_NONE, F_ADMIN,
	  "database cluster remove [--yes]", "--yes" },
	{ "database cluster clear error", ARG_NONE, F_ADMIN,
	  "database cluster clear error" },
	{ "database cluster localnode", ARG_NONE, F_ADMIN,
	  "database cluster localnode <interface>" },
	{ "database cluster certs", ARG_FILE, F_ADMIN,
	  "database cluster certs <server key> <server cert> <client key> "
	  "<client cert> <CA cert>" },
	{ "database cluster certs", ARG_FILE, F_ADMIN,
	  "database cluster certs <client key> <client cert> <CA cert>" },
	{ "user add", ARG_NONE, F_ADMIN | F_LOCAL,
	  "user add <name> <admin|readonly|archiver> [--password-stdin]" },
	{ "user del", ARG_NONE, F_ADMIN | F_LOCAL, "user del <name>" },
	{ "user passwd", ARG_NONE, F_ADMIN | F_LOCAL,
	  "user passwd <name> [--password-stdin]" },
	{ "user role", ARG_NONE, F_ADMIN | F_LOCAL,
	  "user role <name> <admin|readonly|archiver>" },
	{ "user list", ARG_NONE, F_ADMIN | F_LOCAL, "user list" },
	{ "user key add", ARG_NONE, F_ADMIN | F_LOCAL,
	  "user key add <name> <authorized_keys file>" },
	{ "user key del", ARG_NONE, F_ADMIN | F_LOCAL,
	  "user key del <name> <number>" },
	{ "user key list", ARG_NONE, F_ADMIN | F_LOCAL, "user key list <name>" },
	{ "ssh fingerprint", ARG_NONE, F_LOCAL, "ssh fingerprint" },
	{ "help", ARG_NONE, F_LOCAL, "help [<command>]" },
	{ "exit", ARG_NONE, F_LOCAL, "exit" },
	{ "quit", ARG_NONE, F_LOCAL, "quit" },
};
#define NTABLE (sizeof table / sizeof table[0])

/* Split e->words into w; returns the count. */
static int entry_words(const struct centry *e, char buf[128],
    const char *w[MAX_CWORDS])
{
	int n = 0;
	char *p;

	snprintf(buf, 128, "%s", e->words);
	for (p = buf; *p && n < MAX_CWORDS; ) {
		w[n++] = p;
		if ((p = strchr(p, ' ')) == NULL)
			break;
		*p++ = '\0';
	}
	return n;
}

/* 1 when the entry's words start with argv's (argv may be longer: then
 * the entry's words must all match); w points into buf. *nw: the
 * entry's word count. */
static int entry_match(const struct centry *e, int argc, char **argv,
    char buf[128], const char *w[MAX_CWORDS], int *nw)
{
	int n = entry_words(e, buf, w);

	for (int i = 0; i < argc && i < n; i++)
		if (strcmp(argv[i], w[i]))
			return 0;
	*nw = n;
	return 1;
}

int cmdtab_help(FILE *f, int argc, char **argv)
{
	const char *w[MAX_CWORDS];
	char buf[128];
	int nw, found = 0;

	if (argc == 0)
		fprintf(f, "Commands:\n");
	for (size_t i = 0; i < NTABLE; i++) {
		if (argc && (!entry_match(&table[i], argc, argv, buf, w, &nw) ||
		    nw < argc))
			continue;
		if (argc && !found)
			fprintf(f, "Usage:\n");
		found = 1;
		fprintf(f, "  %s%s%s\n", table[i].usage,
		    (table[i].flags & F_ADMIN) ? "  (admin)" : "",
		    (table[i].flags & F_LOCAL) && !strncmp(table[i].words, "user ",
		    5) ? "  (local console)" : "");
	}
	if (argc == 0)
		fprintf(f, "Type help COMMAND for one command; TAB completes "
		    "commands, archive and file names; see nodebak(1).\n");
	if (!found && argc) {
		fprintf(stderr, "help: no command starts with '%s' (type help for "
		    "the list)\n", esc(argv[0]));
		return 2;
	}
	return 0;
}

static void add_names(const char *dir, const char *suffix,
    const char *partial, cmdtab_add_fn *add, void *ctx)
{
	struct dirent *d;
	DIR *dp;
	size_t sl = suffix ? strlen(suffix) : 0;

	if (dir == NULL || (dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		size_t l = strlen(d->d_name);
		if (d->d_name[0] == '.' || strncmp(d->d_name, partial,
		    strlen(partial)))
			continue;
		if (sl && (l <= sl || strcmp(d->d_name + l - sl, suffix)))
			continue;
		if (!sl && d->d_type == DT_DIR)
			continue;
		add(ctx, d->d_name);
	}
	closedir(dp);
}

static void add_options(const char *opts, const char *partial,
    cmdtab_add_fn *add, void *ctx)
{
	char buf[128], *p, *next;

	if (opts == NULL)
		return;
	snprintf(buf, sizeof buf, "%s", opts);
	for (p = buf; p; p = next) {
		if ((next = strchr(p, ' ')) != NULL)
			*next++ = '\0';
		if (!strncmp(p, partial, strlen(partial)))
			add(ctx, p);
	}
}

void cmdtab_complete(const char *files_dir, int argc, char **argv,
    const char *partial, cmdtab_add_fn *add, void *ctx)
{
	const char *w[MAX_CWORDS];
	char buf[128], backups[4096];
	int nw;

	/* help's arguments are the words of a command. */
	if (argc >= 1 && !strcmp(argv[0], "help")) {
		argc--;
		argv++;
	}
	for (size_t i = 0; i < NTABLE; i++) {
		const struct centry *e = &table[i];
		if (!entry_match(e, argc, argv, buf, w, &nw))
			continue;
		if (argc < nw) {
			if (!strncmp(w[argc], partial, strlen(partial)))
				add(ctx, w[argc]);
		} else if (partial[0] == '-') {
			add_options(e->opts, partial, add, ctx);
		} else if (e->arg == ARG_ARCHIVE && argc == nw && files_dir) {
			snprintf(backups, sizeof backups, "%s/backups", files_dir);
			add_names(backups, ".bak", partial, add, ctx);
		} else if (e->arg == ARG_FILE && files_dir) {
			add_names(files_dir, NULL, partial, add, ctx);
		}
	}
}
