/* t_age.c: the age format (common/age.c): the C2SP CCTV vectors in
 * tests/vectors/age, and round trips through the writer. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "age.h"
#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "fsutil.h"
#include "tap.h"

#define VECDIR "tests/vectors/age"

struct mem_src {
	const unsigned char *p;
	size_t len, pos, step;	/* step: at most this many bytes per read */
};

static int mem_read(void *ctx, void *p, size_t cap, size_t *got)
{
	struct mem_src *m = ctx;
	size_t n = m->len - m->pos;

	if (n > cap)
		n = cap;
	if (m->step && n > m->step)
		n = m->step;
	memcpy(p, m->p + m->pos, n);
	m->pos += n;
	*got = n;
	return 0;
}

static int mem_write(void *ctx, const void *p, size_t n)
{
	return buf_add(ctx, p, n);
}

/* Inflate a zlib stream (the "compressed: zlib" vectors). */
static int inflate_all(const unsigned char *in, size_t len, struct buf *out)
{
	z_stream z;
	unsigned char tmp[65536];
	int zr;

	memset(&z, 0, sizeof z);
	if (inflateInit(&z) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	do {
		z.next_out = tmp;
		z.avail_out = sizeof tmp;
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END)
			break;
		buf_add(out, tmp, sizeof tmp - z.avail_out);
	} while (zr != Z_STREAM_END);
	inflateEnd(&z);
	return zr == Z_STREAM_END ? 0 : -1;
}

/* Decrypt all of src with ids; *released gets the SHA-256 of every byte
 * the reader released. Returns the reader's result. */
static int decrypt(struct mem_src *src, const struct age_identity *ids,
    size_t n, char released[SHA256_HEX_LEN + 1])
{
	struct source s = { mem_read, src };
	struct sha256 *h = sha256_new();
	struct age_reader *r;
	unsigned char tmp[10000];
	size_t got;
	int e;

	if ((e = age_reader_new(&s, ids, n, "vector", &r)) == 0) {
		do
			if ((e = age_read(r, tmp, sizeof tmp, &got)) == 0)
				sha256_update(h, tmp, got);
		while (e == 0 && got);
		age_reader_free(r);
	}
	sha256_final_hex(h, released);
	return e;
}

static void vector(const char *name)
{
	struct buf file = BUF_INIT(64 << 20), body = BUF_INIT(64 << 20);
	struct age_identity ids[4];
	char path[512], expect[64] = "", payload[SHA256_HEX_LEN + 1] = "";
	char got[SHA256_HEX_LEN + 1];
	size_t nids = 0;
	int zlib = 0, e, want;
	char *p, *end;

	snprintf(path, sizeof path, VECDIR "/%s", name);
	if (fs_read_file(path, 64 << 20, &file) != 0) {
		ok(0, "age vector %s: %s", name, err_msg());
		return;
	}
	/* "key: value" lines, then an empty line, then the file. */
	for (p = file.p; (end = strchr(p, '\n')) != NULL && end != p; p = end + 1) {
		*end = '\0';
		if (!strncmp(p, "expect: ", 8))
			snprintf(expect, sizeof expect, "%s", p + 8);
		else if (!strncmp(p, "payload: ", 9))
			snprintf(payload, sizeof payload, "%s", p + 9);
		else if (!strncmp(p, "compressed: zlib", 16))
			zlib = 1;
		else if (!strncmp(p, "identity: ", 10) && nids < 4)
			ok(age_identity_parse(p + 10, &ids[nids++]) == 0,
			    "age vector %s: identity parses", name);
	}
	p = end + 1;
	if (zlib)
		ok(inflate_all((unsigned char *)p, file.len - (size_t)(p - file.p),
		    &body) == 0, "age vector %s: inflates", name);
	else
		buf_add(&body, p, file.len - (size_t)(p - file.p));
	want = !strcmp(expect, "success") ? 0 :
	    !strcmp(expect, "no match") ? ERR_NOKEY :
	    !strcmp(expect, "HMAC failure") ? ERR_SIG : ERR_FORMAT;
	/* Read in one go and a few bytes at a time: chunk boundaries must
	 * not depend on how the source hands out bytes. */
	for (size_t step = 0; step <= 7; step += 7) {
		struct mem_src src = { (unsigned char *)body.p, body.len, 0, step };
		e = decrypt(&src, ids, nids, got);
		ok(e == want && (!payload[0] || !strcmp(got, payload)),
		    "age vector %s (%s, reads of %s): %s", name, expect,
		    step ? "7 bytes" : "any size", e ? err_msg() : "decrypted");
	}
	buf_free(&file);
	buf_free(&body);
}

