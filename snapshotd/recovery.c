/* recovery.c: crash recovery at daemon start (docs/crash-safety.md). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "journal.h"
#include "log.h"
#include "node.h"
#include "prune.h"
#include "recovery.h"
#include "hooks.h"
#include "xmalloc.h"
#include "banned.h"

static void note(struct node *n, const char *fmt, const char *arg)
{
	size_t len = strlen(n->recovery);
	char line[512];

	snprintf(line, sizeof line, fmt, arg);
	log_info("recovery: %s", line);
	snprintf(n->recovery + len, sizeof n->recovery - len, "%s%s",
	    len ? "; " : "", line);
}

/* Finish what prune_delete() was cut off in: the archive is already
 * hidden as PRUNE_DEL_PREFIX<name>.bak; remove its .json, then it. Runs
 * before clean_snapshots(), whose orphan-.json rule would count those
 * .json files as a snapshot's leftovers. */
static int clean_deletions(struct node *n)
{
	const size_t plen = strlen(PRUNE_DEL_PREFIX);
	struct dirent *de;
	DIR *d;
	int removed = 0;

	if ((d = opendir(n->backups)) == NULL)
		return err_sys("%s", n->backups);
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		size_t len = strlen(nm);
		char json[512], *p;
		if (strncmp(nm, PRUNE_DEL_PREFIX, plen) || len < plen + 5 ||
		    strcmp(nm + len - 4, ".bak"))
			continue;
		snprintf(json, sizeof json, "%.*s.json", (int)(len - plen - 4),
		    nm + plen);
		p = node_backup_path(n, json);
		unlink(p);
		free(p);
		p = node_backup_path(n, nm);
		unlink(p);
		free(p);
		removed++;
	}
	closedir(d);
	if (removed) {
		fs_fsync_dir(n->backups);
		note(n, "an interrupted backup delete or prune left %s; removed",
		    removed == 1 ? "1 hidden archive" : "hidden archives");
	}
	return 0;
}

/* Remove a snapshot's leftovers: temporary archives, a .json whose .bak
 * never appeared, work folders. */
static int clean_snapshots(struct node *n)
{
	struct dirent *de;
	DIR *d;
	int removed = 0;

	if ((d = opendir(n->backups)) == NULL)
		return err_sys("%s", n->backups);
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		size_t len = strlen(nm);
		char *p = NULL;
		if (!strncmp(nm, NODE_INTERNAL_PREFIX "-tmp-", 13) ||
		    strstr(nm, ".json.tmp.") != NULL)
			p = node_backup_path(n, nm);
		else if (len > 5 && !strcmp(nm + len - 5, ".json") && nm[0] != '.') {
			char bak[512];
			snprintf(bak, sizeof bak, "%.*s.bak", (int)(len - 5), nm);
			char *bp = node_backup_path(n, bak);
			if (!fs_exists(bp))
				p = node_backup_path(n, nm);
			free(bp);
		}
		if (p) {
			unlink(p);
			removed++;
			free(p);
		}
	}
	closedir(d);
	if (removed) {
		fs_fsync_dir(n->backups);
		note(n, "an interrupted snapshot left %s; removed", removed == 1 ?
		    "1 partial file" : "partial files");
	}
	return 0;
}

/* Remove from dir what fs_write_atomic() leaves when killed before its
 * rename (NAME.tmp.PID), for names starting with only (all if NULL);
 * 1 when one was the rollback intent's, whose content goes to name. */
static int clean_tmp(const char *dir, const char *only, struct buf *name)
{
	static const char intent_tmp[] = JOURNAL_INTENT ".tmp.";
	struct dirent *de;
	DIR *d = opendir(dir);
	int intent = 0;

	while (d && (de = readdir(d)) != NULL) {
		char *p;
		if (strstr(de->d_name, ".tmp.") == NULL ||
		    (only && strncmp(de->d_name, only, strlen(only))))
			continue;
		p = fs_join(dir, de->d_name);
		if (!strncmp(de->d_name, intent_tmp, sizeof intent_tmp - 1)) {
			intent = 1;
			buf_reset(name);
			fs_read_file(p, 255, name);
		}
		unlink(p);
		free(p);
	}
	if (d)
		closedir(d);
	return intent;
}

