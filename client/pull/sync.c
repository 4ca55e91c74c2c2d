/* sync.c: nodebak-pull sync (sync.h): per node, list the archives over
 * SFTP, fetch each new one (fetch.c), apply the archive host's retention
 * to the verified copies; nodes in parallel worker threads, watched by
 * the main thread for stalls and drawn as progress. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bak.h"
#include "clock.h"
#include "crypto.h"
#include "err.h"
#include "esc.h"
#include "fetch.h"
#include "fsutil.h"
#include "json.h"
#include "keyfile.h"
#include "progress.h"
#include "pullconf.h"
#include "retention.h"
#include "s3store.h"
#include "sidecar.h"
#include "sshc.h"
#include "store.h"
#include "sync.h"
#include "xmalloc.h"
#include "banned.h"

#define MAX_ENTRIES 100000

/* A token bucket shared by every transfer ([pull] bwlimit). */
struct rate {
	long long bps;		/* 0: no limit */
	double tokens, last;
};

struct runner {
	const struct pull_conf *c;
	const struct sync_opts *o;
	struct node_report *reps;
	size_t n, next;
	pthread_mutex_t mu;
	struct rate rate;
	struct bak_limits lim;
};

static double sync_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void rate_take(struct runner *ru, size_t n)
{
	double wait = 0, now;

	if (ru->rate.bps <= 0)
		return;
	pthread_mutex_lock(&ru->mu);
	now = sync_mono();
	ru->rate.tokens += (now - ru->rate.last) * (double)ru->rate.bps;
	if (ru->rate.tokens > (double)ru->rate.bps)	/* at most 1 s of burst */
		ru->rate.tokens = (double)ru->rate.bps;
	ru->rate.last = now;
	ru->rate.tokens -= (double)n;
	if (ru->rate.tokens < 0)
		wait = -ru->rate.tokens / (double)ru->rate.bps;
	pthread_mutex_unlock(&ru->mu);
	if (wait > 0) {
		struct timespec ts = { (time_t)wait,
		    (long)((wait - (double)(time_t)wait) * 1e9) };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
}

/* A line about a node: kept as an error when err, and shown at once on
 * stderr when the output is a log (not a terminal, not --json). */
static void note(struct runner *ru, struct node_report *rep, int err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void note(struct runner *ru, struct node_report *rep, int err,
    const char *fmt, ...)
{
	struct buf line = BUF_INIT(2048);
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&line, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&ru->mu);
	if (err)
		buf_addf(&rep->errors, "%s\n", buf_cstr(&line));
	if (!ru->o->quiet && !ru->o->tty)
		fprintf(stderr, "%s: %s\n", rep->node->name, buf_cstr(&line));
	pthread_mutex_unlock(&ru->mu);
	buf_free(&line);
}

static int stalled(struct runner *ru, struct node_report *rep)
{
	int v;

	pthread_mutex_lock(&ru->mu);
	v = rep->stalled;
	pthread_mutex_unlock(&ru->mu);
	return v;
}

static void touch(struct runner *ru, struct node_report *rep)
{
	pthread_mutex_lock(&ru->mu);
	rep->last_progress = sync_mono();
	pthread_mutex_unlock(&ru->mu);
}

/* An upload to the store overlapped with the archive's pull (the
 * archive is larger than one part): the uploader thread reads the
 * partial file as it grows and completes the upload only once the pull
 * has verified and installed the copy (docs/pull.md "Object storage"). */
struct overlap {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t avail;		/* bytes in the partial file */
	int verdict;		/* 0 pulling, 1 verified and installed, -1 not,
				 * -2 failed verification (quarantined) */
	pthread_t t;
	/* the uploader's */
	struct runner *ru;
	const char *node;
	char *partial, *json, *installed;	/* the .partial, the copy's */
	const struct sidecar *sc;
	struct s3store_put res;
	int r;
};

struct progress_arg {
	struct runner *ru;
	struct node_report *rep;
	struct overlap *ov;	/* NULL: no upload alongside */
};

static void on_bytes(void *arg, size_t n, uint64_t done, uint64_t total)
{
	struct progress_arg *pa = arg;

	if (pa->ov) {
		pthread_mutex_lock(&pa->ov->mu);
		pa->ov->avail = done;
		pthread_cond_broadcast(&pa->ov->cv);
		pthread_mutex_unlock(&pa->ov->mu);
	}
	rate_take(pa->ru, n);
	pthread_mutex_lock(&pa->ru->mu);
	pa->rep->done = done;
	pa->rep->total = total;
	pa->rep->last_progress = sync_mono();
	pthread_mutex_unlock(&pa->ru->mu);
}

/* ---- one node ---- */

struct nodejob {
	struct runner *ru;
	struct node_report *rep;
	const struct pull_node *pn;
	struct sshc *c;
	struct sigkey *key;
	struct keyfile_node knode;	/* the node the key file names */
	struct buf pruned;		/* store_pruned_load() */
	struct buf stored;		/* "\nNAME.bak\n"...: stored alongside the pull */
	struct store_state st;
	char *hostkey_file;
};

static int connect_node(struct nodejob *j)
{
	const struct pull_node *pn = j->pn;
	struct sshc_opts o;
	int r;

	memset(&o, 0, sizeof o);
	o.host = pn->address;
	o.port = (int)pn->port;
	o.user = pn->user;
	o.identity = pn->identity;
	o.timeout = (long)j->ru->c->timeout;
	if (pn->host_key_is_fp)
		o.pin_fp = pn->host_key;
	else {
		j->hostkey_file = pn->host_key ? xstrdup(pn->host_key) :
		    store_hostkey_path(j->ru->c->archive_dir, pn->name);
		if (!fs_exists(j->hostkey_file))
			return err_set(ERR_REFUSED, "no pinned host key (%s does "
			    "not exist): check the node's key and run "
			    "nodebak-pull trust %s", esc(j->hostkey_file),
			    pn->name);
		o.pin_file = j->hostkey_file;
	}
	if ((r = keyfile_load(pn->signing_key, &j->key, &j->knode)) != 0)
		return err_prefix(r, "signing_key");
	touch(j->ru, j->rep);
	if ((r = sshc_connect(&o, &j->c)) != 0)
		return r;
	pthread_mutex_lock(&j->ru->mu);
	j->rep->fd = sshc_fd(j->c);
	pthread_mutex_unlock(&j->ru->mu);
	return 0;
}

static char *remote_path(const struct pull_node *pn, const char *file)
{
	struct buf b = BUF_INIT(1 << 16);

	buf_addf(&b, "%s/%s", pn->remote_dir, file);
	return buf_detach(&b, NULL);
}

static int have_copy(const struct store_copy *copies, size_t n,
    const char *file, const char **sha)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(copies[i].file, file)) {
			*sha = copies[i].sha256;
			return 1;
		}
	return 0;
}

