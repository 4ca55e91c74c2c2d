/* pki_tools.c: the checks behind `pki match`, `pki verify` and `database
 * cluster certs` (a key belongs to a certificate, a chain verifies against
 * a CA), and `pki csr` (a new key and certificate signing request). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "node.h"
#include "pki.h"
#include "x509.h"
#include "banned.h"

#define PKI_FILE_MAX (1u << 20)

/* The certificates in name (files root): PEM, one or more; or one DER. */
static int load_certs(const struct node *n, const char *name,
    struct x509_certs **out)
{
	struct buf b = BUF_INIT(PKI_FILE_MAX);
	int r;

	*out = NULL;
	if ((r = pki_read(n, name, &b)) == 0)
		r = x509_certs_parse(b.p, b.len, name, out);
	buf_free(&b);
	return r;
}

static int load_key(const struct node *n, const char *name,
    struct x509_key **out)
{
	struct buf b = BUF_INIT(PKI_FILE_MAX);
	int r;

	*out = NULL;
	if ((r = pki_read(n, name, &b)) == 0)
		r = x509_key_parse(b.p, b.len, name, out);
	buf_free_secret(&b);
	return r;
}

int pki_match(const struct node *n, const char *key, const char *cert)
{
	struct x509_certs *c = NULL;
	struct x509_key *k = NULL;
	int r;

	if ((r = load_key(n, key, &k)) == 0 &&
	    (r = load_certs(n, cert, &c)) == 0 && !x509_key_matches(c, k))
		r = err_set(ERR_MISMATCH, "%s does not match the certificate in %s",
		    esc(key), esc(cert));
	x509_key_free(k);
	x509_certs_free(c);
	return r;
}

int pki_verify(const struct node *n, const char *cert, const char *ca)
{
	struct x509_certs *c = NULL, *cas = NULL;
	char why[256];
	int r;

	if ((r = load_certs(n, cert, &c)) == 0 &&
	    (ca == NULL || (r = load_certs(n, ca, &cas)) == 0) &&
	    /* Valid by the one clock (clock.h), as status and inspect say. */
	    (r = x509_verify(c, cas, clock_now(), 1, why, sizeof why)) != 0)
		r = err_set(r, "%s does not verify against %s: %s", esc(cert),
		    ca ? esc(ca) : "the system's trusted CAs", why);
	x509_certs_free(c);
	x509_certs_free(cas);
	return r;
}

int pki_cert_cn(const struct node *n, const char *cert, char *out,
    size_t outsz)
{
	struct x509_certs *c = NULL;
	int r;

	out[0] = '\0';
	if ((r = load_certs(n, cert, &c)) == 0)
		x509_cn(c, out, outsz);
	x509_certs_free(c);
	return r;
}

int pki_csr(const struct node *n, const char *name, int argc,
    char *const argv[])
{
	struct buf key = BUF_INIT(1 << 16), req = BUF_INIT(1 << 16);
	char kname[300], cname[300];
	char *kpath = NULL, *cpath = NULL;
	int r;

	snprintf(kname, sizeof kname, "%s.key", name);
	snprintf(cname, sizeof cname, "%s.csr", name);
	if (!pki_name_ok(kname) || strlen(name) > 200)
		return err_set(ERR_INVAL, "%s: expected a plain file name",
		    esc(name));
	kpath = fs_join(n->conf->files_dir, kname);
	cpath = fs_join(n->conf->files_dir, cname);
	if (fs_exists(kpath) || fs_exists(cpath))
		r = err_set(ERR_EXISTS, "%s or %s already exists in the files root",
		    esc(kname), esc(cname));
	else if ((r = x509_csr_make(argc, argv, name, &key, &req)) == 0 &&
	    (r = fs_write_atomic(kpath, key.p, key.len, 0600)) == 0 &&
	    (r = fs_write_atomic(cpath, req.p, req.len, 0644)) != 0)
		unlink(kpath);
	buf_free_secret(&key);
	buf_free(&req);
	free(kpath);
	free(cpath);
	return r;
}
