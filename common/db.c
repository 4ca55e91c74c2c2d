/* db.c: the SQLite engine for the node database (see db.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "conf.h"
#include "db.h"
#include "db_pg.h"
#include "dbpages.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "xmalloc.h"
#include "banned.h"

struct db {
	sqlite3 *h;
	char *path;
	struct pg_conn *pg;		/* postgresql: the connection */
	const struct conf *conf;
};

static int is_pg(const struct conf *c)
{
	return !strcmp(c->db_engine, "postgresql");
}

const char *db_member(const struct conf *c)
{
	return is_pg(c) ? DB_MEMBER_PG : DB_MEMBER;
}

int db_server_start(const struct conf *c, const char *listen)
{
	return is_pg(c) ? pg_server_start(c, listen) : 0;
}

int db_server_stop(const struct conf *c)
{
	return is_pg(c) ? pg_server_stop(c, 0) : 0;
}

char *db_restore_target(const struct conf *c)
{
	return is_pg(c) ? pg_pending_path(c) : xstrdup(c->db_path);
}

void db_file_ids(const struct conf *c, struct fs_fileid *ids, size_t *n)
{
	char wal[PATH_MAX], shm[PATH_MAX];
	const char *paths[3] = { c->db_path, wal, shm };

	*n = 0;
	if (is_pg(c))
		return;
	snprintf(wal, sizeof wal, "%s-wal", c->db_path);
	snprintf(shm, sizeof shm, "%s-shm", c->db_path);
	fs_fileids(paths, 3, ids, n);
}

/* A lock on path held by another process (SQLite takes POSIX locks on the
 * database file and on its -shm): its pid, or 0. */
static long locked_by(const char *path)
{
	struct flock fl;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	long pid = 0;

	if (fd < 0)
		return 0;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		pid = fl.l_pid > 0 ? fl.l_pid : -1;
	close(fd);
	return pid;
}

int db_in_use(const struct conf *c)
{
	struct fs_fileid ids[3];
	char shm[PATH_MAX], comm[64];
	size_t n;
	pid_t pid;
	long lk;

	if (is_pg(c))
		return pg_in_use(c);
	db_file_ids(c, ids, &n);
	if (fs_open_elsewhere(ids, n, &pid, comm, sizeof comm))
		return err_set(ERR_BUSY, "the database %s is open in another "
		    "process (pid %ld, %s)", c->db_path, (long)pid, esc(comm));
	snprintf(shm, sizeof shm, "%s-shm", c->db_path);
	if ((lk = locked_by(c->db_path)) != 0 || (lk = locked_by(shm)) != 0)
		return err_set(ERR_BUSY, "the database %s is locked by another "
		    "process (%s%ld)", c->db_path, lk > 0 ? "pid " : "", lk > 0 ?
		    lk : 0L);
	return 0;
}

int db_restore_is_pending(const struct conf *c)
{
	char *p;
	int pending;

	if (!is_pg(c))
		return 0;
	p = pg_pending_path(c);
	pending = fs_exists(p);
	free(p);
	return pending;
}

int db_restore_pending(const struct conf *c)
{
	return is_pg(c) ? pg_restore_pending(c) : 0;
}

static int no_cluster(const struct conf *c)
{
	return err_set(ERR_INVAL, "database clustering needs [database] engine = "
	    "postgresql (this node runs %s)", c->db_engine);
}

int db_cluster_master(const struct conf *c, const char *listen,
    const struct db_tls *t)
{
	return is_pg(c) ? pg_cluster_master(c, listen, t) : no_cluster(c);
}

int db_cluster_join(const struct conf *c, const char *listen,
    const struct db_tls *t, const char *master)
{
	return is_pg(c) ? pg_cluster_join(c, listen, t, master) : no_cluster(c);
}

int db_cluster_leave(const struct conf *c, const char *listen,
    const char *master)
{
	return is_pg(c) ? pg_cluster_leave(c, listen, master) : no_cluster(c);
}

int db_cluster_nodes(const struct conf *c, const char *me,
    const char *master, struct buf *out)
{
	return is_pg(c) ? pg_cluster_nodes(c, me, master, out) : no_cluster(c);
}

int db_restore_ready(const struct conf *c)
{
	return is_pg(c) ? pg_restore_ready(c) : 0;
}

int db_check_live_what(const struct conf *c, char *what, size_t whatsz)
{
	char scratch[DB_CHECK_WHAT_MAX];
	int r;

	if (what == NULL || whatsz == 0) {
		what = scratch;
		whatsz = sizeof scratch;
	}
	what[0] = '\0';
	if (is_pg(c))
		r = pg_check_live(c, what, whatsz);
	else if ((r = db_check_file(c, c->db_path)) == 0)
		snprintf(what, whatsz, "integrity_check ok");
	if (r != 0)
		snprintf(what, whatsz, "%s", err_msg());
	return r;
}

