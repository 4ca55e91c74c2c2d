/* db_pg.c: the PostgreSQL engine of the node database (db.h, db_pg.h): the
 * node's own server (initdb at first start, pg_ctl start/stop), the libpq
 * connection, pg_dump snapshots and pg_restore. The only file that
 * includes libpq-fe.h. See docs/snapshots.md for why pg_dump. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <libpq-fe.h>

#include "buf.h"
#include "conf.h"
#include "db.h"
#include "db_pg.h"
#include "err.h"
#include "esc.h"
#include "fault.h"
#include "fsutil.h"
#include "run.h"
#include "xmalloc.h"
#include "banned.h"

#define PG_VERSIONS_ROOT "/usr/lib/postgresql"	/* Debian's layout */
#define PG_DBNAME "nodebak"
#define PG_USER "postgres"
#define SELF_APP "nodebak-snapshotd"	/* application_name of our connections */
#define PG_OUT_MAX (1u << 20)	/* captured stdout of a tool */
#define PG_ERR_MAX 4096		/* captured stderr, for the message */

struct pg_conn {
	PGconn *h;
};

/* The node schema, version 1, in PostgreSQL's dialect (db.c has SQLite's).
 * The version lives in its own table so that a dump carries it. */
static const char schema_sql[] =
	"BEGIN;"
	"CREATE TABLE node_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE spaces(id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" uri TEXT NOT NULL UNIQUE, passcode TEXT);"
	"CREATE TABLE users(id BIGSERIAL PRIMARY KEY, jid TEXT NOT NULL UNIQUE,"
	" name TEXT NOT NULL);"
	"CREATE TABLE call_legs(id BIGSERIAL PRIMARY KEY, space_id BIGINT"
	" REFERENCES spaces(id), remote TEXT NOT NULL, started BIGINT NOT NULL);"
	"CREATE TABLE nodebak_schema(version INTEGER NOT NULL);"
	"INSERT INTO nodebak_schema VALUES (1);"
	"COMMIT;";

char *pg_data_dir(const struct conf *c)
{
	return fs_join(c->state_dir, "pgdata");
}

char *pg_run_dir(const struct conf *c)
{
	return fs_join(c->state_dir, "pgrun");
}

char *pg_pending_path(const struct conf *c)
{
	return fs_join(c->state_dir, "pg-restore.pgdump");
}

/* A folder counts as PostgreSQL's when it holds an executable pg_ctl. */
static int has_pg_ctl(const char *dir)
{
	char *p = fs_join(dir, "pg_ctl");
	int ok = access(p, X_OK) == 0;

	free(p);
	return ok;
}

/* The first executable name on PATH (or the default path), a new string. */
static char *on_path(const char *name)
{
	const char *path = getenv("PATH"), *p, *e;

	if (path == NULL || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p; p = *e ? e + 1 : e) {
		char dir[1024], *f;
		size_t n;
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		if ((n = (size_t)(e - p)) == 0 || n >= sizeof dir)
			continue;
		memcpy(dir, p, n);
		dir[n] = '\0';
		f = fs_join(dir, name);
		if (access(f, X_OK) == 0)
			return f;
		free(f);
	}
	return NULL;
}

/* pg_config --bindir's folder when it holds pg_ctl: 0 and *out; else
 * ERR_NOTFOUND, with why saying what happened. */
static int from_pg_config(const char *prog, char **out, char *why,
    size_t whysz)
{
	struct buf o = BUF_INIT(4096);
	const char *argv[] = { prog, "--bindir", NULL };
	struct child ch;
	int r;

	memset(&ch, 0, sizeof ch);
	ch.argv = argv;
	if ((r = run_capture(&ch, &o, NULL, 0, 10000)) != 0)
		snprintf(why, whysz, "%s failed (%s)", prog, err_msg());
	else {
		char *d = xstrdup(buf_cstr(&o));
		d[strcspn(d, "\r\n")] = '\0';
		if (d[0] != '/' || !has_pg_ctl(d)) {
			snprintf(why, whysz, "%s --bindir says \"%.200s\", which "
			    "holds no pg_ctl", prog, d);
			r = ERR_NOTFOUND;
			free(d);
		} else
			*out = d;
	}
	buf_free(&o);
	return r ? ERR_NOTFOUND : 0;
}

/* "15", "9.6", "16beta1" as a number to compare: major * 1000 + minor. */
static long version_rank(const char *v)
{
	char *end;
	long major, minor = 0;

	if (*v < '0' || *v > '9')
		return -1;
	major = strtol(v, &end, 10);
	if (*end == '.' && end[1] >= '0' && end[1] <= '9')
		minor = strtol(end + 1, NULL, 10);
	return major > 100000 || minor > 999 ? -1 : major * 1000 + minor;
}

static int is_version(const char *name)
{
	return version_rank(name) >= 0;
}

/* The highest root/<version>/bin that holds pg_ctl, a new string or NULL. */
static char *highest_version(const char *root)
{
	char **names = NULL, *best = NULL;
	size_t n = 0;
	long best_rank = -1;

	if (fs_list_sorted(root, is_version, &names, &n) != 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		long rank = version_rank(names[i]);
		char *v, *d;
		if (rank <= best_rank)
			continue;
		v = fs_join(root, names[i]);
		d = fs_join(v, "bin");
		free(v);
		if (has_pg_ctl(d)) {
			free(best);
			best = d;
			best_rank = rank;
		} else
			free(d);
	}
	fs_list_free(names, n);
	return best;
}

int pg_find_bindir(const char *configured, const char *pg_config,
    const char *root, char **out)
{
	char why[768] = "", *pc = NULL;
	int r;

	*out = NULL;
	if (configured && *configured) {
		if (!has_pg_ctl(configured))
			return err_set(ERR_NOTFOUND, "[database] pg_bindir = %s: no "
			    "executable pg_ctl there", configured);
		*out = xstrdup(configured);
		return 0;
	}
	if (pg_config == NULL)
		pc = on_path("pg_config");
	else if (*pg_config)
		pc = xstrdup(pg_config);
	if (pc == NULL)
		snprintf(why, sizeof why, "no pg_config on PATH");
	r = pc ? from_pg_config(pc, out, why, sizeof why) : ERR_NOTFOUND;
	free(pc);
	if (r == 0)
		return 0;
	if ((*out = highest_version(root ? root : PG_VERSIONS_ROOT)) != NULL)
		return 0;
	return err_set(ERR_NOTFOUND, "postgresql: no server programs found "
	    "([database] pg_bindir unset; %s; no %s/*/bin with pg_ctl): install "
	    "Debian's postgresql package or set pg_bindir", why,
	    root ? root : PG_VERSIONS_ROOT);
}

