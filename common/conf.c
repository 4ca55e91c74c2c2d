/* conf.c: nodebak.conf's schema (see conf.h and docs/man/nodebak.conf.5)
 * for the typed-INI engine ini.c. The tables below are the one home of
 * every key: its type, default, bounds and description; parsing,
 * validation and every error message come from them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_rows.h"
#include "err.h"
#include "ini.h"
#include "xmalloc.h"
#include "banned.h"

#define S(f) offsetof(struct conf, f)
#define F(f) offsetof(struct conf_ftpd, f)
#define R(f) offsetof(struct conf_retention, f)
#define KEEPS "0", 0, 1000000, NULL

static ini_family_fn set_iface;

/* In the order the man page and errors list them. */
static const struct ini_key node_keys[] = {
	{ "name", CT_NAME, S(node_name), NULL, 0, 0, NULL,
	  "the node's name (required), the console's prompt", INI_REQUIRED },
	{ "state_dir", CT_PATH, S(state_dir), "/var/lib/nodebak", 0, 0, NULL,
	  "internal state: signing key, trusted keys, journal, work folders" },
	{ "files_dir", CT_PATH, S(files_dir), "/srv/nodebak", 0, 0, NULL,
	  "the files root served over FTP/SFTP; archives in backups/" },
	{ NULL }
};

static const struct ini_key database_keys[] = {
	{ "engine", CT_ENUM, S(db_engine), "sqlite", 0, 0, "sqlite postgresql",
	  "the node database's engine" },
	{ "path", CT_PATH, S(db_path), "/var/lib/nodebak/node.db", 0, 0, NULL,
	  "the SQLite database file" },
	{ "pg_port", CT_INT, S(pg_port), "5432", 1, 65535, NULL,
	  "the port of the node's own PostgreSQL server" },
	{ "pg_bindir", CT_PATH, S(pg_bindir), NULL, 0, 0, NULL,
	  "the folder of PostgreSQL's programs; unset: pg_config --bindir, "
	  "else the highest /usr/lib/postgresql/*/bin" },
	{ NULL }
};

static const struct ini_key snapshotd_keys[] = {
	{ "socket", CT_PATH, S(socket), "/run/nodebak/snapshotd.sock", 0, 0, NULL,
	  "the control socket" },
	{ "socket_group", CT_STR, S(socket_group), NULL, 0, 0, NULL,
	  "a group whose members may use the console as admin" },
	{ "socket_mode", CT_MODE, S(socket_mode), "0660", 0, 0777, NULL,
	  "the control socket's permission bits" },
	{ "compression_level", CT_INT, S(compression_level), "6", 1, 9, NULL,
	  "gzip level of archives" },
	CONF_ROW_MAX_MEMBERS(S(max_members)),
	CONF_ROW_MAX_BYTES(S(max_bytes)),
	{ "service_stop", CT_CMD, S(service_stop), NULL, 0, 0, NULL,
	  "shell command that stops the node's services before a rollback" },
	{ "service_start", CT_CMD, S(service_start), NULL, 0, 0, NULL,
	  "shell command that starts them again afterwards" },
	{ "recipients", CT_RECIPIENTS, S(recipients), NULL, 0, 0, NULL,
	  "age public keys every new archive is encrypted to; unset: in clear" },
	{ "recipients_file", CT_PATH, S(recipients_file), NULL, 0, 0, NULL,
	  "a file of age recipients, one per line, '#' comments" },
	{ "archive_group", CT_STR, S(archive_group), NULL, 0, 0, NULL,
	  "the group that may read archives (mode 0640); unset: root's" },
	{ NULL }
};

static const struct ini_key cluster_keys[] = {
	{ "interface_<x>", CT_FAMILY, 0, NULL, 0, 0, NULL,
	  "the address of the node's interface x (lower-case letters)", 0, 0,
	  set_iface, "an IPv4 or IPv6 address" },
	{ NULL }
};

static const struct ini_key schedule_keys[] = {
	{ "schedule", CT_SCHED, S(sched_schedule), NULL, 0, 0, NULL,
	  "when scheduled snapshots run; unset: never" },
	{ "timezone", CT_ENUM, S(sched_timezone), "utc", 0, 0, "utc local",
	  "whether the schedule's days and times are UTC or local time" },
	{ "jitter", CT_DURATION, S(sched_jitter), "0", 0, 86400, NULL,
	  "the most a node's fixed offset from each scheduled time may be" },
	{ "catch_up", CT_ENUM, S(sched_catch_up), "yes", 0, 0, "yes no",
	  "take one missed run at start" },
	{ "name", CT_TEMPLATE, S(sched_name), "auto-%Y%m%dT%H%M%SZ", 0, 0, NULL,
	  "the name template of scheduled snapshots (UTC)" },
	{ NULL }
};

