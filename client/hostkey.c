/* hostkey.c: `ssh fingerprint` (docs/console.md). nodebak-ftpd writes
 * HOST_KEY.pub in OpenSSH format beside its host key; its fingerprint is
 * the one OpenSSH clients show on first connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "crypto.h"
#include "err.h"
#include "fsutil.h"
#include "hostkey.h"
#include "banned.h"

int cmd_ssh(const struct conf *c, int argc, char **argv)
{
	struct buf b = BUF_INIT(16384), path = BUF_INIT(4096);
	char fp[80], *blob, *end;
	int r;

	if (argc != 2 || strcmp(argv[1], "fingerprint")) {
		fprintf(stderr, "Usage:\n  ssh fingerprint\n");
		return 2;
	}
	buf_addf(&path, "%s.pub", c->ftpd.host_key);
	if ((r = fs_read_file(buf_cstr(&path), 16384, &b)) != 0) {
		if (r == ERR_NOTFOUND)
			err_set(r, "%s: no host key yet (nodebak-ftpd makes it at its "
			    "first start)", buf_cstr(&path));
		goto fail;
	}
	/* "TYPE BLOB [COMMENT]" */
	if ((blob = strchr(buf_cstr(&b), ' ')) == NULL) {
		err_set(ERR_FORMAT, "%s: not an OpenSSH public key", buf_cstr(&path));
		goto fail;
	}
	*blob++ = '\0';
	blob[strcspn(blob, " \n")] = '\0';
	if (ssh_key_fingerprint(blob, fp, sizeof fp) != 0)
		goto fail;
	end = b.p;
	printf("256 %s %s (%s)\n", fp, buf_cstr(&path), end);
	buf_free(&b);
	buf_free(&path);
	return 0;
fail:
	fprintf(stderr, "ssh fingerprint: %s\n", err_msg());
	buf_free(&b);
	buf_free(&path);
	return 1;
}
