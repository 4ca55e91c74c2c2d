/* node.c: node identity, keys, folders and the operation lock: the node
 * state every layer above stands on; it calls nothing of snapshotd's. */
#include <dirent.h>
#include <grp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "db.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "journal.h"
#include "keyfile.h"
#include "log.h"
#include "names.h"
#include "node.h"
#include "xmalloc.h"
#include "banned.h"

static int ensure_dirs(const struct conf *c)
{
	char *b = fs_join(c->files_dir, NODE_BACKUPS_DIR);
	char *t = fs_join(c->state_dir, NODE_TRUSTED_DIR);
	int r;

	if ((r = fs_mkdir_p(c->state_dir, 0700)) == 0 &&
	    (r = fs_mkdir_p(t, 0700)) == 0 &&
	    (r = fs_mkdir_p(c->files_dir, 0755)) == 0 &&
	    (r = fs_mkdir_p(b, 0755)) == 0)
		r = fs_mkdir_parent(c->db_path, 0700);
	/* The state folder holds the private key: never group/world access. */
	if (r == 0 && chmod(c->state_dir, 0700) != 0)
		r = err_sys("chmod %s", c->state_dir);
	free(b);
	free(t);
	return r;
}

static int ensure_key(struct node *n)
{
	char *priv = fs_join(n->conf->state_dir, NODE_KEY_FILE);
	char *pub = fs_join(n->conf->state_dir, NODE_PUB_FILE);
	struct stat st;
	int r = 0;

	if (!fs_exists(priv)) {
		unlink(pub);
		if ((r = sigkey_generate(priv, pub)) != 0)
			goto out;
		log_info("generated signing key %s", priv);
	}
	if (stat(priv, &st) == 0 && (st.st_mode & 077)) {
		r = err_set(ERR_DENIED, "%s: private key is accessible by group or "
		    "others (mode %04o); chmod 600 it", priv, st.st_mode & 0777);
		goto out;
	}
	if ((r = sigkey_load_private(priv, &n->key)) == 0)
		log_info("signing key id %s", sigkey_id(n->key));
out:
	free(priv);
	free(pub);
	return r;
}

/* The node's recovery identity (docs/bak-format.md, format 2): made at
 * first start, mode 0600, in the state folder only. */
static int ensure_recovery(struct node *n)
{
	char *path = fs_join(n->conf->state_dir, NODE_RECOVERY_FILE);
	struct age_identity *ids = NULL;
	size_t nids = 0;
	int r = 0;

	if (!fs_exists(path)) {
		if ((r = age_identity_generate(path, &n->recovery_id)) != 0)
			goto out;
		log_info("generated recovery identity %s", path);
	}
	if ((r = age_identities_load(path, &ids, &nids)) != 0)
		goto out;
	if (nids != 1) {
		r = err_set(ERR_FORMAT, "%s: holds %zu identities, not one", path,
		    nids);
		goto out;
	}
	n->recovery_id = ids[0];
out:
	age_identities_free(ids, nids);
	free(path);
	return r;
}

void node_recipient(const struct node *n, char out[AGE_RECIPIENT_MAX])
{
	struct age_recipient rc;

	age_identity_recipient(&n->recovery_id, &rc);
	age_recipient_format(&rc, out);
}

/* Add the recipients in the words of text (spaces, tabs, newlines;
 * from '#' to the end of a line is a comment) to rs, skipping repeats. */
static int add_recipients(const char *text, const char *what,
    struct age_recipient *rs, size_t *n)
{
	const char *p = text;

	while (*p) {
		char one[AGE_RECIPIENT_MAX];
		struct age_recipient rc;
		size_t len, i;
		if (*p == '#') {
			p += strcspn(p, "\n");
			continue;
		}
		if ((len = strcspn(p, " \t\r\n")) == 0) {
			p++;
			continue;
		}
		if (len >= sizeof one)
			return err_set(ERR_INVAL, "%s: %.20s...: not an age recipient "
			    "(age1 and 58 Bech32 characters)", what, esc(p));
		memcpy(one, p, len);
		one[len] = '\0';
		p += len;
		if (age_recipient_parse(one, &rc) != 0)
			return err_prefix(ERR_INVAL, "%s", what);
		for (i = 0; i < *n && memcmp(rs[i].pub, rc.pub, AGE_KEY_LEN); i++)
			;
		if (i < *n)
			continue;
		if (*n == AGE_MAX_RECIPIENTS - 1)
			return err_set(ERR_TOOBIG, "%s: more than %d recipients", what,
			    AGE_MAX_RECIPIENTS - 1);
		rs[(*n)++] = rc;
	}
	return 0;
}

