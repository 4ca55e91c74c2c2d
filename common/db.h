/* db.h: the node database behind one small interface. The engine is chosen
 * by [database] engine; the embedded default is SQLite in WAL mode (db.c is
 * the only file that includes sqlite3.h). A PostgreSQL engine will add its
 * own implementation of the same calls. */
#ifndef NODEBAK_DB_H
#define NODEBAK_DB_H

struct conf;
struct db;

#define DB_SCHEMA_VERSION 1
#define DB_MEMBER "db/node.db"		/* the database's path in a .bak */

/* Open the node database, creating it with the node schema when it does
 * not exist yet. *out owns the connection. */
int db_open(const struct conf *c, struct db **out);
void db_close(struct db *d);
/* The database's schema version (SQLite: PRAGMA user_version). */
int db_schema(struct db *d, long *out);
/* Write a consistent point-in-time copy of the database to dst (a new
 * file), fsynced, then check it (quick_check). Writers are not blocked. */
int db_snapshot(struct db *d, const char *dst);
/* Full integrity check of a database file: 0 when it passes. */
int db_check_file(const char *path);
/* Schema version of a database file (read only). */
int db_file_schema(const char *path, long *out);
/* Prepare the live database at path to be replaced: checkpoint its WAL
 * into the main file and truncate it. Callers then remove path-wal and
 * path-shm and rename the new file over path. */
int db_quiesce(const char *path);

#endif
