/* conf.c: table-driven parser for nodebak.conf (see conf.h and
 * docs/man/nodebak.conf.5). The table keys[] is the one home of every key:
 * its type, default, bounds and description; parsing, validation and every
 * error message come from it. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "err.h"
#include "esc.h"
#include "names.h"
#include "schedule.h"
#include "xmalloc.h"
#include "banned.h"

enum ctype {
	CT_STR,		/* printable text; empty: unset */
	CT_PATH,	/* relative to the file's folder; empty: unset */
	CT_CMD,		/* a shell command; empty: unset */
	CT_NAME,	/* name_valid() */
	CT_INT,		/* long, min..max */
	CT_MODE,	/* long, min..max, written in octal */
	CT_SIZE,	/* long long with K/M/G/T suffix, min..max */
	CT_DURATION,	/* long long seconds, duration_parse(), min..max */
	CT_ENUM,	/* one of enumv */
	CT_LISTEN,	/* ADDRESS:PORT items; empty: none */
	CT_RANGE,	/* LOW-HIGH ports */
	CT_IFACE,	/* the family interface_<x>: struct conf's ifaces[] */
	CT_SCHED,	/* schedule_parse(); empty: unset */
	CT_TEMPLATE,	/* schedule_name() */
};

struct ckey {
	const char *section, *key;	/* CT_IFACE: key is "prefix<x>" */
	enum ctype type;
	size_t off;
	const char *dflt;	/* NULL: unset */
	long long min, max;	/* CT_INT, CT_MODE, CT_SIZE, CT_DURATION */
	const char *enumv;	/* CT_ENUM: space-separated choices */
	const char *desc;	/* one line, for nodebak.conf(5) checks */
};

#define S(f) offsetof(struct conf, f)
#define F(f) offsetof(struct conf, ftpd.f)
#define R(f) offsetof(struct conf, retention.f)
#define KEEPS "0", 0, 1000000, NULL

