/* fuzz_bak.c: libFuzzer target for the whole archive reader (gzip layer,
 * tar, signature, MANIFEST, members), extracting into a scratch folder.
 * The signature check uses the fixed TEST-ONLY key
 * tests/fuzz/TEST-ONLY-signing.key (or $NODEBAK_FUZZ_KEY), and the seeds
 * in corpus/bak are archives signed by it, so inputs get past the
 * signature to the MANIFEST, the member checks and extraction
 * (tests/fuzz/README.md). With $NODEBAK_FUZZ_EXPECT_OK set, an input
 * that is not read in full aborts and one that is says so on stderr:
 * tests/fuzz.t runs each seed so to show it passes the signature check. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bak.h"
#include "crypto.h"
#include "err.h"
#include "fsutil.h"

#ifndef FUZZ_TEST_KEY
#define FUZZ_TEST_KEY "tests/fuzz/TEST-ONLY-signing.key"
#endif

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
	static int ready, expect_ok;
	struct bak_limits lim = { 1000, 1 << 26 };
	struct manifest mf;
	char path[64], stage[96];
	int fd, r;

	if (!ready) {
		const char *k = getenv("NODEBAK_FUZZ_KEY");
		if (!k || !*k)
			k = FUZZ_TEST_KEY;
		if (mkdtemp(dir) == NULL)
			abort();
		if (sigkey_load_private(k, &key) != 0) {
			fprintf(stderr, "fuzz_bak: %s\n", err_msg());
			abort();
		}
		expect_ok = getenv("NODEBAK_FUZZ_EXPECT_OK") != NULL;
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
	r = bak_read(path, &(struct bak_keys){ lookup, NULL, NULL, 0 }, &lim, fd,
	    &mf, NULL);
	close(fd);
	if (expect_ok && r != 0) {
		fprintf(stderr, "fuzz_bak: seed not accepted: %s\n", err_msg());
		abort();
	}
	if (expect_ok)
		fprintf(stderr, "fuzz_bak: read in full, %zu members\n", mf.n);
	if (r == 0)
		manifest_free(&mf);
	return 0;
}
