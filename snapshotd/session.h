/* session.h: one control connection: its role, and how a command talks
 * back to the console (output, errors, confirmation prompts). */
#ifndef NODEBAK_SESSION_H
#define NODEBAK_SESSION_H
#include <sys/types.h>

#include "buf.h"
#include "ctl.h"

struct node;

enum ctl_role { CTL_NONE = 0, CTL_READONLY = 1, CTL_ADMIN = 2 };

struct session {
	struct ctl ctl;
	struct node *node;
	enum ctl_role role;
	uid_t uid;
	pid_t pid;
	struct buf data;	/* a file the console sent with the command */
	int has_data;
};

/* Send text to the console's standard output / error. */
int sess_out(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int sess_err(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Show text and ask; 1 only when the answer is exactly "Y". */
int sess_confirm(struct session *s, const char *text);

#endif
