/* ustar.c: the writer's ustar headers, formatted and strictly checked, and
 * a checker of the whole tar stream (see ustar.h). */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "esc.h"
#include "ustar.h"
#include "banned.h"

#define WHY(f) ": tar header field " f " is not as nodebak writes it"

/* The header's fields in order (POSIX ustar; docs/bak-format.md). */
static const struct field {
	size_t off, len;
	const char *why;
} fields[] = {
	{ 0, 100, WHY("name") }, { 100, 8, WHY("mode") }, { 108, 8, WHY("uid") },
	{ 116, 8, WHY("gid") }, { 124, 12, WHY("size") }, { 136, 12, WHY("mtime") },
	{ 148, 8, WHY("chksum") }, { 156, 1, WHY("typeflag") },
	{ 157, 100, WHY("linkname") }, { 257, 6, WHY("magic") },
	{ 263, 2, WHY("version") }, { 265, 32, WHY("uname") },
	{ 297, 32, WHY("gname") }, { 329, 8, WHY("devmajor") },
	{ 337, 8, WHY("devminor") }, { 345, 155, WHY("prefix") },
	{ 500, 12, WHY("pad") },
};
enum { F_NAME, F_MODE, F_UID, F_GID, F_SIZE, F_MTIME, F_CHKSUM, F_TYPE,
	F_PREFIX = 15 };

#define NOT_OURS ": nodebak writes only regular files (0) and folders (5)"

static const struct {
	unsigned char flag;
	const char *why;
} types[] = {
	{ '1', " is a hard link (tar type 1)" NOT_OURS },
	{ '2', " is a symbolic link (tar type 2)" NOT_OURS },
	{ '3', " is a character device (tar type 3)" NOT_OURS },
	{ '4', " is a block device (tar type 4)" NOT_OURS },
	{ '6', " is a FIFO (tar type 6)" NOT_OURS },
	{ '7', " is a contiguous file (tar type 7)" NOT_OURS },
	{ '\0', " is an old-style regular file (tar type NUL)" NOT_OURS },
	{ 'L', " is a GNU long-name record (tar type L)" NOT_OURS },
	{ 'K', " is a GNU long-link record (tar type K)" NOT_OURS },
	{ 'x', " is a pax extended header (tar type x)" NOT_OURS },
	{ 'g', " is a pax global header (tar type g)" NOT_OURS },
};

/* Write v in digits octal digits with leading zeros; -1 if it does not
 * fit. */
static int put_octal(unsigned char *p, size_t digits, uint64_t v)
{
	for (size_t i = digits; i > 0; i--) {
		p[i - 1] = (unsigned char)('0' + (v & 7));
		v >>= 3;
	}
	return v ? -1 : 0;
}

static int get_octal(const unsigned char *p, size_t digits, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < digits; i++) {
		if (p[i] < '0' || p[i] > '7')
			return -1;
		*v = *v << 3 | (uint64_t)(p[i] - '0');
	}
	return 0;
}

/* An 8-byte number field as the writer writes it: 6 digits, space, NUL. */
static int put_small(unsigned char *p, uint64_t v)
{
	p[6] = ' ';
	p[7] = '\0';
	return put_octal(p, 6, v);
}

static unsigned sum(const unsigned char h[USTAR_BLOCK])
{
	unsigned s = 0;

	for (size_t i = 0; i < USTAR_BLOCK; i++)
		s += i >= 148 && i < 156 ? ' ' : h[i];
	return s;
}

/* The name as the writer stores it: a folder's with '/' appended, in name
 * when it fits in 100 bytes, else split at its first '/' (not the path's
 * first byte; libarchive's rule for a path of 101 bytes). */
static int put_name(unsigned char *h, const char *path, int is_dir)
{
	size_t n = strlen(path), len = n + (is_dir ? 1 : 0), cut;
	char full[USTAR_PATH_MAX + 2];
	const char *slash;

	if (n == 0 || len > 101)
		return -1;
	memcpy(full, path, n);
	full[n] = '/';
	if (len <= 100) {
		memcpy(h, full, len);
		return 0;
	}
	if ((slash = memchr(full + 1, '/', len - 1)) == NULL ||
	    (cut = (size_t)(slash - full)) == len - 1)
		return -1;
	memcpy(h + 345, full, cut);
	memcpy(h, full + cut + 1, len - cut - 1);
	return 0;
}

int ustar_format(unsigned char h[USTAR_BLOCK], const char *path, int is_dir,
    unsigned mode, uint64_t size, int64_t mtime)
{
	memset(h, 0, USTAR_BLOCK);
	if (mode > 07777 || mtime < 0 || put_name(h, path, is_dir) != 0 ||
	    put_small(h + 100, mode) != 0 || put_small(h + 108, 0) != 0 ||
	    put_small(h + 116, 0) != 0 ||
	    put_octal(h + 124, 11, is_dir ? 0 : size) != 0 ||
	    put_octal(h + 136, 11, (uint64_t)mtime) != 0) {
		memset(h, 0, USTAR_BLOCK);
		return -1;
	}
	h[135] = ' ';
	h[147] = ' ';
	h[156] = is_dir ? '5' : '0';
	memcpy(h + 257, "ustar\0" "00", 8);
	put_small(h + 329, 0);
	put_small(h + 337, 0);
	put_octal(h + 148, 6, sum(h));	/* at most 512 * 255 < 8^6 */
	h[154] = '\0';
	h[155] = ' ';
	return 0;
}

