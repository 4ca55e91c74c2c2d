/* console.h: the operator's console: one command per invocation or an
 * interactive session, executed by nodebak-snapshotd over its control
 * socket. */
#ifndef NODEBAK_CONSOLE_H
#define NODEBAK_CONSOLE_H

struct conf;

/* Run argv (argc > 0) once, or read commands from standard input until
 * exit or end of input when argc == 0. role: "admin" or "readonly" (can
 * only lower what the socket grants). Returns the exit status. */
int console_main(const struct conf *c, const char *role, int argc,
    char **argv);

/* Split line into words (whitespace; double quotes group). Returns the
 * count, or -1 when there are more than max or a quote is unbalanced. */
int console_split(char *line, char **argv, int max);

#endif
