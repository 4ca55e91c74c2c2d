/* db_pg.h: the PostgreSQL engine behind db.h (db_pg.c). Only db.c calls
 * these; everything else uses the db_* interface. */
#ifndef NODEBAK_DB_PG_H
#define NODEBAK_DB_PG_H
#include <stddef.h>

struct buf;
struct conf;
struct db_tls;
struct pg_conn;

/* state_dir/pgdata, state_dir/pgrun (socket and server log) and
 * state_dir/pg-restore.pgdump (a restore not yet applied); new strings. */
char *pg_data_dir(const struct conf *c);
char *pg_run_dir(const struct conf *c);
char *pg_pending_path(const struct conf *c);

/* The folder of PostgreSQL's programs (docs/cluster.md, "Programs"):
 * configured (the [database] pg_bindir key; NULL or "": unset) when set,
 * else what `pg_config --bindir` answers (pg_config: its full path, "" for
 * none, NULL to look for it on PATH), else the highest-numbered
 * root/<version>/bin (root NULL: /usr/lib/postgresql). A folder counts only
 * when it holds an executable pg_ctl. *out: a new string. ERR_NOTFOUND
 * naming what was tried, in one line. */
int pg_find_bindir(const char *configured, const char *pg_config,
    const char *root, char **out);

/* initdb at first start, start the server listening on listen (NULL: the
 * socket only) and pg_port, create the node database, apply a pending
 * restore. A server already running is kept. */
int pg_server_start(const struct conf *c, const char *listen);
/* pg_ctl stop, fast or immediate; a stopped server is not an error. */
int pg_server_stop(const struct conf *c, int immediate);

int pg_open(const struct conf *c, struct pg_conn **out);
void pg_close(struct pg_conn *d);
int pg_schema(struct pg_conn *d, long *out);
/* pg_dump -Fc of the node database to dst (a new work file), checked. */
int pg_snapshot(const struct conf *c, const char *dst);
/* A custom-format dump that pg_restore reads to its end: 0. */
int pg_check_file(const struct conf *c, const char *path);
int pg_file_schema(const struct conf *c, const char *path, long *out);
/* Restore pg_pending_path() into the live database, in one transaction,
 * then remove it. No pending file: 0. */
int pg_restore_pending(const struct conf *c);
/* ERR_BUSY naming one when a client other than nodebak-snapshotd is
 * connected to the node database. */
int pg_in_use(const struct conf *c);
/* The server is not in recovery (not a replica): 0; else ERR_REFUSED. */
int pg_restore_ready(const struct conf *c);
/* The live database answers with its schema version and pg_amcheck finds
 * no corruption (db.h's db_check_live_what()): 0, and what gets
 * "pg_amcheck: heap and B-tree of N relations ok". Else ERR_DB naming
 * the first problem and how many there are. */
int pg_check_live(const struct conf *c, char *what, size_t whatsz);

/* A replica's replication slot on its master is named after its address
 * (docs/cluster.md, "Status lines"): IPv4 as nodebak_127_0_0_12, IPv6 as
 * nodebak_v6_ and its 16 bytes in hex (an IPv6 zone, %eth0, is left out).
 * pg_slot_name(): the name of addr's slot into out (at least PG_SLOT_MAX
 * bytes); ERR_INVAL when addr is not an IPv4 or IPv6 address. pg_slot_addr(): the address back (IPv6 in its
 * canonical form, RFC 5952) into out (at least INET6_ADDRSTRLEN bytes);
 * ERR_FORMAT when slot is not such a name. */
#define PG_SLOT_MAX 64
int pg_slot_name(const char *addr, char *out, size_t outsz);
int pg_slot_addr(const char *slot, char *out, size_t outsz);

/* Clustering (db.h's db_cluster_*). */
int pg_cluster_master(const struct conf *c, const char *listen,
    const struct db_tls *t);
int pg_cluster_join(const struct conf *c, const char *listen,
    const struct db_tls *t, const char *master);
int pg_cluster_leave(const struct conf *c, const char *listen,
    const char *master);
int pg_cluster_nodes(const struct conf *c, const char *me,
    const char *master, struct buf *out);

#endif