/* The path the header names: prefix '/' name, each up to its first NUL;
 * a folder's final '/' dropped. */
static void get_path(const unsigned char *h, struct ustar_hdr *out)
{
	size_t pn = strnlen((const char *)h + 345, 155);
	size_t nn = strnlen((const char *)h, 100), o = 0;

	if (pn) {
		memcpy(out->path, h + 345, pn);
		out->path[pn] = '/';
		o = pn + 1;
	}
	memcpy(out->path + o, h, nn);
	o += nn;
	out->path[o] = '\0';
	if (h[156] == '5' && o > 1 && out->path[o - 1] == '/')
		out->path[o - 1] = '\0';
}

const char *ustar_check(const unsigned char h[USTAR_BLOCK],
    struct ustar_hdr *out)
{
	unsigned char want[USTAR_BLOCK];
	uint64_t mode, size, mtime;

	memset(out, 0, sizeof *out);
	get_path(h, out);
	if (h[156] != '0' && h[156] != '5') {
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
			if (h[156] == types[i].flag)
				return types[i].why;
		return " has a tar type other than regular file (0) or folder (5)";
	}
	out->is_dir = h[156] == '5';
	if (get_octal(h + 100, 6, &mode) != 0 || mode > 07777)
		return fields[F_MODE].why;
	if (get_octal(h + 124, 11, &size) != 0)
		return fields[F_SIZE].why;
	if (get_octal(h + 136, 11, &mtime) != 0)
		return fields[F_MTIME].why;
	if (ustar_format(want, out->path, out->is_dir, (unsigned)mode, size,
	    (int64_t)mtime) != 0)
		return fields[h[345] ? F_PREFIX : F_NAME].why;
	/* Every field but the checksum first: a header changed and given a
	 * right checksum is named by the field that was changed. */
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (i != F_CHKSUM && memcmp(h + fields[i].off, want + fields[i].off,
		    fields[i].len))
			return fields[i].why;
	if (memcmp(h + 148, want + 148, 8))
		return fields[F_CHKSUM].why;
	out->mode = (unsigned)mode;
	out->size = out->is_dir ? 0 : size;
	out->mtime = (int64_t)mtime;
	return NULL;
}

enum { S_HEADER, S_DATA, S_PAD, S_END, S_DONE, S_FAILED };

void ustar_stream_init(struct ustar_stream *s, const char *what)
{
	memset(s, 0, sizeof *s);
	s->what = what;
	s->state = S_HEADER;
}

/* Refuse the stream for the current member: "ARCHIVE: member NAME" why. */
static int fail(struct ustar_stream *s, const char *why)
{
	s->state = S_FAILED;
	return err_set(ERR_FORMAT, "%s: member %s%s", s->what,
	    s->cur.path[0] ? esc(s->cur.path) : "\"\"", why);
}

static int refuse(struct ustar_stream *s, const char *why)
{
	s->state = S_FAILED;
	return err_set(ERR_FORMAT, "%s: %s", s->what, why);
}

static int is_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* A whole block is in s->blk: a header, or the end marker's first or
 * second block. */
static int block(struct ustar_stream *s)
{
	const char *why;

	s->have = 0;
	if (s->state == S_END) {
		if (!is_zero(s->blk, USTAR_BLOCK))
			return refuse(s, "a lone zero block in the tar stream (the "
			    "end-of-archive marker is two)");
		s->state = S_DONE;
		return 0;
	}
	if (is_zero(s->blk, USTAR_BLOCK)) {
		s->state = S_END;
		return 0;
	}
	if ((why = ustar_check(s->blk, &s->cur)) != NULL)
		return fail(s, why);
	s->left = s->cur.size;
	s->state = s->left ? S_DATA : S_HEADER;
	return 0;
}

int ustar_stream_feed(struct ustar_stream *s, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t k;
	int r;

	while (n) {
		switch (s->state) {
		case S_HEADER:
		case S_END:
			k = USTAR_BLOCK - s->have < n ? USTAR_BLOCK - s->have : n;
			memcpy(s->blk + s->have, p, k);
			s->have += k;
			if (s->have == USTAR_BLOCK && (r = block(s)) != 0)
				return r;
			break;
		case S_DATA:
			k = s->left < n ? (size_t)s->left : n;
			s->left -= k;
			if (s->left == 0) {
				s->left = (USTAR_BLOCK - s->cur.size % USTAR_BLOCK) %
				    USTAR_BLOCK;
				s->state = s->left ? S_PAD : S_HEADER;
			}
			break;
		case S_PAD:
			k = s->left < n ? (size_t)s->left : n;
			if (!is_zero(p, k))
				return fail(s, ": padding after the data is not all "
				    "NUL bytes");
			s->left -= k;
			if (s->left == 0)
				s->state = S_HEADER;
			break;
		case S_DONE:
			return refuse(s, "bytes after the end-of-archive marker");
		default:
			return refuse(s, "unreadable tar stream");
		}
		p += k;
		n -= k;
	}
	return 0;
}

int ustar_stream_end(struct ustar_stream *s)
{
	switch (s->state) {
	case S_DONE:
		return 0;
	case S_DATA:
	case S_PAD:
		return fail(s, " is cut short (archive truncated?)");
	case S_FAILED:
		return refuse(s, "unreadable tar stream");
	}
	return refuse(s, "the tar stream ends without its end-of-archive marker "
	    "(archive truncated?)");
}
