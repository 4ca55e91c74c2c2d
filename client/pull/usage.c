/* usage.c: nodebak-pull's usage text and usage errors (pull.h), below
 * main.c and the commands, so that both can call it. */
#include <stdio.h>

#include "esc.h"
#include "pull.h"
#include "banned.h"

const char pull_usage_text[] =
	"usage: nodebak-pull [-c FILE] COMMAND [ARGS]\n"
	"  sync [--node NAME]... [--jobs N] [--dry-run] [--json]\n"
	"  status [--json]\n"
	"  verify [--node NAME] [FILE...]\n"
	"  verify --store [--node NAME]\n"
	"  fetch NODE NAME [--to DIR]\n"
	"  trust NODE\n"
	"  daemon\n"
	"  check\n"
	"  --help, --version\n"
	"exit status: 0 all pulled and verified, 1 some nodes failed, 2 all "
	"failed, 3 configuration or usage error\n";

int pull_usage(const char *fmt, const char *arg)
{
	fputs("nodebak-pull: ", stderr);
	fprintf(stderr, fmt, arg ? esc(arg) : "");
	fputc('\n', stderr);
	fputs(pull_usage_text, stderr);
	return PULL_EXIT_CONFIG;
}
