/* conf.h: the node's one INI-style configuration file (nodebak.conf(5)).
 * Every key the programs know is in conf.c's table; an unknown section or
 * key, a duplicate or a bad value is refused with one line that names the
 * file, line, section, key, the value given (escaped) and what is allowed:
 * "FILE:LINE: [section] key = value: must be ...". */
#ifndef NODEBAK_CONF_H
#define NODEBAK_CONF_H
#include <stddef.h>

#include "ini.h"

#define CONF_DEFAULT_PATH "/etc/nodebak/nodebak.conf"
#define CONF_MAX_IFACES 8

struct conf_iface {
	char name[16];		/* "a", "b", ... */
	char *address;
};

struct conf_ftpd {
	char *ftp_listen;		/* space-separated ADDRESS:PORT list */
	char *ftps_implicit_listen;
	char *sftp_listen;
	char *tls;			/* required | allowed | off */
	char *tls_cert, *tls_key;
	char *host_key;
	char *pasv_ports;		/* LOW-HIGH */
	char *users;			/* users file */
	char *run_as;			/* unprivileged user for sessions */
	char *privsep_user;		/* SSH's network-facing process */
	char *xferlog;			/* transfer log file, or empty */
	long max_clients, max_per_address;
	long max_line;
	long idle_timeout, data_timeout, login_timeout;
	long max_login_attempts, lockout_seconds;
	long lockout_address_failures, lockout_user_failures, lockout_decay;
	long login_delay_ms;
	long shutdown_timeout;
	long max_handles;
	long umask_bits;		/* [ftpd] umask (rootfs.h) */
	long session_memory;		/* MiB, RLIMIT_DATA of a session */
};

/* [retention] (docs/snapshots.md "Retention"); absent: keep everything. */
struct conf_retention {
	long keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly,
	    keep_yearly;
	long long keep_within;		/* seconds; 0: off */
	long keep_manual;		/* -1: all */
	long min_keep;
	long long max_space;		/* bytes; 0: no limit */
};

struct conf {
	char *file;			/* the file this came from */
	/* [node] */
	char *node_name, *state_dir, *files_dir;
	/* [database] */
	char *db_engine;		/* sqlite | postgresql */
	char *db_path;
	long pg_port;
	char *pg_bindir;		/* NULL: found (db_pg.h) */
	/* [snapshotd] */
	char *socket;
	char *socket_group;
	long socket_mode;
	long compression_level;
	long max_members;
	long long max_bytes;
	char *service_stop, *service_start;
	char *recipients;		/* age1... list; NULL: none */
	char *recipients_file;		/* a file of them; NULL: none */
	char *archive_group;		/* group of archives (0640); NULL: root's */
	/* [retention] */
	struct conf_retention retention;
	/* [cluster] */
	struct conf_iface ifaces[CONF_MAX_IFACES];
	int n_ifaces;
	/* [schedule] (schedule.h) */
	char *sched_schedule;		/* NULL: no scheduled snapshots */
	char *sched_timezone;		/* utc | local */
	long long sched_jitter;		/* seconds */
	char *sched_catch_up;		/* yes | no */
	char *sched_name;		/* name template */
	/* [metrics] */
	char *metrics_textfile;		/* NULL: none */
	/* [pki] */
	long pki_warn_days;
	/* [ftpd] */
	struct conf_ftpd ftpd;
};

/* Load path (or, when NULL, $NODEBAK_CONF, then CONF_DEFAULT_PATH).
 * On success *out owns a new conf; on failure returns ERR_INVAL (or the
 * error of opening the file) and err_msg() says "FILE:LINE: [section] key
 * = value: reason". Relative paths in the file are resolved against the
 * file's folder. */
int conf_load(const char *path, struct conf **out);
void conf_free(struct conf *c);
/* Which file conf_load(path) would read. */
const char *conf_path(const char *path);
/* The address of interface name, or NULL. */
const char *conf_iface(const struct conf *c, const char *name);

/* Fill *out with the i-th key of the table (from 0; grouped by section)
 * and return 0, or ERR_NOTFOUND past the last. The strings are static. */
int conf_schema_key(size_t i, struct ini_key_info *out);

#endif
