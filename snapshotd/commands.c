/* commands.c: the console's command table and its dispatcher
 * (docs/console.md). Each entry says which role may run it and whether it
 * changes the node, so that the checks live in one place (as
 * sftp-server.c's handlers[]); the commands are in cmd_*.c, one file per
 * topic.
 *
 * Return conventions, one per layer of snapshotd (docs/architecture.md):
 * - commands (cmd_*.c, this table): an exit status for the console,
 *   EXIT_OK, EXIT_FAIL or EXIT_USAGE (cmd.h), after saying why on the
 *   ui; CMD_GROUP_USAGE asks the dispatcher for the group's Usage: block.
 * - jobs, engines and the node (job.c, snapshot.c, rollback.c, ...,
 *   node.c): 0, or a negative ERR_* code with err_msg() saying in one
 *   line what failed and why (STYLE.md "Errors and memory"). They print
 *   nothing themselves; progress and questions go through a struct ui
 *   passed down (ui.h), which may be NULL.
 * - 1/0 predicates (node_rollback_pending(), ui_confirm()) say so in
 *   their names or prototypes' comments. */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "cmd.h"
#include "commands.h"
#include "err.h"
#include "esc.h"
#include "node.h"
#include "rollback.h"
#include "ui.h"
#include "banned.h"

#define F_ADMIN   1u	/* refused to readonly sessions */
#define F_MUTATES 2u	/* takes the node's operation lock */
#define F_TEST    4u	/* only in the test daemon (clock_testable()) */

struct command {
	const char *w1, *w2, *w3;	/* the command words */
	int min, max;			/* arguments after the words */
	unsigned flags;
	int (*fn)(struct cmdctx *cx, int argc, char **argv);
	const char *usage;		/* its line in the group's Usage: */
};

static int cmd_help(struct cmdctx *cx, int argc, char **argv);