static void roundtrip(size_t len, size_t nrec)
{
	struct age_identity ids[3];
	struct age_recipient rs[3];
	struct buf ct = BUF_INIT(16 << 20);
	struct sink out = { mem_write, &ct };
	struct age_writer *w;
	unsigned char *pt = malloc(len + 1);
	char want[SHA256_HEX_LEN + 1], got[SHA256_HEX_LEN + 1];
	struct sha256 *h = sha256_new();
	struct age_identity other;
	int e;

	for (size_t i = 0; i < len; i++)
		pt[i] = (unsigned char)(i * 7 + i / 251);
	sha256_update(h, pt, len);
	sha256_final_hex(h, want);
	for (size_t i = 0; i < nrec; i++) {
		unsigned char sec[32];
		char enc[AGE_IDENTITY_MAX];
		random_bytes(sec, 32);
		memcpy(ids[i].sec, sec, 32);
		age_identity_format(&ids[i], enc);
		age_identity_parse(enc, &ids[i]);
		age_identity_recipient(&ids[i], &rs[i]);
	}
	e = age_writer_new(&out, rs, nrec, &w);
	/* Odd write sizes across chunk boundaries. */
	for (size_t off = 0; e == 0 && off < len; off += 9999)
		e = age_write(w, pt + off, len - off < 9999 ? len - off : 9999);
	if (e == 0)
		e = age_finish(w);
	age_writer_free(w);
	ok(e == 0 && ct.len == len + 16 * (len / AGE_CHUNK + (len % AGE_CHUNK ||
	    len == 0)) + (ct.len - len - 16 * (len / AGE_CHUNK + (len % AGE_CHUNK ||
	    len == 0))), "age: encrypt %zu bytes to %zu recipients", len, nrec);
	for (size_t i = 0; i < nrec; i++) {
		struct mem_src src = { (unsigned char *)ct.p, ct.len, 0, 0 };
		e = decrypt(&src, &ids[i], 1, got);
		ok(e == 0 && !strcmp(got, want), "age: recipient %zu of %zu "
		    "decrypts %zu bytes", i + 1, nrec, len);
	}
	{
		struct mem_src src = { (unsigned char *)ct.p, ct.len, 0, 0 };
		unsigned char sec[32];
		char enc[AGE_IDENTITY_MAX];
		random_bytes(sec, 32);
		memcpy(other.sec, sec, 32);
		age_identity_format(&other, enc);
		age_identity_parse(enc, &other);
		ok(decrypt(&src, &other, 1, got) == ERR_NOKEY,
		    "age: another identity is refused with ERR_NOKEY");
	}
	free(pt);
	buf_free(&ct);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void t_age(void)
{
	struct age_recipient rc;
	struct age_identity id;
	char s[AGE_RECIPIENT_MAX], t[AGE_IDENTITY_MAX];
	char *names[256];
	size_t n = 0;
	DIR *d;
	struct dirent *de;

	/* The key encodings: the vectors' identity and its recipient as
	 * age-keygen prints them. */
	ok(age_identity_parse("AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMD"
	    "KWYKLMGR48UAWX40Q2P2LM0", &id) == 0, "age: identity parses");
	age_identity_format(&id, t);
	ok(!strcmp(t, "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR"
	    "48UAWX40Q2P2LM0"), "age: identity formats back");
	age_identity_recipient(&id, &rc);
	age_recipient_format(&rc, s);
	ok(age_recipient_parse(s, &rc) == 0 && !strncmp(s, "age1", 4) &&
	    strlen(s) == 62, "age: recipient %s round-trips", s);
	{
		char bad[AGE_RECIPIENT_MAX];
		snprintf(bad, sizeof bad, "%s", s);
		bad[20] = bad[20] == 'q' ? 'p' : 'q';
		ok(age_recipient_parse(bad, &rc) == ERR_INVAL,
		    "age: a recipient with one character changed is refused");
		for (char *q = bad; *q; q++)
			*q = (char)(*q >= 'a' && *q <= 'z' ? *q - 32 : *q);
		ok(age_recipient_parse(bad, &rc) == ERR_INVAL,
		    "age: an upper-case recipient is refused");
	}
	ok(age_identity_parse("AGE-SECRET-KEY-1egtzvffv20835nwyv6270lxyvk2vknx2mmdkwyklmgr48uawx40q2p2lm0",
	    &id) == ERR_INVAL, "age: mixed-case identity refused");

	if ((d = opendir(VECDIR)) == NULL) {
		ok(0, "age: " VECDIR " is missing");
		return;
	}
	while ((de = readdir(d)) != NULL && n < 256)
		if (de->d_name[0] != '.' && strcmp(de->d_name, "README"))
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof *names, by_name);
	ok(n >= 60, "age: %zu CCTV vectors", n);
	for (size_t i = 0; i < n; i++) {
		vector(names[i]);
		free(names[i]);
	}
	roundtrip(0, 1);
	roundtrip(1, 2);
	roundtrip(AGE_CHUNK, 1);
	roundtrip(AGE_CHUNK + 1, 3);
	roundtrip(3 * AGE_CHUNK, 2);
}
