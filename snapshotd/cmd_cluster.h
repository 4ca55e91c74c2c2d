/* cmd_cluster.h: the `database cluster ...` console commands
 * (cmd_cluster.c; the table is in commands.c). Each returns an exit
 * status (cmd.h). */
#ifndef NODEBAK_CMD_CLUSTER_H
#define NODEBAK_CMD_CLUSTER_H

struct cmdctx;

int cmd_cluster_status(struct cmdctx *cx, int argc, char **argv);
int cmd_cluster_certs(struct cmdctx *cx, int argc, char **argv);
int cmd_cluster_localnode(struct cmdctx *cx, int argc, char **argv);
int cmd_cluster_initialize(struct cmdctx *cx, int argc, char **argv);
int cmd_cluster_join(struct cmdctx *cx, int argc, char **argv);
int cmd_cluster_remove(struct cmdctx *cx, int argc, char **argv);
int cmd_cluster_clear_error(struct cmdctx *cx, int argc, char **argv);

#endif