static void on_overlap_bytes(void *arg, size_t n)
{
	struct progress_arg *pa = arg;

	rate_take(pa->ru, n);
	touch(pa->ru, pa->rep);
}

static int overlap_wait(void *arg, uint64_t upto)
{
	struct overlap *ov = arg;
	int r;

	pthread_mutex_lock(&ov->mu);
	while (ov->verdict == 0 && (upto == UINT64_MAX || ov->avail < upto))
		pthread_cond_wait(&ov->cv, &ov->mu);
	r = ov->verdict >= 0 ? 0 : ov->verdict == -2 ?
	    err_set(ERR_MISMATCH, "the archive failed verification") :
	    err_set(ERR_CANCELLED, "the pull failed");
	pthread_mutex_unlock(&ov->mu);
	return r;
}

struct overlap_arg {
	struct overlap *ov;
	struct progress_arg pa;
};

static void *overlap_run(void *arg)
{
	struct overlap_arg *oa = arg;
	struct overlap *ov = oa->ov;
	struct s3store_feed feed = { overlap_wait, ov, ov->installed };
	struct s3store *st = NULL;

	if ((ov->r = s3store_open(ov->ru->c, on_overlap_bytes, &oa->pa,
	    &st)) == 0)
		ov->r = s3store_put_growing(st, ov->node, ov->partial, ov->json,
		    ov->sc, ov->sc->key_id, &feed, &ov->res);
	s3store_close(st);
	if (ov->r != 0)		/* the sync's store pass tries again */
		overlap_wait(ov, UINT64_MAX);
	return NULL;
}

/* Start an upload alongside the pull of file, or return NULL (no store,
 * a dry run, an archive of one part, no thread). */
static struct overlap *overlap_start(struct nodejob *j, const char *file,
    const struct sidecar *sc, struct overlap_arg *oa)
{
	struct runner *ru = j->ru;
	struct overlap *ov;
	char base[NAME_MAX_LEN + 16];

	if (ru->c->store == NULL || ru->o->dry_run ||
	    sc->size <= (uint64_t)ru->c->s3_part_size)
		return NULL;
	ov = xcalloc(1, sizeof *ov);
	pthread_mutex_init(&ov->mu, NULL);
	pthread_cond_init(&ov->cv, NULL);
	ov->ru = ru;
	ov->node = j->pn->name;
	ov->sc = sc;
	snprintf(base, sizeof base, "%.*s.partial", (int)strlen(file) - 4, file);
	ov->partial = store_path(ru->c->archive_dir, ST_INCOMING, j->pn->name,
	    base);
	ov->installed = store_path(ru->c->archive_dir, ST_COPIES, j->pn->name,
	    file);
	name_from_bak(file, base, sizeof base);
	strncat(base, ".json", sizeof base - strlen(base) - 1);
	ov->json = store_path(ru->c->archive_dir, ST_COPIES, j->pn->name, base);
	oa->ov = ov;
	oa->pa.ru = ru;
	oa->pa.rep = j->rep;
	oa->pa.ov = NULL;
	if (pthread_create(&ov->t, NULL, overlap_run, oa) != 0) {
		free(ov->partial);
		free(ov->installed);
		free(ov->json);
		free(ov);
		return NULL;
	}
	return ov;
}

