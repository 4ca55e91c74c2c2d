/* main.c: nodebak-pull, the archive host's puller (nodebak-pull(1),
 * docs/pull.md): options and the command table; the work is in sync.c,
 * verify.c, daemon.c and trust.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "esc.h"
#include "pull.h"
#include "pullconf.h"
#include "banned.h"

static const struct {
	const char *name;
	int (*fn)(const struct pull_conf *c, int argc, char **argv);
	int reload;		/* gets the path, loads by itself */
} commands[] = {
	{ "sync", pull_sync, 0 },
	{ "status", pull_status, 0 },
	{ "verify", pull_verify, 0 },
	{ "fetch", pull_fetch, 0 },
	{ "trust", pull_trust, 0 },
	{ "daemon", NULL, 1 },
	{ "check", pull_check, 0 },
};

int main(int argc, char **argv)
{
	const char *conf = NULL;
	struct pull_conf *c = NULL;
	int i = 1, r;

	signal(SIGPIPE, SIG_IGN);
	if (argc > 2 && !strcmp(argv[1], "-c")) {
		conf = argv[2];
		i = 3;
	}
	if (i < argc && (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))) {
		fputs(pull_usage_text, stdout);
		return 0;
	}
	if (i < argc && !strcmp(argv[i], "--version")) {
		puts("nodebak-pull " NODEBAK_VERSION);
		return 0;
	}
	if (i >= argc)
		return pull_usage("no command", NULL);
	for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
		if (strcmp(argv[i], commands[k].name))
			continue;
		if (commands[k].reload)
			return pull_daemon(conf, argc - i - 1, argv + i + 1);
		if (pullconf_load(conf, &c) != 0) {
			fprintf(stderr, "nodebak-pull: %s\n", err_msg());
			return PULL_EXIT_CONFIG;
		}
		r = commands[k].fn(c, argc - i - 1, argv + i + 1);
		pullconf_free(c);
		return r;
	}
	return pull_usage("unknown command %s", argv[i]);
}
