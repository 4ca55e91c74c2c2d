/* x509.c: certificates, keys and requests with OpenSSL's X.509, PEM and
 * verification interfaces (x509.h). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "err.h"
#include "esc.h"
#include "x509.h"
#include "xmalloc.h"
#include "banned.h"

struct x509_certs {
	STACK_OF(X509) *sk;
};

struct x509_key {
	EVP_PKEY *pk;
};

/* A PEM private key under a passphrase (PKCS#8 or the older form). */
static int encrypted(const void *p, size_t len)
{
	static const char *const marks[] = { "ENCRYPTED PRIVATE KEY-----",
	    "Proc-Type: 4,ENCRYPTED" };

	for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
		if (memmem(p, len, marks[i], strlen(marks[i])))
			return 1;
	return 0;
}

/* The passphrase callback: there is none to give, and nobody is asked. */
static int no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

int x509_certs_parse(const void *p, size_t len, const char *name,
    struct x509_certs **out)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	const unsigned char *der = p;
	BIO *bio = NULL;
	X509 *x;

	*out = NULL;
	if (len > INT32_MAX) {
		sk_X509_free(sk);
		return err_set(ERR_FORMAT, "%s: not a certificate (too large)",
		    esc(name));
	}
	if (sk == NULL || (bio = BIO_new_mem_buf(p, (int)len)) == NULL) {
		sk_X509_free(sk);
		return err_set(ERR_NOMEM, "%s: out of memory", esc(name));
	}
	while (sk_X509_num(sk) < X509_CHAIN_MAX &&
	    (x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL)
		if (!sk_X509_push(sk, x))
			X509_free(x);
	BIO_free(bio);
	if (sk_X509_num(sk) == 0 && (x = d2i_X509(NULL, &der, (long)len)) &&
	    !sk_X509_push(sk, x))
		X509_free(x);
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		return err_set(ERR_FORMAT, "%s: not a certificate", esc(name));
	}
	*out = xmalloc(sizeof **out);
	(*out)->sk = sk;
	return 0;
}

int x509_key_parse(const void *p, size_t len, const char *name,
    struct x509_key **out)
{
	const unsigned char *der = p;
	EVP_PKEY *pk = NULL;
	BIO *bio;

	*out = NULL;
	if (len > INT32_MAX)
		return err_set(ERR_FORMAT, "%s: not an unencrypted private key",
		    esc(name));
	if ((bio = BIO_new_mem_buf(p, (int)len)) != NULL) {
		pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
		BIO_free(bio);
	}
	if (pk == NULL)
		pk = d2i_AutoPrivateKey(NULL, &der, (long)len);
	ERR_clear_error();
	if (pk == NULL)
		return err_set(ERR_FORMAT, "%s: not an unencrypted private key%s",
		    esc(name), encrypted(p, len) ? " (it is encrypted)" : "");
	*out = xmalloc(sizeof **out);
	(*out)->pk = pk;
	return 0;
}

void x509_certs_free(struct x509_certs *c)
{
	if (c == NULL)
		return;
	sk_X509_pop_free(c->sk, X509_free);
	free(c);
}

void x509_key_free(struct x509_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pk);
	free(k);
}

static X509 *first(const struct x509_certs *c)
{
	return sk_X509_value(c->sk, 0);
}

int x509_key_matches(const struct x509_certs *c, const struct x509_key *k)
{
	int r = X509_check_private_key(first(c), k->pk) == 1;

	ERR_clear_error();
	return r;
}

int x509_verify(const struct x509_certs *c, const struct x509_certs *ca,
    time_t at, int check_time, char *why, size_t whysz)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int r = 0, e;

	why[0] = '\0';
	if (store == NULL || ctx == NULL) {
		snprintf(why, whysz, "out of memory");
		r = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	if (ca == NULL)
		X509_STORE_set_default_paths(store);
	for (int i = 0; ca && i < sk_X509_num(ca->sk); i++)
		X509_STORE_add_cert(store, sk_X509_value(ca->sk, i));
	if (X509_STORE_CTX_init(ctx, store, first(c), c->sk) != 1) {
		snprintf(why, whysz, "cannot set up the verification");
		r = err_set(ERR_CRYPTO, "%s", why);
		goto out;
	}
	if (check_time)
		X509_STORE_CTX_set_time(ctx, 0, at);
	else
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
	if (X509_verify_cert(ctx) != 1) {
		e = X509_STORE_CTX_get_error(ctx);
		snprintf(why, whysz, "%s (depth %d)",
		    X509_verify_cert_error_string(e),
		    X509_STORE_CTX_get_error_depth(ctx));
		r = err_set(ERR_CRYPTO, "%s", why);
	}
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return r;
}