/* The full path of one of PostgreSQL's programs, a new string in *out. */
static int bin(const struct conf *c, const char *tool, char **out)
{
	char *dir = NULL;
	int r;

	*out = NULL;
	if ((r = pg_find_bindir(c->pg_bindir, NULL, NULL, &dir)) != 0)
		return r;
	*out = fs_join(dir, tool);
	free(dir);
	return 0;
}

/* The last non-empty line of a tool's stderr, for a one-line message. */
/* Run argv (argv[0] a full path) through run.h; as the postgres user when
 * as_pg and we are root (initdb and postgres refuse root). stdout goes to
 * out when given (bounded), else /dev/null; the tail of stderr (at most
 * PG_ERR_MAX bytes) is appended to errout when given. Returns 0 when the
 * tool exits 0, else ERR_DB naming the tool, how it ended and its last
 * line of stderr. */
static int pg_run_err(const char *const argv[], int as_pg, struct buf *out,
    struct buf *errout)
{
	struct passwd *pw = NULL;
	struct child c;
	int r;

	if (as_pg && geteuid() == 0 && (pw = getpwnam(PG_USER)) == NULL)
		return err_set(ERR_DB, "no %s system user: install Debian's "
		    "postgresql package", PG_USER);
	memset(&c, 0, sizeof c);
	c.argv = argv;
	if (pw) {
		c.as_user = 1;
		c.uid = pw->pw_uid;
		c.gid = pw->pw_gid;
	}
	if ((r = run_capture(&c, out, errout, PG_ERR_MAX, 0)) != 0 &&
	    r != ERR_TOOBIG) {
		char why[1024];
		snprintf(why, sizeof why, "%s", err_msg());
		r = err_set(ERR_DB, "%s", why);
	}
	return r;
}

static int pg_run(const char *const argv[], int as_pg, struct buf *out)
{
	return pg_run_err(argv, as_pg, out, NULL);
}

/* Folders the server user must reach: the state folder gets group search
 * permission for the postgres group only (0710), never world access; the
 * data and socket folders belong to postgres. */
static int prepare_dirs(const struct conf *c, const char *data,
    const char *run)
{
	struct passwd *pw = getpwnam(PG_USER);

	if (geteuid() != 0)
		return fs_mkdir_p(run, 0700);
	if (pw == NULL)
		return err_set(ERR_DB, "no %s system user: install Debian's "
		    "postgresql package", PG_USER);
	if (chown(c->state_dir, 0, pw->pw_gid) != 0 ||
	    chmod(c->state_dir, 0710) != 0)
		return err_sys("%s", c->state_dir);
	if (fs_mkdir_p(run, 0700) != 0 || chown(run, pw->pw_uid, pw->pw_gid) != 0)
		return err_sys("%s", run);
	if (!fs_exists(data) && mkdir(data, 0700) != 0)
		return err_sys("mkdir %s", data);
	if (chown(data, pw->pw_uid, pw->pw_gid) != 0)
		return err_sys("chown %s", data);
	return 0;
}

static char *ssl_path(const struct conf *c, const char *file)
{
	char *run = pg_run_dir(c), *dir = fs_join(run, "ssl");
	char *p = fs_join(dir, file);

	free(run);
	free(dir);
	return p;
}

/* The node is in a cluster while its TLS files are installed. */
static int clustered(const struct conf *c)
{
	char *ca = ssl_path(c, "ca.crt");
	int yes = fs_exists(ca);

	free(ca);
	return yes;
}

static int add_quoted(struct buf *b, const char *key, const char *v);

/* TLS for the server (when this node has a server pair) and the CA that
 * client certificates must chain to. */
static int ssl_settings(const struct conf *c, struct buf *b)
{
	char *crt = ssl_path(c, "server.crt"), *key = ssl_path(c, "server.key");
	char *ca = ssl_path(c, "ca.crt");
	int r = 0;

	if (fs_exists(crt) && fs_exists(key)) {
		r = buf_adds(b, "ssl = on\nssl_min_protocol_version = 'TLSv1.2'\n");
		if (r == 0) r = add_quoted(b, "ssl_cert_file", crt);
		if (r == 0) r = add_quoted(b, "ssl_key_file", key);
		if (r == 0) r = add_quoted(b, "ssl_ca_file", ca);
	}
	free(crt);
	free(key);
	free(ca);
	return r;
}

/* Local connections (the daemon, through the 0700 socket folder) are
 * trusted; over the network, only TLS with a client certificate that the
 * cluster's CA signed and whose CN is postgres, only for replication and
 * for the status queries of other nodes (database postgres). */
static int write_hba(const struct conf *c, const char *data)
{
	char *path = fs_join(data, "pg_hba.conf");
	struct passwd *pw = getpwnam(PG_USER);
	struct buf b = BUF_INIT(4096);
	int r;

	r = buf_adds(&b, "# written by nodebak-snapshotd at each start; do not "
	    "edit\nlocal all all trust\n");
	if (r == 0 && clustered(c))
		r = buf_adds(&b, "hostssl replication postgres all cert\n"
		    "hostssl postgres postgres all cert\n");
	if (r == 0)
		r = buf_adds(&b, "host all all all reject\n");
	if (r == 0)
		r = fs_write_atomic(path, b.p, b.len, 0600);
	if (r == 0 && pw && geteuid() == 0 &&
	    chown(path, pw->pw_uid, pw->pw_gid) != 0)
		r = err_sys("chown %s", path);
	buf_free(&b);
	free(path);
	return r;
}

/* Append a single-quoted PostgreSQL configuration value. */
static int add_quoted(struct buf *b, const char *key, const char *v)
{
	int r = buf_addf(b, "%s = '", key);

	for (; r == 0 && *v; v++)
		r = *v == '\'' ? buf_adds(b, "''") : buf_addch(b, *v);
	return r ? r : buf_adds(b, "'\n");
}

/* The settings nodebak owns, rewritten at each start (the listen address
 * follows `database cluster localnode`): pgdata/nodebak.conf, included by
 * postgresql.conf. */
