/* fuzz_bak.c: libFuzzer target for the whole archive reader (gzip layer,
 * tar, signature, MANIFEST, members), extracting into a scratch folder. The
 * signature check uses a fixed key, so the corpus should hold archives
 * signed by it (tests/fuzz/README). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bak.h"
#include "crypto.h"
#include "fsutil.h"

static struct sigkey *key;

static const struct sigkey *lookup(void *arg, const char *id)
{
	(void)arg;
	(void)id;
	return key;	/* any key id: exercise the signature check itself */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[] = "/tmp/nodebak-fuzz-XXXXXX";
	static int ready;
	struct bak_limits lim = { 1000, 1 << 26 };
	struct manifest mf;
	char path[64], stage[96];
	int fd;

	if (!ready) {
		char priv[96], pub[96];
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(priv, sizeof priv, "%s/k", dir);
		snprintf(pub, sizeof pub, "%s/k.pub", dir);
		const char *k = getenv("NODEBAK_FUZZ_KEY");
		if (k)
			sigkey_load_private(k, &key);
		else if (sigkey_generate(priv, pub) != 0 ||
		    sigkey_load_private(priv, &key) != 0)
			abort();
		ready = 1;
	}
	snprintf(path, sizeof path, "%s/in.bak", dir);
	snprintf(stage, sizeof stage, "%s/stage", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	fs_rm_rf(stage);
	fs_mkdir_p(stage, 0700);
	fd = open(stage, O_RDONLY | O_DIRECTORY);
	if (bak_read(path, &(struct bak_keys){ lookup, NULL, NULL, 0 }, &lim, fd, &mf, NULL) == 0)
		manifest_free(&mf);
	close(fd);
	return 0;
}
