/* cmd_test.c: console commands that exist only in the test daemon
 * (tests/bin/nodebak-snapshotd-fault): test clock set|advance, which
 * drives clock.h's clock so that scheduled runs happen in seconds. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cmd.h"
#include "err.h"
#include "esc.h"
#include "ui.h"
#include "banned.h"

int cmd_test_clock(struct cmdctx *cx, int argc, char **argv)
{
	char *end;
	long long v;
	int adv = !strcmp(argv[0], "advance");

	(void)argc;
	if (!adv && strcmp(argv[0], "set"))
		return CMD_GROUP_USAGE;
	v = strtoll(argv[1], &end, 10);
	if (*argv[1] == '\0' || *end) {
		ui_err(cx->ui, "test clock: %s: not a number of seconds\n",
		    esc(argv[1]));
		return EXIT_FAIL;
	}
	if (clock_test_set(v, adv) != 0)
		return cmd_fail(cx, "test clock");
	ui_out(cx->ui, "%lld\n", (long long)clock_now());
	return EXIT_OK;
}
