/* conf.c: table-driven parser for nodebak.conf (see conf.h and
 * docs/man/nodebak.conf.5). */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"
#include "names.h"
#include "xmalloc.h"
#include "banned.h"

enum ctype { CT_STR, CT_PATH, CT_NAME, CT_INT, CT_SIZE, CT_ENUM, CT_LISTEN,
	CT_RANGE, CT_CMD };

struct ckey {
	const char *section, *key;
	enum ctype type;
	size_t off;
	const char *dflt;	/* NULL: unset */
	long long min, max;	/* CT_INT, CT_SIZE */
	const char *enumv;	/* CT_ENUM: space-separated choices */
};

#define S(f) offsetof(struct conf, f)
#define F(f) offsetof(struct conf, ftpd.f)

static const struct ckey keys[] = {
	{ "node", "name", CT_NAME, S(node_name), NULL, 0, 0, NULL },
	{ "node", "state_dir", CT_PATH, S(state_dir), "/var/lib/nodebak", 0, 0, NULL },
	{ "node", "files_dir", CT_PATH, S(files_dir), "/srv/nodebak", 0, 0, NULL },
	{ "database", "engine", CT_ENUM, S(db_engine), "sqlite", 0, 0, "sqlite postgresql" },
	{ "database", "path", CT_PATH, S(db_path), "/var/lib/nodebak/node.db", 0, 0, NULL },
	{ "database", "pg_port", CT_INT, S(pg_port), "5432", 1, 65535, NULL },
	{ "snapshotd", "socket", CT_PATH, S(socket), "/run/nodebak/snapshotd.sock", 0, 0, NULL },
	{ "snapshotd", "socket_group", CT_STR, S(socket_group), NULL, 0, 0, NULL },
	{ "snapshotd", "socket_mode", CT_INT, S(socket_mode), "0660", 0, 0777, NULL },
	{ "snapshotd", "compression_level", CT_INT, S(compression_level), "6", 1, 9, NULL },
	{ "snapshotd", "max_members", CT_INT, S(max_members), "10000", 4, 1000000, NULL },
	{ "snapshotd", "max_bytes", CT_SIZE, S(max_bytes), "64G", 1 << 20, (long long)1 << 50, NULL },
	{ "snapshotd", "service_stop", CT_CMD, S(service_stop), NULL, 0, 0, NULL },
	{ "snapshotd", "service_start", CT_CMD, S(service_start), NULL, 0, 0, NULL },
	{ "ftpd", "ftp_listen", CT_LISTEN, F(ftp_listen), "127.0.0.1:2121", 0, 0, NULL },
	{ "ftpd", "ftps_implicit_listen", CT_LISTEN, F(ftps_implicit_listen), NULL, 0, 0, NULL },
	{ "ftpd", "sftp_listen", CT_LISTEN, F(sftp_listen), "127.0.0.1:2222", 0, 0, NULL },
	{ "ftpd", "tls", CT_ENUM, F(tls), "required", 0, 0, "required allowed off" },
	{ "ftpd", "tls_cert", CT_PATH, F(tls_cert), "/var/lib/nodebak/ftpd.crt", 0, 0, NULL },
	{ "ftpd", "tls_key", CT_PATH, F(tls_key), "/var/lib/nodebak/ftpd.key", 0, 0, NULL },
	{ "ftpd", "host_key", CT_PATH, F(host_key), "/var/lib/nodebak/ssh_host_ed25519_key", 0, 0, NULL },
	{ "ftpd", "pasv_ports", CT_RANGE, F(pasv_ports), "40000-40999", 0, 0, NULL },
	{ "ftpd", "users", CT_PATH, F(users), "/var/lib/nodebak/users", 0, 0, NULL },
	{ "ftpd", "run_as", CT_STR, F(run_as), NULL, 0, 0, NULL },
	{ "ftpd", "xferlog", CT_PATH, F(xferlog), NULL, 0, 0, NULL },
	{ "ftpd", "max_clients", CT_INT, F(max_clients), "256", 1, 100000, NULL },
	{ "ftpd", "max_per_address", CT_INT, F(max_per_address), "16", 1, 100000, NULL },
	{ "ftpd", "max_line", CT_INT, F(max_line), "1024", 64, 65536, NULL },
	{ "ftpd", "idle_timeout", CT_INT, F(idle_timeout), "300", 1, 86400, NULL },
	{ "ftpd", "data_timeout", CT_INT, F(data_timeout), "120", 1, 86400, NULL },
	{ "ftpd", "login_timeout", CT_INT, F(login_timeout), "60", 1, 3600, NULL },
	{ "ftpd", "max_login_attempts", CT_INT, F(max_login_attempts), "5", 1, 100, NULL },
	{ "ftpd", "lockout_seconds", CT_INT, F(lockout_seconds), "300", 0, 86400, NULL },
	{ "ftpd", "shutdown_timeout", CT_INT, F(shutdown_timeout), "30", 0, 3600, NULL },
	{ "ftpd", "max_handles", CT_INT, F(max_handles), "256", 4, 65536, NULL },
};

