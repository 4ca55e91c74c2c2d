/* fuzz_sftp.c: libFuzzer target for the SFTP server (sftp_serve): the
 * input is the client's byte stream after INIT, served against a scratch
 * files root made once per process (admin role, so every request type is
 * reached). Built by `make fuzz`; run:
 *   tests/bin/fuzz_sftp -max_len=2048 tests/fuzz/corpus/sftp */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sftp.h"

struct feed {
	const uint8_t *p;
	size_t len, off;
	int init_sent;
};

static const uint8_t init_pkt[] = { 0, 0, 0, 5, 1, 0, 0, 0, 3 };

/* Hand the input over in small, uneven pieces to exercise reassembly. */
static int feed_read(void *ctx, void *p, size_t len, int timeout_ms)
{
	struct feed *f = ctx;
	size_t n;

	(void)timeout_ms;
	if (!f->init_sent) {
		f->init_sent = 1;
		memcpy(p, init_pkt, sizeof(init_pkt));
		return (int)sizeof(init_pkt);
	}
	if (f->off >= f->len)
		return 0;
	n = f->len - f->off;
	if (n > 1 + (f->p[f->off] % 97) * 53)
		n = 1 + (f->p[f->off] % 97) * 53;
	if (n > len)
		n = len;
	memcpy(p, f->p + f->off, n);
	f->off += n;
	return (int)n;
}

static int sink_write(void *ctx, const void *p, size_t len)
{
	(void)ctx;
	(void)p;
	(void)len;
	return 0;
}

static char root[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed f = { data, size, 0, 0 };
	struct sftp_io io = { &f, feed_read, sink_write };
	struct sftp_params prm;
	char path[128];
	FILE *fp;

	if (!root[0]) {
		snprintf(root, sizeof(root), "/tmp/fuzz_sftp.XXXXXX");
		if (!mkdtemp(root))
			abort();
		snprintf(path, sizeof(path), "%s/backups", root);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/backups/a.bak", root);
		if ((fp = fopen(path, "w")) != NULL) {
			fputs("archive bytes\n", fp);
			fclose(fp);
		}
	}
	memset(&prm, 0, sizeof(prm));
	prm.root = root;
	prm.user = "fuzz";
	prm.peer = "fuzz";
	prm.role = ROLE_ADMIN;
	prm.max_handles = 16;
	prm.idle_timeout = 1;
	sftp_serve(&io, &prm);
	return 0;
}
