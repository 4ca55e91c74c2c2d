/* main.c: nodebak, the operator's console; the work is in console.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "cmdtab.h"
#include "console.h"
#include "err.h"
#include "esc.h"
#include "renew.h"
#include "shell.h"
#include "verify.h"
#include "banned.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: nodebak [-c FILE] [--role admin|readonly] [COMMAND...]\n"
	    "  -c FILE    configuration file (default $NODEBAK_CONF, then "
	    CONF_DEFAULT_PATH ")\n"
	    "  --role R   run with role R (can only lower what the socket grants)\n"
	    "  -h         this help\n"
	    "  --version  print the version\n"
	    "Without a command, an interactive console (type help; TAB "
	    "completes).\n"
	    "nodebak verify FILE.bak [--key PUBKEY] [--identity FILE] checks an "
	    "archive here, with "
	    "no daemon.\n"
	    "nodebak cluster renew ... renews the database cluster's certificates "
	    "on every node over SSH\n  (nodebak cluster renew --help; "
	    "docs/cluster.md).\n"
	    "Examples: nodebak backup snapshot nightly\n"
	    "          nodebak backup list\n"
	    "          nodebak database cluster status\n");
}

int main(int argc, char **argv)
{
	const char *file = NULL, *role = NULL;
	struct conf *c = NULL;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--version")) {
			printf("nodebak %s\n", NODEBAK_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			file = argv[++i];
		} else if (!strcmp(argv[i], "--role") && i + 1 < argc) {
			role = argv[++i];
			if (strcmp(role, "admin") && strcmp(role, "readonly")) {
				fprintf(stderr, "nodebak: --role takes admin or readonly\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else {
			fprintf(stderr, "nodebak: %s: unknown option, or its argument "
			    "is missing\n", esc(argv[i]));
			usage(stderr);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	/* The one local command: no daemon, and a configuration only when no
	 * key is given. */
	if (i < argc && !strcmp(argv[i], "verify"))
		return verify_main(file, argc - i - 1, argv + i + 1);
	/* The renewal runs here and drives the nodes over SSH. */
	if (i + 1 < argc && !strcmp(argv[i], "cluster") &&
	    !strcmp(argv[i + 1], "renew"))
		return renew_main(argc - i - 2, argv + i + 2);
	/* help needs neither the daemon nor a configuration. */
	if (i < argc && !strcmp(argv[i], "help"))
		return cmdtab_help(stdout, argc - i - 1, argv + i + 1);
	if (conf_load(file, &c) != 0) {
		fprintf(stderr, "nodebak: %s\n", err_msg());
		return 1;
	}
	if (i < argc)
		i = console_main(c, role, argc - i, argv + i);
	else
		i = shell_main(c, role);
	conf_free(c);
	return i;
}
