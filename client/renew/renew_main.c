/* renew_main.c: `nodebak cluster renew`'s command line (renew.h): the
 * options, the cluster file, the defaults. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "renew.h"
#include "xmalloc.h"
#include "banned.h"

#define USAGE "Usage:\n" \
	"  nodebak cluster renew (--node USER@ADDRESS[:PORT]... | --cluster FILE)\n" \
	"      -i IDENTITY --known-hosts FILE --master ADDRESS --certs DIR\n" \
	"      [--min-days N] [--archive-dir DIR] [--timeout SECONDS]\n" \
	"      [--yes] [--dry-run] [--json] [--resume | --abort]\n"

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "nodebak: cluster renew: %s\n", why);
	fputs(USAGE, stderr);
	return 2;
}

/* A cluster file: one node a line (USER@ADDRESS[:PORT]), "master
 * ADDRESS", "#" comments. */
static int read_cluster(const char *path, struct renew_opts *o,
    const char **master)
{
	struct buf b = BUF_INIT(1 << 20);
	char *p, *nl;
	int r;

	if ((r = fs_read_file(path, 1 << 20, &b)) != 0)
		return r;
	buf_adds(&b, "");
	for (p = b.p; p && *p; p = nl) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		p += strspn(p, " \t");
		p[strcspn(p, "#\r")] = '\0';
		if (*p == '\0')
			continue;
		if (!strncmp(p, "master ", 7)) {
			if (*master == NULL)
				*master = xstrdup(p + 7 + strspn(p + 7, " \t"));
			continue;
		}
		p[strcspn(p, " \t")] = '\0';
		o->specs = xreallocarray(o->specs, (size_t)o->nspecs + 1,
		    sizeof *o->specs);
		o->specs[o->nspecs++] = xstrdup(p);
	}
	buf_free(&b);
	return 0;
}

static int number(const char *s, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno || *end || end == s || *out < lo || *out > hi ? -1 : 0;
}

/* One option (and its argument) at argv[*i]; 0, or the usage status. */
static int option(int argc, char **argv, int *i, struct renew_opts *o,
    const char **cluster, const char **master)
{
	const char *a = argv[*i], *next = *i + 1 < argc ? argv[*i + 1] : NULL;
	long v;

	if (next && !strcmp(a, "--node")) {
		o->specs = xreallocarray(o->specs, (size_t)o->nspecs + 1,
		    sizeof *o->specs);
		o->specs[o->nspecs++] = xstrdup(next);
	} else if (next && !strcmp(a, "--cluster"))
		*cluster = next;
	else if (next && !strcmp(a, "-i"))
		o->identity = next;
	else if (next && !strcmp(a, "--known-hosts"))
		o->known_hosts = next;
	else if (next && !strcmp(a, "--master"))
		*master = next;
	else if (next && !strcmp(a, "--certs"))
		o->certs = next;
	else if (next && !strcmp(a, "--archive-dir"))
		o->archive_dir = next;
	else if (next && !strcmp(a, "--min-days")) {
		if (number(next, 0, 3650, &v))
			return usage("--min-days takes 0 to 3650");
		o->min_days = (int)v;
	} else if (next && !strcmp(a, "--timeout")) {
		if (number(next, 1, 86400, &v))
			return usage("--timeout takes 1 to 86400 seconds");
		o->timeout = v;
	} else {
		int *flag = !strcmp(a, "--yes") ? &o->yes :
		    !strcmp(a, "--dry-run") ? &o->dry_run :
		    !strcmp(a, "--json") ? &o->json :
		    !strcmp(a, "--resume") ? &o->resume :
		    !strcmp(a, "--abort") ? &o->abort : NULL;
		if (flag == NULL) {
			fprintf(stderr, "nodebak: cluster renew: %s: unknown "
			    "option, or its argument is missing\n", esc(a));
			return usage(NULL);
		}
		*flag = 1;
		return 0;
	}
	(*i)++;
	return 0;
}

/* The default archive folder: nodebak-renew beside the cluster file, else
 * in the current folder. Caller frees. */
static char *default_archive(const char *cluster)
{
	const char *slash = cluster ? strrchr(cluster, '/') : NULL;
	int dirlen = slash ? (int)(slash - cluster) + 1 : 0;
	size_t n = (size_t)dirlen + 16;
	char *d = xmalloc(n);

	snprintf(d, n, "%.*snodebak-renew", dirlen, cluster ? cluster : "");
	return d;
}

int renew_main(int argc, char **argv)
{
	struct renew_opts o;
	const char *cluster = NULL, *master = NULL;
	char *dflt = NULL;
	int rc;

	memset(&o, 0, sizeof o);
	o.min_days = RENEW_MIN_DAYS;
	o.timeout = RENEW_TIMEOUT;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(USAGE, stdout);
			return 0;
		}
		if ((rc = option(argc, argv, &i, &o, &cluster, &master)) != 0)
			return rc;
	}
	if (cluster && read_cluster(cluster, &o, &master) != 0) {
		fprintf(stderr, "nodebak: cluster renew: %s\n", err_msg());
		return 1;
	}
	o.master = master;
	if (o.resume && o.abort)
		return usage("--resume and --abort exclude each other");
	if (o.archive_dir == NULL)
		o.archive_dir = dflt = default_archive(cluster);
	if (!o.identity || !o.known_hosts)
		return usage("-i IDENTITY and --known-hosts FILE are required");
	if (!o.resume && !o.abort && (o.nspecs == 0 || !o.master || !o.certs))
		return usage("nodes (--node or --cluster), --master and --certs "
		    "are required");
	rc = renew_run(&o);
	for (int i = 0; i < o.nspecs; i++)
		free(o.specs[i]);
	free(o.specs);
	free(dflt);
	return rc;
}