int node_recipients(const struct node *n, struct age_recipient *rs,
    size_t *nout)
{
	const struct conf *c = n->conf;
	struct buf b = BUF_INIT(1 << 20);
	size_t k = 0, i;
	int r;

	*nout = 0;
	if (c->recipients && (r = add_recipients(c->recipients,
	    "[snapshotd] recipients", rs, &k)) != 0)
		return r;
	if (c->recipients_file) {
		if ((r = fs_read_file(c->recipients_file, 1 << 20, &b)) != 0)
			return err_prefix(r, "[snapshotd] recipients_file");
		r = add_recipients(b.p ? b.p : "", c->recipients_file, rs, &k);
		buf_free(&b);
		if (r != 0)
			return r;
	}
	if (k == 0)
		return 0;	/* archives in clear */
	/* Always the node's own: local rollback needs no other key. */
	for (i = 0; i < k && memcmp(rs[i].pub, n->recovery_id.pub, AGE_KEY_LEN); i++)
		;
	if (i == k)
		age_identity_recipient(&n->recovery_id, &rs[k++]);
	*nout = k;
	return 0;
}

void node_keys(const struct node *n, const struct age_identity *ids,
    size_t nids, struct bak_keys *k)
{
	k->lookup = node_lookup_key;
	k->arg = (void *)n;
	k->ids = nids ? ids : &n->recovery_id;
	k->nids = nids ? nids : 1;
	k->progress = NULL;
}

int node_archive_owner(const struct node *n, int fd, const char *path)
{
	const struct conf *c = n->conf;
	struct stat st;
	gid_t gid;

	if (c->archive_group) {
		struct group *g = getgrnam(c->archive_group);
		if (g == NULL)
			return err_set(ERR_INVAL, "[snapshotd] archive_group = %s: no "
			    "such group", esc(c->archive_group));
		gid = g->gr_gid;
	} else {
		if (stat(c->files_dir, &st) != 0)
			return err_sys("%s", c->files_dir);
		gid = st.st_gid;
	}
	if ((fd >= 0 ? fchown(fd, (uid_t)-1, gid) :
	    lchown(path, (uid_t)-1, gid)) != 0)
		return err_sys("chown %s", path);
	return 0;
}

static int ensure_id(struct node *n)
{
	char *path = fs_join(n->conf->state_dir, NODE_ID_FILE);
	struct buf b = BUF_INIT(128);
	int r;

	if (!fs_exists(path)) {
		char id[37], line[40];
		if ((r = uuid_new(id)) != 0)
			goto out;
		snprintf(line, sizeof line, "%s\n", id);
		if ((r = fs_write_atomic(path, line, strlen(line), 0600)) != 0)
			goto out;
	}
	if ((r = fs_read_file(path, 64, &b)) != 0)
		goto out;
	if (b.len != 37 || b.p[36] != '\n') {
		r = err_set(ERR_FORMAT, "%s: malformed node id", path);
		goto out;
	}
	memcpy(n->id, b.p, 36);
	n->id[36] = '\0';
out:
	buf_free(&b);
	free(path);
	return r;
}

/* Where key keyid's file with extension ext lives (caller frees). */
static char *trusted_path(const struct node *n, const char *keyid,
    const char *ext)
{
	char fname[KEYID_HEX_LEN + 8], *dir, *p;

	snprintf(fname, sizeof fname, "%s%s", keyid, ext);
	dir = fs_join(n->conf->state_dir, NODE_TRUSTED_DIR);
	p = fs_join(dir, fname);
	free(dir);
	return p;
}

static void trust_free(struct trust *t)
{
	while (t) {
		struct trust *older = t->older;
		for (size_t i = 0; i < t->n; i++) {
			sigkey_free(t->keys[i].key);
			free(t->keys[i].nodes);
		}
		free(t->keys);
		free(t);
		t = older;
	}
}

/* The key in trusted/<name> (a .pub file) with its node ids, appended to
 * t; a key that does not load is logged and left out. */
static void load_one(const struct node *n, const char *dir, const char *name,
    struct trust *t)
{
	struct trusted_key tk = { NULL, NULL, 0 };
	char *p = fs_join(dir, name), *bind = NULL;
	int r;

