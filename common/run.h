/* run.h: the one way nodebak runs a child program (after git's
 * run-command.c). A caller fills a struct child and calls run_start() /
 * run_finish(), or run_capture() for the common case; no caller touches
 * fork, pipes, exec or waitpid.
 *
 * The child gets: argv[0] as a full path (no PATH search, no shell unless
 * argv says /bin/sh -c); a scrubbed environment (RUN_ENV_DEFAULT) unless
 * env is given; every signal unblocked and at its default; no file
 * descriptor but 0, 1 and 2; "/" as its folder unless cwd is given; the
 * uid/gid asked for, dropped with setgroups/setgid/setuid before exec. */
#ifndef NODEBAK_RUN_H
#define NODEBAK_RUN_H
#include <stddef.h>
#include <sys/types.h>

struct buf;

/* Values of child.in, .out, .err besides a file descriptor to hand over. */
#define RUN_NULL (-1)		/* /dev/null (the default) */
#define RUN_PIPE (-2)		/* a pipe: the parent's end in in_fd/out_fd/err_fd */

/* PATH=/usr/sbin:/usr/bin:/sbin:/bin and LANG=C.UTF-8. */
extern const char *const RUN_ENV_DEFAULT[];

struct child {
	const char *const *argv;	/* argv[0]: a full path */
	const char *const *env;		/* NULL: RUN_ENV_DEFAULT */
	const char *cwd;		/* NULL: "/" */
	int in, out, err;		/* RUN_NULL (or 0: a zeroed struct runs
					 * with /dev/null), RUN_PIPE, or an
					 * fd of 3 or more to hand over */
	int as_user;			/* run as uid/gid (supplementary: gid) */
	uid_t uid;
	gid_t gid;
	int new_session;		/* setsid() in the child */
	int ctty;			/* with new_session: make fd in the
					 * controlling terminal */
	/* Set by run_start(). */
	pid_t pid;
	int in_fd, out_fd, err_fd;	/* parent ends of RUN_PIPE, else -1 */
};

/* Start c. 0 and c->pid, or an error (ERR_SYS) when the program could not
 * be started at all: fork failed, or exec failed (the child reports its
 * errno through a close-on-exec pipe, so "cannot run PROG: No such file or
 * directory" is said here, not as an exit status). */
int run_start(struct child *c);

/* Wait for c (retrying EINTR) and close the parent's pipe ends that are
 * still open. *status (may be NULL) gets waitpid's status. 0 when the
 * program exited 0; else ERR_IO with one line: "NAME exited with status N"
 * or "NAME was killed by signal SIG". */
int run_finish(struct child *c, int *status);

/* Stop c: SIGTERM, up to grace_ms for it to exit, then SIGKILL; reaps
 * it and closes the parent's pipe ends still open, as run_finish() does,
 * and returns as it does (a stopped child is "killed by signal TERM"). */
int run_stop(struct child *c, int grace_ms, int *status);

/* Run c to its end: stdin from c->in (RUN_PIPE is taken as RUN_NULL), its
 * output appended to out (bounded by out's cap: more is an error; NULL:
 * discarded), the last err_max bytes of its error output kept. With
 * timeout_ms > 0 a child still running then is killed (SIGKILL) and that
 * is the error. 0 when it exited 0; else one line naming the program, how
 * it ended and the last line of its error output:
 * "pg_restore failed (status 1): pg_restore: error: ...". When errtail is
 * not NULL the kept error output is appended to it. */
int run_capture(struct child *c, struct buf *out, struct buf *errtail,
    size_t err_max, int timeout_ms);

/* The name of a program for messages: the last part of argv[0]. */
const char *run_name(const struct child *c);

#endif
