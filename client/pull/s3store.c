/* s3store.c: nodebak-pull's object-storage target (s3store.h): where
 * the verified copies go in the bucket and how they get there, on the
 * S3 client s3.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "pullconf.h"
#include "s3.h"
#include "s3store.h"
#include "sidecar.h"
#include "xmalloc.h"
#include "banned.h"

#define MAX_PARTS 10000		/* S3's limit */

struct s3store {
	struct s3 *s3;
	char *prefix;		/* "" or "PREFIX/" */
	char *shown;		/* s3://BUCKET/PREFIX */
	size_t part_size;
	const char *lock_mode;	/* NULL: no Object Lock header */
	long lock_days;
};

int s3store_open(const struct pull_conf *c,
    void (*on_bytes)(void *arg, size_t n), void *arg, struct s3store **out)
{
	struct s3store *st = xcalloc(1, sizeof *st);
	struct buf b = BUF_INIT(4096);
	struct s3_opts o;
	int r;

	*out = NULL;
	buf_addf(&b, "%s%s", c->store_prefix, c->store_prefix[0] ? "/" : "");
	st->prefix = buf_detach(&b, NULL);
	buf_addf(&b, "s3://%s%s%s", c->store_bucket, c->store_prefix[0] ? "/" :
	    "", c->store_prefix);
	st->shown = buf_detach(&b, NULL);
	st->part_size = (size_t)c->s3_part_size;
	st->lock_days = c->s3_object_lock_days;
	if (st->lock_days > 0)
		st->lock_mode = !strcmp(c->s3_object_lock_mode, "governance") ?
		    "GOVERNANCE" : "COMPLIANCE";
	memset(&o, 0, sizeof o);
	o.endpoint = c->s3_endpoint;
	o.region = c->s3_region;
	o.bucket = c->store_bucket;
	o.path_style = !strcmp(c->s3_path_style, "yes");
	o.credentials = c->s3_credentials;
	o.shown = st->shown;
	o.timeout = (long)c->timeout;
	o.on_bytes = on_bytes;
	o.arg = arg;
	if ((r = s3_open(&o, &st->s3)) != 0) {
		s3store_close(st);
		return r;
	}
	*out = st;
	return 0;
}

void s3store_close(struct s3store *st)
{
	if (st == NULL)
		return;
	s3_close(st->s3);
	free(st->prefix);
	free(st->shown);
	free(st);
}

int s3store_check(struct s3store *st)
{
	return s3_check(st->s3);
}

static char *key_of(const struct s3store *st, const char *node,
    const char *file)
{
	struct buf b = BUF_INIT(8192);

	buf_addf(&b, "%s%s/%s", st->prefix, node, file);
	return buf_detach(&b, NULL);
}

char *s3store_url(const struct s3store *st, const char *node,
    const char *file)
{
	struct buf b = BUF_INIT(8192);

	buf_addf(&b, "%s/%s/%s", st->shown, node, file);
	return buf_detach(&b, NULL);
}

static char *json_name(const char *file)
{
	size_t n = strlen(file);
	char *j = xmalloc(n + 2);

	snprintf(j, n + 2, "%.*s.json", (int)(n - 4), file);
	return j;
}

static void meta_of(const struct s3store *st, const struct sidecar *sc,
    const char *key_id, struct s3_put_meta *pm)
{
	memset(pm, 0, sizeof *pm);
	pm->sha256 = sc->sha256;
	pm->key_id = key_id;
	pm->created = sc->created;
	if (st->lock_mode) {
		pm->lock_mode = st->lock_mode;
		pm->lock_until = (long long)time(NULL) +
		    (long long)st->lock_days * 86400;
	}
}

static int read_at(int fd, void *p, size_t n, uint64_t off, const char *path)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = pread(fd, (char *)p + done, n - done,
		    (off_t)(off + done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? err_sys("%s: read", esc(path)) :
			    err_set(ERR_IO, "%s: shorter than its sidecar says",
			    esc(path));
		done += (size_t)k;
	}
	return 0;
}

/* The parts of an unfinished upload that can be kept: numbered from 1
 * without a gap, each part_size long (the last may be shorter only if it
 * is the file's last), each with the MD5 of the file's bytes there as its
 * ETag. Returns how many. */
static size_t usable_parts(struct s3store *st, int fd, const char *bak,
    uint64_t size, const struct s3_part *p, size_t n, char *buf,
    struct sha256 *h, const struct s3store_feed *feed)
{
	size_t k;

