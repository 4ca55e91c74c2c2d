/* rollback.c: verify an archive into staging, take a safety snapshot, and
 * swap the staged state in through the redo journal (journal.c). Until the
 * journal is written the node is untouched; once it is, the rollback is
 * finished even across a crash (recovery.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bak.h"
#include "bakcheck.h"
#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "crypto.h"
#include "db.h"
#include "err.h"
#include "esc.h"
#include "fault.h"
#include "fsutil.h"
#include "hooks.h"
#include "journal.h"
#include "log.h"
#include "names.h"
#include "node.h"
#include "rollback.h"
#include "snapshot.h"
#include "ui.h"
#include "xmalloc.h"
#include "banned.h"

/* The archive (verified, in staging) must be what the operator confirmed
 * (seen; NULL with --yes), its key must be allowed to sign for the node it
 * names (never overridden: otherwise it is a forgery), and it must come
 * from this node, this version and this schema, unless --force names the
 * difference. */
static int check_origin(struct node *n, const struct manifest *mf,
    unsigned force, const char *file, const struct bakcheck *seen)
{
	int r;

	if ((r = node_check_claim(n, mf, file)) != 0)
		return r;
	if (seen && (seen->status != BC_VERIFIED || mf->created != seen->created ||
	    strcmp(mf->snapshot, seen->snapshot) ||
	    strcmp(mf->node_id, seen->node_id) || strcmp(mf->key_id, seen->key_id)))
		return err_set(ERR_REFUSED, "%s changed after the confirmation (it "
		    "now holds snapshot %s of node %s); run the rollback again",
		    esc(file), esc(mf->snapshot), esc(mf->node_name));
	if (strcmp(mf->engine, n->conf->db_engine))
		return err_set(ERR_REFUSED, "%s: taken with database engine %s, this "
		    "node runs %s", esc(file), esc(mf->engine), n->conf->db_engine);
	if (strcmp(mf->node_id, n->id) && !(force & ROLLBACK_FORCE_NODE))
		return err_set(ERR_REFUSED, "%s was taken on node %s (%s), not "
		    "on this node; add --force node to restore it here",
		    esc(file), esc(mf->node_name), esc(mf->node_id));
	if (strcmp(mf->software, NODEBAK_VERSION) && !(force & ROLLBACK_FORCE_VERSION))
		return err_set(ERR_REFUSED, "%s was taken by nodebak %s, this is "
		    "%s; add --force version to restore it anyway", esc(file),
		    esc(mf->software), NODEBAK_VERSION);
	if (mf->schema != DB_SCHEMA_VERSION && !(force & ROLLBACK_FORCE_SCHEMA))
		return err_set(ERR_REFUSED, "%s has database schema %ld, this "
		    "node uses %d; add --force schema to restore it anyway",
		    esc(file), mf->schema, DB_SCHEMA_VERSION);
	return 0;
}

/* Live node files (relative to the files root) that the archive does not
 * have: removed by the journal. A path the archive has with another type
 * is left to its mkdir or replace step, which clears it: a remove step for
 * it would, when the journal is replayed after a crash, delete what that
 * step had already put in its place. */
static int plan_removals(const char *root, const char *rel,
    const struct manifest *mf, struct journal *j, int depth)
{
	char *dir = rel[0] ? fs_join(root, rel) : xstrdup(root);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if ((d = opendir(dir)) == NULL) {
		r = err_sys("%s", dir);
		free(dir);
		return r;
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		char member[PATH_MAX];
		char *relp, *full;
		struct stat st;
		long i;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !snapshot_is_node_file(de->d_name, depth == 0))
			continue;
		relp = rel[0] ? fs_join(rel, de->d_name) : xstrdup(de->d_name);
		full = fs_join(root, relp);
		snprintf(member, sizeof member, "files/%s", relp);
		i = manifest_find(mf, member);
		if (lstat(full, &st) != 0)
			r = errno == ENOENT ? 0 : err_sys("%s", full);
		else if (i < 0)
			journal_add(j, JOP_REMOVE, NULL, full, 0);
		else if (S_ISDIR(st.st_mode) && mf->m[i].is_dir && depth < 16)
			r = plan_removals(root, relp, mf, j, depth + 1);
		free(relp);
		free(full);
	}
	closedir(d);
	free(dir);
	return r;
}

