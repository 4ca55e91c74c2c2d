/* rnode.h: one node of a renewal as the orchestrator sees it: its
 * console over SSH (an exec channel per command, sshc.h), its files root
 * over SFTP, and `database cluster status` read into fields. */
#ifndef NODEBAK_RNODE_H
#define NODEBAK_RNODE_H
#include <stddef.h>
#include <stdint.h>

struct buf;
struct sshc;

#define RNODE_ADDR_MAX 64

struct rnode {
	char user[64];
	char addr[RNODE_ADDR_MAX];	/* as the cluster knows the node */
	int port;
	int master;			/* this node becomes the master */
	struct sshc *c;			/* SFTP; NULL until rnode_connect() */
	const struct rnode_conn *conn;	/* rnode_connect()'s, for each command */
	/* Every console command and its output, for the log file; called
	 * from the node's thread. NULL: none. */
	void (*log)(void *arg, const struct rnode *n, const char *cmd,
	    const char *out, int status);
	void *log_arg;
};

struct rnode_conn {
	/* nodebak-ftpd serves one channel a connection: SFTP keeps one, and
	 * each console command connects afresh. */
	const char *identity;
	const char *known_hosts;
	long timeout;			/* seconds, connecting and each reply */
};

/* Parse "USER@ADDRESS[:PORT]" (port 22 by default) into n (zeroed
 * first). ERR_INVAL with one line naming spec. */
int rnode_parse(const char *spec, struct rnode *n);

/* Connect (again, when connected already: a lost connection is retried
 * this way), the host key checked against known_hosts; o is kept (it
 * must outlive n's connections). */
int rnode_connect(struct rnode *n, const struct rnode_conn *o);
void rnode_close(struct rnode *n);

/* Run a console command; out gets its output (replaced), *status its
 * exit status. Fails only when the connection does. */
int rnode_run(struct rnode *n, const char *cmd, struct buf *out,
    int *status);
/* The console's exit status for a command refused because another
 * operation holds the node (docs/control-protocol.md). */
#define RNODE_EXIT_BUSY 3
/* As rnode_run(); a nonzero exit status is an error (ERR_IO) whose
 * message is the command and the output's first line. A command refused
 * as busy is tried again every half second for up to the connection's
 * timeout. */
int rnode_must(struct rnode *n, const char *cmd, struct buf *out);

/* `database cluster status`'s "Status" and "Last command" fields. */
struct rnode_status {
	char status[32];		/* Enabled, Disabled, Error, ... */
	char last[256];			/* the last command's words */
	char result[32];		/* Success, Failed, In progress ... */
	char error[256];		/* the "ERROR :" line, or "" */
};
/* Read the status; text (may be NULL) gets the whole output. */
int rnode_status(struct rnode *n, struct rnode_status *st, struct buf *text);

/* Wait until no cluster command is in progress on the node (at most
 * timeout seconds: ERR_CANCELLED naming it); *st is the status then. */
int rnode_settle(struct rnode *n, long timeout, struct rnode_status *st);
/* Start the cluster command cmd ("database cluster remove"; --yes is
 * added) and wait (polling status) until it has finished: 0 on Success;
 * ERR_IO with the node's ERROR line on Failed; ERR_CANCELLED after
 * timeout seconds. For a resumed renewal: a cmd still running is waited
 * for, one that succeeded (its status Enabled) is not run again, and
 * when done is set a node whose status satisfies done() counts as
 * finished without the command. Another cluster command in progress
 * is waited for first. */
int rnode_cluster(struct rnode *n, const char *cmd, long timeout,
    int (*done)(const struct rnode_status *st));

/* Upload a file into the files root, renamed into place (sshc_put). */
int rnode_put(struct rnode *n, const char *name, const void *p, size_t len,
    unsigned mode);
/* 1 when the files root holds path (a small file, read to check). */
int rnode_has(struct rnode *n, const char *path);
/* Free bytes beside the node's backups. */
int rnode_avail(struct rnode *n, uint64_t *bytes);
/* The size of the largest .bak in backups/ (0: none). */
int rnode_largest_bak(struct rnode *n, uint64_t *bytes);

#endif
