/* t_rootfs.c: the files root policy (ftpd/rootfs.c): private keys
 * recognised by their content (common/crypto.c,
 * crypto_looks_like_private_key), made by the openssl and ssh-keygen
 * programs in every format a node may hold; the role table, internal
 * names and what the opening calls refuse. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "fsutil.h"
#include "rootfs.h"
#include "run.h"
#include "tap.h"

/* Files made by one shell script in a scratch folder, by name. */
static const struct {
	const char *name;
	int key;
} made[] = {
	{ "pkcs8.pem", 1 }, { "rsa-trad.pem", 1 }, { "ec-params.pem", 1 },
	{ "enc-pkcs8.pem", 1 }, { "openssh_key", 1 }, { "ed25519.der", 1 },
	{ "ec-pkcs8.der", 1 }, { "ec-trad.der", 1 }, { "rsa-trad.der", 1 },
	{ "enc-pkcs8.der", 1 }, { "bundle.pem", 1 },
	{ "cert.pem", 0 }, { "cert.cer", 0 }, { "req.csr", 0 }, { "pub.pem", 0 },
	{ "pub.der", 0 }, { "openssh_key.pub", 0 }, { "prose.txt", 0 },
	{ "empty", 0 }, { "gzip.bin", 0 },
};

static const char script[] =
	"set -e; cd \"$1\"; o=/usr/bin/openssl\n"
	"$o genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out pkcs8.pem 2>/dev/null\n"
	"$o rsa -in pkcs8.pem -traditional -out rsa-trad.pem 2>/dev/null\n"
	"$o rsa -in pkcs8.pem -traditional -outform DER -out rsa-trad.der 2>/dev/null\n"
	"$o ecparam -name prime256v1 -genkey -out ec-params.pem\n"
	"$o ec -in ec-params.pem -outform DER -out ec-trad.der 2>/dev/null\n"
	"$o pkcs8 -topk8 -nocrypt -in ec-params.pem -outform DER -out ec-pkcs8.der\n"
	"$o pkcs8 -topk8 -v2 aes-256-cbc -passout pass:secret -in ec-params.pem -out enc-pkcs8.pem\n"
	"$o pkcs8 -topk8 -v2 aes-256-cbc -passout pass:secret -in ec-params.pem -outform DER -out enc-pkcs8.der\n"
	"$o genpkey -algorithm ED25519 -outform DER -out ed25519.der\n"
	"$o req -x509 -key ec-params.pem -subj /CN=t -days 2 -out cert.pem 2>/dev/null\n"
	"$o x509 -in cert.pem -outform DER -out cert.cer\n"
	"$o req -new -key ec-params.pem -subj /CN=t -out req.csr\n"
	"$o pkey -in ec-params.pem -pubout -out pub.pem\n"
	"$o pkey -in ec-params.pem -pubout -outform DER -out pub.der\n"
	"cat cert.pem pkcs8.pem > bundle.pem\n"
	"/usr/bin/ssh-keygen -q -t ed25519 -N '' -C t -f openssh_key\n"
	"printf 'Notes\\nNever mail a PRIVATE KEY; the BEGIN line of a key is the\\n"
	"first thing a scanner looks for. -----BEGIN CERTIFICATE-----\\n' > prose.txt\n"
	": > empty; printf 'x%.0s' $(seq 1 5000) | gzip > gzip.bin\n";

static int file_is_key(const char *dir, const char *name, int *keyp)
{
	char path[512];
	struct buf b = BUF_INIT(1 << 20);
	int r;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((r = fs_read_file(path, 1 << 20, &b)) == 0)
		*keyp = crypto_looks_like_private_key((const unsigned char *)b.p,
		    b.len);
	buf_free(&b);
	return r;
}

