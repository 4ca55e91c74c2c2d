/* t_sidecar.c: NAME.json: a sidecar as snapshot.c writes it parses; every
 * malformed variant is refused with a message naming the field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "fsutil.h"
#include "json.h"
#include "manifest.h"
#include "sidecar.h"
#include "tap.h"

/* As snapshot.c's write_json() writes it (copied from a test archive). */
static const char *GOOD =
	"{\n  \"format\": \"nodebak-bak-json 1\",\n  \"file\": \"nightly.bak\",\n"
	"  \"size\": 7188,\n  \"sha256\": \"2c26b46b68ffc68ff99b453c1d30413413422d"
	"706483bfa0f98a5e886266e7ae\",\n  \"node\": {\"name\": \"cms2\", \"id\": "
	"\"fce5577c-7c2a-4a2a-9232-507634ec0419\"},\n  \"snapshot\": \"nightly\",\n"
	"  \"created\": \"2026-11-28T08:03:25Z\",\n  \"key_id\": "
	"\"888339ba8bb31d41\",\n  \"software\": \"nodebak 0.1.0\",\n  \"engine\": "
	"\"sqlite\",\n  \"schema\": 1,\n  \"members\": [\n    {\"path\": "
	"\"cluster\", \"type\": \"dir\", \"mode\": \"0700\"},\n    {\"path\": "
	"\"db/node.db\", \"type\": \"file\", \"size\": 36864, \"mode\": \"0600\", "
	"\"sha256\": \"fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf"
	"8fb9\"}\n  ]\n}\n";

/* Parse GOOD with one substitution; 1 when refused with a message that
 * contains want. */
static int refused(const char *from, const char *to, const char *want)
{
	struct sidecar sc;
	struct buf b = BUF_INIT(SIDECAR_MAX_BYTES * 2);
	const char *p = strstr(GOOD, from);
	int r, hit;

	if (p == NULL)
		return 0;
	buf_add(&b, GOOD, (size_t)(p - GOOD));
	buf_add(&b, to, strlen(to));
	buf_adds(&b, p + strlen(from));
	r = sidecar_parse(b.p, b.len, "t.json", &sc);
	hit = r != 0 && strstr(err_msg(), want) != NULL &&
	    strchr(err_msg(), '\n') == NULL;
	if (!hit)
		printf("# got %d: %s\n", r, err_msg());
	buf_free(&b);
	return hit;
}

static void good(void)
{
	struct sidecar sc;
	struct manifest mf;
	time_t t;

	ok(sidecar_parse(GOOD, strlen(GOOD), "t.json", &sc) == 0 &&
	    !strcmp(sc.file, "nightly.bak") && sc.size == 7188 &&
	    !strcmp(sc.node_name, "cms2") && !strcmp(sc.snapshot, "nightly") &&
	    !strcmp(sc.created, "2026-11-28T08:03:25Z") &&
	    !strcmp(sc.key_id, "888339ba8bb31d41") &&
	    !strncmp(sc.sha256, "2c26b46b", 8) &&
	    !strcmp(sc.node_id, "fce5577c-7c2a-4a2a-9232-507634ec0419"),
	    "sidecar: the writer's NAME.json parses, every field read");
	manifest_init(&mf);
	snprintf(mf.node_name, sizeof mf.node_name, "cms2");
	snprintf(mf.node_id, sizeof mf.node_id, "%s", sc.node_id);
	snprintf(mf.snapshot, sizeof mf.snapshot, "nightly");
	snprintf(mf.key_id, sizeof mf.key_id, "888339ba8bb31d41");
	manifest_parse_time("2026-11-28T08:03:25Z", &t);
	mf.created = t;
	ok(sidecar_match_manifest(&sc, &mf) == 0, "sidecar: matches its MANIFEST");
	snprintf(mf.snapshot, sizeof mf.snapshot, "other");
	ok(sidecar_match_manifest(&sc, &mf) == ERR_MISMATCH &&
	    strstr(err_msg(), "nightly.json: field snapshot: says nightly, the "
	    "signed MANIFEST says other"), "sidecar: a MANIFEST that differs "
	    "names the field (%s)", err_msg());
	manifest_free(&mf);
}

