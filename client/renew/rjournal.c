/* rjournal.c: the renewal's journal file (rjournal.h). One line a fact:
 *   nodebak-renew-journal 1
 *   stamp 20261203-121500
 *   master 10.0.0.1
 *   certs /home/op/new-certs
 *   node admin@10.0.0.1:22 STARTED DONE OUTCOME MEMBER NOTE...
 * STARTED and DONE are hexadecimal step bit sets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "rjournal.h"
#include "banned.h"

#define MAGIC "nodebak-renew-journal 1"
#define JOURNAL_MAX (64 * 1024)

static const char *const outcome_names[] = {
	"pending", "renewed", "rolled-back", "needs-attention", "unchanged",
};

const char *rjournal_outcome_name(enum rj_outcome o)
{
	return (unsigned)o < sizeof outcome_names / sizeof outcome_names[0] ?
	    outcome_names[o] : "?";
}

static int bad(const char *path, int line)
{
	return err_set(ERR_FORMAT, "%s: line %d is not a renewal journal's",
	    esc(path), line);
}

static int parse_node(char *rest, struct rj_node *nd)
{
	char *f[5];
	char *save = NULL;
	int k = 0;

	/* spec started done outcome member [note...] */
	for (char *p = rest; k < 5 && p; k++) {
		f[k] = p;
		if ((p = strchr(p, ' ')) != NULL)
			*p++ = '\0';
		save = p;
	}
	if (k < 5 || strlen(f[0]) >= sizeof nd->spec)
		return -1;
	snprintf(nd->spec, sizeof nd->spec, "%s", f[0]);
	nd->started = (unsigned)strtoul(f[1], NULL, 16);
	nd->done = (unsigned)strtoul(f[2], NULL, 16);
	nd->outcome = (enum rj_outcome)strtol(f[3], NULL, 10);
	nd->member = f[4][0] == '1';
	if (nd->outcome > RJ_UNCHANGED)
		return -1;
	snprintf(nd->note, sizeof nd->note, "%s", save ? save : "");
	return 0;
}

int rjournal_load(const char *path, struct rjournal *j)
{
	struct buf b = BUF_INIT(JOURNAL_MAX);
	char *p, *nl;
	int r, line = 0;

	memset(j, 0, sizeof *j);
	if ((r = fs_read_file(path, JOURNAL_MAX, &b)) != 0) {
		if (errno == ENOENT)
			r = err_set(ERR_NOTFOUND, "%s: no renewal journal",
			    esc(path));
		goto out;
	}
	buf_adds(&b, "");
	for (p = b.p; p && *p; p = nl) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		line++;
		if (line == 1) {
			if (strcmp(p, MAGIC)) {
				r = bad(path, line);
				goto out;
			}
		} else if (!strncmp(p, "stamp ", 6))
			snprintf(j->stamp, sizeof j->stamp, "%s", p + 6);
		else if (!strncmp(p, "master ", 7))
			snprintf(j->master, sizeof j->master, "%s", p + 7);
		else if (!strncmp(p, "certs ", 6))
			snprintf(j->certs, sizeof j->certs, "%s", p + 6);
		else if (!strncmp(p, "node ", 5) && j->n < RJOURNAL_NODES_MAX &&
		    parse_node(p + 5, &j->node[j->n]) == 0)
			j->n++;
		else {
			r = bad(path, line);
			goto out;
		}
	}
	if (line == 0 || !j->stamp[0] || !j->n)
		r = bad(path, line);
out:
	buf_free(&b);
	return r;
}

int rjournal_save(const char *path, const struct rjournal *j)
{
	struct buf b = BUF_INIT(JOURNAL_MAX);
	int r;

	buf_addf(&b, "%s\nstamp %s\nmaster %s\ncerts %s\n", MAGIC, j->stamp,
	    j->master, j->certs);
	for (int i = 0; i < j->n; i++) {
		const struct rj_node *nd = &j->node[i];
		buf_addf(&b, "node %s %x %x %d %d", nd->spec, nd->started,
		    nd->done, (int)nd->outcome, nd->member);
		if (nd->note[0])
			buf_addf(&b, " %s", nd->note);
		buf_adds(&b, "\n");
	}
	r = fs_write_atomic(path, b.p, b.len, 0600);
	buf_free(&b);
	return r;
}

int rjournal_finished(const struct rjournal *j)
{
	for (int i = 0; i < j->n; i++)
		if (j->node[i].outcome == RJ_PENDING)
			return 0;
	return 1;
}