static const struct ini_key metrics_keys[] = {
	{ "textfile", CT_PATH, S(metrics_textfile), NULL, 0, 0, NULL,
	  "the Prometheus text-format file the daemon keeps up to date" },
	{ NULL }
};

static const struct ini_key pki_keys[] = {
	{ "warn_days", CT_INT, S(pki_warn_days), "30", 0, 3650, NULL,
	  "days before a certificate's expiry from which it is warned about" },
	{ NULL }
};

static const struct ini_key ftpd_keys[] = {
	{ "ftp_listen", CT_LISTEN, F(ftp_listen), "127.0.0.1:2121", 0, 0, NULL,
	  "where FTP with explicit FTPS listens" },
	{ "ftps_implicit_listen", CT_LISTEN, F(ftps_implicit_listen), NULL, 0, 0, NULL,
	  "where implicit FTPS listens" },
	{ "sftp_listen", CT_LISTEN, F(sftp_listen), "127.0.0.1:2222", 0, 0, NULL,
	  "where SSH (SFTP, scp, the console) listens" },
	{ "tls", CT_ENUM, F(tls), "required", 0, 0, "required allowed off",
	  "whether FTP sessions must use TLS" },
	{ "tls_cert", CT_PATH, F(tls_cert), "/var/lib/nodebak/ftpd.crt", 0, 0, NULL,
	  "PEM certificate (chain) for FTPS" },
	{ "tls_key", CT_PATH, F(tls_key), "/var/lib/nodebak/ftpd.key", 0, 0, NULL,
	  "PEM private key for FTPS" },
	{ "host_key", CT_PATH, F(host_key), "/var/lib/nodebak/ssh_host_ed25519_key", 0, 0, NULL,
	  "the SSH host key" },
	{ "pasv_ports", CT_RANGE, F(pasv_ports), "40000-40999", 0, 0, NULL,
	  "the ports of passive FTP data connections" },
	{ "users", CT_PATH, F(users), "/var/lib/nodebak/users", 0, 0, NULL,
	  "the users file" },
	{ "run_as", CT_STR, F(run_as), NULL, 0, 0, NULL,
	  "the user sessions switch to after login" },
	{ "privsep_user", CT_STR, F(privsep_user), NULL, 0, 0, NULL,
	  "the user SSH's network-facing process runs as (default nodebak-sshd, else nobody)" },
	{ "xferlog", CT_PATH, F(xferlog), NULL, 0, 0, NULL,
	  "a file each transfer is appended to in xferlog(5) format" },
	{ "max_clients", CT_INT, F(max_clients), "256", 1, 100000, NULL,
	  "sessions at once" },
	{ "max_per_address", CT_INT, F(max_per_address), "16", 1, 100000, NULL,
	  "sessions at once from one client address" },
	{ "max_line", CT_INT, F(max_line), "1024", 64, 65536, NULL,
	  "longest FTP command line in bytes" },
	{ "idle_timeout", CT_INT, F(idle_timeout), "300", 1, 86400, NULL,
	  "seconds without a command or traffic before a session ends" },
	{ "data_timeout", CT_INT, F(data_timeout), "120", 1, 86400, NULL,
	  "seconds to wait for, or without progress on, a data connection" },
	{ "login_timeout", CT_INT, F(login_timeout), "60", 1, 3600, NULL,
	  "seconds from connect to a completed login" },
	{ "max_login_attempts", CT_INT, F(max_login_attempts), "5", 1, 100, NULL,
	  "failed logins per connection" },
	{ "lockout_seconds", CT_INT, F(lockout_seconds), "300", 0, 86400, NULL,
	  "how long a locked address or user name is refused (0: never)" },
	{ "lockout_address_failures", CT_INT, F(lockout_address_failures), "20",
	  0, 100000, NULL,
	  "failed logins from one address, over all its connections, that lock "
	  "it out (0: no limit)" },
	{ "lockout_user_failures", CT_INT, F(lockout_user_failures), "10", 0,
	  100000, NULL,
	  "failed logins for one user name, from anywhere, that lock it out "
	  "(0: no limit)" },
	{ "lockout_decay", CT_INT, F(lockout_decay), "60", 1, 86400, NULL,
	  "seconds after which one counted failed login is forgotten" },
	{ "login_delay_ms", CT_INT, F(login_delay_ms), "1000", 0, 10000, NULL,
	  "milliseconds every login check waits per failure counted from the "
	  "address (at most five)" },
	{ "shutdown_timeout", CT_INT, F(shutdown_timeout), "30", 0, 3600, NULL,
	  "seconds SSH sessions are given on SIGTERM" },
	{ "max_handles", CT_INT, F(max_handles), "256", 4, 65536, NULL,
	  "open SFTP handles per session" },
	{ "umask", CT_MODE, F(umask_bits), "0027", 0, 0777, NULL,
	  "bits taken from a new uploaded file's or folder's mode (FTP, SFTP)" },
	{ "session_memory", CT_INT, F(session_memory), "256", 32, 65536, NULL,
	  "MiB of data memory each session process may use (RLIMIT_DATA)" },
	{ NULL }
};