/* The pull's outcome to the uploader; wait for it and count. */
static void overlap_finish(struct nodejob *j, struct overlap *ov, int pulled,
    int quarantined)
{
	if (ov == NULL)
		return;
	pthread_mutex_lock(&ov->mu);
	ov->verdict = pulled ? 1 : quarantined ? -2 : -1;
	pthread_cond_broadcast(&ov->cv);
	pthread_mutex_unlock(&ov->mu);
	pthread_join(ov->t, NULL);
	j->rep->has_store = 1;
	j->rep->store_bytes += ov->res.sent;
	j->st.store_bytes_total += (long long)ov->res.sent;
	if (ov->r == 0 && !ov->res.skipped) {
		j->rep->n_stored++;
		buf_addf(&j->stored, "\n%s\n", ov->sc->file);
		const struct pull_conf *c = j->ru->c;
		note(j->ru, j->rep, 0, "%s: stored in s3://%s/%s%s%s/%s alongside "
		    "the pull (%llu bytes sent)", esc(ov->sc->file), c->store_bucket,
		    c->store_prefix, c->store_prefix[0] ? "/" : "", ov->node,
		    ov->sc->file, (unsigned long long)ov->res.sent);
	}
	pthread_mutex_destroy(&ov->mu);
	pthread_cond_destroy(&ov->cv);
	free(ov->partial);
	free(ov->installed);
	free(ov->json);
	free(ov);
}

/* One archive the node lists. Returns 0, or an error that ends the
 * node's sync (the connection is gone). */
static int pull_one(struct nodejob *j, const char *file,
    const struct store_copy *copies, size_t ncopies)
{
	struct runner *ru = j->ru;
	struct node_report *rep = j->rep;
	struct buf json = BUF_INIT(SIDECAR_MAX_BYTES), why = BUF_INIT(1024);
	char *rjson, *rbak = remote_path(j->pn, file);
	char base[NAME_MAX_LEN + 1];
	struct progress_arg pa = { ru, rep, NULL };
	struct overlap_arg oa;
	struct fetch_result res;
	int pulled;
	struct fetch_ctx f;
	struct sidecar sc;
	const char *sha;
	int r;

	name_from_bak(file, base, sizeof base);
	{
		char jf[NAME_MAX_LEN + 8];
		snprintf(jf, sizeof jf, "%s.json", base);
		rjson = remote_path(j->pn, jf);
	}
	touch(ru, rep);
	if ((r = sshc_read_small(j->c, rjson, SIDECAR_MAX_BYTES, &json)) != 0) {
		rep->n_failed++;
		note(ru, rep, 1, "%s: cannot read its NAME.json: %s", esc(file),
		    err_msg());
		r = r == ERR_NOTFOUND || r == ERR_TOOBIG ? 0 : r;
		goto out;
	}
	if (store_quarantined(ru->c->archive_dir, j->pn->name, file, json.p,
	    json.len, &why) == 0) {
		rep->n_failed++;
		note(ru, rep, 1, "%s: quarantined earlier: %s", esc(file),
		    buf_cstr(&why));
		goto out;
	}
	if ((r = sidecar_parse(json.p, json.len, file, &sc)) != 0 ||
	    strcmp(sc.file, file)) {
		if (r == 0)
			err_set(ERR_FORMAT, "%s: its NAME.json describes %s",
			    esc(file), esc(sc.file));
		rep->n_failed++;
		j->st.verify_failures_total++;
		buf_adds(&why, err_msg());
		store_quarantine(ru->c->archive_dir, j->pn->name, file, NULL,
		    json.p, json.len, buf_cstr(&why));
		note(ru, rep, 1, "%s: quarantined: %s", esc(file), buf_cstr(&why));
		r = 0;
		goto out;
	}
	if (have_copy(copies, ncopies, file, &sha)) {
		if (!strcmp(sha, sc.sha256))
			rep->n_skipped++;
		else {
			rep->n_failed++;
			note(ru, rep, 1, "%s: changed on the node since it was "
			    "copied (SHA-256 %s, the copy's %s): the verified copy "
			    "is kept, the new one not pulled", esc(file), sc.sha256,
			    sha);
		}
		goto out;
	}
	if (store_pruned_has(&j->pruned, file, sc.sha256)) {
		rep->n_skipped++;	/* retention deleted its copy */
		goto out;
	}
	if (ru->o->dry_run) {
		rep->n_new++;
		note(ru, rep, 0, "%s: would pull (%llu bytes)", esc(file),
		    (unsigned long long)sc.size);
		goto out;
	}
	memset(&f, 0, sizeof f);
	f.c = j->c;
	f.archive_dir = ru->c->archive_dir;
	f.node = j->pn->name;
	f.remote = rbak;
	f.file = file;
	f.json = json.p;
	f.jsonlen = json.len;
	f.sc = &sc;
	f.key = j->key;
	f.node_id = j->knode.id;
	f.lim = &ru->lim;
	f.on_bytes = on_bytes;
	f.arg = &pa;
	pthread_mutex_lock(&ru->mu);
	snprintf(rep->current, sizeof rep->current, "%s", file);
	rep->done = 0;
	rep->total = sc.size;
	rep->started = sync_mono();
	pthread_mutex_unlock(&ru->mu);
	pa.ov = overlap_start(j, file, &sc, &oa);
	r = fetch_archive(&f, &res);
	pulled = r == 0;
	rep->bytes += res.bytes;
	j->st.bytes_total += (long long)res.bytes;
	if (res.resumed_at) {
		rep->resumed++;
		j->st.resumes_total++;
	}
	pthread_mutex_lock(&ru->mu);
	rep->current[0] = '\0';
	pthread_mutex_unlock(&ru->mu);
	if (r == 0) {
		rep->n_new++;
		note(ru, rep, 0, "%s: pulled and verified (%llu bytes%s, %.1f s)",
		    esc(file), (unsigned long long)sc.size, res.resumed_at ?
		    ", resumed" : "", sync_mono() - rep->started);
	} else if (res.quarantined) {
		rep->n_failed++;
		j->st.verify_failures_total++;
		note(ru, rep, 1, "%s: quarantined: %s", esc(file), err_msg());
		r = 0;
	} else if (r == ERR_NOTFOUND) {
		/* Listed, then gone: the node pruned or deleted it. */
		rep->n_skipped++;
		note(ru, rep, 0, "%s: gone from the node before it was pulled",
		    esc(file));
		r = 0;
	} else if (r == ERR_DENIED) {
		/* Listed but refused (an archive in clear): the node's other
		 * archives are still pulled. */
		rep->n_failed++;
		note(ru, rep, 1, "%s: %s", esc(file), err_msg());
		r = 0;
	} else {
		rep->n_failed++;
		if (stalled(ru, rep))
			err_set(ERR_IO, "no data for %llds: timed out (the partial "
			    "download is kept for the next sync)",
			    (long long)ru->c->timeout);
		note(ru, rep, 1, "%s: %s", esc(file), err_msg());
	}
	overlap_finish(j, pa.ov, pulled, res.quarantined);
out:
	buf_free(&json);
	buf_free(&why);
	free(rjson);
	free(rbak);
	return r;
}

