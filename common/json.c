/* json.c: JSON string escaping (see json.h). */
#include "buf.h"
#include "json.h"
#include "banned.h"

int json_str(struct buf *b, const char *s)
{
	int r = buf_addch(b, '"');

	for (; r == 0 && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			r = buf_addf(b, "\\%c", c);
		else if (c < 0x20)
			r = buf_addf(b, "\\u%04x", c);
		else
			r = buf_addch(b, (char)c);
	}
	return r ? r : buf_addch(b, '"');
}