static int write_settings(const struct conf *c, const char *data,
    const char *run, const char *listen)
{
	struct buf b = BUF_INIT(8192);
	char *path = fs_join(data, "nodebak.conf");
	struct passwd *pw = getpwnam(PG_USER);
	int r;

	r = buf_adds(&b, "# written by nodebak-snapshotd at each start; do not "
	    "edit\n");
	if (r == 0) r = add_quoted(&b, "listen_addresses", listen ? listen : "");
	if (r == 0) r = buf_addf(&b, "port = %ld\n", c->pg_port);
	if (r == 0) r = add_quoted(&b, "unix_socket_directories", run);
	if (r == 0) r = buf_adds(&b, "unix_socket_permissions = 0700\n"
	    "wal_level = replica\nmax_wal_senders = 10\nhot_standby = on\n"
	    "wal_keep_size = 256MB\nmax_slot_wal_keep_size = 1GB\n"
	    "fsync = on\n");
	if (r == 0 && clustered(c))
		r = ssl_settings(c, &b);
	if (r == 0)
		r = fs_write_atomic(path, b.p, b.len, 0600);
	if (r == 0 && pw && geteuid() == 0 &&
	    chown(path, pw->pw_uid, pw->pw_gid) != 0)
		r = err_sys("chown %s", path);
	if (r == 0)
		r = write_hba(c, data);
	buf_free(&b);
	free(path);
	return r;
}

static int append_include(const char *data)
{
	char *path = fs_join(data, "postgresql.conf");
	static const char line[] = "\ninclude_if_exists = 'nodebak.conf'\n";
	int fd, r = 0;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
		r = err_sys("%s", path);
	else {
		r = fs_write_all(fd, line, sizeof line - 1, path);
		if (r == 0 && fsync(fd) != 0)
			r = err_sys("fsync %s", path);
		close(fd);
	}
	free(path);
	return r;
}

static int initdb(const struct conf *c, const char *data)
{
	char *prog = NULL;
	const char *argv[] = { NULL, "-D", data, "-U", PG_USER, "-E", "UTF8",
		"--locale=C", "--auth-local=trust", "--auth-host=reject",
		"--data-checksums", "--no-instructions", NULL };
	int r = bin(c, "initdb", &prog);

	argv[0] = prog;
	if (r == 0)
		r = pg_run(argv, 1, NULL);

	free(prog);
	return r ? r : append_include(data);
}

/* A server runs in data: 1; not (or its programs cannot be found): 0. */
static int running(const struct conf *c, const char *data)
{
	char *prog = NULL;
	const char *argv[] = { NULL, "status", "-D", data, NULL };
	int r = bin(c, "pg_ctl", &prog);

	argv[0] = prog;
	if (r == 0)
		r = pg_run(argv, 1, NULL);
	free(prog);
	return r == 0;
}

static int conn_open(const struct conf *c, const char *dbname, PGconn **out)
{
	char *run = pg_run_dir(c), port[16];
	const char *const kw[] = { "host", "port", "user", "dbname",
		"connect_timeout", "application_name", NULL };
	const char *const val[] = { run, port, PG_USER, dbname, "10",
		SELF_APP, NULL };
	PGconn *h;
	int r = 0;

	*out = NULL;
	snprintf(port, sizeof port, "%ld", c->pg_port);
	h = PQconnectdbParams(kw, val, 0);
	if (h == NULL || PQstatus(h) != CONNECTION_OK)
		r = err_set(ERR_DB, "postgresql: cannot connect to database %s: %s",
		    dbname, h ? PQerrorMessage(h) : "out of memory");
	free(run);
	if (r) {
		PQfinish(h);
		return r;
	}
	*out = h;
	return 0;
}

static void chomp_err(PGconn *h, char *msg, size_t n)
{
	size_t l;

	snprintf(msg, n, "%s", PQerrorMessage(h));
	while ((l = strlen(msg)) && msg[l - 1] == '\n')
		msg[l - 1] = '\0';
}

static int exec_sql(PGconn *h, const char *sql)
{
	PGresult *res = PQexec(h, sql);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[512];
		chomp_err(h, msg, sizeof msg);
		r = err_set(ERR_DB, "postgresql: %s", msg);
	}
	PQclear(res);
	return r;
}

/* A single integer from sql; *found is 0 when the query returned no row. */
static int get_long(PGconn *h, const char *sql, long *out)
{
	PGresult *res = PQexec(h, sql);
	int r = 0;

	*out = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[512];
		chomp_err(h, msg, sizeof msg);
		r = err_set(ERR_DB, "postgresql: %s", msg);
	} else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		r = err_set(ERR_DB, "postgresql: %s: no value", sql);
	else
		*out = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return r;
}

/* The node database and its schema exist once the server is up. */
static int ensure_database(const struct conf *c)
{
	PGconn *h = NULL;
	long n = 0;
	int r;

	if ((r = conn_open(c, "postgres", &h)) != 0)
		return r;
	r = get_long(h, "SELECT count(*) FROM pg_database WHERE datname = '"
	    PG_DBNAME "'", &n);
	/* A replica's databases are the master's; it cannot create any. */
	if (r == 0 && n == 0)
		r = exec_sql(h, "CREATE DATABASE " PG_DBNAME);
	PQfinish(h);
	if (r != 0 || n != 0)
		return r;
	if ((r = conn_open(c, PG_DBNAME, &h)) != 0)
		return r;
	r = exec_sql(h, schema_sql);
	PQfinish(h);
	return r;
}

int pg_server_start(const struct conf *c, const char *listen)
{
	char *data = pg_data_dir(c), *run = pg_run_dir(c), *log = NULL;
	char *prog = NULL, *ver = fs_join(data ? data : "", "PG_VERSION");
	int r;

	log = fs_join(run, "server.log");
	if ((r = bin(c, "pg_ctl", &prog)) != 0 ||
	    (r = prepare_dirs(c, data, run)) != 0)
		goto out;
	if (!fs_exists(ver) && (r = initdb(c, data)) != 0)
		goto out;
	if (!running(c, data)) {
		const char *argv[] = { prog, "start", "-w", "-t", "60", "-D", data,
			"-l", log, NULL };
		if ((r = write_settings(c, data, run, listen)) != 0)
			goto out;
		if ((r = pg_run(argv, 1, NULL)) != 0) {
			err_prefix(r, "postgresql server (log: %s)", log);
			goto out;
		}
	}
	if ((r = ensure_database(c)) == 0)
		r = pg_restore_pending(c);
out:
	free(data);
	free(run);
	free(log);
	free(prog);
	free(ver);
	return r;
}

int pg_server_stop(const struct conf *c, int immediate)
{
	char *data = pg_data_dir(c), *prog = NULL;
	const char *argv[] = { NULL, "stop", "-w", "-t", "60", "-m",
		immediate ? "immediate" : "fast", "-D", data, NULL };
	int r = 0;

	if (running(c, data) && (r = bin(c, "pg_ctl", &prog)) == 0) {
		argv[0] = prog;
		r = pg_run(argv, 1, NULL);
	}
	free(data);
	free(prog);
	return r;
}

