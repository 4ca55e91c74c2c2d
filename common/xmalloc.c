/* xmalloc.c: checked allocation (see xmalloc.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "banned.h"

static void oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *nmalloc(size_t size)
{
	if (size == 0 || size > SIZE_MAX / 2)
		return NULL;
	return malloc(size);
}

void *nreallocarray(void *p, size_t n, size_t size)
{
	if (n == 0 || size == 0 || n > (SIZE_MAX / 2) / size)
		return NULL;
	return realloc(p, n * size);
}

void *xmalloc(size_t size)
{
	void *p = nmalloc(size);

	if (p == NULL)
		oom(size);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p;

	if (n == 0 || size == 0 || n > (SIZE_MAX / 2) / size)
		oom(size);
	if ((p = calloc(n, size)) == NULL)
		oom(n * size);
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	void *q = nreallocarray(p, n, size);

	if (q == NULL)
		oom(n * size);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void freezero(void *p, size_t len)
{
	if (p == NULL)
		return;
	if (len)
		explicit_bzero(p, len);
	free(p);
}
