/* fsutil.c: durable file operations (see fsutil.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "fault.h"
#include "fsutil.h"
#include "xmalloc.h"
#include "banned.h"

char *fs_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = xmalloc(la + lb + 2);

	memcpy(p, a, la);
	if (la && a[la - 1] != '/')
		p[la++] = '/';
	memcpy(p + la, b, lb + 1);
	return p;
}

int fs_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof tmp)
		return err_set(ERR_INVAL, "%s: bad folder name", path);
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(tmp, mode) != 0 && errno != EEXIST)
				return err_sys("mkdir %s", tmp);
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

int fs_mkdir_parent(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];

	if (strlen(path) >= sizeof tmp)
		return err_set(ERR_INVAL, "%s: path too long", path);
	snprintf(tmp, sizeof tmp, "%s", path);
	return fs_mkdir_p(dirname(tmp), mode);
}

int fs_fsync_dir(const char *path)
{
	int fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_sys("open %s", path);
	if (fsync(fd) != 0)
		r = err_sys("fsync %s", path);
	close(fd);
	return r;
}

int fs_fsync_parent(const char *path)
{
	char tmp[PATH_MAX];

	if (strlen(path) >= sizeof tmp)
		return err_set(ERR_INVAL, "%s: path too long", path);
	snprintf(tmp, sizeof tmp, "%s", path);
	return fs_fsync_dir(dirname(tmp));
}

int fs_read_file(const char *path, size_t max, struct buf *b)
{
	char chunk[16384];
	struct stat st;
	size_t total = 0;
	ssize_t n;
	int fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return err_sys("%s", path);
	if (fstat(fd, &st) != 0) {
		r = err_sys("%s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = err_set(ERR_INVAL, "%s: not a regular file", path);
		goto out;
	}
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = err_sys("read %s", path);
			goto out;
		}
		total += (size_t)n;
		if (total > max) {
			r = err_set(ERR_TOOBIG, "%s: larger than %zu bytes", path, max);
			goto out;
		}
		if ((r = buf_add(b, chunk, (size_t)n)) != 0)
			goto out;
	}
out:
	close(fd);
	return r;
}

int fs_write_all(int fd, const void *data, size_t len, const char *what)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_sys("write %s", what);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode)
{
	char tmp[PATH_MAX];
	int fd, r;

	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof tmp)
		return err_set(ERR_INVAL, "%s: path too long", path);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, mode)) < 0)
		return err_sys("create %s", tmp);
	if ((r = fs_write_all(fd, data, len, tmp)) == 0 && fsync(fd) != 0)
		r = err_sys("fsync %s", tmp);
	if (close(fd) != 0 && r == 0)
		r = err_sys("close %s", tmp);
	if (r == 0)
		fault_point("write-atomic-tmp");
	if (r == 0 && rename(tmp, path) != 0)
		r = err_sys("rename %s", path);
	if (r != 0) {
		unlink(tmp);
		return r;
	}
	return fs_fsync_parent(path);
}

int fs_commit_upload(int fd, int dirfd, const char *tmp, const char *base,
    int noreplace)
{
	int dfd, e, r = 0;

	if (fsync(fd) != 0)
		return err_sys("fsync %s", tmp);
	if (renameat2(dirfd, tmp, dirfd, base, noreplace ? RENAME_NOREPLACE : 0))
		return err_sys("rename %s to %s", tmp, base);
	/* The new name is durable only once the folder is. */
	if ((dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_sys("open the folder of %s", base);
	if (fsync(dfd) != 0)
		r = err_sys("fsync the folder of %s", base);
	e = errno;
	close(dfd);
	errno = e;
	return r;
}

static int rm_one(const char *p, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP ? rmdir(p) : unlink(p))
		return errno == ENOENT ? 0 : -1;
	return 0;
}

int fs_rm_rf(const char *path)
{
	if (!fs_exists(path))
		return 0;
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0)
		return err_sys("remove %s", path);
	return 0;
}

int fs_copy_fd(int in, const char *what, const char *dst, mode_t mode)
{
	char chunk[65536];
	int out, r = 0;
	ssize_t n;

	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, mode)) < 0)
		return err_sys("create %s", dst);
	while ((n = read(in, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = err_sys("read %s", what);
			break;
		}
		if ((r = fs_write_all(out, chunk, (size_t)n, dst)) != 0)
			break;
	}
	if (r == 0 && fsync(out) != 0)
		r = err_sys("fsync %s", dst);
	if (close(out) != 0 && r == 0)
		r = err_sys("close %s", dst);
	if (r != 0)
		unlink(dst);
	return r;
}

