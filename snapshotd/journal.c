/* journal.c: the rollback redo journal (see journal.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "fault.h"
#include "fsutil.h"
#include "journal.h"
#include "xmalloc.h"
#include "banned.h"

#define JOURNAL_MAX (64u << 20)

void journal_init(struct journal *j, const char *bak, const char *stage)
{
	memset(j, 0, sizeof *j);
	snprintf(j->bak, sizeof j->bak, "%s", bak);
	j->stage = xstrdup(stage ? stage : "");
}

void journal_free(struct journal *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->s[i].src);
		free(j->s[i].dst);
	}
	free(j->s);
	free(j->stage);
	memset(j, 0, sizeof *j);
}

struct jstep *journal_add(struct journal *j, enum jop op, const char *src,
    const char *dst, unsigned mode)
{
	struct jstep *s;

	if (j->n == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 32;
		j->s = xreallocarray(j->s, j->cap, sizeof *j->s);
	}
	s = &j->s[j->n++];
	s->op = op;
	s->src = src ? xstrdup(src) : NULL;
	s->dst = xstrdup(dst);
	s->mode = mode;
	s->sha[0] = '\0';
	s->size = 0;
	s->verified = 0;
	return s;
}

/* Paths are written in hex: any byte a file name may hold survives. */
static int add_hex(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	char *h = xmalloc(2 * n + 1);
	int r;

	hex_encode((const unsigned char *)s, n, h);
	r = buf_adds(b, h);
	free(h);
	return r;
}

static const char *const opname[] = { "remove", "mkdir", "replace" };

int journal_write(const struct journal *j, const char *path)
{
	struct buf b = BUF_INIT(JOURNAL_MAX);
	struct sha256 *h;
	char hex[SHA256_HEX_LEN + 1];
	int r;

	r = buf_addf(&b, "nodebak-rollback-journal 2\nbak %s\nstage ", j->bak);
	if (r == 0) r = add_hex(&b, j->stage);
	if (r == 0) r = buf_addf(&b, "\nsteps %zu\n", j->n);
	for (size_t i = 0; r == 0 && i < j->n; i++) {
		const struct jstep *s = &j->s[i];
		r = buf_addf(&b, "%s %04o ", opname[s->op], s->mode);
		if (r == 0) r = add_hex(&b, s->dst);
		if (r == 0 && s->op == JOP_REPLACE) {
			r = buf_addch(&b, ' ');
			if (r == 0) r = add_hex(&b, s->src);
			if (r == 0)
				r = buf_addf(&b, " %s %llu", s->sha,
				    (unsigned long long)s->size);
		}
		if (r == 0) r = buf_addch(&b, '\n');
	}
	if (r == 0 && (h = sha256_new()) != NULL) {
		sha256_update(h, b.p, b.len);
		sha256_final_hex(h, hex);
		r = buf_addf(&b, "end %s\n", hex);
	}
	if (r == 0)
		r = fs_write_atomic(path, b.p, b.len, 0600);
	buf_free(&b);
	return r;
}

static char *unhex(const char *h, size_t len)
{
	unsigned char *out;

	if (len % 2 || len == 0 || len / 2 > PATH_MAX)
		return NULL;
	out = xmalloc(len / 2 + 1);
	for (size_t i = 0; i < len / 2; i++) {
		char pair[3] = { h[2 * i], h[2 * i + 1], 0 };
		if (hex_decode(pair, out + i, 1) != 0) {
			free(out);
			return NULL;
		}
	}
	out[len / 2] = '\0';
	if (strlen((char *)out) != len / 2) {
		free(out);
		return NULL;
	}
	return (char *)out;
}