	if ((r = sigkey_load_public(p, &tk.key)) == 0) {
		bind = trusted_path(n, sigkey_id(tk.key), KEYFILE_NODES_EXT);
		if ((r = keyfile_load_nodes(bind, &tk.nodes, &tk.nnodes)) ==
		    ERR_NOTFOUND)
			r = 0;
	}
	if (r == 0 && tk.nnodes == 0)
		log_warn("trusted key %s has no node recorded: its archives are "
		    "refused until it is trusted again", sigkey_id(tk.key));
	if (r == 0) {
		t->keys = xreallocarray(t->keys, t->n + 1, sizeof *t->keys);
		t->keys[t->n++] = tk;
	} else {
		log_warn("ignoring trusted key %s", err_msg());
		sigkey_free(tk.key);
		free(tk.nodes);
	}
	free(p);
	free(bind);
}

int node_load_trusted(struct node *n)
{
	char *dir = fs_join(n->conf->state_dir, NODE_TRUSTED_DIR);
	struct trust *t = xcalloc(1, sizeof *t);
	struct dirent *de;
	DIR *d;
	int r;

	if ((d = opendir(dir)) == NULL) {
		r = err_sys("%s", dir);
		free(dir);
		free(t);
		return r;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len >= 5 && !strcmp(de->d_name + len - 4, ".pub"))
			load_one(n, dir, de->d_name, t);
	}
	closedir(d);
	free(dir);
	/* key trust (under the operation lock) and SIGHUP may both reload. */
	pthread_mutex_lock(&n->state_lock);
	t->older = n->trust;
	t->gen = n->trust ? n->trust->gen + 1 : 1;
	__atomic_store_n(&n->trust, t, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&n->state_lock);
	return 0;
}

const struct trust *node_trust(const struct node *n)
{
	return __atomic_load_n(&n->trust, __ATOMIC_ACQUIRE);
}

const struct trusted_key *node_trusted_key(const struct trust *t,
    const char *keyid)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (!strcmp(sigkey_id(t->keys[i].key), keyid))
			return &t->keys[i];
	return NULL;
}

int node_open(struct conf *conf, struct node **out)
{
	struct node *n = xcalloc(1, sizeof *n);
	int r;

	*out = NULL;
	n->conf = conf;
	pthread_mutex_init(&n->state_lock, NULL);
	pthread_cond_init(&n->idle, NULL);
	n->backups = fs_join(conf->files_dir, NODE_BACKUPS_DIR);
	n->cluster_path = fs_join(conf->state_dir, CLUSTER_FILE);
	if ((r = ensure_dirs(conf)) != 0 || (r = ensure_key(n)) != 0 ||
	    (r = ensure_recovery(n)) != 0 ||
	    (r = ensure_id(n)) != 0 || (r = node_load_trusted(n)) != 0) {
		node_free(n);
		return r;
	}
	*out = n;
	return 0;
}

/* The cluster settings, created on the first start. A cluster command
 * that was running when the daemon stopped will never finish: say so
 * instead of refusing every command after it. */
static int load_cluster(struct node *n, struct cluster *cl)
{
	int r;

	if (!fs_exists(n->cluster_path)) {
		cluster_defaults(cl);
		return cluster_save(n->cluster_path, cl);
	}
	if ((r = cluster_load(n->cluster_path, cl)) != 0)
		return r;
	if (cl->last_ok == 2 || cl->status == CS_DISABLING) {
		snprintf(cl->error, sizeof cl->error, "'%.150s' was interrupted "
		    "(nodebak-snapshotd stopped); check the node and run it again",
		    cl->last_command);
		cl->status = CS_ERROR;
		cl->last_ok = 0;
		cl->since = clock_now();
		if ((r = cluster_save(n->cluster_path, cl)) != 0)
			return r;
		log_err("database cluster: %s", cl->error);
	}
	return 0;
}

int node_start(struct node *n)
{
	const struct conf *conf = n->conf;
	struct cluster cl;
	struct db *db;
	int r;

	if ((r = load_cluster(n, &cl)) != 0)
		return r;
	/* The database exists from the first start on (with its schema); a
	 * PostgreSQL server listens on the cluster interface's address. */
	if ((r = db_server_start(conf, conf_iface(conf, cl.interface))) != 0 ||
	    (r = db_open(conf, &db)) != 0)
		return r;
	db_close(db);
	return 0;
}

