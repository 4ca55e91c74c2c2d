/* crypto.c: SHA-256, Ed25519 and private key recognition with OpenSSL
 * (see crypto.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "fsutil.h"
#include "xmalloc.h"
#include "banned.h"

struct sha256 {
	EVP_MD_CTX *ctx;
};

struct sigkey {
	EVP_PKEY *pkey;
	int has_private;
	char id[KEYID_HEX_LEN + 1];
};

struct sha256 *sha256_new(void)
{
	struct sha256 *h = nmalloc(sizeof *h);

	if (h == NULL)
		return NULL;
	if ((h->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
		return NULL;
	}
	return h;
}

void sha256_update(struct sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
}

void sha256_final_hex(struct sha256 *h, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char md[SHA256_LEN];
	unsigned int n = 0;

	EVP_DigestFinal_ex(h->ctx, md, &n);
	hex_encode(md, SHA256_LEN, hex);
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int md5_hex(const void *data, size_t len, char hex[33])
{
	unsigned char md[16];
	unsigned int n = 0;

	if (EVP_Digest(data, len, md, &n, EVP_md5(), NULL) != 1 || n != 16)
		return err_set(ERR_CRYPTO, "MD5: digest failed");
	hex_encode(md, 16, hex);
	return 0;
}

int sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1],
    uint64_t *sizep)
{
	static const size_t chunk = 1 << 20;
	struct sha256 *h;
	uint64_t total = 0;
	char *b;
	ssize_t n;
	int fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return err_sys("%s", path);
	b = xmalloc(chunk);
	if ((h = sha256_new()) == NULL) {
		r = err_set(ERR_CRYPTO, "SHA-256 unavailable");
		goto out;
	}
	while ((n = read(fd, b, chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = err_sys("read %s", path);
			break;
		}
		sha256_update(h, b, (size_t)n);
		total += (uint64_t)n;
	}
	sha256_final_hex(h, hex);
	if (sizep)
		*sizep = total;
out:
	free(b);
	close(fd);
	return r;
}

void hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int hex_decode(const char *in, unsigned char *out, size_t outlen)
{
	for (size_t i = 0; i < outlen; i++) {
		int hi = hexval(in[2 * i]), lo;
		if (hi < 0 || (lo = hexval(in[2 * i + 1])) < 0)
			return err_set(ERR_FORMAT, "bad hex digit");
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	if (in[2 * outlen] != '\0')
		return err_set(ERR_FORMAT, "hex string too long");
	return 0;
}

static int set_id(struct sigkey *k)
{
	unsigned char raw[32], md[SHA256_LEN];
	size_t len = sizeof raw;
	unsigned int mdlen = 0;

	if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &len) != 1 || len != 32)
		return err_set(ERR_CRYPTO, "not an Ed25519 key");
	if (EVP_Digest(raw, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return err_set(ERR_CRYPTO, "SHA-256 failed");
	hex_encode(md, KEYID_HEX_LEN / 2, k->id);
	return 0;
}

static int wrap(EVP_PKEY *pkey, int has_private, struct sigkey **out)
{
	struct sigkey *k;
	int r;

	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		return err_set(ERR_CRYPTO, "not an Ed25519 key");
	}
	k = xcalloc(1, sizeof *k);
	k->pkey = pkey;
	k->has_private = has_private;
	if ((r = set_id(k)) != 0) {
		sigkey_free(k);
		return r;
	}
	*out = k;
	return 0;
}

static int write_pem(const char *path, EVP_PKEY *pkey, int private)
{
	FILE *f;
	int fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    private ? 0600 : 0644);
	if (fd < 0)
		return err_sys("create %s", path);
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return err_sys("%s", path);
	}
	ok = private ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)
	    : PEM_write_PUBKEY(f, pkey);
	if (ok == 1 && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (ok != 1) {
		unlink(path);
		return err_set(ERR_IO, "cannot write key %s", path);
	}
	return 0;
}

int sigkey_generate(const char *priv_path, const char *pub_path)
{
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx;
	int r;

	ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_keygen(ctx, &pkey) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return err_set(ERR_CRYPTO, "Ed25519 key generation failed");
	}
	EVP_PKEY_CTX_free(ctx);
	if ((r = write_pem(priv_path, pkey, 1)) == 0 &&
	    (r = write_pem(pub_path, pkey, 0)) != 0)
		unlink(priv_path);
	if (r == 0)
		r = fs_fsync_parent(priv_path);
	EVP_PKEY_free(pkey);
	return r;
}

int sigkey_load_private(const char *path, struct sigkey **out)
{
	EVP_PKEY *pkey;
	FILE *f;

	*out = NULL;
	if ((f = fopen(path, "re")) == NULL)
		return err_sys("%s", path);
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL)
		return err_set(ERR_CRYPTO, "%s: not a PEM private key", path);
	return wrap(pkey, 1, out);
}

int sigkey_parse_public(const char *pem, size_t len, struct sigkey **out)
{
	EVP_PKEY *pkey;
	BIO *bio;

	*out = NULL;
	if (len > 16384 || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return err_set(ERR_FORMAT, "not a PEM public key");
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL)
		return err_set(ERR_FORMAT, "not a PEM public key");
	return wrap(pkey, 0, out);
}

int sigkey_load_public(const char *path, struct sigkey **out)
{
	struct buf b = BUF_INIT(16384);
	int r;

	*out = NULL;
	if ((r = fs_read_file(path, 16384, &b)) == 0 &&
	    (r = sigkey_parse_public(buf_cstr(&b), b.len, out)) != 0)
		r = err_prefix(r, "%s", path);
	buf_free(&b);
	return r;
}

void sigkey_free(struct sigkey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const char *sigkey_id(const struct sigkey *k)
{
	return k->id;
}

int sigkey_public_pem(const struct sigkey *k, struct buf *b)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int r;

	if (bio == NULL || PEM_write_bio_PUBKEY(bio, k->pkey) != 1) {
		BIO_free(bio);
		return err_set(ERR_CRYPTO, "cannot encode public key");
	}
	n = BIO_get_mem_data(bio, &p);
	r = buf_add(b, p, (size_t)n);
	BIO_free(bio);
	return r;
}

int sigkey_sign(const struct sigkey *k, const void *msg, size_t len,
    unsigned char sig[SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = SIG_LEN;
	int ok;

	if (!k->has_private)
		return err_set(ERR_CRYPTO, "no private key");
	ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 &&
	    siglen == SIG_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : err_set(ERR_CRYPTO, "Ed25519 signing failed");
}

int sigkey_verify(const struct sigkey *k, const void *msg, size_t len,
    const unsigned char sig[SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, SIG_LEN, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : err_set(ERR_SIG, "signature does not match key %s",
	    k->id);
}

int ssh_key_fingerprint(const char *blob_b64, char *out, size_t outsz)
{
	size_t len = strlen(blob_b64), n;
	unsigned char *raw, md[SHA256_LEN];
	char b64[64];
	unsigned int mdlen = 0;
	int dl;

	if (len == 0 || len % 4 || len > 16384)
		return err_set(ERR_FORMAT, "not a base64 public key");
	raw = xmalloc(len);
	dl = EVP_DecodeBlock(raw, (const unsigned char *)blob_b64, (int)len);
	if (dl < 0) {
		free(raw);
		return err_set(ERR_FORMAT, "not a base64 public key");
	}
	/* EVP_DecodeBlock counts padding as zero bytes. */
	n = (size_t)dl - (blob_b64[len - 1] == '=') - (blob_b64[len - 2] == '=');
	EVP_Digest(raw, n, md, &mdlen, EVP_sha256(), NULL);
	free(raw);
	EVP_EncodeBlock((unsigned char *)b64, md, SHA256_LEN);
	b64[strcspn(b64, "=")] = '\0';
	if ((size_t)snprintf(out, outsz, "SHA256:%s", b64) >= outsz)
		return err_set(ERR_INVAL, "fingerprint buffer too small");
	return 0;
}

