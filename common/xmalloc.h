/* xmalloc.h: allocation wrappers. Sizes of 0 and overflowing products are
 * rejected. The x* functions abort the process on failure (daemons and the
 * console may do that); library code uses the n* variants, which return
 * NULL. */
#ifndef NODEBAK_XMALLOC_H
#define NODEBAK_XMALLOC_H
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* NULL on failure or on a zero/overflowing size. */
void *nmalloc(size_t size);
void *nreallocarray(void *p, size_t n, size_t size);
/* Wipe len bytes of p, then free it (secrets). */
void freezero(void *p, size_t len);

#endif