	for (k = 0; k < n; k++) {
		uint64_t off = (uint64_t)k * st->part_size;
		size_t want = size - off < st->part_size ? (size_t)(size - off) :
		    st->part_size;
		char md5[33], etag[80];
		size_t len;

		if (p[k].number != (int)k + 1 || off >= size ||
		    p[k].size != want)
			break;
		snprintf(etag, sizeof etag, "%s", p[k].etag[0] == '"' ?
		    p[k].etag + 1 : p[k].etag);
		len = strcspn(etag, "\"");
		etag[len] = '\0';
		if ((feed && feed->wait(feed->arg, off + want) != 0) ||
		    read_at(fd, buf, want, off, bak) != 0 ||
		    md5_hex(buf, want, md5) != 0 || strcmp(md5, etag))
			break;
		sha256_update(h, buf, want);
	}
	return k;
}

/* Check that the bytes sent were the archive's (h: their SHA-256 in
 * order; freed). */
static int sent_is(struct s3store *st, const char *key, struct sha256 *h,
    const char *sha256)
{
	char hex[SHA256_HEX_LEN + 1];

	sha256_final_hex(h, hex);
	if (strcmp(hex, sha256))
		return err_set(ERR_MISMATCH, "store %s: %s: the bytes read for the "
		    "upload have SHA-256 %s, not the archive's %s: not completed",
		    st->shown, esc(key), hex, sha256);
	return 0;
}

static void hash_drop(struct sha256 *h)
{
	char hex[SHA256_HEX_LEN + 1];

	if (h)
		sha256_final_hex(h, hex);
}

static int put_multipart(struct s3store *st, const char *key, const char *bak,
    int fd, uint64_t size, const struct s3_put_meta *pm,
    const struct s3store_feed *feed, struct s3store_put *res)
{
	struct sha256 *h = sha256_new();
	uint64_t nparts = (size + st->part_size - 1) / st->part_size;
	struct s3_part *have = NULL, *parts;
	size_t nhave = 0, keep = 0;
	char *id = NULL, *buf;
	int r;

	if (h == NULL)
		return err_set(ERR_CRYPTO, "SHA-256: cannot start");
	if (nparts > MAX_PARTS) {
		hash_drop(h);
		return err_set(ERR_TOOBIG, "store %s: %s: %llu parts: raise "
		    "s3_part_size (S3 allows %d parts)", st->shown, esc(key),
		    (unsigned long long)nparts, MAX_PARTS);
	}
	buf = nmalloc(st->part_size);
	if (buf == NULL) {
		hash_drop(h);
		return err_set(ERR_NOMEM, "s3_part_size: cannot allocate %zu "
		    "bytes", st->part_size);
	}
	parts = xcalloc((size_t)nparts, sizeof *parts);
	r = s3_mpu_find(st->s3, key, &id);
	if (r == 0 && (r = s3_mpu_parts(st->s3, key, id, &have, &nhave)) == 0) {
		keep = usable_parts(st, fd, bak, size, have, nhave, buf, h, feed);
		if (keep == 0) {	/* nothing worth keeping: start again */
			s3_mpu_abort(st->s3, key, id);
			free(id);
			id = NULL;
		}
	} else if (r == ERR_NOTFOUND)
		r = 0;
	if (r == 0 && id == NULL)
		r = s3_mpu_create(st->s3, key, pm, &id);
	if (r != 0)
		goto out;
	if (keep) {
		memcpy(parts, have, keep * sizeof *parts);
		res->resumed_at = (uint64_t)keep * st->part_size;
	}
	for (size_t k = keep; k < nparts && r == 0; k++) {
		uint64_t off = (uint64_t)k * st->part_size;
		size_t len = size - off < st->part_size ? (size_t)(size - off) :
		    st->part_size;
		if (feed && (r = feed->wait(feed->arg, off + len)) != 0)
			break;
		if ((r = read_at(fd, buf, len, off, bak)) == 0 &&
		    (r = s3_mpu_put(st->s3, key, id, (int)k + 1, buf, len,
		    &parts[k])) == 0) {
			sha256_update(h, buf, len);
			res->sent += len;
		}
	}
	/* An archive still arriving: complete only once it has verified. */
	if (r == 0 && feed)
		r = feed->wait(feed->arg, UINT64_MAX);
	if (r == 0)
		r = sent_is(st, key, h, pm->sha256);
	else
		hash_drop(h);
	h = NULL;
	if (r == 0)
		r = s3_mpu_complete(st->s3, key, id, parts, (size_t)nparts);
	else if (r == ERR_MISMATCH) {
		/* Bytes that are not the verified archive's: no part of
		 * them is worth keeping. */
		struct buf why = BUF_INIT(2048);
		buf_adds(&why, err_msg());
		s3_mpu_abort(st->s3, key, id);
		err_set(r, "%s", buf_cstr(&why));
		buf_free(&why);
	}
out:
	hash_drop(h);
	free(buf);
	free(parts);
	free(have);
	free(id);
	return r;
}

