/* bak.h: the .bak container (docs/bak-format.md): a ustar archive written
 * with libarchive, compressed by gz.c, whose first two members are the
 * MANIFEST and its Ed25519 signature. The only module that includes
 * libarchive. */
#ifndef NODEBAK_BAK_H
#define NODEBAK_BAK_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "age.h"
#include "crypto.h"
#include "envelope.h"
#include "manifest.h"
#include "stream.h"

struct buf;
struct bak_writer;

/* Told how far a long read or write has got: done of total bytes (total
 * 0: not known). Called at every chunk (up to 1 MiB); the callee decides
 * how often to show it. */
struct bak_progress {
	void (*fn)(void *ctx, uint64_t done, uint64_t total);
	void *ctx;
};

#define BAK_SIG_DOMAIN "nodebak-manifest-v1"	/* signed with its NUL */
#define BAK_SIG_MAX 1024
/* A sealed archive (format 2): ustar(payload.age, ENVELOPE, ENVELOPE.sig),
 * the payload being a format 1 archive encrypted with age. */
#define BAK_PAYLOAD "payload.age"
#define BAK_ENVELOPE "ENVELOPE"
#define BAK_ENVELOPE_SIG "ENVELOPE.sig"

/* Writer. Members are added in the order they will be read. With nrec
 * recipients (0: format 1, in clear) the archive is sealed: fd must be a
 * file open for reading and writing (the payload's tar header is written
 * last, at its start; a payload above 8 GiB - 1 is read back and moved up
 * to make room for its pax header), and bak_writer_seal() ends it after
 * bak_writer_finish(). */
int bak_writer_new(int fd, int level, time_t mtime, const char *what,
    const struct age_recipient *rec, size_t nrec, struct bak_writer **out);
int bak_writer_add_data(struct bak_writer *w, const char *path, unsigned mode,
    const void *data, size_t len);
/* Stream regular file src (which must be exactly size bytes) as path. */
int bak_writer_add_file(struct bak_writer *w, const char *path, unsigned mode,
    const char *src, uint64_t size);
int bak_writer_add_dir(struct bak_writer *w, const char *path, unsigned mode);
/* Report the bytes of the files that bak_writer_add_file() adds to p
 * (borrowed, may be NULL), out of total: the sum of their sizes. */
void bak_writer_set_progress(struct bak_writer *w,
    const struct bak_progress *p, uint64_t total);
/* End the tar stream and the gzip member (and the age payload). */
int bak_writer_finish(struct bak_writer *w);
int bak_writer_sealed(const struct bak_writer *w);
/* Sealed archives: write the ENVELOPE for mf (whose canonical text,
 * signed inside, is mtext), signed by k, and the payload's header. */
int bak_writer_seal(struct bak_writer *w, const struct sigkey *k,
    const struct manifest *mf, const char *mtext, size_t mlen);
void bak_writer_free(struct bak_writer *w);

/* Seal an archive made elsewhere: a writer (nrec >= 1) whose payload is
 * the gzip file read from gzfd to its end (a format 1 archive, e.g. from
 * bak_split), instead of tar members. Then bak_writer_finish() and
 * bak_writer_seal() as for any sealed writer. */
int bak_writer_new_sealing(int fd, time_t mtime, const char *what,
    const struct age_recipient *rec, size_t nrec, struct bak_writer **out);
int bak_writer_add_gzip(struct bak_writer *w, int gzfd);

/* The snapshot writer (bak_split.c; docs/bak-format.md, "How the snapshot
 * writer lays out the deflate stream"): a format 1 archive whose members are
 * read once, hashed as they are compressed. The head (the tar bytes of
 * MANIFEST, MANIFEST.sig and the members before the body, made with
 * bak_tar_add_*()) has a length known in advance, head_len; the body is
 * compressed into fd at its final offset, then bak_split_finish() writes
 * the head in front of it and the gzip trailer. */
struct bak_split;
int bak_tar_add_data(struct buf *b, const char *path, unsigned mode,
    time_t mtime, const void *p, size_t n);
int bak_tar_add_dir(struct buf *b, const char *path, unsigned mode,
    time_t mtime);
int bak_split_new(int fd, int level, time_t mtime, const char *what,
    uint64_t head_len, struct bak_split **out);
void bak_split_set_progress(struct bak_split *s, const struct bak_progress *p,
    uint64_t total);
