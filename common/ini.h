/* ini.h: the typed-INI engine behind nodebak.conf(5) and pull.conf(5). A
 * schema is a list of sections, each a table of typed keys (type, offset,
 * default, bounds, description); parsing, value checks, defaults, freeing
 * and every error come from it, one line each:
 * "FILE:LINE: [section] key = value: must be ...". */
#ifndef NODEBAK_INI_H
#define NODEBAK_INI_H
#include <stddef.h>

enum ini_ctype {
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
	CT_FAMILY,	/* keys "prefix<x>", set by the row's family() */
	CT_SCHED,	/* schedule_parse(); empty: unset */
	CT_TEMPLATE,	/* schedule_name() */
	CT_HOST,	/* an IPv4 or IPv6 address or a DNS host name */
	CT_USER,	/* users_name_ok() */
	CT_RELPATH,	/* relative, no ".." component; kept as written */
	CT_HOSTKEY,	/* "SHA256:" + 43 base64 characters, or a CT_PATH */
	CT_RECIPIENTS,	/* age recipients (age1...), space-separated; empty: none */
};

#define INI_REQUIRED 1	/* a row's flags: must be set, never empty */

/* Where a parse is, for errors: section is "name" or "name NAME". */
struct ini_at {
	const char *path;
	int lineno;
	const char *section;
};

struct ini_key;
/* CT_FAMILY: store value v of key (the full "prefix<x>" key) in base.
 * 0, or ERR_INVAL having called ini_fail() or ini_fail_value(). The
 * engine has refused control characters and a repeated key before. */
typedef int ini_family_fn(const struct ini_at *at, void *base,
    const struct ini_key *k, const char *key, const char *v);

/* One row of a section's table. Tables end with a row whose key is NULL. */
struct ini_key {
	const char *key;	/* CT_FAMILY: "prefix<x>" */
	enum ini_ctype type;
	size_t off;		/* of the field, in the section's struct */
	const char *dflt;	/* NULL: unset */
	long long min, max;	/* CT_INT, CT_MODE, CT_SIZE, CT_DURATION */
	const char *enumv;	/* CT_ENUM: space-separated choices */
	const char *desc;	/* one line, for the man page checks */
	unsigned flags;		/* INI_REQUIRED */
	size_t off2;		/* CT_HOSTKEY: int field, 1: a fingerprint */
	ini_family_fn *family;	/* CT_FAMILY */
	const char *allowed;	/* CT_FAMILY: what a value must be */
};

/* A [name] section at a fixed offset in the config struct, or, with add,
 * a named one: each "[name NAME]" header (NAME: name_valid(), unique)
 * asks add() for a new instance, which the rows' offsets are relative to;
 * add() returns its address, zeroed apart from what add() set. A schema
 * is an array of sections ending with one whose name is NULL. */
struct ini_section {
	const char *name;
	const struct ini_key *keys;
	size_t off;
	void *(*add)(void *conf, const char *name, int line);
};

/* Read path into conf (zeroed by the caller) by schema: defaults, then
 * the file, then the required keys. *file gets the file's realpath (the
 * caller's to free, even on failure). 0, or ERR_INVAL (or the error
 * opening the file) with err_msg() one line as above. */
int ini_load(const struct ini_section *schema, const char *path, void *conf,
    char **file);
/* Free the strings of the fixed sections of conf (not conf itself). */
void ini_free(const struct ini_section *schema, void *conf);
/* Free the strings of one instance of a section with table keys. */
void ini_free_keys(const struct ini_key *keys, void *base);
/* The i-th row of the schema (from 0, in order) and its section in *sec,
 * or NULL past the last. */
const struct ini_key *ini_row(const struct ini_section *schema, size_t i,
    const struct ini_section **sec);

/* One key of a schema, for checks that the documentation matches it. */
struct ini_key_info {
	const char *section;	/* "node", "database", ... */
	const char *key;	/* "name"; a family of keys as "interface_<x>" */
	const char *desc;	/* one line */
	const char *dflt;	/* the default as the file would say it, or NULL */
};
/* Fill *out with the i-th key of the schema (from 0, in order) and return
 * 0, or ERR_NOTFOUND past the last. The strings are static. */
int ini_key_info(const struct ini_section *schema, size_t i,
    struct ini_key_info *out);

/* For CT_FAMILY setters: the engine's errors, "FILE:LINE: " + fmt, and
 * "[section] key = v: why" (or "key is empty: why"). Return ERR_INVAL. */
int ini_fail(const struct ini_at *at, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int ini_fail_value(const struct ini_at *at, const char *key, const char *v,
    const char *why);
/* 1 when a is an IPv4 or IPv6 address (with an optional %scope). */
int ini_addr_ok(const char *a);

#endif
