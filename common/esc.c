/* esc.c: escaping hostile names for printing (see esc.h). */
#include <stdio.h>
#include <string.h>

#include "esc.h"
#include "banned.h"

#define ESC_RING 8
#define ESC_MAX 400

const char *esc(const char *s)
{
	static _Thread_local char ring[ESC_RING][ESC_MAX + 8];
	static _Thread_local unsigned next;
	char *out = ring[next++ % ESC_RING];
	size_t o = 0;

	if (s == NULL)
		s = "";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char tmp[5];
		size_t n;
		switch (*p) {
		case '\n': memcpy(tmp, "\\n", 3); break;
		case '\t': memcpy(tmp, "\\t", 3); break;
		case '\r': memcpy(tmp, "\\r", 3); break;
		case '\\': memcpy(tmp, "\\\\", 3); break;
		default:
			if (*p >= 0x20 && *p < 0x7f) {
				tmp[0] = (char)*p;
				tmp[1] = '\0';
			} else
				snprintf(tmp, sizeof tmp, "\\x%02x", *p);
		}
		n = strlen(tmp);
		if (o + n > ESC_MAX) {
			memcpy(out + o, "...", 4);
			return out;
		}
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}
