/* cmd_key.c: the `key ...` console commands: this node's signing key and
 * the keys it trusts (docs/console.md, docs/bak-format.md "Trust"). The
 * user commands run in the local console (client/user.c), not here. */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "crypto.h"
#include "esc.h"
#include "log.h"
#include "node.h"
#include "pki.h"
#include "ui.h"
#include "banned.h"

int cmd_key_show(struct cmdctx *cx, int argc, char **argv)
{
	struct node *n = cx->node;
	struct buf b = BUF_INIT(16384);
	char rec[AGE_RECIPIENT_MAX];

	(void)argc;
	(void)argv;
	if (sigkey_public_pem(n->key, &b) != 0) {
		buf_free(&b);
		return cmd_fail(cx, "key show");
	}
	node_recipient(n, rec);
	/* Recipient: the age public key of the node's recovery identity, to
	 * which its sealed archives are always encrypted. */
	ui_out(cx->ui, "Key id    : %s\nAlgorithm : ed25519\nNode      : %s "
	    "(%s)\nRecipient : %s\n%s", sigkey_id(n->key), n->conf->node_name,
	    n->id, rec, buf_cstr(&b));
	buf_free(&b);
	return EXIT_OK;
}

int cmd_key_list(struct cmdctx *cx, int argc, char **argv)
{
	struct node *n = cx->node;
	const struct trust *t = node_trust(n);

	(void)argc;
	(void)argv;
	ui_out(cx->ui, "%s  this node: %s (%s)\n", sigkey_id(n->key),
	    esc(n->conf->node_name), n->id);
	for (size_t i = 0; i < t->n; i++) {
		const struct trusted_key *tk = &t->keys[i];
		ui_out(cx->ui, "%s  trusted", sigkey_id(tk->key));
		if (tk->nnodes == 0)
			ui_out(cx->ui, ", no node recorded: its archives are refused; "
			    "trust it again (key show on its node, then key trust)");
		for (size_t j = 0; j < tk->nnodes; j++)
			ui_out(cx->ui, "%s %s%s%s%s", j ? "," : " for node",
			    tk->nodes[j].name, tk->nodes[j].name[0] ? " (" : "",
			    tk->nodes[j].id, tk->nodes[j].name[0] ? ")" : "");
		ui_out(cx->ui, "\n");
	}
	return EXIT_OK;
}

/* key trust FILE [--node ID]. The key comes with the command (the console
 * read the operator's file) or is a file in the files root (uploaded over
 * FTP/SFTP); the node it is trusted for is FILE's Node line (key show's
 * output) or --node. */
int cmd_key_trust(struct cmdctx *cx, int argc, char **argv)
{
	struct buf pem = BUF_INIT(1 << 20);	/* pki_read()'s limit */
	struct keyfile_node tn;
	char what[420], keyid[KEYID_HEX_LEN + 1];
	const char *node_arg = NULL;
	int r = EXIT_FAIL;

	if (argc == 3 && !strcmp(argv[1], "--node"))
		node_arg = argv[2];
	else if (argc != 1)
		return CMD_GROUP_USAGE;
	snprintf(what, sizeof what, "%s", esc(argv[0]));
	if (cx->data) {
		if (buf_add(&pem, cx->data->p, cx->data->len) != 0)
			goto err;
	} else if (pki_read(cx->node, argv[0], &pem) != 0)
		goto err;
	if (node_trust_key(cx->node, buf_cstr(&pem), pem.len, node_arg, what,
	    &tn, keyid) != 0)
		goto err;
	log_info("trusted key %s for node %s (%s) from %s", keyid, tn.name, tn.id,
	    what);
	ui_out(cx->ui, "Key %s trusted for node %s%s%s%s: its archives that name "
	    "that node are accepted (a rollback still needs --force node)\n",
	    keyid, tn.name, tn.name[0] ? " (" : "", tn.id, tn.name[0] ? ")" : "");
	r = EXIT_OK;
	goto out;
err:
	r = cmd_fail(cx, "key trust");
out:
	buf_free(&pem);
	return r;
}