int pg_open(const struct conf *c, struct pg_conn **out)
{
	PGconn *h;
	int r;

	*out = NULL;
	if ((r = conn_open(c, PG_DBNAME, &h)) != 0)
		return r;
	*out = xcalloc(1, sizeof **out);
	(*out)->h = h;
	return 0;
}

void pg_close(struct pg_conn *d)
{
	if (d == NULL)
		return;
	PQfinish(d->h);
	free(d);
}

int pg_schema(struct pg_conn *d, long *out)
{
	return get_long(d->h, "SELECT max(version) FROM nodebak_schema", out);
}

/* pg_dump in custom format: one REPEATABLE READ transaction, so the dump is
 * one consistent snapshot while writers go on (docs/snapshots.md). */
int pg_snapshot(const struct conf *c, const char *dst)
{
	char *run = pg_run_dir(c), *prog = NULL, port[16];
	const char *argv[] = { NULL, "-h", run, "-p", port, "-U", PG_USER, "-Fc",
		"-Z", "0", "--no-password", "-f", dst, PG_DBNAME, NULL };
	int r;

	snprintf(port, sizeof port, "%ld", c->pg_port);
	if ((r = bin(c, "pg_dump", &prog)) != 0)
		goto out;
	argv[0] = prog;
	if (fs_exists(dst))
		r = err_set(ERR_EXISTS, "%s: already exists", dst);
	else if ((r = pg_run(argv, 0, NULL)) == 0)
		r = pg_check_file(c, dst);
	/* Not fsynced: a work file, read once into the archive, which is. */
out:
	free(run);
	free(prog);
	return r;
}

static int is_dump(const char *path)
{
	char magic[5];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), ok;

	if (fd < 0)
		return err_sys("%s", path);
	ok = read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
	    !memcmp(magic, "PGDMP", 5);
	close(fd);
	return ok ? 0 : err_set(ERR_DB, "%s: not a pg_dump custom-format archive",
	    path);
}

/* Reading the whole archive into a script checks every block of it. */
int pg_check_file(const struct conf *c, const char *path)
{
	char *prog = NULL;
	const char *argv[] = { NULL, "-f", "/dev/null", path, NULL };
	int r;

	if ((r = is_dump(path)) == 0 && (r = bin(c, "pg_restore", &prog)) == 0 &&
	    (argv[0] = prog, r = pg_run(argv, 0, NULL)) != 0)
		err_prefix(r, "%s", path);
	free(prog);
	return r;
}

/* The nodebak_schema table's data, as pg_restore prints it (COPY text). */
int pg_file_schema(const struct conf *c, const char *path, long *out)
{
	struct buf o = BUF_INIT(PG_OUT_MAX);
	char *prog = NULL;
	const char *argv[] = { NULL, "-a", "-t", "nodebak_schema", "-f", "-",
		path, NULL };
	const char *p;
	int r;

	*out = 0;
	if ((r = is_dump(path)) != 0 || (r = bin(c, "pg_restore", &prog)) != 0)
		goto out;
	argv[0] = prog;
	if ((r = pg_run(argv, 0, &o)) != 0)
		goto out;
	if ((p = strstr(buf_cstr(&o), "FROM stdin;\n")) == NULL ||
	    (*out = strtol(p + 12, NULL, 10)) <= 0)
		r = err_set(ERR_DB, "%s: no schema version in the dump", path);
out:
	free(prog);
	buf_free(&o);
	return r;
}

/* The dump is restored into a new database, which then takes the node
 * database's name in one transaction: the live database is wholly the old
 * one or wholly the dump's, with nothing of the old one left over (a
 * restore over it, pg_restore --clean, would keep the tables created
 * after the snapshot). The pending file is removed only at the end, so a
 * crash anywhere restores it again at the next start: a swap that was
 * committed left the old database as PG_DBNAME "_old", which is dropped,
 * and a restore that was not, a PG_DBNAME "_restore", which is redone. */
int pg_restore_pending(const struct conf *c)
{
	char *pending = pg_pending_path(c), *run = pg_run_dir(c);
	char *prog = NULL, port[16];
	const char *argv[] = { NULL, "-h", run, "-p", port, "-U", PG_USER,
		"--no-password", "--single-transaction", "--exit-on-error",
		"-d", PG_DBNAME "_restore", pending, NULL };
	PGconn *h = NULL;
	int r = 0;

	snprintf(port, sizeof port, "%ld", c->pg_port);
	if (!fs_exists(pending))
		goto out;
	if ((r = bin(c, "pg_restore", &prog)) != 0)
		goto out;
	argv[0] = prog;
	if ((r = conn_open(c, "postgres", &h)) != 0 ||
	    (r = exec_sql(h, "DROP DATABASE IF EXISTS " PG_DBNAME "_old")) != 0 ||
	    (r = exec_sql(h, "DROP DATABASE IF EXISTS " PG_DBNAME "_restore")) != 0 ||
	    (r = exec_sql(h, "CREATE DATABASE " PG_DBNAME "_restore")) != 0)
		goto fail;
	if ((r = pg_run(argv, 0, NULL)) != 0) {
		exec_sql(h, "DROP DATABASE IF EXISTS " PG_DBNAME "_restore");
		goto fail;
	}
	fault_point("pg-restored");
	if ((r = exec_sql(h, "BEGIN; ALTER DATABASE " PG_DBNAME " RENAME TO "
	    PG_DBNAME "_old; ALTER DATABASE " PG_DBNAME "_restore RENAME TO "
	    PG_DBNAME "; COMMIT")) != 0) {
		exec_sql(h, "ROLLBACK");
		goto fail;
	}
	fault_point("pg-swapped");
	if ((r = exec_sql(h, "DROP DATABASE " PG_DBNAME "_old")) != 0)
		goto fail;
	if (unlink(pending) != 0 || fs_fsync_parent(pending) != 0)
		r = err_sys("%s", pending);
	goto out;
fail:
	err_prefix(r, "restoring %s", pending);
out:
	PQfinish(h);
	free(pending);
	free(run);
	free(prog);
	return r;
}

int pg_restore_ready(const struct conf *c)
{
	PGconn *h = NULL;
	long rec = 0;
	int r;

	if ((r = conn_open(c, "postgres", &h)) == 0 &&
	    (r = get_long(h, "SELECT pg_is_in_recovery()::int", &rec)) == 0 && rec)
		r = err_set(ERR_REFUSED, "this node's database server is a replica "
		    "of another node (read-only); run database cluster remove "
		    "first");
	PQfinish(h);
	return r;
}

/* A connection this daemon closed a moment ago keeps its backend in
 * pg_stat_activity until that backend has exited, which PQfinish() does
 * not wait for: a client under this daemon's own name is given up to
 * IN_USE_WAIT_MS to go (and named if it stays); any other is named at
 * once. */
