/* age.c: the age v1 format on OpenSSL's primitives (age.h). Follows the
 * C2SP age specification: header
 *
 *     age-encryption.org/v1
 *     -> X25519 <share>
 *     <wrapped file key>
 *     --- <MAC>
 *
 * then a 16-byte nonce and the payload in STREAM chunks of 64 KiB, each
 * sealed with ChaCha20-Poly1305 under a nonce of an 11-byte big-endian
 * counter and a last-chunk flag. Bech32 and unpadded base64 are encodings,
 * written here; every cryptographic operation is OpenSSL's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "age.h"
#include "buf.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "xmalloc.h"
#include "banned.h"

#define AGE_INTRO "age-encryption.org/v1"
#define X25519_INFO "age-encryption.org/v1/X25519"
#define FILE_KEY_LEN 16
#define TAG_LEN 16
#define NONCE_LEN 16
#define CT_CHUNK (AGE_CHUNK + TAG_LEN)
#define MAC_LEN 32
#define HRP_RECIPIENT "age"
#define HRP_IDENTITY "age-secret-key-"

/* Bech32 (BIP 173), as age uses it for keys. */
static const char b32chars[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t polymod(const unsigned char *v, size_t n)
{
	static const uint32_t gen[5] = { 0x3b6a57b2, 0x26508e6d, 0x1ea119fa,
		0x3d4233dd, 0x2a1462b3 };
	uint32_t chk = 1;

	for (size_t i = 0; i < n; i++) {
		uint32_t top = chk >> 25;
		chk = ((chk & 0x1ffffff) << 5) ^ v[i];
		for (int j = 0; j < 5; j++)
			if ((top >> j) & 1)
				chk ^= gen[j];
	}
	return chk;
}

/* hrp expanded, then data (5-bit values): the checksum input. */
static size_t b32_expand(const char *hrp, const unsigned char *d, size_t n,
    unsigned char *out)
{
	size_t h = strlen(hrp), k = 0;

	for (size_t i = 0; i < h; i++)
		out[k++] = (unsigned char)hrp[i] >> 5;
	out[k++] = 0;
	for (size_t i = 0; i < h; i++)
		out[k++] = (unsigned char)hrp[i] & 31;
	memcpy(out + k, d, n);
	return k + n;
}

/* Encode 32 bytes under hrp (lower case) into out. */
static void b32_encode(const char *hrp, const unsigned char key[AGE_KEY_LEN],
    char *out, size_t outsz)
{
	unsigned char d[64], v[128];
	uint32_t acc = 0, chk;
	size_t n = 0, k;
	int bits = 0;

	for (size_t i = 0; i < AGE_KEY_LEN; i++) {
		acc = (acc << 8) | key[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			d[n++] = (acc >> bits) & 31;
		}
	}
	if (bits)
		d[n++] = (acc << (5 - bits)) & 31;
	k = b32_expand(hrp, d, n, v);
	memset(v + k, 0, 6);
	chk = polymod(v, k + 6) ^ 1;
	for (int i = 0; i < 6; i++)
		d[n + (size_t)i] = (chk >> (5 * (5 - i))) & 31;
	k = (size_t)snprintf(out, outsz, "%s1", hrp);
	for (size_t i = 0; i < n + 6 && k + 1 < outsz; i++)
		out[k++] = b32chars[d[i]];
	out[k] = '\0';
}

/* Decode s, which must be hrp "1" data checksum in one case, into 32
 * bytes. -1 when it is anything else. */
static int b32_decode(const char *hrp, const char *s, unsigned char key[AGE_KEY_LEN])
{
	size_t len = strlen(s), h = strlen(hrp), n;
	unsigned char d[128] = { 0 }, v[160];
	char low[AGE_IDENTITY_MAX];
	int upper = 0, lower = 0, bits = 0;
	uint32_t acc = 0;
	size_t out = 0;

	if (len >= sizeof low || len < h + 1 + 6)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126)
			return -1;
		upper |= c >= 'A' && c <= 'Z';
		lower |= c >= 'a' && c <= 'z';
		low[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	low[len] = '\0';
	if ((upper && lower) || strncmp(low, hrp, h) || low[h] != '1')
		return -1;
	n = len - h - 1;
	if (n > sizeof d)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *p = strchr(b32chars, low[h + 1 + i]);
		if (p == NULL || low[h + 1 + i] == '\0')
			return -1;
		d[i] = (unsigned char)(p - b32chars);
	}
	if (polymod(v, b32_expand(hrp, d, n, v)) != 1)
		return -1;
	for (size_t i = 0; i < n - 6; i++) {
		acc = (acc << 5) | d[i];
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (out == AGE_KEY_LEN)
				return -1;
			key[out++] = (unsigned char)(acc >> bits);
		}
	}
	/* At most 4 padding bits, all zero. */
	if (out != AGE_KEY_LEN || bits > 4 || (acc & ((1u << bits) - 1)))
		return -1;
	return 0;
}

