/* sidecar.c: NAME.json parsed strictly (docs/bak-format.md "NAME.json"):
 * the only file that includes jansson.h. The text is hostile: every key is
 * expected, of its exact type and form, and nothing else is accepted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "json.h"
#include "sidecar.h"
#include "age.h"
#include "xmalloc.h"
#include "banned.h"

#define SIDECAR_FORMAT "nodebak-bak-json 1"
#define SIDECAR_FORMAT2 "nodebak-bak-json 2"
/* A MANIFEST of at most MANIFEST_MAX_BYTES cannot list more members: the
 * shortest member line ("dir 0700 a\n") is 11 bytes. */
#define SIDECAR_MAX_MEMBERS (MANIFEST_MAX_BYTES / 11)

/* One line, "WHAT: field X: reason"; ERR_FORMAT. */
static int bad(const char *what, const char *field, const char *reason)
{
	return err_set(ERR_FORMAT, "%s: field %s: %s", esc(what), field, reason);
}

static int hex_ok(const char *s, size_t len)
{
	if (strlen(s) != len)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* A string field into out (outsz bytes): its value, or an error. */
static int get_str(json_t *v, const char *what, const char *field, char *out,
    size_t outsz)
{
	if (!json_is_string(v))
		return bad(what, field, "not a string");
	if (json_string_length(v) >= outsz)
		return bad(what, field, "too long");
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* An integer field >= 0. */
static int get_uint(json_t *v, const char *what, const char *field,
    uint64_t *out)
{
	if (!json_is_integer(v))
		return bad(what, field, "not an integer");
	if (json_integer_value(v) < 0)
		return bad(what, field, "negative");
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* Every key of obj is one of keys (NULL-terminated). */
static int only_keys(json_t *obj, const char *const *keys, const char *what,
    const char *prefix)
{
	const char *k;
	json_t *v;
	char field[128];

	json_object_foreach(obj, k, v) {
		size_t i;
		for (i = 0; keys[i] && strcmp(keys[i], k); i++)
			;
		if (keys[i] == NULL) {
			snprintf(field, sizeof field, "%s%s", prefix, esc(k));
			return bad(what, field, "unknown (the format has no such "
			    "field)");
		}
	}
	return 0;
}

static int f_format(json_t *v, const char *what, struct sidecar *sc)
{
	char s[32];
	int r;

	if ((r = get_str(v, what, "format", s, sizeof s)) != 0)
		return r;
	if (!strcmp(s, SIDECAR_FORMAT))
		sc->encrypted = 0;
	else if (!strcmp(s, SIDECAR_FORMAT2))
		sc->encrypted = 1;
	else
		return bad(what, "format", "not \"" SIDECAR_FORMAT "\" or \""
		    SIDECAR_FORMAT2 "\"");
	return 0;
}

static int f_file(json_t *v, const char *what, struct sidecar *sc)
{
	char name[NAME_MAX_LEN + 1];
	int r;

	if ((r = get_str(v, what, "file", sc->file, sizeof sc->file)) != 0)
		return r;
	if (name_from_bak(sc->file, name, sizeof name) != 0)
		return bad(what, "file", "not NAME.bak (names are 1 to 64 of "
		    "A-Za-z0-9._- and do not start with a dot)");
	return 0;
}

static int f_size(json_t *v, const char *what, struct sidecar *sc)
{
	return get_uint(v, what, "size", &sc->size);
}

static int f_sha256(json_t *v, const char *what, struct sidecar *sc)
{
	int r;

	if ((r = get_str(v, what, "sha256", sc->sha256, sizeof sc->sha256)) != 0)
		return r;
	if (!hex_ok(sc->sha256, SHA256_HEX_LEN))
		return bad(what, "sha256", "not 64 lower-case hex digits");
	return 0;
}

static int f_node(json_t *v, const char *what, struct sidecar *sc)
{
	static const char *const keys[] = { "name", "id", NULL };
	json_t *name, *id;
	int r;

	if (!json_is_object(v))
		return bad(what, "node", "not an object");
	if ((name = json_object_get(v, "name")) == NULL)
		return bad(what, "node.name", "missing");
	if ((id = json_object_get(v, "id")) == NULL)
		return bad(what, "node.id", "missing");
	if ((r = only_keys(v, keys, what, "node.")) != 0 ||
	    (r = get_str(name, what, "node.name", sc->node_name,
	    sizeof sc->node_name)) != 0 ||
	    (r = get_str(id, what, "node.id", sc->node_id,
	    sizeof sc->node_id)) != 0)
		return r;
	if (!name_valid(sc->node_name))
		return bad(what, "node.name", "not a node name (1 to 64 of "
		    "A-Za-z0-9._-, not starting with a dot)");
	if (!node_id_valid(sc->node_id))
		return bad(what, "node.id", "not a node id (a UUID: 8-4-4-4-12 "
		    "lower-case hex digits)");
	return 0;
}

static int f_snapshot(json_t *v, const char *what, struct sidecar *sc)
{
	int r;

	if ((r = get_str(v, what, "snapshot", sc->snapshot,
	    sizeof sc->snapshot)) != 0)
		return r;
	if (!name_valid(sc->snapshot))
		return bad(what, "snapshot", "not a snapshot name (1 to 64 of "
		    "A-Za-z0-9._-, not starting with a dot)");
	return 0;
}

static int f_created(json_t *v, const char *what, struct sidecar *sc)
{
	time_t t;
	int r;

	if ((r = get_str(v, what, "created", sc->created,
	    sizeof sc->created)) != 0)
		return r;
	if (manifest_parse_time(sc->created, &t) != 0)
		return bad(what, "created", "not a UTC time YYYY-MM-DDTHH:MM:SSZ");
	return 0;
}

static int f_key_id(json_t *v, const char *what, struct sidecar *sc)
{
	int r;

	if ((r = get_str(v, what, "key_id", sc->key_id, sizeof sc->key_id)) != 0)
		return r;
	if (!hex_ok(sc->key_id, KEYID_HEX_LEN))
		return bad(what, "key_id", "not 16 lower-case hex digits");
	return 0;
}

static int f_software(json_t *v, const char *what, struct sidecar *sc)
{
	char s[64];
	int r;

	(void)sc;
	if ((r = get_str(v, what, "software", s, sizeof s)) != 0)
		return r;
	if (strncmp(s, "nodebak ", 8) || s[8] == '\0')
		return bad(what, "software", "not \"nodebak VERSION\"");
	return 0;
}

static int f_engine(json_t *v, const char *what, struct sidecar *sc)
{
	char s[16];
	int r;

	(void)sc;
	if ((r = get_str(v, what, "engine", s, sizeof s)) != 0)
		return r;
	if (strcmp(s, "sqlite") && strcmp(s, "postgresql"))
		return bad(what, "engine", "not sqlite or postgresql");
	return 0;
}

static int f_schema(json_t *v, const char *what, struct sidecar *sc)
{
	uint64_t schema;

	(void)sc;
	return get_uint(v, what, "schema", &schema);
}

/* A string member field that must be there: into out. */
static int member_str(json_t *m, const char *prefix, const char *key,
    const char *what, char *out, size_t outsz)
{
	char field[64];
	json_t *v = json_object_get(m, key);

	snprintf(field, sizeof field, "%s%s", prefix, key);
	if (v == NULL)
		return bad(what, field, "missing");
	return get_str(v, what, field, out, outsz);
}

/* A member path that is not UTF-8: "path_hex" holds its bytes, and
 * "path" must be them as json_str() renders them (U+FFFD for each byte
 * not part of a UTF-8 sequence). The path's bytes into raw. */
static int member_path_hex(json_t *m, const char *prefix, const char *what,
    const char *path, char raw[MANIFEST_PATH_MAX + 1])
{
	char hex[2 * MANIFEST_PATH_MAX + 1], field[64];
	struct buf text = BUF_INIT(3 * MANIFEST_PATH_MAX);
	size_t n;
	int r, same;

	if ((r = member_str(m, prefix, "path_hex", what, hex, sizeof hex)) != 0)
		return r;
	snprintf(field, sizeof field, "%spath_hex", prefix);
	n = strlen(hex);
	if (n == 0 || n % 2 || !hex_ok(hex, n) ||
	    hex_decode(hex, (unsigned char *)raw, n / 2) != 0 ||
	    memchr(raw, '\0', n / 2) != NULL)
		return bad(what, field, "not the lower-case hex of a path");
	raw[n / 2] = '\0';
	if (json_utf8_valid(raw))
		return bad(what, field, "given for a path that is UTF-8");
	same = json_utf8_text(&text, raw) == 0 && text.len == strlen(path) &&
	    !memcmp(text.p, path, text.len);
	buf_free(&text);
	if (!same) {
		snprintf(field, sizeof field, "%spath", prefix);
		return bad(what, field, "not path_hex's bytes with U+FFFD for "
		    "each byte that is not UTF-8");
	}
	return 0;
}

/* members[i]: {"path", "type": "file", "size", "mode", "sha256"} or
 * {"path", "type": "dir", "mode"}, each with "path_hex" too when the
 * path is not UTF-8. */
static int member(json_t *m, size_t i, const char *what)
{
	static const char *const fkeys[] = { "path", "path_hex", "type", "size",
	    "mode", "sha256", NULL };
	static const char *const dkeys[] = { "path", "path_hex", "type", "mode",
	    NULL };
	char field[64], prefix[48], path[3 * MANIFEST_PATH_MAX + 1], type[8];
	char raw[MANIFEST_PATH_MAX + 1], mode[8], sha[SHA256_HEX_LEN + 1];
	uint64_t size;
	json_t *v;
	int r, is_dir;

	snprintf(prefix, sizeof prefix, "members[%zu].", i);
	snprintf(field, sizeof field, "members[%zu]", i);
	if (!json_is_object(m))
		return bad(what, field, "not an object");
	if ((r = member_str(m, prefix, "path", what, path, sizeof path)) != 0 ||
	    (r = member_str(m, prefix, "type", what, type, sizeof type)) != 0)
		return r;
	if (json_object_get(m, "path_hex") != NULL) {
		if ((r = member_path_hex(m, prefix, what, path, raw)) != 0)
			return r;
	}
	snprintf(field, sizeof field, "%spath", prefix);
	if (json_object_get(m, "path_hex") == NULL) {
		if (strlen(path) > MANIFEST_PATH_MAX)
			return bad(what, field, "longer than a member path");
		memcpy(raw, path, strlen(path) + 1);
	}
	if (!manifest_path_ok(raw))
		return bad(what, field, "not a member path");
	snprintf(field, sizeof field, "%stype", prefix);
	if (strcmp(type, "file") && strcmp(type, "dir"))
		return bad(what, field, "not \"file\" or \"dir\"");
	is_dir = !strcmp(type, "dir");
	if ((r = member_str(m, prefix, "mode", what, mode, sizeof mode)) != 0 ||
	    (r = only_keys(m, is_dir ? dkeys : fkeys, what, prefix)) != 0)
		return r;
	snprintf(field, sizeof field, "%smode", prefix);
	if (is_dir ? strcmp(mode, "0700") && strcmp(mode, "0755") :
	    strcmp(mode, "0600") && strcmp(mode, "0644"))
		return bad(what, field, is_dir ? "not \"0700\" or \"0755\"" :
		    "not \"0600\" or \"0644\"");
	if (is_dir)
		return 0;
	snprintf(field, sizeof field, "%ssize", prefix);
	if ((v = json_object_get(m, "size")) == NULL)
		return bad(what, field, "missing");
	if ((r = get_uint(v, what, field, &size)) != 0 ||
	    (r = member_str(m, prefix, "sha256", what, sha, sizeof sha)) != 0)
		return r;
	snprintf(field, sizeof field, "%ssha256", prefix);
	if (!hex_ok(sha, SHA256_HEX_LEN))
		return bad(what, field, "not 64 lower-case hex digits");
	return 0;
}

static int f_members(json_t *v, const char *what, struct sidecar *sc)
{
	size_t i;
	json_t *m;
	int r;

	if (!json_is_array(v))
		return bad(what, "members", "not an array");
	if (sc->encrypted && json_array_size(v) != 0)
		return bad(what, "members", "not empty in an encrypted archive's "
		    "description");
	if (json_array_size(v) > SIDECAR_MAX_MEMBERS)
		return bad(what, "members", "more members than a MANIFEST can list");
	json_array_foreach(v, i, m)
		if ((r = member(m, i, what)) != 0)
			return r;
	return 0;
}

/* Format 2 (a sealed archive): "encrypted": {"format": "age-v1",
 * "recipients": ["age1...", ...]}. */
static int f_encrypted(json_t *v, const char *what, struct sidecar *sc)
{
	static const char *const keys[] = { "format", "recipients", NULL };
	json_t *f, *rs, *x;
	size_t i;
	int r;

	if (!json_is_object(v))
		return bad(what, "encrypted", "not an object");
	if ((r = only_keys(v, keys, what, "encrypted.")) != 0)
		return r;
	f = json_object_get(v, "format");
	if (!json_is_string(f) || strcmp(json_string_value(f), "age-v1"))
		return bad(what, "encrypted.format", "not \"age-v1\"");
	rs = json_object_get(v, "recipients");
	if (!json_is_array(rs) || json_array_size(rs) == 0 ||
	    json_array_size(rs) > AGE_MAX_RECIPIENTS)
		return bad(what, "encrypted.recipients", "not an array of 1 to 64 "
		    "age recipients");
	json_array_foreach(rs, i, x) {
		struct age_recipient rc;
		if (!json_is_string(x) ||
		    age_recipient_parse(json_string_value(x), &rc) != 0)
			return bad(what, "encrypted.recipients", "holds something "
			    "other than an age recipient (age1...)");
	}
	sc->nrec = json_array_size(rs);
	return 0;
}

/* Every field of format version 1, in the writer's order: "format" first,
 * so that another version is reported as such. */
static const struct field {
	const char *key;
	int (*check)(json_t *v, const char *what, struct sidecar *sc);
} fields[] = {
	{ "format", f_format },
	{ "file", f_file },
	{ "size", f_size },
	{ "sha256", f_sha256 },
	{ "node", f_node },
	{ "snapshot", f_snapshot },
	{ "created", f_created },
	{ "key_id", f_key_id },
	{ "software", f_software },
	{ "engine", f_engine },
	{ "schema", f_schema },
	{ "encrypted", f_encrypted },	/* format 2 only */
	{ "members", f_members },
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static int check_object(json_t *root, const char *what, struct sidecar *sc)
{
	const char *keys[NFIELDS + 1];
	json_t *v;
	int r;

	size_t nk = 0;

	for (size_t i = 0; i < NFIELDS; i++) {
		if (fields[i].check == f_encrypted && !sc->encrypted)
			continue;
		keys[nk++] = fields[i].key;
		if ((v = json_object_get(root, fields[i].key)) == NULL)
			return bad(what, fields[i].key, "missing");
		if ((r = fields[i].check(v, what, sc)) != 0)
			return r;
	}
	keys[nk] = NULL;
	return only_keys(root, keys, what, "");
}

int sidecar_parse(const char *text, size_t len, const char *what,
    struct sidecar *out)
{
	struct sidecar sc;
	json_error_t jerr;
	json_t *root;
	int r;

	memset(out, 0, sizeof *out);
	memset(&sc, 0, sizeof sc);
	if (len > SIDECAR_MAX_BYTES)
		return err_set(ERR_TOOBIG, "%s: larger than %d bytes", esc(what),
		    SIDECAR_MAX_BYTES);
	/* jansson would stop at a NUL byte or report it vaguely. */
	if (memchr(text, '\0', len) != NULL)
		return err_set(ERR_FORMAT, "%s: not JSON: a NUL byte at offset %zu",
		    esc(what), (size_t)((const char *)memchr(text, '\0', len) -
		    text));
	if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return err_set(ERR_FORMAT, "%s: not JSON: %s (line %d, column %d)",
		    esc(what), esc(jerr.text), jerr.line, jerr.column);
	if (!json_is_object(root))
		r = err_set(ERR_FORMAT, "%s: not a JSON object", esc(what));
	else
		r = check_object(root, what, &sc);
	json_decref(root);
	if (r == 0)
		*out = sc;
	return r;
}

int sidecar_load(const char *path, struct sidecar *out)
{
	struct buf b = BUF_INIT(SIDECAR_MAX_BYTES);
	int r;

	memset(out, 0, sizeof *out);
	if ((r = fs_read_file(path, SIDECAR_MAX_BYTES, &b)) == ERR_TOOBIG)
		r = err_set(ERR_TOOBIG, "%s: larger than %d bytes", esc(path),
		    SIDECAR_MAX_BYTES);
	if (r == 0)
		r = sidecar_parse(b.p ? b.p : "", b.len, path, out);
	buf_free(&b);
	return r;
}

char *sidecar_path(const char *bak_path)
{
	size_t n = strlen(bak_path);
	char *p;

	if (n < 4 || strcmp(bak_path + n - 4, ".bak"))
		return NULL;
	p = xmalloc(n + 2);
	memcpy(p, bak_path, n - 4);
	memcpy(p + n - 4, ".json", 6);
	return p;
}

/* The .json's name for messages: NAME.json from the sidecar's file. */
static int differs(const struct sidecar *sc, const char *field,
    const char *says, const char *signed_value)
{
	char json[NAME_MAX_LEN + 8];

	snprintf(json, sizeof json, "%.*s.json", (int)strlen(sc->file) - 4,
	    sc->file);
	return err_set(ERR_MISMATCH, "%s: field %s: says %s, the signed MANIFEST "
	    "says %s", json, field, esc(says), esc(signed_value));
}

int sidecar_match_manifest(const struct sidecar *sc,
    const struct manifest *mf)
{
	char ts[21];

	manifest_time(mf->created, ts);
	if (strcmp(sc->node_id, mf->node_id))
		return differs(sc, "node.id", sc->node_id, mf->node_id);
	if (strcmp(sc->node_name, mf->node_name))
		return differs(sc, "node.name", sc->node_name, mf->node_name);
	if (strcmp(sc->snapshot, mf->snapshot))
		return differs(sc, "snapshot", sc->snapshot, mf->snapshot);
	if (strcmp(sc->created, ts))
		return differs(sc, "created", sc->created, ts);
	if (strcmp(sc->key_id, mf->key_id))
		return differs(sc, "key_id", sc->key_id, mf->key_id);
	return 0;
}

int sidecar_check_file(const struct sidecar *sc, const char *bak_path)
{
	char hex[SHA256_HEX_LEN + 1], *json = sidecar_path(bak_path);
	uint64_t size = 0;
	int r;

	if ((r = sha256_file(bak_path, hex, &size)) != 0)
		goto out;
	if (size != sc->size)
		r = err_set(ERR_MISMATCH, "%s: the file is not the one the snapshot "
		    "wrote (its size, %llu bytes, differs from the %llu that %s "
		    "records)", esc(bak_path), (unsigned long long)size,
		    (unsigned long long)sc->size, json ? esc(json) : "NAME.json");
	else if (strcmp(hex, sc->sha256))
		r = err_set(ERR_MISMATCH, "%s: the file is not the one the snapshot "
		    "wrote (its SHA-256 differs from the one %s records)",
		    esc(bak_path), json ? esc(json) : "NAME.json");
out:
	free(json);
	return r;
}
