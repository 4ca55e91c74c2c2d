/* sshc.h: the client side's SSH and SFTP client (nodebak-pull,
 * docs/pull.md; nodebak cluster renew, docs/cluster.md), on libssh's
 * client API: the only file of the programs that includes libssh's client
 * API. A connection checks the server's host key against the operator's
 * pin or known_hosts file before it authenticates, then starts SFTP; it
 * can also run one console command on an exec channel. Everything the
 * server sends (names, sizes, data, output) is the caller's to check. */
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
	const char *pin_file;	/* a file holding it (OpenSSH public key), or */
	const char *known_hosts; /* an OpenSSH known_hosts file listing it */
	long timeout;		/* seconds, for connecting and each reply */
	int no_sftp;		/* for sshc_exec() only: a server may allow one
				 * channel a connection (nodebak-ftpd does) */
};

#define SSHC_FP_MAX 64		/* "SHA256:" and 43 base64 characters */

/* Connect, check the host key (ERR_REFUSED on a mismatch, naming both
 * fingerprints, or when known_hosts does not list the host), authenticate
 * with the identity and start SFTP. */
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

/* Run command (the console's words, as one line) on an exec channel;
 * what it writes to stdout and stderr is appended to out (in the order it
 * arrives; at most max bytes: ERR_TOOBIG), and *status gets its exit
 * status (-1 when the server sent none). Fails only when the channel does;
 * a command that fails is a status. */
int sshc_exec(struct sshc *c, const char *command, size_t max,
    struct buf *out, int *status);

/* Write len bytes to path with the given mode: into path.part, then
 * renamed over path (so path is the old file or the whole new one); when
 * the server will not rename over an existing file, written in place
 * (nodebak-ftpd makes every upload whole before it takes the name). */
int sshc_put(struct sshc *c, const char *path, const void *p, size_t len,
    unsigned mode);

/* The bytes free to an unprivileged writer in the file system holding
 * path, from the server's statvfs@openssh.com (ERR_PROTO without). */
int sshc_avail(struct sshc *c, const char *path, uint64_t *bytes);

#endif
