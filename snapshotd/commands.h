/* commands.h: the console commands the daemon executes. */
#ifndef NODEBAK_COMMANDS_H
#define NODEBAK_COMMANDS_H

struct session;

/* Exit statuses a command returns to the console. */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* Run argv (the words the operator typed) for session s; returns the
 * exit status. Output goes to the console through s. */
int commands_run(struct session *s, int argc, char **argv);

#endif