/* Grouped by section, in the order the man page and errors list them. */
static const struct ckey keys[] = {
	{ "node", "name", CT_NAME, S(node_name), NULL, 0, 0, NULL,
	  "the node's name (required), the console's prompt" },
	{ "node", "state_dir", CT_PATH, S(state_dir), "/var/lib/nodebak", 0, 0, NULL,
	  "internal state: signing key, trusted keys, journal, work folders" },
	{ "node", "files_dir", CT_PATH, S(files_dir), "/srv/nodebak", 0, 0, NULL,
	  "the files root served over FTP/SFTP; archives in backups/" },
	{ "database", "engine", CT_ENUM, S(db_engine), "sqlite", 0, 0, "sqlite postgresql",
	  "the node database's engine" },
	{ "database", "path", CT_PATH, S(db_path), "/var/lib/nodebak/node.db", 0, 0, NULL,
	  "the SQLite database file" },
	{ "database", "pg_port", CT_INT, S(pg_port), "5432", 1, 65535, NULL,
	  "the port of the node's own PostgreSQL server" },
	{ "snapshotd", "socket", CT_PATH, S(socket), "/run/nodebak/snapshotd.sock", 0, 0, NULL,
	  "the control socket" },
	{ "snapshotd", "socket_group", CT_STR, S(socket_group), NULL, 0, 0, NULL,
	  "a group whose members may use the console as admin" },
	{ "snapshotd", "socket_mode", CT_MODE, S(socket_mode), "0660", 0, 0777, NULL,
	  "the control socket's permission bits" },
	{ "snapshotd", "compression_level", CT_INT, S(compression_level), "6", 1, 9, NULL,
	  "gzip level of archives" },
	{ "snapshotd", "max_members", CT_INT, S(max_members), "10000", 4, 1000000, NULL,
	  "the most members an accepted archive may list" },
	{ "snapshotd", "max_bytes", CT_SIZE, S(max_bytes), "64G", 1 << 20, (long long)1 << 50, NULL,
	  "the most bytes an accepted archive's members may hold" },
	{ "snapshotd", "service_stop", CT_CMD, S(service_stop), NULL, 0, 0, NULL,
	  "shell command that stops the node's services before a rollback" },
	{ "snapshotd", "service_start", CT_CMD, S(service_start), NULL, 0, 0, NULL,
	  "shell command that starts them again afterwards" },
	{ "retention", "keep_last", CT_INT, R(keep_last), KEEPS,
	  "scheduled archives: keep the N newest" },
	{ "retention", "keep_hourly", CT_INT, R(keep_hourly), KEEPS,
	  "scheduled archives: keep the newest of each of the N latest UTC hours" },
	{ "retention", "keep_daily", CT_INT, R(keep_daily), KEEPS,
	  "scheduled archives: keep the newest of each of the N latest UTC days" },
	{ "retention", "keep_weekly", CT_INT, R(keep_weekly), KEEPS,
	  "scheduled archives: the newest of each of the N latest ISO weeks" },
	{ "retention", "keep_monthly", CT_INT, R(keep_monthly), KEEPS,
	  "scheduled archives: the newest of each of the N latest UTC months" },
	{ "retention", "keep_yearly", CT_INT, R(keep_yearly), KEEPS,
	  "scheduled archives: the newest of each of the N latest UTC years" },
	{ "retention", "keep_within", CT_DURATION, R(keep_within), "0", 0,
	  (long long)3650 * 86400, NULL,
	  "scheduled archives: keep all created within this duration" },
	{ "retention", "keep_manual", CT_INT, R(keep_manual), "-1", -1, 1000000, NULL,
	  "manual and pre-rollback archives kept, newest first (-1: all)" },
	{ "retention", "min_keep", CT_INT, R(min_keep), "1", 1, 1000000, NULL,
	  "verified archives that always remain" },
	{ "retention", "max_space", CT_SIZE, R(max_space), "0", 0, (long long)1 << 50, NULL,
	  "prune oldest scheduled archives beyond the policy above this (0: none)" },
	{ "cluster", "interface_<x>", CT_IFACE, S(ifaces), NULL, 0, 0, NULL,
	  "the address of the node's interface x (lower-case letters)" },
	{ "schedule", "schedule", CT_SCHED, S(sched_schedule), NULL, 0, 0, NULL,
	  "when scheduled snapshots run; unset: never" },
	{ "schedule", "timezone", CT_ENUM, S(sched_timezone), "utc", 0, 0, "utc local",
	  "whether the schedule's days and times are UTC or local time" },
	{ "schedule", "jitter", CT_DURATION, S(sched_jitter), "0", 0, 86400, NULL,
	  "the most a node's fixed offset from each scheduled time may be" },
	{ "schedule", "catch_up", CT_ENUM, S(sched_catch_up), "yes", 0, 0, "yes no",
	  "take one missed run at start" },
	{ "schedule", "name", CT_TEMPLATE, S(sched_name), "auto-%Y%m%dT%H%M%SZ", 0, 0, NULL,
	  "the name template of scheduled snapshots (UTC)" },
	{ "metrics", "textfile", CT_PATH, S(metrics_textfile), NULL, 0, 0, NULL,
	  "the Prometheus text-format file the daemon keeps up to date" },
	{ "pki", "warn_days", CT_INT, S(pki_warn_days), "30", 0, 3650, NULL,
	  "days before a certificate's expiry from which it is warned about" },
	{ "ftpd", "ftp_listen", CT_LISTEN, F(ftp_listen), "127.0.0.1:2121", 0, 0, NULL,
	  "where FTP with explicit FTPS listens" },
	{ "ftpd", "ftps_implicit_listen", CT_LISTEN, F(ftps_implicit_listen), NULL, 0, 0, NULL,
	  "where implicit FTPS listens" },
	{ "ftpd", "sftp_listen", CT_LISTEN, F(sftp_listen), "127.0.0.1:2222", 0, 0, NULL,
	  "where SSH (SFTP, scp, the console) listens" },
	{ "ftpd", "tls", CT_ENUM, F(tls), "required", 0, 0, "required allowed off",
	  "whether FTP sessions must use TLS" },
	{ "ftpd", "tls_cert", CT_PATH, F(tls_cert), "/var/lib/nodebak/ftpd.crt", 0, 0, NULL,
	  "PEM certificate (chain) for FTPS" },
	{ "ftpd", "tls_key", CT_PATH, F(tls_key), "/var/lib/nodebak/ftpd.key", 0, 0, NULL,
	  "PEM private key for FTPS" },
	{ "ftpd", "host_key", CT_PATH, F(host_key), "/var/lib/nodebak/ssh_host_ed25519_key", 0, 0, NULL,
	  "the SSH host key" },
	{ "ftpd", "pasv_ports", CT_RANGE, F(pasv_ports), "40000-40999", 0, 0, NULL,
	  "the ports of passive FTP data connections" },
	{ "ftpd", "users", CT_PATH, F(users), "/var/lib/nodebak/users", 0, 0, NULL,
	  "the users file" },
	{ "ftpd", "run_as", CT_STR, F(run_as), NULL, 0, 0, NULL,
	  "the user sessions switch to after login" },
	{ "ftpd", "xferlog", CT_PATH, F(xferlog), NULL, 0, 0, NULL,
	  "a file each transfer is appended to in xferlog(5) format" },
	{ "ftpd", "max_clients", CT_INT, F(max_clients), "256", 1, 100000, NULL,
	  "sessions at once" },
	{ "ftpd", "max_per_address", CT_INT, F(max_per_address), "16", 1, 100000, NULL,
	  "sessions at once from one client address" },
	{ "ftpd", "max_line", CT_INT, F(max_line), "1024", 64, 65536, NULL,
	  "longest FTP command line in bytes" },
	{ "ftpd", "idle_timeout", CT_INT, F(idle_timeout), "300", 1, 86400, NULL,
	  "seconds without a command or traffic before a session ends" },
	{ "ftpd", "data_timeout", CT_INT, F(data_timeout), "120", 1, 86400, NULL,
	  "seconds to wait for, or without progress on, a data connection" },
	{ "ftpd", "login_timeout", CT_INT, F(login_timeout), "60", 1, 3600, NULL,
	  "seconds from connect to a completed login" },
	{ "ftpd", "max_login_attempts", CT_INT, F(max_login_attempts), "5", 1, 100, NULL,
	  "failed logins per connection" },
	{ "ftpd", "lockout_seconds", CT_INT, F(lockout_seconds), "300", 0, 86400, NULL,
	  "how long an address is refused after the attempt limit (0: never)" },
	{ "ftpd", "shutdown_timeout", CT_INT, F(shutdown_timeout), "30", 0, 3600, NULL,
	  "seconds SSH sessions are given on SIGTERM" },
	{ "ftpd", "max_handles", CT_INT, F(max_handles), "256", 4, 65536, NULL,
	  "open SFTP handles per session" },
};