static int is_bak_entry(const struct sshc_entry *e)
{
	char base[NAME_MAX_LEN + 1];

	return e->regular && e->name[0] != '.' &&
	    name_from_bak(e->name, base, sizeof base) == 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct sshc_entry *)a)->name,
	    ((const struct sshc_entry *)b)->name);
}

/* Partial downloads of archives the node no longer lists (pruned or
 * deleted there) will never be finished: remove them. */
static int is_partial(const char *name)
{
	size_t n = strlen(name);

	return (n > 8 && !strcmp(name + n - 8, ".partial")) ||
	    (n > 13 && !strcmp(name + n - 13, ".partial.json"));
}

static void drop_stale_partials(struct nodejob *j,
    const struct sshc_entry *e, size_t n)
{
	char *dir = store_path(j->ru->c->archive_dir, ST_INCOMING, j->pn->name,
	    NULL), **names;
	size_t count;

	if (fs_list_sorted(dir, is_partial, &names, &count) != 0) {
		free(dir);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		size_t len = strlen(names[i]), base = len - (len > 13 &&
		    !strcmp(names[i] + len - 13, ".partial.json") ? 13 : 8);
		int listed = 0;
		for (size_t k = 0; k < n && !listed; k++)
			listed = is_bak_entry(&e[k]) &&
			    strlen(e[k].name) == base + 4 &&
			    !strncmp(e[k].name, names[i], base);
		if (!listed) {
			char *p = fs_join(dir, names[i]);
			unlink(p);
			free(p);
		}
	}
	fs_list_free(names, count);
	free(dir);
}

struct listing {
	const struct sshc_entry *e;
	size_t n;
};

/* The node still lists file. */
static int listed(void *arg, const char *file)
{
	const struct listing *l = arg;

	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->e[i].name, file))
			return 1;
	return 0;
}

