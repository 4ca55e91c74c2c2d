/* sshc.h: the puller's SSH and SFTP client (docs/pull.md), on libssh's
 * client API: the only file of client/pull that includes libssh. A
 * connection checks the server's host key against the operator's pin
 * before it authenticates, then starts SFTP. Everything the server sends
 * (names, sizes, data) is the caller's to check. */
#ifndef NODEBAK_SSHC_H
#define NODEBAK_SSHC_H
#include <stddef.h>
#include <stdint.h>

struct buf;
struct sshc;

struct sshc_opts {
	const char *host;
	int port;
	const char *user;
	const char *identity;	/* private key file: no group or other access */
	const char *pin_fp;	/* "SHA256:..." the host key must have, or */
	const char *pin_file;	/* a file holding it (OpenSSH public key) */
	long timeout;		/* seconds, for connecting and each reply */
};

#define SSHC_FP_MAX 64		/* "SHA256:" and 43 base64 characters */

/* Connect, check the host key (ERR_REFUSED on a mismatch, naming both
 * fingerprints), authenticate with the identity and start SFTP. */
int sshc_connect(const struct sshc_opts *o, struct sshc **out);
void sshc_close(struct sshc *c);
/* The connection's socket: shutdown(2) on it ends a stalled transfer
 * from another thread (the puller's watchdog). */
int sshc_fd(const struct sshc *c);

/* Connect without authenticating to learn the server's host key: its
 * "SHA256:" fingerprint into fp, and its OpenSSH public key line ("TYPE
 * BASE64") appended to line. For `nodebak-pull trust`. */
int sshc_hostkey(const char *host, int port, long timeout,
    char fp[SSHC_FP_MAX], struct buf *line);
/* The fingerprint of the OpenSSH public key in file path. */
int sshc_file_fingerprint(const char *path, char fp[SSHC_FP_MAX]);

struct sshc_entry {
	char *name;
	uint64_t size;
	int regular;		/* a regular file (not a folder, link, ...) */
	uint64_t mtime;
};

/* The entries of folder dir (without "." and ".."), at most max of
 * them (ERR_TOOBIG beyond). */
int sshc_list(struct sshc *c, const char *dir, size_t max,
    struct sshc_entry **out, size_t *n);
void sshc_entries_free(struct sshc_entry *e, size_t n);

/* Read the whole of a small file (at most max bytes: ERR_TOOBIG). */
int sshc_read_small(struct sshc *c, const char *path, size_t max,
    struct buf *out);

/* Called with each piece of a download, in file order; a nonzero return
 * stops the download with that code. */
typedef int (*sshc_sink)(void *arg, const void *p, size_t n);

/* Download path from offset to its end, with several reads in flight,
 * giving the bytes to sink in order. *got gets the bytes delivered. The
 * download fails (ERR_TOOBIG) if the file grows past limit bytes. */
int sshc_get(struct sshc *c, const char *path, uint64_t offset,
    uint64_t limit, sshc_sink sink, void *arg, uint64_t *got);

#endif