/* Unpadded standard base64 (RFC 4648 without '='), canonical only. */
static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t k = 0, i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[k++] = b64chars[v >> 18];
		out[k++] = b64chars[(v >> 12) & 63];
		out[k++] = b64chars[(v >> 6) & 63];
		out[k++] = b64chars[v & 63];
	}
	if (n - i == 1) {
		out[k++] = b64chars[in[i] >> 2];
		out[k++] = b64chars[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
		out[k++] = b64chars[v >> 10];
		out[k++] = b64chars[(v >> 4) & 63];
		out[k++] = b64chars[(v << 2) & 63];
	}
	out[k] = '\0';
	return k;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

/* Decode n characters; -1 unless they are canonical unpadded base64 of
 * at most outcap bytes. */
static long b64_decode(const char *s, size_t n, unsigned char *out,
    size_t outcap)
{
	uint32_t acc = 0;
	size_t k = 0;
	int bits = 0;

	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val(s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (k == outcap)
				return -1;
			out[k++] = (unsigned char)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1))	/* unused bits must be zero */
		return -1;
	return (long)k;
}

/* The primitives, all from OpenSSL. */
static int x25519(const unsigned char sec[32], const unsigned char pub[32],
    unsigned char out[32])
{
	EVP_PKEY *a = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sec, 32);
	EVP_PKEY *b = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	EVP_PKEY_CTX *c = a ? EVP_PKEY_CTX_new(a, NULL) : NULL;
	unsigned char zero[32] = { 0 };
	size_t len = 32;
	int ok;

	ok = a && b && c && EVP_PKEY_derive_init(c) == 1 &&
	    EVP_PKEY_derive_set_peer(c, b) == 1 &&
	    EVP_PKEY_derive(c, out, &len) == 1 && len == 32 &&
	    CRYPTO_memcmp(out, zero, 32) != 0;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	return ok ? 0 : -1;
}

static int x25519_public(const unsigned char sec[32], unsigned char pub[32])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sec, 32);
	size_t len = 32;
	int ok = k && EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == 32;

	EVP_PKEY_free(k);
	return ok ? 0 : err_set(ERR_CRYPTO, "X25519: cannot compute a public key");
}

static int hkdf(const void *ikm, size_t ikmlen, const void *salt,
    size_t saltlen, const char *info, unsigned char *out, size_t outlen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[5], *q = p;
	int ok;

	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)ikm, ikmlen);
	/* An empty salt is HKDF's default (RFC 5869: zeros), so omit it. */
	if (saltlen)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)salt, saltlen);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)info, strlen(info));
	*q = OSSL_PARAM_construct_end();
	ok = c && EVP_KDF_derive(c, out, outlen, p) == 1;
	EVP_KDF_CTX_free(c);
	EVP_KDF_free(kdf);
	return ok ? 0 : err_set(ERR_CRYPTO, "HKDF-SHA256 failed");
}

static int hmac_sha256(const unsigned char key[32], const void *msg,
    size_t len, unsigned char out[MAC_LEN])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM p[2];
	size_t outlen = 0;
	int ok;

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_end();
	ok = c && EVP_MAC_init(c, key, 32, p) == 1 &&
	    EVP_MAC_update(c, msg, len) == 1 &&
	    EVP_MAC_final(c, out, &outlen, MAC_LEN) == 1 && outlen == MAC_LEN;
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(mac);
	return ok ? 0 : err_set(ERR_CRYPTO, "HMAC-SHA256 failed");
}

/* ChaCha20-Poly1305 with a 12-byte nonce and no associated data: out
 * gets len bytes and the 16-byte tag (seal), or len - 16 bytes (open,
 * -1 when the tag does not verify). c is reused across chunks. */