int random_bytes(void *out, size_t len)
{
	if (RAND_bytes(out, (int)len) != 1)
		return err_set(ERR_CRYPTO, "no random bytes");
	return 0;
}

int uuid_new(char out[37])
{
	unsigned char u[16];
	char hex[33];
	int r;

	if ((r = random_bytes(u, sizeof u)) != 0)
		return r;
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	hex_encode(u, sizeof u, hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
	    hex + 16, hex + 20);
	return 0;
}

/* "-----BEGIN " or "---- BEGIN " ending at p + i (exclusive), within n. */
static int armour_before(const unsigned char *p, size_t i)
{
	static const char five[] = "-----", four[] = "---- ";

	return (i >= 5 && !memcmp(p + i - 5, five, 5)) ||
	    (i >= 5 && !memcmp(p + i - 5, four, 5));
}

/* At p + i (just after "BEGIN "): an upper-case label ending in "PRIVATE
 * KEY" followed by "-----" or " ----" (the armour of every private key
 * format; prose that mentions private keys has no such line). */
static int private_label_at(const unsigned char *p, size_t n, size_t i)
{
	static const char pk[] = "PRIVATE KEY";
	size_t j = i;

	while (j < n && j - i < 64 && ((p[j] >= 'A' && p[j] <= 'Z') ||
	    (p[j] >= '0' && p[j] <= '9') || p[j] == ' ')) {
		if (j + 11 + 5 <= n && !memcmp(p + j, pk, 11) &&
		    (!memcmp(p + j + 11, "-----", 5) ||
		    !memcmp(p + j + 11, " ----", 5)))
			return 1;
		j++;
	}
	return 0;
}

