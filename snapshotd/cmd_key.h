/* cmd_key.h: the `key ...` console commands (cmd_key.c; the table is in
 * commands.c). Each returns an exit status (cmd.h). */
#ifndef NODEBAK_CMD_KEY_H
#define NODEBAK_CMD_KEY_H

struct cmdctx;

int cmd_key_show(struct cmdctx *cx, int argc, char **argv);
int cmd_key_list(struct cmdctx *cx, int argc, char **argv);
/* key trust FILE [--node ID]; CMD_GROUP_USAGE on other arguments. */
int cmd_key_trust(struct cmdctx *cx, int argc, char **argv);

#endif