static const struct command commands[] = {
	{ "backup", "snapshot", NULL, 1, 1, F_ADMIN | F_MUTATES, cmd_backup_snapshot,
	  "backup snapshot <name>" },
	{ "backup", "rollback", NULL, 1, 11, F_ADMIN | F_MUTATES, cmd_backup_rollback,
	  "backup rollback <name>.bak [--yes] [--no-safety-snapshot] "
	  "[--force node|version|schema]... [--identity /FILE]" },
	{ "backup", "list", "--json", 0, 0, 0, cmd_backup_list_json,
	  "backup list --json" },
	{ "backup", "list", NULL, 0, 0, 0, cmd_backup_list, "backup list" },
	{ "backup", "verify", NULL, 1, 1, 0, cmd_backup_verify, "backup verify <name>.bak" },
	{ "backup", "delete", NULL, 1, 1, F_ADMIN | F_MUTATES, cmd_backup_delete,
	  "backup delete <name>.bak" },
	/* A dry run changes nothing: readonly users may run it, without the
	 * node lock. The first match wins, so it comes before the other. */
	{ "backup", "prune", "--dry-run", 0, 0, 0, cmd_backup_prune_dry_run,
	  "backup prune --dry-run" },
	{ "backup", "prune", NULL, 0, 0, F_ADMIN | F_MUTATES, cmd_backup_prune,
	  "backup prune" },
	{ "backup", "pin", NULL, 1, 1, F_ADMIN | F_MUTATES, cmd_backup_pin,
	  "backup pin <name>.bak" },
	{ "backup", "unpin", NULL, 1, 1, F_ADMIN | F_MUTATES, cmd_backup_unpin,
	  "backup unpin <name>.bak" },
	{ "backup", "schedule", "status", 0, 1, 0, cmd_backup_schedule_status,
	  "backup schedule status [--json]" },
	{ "pki", "list", NULL, 0, 0, 0, cmd_pki_list, "pki list" },
	{ "pki", "inspect", NULL, 1, 1, 0, cmd_pki_inspect, "pki inspect <file>" },
	{ "pki", "csr", NULL, 2, 8, F_ADMIN | F_MUTATES, cmd_pki_csr,
	  "pki csr <name> CN:<common name> [subjectAltName:<a>,<b>] "
	  "[O:<org>] [OU:<unit>] [L:<city>] [ST:<state>] [C:<country>]" },
	{ "pki", "verify", NULL, 1, 2, 0, cmd_pki_verify,
	  "pki verify <cert> [<CA cert>]" },
	{ "pki", "match", NULL, 2, 2, 0, cmd_pki_match, "pki match <key> <cert>" },
	{ "key", "show", NULL, 0, 0, 0, cmd_key_show, "key show" },
	{ "key", "list", NULL, 0, 0, 0, cmd_key_list, "key list" },
	{ "key", "trust", NULL, 1, 3, F_ADMIN | F_MUTATES, cmd_key_trust,
	  "key trust <key show output of the node> [--node <node id>]" },
	{ "database", "cluster", "status", 0, 0, 0, cmd_cluster_status,
	  "database cluster status" },
	{ "database", "cluster", "initialize", 0, 1, F_ADMIN | F_MUTATES,
	  cmd_cluster_initialize, "database cluster initialize [--yes]" },
	{ "database", "cluster", "join", 1, 2, F_ADMIN | F_MUTATES,
	  cmd_cluster_join, "database cluster join <master address> [--yes]" },
	{ "database", "cluster", "remove", 0, 1, F_ADMIN | F_MUTATES,
	  cmd_cluster_remove, "database cluster remove [--yes]" },
	{ "database", "cluster", "clear", 1, 1, F_ADMIN | F_MUTATES,
	  cmd_cluster_clear_error, "database cluster clear error" },
	{ "database", "cluster", "localnode", 1, 1, F_ADMIN | F_MUTATES,
	  cmd_cluster_localnode, "database cluster localnode <interface>" },
	{ "database", "cluster", "certs", 3, 5, F_ADMIN | F_MUTATES,
	  cmd_cluster_certs, "database cluster certs <server key> <server cert> "
	  "<client key> <client cert> <CA cert>" },
	/* The client-only form: the entry above runs it (dispatch takes the
	 * first match); this one gives it its own Usage: line. */
	{ "database", "cluster", "certs", 3, 3, F_ADMIN | F_MUTATES,
	  cmd_cluster_certs, "database cluster certs <client key> <client cert> "
	  "<CA cert>" },
	{ "test", "clock", NULL, 2, 2, F_ADMIN | F_TEST, cmd_test_clock,
	  "test clock set <seconds since the epoch> | test clock advance "
	  "<seconds>" },
	{ "help", NULL, NULL, 0, 0, 0, cmd_help, "help" },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(struct cmdctx *cx, const char *group)
{
	ui_err(cx->ui, "Usage:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].w1, group))
			ui_err(cx->ui, "  %s\n", commands[i].usage);
	if (!strcmp(group, "user"))
		ui_err(cx->ui, "  (user commands run in the local console)\n");
}

static int cmd_help(struct cmdctx *cx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ui_out(cx->ui, "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!(commands[i].flags & F_TEST) || clock_testable())
			ui_out(cx->ui, "  %s%s\n", commands[i].usage,
		    (commands[i].flags & F_ADMIN) ? "  (admin)" : "");
	ui_out(cx->ui, "  user add|del|list|key ...  (local console only)\n"
	    "  exit\n");
	return EXIT_OK;
}

static int words_match(const struct command *c, int argc, char **argv,
    int *nwords)
{
	const char *w[3] = { c->w1, c->w2, c->w3 };
	int n = 0;

	for (; n < 3 && w[n]; n++)
		if (n >= argc || strcmp(argv[n], w[n]))
			return 0;
	*nwords = n;
	return 1;
}

/* Take the node lock for c and complete a pending rollback first:
 * EXIT_OK with the lock held, EXIT_BUSY when another operation holds
 * it, or EXIT_FAIL having said why. */
static int begin(struct cmdctx *cx, const struct command *c, int argc,
    char **argv, int nwords)
{
	char what[256];
	int r;

	snprintf(what, sizeof what, "%s %s %s", c->w1, c->w2 ? c->w2 : "",
	    nwords < argc ? esc(argv[nwords]) : "");
	if ((r = rollback_begin(cx->node, what, cx->ui)) == 0)
		return EXIT_OK;
	if (r == ERR_BUSY) {
		(void)cmd_fail(cx, c->usage);
		return EXIT_BUSY;
	}
	ui_err(cx->ui, "%s%s%s%s%s: refused: %s\n", c->w1, c->w2 ? " " : "",
	    c->w2 ? c->w2 : "", c->w3 ? " " : "", c->w3 ? c->w3 : "", err_msg());
	return EXIT_FAIL;
}

int commands_run(struct cmdctx *cx, int argc, char **argv)
{
	int nwords = 0, r, known_group = 0;

	if (argc == 0)
		return EXIT_OK;
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = &commands[i];
		int nargs;
		if ((c->flags & F_TEST) && !clock_testable())
			continue;	/* absent from the shipped daemon */
		if (!strcmp(c->w1, argv[0]))
			known_group = 1;
		if (!words_match(c, argc, argv, &nwords))
			continue;
		nargs = argc - nwords;
		if (nargs < c->min || nargs > c->max) {
			usage(cx, c->w1);
			return EXIT_USAGE;
		}
		if ((c->flags & F_ADMIN) && cx->role < CTL_ADMIN) {
			ui_err(cx->ui, "%s: not allowed for a readonly user\n",
			    c->usage);
			return EXIT_FAIL;
		}
		if ((c->flags & F_MUTATES) &&
		    (r = begin(cx, c, argc, argv, nwords)) != EXIT_OK)
			return r;
		cx->lock_passed = 0;
		r = c->fn(cx, nargs, argv + nwords);
		if ((c->flags & F_MUTATES) && !cx->lock_passed)
			node_end(cx->node);
		if (r == CMD_GROUP_USAGE) {
			usage(cx, c->w1);
			r = EXIT_USAGE;
		}
		return r;
	}
	if (known_group) {
		usage(cx, argv[0]);
		return EXIT_USAGE;
	}
	ui_err(cx->ui, "%s: unknown command (type help for the list)\n",
	    esc(argv[0]));
	return EXIT_USAGE;
}
