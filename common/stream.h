/* stream.h: a byte sink and a byte source, so the layers of an archive
 * (tar, gzip, age encryption, the sealed container, the file) stack
 * without knowing one another: each layer writes to the sink beneath it
 * and reads from the source beneath it. */
#ifndef NODEBAK_STREAM_H
#define NODEBAK_STREAM_H
#include <stddef.h>

struct sink {
	/* Write all n bytes or fail (0 or ERR_*, with err_msg() set). */
	int (*write)(void *ctx, const void *p, size_t n);
	void *ctx;
};

struct source {
	/* Up to cap bytes into p; *got = 0 only at the end. 0 or ERR_*. */
	int (*read)(void *ctx, void *p, size_t cap, size_t *got);
	void *ctx;
};

/* A file descriptor as a sink or source; what names it in messages. */
struct fd_stream {
	int fd;
	const char *what;
};

int fd_sink_write(void *ctx, const void *p, size_t n);
int fd_source_read(void *ctx, void *p, size_t cap, size_t *got);

#define FD_SINK(fs) ((struct sink){ fd_sink_write, (fs) })
#define FD_SOURCE(fs) ((struct source){ fd_source_read, (fs) })

/* Read exactly n bytes, or fewer only at the end (*got says how many). */
int source_read_full(const struct source *s, void *p, size_t n, size_t *got);

#endif
