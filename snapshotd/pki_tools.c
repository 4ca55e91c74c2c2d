/* pki_tools.c: the checks behind `pki match`, `pki verify` and `database
 * cluster certs` (a key belongs to a certificate, a chain verifies against
 * a CA), and `pki csr` (a new key and certificate signing request). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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
#define PKI_CHAIN_MAX 16

/* Every certificate in name (PEM, one or more; or one DER). */
static int load_certs(const struct node *n, const char *name,
    STACK_OF(X509) **out)
{
	struct buf b = BUF_INIT(PKI_FILE_MAX);
	STACK_OF(X509) *sk = sk_X509_new_null();
	const unsigned char *der;
	X509 *x;
	BIO *bio = NULL;
	int r;

	*out = NULL;
	if (sk == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((r = pki_read(n, name, &b)) != 0)
		goto out;
	if ((bio = BIO_new_mem_buf(b.p, (int)b.len)) == NULL) {
		r = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	while (sk_X509_num(sk) < PKI_CHAIN_MAX &&
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	ERR_clear_error();
	der = (const unsigned char *)b.p;
	if (sk_X509_num(sk) == 0 && (x = d2i_X509(NULL, &der, (long)b.len)))
		sk_X509_push(sk, x);
	if (sk_X509_num(sk) == 0)
		r = err_set(ERR_FORMAT, "%s: not a certificate", esc(name));
out:
	BIO_free(bio);
	buf_free(&b);
	if (r == 0) {
		*out = sk;
		sk = NULL;
	}
	sk_X509_pop_free(sk, X509_free);
	return r;
}

static int no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

static int load_key(const struct node *n, const char *name, EVP_PKEY **out)
{
	struct buf b = BUF_INIT(PKI_FILE_MAX);
	const unsigned char *der;
	EVP_PKEY *pk = NULL;
	BIO *bio;
	int r;

	*out = NULL;
	if ((r = pki_read(n, name, &b)) != 0)
		goto out;
	if ((bio = BIO_new_mem_buf(b.p, (int)b.len)) != NULL) {
		pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
		BIO_free(bio);
	}
	der = (const unsigned char *)b.p;
	if (pk == NULL)
		pk = d2i_AutoPrivateKey(NULL, &der, (long)b.len);
	ERR_clear_error();
	if (pk == NULL)
		r = err_set(ERR_FORMAT, "%s: not an unencrypted private key%s",
		    esc(name),
		    strstr(buf_cstr(&b), "ENCRYPTED") ? " (it is encrypted)" : "");
	*out = pk;
out:
	buf_free_secret(&b);
	return r;
}

int pki_match(const struct node *n, const char *key, const char *cert)
{
	STACK_OF(X509) *sk = NULL;
	EVP_PKEY *pk = NULL;
	int r;

	if ((r = load_key(n, key, &pk)) != 0 || (r = load_certs(n, cert, &sk)) != 0)
		goto out;
	if (X509_check_private_key(sk_X509_value(sk, 0), pk) != 1)
		r = err_set(ERR_MISMATCH, "%s does not match the certificate in %s",
		    esc(key), esc(cert));
	ERR_clear_error();
out:
	EVP_PKEY_free(pk);
	sk_X509_pop_free(sk, X509_free);
	return r;
}

int pki_verify(const struct node *n, const char *cert, const char *ca)
{
	STACK_OF(X509) *sk = NULL, *cas = NULL;
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int r;

	if (store == NULL || ctx == NULL) {
		r = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = load_certs(n, cert, &sk)) != 0 ||
	    (ca && (r = load_certs(n, ca, &cas)) != 0))
		goto out;
	if (ca == NULL)
		X509_STORE_set_default_paths(store);
	for (int i = 0; cas && i < sk_X509_num(cas); i++)
		X509_STORE_add_cert(store, sk_X509_value(cas, i));
	if (X509_STORE_CTX_init(ctx, store, sk_X509_value(sk, 0), sk) != 1) {
		r = err_set(ERR_CRYPTO, "%s: cannot set up the verification",
		    esc(cert));
		goto out;
	}
	/* Valid by the one clock (clock.h), as status and inspect say. */
	X509_STORE_CTX_set_time(ctx, 0, clock_now());
	if (X509_verify_cert(ctx) != 1) {
		int e = X509_STORE_CTX_get_error(ctx);
		r = err_set(ERR_CRYPTO, "%s does not verify against %s: %s "
		    "(depth %d)", esc(cert), ca ? esc(ca) : "the system's trusted CAs",
		    X509_verify_cert_error_string(e),
		    X509_STORE_CTX_get_error_depth(ctx));
	}
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(sk, X509_free);
	sk_X509_pop_free(cas, X509_free);
	return r;
}

int pki_cert_cn(const struct node *n, const char *cert, char *out,
    size_t outsz)
{
	STACK_OF(X509) *sk = NULL;
	int r;

	out[0] = '\0';
	if ((r = load_certs(n, cert, &sk)) != 0)
		return r;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(sk_X509_value(sk, 0)),
	    NID_commonName, out, (int)outsz) < 0)
		out[0] = '\0';
	sk_X509_pop_free(sk, X509_free);
	return 0;
}

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

static int write_pem(const char *path, mode_t mode, EVP_PKEY *pk, X509_REQ *req)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long len;
	int r;

	if (bio == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((pk && PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL,
	    NULL) != 1) || (req && PEM_write_bio_X509_REQ(bio, req) != 1))
		r = err_set(ERR_CRYPTO, "%s: cannot encode", esc(path));
	else {
		len = BIO_get_mem_data(bio, &p);
		r = fs_exists(path) ? err_set(ERR_EXISTS, "%s: already exists",
		    esc(path)) :
		    fs_write_atomic(path, p, (size_t)len, mode);
		OPENSSL_cleanse(p, (size_t)len);
	}
	BIO_free(bio);
	return r;
}

int pki_csr(const struct node *n, const char *name, int argc,
    char *const argv[])
{
	char kname[300], cname[300];
	char *kpath = NULL, *cpath = NULL;
	EVP_PKEY *pk = NULL;
	X509_REQ *req = NULL;
	int r;

	snprintf(kname, sizeof kname, "%s.key", name);
	snprintf(cname, sizeof cname, "%s.csr", name);
	if (!pki_name_ok(kname) || strlen(name) > 200)
		return err_set(ERR_INVAL, "%s: expected a plain file name",
		    esc(name));
	kpath = fs_join(n->conf->files_dir, kname);
	cpath = fs_join(n->conf->files_dir, cname);
	if (fs_exists(kpath) || fs_exists(cpath)) {
		r = err_set(ERR_EXISTS, "%s or %s already exists in the files root",
		    esc(kname), esc(cname));
		goto out;
	}
	if ((req = X509_REQ_new()) == NULL) {
		r = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
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
	if ((r = write_pem(kpath, 0600, pk, NULL)) == 0 &&
	    (r = write_pem(cpath, 0644, NULL, req)) != 0)
		unlink(kpath);
out:
	ERR_clear_error();
	EVP_PKEY_free(pk);
	X509_REQ_free(req);
	free(kpath);
	free(cpath);
	return r;
}
