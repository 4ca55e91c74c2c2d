/* json.c: JSON string escaping and keyed values (see json.h). */
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
