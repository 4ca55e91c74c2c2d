/* bak_split.c: the snapshot writer of format 1 archives (bak.h,
 * docs/bak-format.md "How the snapshot writer lays out the deflate stream").
 *
 * The MANIFEST comes first in an archive and holds every member's SHA-256,
 * so a writer that reads each member once cannot write it first. This one
 * writes the archive in two parts of one gzip stream:
 *
 *   gzip header | head: stored deflate blocks | body: deflate | trailer
 *
 * The head is the tar bytes of the MANIFEST, its signature and the small
 * members before the first streamed one; its length is known before any
 * member is read (hashes are fixed-width), so the body can be compressed
 * straight into the file at its final offset while its members are read
 * and hashed, once. The head is written in front of it last, in stored
 * (uncompressed) blocks, whose size depends only on the head's length.
 * The body is compressed as gz.c compresses (parallel blocks, the first
 * one with no dictionary). The output depends only on the input, the
 * level and zlib. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bak.h"
#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "fsutil.h"
#include "gz.h"
#include "stream.h"
#include "ustar.h"
#include "xmalloc.h"
#include "banned.h"

#define IO_CHUNK (1 << 20)

struct bak_split {
	int fd;
	int level;
	time_t mtime;
	const char *what;
	uint64_t head_len;
	off_t body_at;
	uint64_t body_len, flushed;	/* compressed body written, written back */
	struct gz_writer *gz;
	unsigned char *chunk;
	const struct bak_progress *progress;
	uint64_t pdone, ptotal;
};

/* A member's tar headers into h (*len bytes): ustar.c's exact form, with
 * a pax extended header in front when the name or size needs one
 * (docs/bak-format.md, "tar"). */
static int tar_header(unsigned char h[USTAR_HDR_MAX], size_t *len,
    const char *what, const char *path, int is_dir, unsigned mode,
    uint64_t size, time_t mtime)
{
	if (ustar_header(h, USTAR_HDR_MAX, len, path, is_dir, mode, size,
	    (int64_t)mtime) != 0)
		return err_set(ERR_TOOBIG, "%s: %s: cannot be stored in the "
		    "archive (name, mode or size beyond its limits)", what, path);
	return 0;
}

static size_t tar_pad(uint64_t size)
{
	return (size_t)((USTAR_BLOCK - size % USTAR_BLOCK) % USTAR_BLOCK);
}

int bak_tar_add_data(struct buf *b, const char *path, unsigned mode,
    time_t mtime, const void *p, size_t n)
{
	unsigned char h[USTAR_HDR_MAX], zero[USTAR_BLOCK] = { 0 };
	size_t hl;
	int r;

	if ((r = tar_header(h, &hl, "archive head", path, 0, mode, n,
	    mtime)) != 0 ||
	    (r = buf_add(b, h, hl)) != 0 ||
	    (r = buf_add(b, p, n)) != 0)
		return r;
	return buf_add(b, zero, tar_pad(n));
}

int bak_tar_add_dir(struct buf *b, const char *path, unsigned mode,
    time_t mtime)
{
	unsigned char h[USTAR_HDR_MAX];
	size_t hl;
	int r;

	if ((r = tar_header(h, &hl, "archive head", path, 1, mode, 0,
	    mtime)) != 0)
		return r;
	return buf_add(b, h, hl);
}

/* The compressed body, to the file, whose disk is set writing as it
 * grows (fs_writeback()): the archive's fsync then has little to wait. */
static int body_write(void *ctx, const void *p, size_t n)
{
	struct bak_split *s = ctx;
	int r;

	if ((r = fs_write_all(s->fd, p, n, s->what)) != 0)
		return r;
	s->body_len += n;
	if (s->body_len - s->flushed >= FS_WRITEBACK_CHUNK) {
		fs_writeback(s->fd, s->body_at + (off_t)s->flushed,
		    (off_t)(s->body_len - s->flushed));
		s->flushed = s->body_len;
	}
	return 0;
}

int bak_split_new(int fd, int level, time_t mtime, const char *what,
    uint64_t head_len, struct bak_split **out)
{
	struct bak_split *s = xcalloc(1, sizeof *s);
	struct sink sk;
	int r;

	*out = NULL;
	s->fd = fd;
	s->level = level;
	s->mtime = mtime;
	s->what = what;
	s->head_len = head_len;
	s->body_at = (off_t)(GZ_HEADER_LEN + gz_stored_len(head_len));
	if (lseek(fd, s->body_at, SEEK_SET) != s->body_at) {
		r = err_sys("seek %s", what);
		goto fail;
	}
	sk = (struct sink){ body_write, s };
	if ((r = gz_writer_new_part(&sk, level, what, &s->gz)) != 0)
		goto fail;
	s->chunk = xmalloc(IO_CHUNK);
	*out = s;
	return 0;
fail:
	bak_split_free(s);
	return r;
}

void bak_split_set_progress(struct bak_split *s, const struct bak_progress *p,
    uint64_t total)
{
	s->progress = p && p->fn ? p : NULL;
	s->pdone = 0;
	s->ptotal = total;
}

