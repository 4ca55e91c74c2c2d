/* bak.h: the .bak container (docs/bak-format.md): a ustar archive written
 * with libarchive, compressed by gz.c, whose first two members are the
 * MANIFEST and its Ed25519 signature. The only module that includes
 * libarchive. */
#ifndef NODEBAK_BAK_H
#define NODEBAK_BAK_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crypto.h"
#include "manifest.h"

struct buf;
struct bak_writer;

#define BAK_SIG_DOMAIN "nodebak-manifest-v1"	/* signed with its NUL */
#define BAK_SIG_MAX 1024

/* Writer. Members are added in the order they will be read. */
int bak_writer_new(int fd, int level, time_t mtime, const char *what,
    struct bak_writer **out);
int bak_writer_add_data(struct bak_writer *w, const char *path, unsigned mode,
    const void *data, size_t len);
/* Stream regular file src (which must be exactly size bytes) as path. */
int bak_writer_add_file(struct bak_writer *w, const char *path, unsigned mode,
    const char *src, uint64_t size);
int bak_writer_add_dir(struct bak_writer *w, const char *path, unsigned mode);
/* End the tar stream and the gzip member. */
int bak_writer_finish(struct bak_writer *w);
void bak_writer_free(struct bak_writer *w);

/* Sign manifest text: sigtext gets the MANIFEST.sig member's content. */
int bak_sign(const struct sigkey *k, const char *manifest, size_t len,
    struct buf *sigtext);

/* Looks up a trusted public key by id; NULL when it is not trusted. */
typedef const struct sigkey *(*bak_keylookup)(void *arg, const char *keyid);

/* A lookup that trusts one key, arg (a struct sigkey *): for readers
 * that pin a node's key (nodebak-pull). */
const struct sigkey *bak_key_only(void *arg, const char *keyid);

struct bak_limits {
	size_t max_members;
	uint64_t max_bytes;
};

/* Read and check the archive at path: the signature (by a key that lookup
 * trusts) before anything else, then every member against the MANIFEST:
 * exact set and order, type, size, mode, SHA-256; no trailing data. When
 * stage_fd >= 0, members are created beneath it (O_EXCL, no symlinks
 * followed) and fsynced. On success *mf gets the manifest. On failure,
 * err_msg() says exactly what is wrong, and extracted files are left for
 * the caller to remove with the staging folder. */
int bak_read(const char *path, bak_keylookup lookup, void *arg,
    const struct bak_limits *lim, int stage_fd, struct manifest *mf);

/* As bak_read(), reading the archive from fd (a pipe will do: it is read
 * once, in order, to its end) instead of opening path, which only names
 * it in messages. fd is left open. */
int bak_read_fd(int fd, const char *path, bak_keylookup lookup, void *arg,
    const struct bak_limits *lim, int stage_fd, struct manifest *mf);

/* Read only the MANIFEST (not verified: for listings of what a file
 * claims). */
int bak_peek_manifest(const char *path, struct manifest *mf);

#endif
