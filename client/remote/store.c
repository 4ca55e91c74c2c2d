/* store.c: the archive host's folder (store.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "names.h"
#include "sidecar.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

#define STATE_MAX 4096

static const char *const area_dir[] = { "", ".incoming/", ".quarantine/" };

char *store_path(const char *archive_dir, enum store_area a,
    const char *node, const char *file)
{
	struct buf b = BUF_INIT(1 << 16);

	buf_addf(&b, "%s/%s%s", archive_dir, area_dir[a], node);
	if (file)
		buf_addf(&b, "/%s", file);
	return buf_detach(&b, NULL);
}

static char *dot_path(const char *archive_dir, const char *dir,
    const char *node, const char *suffix)
{
	struct buf b = BUF_INIT(1 << 16);

	buf_addf(&b, "%s/%s/%s%s", archive_dir, dir, node, suffix);
	return buf_detach(&b, NULL);
}

char *store_hostkey_path(const char *archive_dir, const char *node)
{
	return dot_path(archive_dir, ".hostkeys", node, ".pub");
}

int store_prepare(const char *archive_dir, const char *node)
{
	static const char *const extra[] = { ".state", ".hostkeys" };
	int r = 0;

	for (int a = ST_COPIES; a <= ST_QUARANTINE && r == 0; a++) {
		char *p = store_path(archive_dir, (enum store_area)a, node, NULL);
		r = fs_mkdir_p(p, 0700);
		free(p);
	}
	for (size_t i = 0; i < 2 && r == 0; i++) {
		char *p = fs_join(archive_dir, extra[i]);
		r = fs_mkdir_p(p, 0700);
		free(p);
	}
	return r;
}

int store_lock(const char *archive_dir, const char *node, int *fd)
{
	char *p = dot_path(archive_dir, ".state", node, ".lock");
	int r = 0;

	*fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0)
		r = err_sys("%s", esc(p));
	else if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		r = errno == EWOULDBLOCK ? err_set(ERR_BUSY, "%s: another "
		    "nodebak-pull is syncing it now", esc(node)) :
		    err_sys("lock %s", esc(p));
		close(*fd);
		*fd = -1;
	}
	free(p);
	return r;
}

void store_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* releases the flock */
}

/* ---- state ---- */

static void state_field(struct store_state *st, const char *k, const char *v)
{
	struct { const char *key; long long *p; } nums[] = {
		{ "last_sync", &st->last_sync },
		{ "last_success", &st->last_success },
		{ "consecutive_failures", &st->consecutive_failures },
		{ "bytes_total", &st->bytes_total },
		{ "resumes_total", &st->resumes_total },
		{ "verify_failures_total", &st->verify_failures_total },
		{ "store_bytes_total", &st->store_bytes_total },
		{ "stored_newest", &st->stored_newest },
	};

	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
		if (!strcmp(k, nums[i].key)) {
			*nums[i].p = strtoll(v, NULL, 10);
			return;
		}
	if (!strcmp(k, "last_result"))
		snprintf(st->last_result, sizeof st->last_result, "%s", v);
	else if (!strcmp(k, "last_error"))
		snprintf(st->last_error, sizeof st->last_error, "%s", v);
}

int store_state_load(const char *archive_dir, const char *node,
    struct store_state *st)
{
	char *p = dot_path(archive_dir, ".state", node, ".state");
	struct buf b = BUF_INIT(STATE_MAX);
	char *line, *save = NULL;
	int r;

	memset(st, 0, sizeof *st);
	if (!fs_exists(p)) {
		free(p);
		return 0;
	}
	if ((r = fs_read_file(p, STATE_MAX, &b)) == 0 && b.len) {
		for (line = strtok_r(b.p, "\n", &save); line;
		    line = strtok_r(NULL, "\n", &save)) {
			char *sp = strchr(line, ' ');
			if (sp) {
				*sp = '\0';
				state_field(st, line, sp + 1);
			}
		}
	}
	buf_free(&b);
	free(p);
	return r;
}