static void malformed(void)
{
	static const struct { const char *from, *to, *want, *name; } v[] = {
	{ "\"size\": 7188,\n", "", "field size: missing", "missing field" },
	{ "\"size\": 7188", "\"size\": \"7188\"", "field size: not an integer",
	  "size a string" },
	{ "\"size\": 7188", "\"size\": 7188.0", "field size: not an integer",
	  "size a real" },
	{ "\"size\": 7188", "\"size\": -1", "field size: negative", "negative size" },
	{ "\"schema\": 1", "\"schema\": true", "field schema: not an integer",
	  "schema a boolean" },
	{ "\"size\": 7188,", "\"size\": 7188, \"size\": 7188,",
	  "duplicate object key", "duplicate key" },
	{ "\"sha256\": \"2c26b46b", "\"sha256\": \"2C26B46B",
	  "field sha256: not 64 lower-case hex digits", "upper-case hex" },
	{ "\"sha256\": \"2c26b46b", "\"sha256\": \"2c26b46",
	  "field sha256: not 64 lower-case hex digits", "short hex" },
	{ "\"key_id\": \"888339ba8bb31d41\"", "\"key_id\": \"888339ba8bb31d4g\"",
	  "field key_id: not 16 lower-case hex digits", "bad key id" },
	{ "fce5577c-7c2a-4a2a-9232-507634ec0419", "fce5577c7c2a-4a2a-9232-5076-34ec0419",
	  "field node.id: not a node id", "uuid dashes misplaced" },
	{ "fce5577c-7c2a-4a2a-9232-507634ec0419", "FCE5577C-7C2A-4A2A-9232-507634EC0419",
	  "field node.id: not a node id", "upper-case uuid" },
	{ "{\"name\": \"cms2\", ", "{", "field node.name: missing", "node without name" },
	{ "\"name\": \"cms2\"", "\"name\": \".cms2\"", "field node.name: not a node name",
	  "bad node name" },
	{ "\"id\": \"fce", "\"ip\": \"1.2.3.4\", \"id\": \"fce",
	  "field node.ip: unknown", "extra key in node" },
	{ "2026-11-28T08:03:25Z", "2026-11-28 08:03:25Z", "field created: not a UTC time",
	  "time with a space" },
	{ "2026-11-28T08:03:25Z", "2026-02-30T08:03:25Z", "field created: not a UTC time",
	  "impossible date" },
	{ "2026-11-28T08:03:25Z", "2026-11-28T08:03:25", "field created: not a UTC time",
	  "time without Z" },
	{ "\"file\": \"nightly.bak\"", "\"file\": \"../x.bak\"", "field file: not NAME.bak",
	  "file with a slash" },
	{ "\"file\": \"nightly.bak\"", "\"file\": \"nightly.tar\"", "field file: not NAME.bak",
	  "file not .bak" },
	{ "\"snapshot\": \"nightly\"", "\"snapshot\": \"a\\nb\"",
	  "field snapshot: not a snapshot name", "snapshot with a newline" },
	{ "\"format\": \"nodebak-bak-json 1\"", "\"format\": \"nodebak-bak-json 3\"",
	  "field format: not \"nodebak-bak-json 1\" or \"nodebak-bak-json 2\"",
	  "format 3" },
	{ "\"format\": \"nodebak-bak-json 1\"", "\"format\": \"nodebak-bak-json 2\"",
	  "field encrypted: missing", "format 2 without encrypted" },
	{ "\"schema\": 1,", "\"schema\": 1, \"comment\": \"x\",",
	  "field comment: unknown", "extra top-level key" },
	{ "\"software\": \"nodebak 0.1.0\"", "\"software\": 1",
	  "field software: not a string", "software a number" },
	{ "\"engine\": \"sqlite\"", "\"engine\": \"mysql\"",
	  "field engine: not sqlite or postgresql", "unknown engine" },
	{ "\"members\": [", "\"members\": \"x\", \"m\": [",
	  "field members: not an array", "members a string" },
	{ "{\"path\": \"cluster\", \"type\": \"dir\", ", "{\"path\": \"cluster\", ",
	  "field members[0].type: missing", "member without type" },
	{ "\"type\": \"dir\"", "\"type\": \"link\"", "field members[0].type: not",
	  "member type link" },
	{ "\"path\": \"cluster\"", "\"path\": \"../etc\"",
	  "field members[0].path: not a member path", "member path .." },
	{ "\"size\": 36864, ", "", "field members[1].size: missing",
	  "file member without size" },
	{ "\"mode\": \"0600\"", "\"mode\": 384", "field members[1].mode: not a string",
	  "mode a number" },
	{ "\"mode\": \"0700\"}", "\"mode\": \"0700\", \"x\": 1}",
	  "field members[0].x: unknown", "extra key in a member" },
	{ "\"members\": [\n    {", "\"members\": [\n    7, {",
	  "field members[0]: not an object", "member not an object" },
	{ "\n  ]\n}\n", "\n  ]\n", "not JSON", "truncated" },
	{ "{\n  \"format\"", "[{\n  \"format\"", "not JSON", "an array" },
	{ "\"cms2\"", "\"cms\\u00002\"", "not JSON", "NUL escape" },
	};
	struct sidecar sc;
	struct buf big = BUF_INIT(SIDECAR_MAX_BYTES + 16);
	char nul[] = "{\"format\": \"nodebak-bak-json 1\"\0}";

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		ok(refused(v[i].from, v[i].to, v[i].want), "sidecar: %s refused (%s)",
		    v[i].name, v[i].want);
	ok(sidecar_parse("hello", 5, "t.json", &sc) == ERR_FORMAT &&
	    strstr(err_msg(), "t.json: not JSON"), "sidecar: not JSON refused");
	ok(sidecar_parse("", 0, "t.json", &sc) == ERR_FORMAT,
	    "sidecar: an empty file refused");
	ok(sidecar_parse(nul, sizeof nul - 1, "t.json", &sc) == ERR_FORMAT &&
	    strstr(err_msg(), "t.json: not JSON: a NUL byte"),
	    "sidecar: a NUL byte refused (%s)", err_msg());
	while (big.len <= SIDECAR_MAX_BYTES)
		buf_adds(&big, "                                                ");
	ok(sidecar_parse(big.p, big.len, "t.json", &sc) == ERR_TOOBIG &&
	    strstr(err_msg(), "larger than"), "sidecar: too large refused");
	buf_free(&big);
	ok(sidecar_parse("{\"a\":\x01}", 7, "x\n.json", &sc) == ERR_FORMAT &&
	    strchr(err_msg(), '\n') == NULL, "sidecar: a hostile name is escaped");
}

