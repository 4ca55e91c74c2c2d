/* bak.c: write and strictly read .bak archives (see bak.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "age.h"
#include "bak.h"
#include "buf.h"
#include "envelope.h"
#include "err.h"
#include "esc.h"
#include "fault.h"
#include "fsutil.h"
#include "gz.h"
#include "ustar.h"
#include "xmalloc.h"
#include "banned.h"

#define IO_CHUNK (1 << 20)

/* The bytes of the age payload on their way to the file: counted and
 * hashed for the ENVELOPE. */
struct payload_out {
	struct fd_stream file;
	uint64_t size;
	struct sha256 *h;
};

struct bak_writer {
	struct archive *a;
	struct gz_writer *gz;
	time_t mtime;
	const char *what;
	int err;		/* first error from the write callback */
	char errmsg[512];
	char *chunk;
	struct fd_stream file;
	/* Sealed (format 2): tar -> gzip -> age -> payload_out -> file. */
	struct age_writer *age;
	struct payload_out po;
	struct age_recipient *rec;
	size_t nrec;
	off_t start;		/* where the payload's tar header goes */
	int finished;
	const struct bak_progress *progress;
	uint64_t pdone, ptotal;
	/* A member with a pax header, written past libarchive (whose pax
	 * writer is not ustar_header()'s): data bytes left, then padding.
	 * A bridge until the writer emits every header through
	 * ustar_header() itself. */
	uint64_t raw_left;
	size_t raw_pad;
	int raw;
};

static int payload_write(void *ctx, const void *p, size_t n)
{
	struct payload_out *po = ctx;

	sha256_update(po->h, p, n);
	po->size += n;
	return fs_write_all(po->file.fd, p, n, po->file.what);
}

static la_ssize_t write_cb(struct archive *a, void *arg, const void *p,
    size_t n)
{
	struct bak_writer *w = arg;
	int r;

	(void)a;
	if ((r = gz_write(w->gz, p, n)) != 0) {
		if (w->err == 0) {
			w->err = r;
			snprintf(w->errmsg, sizeof w->errmsg, "%s", err_msg());
		}
		return -1;
	}
	return (la_ssize_t)n;
}

/* The error of the last libarchive write call, as one of ours. */
static int werr(struct bak_writer *w, const char *path)
{
	if (w->err)
		return err_set(w->err, "%s", w->errmsg);
	return err_set(ERR_IO, "%s: %s: %s", w->what, path,
	    archive_error_string(w->a) ? archive_error_string(w->a) :
	    "archive error");
}

/* With tar 0, the writer takes a gzip file made elsewhere (sealing). */
static int writer_new(int fd, int level, time_t mtime, const char *what,
    const struct age_recipient *rec, size_t nrec, int tar,
    struct bak_writer **out)
{
	struct bak_writer *w = xcalloc(1, sizeof *w);
	struct sink below;
	int r;

