/* commands.h: the console commands the daemon executes: the table and
 * its dispatcher (commands.c). */
#ifndef NODEBAK_COMMANDS_H
#define NODEBAK_COMMANDS_H

#include "cmd.h"

/* Run argv (the words the operator typed) for cx: checks the role, takes
 * the node lock for a command that changes the node (completing a pending
 * rollback first) and releases it unless the command handed it to a job.
 * Returns the exit status (cmd.h); what the command says goes to cx->ui. */
int commands_run(struct cmdctx *cx, int argc, char **argv);

#endif
