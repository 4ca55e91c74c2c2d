/* json.h: the little JSON writing nodebak needs (the .json beside a .bak). */
#ifndef NODEBAK_JSON_H
#define NODEBAK_JSON_H

struct buf;

/* Append s as a JSON string literal (quotes and escapes included). */
int json_str(struct buf *b, const char *s);

#endif
