/* verify.c: nodebak-pull verify (pull.h): read every stored copy again,
 * as completely as when it was pulled (bit rot, a disk that lies), in
 * archive_dir or, with --store, in the object store; and nodebak-pull
 * fetch, which downloads a copy back from the store, verified. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bak.h"
#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "keyfile.h"
#include "names.h"
#include "pull.h"
#include "pullconf.h"
#include "s3store.h"
#include "sidecar.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

/* Check one copy: the archive with the node's pinned key, then its
 * NAME.json (size, SHA-256, what it says of the MANIFEST). */
static int check_copy(const struct pull_conf *c, const struct sigkey *key,
    const char *node_id, const char *path)
{
	struct bak_limits lim = { (size_t)c->max_members,
	    (uint64_t)c->max_bytes };
	struct manifest mf;
	struct sidecar sc;
	size_t n = strlen(path);
	char *json = xmalloc(n + 2);
	int r;

	snprintf(json, n + 2, "%.*s.json", (int)(n - 4), path);
	r = bak_read(path, &(struct bak_keys){ bak_key_only, (void *)key, NULL, 0 },
	    &lim, -1, &mf, NULL);
	if (r == ERR_UNTRUSTED)
		r = err_set(r, "%s: not signed by the node's pinned signing key "
		    "%s", esc(path), sigkey_id(key));
	if (r == 0 && node_id[0] && strcmp(node_id, mf.node_id)) {
		r = err_set(ERR_MISMATCH, "%s: an archive of node id %s, but the "
		    "signing key is %s's (its Node line)", esc(path), mf.node_id,
		    node_id);
		manifest_free(&mf);
	} else if (r == 0) {
		if ((r = sidecar_load(json, &sc)) == 0 &&
		    (r = sidecar_check_file(&sc, path)) == 0)
			r = sidecar_match_manifest(&sc, &mf);
		manifest_free(&mf);
	}
	free(json);
	return r;
}

/* Which node a FILE argument belongs to: --node, or the folder it lies
 * in when that is archive_dir/NODE. */
static const struct pull_node *node_of(const struct pull_conf *c,
    const char *only, const char *file)
{
	char *real = realpath(file, NULL), *top = realpath(c->archive_dir, NULL);
	const struct pull_node *pn = NULL;
	size_t len = top ? strlen(top) : 0;
	char *slash;

	if (only)
		pn = pullconf_node(c, only);
	else if (real && top && !strncmp(real, top, len) &&
	    real[len] == '/' && (slash = strchr(real + len + 1, '/'))) {
		*slash = '\0';
		pn = pullconf_node(c, real + len + 1);
	}
	free(real);
	free(top);
	return pn;
}

static int verify_one(const struct pull_conf *c, const struct pull_node *pn,
    const char *path, const char *shown)
{
	struct sigkey *key = NULL;
	struct keyfile_node kn;
	int r;

	if ((r = keyfile_load(pn->signing_key, &key, &kn)) == 0)
		r = check_copy(c, key, kn.id, path);
	sigkey_free(key);
	if (r == 0)
		printf("%s: OK\n", shown);
	else
		printf("%s: FAILED: %s\n", shown, err_msg());
	return r;
}

static int verify_node(const struct pull_conf *c, const struct pull_node *pn,
    int *bad, int *count)
{
	struct store_copy *cp = NULL;
	size_t n = 0;
	int r;

	if ((r = store_copies(c->archive_dir, pn->name, &cp, &n)) != 0) {
		if (r != ERR_SYS || !fs_exists(c->archive_dir))
			printf("%s: FAILED: %s\n", pn->name, err_msg());
		*bad += r != ERR_SYS;
		free(cp);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		char *path = store_path(c->archive_dir, ST_COPIES, pn->name,
		    cp[i].file);
		char shown[2 * NAME_MAX_LEN + 8];
		snprintf(shown, sizeof shown, "%s/%s", pn->name, cp[i].file);
		*bad += verify_one(c, pn, path, shown) != 0;
		(*count)++;
		free(path);
	}
	free(cp);
	return 0;
}

/* ---- the object store ---- */

/* Download node's file from the store into the folder dir (made 0700)
 * and verify it there: signature, members, sidecar, and the object's
 * metadata (SHA-256, signer's key id) against them. The two files stay
 * in dir. */
