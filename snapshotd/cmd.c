/* cmd.c: helpers every command file shares (see cmd.h). */
#include "cmd.h"
#include "err.h"
#include "ui.h"
#include "banned.h"

int cmd_fail(struct cmdctx *cx, const char *what)
{
	ui_err(cx->ui, "%s: %s\n", what, err_msg());
	return EXIT_FAIL;
}
