/* sftp_fs.c: the files root as the SFTP server sees it: virtual paths, role
 * rules and confined file system calls (see sftp_fs.h). Every path a client
 * names goes through sfs_normalise() and sfs_allowed(), then reaches the
 * disk only through openat2(RESOLVE_IN_ROOT) on the root descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "sftp_fs.h"
#include "banned.h"

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE	/* Linux 6.2; headers may be older */
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

#define INTERNAL_PREFIX ".nodebak"
#define BACKUPS "backups"

static int sys_openat2(int dirfd, const char *path, int flags, mode_t mode,
    unsigned long long resolve)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	/* openat2() refuses O_PATH with any flag other than these. */
	how.flags = (unsigned long long)flags | O_CLOEXEC |
	    ((flags & O_PATH) ? 0 : O_NOCTTY);
	if (flags & (O_CREAT | O_TMPFILE))
		how.mode = mode & 07777;
	how.resolve = resolve;
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* Symlinks resolve inside the root; the readonly role follows none, so a
 * link under backups/ cannot show it a key kept elsewhere. */
static unsigned long long resolve_flags(const struct sfs *fs)
{
	unsigned long long r = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

	if (fs->readonly)
		r |= RESOLVE_NO_SYMLINKS;
	return r;
}

int sfs_open(struct sfs *fs, const char *dir, int readonly)
{
	fs->readonly = readonly;
	fs->rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->rootfd < 0)
		return err_sys("%s", dir);
	return 0;
}

void sfs_close(struct sfs *fs)
{
	if (fs->rootfd >= 0)
		close(fs->rootfd);
	fs->rootfd = -1;
}

int sfs_normalise(const char *p, size_t len, struct buf *out)
{
	size_t i = 0, n, keep;
	int r;

	buf_reset(out);
	if (len > SFS_PATH_MAX || memchr(p, '\0', len))
		return err_set(ERR_INVAL, "bad path");
	while (i < len) {
		while (i < len && p[i] == '/')
			i++;
		for (n = 0; i + n < len && p[i + n] != '/'; n++)
			;
		if (n == 0 || (n == 1 && p[i] == '.')) {
			i += n;
			continue;
		}
		if (n == 2 && p[i] == '.' && p[i + 1] == '.') {
			keep = out->len;
			while (keep > 0 && out->p[keep - 1] != '/')
				keep--;
			out->len = keep > 0 ? keep - 1 : 0;
			if (out->p)
				out->p[out->len] = '\0';
			i += n;
			continue;
		}
		if ((r = buf_addch(out, '/')) != 0 ||
		    (r = buf_add(out, p + i, n)) != 0)
			return err_set(ERR_INVAL, "path too long");
		i += n;
	}
	if (out->len == 0)
		return buf_addch(out, '/');
	return 0;
}

static int is_key_name(const char *name)
{
	size_t n = strlen(name);

	return n >= 4 && !strcmp(name + n - 4, ".key");
}

int sfs_allowed(const struct sfs *fs, const char *vpath, int write)
{
	const char *c = vpath, *last = vpath;

	for (c = vpath; (c = strchr(c, '/')) != NULL; c++) {
		last = c + 1;
		if (!strncmp(c + 1, INTERNAL_PREFIX, strlen(INTERNAL_PREFIX)))
			return err_set(ERR_NOTFOUND, "no such file");
	}
	if (write && !strcmp(vpath, "/"))
		return err_set(ERR_DENIED, "the root cannot be changed");
	if (!fs->readonly)
		return 0;
	if (write)
		return err_set(ERR_DENIED, "read-only user");
	if (!strcmp(vpath, "/") || !strcmp(vpath, "/" BACKUPS))
		return 0;
	if (strncmp(vpath, "/" BACKUPS "/", strlen(BACKUPS) + 2) ||
	    is_key_name(last))
		return err_set(ERR_DENIED, "read-only user");
	return 0;
}

int sfs_visible(const struct sfs *fs, const char *vdir, const char *name)
{
	struct buf p = BUF_INIT(SFS_PATH_MAX + 256);
	int ok;

	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 1;
	if (!strncmp(name, INTERNAL_PREFIX, strlen(INTERNAL_PREFIX)))
		return 0;
	if (!fs->readonly)
		return 1;
	if (buf_addf(&p, "%s/%s", strcmp(vdir, "/") ? vdir : "", name) != 0)
		return 0;
	ok = sfs_allowed(fs, p.p, 0) == 0;
	buf_free(&p);
	return ok;
}

/* "/a/b" -> "a/b"; "/" -> ".". */
static const char *rel(const char *vpath)
{
	return vpath[1] ? vpath + 1 : ".";
}

int sfs_openat(const struct sfs *fs, const char *vpath, int flags,
    mode_t mode, int *fdp)
{
	int fd;

	*fdp = -1;
	if ((fd = sys_openat2(fs->rootfd, rel(vpath), flags, mode,
	    resolve_flags(fs))) < 0)
		return err_sys("%s", vpath);
	*fdp = fd;
	return 0;
}

int sfs_parent(const struct sfs *fs, const char *vpath, int *dirfdp,
    const char **basep)
{
	const char *slash = strrchr(vpath, '/');
	char dir[SFS_PATH_MAX + 2];
	size_t n;

	*dirfdp = -1;
	*basep = NULL;
	if (!slash || !slash[1])
		return err_set(ERR_INVAL, "no parent");
	n = (size_t)(slash - vpath);
	if (n == 0)
		n = 1;
	if (n >= sizeof(dir))
		return err_set(ERR_INVAL, "path too long");
	memcpy(dir, vpath, n);
	dir[n] = '\0';
	*basep = slash + 1;
	return sfs_openat(fs, dir, O_PATH | O_DIRECTORY, 0, dirfdp);
}

