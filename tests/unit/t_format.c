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
	ok(manifest_add(&mf, "files/zz", 0, 0644, (uint64_t)1 << 34, H1) ==
	    ERR_INVAL, "manifest: member over the ustar size limit refused");
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

	if ((e = gz_reader_new(fd, path, &r)) != 0)
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
		gz_writer_new(fd, lv[i].level, p, &w);
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
	ok(gz_writer_new(fd, 6, p, &w) == 0 && gz_write(w, data, sizeof data) == 0 &&
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
		ok(gz_writer_new(fd, 6, p, &w) == 0 && gz_write(w, bd, 1000) == 0 &&
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
		gz_writer_new(fd, 6, p, &w);
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

void t_journal(void)
{
	struct journal j, back;
	char *p = tpath("journal");
	struct buf b = BUF_INIT(1 << 20);

	journal_init(&j, "nightly.bak");
	journal_add(&j, JOP_REMOVE, NULL, "/srv/files/extra key.pem", 0);
	journal_add(&j, JOP_MKDIR, NULL, "/srv/files/certs", 0755);
	journal_add(&j, JOP_REPLACE, "/st/stage/db/node.db", "/db/node.db", 0);
	ok(journal_write(&j, p) == 0, "journal: write");
	ok(journal_read(p, &back) == 0 && back.n == 3 &&
	    back.s[1].mode == 0755 && !strcmp(back.s[0].dst,
	    "/srv/files/extra key.pem") && !strcmp(back.s[2].src,
	    "/st/stage/db/node.db") && !strcmp(back.bak, "nightly.bak"),
	    "journal: read back the same steps");
	journal_free(&back);
	fs_read_file(p, 1 << 20, &b);
	b.p[40] ^= 1;
	fs_write_atomic(p, b.p, b.len, 0600);
	ok(journal_read(p, &back) == ERR_FORMAT, "journal: damage detected (%s)",
	    err_msg());
	journal_free(&j);
	buf_free(&b);
	free(p);
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
	ok(bak_writer_new(fd, 6, mf.created, p, &w) == 0 &&
	    bak_writer_add_data(w, "MANIFEST", 0644, mt.p, mt.len) == 0 &&
	    bak_writer_add_data(w, "MANIFEST.sig", 0644, st.p, st.len) == 0 &&
	    bak_writer_add_file(w, "files/x.key", 0600, src, size) == 0 &&
	    bak_writer_finish(w) == 0, "bak: write an archive");
	bak_writer_free(w);
	close(fd);
	ok(bak_read(p, lookup, NULL, &lim, -1, &back) == 0,
	    "bak: read it back verified (%s)", err_msg());
	manifest_free(&back);
	lim.max_bytes = 5;
	ok(bak_read(p, lookup, NULL, &lim, -1, &back) == ERR_TOOBIG,
	    "bak: byte limit enforced (%s)", err_msg());
	lim.max_bytes = 1 << 20;
	the_key = NULL;
	{
		struct sigkey *other;
		char *o1 = tpath("ok"), *o2 = tpath("ok.pub");
		sigkey_generate(o1, o2);
		sigkey_load_private(o1, &other);
		the_key = other;
		ok(bak_read(p, lookup, NULL, &lim, -1, &back) == ERR_UNTRUSTED,
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
