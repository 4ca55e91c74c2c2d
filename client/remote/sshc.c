/* sshc.c: SSH and SFTP client on libssh (sshc.h): host key checks, key
 * authentication, SFTP reads and writes, one console command on exec. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "buf.h"
#include "err.h"
#include "esc.h"
#include "sshc.h"
#include "xmalloc.h"
#include "banned.h"

/* Reads in flight and their size: 16 x 128 KiB keeps a loopback or LAN
 * link busy (OpenSSH's sftp keeps 64 x 32 KiB) and stays well inside
 * what nodebak-ftpd answers in one packet (SFTP_MAX_DATA). */
#define GET_INFLIGHT 16
#define GET_CHUNK (128 * 1024)

/* Deadlines on the monotonic clock: a wall-clock step must not cut a
 * wait short or stretch it. */
static time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* AEAD ciphers first: AES-GCM where the CPU has AES instructions is the
 * cheapest per byte on both ends; then ChaCha20-Poly1305 and CTR. */
#define CIPHERS "aes128-gcm@openssh.com,aes256-gcm@openssh.com," \
	"chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr"

struct sshc {
	ssh_session s;
	sftp_session sftp;
	const char *host;	/* for messages */
	long timeout;		/* seconds a console command may stay silent */
};

static int ssh_fail(ssh_session s, const char *host, const char *what)
{
	return err_set(ERR_IO, "%s: %s: %s", esc(host), what,
	    esc(ssh_get_error(s)));
}

static int sftp_fail(struct sshc *c, const char *what, const char *path)
{
	int code = sftp_get_error(c->sftp);
	const char *why;

	switch (code) {
	case SSH_FX_NO_SUCH_FILE: why = "no such file"; break;
	case SSH_FX_PERMISSION_DENIED: why = "permission denied"; break;
	case SSH_FX_EOF: why = "end of file"; break;
	default: why = ssh_get_error(c->s); break;
	}
	return err_set(code == SSH_FX_NO_SUCH_FILE ? ERR_NOTFOUND :
	    code == SSH_FX_PERMISSION_DENIED ? ERR_DENIED : ERR_IO,
	    "%s: %s %s: %s", esc(c->host), what, esc(path), esc(why));
}

/* A session with our options, connected; no ~/.ssh/config is read. */
static int session_open(const char *host, int port, long timeout,
    const char *user, ssh_session *out)
{
	ssh_session s = ssh_new();
	int no = 0, yes = 1;
	long t = timeout;

	*out = NULL;
	if (s == NULL)
		return err_set(ERR_NOMEM, "libssh: cannot make a session");
	if (ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_HOST, host) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_PORT, &port) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &t) < 0 ||
	    /* Read requests and window adjustments are small packets that
	     * Nagle's algorithm would hold back behind unacknowledged data. */
	    ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_CIPHERS_C_S, CIPHERS) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_CIPHERS_S_C, CIPHERS) < 0 ||
	    (user && ssh_options_set(s, SSH_OPTIONS_USER, user) < 0)) {
		int r = ssh_fail(s, host, "options");
		ssh_free(s);
		return r;
	}
	if (ssh_connect(s) != SSH_OK) {
		int r = ssh_fail(s, host, "cannot connect");
		ssh_free(s);
		return r;
	}
	*out = s;
	return 0;
}

static int key_fingerprint(ssh_key k, char fp[SSHC_FP_MAX])
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *text;

	if (ssh_get_publickey_hash(k, SSH_PUBLICKEY_HASH_SHA256, &hash,
	    &hlen) < 0)
		return err_set(ERR_CRYPTO, "libssh: cannot hash a host key");
	text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	ssh_clean_pubkey_hash(&hash);
	if (text == NULL || strlen(text) >= SSHC_FP_MAX) {
		ssh_string_free_char(text);
		return err_set(ERR_CRYPTO, "libssh: bad host key fingerprint");
	}
	memcpy(fp, text, strlen(text) + 1);
	ssh_string_free_char(text);
	return 0;
}