int bak_split_add_dir(struct bak_split *s, const char *path, unsigned mode);
/* size bytes from src as member path; hex (NULL: not wanted) gets their
 * SHA-256. Fewer bytes than size: ERR_IO. */
int bak_split_add_source(struct bak_split *s, const char *path, unsigned mode,
    uint64_t size, const struct source *src, char hex[SHA256_HEX_LEN + 1]);
/* The regular file at file, exactly size bytes, as member path. */
int bak_split_add_file(struct bak_split *s, const char *path, unsigned mode,
    const char *file, uint64_t size);
/* End the tar stream and the body; write the head (head_len bytes, as
 * planned) and the gzip trailer. */
int bak_split_finish(struct bak_split *s, const void *head, size_t head_len);
void bak_split_free(struct bak_split *s);

/* Sign manifest text: sigtext gets the MANIFEST.sig member's content. */
int bak_sign(const struct sigkey *k, const char *manifest, size_t len,
    struct buf *sigtext);
/* The same for any text under a signing domain (ENVELOPE). */
int bak_sign_text(const struct sigkey *k, const char *domain,
    const char *text, size_t len, struct buf *sigtext);

/* Looks up a trusted public key by id; NULL when it is not trusted. */
typedef const struct sigkey *(*bak_keylookup)(void *arg, const char *keyid);

/* A lookup that trusts one key, arg (a struct sigkey *): for readers
 * that pin a node's key (nodebak-pull). */
const struct sigkey *bak_key_only(void *arg, const char *keyid);

struct bak_limits {
	size_t max_members;
	uint64_t max_bytes;
};

/* What a reader may use: the signing keys it trusts, and the identities
 * that may open sealed archives (none: sealed archives are checked
 * without being opened). */
struct bak_keys {
	bak_keylookup lookup;
	void *arg;
	const struct age_identity *ids;
	size_t nids;
	/* Who hears how many bytes of the file have been read, out of its
	 * size (NULL: nobody). */
	const struct bak_progress *progress;
};

/* What a reader found besides the MANIFEST. */
struct bak_seal {
	int sealed;		/* format 2: encrypted in a signed ENVELOPE */
	int opened;		/* ... and an identity opened and checked it all */
	int age_only;		/* format 1 encrypted with age -r, opened */
	struct envelope env;	/* when sealed */
};

/* Read and check the archive at path: the signature (by a key that
 * k->lookup trusts) before anything else, then every member against the
 * MANIFEST: exact set and order, type, size, mode, SHA-256; no trailing
 * data. A sealed archive: the ENVELOPE's signature over the payload's
 * size and SHA-256 always; when one of k->ids opens it, all of the above
 * inside as well, and the inside must be what the ENVELOPE names. Not
 * opened (no identity matches), *mf gets the ENVELOPE's public fields
 * and no members; with stage_fd >= 0 that is an error (ERR_NOKEY). When
 * stage_fd >= 0, members are created beneath it (O_EXCL, no symlinks
 * followed) and fsynced. On success *mf gets the manifest and *seal (may
 * be NULL) what was found. On failure, err_msg() says exactly what is
 * wrong, and extracted files are left for the caller to remove with the
 * staging folder. */
int bak_read(const char *path, const struct bak_keys *k,
    const struct bak_limits *lim, int stage_fd, struct manifest *mf,
    struct bak_seal *seal);

/* As bak_read(), reading the archive from fd (a pipe will do: it is read
 * once, in order, to its end) instead of opening path, which only names
 * it in messages. fd is left open. */
int bak_read_fd(int fd, const char *path, const struct bak_keys *k,
    const struct bak_limits *lim, int stage_fd, struct manifest *mf,
    struct bak_seal *seal);

/* Read only the MANIFEST, or a sealed archive's ENVELOPE (not verified:
 * for listings of what a file claims); seal (may be NULL) says which. */
int bak_peek_manifest(const char *path, struct manifest *mf,
    struct bak_seal *seal);

/* What the first bytes of a file (64 KiB will do) say it is: an archive
 * in clear (format 1: its contents hold the node's private keys), a
 * sealed one (format 2), an age file, or something else. Unverified: for
 * the file policy (ftpd/rootfs.c) and listings. */
enum bak_kind { BAK_OTHER, BAK_PLAIN, BAK_SEALED, BAK_AGE };
enum bak_kind bak_classify(const unsigned char *p, size_t n);

#endif
