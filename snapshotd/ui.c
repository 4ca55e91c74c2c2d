/* ui.c: the talk-back interface's helpers (see ui.h). */
#include <stdarg.h>
#include <stddef.h>

#include "ui.h"
#include "banned.h"

static int vsay(const struct ui *u, enum ui_stream st, const char *fmt,
    va_list ap)
{
	if (u == NULL || u->vprint == NULL)
		return 0;
	return u->vprint(u->ctx, st, fmt, ap);
}

int ui_out(const struct ui *u, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsay(u, UI_OUT, fmt, ap);
	va_end(ap);
	return r;
}

int ui_err(const struct ui *u, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsay(u, UI_ERR, fmt, ap);
	va_end(ap);
	return r;
}

int ui_confirm(const struct ui *u, const char *text)
{
	if (u == NULL || u->confirm == NULL)
		return 0;
	return u->confirm(u->ctx, text) == 1;
}

void ui_progress(const struct ui *u, uint64_t done, uint64_t total)
{
	if (u != NULL && u->progress != NULL)
		u->progress(u->ctx, done, total);
}

void ui_bak_progress(void *ctx, uint64_t done, uint64_t total)
{
	ui_progress(ctx, done, total);
}