/* Remove the staging folders in work: called when no journal is pending,
 * so none belongs to one. */
static void clean_stages(const char *work)
{
	static const char pfx[] = JOURNAL_STAGE_PREFIX;
	struct dirent *de;
	DIR *d = opendir(work);

	while (d && (de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, pfx, sizeof pfx - 1)) {
			char *p = fs_join(work, de->d_name);
			fs_rm_rf(p);
			free(p);
		}
	if (d)
		closedir(d);
}

/* 1 when work holds a staging folder. */
static int has_stage(const char *work)
{
	static const char pfx[] = JOURNAL_STAGE_PREFIX;
	struct dirent *de;
	DIR *d = opendir(work);
	int found = 0;

	while (d && !found && (de = readdir(d)) != NULL)
		found = !strncmp(de->d_name, pfx, sizeof pfx - 1);
	if (d)
		closedir(d);
	return found;
}

int recovery_run(struct node *n)
{
	char *work = fs_join(n->conf->state_dir, NODE_WORK_DIR);
	char *intent = fs_join(work, JOURNAL_INTENT);
	char *jpath = fs_join(n->conf->state_dir, JOURNAL_FILE);
	char *done = fs_join(work, JOURNAL_DONE);
	struct buf name = BUF_INIT(256);
	struct journal j;
	int r = 0, interrupted = 0, tmp_intent;

	journal_init(&j, "", "");
	/* The work folder is this daemon's alone; in state_dir, only the
	 * journal's temporary file is (others there may belong to ftpd). */
	tmp_intent = clean_tmp(work, NULL, &name);
	clean_tmp(n->conf->state_dir, JOURNAL_FILE ".tmp.", &name);
	if (fs_exists(intent)) {
		buf_reset(&name);
		fs_read_file(intent, 255, &name);
	} else if (fs_exists(done)) {
		buf_reset(&name);
		fs_read_file(done, 255, &name);
	}
	if (fs_exists(jpath)) {
		/* Committed: finish it, installing only what the journal's
		 * hashes vouch for. */
		interrupted = 1;
		if ((r = journal_read(jpath, &j)) != 0 ||
		    (r = journal_complete(&j, jpath, done, intent)) != 0) {
			r = err_prefix(r, "recovery of an interrupted rollback%s%s "
			    "(the node is part restored; the daemon does not start "
			    "until it is completed)", j.bak[0] ? " from " : "",
			    esc(j.bak));
			goto out;
		}
		note(n, "the rollback from %s was interrupted after its commit "
		    "point and has been completed: the node is in the restored "
		    "(new) state", esc(j.bak));
	} else if (fs_exists(done)) {
		/* Applied and the journal removed; the end was not reached. */
		interrupted = 1;
		note(n, "the rollback from %s was interrupted after it had been "
		    "applied: the node is in the restored (new) state",
		    name.len ? esc(buf_cstr(&name)) : "an archive");
	} else if (has_stage(work) || fs_exists(intent) || tmp_intent) {
		interrupted = 1;
		note(n, "the rollback from %s was interrupted before its commit "
		    "point: nothing was changed, the node is in its previous (old) "
		    "state", name.len ? esc(buf_cstr(&name)) : "an archive");
	}
	/* No journal is pending now: no staging folder belongs to one. */
	clean_stages(work);
	unlink(intent);
	/* Snapshot work folders and partial archives. */
	if (fs_exists(work)) {
		DIR *d = opendir(work);
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL)
			if (!strncmp(de->d_name, "snapshot-", 9)) {
				char *p = fs_join(work, de->d_name);
				fs_rm_rf(p);
				free(p);
			}
		if (d)
			closedir(d);
	}
	if ((r = clean_deletions(n)) != 0 || (r = clean_snapshots(n)) != 0)
		goto out;
	/* An interrupted rollback may have stopped the services. */
	if (interrupted && hook_run("service_start",
	    n->conf->service_start) != 0)
		log_err("recovery: %s", err_msg());
	unlink(done);
out:
	journal_free(&j);
	buf_free(&name);
	free(work);
	free(intent);
	free(jpath);
	free(done);
	return r;
}