int store_state_save(const char *archive_dir, const char *node,
    const struct store_state *st)
{
	char *p = dot_path(archive_dir, ".state", node, ".state");
	struct buf b = BUF_INIT(STATE_MAX);
	int r;

	buf_addf(&b, "last_sync %lld\nlast_success %lld\nlast_result %s\n"
	    "last_error %s\nconsecutive_failures %lld\nbytes_total %lld\n"
	    "resumes_total %lld\nverify_failures_total %lld\n"
	    "store_bytes_total %lld\nstored_newest %lld\n", st->last_sync,
	    st->last_success, st->last_result, st->last_error,
	    st->consecutive_failures, st->bytes_total, st->resumes_total,
	    st->verify_failures_total, st->store_bytes_total,
	    st->stored_newest);
	r = fs_write_atomic(p, b.p, b.len, 0600);
	buf_free(&b);
	free(p);
	return r;
}

/* ---- copies ---- */

static int is_bak(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && name[0] != '.' && !strcmp(name + n - 4, ".bak");
}

/* "NAME.bak" -> "NAME" + suffix. */
static char *sibling(const char *dir_file, const char *suffix)
{
	size_t n = strlen(dir_file);
	struct buf b = BUF_INIT(1 << 16);

	buf_add(&b, dir_file, n > 4 ? n - 4 : n);
	buf_adds(&b, suffix);
	return buf_detach(&b, NULL);
}

int store_copies(const char *archive_dir, const char *node,
    struct store_copy **out, size_t *n)
{
	char *dir = store_path(archive_dir, ST_COPIES, node, NULL), **names;
	struct store_copy *c;
	size_t count;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = fs_list_sorted(dir, is_bak, &names, &count)) != 0) {
		free(dir);
		return r;
	}
	c = xcalloc(count ? count : 1, sizeof *c);
	for (size_t i = 0; i < count; i++) {
		char *bak = fs_join(dir, names[i]), *json = sibling(bak, ".json");
		struct sidecar sc;

		snprintf(c[i].file, sizeof c[i].file, "%s", names[i]);
		if (sidecar_load(json, &sc) == 0) {
			struct tm tm;
			memset(&tm, 0, sizeof tm);
			if (strptime(sc.created, "%Y-%m-%dT%H:%M:%SZ", &tm))
				c[i].created = timegm(&tm);
			c[i].size = sc.size;
			memcpy(c[i].sha256, sc.sha256, sizeof c[i].sha256);
		}
		free(bak);
		free(json);
	}
	fs_list_free(names, count);
	free(dir);
	*out = c;
	*n = count;
	return 0;
}

/* ---- installing, quarantining, deleting ---- */

int store_commit(const char *archive_dir, const char *node,
    const char *file, const char *partial, const char *json, size_t jsonlen)
{
	char *bak = store_path(archive_dir, ST_COPIES, node, file);
	char *side = sibling(bak, ".json");
	char *pjson = xmalloc(strlen(partial) + 6);
	int r;

	/* The .json first: the .bak's rename is the commit, and a .json
	 * without its .bak is never listed as a copy. */
	if ((r = fs_write_atomic(side, json, jsonlen, 0600)) == 0) {
		if (rename(partial, bak) != 0)
			r = err_sys("rename %s to %s", esc(partial), esc(bak));
		else
			r = fs_fsync_parent(bak);
	}
	if (r == 0) {
		snprintf(pjson, strlen(partial) + 6, "%s.json", partial);
		unlink(pjson);
	}
	free(pjson);
	free(side);
	free(bak);
	return r;
}

int store_quarantine(const char *archive_dir, const char *node,
    const char *file, const char *partial, const char *json, size_t jsonlen,
    const char *reason)
{
	char *bak = store_path(archive_dir, ST_QUARANTINE, node, file);
	char *side = sibling(bak, ".json"), *why = sibling(bak, ".reason");
	struct buf line = BUF_INIT(4096);
	int r;

	buf_addf(&line, "%s\n", reason);
	if ((r = fs_write_atomic(side, json, jsonlen, 0600)) == 0 &&
	    (r = fs_write_atomic(why, line.p, line.len, 0600)) == 0) {
		if (partial && fs_exists(partial) && rename(partial, bak) != 0)
			r = err_sys("rename %s to %s", esc(partial), esc(bak));
		else
			r = fs_fsync_parent(bak);
	}
	buf_free(&line);
	free(why);
	free(side);
	free(bak);
	return r;
}