int sshc_file_fingerprint(const char *path, char fp[SSHC_FP_MAX])
{
	ssh_key k = NULL;
	int r;

	if (ssh_pki_import_pubkey_file(path, &k) != SSH_OK)
		return err_set(ERR_FORMAT, "%s: not an OpenSSH public key file",
		    esc(path));
	r = key_fingerprint(k, fp);
	ssh_key_free(k);
	return r;
}

/* The host must be in the known_hosts file with the key it showed. */
static int check_known_hosts(ssh_session s, const struct sshc_opts *o,
    const char *got)
{
	enum ssh_known_hosts_e k;

	if (ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, o->known_hosts) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") < 0)
		return ssh_fail(s, o->host, "options");
	k = ssh_session_is_known_server(s);
	switch (k) {
	case SSH_KNOWN_HOSTS_OK:
		return 0;
	case SSH_KNOWN_HOSTS_CHANGED:
	case SSH_KNOWN_HOSTS_OTHER:
		return err_set(ERR_REFUSED, "%s: host key %s differs from the "
		    "one %s lists: refused", esc(o->host), got,
		    esc(o->known_hosts));
	case SSH_KNOWN_HOSTS_UNKNOWN:
	case SSH_KNOWN_HOSTS_NOT_FOUND:
		return err_set(ERR_REFUSED, "%s: host key %s is not in %s: "
		    "refused (check it with the node's console and add it)",
		    esc(o->host), got, esc(o->known_hosts));
	default:
		return ssh_fail(s, o->host, "cannot read the known_hosts file");
	}
}

/* The server's host key must be the pinned one. */
static int check_host_key(ssh_session s, const struct sshc_opts *o)
{
	ssh_key srv = NULL;
	char got[SSHC_FP_MAX], want[SSHC_FP_MAX];
	int r;

	if (ssh_get_server_publickey(s, &srv) != SSH_OK)
		return ssh_fail(s, o->host, "no host key");
	r = key_fingerprint(srv, got);
	ssh_key_free(srv);
	if (r != 0)
		return r;
	if (o->known_hosts)
		return check_known_hosts(s, o, got);
	if (o->pin_fp)
		snprintf(want, sizeof want, "%s", o->pin_fp);
	else if ((r = sshc_file_fingerprint(o->pin_file, want)) != 0)
		return r;
	if (strcmp(got, want))
		return err_set(ERR_REFUSED, "%s: host key %s is not the pinned "
		    "%s: refused (if the node's key really changed, check it "
		    "and run nodebak-pull trust)", esc(o->host), got, want);
	return 0;
}

/* OpenSSH refuses a private key others may read; so do we. */
static int load_identity(const char *path, ssh_key *out)
{
	struct stat st;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return err_sys("identity %s", esc(path));
	if (fstat(fd, &st) != 0) {
		close(fd);
		return err_sys("identity %s", esc(path));
	}
	close(fd);
	if (st.st_mode & 077)
		return err_set(ERR_DENIED, "identity %s: mode %04o lets others "
		    "read the private key: chmod 600 it", esc(path),
		    (unsigned)(st.st_mode & 07777));
	if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, out) != SSH_OK)
		return err_set(ERR_FORMAT, "identity %s: not a private key "
		    "libssh can read without a passphrase", esc(path));
	return 0;
}

int sshc_connect(const struct sshc_opts *o, struct sshc **out)
{
	struct sshc *c = xcalloc(1, sizeof *c);
	ssh_key id = NULL;
	int r;

	*out = NULL;
	c->host = o->host;
	c->timeout = o->timeout > 0 ? o->timeout : 60;
	if ((r = load_identity(o->identity, &id)) != 0 ||
	    (r = session_open(o->host, o->port, o->timeout, o->user,
	    &c->s)) != 0 || (r = check_host_key(c->s, o)) != 0)
		goto out;
	if (ssh_userauth_publickey(c->s, NULL, id) != SSH_AUTH_SUCCESS) {
		r = err_set(ERR_DENIED, "%s: user %s: the server did not accept "
		    "the identity %s", esc(o->host), esc(o->user),
		    esc(o->identity));
		goto out;
	}
	if (!o->no_sftp && ((c->sftp = sftp_new(c->s)) == NULL ||
	    sftp_init(c->sftp) != SSH_OK)) {
		r = ssh_fail(c->s, o->host, "cannot start SFTP");
		goto out;
	}
	*out = c;
	c = NULL;
out:
	ssh_key_free(id);
	sshc_close(c);
	return r;
}