void node_free(struct node *n)
{
	if (n == NULL)
		return;
	sigkey_free(n->key);
	OPENSSL_cleanse(&n->recovery_id, sizeof n->recovery_id);
	trust_free(n->trust);
	free(n->backups);
	free(n->cluster_path);
	conf_free(n->conf);
	pthread_cond_destroy(&n->idle);
	pthread_mutex_destroy(&n->state_lock);
	free(n);
}

const struct sigkey *node_lookup_key(void *arg, const char *keyid)
{
	const struct node *n = arg;
	const struct trusted_key *tk;

	if (!strcmp(sigkey_id(n->key), keyid))
		return n->key;
	tk = node_trusted_key(node_trust(n), keyid);
	return tk ? tk->key : NULL;
}

const char *node_key_origin(const struct node *n, const char *keyid)
{
	if (!strcmp(sigkey_id(n->key), keyid))
		return "this node";
	return node_trusted_key(node_trust(n), keyid) ? "trusted" : "untrusted";
}

int node_check_claim(const struct node *n, const struct manifest *mf,
    const char *file)
{
	const struct trusted_key *tk;

	if (!strcmp(mf->key_id, sigkey_id(n->key))) {
		if (strcmp(mf->node_id, n->id))
			return err_set(ERR_UNTRUSTED, "%s: FORGED: signed with this "
			    "node's own key but claims node %s (%s), not this node "
			    "(%s); refused", esc(file), esc(mf->node_name),
			    esc(mf->node_id), n->id);
		return 0;
	}
	if ((tk = node_trusted_key(node_trust(n), mf->key_id)) == NULL)
		return err_set(ERR_UNTRUSTED, "%s: signed by key %s, which this node "
		    "does not trust (nodebak key trust FILE)", esc(file),
		    esc(mf->key_id));
	if (tk->nnodes == 0)
		return err_set(ERR_UNTRUSTED, "%s: signed by key %s, which was "
		    "trusted before nodebak recorded the node a key belongs to; "
		    "trust it again: run nodebak key show on its node and "
		    "nodebak key trust FILE here with that output", esc(file),
		    mf->key_id);
	for (size_t i = 0; i < tk->nnodes; i++)
		if (!strcmp(tk->nodes[i].id, mf->node_id))
			return 0;
	return err_set(ERR_UNTRUSTED, "%s: FORGED: signed by key %s, which is "
	    "trusted for node %s (%s)%s, but claims node %s (%s); refused",
	    esc(file), mf->key_id, tk->nodes[0].name[0] ? tk->nodes[0].name :
	    "?", tk->nodes[0].id, tk->nnodes > 1 ? " and others (key list)" :
	    " only", esc(mf->node_name), esc(mf->node_id));
}

/* The node id the key is to be trusted for: the file's Node line and/or
 * --node, which must agree; never this node's own. */
static int trust_target(const struct node *n, const struct keyfile_node *kn,
    const char *node_arg, const char *what, struct keyfile_node *tn)
{
	int found = kn->id[0] != '\0';

	memset(tn, 0, sizeof *tn);
	if (node_arg && !node_id_valid(node_arg))
		return err_set(ERR_INVAL, "--node %s: not a node id (key show on "
		    "the node prints it)", esc(node_arg));
	if (node_arg && found && strcmp(node_arg, kn->id))
		return err_set(ERR_INVAL, "%s names node %s (%s), --node says %s",
		    what, kn->name, kn->id, node_arg);
	if (found) {
		memcpy(tn->id, kn->id, sizeof tn->id);
		memcpy(tn->name, kn->name, sizeof tn->name);
	} else if (node_arg)
		memcpy(tn->id, node_arg, 37);
	if (tn->id[0] == '\0')
		return err_set(ERR_INVAL, "%s names no node: give the output of "
		    "nodebak key show on the key's node (its Node line), or add "
		    "--node <node id>", what);
	if (!strcmp(tn->id, n->id))
		return err_set(ERR_INVAL, "%s: node %s is this node: another node's "
		    "key cannot sign for it", what, tn->id);
	return 0;
}

/* trusted/<keyid>.node: the node ids key k had, with tn added (or its
 * name updated). */
