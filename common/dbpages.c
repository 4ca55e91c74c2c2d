/* dbpages.c: an SQLite database image from its file and WAL (dbpages.h).
 *
 * The formats are SQLite's (https://www.sqlite.org/fileformat2.html,
 * "The Write-Ahead Log"): a 32-byte WAL header (magic, version, page
 * size, checkpoint sequence, two salts, a checksum of the first 24 bytes),
 * then frames of a 24-byte header (page number, the database size in
 * pages for a commit frame or 0, the two salts, a cumulative checksum
 * over the frame header's first 8 bytes and the page) and a page. A frame
 * is valid when its salts are the header's and its checksum continues the
 * chain; the first invalid frame ends the log. The image is the database
 * as of the last valid commit frame: each page from its newest frame up
 * to that commit, else from the database file.
 *
 * Why this is consistent while writers go on (docs/snapshots.md): the
 * caller holds a read transaction, so a checkpoint copies into the
 * database file only frames its snapshot already sees (never past its
 * read mark) and only pages that have such a frame, which this reader
 * takes from the WAL; and the WAL is not restarted while the read mark is
 * in use. Where SQLite gave the transaction read mark 0 (the WAL was
 * fully checkpointed when it began), no checkpoint runs at all, but a
 * writer may restart the WAL; every frame this reader uses is checked
 * again when it is read, and a changed one fails with ERR_AGAIN. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbpages.h"
#include "err.h"
#include "xmalloc.h"
#include "banned.h"

#define WAL_HDR 32
#define FRAME_HDR 24
#define WAL_MAGIC 0x377f0682u
#define WAL_VERSION 3007000u
#define DB_HDR 100

struct walpage {
	uint32_t pgno;
	uint32_t frame;		/* 1-based */
};

struct dbpages {
	int dbfd, walfd;
	char *path;
	uint32_t pgsz;
	uint32_t npages;
	uint64_t dbsize;	/* the database file's size when opened */
	/* The WAL: its salts, checksum byte order, and per valid frame up
	 * to the commit used, the checksum before it (to check it again). */
	uint32_t salt[2];
	int bigend;
	uint32_t (*ck)[2];
	size_t nframes;
	/* The newest frame of each page in the WAL, sorted by page. */
	struct walpage *wp;
	size_t nwp, iwp;
	uint32_t next;		/* the next page to give, 1-based */
	size_t off;		/* bytes of that page already given */
	unsigned char *frame;	/* one frame's buffer */
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[1] << 8 | p[0];
}

/* SQLite's WAL checksum over n bytes (a multiple of 8), continuing s. */
static void wal_cksum(int bigend, const unsigned char *p, size_t n,
    uint32_t s[2])
{
	uint32_t s1 = s[0], s2 = s[1];

	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint32_t x0 = bigend ? be32(p + i) : le32(p + i);
		uint32_t x1 = bigend ? be32(p + i + 4) : le32(p + i + 4);
		s1 += x0 + s2;
		s2 += x1 + s1;
	}
	s[0] = s1;
	s[1] = s2;
}

static int pread_full(int fd, void *buf, size_t n, uint64_t off, size_t *got)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = pread(fd, (char *)buf + done, n - done,
		    (off_t)(off + done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		done += (size_t)k;
	}
	*got = done;
	return 0;
}

static int valid_pgsz(uint32_t v)
{
	return v >= 512 && v <= 65536 && (v & (v - 1)) == 0;
}

static int cmp_walpage(const void *a, const void *b)
{
	const struct walpage *x = a, *y = b;

	if (x->pgno != y->pgno)
		return x->pgno < y->pgno ? -1 : 1;
	return x->frame < y->frame ? -1 : x->frame > y->frame;
}

/* Read the WAL's valid frames up to its last commit: p->ck, p->wp, and
 * *commit_size the database size in pages at that commit (0: none). */
