/* cmd_pki.c: the `pki ...` console commands: certificates and keys in the
 * files root (docs/console.md); the work is in pki.c and pki_tools.c. */
#include <stdio.h>

#include "buf.h"
#include "cmd.h"
#include "esc.h"
#include "log.h"
#include "pki.h"
#include "ui.h"
#include "banned.h"

int cmd_pki_list(struct cmdctx *cx, int argc, char **argv)
{
	struct buf b = BUF_INIT(1 << 20);

	(void)argc;
	(void)argv;
	if (pki_list(cx->node, &b) != 0) {
		buf_free(&b);
		return cmd_fail(cx, "pki list");
	}
	ui_out(cx->ui, "User supplied certificates and keys:\n%s", buf_cstr(&b));
	buf_free(&b);
	return EXIT_OK;
}

int cmd_pki_inspect(struct cmdctx *cx, int argc, char **argv)
{
	struct buf b = BUF_INIT(1 << 20);
	int r = EXIT_OK;

	(void)argc;
	if (pki_inspect(cx->node, argv[0], &b) != 0)
		r = cmd_fail(cx, "pki inspect");
	else
		ui_out(cx->ui, "%s", buf_cstr(&b));
	buf_free(&b);
	return r;
}

int cmd_pki_csr(struct cmdctx *cx, int argc, char **argv)
{
	if (pki_csr(cx->node, argv[0], argc - 1, argv + 1) != 0)
		return cmd_fail(cx, "pki csr");
	log_info("pki csr: created %s.key and %s.csr", esc(argv[0]),
	    esc(argv[0]));
	ui_out(cx->ui, "Created key file %s.key and CSR %s.csr\n"
	    "CSR file %s.csr ready for download via SFTP\n", esc(argv[0]),
	    esc(argv[0]), esc(argv[0]));
	return EXIT_OK;
}

int cmd_pki_verify(struct cmdctx *cx, int argc, char **argv)
{
	const char *ca = argc > 1 ? argv[1] : NULL;

	if (pki_verify(cx->node, argv[0], ca) != 0)
		return cmd_fail(cx, "pki verify");
	ui_out(cx->ui, "%s: OK (verified against %s)\n", esc(argv[0]),
	    ca ? esc(ca) : "the system's trusted CAs");
	return EXIT_OK;
}

int cmd_pki_match(struct cmdctx *cx, int argc, char **argv)
{
	(void)argc;
	if (pki_match(cx->node, argv[0], argv[1]) != 0)
		return cmd_fail(cx, "pki match");
	ui_out(cx->ui, "%s matches the certificate in %s\n", esc(argv[0]),
	    esc(argv[1]));
	return EXIT_OK;
}
