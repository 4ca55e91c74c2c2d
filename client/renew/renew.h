/* renew.h: `nodebak cluster renew`, the database cluster's certificate
 * renewal across every node in one command (docs/cluster.md, "Renewing
 * the certificates in one command"; issue 18). The orchestrator runs on
 * the operator's machine and drives each node's console over SSH. */
#ifndef NODEBAK_RENEW_H
#define NODEBAK_RENEW_H

#define RENEW_MIN_DAYS 30
#define RENEW_TIMEOUT 300

struct renew_opts {
	char **specs;			/* USER@ADDRESS[:PORT] */
	int nspecs;
	const char *identity;		/* -i */
	const char *known_hosts;
	const char *master;		/* the address that becomes the master */
	const char *certs;		/* the five new files */
	const char *archive_dir;	/* pulled snapshots, journal, log */
	int min_days;
	long timeout;			/* seconds: each cluster command, In Sync */
	int yes, dry_run, json, resume, abort;
};

/* The command line after "cluster renew": options into a renewal. The
 * exit status: 0 every node renewed (or the plan, for --dry-run), 1 a
 * problem or a node not renewed (the last lines say which and what to
 * do), 2 usage. */
int renew_main(int argc, char **argv);

/* Run the renewal o describes; the exit status as renew_main(). */
int renew_run(const struct renew_opts *o);

#endif
