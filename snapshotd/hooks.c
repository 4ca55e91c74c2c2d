/* hooks.c: the service hooks (see hooks.h). */
#include <string.h>

#include "buf.h"
#include "err.h"
#include "hooks.h"
#include "log.h"
#include "run.h"
#include "banned.h"

#define HOOK_OUTPUT_MAX 4096

static void log_lines(const char *what, struct buf *b)
{
	char *save = NULL;

	for (char *l = strtok_r(b->p, "\n", &save); l; l = strtok_r(NULL, "\n",
	    &save))
		log_info("%s hook: %s", what, l);
}

int hook_run(const char *what, const char *cmd)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	struct buf out = BUF_INIT(1 << 20), errs = BUF_INIT(1 << 20);
	struct child c;
	int r;

	if (cmd == NULL || *cmd == '\0')
		return 0;
	log_info("running %s hook: %s", what, cmd);
	memset(&c, 0, sizeof c);
	c.argv = argv;
	r = run_capture(&c, &out, &errs, HOOK_OUTPUT_MAX, HOOK_TIMEOUT_MS);
	if (out.len)
		log_lines(what, &out);
	if (errs.len)
		log_lines(what, &errs);
	if (r != 0)
		r = err_prefix(ERR_IO, "%s hook failed", what);
	buf_free(&out);
	buf_free(&errs);
	return r;
}
