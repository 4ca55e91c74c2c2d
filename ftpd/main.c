/* main.c: nodebak-ftpd options; the work is in ftpd.c. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ftpd.h"
#include "banned.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: nodebak-ftpd [-f] [-v] [-c FILE]\n"
	    "  -c FILE    configuration file (default $NODEBAK_CONF, then "
	    CONF_DEFAULT_PATH ")\n"
	    "  -f         stay in the foreground and log to standard error\n"
	    "  -v         log debugging detail\n"
	    "  -h         this help\n"
	    "  --version  print the version\n");
}

int main(int argc, char **argv)
{
	const char *file = NULL;
	int fg = 0, verbose = 0, ch;

	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("nodebak-ftpd %s\n", NODEBAK_VERSION);
		return 0;
	}
	while ((ch = getopt(argc, argv, "c:fvh")) != -1) {
		switch (ch) {
		case 'c': file = optarg; break;
		case 'f': fg = 1; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return ftpd_run(conf_path(file), fg, verbose);
}
