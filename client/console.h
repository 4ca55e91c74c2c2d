/* console.h: the operator's console: commands executed by
 * nodebak-snapshotd over its control socket (docs/control-protocol.md),
 * or locally (`user`, `ssh`). The interactive session is shell.c. */
#ifndef NODEBAK_CONSOLE_H
#define NODEBAK_CONSOLE_H

struct buf;
struct conf;
struct console_conn;

/* Connect to the daemon named by c and lower the role to role ("admin",
 * "readonly" or NULL). 0 with *out the connection (the caller frees it
 * with console_disconnect()), or a negative ERR_* code with err_msg()
 * saying in one line what failed, naming the socket (and who may use it
 * when it refused). */
int console_connect(const struct conf *c, const char *role,
    struct console_conn **out);

/* The node's name, as the daemon said it; owned by k. */
const char *console_node(const struct console_conn *k);

/* 1 when a conversation on k failed (the daemon went away, say), so
 * that k is of no further use; else 0. */
int console_broken(const struct console_conn *k);

/* Close k and free it (NULL: nothing). */
void console_disconnect(struct console_conn *k);

/* Run one command (argc > 0): `user` and `ssh` here, anything else on k
 * (NULL: says it is not connected). Answers confirmation prompts from
 * standard input. Returns the exit status (0, 1 failure, 2 usage). */
int console_run(const struct conf *c, const char *role,
    struct console_conn *k, int argc, char **argv);

/* Run argv (argc > 0) once on a new connection. Returns the exit
 * status. */
int console_main(const struct conf *c, const char *role, int argc,
    char **argv);

/* Read one line from standard input into b, without the newline (and a
 * trailing CR). 1, 0 at end of input, or a negative ERR_* code when the
 * line does not fit b's cap. */
int console_read_line(struct buf *b);

/* Split line into words (whitespace; double quotes group). Returns the
 * count, or -1 when there are more than max or a quote is unbalanced. */
int console_split(char *line, char **argv, int max);

#endif