#define NKEYS (sizeof keys / sizeof keys[0])
#define LINE_MAX_LEN 4096
#define STR_(x) #x
#define STR(x) STR_(x)
#define MSG_MAX 2048

/* What a parse is at: the file, the line, the section and what was set. */
struct parser {
	struct conf *c;
	const char *path, *dir;
	int lineno;
	const char *section;		/* the table's string; NULL before any */
	int seen[NKEYS];		/* line a key was set on, 0: not yet */
	int iface_line[CONF_MAX_IFACES];
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

int conf_schema_key(size_t i, struct conf_key_info *out)
{
	memset(out, 0, sizeof *out);
	if (i >= NKEYS)
		return ERR_NOTFOUND;
	out->section = keys[i].section;
	out->key = keys[i].key;
	out->desc = keys[i].desc;
	out->dflt = keys[i].dflt;
	return 0;
}

static char **field(struct conf *c, const struct ckey *k)
{
	return (char **)((char *)c + k->off);
}

/* ---- what a key allows, as errors say it ---- */

static void add_size(struct buf *b, long long n)
{
	static const char suffix[] = "TGMK";
	static const int shift[] = { 40, 30, 20, 10 };

	for (int i = 0; i < 4; i++)
		if (n && n % ((long long)1 << shift[i]) == 0) {
			buf_addf(b, "%lld%c", n >> shift[i], suffix[i]);
			return;
		}
	buf_addf(b, "%lld", n);
}

static const char dur_suffix[] = "wdhms";
static const long long dur_secs[] = { 604800, 86400, 3600, 60, 1 };

static void add_duration(struct buf *b, long long n)
{
	for (int i = 0; i < 5; i++)
		if (n && n % dur_secs[i] == 0) {
			buf_addf(b, "%lld%c", n / dur_secs[i], dur_suffix[i]);
			return;
		}
	buf_addf(b, "%lld", n);
}

/* "must be ..." for key k. */
static void add_allowed(struct buf *b, const struct ckey *k)
{
	switch (k->type) {
	case CT_STR:
		buf_adds(b, "printable text, or empty for unset");
		break;
	case CT_PATH:
		buf_adds(b, "a path (relative to the file's folder), or empty for unset");
		break;
	case CT_CMD:
		buf_adds(b, "a shell command, or empty for unset");
		break;
	case CT_NAME:
		buf_adds(b, "1 to 64 of A-Za-z0-9._- not starting with a dot");
		break;
	case CT_INT:
		buf_addf(b, "an integer from %lld to %lld", k->min, k->max);
		break;
	case CT_MODE:
		buf_addf(b, "a mode from %#llo to %#llo (octal, with a leading 0)",
		    k->min, k->max);
		break;
	case CT_SIZE:
		buf_adds(b, "a size from ");
		add_size(b, k->min);
		buf_adds(b, " to ");
		add_size(b, k->max);
		buf_adds(b, " (digits with an optional K, M, G or T)");
		break;
	case CT_DURATION:
		buf_adds(b, "a duration from ");
		add_duration(b, k->min);
		buf_adds(b, " to ");
		add_duration(b, k->max);
		buf_adds(b, " (digits with s, m, h, d or w, several added: 90m, "
		    "1h30m, 7d, 2w; digits alone are seconds; 0: off)");
		break;
	case CT_ENUM:
		buf_adds(b, "one of ");
		for (const char *p = k->enumv; *p; p++)
			if (*p == ' ')
				buf_adds(b, ", ");
			else
				buf_addch(b, *p);
		break;
	case CT_LISTEN:
		buf_adds(b, "space-separated ADDRESS:PORT items (IPv6 as "
		    "[ADDRESS]:PORT, port 1 to 65535), or empty for none");
		break;
	case CT_RANGE:
		buf_adds(b, "LOW-HIGH with 1024 <= LOW <= HIGH <= 65535");
		break;
	case CT_IFACE:
		buf_adds(b, "an IPv4 or IPv6 address");
		break;
	case CT_SCHED:
		buf_adds(b, SCHEDULE_ALLOWED ", or empty for unset");
		break;
	case CT_TEMPLATE:
		buf_adds(b, "a snapshot name (1 to 64 of A-Za-z0-9._- not "
		    "starting with a dot) with %Y %m %d %H %M %S %j %% for the "
		    "UTC time of the run");
		break;
	}
}

/* ---- value checks: 0, or -1 with the reason in why ---- */

/* Digits (C notation: 0x.. hex, 0.. octal) with, for a size, one of
 * K, M, G, T. */
static int parse_num(const char *v, long long *out, int with_suffix)
{
	char *end;
	long long n;

	errno = 0;
	if (!isdigit((unsigned char)*v))
		return -1;
	n = strtoll(v, &end, 0);
	if (errno || end == v)
		return -1;
	if (with_suffix && *end) {
		int shift = 0;
		switch (*end) {
		case 'K': shift = 10; break;
		case 'M': shift = 20; break;
		case 'G': shift = 30; break;
		case 'T': shift = 40; break;
		default: return -1;
		}
		if (end[1] || n > (LLONG_MAX >> shift))
			return -1;
		n <<= shift;
		end++;
	}
	if (*end)
		return -1;
	*out = n;
	return 0;
}

/* A port as the daemons read it: decimal digits, 1 to 65535. */
static int parse_port(const char *v, size_t len, long *out)
{
	long n = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	if (n < 1 || n > 65535)
		return -1;
	*out = n;
	return 0;
}

/* An IPv6 address, with an optional %scope (fe80::1%eth0). */
static int ipv6_ok(const char *a)
{
	unsigned char bin[16];
	const char *pct = strchr(a, '%');
	char head[INET6_ADDRSTRLEN];

	if (pct == NULL)
		return inet_pton(AF_INET6, a, bin) == 1;
	if ((size_t)(pct - a) >= sizeof head || pct[1] == '\0')
		return 0;
	for (const char *p = pct + 1; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return 0;
	memcpy(head, a, (size_t)(pct - a));
	head[pct - a] = '\0';
	return inet_pton(AF_INET6, head, bin) == 1;
}

static int ipv4_ok(const char *a)
{
	unsigned char bin[4];

	return inet_pton(AF_INET, a, bin) == 1;
}

/* One ADDRESS:PORT or [ADDRESS]:PORT item (item[0..len)). The daemons
 * split at the last colon, so a bare IPv6 address before it works too. */
static int check_listen_item(const char *item, size_t len, struct buf *why)
{
	char *w = xstrndup(item, len), *host = w, *port;
	long n;
	int r = -1, v6;

	if (*w == '[') {
		char *close = strchr(w, ']');
		if (close == NULL || close[1] != ':') {
			buf_addf(why, "%s is not [ADDRESS]:PORT", esc(w));
			goto out;
		}
		*close = '\0';
		host = w + 1;
		port = close + 2;
		v6 = 1;
	} else {
		char *colon = strrchr(w, ':');
		if (colon == NULL || colon == w) {
			buf_addf(why, "%s is not ADDRESS:PORT", esc(w));
			goto out;
		}
		*colon = '\0';
		port = colon + 1;
		v6 = strchr(host, ':') != NULL;
	}
	if (v6 ? !ipv6_ok(host) : !ipv4_ok(host)) {
		buf_addf(why, "%s is not an IPv%d address", esc(host), v6 ? 6 : 4);
		goto out;
	}
	if (parse_port(port, strlen(port), &n)) {
		buf_addf(why, "port %s is not from 1 to 65535", esc(port));
		goto out;
	}
	r = 0;
out:
	free(w);
	return r;
}

static int check_listen(const char *v, struct buf *why)
{
	const char *p = v;

	/* Space-separated, as ftpd.c's bind_list() splits them. */
	while (*p) {
		const char *w = p;

		while (*p && *p != ' ')
			p++;
		if (check_listen_item(w, (size_t)(p - w), why))
			return -1;
		while (*p == ' ')
			p++;
	}
	return 0;
}

/* LOW-HIGH, decimal as ftp.c reads it. */
static int check_range(const char *v)
{
	const char *dash = strchr(v, '-');
	long lo, hi;

	if (dash == NULL || parse_port(v, (size_t)(dash - v), &lo) ||
	    parse_port(dash + 1, strlen(dash + 1), &hi))
		return -1;
	return lo >= 1024 && lo <= hi ? 0 : -1;
}

static int enum_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);

