/* fetch.h: one archive from a node to the archive host (docs/pull.md
 * "Pulling an archive"): download into .incoming, continuing a partial
 * download of the same archive; verify while the bytes arrive (the
 * node's signature with the pinned key, every member, the sidecar's size
 * and SHA-256: bak_read_fd() on a pipe, in a second thread); then install
 * the copy, or quarantine it with the reason. */
#ifndef NODEBAK_FETCH_H
#define NODEBAK_FETCH_H
#include <stddef.h>
#include <stdint.h>

struct bak_limits;
struct sidecar;
struct sigkey;
struct sshc;

struct fetch_ctx {
	struct sshc *c;
	const char *archive_dir, *node;
	const char *remote;		/* the .bak's path on the node */
	const char *file;		/* NAME.bak */
	const char *json;		/* its sidecar's text, as downloaded */
	size_t jsonlen;
	const struct sidecar *sc;	/* ... parsed */
	const struct sigkey *key;	/* the node's pinned signing key */
	const char *node_id;		/* its node (key show's Node line), or "" */
	const struct bak_limits *lim;
	/* Called with each piece: the bytes, and done/total for progress. */
	void (*on_bytes)(void *arg, size_t n, uint64_t done, uint64_t total);
	void *arg;
};

struct fetch_result {
	uint64_t bytes;		/* downloaded by this call */
	uint64_t resumed_at;	/* > 0: continued a partial of this size */
	int quarantined;	/* the archive failed verification */
};

/* 0: verified and installed. Otherwise err_msg() says why; when
 * res->quarantined the copy is in the quarantine, else (a transfer
 * failure) the partial download stays for the next sync. */
int fetch_archive(const struct fetch_ctx *f, struct fetch_result *res);

#endif
