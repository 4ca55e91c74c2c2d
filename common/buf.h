/* buf.h: the one growable byte buffer (after curl's dynbuf and git's
 * strbuf). A buffer has a size cap fixed at init: an append that would pass
 * it fails with ERR_TOOBIG and leaves the contents unchanged. The contents
 * are always NUL-terminated (the NUL is not counted in len). */
#ifndef NODEBAK_BUF_H
#define NODEBAK_BUF_H
#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *p;	/* NULL until the first append */
	size_t len;	/* bytes in use, not counting the NUL */
	size_t cap;	/* allocated bytes */
	size_t max;	/* cap on len */
};

#define BUF_INIT(max_) { NULL, 0, 0, (max_) }

void buf_init(struct buf *b, size_t max);
/* Free the storage (wiping it first if secret) and reset to empty. */
void buf_free(struct buf *b);
void buf_free_secret(struct buf *b);
void buf_reset(struct buf *b);
/* Appends: 0, or ERR_TOOBIG / ERR_NOMEM with the buffer unchanged. */
int buf_add(struct buf *b, const void *data, size_t len);
int buf_adds(struct buf *b, const char *s);
int buf_addch(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* Room for n more bytes at the end, for a read(2) straight into the
 * buffer: 0 and *tailp (valid until the buffer next changes), or
 * ERR_TOOBIG / ERR_NOMEM with the buffer unchanged. The bytes count once
 * buf_commit() adds them (at most n). */
int buf_space(struct buf *b, size_t n, char **tailp);
void buf_commit(struct buf *b, size_t n);
/* Remove the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* The contents as a C string ("" when empty; never NULL). */
const char *buf_cstr(const struct buf *b);
/* Hand the storage to the caller (NULL when empty); b becomes empty. */
char *buf_detach(struct buf *b, size_t *lenp);

#endif