int sfs_stat(const struct sfs *fs, const char *vpath, int follow,
    struct stat *st)
{
	const char *base;
	int fd, r;

	if (follow || !strcmp(vpath, "/")) {
		if ((r = sfs_openat(fs, vpath, O_PATH, 0, &fd)) != 0)
			return r;
		r = fstat(fd, st) ? err_sys("%s", vpath) : 0;
	} else {
		if ((r = sfs_parent(fs, vpath, &fd, &base)) != 0)
			return r;
		r = fstatat(fd, base, st, AT_SYMLINK_NOFOLLOW) ?
		    err_sys("%s", vpath) : 0;
	}
	close(fd);
	return r;
}

int sfs_mkdir(const struct sfs *fs, const char *vpath, mode_t mode)
{
	const char *base;
	int fd, r;

	if ((r = sfs_parent(fs, vpath, &fd, &base)) != 0)
		return r;
	r = mkdirat(fd, base, mode & 0777) ? err_sys("%s", vpath) : 0;
	close(fd);
	return r;
}

static int unlink_common(const struct sfs *fs, const char *vpath, int flag)
{
	const char *base;
	int fd, r;

	if ((r = sfs_parent(fs, vpath, &fd, &base)) != 0)
		return r;
	r = unlinkat(fd, base, flag) ? err_sys("%s", vpath) : 0;
	close(fd);
	return r;
}

int sfs_rmdir(const struct sfs *fs, const char *vpath)
{
	return unlink_common(fs, vpath, AT_REMOVEDIR);
}

int sfs_unlink(const struct sfs *fs, const char *vpath)
{
	struct stat st;
	int r;

	/* unlinkat() without AT_REMOVEDIR already refuses folders; the
	 * lstat gives SFTP's "is a folder" a stable errno. */
	if ((r = sfs_stat(fs, vpath, 0, &st)) != 0)
		return r;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return err_sys("%s", vpath);
	}
	return unlink_common(fs, vpath, 0);
}

int sfs_rename(const struct sfs *fs, const char *from, const char *to,
    int noreplace)
{
	const char *b1, *b2;
	int fd1 = -1, fd2 = -1, r;

	if ((r = sfs_parent(fs, from, &fd1, &b1)) != 0 ||
	    (r = sfs_parent(fs, to, &fd2, &b2)) != 0)
		goto out;
	if (renameat2(fd1, b1, fd2, b2, noreplace ? RENAME_NOREPLACE : 0))
		r = err_sys("%s", from);
out:
	if (fd1 >= 0)
		close(fd1);
	if (fd2 >= 0)
		close(fd2);
	return r;
}

int sfs_readlink(const struct sfs *fs, const char *vpath, struct buf *out)
{
	char target[SFS_PATH_MAX];
	const char *base;
	ssize_t n;
	int fd, r;

	if ((r = sfs_parent(fs, vpath, &fd, &base)) != 0)
		return r;
	n = readlinkat(fd, base, target, sizeof(target));
	close(fd);
	if (n < 0)
		return err_sys("%s", vpath);
	if ((size_t)n >= sizeof(target))
		return err_set(ERR_TOOBIG, "%s: link too long", vpath);
	return buf_add(out, target, (size_t)n);
}

int sfs_statvfs(const struct sfs *fs, const char *vpath, struct statvfs *sv)
{
	int fd, r;

	if ((r = sfs_openat(fs, vpath, O_PATH, 0, &fd)) != 0)
		return r;
	r = fstatvfs(fd, sv) ? err_sys("%s", vpath) : 0;
	close(fd);
	return r;
}

int sfs_mktemp(int dirfd, mode_t mode, int *fdp, char *tmpname,
    size_t tmpsz)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[6];
	char suffix[7];
	int tries, fd, i;

	*fdp = -1;
	for (tries = 0; tries < 16; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return err_sys("getrandom");
		for (i = 0; i < 6; i++)
			suffix[i] = abc[rnd[i] % (sizeof(abc) - 1)];
		suffix[6] = '\0';
		snprintf(tmpname, tmpsz, INTERNAL_PREFIX "-upload-%s", suffix);
		fd = openat(dirfd, tmpname, O_RDWR | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, mode & 0777);
		if (fd >= 0) {
			*fdp = fd;
			return 0;
		}
		if (errno != EEXIST)
			return err_sys("upload file");
	}
	return err_sys("upload file");
}

/* Landlock: after this the process can reach no file outside the root
 * whatever path it names, a second wall behind RESOLVE_IN_ROOT. Kernels
 * without Landlock keep only the first. */
int sfs_lockdown(const struct sfs *fs)
{
	struct landlock_ruleset_attr ra;
	struct landlock_path_beneath_attr pb;
	unsigned long long all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;
	long abi;
	int rfd, r = 0;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0;
	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = all;
	if ((rfd = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra),
	    0)) < 0)
		return err_sys("landlock");
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = all & ~(LANDLOCK_ACCESS_FS_EXECUTE |
	    LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
	    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
	    LANDLOCK_ACCESS_FS_MAKE_SYM);
	pb.parent_fd = fs->rootfd;
	if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH,
	    &pb, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    syscall(SYS_landlock_restrict_self, rfd, 0) != 0)
		r = err_sys("landlock");
	close(rfd);
	return r;
}