static int aead(EVP_CIPHER_CTX *c, int seal, const unsigned char key[32],
    const unsigned char nonce[12], const unsigned char *in, size_t len,
    unsigned char *out)
{
	int n = 0, m = 0;

	if (!seal && len < TAG_LEN)
		return -1;
	if (EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, key, nonce,
	    seal) != 1)
		return -1;
	if (seal) {
		if (EVP_CipherUpdate(c, out, &n, in, (int)len) != 1 ||
		    EVP_CipherFinal_ex(c, out + n, &m) != 1 ||
		    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TAG_LEN,
		    out + len) != 1)
			return -1;
		return 0;
	}
	len -= TAG_LEN;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
	    (void *)(in + len)) != 1 ||
	    EVP_CipherUpdate(c, out, &n, in, (int)len) != 1 ||
	    EVP_CipherFinal_ex(c, out + n, &m) != 1) {
		OPENSSL_cleanse(out, len);
		return -1;
	}
	return 0;
}

static void chunk_nonce(uint64_t counter, int last, unsigned char n[12])
{
	memset(n, 0, 12);
	for (int i = 0; i < 8; i++)
		n[10 - i] = (unsigned char)(counter >> (8 * i));
	n[11] = last ? 1 : 0;
}

/* Keys. */
int age_recipient_parse(const char *s, struct age_recipient *r)
{
	if (b32_decode(HRP_RECIPIENT, s, r->pub) != 0 || strncmp(s, "age1", 4))
		return err_set(ERR_INVAL, "%s: not an age X25519 recipient "
		    "(age1 followed by 58 Bech32 characters)", esc(s));
	return 0;
}

void age_recipient_format(const struct age_recipient *r,
    char out[AGE_RECIPIENT_MAX])
{
	b32_encode(HRP_RECIPIENT, r->pub, out, AGE_RECIPIENT_MAX);
}

int age_identity_parse(const char *s, struct age_identity *id)
{
	int r;

	if (strncmp(s, "AGE-SECRET-KEY-1", 16) ||
	    b32_decode(HRP_IDENTITY, s, id->sec) != 0) {
		OPENSSL_cleanse(id, sizeof *id);
		/* The line is a secret: never echo it. */
		return err_set(ERR_INVAL, "not an age X25519 identity "
		    "(AGE-SECRET-KEY-1 followed by Bech32 characters)");
	}
	if ((r = x25519_public(id->sec, id->pub)) != 0)
		OPENSSL_cleanse(id, sizeof *id);
	return r;
}

void age_identity_format(const struct age_identity *id,
    char out[AGE_IDENTITY_MAX])
{
	b32_encode(HRP_IDENTITY, id->sec, out, AGE_IDENTITY_MAX);
	for (char *p = out; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
}

void age_identity_recipient(const struct age_identity *id,
    struct age_recipient *r)
{
	memcpy(r->pub, id->pub, AGE_KEY_LEN);
}

void age_identities_free(struct age_identity *ids, size_t n)
{
	if (ids == NULL)
		return;
	OPENSSL_cleanse(ids, n * sizeof *ids);
	free(ids);
}

int age_identities_load(const char *path, struct age_identity **out,
    size_t *nout)
{
	struct buf b = BUF_INIT(1 << 20);
	struct age_identity *ids = NULL;
	struct stat st;
	size_t n = 0, alloc = 0, lineno = 0;
	char *line;
	int fd, r;

	*out = NULL;
	*nout = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return err_sys("%s", esc(path));
	if (fstat(fd, &st) != 0) {
		r = err_sys("%s", esc(path));
		close(fd);
		return r;
	}
	close(fd);
	if (!S_ISREG(st.st_mode))
		return err_set(ERR_INVAL, "%s: not a regular file", esc(path));
	if (st.st_mode & 077)
		return err_set(ERR_DENIED, "%s: identity file has mode %04o: it "
		    "must not be readable by group or others (chmod 600)",
		    esc(path), (unsigned)(st.st_mode & 07777));
	if ((r = fs_read_file(path, 1 << 20, &b)) != 0)
		return r;
	for (char *p = b.p ? b.p : (char *)"", *nl; *p; p = nl ? nl + 1 : p + strlen(p)) {
		size_t len;
		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		line = p;
		lineno++;
		if (nl)
			*nl = '\0';
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (n == AGE_MAX_RECIPIENTS) {
			r = err_set(ERR_TOOBIG, "%s: more than %d identities",
			    esc(path), AGE_MAX_RECIPIENTS);
			goto fail;
		}
		ids = xreallocarray(ids, n + 1, sizeof *ids);
		alloc = n + 1;
		if ((r = age_identity_parse(line, &ids[n])) != 0) {
			r = err_prefix(r, "%s: line %zu", esc(path), lineno);
			goto fail;
		}
		n++;
	}
	buf_free_secret(&b);
	if (n == 0) {
		free(ids);
		return err_set(ERR_INVAL, "%s: no AGE-SECRET-KEY-1 line in it",
		    esc(path));
	}
	*out = ids;
	*nout = n;
	return 0;
fail:
	buf_free_secret(&b);
	age_identities_free(ids, alloc);
	return r;
}

int age_identity_generate(const char *path, struct age_identity *id)
{
	char rec[AGE_RECIPIENT_MAX], sec[AGE_IDENTITY_MAX], when[32];
	struct buf b = BUF_INIT(4096);
	struct age_recipient rc;
	struct tm tm;
	time_t now = time(NULL);
	int fd, r;

	if (RAND_bytes(id->sec, AGE_KEY_LEN) != 1)
		return err_set(ERR_CRYPTO, "no random bytes");
	if ((r = x25519_public(id->sec, id->pub)) != 0)
		return r;
	age_identity_recipient(id, &rc);
	age_recipient_format(&rc, rec);
	age_identity_format(id, sec);
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	r = buf_addf(&b, "# created: %s\n# public key: %s\n%s\n", when, rec, sec);
	OPENSSL_cleanse(sec, sizeof sec);
	if (r != 0)
		goto out;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600)) < 0) {
		r = err_sys("%s", esc(path));
		goto out;
	}
	if ((r = fs_write_all(fd, b.p, b.len, path)) == 0 && fsync(fd) != 0)
		r = err_sys("fsync %s", esc(path));
	if (close(fd) != 0 && r == 0)
		r = err_sys("close %s", esc(path));
	if (r != 0)
		unlink(path);