#define IN_USE_WAIT_MS 3000
#define IN_USE_POLL_MS 50

int pg_in_use(const struct conf *c)
{
	static const char sql[] = "SELECT pid, coalesce(application_name, ''), "
	    "coalesce(host(client_addr), 'the local socket') FROM "
	    "pg_stat_activity WHERE datname = '" PG_DBNAME "' AND backend_type "
	    "= 'client backend' AND pid <> pg_backend_pid() ORDER BY "
	    "application_name IS NOT DISTINCT FROM '" SELF_APP "', pid LIMIT 1";
	PGconn *h = NULL;
	PGresult *res;
	int r, waited;

	if ((r = conn_open(c, "postgres", &h)) != 0)
		return r;
	for (waited = 0;; waited += IN_USE_POLL_MS) {
		res = PQexec(h, sql);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			char msg[512];
			chomp_err(h, msg, sizeof msg);
			r = err_set(ERR_DB, "postgresql: %s", msg);
		} else if (PQntuples(res) > 0 &&
		    !strcmp(PQgetvalue(res, 0, 1), SELF_APP) &&
		    waited < IN_USE_WAIT_MS) {
			PQclear(res);
			usleep(IN_USE_POLL_MS * 1000);
			continue;
		} else if (PQntuples(res) > 0)
			r = err_set(ERR_BUSY, "database " PG_DBNAME " has another "
			    "client connected (PostgreSQL backend pid %s, "
			    "application '%s', from %s)",
			    esc(PQgetvalue(res, 0, 0)), esc(PQgetvalue(res, 0, 1)),
			    esc(PQgetvalue(res, 0, 2)));
		break;
	}
	PQclear(res);
	PQfinish(h);
	return r;
}

/* M of the last "N/M relations" progress line of pg_amcheck in e; -1 when
 * there is none. */
static long relations_checked(const struct buf *e)
{
	const char *start = buf_cstr(e), *p = start, *q, *last = NULL;

	while ((q = strstr(p, " relations (")) != NULL) {
		last = q;
		p = q + 1;
	}
	if (last == NULL)
		return -1;
	for (q = last; q > start && q[-1] >= '0' && q[-1] <= '9'; q--)
		;
	return q < last && q > start && q[-1] == '/' ? strtol(q, NULL, 10) : -1;
}

/* pg_amcheck's report on stdout is one unindented line per problem (the
 * relation, block, offset) followed by indented detail lines. The message:
 * how many problems, and the first with its first detail. */