/* Build the journal that turns the live node into the staged one. */
static int plan(struct node *n, const char *stage, const struct manifest *mf,
    struct journal *j)
{
	const struct conf *c = n->conf;
	char wal[PATH_MAX], shm[PATH_MAX];
	int r;

	if ((r = plan_removals(c->files_dir, "", mf, j, 0)) != 0)
		return r;
	snprintf(wal, sizeof wal, "%s-wal", c->db_path);
	snprintf(shm, sizeof shm, "%s-shm", c->db_path);
	journal_add(j, JOP_REMOVE, NULL, wal, 0);
	journal_add(j, JOP_REMOVE, NULL, shm, 0);
	for (size_t i = 0; i < mf->n; i++) {
		const struct mf_member *m = &mf->m[i];
		char *src = snapshot_member_path(stage, m->path), *dst = NULL;
		if (!strncmp(m->path, "files/", 6))
			dst = fs_join(c->files_dir, m->path + 6);
		else if (!strcmp(m->path, db_member(c)))
			dst = db_restore_target(c);
		else if (!strcmp(m->path, CLUSTER_MEMBER))
			dst = xstrdup(n->cluster_path);
		else if (!strcmp(m->path, "config/nodebak.conf"))
			dst = xstrdup(c->file);
		if (dst == NULL)
			r = err_set(ERR_FORMAT, "%s: member %s has no place on a node",
			    j->bak, esc(m->path));
		else if (m->is_dir)
			journal_add(j, JOP_MKDIR, NULL, dst, m->mode);
		else if (chmod(src, m->mode) != 0)
			r = err_sys("chmod %s", src);
		else {
			/* Verified against the signed MANIFEST as it was staged;
			 * the cluster settings were rewritten since (marked out of
			 * the cluster) and are hashed as they are now. */
			struct jstep *st = journal_add(j, JOP_REPLACE, src, dst, 0);
			if (strcmp(m->path, CLUSTER_MEMBER)) {
				memcpy(st->sha, m->sha256, sizeof st->sha);
				st->size = m->size;
				/* Verified by this process: not hashed again
				 * while unchanged (journal.h). */
				st->verified = fs_stamp(src, &st->stamp) == 0;
			} else
				r = sha256_file(src, st->sha, &st->size);
		}
		free(src);
		free(dst);
		if (r)
			return r;
	}
	return 0;
}

/* The restored cluster settings: out of the cluster, to be re-initialised
 * or re-joined. */
static int mark_out_of_cluster(const char *stage, const char *file)
{
	char *path = snapshot_member_path(stage, CLUSTER_MEMBER);
	struct cluster cl;
	int r;

	if ((r = cluster_load(path, &cl)) == 0) {
		cl.status = CS_DISABLED;
		cl.since = clock_now();
		cl.node_in_use[0] = cl.master[0] = cl.error[0] = '\0';
		snprintf(cl.last_command, sizeof cl.last_command,
		    "backup rollback %s", file);
		cl.last_ok = 1;
		r = cluster_save(path, &cl);
	}
	free(path);
	return r;
}

/* The staged configuration must load: restored, a configuration that does
 * not would keep the daemon and the console from starting. */
static int check_staged_conf(const char *stage, const char *path)
{
	char *file = snapshot_member_path(stage, "config/nodebak.conf");
	struct conf *c = NULL;
	int r;

	if ((r = conf_load(file, &c)) != 0)
		r = err_prefix(ERR_FORMAT, "%s: the archive's configuration does "
		    "not load", path);
	conf_free(c);
	free(file);
	return r;
}

/* The staged files were fsynced as they were written; their names must be
 * durable too before the journal commits to moving them: after a power
 * loss a replace step whose staged file is missing counts as done. */
