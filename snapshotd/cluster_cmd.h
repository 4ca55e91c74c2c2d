/* cluster_cmd.h: the `database cluster ...` console commands
 * (cluster_cmd.c; the table is in commands.c). */
#ifndef NODEBAK_CLUSTER_CMD_H
#define NODEBAK_CLUSTER_CMD_H

struct session;

int cmd_cluster_certs(struct session *s, int argc, char **argv);
int cmd_cluster_localnode(struct session *s, int argc, char **argv);
int cmd_cluster_initialize(struct session *s, int argc, char **argv);
int cmd_cluster_join(struct session *s, int argc, char **argv);
int cmd_cluster_remove(struct session *s, int argc, char **argv);
int cmd_cluster_clear_error(struct session *s, int argc, char **argv);

#endif