static int corruption_found(struct buf *o, long rels)
{
	char *save = NULL, *line, *first = NULL, *detail = NULL;
	long problems = 0;

	for (line = strtok_r(o->p, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		if (*line != ' ' && *line != '\t') {
			problems++;
			if (first == NULL)
				first = line;
		} else if (first && detail == NULL && problems == 1) {
			detail = line + strspn(line, " \t");
			if (!strncmp(detail, "ERROR:", 6))
				detail += 6 + strspn(detail + 6, " ");
		}
	}
	return err_set(ERR_DB, "pg_amcheck: corruption found (%ld problem%s in "
	    "%ld relations); first: %s %s", problems, problems == 1 ? "" : "s",
	    rels, esc(first), esc(detail ? detail : ""));
}

/* pg_amcheck of every table (heap) and B-tree index of the node database,
 * catalogs included, with --heapallindexed (each heap tuple must be found
 * in each of its indexes): a client on the socket, as pg_dump is. */
static int amcheck(const struct conf *c, char *what, size_t whatsz)
{
	struct buf o = BUF_INIT(PG_OUT_MAX), e = BUF_INIT(PG_ERR_MAX * 2);
	char *run = pg_run_dir(c), *prog = NULL, port[16];
	const char *argv[] = { NULL, "-h", run, "-p", port, "-U", PG_USER,
		"--no-password", "--heapallindexed", "--progress", PG_DBNAME, NULL };
	long rels = 0;
	int r;

	snprintf(port, sizeof port, "%ld", c->pg_port);
	if ((r = bin(c, "pg_amcheck", &prog)) != 0)
		goto out;
	argv[0] = prog;
	r = pg_run_err(argv, 0, &o, &e);
	rels = relations_checked(&e);
	/* A failure with a report on stdout is corruption; without one,
	 * pg_run's message (the tool could not run or connect) stands. */
	if (r != 0 && o.len)
		r = corruption_found(&o, rels);
	else if (r == 0 && rels <= 0)
		r = err_set(ERR_DB, "pg_amcheck: no relation was checked");
	else if (r == 0)
		snprintf(what, whatsz, "pg_amcheck: heap and B-tree of %ld "
		    "relations ok", rels);
out:
	free(run);
	free(prog);
	buf_free(&o);
	buf_free(&e);
	return r;
}

/* amcheck is installed for the time of the check when the database does not
 * have it, so that the node database and its dumps keep only what the node
 * put there. */
int pg_check_live(const struct conf *c, char *what, size_t whatsz)
{
	PGconn *h = NULL;
	long v = 0, had = 0;
	int r;

	if ((r = conn_open(c, PG_DBNAME, &h)) != 0)
		return r;
	if ((r = get_long(h, "SELECT max(version) FROM nodebak_schema", &v)) != 0 ||
	    (r = get_long(h, "SELECT count(*) FROM pg_extension WHERE extname = "
	    "'amcheck'", &had)) != 0 ||
	    (!had && (r = exec_sql(h, "CREATE EXTENSION amcheck")) != 0))
		goto out;
	r = amcheck(c, what, whatsz);
	if (!had && r == 0)
		r = exec_sql(h, "DROP EXTENSION amcheck");
	else if (!had) {
		/* The check's message matters more than the drop's. */
		char keep[1024];
		snprintf(keep, sizeof keep, "%s", err_msg());
		exec_sql(h, "DROP EXTENSION amcheck");
		err_set(r, "%s", keep);
	}
out:
	PQfinish(h);
	return r;
}

/* ---- clustering: streaming replication over TLS (docs/cluster.md) ---- */

static int install_one(const struct conf *c, const char *name,
    const char *dst_name)
{
	char *src, *dst = ssl_path(c, dst_name);
	struct passwd *pw = getpwnam(PG_USER);
	int r = 0;

	if (name == NULL || *name == '\0') {
		if (unlink(dst) != 0 && errno != ENOENT)
			r = err_sys("%s", dst);
		free(dst);
		return r;
	}
	src = fs_join(c->files_dir, name);
	if (unlink(dst) != 0 && errno != ENOENT)
		r = err_sys("%s", dst);
	if (r == 0)
		r = fs_copy_file(src, dst, 0600);
	if (r == 0 && pw && geteuid() == 0 && chown(dst, pw->pw_uid, pw->pw_gid))
		r = err_sys("chown %s", dst);
	free(src);
	free(dst);
	return r;
}

/* Copies of the cluster's files where the server user can read them:
 * pgrun/ssl/{server,client}.{crt,key}, ca.crt. */
static int install_tls(const struct conf *c, const struct db_tls *t)
{
	char *run = pg_run_dir(c), *dir = fs_join(run, "ssl");
	struct passwd *pw = getpwnam(PG_USER);
	int r = fs_mkdir_p(dir, 0700);

	if (r == 0 && pw && geteuid() == 0 && chown(dir, pw->pw_uid, pw->pw_gid))
		r = err_sys("chown %s", dir);
	if (r == 0) r = install_one(c, t->server_key, "server.key");
	if (r == 0) r = install_one(c, t->server_cert, "server.crt");
	if (r == 0) r = install_one(c, t->client_key, "client.key");
	if (r == 0) r = install_one(c, t->client_cert, "client.crt");
	if (r == 0) r = install_one(c, t->ca_cert, "ca.crt");
	free(run);
	free(dir);
	return r;
}

static int remove_tls(const struct conf *c)
{
	char *run = pg_run_dir(c), *dir = fs_join(run, "ssl");
	int r = fs_rm_rf(dir);

	free(run);
	free(dir);
	return r;
}

static int is_standby(const struct conf *c)
{
	char *data = pg_data_dir(c), *sig = fs_join(data, "standby.signal");
	int yes = fs_exists(sig);

	free(data);
	free(sig);
	return yes;
}

/* A replica becomes a server of its own: promote, forget the master. */
static int promote(const struct conf *c)
{
	char *data = pg_data_dir(c), *prog = NULL;
	const char *argv[] = { NULL, "promote", "-w", "-t", "60", "-D", data,
		NULL };
	PGconn *h = NULL;
	int r;

	if ((r = bin(c, "pg_ctl", &prog)) == 0 &&
	    (argv[0] = prog, r = pg_run(argv, 1, NULL)) == 0 &&
	    (r = conn_open(c, "postgres", &h)) == 0)
		r = exec_sql(h, "ALTER SYSTEM RESET primary_conninfo");
	PQfinish(h);
	free(data);
	free(prog);
	return r;
}

static int restart(const struct conf *c, const char *listen)
{
	int r = pg_server_stop(c, 0);

	return r ? r : pg_server_start(c, listen);
}

/* Each replica has a physical replication slot on its master, named after
 * its address: the master then knows a replica that is not connected
 * (status: Unreachable), and keeps the WAL it needs (at most
 * max_slot_wal_keep_size). Slot names allow only a-z, 0-9 and '_', at
 * most 63 of them: an IPv4 address keeps its digits (nodebak_127_0_0_12,
 * readable in pg_replication_slots); an IPv6 address, whose ':' and '::'
 * would not map back, is written as its 16 bytes in hex
 * (nodebak_v6_fd000000...0001), 43 characters. */
int pg_slot_name(const char *addr, char *out, size_t outsz)
{
	unsigned char a6[16];
	struct in_addr a4;
	char head[INET6_ADDRSTRLEN];
	const char *given = addr;
	size_t n = 0;

	if (outsz < PG_SLOT_MAX)
		return err_set(ERR_INVAL, "slot name: buffer too small");
	out[0] = '\0';
	if (addr && inet_pton(AF_INET, addr, &a4) == 1) {
		const unsigned char *b = (const unsigned char *)&a4;
		snprintf(out, outsz, "nodebak_%u_%u_%u_%u", b[0], b[1], b[2], b[3]);
		return 0;
	}
	/* A zone (fe80::1%eth0) is the writer's own: the slot names the
	 * address, as the master sees it. */
	if (addr && strchr(addr, '%') && (size_t)(strchr(addr, '%') - addr) <
	    sizeof head) {
		snprintf(head, sizeof head, "%.*s", (int)(strchr(addr, '%') - addr),
		    addr);
		addr = head;
	}
	if (addr && inet_pton(AF_INET6, addr, a6) == 1) {
		n = (size_t)snprintf(out, outsz, "nodebak_v6_");
		for (size_t i = 0; i < sizeof a6; i++, n += 2)
			snprintf(out + n, outsz - n, "%02x", a6[i]);
		return 0;
	}
	return err_set(ERR_INVAL, "slot name: \"%s\" is not an IPv4 or IPv6 "
	    "address", given ? given : "");
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* nodebak_<4 numbers 0-255 joined by '_'>: the dotted address. */
static int slot_v4(const char *p, char *out, size_t outsz)
{
	unsigned long part[4];
	char *end;

	for (int i = 0; i < 4; i++) {
		if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' &&
		    p[1] <= '9'))
			return -1;
		part[i] = strtoul(p, &end, 10);
		if (part[i] > 255 || end - p > 3 || *end != (i < 3 ? '_' : '\0'))
			return -1;
		p = end + (i < 3);
	}
	snprintf(out, outsz, "%lu.%lu.%lu.%lu", part[0], part[1], part[2],
	    part[3]);
	return 0;
}

int pg_slot_addr(const char *slot, char *out, size_t outsz)
{
	unsigned char a6[16];

	if (outsz < INET6_ADDRSTRLEN)
		return err_set(ERR_INVAL, "slot address: buffer too small");
	out[0] = '\0';
	if (strncmp(slot, "nodebak_", 8))
		goto bad;
	if (!strncmp(slot + 8, "v6_", 3)) {
		const char *h = slot + 11;
		if (strlen(h) != 32)
			goto bad;
		for (int i = 0; i < 16; i++) {
			int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
			if (hi < 0 || lo < 0)
				goto bad;
			a6[i] = (unsigned char)(hi << 4 | lo);
		}
		if (inet_ntop(AF_INET6, a6, out, (socklen_t)outsz) == NULL)
			goto bad;
		return 0;
	}
	if (slot_v4(slot + 8, out, outsz) == 0)
		return 0;
bad:
	out[0] = '\0';
	return err_set(ERR_FORMAT, "%s: not a nodebak replication slot name",
	    slot);
}

/* The same address, however it is written ("fd00::1", "FD00:0::1"). */
static int same_addr(const char *a, const char *b)
{
	char sa[PG_SLOT_MAX], sb[PG_SLOT_MAX];

	if (pg_slot_name(a, sa, sizeof sa) == 0 &&
	    pg_slot_name(b, sb, sizeof sb) == 0)
		return !strcmp(sa, sb);
	return !strcmp(a, b);
}