static int fsync_stage(const char *stage, const struct manifest *mf)
{
	static const char *const tops[] = { "cluster", "config", "db", "files" };
	char *p;
	int r = fs_fsync_parent(stage);

	for (size_t i = 0; r == 0 && i < sizeof tops / sizeof tops[0]; i++) {
		p = fs_join(stage, tops[i]);
		r = fs_fsync_dir(p);
		free(p);
	}
	for (size_t i = 0; r == 0 && i < mf->n; i++)
		if (mf->m[i].is_dir) {
			p = snapshot_member_path(stage, mf->m[i].path);
			r = fs_fsync_dir(p);
			free(p);
		}
	return r;
}

/* NAME.bak or NAME.json is in the backups folder. */
static int backup_exists(struct node *n, const char *name)
{
	char file[NAME_MAX_LEN + 8];
	char *p;
	int found;

	snprintf(file, sizeof file, "%s.bak", name);
	p = node_backup_path(n, file);
	found = fs_exists(p);
	free(p);
	snprintf(file, sizeof file, "%s.json", name);
	p = node_backup_path(n, file);
	found |= fs_exists(p);
	free(p);
	return found;
}

/* Stage and verify: everything that can fail without touching the node. */
static int stage_archive(struct node *n, const struct rollback_req *rq,
    const char *path, const char *stage, struct manifest *mf,
    struct fs_stamp *dbstamp, const struct ui *ui)
{
	struct bak_progress prog = { ui_bak_progress, (void *)ui };
	struct sidecar_check *sc;
	struct bak_limits lim;
	struct bak_keys keys;
	char *db;
	long schema = 0;
	int fd, r;