void t_keyscan(void)
{
	char dir[] = "/tmp/nodebak-unit-keys-XXXXXX";
	const char *const argv[] = { "/bin/sh", "-c", script, "sh", dir, NULL };
	static const char ec_tail[] = "-----BEGIN EC PRIVATE KEY-----\nMHc=\n"
	    "-----END EC PRIVATE KEY-----\n";
	struct child c;
	struct buf pre = BUF_INIT(1 << 17);
	int key = -1;

	if (mkdtemp(dir) == NULL) {
		ok(0, "keyscan: scratch folder");
		return;
	}
	memset(&c, 0, sizeof c);
	c.argv = argv;
	ok(run_capture(&c, NULL, NULL, 4096, 60000) == 0,
	    "keyscan: openssl and ssh-keygen made the sample files (%s)",
	    err_msg());
	for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
		ok(file_is_key(dir, made[i].name, &key) == 0 && key == made[i].key,
		    "keyscan: %s is %s", made[i].name, made[i].key ?
		    "a private key" : "not a private key");
	/* Armour lines as they appear in files nobody generated. */
	ok(crypto_looks_like_private_key((const unsigned char *)
	    "-----BEGIN DSA PRIVATE KEY-----\r\nx\r\n", 36),
	    "keyscan: DSA armour with CRLF");
	ok(crypto_looks_like_private_key((const unsigned char *)
	    "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\n", 43),
	    "keyscan: ssh.com armour");
	ok(crypto_looks_like_private_key((const unsigned char *)
	    "PuTTY-User-Key-File-3: ssh-ed25519\n", 35), "keyscan: PuTTY key");
	ok(!crypto_looks_like_private_key((const unsigned char *)
	    "-----BEGIN private key-----\n", 28) &&
	    !crypto_looks_like_private_key((const unsigned char *)
	    "BEGIN PRIVATE KEY-----\n", 23) &&
	    !crypto_looks_like_private_key((const unsigned char *)
	    "-----BEGIN PRIVATE KEY\n", 23),
	    "keyscan: half an armour line is prose");
	for (int i = 0; i < 2000; i++)
		buf_adds(&pre, "-----BEGIN CERTIFICATE-----\nAAAA\n");
	buf_adds(&pre, ec_tail);
	ok(crypto_looks_like_private_key((const unsigned char *)pre.p, pre.len),
	    "keyscan: a key after %zu bytes of certificates", pre.len -
	    strlen(ec_tail));
	ok(!crypto_looks_like_private_key((const unsigned char *)"\x30\x03\x02\x01\x00",
	    5) && !crypto_looks_like_private_key((const unsigned char *)"\x30", 1) &&
	    !crypto_looks_like_private_key(NULL, 0),
	    "keyscan: DER that is no key, truncated DER, nothing");
	buf_free(&pre);
	{
		const char *const rm[] = { "/bin/rm", "-rf", dir, NULL };
		memset(&c, 0, sizeof c);
		c.argv = rm;
		run_capture(&c, NULL, NULL, 1024, 0);
	}
}

/* The role table and the rules around it (ftpd/rootfs.c), on a scratch
 * files root: by name (rootfs_check) and through the calls that open. */
