/* bakcheck.c: checking archives for listings, with a cache (bakcheck.h).
 * Checking means reading the whole archive (bak.c offers no cheaper way
 * to verify the signature), so each answer is kept, per file, while the
 * file and the trusted keys stay the same. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bak.h"
#include "bakcheck.h"
#include "err.h"
#include "manifest.h"
#include "node.h"
#include "xmalloc.h"
#include "banned.h"

#define CACHE_MAX 1024

struct entry {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	unsigned gen;			/* node_trust()->gen when checked */
	uint64_t used;			/* for evicting the least recently used */
	struct bakcheck check;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *cache;
static size_t ncache;
static uint64_t clock_;

static int same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Same file, same content: any write or rename changes mtime or ctime. */
static int same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size && same_time(a->st_mtim, b->st_mtim) &&
	    same_time(a->st_ctim, b->st_ctim);
}

static int same_file(const struct entry *e, const struct stat *st,
    unsigned gen)
{
	return e->dev == st->st_dev && e->ino == st->st_ino &&
	    e->size == st->st_size && e->gen == gen &&
	    same_time(e->mtime, st->st_mtim) && same_time(e->ctime, st->st_ctim);
}

static struct entry *find(const char *path)
{
	for (size_t i = 0; i < ncache; i++)
		if (!strcmp(cache[i].path, path))
			return &cache[i];
	return NULL;
}

static int lookup(const char *path, const struct stat *st, unsigned gen,
    struct bakcheck *out)
{
	struct entry *e;
	int hit = 0;

	pthread_mutex_lock(&cache_lock);
	if ((e = find(path)) != NULL && same_file(e, st, gen)) {
		e->used = ++clock_;
		*out = e->check;
		hit = 1;
	}
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

static void remember(const char *path, const struct stat *st, unsigned gen,
    const struct bakcheck *c)
{
	struct entry *e;

	pthread_mutex_lock(&cache_lock);
	if ((e = find(path)) == NULL) {
		if (ncache == CACHE_MAX) {
			e = &cache[0];
			for (size_t i = 1; i < ncache; i++)
				if (cache[i].used < e->used)
					e = &cache[i];
			free(e->path);
		} else {
			cache = xreallocarray(cache, ncache + 1, sizeof *cache);
			e = &cache[ncache++];
		}
		e->path = xstrdup(path);
	}
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	e->ctime = st->st_ctim;
	e->gen = gen;
	e->used = ++clock_;
	e->check = *c;
	pthread_mutex_unlock(&cache_lock);
}

static void fields(const struct manifest *mf, struct bakcheck *c)
{
	memcpy(c->node_name, mf->node_name, sizeof c->node_name);
	memcpy(c->node_id, mf->node_id, sizeof c->node_id);
	memcpy(c->snapshot, mf->snapshot, sizeof c->snapshot);
	memcpy(c->key_id, mf->key_id, sizeof c->key_id);
	c->created = mf->created;
}

/* The answer for path, read now. */
static void check(struct node *n, const char *path, const char *file,
    struct bakcheck *c)
{
	const struct trusted_key *tk;
	struct bak_limits lim;
	struct manifest mf;
	struct bak_keys keys;
	struct bak_seal *seal = xcalloc(1, sizeof *seal);
	int r;

	memset(c, 0, sizeof *c);
	node_limits(n, &lim);
	node_keys(n, NULL, 0, &keys);
	r = bak_read(path, &keys, &lim, -1, &mf, seal);
	if (seal->sealed) {
		c->sealed = 1;
		c->opened = seal->opened;
		c->nrec = seal->env.nrec;
		memcpy(c->rec, seal->env.rec, seal->env.nrec * sizeof *c->rec);
	}
	free(seal);
	if (r == 0) {
		fields(&mf, c);
		c->status = BC_VERIFIED;
		if (node_check_claim(n, &mf, file) != 0) {
			tk = node_trusted_key(node_trust(n), mf.key_id);
			c->status = tk && tk->nnodes == 0 ? BC_UNBOUND : BC_FORGED;
		}
		manifest_free(&mf);
		return;
	}
	c->status = r == ERR_SIG ? BC_BADSIG : r == ERR_UNTRUSTED ?
	    BC_UNTRUSTED : BC_UNVERIFIED;
	seal = xcalloc(1, sizeof *seal);
	if (bak_peek_manifest(path, &mf, seal) == 0) {
		fields(&mf, c);
		manifest_free(&mf);
		if (seal->sealed) {
			c->sealed = 1;
			c->nrec = seal->env.nrec;
			memcpy(c->rec, seal->env.rec, seal->env.nrec * sizeof *c->rec);
		}
	}
	free(seal);
}

int bakcheck_file(struct node *n, const char *file, struct bakcheck *out)
{
	char *path = node_backup_path(n, file);
	unsigned gen = node_trust(n)->gen;
	time_t started = time(NULL);
	struct stat st, after;
	int r = 0;

	memset(out, 0, sizeof *out);
	out->status = BC_UNVERIFIED;
	if (lstat(path, &st) != 0) {
		r = err_sys("%s", path);
		goto out;
	}
	if (lookup(path, &st, gen, out))
		goto out;
	check(n, path, file, out);
	/* Remembered only when the file did not change while it was read,
	 * and its ctime is old enough that a change would show in it (a
	 * change within the same clock tick would not: git's "racy clean").
	 * The real time(2), not clock_now(): it is compared with a ctime. */
	if (lstat(path, &after) == 0 && same_stat(&st, &after) &&
	    st.st_ctim.tv_sec < started - 1 && node_trust(n)->gen == gen)
		remember(path, &st, gen, out);
out:
	free(path);
	return r;
}

const char *bakcheck_status_name(enum bakcheck_status st)
{
	switch (st) {
	case BC_VERIFIED: return "verified";
	case BC_FORGED: return "FORGED NODE";
	case BC_UNBOUND: return "key not bound";
	case BC_BADSIG: return "BAD SIGNATURE";
	case BC_UNTRUSTED: return "untrusted key";
	case BC_UNVERIFIED: break;
	}
	return "unverified";
}