/* Drop the inactive slots named like ours (one: name; all: NULL). */
static int drop_slots(PGconn *h, const char *name)
{
	const char *sql = name ?
	    "SELECT count(pg_drop_replication_slot(slot_name)) FROM "
	    "pg_replication_slots WHERE slot_name = $1 AND NOT active" :
	    "SELECT count(pg_drop_replication_slot(slot_name)) FROM "
	    "pg_replication_slots WHERE slot_name LIKE 'nodebak\\_%' AND "
	    "NOT active";
	const char *params[1] = { name };
	PGresult *res = PQexecParams(h, sql, name ? 1 : 0, NULL, params, NULL,
	    NULL, 0);
	int r = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[512];
		chomp_err(h, msg, sizeof msg);
		r = err_set(ERR_DB, "postgresql: dropping replication slots: %s", msg);
	}
	PQclear(res);
	return r;
}

static int drop_local_slots(const struct conf *c)
{
	PGconn *h = NULL;
	int r;

	if ((r = conn_open(c, "postgres", &h)) == 0)
		r = drop_slots(h, NULL);
	PQfinish(h);
	return r;
}

static int master_conninfo(const struct conf *c, const char *master,
    const char *dbname, const char *me, struct buf *b);

/* Best effort: a node that leaves or rejoins drops its slot on the master
 * when it can reach it (not with expired certificates). */
static void drop_my_slot(const struct conf *c, const char *master,
    const char *me)
{
	struct buf ci = BUF_INIT(8192);
	char slot[PG_SLOT_MAX];
	PGconn *m;

	if (!master || !*master || !me || pg_slot_name(me, slot,
	    sizeof slot) != 0 || master_conninfo(c, master, "postgres",
	    NULL, &ci) != 0) {
		buf_free(&ci);
		return;
	}
	m = PQconnectdb(buf_cstr(&ci));
	/* The master's walsender for us may take a moment to end. */
	for (int i = 0; m && PQstatus(m) == CONNECTION_OK && i < 30; i++) {
		PGresult *res = PQexecParams(m, "SELECT count(*) FROM "
		    "pg_replication_slots WHERE slot_name = $1",
		    1, NULL, (const char *const[]){ slot }, NULL, NULL, 0);
		int left = PQresultStatus(res) == PGRES_TUPLES_OK &&
		    strcmp(PQgetvalue(res, 0, 0), "0");
		PQclear(res);
		if (!left)
			break;
		drop_slots(m, slot);
		usleep(100000);
	}
	PQfinish(m);
	buf_free(&ci);
}

int pg_cluster_master(const struct conf *c, const char *listen,
    const struct db_tls *t)
{
	int r;

	if (!t->server_key[0] || !t->server_cert[0] || !t->ca_cert[0])
		return err_set(ERR_INVAL, "a master needs the server key and "
		    "certificate and the CA certificate (database cluster certs)");
	if (is_standby(c) && (r = promote(c)) != 0)
		return r;
	if ((r = install_tls(c, t)) != 0 || (r = restart(c, listen)) != 0)
		return r;
	/* A new cluster: no knowledge of the old one's replicas. */
	return drop_local_slots(c);
}

/* A conninfo value, single-quoted with \ and ' escaped. */
static int add_conn(struct buf *b, const char *key, const char *v)
{
	int r = buf_addf(b, "%s%s='", b->len ? " " : "", key);

	for (; r == 0 && *v; v++)
		r = (*v == '\'' || *v == '\\') ? buf_addf(b, "\\%c", *v) :
		    buf_addch(b, *v);
	return r ? r : buf_addch(b, '\'');
}

/* How this node reaches the master: TLS, the client certificate, and the
 * master's certificate checked against the CA (verify-ca). */
static int master_conninfo(const struct conf *c, const char *master,
    const char *dbname, const char *me, struct buf *b)
{
	char *crt = ssl_path(c, "client.crt"), *key = ssl_path(c, "client.key");
	char *ca = ssl_path(c, "ca.crt"), port[16];
	int r;

	snprintf(port, sizeof port, "%ld", c->pg_port);
	r = add_conn(b, "host", master);
	if (r == 0) r = add_conn(b, "port", port);
	if (r == 0) r = add_conn(b, "user", PG_USER);
	if (r == 0 && dbname) r = add_conn(b, "dbname", dbname);
	if (r == 0) r = add_conn(b, "sslmode", "verify-ca");
	if (r == 0) r = add_conn(b, "sslcert", crt);
	if (r == 0) r = add_conn(b, "sslkey", key);
	if (r == 0) r = add_conn(b, "sslrootcert", ca);
	if (r == 0) r = add_conn(b, "connect_timeout", "10");
	if (r == 0) r = add_conn(b, "application_name", me ? me : "nodebak");
	free(crt);
	free(key);
	free(ca);
	return r;
}

static int streaming(const struct conf *c, struct buf *why)
{
	PGconn *h = NULL;
	PGresult *res;
	int yes = 0;

	if (conn_open(c, "postgres", &h) != 0) {
		buf_adds(why, err_msg());
		return 0;
	}
	res = PQexec(h, "SELECT status FROM pg_stat_wal_receiver");
	yes = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    !strcmp(PQgetvalue(res, 0, 0), "streaming");
	PQclear(res);
	PQfinish(h);
	return yes;
}

/* Put the old data folder back after a failed base backup. */
static int unjoin(const struct conf *c, const char *listen, const char *data,
    const char *old)
{
	int r = fs_rm_rf(data);

	if (r == 0 && rename(old, data) != 0)
		r = err_sys("rename %s", old);
	return r ? r : pg_server_start(c, listen);
}

