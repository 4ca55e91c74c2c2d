/* fuzz_manifest.c: libFuzzer target for manifest_parse(); also checks that
 * whatever parses formats back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest mf;
	struct buf b = BUF_INIT(MANIFEST_MAX_BYTES);

	if (manifest_parse((const char *)data, size, 1000, &mf) == 0) {
		if (manifest_format(&mf, &b) != 0 || b.len != size ||
		    memcmp(b.p, data, size))
			abort();	/* parse accepted a non-canonical text */
		manifest_free(&mf);
	}
	buf_free(&b);
	return 0;
}
