/* rollback.h: restore the node from a .bak (docs/crash-safety.md). */
#ifndef NODEBAK_ROLLBACK_H
#define NODEBAK_ROLLBACK_H

struct session;
struct node;

/* backup rollback <name>.bak [--yes] [--no-safety-snapshot]
 * [--force node|version|schema]...: the console command. */
int cmd_rollback(struct session *s, int argc, char **argv);

/* Complete a rollback that was committed but not completed (its journal
 * exists, or its PostgreSQL dump is not restored yet; see
 * node_rollback_pending()): called with the operation lock held before
 * any other operation changes the node. 0 when the node is now wholly in
 * the restored state; else ERR_REFUSED saying why and what to do. */
int rollback_resume(struct session *s);


#endif