int db_check_live_after(const struct conf *c, const struct fs_stamp *checked,
    char *what, size_t whatsz)
{
	char wal[PATH_MAX];
	struct fs_stamp now;
	struct stat st;

	/* A write since lands in the file, or in its WAL first. */
	snprintf(wal, sizeof wal, "%s-wal", c->db_path);
	if (checked == NULL || is_pg(c) || fs_stamp(c->db_path, &now) != 0 ||
	    !fs_stamp_same(&now, checked, FS_STAMP_EXACT) ||
	    (lstat(wal, &st) == 0 && st.st_size != 0))
		return db_check_live_what(c, what, whatsz);
	if (what != NULL && whatsz != 0)
		snprintf(what, whatsz, "integrity_check ok");
	return 0;
}

int db_check_live(const struct conf *c)
{
	return db_check_live_what(c, NULL, 0);
}

/* The node schema, version 1: what an appliance node keeps. */
static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS node_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS spaces(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" uri TEXT NOT NULL UNIQUE, passcode TEXT);"
	"CREATE TABLE IF NOT EXISTS users(id INTEGER PRIMARY KEY, jid TEXT NOT NULL UNIQUE,"
	" name TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS call_legs(id INTEGER PRIMARY KEY, space_id INTEGER"
	" REFERENCES spaces(id), remote TEXT NOT NULL, started INTEGER NOT NULL);";

static int dberr(sqlite3 *h, const char *what, const char *path)
{
	return err_set(ERR_DB, "%s: %s: %s", path, what,
	    h ? sqlite3_errmsg(h) : "cannot open");
}

static int open_handle(const char *path, int flags, sqlite3 **out)
{
	sqlite3 *h = NULL;

	*out = NULL;
	if (sqlite3_open_v2(path, &h, flags | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK) {
		int r = dberr(h, "open", path);
		sqlite3_close(h);
		return r;
	}
	sqlite3_busy_timeout(h, 10000);
	sqlite3_extended_result_codes(h, 1);
	*out = h;
	return 0;
}

static int exec(sqlite3 *h, const char *sql, const char *path)
{
	char *msg = NULL;
	int r = 0;

	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
		r = err_set(ERR_DB, "%s: %s", path, msg ? msg : "SQL error");
	sqlite3_free(msg);
	return r;
}

static int get_long(sqlite3 *h, const char *sql, const char *path, long *out)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return dberr(h, "prepare", path);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = (long)sqlite3_column_int64(st, 0);
	else
		r = dberr(h, "query", path);
	sqlite3_finalize(st);
	return r;
}

int db_open(const struct conf *c, struct db **out)
{
	struct db *d;
	long ver = 0;
	int r;

	*out = NULL;
	d = xcalloc(1, sizeof *d);
	d->conf = c;
	if (is_pg(c)) {
		if ((r = pg_open(c, &d->pg)) != 0)
			goto fail;
		*out = d;
		return 0;
	}
	d->path = xstrdup(c->db_path);
	if ((r = open_handle(d->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	    &d->h)) != 0 ||
	    (r = exec(d->h, "PRAGMA journal_mode=WAL;", d->path)) != 0 ||
	    (r = get_long(d->h, "PRAGMA user_version", d->path, &ver)) != 0)
		goto fail;
	if (ver == 0) {
		char sql[sizeof schema_sql + 128];
		snprintf(sql, sizeof sql, "BEGIN;%sPRAGMA user_version=%d;COMMIT;",
		    schema_sql, DB_SCHEMA_VERSION);
		if ((r = exec(d->h, sql, d->path)) != 0)
			goto fail;
	}
	*out = d;
	return 0;
fail:
	db_close(d);
	return r;
}

void db_close(struct db *d)
{
	if (d == NULL)
		return;
	pg_close(d->pg);
	sqlite3_close(d->h);
	free(d->path);
	free(d);
}

int db_schema(struct db *d, long *out)
{
	if (d->pg)
		return pg_schema(d->pg, out);
	return get_long(d->h, "PRAGMA user_version", d->path, out);
}

static int check(sqlite3 *h, const char *pragma, const char *path)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *t;
	int r = 0;

	if (sqlite3_prepare_v2(h, pragma, -1, &st, NULL) != SQLITE_OK)
		return dberr(h, "prepare check", path);
	if (sqlite3_step(st) != SQLITE_ROW)
		r = dberr(h, pragma + 7, path);
	else if ((t = sqlite3_column_text(st, 0)) == NULL ||
	    strcmp((const char *)t, "ok")) {
		/* One row per problem (integrity_check stops at 100). */
		char first[400];
		long n = 1;
		snprintf(first, sizeof first, "%s", t ? (const char *)t : "no result");
		while (sqlite3_step(st) == SQLITE_ROW)
			n++;
		r = err_set(ERR_DB, "%s: %s failed (%ld problem%s); first: %s", path,
		    pragma + 7, n, n == 1 ? "" : "s", first);
	}
	sqlite3_finalize(st);
	return r;
}

