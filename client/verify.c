/* verify.c: nodebak verify: the checks of backup verify (bak_read(), the
 * node a key may sign for, NAME.json) run in the console itself, trusting
 * a key given on the command line or the local node's keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bak.h"
#include "buf.h"
#include "conf.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "keyfile.h"
#include "names.h"
#include "sidecar.h"
#include "verify.h"
#include "xmalloc.h"
#include "banned.h"

/* The defaults of [snapshotd] max_members and max_bytes (common/conf.c):
 * with --key there may be no configuration to read them from. */
#define VERIFY_MAX_MEMBERS 10000
#define VERIFY_MAX_BYTES ((uint64_t)64 << 30)

/* What verifies archives: one key (--key), or a node's own key and the
 * keys it trusts (state_dir). */
struct trustset {
	struct sigkey *given;
	struct keyfile_node given_node;	/* its Node line, "" for a bare PEM */
	const char *state_dir;		/* NULL with --key */
	struct sigkey *own;
	char own_id[37];
	struct sigkey *other;		/* the trusted key last looked up */
	const char *origin;		/* "given", "this node", "trusted" */
	char asked[KEYID_HEX_LEN + 1];	/* the key id the archive names */
};

static int keyid_ok(const char *s)
{
	if (strlen(s) != KEYID_HEX_LEN)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static const struct sigkey *lookup(void *arg, const char *keyid)
{
	struct trustset *t = arg;
	char name[KEYID_HEX_LEN + 8], *dir, *p;

	snprintf(t->asked, sizeof t->asked, "%s", keyid);
	if (t->given)
		return strcmp(sigkey_id(t->given), keyid) ? NULL : t->given;
	if (t->own && !strcmp(sigkey_id(t->own), keyid))
		return t->own;
	if (!keyid_ok(keyid))
		return NULL;
	sigkey_free(t->other);
	t->other = NULL;
	snprintf(name, sizeof name, "%s.pub", keyid);
	dir = fs_join(t->state_dir, "trusted");
	p = fs_join(dir, name);
	if (sigkey_load_public(p, &t->other) != 0 ||
	    strcmp(sigkey_id(t->other), keyid)) {
		sigkey_free(t->other);
		t->other = NULL;
	}
	free(dir);
	free(p);
	return t->other;
}

/* 0 when state_dir/trusted/<keyid>.node lists id: the key is trusted
 * for that node (docs/bak-format.md "Trust"); ERR_UNTRUSTED otherwise. */
static int bound_to(const char *state_dir, const char *keyid,
    const struct manifest *mf, const char *file)
{
	struct keyfile_node *nodes = NULL;
	char name[KEYID_HEX_LEN + 8], *dir, *p;
	size_t n = 0, i;
	int r;

	snprintf(name, sizeof name, "%s" KEYFILE_NODES_EXT, keyid);
	dir = fs_join(state_dir, "trusted");
	p = fs_join(dir, name);
	r = keyfile_load_nodes(p, &nodes, &n);
	for (i = 0; r == 0 && i < n && strcmp(nodes[i].id, mf->node_id); i++)
		;
	if (r == ERR_NOTFOUND || (r == 0 && n == 0))
		r = err_set(ERR_UNTRUSTED, "%s: signed by key %s, which was trusted "
		    "before nodebak recorded the node a key belongs to; trust it "
		    "again (key show on its node, then key trust)", esc(file),
		    keyid);
	else if (r == 0 && i == n)
		r = err_set(ERR_UNTRUSTED, "%s: FORGED: signed by key %s, which is "
		    "trusted for node %s (%s)%s, but claims node %s (%s); refused",
		    esc(file), keyid, nodes[0].name[0] ? nodes[0].name : "?",
		    nodes[0].id, n > 1 ? " and others (key list)" : " only",
		    esc(mf->node_name), esc(mf->node_id));
	free(nodes);
	free(dir);
	free(p);
	return r;
}

/* The node the MANIFEST names is one its key may sign for. */
static int check_claim(struct trustset *t, const struct manifest *mf,
    const char *file)
{
	if (t->given) {
		t->origin = "the key given";
		if (t->given_node.id[0] && strcmp(t->given_node.id, mf->node_id))
			return err_set(ERR_UNTRUSTED, "%s: signed by key %s, which is "
			    "node %s (%s), but claims node %s (%s); refused",
			    esc(file), mf->key_id, t->given_node.name,
			    t->given_node.id, esc(mf->node_name), esc(mf->node_id));
		return 0;
	}
	if (t->own && !strcmp(sigkey_id(t->own), mf->key_id)) {
		t->origin = "this node";
		if (strcmp(mf->node_id, t->own_id))
			return err_set(ERR_UNTRUSTED, "%s: FORGED: signed with this "
			    "node's own key but claims node %s (%s), not this node "
			    "(%s); refused", esc(file), esc(mf->node_name),
			    esc(mf->node_id), t->own_id);
		return 0;
	}
	t->origin = "trusted";
	return bound_to(t->state_dir, mf->key_id, mf, file);
}

/* Without --key: the node's own key and trusted keys, from the
 * configuration's state_dir. */
static int node_keys(const char *conf_file, struct conf **cp,
    struct trustset *t, struct bak_limits *lim)
{
	struct buf id = BUF_INIT(64);
	char *p;
	int r;

	if (conf_load(conf_file, cp) != 0)
		return err_set(ERR_NOTFOUND, "no node configuration to take keys "
		    "from (%s); give the signing node's public key with --key "
		    "PUBKEY", err_msg());
	t->state_dir = (*cp)->state_dir;
	lim->max_members = (size_t)(*cp)->max_members;
	lim->max_bytes = (uint64_t)(*cp)->max_bytes;
	p = fs_join(t->state_dir, "signing.pub");
	r = sigkey_load_public(p, &t->own);
	free(p);
	if (r != 0)
		return err_set(ERR_NOTFOUND, "no node public key readable (%s); "
		    "give the signing node's public key with --key PUBKEY",
		    err_msg());
	p = fs_join(t->state_dir, "node-id");
	if ((r = fs_read_file(p, 64, &id)) == 0 &&
	    (id.len != 37 || id.p[36] != '\n'))
		r = err_set(ERR_FORMAT, "%s: not a node id", p);
	if (r == 0) {
		memcpy(t->own_id, id.p, 36);
		if (!node_id_valid(t->own_id))
			r = err_set(ERR_FORMAT, "%s: not a node id", p);
	}
	/* Without the id, the node's own key cannot say which node it is. */
	if (r != 0)
		r = err_set(ERR_NOTFOUND, "no node id readable (%s); give the "
		    "signing node's public key with --key PUBKEY", err_msg());
	free(p);
	buf_free(&id);
	return r;
}

/* NAME.json beside path: checked when it is there. *said what became of it. */
static int check_sidecar(const char *path, const struct manifest *mf,
    const char **said)
{
	struct sidecar sc;
	char *json = sidecar_path(path);
	int r = 0;

	*said = "no NAME.json beside it: size and SHA-256 of the file not checked";
	if (json && fs_exists(json)) {
		if ((r = sidecar_load(json, &sc)) == 0 &&
		    (r = sidecar_check_file(&sc, path)) == 0 &&
		    (r = sidecar_match_manifest(&sc, mf)) == 0)
			*said = "NAME.json checked: the file's size and SHA-256 match";
	}
	free(json);
	return r;
}

static void report(const char *path, const struct manifest *mf,
    const struct trustset *t, const char *said, const struct bak_seal *seal)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char ts[21], rec[AGE_RECIPIENT_MAX];

	manifest_time(mf->created, ts);
	printf("%s: OK\n  node %s (%s), snapshot %s taken %s\n  signed by key %s "
	    "(%s)\n", esc(path), esc(mf->node_name), esc(mf->node_id),
	    esc(mf->snapshot), ts, esc(mf->key_id), t->origin);
	if (seal->sealed) {
		printf("  encrypted (format 2) to %zu recipient%s:\n", seal->env.nrec,
		    seal->env.nrec == 1 ? "" : "s");
		for (size_t i = 0; i < seal->env.nrec; i++) {
			age_recipient_format(&seal->env.rec[i], rec);
			printf("    %s\n", rec);
		}
		if (seal->opened)
			printf("  opened with the identity given: %zu members, %llu "
			    "bytes, all SHA-256 match\n", mf->n,
			    (unsigned long long)manifest_total(mf));
		else
			printf("  the signed ENVELOPE matches the encrypted payload "
			    "(%llu bytes, SHA-256 %.16s...); its contents were not "
			    "opened (--identity FILE opens them)\n",
			    (unsigned long long)seal->env.payload_size,
			    seal->env.payload_sha256);
	} else {
		if (seal->age_only)
			printf("  age-encrypted format 1 archive, opened with the "
			    "identity given\n");
		printf("  %zu members, %llu bytes, all SHA-256 match\n", mf->n,
		    (unsigned long long)manifest_total(mf));
	}
	printf("  %s\n", said);
	if (t->given && t->given_node.id[0] == '\0')
		printf("  the key was a bare PEM key: which node it belongs to was "
		    "not checked\n");
	if (!name_is_bak_of(base, mf->snapshot))
		printf("  WARNING: the file is named %s but holds snapshot %s: it "
		    "was renamed or copied; restoring it restores snapshot %s\n",
		    esc(base), esc(mf->snapshot), esc(mf->snapshot));
}

