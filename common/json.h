/* json.h: the little JSON writing nodebak needs (the .json beside a .bak). */
#ifndef NODEBAK_JSON_H
#define NODEBAK_JSON_H

struct buf;

/* Append s as a JSON string literal (quotes and escapes included). JSON
 * text is UTF-8 (RFC 8259): each byte of s that is not part of a
 * well-formed UTF-8 sequence is written as \ufffd, so the literal is
 * always valid; a caller that must keep such bytes writes them too
 * (NAME.json's "path_hex"). */
int json_str(struct buf *b, const char *s);
/* 1 when s is well-formed UTF-8 (RFC 3629), else 0. */
int json_utf8_valid(const char *s);
/* Append s as json_str() renders it once decoded: UTF-8, with U+FFFD
 * (EF BF BD) for each byte not part of a well-formed sequence; no quotes,
 * no terminating NUL. */
int json_utf8_text(struct buf *b, const char *s);
/* Append "key":v (or "key":null unless present), then a comma if comma. */
void json_key_num(struct buf *b, const char *key, long long v, int present,
    int comma);
/* Append "key":"v" (or "key":null when v is NULL or ""), then a comma if
 * comma. */
void json_key_str(struct buf *b, const char *key, const char *v, int comma);

#endif
