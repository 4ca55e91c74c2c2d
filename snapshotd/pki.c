/* pki.c: inspect certificates, keys and CSRs in the files root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "node.h"
#include "pki.h"
#include "xmalloc.h"
#include "banned.h"

#define PKI_FILE_MAX (1u << 20)

int pki_name_ok(const char *name)
{
	return name[0] && name[0] != '.' && strchr(name, '/') == NULL &&
	    strlen(name) < 256;
}

int pki_read(const struct node *n, const char *name, struct buf *b)
{
	char *path;
	int r;

	if (!pki_name_ok(name))
		return err_set(ERR_INVAL, "%s: expected the name of a file in the "
		    "files root", esc(name));
	path = fs_join(n->conf->files_dir, name);
	r = fs_read_file(path, PKI_FILE_MAX, b);
	if (r == ERR_NOTFOUND)
		r = err_set(r, "%s: no such file in the files root", esc(name));
	else if (r != 0)
		r = err_set(r, "%s", esc(err_msg()));
	free(path);
	return r;
}

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

long pki_days_left(time_t not_after, time_t now)
{
	long long d = (long long)not_after - (long long)now;

	/* Whole days, rounded down: 23 hours left is today, 1 s late is -1. */
	return (long)(d >= 0 ? d / 86400 : -((-d + 86399) / 86400));
}

void pki_expiry_words(time_t not_after, time_t now, char *out, size_t outsz)
{
	long days = pki_days_left(not_after, now);

	if (not_after <= now)
		snprintf(out, outsz, "(expired)");
	else if (days == 0)
		snprintf(out, outsz, "(expires today)");
	else
		snprintf(out, outsz, "(expires in %ld day%s)", days,
		    days == 1 ? "" : "s");
}

static int describe_cert(X509 *x, const char *enc, struct buf *out)
{
	const ASN1_TIME *nb = X509_get0_notBefore(x), *na = X509_get0_notAfter(x);
	EVP_PKEY *pk = X509_get0_pubkey(x);
	time_t now = clock_now(), t_nb = 0, t_na = 0;
	char words[64];
	int r, early;

	if ((r = asn1_time(nb, &t_nb)) != 0 || (r = asn1_time(na, &t_na)) != 0)
		return r;
	early = t_nb > now;
	pki_expiry_words(t_na, now, words, sizeof words);

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
	if (r == 0) r = buf_addf(out, "  Status: %s %s\n", t_na <= now ?
	    "EXPIRED" : early ? "not yet valid" : "valid", words);
	return r;
}

static int describe(const char *name, const struct buf *b, struct buf *out)
{
	BIO *bio = BIO_new_mem_buf(b->p, (int)b->len);
	const unsigned char *der = (const unsigned char *)b->p;
	X509 *x = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *pk = NULL;
	int r;

	if (bio == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		r = describe_cert(x, "PEM", out);
		goto out;
	}
	if ((x = d2i_X509(NULL, &der, (long)b->len)) != NULL) {
		r = describe_cert(x, "DER", out);
		goto out;
	}
	if (strstr(b->p, "ENCRYPTED PRIVATE KEY-----") ||
	    strstr(b->p, "Proc-Type: 4,ENCRYPTED")) {
		r = buf_adds(out, "File contains a PEM encoded private key "
		    "(encrypted with a passphrase)\n");
		goto out;
	}
	BIO_reset(bio);
	if ((pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"")) != NULL) {
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
	BIO_free(bio);
	return r;
}

int pki_inspect(const struct node *n, const char *name, struct buf *out)
{
	struct buf b = BUF_INIT(PKI_FILE_MAX);
	int r;

	if ((r = pki_read(n, name, &b)) == 0 &&
	    (r = buf_adds(out, "Checking user configured certificates and "
	    "keys...found\n")) == 0)
		r = describe(name, &b, out);
	buf_free_secret(&b);
	return r;
}

/* The first certificate of b, PEM or DER; NULL when it holds none. */
static X509 *cert_parse(const struct buf *b)
{
	const unsigned char *der = (const unsigned char *)b->p;
	BIO *bio = BIO_new_mem_buf(b->p, (int)b->len);
	X509 *x = NULL;

	if (bio != NULL) {
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (x == NULL)
		x = d2i_X509(NULL, &der, (long)b->len);
	return x;
}

int pki_not_after(const struct node *n, const char *name, time_t *out)
{
	struct buf b = BUF_INIT(PKI_FILE_MAX);
	X509 *x = NULL;
	int r;

	*out = 0;
	if ((r = pki_read(n, name, &b)) != 0)
		goto out;
	if ((x = cert_parse(&b)) == NULL)
		r = err_set(ERR_FORMAT, "%s: not a certificate", esc(name));
	else if ((r = asn1_time(X509_get0_notAfter(x), out)) != 0)
		r = err_set(r, "%s: %s", esc(name), err_msg());
out:
	X509_free(x);
	buf_free(&b);
	return r;
}

int pki_expired(const struct node *n, const char *name)
{
	time_t na;

	return *name && pki_not_after(n, name, &na) == 0 && na <= clock_now();
}

static int is_pki_name(const char *name)
{
	static const char *const ext[] = { ".key", ".crt", ".cer", ".pem",
		".csr", ".der", ".pub" };
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
		if (n > 4 && !strcmp(name + n - 4, ext[i]))
			return 1;
	return 0;
}

static int listed(const char *name)
{
	return pki_name_ok(name) && is_pki_name(name);
}

int pki_list(const struct node *n, struct buf *out)
{
	char **names;
	size_t count;
	int r;

	if ((r = fs_list_sorted(n->conf->files_dir, listed, &names, &count)) != 0)
		return r;
	for (size_t i = 0; i < count && r == 0; i++)
		r = buf_addf(out, "  %s\n", names[i]);
	fs_list_free(names, count);
	return r;
}
