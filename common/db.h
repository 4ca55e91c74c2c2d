/* db.h: the node database behind one small interface. The engine is chosen
 * by [database] engine: the embedded default is SQLite in WAL mode (db.c,
 * the only file that includes sqlite3.h); postgresql is the node's own
 * PostgreSQL server (db_pg.c, the only file that includes libpq-fe.h). */
#ifndef NODEBAK_DB_H
#define NODEBAK_DB_H
#include <stddef.h>
#include <stdint.h>

struct conf;
struct db;

#define DB_SCHEMA_VERSION 1
#define DB_MEMBER "db/node.db"		/* SQLite: the database's path in a .bak */
#define DB_MEMBER_PG "db/node.pgdump"	/* PostgreSQL: pg_dump -Fc */

/* The database member of this engine's snapshots (DB_MEMBER...). */
const char *db_member(const struct conf *c);
/* Start the engine's server: for postgresql, initdb at first start, pg_ctl
 * start listening on listen (an address, or NULL) and [database] pg_port,
 * then finish a restore a rollback left pending. SQLite: nothing. */
int db_server_start(const struct conf *c, const char *listen);
/* Stop it (postgresql: pg_ctl stop -m fast). SQLite: nothing. */
int db_server_stop(const struct conf *c);

/* Open the node database, creating it with the node schema when it does
 * not exist yet. *out owns the connection. */
int db_open(const struct conf *c, struct db **out);
void db_close(struct db *d);
/* The database's schema version (SQLite: PRAGMA user_version). */
int db_schema(struct db *d, long *out);
/* A consistent image of the database for an archive, read once, in
 * order, with no copy in between (docs/snapshots.md, "The database copy").
 * SQLite: the pages as of the last commit, read in place from the
 * database file and its WAL (dbpages.c) under a read transaction on d,
 * while PRAGMA quick_check of the same transaction runs in a thread.
 * PostgreSQL: pg_dump -Fc -Z 0 into work_file, read to its end by
 * pg_restore as a check,
 * then that file. Writers are not blocked. d must stay open until
 * db_stream_close(). */
struct db_stream;
int db_stream_open(struct db *d, const char *work_file, struct db_stream **out);
/* The image's size in bytes, fixed at open. */
uint64_t db_stream_size(const struct db_stream *s);
/* Read up to cap bytes of the image: a struct source read function
 * (ctx: the stream). ERR_AGAIN: the database changed under the reader in
 * a way that spoils the image (a restarted WAL); take it again. */
int db_stream_read(void *ctx, void *buf, size_t cap, size_t *got);
/* End the read transaction; 0 when the image was good and the check
 * passed. s is freed. */
int db_stream_close(struct db_stream *s);
/* Full check of a database member file of c's engine: 0 when it passes. */
int db_check_file(const struct conf *c, const char *path);
/* Schema version of a database member file of c's engine (read only). */
int db_file_schema(const struct conf *c, const char *path, long *out);
/* Where a rollback puts the staged database member: SQLite, the live
 * file itself (db_path); PostgreSQL, a pending dump that
 * db_restore_pending() restores into the server. A new string. */
char *db_restore_target(const struct conf *c);
/* PostgreSQL: restore a pending dump (one transaction) and remove it.
 * SQLite, or nothing pending: 0. */
int db_restore_pending(const struct conf *c);
/* ERR_BUSY, naming it, when another process uses the live database:
 * SQLite, one has the database, its -wal or -shm open (any descriptor,
 * seen through /proc) or holds a lock on it; PostgreSQL, a client other
 * than nodebak-snapshotd is connected to the node database. A rollback
 * that swapped the database under such a writer would lose its commits
 * silently (docs/crash-safety.md). */
int db_in_use(const struct conf *c);
/* SQLite: the identities of the database, -wal and -shm files that exist
 * (ids has room for 3)
 * (to find, after a swap, who still has the replaced ones open).
 * PostgreSQL: none. */
struct fs_fileid;
void db_file_ids(const struct conf *c, struct fs_fileid *ids, size_t *n);
/* 1 when a restore is pending (PostgreSQL: the dump a rollback put in
 * place has not been restored yet). SQLite: 0. */
int db_restore_is_pending(const struct conf *c);
/* The live database can take a restore: PostgreSQL, the server is not a
 * replica (ERR_REFUSED naming what to do). SQLite: 0. */
int db_restore_ready(const struct conf *c);
/* The live database passes a full check: SQLite, PRAGMA integrity_check;
 * PostgreSQL, it answers with its schema version and pg_amcheck finds no
 * corruption in any table (heap) or B-tree index of the node database,
 * catalogs included (--heapallindexed; the amcheck extension is installed
 * for the time of the check when missing). what (whatsz bytes; NULL when
 * not wanted) receives one line for a person naming what was checked and
 * the outcome: "integrity_check ok", "pg_amcheck: heap and B-tree of 275
 * relations ok"; on failure the same line as err_msg(), e.g.
 * "pg_amcheck: corruption found (1 problem in 279 relations); first:
 * btree index ...". */
#define DB_CHECK_WHAT_MAX 512
int db_check_live_what(const struct conf *c, char *what, size_t whatsz);
/* db_check_live_what(), except that a SQLite database still exactly the
 * file that passed db_check_file() (checked: the live file's stamp, taken
 * once it was in place, by a caller that knows its bytes are the ones
 * checked) is not read again: what says "integrity_check ok" for it.
 * checked NULL, a file or WAL written since, or PostgreSQL: the full
 * check. */
struct fs_stamp;
int db_check_live_after(const struct conf *c, const struct fs_stamp *checked,
    char *what, size_t whatsz);
/* db_check_live_what() without the line.
 * NEEDSWORK: goes once rollback.c reports the line. */
int db_check_live(const struct conf *c);
/* Prepare the live database at path to be replaced: checkpoint its WAL
 * into the main file and truncate it. Callers then remove path-wal and
 * path-shm and rename the new file over path. */
int db_quiesce(const char *path);

/* Clustering: PostgreSQL streaming replication over TLS (docs/cluster.md).
 * SQLite refuses with ERR_INVAL. The names are files of the files root
 * ("" when not set). */
struct db_tls {
	const char *server_key, *server_cert;
	const char *client_key, *client_cert, *ca_cert;
};
struct buf;
/* This node becomes the master: a replica is promoted first; the server
 * serves TLS with the server pair and accepts replication only with a
 * client certificate the CA signed (CN postgres). */
int db_cluster_master(const struct conf *c, const char *listen,
    const struct db_tls *t);
/* This node's database is replaced by a base backup of master's, and the
 * server follows it (primary_conninfo, sslmode=verify-ca, the client
 * pair). When the copy fails, the node keeps its old database and server. */
int db_cluster_join(const struct conf *c, const char *listen,
    const struct db_tls *t, const char *master);
/* Out of the cluster: a replica drops its slot on master when it can
 * reach it and is promoted (its data becomes the local database); TLS and
 * the replication rules are removed; a master forgets its replicas. */
int db_cluster_leave(const struct conf *c, const char *listen,
    const char *master);
/* The `Nodes:` lines of database cluster status, from the servers
 * (pg_stat_replication, pg_stat_wal_receiver), appended to out. */
int db_cluster_nodes(const struct conf *c, const char *me,
    const char *master, struct buf *out);

#endif
