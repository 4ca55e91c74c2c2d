/* gz.c: deterministic gzip writer and strict gzip reader on zlib. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
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

#define GZ_CHUNK (256 * 1024)	/* reader input */

/* Read-ahead (gz_reader_readahead()): a thread decompresses into a ring
 * of RA_SLOTS buffers of RA_SIZE bytes while the caller consumes them. */
#define RA_SLOTS 4
#define RA_SIZE (1 << 20)

struct gz_reader {
	z_stream z;
	struct source in_src;
	const char *what;
	unsigned char *in;
	int header_checked, ended;
	/* Read-ahead: under mu, the producer fills slot[tail], the caller
	 * reads slot[head] from pos; count slots are full. done: the
	 * producer has stopped (at the end, or with err and errmsg). */
	int ra, stop, done, err;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *slot[RA_SLOTS];
	size_t len[RA_SLOTS], head, tail, count, pos;
	uint64_t out;
	char errmsg[512];
};

/* The writer compresses blocks of GZ_BLOCK input bytes in parallel, as
 * pigz does: each block is raw deflate primed with the previous block's
 * last 32 KiB and ended with a sync flush (the last one with a final
 * block), so the blocks concatenate into one deflate stream; the CRC-32 is
 * combined. The output depends on the level, the block size and zlib,
 * never on the number of threads. */
#define GZ_BLOCK (1 << 20)
#define GZ_DICT 32768

enum { SLOT_FREE, SLOT_READY, SLOT_BUSY, SLOT_DONE };

struct gz_slot {
	int state, last, err;
	unsigned char *in, *out, dict[GZ_DICT];
	size_t inlen, outlen, outcap, dictlen;
	uLong crc;
};

struct gz_writer {
	struct sink out;
	int level, nthreads, stop, err;
	int raw;		/* a part: no gzip header or trailer */
	const char *what;
	pthread_t *threads;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct gz_slot *ring;
	size_t nring, head, tail;	/* head: next to write; tail: filling */
	uLong crc;
	uint64_t total_in;
	unsigned char dict[GZ_DICT];	/* the last GZ_DICT bytes of input */
	size_t dictlen;
};

static int compress_slot(struct gz_slot *sl, int level)
{
	z_stream z;
	int zr;

	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	if (sl->dictlen && deflateSetDictionary(&z, sl->dict,
	    (uInt)sl->dictlen) != Z_OK) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = sl->in;
	z.avail_in = (uInt)sl->inlen;
	z.next_out = sl->out;
	z.avail_out = (uInt)sl->outcap;
	zr = deflate(&z, sl->last ? Z_FINISH : Z_SYNC_FLUSH);
	sl->outlen = sl->outcap - z.avail_out;
	deflateEnd(&z);
	/* outcap is deflateBound() + margin: one call always completes. */
	if ((sl->last && zr != Z_STREAM_END) || (!sl->last && zr != Z_OK) ||
	    z.avail_in != 0)
		return -1;
	sl->crc = crc32(0L, sl->in, (uInt)sl->inlen);
	return 0;
}

static void *worker(void *arg)
{
	struct gz_writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct gz_slot *sl = NULL;
		for (size_t i = 0; i < w->nring; i++) {
			struct gz_slot *c = &w->ring[(w->head + i) % w->nring];
			if (c->state == SLOT_READY) {
				sl = c;
				break;
			}
		}
		if (sl == NULL) {
			if (w->stop)
				break;
			pthread_cond_wait(&w->work, &w->mu);
			continue;
		}
		sl->state = SLOT_BUSY;
		pthread_mutex_unlock(&w->mu);
		sl->err = compress_slot(sl, w->level);
		pthread_mutex_lock(&w->mu);
		sl->state = SLOT_DONE;
		pthread_cond_broadcast(&w->done);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* The gzip header (docs/bak-format.md): deflate, no flags, no time; XFL
 * and OS as zlib's own gzip wrapper writes them, XFL by the level. */
#define GZ_OS_UNIX 3
static unsigned char gz_xfl(int level)
{
	return level == 9 ? 2 : level == 1 ? 4 : 0;
}

static int nthreads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

static int writer_start(const struct sink *out_, int level, const char *what,
    int raw, struct gz_writer **out)
{
	struct gz_writer *w = xcalloc(1, sizeof *w);
	size_t bound;

	*out = NULL;
	w->out = *out_;
	w->level = level;
	w->what = what;
	w->nthreads = nthreads();
	w->nring = (size_t)w->nthreads * 2;
	w->ring = xcalloc(w->nring, sizeof *w->ring);
	bound = compressBound(GZ_BLOCK) + 64;
	for (size_t i = 0; i < w->nring; i++) {
		w->ring[i].in = xmalloc(GZ_BLOCK);
		w->ring[i].out = xmalloc(bound);
		w->ring[i].outcap = bound;
	}
	w->crc = crc32(0L, Z_NULL, 0);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->done, NULL);
	w->threads = xcalloc((size_t)w->nthreads, sizeof *w->threads);
	for (int i = 0; i < w->nthreads; i++)
		if (pthread_create(&w->threads[i], NULL, worker, w) != 0) {
			w->nthreads = i;
			gz_writer_free(w);
			return err_set(ERR_NOMEM, "cannot start compression threads");
		}
	w->raw = raw;
	*out = w;
	return 0;
}

