/* trust.c: nodebak-pull trust NODE (pull.h): show the node's SSH host
 * key and pin it when the operator, having compared it with the node's,
 * answers a capital Y. There is no trust on first use otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "pull.h"
#include "pullconf.h"
#include "sshc.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

static int confirmed(void)
{
	char line[16];

	fputs("Pin this host key? Type capital Y to pin it: ", stdout);
	fflush(stdout);
	return fgets(line, sizeof line, stdin) != NULL && !strcmp(line, "Y\n");
}

int pull_trust(const struct pull_conf *c, int argc, char **argv)
{
	const struct pull_node *pn;
	struct buf line = BUF_INIT(16384);
	char fp[SSHC_FP_MAX], old[SSHC_FP_MAX];
	char *path = NULL;
	int r = PULL_EXIT_SOME;

	if (argc != 1)
		return pull_usage("trust: expected one NODE%s", "");
	if ((pn = pullconf_node(c, argv[0])) == NULL)
		return pull_usage("trust: no [node %s] in the configuration",
		    argv[0]);
	if (pn->host_key_is_fp) {
		fprintf(stderr, "nodebak-pull: trust %s: its host key is pinned "
		    "in %s (host_key = %s); edit the file to change it\n",
		    pn->name, esc(c->file), pn->host_key);
		return PULL_EXIT_CONFIG;
	}
	path = pn->host_key ? xstrdup(pn->host_key) :
	    store_hostkey_path(c->archive_dir, pn->name);
	if (path == NULL || sshc_hostkey(pn->address, (int)pn->port,
	    (long)c->timeout, fp, &line) != 0) {
		fprintf(stderr, "nodebak-pull: trust %s: %s\n", pn->name,
		    err_msg());
		goto out;
	}
	printf("Node %s at %s port %ld has the SSH host key\n  %s (%.*s)\n",
	    pn->name, esc(pn->address), pn->port, fp,
	    (int)strcspn(buf_cstr(&line), " "), buf_cstr(&line));
	if (fs_exists(path) && sshc_file_fingerprint(path, old) == 0) {
		if (!strcmp(old, fp)) {
			printf("It is already pinned in %s.\n", esc(path));
			r = PULL_EXIT_OK;
			goto out;
		}
		printf("WARNING: %s pins another key,\n  %s\nA changed host key "
		    "can mean someone is impersonating the node.\n", esc(path),
		    old);
	}
	printf("Compare it with the key on the node (there: ssh-keygen -lf "
	    "HOST_KEY_FILE, the file of [ftpd] host_key).\n");
	if (!confirmed()) {
		printf("Not pinned.\n");
		goto out;
	}
	buf_addch(&line, '\n');
	if (fs_mkdir_parent(path, 0700) != 0 ||
	    fs_write_atomic(path, line.p, line.len, 0644) != 0) {
		fprintf(stderr, "nodebak-pull: trust %s: %s\n", pn->name,
		    err_msg());
		goto out;
	}
	printf("Pinned in %s.\n", esc(path));
	r = PULL_EXIT_OK;
out:
	free(path);
	buf_free(&line);
	return r;
}
