/* cmd_sync.c: nodebak-pull sync and check (pull.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "esc.h"
#include "metrics.h"
#include "pull.h"
#include "pullconf.h"
#include "sync.h"
#include "xmalloc.h"
#include "banned.h"

static int parse_jobs(const char *s, long *out)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*s < '0' || *s > '9' || *end || n < 1 || n > 64)
		return -1;
	*out = n;
	return 0;
}

/* Totals for the person reading a terminal or a log. */
static void summary(const struct node_report *reps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct node_report *r = &reps[i];
		fprintf(stderr, "%s: %s: %ld new, %ld already here, %ld failed, "
		    "%ld deleted by retention, %llu bytes in %.1f s\n",
		    r->node->name, r->ok ? "ok" : "FAILED", r->n_new, r->n_skipped,
		    r->n_failed, r->n_deleted, (unsigned long long)r->bytes,
		    r->seconds);
		if (r->has_store)
			fprintf(stderr, "%s: store: %ld stored, %ld already there, "
			    "%ld failed, %ld deleted by retention, %llu bytes sent\n",
			    r->node->name, r->n_stored, r->n_store_skipped,
			    r->n_store_failed, r->n_store_deleted,
			    (unsigned long long)r->store_bytes);
	}
}

/* Run one sync of the selected nodes and write the metrics: shared by
 * the sync command and the daemon. */
int pull_run_sync(const struct pull_conf *c, const struct sync_opts *o)
{
	struct node_report *reps;
	struct buf out = BUF_INIT(1 << 24);
	size_t n;
	int status = sync_run(c, o, &reps, &n);

	if (status == PULL_EXIT_CONFIG) {
		fprintf(stderr, "nodebak-pull: %s\n", err_msg());
		return status;
	}
	if (!o->dry_run && pull_metrics_write(c) != 0)
		fprintf(stderr, "nodebak-pull: metrics: %s\n", err_msg());
	if (o->quiet) {
		sync_json(reps, n, status, &out);
		fwrite(out.p, 1, out.len, stdout);
	} else {
		if (o->tty)	/* the log lines were not shown as they came */
			for (size_t i = 0; i < n; i++)
				if (reps[i].errors.len)
					fprintf(stderr, "%s: %s", reps[i].node->name,
					    buf_cstr(&reps[i].errors));
		summary(reps, n);
	}
	buf_free(&out);
	sync_reports_free(reps, n);
	return status;
}

int pull_sync(const struct pull_conf *c, int argc, char **argv)
{
	struct sync_opts o;
	int r;

	memset(&o, 0, sizeof o);
	o.only = xcalloc((size_t)argc + 1, sizeof *o.only);
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--node") && i + 1 < argc)
			o.only[o.n_only++] = argv[++i];
		else if (!strcmp(argv[i], "--jobs") && i + 1 < argc) {
			if (parse_jobs(argv[++i], &o.jobs) != 0) {
				free(o.only);
				return pull_usage("--jobs %s: must be an integer "
				    "from 1 to 64", argv[i]);
			}
		} else if (!strcmp(argv[i], "--dry-run"))
			o.dry_run = 1;
		else if (!strcmp(argv[i], "--json"))
			o.quiet = 1;
		else {
			free(o.only);
			return pull_usage("sync: unknown argument %s", argv[i]);
		}
	}
	o.tty = isatty(STDERR_FILENO);
	pull_confine(c, 1);	/* a dry run takes the locks too */
	r = pull_run_sync(c, &o);
	free(o.only);
	return r;
}

int pull_check(const struct pull_conf *c, int argc, char **argv)
{
	if (argc > 0)
		return pull_usage("check: unknown argument %s", argv[0]);
	printf("%s: OK, %zu node%s\n", esc(c->file), c->n_nodes,
	    c->n_nodes == 1 ? "" : "s");
	return PULL_EXIT_OK;
}