static int fetch_checked(const struct pull_conf *c, struct s3store *st,
    const struct pull_node *pn, const struct s3store_copy *cp,
    const char *dir)
{
	char *bak = fs_join(dir, cp->file), *json = sidecar_path(bak);
	struct sigkey *key = NULL;
	struct keyfile_node kn;
	struct sidecar sc;
	int r;

	unlink(bak);
	unlink(json);
	if ((r = fs_mkdir_p(dir, 0700)) != 0 ||
	    (r = keyfile_load(pn->signing_key, &key, &kn)) != 0 ||
	    (r = s3store_get(st, pn->name, cp->file, bak, json)) != 0 ||
	    (r = check_copy(c, key, kn.id, bak)) != 0 ||
	    (r = sidecar_load(json, &sc)) != 0)
		goto out;
	if (!cp->complete)
		r = err_set(ERR_MISMATCH, "%s: the object has no sha256 metadata: "
		    "not stored by nodebak-pull, or replaced", cp->file);
	else if (strcmp(cp->sha256, sc.sha256))
		r = err_set(ERR_MISMATCH, "%s: the object's sha256 metadata %s is "
		    "not its sidecar's %s", cp->file, cp->sha256, sc.sha256);
	else if (strcmp(cp->key_id, sigkey_id(key)))
		r = err_set(ERR_MISMATCH, "%s: the object's key-id metadata %s is "
		    "not the node's pinned key %s", cp->file, cp->key_id,
		    sigkey_id(key));
out:
	sigkey_free(key);
	free(bak);
	free(json);
	return r;
}

static void spool_clean(const char *dir, const char *file)
{
	char *bak = fs_join(dir, file), *json = sidecar_path(bak);

	unlink(bak);
	unlink(json);
	free(bak);
	free(json);
}

static int open_store(const struct pull_conf *c, struct s3store **st)
{
	int r;

	if (c->store == NULL) {
		printf("FAILED: no [pull] store in %s\n", esc(c->file));
		return ERR_INVAL;
	}
	if ((r = s3store_open(c, NULL, NULL, st)) != 0 ||
	    (r = s3store_check(*st)) != 0)
		printf("FAILED: %s\n", err_msg());
	return r;
}

static void verify_store_node(const struct pull_conf *c, struct s3store *st,
    const struct pull_node *pn, int *bad, int *count)
{
	struct s3store_copy *cp = NULL;
	char *inc, *dir;
	size_t n = 0;

	if (s3store_copies(st, pn->name, &cp, &n) != 0) {
		printf("%s: FAILED: %s\n", pn->name, err_msg());
		(*bad)++;
		return;
	}
	store_prepare(c->archive_dir, pn->name);
	inc = store_path(c->archive_dir, ST_INCOMING, pn->name, NULL);
	dir = fs_join(inc, ".verify");
	for (size_t i = 0; i < n; i++) {
		char *url = s3store_url(st, pn->name, cp[i].file);
		if (fetch_checked(c, st, pn, &cp[i], dir) == 0)
			printf("%s: OK\n", url);
		else {
			printf("%s: FAILED: %s\n", url, err_msg());
			(*bad)++;
		}
		spool_clean(dir, cp[i].file);
		(*count)++;
		free(url);
	}
	rmdir(dir);
	free(dir);
	free(inc);
	free(cp);
}

static int verify_store(const struct pull_conf *c, const char *only)
{
	struct s3store *st = NULL;
	int bad = 0, count = 0;

	pull_confine(c, 1);	/* the spool is beneath archive_dir */
	if (open_store(c, &st) != 0) {
		s3store_close(st);
		return PULL_EXIT_ALL;
	}
	for (size_t k = 0; k < c->n_nodes; k++)
		if (only == NULL || !strcmp(only, c->nodes[k].name))
			verify_store_node(c, st, &c->nodes[k], &bad, &count);
	s3store_close(st);
	printf("%d object%s checked, %d failed\n", count, count == 1 ? "" : "s",
	    bad);
	return bad ? PULL_EXIT_SOME : PULL_EXIT_OK;
}

/* fetch NODE NAME [--to DIR]: NAME.bak and NAME.json into DIR (default
 * the current folder), only once verified; existing files are kept. */