static int put_json(struct s3store *st, const char *node, const char *file,
    const char *json)
{
	struct buf b = BUF_INIT(SIDECAR_MAX_BYTES);
	char *jn = json_name(file), *key = key_of(st, node, jn);
	struct s3_put_meta pm;
	int r;

	memset(&pm, 0, sizeof pm);
	if (st->lock_mode) {
		pm.lock_mode = st->lock_mode;
		pm.lock_until = (long long)time(NULL) +
		    (long long)st->lock_days * 86400;
	}
	if ((r = fs_read_file(json, SIDECAR_MAX_BYTES, &b)) == 0)
		r = s3_put(st->s3, key, b.p, b.len, &pm);
	buf_free(&b);
	free(key);
	free(jn);
	return r;
}

static int put_copy(struct s3store *st, const char *node, const char *bak,
    const char *json, const struct sidecar *sc, const char *key_id,
    const struct s3store_feed *feed, struct s3store_put *res)
{
	char *key = key_of(st, node, sc->file), *jn = json_name(sc->file);
	char *jkey = key_of(st, node, jn);
	struct s3_put_meta pm;
	struct s3_meta m;
	int fd = -1, r;

	memset(res, 0, sizeof *res);
	r = s3_head(st->s3, key, &m);
	if (r == 0 && m.size == sc->size && !strcmp(m.sha256, sc->sha256)) {
		/* whole already; the sidecar goes last, so it may be missing */
		res->skipped = 1;
		if ((r = s3_head(st->s3, jkey, &m)) == ERR_NOTFOUND)
			r = put_json(st, node, sc->file, json);
		goto out;
	}
	if (r == 0) {
		r = err_set(ERR_MISMATCH, "store %s: %s/%s: the store holds "
		    "another archive under this name (SHA-256 %s, %llu bytes): "
		    "not replaced", st->shown, node, sc->file,
		    m.sha256[0] ? m.sha256 : "unknown",
		    (unsigned long long)m.size);
		goto out;
	}
	if (r != ERR_NOTFOUND)
		goto out;
	if (feed && (r = feed->wait(feed->arg, 1)) != 0)
		goto out;	/* the partial file exists from its first byte */
	fd = open(bak, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && feed && feed->installed) {
		/* Pulled already: the copy, once it is verified. */
		if ((r = feed->wait(feed->arg, UINT64_MAX)) != 0)
			goto out;
		bak = feed->installed;
		fd = open(bak, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		r = err_sys("%s", esc(bak));
		goto out;
	}
	meta_of(st, sc, key_id, &pm);
	if (sc->size <= st->part_size && feed == NULL) {
		char *b = xmalloc(sc->size ? (size_t)sc->size : 1);
		struct sha256 *h = sha256_new();
		if (h == NULL)
			r = err_set(ERR_CRYPTO, "SHA-256: cannot start");
		else if ((r = read_at(fd, b, (size_t)sc->size, 0, bak)) == 0) {
			sha256_update(h, b, (size_t)sc->size);
			if ((r = sent_is(st, key, h, sc->sha256)) == 0 &&
			    (r = s3_put(st->s3, key, b, (size_t)sc->size,
			    &pm)) == 0)
				res->sent = sc->size;
		} else
			hash_drop(h);
		free(b);
	} else if (sc->size <= st->part_size)
		r = err_set(ERR_INVAL, "store %s: an archive of one part is "
		    "stored once whole", st->shown);
	else
		r = put_multipart(st, key, bak, fd, sc->size, &pm, feed, res);
	/* The store's word for what it now holds, before the sidecar that
	 * marks it complete. */
	if (r == 0 && (r = s3_head(st->s3, key, &m)) == 0 &&
	    (m.size != sc->size || strcmp(m.sha256, sc->sha256)))
		r = err_set(ERR_MISMATCH, "store %s: %s/%s: stored as %llu bytes "
		    "with SHA-256 %s, not %llu and %s", st->shown, node,
		    sc->file, (unsigned long long)m.size, m.sha256,
		    (unsigned long long)sc->size, sc->sha256);
	if (r == 0)
		r = put_json(st, node, sc->file, json);
out:
	if (fd >= 0)
		close(fd);
	free(key);
	free(jkey);
	free(jn);
	return r;
}

int s3store_put_copy(struct s3store *st, const char *node, const char *bak,
    const char *json, const struct sidecar *sc, const char *key_id,
    struct s3store_put *res)
{
	return put_copy(st, node, bak, json, sc, key_id, NULL, res);
}

int s3store_put_growing(struct s3store *st, const char *node,
    const char *bak, const char *json, const struct sidecar *sc,
    const char *key_id, const struct s3store_feed *feed,
    struct s3store_put *res)
{
	return put_copy(st, node, bak, json, sc, key_id, feed, res);
}

static int cmp_copy(const void *a, const void *b)
{
	return strcmp(((const struct s3store_copy *)a)->file,
	    ((const struct s3store_copy *)b)->file);
}

static int has_key(const struct s3_object *o, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(o[i].key, key))
			return 1;
	return 0;
}

