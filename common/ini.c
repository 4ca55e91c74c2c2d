/* ini.c: the typed-INI engine (ini.h): sections, typed rows, value checks,
 * defaults, the line reader and the one-line errors that nodebak.conf(5)
 * and pull.conf(5) share. What each file holds is its schema's business
 * (conf.c, client/pull/pullconf.c). */
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

#include "age.h"
#include "buf.h"
#include "err.h"
#include "esc.h"
#include "ini.h"
#include "names.h"
#include "schedule.h"
#include "users.h"
#include "xmalloc.h"
#include "banned.h"

#define LINE_MAX_LEN 4096
#define STR_(x) #x
#define STR(x) STR_(x)
#define MSG_MAX 2048
#define HOST_MAX 253
#define FP_PREFIX "SHA256:"
#define FP_CHARS 43

/* A named instance's header, or a family key, once set: duplicates of
 * either are refused naming this line. */
struct once {
	const void *owner;		/* the section, or the family's row */
	char *name;
	int line;
};

/* What a parse is at: the file, the line, the section and what was set. */
struct parser {
	const struct ini_section *schema;
	void *conf;
	const char *dir;
	struct ini_at at;		/* at.section: NULL before any */
	char secname[128];		/* "name" or "name NAME" */
	const struct ini_section *sec;	/* the current section, or NULL */
	void *base;			/* where its rows' offsets start */
	int *seen;			/* line each row was set on, 0: not */
	size_t first;			/* sec's first row in seen[] */
	int hdr_line;			/* a named instance's header line */
	struct once *once;
	size_t n_once;
};

static int is_string(enum ini_ctype t)
{
	return t != CT_INT && t != CT_MODE && t != CT_SIZE &&
	    t != CT_DURATION && t != CT_FAMILY;
}

