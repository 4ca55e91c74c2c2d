/* manifest.h: the canonical MANIFEST of a .bak archive (docs/bak-format.md).
 * The text form is the only form that is signed; manifest_format() and
 * manifest_parse() are exact inverses, and parse accepts nothing that
 * format would not write. */
#ifndef NODEBAK_MANIFEST_H
#define NODEBAK_MANIFEST_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crypto.h"

/* "nodebak-manifest 1" when every member fits a ustar header; "2" when
 * one needs a pax extended header (docs/bak-format.md, "Versions"). */
#define MANIFEST_VERSION 1
#define MANIFEST_VERSION_PAX 2
#define MANIFEST_MAX_BYTES (4u << 20)
/* Member paths: 1024 bytes with "files/" (a pax path record beyond 100;
 * see docs/bak-format.md for why not Linux's 4096). */
#define MANIFEST_PATH_MAX 1024
/* Member sizes: what off_t, libarchive's la_int64_t and the pax size
 * record read back all hold (2^63 - 1). */
#define MANIFEST_SIZE_MAX ((uint64_t)INT64_MAX)

struct buf;

struct mf_member {
	char *path;
	int is_dir;
	unsigned mode;			/* 0600/0644 files, 0700/0755 folders */
	uint64_t size;			/* 0 for folders */
	char sha256[SHA256_HEX_LEN + 1];	/* "" for folders */
};

struct manifest {
	char node_name[65];
	char node_id[37];
	char software[32];		/* e.g. "0.1.0" */
	char engine[16];		/* sqlite | postgresql */
	long schema;			/* database schema version */
	char snapshot[65];
	time_t created;
	char key_id[KEYID_HEX_LEN + 1];
	struct mf_member *m;
	size_t n, cap;
};

void manifest_init(struct manifest *mf);
void manifest_free(struct manifest *mf);
/* Append a member; members must be added in canonical (bytewise) order.
 * Returns ERR_INVAL for a bad path, mode or order. */
int manifest_add(struct manifest *mf, const char *path, int is_dir,
    unsigned mode, uint64_t size, const char *sha256);
/* Append the canonical text to b. */
int manifest_format(const struct manifest *mf, struct buf *b);
/* Parse canonical text; at most max_members members. On failure mf is
 * left empty and err_msg() says which line is wrong. */
int manifest_parse(const char *text, size_t len, size_t max_members,
    struct manifest *mf);
/* 1 when path is an acceptable member path (relative, no "." or ".."
 * component, no empty component, printable, at most MANIFEST_PATH_MAX
 * bytes). */
int manifest_path_ok(const char *path);
/* Index of path in mf, or -1. */
long manifest_find(const struct manifest *mf, const char *path);
/* 1 when a member needs a pax extended header in the tar stream (a path
 * longer than a ustar header holds, a size above 8 GiB - 1): the MANIFEST
 * is then version 2. */
int manifest_needs_pax(const struct manifest *mf);
/* Sum of member sizes (UINT64_MAX when it would overflow). */
uint64_t manifest_total(const struct manifest *mf);
/* RFC 3339 UTC time "2026-11-28T08:00:00Z" into out (21 bytes). */
void manifest_time(time_t t, char out[21]);
/* The inverse: 0 and *out when s is exactly that form (canonical, so
 * "2026-02-30T..." or a missing Z is refused), -1 otherwise. */
int manifest_parse_time(const char *s, time_t *out);

#endif
