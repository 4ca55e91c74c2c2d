/* prune.c: backup prune (prune.h): gather the archives of backups/ with
 * what bakcheck proves about them, let the retention engine decide, print
 * why, and delete pairs crash-safely (docs/snapshots.md "Retention",
 * docs/crash-safety.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bakcheck.h"
#include "clock.h"
#include "err.h"
#include "esc.h"
#include "fault.h"
#include "fsutil.h"
#include "log.h"
#include "manifest.h"
#include "names.h"
#include "node.h"
#include "pins.h"
#include "prune.h"
#include "retention.h"
#include "ui.h"
#include "xmalloc.h"
#include "banned.h"

int prune_delete(struct node *n, const char *file)
{
	char base[NAME_MAX_LEN + 1], hidden[NAME_MAX_LEN + 32],
	    json[NAME_MAX_LEN + 8];
	char *bp = NULL, *hp = NULL, *jp = NULL;
	int r;

	if ((r = name_from_bak(file, base, sizeof base)) != 0)
		return r;
	snprintf(hidden, sizeof hidden, PRUNE_DEL_PREFIX "%s", file);
	snprintf(json, sizeof json, "%s.json", base);
	bp = node_backup_path(n, file);
	hp = node_backup_path(n, hidden);
	jp = node_backup_path(n, json);
	/* One rename takes the archive out of every listing; what is left
	 * after a crash from here on is removed by recovery. */
	if (rename(bp, hp) != 0) {
		r = err_sys("%s", esc(file));
		goto out;
	}
	fault_point("prune-renamed");
	if ((r = fs_fsync_dir(n->backups)) != 0)
		goto out;
	fault_point("prune-hidden");
	if (unlink(jp) != 0 && errno != ENOENT) {
		r = err_sys("%s", esc(json));
		goto out;
	}
	fault_point("prune-sidecar-removed");
	if (unlink(hp) != 0) {
		r = err_sys("%s", esc(hidden));
		goto out;
	}
	r = fs_fsync_dir(n->backups);
	fault_point("prune-deleted");
out:
	free(bp);
	free(hp);
	free(jp);
	return r;
}

static int is_bak_name(const char *name)
{
	char base[NAME_MAX_LEN + 1];

	return name[0] != '.' && name_from_bak(name, base, sizeof base) == 0;
}

/* The policy as configured, read under the lock a reload swaps it in. */
static void policy_of(struct node *n, struct ret_policy *p)
{
	pthread_mutex_lock(&n->state_lock);
	retention_policy_of(&n->conf->retention, p);
	pthread_mutex_unlock(&n->state_lock);
}

/* Fill a[i] for backups/<name>: a verified archive's time is its
 * MANIFEST's; an unverified one's MANIFEST is only a claim, so it is
 * placed at the file's modification time. 0, or -1 when it is gone. */
static int archive_of(struct node *n, const char *name, struct ret_archive *a)
{
	char *p = node_backup_path(n, name);
	struct bakcheck c;
	struct stat st;
	int r = stat(p, &st);

	free(p);
	if (r != 0 || bakcheck_file(n, name, &c) != 0)
		return -1;
	memset(a, 0, sizeof *a);
	a->name = name;
	a->kind = retention_kind(name);
	a->verified = c.status == BC_VERIFIED;
	a->created = a->verified ? c.created : st.st_mtime;
	a->pinned = pins_has(n, name);
	a->size = (unsigned long long)st.st_size;
	return 0;
}

static void print_policy(const struct ui *ui, const struct ret_policy *p)
{
	ui_out(ui, "Policy: keep_last=%ld keep_hourly=%ld keep_daily=%ld "
	    "keep_weekly=%ld keep_monthly=%ld keep_yearly=%ld keep_within=%llds "
	    "keep_manual=%ld min_keep=%ld max_space=%llu\n", p->keep_last,
	    p->keep_hourly, p->keep_daily, p->keep_weekly, p->keep_monthly,
	    p->keep_yearly, p->keep_within, p->keep_manual, p->min_keep,
	    p->max_space);
}

/* Print the decisions; unless dry_run, delete. */
static int apply(struct node *n, const struct ret_archive *a,
    const struct ret_decision *d, size_t count, int dry_run,
    const struct ui *ui)
{
	unsigned long long freed = 0, kept_bytes = 0;
	size_t ndel = 0;
	int r = 0;

	for (size_t i = 0; i < count; i++) {
		char ts[21];
		manifest_time(a[i].created, ts);
		ui_out(ui, "%-6s  %-40s %s  %-9s %s%s%s\n", d[i].keep ? "KEEP" :
		    "DELETE", esc(a[i].name), ts, retention_kind_name(a[i].kind),
		    a[i].verified ? "" : "(unverified) ", d[i].why,
		    a[i].pinned && strcmp(d[i].why, "pinned") ? " (pinned)" : "");
		if (d[i].keep)
			kept_bytes += a[i].size;
	}
	for (size_t i = 0; i < count && !dry_run; i++) {
		if (d[i].keep)
			continue;
		if ((r = prune_delete(n, a[i].name)) != 0) {
			log_err("prune: %s", err_msg());
			ui_err(ui, "backup prune: %s\n", err_msg());
			break;
		}
		log_info("prune: deleted %s (%s)", esc(a[i].name), d[i].why);
		ui_out(ui, "deleted %s\n", esc(a[i].name));
		freed += a[i].size;
		ndel++;
	}
	if (dry_run) {
		for (size_t i = 0; i < count; i++)
			if (!d[i].keep) {
				ndel++;
				freed += a[i].size;
			}
		ui_out(ui, "Dry run: would delete %zu of %zu archives (%llu bytes), "
		    "keeping %llu bytes\n", ndel, count, freed, kept_bytes);
	} else
		ui_out(ui, "Deleted %zu of %zu archives (%llu bytes); kept %llu "
		    "bytes\n", ndel, count, freed, kept_bytes);
	return r;
}

int prune_run(struct node *n, int dry_run, const struct ui *ui)
{
	struct ret_policy p;
	struct ret_archive *a = NULL;
	struct ret_decision *d = NULL;
	char **names = NULL;
	size_t count = 0, na = 0;
	int r, over = 0;

	policy_of(n, &p);
	if ((r = fs_list_sorted(n->backups, is_bak_name, &names, &count)) != 0)
		return r;
	if (count) {
		a = xcalloc(count, sizeof *a);
		d = xcalloc(count, sizeof *d);
	}
	for (size_t i = 0; i < count; i++)
		if (archive_of(n, names[i], &a[na]) == 0)
			na++;
	print_policy(ui, &p);
	if ((r = retention_decide(a, na, &p, clock_now(), d, &over)) != 0)
		goto out;
	r = apply(n, a, d, na, dry_run, ui);
	if (over) {
		ui_out(ui, "ALERT: the archives kept still hold more than max_space "
		    "(%llu bytes); pins, manual archives and the floors keep them, "
		    "nothing more is deleted\n", p.max_space);
		log_warn("prune: the archives kept still hold more than max_space "
		    "(%llu bytes); pins, manual archives and the floors keep them",
		    p.max_space);
	}
out:
	free(a);
	free(d);
	fs_list_free(names, count);
	return r;
}