void gz_file_header(int level, unsigned char hdr[GZ_HEADER_LEN])
{
	static const unsigned char h[GZ_HEADER_LEN] = { 0x1f, 0x8b, 8, 0, 0,
		0, 0, 0, 0, GZ_OS_UNIX };

	memcpy(hdr, h, sizeof h);
	hdr[8] = gz_xfl(level);
}

void gz_trailer(uint32_t crc, uint64_t len, unsigned char tr[GZ_TRAILER_LEN])
{
	for (int i = 0; i < 4; i++) {
		tr[i] = (unsigned char)(crc >> (8 * i));
		tr[4 + i] = (unsigned char)(len >> (8 * i));
	}
}

int gz_writer_new(const struct sink *out_, int level, const char *what,
    struct gz_writer **out)
{
	unsigned char hdr[GZ_HEADER_LEN];
	int r;

	if ((r = writer_start(out_, level, what, 0, out)) != 0)
		return r;
	gz_file_header(level, hdr);
	return (*out)->out.write((*out)->out.ctx, hdr, sizeof hdr);
}

int gz_writer_new_part(const struct sink *out, int level, const char *what,
    struct gz_writer **w)
{
	return writer_start(out, level, what, 1, w);
}

/* Wait for the oldest block, write it, free its slot. */
static int write_oldest(struct gz_writer *w)
{
	struct gz_slot *sl = &w->ring[w->head];
	int r;

	pthread_mutex_lock(&w->mu);
	while (sl->state != SLOT_DONE)
		pthread_cond_wait(&w->done, &w->mu);
	pthread_mutex_unlock(&w->mu);
	if (sl->err)
		return err_set(ERR_IO, "zlib: compression failed");
	fault_point("gz-write");
	if ((r = w->out.write(w->out.ctx, sl->out, sl->outlen)) != 0)
		return r;
	w->crc = crc32_combine(w->crc, sl->crc, (z_off_t)sl->inlen);
	pthread_mutex_lock(&w->mu);
	sl->state = SLOT_FREE;
	sl->inlen = 0;
	pthread_mutex_unlock(&w->mu);
	w->head = (w->head + 1) % w->nring;
	return 0;
}

/* Hand the filling slot to the workers and move on to the next one. */
static int submit(struct gz_writer *w, int last)
{
	struct gz_slot *sl = &w->ring[w->tail];
	size_t keep;
	int r;

	memcpy(sl->dict, w->dict, w->dictlen);
	sl->dictlen = w->dictlen;
	/* The next block's dictionary: the last 32 KiB of input so far. */
	if (sl->inlen >= GZ_DICT) {
		memcpy(w->dict, sl->in + sl->inlen - GZ_DICT, GZ_DICT);
		w->dictlen = GZ_DICT;
	} else {
		keep = w->dictlen + sl->inlen > GZ_DICT ? GZ_DICT - sl->inlen :
		    w->dictlen;
		memmove(w->dict, w->dict + w->dictlen - keep, keep);
		memcpy(w->dict + keep, sl->in, sl->inlen);
		w->dictlen = keep + sl->inlen;
	}
	pthread_mutex_lock(&w->mu);
	sl->last = last;
	sl->state = SLOT_READY;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	w->tail = (w->tail + 1) % w->nring;
	if (w->tail == w->head && (r = write_oldest(w)) != 0)
		return r;
	return 0;
}