void x509_cn(const struct x509_certs *c, char *out, size_t outsz)
{
	X509_NAME *nm = X509_get_subject_name(first(c));

	if (outsz > INT32_MAX || nm == NULL ||
	    X509_NAME_get_text_by_NID(nm, NID_commonName, out, (int)outsz) < 0)
		out[0] = '\0';
}

/* ---- describing (pki inspect) ---- */

/* The BIO's contents appended to out. */
static int bio_take(BIO *bio, struct buf *out)
{
	char *p;
	long n = BIO_get_mem_data(bio, &p);

	return buf_add(out, p, (size_t)n);
}

static int add_name(struct buf *out, const char *label, const X509_NAME *nm)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int r;

	if (bio == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	X509_NAME_print_ex(bio, nm, 0, (XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN |
	    ASN1_STRFLGS_RFC2253) & ~ASN1_STRFLGS_ESC_MSB);
	if ((r = buf_addf(out, "    %s: ", label)) == 0 &&
	    (r = bio_take(bio, out)) == 0)
		r = buf_adds(out, "\n");
	BIO_free(bio);
	return r;
}

static int add_time(struct buf *out, const char *label, const ASN1_TIME *t)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int r;

	if (bio == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	ASN1_TIME_print(bio, t);
	if ((r = buf_addf(out, "      %s: ", label)) == 0 &&
	    (r = bio_take(bio, out)) == 0)
		r = buf_adds(out, "\n");
	BIO_free(bio);
	return r;
}

static int add_serial(struct buf *out, const ASN1_INTEGER *serial)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	size_t len;
	int r;

	if (hex == NULL) {
		BN_free(bn);
		return err_set(ERR_NOMEM, "out of memory");
	}
	r = buf_adds(out, "    Serial Number:\n      ");
	len = strlen(hex);
	/* Even digit count, lower case, colon-separated, as openssl x509. */
	for (size_t i = 0, odd = len & 1; r == 0 && i < len; i++) {
		char c = hex[i];
		if (i && ((i + odd) % 2) == 0)
			r = buf_addch(out, ':');
		if (i == 0 && odd && r == 0)
			r = buf_addch(out, '0');
		if (r == 0)
			r = buf_addch(out, (char)(c >= 'A' && c <= 'F' ? c + 32 : c));
	}
	if (r == 0)
		r = buf_adds(out, "\n");
	OPENSSL_free(hex);
	BN_free(bn);
	return r;
}

static int add_pubkey(struct buf *out, EVP_PKEY *pk, const char *indent)
{
	int id = EVP_PKEY_get_base_id(pk);
	const char *alg = id == EVP_PKEY_RSA ? "rsaEncryption" :
	    id == EVP_PKEY_EC ? "id-ecPublicKey" : id == EVP_PKEY_ED25519 ?
	    "ED25519" : id == EVP_PKEY_ED448 ? "ED448" : OBJ_nid2ln(id);

	return buf_addf(out, "%sPublic Key Algorithm: %s\n%sPublic-Key: (%d bit)\n",
	    indent, alg ? alg : "unknown", indent, EVP_PKEY_get_bits(pk));
}

/* An ASN1_TIME as seconds since the epoch, UTC. */
static int asn1_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return err_set(ERR_FORMAT, "malformed certificate time");
	*out = timegm(&tm);
	return 0;
}

static int describe_cert(X509 *x, const char *enc, struct buf *out,
    struct x509_seen *seen)
{
	const ASN1_TIME *nb = X509_get0_notBefore(x), *na = X509_get0_notAfter(x);
	EVP_PKEY *pk = X509_get0_pubkey(x);
	int r;

