/* status.c: nodebak-pull status (pull.h): per node, the newest verified
 * copy and its age, and how the last sync went. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "json.h"
#include "manifest.h"
#include "pull.h"
#include "pullconf.h"
#include "store.h"
#include "banned.h"

struct row {
	const char *node;
	const struct store_copy *newest;
	size_t copies;
	struct store_state st;
};

static void age(long long secs, char *out, size_t outsz)
{
	if (secs < 0)
		secs = 0;
	if (secs >= 86400)
		snprintf(out, outsz, "%lldd %lldh", secs / 86400,
		    secs % 86400 / 3600);
	else if (secs >= 3600)
		snprintf(out, outsz, "%lldh %lldm", secs / 3600, secs % 3600 / 60);
	else
		snprintf(out, outsz, "%lldm %llds", secs / 60, secs % 60);
}

static void text_row(const struct row *w, time_t now)
{
	char a[32] = "-", ts[21] = "never";

	if (w->newest)
		age((long long)(now - w->newest->created), a, sizeof a);
	if (w->st.last_sync)
		manifest_time((time_t)w->st.last_sync, ts);
	printf("%-16s %-34s %-9s %6zu  %-20s %s\n", w->node,
	    w->newest ? w->newest->file : "-", a, w->copies, ts,
	    w->st.last_result[0] ? w->st.last_result : "-");
	if (w->st.last_error[0])
		printf("  last error: %s\n", w->st.last_error);
}

static void json_row(struct buf *b, const struct row *w, time_t now, int comma)
{
	buf_addch(b, '{');
	json_key_str(b, "node", w->node, 1);
	json_key_str(b, "newest", w->newest ? w->newest->file : NULL, 1);
	json_key_num(b, "newest_created", w->newest ?
	    (long long)w->newest->created : 0, w->newest != NULL, 1);
	json_key_num(b, "newest_age_seconds", w->newest ?
	    (long long)(now - w->newest->created) : 0, w->newest != NULL, 1);
	json_key_num(b, "copies", (long long)w->copies, 1, 1);
	json_key_num(b, "last_sync", w->st.last_sync, w->st.last_sync != 0, 1);
	json_key_num(b, "last_success", w->st.last_success,
	    w->st.last_success != 0, 1);
	json_key_str(b, "last_result", w->st.last_result, 1);
	json_key_str(b, "last_error", w->st.last_error, 1);
	json_key_num(b, "consecutive_failures", w->st.consecutive_failures, 1,
	    0);
	buf_adds(b, comma ? "}," : "}");
}

int pull_status(const struct pull_conf *c, int argc, char **argv)
{
	struct buf b = BUF_INIT(1 << 24);
	time_t now = clock_now();
	int json = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json"))
			return pull_usage("status: unknown argument %s", argv[i]);
		json = 1;
	}
	if (json)
		buf_adds(&b, "{\"nodes\":[");
	else
		printf("%-16s %-34s %-9s %6s  %-20s %s\n", "NODE", "NEWEST COPY",
		    "AGE", "COPIES", "LAST SYNC", "RESULT");
	for (size_t i = 0; i < c->n_nodes; i++) {
		struct store_copy *cp = NULL;
		struct row w;

		memset(&w, 0, sizeof w);
		w.node = c->nodes[i].name;
		store_state_load(c->archive_dir, w.node, &w.st);
		if (store_copies(c->archive_dir, w.node, &cp, &w.copies) != 0)
			w.copies = 0;
		for (size_t k = 0; k < w.copies; k++)
			if (cp[k].created && (w.newest == NULL ||
			    cp[k].created >= w.newest->created))
				w.newest = &cp[k];
		if (json)
			json_row(&b, &w, now, i + 1 < c->n_nodes);
		else
			text_row(&w, now);
		free(cp);
	}
	if (json) {
		buf_adds(&b, "]}\n");
		fwrite(b.p, 1, b.len, stdout);
	}
	buf_free(&b);
	return PULL_EXIT_OK;
}
