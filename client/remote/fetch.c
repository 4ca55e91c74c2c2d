/* fetch.c: one archive, downloaded, verified as it arrives, installed or
 * quarantined (fetch.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bak.h"
#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "esc.h"
#include "fetch.h"
#include "fsutil.h"
#include "manifest.h"
#include "sidecar.h"
#include "sshc.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

#define CHUNK (256 * 1024)

/* The verifier: bak_read_fd() on the read end of a pipe. */
struct verifier {
	pthread_t t;
	int fd[2];
	const char *label;
	const struct sigkey *key;
	const struct bak_limits *lim;
	struct manifest mf;
	int r;
	char msg[1024];
};

static void *verify_main(void *arg)
{
	struct verifier *v = arg;
	struct bak_keys k = { bak_key_only, (void *)v->key, NULL, 0 };

	/* No identity: a sealed archive is checked without being opened. */
	v->r = bak_read_fd(v->fd[0], v->label, &k, v->lim, -1, &v->mf, NULL);
	if (v->r == ERR_UNTRUSTED)
		err_set(ERR_UNTRUSTED, "%s: not signed by the node's pinned "
		    "signing key %s", v->label, sigkey_id(v->key));
	if (v->r != 0)
		snprintf(v->msg, sizeof v->msg, "%s", err_msg());
	close(v->fd[0]);	/* a writer still going gets EPIPE */
	return NULL;
}

static int verifier_start(struct verifier *v, const struct fetch_ctx *f)
{
	memset(v, 0, sizeof *v);
	v->label = f->file;
	v->key = f->key;
	v->lim = f->lim;
	if (pipe2(v->fd, O_CLOEXEC) != 0)
		return err_sys("pipe");
	/* A deeper pipe lets the download run ahead of the verifier by more
	 * than 64 KiB (best effort: the default is only slower). */
	(void)fcntl(v->fd[1], F_SETPIPE_SZ, 1 << 20);
	if (pthread_create(&v->t, NULL, verify_main, v) != 0) {
		close(v->fd[0]);
		close(v->fd[1]);
		return err_set(ERR_SYS, "cannot start the verifier thread");
	}
	return 0;
}

/* Close the pipe and wait: 0 when the archive verified. */
static int verifier_finish(struct verifier *v)
{
	if (v->fd[1] >= 0)
		close(v->fd[1]);
	v->fd[1] = -1;
	pthread_join(v->t, NULL);
	if (v->r != 0)
		return err_set(v->r, "%s", v->msg);
	return 0;
}

/* What is written: the partial file, the hash, the verifier. */
struct dl_sink {
	const struct fetch_ctx *f;
	int fd;
	struct sha256 *h;
	struct verifier *v;
	int verifier_gone;	/* it stopped reading: it has failed */
	uint64_t done;
};

static int feed(struct dl_sink *s, const void *p, size_t n, int to_file)
{
	if (to_file && fs_write_all(s->fd, p, n, "partial download") != 0)
		return err_prefix(ERR_IO, "%s", esc(s->f->file));
	sha256_update(s->h, p, n);
	if (!s->verifier_gone && fs_write_all(s->v->fd[1], p, n, "pipe") != 0) {
		if (errno != EPIPE)
			return ERR_SYS;
		s->verifier_gone = 1;
	}
	return s->verifier_gone ? ERR_CANCELLED : 0;
}

static int net_sink(void *arg, const void *p, size_t n)
{
	struct dl_sink *s = arg;
	int r = feed(s, p, n, 1);

	s->done += n;
	if (s->f->on_bytes)
		s->f->on_bytes(s->f->arg, n, s->done, s->f->sc->size);
	return r;
}

/* Hash and verify the bytes already in the partial file. */
static int replay(struct dl_sink *s, uint64_t len)
{
	char *b = xmalloc(CHUNK);
	uint64_t off = 0;
	int r = 0;

	while (off < len && r == 0) {
		size_t want = len - off < CHUNK ? (size_t)(len - off) : CHUNK;
		ssize_t got = pread(s->fd, b, want, (off_t)off);
		if (got <= 0) {
			r = got < 0 ? err_sys("read %s", esc(s->f->file)) :
			    err_set(ERR_IO, "%s: partial download shrank",
			    esc(s->f->file));
			break;
		}
		r = feed(s, b, (size_t)got, 0);
		off += (uint64_t)got;
	}
	free(b);
	s->done = off;
	return r;
}

/* Open the partial download: continue it when it was started from the
 * same sidecar (same SHA-256) and is not longer than the archive. */
