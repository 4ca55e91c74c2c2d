/* metrics.c: the puller's metrics file (metrics.h). */
#include <stdlib.h>

#include "buf.h"
#include "err.h"
#include "fsutil.h"
#include "json.h"
#include "metrics.h"
#include "pullconf.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

static const struct {
	const char *name, *type, *help;
} metric[] = {
	{ "nodebak_pull_newest_archive_timestamp_seconds", "gauge",
	  "When the newest verified copy of the node's archives was taken, "
	  "here or in the store (0: none)." },
	{ "nodebak_pull_last_success_timestamp_seconds", "gauge",
	  "When the last sync of the node that pulled and verified everything "
	  "ended (0: never)." },
	{ "nodebak_pull_bytes_total", "counter",
	  "Archive bytes downloaded from the node." },
	{ "nodebak_pull_resumes_total", "counter",
	  "Downloads continued from a partial file." },
	{ "nodebak_pull_verify_failures_total", "counter",
	  "Archives that failed verification and were quarantined." },
	{ "nodebak_pull_consecutive_failures", "gauge",
	  "Syncs of the node that failed since the last success." },
	{ "nodebak_pull_store_bytes_total", "counter",
	  "Archive bytes uploaded to the object store ([pull] store)." },
};

#define NMETRICS (sizeof metric / sizeof metric[0])

static long long newest(const char *dir, const char *node)
{
	struct store_copy *c = NULL;
	size_t n = 0;
	long long t = 0;

	if (store_copies(dir, node, &c, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if ((long long)c[i].created > t)
				t = (long long)c[i].created;
	free(c);
	return t;
}

int pull_metrics_write(const struct pull_conf *c)
{
	struct buf b = BUF_INIT(1 << 20);
	long long (*v)[NMETRICS];
	int r;

	if (c->metrics_textfile == NULL)
		return 0;
	v = xcalloc(c->n_nodes ? c->n_nodes : 1, sizeof *v);
	for (size_t i = 0; i < c->n_nodes; i++) {
		struct store_state st;

		store_state_load(c->archive_dir, c->nodes[i].name, &st);
		v[i][0] = newest(c->archive_dir, c->nodes[i].name);
		/* with s3_keep_local = no the copies are in the store only */
		if (st.stored_newest > v[i][0])
			v[i][0] = st.stored_newest;
		v[i][1] = st.last_success;
		v[i][2] = st.bytes_total;
		v[i][3] = st.resumes_total;
		v[i][4] = st.verify_failures_total;
		v[i][5] = st.consecutive_failures;
		v[i][6] = st.store_bytes_total;
	}
	for (size_t m = 0; m < NMETRICS; m++) {
		buf_addf(&b, "# HELP %s %s\n# TYPE %s %s\n", metric[m].name,
		    metric[m].help, metric[m].name, metric[m].type);
		/* Node names are A-Za-z0-9._- (pull.conf): nothing to escape
		 * in the label. */
		for (size_t i = 0; i < c->n_nodes; i++)
			buf_addf(&b, "%s{node=\"%s\"} %lld\n", metric[m].name,
			    c->nodes[i].name, v[i][m]);
	}
	r = fs_write_atomic(c->metrics_textfile, b.p, b.len, 0644);
	free(v);
	buf_free(&b);
	return r;
}
