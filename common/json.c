/* json.c: JSON string escaping and keyed values (see json.h). */
#include "buf.h"
#include "json.h"
#include "banned.h"

/* The length of the well-formed UTF-8 sequence at s (1 to 4 bytes), or 0
 * when the byte at s does not begin one: RFC 3629, Table 3-7 of Unicode
 * (no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

int json_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	for (; *p; p += n)
		if ((n = utf8_len(p)) == 0)
			return 0;
	return 1;
}

int json_utf8_text(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;
	int r = 0;

	for (; r == 0 && *p; p += n ? n : 1)
		r = (n = utf8_len(p)) ? buf_add(b, p, n) :
		    buf_add(b, "\xef\xbf\xbd", 3);
	return r;
}

int json_str(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int r = buf_addch(b, '"');
	size_t n;

	for (; r == 0 && *p; p += n ? n : 1) {
		n = utf8_len(p);
		if (n == 0)
			r = buf_adds(b, "\\ufffd");
		else if (*p == '"' || *p == '\\')
			r = buf_addf(b, "\\%c", *p);
		else if (*p < 0x20)
			r = buf_addf(b, "\\u%04x", *p);
		else
			r = buf_add(b, p, n);
	}
	return r ? r : buf_addch(b, '"');
}

void json_key_num(struct buf *b, const char *key, long long v, int present,
    int comma)
{
	if (present)
		buf_addf(b, "\"%s\":%lld%s", key, v, comma ? "," : "");
	else
		buf_addf(b, "\"%s\":null%s", key, comma ? "," : "");
}

void json_key_str(struct buf *b, const char *key, const char *v, int comma)
{
	buf_addf(b, "\"%s\":", key);
	if (v && *v)
		json_str(b, v);
	else
		buf_adds(b, "null");
	buf_adds(b, comma ? "," : "");
}
