/* s3.h: an S3 API client, just what nodebak-pull's object-storage target
 * needs (docs/pull.md "Object storage"): objects, multipart uploads,
 * listings. Requests are signed with AWS Signature V4 (libcurl's) and
 * carry x-amz-content-sha256; XML replies are read with libxml2. s3.c is
 * the only file that includes libcurl or libxml2.
 *
 * One struct s3 per thread. Every function returns 0 or a negative ERR_*
 * code with err_msg() one line that names the store and what to check:
 *   ERR_REFUSED  the store refused us as a whole (credentials, bucket,
 *                clock skew): no later request will do better
 *   ERR_IO       the store cannot be reached or the transfer broke
 *   ERR_NOTFOUND the object (or upload) does not exist
 *   ERR_DENIED   the store refused this one request (Object Lock)
 *   ERR_PROTO    a reply that makes no sense
 * The access key and secret never appear in a message. */
#ifndef NODEBAK_S3_H
#define NODEBAK_S3_H
#include <stddef.h>
#include <stdint.h>

struct s3;

struct s3_opts {
	const char *endpoint;	/* http[s]://HOST[:PORT] */
	const char *region;
	const char *bucket;
	int path_style;		/* ENDPOINT/BUCKET/KEY, else BUCKET.HOST/KEY */
	const char *credentials; /* the file: access_key = , secret_key = */
	const char *shown;	/* how messages name the store: s3://B/P */
	long timeout;		/* seconds without progress */
	/* Called with every piece of a body sent or received (progress, the
	 * shared bandwidth limit); may be NULL. */
	void (*on_bytes)(void *arg, size_t n);
	void *arg;
};

/* Read the credentials (mode 0600 or stricter required) and set up a
 * client; no request is made. *out: free with s3_close(). */
int s3_open(const struct s3_opts *o, struct s3 **out);
void s3_close(struct s3 *s);

/* One round trip that proves credentials, bucket and clock. */
int s3_check(struct s3 *s);

/* What a HEAD tells. */
struct s3_meta {
	uint64_t size;
	char sha256[65];	/* x-amz-meta-sha256, "" when absent */
	char key_id[33];	/* x-amz-meta-key-id */
	char created[32];	/* x-amz-meta-created */
	char version[128];	/* x-amz-version-id, "" when unversioned */
};

/* What a new object carries. */
struct s3_put_meta {
	const char *sha256, *key_id, *created;	/* NULL: not set */
	const char *lock_mode;		/* "COMPLIANCE"/"GOVERNANCE"; NULL none */
	long long lock_until;		/* Object Lock retain-until, Unix time */
};

int s3_head(struct s3 *s, const char *key, struct s3_meta *m);
/* One PUT of len bytes from memory. */
int s3_put(struct s3 *s, const char *key, const void *data, size_t len,
    const struct s3_put_meta *pm);
/* GET into fd (at most max bytes, else ERR_TOOBIG). */
int s3_get_fd(struct s3 *s, const char *key, int fd, uint64_t max);
/* DELETE, of one version when version is not NULL or "". */
int s3_delete(struct s3 *s, const char *key, const char *version);

struct s3_object {
	char *key;
	uint64_t size;
};
/* Every object whose key starts with prefix (ListObjectsV2, every
 * page), in the store's order (by key). */
int s3_list(struct s3 *s, const char *prefix, struct s3_object **out,
    size_t *n);
void s3_objects_free(struct s3_object *o, size_t n);

/* Multipart uploads. */
struct s3_part {
	int number;
	uint64_t size;
	char etag[80];
};
/* The newest unfinished upload of key (ListMultipartUploads); *id
 * malloc'd. ERR_NOTFOUND when there is none. */
int s3_mpu_find(struct s3 *s, const char *key, char **id);
int s3_mpu_create(struct s3 *s, const char *key,
    const struct s3_put_meta *pm, char **id);
/* The parts already stored (ListParts, every page), by number. */
int s3_mpu_parts(struct s3 *s, const char *key, const char *id,
    struct s3_part **out, size_t *n);
int s3_mpu_put(struct s3 *s, const char *key, const char *id, int number,
    const void *data, size_t len, struct s3_part *part);
int s3_mpu_complete(struct s3 *s, const char *key, const char *id,
    const struct s3_part *parts, size_t n);
int s3_mpu_abort(struct s3 *s, const char *key, const char *id);

/* The parsers of the replies, pure (tests/fuzz/fuzz_s3xml.c): a
 * ListObjectsV2 page's objects appended to *out (*next: the continuation
 * token, malloc'd, or NULL on the last page); a ListParts page's parts
 * (*marker: the next part number marker, or NULL). shown names the store
 * in errors; ERR_PROTO for a reply that is not what it should be. */
int s3_xml_objects(const char *shown, const void *xml, size_t len,
    struct s3_object **out, size_t *n, char **next);
int s3_xml_parts(const char *shown, const void *xml, size_t len,
    struct s3_part **out, size_t *n, char **marker);

#endif
