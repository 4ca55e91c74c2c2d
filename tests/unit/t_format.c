/* t_format.c: manifest, signatures, gzip layer, control frames, journal,
 * archive writer/reader. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bak.h"
#include "buf.h"
#include "crypto.h"
#include "ctl.h"
#include "err.h"
#include "fsutil.h"
#include "gz.h"
#include "journal.h"
#include "manifest.h"
#include "tap.h"
#include "ustar.h"

static const char *H1 =
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void sample(struct manifest *mf)
{
	manifest_init(mf);
	snprintf(mf->node_name, sizeof mf->node_name, "cms2");
	snprintf(mf->node_id, sizeof mf->node_id,
	    "fce5577c-7c2a-4a2a-9232-507634ec0419");
	snprintf(mf->software, sizeof mf->software, "0.1.0");
	snprintf(mf->engine, sizeof mf->engine, "sqlite");
	mf->schema = 1;
	snprintf(mf->snapshot, sizeof mf->snapshot, "nightly");
	mf->created = 1764316800;
	snprintf(mf->key_id, sizeof mf->key_id, "888339ba8bb31d41");
	manifest_add(mf, "cluster/cluster.conf", 0, 0600, 12, H1);
	manifest_add(mf, "db/node.db", 0, 0600, 4096, H1);
	manifest_add(mf, "files/certs", 1, 0755, 0, NULL);
	manifest_add(mf, "files/certs/a b.cer", 0, 0644, 0, H1);
}

/* Parse text with one substitution applied; returns the result code. */
static int parse_edit(const char *text, const char *from, const char *to)
{
	struct manifest mf;
	struct buf b = BUF_INIT(1 << 20);
	const char *p = strstr(text, from);
	int r;

	if (p == NULL)
		return 999;
	buf_add(&b, text, (size_t)(p - text));
	buf_adds(&b, to);
	buf_adds(&b, p + strlen(from));
	r = manifest_parse(b.p, b.len, 100, &mf);
	manifest_free(&mf);
	buf_free(&b);
	return r;
}

void t_manifest(void)
{
	struct manifest mf, back;
	struct buf t = BUF_INIT(1 << 20), t2 = BUF_INIT(1 << 20);
	static const struct { const char *from, *to, *what; } bad[] = {
		{ "nodebak-manifest 1", "nodebak-manifest 2", "future version" },
		{ "schema 1\n", "schema 01\n", "leading zero" },
		{ "created 2025-11-28T08:00:00Z", "created 2025-11-28T08:00:00+00:00",
		  "non-canonical time" },
		{ "files/certs\n", "files/../certs\n", "dot-dot path" },
		{ "db/node.db", "/db/node.db", "absolute path" },
		{ "db/node.db", "db//node.db", "empty component" },
		{ "0600 db/node.db", "0777 db/node.db", "mode not allowed" },
		{ "4096", "4096 ", "trailing space in size" },
		{ "members 4", "members 5", "member count too high" },
		{ "members 4", "members 101", "member count over limit" },
		{ "end\n", "end\nx", "bytes after end" },
		{ "end\n", "end", "no final newline" },
		{ "cluster/cluster.conf", "zz/cluster.conf", "members out of order" },
		{ "files/certs/a b.cer", "files/certs/a\tb.cer", "control character" },
		{ "key-id 888339ba8bb31d41", "key-id 888339ba8bb31d4", "short key id" },
		{ "node-name cms2", "node-name  cms2", "double space" },
	};

	sample(&mf);
	ok(manifest_format(&mf, &t) == 0, "manifest: format");
	ok(manifest_parse(t.p, t.len, 100, &back) == 0, "manifest: parse its own "
	    "output (%s)", err_msg());
	ok(manifest_format(&back, &t2) == 0 && t.len == t2.len &&
	    !memcmp(t.p, t2.p, t.len), "manifest: parse/format round trip is "
	    "byte-identical");
	ok(back.n == 4 && back.m[2].is_dir && !strcmp(back.m[3].path,
	    "files/certs/a b.cer"), "manifest: members and spaces in paths kept");
	ok(manifest_find(&back, "db/node.db") == 1 &&
	    manifest_find(&back, "db/nodes.db") == -1, "manifest: find");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r = parse_edit(t.p, bad[i].from, bad[i].to);
		ok(r != 0 && r != 999, "manifest: refuses %s (%s)", bad[i].what,
		    err_msg());
	}
	ok(manifest_add(&mf, "files/certs/a b.cer", 0, 0644, 0, H1) == ERR_INVAL,
	    "manifest: duplicate add refused");
	ok(manifest_add(&mf, "files/x\n\x1b[2J", 0, 0644, 0, H1) == ERR_INVAL &&
	    !strchr(err_msg(), '\n') && !strchr(err_msg(), 0x1b) &&
	    strstr(err_msg(), "files/x\\n\\x1b[2J: not an acceptable"),
	    "manifest: a hostile path is escaped in the message (%s)", err_msg());
	ok(manifest_add(&mf, "files/zz", 0, 0644, (uint64_t)INT64_MAX + 1, H1) ==
	    ERR_INVAL, "manifest: member over 2^63 - 1 bytes refused");
	ok(manifest_add(&mf, "files/zz", 0, 0644, (uint64_t)1 << 34, H1) == 0,
	    "manifest: member over 8 GiB accepted");
	{
		char lp[MANIFEST_PATH_MAX + 2];
		struct buf t3 = BUF_INIT(1 << 20);
		struct manifest back2;

		memcpy(lp, "files/", 6);
		memset(lp + 6, 'z', MANIFEST_PATH_MAX - 5);
		lp[MANIFEST_PATH_MAX + 1] = '\0';
		ok(manifest_add(&mf, lp, 0, 0644, 1, H1) == ERR_INVAL,
		    "manifest: a path of %d bytes refused", MANIFEST_PATH_MAX + 1);
		lp[MANIFEST_PATH_MAX] = '\0';
		ok(manifest_add(&mf, lp, 0, 0644, 1, H1) == 0,
		    "manifest: a path of %d bytes accepted", MANIFEST_PATH_MAX);
		ok(manifest_needs_pax(&mf) && manifest_format(&mf, &t3) == 0 &&
		    !strncmp(t3.p, "nodebak-manifest 2\n", 19) &&
		    manifest_parse(t3.p, t3.len, 100, &back2) == 0 &&
		    back2.n == mf.n && back2.m[back2.n - 2].size == (uint64_t)1 << 34 &&
		    !strcmp(back2.m[back2.n - 1].path, lp), "manifest: a long path "
		    "and a size over 8 GiB make version 2, parsed back (%s)",
		    err_msg());
		manifest_free(&back2);
		t3.p[17] = '1';
		ok(manifest_parse(t3.p, t3.len, 100, &back2) == ERR_FORMAT &&
		    strstr(err_msg(), "a member needs a pax header"),
		    "manifest: version 1 with such members refused (%s)", err_msg());
		t3.p[17] = '3';
		ok(manifest_parse(t3.p, t3.len, 100, &back2) == ERR_FORMAT &&
		    strstr(err_msg(), "version 3 is not supported"),
		    "manifest: version 3 refused (%s)", err_msg());
		buf_free(&t3);
	}
	manifest_free(&mf);
	manifest_free(&back);
	buf_free(&t);
	buf_free(&t2);
}