static int pull_all(struct nodejob *j)
{
	struct sshc_entry *e = NULL;
	struct store_copy *copies = NULL;
	size_t n = 0, ncopies = 0;
	int r;

	if ((r = sshc_list(j->c, j->pn->remote_dir, MAX_ENTRIES, &e, &n)) != 0)
		return r;
	if ((r = store_copies(j->ru->c->archive_dir, j->pn->name, &copies,
	    &ncopies)) != 0)
		goto out;
	qsort(e, n, sizeof *e, cmp_entry);
	store_pruned_load(j->ru->c->archive_dir, j->pn->name, &j->pruned);
	for (size_t i = 0; i < n && r == 0; i++)
		if (is_bak_entry(&e[i]))
			r = pull_one(j, e[i].name, copies, ncopies);
	if (r == 0 && !j->ru->o->dry_run) {
		struct listing l = { e, n };
		drop_stale_partials(j, e, n);
		store_pruned_trim(j->ru->c->archive_dir, j->pn->name, listed, &l);
	}
out:
	free(copies);
	sshc_entries_free(e, n);
	return r;
}

/* One copy as retention sees it: 0 and *a filled when copy i of list is
 * complete and its creation time known (a candidate), else -1. */
typedef int (*ret_item_fn)(const void *list, size_t i, struct ret_archive *a);

/* The pull.conf retention over one place's copies (the archive folder
 * or the store; one engine for both): the indices in list of the copies
 * it deletes, in *del (xcalloc'd; the count returned), and *over when
 * the floors keep more than max_space. */
static size_t retention_pick(const struct runner *ru, const void *list,
    size_t n, ret_item_fn item, size_t **del, int *over)
{
	struct ret_archive *a = xcalloc(n ? n : 1, sizeof *a);
	struct ret_decision *d = xcalloc(n ? n : 1, sizeof *d);
	size_t *idx = xcalloc(n ? n : 1, sizeof *idx);
	struct ret_policy p;
	size_t m = 0, k = 0;

	*over = 0;
	*del = xcalloc(n ? n : 1, sizeof **del);
	for (size_t i = 0; i < n; i++)
		if (item(list, i, &a[m]) == 0) {
			a[m].kind = retention_kind(a[m].name);
			a[m].verified = 1;
			idx[m++] = i;
		}
	retention_policy_of(&ru->c->retention, &p);
	if (m && retention_decide(a, m, &p, clock_now(), d, over) == 0)
		for (size_t i = 0; i < m; i++)
			if (!d[i].keep)
				(*del)[k++] = idx[i];
	free(a);
	free(d);
	free(idx);
	return k;
}

/* A copy in the archive folder: verified, its NAME.json readable. */
static int local_item(const void *list, size_t i, struct ret_archive *a)
{
	const struct store_copy *cp = (const struct store_copy *)list + i;

	if (!cp->created)
		return -1;
	a->name = cp->file;
	a->created = cp->created;
	a->size = cp->size;
	return 0;
}

/* The archive host's retention, over the verified copies only. */
static void prune_copies(struct nodejob *j)
{
	struct runner *ru = j->ru;
	struct store_copy *copies = NULL, *cp;
	size_t n = 0, k, *del;
	int over;

	if (store_copies(ru->c->archive_dir, j->pn->name, &copies, &n) != 0 ||
	    n == 0) {
		free(copies);
		return;
	}
	k = retention_pick(ru, copies, n, local_item, &del, &over);
	for (size_t i = 0; i < k; i++) {
		cp = &copies[del[i]];
		if (ru->o->dry_run)
			note(ru, j->rep, 0, "%s: would delete (retention)",
			    esc(cp->file));
		else if (store_pruned_add(ru->c->archive_dir, j->pn->name,
		    cp->file, cp->sha256) != 0 ||
		    store_delete(ru->c->archive_dir, j->pn->name, cp->file) != 0) {
			/* As in the store: retention that cannot delete fails
			 * the node, or the disk fills while the sync says ok. */
			note(ru, j->rep, 1, "retention: %s", err_msg());
			j->rep->n_failed++;
			continue;
		} else
			note(ru, j->rep, 0, "%s: deleted (retention)",
			    esc(cp->file));
		j->rep->n_deleted++;
	}
	if (over)
		note(ru, j->rep, 0, "retention: the copies still hold more than "
		    "max_space: the floors forbid deleting more");
	free(del);
	free(copies);
}

/* ---- the object store ([pull] store) ---- */

static void on_store_bytes(void *arg, size_t n)
{
	struct progress_arg *pa = arg;

	rate_take(pa->ru, n);
	pthread_mutex_lock(&pa->ru->mu);
	pa->rep->done += n;
	pa->rep->last_progress = sync_mono();
	pthread_mutex_unlock(&pa->ru->mu);
}

/* s3_keep_local = no: the copy is in the store, so the archive folder
 * keeps only its name and SHA-256 (.state/NODE.pruned: the node's
 * archive is not pulled again) and the newest creation time it has
 * seen (the recovery point metric). */
