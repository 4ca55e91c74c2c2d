/* rconsole.h: the remote console: the real console program (bin/nodebak,
 * beside nodebak-ftpd) run for an SSH user with their role, either as an
 * interactive shell or for one command, with its input and output handed
 * to the caller (sshd.c pumps them to the channel). */
#ifndef NODEBAK_RCONSOLE_H
#define NODEBAK_RCONSOLE_H
#include <stddef.h>

#define RCONSOLE_MAX_COMMAND 4096	/* longest exec command line */
#define RCONSOLE_MAX_WORDS 64

struct rconsole;

struct rconsole_pty {
	int cols, rows, xpixel, ypixel;
};

struct rconsole_spec {
	const char *console;	/* program path; NULL: "nodebak" beside us */
	const char *conf_file;	/* -c FILE; may be NULL */
	int readonly;		/* --role readonly, else --role admin */
	const char *command;	/* exec: split on spaces; NULL: interactive */
	const struct rconsole_pty *pty;	/* run on a terminal; may be NULL */
	/* Hand len bytes of the console's output to the client: 0 or an
	 * ERR_* code (the console is then stopped). */
	int (*output)(void *arg, const void *p, size_t len, int is_stderr);
	void *arg;
};

/* Split an exec request's command (modified: the spaces between words
 * become NULs) into words[], at most max of them: no shell and no quoting,
 * a word is what lies between spaces (docs/sftp.md). Returns the number
 * of words (0 for a command of spaces only), or ERR_INVAL when there are
 * more than max. words[] point into command. */
int rconsole_split(char *command, const char **words, size_t max);

struct sandbox_rule;

/* The Landlock rules (common/sandbox.h) the console program needs to
 * start and run: its program's folder and the system's libraries (read,
 * execute), the dynamic linker's cache and the time zone, /dev/null and
 * the pseudo-terminals, spec->conf_file and the files also_read names
 * (NULL-terminated; may be NULL). Paths that do not exist are left out.
 * rules[0..*np) get O_PATH descriptors the caller closes. 0, or an
 * ERR_* code when the program cannot be found. */
int rconsole_rules(const struct rconsole_spec *spec,
    const char *const *also_read, struct sandbox_rule *rules, size_t max,
    size_t *np);

/* Start the console. *out: the new console (free with rconsole_free()).
 * ERR_INVAL for an empty or over-long command, ERR_SYS when it cannot be
 * started. */
int rconsole_start(const struct rconsole_spec *spec, struct rconsole **out);
/* Feed the client's bytes to the console's input. Returns len (bytes
 * the console no longer reads are dropped). */
int rconsole_input(struct rconsole *c, const void *p, size_t len);
/* The client sent EOF: close the console's input. */
void rconsole_input_eof(struct rconsole *c);
void rconsole_resize(struct rconsole *c, const struct rconsole_pty *pty);
/* The descriptors to watch for output (-1 for none), at most two. */
void rconsole_fds(const struct rconsole *c, int fds[2]);
/* Read what fd has and pass it to output(). 0, or ERR_IO when output()
 * failed. A descriptor at its end is closed and reported as -1. */
int rconsole_pump(struct rconsole *c, int fd);
/* 1 once all of the console's output has been passed on. */
int rconsole_drained(const struct rconsole *c);
/* Wait for the console to exit (stopping it first when stop is set):
 * *status is its exit code, 128+N for signal N. */
void rconsole_wait(struct rconsole *c, int stop, int *status);
/* Stop the console if it runs and free c. */
void rconsole_free(struct rconsole *c);

#endif
