/* snapshot.c: take a consistent, signed snapshot of the node. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bak.h"
#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "db.h"
#include "err.h"
#include "fault.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "names.h"
#include "node.h"
#include "sidecar.h"
#include "snapshot.h"
#include "xmalloc.h"
#include "ui.h"
#include "banned.h"

#define CONFIG_MEMBER "config/nodebak.conf"

int snapshot_is_node_file(const char *name, int top_level)
{
	size_t n = strlen(name);

	if (name[0] == '.')		/* internal, temporary, hidden */
		return 0;
	if (top_level && !strcmp(name, NODE_BACKUPS_DIR))
		return 0;
	if (n >= 4 && !strcmp(name + n - 4, ".bak"))	/* other archives */
		return 0;
	return 1;
}

char *snapshot_member_path(const char *work, const char *member)
{
	return fs_join(work, member);
}

/* A sorted list of relative paths under the files root. */
struct flist {
	char **path;
	size_t n, cap;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void flist_add(struct flist *fl, const char *rel)
{
	if (fl->n == fl->cap) {
		fl->cap = fl->cap ? fl->cap * 2 : 32;
		fl->path = xreallocarray(fl->path, fl->cap, sizeof *fl->path);
	}
	fl->path[fl->n++] = xstrdup(rel);
}

/* The paths beneath the folder open as fd (rel beneath the files root
 * root, "" for the root; fd is consumed). Each folder is opened from its
 * parent's descriptor with O_DIRECTORY | O_NOFOLLOW, never by path, so a
 * folder swapped for a symlink while the walk runs is not entered: the
 * walk cannot leave the root (docs/snapshots.md, "What a snapshot
 * holds"). */
static int walk(int fd, const char *root, const char *rel, struct flist *fl,
    int depth)
{
	struct dirent *de;
	DIR *d;
	int r = 0, sub;

	if (depth > 16) {
		close(fd);
		return err_set(ERR_TOOBIG, "%s: folders nested too deeply", root);
	}
	if ((d = fdopendir(fd)) == NULL) {
		r = err_sys("%s/%s", root, rel);
		close(fd);
		return r;
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		char *relp;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!snapshot_is_node_file(de->d_name, depth == 0))
			continue;
		relp = rel[0] ? fs_join(rel, de->d_name) : xstrdup(de->d_name);
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			r = errno == ENOENT ? 0 : err_sys("%s/%s", root, relp);
		else if (S_ISREG(st.st_mode))
			flist_add(fl, relp);
		else if (!S_ISDIR(st.st_mode))
			log_warn("snapshot: skipping %s/%s: not a regular file or "
			    "folder", root, relp);
		else if ((sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			flist_add(fl, relp);
			r = walk(sub, root, relp, fl, depth + 1);
		} else if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
			log_warn("snapshot: skipping %s/%s: no longer a folder",
			    root, relp);
		else
			r = err_sys("%s/%s", root, relp);
		free(relp);
	}
	closedir(d);
	return r;
}

static void flist_free(struct flist *fl)
{
	for (size_t i = 0; i < fl->n; i++)
		free(fl->path[i]);
	free(fl->path);
}

/* Copy the open file in (what names it) into the work folder as member,
 * or, with in < 0, take member as already there; describe it in mf. */
static int add_member(struct manifest *mf, const char *work,
    const char *member, int in, const char *what, unsigned mode)
{
	char *dst = snapshot_member_path(work, member);
	char hex[SHA256_HEX_LEN + 1];
	uint64_t size = 0;
	int r;

	if (in >= 0 && (r = fs_copy_fd(in, what, dst, 0600)) != 0)
		goto out;
	if ((r = sha256_file(dst, hex, &size)) != 0)
		goto out;
	if (size > MANIFEST_SIZE_MAX) {
		r = err_set(ERR_TOOBIG, "%s: larger than the member limit of %llu "
		    "bytes", what, (unsigned long long)MANIFEST_SIZE_MAX);
		goto out;
	}
	r = manifest_add(mf, member, 0, mode, size, hex);
out:
	free(dst);
	return r;
}

/* add_member() of the file at path src (NULL: member is already there). */
static int add_file(struct manifest *mf, const char *work, const char *member,
    const char *src, unsigned mode)
{
	int in, r;

	if (!src)
		return add_member(mf, work, member, -1, member, mode);
	if ((in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return err_sys("%s", src);
	r = add_member(mf, work, member, in, src, mode);
	close(in);
	return r;
}

/* One path the walk found, opened again beneath the root's descriptor
 * with no symlink allowed at any level (fs_open_beneath()): what the
 * walk saw may have been swapped since. */
static int collect_one(struct manifest *mf, const char *work, int rootfd,
    const char *root, const char *rel)
{
	char member[MANIFEST_PATH_MAX + 8];
	char *src = fs_join(root, rel);
	struct stat st;
	int fd = -1, r;

	if (snprintf(member, sizeof member, "files/%s", rel) >=
	    MANIFEST_PATH_MAX + 1) {
		/* The reason first: the path may fill the message. */
		r = err_set(ERR_TOOBIG, "name longer than the archive allows "
		    "(%d bytes under the files root): %s", MANIFEST_PATH_MAX - 6,
		    src);
		goto out;
	}
	if ((r = fs_open_beneath(rootfd, rel, O_RDONLY | O_NONBLOCK, &fd)) != 0) {
		r = r == ERR_DENIED ? err_set(r, "%s: a folder on its way became "
		    "a symlink during the snapshot (nothing outside the files "
		    "root is archived)", src) : err_sys("%s", src);
		goto out;
	}
	if (fstat(fd, &st) != 0)
		r = err_sys("%s", src);
	else if (S_ISDIR(st.st_mode)) {
		char *d = snapshot_member_path(work, member);
		if (mkdir(d, 0700) != 0)
			r = err_sys("mkdir %s", d);
		else
			r = manifest_add(mf, member, 1,
			    (st.st_mode & 077) ? 0755 : 0700, 0, NULL);
		free(d);
	} else if (S_ISREG(st.st_mode))
		r = add_member(mf, work, member, fd, src,
		    (st.st_mode & 077) ? 0644 : 0600);
	else
		r = err_set(ERR_INVAL, "%s: no longer a regular file or folder",
		    src);
out:
	if (fd >= 0)
		close(fd);
	free(src);
	return r;
}

static int collect_files(struct node *n, const char *work, struct manifest *mf)
{
	const char *root = n->conf->files_dir;
	struct flist fl = { 0 };
	int rootfd, walkfd, r;

	if ((rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_sys("%s", root);
	if ((walkfd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0) {
		r = err_sys("%s", root);
		goto out;
	}
	if ((r = walk(walkfd, root, "", &fl, 0)) != 0)
		goto out;
	qsort(fl.path, fl.n, sizeof *fl.path, cmp_str);
	for (size_t i = 0; i < fl.n && r == 0; i++)
		r = collect_one(mf, work, rootfd, root, fl.path[i]);
out:
	close(rootfd);
	flist_free(&fl);
	return r;
}

int snapshot_collect(struct node *n, const char *work, struct manifest *mf)
{
	static const char *const tops[] = { "cluster", "config", "db", "files" };
	struct db *db = NULL;
	char *dbcopy = NULL;
	long schema = 0;
	int r;

	if ((r = fs_mkdir_p(work, 0700)) != 0)
		return r;
	for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++) {
		char *d = fs_join(work, tops[i]);
		r = mkdir(d, 0700) ? err_sys("mkdir %s", d) : 0;
		free(d);
		if (r)
			return r;
	}
	/* Canonical (bytewise) order: cluster/, config/, db/, files/. */
	if ((r = add_file(mf, work, CLUSTER_MEMBER, n->cluster_path, 0600)) != 0 ||
	    (r = add_file(mf, work, CONFIG_MEMBER, n->conf->file, 0600)) != 0)
		return r;
	dbcopy = snapshot_member_path(work, db_member(n->conf));
	if ((r = db_open(n->conf, &db)) == 0 && (r = db_schema(db, &schema)) == 0)
		r = db_snapshot(db, dbcopy);
	db_close(db);
	free(dbcopy);
	fault_point("snapshot-db-copied");
	if (r != 0 ||
	    (r = add_file(mf, work, db_member(n->conf), NULL, 0600)) != 0)
		return r;
	mf->schema = schema;
	return collect_files(n, work, mf);
}

static int write_json(const struct node *n, const struct manifest *mf,
    const char *file, uint64_t size, const char *sha, const char *path,
    const struct age_recipient *rs, size_t nrec)
{
	struct buf b = BUF_INIT(MANIFEST_MAX_BYTES * 2);
	char ts[21];
	int r;

	manifest_time(mf->created, ts);
	r = buf_addf(&b, "{\n  \"format\": \"nodebak-bak-json %d\",\n  \"file\": ",
	    nrec ? 2 : 1);
	if (r == 0) r = json_str(&b, file);
	if (r == 0) r = buf_addf(&b, ",\n  \"size\": %llu,\n  \"sha256\": \"%s\","
	    "\n  \"node\": {\"name\": ", (unsigned long long)size, sha);
	if (r == 0) r = json_str(&b, mf->node_name);
	if (r == 0) r = buf_addf(&b, ", \"id\": \"%s\"},\n  \"snapshot\": ",
	    mf->node_id);
	if (r == 0) r = json_str(&b, mf->snapshot);
	if (r == 0) r = buf_addf(&b, ",\n  \"created\": \"%s\",\n  \"key_id\": "
	    "\"%s\",\n  \"software\": \"nodebak %s\",\n  \"engine\": \"%s\",\n"
	    "  \"schema\": %ld,\n", ts, mf->key_id, mf->software,
	    mf->engine, mf->schema);
	/* Sealed: the recipients, and no member list (the names and hashes
	 * of what is inside are for those who can open it). */
	if (r == 0 && nrec) {
		r = buf_adds(&b, "  \"encrypted\": {\"format\": \"age-v1\", "
		    "\"recipients\": [");
		for (size_t i = 0; r == 0 && i < nrec; i++) {
			char rec[AGE_RECIPIENT_MAX];
			age_recipient_format(&rs[i], rec);
			r = buf_addf(&b, "%s\"%s\"", i ? ", " : "", rec);
		}
		if (r == 0)
			r = buf_adds(&b, "]},\n");
	}
	if (r == 0)
		r = buf_adds(&b, "  \"members\": [");
	for (size_t i = 0; r == 0 && !nrec && i < mf->n; i++) {
		const struct mf_member *m = &mf->m[i];
		r = buf_addf(&b, "%s\n    {\"path\": ", i ? "," : "");
		if (r == 0) r = json_str(&b, m->path);
		if (r == 0 && m->is_dir)
			r = buf_addf(&b, ", \"type\": \"dir\", \"mode\": \"%04o\"}",
			    m->mode);
		else if (r == 0)
			r = buf_addf(&b, ", \"type\": \"file\", \"size\": %llu, "
			    "\"mode\": \"%04o\", \"sha256\": \"%s\"}",
			    (unsigned long long)m->size, m->mode, m->sha256);
	}
	if (r == 0) r = buf_adds(&b, "\n  ]\n}\n");
	if (r == 0)
		r = fs_write_atomic(path, b.p, b.len, NODE_ARCHIVE_MODE);
	if (r == 0)
		r = node_archive_owner(n, -1, path);
	buf_free(&b);
	return r;
}

/* Write the archive for mf from work into fd, sealed to rs when nrec. */
static int write_archive(struct node *n, const struct manifest *mf,
    const char *work, int fd, const char *what,
    const struct age_recipient *rs, size_t nrec, const struct ui *ui)
{
	struct buf mtext = BUF_INIT(MANIFEST_MAX_BYTES);
	struct buf stext = BUF_INIT(BAK_SIG_MAX);
	struct bak_writer *w = NULL;
	struct bak_progress prog = { ui_bak_progress, (void *)ui };
	uint64_t total = 0;
	int r;

	if ((r = manifest_format(mf, &mtext)) != 0 ||
	    (r = bak_sign(n->key, mtext.p, mtext.len, &stext)) != 0 ||
	    (r = bak_writer_new(fd, (int)n->conf->compression_level, mf->created,
	    what, rs, nrec, &w)) != 0)
		goto out;
	for (size_t i = 0; i < mf->n; i++)
		total += mf->m[i].size;
	bak_writer_set_progress(w, ui ? &prog : NULL, total);
	if ((r = bak_writer_add_data(w, "MANIFEST", 0644, mtext.p, mtext.len)) ||
	    (r = bak_writer_add_data(w, "MANIFEST.sig", 0644, stext.p, stext.len)))
		goto out;
	for (size_t i = 0; i < mf->n && r == 0; i++) {
		const struct mf_member *m = &mf->m[i];
		char *src;
		if (m->is_dir) {
			r = bak_writer_add_dir(w, m->path, m->mode);
			continue;
		}
		src = snapshot_member_path(work, m->path);
		r = bak_writer_add_file(w, m->path, m->mode, src, m->size);
		free(src);
	}
	if (r == 0)
		r = bak_writer_finish(w);
	if (r == 0 && nrec)
		r = bak_writer_seal(w, n->key, mf, mtext.p, mtext.len);
out:
	bak_writer_free(w);
	buf_free(&mtext);
	buf_free(&stext);
	return r;
}

int snapshot_create(struct node *n, const char *name, const struct ui *ui)
{
	struct manifest mf;
	char file[NAME_MAX_LEN + 8], tmpname[NAME_MAX_LEN + 32];
	char jsonname[NAME_MAX_LEN + 8], sha[SHA256_HEX_LEN + 1], wname[128];
	char *bak = NULL, *tmp = NULL, *json = NULL, *work = NULL, *wdir = NULL;
	uint64_t size = 0;
	struct age_recipient rs[AGE_MAX_RECIPIENTS];
	size_t nrec = 0;
	int fd = -1, json_written = 0, r;

	manifest_init(&mf);
	if (!name_valid(name))
		return err_set(ERR_INVAL, "%s: snapshot names are 1 to 64 of "
		    "A-Za-z0-9._- and do not start with a dot", name);
	snprintf(file, sizeof file, "%s.bak", name);
	snprintf(jsonname, sizeof jsonname, "%s.json", name);
	snprintf(tmpname, sizeof tmpname, NODE_INTERNAL_PREFIX "-tmp-%s.bak", name);
	bak = node_backup_path(n, file);
	json = node_backup_path(n, jsonname);
	tmp = node_backup_path(n, tmpname);
	/* A node with a pending rollback is part restored: signing it would
	 * make an archive of a state that never existed. */
	if (node_rollback_pending(n)) {
		r = err_set(ERR_REFUSED, "a rollback is committed but not "
		    "complete; this node is part restored and is not snapshotted "
		    "until it is");
		goto out;
	}
	if (fs_exists(bak) || fs_exists(json)) {
		r = err_set(ERR_EXISTS, "%s already exists; delete it first or "
		    "choose another name", fs_exists(bak) ? file : jsonname);
		goto out;
	}
	wdir = fs_join(n->conf->state_dir, NODE_WORK_DIR);
	snprintf(wname, sizeof wname, "snapshot-%s", name);
	work = fs_join(wdir, wname);
	if ((r = fs_rm_rf(work)) != 0 || (r = fs_mkdir_p(wdir, 0700)) != 0)
		goto out;
	/* 1. A consistent copy of every member, hashed. */
	snprintf(mf.node_name, sizeof mf.node_name, "%s", n->conf->node_name);
	snprintf(mf.node_id, sizeof mf.node_id, "%s", n->id);
	snprintf(mf.software, sizeof mf.software, "%s", NODEBAK_VERSION);
	snprintf(mf.engine, sizeof mf.engine, "%s", n->conf->db_engine);
	snprintf(mf.snapshot, sizeof mf.snapshot, "%s", name);
	snprintf(mf.key_id, sizeof mf.key_id, "%s", sigkey_id(n->key));
	mf.created = clock_now();
	if ((r = node_recipients(n, rs, &nrec)) != 0 ||
	    (r = snapshot_collect(n, work, &mf)) != 0)
		goto out;
	/* 2. The archive under a temporary name, fsynced. Never readable by
	 * others: it holds the node's keys (docs/ftpd.md, "Roles"). */
	unlink(tmp);
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    NODE_ARCHIVE_MODE)) < 0) {
		r = err_sys("create %s", tmp);
		goto out;
	}
	if ((r = node_archive_owner(n, fd, tmp)) != 0 ||
	    (r = write_archive(n, &mf, work, fd, tmp, rs, nrec, ui)) != 0)
		goto out;
	fault_point("snapshot-archive-written");
	if (fsync(fd) != 0) {
		r = err_sys("fsync %s", tmp);
		goto out;
	}
	close(fd);
	fd = -1;
	/* 3. The .json first, then the .bak: its rename is the commit. A
	 * .json without its .bak is removed at the next start. */
	if ((r = sha256_file(tmp, sha, &size)) != 0 ||
	    (r = write_json(n, &mf, file, size, sha, json, rs, nrec)) != 0)
		goto out;
	json_written = 1;
	fault_point("snapshot-json-written");
	if (rename(tmp, bak) != 0) {
		r = err_sys("rename %s", bak);
		goto out;
	}
	fault_point("snapshot-renamed");
	r = fs_fsync_dir(n->backups);
	log_info("snapshot %s: %zu members, %llu bytes, sha256 %s%s", file, mf.n,
	    (unsigned long long)size, sha, nrec ? ", sealed" : "");
out:
	if (fd >= 0)
		close(fd);
	if (r != 0) {
		int saved = r;
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", err_msg());
		unlink(tmp);
		if (json_written && !fs_exists(bak))
			unlink(json);
		err_set(saved, "%s", msg);
	}
	if (work)
		fs_rm_rf(work);
	manifest_free(&mf);
	free(bak);
	free(tmp);
	free(json);
	free(work);
	free(wdir);
	return r;
}

int snapshot_check_sidecar(const char *bak_path, const struct manifest *mf)
{
	struct sidecar sc;
	char *json = sidecar_path(bak_path);
	int r = 0;

	if (json == NULL || !fs_exists(json))
		goto out;
	if ((r = sidecar_load(json, &sc)) == 0 &&
	    (r = sidecar_check_file(&sc, bak_path)) == 0 && mf)
		r = sidecar_match_manifest(&sc, mf);
out:
	free(json);
	return r;
}