static void drop_local(struct nodejob *j, const struct store_copy *cp)
{
	const struct pull_conf *c = j->ru->c;

	if ((long long)cp->created > j->st.stored_newest)
		j->st.stored_newest = (long long)cp->created;
	if (strcmp(c->s3_keep_local, "no"))
		return;
	if (store_pruned_add(c->archive_dir, j->pn->name, cp->file,
	    cp->sha256) != 0 || store_delete(c->archive_dir, j->pn->name,
	    cp->file) != 0)
		note(j->ru, j->rep, 1, "%s: s3_keep_local = no: %s",
		    esc(cp->file), err_msg());
	else
		note(j->ru, j->rep, 0, "%s: in the store only (s3_keep_local = "
		    "no)", esc(cp->file));
}

/* Store one verified copy. Returns 0, or an error that ends the node's
 * store part (the store refused us or cannot be reached). */
static int store_one(struct nodejob *j, struct s3store *st,
    const struct store_copy *cp)
{
	struct runner *ru = j->ru;
	struct node_report *rep = j->rep;
	char *bak = store_path(ru->c->archive_dir, ST_COPIES, j->pn->name,
	    cp->file), *json = sidecar_path(bak), *url;
	struct s3store_put res;
	struct sidecar sc;
	double t0 = sync_mono();
	int r = 0;

	if (j->stored.len) {
		struct buf line = BUF_INIT(NAME_MAX_LEN + 8);
		int done;
		buf_addf(&line, "\n%s\n", cp->file);
		done = strstr(buf_cstr(&j->stored), buf_cstr(&line)) != NULL;
		buf_free(&line);
		if (done) {	/* counted by overlap_finish() */
			drop_local(j, cp);
			goto out;
		}
	}
	if ((r = sidecar_load(json, &sc)) != 0) {
		rep->n_store_failed++;
		note(ru, rep, 1, "%s: store: %s", esc(cp->file), err_msg());
		r = 0;
		goto out;
	}
	pthread_mutex_lock(&ru->mu);
	snprintf(rep->current, sizeof rep->current, "%s", cp->file);
	rep->done = 0;
	rep->total = sc.size;
	rep->started = t0;
	pthread_mutex_unlock(&ru->mu);
	r = s3store_put_copy(st, j->pn->name, bak, json, &sc, sc.key_id, &res);
	pthread_mutex_lock(&ru->mu);
	rep->current[0] = '\0';
	pthread_mutex_unlock(&ru->mu);
	rep->store_bytes += res.sent;
	j->st.store_bytes_total += (long long)res.sent;
	if (res.resumed_at)
		rep->store_resumed++;
	if (r == 0 && res.skipped) {
		rep->n_store_skipped++;
		drop_local(j, cp);
	} else if (r == 0) {
		char resumed[64] = "";
		if (res.resumed_at)
			snprintf(resumed, sizeof resumed, ", resumed after %llu",
			    (unsigned long long)res.resumed_at);
		rep->n_stored++;
		url = s3store_url(st, j->pn->name, cp->file);
		note(ru, rep, 0, "%s: stored in %s (%llu bytes sent%s, %.1f s)",
		    esc(cp->file), url, (unsigned long long)res.sent, resumed,
		    sync_mono() - t0);
		free(url);
		drop_local(j, cp);
	} else {
		rep->n_store_failed++;
		note(ru, rep, 1, "%s: %s", esc(cp->file), err_msg());
		if (r != ERR_REFUSED && r != ERR_IO)
			r = 0;
	}
out:
	free(bak);
	free(json);
	return r;
}

/* A copy in the store: complete, its creation time in its metadata. */
static int store_item(const void *list, size_t i, struct ret_archive *a)
{
	const struct s3store_copy *cp = (const struct s3store_copy *)list + i;

	if (!cp->complete || !cp->created)
		return -1;
	a->name = cp->file;
	a->created = cp->created;
	a->size = cp->size;
	return 0;
}

/* The store's retention: the same policy and engine, over the store's
 * complete copies. */
static void store_prune(struct nodejob *j, struct s3store *st)
{
	struct runner *ru = j->ru;
	struct s3store_copy *cp = NULL;
	size_t n = 0, k, *del;
	int over;
	char *url;

	if (s3store_copies(st, j->pn->name, &cp, &n) != 0) {
		j->rep->n_store_failed++;
		note(ru, j->rep, 1, "store retention: %s", err_msg());
		return;
	}
	k = retention_pick(ru, cp, n, store_item, &del, &over);
	for (size_t i = 0; i < k; i++) {
		url = s3store_url(st, j->pn->name, cp[del[i]].file);
		if (s3store_delete(st, j->pn->name, &cp[del[i]]) != 0) {
			j->rep->n_store_failed++;
			note(ru, j->rep, 1, "store retention: %s", err_msg());
		} else {
			j->rep->n_store_deleted++;
			note(ru, j->rep, 0, "%s: deleted (retention)", url);
		}
		free(url);
	}
	if (over)
		note(ru, j->rep, 0, "store retention: the copies still hold more "
		    "than max_space: the floors forbid deleting more");
	free(del);
	free(cp);
}