static int wal_scan(struct dbpages *p, uint32_t *commit_size)
{
	unsigned char h[WAL_HDR];
	uint32_t s[2] = { 0, 0 }, pgsz, magic;
	size_t got, cap = 0, ncommit = 0;
	struct walpage *all = NULL;
	uint64_t off;
	int r = 0;

	*commit_size = 0;
	if (pread_full(p->walfd, h, sizeof h, 0, &got) != 0)
		return err_sys("read %s-wal", p->path);
	if (got < sizeof h)
		return 0;		/* empty: no frames */
	magic = be32(h);
	pgsz = be32(h + 8);
	if ((magic & ~1u) != WAL_MAGIC || be32(h + 4) != WAL_VERSION ||
	    !valid_pgsz(pgsz))
		return 0;		/* not a WAL SQLite would use */
	p->bigend = magic & 1;
	wal_cksum(p->bigend, h, 24, s);
	if (s[0] != be32(h + 24) || s[1] != be32(h + 28))
		return 0;
	if (p->pgsz && pgsz != p->pgsz)
		return err_set(ERR_FORMAT, "%s-wal: page size %u, the database's "
		    "is %u", p->path, pgsz, p->pgsz);
	p->pgsz = pgsz;
	p->salt[0] = be32(h + 16);
	p->salt[1] = be32(h + 20);
	p->frame = xmalloc(FRAME_HDR + (size_t)pgsz);
	for (off = WAL_HDR;; off += FRAME_HDR + (uint64_t)pgsz) {
		unsigned char *f = p->frame;
		uint32_t before[2] = { s[0], s[1] };
		if (pread_full(p->walfd, f, FRAME_HDR + (size_t)pgsz, off,
		    &got) != 0) {
			r = err_sys("read %s-wal", p->path);
			goto out;
		}
		if (got < FRAME_HDR + (size_t)pgsz || be32(f) == 0 ||
		    be32(f + 8) != p->salt[0] || be32(f + 12) != p->salt[1])
			break;
		wal_cksum(p->bigend, f, 8, s);
		wal_cksum(p->bigend, f + FRAME_HDR, pgsz, s);
		if (s[0] != be32(f + 16) || s[1] != be32(f + 20))
			break;
		if (p->nframes == cap) {
			cap = cap ? cap * 2 : 256;
			p->ck = xreallocarray(p->ck, cap, sizeof *p->ck);
			all = xreallocarray(all, cap, sizeof *all);
		}
		p->ck[p->nframes][0] = before[0];
		p->ck[p->nframes][1] = before[1];
		all[p->nframes].pgno = be32(f);
		all[p->nframes].frame = (uint32_t)(p->nframes + 1);
		p->nframes++;
		if (be32(f + 4) != 0) {
			ncommit = p->nframes;
			*commit_size = be32(f + 4);
		}
	}
	/* Frames after the last commit belong to a transaction that has
	 * not committed: not part of the image. */
	p->nframes = ncommit;
	qsort(all, ncommit, sizeof *all, cmp_walpage);
	p->wp = xreallocarray(NULL, ncommit ? ncommit : 1, sizeof *p->wp);
	for (size_t i = 0; i < ncommit; i++) {
		if (all[i].pgno > *commit_size)
			continue;	/* beyond the end after a shrink */
		if (i + 1 < ncommit && all[i + 1].pgno == all[i].pgno)
			continue;	/* a newer frame of this page follows */
		p->wp[p->nwp++] = all[i];
	}
out:
	free(all);
	return r;
}

