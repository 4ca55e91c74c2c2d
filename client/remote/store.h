/* store.h: the archive host's folder (docs/pull.md "The archive folder"):
 *
 *   archive_dir/NODE/NAME.bak, NAME.json    verified copies only
 *   archive_dir/.incoming/NODE/NAME.partial downloads under way, with
 *       NAME.partial.json, the sidecar they were started from
 *   archive_dir/.quarantine/NODE/NAME.bak   copies that failed, with
 *       NAME.json and NAME.reason
 *   archive_dir/.state/NODE.state           last sync, counters
 *   archive_dir/.state/NODE.lock            flock while NODE is synced
 *   archive_dir/.state/NODE.pruned          copies retention deleted
 *   archive_dir/.hostkeys/NODE.pub          written by nodebak-pull trust
 *
 * Folders are 0700 and files 0600: the archives hold the nodes' keys. */
#ifndef NODEBAK_STORE_H
#define NODEBAK_STORE_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "names.h"

struct buf;

enum store_area { ST_COPIES, ST_INCOMING, ST_QUARANTINE };

/* Make archive_dir and its folders for node (0700). */
int store_prepare(const char *archive_dir, const char *node);
/* archive_dir/AREA/node/file (file NULL: the folder); caller frees. */
char *store_path(const char *archive_dir, enum store_area a,
    const char *node, const char *file);
char *store_hostkey_path(const char *archive_dir, const char *node);

/* Take node's lock (flock, non-blocking: ERR_BUSY when another process
 * holds it; the kernel drops it when the holder dies). *fd for
 * store_unlock(). */
int store_lock(const char *archive_dir, const char *node, int *fd);
void store_unlock(int fd);

/* What the puller remembers about a node between runs. */
struct store_state {
	long long last_sync;		/* when the last sync ended; 0: never */
	long long last_success;		/* ... that succeeded */
	char last_result[16];		/* "ok", "failed", "" */
	char last_error[512];		/* its first error, one line */
	long long consecutive_failures;
	long long bytes_total;		/* archive bytes downloaded */
	long long resumes_total;	/* downloads continued from a partial */
	long long verify_failures_total;
	long long store_bytes_total;	/* archive bytes sent to [pull] store */
	long long stored_newest;	/* newest created of a copy in the store */
};

/* A missing file is the zero state. */
int store_state_load(const char *archive_dir, const char *node,
    struct store_state *st);
int store_state_save(const char *archive_dir, const char *node,
    const struct store_state *st);

/* A verified copy in archive_dir/node. */
struct store_copy {
	char file[NAME_MAX_LEN + 5];	/* NAME.bak */
	time_t created;			/* from its NAME.json (0: unreadable) */
	uint64_t size;
	char sha256[65];
};

/* The copies of node, sorted by name. */
int store_copies(const char *archive_dir, const char *node,
    struct store_copy **out, size_t *n);

/* Install a verified download: write NAME.json (sidecar text), then
 * rename the fsynced partial to NAME.bak, fsync the folder. */
int store_commit(const char *archive_dir, const char *node,
    const char *file, const char *partial, const char *json, size_t jsonlen);
/* Move a failed download to the quarantine with its sidecar and the
 * reason (one line). */
int store_quarantine(const char *archive_dir, const char *node,
    const char *file, const char *partial, const char *json, size_t jsonlen,
    const char *reason);
/* 0 and the reason recorded when file was quarantined with exactly this
 * sidecar text (the same archive, judged already); ERR_NOTFOUND
 * otherwise. */
int store_quarantined(const char *archive_dir, const char *node,
    const char *file, const char *json, size_t jsonlen, struct buf *reason);
/* Delete a copy: NAME.bak, then NAME.json. */
int store_delete(const char *archive_dir, const char *node, const char *file);

/* Copies the archive host's retention deleted, "NAME.bak SHA256" lines:
 * while the node still lists the same archive it is not pulled again. */
int store_pruned_load(const char *archive_dir, const char *node,
    struct buf *list);
int store_pruned_has(const struct buf *list, const char *file,
    const char *sha256);
int store_pruned_add(const char *archive_dir, const char *node,
    const char *file, const char *sha256);
/* Keep only the lines whose file listed(arg, file) says the node still
 * has. */
int store_pruned_trim(const char *archive_dir, const char *node,
    int (*listed)(void *arg, const char *file), void *arg);

#endif