/* Every verified copy of the node into the store, then its retention
 * there. The node's own pull may have failed: the copies already here
 * are stored all the same. */
static void store_node(struct nodejob *j)
{
	struct runner *ru = j->ru;
	struct progress_arg pa = { ru, j->rep };
	struct store_copy *copies = NULL;
	struct s3store *st = NULL;
	size_t n = 0;
	int r;

	j->rep->has_store = 1;
	touch(ru, j->rep);
	if ((r = s3store_open(ru->c, on_store_bytes, &pa, &st)) != 0 ||
	    (r = s3store_check(st)) != 0) {
		j->rep->n_store_failed++;
		note(ru, j->rep, 1, "%s", err_msg());
		goto out;
	}
	if ((r = store_copies(ru->c->archive_dir, j->pn->name, &copies,
	    &n)) != 0) {
		j->rep->n_store_failed++;
		note(ru, j->rep, 1, "store: %s", err_msg());
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++)
		if (copies[i].created)
			r = store_one(j, st, &copies[i]);
	if (r == 0)
		store_prune(j, st);
out:
	free(copies);
	s3store_close(st);
}

static void sync_node(struct runner *ru, struct node_report *rep)
{
	struct nodejob j;
	double t0 = sync_mono();
	int lockfd = -1, r;

	memset(&j, 0, sizeof j);
	buf_init(&j.pruned, 16 << 20);
	buf_init(&j.stored, 16 << 20);
	j.ru = ru;
	j.rep = rep;
	j.pn = rep->node;
	if ((r = store_prepare(ru->c->archive_dir, j.pn->name)) != 0 ||
	    (r = store_lock(ru->c->archive_dir, j.pn->name, &lockfd)) != 0) {
		note(ru, rep, 1, "%s", err_msg());
		goto done;
	}
	store_state_load(ru->c->archive_dir, j.pn->name, &j.st);
	if ((r = connect_node(&j)) == 0)
		r = pull_all(&j);
	if (r != 0 && !(rep->n_failed && rep->errors.len))
		note(ru, rep, 1, "%s", stalled(ru, rep) ? "no data from the node "
		    "within the timeout: connection closed" : err_msg());
	if (j.c)
		prune_copies(&j);
	if (ru->c->store && !ru->o->dry_run)
		store_node(&j);
	rep->ok = r == 0 && rep->n_failed == 0 && rep->n_store_failed == 0;
	if (!ru->o->dry_run) {
		j.st.last_sync = (long long)clock_now();
		snprintf(j.st.last_result, sizeof j.st.last_result, "%s",
		    rep->ok ? "ok" : "failed");
		snprintf(j.st.last_error, sizeof j.st.last_error, "%.*s",
		    (int)strcspn(buf_cstr(&rep->errors), "\n"),
		    buf_cstr(&rep->errors));
		if (rep->ok) {
			j.st.last_success = j.st.last_sync;
			j.st.consecutive_failures = 0;
		} else
			j.st.consecutive_failures++;
		if (store_state_save(ru->c->archive_dir, j.pn->name, &j.st) != 0)
			note(ru, rep, 1, "%s", err_msg());
	}
done:
	pthread_mutex_lock(&ru->mu);
	rep->fd = -1;
	pthread_mutex_unlock(&ru->mu);
	sshc_close(j.c);
	sigkey_free(j.key);
	buf_free(&j.pruned);
	buf_free(&j.stored);
	free(j.hostkey_file);
	store_unlock(lockfd);
	rep->seconds = sync_mono() - t0;
}

static void *worker(void *arg)
{
	struct runner *ru = arg;

	for (;;) {
		struct node_report *rep;

		pthread_mutex_lock(&ru->mu);
		rep = ru->next < ru->n ? &ru->reps[ru->next++] : NULL;
		pthread_mutex_unlock(&ru->mu);
		if (rep == NULL)
			return NULL;
		sync_node(ru, rep);
		pthread_mutex_lock(&ru->mu);
		rep->finished = 1;
		pthread_mutex_unlock(&ru->mu);
	}
}

/* ---- the runner ---- */

static int select_nodes(const struct pull_conf *c, const struct sync_opts *o,
    struct node_report **out, size_t *n)
{
	struct node_report *reps = xcalloc(c->n_nodes, sizeof *reps);
	size_t count = 0;

	for (size_t i = 0; i < o->n_only; i++)
		if (pullconf_node(c, o->only[i]) == NULL) {
			free(reps);
			return err_set(ERR_INVAL, "--node %s: no [node %s] in %s",
			    esc(o->only[i]), esc(o->only[i]), esc(c->file));
		}
	for (size_t i = 0; i < c->n_nodes; i++) {
		int take = o->n_only == 0;
		for (size_t k = 0; k < o->n_only && !take; k++)
			take = !strcmp(o->only[k], c->nodes[i].name);
		if (!take)
			continue;
		reps[count].node = &c->nodes[i];
		reps[count].fd = -1;
		buf_init(&reps[count].errors, 1 << 20);
		count++;
	}
	*out = reps;
	*n = count;
	return 0;
}

