/* rollback.h: restore the node from a .bak (docs/crash-safety.md). */
#ifndef NODEBAK_ROLLBACK_H
#define NODEBAK_ROLLBACK_H

struct session;
struct node;

/* backup rollback <name>.bak [--yes] [--no-safety-snapshot]
 * [--force node|version|schema]...: the console command. */
int cmd_rollback(struct session *s, int argc, char **argv);

/* Run a configured service hook command (service_stop/service_start);
 * 0 when it is unset or exits 0. */
int rollback_hook(struct node *n, const char *what, const char *cmd);

#endif
