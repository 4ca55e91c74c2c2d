/* t_renew.c: the renewal's journal (client/renew/rjournal.c) comes back
 * as it was saved, 0600, and a damaged one is refused naming its line;
 * the certificate preflight (certcheck.c) says one line per missing
 * file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "certcheck.h"
#include "err.h"
#include "fsutil.h"
#include "rjournal.h"
#include "tap.h"

static void journal_roundtrip(const char *dir)
{
	struct rjournal j, k;
	struct stat st;
	char *path = fs_join(dir, "renew.journal");

	memset(&j, 0, sizeof j);
	snprintf(j.stamp, sizeof j.stamp, "20261203-121500");
	snprintf(j.master, sizeof j.master, "10.48.36.61");
	snprintf(j.certs, sizeof j.certs, "/home/op/new certs");
	j.n = 2;
	snprintf(j.node[0].spec, sizeof j.node[0].spec, "admin@10.48.36.61:2222");
	j.node[0].started = 0x3f;
	j.node[0].done = 0x1f;
	j.node[0].member = 1;
	snprintf(j.node[1].spec, sizeof j.node[1].spec, "admin@10.48.36.118");
	j.node[1].started = 0x80000007u;
	j.node[1].outcome = RJ_ATTENTION;
	snprintf(j.node[1].note, sizeof j.node[1].note, "rollback failed (x): run y");
	ok(rjournal_save(path, &j) == 0 && stat(path, &st) == 0 &&
	    (st.st_mode & 0777) == 0600, "renew journal: saved, mode 0600");
	ok(rjournal_load(path, &k) == 0 && memcmp(&j, &k, sizeof j) == 0,
	    "renew journal: loads back exactly as saved");
	ok(!rjournal_finished(&k) && !strcmp(rjournal_outcome_name(RJ_ATTENTION),
	    "needs-attention"), "renew journal: a pending node: not finished");
	fs_write_atomic(path, "nodebak-renew-journal 1\nstamp 1\nnode x\n", 38,
	    0600);
	ok(rjournal_load(path, &k) == ERR_FORMAT && strstr(err_msg(), "line 3"),
	    "renew journal: a damaged line is refused by number: %s", err_msg());
	unlink(path);
	ok(rjournal_load(path, &k) == ERR_NOTFOUND, "renew journal: none");
	free(path);
}

void t_renew(void)
{
	char dir[] = "/tmp/nodebak-unit-renew-XXXXXX";
	struct buf p = BUF_INIT(1 << 16);

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	journal_roundtrip(dir);
	ok(certcheck_dir(dir, 30, 0, &p) == CERTCHECK_NFILES &&
	    strstr(buf_cstr(&p), "/CA.cer: cannot read it"),
	    "certcheck: one line per missing file");
	buf_reset(&p);
	{
		/* The markers of a key under a passphrase (no key material). */
		static const char enc[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
		    "AAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
		char *f[3] = { fs_join(dir, "dbclusterserver.key"),
		    fs_join(dir, "dbclusterclient.key"),
		    fs_join(dir, "dbclusterserver.cer") };

		fs_write_atomic(f[0], enc, sizeof enc - 1, 0600);
		fs_write_atomic(f[1], "", 0, 0600);
		fs_write_atomic(f[2], "not a certificate\n", 18, 0644);
		ok(certcheck_dir(dir, 30, 0, &p) == CERTCHECK_NFILES &&
		    strstr(buf_cstr(&p), "/dbclusterserver.key: not an unencrypted "
		    "private key (it is encrypted)\n") &&
		    strstr(buf_cstr(&p), "/dbclusterclient.key: not an unencrypted "
		    "private key\n") &&
		    strstr(buf_cstr(&p), "/dbclusterserver.cer: not a certificate\n") &&
		    strstr(buf_cstr(&p), "/CA.cer: cannot read it (No such file"),
		    "certcheck: an encrypted key, an empty one and a file that is no "
		    "certificate: one line each, as the node's pki commands say it");
		for (int i = 0; i < 3; i++)
			free(f[i]);
	}
	buf_free(&p);
	fs_rm_rf(dir);
}
