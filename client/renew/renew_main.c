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

int renew_main(int argc, char **argv)
{
	struct renew_opts o;
	const char *cluster = NULL, *master = NULL;
	char *dflt = NULL;
	long v;
	int rc;

	memset(&o, 0, sizeof o);
	o.min_days = RENEW_MIN_DAYS;
	o.timeout = RENEW_TIMEOUT;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = 1;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(USAGE, stdout);
			return 0;
		} else if (!strcmp(a, "--node") && next) {
			o.specs = xreallocarray(o.specs, (size_t)o.nspecs + 1,
			    sizeof *o.specs);
			o.specs[o.nspecs++] = xstrdup(next);
		} else if (!strcmp(a, "--cluster") && next)
			cluster = next;
		else if (!strcmp(a, "-i") && next)
			o.identity = next;
		else if (!strcmp(a, "--known-hosts") && next)
			o.known_hosts = next;
		else if (!strcmp(a, "--master") && next)
			master = next;
		else if (!strcmp(a, "--certs") && next)
			o.certs = next;
		else if (!strcmp(a, "--archive-dir") && next)
			o.archive_dir = next;
		else if (!strcmp(a, "--min-days") && next) {
			if (number(next, 0, 3650, &v))
				return usage("--min-days takes 0 to 3650");
			o.min_days = (int)v;
		} else if (!strcmp(a, "--timeout") && next) {
			if (number(next, 1, 86400, &v))
				return usage("--timeout takes 1 to 86400 seconds");
			o.timeout = v;
		} else {
			takes = 0;
			if (!strcmp(a, "--yes"))
				o.yes = 1;
			else if (!strcmp(a, "--dry-run"))
				o.dry_run = 1;
			else if (!strcmp(a, "--json"))
				o.json = 1;
			else if (!strcmp(a, "--resume"))
				o.resume = 1;
			else if (!strcmp(a, "--abort"))
				o.abort = 1;
			else {
				fprintf(stderr, "nodebak: cluster renew: %s: unknown "
				    "option, or its argument is missing\n", esc(a));
				return usage(NULL);
			}
		}
		i += takes;
	}
	if (cluster && read_cluster(cluster, &o, &master) != 0) {
		fprintf(stderr, "nodebak: cluster renew: %s\n", err_msg());
		return 1;
	}
	o.master = master;
	if (o.resume && o.abort)
		return usage("--resume and --abort exclude each other");
	if (o.archive_dir == NULL) {
		/* Beside the cluster file, else in the current folder. */
		const char *slash = cluster ? strrchr(cluster, '/') : NULL;
		size_t n = slash ? (size_t)(slash - cluster) + 32 : 32;
		dflt = xmalloc(n);
		snprintf(dflt, n, "%.*s%snodebak-renew",
		    slash ? (int)(slash - cluster) : 0, cluster ? cluster : "",
		    slash ? "/" : "");
		o.archive_dir = dflt;
	}
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