	for (const char *p = choices; n && *p; ) {
		size_t len = strcspn(p, " ");
		if (len == n && !memcmp(p, v, n))
			return 1;
		p += len;
		p += *p == ' ';
	}
	return 0;
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

static void set_str(char **sp, const char *v, const char *dir)
{
	free(*sp);
	*sp = NULL;
	if (*v == '\0')
		return;
	if (dir && *v != '/') {
		size_t len = strlen(dir) + strlen(v) + 2;
		*sp = xmalloc(len);
		snprintf(*sp, len, "%s/%s", dir, v);
	} else
		*sp = xstrdup(v);
}

/* Check value v (trimmed) of key k and store it; dir resolves relative
 * paths (NULL: none). On failure -1 and why says what is wrong and what
 * the key allows. */
static int set_value(struct conf *c, const struct ckey *k, const char *v,
    const char *dir, struct buf *why)
{
	long long n;
	char **sp = field(c, k);
	int bad = 0;

	switch (k->type) {
	case CT_INT:
	case CT_MODE:
	case CT_SIZE:
		if (k->type == CT_INT && k->min < 0 && v[0] == '-') {
			/* keep_manual = -1 */
			if (parse_num(v + 1, &n, 0) || -n < k->min) {
				bad = 1;
				break;
			}
			n = -n;
		} else if (parse_num(v, &n, k->type == CT_SIZE) || n < k->min ||
		    n > k->max) {
			bad = 1;
			break;
		}
		if (k->type == CT_SIZE)
			*(long long *)(void *)sp = n;
		else
			*(long *)(void *)sp = (long)n;
		return 0;
	case CT_DURATION:
		if (duration_parse(v, &n) != 0 || n < k->min || n > k->max) {
			bad = 1;
			break;
		}
		*(long long *)(void *)sp = n;
		return 0;
	case CT_NAME:
		bad = !name_valid(v);
		break;
	case CT_ENUM:
		bad = !enum_ok(k->enumv, v);
		break;
	case CT_LISTEN:
		if (check_listen(v, why)) {
			buf_adds(why, "; must be ");
			add_allowed(why, k);
			return -1;
		}
		break;
	case CT_RANGE:
		bad = check_range(v) != 0;
		break;
	case CT_PATH:
		set_str(sp, v, dir);
		return 0;
	case CT_STR:
	case CT_CMD:
		break;
	case CT_IFACE:
		bad = 1;	/* set_iface()'s; never a default */
		break;
	case CT_SCHED: {
		struct schedule sc;
		bad = *v && schedule_parse(v, &sc) != 0;
		break;
	}
	case CT_TEMPLATE: {
		char name[NAME_MAX_LEN + 1];
		/* The longest expansion: every conversion at its widest. */
		bad = schedule_name(v, (time_t)253402300799LL, name,
		    sizeof name) != 0;
		break;
	}
	}
	if (bad) {
		buf_adds(why, "must be ");
		add_allowed(why, k);
		return -1;
	}
	set_str(sp, v, NULL);
	return 0;
}

/* ---- errors: "FILE:LINE: [section] key = value: reason" ---- */

static int fail(const struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(const struct parser *p, const char *fmt, ...)
{
	struct buf b = BUF_INIT(MSG_MAX);
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	err_set(ERR_INVAL, "%s:%d: %s", esc(p->path), p->lineno, buf_cstr(&b));
	buf_free(&b);
	return ERR_INVAL;
}

/* "[section] key = value" (or "key is empty") and then why. */
static int fail_value(const struct parser *p, const char *key, const char *v,
    const char *why)
{
	if (*v == '\0')
		return fail(p, "[%s] %s is empty: %s", p->section, esc(key), why);
	return fail(p, "[%s] %s = %s: %s", p->section, esc(key), esc(v), why);
}

static void add_sections(struct buf *b)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (i == 0 || strcmp(keys[i].section, keys[i - 1].section))
			buf_addf(b, "%s%s", i ? ", " : "", keys[i].section);
}

static void add_keys_of(struct buf *b, const char *section)
{
	int first = 1;

	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].section, section)) {
			buf_addf(b, "%s%s", first ? "" : ", ", keys[i].key);
			first = 0;
		}
}

