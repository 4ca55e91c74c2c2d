/* gz.c: deterministic gzip writer and strict gzip reader on zlib. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "err.h"
#include "fault.h"
#include "fsutil.h"
#include "gz.h"
#include "xmalloc.h"
#include "banned.h"

#define GZ_CHUNK (256 * 1024)

struct gz_writer {
	z_stream z;
	int fd;
	const char *what;
	unsigned char *out;
};

struct gz_reader {
	z_stream z;
	int fd;
	const char *what;
	unsigned char *in;
	int header_checked, ended;
};

int gz_writer_new(int fd, int level, const char *what, struct gz_writer **out)
{
	struct gz_writer *w = xcalloc(1, sizeof *w);

	*out = NULL;
	/* windowBits 15 + 16: a gzip wrapper with mtime 0, no name. */
	if (deflateInit2(&w->z, level, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		free(w);
		return err_set(ERR_NOMEM, "zlib: cannot start compression");
	}
	w->fd = fd;
	w->what = what;
	w->out = xmalloc(GZ_CHUNK);
	*out = w;
	return 0;
}

static int deflate_loop(struct gz_writer *w, int flush)
{
	int zr, r;

	do {
		w->z.next_out = w->out;
		w->z.avail_out = GZ_CHUNK;
		zr = deflate(&w->z, flush);
		if (zr == Z_STREAM_ERROR)
			return err_set(ERR_IO, "zlib: compression failed");
		if (w->z.avail_out != GZ_CHUNK) {
			fault_point("gz-write");
			if ((r = fs_write_all(w->fd, w->out,
			    GZ_CHUNK - w->z.avail_out, w->what)) != 0)
				return r;
		}
	} while (w->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

int gz_write(struct gz_writer *w, const void *data, size_t len)
{
	const unsigned char *p = data;
	int r;

	while (len) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
		w->z.next_in = (unsigned char *)(uintptr_t)p;
		w->z.avail_in = n;
		if ((r = deflate_loop(w, Z_NO_FLUSH)) != 0)
			return r;
		p += n;
		len -= n;
	}
	return 0;
}

int gz_finish(struct gz_writer *w)
{
	w->z.next_in = NULL;
	w->z.avail_in = 0;
	return deflate_loop(w, Z_FINISH);
}

void gz_writer_free(struct gz_writer *w)
{
	if (w == NULL)
		return;
	deflateEnd(&w->z);
	free(w->out);
	free(w);
}

int gz_reader_new(int fd, const char *what, struct gz_reader **out)
{
	struct gz_reader *r = xcalloc(1, sizeof *r);

	*out = NULL;
	/* windowBits 15 + 16: gzip only, no zlib or raw auto-detection. */
	if (inflateInit2(&r->z, 15 + 16) != Z_OK) {
		free(r);
		return err_set(ERR_NOMEM, "zlib: cannot start decompression");
	}
	r->fd = fd;
	r->what = what;
	r->in = xmalloc(GZ_CHUNK);
	*out = r;
	return 0;
}

static int fill(struct gz_reader *r)
{
	ssize_t n;

	do
		n = read(r->fd, r->in, GZ_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_sys("read %s", r->what);
	r->z.next_in = r->in;
	r->z.avail_in = (uInt)n;
	return 0;
}

/* The writer's header: magic, deflate, no flags, zero mtime. */
static int check_header(struct gz_reader *r)
{
	static const unsigned char want[8] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0 };

	if (r->z.avail_in < 10 || memcmp(r->z.next_in, want, 2))
		return err_set(ERR_FORMAT, "%s: not a gzip-compressed nodebak "
		    "archive", r->what);
	if (memcmp(r->z.next_in, want, 8))
		return err_set(ERR_FORMAT, "%s: gzip header has a name, comment, "
		    "extra field or timestamp that nodebak never writes", r->what);
	r->header_checked = 1;
	return 0;
}

static int check_end(struct gz_reader *r)
{
	int e;

	if (r->z.avail_in == 0 && (e = fill(r)) != 0)
		return e;
	if (r->z.avail_in != 0)
		return err_set(ERR_FORMAT, "%s: trailing data after the compressed "
		    "archive", r->what);
	r->ended = 1;
	return 0;
}

int gz_read(struct gz_reader *r, void *out, size_t cap, size_t *got)
{
	uInt want = cap > (1u << 30) ? (1u << 30) : (uInt)cap;
	int zr, e;

	*got = 0;
	if (r->ended)
		return 0;
	r->z.next_out = out;
	r->z.avail_out = want;
	while (r->z.avail_out == want) {	/* until some output */
		if (r->z.avail_in == 0) {
			if ((e = fill(r)) != 0)
				return e;
			if (r->z.avail_in == 0)
				return err_set(ERR_FORMAT, "%s: truncated archive",
				    r->what);
		}
		if (!r->header_checked && (e = check_header(r)) != 0)
			return e;
		zr = inflate(&r->z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END) {
			*got = want - r->z.avail_out;
			return check_end(r);
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			return err_set(ERR_FORMAT, "%s: corrupt compressed data (%s)",
			    r->what, r->z.msg ? r->z.msg : "zlib error");
	}
	*got = want - r->z.avail_out;
	return 0;
}

uint64_t gz_total_out(const struct gz_reader *r)
{
	return r->z.total_out;
}

void gz_reader_free(struct gz_reader *r)
{
	if (r == NULL)
		return;
	inflateEnd(&r->z);
	free(r->in);
	free(r);
}