int pg_cluster_join(const struct conf *c, const char *listen,
    const struct db_tls *t, const char *master)
{
	struct buf ci = BUF_INIT(8192), why = BUF_INIT(1024);
	char *data = pg_data_dir(c), *run = pg_run_dir(c), *old = NULL;
	char *prog = NULL, slot[PG_SLOT_MAX];
	int r, r2;

	old = xmalloc(strlen(data) + 16);
	snprintf(old, strlen(data) + 16, "%s.before-join", data);
	if (!t->client_key[0] || !t->client_cert[0] || !t->ca_cert[0]) {
		r = err_set(ERR_INVAL, "joining needs the client key and "
		    "certificate and the CA certificate (database cluster certs)");
		goto out;
	}
	if ((r = pg_slot_name(listen, slot, sizeof slot)) != 0 ||
	    (r = bin(c, "pg_basebackup", &prog)) != 0 ||
	    (r = install_tls(c, t)) != 0 ||
	    (r = master_conninfo(c, master, NULL, listen, &ci)) != 0 ||
	    (r = pg_server_stop(c, 0)) != 0 || (r = fs_rm_rf(old)) != 0)
		goto out;
	if (rename(data, old) != 0) {
		r = err_sys("rename %s", data);
		goto out;
	}
	if ((r = prepare_dirs(c, data, run)) == 0) {
		const char *argv[] = { prog, "-D", data, "-d", buf_cstr(&ci), "-R",
			"-X", "stream", "-c", "fast", "--no-password", "-C", "-S",
			slot, NULL };
		drop_my_slot(c, master, listen);
		r = pg_run(argv, 1, NULL);
	}
	if (r != 0) {
		/* The node keeps its own database when the copy fails. */
		err_prefix(r, "copying the master's database from %s", master);
		char keep[512];
		snprintf(keep, sizeof keep, "%s", err_msg());
		if ((r2 = unjoin(c, listen, data, old)) != 0)
			err_set(r2, "%s; and restoring the old database: %s", keep,
			    err_msg());
		else
			err_set(r, "%s", keep);
		goto out;
	}
	if ((r = pg_server_start(c, listen)) != 0)
		goto out;
	for (int i = 0; i < 300 && !streaming(c, &why); i++)
		usleep(100000);
	if (!streaming(c, &why))
		r = err_set(ERR_DB, "the copy of %s's database started, but it is "
		    "not streaming from the master", master);
	else
		fs_rm_rf(old);
out:
	buf_free(&ci);
	buf_free(&why);
	free(data);
	free(run);
	free(old);
	free(prog);
	return r;
}

int pg_cluster_leave(const struct conf *c, const char *listen,
    const char *master)
{
	int standby = is_standby(c), r;

	if (standby && (r = promote(c)) != 0)
		return r;
	/* Promoted, this node no longer streams: its slot is inactive. */
	if (standby)
		drop_my_slot(c, master, listen);
	if ((r = remove_tls(c)) != 0 || (r = restart(c, listen)) != 0)
		return r;
	/* Replicas cannot connect any more: forget them. */
	return drop_local_slots(c);
}

static int node_line(struct buf *out, const char *addr, int me,
    const char *what)
{
	char label[96];

	snprintf(label, sizeof label, "%s%s", addr, me ? " (me)" : "");
	return buf_addf(out, "    %-20s : %s\n", label, what);
}

/* The replicas a master sees (pg_stat_replication), named by the address
 * each gives as its application_name (its source address may be another
 * of its addresses), and those it knows only by their inactive slot. */
struct replica_row {
	char addr[PG_SLOT_MAX + 8];
	char what[128];
};

static int row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct replica_row *)a)->addr,
	    ((const struct replica_row *)b)->addr);
}

static void replica_row(PGresult *res, int i, struct replica_row *row)
{
	const char *addr = PQgetvalue(res, i, 0), *st = PQgetvalue(res, i, 1);
	long long lag = strtoll(PQgetvalue(res, i, 2), NULL, 10);

	snprintf(row->addr, sizeof row->addr, "%s", addr);
	if (!strcmp(st, "unreachable")) {
		/* A slot name not of ours stays as it is. */
		if (pg_slot_addr(addr, row->addr, sizeof row->addr) != 0)
			snprintf(row->addr, sizeof row->addr, "%s", addr);
		snprintf(row->what, sizeof row->what, "Unreachable ( known to the "
		    "master, not connected )");
	} else if (strcmp(st, "streaming"))
		snprintf(row->what, sizeof row->what, "Connected Slave ( Catching "
		    "up: %s )", st);
	else if (lag == 0)
		snprintf(row->what, sizeof row->what, "Connected Slave ( In Sync )");
	else
		snprintf(row->what, sizeof row->what, "Connected Slave ( Lagging: "
		    "%lld bytes behind )", lag);
}

static int replica_lines(PGconn *h, const char *me, struct buf *out)
{
	PGresult *res = PQexec(h, "SELECT coalesce(nullif(application_name, ''), "
	    "host(client_addr)) AS node, state, "
	    "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), -1)::bigint "
	    "FROM pg_stat_replication UNION ALL SELECT slot_name::text, "
	    "'unreachable', -1 FROM pg_replication_slots WHERE "
	    "slot_name LIKE 'nodebak\\_%' AND NOT active");
	struct replica_row *rows = NULL;
	int r = 0, n;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[512];
		chomp_err(h, msg, sizeof msg);
		PQclear(res);
		return err_set(ERR_DB, "postgresql: %s", msg);
	}
	if ((n = PQntuples(res)) > 0)
		rows = xcalloc((size_t)n, sizeof *rows);
	for (int i = 0; i < n; i++)
		replica_row(res, i, &rows[i]);
	PQclear(res);
	if (n > 1)
		qsort(rows, (size_t)n, sizeof *rows, row_cmp);
	for (int i = 0; r == 0 && i < n; i++)
		r = node_line(out, rows[i].addr, me && same_addr(rows[i].addr, me),
		    rows[i].what);
	free(rows);
	return r;
}

int pg_cluster_nodes(const struct conf *c, const char *me,
    const char *master, struct buf *out)
{
	struct buf ci = BUF_INIT(8192);
	PGconn *h = NULL, *m = NULL;
	long rec = 0;
	int r;

	if ((r = conn_open(c, "postgres", &h)) != 0)
		return r;
	if ((r = get_long(h, "SELECT pg_is_in_recovery()::int", &rec)) != 0)
		goto out;
	if (!rec) {
		if ((r = node_line(out, me, 1, "Connected Master")) == 0)
			r = replica_lines(h, me, out);
		goto out;
	}
	if (!streaming(c, &ci)) {
		buf_reset(&ci);
		r = node_line(out, master, 0, "Unreachable (this node is not "
		    "receiving from it)");
		if (r == 0)
			r = node_line(out, me, 1, "Slave, disconnected from the master");
		goto out;
	}
	buf_reset(&ci);
	if ((r = master_conninfo(c, master, "postgres", NULL, &ci)) != 0)
		goto out;
	m = PQconnectdb(buf_cstr(&ci));
	if (m == NULL || PQstatus(m) != CONNECTION_OK) {
		char msg[512] = "out of memory";
		if (m)
			chomp_err(m, msg, sizeof msg);
		r = node_line(out, master, 0, "Connected Master");
		if (r == 0)
			r = node_line(out, me, 1, "Connected Slave ( other nodes "
			    "unknown: the master does not answer queries )");
		(void)msg;
		goto out;
	}
	if ((r = node_line(out, master, 0, "Connected Master")) == 0)
		r = replica_lines(m, me, out);
out:
	PQfinish(m);
	PQfinish(h);
	buf_free(&ci);
	return r;
}
