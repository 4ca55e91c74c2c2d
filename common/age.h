/* age.h: the age v1 file format (C2SP, "age-encryption.org/v1") with
 * X25519 recipients, built from OpenSSL 3's primitives only: X25519
 * (EVP_PKEY), HKDF-SHA256 (EVP_KDF), ChaCha20-Poly1305 (EVP_CIPHER),
 * HMAC-SHA256 (EVP_MAC) and RAND_bytes. The only module that encrypts or
 * decrypts. Streaming: whatever the size, memory is one 64 KiB chunk and
 * its ciphertext. Files it writes are read by the stock age tool, and it
 * reads what `age -r` writes; tests/unit/t_age.c runs the C2SP CCTV
 * vectors. Passphrase (scrypt), armour and plugin recipients are not
 * supported: an archive is encrypted to public keys. */
#ifndef NODEBAK_AGE_H
#define NODEBAK_AGE_H
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

#define AGE_KEY_LEN 32
#define AGE_RECIPIENT_MAX 96	/* "age1..." is 62 characters */
#define AGE_IDENTITY_MAX 96	/* "AGE-SECRET-KEY-1..." is 74 */
#define AGE_CHUNK 65536
#define AGE_HEADER_MAX 65536	/* a longer header is refused */
#define AGE_MAX_RECIPIENTS 64

struct age_recipient {
	unsigned char pub[AGE_KEY_LEN];
};

struct age_identity {
	unsigned char sec[AGE_KEY_LEN];
	unsigned char pub[AGE_KEY_LEN];
};

/* "age1..." into r: 0, or ERR_INVAL with a one-line reason. */
int age_recipient_parse(const char *s, struct age_recipient *r);
void age_recipient_format(const struct age_recipient *r,
    char out[AGE_RECIPIENT_MAX]);
/* "AGE-SECRET-KEY-1..." into id (its public half computed). */
int age_identity_parse(const char *s, struct age_identity *id);
void age_identity_format(const struct age_identity *id,
    char out[AGE_IDENTITY_MAX]);
void age_identity_recipient(const struct age_identity *id,
    struct age_recipient *r);
/* Read an identity file in age-keygen's format: lines that are empty or
 * start with '#' are skipped, every other line is one identity. Refused
 * when group or others may read it, like OpenSSH's private keys. *ids is
 * allocated (age_identities_free() wipes it). */
int age_identities_load(const char *path, struct age_identity **ids,
    size_t *n);
void age_identities_free(struct age_identity *ids, size_t n);
/* A new identity, written to path exclusively with mode 0600 in
 * age-keygen's format. */
int age_identity_generate(const char *path, struct age_identity *id);

/* Writer: encrypt to n recipients (1 to AGE_MAX_RECIPIENTS) into out. */
struct age_writer;
int age_writer_new(const struct sink *out, const struct age_recipient *rs,
    size_t n, struct age_writer **w);
int age_write(struct age_writer *w, const void *p, size_t len);
/* Encrypt and write the final chunk. */
int age_finish(struct age_writer *w);
void age_writer_free(struct age_writer *w);
/* The writer as a sink for the layer above (ctx: the age_writer). */
int age_sink_write(void *ctx, const void *p, size_t n);

/* Reader: parses the header and unwraps the file key on creation. Fails
 * with ERR_FORMAT (malformed header), ERR_NOKEY (no identity matches a
 * recipient stanza) or ERR_SIG (header MAC); age_read() fails with
 * ERR_FORMAT when a chunk does not decrypt, is cut short, or the stream
 * has no final chunk. Plaintext is released only after its chunk's tag
 * verified. what names the file in messages. */
struct age_reader;
int age_reader_new(const struct source *in, const struct age_identity *ids,
    size_t n, const char *what, struct age_reader **r);
int age_read(struct age_reader *r, void *p, size_t cap, size_t *got);
void age_reader_free(struct age_reader *r);
/* The reader as a source for the layer above (ctx: the age_reader). */
int age_source_read(void *ctx, void *p, size_t cap, size_t *got);

/* 1 when the n bytes at p start like an age file. */
int age_looks_like(const void *p, size_t n);

#endif
