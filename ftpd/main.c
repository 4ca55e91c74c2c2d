/* main.c: nodebak-ftpd options; the work is in ftpd.c. */
#include <getopt.h>
#include <stdio.h>
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
	    "  -h, --help this help\n"
	    "  --version  print the version\n");
}

static const struct option longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	const char *file = NULL;
	int fg = 0, verbose = 0, ch;

	while ((ch = getopt_long(argc, argv, "c:fvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': file = optarg; break;
		case 'f': fg = 1; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V':
			printf("nodebak-ftpd %s\n", NODEBAK_VERSION);
			return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return ftpd_run(conf_path(file), fg, verbose);
}
