/* main.c: nodebak-snapshotd options; the work is in snapshotd.c. */
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"
#include "log.h"
#include "node.h"
#include "recovery.h"
#include "snapshotd.h"
#include "banned.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: nodebak-snapshotd [-f] [-v] [-c FILE] [--init]\n"
	    "  -c FILE    configuration file (default $NODEBAK_CONF, then "
	    CONF_DEFAULT_PATH ")\n"
	    "  -f         stay in the foreground and log to standard error\n"
	    "  -v         log debugging detail\n"
	    "  --init     initialise the node (folders, signing key, database) "
	    "and exit\n"
	    "  -h, --help this help\n"
	    "  --version  print the version\n");
}

static const struct option longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "init", no_argument, NULL, 'I' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	const char *file = NULL;
	struct conf *c = NULL;
	struct node *n = NULL;
	int fg = 0, verbose = 0, init = 0, lfd, ch;

	while ((ch = getopt_long(argc, argv, "c:fvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': file = optarg; break;
		case 'f': fg = 1; break;
		case 'v': verbose = 1; break;
		case 'I': init = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V':
			printf("nodebak-snapshotd %s\n", NODEBAK_VERSION);
			return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);	/* a file-size limit is an error, not death */
	umask(022);
	if (conf_load(file, &c) != 0) {
		fprintf(stderr, "nodebak-snapshotd: %s\n", err_msg());
		return 1;
	}
	log_open("nodebak-snapshotd", 1, verbose);
	/* Recovery runs before the database server starts and before
	 * anything opens the database (docs/crash-safety.md). */
	if (node_open(c, &n) != 0) {
		fprintf(stderr, "nodebak-snapshotd: %s\n", err_msg());
		return 1;
	}
	if (recovery_run(n) != 0 || node_start(n) != 0) {
		fprintf(stderr, "nodebak-snapshotd: %s\n", err_msg());
		node_free(n);
		return 1;
	}
	if (init) {
		printf("node %s initialised: signing key %s, node id %s\n",
		    n->conf->node_name, sigkey_id(n->key), n->id);
		node_free(n);
		return 0;
	}
	if ((lfd = snapshotd_listen(n)) < 0) {
		fprintf(stderr, "nodebak-snapshotd: %s\n", err_msg());
		node_free(n);
		return 1;
	}
	if (!fg) {
		if (daemon(0, 0) != 0) {
			perror("nodebak-snapshotd: daemon");
			return 1;
		}
		log_open("nodebak-snapshotd", 0, verbose);
	}
	if (snapshotd_run(n, lfd) != 0) {
		log_err("%s", err_msg());
		return 1;
	}
	return 0;
}
