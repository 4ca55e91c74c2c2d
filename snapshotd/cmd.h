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

#endif
