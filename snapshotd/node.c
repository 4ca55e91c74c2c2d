/* node.c: node identity, keys, folders and the operation lock. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cluster.h"
#include "db.h"
#include "err.h"
#include "fsutil.h"
#include "journal.h"
#include "log.h"
#include "node.h"
#include "recovery.h"
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

int node_load_trusted(struct node *n)
{
	char *dir = fs_join(n->conf->state_dir, NODE_TRUSTED_DIR);
	struct sigkey **keys = NULL;
	size_t nk = 0;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if ((d = opendir(dir)) == NULL) {
		r = err_sys("%s", dir);
		free(dir);
		return r;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct sigkey *k;
		char *p;
		if (len < 5 || strcmp(de->d_name + len - 4, ".pub"))
			continue;
		p = fs_join(dir, de->d_name);
		if (sigkey_load_public(p, &k) == 0) {
			keys = xreallocarray(keys, nk + 1, sizeof *keys);
			keys[nk++] = k;
		} else
			log_warn("ignoring trusted key %s", err_msg());
		free(p);
	}
	closedir(d);
	free(dir);
	for (size_t i = 0; i < n->ntrusted; i++)
		sigkey_free(n->trusted[i]);
	free(n->trusted);
	n->trusted = keys;
	n->ntrusted = nk;
	return r;
}

int node_open(struct conf *conf, struct node **out)
{
	struct node *n = xcalloc(1, sizeof *n);
	struct cluster cl;
	int r;

	*out = NULL;
	n->conf = conf;
	pthread_mutex_init(&n->op_lock, NULL);
	pthread_mutex_init(&n->state_lock, NULL);
	n->backups = fs_join(conf->files_dir, NODE_BACKUPS_DIR);
	n->cluster_path = fs_join(conf->state_dir, CLUSTER_FILE);
	if ((r = ensure_dirs(conf)) != 0 || (r = ensure_key(n)) != 0 ||
	    (r = ensure_id(n)) != 0 || (r = node_load_trusted(n)) != 0)
		goto fail;
	if ((r = recovery_run(n)) != 0)
		goto fail;
	if (!fs_exists(n->cluster_path)) {
		cluster_defaults(&cl);
		if ((r = cluster_save(n->cluster_path, &cl)) != 0)
			goto fail;
	} else if ((r = cluster_load(n->cluster_path, &cl)) != 0)
		goto fail;
	/* A cluster command that was running when the daemon stopped will
	 * never finish: say so instead of refusing every command after it. */
	if (cl.last_ok == 2 || cl.status == CS_DISABLING) {
		snprintf(cl.error, sizeof cl.error, "'%.150s' was interrupted "
		    "(nodebak-snapshotd stopped); check the node and run it again",
		    cl.last_command);
		cl.status = CS_ERROR;
		cl.last_ok = 0;
		cl.since = time(NULL);
		if ((r = cluster_save(n->cluster_path, &cl)) != 0)
			goto fail;
		log_err("database cluster: %s", cl.error);
	}
	/* The database exists from the first start on (with its schema); a
	 * PostgreSQL server listens on the cluster interface's address. */
	if ((r = db_server_start(conf, conf_iface(conf, cl.interface))) != 0)
		goto fail;
	{
		struct db *db;
		if ((r = db_open(conf, &db)) != 0)
			goto fail;
		db_close(db);
	}
	*out = n;
	return 0;
fail:
	node_free(n);
	return r;
}

void node_free(struct node *n)
{
	if (n == NULL)
		return;
	sigkey_free(n->key);
	for (size_t i = 0; i < n->ntrusted; i++)
		sigkey_free(n->trusted[i]);
	free(n->trusted);
	free(n->backups);
	free(n->cluster_path);
	conf_free(n->conf);
	pthread_mutex_destroy(&n->op_lock);
	pthread_mutex_destroy(&n->state_lock);
	free(n);
}

const struct sigkey *node_lookup_key(void *arg, const char *keyid)
{
	const struct node *n = arg;

	if (!strcmp(sigkey_id(n->key), keyid))
		return n->key;
	for (size_t i = 0; i < n->ntrusted; i++)
		if (!strcmp(sigkey_id(n->trusted[i]), keyid))
			return n->trusted[i];
	return NULL;
}

const char *node_key_origin(const struct node *n, const char *keyid)
{
	if (!strcmp(sigkey_id(n->key), keyid))
		return "this node";
	return node_lookup_key((void *)(uintptr_t)n, keyid) ? "trusted" :
	    "untrusted";
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
	if (pthread_mutex_trylock(&n->op_lock) != 0) {
		char running[sizeof n->op_name];
		pthread_mutex_lock(&n->state_lock);
		memcpy(running, n->op_name, sizeof running);
		pthread_mutex_unlock(&n->state_lock);
		return err_set(ERR_BUSY, "another operation is in progress (%s); "
		    "try again when it has finished", running);
	}
	pthread_mutex_lock(&n->state_lock);
	snprintf(n->op_name, sizeof n->op_name, "%s", what);
	pthread_mutex_unlock(&n->state_lock);
	return 0;
}

void node_end(struct node *n)
{
	pthread_mutex_lock(&n->state_lock);
	n->op_name[0] = '\0';
	pthread_mutex_unlock(&n->state_lock);
	pthread_mutex_unlock(&n->op_lock);
}

int node_rollback_pending(const struct node *n)
{
	char *j = fs_join(n->conf->state_dir, JOURNAL_FILE);
	int pending = fs_exists(j) || db_restore_is_pending(n->conf);

	free(j);
	return pending;
}