const struct ini_key conf_rows_retention[] = {
	{ "keep_last", CT_INT, R(keep_last), KEEPS,
	  "scheduled archives: keep the N newest" },
	{ "keep_hourly", CT_INT, R(keep_hourly), KEEPS,
	  "scheduled archives: keep the newest of each of the N latest UTC hours" },
	{ "keep_daily", CT_INT, R(keep_daily), KEEPS,
	  "scheduled archives: keep the newest of each of the N latest UTC days" },
	{ "keep_weekly", CT_INT, R(keep_weekly), KEEPS,
	  "scheduled archives: the newest of each of the N latest ISO weeks" },
	{ "keep_monthly", CT_INT, R(keep_monthly), KEEPS,
	  "scheduled archives: the newest of each of the N latest UTC months" },
	{ "keep_yearly", CT_INT, R(keep_yearly), KEEPS,
	  "scheduled archives: the newest of each of the N latest UTC years" },
	{ "keep_within", CT_DURATION, R(keep_within), "0", 0,
	  (long long)3650 * 86400, NULL,
	  "scheduled archives: keep all created within this duration" },
	{ "keep_manual", CT_INT, R(keep_manual), "-1", -1, 1000000, NULL,
	  "manual and pre-rollback archives kept, newest first (-1: all)" },
	{ "min_keep", CT_INT, R(min_keep), "1", 1, 1000000, NULL,
	  "verified archives that always remain" },
	{ "max_space", CT_SIZE, R(max_space), "0", 0, (long long)1 << 50, NULL,
	  "prune oldest scheduled archives beyond the policy above this (0: none)" },
	{ NULL }
};

static const struct ini_section schema[] = {
	{ "node", node_keys, 0, NULL },
	{ "database", database_keys, 0, NULL },
	{ "snapshotd", snapshotd_keys, 0, NULL },
	{ "retention", conf_rows_retention, S(retention), NULL },
	{ "cluster", cluster_keys, 0, NULL },
	{ "schedule", schedule_keys, 0, NULL },
	{ "metrics", metrics_keys, 0, NULL },
	{ "pki", pki_keys, 0, NULL },
	{ "ftpd", ftpd_keys, S(ftpd), NULL },
	{ NULL }
};

const char *conf_path(const char *path)
{
	const char *env;

	if (path && *path)
		return path;
	if ((env = getenv("NODEBAK_CONF")) != NULL && *env)
		return env;
	return CONF_DEFAULT_PATH;
}

int conf_schema_key(size_t i, struct ini_key_info *out)
{
	return ini_key_info(schema, i, out);
}

/* The x of interface_<x>: 1 to 15 lower-case letters. */
static int iface_name_ok(const char *name, size_t size)
{
	size_t n = strlen(name);

	if (n == 0 || n >= size)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (name[i] < 'a' || name[i] > 'z')
			return 0;
	return 1;
}

/* interface_<x> = ADDRESS into struct conf's ifaces[]. */
static int set_iface(const struct ini_at *at, void *base,
    const struct ini_key *k, const char *key, const char *v)
{
	struct conf *c = base;
	const char *name = key + strcspn(k->key, "<");
	char why[128];

	if (!iface_name_ok(name, sizeof c->ifaces[0].name))
		return ini_fail_value(at, key, v, "the x of interface_<x> must be "
		    "1 to 15 lower-case letters");
	if (c->n_ifaces == CONF_MAX_IFACES)
		return ini_fail_value(at, key, v, "too many interfaces (at most "
		    "8 interface_<x> keys)");
	if (!ini_addr_ok(v)) {
		snprintf(why, sizeof why, "must be %s", k->allowed);
		return ini_fail_value(at, key, v, why);
	}
	memcpy(c->ifaces[c->n_ifaces].name, name, strlen(name) + 1);
	c->ifaces[c->n_ifaces++].address = xstrdup(v);
	return 0;
}

int conf_load(const char *path, struct conf **out)
{
	struct conf *c;
	int r;

	*out = NULL;
	path = conf_path(path);
	c = xcalloc(1, sizeof *c);
	if ((r = ini_load(schema, path, c, &c->file)) != 0) {
		conf_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	ini_free(schema, c);
	for (int i = 0; i < c->n_ifaces; i++)
		free(c->ifaces[i].address);
	free(c->file);
	free(c);
}

const char *conf_iface(const struct conf *c, const char *name)
{
	for (int i = 0; i < c->n_ifaces; i++)
		if (!strcmp(c->ifaces[i].name, name))
			return c->ifaces[i].address;
	return NULL;
}