struct db_stream {
	struct db *d;
	struct dbpages *pages;	/* SQLite */
	int fd;			/* PostgreSQL: the dump */
	const char *what;
	uint64_t size, done;
	int in_txn;
	pthread_t checker;
	int checking, check_r;
	char check_msg[512];
};

/* The quick_check of the stream's read transaction, in its own thread
 * (the connection is not used by anyone else meanwhile). */
static void *stream_check(void *arg)
{
	struct db_stream *s = arg;

	s->check_r = check(s->d->h, "PRAGMA quick_check", s->d->path);
	if (s->check_r)
		snprintf(s->check_msg, sizeof s->check_msg, "%s", err_msg());
	return NULL;
}

int db_stream_open(struct db *d, const char *work_file, struct db_stream **out)
{
	struct db_stream *s = xcalloc(1, sizeof *s);
	int r;

	*out = NULL;
	s->d = d;
	s->fd = -1;
	if (d->pg) {
		struct stat st;
		s->what = work_file;
		if ((r = pg_snapshot(d->conf, work_file)) != 0)
			goto fail;
		if ((s->fd = open(work_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		    fstat(s->fd, &st) != 0) {
			r = err_sys("%s", work_file);
			goto fail;
		}
		s->size = (uint64_t)st.st_size;
		*out = s;
		return 0;
	}
	s->what = d->path;
	/* The read transaction first: from here on, what dbpages reads
	 * cannot be overwritten by a checkpoint (dbpages.c). */
	if ((r = exec(d->h, "BEGIN; SELECT count(*) FROM sqlite_schema;",
	    d->path)) != 0)
		goto fail;
	s->in_txn = 1;
	if ((r = dbpages_open(d->path, &s->pages)) != 0)
		goto fail;
	s->size = dbpages_size(s->pages);
	if (pthread_create(&s->checker, NULL, stream_check, s) != 0) {
		r = err_set(ERR_NOMEM, "cannot start the database check thread");
		goto fail;
	}
	s->checking = 1;
	*out = s;
	return 0;
fail:
	db_stream_close(s);
	return r;
}

uint64_t db_stream_size(const struct db_stream *s)
{
	return s->size;
}

int db_stream_read(void *ctx, void *buf, size_t cap, size_t *got)
{
	struct db_stream *s = ctx;
	uint64_t left = s->size - s->done;
	int r = 0;

	if (cap > left)
		cap = (size_t)left;
	*got = 0;
	if (cap == 0)
		return 0;
	if (s->pages)
		r = dbpages_read(s->pages, buf, cap, got);
	else {
		ssize_t n;
		do
			n = read(s->fd, buf, cap);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			r = err_sys("read %s", s->what);
		else if (n == 0)
			r = err_set(ERR_IO, "%s: shorter than when it was written",
			    s->what);
		else
			*got = (size_t)n;
	}
	s->done += *got;
	return r;
}

int db_stream_close(struct db_stream *s)
{
	int r = 0;

	if (s == NULL)
		return 0;
	if (s->checking) {
		pthread_join(s->checker, NULL);
		if (s->check_r)
			r = err_set(s->check_r, "%s", s->check_msg);
	}
	if (s->in_txn)
		sqlite3_exec(s->d->h, "COMMIT;", NULL, NULL, NULL);
	dbpages_close(s->pages);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return r;
}

int db_check_file(const struct conf *c, const char *path)
{
	sqlite3 *h;
	int r;

	if (is_pg(c))
		return pg_check_file(c, path);
	if ((r = open_handle(path, SQLITE_OPEN_READWRITE, &h)) != 0)
		return r;
	r = check(h, "PRAGMA integrity_check", path);
	sqlite3_close(h);
	return r;
}

int db_file_schema(const struct conf *c, const char *path, long *out)
{
	sqlite3 *h;
	int r;

	if (is_pg(c))
		return pg_file_schema(c, path, out);
	if ((r = open_handle(path, SQLITE_OPEN_READWRITE, &h)) != 0)
		return r;
	r = get_long(h, "PRAGMA user_version", path, out);
	sqlite3_close(h);
	return r;
}

int db_quiesce(const char *path)
{
	sqlite3 *h;
	int r;

	if (!fs_exists(path))
		return 0;
	if ((r = open_handle(path, SQLITE_OPEN_READWRITE, &h)) != 0)
		return r;
	r = exec(h, "PRAGMA wal_checkpoint(TRUNCATE);", path);
	sqlite3_close(h);
	return r;
}