static int pem_private_key(const unsigned char *p, size_t n)
{
	static const char putty[] = "PuTTY-User-Key-File-";
	const unsigned char *q = p;
	size_t off;

	if (n >= sizeof putty - 1 && !memcmp(p, putty, sizeof putty - 1))
		return 1;
	while ((q = memmem(q, n - (size_t)(q - p), "BEGIN ", 6)) != NULL) {
		off = (size_t)(q - p) + 6;
		if (armour_before(p, off - 6) && private_label_at(p, n, off))
			return 1;
		q += 6;
	}
	return 0;
}

/* The n bytes are exactly one DER SEQUENCE (definite length). */
static int der_sequence(const unsigned char *p, size_t n)
{
	size_t len = 0, hl;
	int k;

	if (n < 2 || p[0] != 0x30)
		return 0;
	if (p[1] < 0x80) {
		hl = 2;
		len = p[1];
	} else {
		k = p[1] & 0x7f;
		if (k < 1 || k > 3 || n < 2 + (size_t)k)
			return 0;
		for (int i = 0; i < k; i++)
			len = len << 8 | p[2 + i];
		hl = 2 + (size_t)k;
	}
	return hl + len == n;
}

/* OpenSSL decodes the whole of p as a private key: PKCS#8 or traditional
 * (d2i_AutoPrivateKey), or encrypted PKCS#8 (an X509_SIG whose algorithm
 * is a password-based encryption). */
static int der_private_key(const unsigned char *p, size_t n)
{
	const unsigned char *q = p;
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *oid = NULL;
	EVP_PKEY *k;
	X509_SIG *sig;
	int found = 0, nid;

	if (!der_sequence(p, n) || n > 1 << 20)
		return 0;
	if ((k = d2i_AutoPrivateKey(NULL, &q, (long)n)) != NULL) {
		found = q == p + n;
		EVP_PKEY_free(k);
	}
	q = p;
	if (!found && (sig = d2i_X509_SIG(NULL, &q, (long)n)) != NULL) {
		X509_SIG_get0(sig, &alg, NULL);
		X509_ALGOR_get0(&oid, NULL, NULL, alg);
		nid = OBJ_obj2nid(oid);
		found = q == p + n && (nid == NID_pbes2 || EVP_PBE_find(
		    EVP_PBE_TYPE_OUTER, nid, NULL, NULL, NULL) == 1);
		X509_SIG_free(sig);
	}
	ERR_clear_error();
	return found;
}

int crypto_looks_like_private_key(const unsigned char *p, size_t n)
{
	if (p == NULL || n == 0)
		return 0;
	return pem_private_key(p, n) || der_private_key(p, n);
}
