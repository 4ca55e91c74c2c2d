/* esc.c: escaping hostile names for printing (see esc.h). One notation
 * (\n, \t, \r, \\, \xNN) for both strengths below. */
#include <stdio.h>
#include <string.h>

#include "esc.h"
#include "banned.h"

#define ESC_RING 8
#define ESC_MAX 400

static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* The printable form of c into tmp (at least 5 bytes): c itself when
 * it is left alone, else its escape. all: also the backslash and bytes
 * from 0x80 (esc()); else only control bytes (esc_ctl()). */
static size_t esc_byte(unsigned char c, int all, char *tmp)
{
	switch (c) {
	case '\n': memcpy(tmp, "\\n", 3); return 2;
	case '\t': memcpy(tmp, "\\t", 3); return 2;
	case '\r': memcpy(tmp, "\\r", 3); return 2;
	case '\\':
		if (all) {
			memcpy(tmp, "\\\\", 3);
			return 2;
		}
		break;
	default:
		if (is_ctl(c) || (all && c >= 0x7f)) {
			snprintf(tmp, 5, "\\x%02x", c);
			return 4;
		}
	}
	tmp[0] = (char)c;
	tmp[1] = '\0';
	return 1;
}

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
		size_t n = esc_byte(*p, 1, tmp);
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

size_t esc_ctl(char *out, size_t outsz, const char *s)
{
	size_t o = 0;

	if (outsz == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char tmp[5];
		size_t n = esc_byte(*p, 0, tmp);
		if (o + n >= outsz)
			break;
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
	return o;
}
