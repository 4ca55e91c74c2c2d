/* manifest.c: canonical MANIFEST text, formatted and strictly parsed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "esc.h"
#include "manifest.h"
#include "names.h"
#include "ustar.h"
#include "xmalloc.h"
#include "banned.h"

/* Every member path a MANIFEST accepts has a tar header (ustar or pax). */
_Static_assert(MANIFEST_PATH_MAX <= USTAR_PATH_MAX, "member paths outgrow "
    "ustar_header()");

void manifest_init(struct manifest *mf)
{
	memset(mf, 0, sizeof *mf);
}

void manifest_free(struct manifest *mf)
{
	for (size_t i = 0; i < mf->n; i++)
		free(mf->m[i].path);
	free(mf->m);
	manifest_init(mf);
}

int manifest_path_ok(const char *path)
{
	size_t n = strlen(path);
	const char *c = path;

	if (n == 0 || n > MANIFEST_PATH_MAX || path[0] == '/' ||
	    path[n - 1] == '/')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)path[i];
		if (ch < 0x20 || ch == 0x7f || ch == '\\')
			return 0;
	}
	/* Check each component. */
	while (*c) {
		const char *e = strchr(c, '/');
		size_t len = e ? (size_t)(e - c) : strlen(c);
		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.') ||
		    c[0] == ' ' || c[len - 1] == ' ')
			return 0;
		c += len + (e ? 1 : 0);
	}
	return 1;
}

static int mode_ok(int is_dir, unsigned mode)
{
	return is_dir ? (mode == 0700 || mode == 0755) :
	    (mode == 0600 || mode == 0644);
}