static int partial_open(const struct fetch_ctx *f, const char *path,
    const char *pjson, int fresh, int *fd, uint64_t *have)
{
	struct sidecar old;
	struct stat st;

	*have = 0;
	if (!fresh && fs_exists(path) && sidecar_load(pjson, &old) == 0 &&
	    !strcmp(old.sha256, f->sc->sha256) && old.size == f->sc->size &&
	    (*fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		if (fstat(*fd, &st) == 0 && (uint64_t)st.st_size <= f->sc->size &&
		    lseek(*fd, 0, SEEK_END) >= 0) {
			*have = (uint64_t)st.st_size;
			return 0;
		}
		close(*fd);
	}
	*fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (*fd < 0)
		return err_sys("%s", esc(path));
	return fs_write_atomic(pjson, f->json, f->jsonlen, 0600);
}

/* After every byte: the size and hash the sidecar gives, and the
 * sidecar's account of the MANIFEST. */
static int check_whole(const struct fetch_ctx *f, struct dl_sink *s,
    struct verifier *v, int rv)
{
	char hex[SHA256_HEX_LEN + 1];
	int r = rv;

	sha256_final_hex(s->h, hex);
	s->h = NULL;
	if (r == 0 && s->done != f->sc->size)
		r = err_set(ERR_MISMATCH, "%s: the node's file is %llu bytes, its "
		    "NAME.json says %llu", esc(f->file),
		    (unsigned long long)s->done,
		    (unsigned long long)f->sc->size);
	if (r == 0 && strcmp(hex, f->sc->sha256))
		r = err_set(ERR_MISMATCH, "%s: SHA-256 %s differs from the %s its "
		    "NAME.json gives", esc(f->file), hex, f->sc->sha256);
	if (r == 0 && f->node_id[0] && strcmp(f->node_id, v->mf.node_id))
		r = err_set(ERR_MISMATCH, "%s: an archive of node id %s, but the "
		    "signing key is %s's (its Node line)", esc(f->file),
		    v->mf.node_id, f->node_id);
	if (r == 0)
		r = sidecar_match_manifest(f->sc, &v->mf);
	if (rv == 0)
		manifest_free(&v->mf);
	return r;
}

static void hash_drop(struct sha256 *h)
{
	char hex[SHA256_HEX_LEN + 1];

	if (h)
		sha256_final_hex(h, hex);
}

/* One attempt; *verdict = 1 when the archive itself failed a check. */
static int attempt(const struct fetch_ctx *f, const char *partial,
    const char *pjson, int fresh, struct fetch_result *res, int *verdict)
{
	struct verifier v;
	struct dl_sink s;
	uint64_t got = 0, have;
	int r, rv;

	*verdict = 0;
	memset(&s, 0, sizeof s);
	s.f = f;
	s.v = &v;
	if ((r = partial_open(f, partial, pjson, fresh, &s.fd, &have)) != 0)
		return r;
	if ((s.h = sha256_new()) == NULL || (r = verifier_start(&v, f)) != 0) {
		close(s.fd);
		hash_drop(s.h);
		return r ? r : err_set(ERR_NOMEM, "sha256");
	}
	res->resumed_at = have;
	if ((r = replay(&s, have)) == 0)
		r = sshc_get(f->c, f->remote, have, f->sc->size, net_sink, &s, &got);
	res->bytes += got;
	if (r != 0 && r != ERR_CANCELLED && r != ERR_TOOBIG) {
		/* The download's reason, not the verifier's view of a cut
		 * stream. */
		struct buf why = BUF_INIT(256);
		buf_adds(&why, err_msg());
		if (r == ERR_DENIED)
			/* Listed but not sent: an archive in clear, which
			 * only admin may download (docs/ftpd.md "Roles"). */
			buf_adds(&why, " (the node sends archives in clear to "
			    "admin only: set [snapshotd] recipients on the node "
			    "so that it seals them)");
		rv = verifier_finish(&v);
		err_set(r, "%s", buf_cstr(&why));
		buf_free(&why);
	} else
		rv = verifier_finish(&v);
	if (r == 0 || r == ERR_CANCELLED || r == ERR_TOOBIG) {
		/* Everything the node would send has been judged. */
		if (r == ERR_TOOBIG)
			rv = err_set(ERR_MISMATCH, "%s: the node's file is larger "
			    "than the %llu bytes its NAME.json says", esc(f->file),
			    (unsigned long long)f->sc->size);
		r = check_whole(f, &s, &v, rv);
		*verdict = r != 0;
	} else {
		if (rv == 0)
			manifest_free(&v.mf);
		hash_drop(s.h);
	}
	if (r == 0 && fsync(s.fd) != 0)
		r = err_sys("fsync %s", esc(partial));
	close(s.fd);
	return r;
}

int fetch_archive(const struct fetch_ctx *f, struct fetch_result *res)
{
	char *partial, *pjson;
	char base[NAME_MAX_LEN + 16];
	int r, verdict;

	memset(res, 0, sizeof *res);
	snprintf(base, sizeof base, "%.*s.partial", (int)strlen(f->file) - 4,
	    f->file);
	partial = store_path(f->archive_dir, ST_INCOMING, f->node, base);
	pjson = xmalloc(strlen(partial) + 6);
	snprintf(pjson, strlen(partial) + 6, "%s.json", partial);
	r = attempt(f, partial, pjson, 0, res, &verdict);
	if (r != 0 && verdict && res->resumed_at > 0) {
		/* The bytes kept from last time may be what is wrong: once
		 * more, from the start, before blaming the node. */
		uint64_t resumed_at = res->resumed_at;
		r = attempt(f, partial, pjson, 1, res, &verdict);
		res->resumed_at = resumed_at;
	}
	if (r == 0)
		r = store_commit(f->archive_dir, f->node, f->file, partial,
		    f->json, f->jsonlen);
	else if (verdict) {
		struct buf why = BUF_INIT(1024);
		buf_adds(&why, err_msg());
		if (store_quarantine(f->archive_dir, f->node, f->file, partial,
		    f->json, f->jsonlen, buf_cstr(&why)) == 0)
			unlink(pjson);
		res->quarantined = 1;
		err_set(r, "%s", buf_cstr(&why));
		buf_free(&why);
	}
	free(pjson);
	free(partial);
	return r;
}