static char tmpdir[64];

static char *tpath(const char *name)
{
	return fs_join(tmpdir, name);
}

void t_crypto(void)
{
	char *priv = tpath("k"), *pub = tpath("k.pub"), *priv2 = tpath("k2"),
	    *pub2 = tpath("k2.pub");
	struct sigkey *k = NULL, *kp = NULL, *k2 = NULL;
	unsigned char sig[SIG_LEN];
	struct stat st;
	char hex[SHA256_HEX_LEN + 1];
	struct sha256 *h = sha256_new();

	sha256_update(h, "abc", 3);
	sha256_final_hex(h, hex);
	ok(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	    "sha256 of abc (FIPS 180-2 vector)");
	ok(sigkey_generate(priv, pub) == 0, "ed25519: generate");
	ok(stat(priv, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "ed25519: private key mode 0600");
	ok(sigkey_generate(priv, pub) != 0, "ed25519: never overwrites a key");
	ok(sigkey_load_private(priv, &k) == 0 && sigkey_load_public(pub, &kp) == 0,
	    "ed25519: load both halves");
	ok(k && kp && !strcmp(sigkey_id(k), sigkey_id(kp)) &&
	    strlen(sigkey_id(k)) == KEYID_HEX_LEN, "ed25519: key ids agree (%s)",
	    k ? sigkey_id(k) : "");
	ok(sigkey_sign(k, "manifest", 8, sig) == 0, "ed25519: sign");
	ok(sigkey_verify(kp, "manifest", 8, sig) == 0, "ed25519: verify");
	ok(sigkey_verify(kp, "manifesT", 8, sig) == ERR_SIG,
	    "ed25519: changed message fails");
	sig[5] ^= 1;
	ok(sigkey_verify(kp, "manifest", 8, sig) == ERR_SIG,
	    "ed25519: changed signature fails");
	sigkey_generate(priv2, pub2);
	sigkey_load_private(priv2, &k2);
	sig[5] ^= 1;
	ok(k2 && sigkey_verify(k2, "manifest", 8, sig) == ERR_SIG,
	    "ed25519: another key fails");
	sigkey_free(k2);
	ok(sigkey_sign(kp, "x", 1, sig) != 0, "ed25519: public key cannot sign");
	ok(sigkey_parse_public("junk", 4, &k2) == ERR_FORMAT,
	    "ed25519: junk is not a key");
	sigkey_free(k);
	sigkey_free(kp);
	free(priv);
	free(pub);
	free(priv2);
	free(pub2);
}

static int gz_roundtrip(const char *path, const char *data, size_t len,
    struct buf *out)
{
	struct gz_reader *r;
	char chunk[4096];
	size_t got;
	int fd = open(path, O_RDONLY), e;
	struct fd_stream fs = { fd, path };

	if ((e = gz_reader_new(&FD_SOURCE(&fs), path, &r)) != 0)
		return e;
	while ((e = gz_read(r, chunk, sizeof chunk, &got)) == 0 && got)
		buf_add(out, chunk, got);
	gz_reader_free(r);
	close(fd);
	(void)data;
	(void)len;
	return e;
}

/* The 10 header bytes are the writer's (XFL by level, OS 3), and the
 * reader takes no others. */
static void gz_header_bytes(void)
{
	static const struct { int level; unsigned char xfl; } lv[] = {
		{ 1, 4 }, { 6, 0 }, { 9, 2 },
	};
	char *p = tpath("h.gz");
	struct buf f = BUF_INIT(1 << 20), out = BUF_INIT(1 << 20);
	struct gz_writer *w;
	int fd, as_spec = 1, named = 1;

	for (size_t i = 0; i < sizeof lv / sizeof lv[0]; i++) {
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		gz_writer_new(&FD_SINK(&((struct fd_stream){ fd, p })), lv[i].level, p, &w);
		gz_write(w, "header", 6);
		gz_finish(w);
		gz_writer_free(w);
		close(fd);
		buf_reset(&f);
		ok(fs_read_file(p, 1 << 20, &f) == 0 && f.len > 10 &&
		    !memcmp(f.p, "\x1f\x8b\x08\0\0\0\0\0", 8) &&
		    (unsigned char)f.p[8] == lv[i].xfl && f.p[9] == 3,
		    "gz: level %d header is 1f 8b 08 00 00000000 %02x 03",
		    lv[i].level, lv[i].xfl);
	}
	/* Every value of XFL, then of OS, on the level-9 file. */
	for (int k = 8; k <= 9; k++) {
		unsigned char keep = (unsigned char)f.p[k];
		for (int v = 0; v < 256; v++) {
			int r;
			f.p[k] = (char)v;
			fs_write_atomic(p, f.p, f.len, 0600);
			buf_reset(&out);
			r = gz_roundtrip(p, NULL, 0, &out);
			if ((r == 0) != (k == 8 ? v == 0 || v == 2 || v == 4 :
			    v == 3))
				as_spec = 0;
			if (r != 0 && !strstr(err_msg(), k == 8 ? "field XFL" :
			    "field OS"))
				named = 0;
		}
		f.p[k] = (char)keep;
	}
	ok(as_spec, "gz: of all 256 values the reader takes XFL 0, 2 and 4 and "
	    "OS 3 only");
	ok(named, "gz: and names the field it refuses");
	buf_free(&f);
	buf_free(&out);
	free(p);
}

void t_gz(void)
{
	char *p = tpath("x.gz");
	struct buf out = BUF_INIT(1 << 24);
	struct gz_writer *w;
	static char data[300000];
	unsigned char hdr[10];
	int fd;

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (char)("nodebak"[i % 7] + (i % 13 == 0));
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ok(gz_writer_new(&FD_SINK(&((struct fd_stream){ fd, p })), 6, p, &w) == 0 && gz_write(w, data, sizeof data) == 0 &&
	    gz_finish(w) == 0, "gz: write");
	gz_writer_free(w);
	close(fd);
	fd = open(p, O_RDONLY);
	ok(read(fd, hdr, 10) == 10 && hdr[3] == 0 && !hdr[4] && !hdr[5] &&
	    !hdr[6] && !hdr[7], "gz: header has no flags and no timestamp");
	close(fd);
	gz_header_bytes();
	ok(gz_roundtrip(p, data, sizeof data, &out) == 0 && out.len == sizeof data &&
	    !memcmp(out.p, data, sizeof data), "gz: read back equal");
	{
		/* Many blocks: the parallel writer's output is one gzip member
		 * that our reader and gzip(1) both accept. */
		size_t big = (7u << 20) / 2 + 12345;
		char *bd = malloc(big), cmd[256];
		for (size_t i = 0; i < big; i++)
			bd[i] = (char)((i * 2654435761u) >> 13 & (i % 3 ? 0x0f : 0xff));
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ok(gz_writer_new(&FD_SINK(&((struct fd_stream){ fd, p })), 6, p, &w) == 0 && gz_write(w, bd, 1000) == 0 &&
		    gz_write(w, bd + 1000, big - 1000) == 0 && gz_finish(w) == 0,
		    "gz: write 3.5 MiB (4 blocks)");
		gz_writer_free(w);
		close(fd);
		buf_reset(&out);
		ok(gz_roundtrip(p, bd, big, &out) == 0 && out.len == big &&
		    !memcmp(out.p, bd, big), "gz: blocks read back equal");
		snprintf(cmd, sizeof cmd, "gzip -t %s", p);
		ok(system(cmd) == 0, "gz: gzip -t accepts the parallel output");
		free(bd);
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		gz_writer_new(&FD_SINK(&((struct fd_stream){ fd, p })), 6, p, &w);
		gz_write(w, data, sizeof data);
		gz_finish(w);
		gz_writer_free(w);
		close(fd);
	}
	fd = open(p, O_WRONLY | O_APPEND);
	ok(write(fd, "garbage", 7) == 7, "gz: append garbage");
	close(fd);
	buf_reset(&out);
	ok(gz_roundtrip(p, data, sizeof data, &out) == ERR_FORMAT &&
	    strstr(err_msg(), "trailing data"), "gz: trailing data refused (%s)",
	    err_msg());
	ok(truncate(p, 100) == 0, "gz: truncate");
	buf_reset(&out);
	ok(gz_roundtrip(p, data, sizeof data, &out) == ERR_FORMAT &&
	    strstr(err_msg(), "truncated"), "gz: truncated refused (%s)", err_msg());
	buf_free(&out);
	free(p);
}

void t_ctl(void)
{
	struct ctl a, b;
	struct buf p = BUF_INIT(CTL_MAX_PAYLOAD);
	char type[CTL_TYPE_MAX + 1];
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	ctl_init(&a, sv[0]);
	ctl_init(&b, sv[1]);
	ctl_sends(&a, "arg", "backup");
	ctl_send(&a, "arg", "a\nb", 3);
	ctl_send(&a, "run", "", 0);
	ok(ctl_recv(&b, type, &p) == 0 && !strcmp(type, "arg") &&
	    !strcmp(buf_cstr(&p), "backup"), "ctl: frame");
	ok(ctl_recv(&b, type, &p) == 0 && p.len == 3 && !memcmp(p.p, "a\nb", 3),
	    "ctl: payload with newline");
	ok(ctl_recv(&b, type, &p) == 0 && !strcmp(type, "run") && p.len == 0,
	    "ctl: empty payload");
	ok(write(sv[0], "ARG 1\nx", 7) == 7 && ctl_recv(&b, type, &p) == ERR_PROTO,
	    "ctl: upper-case type refused");
	ctl_free(&b);
	ctl_init(&b, sv[1]);
	ok(write(sv[0], "arg 99999999\n", 13) == 13 &&
	    ctl_recv(&b, type, &p) == ERR_PROTO, "ctl: oversized length refused "
	    "before reading it");
	close(sv[0]);
	close(sv[1]);
	ctl_free(&a);
	ctl_free(&b);
	buf_free(&p);
}

static void put(const char *path, const char *text)
{
	fs_write_atomic(path, text, strlen(text), 0644);
}

static int holds_text(const char *path, const char *text)
{
	struct buf b = BUF_INIT(1 << 16);
	int same = fs_read_file(path, 1 << 16, &b) == 0 && b.len == strlen(text) &&
	    !memcmp(b.p, text, b.len);

	buf_free(&b);
	return same;
}

/* One replace step from a staged file src (holding good) to dst. */
static void one_replace(struct journal *j, const char *src, const char *dst,
    const char *good)
{
	struct jstep *st;
	struct sha256 *h = sha256_new();

	journal_init(j, "a.bak", "/stage");
	st = journal_add(j, JOP_REPLACE, src, dst, 0);
	sha256_update(h, good, strlen(good));
	sha256_final_hex(h, st->sha);
	st->size = strlen(good);
}

void t_journal(void)
{
	struct journal j, back;
	char *p = tpath("journal"), *src = tpath("staged"), *dst = tpath("live");
	struct buf b = BUF_INIT(1 << 20);
	struct jstep *st;
	static const char v1[] = "nodebak-rollback-journal 1\nbak a.bak\n"
	    "steps 0\nend 0000000000000000000000000000000000000000000000000000000"
	    "000000000\n";

	journal_init(&j, "nightly.bak", "/st/stage-x y");
	journal_add(&j, JOP_REMOVE, NULL, "/srv/files/extra key.pem", 0);
	journal_add(&j, JOP_MKDIR, NULL, "/srv/files/certs", 0755);
	st = journal_add(&j, JOP_REPLACE, "/st/stage/db/node.db", "/db/node.db",
	    0);
	memset(st->sha, 'a', SHA256_HEX_LEN);
	st->sha[SHA256_HEX_LEN] = '\0';
	st->size = 12345678901ULL;
	ok(journal_write(&j, p) == 0, "journal: write");
	ok(journal_read(p, &back) == 0 && back.n == 3 &&
	    back.s[1].mode == 0755 && !strcmp(back.s[0].dst,
	    "/srv/files/extra key.pem") && !strcmp(back.s[2].src,
	    "/st/stage/db/node.db") && !strcmp(back.bak, "nightly.bak") &&
	    !strcmp(back.stage, "/st/stage-x y") &&
	    !strcmp(back.s[2].sha, st->sha) && back.s[2].size == 12345678901ULL,
	    "journal: read back the same steps, staging folder, hash and size");
	journal_free(&back);
	fs_read_file(p, 1 << 20, &b);
	b.p[40] ^= 1;
	fs_write_atomic(p, b.p, b.len, 0600);
	ok(journal_read(p, &back) == ERR_FORMAT, "journal: damage detected (%s)",
	    err_msg());
	journal_free(&j);
	fs_write_atomic(p, v1, sizeof v1 - 1, 0600);
	ok(journal_read(p, &back) == ERR_FORMAT &&
	    strstr(err_msg(), "not replayed unverified") != NULL,
	    "journal: a format 1 journal (no hashes) is not replayed (%s)",
	    err_msg());

	/* Replay installs only what the journal's hashes vouch for. */
	put(dst, "live content\n");
	put(src, "ALTERED staged content\n");
	one_replace(&j, src, dst, "staged content\n");
	ok(journal_apply(&j) == ERR_MISMATCH && holds_text(dst, "live content\n")
	    && holds_text(src, "ALTERED staged content\n"),
	    "journal: an altered staged file is refused, not installed (%s)",
	    err_msg());
	unlink(src);
	ok(journal_apply(&j) == ERR_MISMATCH &&
	    strstr(err_msg(), "is missing") != NULL &&
	    holds_text(dst, "live content\n"),
	    "journal: a missing staged file is a failure, not done (%s)",
	    err_msg());
	put(src, "staged content\n");
	ok(journal_apply(&j) == 0 && holds_text(dst, "staged content\n") &&
	    !fs_exists(src), "journal: a matching staged file is installed");
	ok(journal_apply(&j) == 0 && holds_text(dst, "staged content\n"),
	    "journal: replayed, the done step is recognised by its content");
	journal_free(&j);
	unlink(dst);
	buf_free(&b);
	free(p);
	free(src);
	free(dst);
}

static const struct sigkey *the_key;
static const struct sigkey *lookup(void *arg, const char *id)
{
	(void)arg;
	return strcmp(id, sigkey_id(the_key)) ? NULL : the_key;
}

void t_bak(void)
{
	char *priv = tpath("bk"), *pub = tpath("bk.pub"), *p = tpath("a.bak");
	char *src = tpath("payload"), hex[SHA256_HEX_LEN + 1];
	struct bak_limits lim = { 100, 1 << 20 };
	struct buf mt = BUF_INIT(1 << 20), st = BUF_INIT(4096);
	struct manifest mf, back;
	struct bak_writer *w;
	struct sigkey *k;
	uint64_t size;
	int fd;

	sigkey_generate(priv, pub);
	sigkey_load_private(priv, &k);
	the_key = k;
	fs_write_atomic(src, "hello node\n", 11, 0600);
	sha256_file(src, hex, &size);
	manifest_init(&mf);
	snprintf(mf.node_name, sizeof mf.node_name, "n1");
	snprintf(mf.node_id, sizeof mf.node_id, "fce5577c-7c2a-4a2a-9232-507634ec0419");
	snprintf(mf.software, sizeof mf.software, "0.1.0");
	snprintf(mf.engine, sizeof mf.engine, "sqlite");
	snprintf(mf.snapshot, sizeof mf.snapshot, "t");
	snprintf(mf.key_id, sizeof mf.key_id, "%s", sigkey_id(k));
	mf.created = 1764316800;
	manifest_add(&mf, "files/x.key", 0, 0600, size, hex);
	manifest_format(&mf, &mt);
	bak_sign(k, mt.p, mt.len, &st);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ok(bak_writer_new(fd, 6, mf.created, p, NULL, 0, &w) == 0 &&
	    bak_writer_add_data(w, "MANIFEST", 0644, mt.p, mt.len) == 0 &&
	    bak_writer_add_data(w, "MANIFEST.sig", 0644, st.p, st.len) == 0 &&
	    bak_writer_add_file(w, "files/x.key", 0600, src, size) == 0 &&
	    bak_writer_finish(w) == 0, "bak: write an archive");
	bak_writer_free(w);
	close(fd);
	ok(bak_read(p, &(struct bak_keys){ lookup, NULL, NULL, 0 }, &lim, -1, &back, NULL) == 0,
	    "bak: read it back verified (%s)", err_msg());
	manifest_free(&back);
	lim.max_bytes = 5;
	ok(bak_read(p, &(struct bak_keys){ lookup, NULL, NULL, 0 }, &lim, -1, &back, NULL) == ERR_TOOBIG,
	    "bak: byte limit enforced (%s)", err_msg());
	lim.max_bytes = 1 << 20;
	the_key = NULL;
	{
		struct sigkey *other;
		char *o1 = tpath("ok"), *o2 = tpath("ok.pub");
		sigkey_generate(o1, o2);
		sigkey_load_private(o1, &other);
		the_key = other;
		ok(bak_read(p, &(struct bak_keys){ lookup, NULL, NULL, 0 }, &lim, -1, &back, NULL) == ERR_UNTRUSTED,
		    "bak: unknown signer refused (%s)", err_msg());
		sigkey_free(other);
		free(o1);
		free(o2);
	}
	sigkey_free(k);
	manifest_free(&mf);
	buf_free(&mt);
	buf_free(&st);
	free(priv);
	free(pub);
	free(p);
	free(src);
}

/* A canonical header for files/cms.lic, 8 bytes, mode 0644. */
static void lic_header(unsigned char h[USTAR_BLOCK])
{
	ustar_format(h, "files/cms.lic", 0, 0644, 8, 1764316800);
}

static void fix_sum(unsigned char h[USTAR_BLOCK])
{
	unsigned s = 0;

	for (int i = 0; i < USTAR_BLOCK; i++)
		s += i >= 148 && i < 156 ? ' ' : h[i];
	snprintf((char *)h + 148, 8, "%06o", s);
	h[155] = ' ';
}

/* What libarchive's writer makes, through bak_writer, is what
 * ustar_format() makes and ustar_check() takes, header by header. */
static void ustar_writer_agrees(void)
{
	static const struct { const char *path; int is_dir; unsigned mode;
	    size_t size; } m[] = {
		{ "MANIFEST", 0, 0644, 6 },
		{ "files/d", 1, 0755, 0 },
		{ "files/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, 0600, 0 },	/* 100 bytes */
		{ "files/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 1, 0700, 0 },	/* 99 + '/' */
		{ "files/cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
		  "cccccccccccccccccccccccccccccc", 1, 0755, 0 },	/* split */
		{ "files/e", 0, 0644, 512 },
		{ "files/f", 0, 0600, 513 },
		/* pax headers (written past libarchive), and after them */
		{ "files/gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg"
		  "gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg"
		  "gggggggggggggggggggggg", 0, 0644, 700 },	/* 150 bytes */
		{ "files/hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh"
		  "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh"
		  "hhhhhhhhhhhhhhhhhhhhhh", 1, 0755, 0 },
		{ "files/i", 0, 0644, 3 },
		{ "files/jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj"
		  "jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj", 0, 0644, 1 },	/* 101: split */
	};
	static char data[1024];
	char *p = tpath("w.bak");
	struct buf tar = BUF_INIT(1 << 20);
	struct bak_writer *w;
	struct ustar_stream us;
	size_t off = 0, i, n = sizeof m / sizeof m[0];
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600), same = 1;

	memset(data, 'x', sizeof data);
	ok(bak_writer_new(fd, 6, 1764316800, p, NULL, 0, &w) == 0, "ustar: writer");
	for (i = 0; i < n; i++)
		if ((m[i].is_dir ? bak_writer_add_dir(w, m[i].path, m[i].mode) :
		    bak_writer_add_data(w, m[i].path, m[i].mode, data,
		    m[i].size)) != 0)
			break;
	ok(i == n && bak_writer_finish(w) == 0, "ustar: write %zu members "
	    "(100-byte names, a split folder, sizes 512 and 513, 150-byte "
	    "names, a split 101-byte file name)", n);
	bak_writer_free(w);
	close(fd);
	ok(gz_roundtrip(p, NULL, 0, &tar) == 0, "ustar: decompress");
	for (i = 0; i < n && off + USTAR_BLOCK <= tar.len; i++) {
		const unsigned char *h = (const unsigned char *)tar.p + off;
		unsigned char want[USTAR_HDR_MAX];
		struct ustar_hdr hd;
		size_t used = 0, wlen = 0;
		const char *why = ustar_parse(h, tar.len - off, &hd, &used);
		ok(why == NULL && !strcmp(hd.path, m[i].path) &&
		    hd.is_dir == m[i].is_dir && hd.mode == m[i].mode &&
		    hd.size == m[i].size && hd.mtime == 1764316800,
		    "ustar: header of %.20s... checked (%s)", m[i].path,
		    why ? why : "ok");
		ustar_header(want, sizeof want, &wlen, m[i].path, m[i].is_dir,
		    m[i].mode, m[i].size, 1764316800);
		if (why || wlen != used || memcmp(want, h, wlen))
			same = 0;
		off += used + (m[i].size + 511) / 512 * 512;
	}
	ok(same, "ustar: ustar_header() makes the writer's headers byte for "
	    "byte (libarchive's ustar ones, its pax ones)");
	ok(i == n && off + 1024 == tar.len, "ustar: two zero blocks end the "
	    "stream, nothing after (%zu bytes)", tar.len);
	ustar_stream_init(&us, "w.bak");
	for (i = 0; i < tar.len; i++)
		if (ustar_stream_feed(&us, tar.p + i, 1) != 0)
			break;
	ok(i == tar.len && ustar_stream_end(&us) == 0,
	    "ustar: the stream checker takes it fed byte by byte (%s)",
	    i == tar.len ? "ok" : err_msg());
	ustar_stream_init(&us, "w.bak");
	ok(ustar_stream_feed(&us, tar.p, tar.len) == 0 &&
	    ustar_stream_end(&us) == 0, "ustar: and whole");
	buf_free(&tar);
	free(p);
}

/* One changed construct per case, checksum made right again unless the
 * case is about the checksum. */
static void ustar_check_refuses(void)
{
	static const struct { size_t off; const char *bytes; size_t len;
	    int sum; const char *why; } bad[] = {
		{ 156, "7", 1, 1, "(tar type 7)" },
		{ 156, "", 1, 1, "(tar type NUL)" },
		{ 156, "L", 1, 1, "GNU long-name record" },
		{ 156, "K", 1, 1, "GNU long-link record" },
		{ 156, "x", 1, 1, "pax extended header" },
		{ 156, "g", 1, 1, "pax global header" },
		{ 156, "1", 1, 1, "hard link" },
		{ 156, "2", 1, 1, "symbolic link" },
		{ 156, "S", 1, 1, "tar type other than" },
		{ 0, "files/cms.lic\0x", 15, 1, "field name " },
		{ 100, "   644 ", 8, 1, "field mode " },
		{ 100, "0000644", 8, 1, "field mode " },
		{ 100, "100644 ", 8, 1, "field mode " },
		{ 100, "000644  ", 8, 1, "field mode " },
		{ 108, "0000000", 8, 1, "field uid " },
		{ 116, "000001 ", 8, 1, "field gid " },
		{ 124, "        10 ", 12, 1, "field size " },
		{ 124, "00000000010", 12, 1, "field size " },
		{ 136, "15112253200", 12, 1, "field mtime " },
		{ 148, "0004223", 8, 0, "field chksum " },
		{ 148, "000000\0 ", 8, 0, "field chksum " },
		{ 157, "/etc/passwd", 11, 1, "field linkname " },
		{ 257, "ustar  ", 8, 1, "field magic " },
		{ 263, "\0\0", 2, 1, "field version " },
		{ 265, "root", 4, 1, "field uname " },
		{ 297, "root", 4, 1, "field gname " },
		{ 329, "000001 ", 8, 1, "field devmajor " },
		{ 337, "000001 ", 8, 1, "field devminor " },
		/* files/files/cms.lic would all go into name */
		{ 345, "files", 5, 1, "field name " },
		{ 511, "x", 1, 1, "field pad " },
	};
	unsigned char h[USTAR_BLOCK];
	struct ustar_hdr hd;
	const char *why;

	lic_header(h);
	ok(ustar_check(h, &hd) == NULL && !strcmp(hd.path, "files/cms.lic") &&
	    hd.size == 8 && hd.mode == 0644, "ustar: canonical header taken");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		lic_header(h);
		memcpy(h + bad[i].off, bad[i].bytes, bad[i].len);
		if (bad[i].sum)
			fix_sum(h);
		why = ustar_check(h, &hd);
		ok(why && strstr(why, bad[i].why), "ustar: refuses %.*s at %zu "
		    "(files/cms.lic%s)", (int)strcspn(bad[i].bytes, "\n"),
		    bad[i].bytes, bad[i].off, why ? why : " taken");
	}
	/* Folders: name ends in '/', size 0; the prefix only for a path that
	 * does not fit. */
	ustar_format(h, "files/d", 1, 0755, 0, 1764316800);
	ok(ustar_check(h, &hd) == NULL && hd.is_dir && !strcmp(hd.path,
	    "files/d"), "ustar: folder taken");
	h[7] = '\0';
	fix_sum(h);
	ok((why = ustar_check(h, &hd)) && strstr(why, "field name "),
	    "ustar: folder name without its '/' refused");
	ustar_format(h, "files/d", 1, 0755, 0, 1764316800);
	memcpy(h + 124, "00000000001", 11);
	fix_sum(h);
	ok((why = ustar_check(h, &hd)) && strstr(why, "field size "),
	    "ustar: folder with a size refused");
	memset(h, 0, sizeof h);
	memcpy(h, "d/", 2);
	memcpy(h + 345, "files", 5);
	memcpy(h + 100, "000755 \0" "000000 \0" "000000 \0" "00000000000 "
	    "15112253200 " "        5", 57);
	memcpy(h + 257, "ustar\0" "00", 8);
	memcpy(h + 329, "000000 \0" "000000 \0", 16);
	fix_sum(h);
	/* The writer would put all of files/d/ into name. */
	ok((why = ustar_check(h, &hd)) && strstr(why, "field name ") &&
	    !strcmp(hd.path, "files/d"), "ustar: prefix for a short path "
	    "refused (files/d%s)", why ? why : " taken");
	ok(ustar_format(h, "", 0, 0644, 0, 0) == -1 &&
	    ustar_format(h, "files/x", 0, 0644, (uint64_t)1 << 33, 0) == -1 &&
	    ustar_format(h, "files/x", 0, 010000, 0, 0) == -1,
	    "ustar: format refuses what the writer never stores");
}

/* The stream: padding, end marker, nothing after it. */
static void ustar_stream_refuses(void)
{
	unsigned char s[5 * USTAR_BLOCK];
	struct ustar_stream us;

	memset(s, 0, sizeof s);
	lic_header(s);
	memcpy(s + USTAR_BLOCK, "licence\n", 8);
	/* s: header, data block, two zero blocks, one more zero block */
	ustar_stream_init(&us, "t.bak");
	ok(ustar_stream_feed(&us, s, 4 * USTAR_BLOCK) == 0 &&
	    ustar_stream_end(&us) == 0, "ustar stream: member and end marker");
	ustar_stream_init(&us, "t.bak");
	ok(ustar_stream_feed(&us, s, 4 * USTAR_BLOCK + 1) == ERR_FORMAT &&
	    strstr(err_msg(), "after the end-of-archive marker"),
	    "ustar stream: a zero byte after the end refused (%s)", err_msg());
	ok(ustar_stream_feed(&us, s, 1) == ERR_FORMAT,
	    "ustar stream: and stays refused");
	ustar_stream_init(&us, "t.bak");
	ok(ustar_stream_feed(&us, s, 3 * USTAR_BLOCK) == 0 &&
	    ustar_stream_end(&us) == ERR_FORMAT && strstr(err_msg(),
	    "without its end-of-archive marker"),
	    "ustar stream: one zero block is not an end (%s)", err_msg());
	ustar_stream_init(&us, "t.bak");
	ok(ustar_stream_feed(&us, s, USTAR_BLOCK + 4) == 0 &&
	    ustar_stream_end(&us) == ERR_FORMAT && strstr(err_msg(),
	    "files/cms.lic is cut short"), "ustar stream: data cut short (%s)",
	    err_msg());
	s[USTAR_BLOCK + 511] = 1;
	ustar_stream_init(&us, "t.bak");
	ok(ustar_stream_feed(&us, s, 4 * USTAR_BLOCK) == ERR_FORMAT &&
	    strstr(err_msg(), "t.bak: member files/cms.lic: padding after the "
	    "data is not all NUL bytes"), "ustar stream: padding refused (%s)",
	    err_msg());
	s[USTAR_BLOCK + 511] = 0;
	lic_header(s + 3 * USTAR_BLOCK);
	ustar_stream_init(&us, "t.bak");
	ok(ustar_stream_feed(&us, s, sizeof s) == ERR_FORMAT &&
	    strstr(err_msg(), "lone zero block"),
	    "ustar stream: a header after one zero block refused (%s)",
	    err_msg());
	lic_header(s);
	memset(s, 0, 100);
	memcpy(s, "files/\n\x1b[2J", 11);
	s[156] = '2';
	fix_sum(s);
	ustar_stream_init(&us, "t.bak");
	ok(ustar_stream_feed(&us, s, USTAR_BLOCK) == ERR_FORMAT &&
	    !strchr(err_msg(), '\n') && !strchr(err_msg(), 0x1b) &&
	    strstr(err_msg(), "member files/\\n\\x1b[2J is a symbolic link"),
	    "ustar stream: a hostile name is escaped (%s)", err_msg());
}

/* A pax header of nodebak's form around records rec (rlen bytes), with
 * last as the ustar header after them; *n gets the length. */
static void pax_build(unsigned char *out, size_t *n, const char *rec,
    size_t rlen, const unsigned char last[USTAR_BLOCK])
{
	size_t blocks = (rlen + USTAR_BLOCK - 1) / USTAR_BLOCK;

	ustar_format(out, USTAR_PAX_NAME, 0, 0644, rlen, 1764316800);
	out[156] = 'x';
	fix_sum(out);
	memset(out + USTAR_BLOCK, 0, blocks * USTAR_BLOCK);
	memcpy(out + USTAR_BLOCK, rec, rlen);
	memcpy(out + USTAR_BLOCK * (1 + blocks), last, USTAR_BLOCK);
	*n = USTAR_BLOCK * (2 + blocks);
}

/* Refused by the stream checker and by ustar_parse(), with a message
 * that has want in it. */
static void pax_refused(const unsigned char *h, size_t n, const char *want,
    const char *what)
{
	struct ustar_stream us;
	struct ustar_hdr hd;
	size_t used;
	const char *why = ustar_parse(h, n, &hd, &used);
	int r;

	ustar_stream_init(&us, "p.bak");
	r = ustar_stream_feed(&us, h, n);
	ok(r == ERR_FORMAT && why && strstr(err_msg(), want) && strstr(why, want),
	    "pax: %s refused (%s)", what, err_msg());
}

/* ustar_header(): one ustar block when the member fits, else a pax header
 * nodebak's way; the checker takes exactly that. */
static void ustar_pax(void)
{
	static unsigned char h[USTAR_HDR_MAX], u[USTAR_BLOCK], bad[USTAR_HDR_MAX];
	static unsigned char s[USTAR_HDR_MAX + 4 * USTAR_BLOCK];
	char path[USTAR_PATH_MAX + 2], rec[2 * USTAR_BLOCK];
	const uint64_t big = (uint64_t)9 << 30;
	struct ustar_stream us;
	struct ustar_hdr hd;
	size_t len, used, n, exact = 1;
	int rl;

	ok(ustar_header(h, sizeof h, &len, "files/cms.lic", 0, 0644, 8,
	    1764316800) == 0 && len == USTAR_BLOCK && (lic_header(u), 1) &&
	    !memcmp(h, u, USTAR_BLOCK), "pax: a member that fits is "
	    "ustar_format()'s one block");
	memset(path, 0, sizeof path);
	memcpy(path, "files/", 6);
	memset(path + 6, 'p', 244);		/* 250 bytes */
	ok(ustar_header(h, sizeof h, &len, path, 0, 0644, 8, 1764316800) == 0 &&
	    len == 3 * USTAR_BLOCK && h[156] == 'x' &&
	    !strcmp((char *)h, USTAR_PAX_NAME) &&
	    !memcmp(h + USTAR_BLOCK, "260 path=files/ppp", 18) &&
	    h[USTAR_BLOCK + 259] == '\n' && h[USTAR_BLOCK + 260] == 0 &&
	    !memcmp(h + 2 * USTAR_BLOCK, path, 100) &&
	    !memcmp(h + 2 * USTAR_BLOCK + 124, "00000000010 ", 12) &&
	    h[2 * USTAR_BLOCK + 156] == '0', "pax: a 250-byte path: pax header, "
	    "\"260 path=...\", ustar header with its first 100 bytes");
	ok(ustar_parse(h, len, &hd, &used) == NULL && used == len &&
	    !strcmp(hd.path, path) && hd.size == 8 && hd.mode == 0644 &&
	    !hd.is_dir && hd.mtime == 1764316800, "pax: parsed back");
	memcpy(s, h, len);
	memset(s + len, 0, 3 * USTAR_BLOCK);
	memcpy(s + len, "licence\n", 8);
	ustar_stream_init(&us, "p.bak");
	for (n = 0; n < len + 3 * USTAR_BLOCK; n++)
		if (ustar_stream_feed(&us, s + n, 1) != 0)
			break;
	ok(n == len + 3 * USTAR_BLOCK && ustar_stream_end(&us) == 0 &&
	    !strcmp(us.cur.path, path), "pax: the stream takes it byte by byte");
	/* The length prefix counts itself, across every digit boundary. */
	for (size_t k = 101; k <= USTAR_PATH_MAX; k++) {
		memset(path + 6, 'q', k - 6);
		path[k] = '\0';
		for (int d = 0; d < 2; d++) {
			if (ustar_header(h, sizeof h, &len, path, d, d ? 0755 : 0644,
			    0, 1764316800) != 0) {
				if (!(d == 0 && k == 101))
					exact = 0;
				continue;
			}
			if (len == USTAR_BLOCK)
				continue;
			rl = (int)strtol((char *)h + USTAR_BLOCK, NULL, 10);
			if (rl < 10 || h[USTAR_BLOCK + rl - 1] != '\n' ||
			    strtoul((char *)h + 124, NULL, 8) != (unsigned long)rl ||
			    ustar_parse(h, len, &hd, &used) != NULL ||
			    strcmp(hd.path, path))
				exact = 0;
		}
	}
	ok(exact, "pax: the record length is exact for paths of 101 to %d "
	    "bytes, files and folders, and they parse back", USTAR_PATH_MAX);
	memset(path + 6, 'q', USTAR_PATH_MAX - 5);
	path[USTAR_PATH_MAX + 1] = '\0';
	ok(ustar_header(h, sizeof h, &len, path, 0, 0644, 0, 0) == -1 &&
	    ustar_header(h, 1000, &len, "files/x", 0, 0644, big, 0) == -1 &&
	    ustar_header(h, sizeof h, &len, "files/x", 0, 0644, 0, -1) == -1,
	    "pax: a path over %d bytes, a small buffer, a negative time refused",
	    USTAR_PATH_MAX);
	/* A huge size: only the headers go through the checker. */
	ok(ustar_header(h, sizeof h, &len, "db/node.db", 0, 0600, big,
	    1764316800) == 0 && len == 3 * USTAR_BLOCK &&
	    !memcmp(h + USTAR_BLOCK, "19 size=9663676416\n", 20) &&
	    !memcmp(h + 2 * USTAR_BLOCK, "db/node.db\0", 11) &&
	    !memcmp(h + 2 * USTAR_BLOCK + 124, "00000000000 ", 12),
	    "pax: 9 GiB: \"19 size=9663676416\", ustar size 0");
	ustar_stream_init(&us, "p.bak");
	ok(ustar_stream_feed(&us, h, len) == 0 && us.cur.size == big &&
	    !strcmp(us.cur.path, "db/node.db") && ustar_stream_feed(&us,
	    "data", 4) == 0 && ustar_stream_end(&us) == ERR_FORMAT &&
	    strstr(err_msg(), "db/node.db is cut short"), "pax: the stream takes "
	    "a 9 GiB member's headers and expects its data (%s)", err_msg());
	memset(path + 6, 'r', 200);
	path[206] = '\0';
	ok(ustar_header(h, sizeof h, &len, path, 0, 0644, big, 1764316800) == 0 &&
	    strstr((char *)h + USTAR_BLOCK, "path=") <
	    strstr((char *)h + USTAR_BLOCK, "size=") &&
	    ustar_parse(h, len, &hd, &used) == NULL && hd.size == big &&
	    !strcmp(hd.path, path), "pax: path then size, both parsed back");

	/* Hostile variants, each built with a right pax header around it. */
	memcpy(u, h + len - USTAR_BLOCK, USTAR_BLOCK);
	n = (size_t)snprintf(rec, sizeof rec, "19 size=9663676416\n217 path=%s\n",
	    path);
	pax_build(bad, &len, rec, n, u);
	pax_refused(bad, len, "pax records are not as nodebak writes them",
	    "size before path");
	n = (size_t)snprintf(rec, sizeof rec, "217 path=%s\n19 size=9663676416\n"
	    "20 mtime=1764316800\n", path);
	pax_build(bad, &len, rec, n, u);
	pax_refused(bad, len, "pax records are not", "an mtime record");
	n = (size_t)snprintf(rec, sizeof rec, "217 path=%s\n19 size=9663676416\n"
	    "19 size=9663676416\n", path);
	pax_build(bad, &len, rec, n, u);
	pax_refused(bad, len, "pax records are not", "a repeated size record");
	n = (size_t)snprintf(rec, sizeof rec, "218 path=%s\n19 size=9663676416\n",
	    path);
	pax_build(bad, &len, rec, n, u);
	pax_refused(bad, len, "pax records are not", "a length prefix one too "
	    "long");
	n = (size_t)snprintf(rec, sizeof rec, "0217 path=%s\n19 size=9663676416\n",
	    path);
	pax_build(bad, &len, rec, n, u);
	pax_refused(bad, len, "pax records are not", "a length prefix with a "
	    "leading zero");
	n = (size_t)snprintf(rec, sizeof rec, "217 path=%s\n20 size=09663676416\n",
	    path);
	pax_build(bad, &len, rec, n, u);
	pax_refused(bad, len, "pax records are not", "a size with a leading zero");
	ustar_format(u, "files/cms.lic", 0, 0644, 8, 1764316800);
	pax_build(bad, &len, "22 path=files/cms.lic\n", 22, u);
	pax_refused(bad, len, "where its ustar header suffices",
	    "a pax header for a short path");
	ustar_format(u, "files/cms.lic", 0, 0644, 0, 1764316800);
	pax_build(bad, &len, "9 size=8\n", 9, u);
	pax_refused(bad, len, "where its ustar header suffices",
	    "a pax header for a small size");
	ustar_header(h, sizeof h, &len, path, 0, 0644, 8, 1764316800);
	memcpy(bad, h, len);
	bad[156] = 'g';
	fix_sum(bad);
	pax_refused(bad, len, "pax global header", "a global header (g)");
	memcpy(bad, h, len);
	memcpy(bad, "PaxHeader/x", 11);
	fix_sum(bad);
	pax_refused(bad, len, "pax extended header is not as nodebak writes it",
	    "another name on the pax header");
	memcpy(bad, h, len);
	bad[len - USTAR_BLOCK + 99] ^= 1;
	fix_sum(bad + len - USTAR_BLOCK);
	pax_refused(bad, len, "the tar header after the pax extended header",
	    "another name in the ustar header after it");
	memcpy(bad, h, len);
	memcpy(bad + len - USTAR_BLOCK, h, USTAR_BLOCK);
	pax_refused(bad, len, "tar type x", "a pax header after a pax header");
	memcpy(bad, h, len);
	ustar_format(bad, USTAR_PAX_NAME, 0, 0644, 1 << 20, 1764316800);
	bad[156] = 'x';
	fix_sum(bad);
	pax_refused(bad, len, "pax extended header is not as nodebak writes it",
	    "a 1 MiB pax header, refused before its data");
	memcpy(bad, h, len);
	bad[USTAR_BLOCK + 3] = '\0';	/* "260\0path=..." */
	pax_refused(bad, len, "pax records are not", "a NUL in a record");

	/* A sealed archive's payload above 8 GiB - 1: a pax header first. */
	memset(s, 0, sizeof s);
	ok(ustar_header(s, sizeof s, &len, BAK_PAYLOAD, 0, 0600, big,
	    1764316800) == 0 && len == 3 * USTAR_BLOCK &&
	    bak_classify(s, sizeof s) == BAK_SEALED &&
	    bak_classify(s, len - 1) == BAK_OTHER, "pax: a 9 GiB payload.age "
	    "header is a sealed archive's start (not when cut short)");
	ustar_format(u, BAK_PAYLOAD, 0, 0600, 0, 1764316800);
	pax_build(bad, &len, "9 size=8\n", 9, u);
	ok(bak_classify(bad, len) == BAK_OTHER, "pax: a payload.age with a pax "
	    "header it does not need is not");
}

void t_ustar(void)
{
	ustar_pax();
	ustar_writer_agrees();
	ustar_check_refuses();
	ustar_stream_refuses();
}

__attribute__((constructor)) static void mk_tmp(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/nodebak-unit-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		abort();
}

__attribute__((destructor)) static void rm_tmp(void)
{
	fs_rm_rf(tmpdir);
}
