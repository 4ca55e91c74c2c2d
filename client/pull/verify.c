/* verify.c: nodebak-pull verify (pull.h): read every stored copy again,
 * as completely as when it was pulled (bit rot, a disk that lies). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bak.h"
#include "crypto.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "keyfile.h"
#include "names.h"
#include "pull.h"
#include "pullconf.h"
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

int pull_verify(const struct pull_conf *c, int argc, char **argv)
{
	const char *only = NULL;
	int bad = 0, count = 0, i = 0;

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