out:
	buf_free_secret(&b);
	return r;
}

/* Writer. */
struct age_writer {
	struct sink out;
	EVP_CIPHER_CTX *c;
	unsigned char key[32];		/* payload key */
	unsigned char *pt, *ct;
	size_t have;			/* plaintext bytes in pt */
	uint64_t counter;
	int err, done;
};

static int wrap_to(const struct age_recipient *rc, const unsigned char fk[16],
    EVP_CIPHER_CTX *c, struct buf *hdr)
{
	unsigned char esec[32], share[32], shared[32], salt[64], wk[32];
	unsigned char body[FILE_KEY_LEN + TAG_LEN], zero12[12] = { 0 };
	char b64[64];
	int r;

	if (RAND_bytes(esec, 32) != 1) {
		r = err_set(ERR_CRYPTO, "no random bytes");
		goto out;
	}
	if ((r = x25519_public(esec, share)) != 0)
		goto out;
	if (x25519(esec, rc->pub, shared) != 0) {
		r = err_set(ERR_INVAL, "age recipient is a low-order point");
		goto out;
	}
	memcpy(salt, share, 32);
	memcpy(salt + 32, rc->pub, 32);
	if ((r = hkdf(shared, 32, salt, 64, X25519_INFO, wk, 32)) != 0)
		goto out;
	if (aead(c, 1, wk, zero12, fk, FILE_KEY_LEN, body) != 0) {
		r = err_set(ERR_CRYPTO, "ChaCha20-Poly1305 failed");
		goto out;
	}
	b64_encode(share, 32, b64);
	if ((r = buf_addf(hdr, "-> X25519 %s\n", b64)) != 0)
		goto out;
	b64_encode(body, sizeof body, b64);	/* 43 characters: one line */
	r = buf_addf(hdr, "%s\n", b64);
out:
	OPENSSL_cleanse(esec, sizeof esec);
	OPENSSL_cleanse(shared, sizeof shared);
	OPENSSL_cleanse(wk, sizeof wk);
	return r;
}

