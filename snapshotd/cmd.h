/* cmd.h: what every console command gets and gives back: the command
 * layer's conventions (commands.c dispatches; cmd_*.c hold the commands,
 * one file per topic). A command knows the node, the caller's role, the
 * file sent with it and a ui to talk back through; never the session. */
#ifndef NODEBAK_CMD_H
#define NODEBAK_CMD_H

struct buf;
struct node;
struct ui;

/* What a command returns: the exit status the console exits with. */
#define EXIT_OK 0
#define EXIT_FAIL 1	/* the command failed; it said why on ui */
#define EXIT_USAGE 2	/* bad arguments; a Usage: block was printed */
#define EXIT_BUSY 3	/* refused, nothing done: the node is busy (it said
			 * with what); the same command may be tried again */
/* Returned by a command that wants its group's Usage: block printed (by
 * the dispatcher, which owns the table) and EXIT_USAGE returned. */
#define CMD_GROUP_USAGE (-1)

/* What a peer may do: set by the session layer from its credentials. */
enum ctl_role { CTL_NONE = 0, CTL_READONLY = 1, CTL_ADMIN = 2 };

struct cmdctx {
	struct node *node;
	enum ctl_role role;
	const struct ui *ui;		/* the console: output, confirmation */
	const struct buf *data;		/* a file sent with the command, or NULL */
	/* Set by a command that handed the node lock, which the dispatcher
	 * took for it, to a background job: the job releases it. */
	int lock_passed;
};

/* Print "what: <err_msg()>" on standard error; returns EXIT_FAIL. */
int cmd_fail(struct cmdctx *cx, const char *what);

/* The commands, one file per topic (the table is in commands.c). Each
 * returns an exit status as above. */

/* cmd_backup.c: backup snapshot|list|verify|delete|prune|pin|unpin|
 * rollback; rollback
 * takes <name>.bak [--yes] [--no-safety-snapshot]
 * [--force node|version|schema]... */
int cmd_backup_snapshot(struct cmdctx *cx, int argc, char **argv);
int cmd_backup_list(struct cmdctx *cx, int argc, char **argv);
int cmd_backup_list_json(struct cmdctx *cx, int argc, char **argv);
int cmd_backup_verify(struct cmdctx *cx, int argc, char **argv);
int cmd_backup_delete(struct cmdctx *cx, int argc, char **argv);
int cmd_backup_prune(struct cmdctx *cx, int argc, char **argv);
int cmd_backup_prune_dry_run(struct cmdctx *cx, int argc, char **argv);
int cmd_backup_pin(struct cmdctx *cx, int argc, char **argv);
int cmd_backup_unpin(struct cmdctx *cx, int argc, char **argv);
int cmd_backup_rollback(struct cmdctx *cx, int argc, char **argv);
/* backup schedule status [--json] (scheduled.c's report) */
int cmd_backup_schedule_status(struct cmdctx *cx, int argc, char **argv);

/* cmd_test.c: test clock set|advance N, in the test daemon only (the
 * dispatcher leaves F_TEST commands out of the shipped one). */
int cmd_test_clock(struct cmdctx *cx, int argc, char **argv);

/* cmd_cluster.c: database cluster ... */
int cmd_cluster_status(struct cmdctx *cx, int argc, char **argv);
int cmd_cluster_certs(struct cmdctx *cx, int argc, char **argv);
int cmd_cluster_localnode(struct cmdctx *cx, int argc, char **argv);
int cmd_cluster_initialize(struct cmdctx *cx, int argc, char **argv);
int cmd_cluster_join(struct cmdctx *cx, int argc, char **argv);
int cmd_cluster_remove(struct cmdctx *cx, int argc, char **argv);
int cmd_cluster_clear_error(struct cmdctx *cx, int argc, char **argv);

/* cmd_key.c: key show|list|trust; trust takes FILE [--node ID] and
 * returns CMD_GROUP_USAGE on other arguments. */
int cmd_key_show(struct cmdctx *cx, int argc, char **argv);
int cmd_key_list(struct cmdctx *cx, int argc, char **argv);
int cmd_key_trust(struct cmdctx *cx, int argc, char **argv);

/* cmd_pki.c: pki list|inspect|csr|verify|match */
int cmd_pki_list(struct cmdctx *cx, int argc, char **argv);
int cmd_pki_inspect(struct cmdctx *cx, int argc, char **argv);
int cmd_pki_csr(struct cmdctx *cx, int argc, char **argv);
int cmd_pki_verify(struct cmdctx *cx, int argc, char **argv);
int cmd_pki_match(struct cmdctx *cx, int argc, char **argv);

#endif