#define LINE_MAX_LEN 4096

const char *conf_path(const char *path)
{
	const char *env;

	if (path && *path)
		return path;
	if ((env = getenv("NODEBAK_CONF")) != NULL && *env)
		return env;
	return CONF_DEFAULT_PATH;
}

static char **field(struct conf *c, const struct ckey *k)
{
	return (char **)((char *)c + k->off);
}

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

static int check_listen(const char *v)
{
	/* ADDRESS:PORT or [V6]:PORT, space separated; ports 1-65535. */
	const char *p = v;

	while (*p) {
		const char *w = p, *colon = NULL;
		long long port;
		char num[8];
		size_t n;

		while (*p && *p != ' ')
			p++;
		for (const char *q = w; q < p; q++)
			if (*q == ':')
				colon = q;
		if (colon == NULL || colon == w || (size_t)(p - colon - 1) >= sizeof num)
			return -1;
		if (*w == '[' && colon[-1] != ']')
			return -1;
		n = (size_t)(p - colon - 1);
		memcpy(num, colon + 1, n);
		num[n] = '\0';
		if (parse_num(num, &port, 0) || port < 1 || port > 65535)
			return -1;
		while (*p == ' ')
			p++;
	}
	return 0;
}

static int check_range(const char *v)
{
	long long lo, hi;
	const char *dash = strchr(v, '-');
	char a[8];

	if (dash == NULL || dash == v || (size_t)(dash - v) >= sizeof a)
		return -1;
	memcpy(a, v, (size_t)(dash - v));
	a[dash - v] = '\0';
	if (parse_num(a, &lo, 0) || parse_num(dash + 1, &hi, 0))
		return -1;
	return (lo >= 1024 && hi <= 65535 && lo <= hi) ? 0 : -1;
}

static int enum_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;

	while ((p = strstr(p, v)) != NULL) {
		if ((p == choices || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return 1;
		p += n;
	}
	return 0;
}

/* Store value v (already trimmed) into key k; "why" gets the reason. */
static int set_value(struct conf *c, const struct ckey *k, const char *v,
    const char *dir, const char **why)
{
	long long n;
	char **sp = field(c, k);

	switch (k->type) {
	case CT_INT:
	case CT_SIZE:
		if (parse_num(v, &n, k->type == CT_SIZE) || n < k->min || n > k->max) {
			*why = k->type == CT_SIZE ?
			    "expected a size such as 512M or 64G within the allowed range" :
			    "expected a number within the allowed range";
			return -1;
		}
		if (k->type == CT_SIZE)
			*(long long *)(void *)sp = n;
		else
			*(long *)(void *)sp = (long)n;
		return 0;
	case CT_NAME:
		if (!name_valid(v)) {
			*why = "expected 1 to 64 of A-Za-z0-9._- not starting with a dot";
			return -1;
		}
		break;
	case CT_ENUM:
		if (!enum_ok(k->enumv, v)) {
			*why = "not one of the allowed values";
			return -1;
		}
		break;
	case CT_LISTEN:
		if (*v && check_listen(v)) {
			*why = "expected ADDRESS:PORT (IPv6 as [ADDRESS]:PORT), space-separated";
			return -1;
		}
		break;
	case CT_RANGE:
		if (check_range(v)) {
			*why = "expected LOW-HIGH with 1024 <= LOW <= HIGH <= 65535";
			return -1;
		}
		break;
	case CT_PATH:
		free(*sp);
		*sp = NULL;
		if (*v == '\0')
			return 0;
		if (*v != '/' && dir) {
			size_t len = strlen(dir) + strlen(v) + 2;
			*sp = xmalloc(len);
			snprintf(*sp, len, "%s/%s", dir, v);
		} else
			*sp = xstrdup(v);
		return 0;
	case CT_STR:
	case CT_CMD:
		break;
	}
	free(*sp);
	*sp = *v ? xstrdup(v) : NULL;
	return 0;
}

static int set_iface(struct conf *c, const char *key, const char *v,
    const char **why)
{
	const char *name = key + strlen("interface_");
	size_t n = strlen(name);

	if (n == 0 || n >= sizeof c->ifaces[0].name) {
		*why = "interface names are 1 to 15 letters";
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)name[i])) {
			*why = "interface names are lower-case letters";
			return -1;
		}
	if (*v == '\0' || strchr(v, ' ')) {
		*why = "expected one IP address";
		return -1;
	}
	for (int i = 0; i < c->n_ifaces; i++)
		if (!strcmp(c->ifaces[i].name, name)) {
			*why = "duplicate key";
			return -1;
		}
	if (c->n_ifaces == CONF_MAX_IFACES) {
		*why = "too many interfaces";
		return -1;
	}
	memcpy(c->ifaces[c->n_ifaces].name, name, n + 1);
	c->ifaces[c->n_ifaces++].address = xstrdup(v);
	return 0;
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

