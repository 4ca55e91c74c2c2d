/* fuzz_scp.c: libFuzzer target for legacy SCP (scp_serve): the input's
 * first byte picks the command (a sink with -r -p into "/", or a source
 * of a file and a folder with -r -p), the rest is the client's byte
 * stream, handed over in uneven pieces, against a scratch files root made
 * once per process (admin role). Built by `make fuzz`; run:
 *   tests/bin/fuzz_scp -max_len=4096 tests/fuzz/corpus/scp */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scp.h"

struct feed {
	const uint8_t *p;
	size_t len, off;
};

static int feed_read(void *ctx, void *p, size_t len, int timeout_ms)
{
	struct feed *f = ctx;
	size_t n;

	(void)timeout_ms;
	if (f->off >= f->len)
		return 0;
	n = f->len - f->off;
	if (n > 1 + (f->p[f->off] % 61) * 37)
		n = 1 + (f->p[f->off] % 61) * 37;
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

static void make_root(void)
{
	char path[128];
	FILE *fp;

	snprintf(root, sizeof(root), "/tmp/nodebak-fuzz-scp.XXXXXX");
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const commands[] = {
		"scp -r -p -t /", "scp -t /in", "scp -d -t backups",
		"scp -r -p -f backups /backups/a.bak", "scp -f 'backups/*' /a?",
	};
	struct feed f = { data + 1, size ? size - 1 : 0, 0 };
	struct scp_io io = { &f, feed_read, sink_write };
	struct scp_params prm;
	int status;

	if (!root[0])
		make_root();
	if (size == 0)
		return 0;
	memset(&prm, 0, sizeof(prm));
	prm.root = root;
	prm.user = "fuzz";
	prm.peer = "fuzz";
	prm.role = ROLE_ADMIN;
	prm.idle_timeout = 1;
	prm.umask = 022;
	scp_serve(commands[data[0] % 5], &io, &prm, &status);
	return 0;
}