int store_quarantined(const char *archive_dir, const char *node,
    const char *file, const char *json, size_t jsonlen, struct buf *reason)
{
	char *bak = store_path(archive_dir, ST_QUARANTINE, node, file);
	char *side = sibling(bak, ".json"), *why = sibling(bak, ".reason");
	struct buf old = BUF_INIT(SIDECAR_MAX_BYTES);
	int r = ERR_NOTFOUND;

	if (fs_exists(why) && fs_exists(side) &&
	    fs_read_file(side, SIDECAR_MAX_BYTES, &old) == 0 &&
	    old.len == jsonlen && !memcmp(buf_cstr(&old), json, jsonlen) &&
	    fs_read_file(why, 4096, reason) == 0) {
		if (reason->len && reason->p[reason->len - 1] == '\n')
			reason->p[--reason->len] = '\0';
		r = 0;
	}
	buf_free(&old);
	free(why);
	free(side);
	free(bak);
	return r;
}

int store_delete(const char *archive_dir, const char *node, const char *file)
{
	char *bak = store_path(archive_dir, ST_COPIES, node, file);
	char *side = sibling(bak, ".json");
	int r = 0;

	if (unlink(bak) != 0 && errno != ENOENT)
		r = err_sys("remove %s", esc(bak));
	else if (unlink(side) != 0 && errno != ENOENT)
		r = err_sys("remove %s", esc(side));
	else
		r = fs_fsync_parent(bak);
	free(side);
	free(bak);
	return r;
}

/* ---- what retention deleted ---- */

#define PRUNED_MAX (16 << 20)

int store_pruned_load(const char *archive_dir, const char *node,
    struct buf *list)
{
	char *p = dot_path(archive_dir, ".state", node, ".pruned");
	int r = fs_exists(p) ? fs_read_file(p, PRUNED_MAX, list) : 0;

	free(p);
	return r;
}

int store_pruned_has(const struct buf *list, const char *file,
    const char *sha256)
{
	size_t flen = strlen(file), slen = strlen(sha256);
	const char *l = buf_cstr(list);

	while (*l) {
		size_t len = strcspn(l, "\n");
		if (len == flen + 1 + slen && !memcmp(l, file, flen) &&
		    l[flen] == ' ' && !memcmp(l + flen + 1, sha256, slen))
			return 1;
		l += len + (l[len] == '\n');
	}
	return 0;
}

static int pruned_save(const char *archive_dir, const char *node,
    const struct buf *list)
{
	char *p = dot_path(archive_dir, ".state", node, ".pruned");
	int r = fs_write_atomic(p, buf_cstr(list), list->len, 0600);

	free(p);
	return r;
}

int store_pruned_add(const char *archive_dir, const char *node,
    const char *file, const char *sha256)
{
	struct buf list = BUF_INIT(PRUNED_MAX);
	int r;

	if ((r = store_pruned_load(archive_dir, node, &list)) == 0 &&
	    (r = buf_addf(&list, "%s %s\n", file, sha256)) == 0)
		r = pruned_save(archive_dir, node, &list);
	buf_free(&list);
	return r;
}

int store_pruned_trim(const char *archive_dir, const char *node,
    int (*listed)(void *arg, const char *file), void *arg)
{
	struct buf list = BUF_INIT(PRUNED_MAX), keep = BUF_INIT(PRUNED_MAX);
	const char *l;
	int r;

	if ((r = store_pruned_load(archive_dir, node, &list)) != 0 ||
	    list.len == 0)
		goto out;
	for (l = buf_cstr(&list); *l; ) {
		size_t len = strcspn(l, "\n"), sp = strcspn(l, " ");
		char *file = xstrndup(l, sp < len ? sp : len);
		if (listed(arg, file))
			buf_addf(&keep, "%.*s\n", (int)len, l);
		free(file);
		l += len + (l[len] == '\n');
	}
	if (keep.len != list.len)
		r = pruned_save(archive_dir, node, &keep);
out:
	buf_free(&list);
	buf_free(&keep);
	return r;
}