static char **field(void *base, const struct ini_key *k)
{
	return (char **)((char *)base + k->off);
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

/* "must be ..." for the types of a remote host's settings (pull.conf). */
static void add_allowed_remote(struct buf *b, const struct ini_key *k,
    const char *unset)
{
	switch (k->type) {
	case CT_HOST:
		buf_adds(b, "an IPv4 or IPv6 address or a host name (1 to "
		    STR(HOST_MAX) " of A-Za-z0-9.-)");
		break;
	case CT_USER:
		buf_adds(b, "a user name (1 to 32 of a-z0-9._-, starting with a "
		    "letter)");
		break;
	case CT_RELPATH:
		buf_adds(b, "a relative path without .. components");
		break;
	case CT_RECIPIENTS:
		buf_addf(b, "age X25519 recipients (age1 and 58 Bech32 characters, "
		    "as age-keygen -y prints them), separated by spaces, at most %d",
		    AGE_MAX_RECIPIENTS - 1);
		break;
	case CT_HOSTKEY:
		buf_addf(b, FP_PREFIX " and %d base64 characters (A-Za-z0-9+/, as "
		    "ssh-keygen -l prints it), or a path to the public key "
		    "(relative to the file's folder)%s", FP_CHARS, unset);
		break;
	default:
		break;
	}
}

/* "must be ..." for key k. */
static void add_allowed(struct buf *b, const struct ini_key *k)
{
	const char *unset = k->flags & INI_REQUIRED ? "" : ", or empty for unset";

	switch (k->type) {
	case CT_STR:
		buf_addf(b, "printable text%s", unset);
		break;
	case CT_PATH:
		buf_addf(b, "a path (relative to the file's folder)%s", unset);
		break;
	case CT_CMD:
		buf_addf(b, "a shell command%s", unset);
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
		buf_addf(b, " (digits with s, m, h, d or w, several added: 90m, "
		    "1h30m, 7d, 2w; digits alone are seconds%s)",
		    k->min == 0 ? "; 0: off" : "");
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
	case CT_FAMILY:
		buf_adds(b, k->allowed);
		break;
	case CT_SCHED:
		buf_addf(b, "%s%s", SCHEDULE_ALLOWED, unset);
		break;
	case CT_TEMPLATE:
		buf_adds(b, "a snapshot name (1 to 64 of A-Za-z0-9._- not "
		    "starting with a dot) with %Y %m %d %H %M %S %j %% for the "
		    "UTC time of the run");
		break;
	default:
		add_allowed_remote(b, k, unset);
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


int ini_addr_ok(const char *a)
{
	return ipv4_ok(a) || ipv6_ok(a);
}

/* An address, or a DNS name: 1 to HOST_MAX of letters, digits, - and . */
static int host_ok(const char *v)
{
	size_t n = strlen(v);

	if (ini_addr_ok(v))
		return 1;
	if (n == 0 || n > HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '.')
			return 0;
	return 1;
}

/* Relative, and no component is "..": it stays beneath its folder. */
/* Space-separated age recipients, at most one less than age allows (the
 * node's own recovery key is added to them). */
static int recipients_ok(const char *v)
{
	char one[AGE_RECIPIENT_MAX];
	struct age_recipient r;
	int n = 0;

	while (*v) {
		size_t len = strcspn(v, " ");
		if (len == 0) {
			v++;
			continue;
		}
		if (len >= sizeof one || ++n >= AGE_MAX_RECIPIENTS)
			return 0;
		memcpy(one, v, len);
		one[len] = '\0';
		if (age_recipient_parse(one, &r) != 0)
			return 0;
		v += len;
	}
	return 1;
}

static int relpath_ok(const char *v)
{
	if (*v == '\0' || *v == '/')
		return 0;
	for (const char *p = v; *p; ) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		p += len;
		p += *p == '/';
	}
	return 1;
}

/* "SHA256:" and exactly FP_CHARS of A-Za-z0-9+/ (no padding). */
static int fingerprint_ok(const char *v)
{
	const char *p = v + strlen(FP_PREFIX);

	if (strlen(p) != FP_CHARS)
		return 0;
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '+' && *p != '/')
			return 0;
	return 1;
}

static int must_be(const struct ini_key *k, struct buf *why)
{
	buf_adds(why, "must be ");
	add_allowed(why, k);
	return -1;
}

/* CT_INT, CT_MODE, CT_SIZE, CT_DURATION: 0, or -1 when out of bounds. */
static int set_number(void *fp, const struct ini_key *k, const char *v)
{
	long long n;

	if (k->type == CT_DURATION) {
		if (duration_parse(v, &n) != 0)
			return -1;
	} else if (k->type == CT_INT && k->min < 0 && v[0] == '-') {
		/* keep_manual = -1 */
		if (parse_num(v + 1, &n, 0))
			return -1;
		n = -n;
	} else if (parse_num(v, &n, k->type == CT_SIZE))
		return -1;
	if (n < k->min || n > k->max)
		return -1;
	if (k->type == CT_SIZE || k->type == CT_DURATION)
		*(long long *)fp = n;
	else
		*(long *)fp = (long)n;
	return 0;
}

/* The checks of the types kept as written: 1 when v is refused. */
static int text_bad(const struct ini_key *k, const char *v)
{
	struct schedule sc;
	char name[NAME_MAX_LEN + 1];

	switch (k->type) {
	case CT_NAME:
		return !name_valid(v);
	case CT_ENUM:
		return !enum_ok(k->enumv, v);
	case CT_RANGE:
		return check_range(v) != 0;
	case CT_SCHED:
		return *v && schedule_parse(v, &sc) != 0;
	case CT_TEMPLATE:
		/* The longest expansion: every conversion at its widest. */
		return schedule_name(v, (time_t)253402300799LL, name,
		    sizeof name) != 0;
	case CT_HOST:
		return !host_ok(v);
	case CT_USER:
		return !users_name_ok(v);
	case CT_RELPATH:
		return !relpath_ok(v);
	case CT_RECIPIENTS:
		return !recipients_ok(v);
	case CT_FAMILY:
		return 1;	/* its family()'s; never a default */
	default:
		return 0;
	}
}

/* Check value v (trimmed) of key k and store it in base; dir resolves
 * relative paths (NULL: none). On failure -1 and why says what is wrong
 * and what the key allows. */
static int set_value(void *base, const struct ini_key *k, const char *v,
    const char *dir, struct buf *why)
{
	char **sp = field(base, k);

	if ((k->flags & INI_REQUIRED) && *v == '\0')
		return must_be(k, why);
	if (!is_string(k->type))
		return set_number(sp, k, v) ? must_be(k, why) : 0;
	if (k->type == CT_LISTEN && check_listen(v, why)) {
		buf_adds(why, "; ");
		return must_be(k, why);
	}
	if (k->type == CT_HOSTKEY) {
		int fp = !strncmp(v, FP_PREFIX, strlen(FP_PREFIX));
		if (fp && !fingerprint_ok(v))
			return must_be(k, why);
		*(int *)(void *)((char *)base + k->off2) = fp;
		set_str(sp, v, fp ? NULL : dir);
		return 0;
	}
	if (text_bad(k, v))
		return must_be(k, why);
	set_str(sp, v, k->type == CT_PATH ? dir : NULL);
	return 0;
}

/* ---- errors: "FILE:LINE: [section] key = value: reason" ---- */

int ini_fail(const struct ini_at *at, const char *fmt, ...)
{
	struct buf b = BUF_INIT(MSG_MAX);
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	err_set(ERR_INVAL, "%s:%d: %s", esc(at->path), at->lineno, buf_cstr(&b));
	buf_free(&b);
	return ERR_INVAL;
}

int ini_fail_value(const struct ini_at *at, const char *key, const char *v,
    const char *why)
{
	if (*v == '\0')
		return ini_fail(at, "[%s] %s is empty: %s", at->section, esc(key),
		    why);
	return ini_fail(at, "[%s] %s = %s: %s", at->section, esc(key), esc(v),
	    why);
}

static void add_sections(struct buf *b, const struct ini_section *schema)
{
	for (const struct ini_section *s = schema; s->name; s++)
		buf_addf(b, "%s%s%s", s == schema ? "" : ", ", s->name,
		    s->add ? " NAME" : "");
}

static void add_keys_of(struct buf *b, const struct ini_section *sec)
{
	for (const struct ini_key *k = sec->keys; k->key; k++)
		buf_addf(b, "%s%s", k == sec->keys ? "" : ", ", k->key);
}

static const struct ini_section *find_section(const struct ini_section *schema,
    const char *name, size_t len)
{
	for (const struct ini_section *s = schema; s->name; s++)
		if (strlen(s->name) == len && !memcmp(s->name, name, len))
			return s;
	return NULL;
}

/* The row of key name in sec, or NULL; a family matches by prefix. */
static const struct ini_key *find_key(const struct ini_section *sec,
    const char *name)
{
	for (const struct ini_key *k = sec->keys; k->key; k++)
		if (k->type == CT_FAMILY ? !strncmp(name, k->key,
		    strcspn(k->key, "<")) : !strcmp(name, k->key))
			return k;
	return NULL;
}

/* The line name was first given for owner on, or 0. */
static int first_line(const struct parser *p, const void *owner,
    const char *name)
{
	for (size_t i = 0; i < p->n_once; i++)
		if (p->once[i].owner == owner && !strcmp(p->once[i].name, name))
			return p->once[i].line;
	return 0;
}

static void remember(struct parser *p, const void *owner, const char *name)
{
	p->once = xreallocarray(p->once, p->n_once + 1, sizeof *p->once);
	p->once[p->n_once].owner = owner;
	p->once[p->n_once].name = xstrdup(name);
	p->once[p->n_once++].line = p->at.lineno;
}

/* ---- lines ---- */

static int set_family(struct parser *p, const struct ini_key *k,
    const char *key, const char *v)
{
	int line = first_line(p, k, key), r;

	if (line)
		return ini_fail(&p->at, "[%s] %s = %s: duplicate key (first set "
		    "on line %d)", p->at.section, key, esc(v), line);
	if ((r = k->family(&p->at, p->base, k, key, v)) != 0)
		return r;
	remember(p, k, key);
	return 0;
}

static int control_char(const char *v)
{
	for (const char *q = v; *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\t')
			return 1;
	return 0;
}

static int set_key(struct parser *p, const char *key, const char *v)
{
	struct buf why = BUF_INIT(MSG_MAX);
	const struct ini_key *k = find_key(p->sec, key);
	int *seen, r;

	if (k == NULL) {
		add_keys_of(&why, p->sec);
		r = ini_fail(&p->at, "[%s] %s: unknown key (keys of [%s%s]: %s)",
		    p->at.section, *key ? esc(key) : "(no key before =)",
		    p->sec->name, p->sec->add ? " NAME" : "", buf_cstr(&why));
	} else if (control_char(v)) {
		buf_adds(&why, "control character in value; ");
		must_be(k, &why);
		r = ini_fail_value(&p->at, key, v, buf_cstr(&why));
	} else if (k->type == CT_FAMILY)
		r = set_family(p, k, key, v);
	else if (*(seen = &p->seen[p->first + (size_t)(k - p->sec->keys)]))
		r = ini_fail(&p->at, "[%s] %s = %s: duplicate key (first set on "
		    "line %d)", p->at.section, key, esc(v), *seen);
	else {
		*seen = p->at.lineno;
		r = set_value(p->base, k, v, p->dir, &why) ?
		    ini_fail_value(&p->at, key, v, buf_cstr(&why)) : 0;
	}
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

static int defaults(void *base, const struct ini_section *sec)
{
	struct buf why = BUF_INIT(MSG_MAX);
	int r = 0;

	for (const struct ini_key *k = sec->keys; k->key && r == 0; k++)
		if (k->dflt && set_value(base, k, k->dflt, NULL, &why))
			r = err_set(ERR_INVAL, "built-in default of [%s] %s = %s: %s",
			    sec->name, k->key, k->dflt, buf_cstr(&why));
	buf_free(&why);
	return r;
}

/* The required keys of the section being left: for a named instance
 * "FILE:HEADER-LINE: [name NAME] key is required: must be ...". */
static int check_required(struct parser *p)
{
	struct buf why = BUF_INIT(MSG_MAX);
	struct ini_at at = p->at;
	int r = 0;

	if (p->sec == NULL || p->sec->add == NULL)
		return 0;
	at.lineno = p->hdr_line;
	for (const struct ini_key *k = p->sec->keys; k->key && r == 0; k++)
		if ((k->flags & INI_REQUIRED) &&
		    !p->seen[p->first + (size_t)(k - p->sec->keys)]) {
			must_be(k, &why);
			r = ini_fail(&at, "[%s] %s is required: %s", at.section,
			    k->key, buf_cstr(&why));
		}
	buf_free(&why);
	return r;
}

static size_t first_row(const struct ini_section *schema,
    const struct ini_section *sec)
{
	size_t n = 0;

	for (const struct ini_section *s = schema; s->name && s != sec; s++)
		for (const struct ini_key *k = s->keys; k->key; k++)
			n++;
	return n;
}

/* "[name NAME]": a new instance of a named section. */
static int open_named(struct parser *p, const struct ini_section *sec,
    const char *name)
{
	size_t n = 0;
	int line;

	if (!name_valid(name))
		return ini_fail(&p->at, "[%s %s]: must be [%s NAME], NAME 1 to 64 "
		    "of A-Za-z0-9._- not starting with a dot", sec->name,
		    esc(name), sec->name);
	if ((line = first_line(p, sec, name)) != 0)
		return ini_fail(&p->at, "duplicate section [%s %s] (first on line "
		    "%d)", sec->name, name, line);
	remember(p, sec, name);
	p->base = sec->add(p->conf, name, p->at.lineno);
	p->hdr_line = p->at.lineno;
	snprintf(p->secname, sizeof p->secname, "%s %s", sec->name, name);
	for (const struct ini_key *k = sec->keys; k->key; k++)
		p->seen[p->first + n++] = 0;
	return defaults(p->base, sec);
}

static int section_line(struct parser *p, char *line)
{
	struct buf list = BUF_INIT(MSG_MAX);
	char *end = strrchr(line, ']'), *name = NULL;
	const struct ini_section *sec = NULL;
	size_t len;
	int r;

	add_sections(&list, p->schema);
	if (end == NULL || end[1] != '\0' || end == line + 1) {
		r = ini_fail(&p->at, "%s: malformed section header (expected "
		    "[NAME], NAME one of %s)", esc(line), buf_cstr(&list));
		goto out;
	}
	*end = '\0';
	len = strcspn(line + 1, " \t");
	sec = find_section(p->schema, line + 1, len);
	if (sec == NULL || (sec->add == NULL && line[1 + len] != '\0')) {
		r = ini_fail(&p->at, "[%s]: unknown section (sections: %s)",
		    esc(line + 1), buf_cstr(&list));
		goto out;
	}
	if (sec->add && *(name = trim(line + 1 + len)) == '\0') {
		r = ini_fail(&p->at, "[%s]: must be [%s NAME], NAME 1 to 64 of "
		    "A-Za-z0-9._- not starting with a dot", esc(line + 1),
		    sec->name);
		goto out;
	}
	if ((r = check_required(p)) != 0)
		goto out;
	p->sec = sec;
	p->first = first_row(p->schema, sec);
	p->at.section = p->secname;
	snprintf(p->secname, sizeof p->secname, "%s", sec->name);
	p->base = (char *)p->conf + sec->off;
	if (sec->add)
		r = open_named(p, sec, name);
out:
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
		if (p->sec)
			return ini_fail(&p->at, "[%s] %s: expected KEY = VALUE, a "
			    "[SECTION] header or a # comment", p->at.section,
			    esc(line));
		return ini_fail(&p->at, "%s: expected KEY = VALUE, a [SECTION] "
		    "header or a # comment", esc(line));
	}
	*eq = '\0';
	k = trim(line);
	v = trim(eq + 1);
	if (p->sec == NULL) {
		add_sections(&list, p->schema);
		r = ini_fail(&p->at, "%s = %s: key outside of any section "
		    "(sections: %s)", esc(k), esc(v), buf_cstr(&list));
		buf_free(&list);
		return r;
	}
	return set_key(p, k, v);
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

static int parse_file(struct parser *p, FILE *f)
{
	char line[LINE_MAX_LEN + 1];
	const char *s;
	int r;

	for (;;) {
		p->at.lineno++;
		if ((r = read_line(f, line, sizeof line)) < 0) {
			s = p->at.section;
			return ini_fail(&p->at, "%s%s%s%s", s ? "[" : "",
			    s ? s : "", s ? "] " : "", r == -1 ? "line longer "
			    "than " STR(LINE_MAX_LEN) " bytes" : "NUL byte in line");
		}
		if (r == 0)
			break;
		if ((r = parse_line(p, line)) != 0)
			return r;
	}
	if (ferror(f))
		return err_sys("%s", p->at.path);
	return check_required(p);
}

static int fixed_defaults(struct parser *p)
{
	int r = 0;

	for (const struct ini_section *s = p->schema; s->name && r == 0; s++)
		if (s->add == NULL)
			r = defaults((char *)p->conf + s->off, s);
	return r;
}

/* Once the file is read: "FILE: [name] key is required: must be ...". */
static int fixed_required(struct parser *p)
{
	struct buf why = BUF_INIT(MSG_MAX);
	size_t n = 0;
	int r = 0;

	for (const struct ini_section *s = p->schema; s->name && r == 0; s++)
		for (const struct ini_key *k = s->keys; k->key && r == 0; k++, n++)
			if (!s->add && (k->flags & INI_REQUIRED) && !p->seen[n]) {
				must_be(k, &why);
				r = err_set(ERR_INVAL, "%s: [%s] %s is required: %s",
				    esc(p->at.path), s->name, k->key,
				    buf_cstr(&why));
			}
	buf_free(&why);
	return r;
}

static void parser_free(struct parser *p)
{
	for (size_t i = 0; i < p->n_once; i++)
		free(p->once[i].name);
	free(p->once);
	free(p->seen);
}

int ini_load(const struct ini_section *schema, const char *path, void *conf,
    char **file)
{
	struct parser p;
	char dirbuf[PATH_MAX];
	FILE *f;
	int r;

	memset(&p, 0, sizeof p);
	p.schema = schema;
	p.conf = conf;
	p.at.path = path;
	if ((f = fopen(path, "re")) == NULL)
		return err_sys("%s", path);
	if ((*file = realpath(path, NULL)) == NULL) {
		r = err_sys("%s", path);
		goto out;
	}
	snprintf(dirbuf, sizeof dirbuf, "%s", *file);
	p.dir = dirname(dirbuf);
	p.seen = xcalloc(first_row(schema, NULL) + 1, sizeof *p.seen);
	r = fixed_defaults(&p);
	if (r == 0 && (r = parse_file(&p, f)) == 0)
		r = fixed_required(&p);
out:
	parser_free(&p);
	fclose(f);
	return r;
}

void ini_free_keys(const struct ini_key *keys, void *base)
{
	for (const struct ini_key *k = keys; k->key; k++)
		if (is_string(k->type))
			free(*field(base, k));
}

void ini_free(const struct ini_section *schema, void *conf)
{
	for (const struct ini_section *s = schema; s->name; s++)
		if (s->add == NULL)
			ini_free_keys(s->keys, (char *)conf + s->off);
}

const struct ini_key *ini_row(const struct ini_section *schema, size_t i,
    const struct ini_section **sec)
{
	for (const struct ini_section *s = schema; s->name; s++)
		for (const struct ini_key *k = s->keys; k->key; k++)
			if (i-- == 0) {
				*sec = s;
				return k;
			}
	*sec = NULL;
	return NULL;
}

int ini_key_info(const struct ini_section *schema, size_t i,
    struct ini_key_info *out)
{
	const struct ini_section *sec;
	const struct ini_key *k = ini_row(schema, i, &sec);

	memset(out, 0, sizeof *out);
	if (k == NULL)
		return ERR_NOTFOUND;
	out->section = sec->name;
	out->key = k->key;
	out->desc = k->desc;
	out->dflt = k->dflt;
	return 0;
}