int fs_copy_file(const char *src, const char *dst, mode_t mode)
{
	int in, r;

	if ((in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return err_sys("%s", src);
	r = fs_copy_fd(in, src, dst, mode);
	close(in);
	return r;
}

int fs_open_beneath(int dirfd, const char *rel, int flags, int *fdp)
{
	struct open_how how;
	int fd;

	*fdp = -1;
	memset(&how, 0, sizeof how);
	how.flags = (unsigned long long)(flags | O_CLOEXEC | O_NOFOLLOW |
	    ((flags & O_PATH) ? 0 : O_NOCTTY));
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS;
	if ((fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how)) < 0) {
		if (errno == ELOOP || errno == EXDEV)
			return err_set(ERR_DENIED, "%s: a symlink on the way (changed "
			    "while being read?)", rel);
		return err_sys("%s", rel);
	}
	*fdp = fd;
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int fs_list_sorted(const char *dir, int (*keep)(const char *name),
    char ***names, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	*names = NULL;
	*count = 0;
	if (d == NULL)
		return err_sys("%s", dir);
	while ((de = readdir(d)) != NULL) {
		if (!keep(de->d_name))
			continue;
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof *v, cmp_name);
	*names = v;
	*count = n;
	return 0;
}

void fs_list_free(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

void fs_fileids(const char *const *paths, size_t npaths,
    struct fs_fileid *ids, size_t *nids)
{
	struct stat st;

	*nids = 0;
	for (size_t i = 0; i < npaths; i++)
		if (stat(paths[i], &st) == 0) {
			ids[*nids].dev = st.st_dev;
			ids[*nids].ino = st.st_ino;
			(*nids)++;
		}
}

void fs_writeback(int fd, off_t off, off_t len)
{
	(void)sync_file_range(fd, off, len, SYNC_FILE_RANGE_WRITE);
}

int fs_stamp(const char *path, struct fs_stamp *st)
{
	struct stat sb;

	memset(st, 0, sizeof *st);
	if (lstat(path, &sb) != 0)
		return err_sys("%s", path);
	if (!S_ISREG(sb.st_mode))
		return err_set(ERR_INVAL, "%s: not a regular file", path);
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
	st->ctime = sb.st_ctim;
	return 0;
}

static int same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

int fs_stamp_same(const struct fs_stamp *a, const struct fs_stamp *b,
    int how)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    same_time(&a->mtime, &b->mtime) &&
	    (how == FS_STAMP_RENAMED || same_time(&a->ctime, &b->ctime));
}

static int pid_has_open(const char *pid, const struct fs_fileid *ids,
    size_t nids)
{
	char dir[300], fd[600];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int found = 0;

	snprintf(dir, sizeof dir, "/proc/%s/fd", pid);
	if ((d = opendir(dir)) == NULL)
		return 0;		/* gone, or not ours to see */
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(fd, sizeof fd, "%s/%s", dir, de->d_name);
		if (stat(fd, &st) != 0)
			continue;
		for (size_t i = 0; i < nids; i++)
			if (st.st_dev == ids[i].dev && st.st_ino == ids[i].ino)
				found = 1;
	}
	closedir(d);
	return found;
}

int fs_open_elsewhere(const struct fs_fileid *ids, size_t nids, pid_t *pid,
    char *comm, size_t commsz)
{
	struct dirent *de;
	DIR *d;
	pid_t self = getpid();
	int found = 0;

	if (nids == 0 || (d = opendir("/proc")) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		char *end;
		long p = strtol(de->d_name, &end, 10);
		if (*end || p <= 0 || (pid_t)p == self)
			continue;
		if (pid_has_open(de->d_name, ids, nids)) {
			char path[64];
			struct buf b = BUF_INIT(64);
			found = 1;
			*pid = (pid_t)p;
			snprintf(path, sizeof path, "/proc/%ld/comm", p);
			snprintf(comm, commsz, "?");
			if (fs_read_file(path, 64, &b) == 0 && b.len > 0) {
				b.p[b.len - 1] = '\0';	/* its newline */
				snprintf(comm, commsz, "%s", b.p);
			}
			buf_free(&b);
		}
	}
	closedir(d);
	return found;
}