int s3store_copies(struct s3store *st, const char *node,
    struct s3store_copy **out, size_t *n)
{
	char *pfx = key_of(st, node, "");
	size_t plen = strlen(pfx), nobj = 0, count = 0;
	struct s3store_copy *c = NULL;
	struct s3_object *o = NULL;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = s3_list(st->s3, pfx, &o, &nobj)) != 0)
		goto out;
	c = xcalloc(nobj ? nobj : 1, sizeof *c);
	for (size_t i = 0; i < nobj && r == 0; i++) {
		const char *file = o[i].key + plen;
		char base[NAME_MAX_LEN + 1], *jn, *jkey;
		struct s3_meta m, jm;
		struct tm tm;

		if (strchr(file, '/') || name_from_bak(file, base,
		    sizeof base) != 0)
			continue;
		jn = json_name(file);
		jkey = key_of(st, node, jn);
		if (has_key(o, nobj, jkey) && (r = s3_head(st->s3, o[i].key,
		    &m)) == 0 && (r = s3_head(st->s3, jkey, &jm)) == 0) {
			struct s3store_copy *cp = &c[count++];
			snprintf(cp->file, sizeof cp->file, "%s", file);
			cp->complete = m.sha256[0] != '\0';
			cp->size = m.size;
			snprintf(cp->sha256, sizeof cp->sha256, "%s", m.sha256);
			snprintf(cp->key_id, sizeof cp->key_id, "%s", m.key_id);
			snprintf(cp->version, sizeof cp->version, "%s", m.version);
			snprintf(cp->json_version, sizeof cp->json_version, "%s",
			    jm.version);
			memset(&tm, 0, sizeof tm);
			if (strptime(m.created, "%Y-%m-%dT%H:%M:%SZ", &tm))
				cp->created = timegm(&tm);
		}
		if (r == ERR_NOTFOUND)	/* deleted meanwhile */
			r = 0;
		free(jkey);
		free(jn);
	}
	if (r == 0) {
		qsort(c, count, sizeof *c, cmp_copy);
		*out = c;
		*n = count;
		c = NULL;
	}
out:
	free(c);
	s3_objects_free(o, nobj);
	free(pfx);
	return r;
}

int s3store_delete(struct s3store *st, const char *node,
    const struct s3store_copy *cp)
{
	char *key = key_of(st, node, cp->file), *jn = json_name(cp->file);
	char *jkey = key_of(st, node, jn);
	int r;

	if ((r = s3_delete(st->s3, key, cp->version)) == 0)
		r = s3_delete(st->s3, jkey, cp->json_version);
	free(key);
	free(jkey);
	free(jn);
	return r;
}

static int get_to(struct s3store *st, const char *key, const char *path,
    uint64_t max)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), r;

	if (fd < 0)
		return err_sys("%s", esc(path));
	r = s3_get_fd(st->s3, key, fd, max);
	if (r == 0 && fsync(fd) != 0)
		r = err_sys("%s: fsync", esc(path));
	if (close(fd) != 0 && r == 0)
		r = err_sys("%s", esc(path));
	if (r != 0)
		unlink(path);
	return r;
}

int s3store_get(struct s3store *st, const char *node, const char *file,
    const char *bak, const char *json)
{
	char *key = key_of(st, node, file), *jn = json_name(file);
	char *jkey = key_of(st, node, jn);
	int r;

	if ((r = get_to(st, jkey, json, SIDECAR_MAX_BYTES)) == 0 &&
	    (r = get_to(st, key, bak, UINT64_MAX)) != 0)
		unlink(json);
	free(key);
	free(jkey);
	free(jn);
	return r;
}