	if ((r = asn1_time(nb, &seen->not_before)) != 0 ||
	    (r = asn1_time(na, &seen->not_after)) != 0)
		return r;
	seen->cert = 1;
	r = buf_addf(out, "File contains a %s encoded certificate\nCertificate:\n"
	    "  Data:\n    Version: %ld (0x%lx)\n", enc, X509_get_version(x) + 1,
	    X509_get_version(x));
	if (r == 0) r = add_serial(out, X509_get0_serialNumber(x));
	if (r == 0) r = buf_addf(out, "    Signature Algorithm: %s\n",
	    OBJ_nid2ln(X509_get_signature_nid(x)));
	if (r == 0) r = add_name(out, "Issuer", X509_get_issuer_name(x));
	if (r == 0) r = buf_adds(out, "    Validity:\n");
	if (r == 0) r = add_time(out, "Not Before", nb);
	if (r == 0) r = add_time(out, "Not After ", na);
	if (r == 0) r = add_name(out, "Subject", X509_get_subject_name(x));
	if (r == 0) r = buf_adds(out, "    Subject Public Key Info:\n");
	if (r == 0 && pk) r = add_pubkey(out, pk, "      ");
	return r;
}

int x509_describe(const void *p, size_t len, const char *name,
    struct buf *out, struct x509_seen *seen)
{
	BIO *bio = BIO_new_mem_buf(p, (int)len);
	const unsigned char *der = p;
	X509 *x = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *pk = NULL;
	int r;

	memset(seen, 0, sizeof *seen);
	if (bio == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		r = describe_cert(x, "PEM", out, seen);
		goto out;
	}
	if ((x = d2i_X509(NULL, &der, (long)len)) != NULL) {
		r = describe_cert(x, "DER", out, seen);
		goto out;
	}
	if (encrypted(p, len)) {
		r = buf_adds(out, "File contains a PEM encoded private key "
		    "(encrypted with a passphrase)\n");
		goto out;
	}
	BIO_reset(bio);
	if ((pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) != NULL) {
		r = buf_adds(out, "File contains a PEM encoded private key\n");
		if (r == 0) r = add_pubkey(out, pk, "  ");
		goto out;
	}
	BIO_reset(bio);
	if ((req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL)) != NULL) {
		r = buf_adds(out, "File contains a PEM encoded certificate signing "
		    "request\n");
		if (r == 0) r = add_name(out, "Subject", X509_REQ_get_subject_name(req));
		goto out;
	}
	BIO_reset(bio);
	if ((pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) != NULL) {
		r = buf_adds(out, "File contains a PEM encoded public key\n");
		if (r == 0) r = add_pubkey(out, pk, "  ");
		goto out;
	}
	r = err_set(ERR_FORMAT, "%s: not a certificate, private key, public key "
	    "or certificate signing request", esc(name));
out:
	X509_free(x);
	X509_REQ_free(req);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	BIO_free(bio);
	return r;
}

int x509_dates(const struct x509_certs *c, time_t *not_before,
    time_t *not_after)
{
	int r;

	if ((r = asn1_time(X509_get0_notBefore(first(c)), not_before)) == 0)
		r = asn1_time(X509_get0_notAfter(first(c)), not_after);
	return r;
}

/* ---- requests (pki csr) ---- */

/* "KEY:value" subject parts of `pki csr`. */
static const struct { const char *arg, *field; } subject_keys[] = {
	{ "CN:", "CN" }, { "O:", "O" }, { "OU:", "OU" }, { "L:", "L" },
	{ "ST:", "ST" }, { "C:", "C" },
};

