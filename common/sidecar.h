/* sidecar.h: NAME.json, the unsigned description written beside each
 * NAME.bak (docs/bak-format.md "NAME.json"). It comes from the network
 * or another machine: parsed strictly with jansson (the only module that
 * includes it), bounded, every field checked. */
#ifndef NODEBAK_SIDECAR_H
#define NODEBAK_SIDECAR_H
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "manifest.h"
#include "names.h"

#define SIDECAR_MAX_BYTES (8 << 20)

struct sidecar {
	char file[NAME_MAX_LEN + 5];		/* "NAME.bak" */
	uint64_t size;				/* of the .bak */
	char sha256[SHA256_HEX_LEN + 1];	/* of the .bak, lower-case hex */
	char node_name[NAME_MAX_LEN + 1];
	char node_id[37];
	char snapshot[NAME_MAX_LEN + 1];
	char created[21];			/* YYYY-MM-DDTHH:MM:SSZ */
	char key_id[KEYID_HEX_LEN + 1];
	int encrypted;				/* format 2: a sealed archive */
	size_t nrec;				/* its recipients */
};

/* Parse text[0..len): 0 and *out, or ERR_FORMAT with one line saying
 * which field is missing, of the wrong type or malformed (what names the
 * source in it). */
int sidecar_parse(const char *text, size_t len, const char *what,
    struct sidecar *out);
/* Read and parse the file at path (at most SIDECAR_MAX_BYTES). */
int sidecar_load(const char *path, struct sidecar *out);
/* The NAME.json beside bak_path ("x/NAME.bak" -> "x/NAME.json"; caller
 * frees), or NULL when bak_path does not end in .bak. */
char *sidecar_path(const char *bak_path);
/* 0 when a verified MANIFEST agrees with what the sidecar says about it
 * (node id and name, snapshot, created, key id); ERR_MISMATCH naming the
 * first field that differs. */
int sidecar_match_manifest(const struct sidecar *sc,
    const struct manifest *mf);
/* 0 when the file bak_path has sc's size and SHA-256, else ERR_MISMATCH
 * ("the file is not the one the snapshot wrote ..."). */
int sidecar_check_file(const struct sidecar *sc, const char *bak_path);

#endif
