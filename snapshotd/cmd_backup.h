/* cmd_backup.h: the `backup ...` console commands (cmd_backup.c; the
 * table is in commands.c). Each returns an exit status (cmd.h). */
#ifndef NODEBAK_CMD_BACKUP_H
#define NODEBAK_CMD_BACKUP_H

struct cmdctx;

int cmd_backup_snapshot(struct cmdctx *cx, int argc, char **argv);
int cmd_backup_list(struct cmdctx *cx, int argc, char **argv);
int cmd_backup_verify(struct cmdctx *cx, int argc, char **argv);
int cmd_backup_delete(struct cmdctx *cx, int argc, char **argv);
/* backup rollback <name>.bak [--yes] [--no-safety-snapshot]
 * [--force node|version|schema]... */
int cmd_backup_rollback(struct cmdctx *cx, int argc, char **argv);

#endif
