/* snapshot.c: take a consistent, signed snapshot of the node. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bak.h"
#include "buf.h"
#include "clock.h"
#include "crypto.h"
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

/* A placeholder for a hash not known yet: a MANIFEST with it has the
 * same length as with the real one. */
static const char zero_hex[SHA256_HEX_LEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

int snapshot_collect(struct node *n, const char *work, struct manifest *mf,
    struct db *db, struct db_stream **dbs)
{
	static const char *const tops[] = { "cluster", "config", "db", "files" };
	char *dbwork = NULL;
	long schema = 0;
	int r;

	*dbs = NULL;
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
	/* The database is not copied: its image is read once, while the
	 * archive is written, and hashed on the way (db_stream_open()). */
	dbwork = snapshot_member_path(work, db_member(n->conf));
	if ((r = db_schema(db, &schema)) == 0)
		r = db_stream_open(db, dbwork, dbs);
	free(dbwork);
	fault_point("snapshot-db-copied");
	if (r != 0 || (r = manifest_add(mf, db_member(n->conf), 0, 0600,
	    db_stream_size(*dbs), zero_hex)) != 0)
		return r;
	mf->schema = schema;
	return collect_files(n, work, mf);
}

/* , "path_hex": "<path's bytes in hex>" */
static int add_path_hex(struct buf *b, const char *path)
{
	size_t n = strlen(path);
	char *hex = xmalloc(2 * n + 1);
	int r;

	hex_encode((const unsigned char *)path, n, hex);
	r = buf_addf(b, ", \"path_hex\": \"%s\"", hex);
	free(hex);
	return r;
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
		/* A name that is not UTF-8 is rendered with U+FFFD above; its
		 * bytes, exactly (docs/bak-format.md, "NAME.json"). */
		if (r == 0 && !json_utf8_valid(m->path))
			r = add_path_hex(&b, m->path);
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

/* The index of the first member of the archive's body: the database
 * (docs/bak-format.md, "How the snapshot writer lays out the deflate
 * stream"); those before it are small and go into the head. */
static size_t body_start(const struct node *n, const struct manifest *mf)
{
	size_t i;

	for (i = 0; i < mf->n; i++)
		if (!strcmp(mf->m[i].path, db_member(n->conf)))
			break;
	return i;
}

/* The head's tar bytes: MANIFEST, MANIFEST.sig and the members before
 * the body, from work; *mtext gets the MANIFEST. */
static int build_head(struct node *n, const struct manifest *mf,
    const char *work, size_t body, struct buf *mtext, struct buf *head)
{
	struct buf stext = BUF_INIT(BAK_SIG_MAX);
	struct buf data = BUF_INIT(MANIFEST_MAX_BYTES);
	int r;

	buf_reset(mtext);
	buf_reset(head);
	if ((r = manifest_format(mf, mtext)) != 0 ||
	    (r = bak_sign(n->key, mtext->p, mtext->len, &stext)) != 0 ||
	    (r = bak_tar_add_data(head, "MANIFEST", 0644, mf->created, mtext->p,
	    mtext->len)) != 0 ||
	    (r = bak_tar_add_data(head, "MANIFEST.sig", 0644, mf->created,
	    stext.p, stext.len)) != 0)
		goto out;
	for (size_t i = 0; i < body && r == 0; i++) {
		const struct mf_member *m = &mf->m[i];
		char *src;
		if (m->is_dir) {
			r = bak_tar_add_dir(head, m->path, m->mode, mf->created);
			continue;
		}
		src = snapshot_member_path(work, m->path);
		buf_reset(&data);
		if ((r = fs_read_file(src, MANIFEST_MAX_BYTES, &data)) == 0 &&
		    data.len != m->size)
			r = err_set(ERR_IO, "%s: changed size while being archived",
			    src);
		if (r == 0)
			r = bak_tar_add_data(head, m->path, m->mode, mf->created,
			    data.p, data.len);
		free(src);
	}
out:
	buf_free(&stext);
	buf_free(&data);
	return r;
}

/* Write the format 1 archive for mf into fd: the body (the database
 * image from dbs, hashed into mf on the way, and the files from work),
 * then the head in front of it. *mtext gets the signed MANIFEST. */
static int write_archive(struct node *n, struct manifest *mf,
    const char *work, struct db_stream *dbs, int fd, const char *what,
    struct buf *mtext, const struct ui *ui)
{
	struct buf head = BUF_INIT(2 * MANIFEST_MAX_BYTES);
	struct bak_split *w = NULL;
	struct bak_progress prog = { ui_bak_progress, (void *)ui };
	struct source dbsrc = { db_stream_read, dbs };
	size_t body = body_start(n, mf);
	uint64_t total = 0;
	int r;

	if ((r = build_head(n, mf, work, body, mtext, &head)) != 0 ||
	    (r = bak_split_new(fd, (int)n->conf->compression_level, mf->created,
	    what, head.len, &w)) != 0)
		goto out;
	for (size_t i = body; i < mf->n; i++)
		total += mf->m[i].size;
	bak_split_set_progress(w, ui ? &prog : NULL, total);
	for (size_t i = body; i < mf->n && r == 0; i++) {
		struct mf_member *m = &mf->m[i];
		char *src;
		if (m->is_dir)
			r = bak_split_add_dir(w, m->path, m->mode);
		else if (i == body)
			r = bak_split_add_source(w, m->path, m->mode, m->size,
			    &dbsrc, m->sha256);
		else {
			src = snapshot_member_path(work, m->path);
			r = bak_split_add_file(w, m->path, m->mode, src, m->size);
			free(src);
		}
	}
	if (r == 0 && (r = build_head(n, mf, work, body, mtext, &head)) == 0)
		r = bak_split_finish(w, head.p, head.len);
out:
	bak_split_free(w);
	buf_free(&head);
	return r;
}

/* Seal the format 1 archive in gzfd into fd (format 2). */
static int seal_archive(struct node *n, const struct manifest *mf,
    const struct buf *mtext, int gzfd, int fd, const char *what,
    const struct age_recipient *rs, size_t nrec)
{
	struct bak_writer *w = NULL;
	int r;

	if (lseek(gzfd, 0, SEEK_SET) != 0)
		return err_sys("seek %s", what);
	if ((r = bak_writer_new_sealing(fd, mf->created, what, rs, nrec,
	    &w)) == 0 &&
	    (r = bak_writer_add_gzip(w, gzfd)) == 0 &&
	    (r = bak_writer_finish(w)) == 0)
		r = bak_writer_seal(w, n->key, mf, mtext->p, mtext->len);
	bak_writer_free(w);
	return r;
}

/* Paths of one snapshot being taken. */
struct taking {
	const char *name;
	char file[NAME_MAX_LEN + 8], jsonname[NAME_MAX_LEN + 8];
	char *bak, *tmp, *json, *work, *wdir;
};

/* One attempt: the members, the archive under its temporary name
 * (fsynced), the .json, the rename. ERR_AGAIN: the database image was
 * spoilt by a writer (dbpages.c); nothing is left and it may be tried
 * again. */
static int take(struct node *n, struct taking *t, const struct ui *ui)
{
	struct manifest mf;
	struct buf mtext = BUF_INIT(MANIFEST_MAX_BYTES);
	char sha[SHA256_HEX_LEN + 1], *spill = NULL;
	struct age_recipient rs[AGE_MAX_RECIPIENTS];
	struct db *db = NULL;
	struct db_stream *dbs = NULL;
	uint64_t size = 0;
	size_t nrec = 0;
	int fd = -1, gzfd = -1, json_written = 0, r, r2;

	manifest_init(&mf);
	if ((r = fs_rm_rf(t->work)) != 0 || (r = fs_mkdir_p(t->wdir, 0700)) != 0)
		goto out;
	/* 1. Every member but the database copied and hashed; the database
	 * opened for a consistent image. */
	snprintf(mf.node_name, sizeof mf.node_name, "%s", n->conf->node_name);
	snprintf(mf.node_id, sizeof mf.node_id, "%s", n->id);
	snprintf(mf.software, sizeof mf.software, "%s", NODEBAK_VERSION);
	snprintf(mf.engine, sizeof mf.engine, "%s", n->conf->db_engine);
	snprintf(mf.snapshot, sizeof mf.snapshot, "%s", t->name);
	snprintf(mf.key_id, sizeof mf.key_id, "%s", sigkey_id(n->key));
	mf.created = clock_now();
	if ((r = node_recipients(n, rs, &nrec)) != 0 ||
	    (r = db_open(n->conf, &db)) != 0 ||
	    (r = snapshot_collect(n, t->work, &mf, db, &dbs)) != 0)
		goto out;
	/* 2. The archive under a temporary name, fsynced. Never readable by
	 * others: it holds the node's keys (docs/ftpd.md, "Roles"). Sealed,
	 * the format 1 archive is made in the work folder first, then
	 * encrypted into place (read and written: a payload over 8 GiB is
	 * moved up to make room for its pax header). */
	unlink(t->tmp);
	if ((fd = open(t->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, NODE_ARCHIVE_MODE)) < 0) {
		r = err_sys("create %s", t->tmp);
		goto out;
	}
	if ((r = node_archive_owner(n, fd, t->tmp)) != 0)
		goto out;
	if (nrec) {
		spill = fs_join(t->work, "archive.gz");
		if ((gzfd = open(spill, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600)) < 0) {
			r = err_sys("create %s", spill);
			goto out;
		}
	}
	r = write_archive(n, &mf, t->work, dbs, nrec ? gzfd : fd,
	    nrec ? spill : t->tmp, &mtext, ui);
	/* The read transaction ends; the check that ran beside the copy
	 * says whether the database was sound. */
	r2 = db_stream_close(dbs);
	dbs = NULL;
	if (r == 0)
		r = r2;
	if (r == 0 && nrec)
		r = seal_archive(n, &mf, &mtext, gzfd, fd, t->tmp, rs, nrec);
	if (r != 0)
		goto out;
	fault_point("snapshot-archive-written");
	if (fsync(fd) != 0) {
		r = err_sys("fsync %s", t->tmp);
		goto out;
	}
	close(fd);
	fd = -1;
	/* 3. The .json first, then the .bak: its rename is the commit. A
	 * .json without its .bak is removed at the next start. */
	if ((r = sha256_file(t->tmp, sha, &size)) != 0 ||
	    (r = write_json(n, &mf, t->file, size, sha, t->json, rs, nrec)) != 0)
		goto out;
	json_written = 1;
	fault_point("snapshot-json-written");
	if (rename(t->tmp, t->bak) != 0) {
		r = err_sys("rename %s", t->bak);
		goto out;
	}
	fault_point("snapshot-renamed");
	r = fs_fsync_dir(n->backups);
	log_info("snapshot %s: %zu members, %llu bytes, sha256 %s%s", t->file,
	    mf.n, (unsigned long long)size, sha, nrec ? ", sealed" : "");
out:
	db_stream_close(dbs);
	db_close(db);
	if (fd >= 0)
		close(fd);
	if (gzfd >= 0)
		close(gzfd);
	if (r != 0) {
		int saved = r;
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", err_msg());
		unlink(t->tmp);
		if (json_written && !fs_exists(t->bak))
			unlink(t->json);
		err_set(saved, "%s", msg);
	}
	fs_rm_rf(t->work);
	manifest_free(&mf);
	buf_free(&mtext);
	free(spill);
	return r;
}

/* A database image spoilt by a writer is taken again, this many times. */
#define TAKE_TRIES 3

int snapshot_create(struct node *n, const char *name, const struct ui *ui)
{
	struct taking t = { .name = name };
	char tmpname[NAME_MAX_LEN + 32], wname[128];
	int r;

	if (!name_valid(name))
		return err_set(ERR_INVAL, "%s: snapshot names are 1 to 64 of "
		    "A-Za-z0-9._- and do not start with a dot", name);
	snprintf(t.file, sizeof t.file, "%s.bak", name);
	snprintf(t.jsonname, sizeof t.jsonname, "%s.json", name);
	snprintf(tmpname, sizeof tmpname, NODE_INTERNAL_PREFIX "-tmp-%s.bak", name);
	t.bak = node_backup_path(n, t.file);
	t.json = node_backup_path(n, t.jsonname);
	t.tmp = node_backup_path(n, tmpname);
	t.wdir = fs_join(n->conf->state_dir, NODE_WORK_DIR);
	snprintf(wname, sizeof wname, "snapshot-%s", name);
	t.work = fs_join(t.wdir, wname);
	/* A node with a pending rollback is part restored: signing it would
	 * make an archive of a state that never existed. */
	if (node_rollback_pending(n))
		r = err_set(ERR_REFUSED, "a rollback is committed but not "
		    "complete; this node is part restored and is not snapshotted "
		    "until it is");
	else if (fs_exists(t.bak) || fs_exists(t.json))
		r = err_set(ERR_EXISTS, "%s already exists; delete it first or "
		    "choose another name", fs_exists(t.bak) ? t.file : t.jsonname);
	else
		for (int i = 1; (r = take(n, &t, ui)) == ERR_AGAIN &&
		    i < TAKE_TRIES; i++)
			log_warn("snapshot %s: %s; taking it again", t.file,
			    err_msg());
	free(t.bak);
	free(t.tmp);
	free(t.json);
	free(t.work);
	free(t.wdir);
	return r;
}

struct sidecar_check {
	pthread_t th;
	int threaded;
	char *bak, *json;	/* json NULL: there is none, nothing to check */
	struct sidecar sc;
	int r;
	char msg[1024];
};

static void check_file(struct sidecar_check *c)
{
	if ((c->r = sidecar_load(c->json, &c->sc)) == 0)
		c->r = sidecar_check_file(&c->sc, c->bak);
	if (c->r != 0)
		snprintf(c->msg, sizeof c->msg, "%s", err_msg());
}

static void *check_thread(void *arg)
{
	check_file(arg);
	return NULL;
}

/* threaded: hash the file in a thread of its own, else here. */
static struct sidecar_check *sidecar_start(const char *bak_path, int threaded)
{
	struct sidecar_check *c = xcalloc(1, sizeof *c);

	c->bak = xstrdup(bak_path);
	c->json = sidecar_path(bak_path);
	if (c->json != NULL && !fs_exists(c->json)) {
		free(c->json);
		c->json = NULL;
	}
	if (c->json == NULL)
		return c;
	c->threaded = threaded &&
	    pthread_create(&c->th, NULL, check_thread, c) == 0;
	if (!c->threaded)
		check_file(c);		/* the same check, here */
	return c;
}

struct sidecar_check *snapshot_sidecar_begin(const char *bak_path)
{
	return sidecar_start(bak_path, 1);
}

int snapshot_sidecar_end(struct sidecar_check *c, const struct manifest *mf)
{
	int r = 0;

	if (c->threaded)
		pthread_join(c->th, NULL);
	if (c->json != NULL && c->r != 0)
		r = err_set(c->r, "%s", c->msg);
	else if (c->json != NULL && mf != NULL)
		r = sidecar_match_manifest(&c->sc, mf);
	free(c->bak);
	free(c->json);
	free(c);
	return r;
}

int snapshot_check_sidecar(const char *bak_path, const struct manifest *mf)
{
	return snapshot_sidecar_end(sidecar_start(bak_path, 0), mf);
}
