/* hooks.h: the node's service hooks ([snapshotd] service_stop and
 * service_start), run through common/run.h. */
#ifndef NODEBAK_HOOKS_H
#define NODEBAK_HOOKS_H

/* The longest a hook may run before it is killed and counts as failed. */
#define HOOK_TIMEOUT_MS (600 * 1000)

/* Run cmd with /bin/sh -c (scrubbed environment, stdin /dev/null); what
 * names it in the log and in errors ("service_stop"). 0 when cmd is unset
 * or exits 0; else ERR_IO with one line: "service_stop hook failed: sh
 * failed (status 1): <its last line of error output>". Its output is
 * logged. */
int hook_run(const char *what, const char *cmd);

#endif