static int apply_defaults(struct conf *c)
{
	const char *why = NULL;

	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (keys[i].dflt && set_value(c, &keys[i], keys[i].dflt, NULL, &why))
			return err_set(ERR_INVAL, "built-in default for %s.%s: %s",
			    keys[i].section, keys[i].key, why);
	return 0;
}

static int parse_line(struct conf *c, char *line, char *section,
    size_t secsz, unsigned char *seen, const char *dir, const char **why)
{
	char *eq, *k, *v;
	int known_section = 0;

	line = trim(line);
	if (*line == '\0' || *line == '#' || *line == ';')
		return 0;
	if (*line == '[') {
		char *end = strchr(line, ']');
		if (end == NULL || end[1] != '\0' || end - line - 1 <= 0 ||
		    (size_t)(end - line) > secsz) {
			*why = "malformed section header";
			return -1;
		}
		*end = '\0';
		if (strcmp(line + 1, "cluster")) {
			for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
				if (!strcmp(keys[i].section, line + 1))
					known_section = 1;
			if (!known_section) {
				*why = "unknown section";
				return -1;
			}
		}
		snprintf(section, secsz, "%s", line + 1);
		return 0;
	}
	if ((eq = strchr(line, '=')) == NULL) {
		*why = "expected key = value";
		return -1;
	}
	*eq = '\0';
	k = trim(line);
	v = trim(eq + 1);
	if (*section == '\0') {
		*why = "key outside of any section";
		return -1;
	}
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t') {
			*why = "control character in value";
			return -1;
		}
	if (!strcmp(section, "cluster") && !strncmp(k, "interface_", 10))
		return set_iface(c, k, v, why);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (strcmp(keys[i].section, section) || strcmp(keys[i].key, k))
			continue;
		if (seen[i]) {
			*why = "duplicate key";
			return -1;
		}
		seen[i] = 1;
		return set_value(c, &keys[i], v, dir, why);
	}
	*why = "unknown key";
	return -1;
}

int conf_load(const char *path, struct conf **out)
{
	struct conf *c = NULL;
	FILE *f = NULL;
	char line[LINE_MAX_LEN + 2], section[32] = "", dirbuf[PATH_MAX];
	unsigned char seen[sizeof keys / sizeof keys[0]] = { 0 };
	const char *why = NULL, *dir;
	char *abs = NULL;
	int lineno = 0, r = ERR_INVAL;

	*out = NULL;
	path = conf_path(path);
	if ((f = fopen(path, "re")) == NULL)
		return err_sys("%s", path);
	c = xcalloc(1, sizeof *c);
	if ((abs = realpath(path, NULL)) == NULL) {
		r = err_sys("%s", path);
		goto out;
	}
	c->file = abs;
	snprintf(dirbuf, sizeof dirbuf, "%s", abs);
	dir = dirname(dirbuf);
	if ((r = apply_defaults(c)) != 0)
		goto out;
	r = ERR_INVAL;
	while (fgets(line, sizeof line, f) != NULL) {
		lineno++;
		if (strlen(line) > LINE_MAX_LEN) {
			err_set(ERR_INVAL, "%s:%d: line longer than %d bytes",
			    path, lineno, LINE_MAX_LEN);
			goto out;
		}
		line[strcspn(line, "\n")] = '\0';
		if (parse_line(c, line, section, sizeof section, seen, dir, &why)) {
			err_set(ERR_INVAL, "%s:%d: %s", path, lineno, why);
			goto out;
		}
	}
	if (ferror(f)) {
		r = err_sys("%s", path);
		goto out;
	}
	if (c->node_name == NULL) {
		err_set(ERR_INVAL, "%s: [node] name is required", path);
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	if (f)
		fclose(f);
	conf_free(c);
	return r;
}

void conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (keys[i].type == CT_INT || keys[i].type == CT_SIZE)
			continue;
		free(*field(c, &keys[i]));
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