void t_rootfs(void)
{
	static const struct {
		enum role role;
		const char *vpath;
		unsigned op;
		int want;
	} rules[] = {
		{ ROLE_READONLY, "/", ROOTFS_LIST, 0 },
		{ ROLE_READONLY, "/backups", ROOTFS_LIST, 0 },
		{ ROLE_READONLY, "/backups/a.bak", ROOTFS_READ, 0 },
		{ ROLE_READONLY, "/backups/sub/b.bak", ROOTFS_READ, 0 },
		{ ROLE_READONLY, "/certs/x.crt", ROOTFS_READ, ERR_DENIED },
		{ ROLE_READONLY, "/backupsX", ROOTFS_LIST, ERR_DENIED },
		{ ROLE_READONLY, "/backups/a.bak", ROOTFS_WRITE, ERR_DENIED },
		{ ROLE_READONLY, "/backups/a.bak", ROOTFS_DELETE, ERR_DENIED },
		{ ROLE_READONLY, "/backups/a.bak", ROOTFS_RENAME, ERR_DENIED },
		{ ROLE_READONLY, "/", ROOTFS_WRITE, ERR_DENIED },
		{ ROLE_READONLY, "/backups/n.key", ROOTFS_READ, ERR_DENIED },
		{ ROLE_READONLY, "/backups/n.KEY", ROOTFS_LIST, ERR_DENIED },
		{ ROLE_READONLY, "/backups/n.Key", ROOTFS_READ, ERR_DENIED },
		{ ROLE_READONLY, "/backups/.nodebak-x", ROOTFS_LIST, ERR_NOTFOUND },
		{ ROLE_ARCHIVER, "/", ROOTFS_LIST, 0 },
		{ ROLE_ARCHIVER, "/backups", ROOTFS_LIST, 0 },
		{ ROLE_ARCHIVER, "/backups/a.bak", ROOTFS_READ, 0 },
		{ ROLE_ARCHIVER, "/backups/a.json", ROOTFS_READ, 0 },
		{ ROLE_ARCHIVER, "/node.crt", ROOTFS_READ, ERR_DENIED },
		{ ROLE_ARCHIVER, "/state", ROOTFS_LIST, ERR_DENIED },
		{ ROLE_ARCHIVER, "/certs/x.crt", ROOTFS_READ, ERR_DENIED },
		{ ROLE_ARCHIVER, "/node.key", ROOTFS_LIST, ERR_DENIED },
		{ ROLE_ARCHIVER, "/backupsX/a.bak", ROOTFS_READ, ERR_DENIED },
		{ ROLE_ARCHIVER, "/backups/n.key", ROOTFS_READ, ERR_DENIED },
		{ ROLE_ARCHIVER, "/backups/a.bak", ROOTFS_WRITE, ERR_DENIED },
		{ ROLE_ARCHIVER, "/backups/new", ROOTFS_WRITE, ERR_DENIED },
		{ ROLE_ARCHIVER, "/backups/a.bak", ROOTFS_DELETE, ERR_DENIED },
		{ ROLE_ARCHIVER, "/backups/a.bak", ROOTFS_RENAME, ERR_DENIED },
		{ ROLE_ARCHIVER, "/backups", ROOTFS_DELETE, ERR_DENIED },
		{ ROLE_ARCHIVER, "/backups/.nodebak-x", ROOTFS_READ, ERR_NOTFOUND },
		{ ROLE_ADMIN, "/backups/n.KEY", ROOTFS_READ, 0 },
		{ ROLE_ADMIN, "/certs/x.crt", ROOTFS_WRITE, 0 },
		{ ROLE_ADMIN, "/certs", ROOTFS_DELETE | ROOTFS_RENAME, 0 },
		{ ROLE_ADMIN, "/", ROOTFS_LIST, 0 },
		{ ROLE_ADMIN, "/", ROOTFS_DELETE, ERR_DENIED },
		{ ROLE_ADMIN, "/.nodebak-staging", ROOTFS_READ, ERR_NOTFOUND },
		{ ROLE_ADMIN, "/a/.nodebak/b", ROOTFS_LIST, ERR_NOTFOUND },
		{ ROLE_ADMIN, "/a/x.nodebak", ROOTFS_LIST, 0 },
		{ ROLE_NONE, "/", ROOTFS_LIST, ERR_DENIED },
	};
	static const char key[] = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n"
	    "-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\nMHc=\n"
	    "-----END EC PRIVATE KEY-----\n";
	char dir[] = "/tmp/nodebak-unit-root-XXXXXX", p[256];
	const char *const rm[] = { "/bin/rm", "-rf", dir, NULL };
	struct rootfs fs = { -1, NULL };
	enum role role;
	struct child c;
	struct stat st;
	int fd = -1, dfd;

	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		fs.rootfd = -1;
		rootfs_set_role(&fs, rules[i].role);
		ok(rootfs_check(&fs, rules[i].vpath, rules[i].op) == rules[i].want,
		    "rootfs: %s op %u on %s: %s", role_name(rules[i].role),
		    rules[i].op, rules[i].vpath, rules[i].want ? err_str(rules[i].want) :
		    "allowed");
	}
	ok(role_parse("archiver", &role) == 0 && role == ROLE_ARCHIVER &&
	    !strcmp(role_name(ROLE_ARCHIVER), "archiver") &&
	    role_parse("Archiver", &role) == ERR_INVAL,
	    "users: the archiver role by name, both ways");
	ok(!role_has_console(ROLE_ARCHIVER) && !role_has_console(ROLE_NONE) &&
	    role_has_console(ROLE_READONLY) && role_has_console(ROLE_ADMIN),
	    "users: archiver (and no role) has no console; readonly and admin do");
	if (mkdtemp(dir) == NULL) {
		ok(0, "rootfs: scratch root");
		return;
	}
	snprintf(p, sizeof p, "%s/backups", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/backups/innocent.txt", dir);
	fs_write_atomic(p, key, sizeof key - 1, 0644);
	snprintf(p, sizeof p, "%s/backups/a.bak", dir);
	fs_write_atomic(p, "archive", 7, 0644);
	snprintf(p, sizeof p, "%s/backups/link.bak", dir);
	if (symlink("a.bak", p) != 0)
		ok(0, "rootfs: symlink");
	ok(rootfs_open(&fs, dir, ROLE_READONLY) == 0, "rootfs: open the root");
	ok(rootfs_openat(&fs, "/backups/innocent.txt", ROOTFS_READ, O_RDONLY, 0,
	    &fd) == ERR_DENIED && fd == -1,
	    "rootfs: readonly opening a key by content: ERR_DENIED, no descriptor");
	ok(rootfs_stat(&fs, "/backups/innocent.txt", 1, &st) == ERR_DENIED &&
	    rootfs_stat(&fs, "/backups/innocent.txt", 0, &st) == ERR_DENIED,
	    "rootfs: readonly stat and lstat of a key by content: ERR_DENIED");
	ok(rootfs_openat(&fs, "/backups/a.bak", ROOTFS_READ, O_RDONLY, 0, &fd) == 0 &&
	    fd >= 0, "rootfs: readonly opens an archive");
	if (fd >= 0)
		close(fd);
	ok(rootfs_openat(&fs, "/backups/link.bak", ROOTFS_READ, O_RDONLY, 0, &fd) ==
	    ERR_SYS && errno == ELOOP, "rootfs: readonly follows no symlink");
	if (rootfs_openat(&fs, "/backups", ROOTFS_LIST, O_RDONLY | O_DIRECTORY, 0,
	    &dfd) == 0) {
		ok(!rootfs_visible(&fs, "/backups", dfd, "innocent.txt") &&
		    rootfs_visible(&fs, "/backups", dfd, "a.bak") &&
		    !rootfs_visible(&fs, "/backups", dfd, ".nodebak-upload-x") &&
		    !rootfs_visible(&fs, "/backups", dfd, "z.key"),
		    "rootfs: readonly listing: no key by content or name, no "
		    "internal name, the archive");
		close(dfd);
	} else
		ok(0, "rootfs: open /backups");
	rootfs_set_role(&fs, ROLE_ARCHIVER);
	ok(rootfs_openat(&fs, "/backups/a.bak", ROOTFS_READ, O_RDONLY, 0, &fd) == 0 &&
	    fd >= 0, "rootfs: archiver opens an archive");
	if (fd >= 0)
		close(fd);
	ok(rootfs_openat(&fs, "/backups/link.bak", ROOTFS_READ, O_RDONLY, 0, &fd) ==
	    ERR_SYS && errno == ELOOP, "rootfs: archiver follows no symlink");
	ok(rootfs_openat(&fs, "/backups/innocent.txt", ROOTFS_READ, O_RDONLY, 0,
	    &fd) == ERR_DENIED && fd == -1,
	    "rootfs: archiver opening a key by content: ERR_DENIED");
	ok(rootfs_mkdir(&fs, "/backups/new", 0755) == ERR_DENIED &&
	    rootfs_unlink(&fs, "/backups/a.bak") == ERR_DENIED &&
	    rootfs_rename(&fs, "/backups/a.bak", "/backups/b.bak", 0) == ERR_DENIED,
	    "rootfs: archiver makes, deletes and renames nothing in backups/");
	rootfs_set_role(&fs, ROLE_ADMIN);
	ok(rootfs_openat(&fs, "/backups/innocent.txt", ROOTFS_READ, O_RDONLY, 0,
	    &fd) == 0, "rootfs: admin opens the key");
	if (fd >= 0)
		close(fd);
	ok(rootfs_openat(&fs, "/backups/link.bak", ROOTFS_READ, O_RDONLY, 0, &fd) == 0,
	    "rootfs: admin follows a symlink inside the root");
	if (fd >= 0)
		close(fd);
	rootfs_close(&fs);
	memset(&c, 0, sizeof c);
	c.argv = rm;
	run_capture(&c, NULL, NULL, 1024, 0);
}
