/* certcheck.c: the renewal's certificate preflight (certcheck.h), made
 * with the same X.509 checks as the node's `pki` commands (x509.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "certcheck.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "x509.h"
#include "banned.h"

/* A certificate or key file is a few KiB; the same bound as the node's. */
#define CERT_FILE_MAX (1u << 20)

const char *const certcheck_files[CERTCHECK_NFILES] = {
	"dbclusterserver.key", "dbclusterserver.cer", "dbclusterclient.key",
	"dbclusterclient.cer", "CA.cer",
};

enum { F_SKEY, F_SCER, F_CKEY, F_CCER, F_CA };

struct set {
	struct x509_key *key[2];	/* server, client */
	struct x509_certs *cert[3];	/* server, client, CA */
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

static void load(struct set *s, const char *dir)
{
	for (int i = 0; i < CERTCHECK_NFILES; i++) {
		struct buf b = BUF_INIT(CERT_FILE_MAX);
		char *path = fs_join(dir, certcheck_files[i]);

		if (fs_read_file(path, CERT_FILE_MAX, &b) != 0) {
			/* err_msg() is "PATH: why"; the line names it once. */
			const char *why = err_msg();
			if (!strncmp(why, path, strlen(path)) &&
			    !strncmp(why + strlen(path), ": ", 2))
				why += strlen(path) + 2;
			problem(s, "%s: cannot read it (%s)", esc(path), why);
		} else if ((i == F_SKEY || i == F_CKEY ?
		    x509_key_parse(b.p, b.len, path, &s->key[i / 2]) :
		    x509_certs_parse(b.p, b.len, path,
		    &s->cert[i == F_CA ? 2 : i / 2])) != 0)
			problem(s, "%s%s", err_msg(), "");
		buf_free_secret(&b);
		free(path);
	}
}

/* The chain only: the dates are judged by dates() with a clearer line. */
static void chain(struct set *s, int which, const char *name)
{
	char why[256];

	if (x509_verify(s->cert[which], s->cert[2], 0, 0, why, sizeof why) != 0)
		problem(s, "%s: does not chain to CA.cer (%s)", name, why);
}

static void dates(struct set *s, const struct x509_certs *c,
    const char *name, int min_days, time_t now)
{
	time_t nb, na;
	char d[32];

	if (x509_dates(c, &nb, &na) != 0) {
		problem(s, "%s: %s", name, err_msg());
		return;
	}
	if (nb > now)
		problem(s, "%s: %s", name, "not valid yet (Not Before is in the "
		    "future)");
	if (na <= now) {
		problem(s, "%s: %s", name, "expired");
		return;
	}
	if ((na - now) / 86400 < min_days) {
		snprintf(d, sizeof d, "%lld", (long long)((na - now) / 86400));
		problem(s, "%s: valid for %s more days only (--min-days)", name, d);
	}
}

static void client_cn(struct set *s)
{
	char cn[256];

	x509_cn(s->cert[1], cn, sizeof cn);
	if (strcmp(cn, "postgres"))
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
		if (s.key[i] && s.cert[i] && !x509_key_matches(s.cert[i], s.key[i]))
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
		x509_key_free(s.key[i]);
	for (int i = 0; i < 3; i++)
		x509_certs_free(s.cert[i]);
	return s.n;
}