/* The table's string for section name, or NULL. */
static const char *find_section(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].section, name))
			return keys[i].section;
	return NULL;
}

/* The index of key name in section, or -1; a family matches by prefix. */
static int find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct ckey *k = &keys[i];
		if (strcmp(k->section, section))
			continue;
		if (k->type == CT_IFACE ? !strncmp(name, k->key,
		    strcspn(k->key, "<")) : !strcmp(name, k->key))
			return (int)i;
	}
	return -1;
}

/* ---- lines ---- */

static int set_iface(struct parser *p, const struct ckey *k, const char *key,
    const char *v)
{
	struct conf *c = p->c;
	const char *name = key + strcspn(k->key, "<");
	struct buf why = BUF_INIT(MSG_MAX);
	int r;

	if (!iface_name_ok(name, sizeof c->ifaces[0].name))
		return fail_value(p, key, v, "the x of interface_<x> must be 1 "
		    "to 15 lower-case letters");
	for (int i = 0; i < c->n_ifaces; i++)
		if (!strcmp(c->ifaces[i].name, name))
			return fail(p, "[%s] %s = %s: duplicate key (first set on "
			    "line %d)", p->section, key, esc(v), p->iface_line[i]);
	if (c->n_ifaces == CONF_MAX_IFACES)
		return fail_value(p, key, v, "too many interfaces (at most "
		    "8 interface_<x> keys)");
	if (!ipv4_ok(v) && !ipv6_ok(v)) {
		buf_adds(&why, "must be ");
		add_allowed(&why, k);
		r = fail_value(p, key, v, buf_cstr(&why));
		buf_free(&why);
		return r;
	}
	memcpy(c->ifaces[c->n_ifaces].name, name, strlen(name) + 1);
	p->iface_line[c->n_ifaces] = p->lineno;
	c->ifaces[c->n_ifaces++].address = xstrdup(v);
	return 0;
}

