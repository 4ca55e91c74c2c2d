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

/* NULL for a regular file or folder header, else why it is refused. */
static const char *type_why(const unsigned char h[USTAR_BLOCK])
{
	if (h[156] == '0' || h[156] == '5')
		return NULL;
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (h[156] == types[i].flag)
			return types[i].why;
	return " has a tar type other than regular file (0) or folder (5)";
}

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

/* Digits of v in decimal. */
static size_t dec_len(uint64_t v)
{
	size_t d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* Append the pax record "<len> <kw>=<value>\n" at *o in p (cap bytes);
 * len counts the whole record, its own digits included. */
static int put_record(unsigned char *p, size_t cap, size_t *o, const char *kw,
    const char *v, size_t vlen)
{
	size_t base = 1 + strlen(kw) + 1 + vlen + 1, len = base + 1;
	int n;

	while (len != base + dec_len(len))
		len = base + dec_len(len);
	if (cap - *o < len + 1)		/* snprintf's NUL */
		return -1;
	n = snprintf((char *)p + *o, cap - *o, "%zu %s=", len, kw);
	if (n < 0 || (size_t)n + vlen + 1 != len)
		return -1;
	memcpy(p + *o + n, v, vlen);
	p[*o + len - 1] = '\n';
	*o += len;
	return 0;
}

int ustar_header(unsigned char *out, size_t cap, size_t *len,
    const char *path, int is_dir, unsigned mode, uint64_t size,
    int64_t mtime)
{
	unsigned char data[USTAR_HDR_MAX];
	char full[USTAR_PATH_MAX + 2], num[24];
	size_t n = strnlen(path, USTAR_PATH_MAX + 1), dlen = 0, total, blocks;
	unsigned char *h;
	int long_path, big;

	*len = 0;
	if (n == 0 || n > USTAR_PATH_MAX || mode > 07777 || mtime < 0 ||
	    (uint64_t)mtime > 077777777777)
		return -1;
	if (is_dir)
		size = 0;
	if (ustar_format(out, path, is_dir, mode, size, mtime) == 0 &&
	    cap >= USTAR_BLOCK) {
		*len = USTAR_BLOCK;
		return 0;
	}
	memcpy(full, path, n);
	full[n] = '/';
	long_path = ustar_format(data, path, is_dir, mode, 0, mtime) != 0;
	big = size > 077777777777;
	if (!long_path && !big)
		return -1;	/* cap < 512 */
	if (long_path && put_record(data, sizeof data, &dlen, "path", full,
	    n + (is_dir ? 1 : 0)) != 0)
		return -1;
	snprintf(num, sizeof num, "%llu", (unsigned long long)size);
	if (big && put_record(data, sizeof data, &dlen, "size", num,
	    strlen(num)) != 0)
		return -1;
	blocks = (dlen + USTAR_BLOCK - 1) / USTAR_BLOCK;
	total = USTAR_BLOCK * (2 + blocks);
	if (cap < total)
		return -1;
	/* The pax header: a regular file's header with type 'x'. */
	if (ustar_format(out, USTAR_PAX_NAME, 0, 0644, dlen, mtime) != 0)
		return -1;
	out[156] = 'x';
	put_octal(out + 148, 6, sum(out));
	out[154] = '\0';
	memset(out + USTAR_BLOCK, 0, blocks * USTAR_BLOCK);
	memcpy(out + USTAR_BLOCK, data, dlen);
	/* The ustar header: name the path's first 100 bytes, size 0 when the
	 * size record holds it. */
	h = out + total - USTAR_BLOCK;
	if (ustar_format(h, long_path ? "x" : path, is_dir, mode, 0, mtime) != 0)
		return -1;
	if (long_path) {
		size_t keep = n + (is_dir ? 1 : 0);
		memset(h, 0, 100);
		memcpy(h, full, keep < 100 ? keep : 100);
	}
	if (!big)
		put_octal(h + 124, 11, size);
	put_octal(h + 148, 6, sum(h));
	h[154] = '\0';
	*len = total;
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
	const char *why;

	memset(out, 0, sizeof *out);
	get_path(h, out);
	if ((why = type_why(h)) != NULL)
		return why;
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

#define PAX_RECORDS ": pax records are not as nodebak writes them (path, " \
    "then size, each only where the ustar header cannot hold it)"

/* The records of pax data d (dlen bytes, NUL padding excluded by the
 * caller's regeneration): "path" and then "size", each at most once.
 * Returns NULL or why not. */
static const char *get_records(const unsigned char *d, size_t dlen,
    char *path, size_t pathcap, int *has_path, uint64_t *size, int *has_size)
{
	size_t o = 0;

	*has_path = *has_size = 0;
	while (o < dlen) {
		size_t len = 0, i = o, kw, end, vlen;
		const unsigned char *eq, *v;

		if (*has_size)
			return PAX_RECORDS;
		while (i < dlen && i - o < 6 && d[i] >= '0' && d[i] <= '9')
			len = len * 10 + (size_t)(d[i++] - '0');
		if (i == o || d[o] == '0' || i >= dlen || d[i] != ' ' ||
		    len > dlen - o || len < i - o + 4)
			return PAX_RECORDS;
		kw = i + 1;
		end = o + len;
		if (d[end - 1] != '\n' ||
		    (eq = memchr(d + kw, '=', end - 1 - kw)) == NULL)
			return PAX_RECORDS;
		v = eq + 1;
		vlen = (size_t)(d + end - 1 - v);
		if ((size_t)(eq - (d + kw)) == 4 && !memcmp(d + kw, "path", 4) &&
		    !*has_path) {
			if (vlen == 0 || vlen >= pathcap || memchr(v, '\0', vlen))
				return PAX_RECORDS;
			memcpy(path, v, vlen);
			path[vlen] = '\0';
			*has_path = 1;
		} else if ((size_t)(eq - (d + kw)) == 4 &&
		    !memcmp(d + kw, "size", 4)) {
			uint64_t x = 0;
			if (vlen == 0 || vlen > 20 || (v[0] == '0' && vlen > 1))
				return PAX_RECORDS;
			for (size_t j = 0; j < vlen; j++) {
				if (v[j] < '0' || v[j] > '9' ||
				    x > (UINT64_MAX - 9) / 10)
					return PAX_RECORDS;
				x = x * 10 + (uint64_t)(v[j] - '0');
			}
			*size = x;
			*has_size = 1;
		} else {
			return PAX_RECORDS;
		}
		o = end;
	}
	return *has_path || *has_size ? NULL : PAX_RECORDS;
}

/* p (total bytes): a pax header, its data and a ustar header. */
static const char *pax_check(const unsigned char *p, size_t total,
    struct ustar_hdr *out)
{
	unsigned char want[USTAR_HDR_MAX];
	const unsigned char *h = p + total - USTAR_BLOCK;
	char path[USTAR_PATH_MAX + 2];
	uint64_t dlen, mode, mtime, size = 0;
	size_t wlen, n;
	int has_path, has_size;
	const char *why;

	memset(out, 0, sizeof *out);
	memcpy(out->path, USTAR_PAX_NAME, sizeof USTAR_PAX_NAME);
	if (get_octal(p + 124, 11, &dlen) != 0 || dlen == 0 ||
	    total != USTAR_BLOCK * (2 + (dlen + USTAR_BLOCK - 1) / USTAR_BLOCK))
		return ": pax extended header is not as nodebak writes it";
	if ((why = get_records(p + USTAR_BLOCK, (size_t)dlen, path, sizeof path,
	    &has_path, &size, &has_size)) != NULL)
		return why;
	if (has_path) {
		memcpy(out->path, path, strnlen(path, USTAR_PATH_MAX));
	} else {
		get_path(h, out);
	}
	if ((why = type_why(h)) != NULL)
		return why;
	out->is_dir = h[156] == '5';
	if (has_path) {
		n = strlen(path);
		if (out->is_dir) {
			if (n < 2 || path[n - 1] != '/')
				return PAX_RECORDS;
			path[--n] = '\0';
		}
		if (n > USTAR_PATH_MAX)
			return PAX_RECORDS;
		memcpy(out->path, path, n + 1);
	}
	if (get_octal(h + 100, 6, &mode) != 0 || mode > 07777)
		return fields[F_MODE].why;
	if (get_octal(h + 136, 11, &mtime) != 0)
		return fields[F_MTIME].why;
	if (!has_size && get_octal(h + 124, 11, &size) != 0)
		return fields[F_SIZE].why;
	if (ustar_header(want, sizeof want, &wlen, out->path, out->is_dir,
	    (unsigned)mode, size, (int64_t)mtime) != 0)
		return PAX_RECORDS;
	if (wlen == USTAR_BLOCK)
		return " has a pax extended header (tar type x) where its ustar "
		    "header suffices";
	if (wlen != total || memcmp(want + USTAR_BLOCK, p + USTAR_BLOCK,
	    total - 2 * USTAR_BLOCK))
		return PAX_RECORDS;
	if (memcmp(want, p, USTAR_BLOCK))
		return ": pax extended header is not as nodebak writes it";
	if (memcmp(want + total - USTAR_BLOCK, h, USTAR_BLOCK))
		return ": the tar header after the pax extended header is not as "
		    "nodebak writes it";
	out->mode = (unsigned)mode;
	out->size = out->is_dir ? 0 : size;
	out->mtime = (int64_t)mtime;
	return NULL;
}

/* How many bytes a member's headers take, from its first block: 512, or
 * a pax header's total; 0 for a pax header nodebak never writes. */
static size_t headers_len(const unsigned char *h)
{
	uint64_t dlen;

	if (h[156] != 'x')
		return USTAR_BLOCK;
	if (get_octal(h + 124, 11, &dlen) != 0 || dlen == 0 ||
	    dlen > USTAR_PAX_DATA_MAX)
		return 0;
	return USTAR_BLOCK * (2 + ((size_t)dlen + USTAR_BLOCK - 1) / USTAR_BLOCK);
}

const char *ustar_parse(const unsigned char *p, size_t n,
    struct ustar_hdr *out, size_t *used)
{
	size_t need;
	const char *why;

	*used = 0;
	memset(out, 0, sizeof *out);
	if (n < USTAR_BLOCK)
		return " is cut short (archive truncated?)";
	if ((need = headers_len(p)) == 0)
		return ": pax extended header is not as nodebak writes it";
	if (need == USTAR_BLOCK)
		why = ustar_check(p, out);
	else if (n < need)
		return " is cut short (archive truncated?)";
	else
		why = pax_check(p, need, out);
	if (why == NULL)
		*used = need;
	return why;
}

enum { S_HEADER, S_DATA, S_PAD, S_END, S_DONE, S_FAILED, S_PAX };

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
	if (s->blk[156] == 'x') {
		/* A pax header: checked with its data and the header after
		 * it, once all are in s->pax. */
		memset(&s->cur, 0, sizeof s->cur);
		memcpy(s->cur.path, USTAR_PAX_NAME, sizeof USTAR_PAX_NAME);
		if ((s->paxwant = headers_len(s->blk)) == 0)
			return fail(s, ": pax extended header is not as nodebak "
			    "writes it");
		memcpy(s->pax, s->blk, USTAR_BLOCK);
		s->paxhave = USTAR_BLOCK;
		s->state = S_PAX;
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
	const char *why;
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
		case S_PAX:
			k = s->paxwant - s->paxhave < n ? s->paxwant - s->paxhave : n;
			memcpy(s->pax + s->paxhave, p, k);
			s->paxhave += k;
			if (s->paxhave < s->paxwant)
				break;
			if ((why = pax_check(s->pax, s->paxwant, &s->cur)) != NULL)
				return fail(s, why);
			s->left = s->cur.size;
			s->state = s->left ? S_DATA : S_HEADER;
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
	case S_PAX:
		return fail(s, " is cut short (archive truncated?)");
	case S_FAILED:
		return refuse(s, "unreadable tar stream");
	}
	return refuse(s, "the tar stream ends without its end-of-archive marker "
	    "(archive truncated?)");
}