int dbpages_open(const char *path, struct dbpages **out)
{
	struct dbpages *p = xcalloc(1, sizeof *p);
	unsigned char h[DB_HDR];
	uint32_t commit_size = 0;
	struct stat st;
	size_t got;
	char *wal;
	int r = 0;

	*out = NULL;
	p->walfd = -1;
	p->path = xstrdup(path);
	p->next = 1;
	if ((p->dbfd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		r = err_sys("%s", path);
		goto fail;
	}
	if (fstat(p->dbfd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = err_set(ERR_FORMAT, "%s: not a regular file", path);
		goto fail;
	}
	p->dbsize = (uint64_t)st.st_size;
	if (pread_full(p->dbfd, h, sizeof h, 0, &got) != 0) {
		r = err_sys("read %s", path);
		goto fail;
	}
	if (got == sizeof h) {
		uint32_t v = (uint32_t)h[16] << 8 | h[17];
		if (memcmp(h, "SQLite format 3", 16) != 0) {
			r = err_set(ERR_FORMAT, "%s: not an SQLite 3 database", path);
			goto fail;
		}
		p->pgsz = v == 1 ? 65536 : v;
		if (!valid_pgsz(p->pgsz)) {
			r = err_set(ERR_FORMAT, "%s: page size %u is not one SQLite "
			    "uses", path, p->pgsz);
			goto fail;
		}
	} else if (got != 0) {
		r = err_set(ERR_FORMAT, "%s: %zu bytes, shorter than an SQLite "
		    "header", path, got);
		goto fail;
	}
	wal = xmalloc(strlen(path) + 5);
	memcpy(wal, path, strlen(path));
	memcpy(wal + strlen(path), "-wal", 5);
	p->walfd = open(wal, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (p->walfd < 0 && errno != ENOENT)
		r = err_sys("%s", wal);
	free(wal);
	if (r == 0 && p->walfd >= 0)
		r = wal_scan(p, &commit_size);
	if (r != 0)
		goto fail;
	if (commit_size)
		p->npages = commit_size;
	else if (p->pgsz) {
		/* As SQLite's btree: the header's size when it is valid (its
		 * change counter matches version-valid-for), else the file's. */
		uint32_t hs = be32(h + 28);
		p->npages = hs && !memcmp(h + 24, h + 92, 4) ? hs :
		    (uint32_t)(p->dbsize / p->pgsz);
	}
	if (p->frame == NULL && p->pgsz)
		p->frame = xmalloc(FRAME_HDR + (size_t)p->pgsz);
	*out = p;
	return 0;
fail:
	dbpages_close(p);
	return r;
}

uint64_t dbpages_size(const struct dbpages *p)
{
	return (uint64_t)p->npages * p->pgsz;
}

/* Page pg from its WAL frame fr, checked again, into p->frame. */
static int read_frame(struct dbpages *p, uint32_t pg, uint32_t fr)
{
	uint64_t off = WAL_HDR + (uint64_t)(fr - 1) * (FRAME_HDR + p->pgsz);
	unsigned char *f = p->frame;
	uint32_t s[2];
	size_t got;

	if (pread_full(p->walfd, f, FRAME_HDR + (size_t)p->pgsz, off, &got) != 0)
		return err_sys("read %s-wal", p->path);
	s[0] = p->ck[fr - 1][0];
	s[1] = p->ck[fr - 1][1];
	if (got == FRAME_HDR + (size_t)p->pgsz) {
		wal_cksum(p->bigend, f, 8, s);
		wal_cksum(p->bigend, f + FRAME_HDR, p->pgsz, s);
	}
	if (got != FRAME_HDR + (size_t)p->pgsz || be32(f) != pg ||
	    be32(f + 8) != p->salt[0] || be32(f + 12) != p->salt[1] ||
	    s[0] != be32(f + 16) || s[1] != be32(f + 20))
		return err_set(ERR_AGAIN, "%s-wal: frame %u changed while the "
		    "snapshot read it (the WAL was restarted)", p->path, fr);
	return 0;
}

int dbpages_read(void *ctx, void *buf, size_t cap, size_t *got)
{
	struct dbpages *p = ctx;
	unsigned char *out = buf;
	size_t done = 0;
	int r;

	while (done < cap && p->next <= p->npages) {
		uint32_t pg = p->next, run = 1;
		size_t n;
		while (p->iwp < p->nwp && p->wp[p->iwp].pgno < pg)
			p->iwp++;
		if (p->iwp < p->nwp && p->wp[p->iwp].pgno == pg) {
			/* From the WAL: one page through the frame buffer. */
			if (p->off == 0 && (r = read_frame(p, pg,
			    p->wp[p->iwp].frame)) != 0)
				return r;
			n = p->pgsz - p->off;
			if (n > cap - done)
				n = cap - done;
			memcpy(out + done, p->frame + FRAME_HDR + p->off, n);
		} else {
			/* From the database file: as many pages in a row as
			 * are not in the WAL and fit; beyond its end, zeros
			 * (as SQLite reads a short page). */
			uint32_t stop = p->iwp < p->nwp ? p->wp[p->iwp].pgno :
			    p->npages + 1;
			uint64_t at = (uint64_t)(pg - 1) * p->pgsz + p->off;
			size_t k;
			while (pg + run < stop && (uint64_t)(run + 1) * p->pgsz -
			    p->off <= cap - done)
				run++;
			n = (size_t)run * p->pgsz - p->off;
			if (n > cap - done)
				n = cap - done;
			if (pread_full(p->dbfd, out + done, n, at, &k) != 0)
				return err_sys("read %s", p->path);
			memset(out + done + k, 0, n - k);
		}
		done += n;
		p->off += n;
		p->next += (uint32_t)(p->off / p->pgsz);
		p->off %= p->pgsz;
	}
	*got = done;
	return 0;
}

void dbpages_close(struct dbpages *p)
{
	if (p == NULL)
		return;
	if (p->dbfd >= 0)
		close(p->dbfd);
	if (p->walfd >= 0)
		close(p->walfd);
	free(p->path);
	free(p->ck);
	free(p->wp);
	free(p->frame);
	free(p);
}