static int set_key(struct parser *p, const char *key, const char *v)
{
	struct buf why = BUF_INIT(MSG_MAX);
	const struct ckey *k;
	int i = find_key(p->section, key), r;

	if (i < 0) {
		add_keys_of(&why, p->section);
		r = fail(p, "[%s] %s: unknown key (keys of [%s]: %s)", p->section,
		    *key ? esc(key) : "(no key before =)", p->section,
		    buf_cstr(&why));
		goto out;
	}
	k = &keys[i];
	for (const char *q = v; *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\t') {
			buf_adds(&why, "control character in value; must be ");
			add_allowed(&why, k);
			r = fail_value(p, key, v, buf_cstr(&why));
			goto out;
		}
	if (k->type == CT_IFACE) {
		r = set_iface(p, k, key, v);
		goto out;
	}
	if (p->seen[i]) {
		r = fail(p, "[%s] %s = %s: duplicate key (first set on line %d)",
		    p->section, key, esc(v), p->seen[i]);
		goto out;
	}
	p->seen[i] = p->lineno;
	r = set_value(p->c, k, v, p->dir, &why) ? fail_value(p, key, v,
	    buf_cstr(&why)) : 0;
out:
	buf_free(&why);
	return r;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int section_line(struct parser *p, char *line)
{
	struct buf list = BUF_INIT(MSG_MAX);
	char *end = strrchr(line, ']');
	int r = 0;

	add_sections(&list);
	if (end == NULL || end[1] != '\0' || end == line + 1)
		r = fail(p, "%s: malformed section header (expected [NAME], NAME "
		    "one of %s)", esc(line), buf_cstr(&list));
	else {
		*end = '\0';
		if ((p->section = find_section(line + 1)) == NULL)
			r = fail(p, "[%s]: unknown section (sections: %s)",
			    esc(line + 1), buf_cstr(&list));
	}
	buf_free(&list);
	return r;
}

static int parse_line(struct parser *p, char *line)
{
	struct buf list = BUF_INIT(MSG_MAX);
	char *eq, *k, *v;
	int r;

	line = trim(line);
	if (*line == '\0' || *line == '#' || *line == ';')
		return 0;
	if (*line == '[')
		return section_line(p, line);
	if ((eq = strchr(line, '=')) == NULL) {
		if (p->section)
			return fail(p, "[%s] %s: expected KEY = VALUE, a [SECTION] "
			    "header or a # comment", p->section, esc(line));
		return fail(p, "%s: expected KEY = VALUE, a [SECTION] header or "
		    "a # comment", esc(line));
	}
	*eq = '\0';
	k = trim(line);
	v = trim(eq + 1);
	if (p->section == NULL) {
		add_sections(&list);
		r = fail(p, "%s = %s: key outside of any section (sections: %s)",
		    esc(k), esc(v), buf_cstr(&list));
		buf_free(&list);
		return r;
	}
	return set_key(p, k, v);
}

static int apply_defaults(struct conf *c)
{
	struct buf why = BUF_INIT(MSG_MAX);
	int r = 0;

	for (size_t i = 0; i < NKEYS && r == 0; i++)
		if (keys[i].dflt && set_value(c, &keys[i], keys[i].dflt, NULL, &why))
			r = err_set(ERR_INVAL, "built-in default of [%s] %s = %s: %s",
			    keys[i].section, keys[i].key, keys[i].dflt,
			    buf_cstr(&why));
	buf_free(&why);
	return r;
}

/* Read one line into line[size]: 1, or 0 at the end of the file, or
 * -1 when it is longer than size - 1 bytes, -2 when it holds a NUL byte. */
static int read_line(FILE *f, char *line, size_t size)
{
	size_t n = 0;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			return -2;
		if (n + 1 == size)
			return -1;
		line[n++] = (char)ch;
	}
	line[n] = '\0';
	return ch == EOF && n == 0 ? 0 : 1;
}

