/* gate.h: a session's questions to the listener about its logins. Sessions
 * are forked processes and a count of failed logins must outlive each of
 * them and be shared by FTP and SSH, so the count lives in the listener
 * (lockout.c) and a session asks over the socketpair made for it at fork,
 * as OpenSSH's unprivileged child asks its monitor: the session asks, the
 * listener decides. The listener also learns from it when the session has
 * logged in (the end of login_timeout). docs/ftpd.md, "Failed logins and
 * lockout". */
#ifndef NODEBAK_GATE_H
#define NODEBAK_GATE_H
#include <stddef.h>

#include "lockout.h"

/* The listener's answer. */
struct gate_answer {
	int refused;			/* 1: locked out, say why and stop */
	enum lockout_what what;		/* which lock (when refused) */
	long retry;			/* seconds until it ends */
	long delay_ms;			/* wait this long, then check the login */
	long addr_failures, user_failures;	/* the counts, after this one */
};

/* ---- session side (fd: the session's end; -1: no listener, as in a test
 * that runs a session alone: always go ahead, no delay) ---- */

/* Before a login is checked (user: the name sent), or at connect (user
 * NULL: is the address locked?). 0 with *a filled, or ERR_IO when the
 * listener does not answer (the caller refuses the login: fail closed). */
int gate_ask(int fd, const char *user, struct gate_answer *a);

/* After the check: ok 1 or 0. Counts a failure; a success ends the
 * listener's login_timeout for this session. *a: the counts after. 0 or
 * ERR_IO. */
int gate_report(int fd, const char *user, int ok, struct gate_answer *a);

/* Sleep a->delay_ms (the same whatever the outcome of the check that
 * follows, so that timing tells a client nothing). */
void gate_delay(const struct gate_answer *a);

/* One line for the client: "too many failed logins from ADDR; try again
 * in N s" (or "for user NAME", escaped). */
void gate_why(const struct gate_answer *a, const char *addr, const char *user,
    char *out, size_t outsz);

/* ---- listener side ---- */

struct gate_policy {
	struct lockout *table;
	struct lockout_limits limits;
	long delay_ms;		/* per failure counted from the address, at most 5 */
	long max_delay_ms;	/* and never more than this (half login_timeout,
				 * so a right password still gets in in time) */
};

/* Read one request from a session's fd (addr: its peer) and answer it.
 * *logged_in is set to 1 and user (usersz bytes) to the user's name when
 * the session reports a login (the listener ends that user's sessions
 * when the user or a key is deleted: docs/ftpd.md, "Users"). 0, or ERR_IO
 * when the session's end is closed or sent garbage (the caller stops
 * listening to it). */
int gate_serve(int fd, const struct gate_policy *p, const char *addr,
    int *logged_in, char *user, size_t usersz);

#endif
