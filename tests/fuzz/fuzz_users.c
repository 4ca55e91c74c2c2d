/* fuzz_users.c: libFuzzer target for the users file and authorized keys
 * parsers (common/users.c), what nodebak-ftpd reads for SSH password and
 * public key authentication. The input is a users file's text, then, after
 * the first "\n%%\n", an authorized_keys text given to every user parsed.
 * Aborts on a broken invariant: a user with a bad name, role or hash, a
 * users file that does not format back to the same users, or a key line a
 * small reference parser accepts that users_key_allowed() then refuses (or
 * a key it accepts that no line has). Built by `make fuzz`; run:
 *   tests/bin/fuzz_users -max_total_time=60 tests/fuzz/corpus/users */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "users.h"

#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "fuzz_users: %s:%d: %s\n", __FILE__, __LINE__, #c); \
	abort(); } } while (0)

#define SEP "\n%%\n"
#define PATH "/nonexistent/users"

/* The names users_parse() accepted, read back from users_format()'s text:
 * "NAME:ROLE:HASH" lines after one comment line. */
struct row {
	char *name, *role, *hash;
};

static size_t rows_of(char *text, struct row *rows, size_t max)
{
	size_t n = 0;
	char *line, *next;

	for (line = text; line && *line; line = next) {
		char *c1, *c2;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '#')
			continue;
		CHECK(n < max);
		CHECK((c1 = strchr(line, ':')) != NULL);
		CHECK((c2 = strchr(c1 + 1, ':')) != NULL);
		*c1 = *c2 = '\0';
		rows[n].name = line;
		rows[n].role = c1 + 1;
		rows[n].hash = c2 + 1;
		n++;
	}
	return n;
}

static int starts(const char *s, size_t len, const char *prefix)
{
	return len >= strlen(prefix) && !memcmp(s, prefix, strlen(prefix));
}

/* The reference key line parser: "TYPE BLOB[ COMMENT]" after blanks, TYPE
 * one of OpenSSH's prefixes, BLOB non-empty base64. Returns 1 and the
 * malloc'ed type and blob for a key line. */
static int ref_key(const char *line, size_t len, char **type, char **blob)
{
	size_t i = 0, t0, t1, b0, b1;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i < len && line[i] == '#' && i == 0)
		return 0;
	t0 = i;
	if (!starts(line + i, len - i, "ssh-") &&
	    !starts(line + i, len - i, "ecdsa-") &&
	    !starts(line + i, len - i, "sk-"))
		return 0;
	while (i < len && line[i] != ' ')
		i++;
	if (i == len)
		return 0;
	t1 = i++;
	b0 = i;
	while (i < len && line[i] != ' ')
		i++;
	b1 = i;
	if (b1 == b0)
		return 0;
	for (size_t k = b0; k < b1; k++)
		if (!isalnum((unsigned char)line[k]) && line[k] != '+' &&
		    line[k] != '/' && line[k] != '=')
			return 0;
	*type = strndup(line + t0, t1 - t0);
	*blob = strndup(line + b0, b1 - b0);
	CHECK(*type && *blob);
	return 1;
}

/* Every key line of keys (up to its first NUL) is allowed for name. */
static void check_keys(const struct users *u, const char *name,
    const char *keys, size_t klen)
{
	const char *line = keys, *end = keys + strnlen(keys, klen), *nl;

	for (; line < end; line = nl + 1) {
		char *type, *blob;
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		if (ref_key(line, (size_t)(nl - line), &type, &blob)) {
			CHECK(users_key_allowed(u, name, type, blob) == 0);
			free(type);
			free(blob);
		}
	}
	/* '-' is not base64: no stored key has this blob. */
	CHECK(users_key_allowed(u, name, "ssh-ed25519", "no-such-key") ==
	    ERR_DENIED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *keys = NULL, *sep;
	struct buf f = BUF_INIT(4u << 20), g = BUF_INIT(4u << 20);
	struct row rows[1001], rows2[1001];
	size_t ulen = size, klen = 0, n, n2;
	struct users *u = NULL, *u2 = NULL;
	enum role role;
	int r;

	if ((sep = memmem(data, size, SEP, strlen(SEP))) != NULL) {
		ulen = (size_t)(sep - text);
		keys = sep + strlen(SEP);
		klen = size - ulen - strlen(SEP);
	}
	r = users_parse(PATH, text, ulen, &u);
	CHECK(r == 0 || r == ERR_FORMAT || r == ERR_TOOBIG);
	CHECK((r == 0) == (u != NULL));
	if (r != 0)
		return 0;
	CHECK(users_format(u, &f) == 0);

	/* Canonical form: what users_format() writes parses to the same. */
	CHECK(users_parse(PATH, buf_cstr(&f), f.len, &u2) == 0);
	CHECK(users_format(u2, &g) == 0);
	CHECK(g.len == f.len && !memcmp(g.p, f.p, f.len));

	n = rows_of(f.p, rows, sizeof rows / sizeof rows[0]);
	n2 = rows_of(g.p, rows2, sizeof rows2 / sizeof rows2[0]);
	CHECK(n2 == n);
	for (size_t i = 0; i < n; i++) {
		CHECK(users_name_ok(rows[i].name));
		CHECK(role_parse(rows[i].role, &role) == 0);
		CHECK(role != ROLE_NONE);
		CHECK(rows[i].hash[0] == '$');
		CHECK(users_role(u, rows[i].name, &role) == 0);
		if (keys) {
			CHECK(users_parse_keys(u, rows[i].name, keys, klen) == 0);
			check_keys(u, rows[i].name, keys, klen);
		}
	}
	CHECK(users_role(u, "-not-a-name", &role) == ERR_NOTFOUND);
	CHECK(users_parse_keys(u, "-not-a-name", "", 0) == ERR_NOTFOUND);

	users_free(u2);
	users_free(u);
	buf_free(&f);
	buf_free(&g);
	return 0;
}