void sshc_close(struct sshc *c)
{
	if (c == NULL)
		return;
	if (c->sftp)
		sftp_free(c->sftp);
	if (c->s) {
		ssh_disconnect(c->s);
		ssh_free(c->s);
	}
	free(c);
}

int sshc_fd(const struct sshc *c)
{
	return ssh_get_fd(c->s);
}

int sshc_hostkey(const char *host, int port, long timeout,
    char fp[SSHC_FP_MAX], struct buf *line)
{
	ssh_session s = NULL;
	ssh_key k = NULL;
	char *b64 = NULL;
	int r;

	if ((r = session_open(host, port, timeout, NULL, &s)) != 0)
		return r;
	if (ssh_get_server_publickey(s, &k) != SSH_OK) {
		r = ssh_fail(s, host, "no host key");
		goto out;
	}
	if ((r = key_fingerprint(k, fp)) != 0)
		goto out;
	if (ssh_pki_export_pubkey_base64(k, &b64) != SSH_OK) {
		r = err_set(ERR_CRYPTO, "libssh: cannot export the host key");
		goto out;
	}
	r = buf_addf(line, "%s %s", ssh_key_type_to_char(ssh_key_type(k)), b64);
out:
	ssh_string_free_char(b64);
	ssh_key_free(k);
	ssh_disconnect(s);
	ssh_free(s);
	return r;
}

int sshc_list(struct sshc *c, const char *dir, size_t max,
    struct sshc_entry **out, size_t *n)
{
	sftp_dir d;
	sftp_attributes a;
	struct sshc_entry *e = NULL;
	size_t count = 0;
	int r = 0;

	*out = NULL;
	*n = 0;
	if ((d = sftp_opendir(c->sftp, dir)) == NULL)
		return sftp_fail(c, "list", dir);
	while ((a = sftp_readdir(c->sftp, d)) != NULL) {
		if (a->name && strcmp(a->name, ".") && strcmp(a->name, "..")) {
			if (count == max) {
				sftp_attributes_free(a);
				r = err_set(ERR_TOOBIG, "%s: %s holds more than %zu "
				    "entries", esc(c->host), esc(dir), max);
				break;
			}
			e = xreallocarray(e, count + 1, sizeof *e);
			e[count].name = xstrdup(a->name);
			e[count].size = a->size;
			e[count].mtime = a->mtime64 ? a->mtime64 : a->mtime;
			e[count].regular = a->type == SSH_FILEXFER_TYPE_REGULAR;
			count++;
		}
		sftp_attributes_free(a);
	}
	if (r == 0 && !sftp_dir_eof(d))
		r = sftp_fail(c, "list", dir);
	sftp_closedir(d);
	if (r != 0) {
		sshc_entries_free(e, count);
		return r;
	}
	*out = e;
	*n = count;
	return 0;
}

