/* snapshot.h: serialise the node into a signed .bak (docs/bak-format.md,
 * docs/snapshots.md). */
#ifndef NODEBAK_SNAPSHOT_H
#define NODEBAK_SNAPSHOT_H
#include <stdint.h>

#include "manifest.h"

struct node;
struct ui;

/* Take snapshot name (valid per names.h, not existing): writes
 * backups/<name>.bak and backups/<name>.json, each visible only when
 * complete; while the archive is written, its members' bytes are reported
 * through ui_progress(ui) (ui may be NULL). On failure nothing new is
 * left behind and err_msg() says why. Must be called with the node's
 * operation lock held. */
int snapshot_create(struct node *n, const char *name, const struct ui *ui);

/* Collect the node's members into work (a new folder): configuration,
 * cluster settings and the files root's node files, copied and hashed;
 * and open the database db for a consistent image (*dbs), which is
 * described in mf with its size and a hash of zeros until it is read.
 * mf is in canonical order. */
struct db;
struct db_stream;
int snapshot_collect(struct node *n, const char *work, struct manifest *mf,
    struct db *db, struct db_stream **dbs);

/* Where member path of a snapshot lives in a work or staging folder. */
char *snapshot_member_path(const char *work, const char *member);

/* 1 when a name in the files root belongs to the node's state (not a
 * backup, not internal): used by snapshot and rollback alike. */
int snapshot_is_node_file(const char *name, int top_level);

/* When NAME.json exists beside bak_path, parse it strictly and check that
 * the .bak has the size and SHA-256 it records (catches any change to the
 * file, even one that leaves the signed content intact) and, when mf (the
 * verified MANIFEST) is not NULL, that it says what mf says about node,
 * snapshot, time and key. 0 when it matches or there is no .json;
 * ERR_MISMATCH or ERR_FORMAT otherwise. */
int snapshot_check_sidecar(const char *bak_path, const struct manifest *mf);
/* snapshot_check_sidecar() in two halves, for a caller that reads the
 * archive meanwhile: begin hashes the file in a thread of its own (the
 * archive's reader keeps one core busy decompressing); end waits for it
 * and returns what snapshot_check_sidecar() would. Every begin is ended. */
struct sidecar_check;
struct sidecar_check *snapshot_sidecar_begin(const char *bak_path);
int snapshot_sidecar_end(struct sidecar_check *c, const struct manifest *mf);

#endif
