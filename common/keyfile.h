/* keyfile.h: a node's public key as an operator hands it over: the output
 * of `nodebak key show` ("Key id : ...", "Algorithm : ...", "Node : <name>
 * (<id>)" lines, then the PEM) or a bare PEM Ed25519 public key
 * (docs/bak-format.md "Trust"). Used by key trust and by nodebak verify. */
#ifndef NODEBAK_KEYFILE_H
#define NODEBAK_KEYFILE_H
#include <stddef.h>

#include "crypto.h"
#include "names.h"

/* The node a key show output names ("" and "" for a bare PEM). */
struct keyfile_node {
	char id[37];
	char name[NAME_MAX_LEN + 1];
};

#define KEYFILE_NODES_EXT ".node"	/* state_dir/trusted/<keyid>.node */
#define KEYFILE_NODES_MAX 64		/* node ids per key */

/* Parse text[0..len): *key gets the public key (caller frees with
 * sigkey_free), *node the Node line's name and id when there is one (both
 * "" otherwise). A Key id line must name the key. On failure ERR_FORMAT
 * with one line naming what (the source) and the fault; *key is NULL. */
int keyfile_parse(const char *text, size_t len, const char *what,
    struct sigkey **key, struct keyfile_node *node);
/* As keyfile_parse(), reading the file at path (at most 16 KiB). */
int keyfile_load(const char *path, struct sigkey **key,
    struct keyfile_node *node);
/* Read the nodes a trusted key may sign for from path, a
 * state_dir/trusted/<keyid>.node file (docs/bak-format.md "Trust"): one
 * "node <id> <name>" line each ("-": no name), "#" comments. *nodes (the
 * caller frees it; NULL when none) and *n get them. ERR_NOTFOUND when the
 * file is missing (a key trusted before node ids were recorded); ERR_FORMAT
 * naming the line, or ERR_TOOBIG past KEYFILE_NODES_MAX, otherwise. */
int keyfile_load_nodes(const char *path, struct keyfile_node **nodes,
    size_t *n);

#endif