int bak_split_add_dir(struct bak_split *s, const char *path, unsigned mode)
{
	unsigned char h[USTAR_HDR_MAX];
	size_t hl;
	int r;

	if ((r = tar_header(h, &hl, s->what, path, 1, mode, 0, s->mtime)) != 0)
		return r;
	return gz_write(s->gz, h, hl);
}

int bak_split_add_source(struct bak_split *s, const char *path, unsigned mode,
    uint64_t size, const struct source *src, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char h[USTAR_HDR_MAX], zero[USTAR_BLOCK] = { 0 };
	struct sha256 *sh = NULL;
	uint64_t done = 0;
	size_t hl;
	int r;

	if ((r = tar_header(h, &hl, s->what, path, 0, mode, size,
	    s->mtime)) != 0 ||
	    (r = gz_write(s->gz, h, hl)) != 0)
		return r;
	if (hex && (sh = sha256_new()) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	while (done < size) {
		size_t want = size - done < IO_CHUNK ? (size_t)(size - done) :
		    IO_CHUNK, got;
		if ((r = src->read(src->ctx, s->chunk, want, &got)) != 0)
			goto out;
		if (got == 0) {
			r = err_set(ERR_IO, "%s: %s: changed size while being "
			    "archived (%llu of %llu bytes)", s->what, path,
			    (unsigned long long)done, (unsigned long long)size);
			goto out;
		}
		if (sh)
			sha256_update(sh, s->chunk, got);
		if ((r = gz_write(s->gz, s->chunk, got)) != 0)
			goto out;
		done += got;
		s->pdone += got;
		if (s->progress)
			s->progress->fn(s->progress->ctx, s->pdone, s->ptotal);
	}
	r = gz_write(s->gz, zero, tar_pad(size));
out:
	if (sh) {
		char discard[SHA256_HEX_LEN + 1];
		sha256_final_hex(sh, r == 0 ? hex : discard);
	}
	return r;
}

int bak_split_add_file(struct bak_split *s, const char *path, unsigned mode,
    const char *file, uint64_t size)
{
	struct fd_stream fs = { -1, file };
	struct source src = FD_SOURCE(&fs);
	unsigned char extra;
	ssize_t n;
	int r;

	if ((fs.fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return err_sys("%s", file);
	r = bak_split_add_source(s, path, mode, size, &src, NULL);
	/* Nothing may follow what was counted. */
	if (r == 0 && (n = read(fs.fd, &extra, 1)) != 0)
		r = n < 0 ? err_sys("read %s", file) : err_set(ERR_IO, "%s: "
		    "changed size while being archived", file);
	close(fs.fd);
	return r;
}

/* A sink writing at a moving offset of a file (the head, in front of the
 * body). */
struct at_sink {
	int fd;
	off_t at;
	const char *what;
};

static int at_write(void *ctx, const void *p, size_t n)
{
	struct at_sink *a = ctx;
	const char *c = p;

	while (n) {
		ssize_t k = pwrite(a->fd, c, n, a->at);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return err_sys("write %s", a->what);
		c += k;
		n -= (size_t)k;
		a->at += k;
	}
	return 0;
}

int bak_split_finish(struct bak_split *s, const void *head, size_t head_len)
{
	unsigned char zero[2 * USTAR_BLOCK] = { 0 }, hdr[GZ_HEADER_LEN],
	    tr[GZ_TRAILER_LEN];
	struct at_sink as = { s->fd, 0, s->what };
	struct sink sk = { at_write, &as };
	uint32_t bcrc, crc;
	uint64_t blen;
	int r;

	if (head_len != s->head_len)
		return err_set(ERR_INVAL, "%s: the archive head is %zu bytes, "
		    "%llu were planned", s->what, head_len,
		    (unsigned long long)s->head_len);
	/* The end of the tar stream, then the body's final block. */
	if ((r = gz_write(s->gz, zero, sizeof zero)) != 0 ||
	    (r = gz_finish(s->gz)) != 0)
		return r;
	gz_writer_sum(s->gz, &bcrc, &blen);
	crc = gz_crc_combine(gz_crc(0, head, head_len), bcrc, blen);
	gz_trailer(crc, head_len + blen, tr);
	if ((r = fs_write_all(s->fd, tr, sizeof tr, s->what)) != 0)
		return r;
	gz_file_header(s->level, hdr);
	if ((r = sk.write(sk.ctx, hdr, sizeof hdr)) != 0 ||
	    (r = gz_stored(&sk, head, head_len)) != 0)
		return r;
	if (as.at != s->body_at)
		return err_set(ERR_INVAL, "%s: the archive head ends at %lld, the "
		    "body starts at %lld", s->what, (long long)as.at,
		    (long long)s->body_at);
	return 0;
}

void bak_split_free(struct bak_split *s)
{
	if (s == NULL)
		return;
	gz_writer_free(s->gz);
	free(s->chunk);
	free(s);
}
