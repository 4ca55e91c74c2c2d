/* json.h: the little JSON writing nodebak needs (the .json beside a .bak). */
#ifndef NODEBAK_JSON_H
#define NODEBAK_JSON_H

struct buf;

/* Append s as a JSON string literal (quotes and escapes included). */
int json_str(struct buf *b, const char *s);
/* Append "key":v (or "key":null unless present), then a comma if comma. */
void json_key_num(struct buf *b, const char *key, long long v, int present,
    int comma);
/* Append "key":"v" (or "key":null when v is NULL or ""), then a comma if
 * comma. */
void json_key_str(struct buf *b, const char *key, const char *v, int comma);

#endif