	*out = NULL;
	w->mtime = mtime;
	w->what = what;
	w->file.fd = fd;
	w->file.what = what;
	below = FD_SINK(&w->file);
	if (nrec) {
		unsigned char zero[USTAR_BLOCK] = { 0 };
		struct sink ps = { payload_write, &w->po };
		w->po.file = w->file;
		if ((w->po.h = sha256_new()) == NULL) {
			free(w);
			return err_set(ERR_NOMEM, "out of memory");
		}
		w->rec = xcalloc(nrec, sizeof *w->rec);
		memcpy(w->rec, rec, nrec * sizeof *rec);
		w->nrec = nrec;
		/* The payload's tar header is written last, when its size is
		 * known: keep its block. */
		if ((w->start = lseek(fd, 0, SEEK_CUR)) < 0) {
			r = err_sys("%s", what);
			goto fail;
		}
		if ((r = fs_write_all(fd, zero, sizeof zero, what)) != 0 ||
		    (r = age_writer_new(&ps, rec, nrec, &w->age)) != 0)
			goto fail;
		below = (struct sink){ age_sink_write, w->age };
	}
	w->chunk = xmalloc(IO_CHUNK);
	if (!tar) {
		*out = w;
		return 0;
	}
	if ((r = gz_writer_new(&below, level, what, &w->gz)) != 0)
		goto fail;
	w->a = archive_write_new();
	if (w->a == NULL || archive_write_set_format_ustar(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
	    /* Unblocked: what libarchive writes reaches gz_write() at once,
	     * so a pax member's bytes written directly stay in order. */
	    archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK ||
	    archive_write_open(w->a, w, NULL, write_cb, NULL) != ARCHIVE_OK) {
		r = err_set(ERR_IO, "%s: cannot start the archive", what);
		goto fail;
	}
	*out = w;
	return 0;
fail:
	bak_writer_free(w);
	return r;
}

int bak_writer_new(int fd, int level, time_t mtime, const char *what,
    const struct age_recipient *rec, size_t nrec, struct bak_writer **out)
{
	return writer_new(fd, level, mtime, what, rec, nrec, 1, out);
}

int bak_writer_new_sealing(int fd, time_t mtime, const char *what,
    const struct age_recipient *rec, size_t nrec, struct bak_writer **out)
{
	*out = NULL;
	if (nrec == 0)
		return err_set(ERR_INVAL, "%s: sealing needs a recipient", what);
	return writer_new(fd, 0, mtime, what, rec, nrec, 0, out);
}

int bak_writer_add_gzip(struct bak_writer *w, int gzfd)
{
	ssize_t n;
	int r;

	if (w->a || w->age == NULL)
		return err_set(ERR_INVAL, "%s: not a sealing writer", w->what);
	while ((n = read(gzfd, w->chunk, IO_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_sys("read %s", w->what);
		if ((r = age_sink_write(w->age, w->chunk, (size_t)n)) != 0)
			return r;
	}
	return 0;
}

static struct archive_entry *entry(struct bak_writer *w, const char *path,
    unsigned type, unsigned mode, uint64_t size)
{
	struct archive_entry *e = archive_entry_new();

	if (e == NULL)
		return NULL;
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, mode);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, w->mtime, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	return e;
}

/* The end of a member written directly: its padding. */
static int raw_end(struct bak_writer *w)
{
	static const unsigned char zero[USTAR_BLOCK];
	int r;

	if (!w->raw || w->raw_left)
		return 0;
	w->raw = 0;
	if (w->raw_pad && (r = gz_write(w->gz, zero, w->raw_pad)) != 0)
		return r;
	return 0;
}

static int add_header(struct bak_writer *w, const char *path, unsigned type,
    unsigned mode, uint64_t size)
{
	struct archive_entry *e;
	unsigned char h[USTAR_HDR_MAX];
	size_t len;
	int r = 0;

	if (w->raw)
		return err_set(ERR_INVAL, "%s: %s: the previous member is short",
		    w->what, path);
	if (ustar_header(h, sizeof h, &len, path, type == AE_IFDIR, mode, size,
	    w->mtime) != 0)
		return err_set(ERR_TOOBIG, "%s: %s: cannot be stored (path longer "
		    "than %d bytes?)", w->what, esc(path), USTAR_PATH_MAX);
	if (len > USTAR_BLOCK) {
		/* A pax header: written as ustar_header() makes it, after
		 * libarchive's previous member and its padding. */
		if (archive_write_finish_entry(w->a) != ARCHIVE_OK)
			return werr(w, path);
		if ((r = gz_write(w->gz, h, len)) != 0)
			return r;
		w->raw = 1;
		w->raw_left = type == AE_IFDIR ? 0 : size;
		w->raw_pad = (USTAR_BLOCK - w->raw_left % USTAR_BLOCK) % USTAR_BLOCK;
		return raw_end(w);
	}
	if ((e = entry(w, path, type, mode, size)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		r = werr(w, path);
	archive_entry_free(e);
	return r;
}

static int add_bytes(struct bak_writer *w, const char *path, const void *p,
    size_t n)
{
	const char *c = p;
	int r;

	if (w->raw) {
		if (n > w->raw_left)
			return err_set(ERR_IO, "%s: %s: more data than its size",
			    w->what, path);
		if ((r = gz_write(w->gz, p, n)) != 0)
			return r;
		w->raw_left -= n;
		return raw_end(w);
	}
	while (n) {
		la_ssize_t k = archive_write_data(w->a, c, n);
		if (k <= 0)
			return werr(w, path);
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

int bak_writer_add_data(struct bak_writer *w, const char *path, unsigned mode,
    const void *data, size_t len)
{
	int r;

	if ((r = add_header(w, path, AE_IFREG, mode, len)) != 0)
		return r;
	return add_bytes(w, path, data, len);
}

int bak_writer_add_dir(struct bak_writer *w, const char *path, unsigned mode)
{
	return add_header(w, path, AE_IFDIR, mode, 0);
}

int bak_writer_add_file(struct bak_writer *w, const char *path, unsigned mode,
    const char *src, uint64_t size)
{
	uint64_t done = 0;
	ssize_t n;
	int fd, r;

	if ((fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return err_sys("%s", src);
	if ((r = add_header(w, path, AE_IFREG, mode, size)) != 0)
		goto out;
	while ((n = read(fd, w->chunk, IO_CHUNK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = err_sys("read %s", src);
			goto out;
		}
		if (done + (uint64_t)n > size)
			break;
		if ((r = add_bytes(w, path, w->chunk, (size_t)n)) != 0)
			goto out;
		done += (uint64_t)n;
		w->pdone += (uint64_t)n;
		if (w->progress)
			w->progress->fn(w->progress->ctx, w->pdone, w->ptotal);
	}
	if (done != size)
		r = err_set(ERR_IO, "%s: changed size while being archived", src);
out:
	close(fd);
	return r;
}

void bak_writer_set_progress(struct bak_writer *w,
    const struct bak_progress *p, uint64_t total)
{
	w->progress = p && p->fn ? p : NULL;
	w->pdone = 0;
	w->ptotal = total;
}

int bak_writer_finish(struct bak_writer *w)
{
	int r;

	if (w->raw)
		return err_set(ERR_IO, "%s: the last member is short", w->what);
	if (w->a && archive_write_close(w->a) != ARCHIVE_OK)
		return werr(w, "end of archive");
	if (w->gz && (r = gz_finish(w->gz)) != 0)
		return r;
	if (w->age && (r = age_finish(w->age)) != 0)
		return r;
	w->finished = 1;
	return 0;
}

int bak_writer_sealed(const struct bak_writer *w)
{
	return w->age != NULL;
}

/* Write a small member (header, content, padding) of the sealed tar. */
static int outer_member(struct bak_writer *w, const char *path, unsigned mode,
    const void *p, size_t len)
{
	unsigned char h[USTAR_BLOCK], zero[USTAR_BLOCK] = { 0 };
	int r;

	if (ustar_format(h, path, 0, mode, len, w->mtime) != 0)
		return err_set(ERR_TOOBIG, "%s: %s too large", w->what, path);
	if ((r = fs_write_all(w->file.fd, h, sizeof h, w->what)) != 0 ||
	    (r = fs_write_all(w->file.fd, p, len, w->what)) != 0)
		return r;
	return fs_write_all(w->file.fd, zero, (USTAR_BLOCK - len % USTAR_BLOCK) %
	    USTAR_BLOCK, w->what);
}

/* Move the payload, written after one reserved block at w->start, by
 * delta bytes towards the end of the file, from its end backwards: room
 * for the pax header a payload above 8 GiB - 1 needs (docs/bak-format.md,
 * "Container"). Leaves the file offset after the moved payload. */
static int shift_payload(struct bak_writer *w, uint64_t size, size_t delta)
{
	off_t from = w->start + USTAR_BLOCK;
	uint64_t left = size;
	ssize_t n;

	while (left) {
		size_t k = left < IO_CHUNK ? (size_t)left : IO_CHUNK;
		off_t at = from + (off_t)(left - k);
		do
			n = pread(w->file.fd, w->chunk, k, at);
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)k)
			return n < 0 ? err_sys("read %s", w->what) :
			    err_set(ERR_IO, "read %s: short read", w->what);
		for (size_t done = 0; done < k; done += (size_t)n) {
			n = pwrite(w->file.fd, w->chunk + done, k - done,
			    at + (off_t)delta + (off_t)done);
			if (n < 0 && errno == EINTR)
				n = 0;
			else if (n <= 0)
				return n < 0 ? err_sys("write %s", w->what) :
				    err_set(ERR_IO, "write %s: short write", w->what);
		}
		left -= k;
	}
	if (lseek(w->file.fd, from + (off_t)delta + (off_t)size, SEEK_SET) < 0)
		return err_sys("%s", w->what);
	return 0;
}

int bak_writer_seal(struct bak_writer *w, const struct sigkey *k,
    const struct manifest *mf, const char *mtext, size_t mlen)
{
	struct buf etext = BUF_INIT(ENVELOPE_MAX_BYTES);
	struct buf stext = BUF_INIT(BAK_SIG_MAX);
	struct envelope *e = xcalloc(1, sizeof *e);
	unsigned char h[USTAR_HDR_MAX], zero[2 * USTAR_BLOCK] = { 0 };
	struct sha256 *mh = sha256_new();
	size_t hlen;
	ssize_t n;
	int r;

	if (!w->finished || w->age == NULL || mh == NULL) {
		r = err_set(ERR_INVAL, "%s: nothing to seal", w->what);
		goto out;
	}
	envelope_from_manifest(e, mf);
	sha256_update(mh, mtext, mlen);
	sha256_final_hex(mh, e->manifest_sha256);
	mh = NULL;
	e->payload_size = w->po.size;
	sha256_final_hex(w->po.h, e->payload_sha256);
	w->po.h = NULL;
	e->nrec = w->nrec;
	memcpy(e->rec, w->rec, w->nrec * sizeof *w->rec);
	/* One block when the payload is below 8 GiB, else a pax header too
	 * (and the payload moves up to make room for it). */
	if (ustar_header(h, sizeof h, &hlen, BAK_PAYLOAD, 0, 0600,
	    e->payload_size, w->mtime) != 0 || e->payload_size > MANIFEST_SIZE_MAX) {
		r = err_set(ERR_TOOBIG, "%s: the encrypted payload is %llu bytes, "
		    "more than format 2 holds", w->what,
		    (unsigned long long)e->payload_size);
		goto out;
	}
	if ((r = envelope_format(e, &etext)) != 0 ||
	    (r = bak_sign_text(k, ENVELOPE_SIG_DOMAIN, etext.p, etext.len,
	    &stext)) != 0)
		goto out;
	if (hlen > USTAR_BLOCK && (r = shift_payload(w, e->payload_size,
	    hlen - USTAR_BLOCK)) != 0)
		goto out;
	if ((r = fs_write_all(w->file.fd, zero, (USTAR_BLOCK - e->payload_size %
	    USTAR_BLOCK) % USTAR_BLOCK, w->what)) != 0 ||
	    (r = outer_member(w, BAK_ENVELOPE, 0644, etext.p, etext.len)) != 0 ||
	    (r = outer_member(w, BAK_ENVELOPE_SIG, 0644, stext.p, stext.len)) != 0 ||
	    (r = fs_write_all(w->file.fd, zero, sizeof zero, w->what)) != 0)
		goto out;
	do
		n = pwrite(w->file.fd, h, hlen, w->start);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)hlen)
		r = n < 0 ? err_sys("write %s", w->what) :
		    err_set(ERR_IO, "write %s: short write", w->what);
out:
	if (mh)
		sha256_final_hex(mh, e->manifest_sha256);
	free(e);
	buf_free(&etext);
	buf_free(&stext);
	return r;
}

void bak_writer_free(struct bak_writer *w)
{
	if (w == NULL)
		return;
	if (w->a)
		archive_write_free(w->a);
	gz_writer_free(w->gz);
	age_writer_free(w->age);
	if (w->po.h) {
		char discard[SHA256_HEX_LEN + 1];
		sha256_final_hex(w->po.h, discard);
	}
	free(w->rec);
	free(w->chunk);
	free(w);
}

int bak_sign_text(const struct sigkey *k, const char *domain,
    const char *text, size_t len, struct buf *sigtext)
{
	struct buf msg = BUF_INIT(MANIFEST_MAX_BYTES + 64);
	unsigned char sig[SIG_LEN];
	char hex[2 * SIG_LEN + 1];
	int r;

	if ((r = buf_add(&msg, domain, strlen(domain) + 1)) != 0 ||
	    (r = buf_add(&msg, text, len)) != 0 ||
	    (r = sigkey_sign(k, msg.p, msg.len, sig)) != 0)
		goto out;
	hex_encode(sig, SIG_LEN, hex);
	r = buf_addf(sigtext, "nodebak-signature 1\nkey-id %s\nalgorithm ed25519\n"
	    "signature %s\n", sigkey_id(k), hex);
out:
	buf_free(&msg);
	return r;
}

int bak_sign(const struct sigkey *k, const char *manifest, size_t len,
    struct buf *sigtext)
{
	return bak_sign_text(k, BAK_SIG_DOMAIN, manifest, len, sigtext);
}

/* Parse MANIFEST.sig: exactly the four lines bak_sign() writes. */
static int sig_parse(const char *name, const char *text, size_t len,
    char keyid[KEYID_HEX_LEN + 1], unsigned char sig[SIG_LEN])
{
	char hexsig[2 * SIG_LEN + 1], kid[KEYID_HEX_LEN + 1], canon[BAK_SIG_MAX];
	char t[BAK_SIG_MAX];
	unsigned char raw[KEYID_HEX_LEN / 2];
	int n;

	if (len == 0 || len >= sizeof t)
		return err_set(ERR_FORMAT, "%s has a bad size", name);
	memcpy(t, text, len);
	t[len] = '\0';
	if (strlen(t) != len ||
	    sscanf(t, "nodebak-signature 1\nkey-id %16s\nalgorithm ed25519\n"
	    "signature %128s\n", kid, hexsig) != 2 ||
	    hex_decode(kid, raw, sizeof raw) != 0 ||
	    hex_decode(hexsig, sig, SIG_LEN) != 0)
		return err_set(ERR_FORMAT, "%s is malformed", name);
	n = snprintf(canon, sizeof canon, "nodebak-signature 1\nkey-id %s\n"
	    "algorithm ed25519\nsignature %s\n", kid, hexsig);
	if ((size_t)n != len || memcmp(canon, t, len))
		return err_set(ERR_FORMAT, "%s is malformed", name);
	memcpy(keyid, kid, KEYID_HEX_LEN + 1);
	return 0;
}

/* Reading. */
struct reader {
	struct archive *a;
	struct gz_reader *gz;
	const char *path;
	char *in;		/* decompressed tar bytes handed to libarchive */
	struct ustar_stream us;	/* checks them first */
	int err;
	char errmsg[512];
	char *chunk;
};

/* The next decompressed bytes into rd->in, checked against the tar stream
 * the writer produces before anything parses them (libarchive would take
 * GNU and pax records, types 7 and NUL, loose numbers and ignore unused
 * fields and padding). *got = 0 at the end of the stream. */
static int next_bytes(struct reader *rd, size_t *got)
{
	int r;

	if ((r = gz_read(rd->gz, rd->in, IO_CHUNK, got)) != 0)
		return r;
	return *got ? ustar_stream_feed(&rd->us, rd->in, *got) :
	    ustar_stream_end(&rd->us);
}

static la_ssize_t read_cb(struct archive *a, void *arg, const void **p)
{
	struct reader *rd = arg;
	size_t got = 0;
	int r;

	(void)a;
	if ((r = next_bytes(rd, &got)) != 0) {
		rd->err = r;
		snprintf(rd->errmsg, sizeof rd->errmsg, "%s", err_msg());
		return -1;
	}
	*p = rd->in;
	return (la_ssize_t)got;
}

static int rerr(struct reader *rd, const char *what)
{
	if (rd->err)
		return err_set(rd->err, "%s", rd->errmsg);
	return err_set(ERR_FORMAT, "%s: %s: %s", rd->path, esc(what),
	    archive_error_string(rd->a) ? esc(archive_error_string(rd->a)) :
	    "unreadable archive");
}

/* Read the gzip stream from src. */
static int reader_open(struct reader *rd, const char *path,
    const struct source *src, int ahead)
{
	int r;

	memset(rd, 0, sizeof *rd);
	rd->path = path;
	ustar_stream_init(&rd->us, path);
	if ((r = gz_reader_new(src, path, &rd->gz)) != 0 ||
	    (ahead && (r = gz_reader_readahead(rd->gz)) != 0))
		return r;
	rd->in = xmalloc(IO_CHUNK);
	rd->chunk = xmalloc(IO_CHUNK);
	/* The tar reader only: no other format, no libarchive filter (the
	 * gzip layer is gz.c, which accepts exactly one gzip member). */
	rd->a = archive_read_new();
	if (rd->a == NULL || archive_read_support_format_tar(rd->a) != ARCHIVE_OK ||
	    archive_read_open(rd->a, rd, NULL, read_cb, NULL) != ARCHIVE_OK)
		return rerr(rd, "cannot open");
	return 0;
}

static void reader_close(struct reader *rd)
{
	if (rd->a)
		archive_read_free(rd->a);
	gz_reader_free(rd->gz);
	free(rd->in);
	free(rd->chunk);
}

static const char *type_name(unsigned type)
{
	switch (type) {
	case AE_IFLNK: return "a symbolic link";
	case AE_IFCHR: return "a character device";
	case AE_IFBLK: return "a block device";
	case AE_IFIFO: return "a FIFO";
	case AE_IFSOCK: return "a socket";
	}
	return "not a regular file or folder";
}

/* Next header, which must be a plain ustar entry of a regular file or a
 * folder; *pathp is its path without a folder's trailing slash. */
static int next_header(struct reader *rd, struct archive_entry **ep,
    char *path, size_t pathsz, int *eof)
{
	const char *p;
	size_t n;
	int r;

	*eof = 0;
	r = archive_read_next_header(rd->a, ep);
	if (r == ARCHIVE_EOF) {
		*eof = 1;
		return 0;
	}
	/* libarchive warns when a pax path is not UTF-8 it can convert to
	 * the locale's charset, and keeps its bytes as they are: those are
	 * what the MANIFEST lists. The checker let only our headers by, so
	 * that is the only warning they can raise. */
	if (r != ARCHIVE_OK && !(r == ARCHIVE_WARN &&
	    archive_format(rd->a) == ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE))
		return rerr(rd, "bad member header");
	/* pax: only the headers ustar_header() writes got past the ustar
	 * checker. */
	if (archive_format(rd->a) != ARCHIVE_FORMAT_TAR_USTAR &&
	    archive_format(rd->a) != ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE)
		return err_set(ERR_FORMAT, "%s: tar variant %s is not the ustar "
		    "format nodebak writes", rd->path,
		    archive_format_name(rd->a));
	p = archive_entry_pathname(*ep);
	if (p == NULL || (n = strlen(p)) == 0 || n >= pathsz)
		return err_set(ERR_FORMAT, "%s: member with a bad path", rd->path);
	memcpy(path, p, n + 1);
	if (archive_entry_hardlink(*ep) != NULL)
		return err_set(ERR_FORMAT, "%s: member %s is a hard link", rd->path,
		    esc(path));
	if (archive_entry_filetype(*ep) == AE_IFDIR && n > 1 && path[n - 1] == '/')
		path[n - 1] = '\0';
	if (archive_entry_filetype(*ep) != AE_IFREG &&
	    archive_entry_filetype(*ep) != AE_IFDIR)
		return err_set(ERR_FORMAT, "%s: member %s is %s", rd->path, esc(path),
		    type_name(archive_entry_filetype(*ep)));
	if (archive_entry_uid(*ep) != 0 || archive_entry_gid(*ep) != 0 ||
	    (archive_entry_uname(*ep) && *archive_entry_uname(*ep)) ||
	    (archive_entry_gname(*ep) && *archive_entry_gname(*ep)))
		return err_set(ERR_FORMAT, "%s: member %s has an owner nodebak "
		    "never writes", rd->path, esc(path));
	return 0;
}

/* Read the whole content of a small member (MANIFEST, MANIFEST.sig). */
static int read_small(struct reader *rd, struct archive_entry *e,
    const char *name, size_t max, struct buf *b)
{
	la_int64_t size = archive_entry_size(e);
	la_ssize_t n;
	int r;

	if (archive_entry_filetype(e) != AE_IFREG || size < 0 ||
	    (uint64_t)size > max)
		return err_set(ERR_FORMAT, "%s: %s is missing, not a file or too "
		    "large", rd->path, name);
	while ((n = archive_read_data(rd->a, rd->chunk, IO_CHUNK)) > 0)
		if ((r = buf_add(b, rd->chunk, (size_t)n)) != 0)
			return err_set(ERR_FORMAT, "%s: %s is too large", rd->path,
			    name);
	if (n < 0)
		return rerr(rd, name);
	if (b->len != (size_t)size)
		return err_set(ERR_FORMAT, "%s: %s is truncated", rd->path, name);
	return 0;
}

static int top_ok(const char *path)
{
	static const char *const tops[] = { "db/", "config/", "cluster/",
		"files/" };

	for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++)
		if (!strncmp(path, tops[i], strlen(tops[i])))
			return 1;
	return 0;
}

static int open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how;

	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW);
	how.mode = mode;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* Create the staging layout's top folders. */
static int stage_tops(int stage_fd)
{
	static const char *const tops[] = { "db", "config", "cluster", "files" };

	for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++)
		if (mkdirat(stage_fd, tops[i], 0700) != 0)
			return err_sys("staging: mkdir %s", tops[i]);
	return 0;
}

/* A files/ member the writer can produce (docs/bak-format.md): not the
 * backups folder or anything in it, no name starting with '.', none ending
 * in .bak (as snapshot_is_node_file() chooses them). Restored, such a
 * member would replace or delete the node's archives. */
static int files_member_ok(const char *path)
{
	const char *c = path + 6;

	if (!strcmp(c, "backups") || !strncmp(c, "backups/", 8))
		return 0;
	while (*c) {
		const char *e = strchr(c, '/');
		size_t len = e ? (size_t)(e - c) : strlen(c);
		if (c[0] == '.' || (len >= 4 && !memcmp(c + len - 4, ".bak", 4)))
			return 0;
		c += len + (e ? 1 : 0);
	}
	return 1;
}

/* Check the manifest's member list makes sense as a node layout: known
 * top folders; only names the writer produces under files/; every parent
 * of a member is a top folder or a listed folder. */
static int check_layout(const struct manifest *mf, const char *path)
{
	for (size_t i = 0; i < mf->n; i++) {
		const char *p = mf->m[i].path, *slash = strrchr(p, '/');
		char parent[MANIFEST_PATH_MAX + 1];
		long j;

		if (!top_ok(p) || slash == NULL)
			return err_set(ERR_FORMAT, "%s: member %s is outside the "
			    "node layout (db/, config/, cluster/, files/)", path, esc(p));
		if (!strncmp(p, "files/", 6) && !files_member_ok(p))
			return err_set(ERR_FORMAT, "%s: member %s is a name nodebak never "
			    "writes (the backups folder, dot-files and .bak archives "
			    "stay out of archives)", path, esc(p));
		memcpy(parent, p, (size_t)(slash - p));
		parent[slash - p] = '\0';
		if (strchr(parent, '/') == NULL)
			continue;
		j = manifest_find(mf, parent);
		if (j < 0 || !mf->m[j].is_dir)
			return err_set(ERR_FORMAT, "%s: member %s has no folder %s "
			    "listed", path, esc(p), esc(parent));
	}
	return 0;
}

static int read_member(struct reader *rd, const struct mf_member *m,
    int stage_fd)
{
	struct sha256 *h = NULL;
	char hex[SHA256_HEX_LEN + 1];
	uint64_t done = 0, flushed = 0;
	la_ssize_t n;
	int fd = -1, r = 0;

	if (m->is_dir) {
		if (stage_fd >= 0 && mkdirat(stage_fd, m->path, 0700) != 0)
			return err_sys("staging: mkdir %s", esc(m->path));
		return 0;
	}
	if (stage_fd >= 0 && (fd = open_beneath(stage_fd, m->path,
	    O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
		return err_sys("staging: create %s", esc(m->path));
	if ((h = sha256_new()) == NULL) {
		r = err_set(ERR_CRYPTO, "SHA-256 unavailable");
		goto out;
	}
	while ((n = archive_read_data(rd->a, rd->chunk, IO_CHUNK)) > 0) {
		done += (uint64_t)n;
		if (done > m->size) {
			r = err_set(ERR_MISMATCH, "%s: member %s is larger than the "
			    "MANIFEST says", rd->path, esc(m->path));
			goto out;
		}
		sha256_update(h, rd->chunk, (size_t)n);
		if (fd >= 0 && (r = fs_write_all(fd, rd->chunk, (size_t)n,
		    m->path)) != 0)
			goto out;
		/* The disk writes while the archive is decompressed, not
		 * all at the fsync below. */
		if (fd >= 0 && done - flushed >= FS_WRITEBACK_CHUNK) {
			fs_writeback(fd, (off_t)flushed, (off_t)(done - flushed));
			flushed = done;
		}
	}
	if (n < 0) {
		r = rerr(rd, m->path);
		goto out;
	}
	if (done != m->size) {
		r = err_set(ERR_MISMATCH, "%s: member %s is %llu bytes, the MANIFEST "
		    "says %llu", rd->path, esc(m->path), (unsigned long long)done,
		    (unsigned long long)m->size);
		goto out;
	}
	sha256_final_hex(h, hex);
	h = NULL;
	if (strcmp(hex, m->sha256)) {
		r = err_set(ERR_MISMATCH, "%s: member %s: SHA-256 does not match "
		    "the MANIFEST", rd->path, esc(m->path));
		goto out;
	}
	if (fd >= 0) {
		fault_point("stage-member");
		if (fsync(fd) != 0)
			r = err_sys("fsync %s", esc(m->path));
	}
out:
	if (h)
		sha256_final_hex(h, hex);
	if (fd >= 0)
		close(fd);
	return r;
}

static uint64_t tar_size(uint64_t size)
{
	return 512 + ((size + 511) / 512) * 512;
}

/* A member's headers (ustar, or pax and ustar) and its padded data. */
static uint64_t member_tar_size(const struct mf_member *m)
{
	unsigned char h[USTAR_HDR_MAX];
	size_t len = USTAR_BLOCK;

	if (ustar_header(h, sizeof h, &len, m->path, m->is_dir, m->mode, m->size,
	    0) != 0)
		len = USTAR_BLOCK;	/* the checker refused such a header */
	return tar_size(m->size) - USTAR_BLOCK + len;
}

/* After the end of the tar stream: next_bytes() refuses any byte after
 * the end-of-archive marker (zeros too: a few MiB of gzip can inflate to
 * gigabytes of them) and an end without one; the stream must also be as
 * long as the MANIFEST's members make it. */
static int check_tail(struct reader *rd, uint64_t expect)
{
	size_t got;
	int r;

	do
		if ((r = next_bytes(rd, &got)) != 0)
			return r;
	while (got != 0);
	if (gz_total_out(rd->gz) != expect)
		return err_set(ERR_FORMAT, "%s: archive is %llu bytes long "
		    "uncompressed, its members make %llu", rd->path,
		    (unsigned long long)gz_total_out(rd->gz),
		    (unsigned long long)expect);
	return 0;
}

const struct sigkey *bak_key_only(void *arg, const char *keyid)
{
	const struct sigkey *k = arg;

	return strcmp(sigkey_id(k), keyid) ? NULL : k;
}

/* Format 1 (and the payload of format 2): gzip(ustar(MANIFEST,
 * MANIFEST.sig, members)) from src. mhash gets the MANIFEST's SHA-256.
 * ahead: src is a file's, decompressed in a thread ahead of the checks
 * and writes (gz_reader_readahead()). */
static int read_plain(const struct source *src, int ahead, const char *path,
    const struct bak_keys *k, const struct bak_limits *lim, int stage_fd,
    struct manifest *mf, char mhash[SHA256_HEX_LEN + 1])
{
	struct buf mtext = BUF_INIT(MANIFEST_MAX_BYTES);
	struct buf stext = BUF_INIT(BAK_SIG_MAX);
	struct buf msg = BUF_INIT(MANIFEST_MAX_BYTES + 64);
	struct archive_entry *e;
	struct reader rd;
	char keyid[KEYID_HEX_LEN + 1], name[MANIFEST_PATH_MAX + 2];
	unsigned char sig[SIG_LEN];
	const struct sigkey *key;
	time_t mtimes[2];
	uint64_t expect;
	size_t i = 0;
	int r, eof;

	manifest_init(mf);
	if ((r = reader_open(&rd, path, src, ahead)) != 0)
		goto out;
	/* 1. MANIFEST and MANIFEST.sig, first and in that order. */
	if ((r = next_header(&rd, &e, name, sizeof name, &eof)) != 0)
		goto out;
	if (eof || strcmp(name, "MANIFEST")) {
		r = err_set(ERR_FORMAT, "%s: first member is not MANIFEST", path);
		goto out;
	}
	mtimes[0] = archive_entry_mtime(e);
	if ((r = read_small(&rd, e, "MANIFEST", MANIFEST_MAX_BYTES, &mtext)) ||
	    (r = next_header(&rd, &e, name, sizeof name, &eof)))
		goto out;
	if (eof || strcmp(name, "MANIFEST.sig")) {
		r = err_set(ERR_FORMAT, "%s: second member is not MANIFEST.sig",
		    path);
		goto out;
	}
	mtimes[1] = archive_entry_mtime(e);
	if ((r = read_small(&rd, e, "MANIFEST.sig", BAK_SIG_MAX, &stext)) ||
	    (r = sig_parse("MANIFEST.sig", stext.p, stext.len, keyid, sig)))
		goto out;
	/* 2. The signature, before any field of the MANIFEST is believed. */
	if ((key = k->lookup(k->arg, keyid)) == NULL) {
		r = err_set(ERR_UNTRUSTED, "%s: signed by key %s, which this node "
		    "does not trust (nodebak key trust FILE)", path, keyid);
		goto out;
	}
	if ((r = buf_add(&msg, BAK_SIG_DOMAIN, sizeof BAK_SIG_DOMAIN)) ||
	    (r = buf_add(&msg, mtext.p, mtext.len)))
		goto out;
	if ((r = sigkey_verify(key, msg.p, msg.len, sig)) != 0) {
		r = err_prefix(r, "%s", path);
		goto out;
	}
	{
		struct sha256 *h = sha256_new();
		if (h == NULL) {
			r = err_set(ERR_NOMEM, "out of memory");
			goto out;
		}
		sha256_update(h, mtext.p, mtext.len);
		sha256_final_hex(h, mhash);
	}
	if ((r = manifest_parse(mtext.p, mtext.len, lim->max_members, mf)) != 0) {
		r = err_prefix(r, "%s", path);
		goto out;
	}
	if (strcmp(mf->key_id, keyid) || mtimes[0] != mf->created ||
	    mtimes[1] != mf->created) {
		r = err_set(ERR_FORMAT, "%s: MANIFEST key id or time does not match "
		    "the archive", path);
		goto out;
	}
	if (manifest_total(mf) > lim->max_bytes) {
		r = err_set(ERR_TOOBIG, "%s: members total %llu bytes, more than the "
		    "limit of %llu", path, (unsigned long long)manifest_total(mf),
		    (unsigned long long)lim->max_bytes);
		goto out;
	}
	if ((r = check_layout(mf, path)) != 0)
		goto out;
	if (stage_fd >= 0 && (r = stage_tops(stage_fd)) != 0)
		goto out;
	/* 3. Every member, in MANIFEST order, nothing else. */
	expect = tar_size(mtext.len) + tar_size(stext.len) + 1024;
	for (;;) {
		const struct mf_member *m;
		if ((r = next_header(&rd, &e, name, sizeof name, &eof)) != 0)
			goto out;
		if (eof)
			break;
		m = i < mf->n ? &mf->m[i] : NULL;
		if (m == NULL || strcmp(name, m->path)) {
			r = err_set(ERR_FORMAT, "%s: member %s %s", path, esc(name),
			    manifest_find(mf, name) < 0 ? "is not in the MANIFEST" :
			    "is repeated or out of order");
			goto out;
		}
		if ((archive_entry_filetype(e) == AE_IFDIR) != m->is_dir ||
		    (archive_entry_perm(e) & 07777) != m->mode ||
		    archive_entry_mtime(e) != mf->created ||
		    (uint64_t)archive_entry_size(e) != m->size) {
			r = err_set(ERR_MISMATCH, "%s: member %s: type, mode, time or "
			    "size differs from the MANIFEST", path, esc(name));
			goto out;
		}
		if ((r = read_member(&rd, m, stage_fd)) != 0)
			goto out;
		expect += member_tar_size(m);
		i++;
	}
	if (i != mf->n) {
		r = err_set(ERR_FORMAT, "%s: member %s is missing (archive "
		    "truncated?)", path, esc(mf->m[i].path));
		goto out;
	}
	if ((r = check_tail(&rd, expect)) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		manifest_free(mf);
	reader_close(&rd);
	buf_free(&mtext);
	buf_free(&stext);
	buf_free(&msg);
	return r;
}

/* The file being read. Bytes sniffed to tell the format are served again
 * first; a sealed archive's bytes all go through the ustar checker. */
struct outer {
	struct fd_stream fd;
	unsigned char pre[USTAR_HDR_MAX];	/* the payload's headers at most */
	size_t prelen, prepos;
	struct ustar_stream us;
	int check;
	const struct bak_progress *progress;
	uint64_t done, total;	/* bytes of the file read, its size */
	int ahead;		/* a regular file: decompress ahead */
};

static int outer_read(void *ctx, void *p, size_t cap, size_t *got)
{
	struct outer *o = ctx;
	int r;

	if (o->prepos < o->prelen) {
		size_t n = o->prelen - o->prepos;
		if (n > cap)
			n = cap;
		memcpy(p, o->pre + o->prepos, n);
		o->prepos += n;
		*got = n;
		return 0;
	}
	if ((r = fd_source_read(&o->fd, p, cap, got)) != 0)
		return r;
	o->done += *got;
	if (o->progress && *got)
		o->progress->fn(o->progress->ctx, o->done, o->total);
	if (o->check)
		return *got ? ustar_stream_feed(&o->us, p, *got) :
		    ustar_stream_end(&o->us);
	return 0;
}

/* The age payload of a sealed archive: exactly its tar size, hashed. */
struct payload_in {
	struct outer *o;
	uint64_t left;
	struct sha256 *h;
	const char *path;
};

static int payload_read(void *ctx, void *p, size_t cap, size_t *got)
{
	struct payload_in *pi = ctx;
	int r;

	*got = 0;
	if (pi->left == 0)
		return 0;
	if (cap > pi->left)
		cap = (size_t)pi->left;
	if ((r = outer_read(pi->o, p, cap, got)) != 0)
		return r;
	if (*got == 0)
		return err_set(ERR_FORMAT, "%s: the encrypted payload is cut short "
		    "(%llu bytes missing)", pi->path, (unsigned long long)pi->left);
	sha256_update(pi->h, p, *got);
	pi->left -= *got;
	return 0;
}

static int drain(struct payload_in *pi)
{
	char *tmp = xmalloc(IO_CHUNK);
	size_t got;
	int r;

	do
		r = payload_read(pi, tmp, IO_CHUNK, &got);
	while (r == 0 && got);
	free(tmp);
	return r;
}

/* One small member of a sealed archive's tail at *off in t: its header
 * (already checked byte for byte by the ustar checker) must name want. */
static int tail_member(const char *path, const struct buf *t, size_t *off,
    const char *want, size_t max, time_t *mtime, const char **p, size_t *len)
{
	struct ustar_hdr h;

	if (t->len < *off + USTAR_BLOCK ||
	    ustar_check((const unsigned char *)t->p + *off, &h) != NULL ||
	    strcmp(h.path, want) || h.is_dir || h.mode != 0644 || h.size > max ||
	    t->len < *off + USTAR_BLOCK + h.size)
		return err_set(ERR_FORMAT, "%s: %s is missing, misplaced or too "
		    "large", path, want);
	*mtime = (time_t)h.mtime;
	*p = t->p + *off + USTAR_BLOCK;
	*len = (size_t)h.size;
	*off += USTAR_BLOCK + ((size_t)h.size + USTAR_BLOCK - 1) / USTAR_BLOCK *
	    USTAR_BLOCK;
	return 0;
}

/* Format 2: ustar(payload.age, ENVELOPE, ENVELOPE.sig). The payload is
 * hashed as it passes; when an identity opens it, it is decrypted and
 * read as format 1 on the way (members to stage_fd). Then the ENVELOPE's
 * signature, the payload's size and hash, and the inside's agreement with
 * the ENVELOPE are checked: nothing is believed before that returns 0. */
static int read_sealed(struct outer *o, const char *path,
    const struct bak_keys *k, const struct bak_limits *lim, int stage_fd,
    struct manifest *mf, struct bak_seal *seal)
{
	struct payload_in pi = { o, 0, NULL, path };
	struct source ps = { payload_read, &pi };
	struct buf tail = BUF_INIT(2 * ENVELOPE_MAX_BYTES);
	struct buf msg = BUF_INIT(ENVELOPE_MAX_BYTES + 64);
	struct age_reader *ar = NULL;
	struct ustar_hdr h;
	struct envelope *e = &seal->env;
	const struct sigkey *key;
	const char *etext, *stext, *why;
	char mhash[SHA256_HEX_LEN + 1] = "", psha[SHA256_HEX_LEN + 1];
	char keyid[KEYID_HEX_LEN + 1], *tmp = NULL;
	unsigned char sig[SIG_LEN];
	size_t elen, slen, off, got, used;
	time_t et, st;
	int r, opened = 0;

	manifest_init(mf);
	/* The payload's headers (a pax header first when it is larger than
	 * 8 GiB - 1) are at the start of the bytes already read. */
	if ((why = ustar_parse(o->pre, o->prelen, &h, &used)) != NULL ||
	    strcmp(h.path, BAK_PAYLOAD) || h.is_dir || h.mode != 0600)
		return err_set(ERR_FORMAT, "%s: not a gzip-compressed archive "
		    "(format 1), a sealed one (format 2: a tar whose first member "
		    "is " BAK_PAYLOAD ") or an age file", path);
	ustar_stream_init(&o->us, path);
	if ((r = ustar_stream_feed(&o->us, o->pre, o->prelen)) != 0)
		return r;
	o->prepos = used;	/* the payload's first bytes are served again */
	o->check = 1;
	pi.left = h.size;
	if ((pi.h = sha256_new()) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (k->nids) {
		r = age_reader_new(&ps, k->ids, k->nids, path, &ar);
		if (r == 0) {
			struct source as = { age_source_read, ar };
			if ((r = read_plain(&as, o->ahead, path, k, lim, stage_fd,
			    mf, mhash)) != 0)
				goto out;
			/* The gzip reader saw the end of the age stream, which
			 * saw the end of the payload. */
			if (pi.left != 0) {
				r = err_set(ERR_FORMAT, "%s: bytes follow the encrypted "
				    "payload", path);
				goto out;
			}
			opened = 1;
		} else if (r != ERR_NOKEY || stage_fd >= 0) {
			goto out;
		}
	} else if (stage_fd >= 0) {
		r = err_set(ERR_NOKEY, "%s: encrypted, and no identity was given to "
		    "open it", path);
		goto out;
	}
	if ((r = drain(&pi)) != 0)
		goto out;
	sha256_final_hex(pi.h, psha);
	pi.h = NULL;
	/* The tail: padding, ENVELOPE, ENVELOPE.sig, two zero blocks. */
	tmp = xmalloc(IO_CHUNK);
	do {
		if ((r = outer_read(o, tmp, IO_CHUNK, &got)) != 0)
			goto out;
		if (got && (r = buf_add(&tail, tmp, got)) != 0) {
			r = err_set(ERR_FORMAT, "%s: too much after the encrypted "
			    "payload", path);
			goto out;
		}
	} while (got);
	off = (size_t)((USTAR_BLOCK - h.size % USTAR_BLOCK) % USTAR_BLOCK);
	if ((r = tail_member(path, &tail, &off, BAK_ENVELOPE, ENVELOPE_MAX_BYTES,
	    &et, &etext, &elen)) != 0 ||
	    (r = tail_member(path, &tail, &off, BAK_ENVELOPE_SIG, BAK_SIG_MAX - 1,
	    &st, &stext, &slen)) != 0)
		goto out;
	if (tail.len != off + 2 * USTAR_BLOCK) {
		r = err_set(ERR_FORMAT, "%s: a member follows %s", path,
		    BAK_ENVELOPE_SIG);
		goto out;
	}
	if ((r = sig_parse(BAK_ENVELOPE_SIG, stext, slen, keyid, sig)) != 0) {
		r = err_prefix(r, "%s", path);
		goto out;
	}
	if ((key = k->lookup(k->arg, keyid)) == NULL) {
		r = err_set(ERR_UNTRUSTED, "%s: signed by key %s, which this node "
		    "does not trust (nodebak key trust FILE)", path, keyid);
		goto out;
	}
	if ((r = buf_add(&msg, ENVELOPE_SIG_DOMAIN, sizeof ENVELOPE_SIG_DOMAIN)) ||
	    (r = buf_add(&msg, etext, elen)))
		goto out;
	if ((r = sigkey_verify(key, msg.p, msg.len, sig)) != 0) {
		r = err_prefix(r, "%s: ENVELOPE", path);
		goto out;
	}
	if ((r = envelope_parse(etext, elen, e)) != 0) {
		r = err_prefix(r, "%s", path);
		goto out;
	}
	if (strcmp(e->key_id, keyid) || et != e->created || st != e->created ||
	    h.mtime != e->created) {
		r = err_set(ERR_FORMAT, "%s: ENVELOPE key id or time does not match "
		    "the archive", path);
		goto out;
	}
	if (e->payload_size != h.size || strcmp(e->payload_sha256, psha)) {
		r = err_set(ERR_MISMATCH, "%s: the encrypted payload is not the one "
		    "the ENVELOPE signed (altered or re-encrypted)", path);
		goto out;
	}
	if (opened && (!envelope_matches(e, mf) ||
	    strcmp(e->manifest_sha256, mhash))) {
		r = err_set(ERR_MISMATCH, "%s: the MANIFEST inside is not the one "
		    "the ENVELOPE names", path);
		goto out;
	}
	if (!opened)
		envelope_to_manifest(e, mf);
	seal->sealed = 1;
	seal->opened = opened;
	r = 0;
out:
	if (pi.h) {
		char discard[SHA256_HEX_LEN + 1];
		sha256_final_hex(pi.h, discard);
	}
	if (r != 0)
		manifest_free(mf);
	age_reader_free(ar);
	free(tmp);
	buf_free(&tail);
	buf_free(&msg);
	return r;
}

int bak_read(const char *path, const struct bak_keys *k,
    const struct bak_limits *lim, int stage_fd, struct manifest *mf,
    struct bak_seal *seal)
{
	return bak_read_fd(-1, path, k, lim, stage_fd, mf, seal);
}

int bak_read_fd(int fd, const char *path, const struct bak_keys *k,
    const struct bak_limits *lim, int stage_fd, struct manifest *mf,
    struct bak_seal *seal)
{
	struct outer o;
	struct source os = { outer_read, &o };
	struct bak_seal local;
	struct age_reader *ar = NULL;
	char mhash[SHA256_HEX_LEN + 1];
	struct stat st;
	int own = -1, r;

	if (seal == NULL)
		seal = &local;
	memset(seal, 0, sizeof *seal);
	memset(&o, 0, sizeof o);
	manifest_init(mf);
	if (fd < 0 && (fd = own = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return err_sys("%s", path);
	o.fd.fd = fd;
	o.fd.what = path;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		/* A file (not a pipe that someone fills): it may be read
		 * ahead by a thread of the gzip layer. */
		o.ahead = 1;
		if (k->progress && k->progress->fn) {
			o.progress = k->progress;
			o.total = (uint64_t)st.st_size;
		}
	}
	if ((r = source_read_full(&(struct source){ fd_source_read, &o.fd },
	    o.pre, sizeof o.pre, &o.prelen)) != 0)
		goto out;
	o.done = o.prelen;	/* served again, not counted again */
	if (o.prelen >= 2 && o.pre[0] == 0x1f && o.pre[1] == 0x8b) {
		r = read_plain(&os, o.ahead, path, k, lim, stage_fd, mf, mhash);
	} else if (age_looks_like(o.pre, o.prelen)) {
		/* A format 1 archive encrypted with age -r: its own signature
		 * says who made it, once an identity opens it. */
		if (k->nids == 0) {
			r = err_set(ERR_NOKEY, "%s: an age-encrypted file without a "
			    "nodebak ENVELOPE: it can only be checked with an identity "
			    "that opens it (--identity FILE)", path);
			goto out;
		}
		if ((r = age_reader_new(&os, k->ids, k->nids, path, &ar)) == 0) {
			struct source as = { age_source_read, ar };
			r = read_plain(&as, o.ahead, path, k, lim, stage_fd, mf,
			    mhash);
			seal->age_only = r == 0;
		}
	} else {
		r = read_sealed(&o, path, k, lim, stage_fd, mf, seal);
	}
out:
	age_reader_free(ar);
	if (own >= 0)
		close(own);
	return r;
}

/* A sealed archive's ENVELOPE, found by skipping the payload. */
static int peek_sealed(int fd, const char *path, const unsigned char *hdr,
    size_t hlen, struct manifest *mf, struct bak_seal *seal)
{
	struct buf tail = BUF_INIT(2 * ENVELOPE_MAX_BYTES + 4 * USTAR_BLOCK);
	struct ustar_hdr h;
	const char *etext;
	char *tmp = NULL;
	size_t elen, off = 0, got, used;
	time_t et;
	off_t at;
	int r;

	if (ustar_parse(hdr, hlen, &h, &used) != NULL ||
	    strcmp(h.path, BAK_PAYLOAD) || h.size > (uint64_t)INT64_MAX - 2 *
	    USTAR_HDR_MAX)
		return err_set(ERR_FORMAT, "%s: not a nodebak archive", path);
	at = (off_t)(used + (h.size + USTAR_BLOCK - 1) / USTAR_BLOCK *
	    USTAR_BLOCK);
	if (lseek(fd, at, SEEK_SET) != at)
		return err_sys("%s", path);
	tmp = xmalloc(IO_CHUNK);
	for (;;) {
		struct fd_stream fs = { fd, path };
		if ((r = fd_source_read(&fs, tmp, IO_CHUNK, &got)) != 0)
			goto out;
		if (got == 0)
			break;
		if ((r = buf_add(&tail, tmp, got)) != 0) {
			r = err_set(ERR_FORMAT, "%s: too much after the payload", path);
			goto out;
		}
	}
	if ((r = tail_member(path, &tail, &off, BAK_ENVELOPE, ENVELOPE_MAX_BYTES,
	    &et, &etext, &elen)) != 0 ||
	    (r = envelope_parse(etext, elen, &seal->env)) != 0)
		goto out;
	envelope_to_manifest(&seal->env, mf);
	seal->sealed = 1;
out:
	free(tmp);
	buf_free(&tail);
	return r;
}

int bak_peek_manifest(const char *path, struct manifest *mf,
    struct bak_seal *seal)
{
	struct buf mtext = BUF_INIT(MANIFEST_MAX_BYTES);
	struct archive_entry *e;
	struct reader rd;
	struct fd_stream fs;
	struct source src = { fd_source_read, &fs };
	struct bak_seal local;
	unsigned char pre[USTAR_HDR_MAX];
	char name[MANIFEST_PATH_MAX + 2];
	size_t got;
	int r, eof, opened = 0;

	if (seal == NULL)
		seal = &local;
	memset(seal, 0, sizeof *seal);
	manifest_init(mf);
	if ((fs.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return err_sys("%s", path);
	fs.what = path;
	if ((r = source_read_full(&src, pre, sizeof pre, &got)) != 0)
		goto out;
	if (got >= USTAR_BLOCK && !(pre[0] == 0x1f && pre[1] == 0x8b)) {
		r = age_looks_like(pre, got) ? err_set(ERR_NOKEY, "%s: encrypted with "
		    "age, without a nodebak ENVELOPE", path) :
		    peek_sealed(fs.fd, path, pre, got, mf, seal);
		goto out;
	}
	if (lseek(fs.fd, 0, SEEK_SET) != 0) {
		r = err_sys("%s", path);
		goto out;
	}
	opened = 1;
	if ((r = reader_open(&rd, path, &src, 0)) != 0 ||
	    (r = next_header(&rd, &e, name, sizeof name, &eof)) != 0)
		goto out;
	if (eof || strcmp(name, "MANIFEST")) {
		r = err_set(ERR_FORMAT, "%s: first member is not MANIFEST", path);
		goto out;
	}
	if ((r = read_small(&rd, e, "MANIFEST", MANIFEST_MAX_BYTES, &mtext)) == 0)
		r = manifest_parse(mtext.p, mtext.len, SIZE_MAX, mf);
out:
	if (opened)
		reader_close(&rd);
	close(fs.fd);
	buf_free(&mtext);
	return r;
}

enum bak_kind bak_classify(const unsigned char *p, size_t n)
{
	unsigned char first[USTAR_BLOCK];
	struct ustar_hdr h;
	size_t got;

	if (n >= USTAR_BLOCK && ustar_parse(p, n, &h, &got) == NULL &&
	    !strcmp(h.path, BAK_PAYLOAD))
		return BAK_SEALED;
	if (age_looks_like(p, n))
		return BAK_AGE;
	if (n >= 10 && p[0] == 0x1f && p[1] == 0x8b &&
	    gz_peek(p, n, first, sizeof first, &got) == 0 && got == sizeof first &&
	    ustar_check(first, &h) == NULL && !strcmp(h.path, "MANIFEST"))
		return BAK_PLAIN;
	return BAK_OTHER;
}