int conf_load(const char *path, struct conf **out)
{
	struct parser p;
	FILE *f = NULL;
	char line[LINE_MAX_LEN + 1], dirbuf[PATH_MAX];
	int r;

	*out = NULL;
	memset(&p, 0, sizeof p);
	p.path = path = conf_path(path);
	if ((f = fopen(path, "re")) == NULL)
		return err_sys("%s", path);
	p.c = xcalloc(1, sizeof *p.c);
	if ((p.c->file = realpath(path, NULL)) == NULL) {
		r = err_sys("%s", path);
		goto out;
	}
	snprintf(dirbuf, sizeof dirbuf, "%s", p.c->file);
	p.dir = dirname(dirbuf);
	if ((r = apply_defaults(p.c)) != 0)
		goto out;
	for (;;) {
		p.lineno++;
		if ((r = read_line(f, line, sizeof line)) < 0) {
			r = fail(&p, "%s%s%s%s", p.section ? "[" : "",
			    p.section ? p.section : "", p.section ? "] " : "",
			    r == -1 ? "line longer than " STR(LINE_MAX_LEN)
			    " bytes" : "NUL byte in line");
			goto out;
		}
		if (r == 0)
			break;
		if ((r = parse_line(&p, line)) != 0)
			goto out;
	}
	if (ferror(f)) {
		r = err_sys("%s", path);
		goto out;
	}
	if (p.c->node_name == NULL) {
		r = err_set(ERR_INVAL, "%s: [node] name is required: must be 1 to "
		    "64 of A-Za-z0-9._- not starting with a dot", esc(path));
		goto out;
	}
	*out = p.c;
	p.c = NULL;
	r = 0;
out:
	if (f)
		fclose(f);
	conf_free(p.c);
	return r;
}

void conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		switch (keys[i].type) {
		case CT_INT: case CT_MODE: case CT_SIZE: case CT_DURATION:
		case CT_IFACE:
			continue;
		default:
			free(*field(c, &keys[i]));
		}
	}
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