static int is_sha_hex(const char *h)
{
	size_t i;

	for (i = 0; h[i]; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	return i == SHA256_HEX_LEN;
}

/* "OP MODE DST" or "replace MODE DST SRC SHA256 SIZE". */
static int parse_step(struct journal *j, char *line)
{
	char *f[7] = { 0 }, *end;
	unsigned mode;
	unsigned long long size = 0;
	int nf = 0, op = -1;
	char *src = NULL, *dst = NULL;
	struct jstep *s;

	for (char *p = line; nf < 7 && p; nf++) {
		f[nf] = p;
		if ((p = strchr(p, ' ')) != NULL)
			*p++ = '\0';
	}
	for (int i = 0; i < 3; i++)
		if (f[0] && !strcmp(f[0], opname[i]))
			op = i;
	if (op < 0 || nf != (op == JOP_REPLACE ? 6 : 3) ||
	    strlen(f[1]) != 4 || sscanf(f[1], "%4o", &mode) != 1)
		return -1;
	if (op == JOP_REPLACE) {
		if (!is_sha_hex(f[4]) || f[5][0] < '0' || f[5][0] > '9')
			return -1;
		errno = 0;
		size = strtoull(f[5], &end, 10);
		if (errno || *end)
			return -1;
	}
	if ((dst = unhex(f[2], strlen(f[2]))) == NULL ||
	    (op == JOP_REPLACE && (src = unhex(f[3], strlen(f[3]))) == NULL)) {
		free(dst);
		return -1;
	}
	s = journal_add(j, (enum jop)op, src, dst, mode);
	if (op == JOP_REPLACE) {
		memcpy(s->sha, f[4], SHA256_HEX_LEN + 1);
		s->size = size;
	}
	free(src);
	free(dst);
	return 0;
}

int journal_read(const char *path, struct journal *j)
{
	struct buf b = BUF_INIT(JOURNAL_MAX);
	char hex[SHA256_HEX_LEN + 1], *end, *line, *next;
	struct sha256 *h;
	size_t nsteps = 0, body;
	int r, lineno = 0;

	journal_init(j, "", "");
	if ((r = fs_read_file(path, JOURNAL_MAX, &b)) != 0)
		return r;
	r = ERR_FORMAT;
	if (b.len > 27 && !memcmp(b.p, "nodebak-rollback-journal 1\n", 27)) {
		buf_free(&b);
		journal_free(j);
		return err_set(ERR_FORMAT, "%s: a rollback journal of format 1 "
		    "(nodebak 0.1) has no content hashes and is not replayed "
		    "unverified; complete it with the nodebak that wrote it", path);
	}
	/* The last line checks everything before it. */
	if (b.len < 70 || b.p[b.len - 1] != '\n')
		goto bad;
	b.p[b.len - 1] = '\0';
	if ((end = strrchr(b.p, '\n')) == NULL || strncmp(end + 1, "end ", 4))
		goto bad;
	body = (size_t)(end + 1 - b.p);
	if ((h = sha256_new()) == NULL)
		goto bad;
	sha256_update(h, b.p, body);
	sha256_final_hex(h, hex);
	if (strcmp(end + 5, hex))
		goto bad;
	*end = '\0';
	for (line = b.p; line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lineno++;
		if (lineno == 1) {
			if (strcmp(line, "nodebak-rollback-journal 2"))
				goto bad;
		} else if (lineno == 2) {
			if (strncmp(line, "bak ", 4))
				goto bad;
			snprintf(j->bak, sizeof j->bak, "%s", line + 4);
		} else if (lineno == 3) {
			if (strncmp(line, "stage ", 6))
				goto bad;
			free(j->stage);
			if ((j->stage = unhex(line + 6, strlen(line + 6))) == NULL)
				goto bad;
		} else if (lineno == 4) {
			if (sscanf(line, "steps %zu", &nsteps) != 1)
				goto bad;
		} else if (parse_step(j, line) != 0)
			goto bad;
	}
	if (j->n != nsteps || j->stage == NULL)
		goto bad;
	buf_free(&b);
	return 0;
bad:
	buf_free(&b);
	journal_free(j);
	return err_set(r, "%s: damaged rollback journal (line %d)", path, lineno);
}

/* 1 when path is a regular file holding exactly the step's content. */
static int holds(const char *path, const struct jstep *s)
{
	char hex[SHA256_HEX_LEN + 1];
	uint64_t size;
	struct stat st;

	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != s->size)
		return 0;
	return sha256_file(path, hex, &size) == 0 && size == s->size &&
	    !strcmp(hex, s->sha);
}

/* 1 when the staged file holds the step's content: unchanged since this
 * process verified it (journal.h), else hashed now. */
