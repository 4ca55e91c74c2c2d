/* node.h: one node's state as the daemon sees it: configuration, signing
 * key, identity, trusted keys, and the lock that serialises mutating
 * operations. */
#ifndef NODEBAK_NODE_H
#define NODEBAK_NODE_H
#include <pthread.h>
#include <stddef.h>

#include "bak.h"
#include "conf.h"
#include "crypto.h"
#include "keyfile.h"
#include "names.h"

#define NODE_KEY_FILE "signing.key"
#define NODE_PUB_FILE "signing.pub"
#define NODE_RECOVERY_FILE "recovery.age"	/* the node's age identity */
#define NODE_ID_FILE "node-id"
#define NODE_TRUSTED_DIR "trusted"
#define NODE_BACKUPS_DIR "backups"
#define NODE_WORK_DIR "work"
#define NODE_INTERNAL_PREFIX ".nodebak"

struct trusted_key {
	struct sigkey *key;
	/* The nodes whose archives it may sign (docs/bak-format.md "Trust"),
	 * state_dir/trusted/<keyid>.node; a name is "" when only the id was
	 * given. */
	struct keyfile_node *nodes;
	size_t nnodes;		/* 0: trusted before node ids were recorded */
};

/* The trusted keys as loaded at one moment. node_load_trusted() replaces
 * the whole table and keeps the old one until node_free(): sessions read
 * it without a lock and may hold its keys while they verify. */
struct trust {
	struct trusted_key *keys;
	size_t n;
	unsigned gen;			/* counts reloads: for caches */
	struct trust *older;
};

struct node {
	struct conf *conf;		/* owned; replaced on reload */
	struct sigkey *key;		/* this node's signing key */
	struct age_identity recovery_id;	/* opens this node's sealed archives */
	char id[37];
	struct trust *trust;		/* other nodes' keys: node_trust() */
	char *backups;			/* files_dir/backups */
	char *cluster_path;		/* state_dir/cluster.conf */
	/* The operation lock: one mutating operation at a time. Not a mutex:
	 * it belongs to an operation, not a thread, so a command can hand it
	 * to the background job it starts (job.c). node_begin()/node_end(). */
	int busy;
	char op_name[128];		/* the running mutating operation */
	pthread_cond_t idle;		/* signalled when busy drops */
	pthread_mutex_t state_lock;	/* guards busy, op_name and conf swaps */
	char recovery[512];		/* what the last start recovered */
};

/* Open the node described by conf (taking ownership of it, freed on
 * failure too): create its folders, generate the signing key and node id
 * on first start, load trusted keys. Touches no database: crash recovery
 * (recovery_run()) comes next, then node_start(). */
int node_open(struct conf *conf, struct node **out);
/* After recovery: load the cluster settings (creating them on the first
 * start; a cluster command cut off by a stop becomes an error), start
 * the database server and open the database once (creating its schema).
 * 0, or an error saying what failed. */
int node_start(struct node *n);
void node_free(struct node *n);
/* Reload trusted keys and their nodes (after key trust, on SIGHUP). A
 * key whose .node file is malformed is left out (logged). */
int node_load_trusted(struct node *n);
/* The current trusted keys (never NULL after node_open). */
const struct trust *node_trust(const struct node *n);
/* The trusted key with this id in t, or NULL. */
const struct trusted_key *node_trusted_key(const struct trust *t,
    const char *keyid);
/* bak_keylookup for this node: its own key and the trusted keys. */
const struct sigkey *node_lookup_key(void *node, const char *keyid);
/* "this node", "trusted" or "untrusted" for a key id. */
const char *node_key_origin(const struct node *n, const char *keyid);
/* After bak_read() has verified mf's signature: 0 when the signing key may
 * speak for the node mf names (this node's own key only for this node's
 * id, a trusted key only for the node ids recorded when it was trusted),
 * otherwise ERR_UNTRUSTED with a one-line message naming file. --force
 * never overrides this: an archive that fails it is a forgery. */
int node_check_claim(const struct node *n, const struct manifest *mf,
    const char *file);
/* key trust: trust the public key in text (a PEM key, or the output of
 * key show on its node, whose Node line names the node), for the node id
 * node_arg when not NULL (which must agree with a Node line). Refuses this
 * node's own key or id, and a key without a node id. Writes
 * trusted/<keyid>.node (the key's node ids, this one added) and
 * trusted/<keyid>.pub, then reloads. what names the source in messages;
 * *added gets the node trusted for and the key id. */
int node_trust_key(struct node *n, const char *text, size_t len,
    const char *node_arg, const char *what, struct keyfile_node *added,
    char keyid[KEYID_HEX_LEN + 1]);
/* The recipients new archives are sealed to: the configured ones and the
 * node's recovery key; *n = 0 when none is configured (archives in
 * clear). rs holds AGE_MAX_RECIPIENTS. One-line error for a bad one. */
int node_recipients(const struct node *n, struct age_recipient *rs,
    size_t *nrec);
/* The node's own recipient (age1...), as key show prints it. */
void node_recipient(const struct node *n, char out[AGE_RECIPIENT_MAX]);
/* What reading an archive may use: the node's trusted keys, and ids
 * (nids > 0: an operator's --identity) or else the recovery identity. */
void node_keys(const struct node *n, const struct age_identity *ids,
    size_t nids, struct bak_keys *k);
/* Archives and their .json: never readable by others; the group is
 * [snapshotd] archive_group, else the files root's. */
#define NODE_ARCHIVE_MODE 0640
/* Give fd (or, when fd < 0, path) the archive group. */
int node_archive_owner(const struct node *n, int fd, const char *path);
/* Limits for reading archives. */
void node_limits(const struct node *n, struct bak_limits *lim);
/* Path of backups/<file> (caller frees). */
char *node_backup_path(const struct node *n, const char *file);
/* Try to start a mutating operation named what: 0, or ERR_BUSY with a
 * message naming the running one. Operations start through
 * rollback_begin(), which adds the pending-rollback gate. */
int node_begin(struct node *n, const char *what);
/* Wait until no operation runs, then hold the lock as what (a reload
 * swapping the configuration, the daemon's exit). */
void node_begin_wait(struct node *n, const char *what);
/* The running operation is now called what (a command's background job
 * that took the lock over from it). */
void node_relabel(struct node *n, const char *what);
/* End the running operation, from whichever thread holds it now. */
void node_end(struct node *n);
/* 1 when a rollback is committed but not complete: its journal exists,
 * or (PostgreSQL) its dump is not restored yet. The node is part
 * restored and nothing else may change it (rollback_resume()). */
int node_rollback_pending(const struct node *n);

#endif