int gz_write(struct gz_writer *w, const void *data, size_t len)
{
	const unsigned char *p = data;
	int r;

	if (w->err)
		return w->err;
	while (len) {
		struct gz_slot *sl = &w->ring[w->tail];
		size_t n = GZ_BLOCK - sl->inlen;
		if (n > len)
			n = len;
		memcpy(sl->in + sl->inlen, p, n);
		sl->inlen += n;
		p += n;
		len -= n;
		w->total_in += n;
		if (sl->inlen == GZ_BLOCK && (r = submit(w, 0)) != 0)
			return w->err = r;
	}
	return 0;
}

int gz_finish(struct gz_writer *w)
{
	unsigned char tr[8];
	int r;

	if (w->err)
		return w->err;
	if ((r = submit(w, 1)) != 0)
		return w->err = r;
	while (w->head != w->tail)
		if ((r = write_oldest(w)) != 0)
			return w->err = r;
	if (w->raw)
		return 0;
	gz_trailer((uint32_t)w->crc, w->total_in, tr);
	return w->out.write(w->out.ctx, tr, sizeof tr);
}

void gz_writer_sum(const struct gz_writer *w, uint32_t *crc, uint64_t *len)
{
	*crc = (uint32_t)w->crc;
	*len = w->total_in;
}

uint32_t gz_crc(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n) {
		uInt k = n > 1u << 30 ? 1u << 30 : (uInt)n;
		crc = (uint32_t)crc32(crc, c, k);
		c += k;
		n -= k;
	}
	return crc;
}

uint32_t gz_crc_combine(uint32_t a, uint32_t b, uint64_t blen)
{
	return (uint32_t)crc32_combine(a, b, (z_off_t)blen);
}

/* Stored blocks hold at most 65535 bytes each, behind 5 bytes (the
 * block's 3 header bits padded to a byte, LEN, NLEN). */
#define STORED_MAX 65535u

uint64_t gz_stored_len(uint64_t n)
{
	return n + 5 * (n ? (n + STORED_MAX - 1) / STORED_MAX : 1);
}

int gz_stored(const struct sink *out, const void *p, size_t n)
{
	const unsigned char *c = p;
	int r;

	do {
		size_t k = n > STORED_MAX ? STORED_MAX : n;
		unsigned char h[5] = { 0, (unsigned char)k, (unsigned char)(k >> 8),
			(unsigned char)~k, (unsigned char)(~k >> 8) };
		if ((r = out->write(out->ctx, h, sizeof h)) != 0 ||
		    (k && (r = out->write(out->ctx, c, k)) != 0))
			return r;
		c += k;
		n -= k;
	} while (n);
	return 0;
}

void gz_writer_free(struct gz_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	for (size_t i = 0; i < w->nring; i++) {
		free(w->ring[i].in);
		free(w->ring[i].out);
	}
	free(w->ring);
	free(w->threads);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->done);
	free(w);
}

int gz_reader_new(const struct source *in, const char *what,
    struct gz_reader **out)
{
	struct gz_reader *r = xcalloc(1, sizeof *r);

	*out = NULL;
	/* windowBits 15 + 16: gzip only, no zlib or raw auto-detection. */
	if (inflateInit2(&r->z, 15 + 16) != Z_OK) {
		free(r);
		return err_set(ERR_NOMEM, "zlib: cannot start decompression");
	}
	r->in_src = *in;
	r->what = what;
	r->in = xmalloc(GZ_CHUNK);
	*out = r;
	return 0;
}

static int fill(struct gz_reader *r)
{
	size_t n;
	int e;

	if ((e = r->in_src.read(r->in_src.ctx, r->in, GZ_CHUNK, &n)) != 0)
		return e;
	r->z.next_in = r->in;
	r->z.avail_in = (uInt)n;
	return 0;
}

/* Exactly the writer's 10 header bytes. Nothing records the level, so XFL
 * may be what any level gives (0, 2 or 4). */