/* The main thread: cut stalled connections, draw the progress. */
static void watch(struct runner *ru)
{
	struct progress pr;

	progress_init(&pr, ru->o->tty && !ru->o->quiet);
	for (;;) {
		size_t done = 0;
		double now = sync_mono();

		pthread_mutex_lock(&ru->mu);
		for (size_t i = 0; i < ru->n; i++) {
			struct node_report *rep = &ru->reps[i];
			done += rep->finished;
			if (rep->fd >= 0 && !rep->stalled &&
			    now - rep->last_progress > (double)ru->c->timeout) {
				rep->stalled = 1;
				shutdown(rep->fd, SHUT_RDWR);
			}
		}
		progress_draw(&pr, ru->reps, ru->n, now, done == ru->n);
		pthread_mutex_unlock(&ru->mu);
		if (done == ru->n)
			break;
		usleep(100000);
	}
}

int sync_run(const struct pull_conf *c, const struct sync_opts *o,
    struct node_report **reps, size_t *n)
{
	struct runner ru;
	pthread_t *t;
	long jobs = o->jobs > 0 ? o->jobs : c->jobs;
	size_t nt, failed = 0;
	int r;

	*reps = NULL;
	*n = 0;
	memset(&ru, 0, sizeof ru);
	if ((r = select_nodes(c, o, &ru.reps, &ru.n)) != 0)
		return 3;
	ru.c = c;
	ru.o = o;
	pthread_mutex_init(&ru.mu, NULL);
	ru.rate.bps = c->bwlimit;
	ru.rate.last = sync_mono();
	ru.lim.max_members = (size_t)c->max_members;
	ru.lim.max_bytes = (uint64_t)c->max_bytes;
	nt = (size_t)jobs < ru.n ? (size_t)jobs : ru.n;
	t = xcalloc(nt ? nt : 1, sizeof *t);
	for (size_t i = 0; i < ru.n; i++)
		ru.reps[i].last_progress = sync_mono();
	for (size_t i = 0; i < nt; i++)
		if (pthread_create(&t[i], NULL, worker, &ru) != 0)
			nt = i;		/* fewer workers: still all nodes */
	if (nt == 0)
		worker(&ru);
	watch(&ru);
	for (size_t i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	free(t);
	pthread_mutex_destroy(&ru.mu);
	for (size_t i = 0; i < ru.n; i++)
		failed += !ru.reps[i].ok;
	*reps = ru.reps;
	*n = ru.n;
	return failed == 0 ? 0 : failed == ru.n ? 2 : 1;
}

void sync_reports_free(struct node_report *reps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_free(&reps[i].errors);
	free(reps);
}

void sync_json(const struct node_report *reps, size_t n, int status,
    struct buf *out)
{
	buf_addf(out, "{\"status\":%d,\"nodes\":[", status);
	for (size_t i = 0; i < n; i++) {
		const struct node_report *r = &reps[i];
		const char *p = buf_cstr(&r->errors);

		buf_adds(out, i ? ",{" : "{");
		json_key_str(out, "node", r->node->name, 1);
		json_key_str(out, "result", r->ok ? "ok" : "failed", 1);
		json_key_num(out, "new", r->n_new, 1, 1);
		json_key_num(out, "skipped", r->n_skipped, 1, 1);
		json_key_num(out, "failed", r->n_failed, 1, 1);
		json_key_num(out, "deleted", r->n_deleted, 1, 1);
		json_key_num(out, "bytes", (long long)r->bytes, 1, 1);
		json_key_num(out, "resumed", (long long)r->resumed, 1, 1);
		if (r->has_store) {
			buf_adds(out, "\"store\":{");
			json_key_num(out, "stored", r->n_stored, 1, 1);
			json_key_num(out, "skipped", r->n_store_skipped, 1, 1);
			json_key_num(out, "failed", r->n_store_failed, 1, 1);
			json_key_num(out, "deleted", r->n_store_deleted, 1, 1);
			json_key_num(out, "bytes", (long long)r->store_bytes, 1, 1);
			json_key_num(out, "resumed", (long long)r->store_resumed, 1,
			    0);
			buf_adds(out, "},");
		}
		buf_addf(out, "\"seconds\":%.3f,\"errors\":[", r->seconds);
		for (int k = 0; *p; k++) {
			size_t len = strcspn(p, "\n");
			char *line = xstrndup(p, len);
			if (k)
				buf_addch(out, ',');
			json_str(out, line);
			free(line);
			p += len + (p[len] == '\n');
		}
		buf_adds(out, "]}");
	}
	buf_adds(out, "]}\n");
}
