/* stream.c: file descriptors as sinks and sources (stream.h). */
#include <errno.h>
#include <unistd.h>

#include "err.h"
#include "fsutil.h"
#include "stream.h"
#include "banned.h"

int fd_sink_write(void *ctx, const void *p, size_t n)
{
	struct fd_stream *f = ctx;

	return fs_write_all(f->fd, p, n, f->what);
}

int fd_source_read(void *ctx, void *p, size_t cap, size_t *got)
{
	struct fd_stream *f = ctx;
	ssize_t n;

	*got = 0;
	do
		n = read(f->fd, p, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_sys("read %s", f->what);
	*got = (size_t)n;
	return 0;
}

int source_read_full(const struct source *s, void *p, size_t n, size_t *got)
{
	char *q = p;
	size_t have = 0, k;
	int r;

	while (have < n) {
		if ((r = s->read(s->ctx, q + have, n - have, &k)) != 0)
			return r;
		if (k == 0)
			break;
		have += k;
	}
	*got = have;
	return 0;
}
