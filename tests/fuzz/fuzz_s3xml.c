/* fuzz_s3xml.c: libFuzzer target for the object store's XML replies
 * (client/pull/s3.c, libxml2): the first byte picks the parser
 * (even: a ListObjectsV2 page, odd: a ListParts page), the rest is the
 * reply. Aborts if what parses breaks a promise: a listed object
 * without a key, a continuation token or marker that is empty or not
 * digits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *next = NULL;

	if (size < 1)
		return 0;
	if (data[0] % 2 == 0) {
		struct s3_object *o = NULL;
		size_t n = 0;
		if (s3_xml_objects("s3://fuzz", data + 1, size - 1, &o, &n,
		    &next) == 0) {
			for (size_t i = 0; i < n; i++)
				if (o[i].key == NULL)
					abort();
			if (next && !*next)
				abort();
		}
		s3_objects_free(o, n);
	} else {
		struct s3_part *p = NULL;
		size_t n = 0;
		if (s3_xml_parts("s3://fuzz", data + 1, size - 1, &p, &n,
		    &next) == 0 && next &&
		    (!*next || strspn(next, "0123456789") != strlen(next)))
			abort();
		free(p);
	}
	free(next);
	return 0;
}
