/* envelope.h: the ENVELOPE of a sealed (format 2, encrypted) .bak
 * (docs/bak-format.md): the MANIFEST's public fields, the SHA-256 of the
 * MANIFEST inside, and the size and SHA-256 of the age payload, signed so
 * that anyone can check an encrypted archive without a decryption key.
 * envelope_format() and envelope_parse() are exact inverses. */
#ifndef NODEBAK_ENVELOPE_H
#define NODEBAK_ENVELOPE_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "age.h"
#include "crypto.h"

#define ENVELOPE_VERSION 2
#define ENVELOPE_MAX_BYTES 16384
#define ENVELOPE_SIG_DOMAIN "nodebak-envelope-v2"	/* signed with its NUL */

struct manifest;

struct envelope {
	char node_name[65];
	char node_id[37];
	char software[32];
	char engine[16];
	long schema;
	char snapshot[65];
	time_t created;
	char key_id[KEYID_HEX_LEN + 1];
	char manifest_sha256[SHA256_HEX_LEN + 1];	/* of the MANIFEST inside */
	uint64_t payload_size;				/* the age file's */
	char payload_sha256[SHA256_HEX_LEN + 1];
	size_t nrec;
	struct age_recipient rec[AGE_MAX_RECIPIENTS];
};

/* The public fields from mf. */
void envelope_from_manifest(struct envelope *e, const struct manifest *mf);
/* The public fields of e into mf (members left empty). */
void envelope_to_manifest(const struct envelope *e, struct manifest *mf);
/* 1 when mf's public fields are e's. */
int envelope_matches(const struct envelope *e, const struct manifest *mf);
int envelope_format(const struct envelope *e, struct buf *b);
/* Exactly what envelope_format() writes, or ERR_FORMAT naming the line. */
int envelope_parse(const char *text, size_t len, struct envelope *e);

#endif
