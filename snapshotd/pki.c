/* pki.c: inspect certificates, keys and CSRs in the files root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int pki_inspect(const struct node *n, const char *name, struct buf *out)
{
	struct buf b = BUF_INIT(PKI_FILE_MAX);
	struct x509_seen seen;
	time_t now = clock_now();
	char words[64];
	int r;

	if ((r = pki_read(n, name, &b)) == 0 &&
	    (r = buf_adds(out, "Checking user configured certificates and "
	    "keys...found\n")) == 0)
		r = x509_describe(b.p, b.len, name, out, &seen);
	if (r == 0 && seen.cert) {
		pki_expiry_words(seen.not_after, now, words, sizeof words);
		r = buf_addf(out, "  Status: %s %s\n", seen.not_after <= now ?
		    "EXPIRED" : seen.not_before > now ? "not yet valid" : "valid",
		    words);
	}
	buf_free_secret(&b);
	return r;
}

int pki_not_after(const struct node *n, const char *name, time_t *out)
{
	struct buf b = BUF_INIT(PKI_FILE_MAX);
	struct x509_certs *c = NULL;
	time_t nb;
	int r;

	*out = 0;
	if ((r = pki_read(n, name, &b)) == 0 &&
	    (r = x509_certs_parse(b.p, b.len, name, &c)) == 0 &&
	    (r = x509_dates(c, &nb, out)) != 0)
		r = err_set(r, "%s: %s", esc(name), err_msg());
	x509_certs_free(c);
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