static int sha_ok(const char *s)
{
	if (strlen(s) != SHA256_HEX_LEN)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

int manifest_add(struct manifest *mf, const char *path, int is_dir,
    unsigned mode, uint64_t size, const char *sha256)
{
	struct mf_member *m;

	if (!manifest_path_ok(path))
		return err_set(ERR_INVAL, "%s: not an acceptable member path",
		    esc(path));
	if (!mode_ok(is_dir, mode))
		return err_set(ERR_INVAL, "%s: mode %04o not allowed", esc(path),
		    mode);
	if (mf->n && strcmp(mf->m[mf->n - 1].path, path) >= 0)
		return err_set(ERR_INVAL, "%s: members out of order or repeated",
		    esc(path));
	if (!is_dir && (size > MANIFEST_SIZE_MAX || !sha_ok(sha256)))
		return err_set(ERR_INVAL, "%s: bad size or hash", esc(path));
	if (mf->n == mf->cap) {
		mf->cap = mf->cap ? mf->cap * 2 : 16;
		mf->m = xreallocarray(mf->m, mf->cap, sizeof *mf->m);
	}
	m = &mf->m[mf->n++];
	memset(m, 0, sizeof *m);
	m->path = xstrdup(path);
	m->is_dir = is_dir;
	m->mode = mode;
	m->size = is_dir ? 0 : size;
	if (!is_dir)
		memcpy(m->sha256, sha256, SHA256_HEX_LEN + 1);
	return 0;
}

void manifest_time(time_t t, char out[21])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int manifest_format(const struct manifest *mf, struct buf *b)
{
	char ts[21];
	int r;

	manifest_time(mf->created, ts);
	if ((r = buf_addf(b, "nodebak-manifest %d\nnode-name %s\nnode-id %s\n"
	    "software nodebak %s\nengine %s\nschema %ld\nsnapshot %s\n"
	    "created %s\nkey-id %s\nmembers %zu\n", manifest_needs_pax(mf) ?
	    MANIFEST_VERSION_PAX : MANIFEST_VERSION,
	    mf->node_name, mf->node_id, mf->software, mf->engine, mf->schema,
	    mf->snapshot, ts, mf->key_id, mf->n)) != 0)
		return r;
	for (size_t i = 0; i < mf->n; i++) {
		const struct mf_member *m = &mf->m[i];
		if (m->is_dir)
			r = buf_addf(b, "dir %04o %s\n", m->mode, m->path);
		else
			r = buf_addf(b, "file %s %llu %04o %s\n", m->sha256,
			    (unsigned long long)m->size, m->mode, m->path);
		if (r != 0)
			return r;
	}
	return buf_adds(b, "end\n");
}

/* Line cursor over the text; every line must end in '\n'. */
struct cursor {
	const char *p, *end;
	int lineno;
	char line[MANIFEST_PATH_MAX + 128];	/* a file line's fields and path */
};

static int next_line(struct cursor *c)
{
	const char *nl;
	size_t n;

	if (c->p >= c->end)
		return err_set(ERR_FORMAT, "MANIFEST: unexpected end after line %d",
		    c->lineno);
	nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	c->lineno++;
	if (nl == NULL)
		return err_set(ERR_FORMAT, "MANIFEST line %d: no newline", c->lineno);
	n = (size_t)(nl - c->p);
	if (n >= sizeof c->line || memchr(c->p, '\0', n))
		return err_set(ERR_FORMAT, "MANIFEST line %d: too long or NUL",
		    c->lineno);
	memcpy(c->line, c->p, n);
	c->line[n] = '\0';
	c->p = nl + 1;
	return 0;
}

/* Expect "key value" and copy value (which must satisfy ok) to out. */
static int field(struct cursor *c, const char *key, char *out, size_t outsz)
{
	size_t kl = strlen(key);
	int r;

	if ((r = next_line(c)) != 0)
		return r;
	if (strncmp(c->line, key, kl) || c->line[kl] != ' ' ||
	    c->line[kl + 1] == '\0' || strlen(c->line + kl + 1) >= outsz ||
	    strchr(c->line + kl + 1, ' '))
		return err_set(ERR_FORMAT, "MANIFEST line %d: expected '%s <value>'",
		    c->lineno, key);
	memcpy(out, c->line + kl + 1, strlen(c->line + kl + 1) + 1);
	return 0;
}

/* Strict unsigned decimal: no sign, no leading zeros. */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int parse_mode(const char *s, unsigned *out)
{
	unsigned v = 0;

	if (strlen(s) != 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int manifest_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	char back[21];
	const char *e;

	memset(&tm, 0, sizeof tm);
	e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (e == NULL || *e)
		return -1;
	*out = timegm(&tm);
	manifest_time(*out, back);
	return strcmp(back, s) ? -1 : 0;	/* canonical form only */
}

static int parse_member(struct cursor *c, struct manifest *mf)
{
	char *f[5] = { 0 }, *p = c->line;
	uint64_t size = 0;
	unsigned mode;
	int nf = 0, is_dir = !strncmp(p, "dir ", 4), r;

	/* Split at most 3 (dir: 2) spaces: the path is the rest and may hold
	 * spaces. */
	for (int want = is_dir ? 2 : 4; nf < want; nf++) {
		char *sp = strchr(p, ' ');
		if (sp == NULL)
			goto bad;
		*sp = '\0';
		f[nf] = p;
		p = sp + 1;
	}
	f[nf] = p;
	if (is_dir) {
		if (parse_mode(f[1], &mode))
			goto bad;
		r = manifest_add(mf, f[2], 1, mode, 0, NULL);
	} else {
		if (strcmp(f[0], "file") || !sha_ok(f[1]) ||
		    parse_u64(f[2], &size) || parse_mode(f[3], &mode))
			goto bad;
		r = manifest_add(mf, f[4], 0, mode, size, f[1]);
	}
	if (r != 0)
		return err_prefix(ERR_FORMAT, "MANIFEST line %d", c->lineno);
	return 0;
bad:
	return err_set(ERR_FORMAT, "MANIFEST line %d: malformed member line",
	    c->lineno);
}

int manifest_parse(const char *text, size_t len, size_t max_members,
    struct manifest *mf)
{
	struct cursor c = { text, text + len, 0, "" };
	char ver[8], sw[64], schema[24], ts[32], count[24];
	uint64_t n = 0, sch = 0;
	int r;

	manifest_init(mf);
	if (len > MANIFEST_MAX_BYTES)
		return err_set(ERR_FORMAT, "MANIFEST larger than %u bytes",
		    MANIFEST_MAX_BYTES);
	if ((r = field(&c, "nodebak-manifest", ver, sizeof ver)) != 0)
		goto out;
	if (strcmp(ver, "1") && strcmp(ver, "2")) {
		r = err_set(ERR_FORMAT, "MANIFEST format version %s is not supported",
		    esc(ver));
		goto out;
	}
	if ((r = field(&c, "node-name", mf->node_name, sizeof mf->node_name)) ||
	    (r = field(&c, "node-id", mf->node_id, sizeof mf->node_id)))
		goto out;
	if ((r = next_line(&c)) != 0)
		goto out;
	if (strncmp(c.line, "software nodebak ", 17) ||
	    strlen(c.line + 17) == 0 || strlen(c.line + 17) >= sizeof mf->software ||
	    strchr(c.line + 17, ' ')) {
		r = err_set(ERR_FORMAT, "MANIFEST line %d: expected 'software nodebak "
		    "<version>'", c.lineno);
		goto out;
	}
	snprintf(sw, sizeof sw, "%s", c.line + 17);
	memcpy(mf->software, sw, strlen(sw) + 1);
	if ((r = field(&c, "engine", mf->engine, sizeof mf->engine)) ||
	    (r = field(&c, "schema", schema, sizeof schema)) ||
	    (r = field(&c, "snapshot", mf->snapshot, sizeof mf->snapshot)) ||
	    (r = field(&c, "created", ts, sizeof ts)) ||
	    (r = field(&c, "key-id", mf->key_id, sizeof mf->key_id)) ||
	    (r = field(&c, "members", count, sizeof count)))
		goto out;
	r = ERR_FORMAT;
	if (!name_valid(mf->node_name) || !name_valid(mf->snapshot) ||
	    strlen(mf->node_id) != 36 || strlen(mf->key_id) != KEYID_HEX_LEN ||
	    (strcmp(mf->engine, "sqlite") && strcmp(mf->engine, "postgresql")) ||
	    parse_u64(schema, &sch) || sch > 1000000 ||
	    manifest_parse_time(ts, &mf->created) || parse_u64(count, &n)) {
		err_set(r, "MANIFEST: a header field has a bad value");
		goto out;
	}
	mf->schema = (long)sch;
	if (n > max_members) {
		r = err_set(ERR_TOOBIG, "MANIFEST lists %llu members, more than "
		    "the limit of %zu", (unsigned long long)n, max_members);
		goto out;
	}
	for (uint64_t i = 0; i < n; i++)
		if ((r = next_line(&c)) != 0 || (r = parse_member(&c, mf)) != 0)
			goto out;
	if ((r = next_line(&c)) != 0)
		goto out;
	if (strcmp(c.line, "end") || c.p != c.end) {
		r = err_set(ERR_FORMAT, "MANIFEST line %d: expected 'end' as the last "
		    "line", c.lineno);
		goto out;
	}
	if ((ver[0] == '2') != manifest_needs_pax(mf)) {
		r = err_set(ERR_FORMAT, "MANIFEST line 1: format version %s, but %s",
		    ver, ver[0] == '2' ? "no member needs a pax header (version 1)" :
		    "a member needs a pax header (version 2)");
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		manifest_free(mf);
	return r;
}

long manifest_find(const struct manifest *mf, const char *path)
{
	size_t lo = 0, hi = mf->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(mf->m[mid].path, path);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int manifest_needs_pax(const struct manifest *mf)
{
	unsigned char h[USTAR_BLOCK];

	for (size_t i = 0; i < mf->n; i++)
		if (ustar_format(h, mf->m[i].path, mf->m[i].is_dir, mf->m[i].mode,
		    mf->m[i].size, 0) != 0)
			return 1;
	return 0;
}

uint64_t manifest_total(const struct manifest *mf)
{
	uint64_t t = 0;

	for (size_t i = 0; i < mf->n; i++) {
		if (mf->m[i].size > UINT64_MAX - t)
			return UINT64_MAX;
		t += mf->m[i].size;
	}
	return t;
}
