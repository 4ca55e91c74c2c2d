/* ui.h: how an operation talks back to whoever started it: text for a
 * person's standard output and error, and a yes/no question. The session
 * layer fills one in for a console; the layers beneath receive it as a
 * callback and never learn who listens. A job has no person: it passes
 * NULL, and its outcome goes to the log and to the state it changes. */
#ifndef NODEBAK_UI_H
#define NODEBAK_UI_H
#include <stdarg.h>
#include <stdint.h>

enum ui_stream { UI_OUT, UI_ERR };

struct ui {
	/* Show the formatted text on stream st. 0, or a negative ERR_* code
	 * when it could not be delivered (the console went away). */
	int (*vprint)(void *ctx, enum ui_stream st, const char *fmt,
	    va_list ap);
	/* Show text and ask: 1 only for an unmistakable yes, else 0. */
	int (*confirm)(void *ctx, const char *text);
	void *ctx;
	/* How far long work has got: done of total bytes (total 0: not
	 * known), called as often as the work likes; the listener shows it
	 * at most a few times a second, or not at all. May be NULL. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
};

/* Text for standard output / error through u; with u NULL it goes
 * nowhere and 0 is returned. The result is what vprint returned. */
int ui_out(const struct ui *u, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int ui_err(const struct ui *u, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Ask through u: 1 for yes; 0 for no, and always without a person (u
 * NULL), so nothing that needs a confirmation runs unattended. */
int ui_confirm(const struct ui *u, const char *text);
/* Report progress through u (nothing when u or its progress is NULL). */
void ui_progress(const struct ui *u, uint64_t done, uint64_t total);
/* A bak_progress (bak.h) fn whose ctx is a const struct ui *. */
void ui_bak_progress(void *ctx, uint64_t done, uint64_t total);

#endif
