/* fuzz_sidecar.c: libFuzzer target for sidecar_parse(): NAME.json from the
 * network; aborts if what parses breaks a rule the parser promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "sidecar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sidecar sc;

	if (sidecar_parse((const char *)data, size, "fuzz.json", &sc) == 0 &&
	    (!name_valid(sc.node_name) || !name_valid(sc.snapshot) ||
	    !node_id_valid(sc.node_id) || strlen(sc.sha256) != 64 ||
	    strlen(sc.key_id) != 16 || strlen(sc.created) != 20))
		abort();
	return 0;
}