void sshc_entries_free(struct sshc_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

int sshc_read_small(struct sshc *c, const char *path, size_t max,
    struct buf *out)
{
	sftp_file f;
	char chunk[32768];
	ssize_t got;
	int r = 0;

	if ((f = sftp_open(c->sftp, path, O_RDONLY, 0)) == NULL)
		return sftp_fail(c, "open", path);
	while ((got = sftp_read(f, chunk, sizeof chunk)) > 0) {
		if (out->len + (size_t)got > max) {
			r = err_set(ERR_TOOBIG, "%s: %s is larger than %zu bytes",
			    esc(c->host), esc(path), max);
			break;
		}
		if ((r = buf_add(out, chunk, (size_t)got)) != 0)
			break;
	}
	if (r == 0 && got < 0)
		r = sftp_fail(c, "read", path);
	sftp_close(f);
	return r;
}

/* ---- downloads: GET_INFLIGHT reads of GET_CHUNK in flight ---- */

struct get {
	struct sshc *c;
	sftp_file f;
	const char *path;
	uint32_t ids[GET_INFLIGHT];
	int head, count;	/* ring of outstanding request ids */
	int eof;
	unsigned char *data;
};

static int get_fill(struct get *g)
{
	while (!g->eof && g->count < GET_INFLIGHT) {
		int id = sftp_async_read_begin(g->f, GET_CHUNK);
		if (id < 0)
			return sftp_fail(g->c, "read", g->path);
		g->ids[(g->head + g->count++) % GET_INFLIGHT] = (uint32_t)id;
	}
	return 0;
}

/* Read (and drop) the replies still due, so none is left pending. */
static void get_drain(struct get *g)
{
	while (g->count > 0) {
		uint32_t id = g->ids[g->head];
		g->head = (g->head + 1) % GET_INFLIGHT;
		g->count--;
		if (sftp_async_read(g->f, g->data, GET_CHUNK, id) < 0)
			break;
	}
	g->head = g->count = 0;
}

int sshc_get(struct sshc *c, const char *path, uint64_t offset,
    uint64_t limit, sshc_sink sink, void *arg, uint64_t *got)
{
	struct get g;
	uint64_t pos = offset;
	int r = 0;

	*got = 0;
	memset(&g, 0, sizeof g);
	g.c = c;
	g.path = path;
	if ((g.f = sftp_open(c->sftp, path, O_RDONLY, 0)) == NULL)
		return sftp_fail(c, "open", path);
	g.data = xmalloc(GET_CHUNK);
	if (sftp_seek64(g.f, offset) < 0) {
		r = sftp_fail(c, "seek", path);
		goto out;
	}
	while ((r = get_fill(&g)) == 0 && g.count > 0) {
		uint32_t id = g.ids[g.head];
		int n;

		g.head = (g.head + 1) % GET_INFLIGHT;
		g.count--;
		if ((n = sftp_async_read(g.f, g.data, GET_CHUNK, id)) < 0) {
			r = sftp_fail(c, "read", path);
			break;
		}
		if (n == 0) {		/* end of file: the rest say so too */
			g.eof = 1;
			continue;
		}
		if (pos + (uint64_t)n > limit) {
			r = err_set(ERR_TOOBIG, "%s: %s grew past %llu bytes",
			    esc(c->host), esc(path), (unsigned long long)limit);
			break;
		}
		if ((r = sink(arg, g.data, (size_t)n)) != 0)
			break;
		pos += (uint64_t)n;
		*got += (uint64_t)n;
		if (n < GET_CHUNK && !g.eof) {
			/* A short read: the requests after it start at the
			 * wrong offset. Drop them and go on from pos. */
			get_drain(&g);
			if (sftp_seek64(g.f, pos) < 0) {
				r = sftp_fail(c, "seek", path);
				break;
			}
		}
	}
out:
	if (r != 0 && g.count > 0)
		get_drain(&g);
	free(g.data);
	sftp_close(g.f);
	return r;
}

/* ---- one console command on an exec channel ---- */

int sshc_exec(struct sshc *c, const char *command, size_t max,
    struct buf *out, int *status)
{
	ssh_channel ch;
	char chunk[16384];
	time_t quiet_until = mono_s() + c->timeout;
	int r = 0;

	*status = -1;
	if ((ch = ssh_channel_new(c->s)) == NULL)
		return ssh_fail(c->s, c->host, "cannot make a channel");
	if (ssh_channel_open_session(ch) != SSH_OK ||
	    ssh_channel_request_exec(ch, command) != SSH_OK) {
		r = ssh_fail(c->s, c->host, "cannot run a console command");
		goto out;
	}
	ssh_channel_send_eof(ch);
	while (!ssh_channel_is_eof(ch) || ssh_channel_poll(ch, 1) > 0) {
		int got = 0;
		for (int err = 0; err < 2 && r == 0; err++) {
			int n = ssh_channel_read_timeout(ch, chunk, sizeof chunk,
			    err, 200);
			if (n == SSH_ERROR) {
				r = ssh_fail(c->s, c->host, "console command");
				break;
			}
			if (n > 0 && out->len + (size_t)n > max)
				r = err_set(ERR_TOOBIG, "%s: a console command's "
				    "output is longer than %zu bytes", esc(c->host),
				    max);
			else if (n > 0)
				r = buf_add(out, chunk, (size_t)n);
			got += n > 0 ? n : 0;
		}
		if (r == 0 && got > 0)
			quiet_until = mono_s() + c->timeout;
		else if (r == 0 && mono_s() > quiet_until)
			r = err_set(ERR_IO, "%s: a console command said nothing for "
			    "%ld s", esc(c->host), c->timeout);
		if (r != 0)
			goto out;
		if (got == 0 && ssh_channel_is_eof(ch) &&
		    ssh_channel_poll(ch, 0) <= 0 && ssh_channel_poll(ch, 1) <= 0)
			break;
		if (!ssh_channel_is_open(ch) && got == 0)
			break;
	}
	*status = ssh_channel_get_exit_status(ch);
out:
	ssh_channel_close(ch);
	ssh_channel_free(ch);
	return r;
}

/* ---- uploads ---- */

static int put_file(struct sshc *c, const char *path, const void *p,
    size_t len, unsigned mode)
{
	const unsigned char *b = p;
	sftp_file f;
	size_t off = 0;
	int r = 0;

	f = sftp_open(c->sftp, path, O_WRONLY | O_CREAT | O_TRUNC, (mode_t)mode);
	if (f == NULL)
		return sftp_fail(c, "create", path);
	while (off < len) {
		size_t n = len - off > 32768 ? 32768 : len - off;
		ssize_t w = sftp_write(f, b + off, n);
		if (w <= 0) {
			r = sftp_fail(c, "write", path);
			break;
		}
		off += (size_t)w;
	}
	if (sftp_close(f) != SSH_NO_ERROR && r == 0)
		r = sftp_fail(c, "close", path);
	return r;
}

int sshc_put(struct sshc *c, const char *path, const void *p, size_t len,
    unsigned mode)
{
	struct buf tmp = BUF_INIT(4096);
	int r;

	if ((r = buf_addf(&tmp, "%s.part", path)) != 0)
		goto out;
	if ((r = put_file(c, buf_cstr(&tmp), p, len, mode)) != 0)
		goto out;
	/* libssh 0.10 renames with SSH_FXP_RENAME, which refuses an existing
	 * target on servers that follow the draft (nodebak-ftpd does). Then
	 * the file is written in place: nodebak-ftpd itself writes every
	 * upload to a hidden file and renames it at CLOSE, so the target is
	 * never seen half written there either. */
	if (sftp_rename(c->sftp, buf_cstr(&tmp), path) < 0) {
		sftp_unlink(c->sftp, buf_cstr(&tmp));
		r = put_file(c, path, p, len, mode);
	}
out:
	buf_free(&tmp);
	return r;
}

int sshc_avail(struct sshc *c, const char *path, uint64_t *bytes)
{
	sftp_statvfs_t v;

	*bytes = 0;
	if (!sftp_extension_supported(c->sftp, "statvfs@openssh.com", "2"))
		return err_set(ERR_PROTO, "%s: the server does not say how "
		    "much room it has (no statvfs@openssh.com)", esc(c->host));
	if ((v = sftp_statvfs(c->sftp, path)) == NULL)
		return sftp_fail(c, "statvfs", path);
	*bytes = (uint64_t)v->f_bavail * (uint64_t)v->f_frsize;
	sftp_statvfs_free(v);
	return 0;
}