/* sidecar_load and sidecar_check_file against real files. */
static void files(void)
{
	char dir[] = "/tmp/nodebak-sidecar-XXXXXX", bak[64], json[64];
	struct sidecar sc;
	struct buf b = BUF_INIT(1 << 20);
	char *p;

	if (mkdtemp(dir) == NULL)
		return;
	snprintf(bak, sizeof bak, "%s/nightly.bak", dir);
	snprintf(json, sizeof json, "%s/nightly.json", dir);
	p = sidecar_path(bak);
	ok(p && !strcmp(p, json) && sidecar_path("x.tar") == NULL,
	    "sidecar: NAME.json beside NAME.bak");
	free(p);
	/* "foo" has the SHA-256 in GOOD; its size is 3, not 7188. */
	fs_write_atomic(bak, "foo", 3, 0644);
	buf_adds(&b, GOOD);
	fs_write_atomic(json, b.p, b.len, 0644);
	ok(sidecar_load(json, &sc) == 0, "sidecar: loaded from a file");
	ok(sidecar_check_file(&sc, bak) == ERR_MISMATCH &&
	    strstr(err_msg(), "is not the one the snapshot wrote (its size, 3 "
	    "bytes, differs from the 7188"), "sidecar: a size that lies (%s)",
	    err_msg());
	sc.size = 3;
	ok(sidecar_check_file(&sc, bak) == 0, "sidecar: size and SHA-256 match");
	sc.sha256[0] = '3';
	ok(sidecar_check_file(&sc, bak) == ERR_MISMATCH &&
	    strstr(err_msg(), "its SHA-256 differs"), "sidecar: a SHA-256 that lies");
	unlink(bak);
	unlink(json);
	rmdir(dir);
	buf_free(&b);
}