int pull_fetch(const struct pull_conf *c, int argc, char **argv)
{
	const struct pull_node *pn;
	struct s3store *st = NULL;
	struct s3store_copy *cp = NULL, *want = NULL;
	char base[NAME_MAX_LEN + 1], file[NAME_MAX_LEN + 5];
	char *tmp = NULL, *dst = NULL, *dstj = NULL, *src = NULL, *srcj = NULL;
	const char *to = ".";
	size_t n = 0;
	int r = PULL_EXIT_ALL;

	if (argc == 4 && !strcmp(argv[2], "--to"))
		to = argv[3];
	else if (argc != 2)
		return pull_usage("fetch: NODE NAME [--to DIR]%s", NULL);
	if ((pn = pullconf_node(c, argv[0])) == NULL)
		return pull_usage("fetch: no [node %s] in the configuration",
		    argv[0]);
	snprintf(file, sizeof file, "%s", argv[1]);
	if (name_from_bak(file, base, sizeof base) != 0)
		snprintf(file, sizeof file, "%s.bak", argv[1]);
	if (name_from_bak(file, base, sizeof base) != 0)
		return pull_usage("fetch: %s: not an archive name", argv[1]);
	if (open_store(c, &st) != 0)
		goto out;
	if (s3store_copies(st, pn->name, &cp, &n) != 0) {
		printf("FAILED: %s\n", err_msg());
		goto out;
	}
	for (size_t i = 0; i < n && !want; i++)
		if (!strcmp(cp[i].file, file))
			want = &cp[i];
	dst = fs_join(to, file);
	dstj = sidecar_path(dst);
	if (want == NULL) {
		char *url = s3store_url(st, pn->name, file);
		printf("%s: FAILED: not in the store (or incomplete)\n", url);
		free(url);
		goto out;
	}
	if (fs_exists(dst) || fs_exists(dstj)) {
		printf("%s: FAILED: exists: not replaced\n", esc(dst));
		goto out;
	}
	{
		struct buf b = BUF_INIT(8192);
		buf_addf(&b, "%s/.nodebak-fetch-XXXXXX", to);
		tmp = buf_detach(&b, NULL);
	}
	if (mkdtemp(tmp) == NULL) {
		printf("%s: FAILED: %s\n", esc(to), strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	src = fs_join(tmp, file);
	srcj = sidecar_path(src);
	if (fetch_checked(c, st, pn, want, tmp) != 0)
		printf("%s/%s: FAILED: %s\n", pn->name, file, err_msg());
	else if (rename(srcj, dstj) != 0 || rename(src, dst) != 0)
		printf("%s: FAILED: %s\n", esc(dst), strerror(errno));
	else {
		printf("%s: fetched and verified (%llu bytes)\n", esc(dst),
		    (unsigned long long)want->size);
		r = PULL_EXIT_OK;
	}
out:
	if (tmp) {
		unlink(src);
		unlink(srcj);
		rmdir(tmp);
	}
	free(tmp);
	free(src);
	free(srcj);
	free(dst);
	free(dstj);
	free(cp);
	s3store_close(st);
	return r;
}

int pull_verify(const struct pull_conf *c, int argc, char **argv)
{
	const char *only = NULL;
	int bad = 0, count = 0, i = 0;

	if (argc >= 1 && !strcmp(argv[0], "--store")) {
		if (argc == 3 && !strcmp(argv[1], "--node") &&
		    pullconf_node(c, argv[2]))
			only = argv[2];
		else if (argc != 1)
			return pull_usage("verify --store [--node NAME]%s", NULL);
		return verify_store(c, only);
	}

	if (argc >= 2 && !strcmp(argv[0], "--node")) {
		only = argv[1];
		if (pullconf_node(c, only) == NULL)
			return pull_usage("verify: no [node %s] in the "
			    "configuration", only);
		i = 2;
	}
	for (int k = i; k < argc; k++)
		if (argv[k][0] == '-')
			return pull_usage("verify: unknown option %s", argv[k]);
	pull_confine(c, 0);	/* reads archives: changes nothing */
	if (i == argc) {
		for (size_t k = 0; k < c->n_nodes; k++)
			if (only == NULL || !strcmp(only, c->nodes[k].name))
				verify_node(c, &c->nodes[k], &bad, &count);
	} else
		for (; i < argc; i++) {
			const struct pull_node *pn = node_of(c, only, argv[i]);
			if (pn == NULL) {
				printf("%s: FAILED: not under archive_dir/NODE: "
				    "give --node NODE\n", esc(argv[i]));
				bad++;
			} else
				bad += verify_one(c, pn, argv[i], esc(argv[i])) != 0;
			count++;
		}
	printf("%d cop%s checked, %d failed\n", count, count == 1 ? "y" : "ies",
	    bad);
	return bad ? PULL_EXIT_SOME : PULL_EXIT_OK;
}