static int check_header(struct gz_reader *r)
{
	static const struct { const char *name; size_t off, len; } f[] = {
		{ "CM", 2, 1 }, { "FLG", 3, 1 }, { "MTIME", 4, 4 },
		{ "XFL", 8, 1 }, { "OS", 9, 1 },
	};
	unsigned char want[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, GZ_OS_UNIX };
	const unsigned char *h = r->z.next_in;

	if (r->z.avail_in < 10 || memcmp(h, want, 2))
		return err_set(ERR_FORMAT, "%s: not a gzip-compressed nodebak "
		    "archive", r->what);
	for (int level = 1; level <= 9; level++)
		if (h[8] == gz_xfl(level))
			want[8] = h[8];
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (memcmp(h + f[i].off, want + f[i].off, f[i].len))
			return err_set(ERR_FORMAT, "%s: gzip header field %s is not "
			    "as nodebak writes it", r->what, f[i].name);
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

static int read_direct(struct gz_reader *r, void *out, size_t cap,
    size_t *got)
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

static void *ra_main(void *arg)
{
	struct gz_reader *r = arg;

	for (;;) {
		size_t got = 0;
		int e;
		pthread_mutex_lock(&r->mu);
		while (r->count == RA_SLOTS && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->stop) {
			r->done = 1;
			pthread_mutex_unlock(&r->mu);
			return NULL;
		}
		pthread_mutex_unlock(&r->mu);
		/* slot[tail] is the producer's alone until count grows. */
		e = read_direct(r, r->slot[r->tail], RA_SIZE, &got);
		pthread_mutex_lock(&r->mu);
		if (e != 0) {
			r->err = e;
			snprintf(r->errmsg, sizeof r->errmsg, "%s", err_msg());
		} else if (got != 0) {
			r->len[r->tail] = got;
			r->tail = (r->tail + 1) % RA_SLOTS;
			r->count++;
		}
		if (e != 0 || got == 0)
			r->done = 1;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		if (e != 0 || got == 0)
			return NULL;
	}
}

int gz_reader_readahead(struct gz_reader *r)
{
	if (r->ra)
		return 0;
	for (int i = 0; i < RA_SLOTS; i++)
		r->slot[i] = xmalloc(RA_SIZE);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (pthread_create(&r->th, NULL, ra_main, r) != 0) {
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cv);
		for (int i = 0; i < RA_SLOTS; i++) {
			free(r->slot[i]);
			r->slot[i] = NULL;
		}
		return 0;		/* without read-ahead: same bytes */
	}
	r->ra = 1;
	return 0;
}

int gz_read(struct gz_reader *r, void *out, size_t cap, size_t *got)
{
	size_t n;

	if (!r->ra)
		return read_direct(r, out, cap, got);
	*got = 0;
	pthread_mutex_lock(&r->mu);
	while (r->count == 0 && !r->done)
		pthread_cond_wait(&r->cv, &r->mu);
	if (r->count == 0) {
		int e = r->err;
		pthread_mutex_unlock(&r->mu);
		return e ? err_set(e, "%s", r->errmsg) : 0;
	}
	pthread_mutex_unlock(&r->mu);
	n = r->len[r->head] - r->pos;
	if (n > cap)
		n = cap;
	memcpy(out, r->slot[r->head] + r->pos, n);
	r->pos += n;
	r->out += n;
	*got = n;
	if (r->pos == r->len[r->head]) {
		pthread_mutex_lock(&r->mu);
		r->head = (r->head + 1) % RA_SLOTS;
		r->count--;
		r->pos = 0;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
	return 0;
}

uint64_t gz_total_out(const struct gz_reader *r)
{
	return r->ra ? r->out : r->z.total_out;
}

void gz_reader_free(struct gz_reader *r)
{
	if (r == NULL)
		return;
	if (r->ra) {
		pthread_mutex_lock(&r->mu);
		r->stop = 1;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->th, NULL);
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cv);
		for (int i = 0; i < RA_SLOTS; i++)
			free(r->slot[i]);
	}
	inflateEnd(&r->z);
	free(r->in);
	free(r);
}

int gz_peek(const void *in, size_t n, void *out, size_t cap, size_t *got)
{
	z_stream z;
	int zr;

	*got = 0;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	zr = inflate(&z, Z_SYNC_FLUSH);
	*got = cap - z.avail_out;
	inflateEnd(&z);
	return zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR ? 0 : -1;
}
