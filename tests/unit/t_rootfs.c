/* t_rootfs.c: what the files root policy hides: private keys recognised by
 * their content (common/crypto.c, crypto_looks_like_private_key), made by
 * the openssl and ssh-keygen programs in every format a node may hold. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "fsutil.h"
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