static int staged_holds(const struct jstep *s)
{
	struct fs_stamp now;

	if (s->verified && fs_stamp(s->src, &now) == 0 &&
	    fs_stamp_same(&now, &s->stamp, FS_STAMP_EXACT) &&
	    (uint64_t)now.size == s->size)
		return 1;
	return holds(s->src, s);
}

/* Replace dst by src, after checking that src holds the content the
 * journal names; when they are on different filesystems, by a copy that
 * is renamed into place. When src no longer exists, the step was done if
 * and only if dst holds that content. */
static int step_replace(const struct jstep *s)
{
	struct stat st;
	char tmp[PATH_MAX];
	int r;

	if (lstat(s->src, &st) != 0) {
		if (errno != ENOENT)
			return err_sys("%s", s->src);
		if (holds(s->dst, s))
			return 0;
		return err_set(ERR_MISMATCH, "staged file %s is missing and %s "
		    "does not hold the content the journal names", s->src, s->dst);
	}
	if (!staged_holds(s))
		return err_set(ERR_MISMATCH, "staged file %s does not hold the "
		    "content the journal names (SHA-256 or size differs); it is "
		    "not installed", s->src);
	if (lstat(s->dst, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (r = fs_rm_rf(s->dst)) != 0)
		return r;
	if (rename(s->src, s->dst) == 0)
		return fs_fsync_parent(s->dst);
	if (errno != EXDEV)
		return err_sys("rename %s", s->dst);
	if (snprintf(tmp, sizeof tmp, "%s.nodebak-tmp", s->dst) >= (int)sizeof tmp)
		return err_set(ERR_INVAL, "%s: path too long", s->dst);
	unlink(tmp);
	if ((r = fs_copy_file(s->src, tmp, 0600)) != 0) {
		unlink(tmp);
		return r;
	}
	fault_point("journal-copy-written");
	if (!holds(tmp, s)) {
		unlink(tmp);
		return err_set(ERR_MISMATCH, "%s: the copy of %s does not hold "
		    "the content the journal names", tmp, s->src);
	}
	if (lstat(s->src, &st) == 0 && chmod(tmp, st.st_mode & 07777) != 0)
		return err_sys("chmod %s", tmp);
	if (rename(tmp, s->dst) != 0)
		return err_sys("rename %s", s->dst);
	if ((r = fs_fsync_parent(s->dst)) != 0)
		return r;
	if (unlink(s->src) != 0 && errno != ENOENT)
		return err_sys("unlink %s", s->src);
	return 0;
}

static int step_mkdir(const struct jstep *s)
{
	struct stat st;
	int r;

	if (lstat(s->dst, &st) == 0 && !S_ISDIR(st.st_mode) &&
	    unlink(s->dst) != 0)
		return err_sys("unlink %s", s->dst);
	if (mkdir(s->dst, s->mode) != 0 && errno != EEXIST)
		return err_sys("mkdir %s", s->dst);
	if (chmod(s->dst, s->mode) != 0)
		return err_sys("chmod %s", s->dst);
	if ((r = fs_fsync_parent(s->dst)) != 0)
		return r;
	return 0;
}

int journal_apply(const struct journal *j)
{
	int r = 0;

	for (size_t i = 0; i < j->n && r == 0; i++) {
		const struct jstep *s = &j->s[i];
		switch (s->op) {
		case JOP_REMOVE:
			if ((r = fs_rm_rf(s->dst)) == 0)
				r = fs_fsync_parent(s->dst);
			break;
		case JOP_MKDIR:
			r = step_mkdir(s);
			break;
		case JOP_REPLACE:
			r = step_replace(s);
			break;
		}
		fault_point("journal-step");
	}
	return r;
}

int journal_complete(const struct journal *j, const char *jpath,
    const char *done, const char *intent)
{
	int r;

	if ((r = journal_apply(j)) != 0)
		return r;
	if ((r = fs_write_atomic(done, j->bak, strlen(j->bak), 0600)) != 0)
		return r;
	if (unlink(jpath) != 0 || fs_fsync_parent(jpath) != 0)
		return err_sys("%s", jpath);
	fault_point("rollback-journal-removed");
	/* The staging folder was this journal's alone; nothing else writes
	 * or removes it while the journal exists. */
	if (j->stage[0])
		fs_rm_rf(j->stage);
	unlink(intent);
	return 0;
}