/* json_str() writes valid JSON for any bytes: each byte that is not part
 * of well-formed UTF-8 becomes \ufffd; well-formed sequences pass. */
static int rendered(const char *in, const char *want)
{
	struct buf b = BUF_INIT(1024);
	int same = json_str(&b, in) == 0 && b.len == strlen(want) &&
	    !memcmp(b.p, want, b.len);

	if (!same)
		printf("# json_str(%s) gave %.*s\n", want, (int)b.len, b.p);
	buf_free(&b);
	return same;
}

static void utf8(void)
{
	ok(json_utf8_valid("plain ascii") && json_utf8_valid("caf\xc3\xa9") &&
	    json_utf8_valid("\xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf") &&
	    json_utf8_valid(""), "utf8: ASCII, 2-, 3- and 4-byte forms, U+10FFFF");
	ok(!json_utf8_valid("odd\xff") && !json_utf8_valid("\xc0\x80") &&
	    !json_utf8_valid("\xe0\x80\xaf") && !json_utf8_valid("\xed\xa0\x80") &&
	    !json_utf8_valid("\xf4\x90\x80\x80") && !json_utf8_valid("\x80") &&
	    !json_utf8_valid("\xe2\x82") && !json_utf8_valid("\xf0\x9f\x98"),
	    "utf8: 0xff, overlong forms, a surrogate, above U+10FFFF, a lone "
	    "continuation byte and cut sequences are not UTF-8");
	ok(rendered("a\xff" "b", "\"a\\ufffdb\"") &&
	    rendered("caf\xc3\xa9\xc3", "\"caf\xc3\xa9\\ufffd\"") &&
	    rendered("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"") &&
	    rendered("q\"\\\x01", "\"q\\\"\\\\\\u0001\""),
	    "json_str: U+FFFD for each byte that is not UTF-8; quotes, "
	    "backslashes and controls escaped");
}

/* A member whose path is not UTF-8: path_hex holds its bytes. */
static void path_hex(void)
{
	static const char *from = "\"db/node.db\", \"type\"";
	/* files/odd<ff>.lic */
	static const char *hex = "66696c65732f6f6464ff2e6c6963";
	char to[256];
	struct sidecar sc;
	struct buf b = BUF_INIT(SIDECAR_MAX_BYTES);
	const char *p = strstr(GOOD, from);

	snprintf(to, sizeof to, "\"files/odd\\ufffd.lic\", \"path_hex\": "
	    "\"%s\", \"type\"", hex);
	buf_add(&b, GOOD, (size_t)(p - GOOD));
	buf_adds(&b, to);
	buf_adds(&b, p + strlen(from));
	ok(sidecar_parse(b.p, b.len, "t.json", &sc) == 0,
	    "sidecar: a path that is not UTF-8, rendered with U+FFFD and given "
	    "in path_hex, parses");
	buf_free(&b);
	snprintf(to, sizeof to, "\"files/oddx.lic\", \"path_hex\": \"%s\", "
	    "\"type\"", hex);
	ok(refused(from, to, "field members[1].path: not path_hex's bytes"),
	    "sidecar: a path that is not path_hex rendered is refused");
	ok(refused(from, "\"db/node.db\", \"path_hex\": "
	    "\"64622f6e6f64652e6462\", \"type\"",
	    "members[1].path_hex: given for a path that is UTF-8"),
	    "sidecar: path_hex for a UTF-8 path is refused");
	ok(refused(from, "\"db/node.db\", \"path_hex\": \"6x\", \"type\"",
	    "members[1].path_hex: not the lower-case hex of a path") &&
	    refused(from, "\"db/node.db\", \"path_hex\": \"66ff00\", \"type\"",
	    "members[1].path_hex: not the lower-case hex of a path") &&
	    refused(from, "\"db/node.db\", \"path_hex\": \"66F\", \"type\"",
	    "members[1].path_hex: not the lower-case hex of a path"),
	    "sidecar: path_hex that is not hex, holds a NUL or is odd is refused");
}

void t_sidecar(void)
{
	good();
	malformed();
	files();
	utf8();
	path_hex();
}