static void usage(void)
{
	fprintf(stderr, "Usage: nodebak verify FILE.bak [--key PUBKEY] "
	    "[--identity FILE]\n"
	    "  PUBKEY: the signing node's public key (PEM), or what nodebak key "
	    "show prints there\n  Without --key: this node's own and trusted "
	    "keys (its configuration's state_dir)\n"
	    "  --identity: an age identity file that opens an encrypted archive, "
	    "to check its\n  contents too (without it, an encrypted archive's "
	    "signed envelope is checked)\n");
}

int verify_main(const char *conf_file, int argc, char **argv)
{
	struct trustset t;
	struct bak_limits lim = { VERIFY_MAX_MEMBERS, VERIFY_MAX_BYTES };
	struct manifest mf;
	struct conf *c = NULL;
	const char *path = NULL, *keyfile = NULL, *idfile = NULL, *said = "";
	struct age_identity *ids = NULL;
	struct bak_seal seal;
	size_t nids = 0;
	int r, got_mf = 0;

	memset(&t, 0, sizeof t);
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--key") && i + 1 < argc && !keyfile)
			keyfile = argv[++i];
		else if (!strcmp(argv[i], "--identity") && i + 1 < argc && !idfile)
			idfile = argv[++i];
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else {
			usage();
			return 2;
		}
	}
	if (path == NULL) {
		usage();
		return 2;
	}
	if (keyfile)
		r = keyfile_load(keyfile, &t.given, &t.given_node);
	else if ((r = node_keys(conf_file, &c, &t, &lim)) == ERR_NOTFOUND) {
		/* Nothing to verify with: the operator must say which key. */
		fprintf(stderr, "nodebak verify: %s\n", err_msg());
		conf_free(c);
		sigkey_free(t.own);
		return 2;
	}
	if (r == 0 && idfile)
		r = age_identities_load(idfile, &ids, &nids);
	if (r == 0 && (r = bak_read(path, &(struct bak_keys){ lookup, &t, ids,
	    nids }, &lim, -1, &mf, &seal)) == 0) {
		got_mf = 1;
		if ((r = check_claim(&t, &mf, path)) == 0)
			r = check_sidecar(path, &mf, &said);
	}
	/* bak_read() speaks of the node's trust; here one key was given. */
	if (r == ERR_UNTRUSTED && t.given && !got_mf)
		err_set(r, "%s: signed by key %s, not by the key given (%s)",
		    esc(path), esc(t.asked), sigkey_id(t.given));
	if (r == 0 && idfile && seal.sealed && !seal.opened)
		r = err_set(ERR_NOKEY, "%s: encrypted to other recipients: %s "
		    "cannot open it", esc(path), esc(idfile));
	if (r == 0)
		report(path, &mf, &t, said, &seal);
	else
		fprintf(stderr, "nodebak verify: FAILED: %s\n", err_msg());
	if (got_mf)
		manifest_free(&mf);
	age_identities_free(ids, nids);
	sigkey_free(t.given);
	sigkey_free(t.own);
	sigkey_free(t.other);
	conf_free(c);
	return r == 0 ? 0 : 1;
}
