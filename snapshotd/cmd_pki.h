/* cmd_pki.h: the `pki ...` console commands (cmd_pki.c; the table is in
 * commands.c). Each returns an exit status (cmd.h). */
#ifndef NODEBAK_CMD_PKI_H
#define NODEBAK_CMD_PKI_H

struct cmdctx;

int cmd_pki_list(struct cmdctx *cx, int argc, char **argv);
int cmd_pki_inspect(struct cmdctx *cx, int argc, char **argv);
int cmd_pki_csr(struct cmdctx *cx, int argc, char **argv);
int cmd_pki_verify(struct cmdctx *cx, int argc, char **argv);
int cmd_pki_match(struct cmdctx *cx, int argc, char **argv);

#endif