static int add_sans(X509_REQ *req, const char *list)
{
	struct buf b = BUF_INIT(4096);
	char *copy = xstrdup(list), *p = copy, *tok;
	unsigned char ip[16];
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;
	int r = 0;

	while (r == 0 && (tok = strsep(&p, ",")) != NULL) {
		int is_ip = inet_pton(AF_INET, tok, ip) == 1 ||
		    inet_pton(AF_INET6, tok, ip) == 1;
		if (*tok == '\0' || (strpbrk(tok, " :,") && !is_ip))
			r = err_set(ERR_INVAL, "subjectAltName: %s: expected an IP "
			    "address or a DNS name", esc(tok));
		else
			r = buf_addf(&b, "%s%s:%s", b.len ? "," : "",
			    is_ip ? "IP" : "DNS", tok);
	}
	if (r == 0 && ((ext = X509V3_EXT_conf_nid(NULL, NULL,
	    NID_subject_alt_name, buf_cstr(&b))) == NULL ||
	    (exts = sk_X509_EXTENSION_new_null()) == NULL ||
	    !sk_X509_EXTENSION_push(exts, ext) ||
	    X509_REQ_add_extensions(req, exts) != 1))
		r = err_set(ERR_CRYPTO, "subjectAltName: %s: not accepted",
		    esc(list));
	if (exts)
		sk_X509_EXTENSION_free(exts);
	X509_EXTENSION_free(ext);
	ERR_clear_error();
	free(copy);
	buf_free(&b);
	return r;
}

static int build_subject(X509_REQ *req, int argc, char *const argv[])
{
	X509_NAME *nm = X509_REQ_get_subject_name(req);
	int have_cn = 0, r = 0;

	for (int i = 0; r == 0 && i < argc; i++) {
		size_t k, nk = sizeof subject_keys / sizeof subject_keys[0];
		const char *a = argv[i];
		if (!strncmp(a, "subjectAltName:", 15)) {
			r = add_sans(req, a + 15);
			continue;
		}
		for (k = 0; k < nk; k++)
			if (!strncmp(a, subject_keys[k].arg, strlen(subject_keys[k].arg)))
				break;
		if (k == nk || a[strlen(subject_keys[k].arg)] == '\0') {
			r = err_set(ERR_INVAL, "%s: expected CN:<name>, O:, OU:, L:, "
			    "ST:, C: or subjectAltName:<a>,<b>", esc(a));
			break;
		}
		have_cn |= k == 0;
		if (X509_NAME_add_entry_by_txt(nm, subject_keys[k].field, MBSTRING_UTF8,
		    (const unsigned char *)a + strlen(subject_keys[k].arg), -1, -1,
		    0) != 1)
			r = err_set(ERR_INVAL, "%s: not accepted in a subject",
			    esc(a));
	}
	ERR_clear_error();
	if (r == 0 && !have_cn)
		r = err_set(ERR_INVAL, "a CSR needs CN:<common name>");
	return r;
}

static int pem_of(EVP_PKEY *pk, X509_REQ *req, struct buf *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long len;
	int r;

	if (bio == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((pk && PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL,
	    NULL) != 1) || (req && PEM_write_bio_X509_REQ(bio, req) != 1))
		r = err_set(ERR_CRYPTO, "cannot encode the %s",
		    pk ? "key" : "request");
	else {
		len = BIO_get_mem_data(bio, &p);
		r = buf_add(out, p, (size_t)len);
		OPENSSL_cleanse(p, (size_t)len);
	}
	BIO_free(bio);
	return r;
}

int x509_csr_make(int argc, char *const argv[], const char *name,
    struct buf *key_pem, struct buf *csr_pem)
{
	EVP_PKEY *pk = NULL;
	X509_REQ *req;
	int r;

	if ((req = X509_REQ_new()) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((r = build_subject(req, argc, argv)) != 0)
		goto out;
	if ((pk = EVP_RSA_gen(2048)) == NULL ||
	    X509_REQ_set_version(req, 0) != 1 ||
	    X509_REQ_set_pubkey(req, pk) != 1 ||
	    X509_REQ_sign(req, pk, EVP_sha256()) <= 0) {
		r = err_set(ERR_CRYPTO, "%s: cannot make the key and request",
		    esc(name));
		goto out;
	}
	if ((r = pem_of(pk, NULL, key_pem)) == 0)
		r = pem_of(NULL, req, csr_pem);
out:
	ERR_clear_error();
	EVP_PKEY_free(pk);
	X509_REQ_free(req);
	return r;
}
