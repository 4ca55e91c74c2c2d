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

#define NODE_KEY_FILE "signing.key"
#define NODE_PUB_FILE "signing.pub"
#define NODE_ID_FILE "node-id"
#define NODE_TRUSTED_DIR "trusted"
#define NODE_BACKUPS_DIR "backups"
#define NODE_WORK_DIR "work"
#define NODE_INTERNAL_PREFIX ".nodebak"

struct node {
	struct conf *conf;		/* owned; replaced on reload */
	struct sigkey *key;		/* this node's signing key */
	char id[37];
	struct sigkey **trusted;	/* other nodes' keys */
	size_t ntrusted;
	char *backups;			/* files_dir/backups */
	char *cluster_path;		/* state_dir/cluster.conf */
	pthread_mutex_t op_lock;	/* one mutating operation at a time */
	pthread_mutex_t state_lock;	/* guards op_name and conf swaps */
	char op_name[128];		/* the running mutating operation */
	char recovery[512];		/* what the last start recovered */
};

/* Open the node described by conf (taking ownership of it): create its
 * folders, generate the signing key and node id on first start, load
 * trusted keys, then recover from an interrupted operation. */
int node_open(struct conf *conf, struct node **out);
void node_free(struct node *n);
/* Reload trusted keys (after key trust). */
int node_load_trusted(struct node *n);
/* bak_keylookup for this node: its own key and the trusted keys. */
const struct sigkey *node_lookup_key(void *node, const char *keyid);
/* "this node", "trusted" or "untrusted" for a key id. */
const char *node_key_origin(const struct node *n, const char *keyid);
/* Limits for reading archives. */
void node_limits(const struct node *n, struct bak_limits *lim);
/* Path of backups/<file> (caller frees). */
char *node_backup_path(const struct node *n, const char *file);
/* Try to start a mutating operation named what: 0, or ERR_BUSY with a
 * message naming the running one. */
int node_begin(struct node *n, const char *what);
void node_end(struct node *n);
/* 1 when a rollback is committed but not complete: its journal exists,
 * or (PostgreSQL) its dump is not restored yet. The node is part
 * restored and nothing else may change it (rollback_resume()). */
int node_rollback_pending(const struct node *n);

#endif