int age_writer_new(const struct sink *out, const struct age_recipient *rs,
    size_t n, struct age_writer **wp)
{
	struct age_writer *w = xcalloc(1, sizeof *w);
	struct buf hdr = BUF_INIT(AGE_HEADER_MAX);
	unsigned char fk[FILE_KEY_LEN], mk[32], mac[MAC_LEN], nonce[NONCE_LEN];
	char b64[64];
	int r;

	*wp = NULL;
	w->out = *out;
	if (n == 0 || n > AGE_MAX_RECIPIENTS) {
		r = err_set(ERR_INVAL, "age: %zu recipients (1 to %d allowed)", n,
		    AGE_MAX_RECIPIENTS);
		goto fail;
	}
	if ((w->c = EVP_CIPHER_CTX_new()) == NULL) {
		r = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (RAND_bytes(fk, sizeof fk) != 1 || RAND_bytes(nonce, sizeof nonce) != 1) {
		r = err_set(ERR_CRYPTO, "no random bytes");
		goto fail;
	}
	if ((r = buf_adds(&hdr, AGE_INTRO "\n")) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if ((r = wrap_to(&rs[i], fk, w->c, &hdr)) != 0)
			goto fail;
	if ((r = buf_adds(&hdr, "---")) != 0 ||
	    (r = hkdf(fk, sizeof fk, NULL, 0, "header", mk, 32)) != 0 ||
	    (r = hmac_sha256(mk, hdr.p, hdr.len, mac)) != 0)
		goto fail;
	b64_encode(mac, sizeof mac, b64);
	if ((r = buf_addf(&hdr, " %s\n", b64)) != 0 ||
	    (r = buf_add(&hdr, nonce, sizeof nonce)) != 0 ||
	    (r = hkdf(fk, sizeof fk, nonce, sizeof nonce, "payload", w->key,
	    32)) != 0)
		goto fail;
	if ((r = w->out.write(w->out.ctx, hdr.p, hdr.len)) != 0)
		goto fail;
	w->pt = xmalloc(AGE_CHUNK);
	w->ct = xmalloc(CT_CHUNK);
	OPENSSL_cleanse(fk, sizeof fk);
	OPENSSL_cleanse(mk, sizeof mk);
	buf_free(&hdr);
	*wp = w;
	return 0;
fail:
	OPENSSL_cleanse(fk, sizeof fk);
	OPENSSL_cleanse(mk, sizeof mk);
	buf_free(&hdr);
	age_writer_free(w);
	return r;
}

static int seal_chunk(struct age_writer *w, int last)
{
	unsigned char nonce[12];
	int r;

	chunk_nonce(w->counter, last, nonce);
	if (aead(w->c, 1, w->key, nonce, w->pt, w->have, w->ct) != 0)
		return w->err = err_set(ERR_CRYPTO, "ChaCha20-Poly1305 failed");
	if ((r = w->out.write(w->out.ctx, w->ct, w->have + TAG_LEN)) != 0)
		return w->err = r;
	w->counter++;
	w->have = 0;
	return 0;
}

int age_write(struct age_writer *w, const void *p, size_t len)
{
	const unsigned char *q = p;
	int r;

	if (w->err)
		return w->err;
	while (len) {
		size_t k;
		/* A full chunk is sealed only once more bytes arrive: the
		 * last chunk, full or not, carries the last flag. */
		if (w->have == AGE_CHUNK && (r = seal_chunk(w, 0)) != 0)
			return r;
		k = AGE_CHUNK - w->have;
		if (k > len)
			k = len;
		memcpy(w->pt + w->have, q, k);
		w->have += k;
		q += k;
		len -= k;
	}
	return 0;
}

int age_sink_write(void *ctx, const void *p, size_t n)
{
	return age_write(ctx, p, n);
}

int age_finish(struct age_writer *w)
{
	int r;

	if (w->err)
		return w->err;
	if (w->done)
		return 0;
	if ((r = seal_chunk(w, 1)) != 0)
		return r;
	w->done = 1;
	return 0;
}

void age_writer_free(struct age_writer *w)
{
	if (w == NULL)
		return;
	EVP_CIPHER_CTX_free(w->c);
	if (w->pt)
		OPENSSL_cleanse(w->pt, AGE_CHUNK);
	free(w->pt);
	free(w->ct);
	OPENSSL_cleanse(w, sizeof *w);
	free(w);
}

/* Reader. */
struct age_reader {
	struct source in;
	const char *what;
	EVP_CIPHER_CTX *c;
	unsigned char key[32];
	unsigned char *ct;		/* CT_CHUNK + 1: a chunk and one byte */
	size_t ctlen;			/* bytes in ct */
	unsigned char *pt;
	size_t ptlen, ptpos;
	uint64_t counter;
	int last_done, err;
	int pending;			/* fails the read after this chunk */
	char pendmsg[256];
};

int age_looks_like(const void *p, size_t n)
{
	return n >= sizeof AGE_INTRO && memcmp(p, AGE_INTRO "\n",
	    sizeof AGE_INTRO) == 0;
}

/* Read one header line (without its '\n') into hdr; *start is where it
 * begins. Bytes read past the header stay in r->ct. */
static int next_line(struct age_reader *r, struct buf *hdr, size_t *start,
    size_t *len)
{
	*start = hdr->len;
	for (;;) {
		unsigned char *nl = r->ctlen ? memchr(r->ct, '\n', r->ctlen) : NULL;
		size_t take = nl ? (size_t)(nl - r->ct) + 1 : r->ctlen, got;
		int e;
		if (buf_add(hdr, r->ct, take) != 0)
			return err_set(ERR_FORMAT, "%s: age header longer than %d "
			    "bytes", r->what, AGE_HEADER_MAX);
		memmove(r->ct, r->ct + take, r->ctlen - take);
		r->ctlen -= take;
		if (nl) {
			*len = hdr->len - *start - 1;
			return 0;
		}
		if ((e = r->in.read(r->in.ctx, r->ct, CT_CHUNK + 1, &got)) != 0)
			return e;
		if (got == 0)
			return err_set(ERR_FORMAT, "%s: age header ends early",
			    r->what);
		r->ctlen = got;
	}
}

static int hdr_err(struct age_reader *r, const char *why)
{
	return err_set(ERR_FORMAT, "%s: malformed age header: %s", r->what, why);
}

/* A stanza as read: arguments and body. */
struct stanza {
	size_t argv[16], argl[16];	/* offsets into the header */
	int argc;
	unsigned char body[4096];
	long bodylen;
};

static int arg_ok(const char *p, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 33 || (unsigned char)p[i] > 126)
			return 0;
	return 1;
}

static int parse_stanza(struct age_reader *r, struct buf *hdr, size_t at,
    size_t len, struct stanza *st)
{
	struct buf body = BUF_INIT(8192);
	size_t i = at + 3, end = at + len;
	int e = 0;

	memset(st, 0, sizeof *st);
	while (i <= end) {
		const char *sp = memchr(hdr->p + i, ' ', end - i);
		size_t n = sp ? (size_t)(sp - (hdr->p + i)) : end - i;
		if (!arg_ok(hdr->p + i, n))
			return hdr_err(r, "empty or invalid stanza argument");
		if (st->argc == 16)
			return hdr_err(r, "too many stanza arguments");
		st->argv[st->argc] = i;
		st->argl[st->argc++] = n;
		i += n + 1;
		if (sp == NULL)
			break;
	}
	/* Body lines: 64 columns each, the last one shorter (maybe empty). */
	for (;;) {
		size_t s, l;
		if ((e = next_line(r, hdr, &s, &l)) != 0)
			goto out;
		if (l > 64) {
			e = hdr_err(r, "stanza body line longer than 64 columns");
			goto out;
		}
		for (size_t k = 0; k < l; k++)
			if (b64_val(hdr->p[s + k]) < 0) {
				e = hdr_err(r, "invalid character in a stanza body");
				goto out;
			}
		if ((e = buf_add(&body, hdr->p + s, l)) != 0) {
			e = hdr_err(r, "stanza body too long");
			goto out;
		}
		if (l < 64)
			break;
	}
	st->bodylen = b64_decode(body.p ? body.p : "", body.len, st->body,
	    sizeof st->body);
	if (st->bodylen < 0)
		e = hdr_err(r, "stanza body is not canonical base64");
out:
	buf_free(&body);
	return e;
}

/* Try the identities on an X25519 stanza: 0 with fk set, 1 when none
 * matches, or an error for a malformed stanza. */
static int unwrap_x25519(struct age_reader *r, struct buf *hdr,
    const struct stanza *st, const struct age_identity *ids, size_t n,
    unsigned char fk[FILE_KEY_LEN])
{
	unsigned char share[33], shared[32], salt[64], wk[32], zero12[12] = { 0 };
	int found = 1;

	if (st->argc != 2)
		return hdr_err(r, "X25519 stanza with other than one argument");
	if (b64_decode(hdr->p + st->argv[1], st->argl[1], share, sizeof share) != 32)
		return hdr_err(r, "X25519 share is not 32 bytes of canonical base64");
	if (st->bodylen != FILE_KEY_LEN + TAG_LEN)
		return hdr_err(r, "X25519 stanza body is not 32 bytes");
	for (size_t i = 0; i < n && found == 1; i++) {
		if (x25519(ids[i].sec, share, shared) != 0)
			return hdr_err(r, "X25519 share is a low-order point");
		memcpy(salt, share, 32);
		memcpy(salt + 32, ids[i].pub, 32);
		if (hkdf(shared, 32, salt, 64, X25519_INFO, wk, 32) != 0) {
			found = ERR_CRYPTO;
			break;
		}
		if (aead(r->c, 0, wk, zero12, st->body, (size_t)st->bodylen, fk) == 0)
			found = 0;
	}
	OPENSSL_cleanse(shared, sizeof shared);
	OPENSSL_cleanse(wk, sizeof wk);
	return found;
}

static int read_header(struct age_reader *r, const struct age_identity *ids,
    size_t n)
{
	struct buf hdr = BUF_INIT(AGE_HEADER_MAX);
	unsigned char fk[FILE_KEY_LEN], mk[32], mac[MAC_LEN], want[MAC_LEN];
	unsigned char nonce[NONCE_LEN];
	size_t s, l, got;
	int e, have_key = 0, stanzas = 0;

	if ((e = next_line(r, &hdr, &s, &l)) != 0)
		goto out;
	if (l != strlen(AGE_INTRO) || memcmp(hdr.p, AGE_INTRO, l)) {
		e = err_set(ERR_FORMAT, "%s: not an age v1 file", r->what);
		goto out;
	}
	for (;;) {
		struct stanza st;
		if ((e = next_line(r, &hdr, &s, &l)) != 0)
			goto out;
		if (l >= 3 && memcmp(hdr.p + s, "---", 3) == 0) {
			if (l != 4 + 43 || hdr.p[s + 3] != ' ' ||
			    b64_decode(hdr.p + s + 4, 43, want, sizeof want) != MAC_LEN) {
				e = hdr_err(r, "the MAC line is not \"--- \" and 43 "
				    "base64 characters");
				goto out;
			}
			hdr.len = s + 3;	/* the MAC covers up to "---" */
			break;
		}
		if (l < 3 || memcmp(hdr.p + s, "-> ", 3)) {
			e = hdr_err(r, "a line is neither a stanza nor the MAC");
			goto out;
		}
		if ((e = parse_stanza(r, &hdr, s, l, &st)) != 0)
			goto out;
		stanzas++;
		if (have_key || st.argl[0] != 6 || memcmp(hdr.p + st.argv[0],
		    "X25519", 6))
			continue;	/* another type: not ours to open */
		if ((e = unwrap_x25519(r, &hdr, &st, ids, n, fk)) < 0)
			goto out;
		have_key = e == 0;
	}
	if (stanzas == 0) {
		e = hdr_err(r, "no recipient stanza");
		goto out;
	}
	if (!have_key) {
		e = err_set(ERR_NOKEY, "%s: encrypted to other recipients: none of "
		    "the %zu identit%s given can decrypt it", r->what, n,
		    n == 1 ? "y" : "ies");
		goto out;
	}
	if ((e = hkdf(fk, sizeof fk, NULL, 0, "header", mk, 32)) != 0 ||
	    (e = hmac_sha256(mk, hdr.p, hdr.len, mac)) != 0)
		goto out;
	if (CRYPTO_memcmp(mac, want, MAC_LEN) != 0) {
		e = err_set(ERR_SIG, "%s: the age header MAC does not verify "
		    "(header altered)", r->what);
		goto out;
	}
	/* The nonce: leftover bytes first, then the source. */
	if (r->ctlen < NONCE_LEN) {
		if ((e = source_read_full(&r->in, r->ct + r->ctlen,
		    NONCE_LEN - r->ctlen, &got)) != 0)
			goto out;
		r->ctlen += got;
		if (r->ctlen < NONCE_LEN) {
			e = hdr_err(r, "the payload nonce is cut short");
			goto out;
		}
	}
	memcpy(nonce, r->ct, NONCE_LEN);
	memmove(r->ct, r->ct + NONCE_LEN, r->ctlen - NONCE_LEN);
	r->ctlen -= NONCE_LEN;
	e = hkdf(fk, sizeof fk, nonce, sizeof nonce, "payload", r->key, 32);
out:
	OPENSSL_cleanse(fk, sizeof fk);
	OPENSSL_cleanse(mk, sizeof mk);
	buf_free(&hdr);
	return e;
}

int age_reader_new(const struct source *in, const struct age_identity *ids,
    size_t n, const char *what, struct age_reader **out)
{
	struct age_reader *r = xcalloc(1, sizeof *r);
	int e;

	*out = NULL;
	r->in = *in;
	r->what = what;
	r->ct = xmalloc(CT_CHUNK + 1);
	r->pt = xmalloc(AGE_CHUNK);
	if ((r->c = EVP_CIPHER_CTX_new()) == NULL) {
		age_reader_free(r);
		return err_set(ERR_NOMEM, "out of memory");
	}
	if ((e = read_header(r, ids, n)) != 0) {
		age_reader_free(r);
		return e;
	}
	*out = r;
	return 0;
}

/* Decrypt the next chunk into pt. ct holds up to one byte beyond a full
 * chunk, so whether the source ends after it is known. As the reference
 * implementation does, a full chunk is tried as a middle chunk and then
 * as the last one; its plaintext is authentic either way and is released,
 * and a last chunk with bytes after it, or a stream that ends without a
 * last chunk, fails at the next read. */
static int next_chunk(struct age_reader *r)
{
	unsigned char nonce[12];
	size_t got, len;
	int e, more, last;

	if ((e = source_read_full(&r->in, r->ct + r->ctlen,
	    CT_CHUNK + 1 - r->ctlen, &got)) != 0)
		return e;
	r->ctlen += got;
	more = r->ctlen > CT_CHUNK;
	len = more ? CT_CHUNK : r->ctlen;
	if (len < TAG_LEN)
		return err_set(ERR_FORMAT, "%s: age payload %s", r->what,
		    r->counter == 0 && len == 0 ? "has no chunk" :
		    "ends without its last chunk (cut short?)");
	last = len < CT_CHUNK;
	chunk_nonce(r->counter, last, nonce);
	if (aead(r->c, 0, r->key, nonce, r->ct, len, r->pt) != 0) {
		last = !last;
		chunk_nonce(r->counter, last, nonce);
		if (len < CT_CHUNK || aead(r->c, 0, r->key, nonce, r->ct, len,
		    r->pt) != 0)
			return err_set(ERR_FORMAT, "%s: age payload chunk %llu does "
			    "not decrypt (altered, cut short or reordered)", r->what,
			    (unsigned long long)r->counter);
	}
	if (last && len == TAG_LEN && r->counter > 0)
		return err_set(ERR_FORMAT, "%s: age payload ends in an empty "
		    "chunk", r->what);
	r->ptlen = len - TAG_LEN;
	r->ptpos = 0;
	memmove(r->ct, r->ct + len, r->ctlen - len);
	r->ctlen -= len;
	r->counter++;
	r->last_done = last;
	if (last && more) {
		r->pending = ERR_FORMAT;
		snprintf(r->pendmsg, sizeof r->pendmsg, "%s: bytes follow the "
		    "last age payload chunk", r->what);
	} else if (!last && !more) {
		r->pending = ERR_FORMAT;
		snprintf(r->pendmsg, sizeof r->pendmsg, "%s: age payload ends "
		    "without its last chunk (cut short?)", r->what);
	}
	return 0;
}

int age_read(struct age_reader *r, void *p, size_t cap, size_t *got)
{
	*got = 0;
	if (r->err)
		return r->err;
	while (r->ptpos == r->ptlen) {
		if (r->pending)
			return r->err = err_set(r->pending, "%s", r->pendmsg);
		if (r->last_done)
			return 0;
		if ((r->err = next_chunk(r)) != 0)
			return r->err;
	}
	if (cap > r->ptlen - r->ptpos)
		cap = r->ptlen - r->ptpos;
	memcpy(p, r->pt + r->ptpos, cap);
	r->ptpos += cap;
	*got = cap;
	return 0;
}

int age_source_read(void *ctx, void *p, size_t cap, size_t *got)
{
	return age_read(ctx, p, cap, got);
}

void age_reader_free(struct age_reader *r)
{
	if (r == NULL)
		return;
	EVP_CIPHER_CTX_free(r->c);
	if (r->pt)
		OPENSSL_cleanse(r->pt, AGE_CHUNK);
	free(r->pt);
	free(r->ct);
	OPENSSL_cleanse(r, sizeof *r);
	free(r);
}
