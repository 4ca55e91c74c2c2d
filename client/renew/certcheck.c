/* certcheck.c: the renewal's certificate preflight (certcheck.h), with
 * OpenSSL's X.509 and PEM interfaces. NEEDSWORK: snapshotd/pki_tools.c
 * makes the same checks on a node's files; one X.509 module beneath both
 * would be the one home for them. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "buf.h"
#include "certcheck.h"
#include "esc.h"
#include "xmalloc.h"
#include "banned.h"

const char *const certcheck_files[CERTCHECK_NFILES] = {
	"dbclusterserver.key", "dbclusterserver.cer", "dbclusterclient.key",
	"dbclusterclient.cer", "CA.cer",
};

enum { F_SKEY, F_SCER, F_CKEY, F_CCER, F_CA };

struct set {
	EVP_PKEY *key[2];	/* server, client */
	X509 *cert[3];		/* server, client, CA */
	struct buf *p;
	int n;
};

static void problem(struct set *s, const char *fmt, const char *a,
    const char *b)
{
	buf_addf(s->p, fmt, a, b);
	buf_adds(s->p, "\n");
	s->n++;
}

static char *path_of(const char *dir, const char *f)
{
	size_t n = strlen(dir) + strlen(f) + 2;
	char *p = xmalloc(n);

	snprintf(p, n, "%s/%s", dir, f);
	return p;
}

static void load(struct set *s, const char *dir)
{
	for (int i = 0; i < CERTCHECK_NFILES; i++) {
		char *path = path_of(dir, certcheck_files[i]);
		FILE *f = fopen(path, "re");
		int is_key = i == F_SKEY || i == F_CKEY;

		if (f == NULL)
			problem(s, "%s: cannot read it (%s)", esc(path), "missing "
			    "or not readable");
		else if (is_key && (s->key[i / 2] = PEM_read_PrivateKey(f, NULL,
		    NULL, NULL)) == NULL)
			problem(s, "%s: %s", esc(path), "not a PEM private key "
			    "without a passphrase");
		else if (!is_key && (s->cert[i == F_CA ? 2 : i / 2] =
		    PEM_read_X509(f, NULL, NULL, NULL)) == NULL)
			problem(s, "%s: %s", esc(path), "not a PEM certificate");
		if (f)
			fclose(f);
		free(path);
	}
}

/* The chain only: the dates are judged by dates() with a clearer line. */
static void chain(struct set *s, int which, const char *name)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *cx = X509_STORE_CTX_new();

	if (st && cx && X509_STORE_add_cert(st, s->cert[2]) == 1 &&
	    X509_STORE_CTX_init(cx, st, s->cert[which], NULL) == 1) {
		X509_STORE_CTX_set_flags(cx, X509_V_FLAG_NO_CHECK_TIME);
		if (X509_verify_cert(cx) != 1)
			problem(s, "%s: does not chain to CA.cer (%s)", name,
			    X509_verify_cert_error_string(
			    X509_STORE_CTX_get_error(cx)));
	} else
		problem(s, "%s: %s", name, "cannot be checked against CA.cer");
	X509_STORE_CTX_free(cx);
	X509_STORE_free(st);
}

static void dates(struct set *s, X509 *c, const char *name, int min_days,
    time_t now)
{
	time_t t = now;
	int days = 0, secs = 0;
	char d[32];

	if (X509_cmp_time(X509_get0_notBefore(c), &t) > 0)
		problem(s, "%s: %s", name, "not valid yet (Not Before is in the "
		    "future)");
	if (X509_cmp_time(X509_get0_notAfter(c), &t) <= 0) {
		problem(s, "%s: %s", name, "expired");
		return;
	}
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(c)) == 1 &&
	    days < min_days) {
		snprintf(d, sizeof d, "%d", days);
		problem(s, "%s: valid for %s more days only (--min-days)", name, d);
	}
}

static void client_cn(struct set *s)
{
	char cn[256] = "";
	X509_NAME *n = X509_get_subject_name(s->cert[1]);

	if (n == NULL || X509_NAME_get_text_by_NID(n, NID_commonName, cn,
	    sizeof cn) < 0 || strcmp(cn, "postgres"))
		problem(s, "dbclusterclient.cer: its CN is \"%s\"; PostgreSQL "
		    "replication needs the CN %s", esc(cn), "\"postgres\"");
}

int certcheck_dir(const char *dir, int min_days, time_t now,
    struct buf *problems)
{
	static const char *const cname[3] = { "dbclusterserver.cer",
	    "dbclusterclient.cer", "CA.cer" };
	struct set s;

	memset(&s, 0, sizeof s);
	s.p = problems;
	load(&s, dir);
	for (int i = 0; i < 2; i++) {
		if (s.key[i] && s.cert[i] &&
		    X509_check_private_key(s.cert[i], s.key[i]) != 1)
			problem(&s, "%s: does not match the key %s",
			    cname[i], certcheck_files[i * 2]);
		if (s.cert[i] && s.cert[2])
			chain(&s, i, cname[i]);
	}
	if (s.cert[1])
		client_cn(&s);
	for (int i = 0; i < 3; i++)
		if (s.cert[i])
			dates(&s, s.cert[i], cname[i], min_days, now);
	for (int i = 0; i < 2; i++)
		EVP_PKEY_free(s.key[i]);
	for (int i = 0; i < 3; i++)
		X509_free(s.cert[i]);
	return s.n;
}
