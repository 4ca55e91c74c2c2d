/* s3store.h: the object-storage target of nodebak-pull (docs/pull.md
 * "Object storage"), on s3.h: the object layout, uploads of verified
 * copies (skipped when already stored, resumed when cut off), the
 * store's copies for retention, downloads back.
 *
 *   PREFIX/NODE/NAME.bak    the archive; metadata sha256, key-id, created
 *   PREFIX/NODE/NAME.json   its sidecar, put after the archive is whole
 *
 * Return convention as s3.h's: 0 or ERR_* with err_msg() one line that
 * names the store. */
#ifndef NODEBAK_S3STORE_H
#define NODEBAK_S3STORE_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "names.h"

struct pull_conf;
struct sidecar;
struct s3store;

/* A client for c's store (c->store set); on_bytes hears every body
 * byte sent or received (may be NULL). Free with s3store_close(). */
int s3store_open(const struct pull_conf *c,
    void (*on_bytes)(void *arg, size_t n), void *arg, struct s3store **out);
void s3store_close(struct s3store *st);
/* Credentials, bucket and clock in one request. */
int s3store_check(struct s3store *st);

struct s3store_put {
	uint64_t sent;		/* archive bytes sent by this call */
	uint64_t resumed_at;	/* > 0: an upload continued after these bytes */
	int skipped;		/* already stored, nothing sent */
};

/* An archive still arriving (overlapped with its pull, sync.c): before
 * the bytes up to upto are read, wait(arg, upto) blocks until the file
 * holds them (0) or the download has failed (an error). Before the
 * upload is completed, wait(arg, UINT64_MAX): 0 once the archive has
 * verified and its copy is installed (json then exists), else an error:
 * ERR_MISMATCH when the archive failed verification (the upload is
 * aborted), any other (a transfer cut) leaves the upload for the next
 * sync to continue. */
struct s3store_feed {
	int (*wait)(void *arg, uint64_t upto);
	void *arg;
	/* Where the copy is once installed: read from there when the pull
	 * finished (and renamed the partial file) before the upload began. */
	const char *installed;
};

/* Store the verified copy bak (a NAME.bak file; json its sidecar's path,
 * sc parsed from it) of node, signed by key_id: nothing when the store
 * already has it with the same size and SHA-256; else one PUT, or a
 * multipart upload of part_size parts read from the file one at a time
 * (an unfinished upload of the same object is continued from the parts
 * whose MD5 matches the file). ERR_MISMATCH when the store holds another
 * archive under that name. */
int s3store_put_copy(struct s3store *st, const char *node, const char *bak,
    const char *json, const struct sidecar *sc, const char *key_id,
    struct s3store_put *res);
/* The same for an archive that is still arriving in the file bak (a
 * partial download), fed by feed; bak must exceed one part. Every byte
 * sent is hashed on the way: an upload whose bytes are not the
 * sidecar's SHA-256 is never completed. */
int s3store_put_growing(struct s3store *st, const char *node,
    const char *bak, const char *json, const struct sidecar *sc,
    const char *key_id, const struct s3store_feed *feed,
    struct s3store_put *res);

/* A copy in the store: NAME.bak and NAME.json both there. */
struct s3store_copy {
	char file[NAME_MAX_LEN + 5];	/* NAME.bak */
	int complete;			/* it has its sha256 metadata */
	time_t created;
	uint64_t size;
	char sha256[65];
	char key_id[33];
	char version[128];		/* the .bak's version ("": none) */
	char json_version[128];
};
/* node's copies, sorted by name (complete or not: verify reports
 * the others). */
int s3store_copies(struct s3store *st, const char *node,
    struct s3store_copy **out, size_t *n);
/* Delete a copy: NAME.bak, then NAME.json (the versions given).
 * ERR_DENIED when the store refuses (Object Lock). */
int s3store_delete(struct s3store *st, const char *node,
    const struct s3store_copy *cp);
/* Download node's NAME.bak and NAME.json to the files bak and json
 * (created 0600, must not exist). */
int s3store_get(struct s3store *st, const char *node, const char *file,
    const char *bak, const char *json);
/* "s3://BUCKET/PREFIX/NODE/FILE" for messages; caller frees. */
char *s3store_url(const struct s3store *st, const char *node,
    const char *file);

#endif