	if ((fd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_sys("%s", stage);
	node_limits(n, &lim);
	node_keys(n, rq->ids, rq->nids, &keys);
	keys.progress = ui ? &prog : NULL;
	sc = snapshot_sidecar_begin(path);
	if ((r = bak_read(path, &keys, &lim, fd, mf, NULL)) != 0) {
		char why[1024];
		snprintf(why, sizeof why, "%s", err_msg());
		snapshot_sidecar_end(sc, NULL);
		err_set(r, "%s", why);
	} else
		r = snapshot_sidecar_end(sc, mf);
	if (r == 0 && fsync(fd) != 0)
		r = err_sys("fsync %s", stage);
	close(fd);
	if (r != 0)
		return r;
	if (manifest_find(mf, db_member(n->conf)) < 0 ||
	    manifest_find(mf, CLUSTER_MEMBER) < 0 ||
	    manifest_find(mf, "config/nodebak.conf") < 0)
		return err_set(ERR_FORMAT, "%s: the archive lacks the database, "
		    "configuration or cluster settings", path);
	db = snapshot_member_path(stage, db_member(n->conf));
	if ((r = db_check_file(n->conf, db)) == 0 &&
	    (r = db_file_schema(n->conf, db, &schema)) == 0 &&
	    schema != mf->schema)
		r = err_set(ERR_MISMATCH, "%s: database schema %ld, the MANIFEST "
		    "says %ld", path, schema, mf->schema);
	/* The file that passed: not checked again once in place, unless it
	 * changed (finish()). */
	if (r == 0 && fs_stamp(db, dbstamp) != 0)
		dbstamp->ino = 0;
	free(db);
	if (r == 0)
		r = check_staged_conf(stage, path);
	return r == 0 ? fsync_stage(stage, mf) : r;
}

static int reload_conf(struct node *n)
{
	struct conf *nc;

	if (conf_load(n->conf->file, &nc) != 0) {
		log_err("rollback: restored configuration does not load: %s",
		    err_msg());
		return -1;
	}
	/* Keep the running conf for readers; it is small and rollbacks rare. */
	pthread_mutex_lock(&n->state_lock);
	n->conf = nc;
	pthread_mutex_unlock(&n->state_lock);
	return 0;
}

/* A new, empty staging folder of this rollback's own, in work. */
static char *new_stage(const char *work)
{
	char *tmpl = fs_join(work, JOURNAL_STAGE_PREFIX "-XXXXXX");

	if (mkdtemp(tmpl) == NULL) {
		err_sys("%s", tmpl);
		free(tmpl);
		return NULL;
	}
	return tmpl;
}

/* Who could write into the database after the swap: nobody may. */
static int refuse_if_db_in_use(struct node *n)
{
	char who[512];

	if (db_in_use(n->conf) == 0)
		return 0;
	snprintf(who, sizeof who, "%s", err_msg());
	return err_set(ERR_BUSY, "%s: the rollback would replace the database "
	    "under it and lose what it writes. Stop it first%s", who,
	    n->conf->service_stop && *n->conf->service_stop ? " (service_stop "
	    "did not)" : ", or set [snapshotd] service_stop and service_start "
	    "to stop the node's services for the rollback");
}

/* After the swap: a process that opened the old database between the
 * check and the swap still has it; say so loudly. */
static void warn_if_old_db_open(const struct ui *ui,
    const struct fs_fileid *ids, size_t nids)
{
	char comm[64];
	pid_t pid;

	if (!fs_open_elsewhere(ids, nids, &pid, comm, sizeof comm))
		return;
	log_err("rollback: process %ld (%s) still has the replaced database "
	    "open; what it writes now is lost: restart it", (long)pid, esc(comm));
	ui_err(ui, "WARNING: process %ld (%s) still has the replaced database "
	    "open; what it writes now is lost: restart it\n", (long)pid,
	    esc(comm));
}

/* The end of a rollback whose journal is complete: restore a pending
 * PostgreSQL dump, start the services, load the restored configuration,
 * check the live database. 1 when the database checks out; dbwhat (of
 * DB_CHECK_WHAT_MAX bytes) says what was checked, or what failed. */
static int finish(struct node *n, const struct ui *ui, const char *file,
    const struct fs_stamp *checked, char *dbwhat)
{
	int dbok;

	/* PostgreSQL: the journal put the dump in place; restore it into the
	 * server now (the next start does it if this is cut off). */
	dbok = db_restore_pending(n->conf) == 0;
	if (!dbok) {
		snprintf(dbwhat, DB_CHECK_WHAT_MAX, "%s", err_msg());
		log_err("rollback %s: %s", file, err_msg());
		ui_err(ui, "backup rollback: %s\n", err_msg());
		return 0;
	}
	if (hook_run("service_start", n->conf->service_start) != 0)
		ui_err(ui, "backup rollback: %s\n", err_msg());
	fault_point("rollback-services-started");
	reload_conf(n);
	dbok = db_check_live_after(n->conf, checked, dbwhat,
	    DB_CHECK_WHAT_MAX) == 0;
	if (!dbok)
		log_err("rollback %s: %s", file, err_msg());
	return dbok;
}

static int paths_init(struct node *n, char **work, char **intent,
    char **jpath, char **done)
{
	*work = fs_join(n->conf->state_dir, NODE_WORK_DIR);
	*intent = fs_join(*work, JOURNAL_INTENT);
	*jpath = fs_join(n->conf->state_dir, JOURNAL_FILE);
	*done = fs_join(*work, JOURNAL_DONE);
	return 0;
}

int rollback_resume(struct node *n, const struct ui *ui)
{
	struct journal j;
	char *work, *intent, *jpath, *done, bak[sizeof j.bak];
	int r = 0;

	paths_init(n, &work, &intent, &jpath, &done);
	journal_init(&j, "", "");
	if (fs_exists(jpath)) {
		if ((r = journal_read(jpath, &j)) != 0 ||
		    (r = journal_complete(&j, jpath, done, intent)) != 0)
			goto out;
	} else {
		struct buf b = BUF_INIT(sizeof j.bak - 1);
		if (fs_read_file(done, sizeof j.bak - 1, &b) == 0)
			snprintf(j.bak, sizeof j.bak, "%s", buf_cstr(&b));
		buf_free(&b);
	}
	snprintf(bak, sizeof bak, "%s", j.bak[0] ? j.bak : "an archive");
	if (db_restore_pending(n->conf) != 0) {
		r = -1;
		goto out;
	}
	{
		char dbwhat[DB_CHECK_WHAT_MAX] = "";
		if (!finish(n, ui, bak, NULL, dbwhat))
			ui_err(ui, "backup rollback: the restored database: %s\n",
			    dbwhat);
	}
	unlink(done);
	log_info("rollback %s: completed; node restored", bak);
	ui_out(ui, "The interrupted rollback from %s has been completed: the "
	    "node is in the restored state.\n", esc(bak));
	pthread_mutex_lock(&n->state_lock);
	snprintf(n->recovery, sizeof n->recovery, "the rollback from %s was "
	    "completed after a failure past its commit point", bak);
	pthread_mutex_unlock(&n->state_lock);
out:
	if (r != 0) {
		char why[512];
		snprintf(why, sizeof why, "%s", err_msg());
		r = err_set(ERR_REFUSED, "the rollback from %s is committed but "
		    "not complete (%s); the node is part restored and nothing else "
		    "may change it until the rollback is completed: fix the cause, "
		    "then run the command again or restart nodebak-snapshotd",
		    j.bak[0] ? esc(j.bak) : "an archive", why);
	}
	journal_free(&j);
	free(work);
	free(intent);
	free(jpath);
	free(done);
	return r;
}

int rollback_begin(struct node *n, const char *what, const struct ui *ui)
{
	int r;

	if ((r = node_begin(n, what)) != 0)
		return r;
	/* A committed rollback is completed before anything else changes the
	 * node; until it is, nothing else may. */
	if (node_rollback_pending(n) && (r = rollback_resume(n, ui)) != 0) {
		node_end(n);
		return r;
	}
	return 0;
}

/* The safety snapshot's name: pre-rollback-<ts>, made unique. */
static int take_safety(struct node *n, const char *ts, char *name,
    size_t namesz, const struct ui *ui)
{
	snprintf(name, namesz, "pre-rollback-%s", ts);
	for (int k = 2; k < 100 && backup_exists(n, name); k++)
		snprintf(name, namesz, "pre-rollback-%s-%d", ts, k);
	if (snapshot_create(n, name, ui) != 0) {
		name[0] = '\0';
		return err_prefix(ERR_IO, "safety snapshot");
	}
	return 0;
}

/* Stop the node's services for the swap; when that fails, start them
 * again and keep the reason. */
static int stop_services(struct node *n)
{
	char msg[1024];

	if (hook_run("service_stop", n->conf->service_stop) == 0)
		return 0;
	snprintf(msg, sizeof msg, "%s", err_msg());
	hook_run("service_start", n->conf->service_start);
	return err_set(ERR_IO, "%s; nothing was changed", msg);
}

void rollback_res_free(struct rollback_res *res)
{
	manifest_free(&res->mf);
}

/* One rollback_run(): what its phases share. */
struct run {
	struct node *n;
	const struct rollback_req *rq;
	const struct ui *ui;
	struct rollback_res *res;
	char *path, *work, *stage, *intent, *jpath, *done;
	char ts[32];			/* after staging: for names */
	struct journal j;
	struct fs_fileid old_db[3];	/* the database replaced */
	struct fs_stamp dbstamp;	/* the one staged, as checked (ino 0: none) */
	size_t nold;
	int hooks_stopped;
};

/* 1. Verify everything into a staging folder of this rollback's own;
 * the node is not touched. */
static int stage_phase(struct run *x)
{
	const struct rollback_req *rq = x->rq;
	int r;

	if ((r = fs_mkdir_p(x->work, 0700)) != 0 ||
	    (r = fs_write_atomic(x->intent, rq->file, strlen(rq->file),
	    0600)) != 0)
		return r;
	fault_point("rollback-intent");
	if ((x->stage = new_stage(x->work)) == NULL)
		return ERR_SYS;
	if ((r = stage_archive(x->n, rq, x->path, x->stage, &x->res->mf,
	    &x->dbstamp, x->ui)) != 0)
		return r;
	return check_origin(x->n, &x->res->mf, rq->force, rq->file, rq->seen);
}

/* 2. A safety snapshot of the current state. 3. Plan, stop the services,
 * make sure nobody else writes into the database, commit. */
static int commit_phase(struct run *x)
{
	struct rollback_res *res = x->res;
	time_t now = clock_now();
	int r;

	strftime(x->ts, sizeof x->ts, "%Y%m%dT%H%M%SZ", gmtime(&now));
	if (!x->rq->no_safety) {
		if ((r = take_safety(x->n, x->ts, res->safety,
		    sizeof res->safety, x->ui)) != 0)
			return r;
		ui_out(x->ui, "Safety snapshot %s.bak taken\n", res->safety);
	}
	if ((r = mark_out_of_cluster(x->stage, x->rq->file)) != 0)
		return r;
	journal_free(&x->j);
	journal_init(&x->j, x->rq->file, x->stage);
	if ((r = plan(x->n, x->stage, &res->mf, &x->j)) != 0 ||
	    (r = stop_services(x->n)) != 0)
		return r;
	x->hooks_stopped = 1;
	fault_point("rollback-services-stopped");
	if ((r = refuse_if_db_in_use(x->n)) != 0)
		return r;
	db_file_ids(x->n->conf, x->old_db, &x->nold);
	/* A journal that reached its name but failed its last fsync is
	 * committed all the same: its staging folder must stay. */
	if ((r = journal_write(&x->j, x->jpath)) != 0 && !fs_exists(x->jpath))
		return r;
	res->committed = 1;
	log_info("rollback %s: committed (%zu steps)", x->rq->file, x->j.n);
	fault_point("rollback-committed");
	return 0;
}

/* The live database's stamp when it is the staged file that passed the
 * integrity check, moved into place and not changed since (the services
 * are still stopped): finish() need not read it again. Else NULL. */
static const struct fs_stamp *checked_in_place(const struct run *x,
    struct fs_stamp *live)
{
	if (x->dbstamp.ino == 0 || fs_stamp(x->n->conf->db_path, live) != 0 ||
	    !fs_stamp_same(live, &x->dbstamp, FS_STAMP_RENAMED))
		return NULL;
	return live;
}

/* 4. From here the rollback completes: now, or before anything else
 * changes the node (rollback_resume), or at the next start. */
static int complete_phase(struct run *x)
{
	struct node *n = x->n;
	struct fs_stamp live;
	int r;

	if ((r = journal_complete(&x->j, x->jpath, x->done, x->intent)) != 0) {
		log_err("rollback %s: %s; the node is part restored until the "
		    "rollback is completed", x->rq->file, err_msg());
		return r;
	}
	x->res->dbok = finish(n, x->ui, x->rq->file, checked_in_place(x, &live),
	    x->res->dbwhat);
	warn_if_old_db_open(x->ui, x->old_db, x->nold);
	log_info("rollback %s: done; node restored to snapshot %s", x->rq->file,
	    x->res->mf.snapshot);
	pthread_mutex_lock(&n->state_lock);
	snprintf(n->recovery, sizeof n->recovery, "rolled back to %s at %s",
	    x->rq->file, x->ts);
	pthread_mutex_unlock(&n->state_lock);
	unlink(x->done);
	return 0;
}

/* Before the commit point: undo what can be undone, keeping the reason
 * (code r) for the caller. */
static int undo(struct run *x, int r)
{
	char why[1024];

	snprintf(why, sizeof why, "%s", err_msg());
	/* Only this rollback's own staging folder: never another's. */
	if (x->stage)
		fs_rm_rf(x->stage);
	unlink(x->intent);
	if (x->hooks_stopped)
		hook_run("service_start", x->n->conf->service_start);
	return err_set(r, "%s", why);
}

int rollback_run(struct node *n, const struct rollback_req *rq,
    const struct ui *ui, struct rollback_res *res)
{
	struct run x;
	int r;

	memset(res, 0, sizeof *res);
	manifest_init(&res->mf);
	memset(&x, 0, sizeof x);
	x.n = n;
	x.rq = rq;
	x.ui = ui;
	x.res = res;
	x.path = node_backup_path(n, rq->file);
	paths_init(n, &x.work, &x.intent, &x.jpath, &x.done);
	journal_init(&x.j, "", "");
	if ((r = stage_phase(&x)) != 0 || (r = commit_phase(&x)) != 0)
		r = res->committed ? r : undo(&x, r);
	else
		r = complete_phase(&x);
	journal_free(&x.j);
	free(x.path);
	free(x.work);
	free(x.stage);
	free(x.intent);
	free(x.jpath);
	free(x.done);
	return r;
}