static int write_binding(struct node *n, const struct sigkey *k,
    const struct keyfile_node *tn)
{
	const struct trusted_key *old = node_trusted_key(node_trust(n),
	    sigkey_id(k));
	struct buf b = BUF_INIT(16384);
	char *path = trusted_path(n, sigkey_id(k), KEYFILE_NODES_EXT);
	size_t count = 1;
	int r = buf_addf(&b, "# nodebak key trust: the nodes whose archives key "
	    "%s may sign\n", sigkey_id(k));

	for (size_t i = 0; r == 0 && old && i < old->nnodes; i++)
		if (strcmp(old->nodes[i].id, tn->id)) {
			r = buf_addf(&b, "node %s %s\n", old->nodes[i].id,
			    old->nodes[i].name[0] ? old->nodes[i].name : "-");
			count++;
		}
	if (r == 0 && count > KEYFILE_NODES_MAX)
		r = err_set(ERR_TOOBIG, "key %s is trusted for %d nodes already",
		    sigkey_id(k), KEYFILE_NODES_MAX);
	if (r == 0)
		r = buf_addf(&b, "node %s %s\n", tn->id, tn->name[0] ? tn->name : "-");
	if (r == 0)
		r = fs_write_atomic(path, b.p, b.len, 0644);
	buf_free(&b);
	free(path);
	return r;
}

int node_trust_key(struct node *n, const char *text, size_t len,
    const char *node_arg, const char *what, struct keyfile_node *added,
    char keyid[KEYID_HEX_LEN + 1])
{
	struct buf pem = BUF_INIT(16384);
	struct keyfile_node kn;
	struct sigkey *k = NULL;
	char *path = NULL;
	int r;

	memset(added, 0, sizeof *added);
	keyid[0] = '\0';
	if ((r = keyfile_parse(text, len, what, &k, &kn)) != 0)
		goto out;
	if (!strcmp(sigkey_id(k), sigkey_id(n->key))) {
		r = err_set(ERR_INVAL, "%s is this node's own key", what);
		goto out;
	}
	if ((r = trust_target(n, &kn, node_arg, what, added)) != 0)
		goto out;
	/* The node ids first: a key without them (after a crash between the
	 * two writes) is refused, never trusted for any node. */
	path = trusted_path(n, sigkey_id(k), ".pub");
	if ((r = write_binding(n, k, added)) != 0 ||
	    (r = sigkey_public_pem(k, &pem)) != 0 ||
	    (r = fs_write_atomic(path, pem.p, pem.len, 0644)) != 0 ||
	    (r = node_load_trusted(n)) != 0)
		goto out;
	memcpy(keyid, sigkey_id(k), KEYID_HEX_LEN + 1);
out:
	sigkey_free(k);
	buf_free(&pem);
	free(path);
	return r;
}

void node_limits(const struct node *n, struct bak_limits *lim)
{
	lim->max_members = (size_t)n->conf->max_members;
	lim->max_bytes = (uint64_t)n->conf->max_bytes;
}

char *node_backup_path(const struct node *n, const char *file)
{
	return fs_join(n->backups, file);
}

int node_begin(struct node *n, const char *what)
{
	char running[sizeof n->op_name];

	pthread_mutex_lock(&n->state_lock);
	if (!n->busy) {
		n->busy = 1;
		snprintf(n->op_name, sizeof n->op_name, "%s", what);
		pthread_mutex_unlock(&n->state_lock);
		return 0;
	}
	memcpy(running, n->op_name, sizeof running);
	pthread_mutex_unlock(&n->state_lock);
	return err_set(ERR_BUSY, "another operation is in progress (%s); try "
	    "again when it has finished", running);
}

void node_begin_wait(struct node *n, const char *what)
{
	pthread_mutex_lock(&n->state_lock);
	while (n->busy)
		pthread_cond_wait(&n->idle, &n->state_lock);
	n->busy = 1;
	snprintf(n->op_name, sizeof n->op_name, "%s", what);
	pthread_mutex_unlock(&n->state_lock);
}

void node_relabel(struct node *n, const char *what)
{
	pthread_mutex_lock(&n->state_lock);
	snprintf(n->op_name, sizeof n->op_name, "%s", what);
	pthread_mutex_unlock(&n->state_lock);
}

void node_end(struct node *n)
{
	pthread_mutex_lock(&n->state_lock);
	n->busy = 0;
	n->op_name[0] = '\0';
	pthread_cond_broadcast(&n->idle);
	pthread_mutex_unlock(&n->state_lock);
}

int node_rollback_pending(const struct node *n)
{
	char *j = fs_join(n->conf->state_dir, JOURNAL_FILE);
	int pending = fs_exists(j) || db_restore_is_pending(n->conf);

	free(j);
	return pending;
}
