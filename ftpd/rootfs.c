/* rootfs.c: the files root policy both file servers enforce (see
 * rootfs.h): the role table, internal names, private keys, resolution
 * beneath the root with openat2(RESOLVE_IN_ROOT), and Landlock. Every
 * path a client names reaches the disk only through these functions. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bak.h"
#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "fsutil.h"
#include "rootfs.h"
#include "sandbox.h"
#include "banned.h"

#define ROOTFS_ALL (ROOTFS_LIST | ROOTFS_READ | ROOTFS_WRITE | ROOTFS_DELETE | \
	ROOTFS_RENAME)
#define ROOTFS_CHANGE (ROOTFS_WRITE | ROOTFS_DELETE | ROOTFS_RENAME)

/* How much of a file is looked at for a private key: all of a file up to
 * KEY_SCAN_MAX bytes; of a bigger one its first KEY_SCAN_HEAD bytes, and
 * KEY_SCAN_MAX when those are text (a PEM bundle with the key last). */
#define KEY_SCAN_MAX (64 * 1024)
#define KEY_SCAN_HEAD 4096

/* The role table (docs/ftpd.md, "Roles"): what each role may do, where. */
struct rootfs_role {
	enum role role;
	unsigned ops;		/* ROOTFS_* it may do inside its folder */
	/* The folder it may go into (the folders above it it may list, and
	 * there sees only the way down); NULL: the whole root. */
	const char *scope;
	int follow_symlinks;	/* 0: no symlink is followed at all */
	int see_keys;		/* may list and read private keys */
};

static const struct rootfs_role roles[] = {
	{ ROLE_NONE, 0, NULL, 0, 0 },
	{ ROLE_READONLY, ROOTFS_LIST | ROOTFS_READ, "/backups", 0, 0 },
	/* The off-box puller: readonly's files, no console (users.c). */
	{ ROLE_ARCHIVER, ROOTFS_LIST | ROOTFS_READ, "/backups", 0, 0 },
	{ ROLE_ADMIN, ROOTFS_ALL, NULL, 1, 1 },
};

static const struct rootfs_role *role_row(enum role role)
{
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
		if (roles[i].role == role)
			return &roles[i];
	return &roles[0];
}

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

/* Symlinks resolve inside the root; a role that follows none (readonly,
 * archiver) cannot be shown a key kept elsewhere through a link under
 * backups/. */
static unsigned long long resolve_flags(const struct rootfs *fs)
{
	unsigned long long r = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

	if (!fs->role->follow_symlinks)
		r |= RESOLVE_NO_SYMLINKS;
	return r;
}

int rootfs_open(struct rootfs *fs, const char *dir, enum role role)
{
	fs->role = role_row(role);
	fs->umask = ROOTFS_UMASK;
	fs->rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->rootfd < 0)
		return err_sys("%s", dir);
	return 0;
}

void rootfs_set_role(struct rootfs *fs, enum role role)
{
	fs->role = role_row(role);
}

void rootfs_set_umask(struct rootfs *fs, mode_t umask)
{
	fs->umask = umask & 0777;
}

void rootfs_close(struct rootfs *fs)
{
	if (fs->rootfd >= 0)
		close(fs->rootfd);
	fs->rootfd = -1;
}

int rootfs_internal(const char *name, size_t n)
{
	size_t k = strlen(ROOTFS_INTERNAL_PREFIX);

	return n >= k && !memcmp(name, ROOTFS_INTERNAL_PREFIX, k);
}

int rootfs_normalise(const char *p, size_t len, struct buf *out)
{
	size_t i = 0, n, keep;
	int r;

	buf_reset(out);
	if (len > ROOTFS_PATH_MAX || memchr(p, '\0', len))
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

/* The last component of a normalised virtual path. */
static const char *last_name(const char *vpath)
{
	const char *slash = strrchr(vpath, '/');

	return slash ? slash + 1 : vpath;
}

/* *.key, in any case. */
static int key_name(const char *name)
{
	size_t n = strlen(name);

	return n >= 4 && !strcasecmp(name + n - 4, ".key");
}

/* vpath is dir or lies beneath it. */
static int beneath(const char *vpath, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(dir, "/"))
		return 1;
	return !strncmp(vpath, dir, n) && (vpath[n] == '\0' || vpath[n] == '/');
}

int rootfs_may(const struct rootfs *fs, unsigned op)
{
	if ((fs->role->ops & op) != op)
		return err_set(ERR_DENIED, "%s user", role_name(fs->role->role));
	return 0;
}

int rootfs_check(const struct rootfs *fs, const char *vpath, unsigned op)
{
	const struct rootfs_role *ro = fs->role;
	const char *c, *e;
	int r;

	for (c = vpath; *c; c = e) {
		while (*c == '/')
			c++;
		e = strchrnul(c, '/');
		if (rootfs_internal(c, (size_t)(e - c)))
			return err_set(ERR_NOTFOUND, "no such file");
	}
	if ((op & ROOTFS_CHANGE) && !strcmp(vpath, "/"))
		return err_set(ERR_DENIED, "the root cannot be changed");
	if ((r = rootfs_may(fs, op)) != 0)
		return r;
	/* The folders above the role's own: seen, only on the way down. */
	if (ro->scope && !beneath(vpath, ro->scope) &&
	    !(beneath(ro->scope, vpath) && !(op & ROOTFS_CHANGE)))
		return err_set(ERR_DENIED, "%s user", role_name(ro->role));
	if (!ro->see_keys && key_name(last_name(vpath)))
		return err_set(ERR_DENIED, "%s: private key", vpath);
	return 0;
}

/* 1 when fd, a regular file, holds a private key (a bounded read; a file
 * that cannot be read is not one); then *plain says whether it is an
 * archive in clear, else 0. */
static int scan_content(int fd, int *plain)
{
	static unsigned char b[KEY_SCAN_MAX];
	struct stat st;
	size_t want;
	ssize_t n, m;

	*plain = 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	want = st.st_size <= KEY_SCAN_MAX ? (size_t)st.st_size : KEY_SCAN_HEAD;
	if ((n = pread(fd, b, want, 0)) <= 0)
		return 0;
	if (st.st_size > KEY_SCAN_MAX && !memchr(b, '\0', (size_t)n) &&
	    (m = pread(fd, b + n, KEY_SCAN_MAX - (size_t)n, n)) > 0)
		n += m;
	if (crypto_looks_like_private_key(b, (size_t)n))
		return 1;
	*plain = bak_classify(b, (size_t)n) == BAK_PLAIN;
	return 0;
}

/* ERR_DENIED when fd, a regular file, holds a private key, or, when
 * reading, an archive in clear: its members are the node's private keys
 * (docs/ftpd.md "Roles": listed, never downloaded by a role that may not
 * see keys). */
static int key_content(int fd, const char *what, int reading)
{
	int plain;

	if (scan_content(fd, &plain))
		return err_set(ERR_DENIED, "%s: private key", what);
	if (reading && plain)
		return err_set(ERR_DENIED, "%s: an archive in clear holds the node's "
		    "private keys: only admin may download it (encrypted archives, "
		    "[snapshotd] recipients, may be downloaded)", what);
	return 0;
}

/* The key rule for the entry name of dirfd, not followed. */
static int key_content_at(const struct rootfs *fs, int dirfd,
    const char *name, const char *what)
{
	struct stat st;
	int fd, r;

	if (fs->role->see_keys ||
	    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode))
		return 0;
	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC)) < 0)
		return 0;
	r = key_content(fd, what, 0);
	close(fd);
	return r;
}

int rootfs_visible(const struct rootfs *fs, const char *vdir, int dirfd,
    const char *name)
{
	char p[ROOTFS_PATH_MAX + 256];
	int n;

	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 1;
	if (rootfs_internal(name, strlen(name)))
		return 0;
	n = snprintf(p, sizeof p, "%s/%s", strcmp(vdir, "/") ? vdir : "", name);
	if (n < 0 || (size_t)n >= sizeof p)
		return 0;
	if (rootfs_check(fs, p, ROOTFS_LIST) != 0)
		return 0;
	return key_content_at(fs, dirfd, name, p) == 0;
}

/* "/a/b" -> "a/b"; "/" -> ".". */
static const char *rel(const char *vpath)
{
	return vpath[1] ? vpath + 1 : ".";
}

/* Open vpath beneath the root, no policy. */
static int open_beneath(const struct rootfs *fs, const char *vpath,
    int flags, mode_t mode, int *fdp)
{
	int fd;

	*fdp = -1;
	if ((fd = sys_openat2(fs->rootfd, rel(vpath), flags, mode,
	    resolve_flags(fs))) < 0)
		return err_sys("%s", vpath);
	*fdp = fd;
	return 0;
}

int rootfs_openat(const struct rootfs *fs, const char *vpath, unsigned op,
    int flags, mode_t mode, int *fdp)
{
	int r;

	*fdp = -1;
	if ((r = rootfs_check(fs, vpath, op)) != 0 ||
	    (r = open_beneath(fs, vpath, flags, mode, fdp)) != 0)
		return r;
	if ((op & (ROOTFS_READ | ROOTFS_LIST)) && !fs->role->see_keys &&
	    !(flags & O_PATH) && (r = key_content(*fdp, vpath,
	    (op & ROOTFS_READ) != 0)) != 0) {
		close(*fdp);
		*fdp = -1;
	}
	return r;
}

int rootfs_parent(const struct rootfs *fs, const char *vpath, unsigned op,
    int *dirfdp, const char **basep)
{
	const char *slash = strrchr(vpath, '/');
	char dir[ROOTFS_PATH_MAX + 2];
	size_t n;
	int r;

	*dirfdp = -1;
	*basep = NULL;
	if ((r = rootfs_check(fs, vpath, op)) != 0)
		return r;
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
	return open_beneath(fs, dir, O_PATH | O_DIRECTORY, 0, dirfdp);
}

/* stat of vpath following it; a regular file the role may not see as a
 * key is looked at through a second, readable open of the same file. */
static int stat_follow(const struct rootfs *fs, const char *vpath,
    struct stat *st)
{
	struct stat st2;
	int fd, r;

	if ((r = open_beneath(fs, vpath, O_PATH, 0, &fd)) != 0)
		return r;
	r = fstat(fd, st) ? err_sys("%s", vpath) : 0;
	close(fd);
	if (r || fs->role->see_keys || !S_ISREG(st->st_mode))
		return r;
	if ((r = open_beneath(fs, vpath, O_RDONLY | O_NONBLOCK, 0, &fd)) != 0)
		return r;
	if (fstat(fd, &st2) != 0 || st2.st_ino != st->st_ino ||
	    st2.st_dev != st->st_dev)
		r = err_set(ERR_NOTFOUND, "%s: changed while looked at", vpath);
	else
		r = key_content(fd, vpath, 0);
	close(fd);
	return r;
}

int rootfs_stat(const struct rootfs *fs, const char *vpath, int follow,
    struct stat *st)
{
	const char *base;
	int fd, r;

	if ((r = rootfs_check(fs, vpath, ROOTFS_LIST)) != 0)
		return r;
	if (follow || !strcmp(vpath, "/"))
		return stat_follow(fs, vpath, st);
	if ((r = rootfs_parent(fs, vpath, ROOTFS_LIST, &fd, &base)) != 0)
		return r;
	r = fstatat(fd, base, st, AT_SYMLINK_NOFOLLOW) ?
	    err_sys("%s", vpath) : key_content_at(fs, fd, base, vpath);
	close(fd);
	return r;
}

int rootfs_mkdirat(const struct rootfs *fs, int dirfd, const char *base,
    mode_t mode)
{
	if (mkdirat(dirfd, base, mode & 0777 & ~fs->umask) != 0)
		return err_sys("%s", base);
	return 0;
}

int rootfs_mkdir(const struct rootfs *fs, const char *vpath, mode_t mode)
{
	const char *base;
	int fd, r;

	if ((r = rootfs_parent(fs, vpath, ROOTFS_WRITE, &fd, &base)) != 0)
		return r;
	r = rootfs_mkdirat(fs, fd, base, mode) ? err_sys("%s", vpath) : 0;
	close(fd);
	return r;
}

static int unlink_common(const struct rootfs *fs, const char *vpath,
    int flag)
{
	const char *base;
	int fd, r;

	if ((r = rootfs_parent(fs, vpath, ROOTFS_DELETE, &fd, &base)) != 0)
		return r;
	r = unlinkat(fd, base, flag) ? err_sys("%s", vpath) : 0;
	close(fd);
	return r;
}

int rootfs_rmdir(const struct rootfs *fs, const char *vpath)
{
	return unlink_common(fs, vpath, AT_REMOVEDIR);
}

int rootfs_unlink(const struct rootfs *fs, const char *vpath)
{
	struct stat st;
	int r;

	/* unlinkat() without AT_REMOVEDIR already refuses folders; the
	 * lstat gives SFTP's "is a folder" a stable errno. */
	if ((r = rootfs_check(fs, vpath, ROOTFS_DELETE)) != 0 ||
	    (r = rootfs_stat(fs, vpath, 0, &st)) != 0)
		return r;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return err_sys("%s", vpath);
	}
	return unlink_common(fs, vpath, 0);
}

int rootfs_rename(const struct rootfs *fs, const char *from, const char *to,
    int noreplace)
{
	const char *b1, *b2;
	int fd1 = -1, fd2 = -1, r;

	if ((r = rootfs_check(fs, from, ROOTFS_RENAME)) != 0 ||
	    (r = rootfs_check(fs, to, ROOTFS_RENAME)) != 0 ||
	    (r = rootfs_parent(fs, from, ROOTFS_RENAME, &fd1, &b1)) != 0 ||
	    (r = rootfs_parent(fs, to, ROOTFS_RENAME, &fd2, &b2)) != 0)
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

int rootfs_readlink(const struct rootfs *fs, const char *vpath,
    struct buf *out)
{
	char target[ROOTFS_PATH_MAX];
	const char *base;
	ssize_t n;
	int fd, r;

	if ((r = rootfs_parent(fs, vpath, ROOTFS_LIST, &fd, &base)) != 0)
		return r;
	n = readlinkat(fd, base, target, sizeof(target));
	close(fd);
	if (n < 0)
		return err_sys("%s", vpath);
	if ((size_t)n >= sizeof(target))
		return err_set(ERR_TOOBIG, "%s: link too long", vpath);
	return buf_add(out, target, (size_t)n);
}

int rootfs_statvfs(const struct rootfs *fs, const char *vpath,
    struct statvfs *sv)
{
	int fd, r;

	if ((r = rootfs_openat(fs, vpath, ROOTFS_LIST, O_PATH, 0, &fd)) != 0)
		return r;
	r = fstatvfs(fd, sv) ? err_sys("%s", vpath) : 0;
	close(fd);
	return r;
}

/* The mode rule for the file fd is about to become: a private key keeps
 * no group or other bit, whatever mode says (docs/ftpd.md, "Upload
 * modes"). */
static mode_t key_mode(int fd, mode_t mode)
{
	int plain;

	return scan_content(fd, &plain) ? mode & ~(mode_t)077 : mode;
}

int rootfs_upload_create(const struct rootfs *fs, int dirfd,
    const struct stat *old, mode_t want, int *fdp, char *tmpname,
    size_t tmpsz)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	mode_t mode = old && S_ISREG(old->st_mode) ? old->st_mode & 0777 :
	    want & 0777 & ~fs->umask;
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
		snprintf(tmpname, tmpsz, ROOTFS_INTERNAL_PREFIX "-upload-%s", suffix);
		/* Created 0600, the mode set once nobody else can have it open:
		 * the process umask does not decide it. */
		fd = openat(dirfd, tmpname, O_RDWR | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			if (fchmod(fd, mode) != 0) {
				i = errno;
				close(fd);
				unlinkat(dirfd, tmpname, 0);
				errno = i;
				return err_sys("upload file");
			}
			*fdp = fd;
			return 0;
		}
		if (errno != EEXIST)
			return err_sys("upload file");
	}
	return err_sys("upload file");
}

/* Copy [off, end) of src to the same offsets of dst. 0, or ERR_SYS or
 * ERR_IO with errno set. */
static int copy_range(int src, int dst, off_t off, off_t end)
{
	char b[65536];
	off_t in = off, out = off;
	ssize_t c;

	while (in < end) {
		c = copy_file_range(src, &in, dst, &out, (size_t)(end - in), 0);
		if (c < 0 && (errno == EXDEV || errno == ENOSYS ||
		    errno == EINVAL || errno == EOPNOTSUPP)) {
			c = pread(src, b, end - in < (off_t)sizeof b ?
			    (size_t)(end - in) : sizeof b, in);
			if (c > 0 && pwrite(dst, b, (size_t)c, out) != c)
				return err_sys("copy");
			if (c > 0) {
				in += c;
				out += c;
			}
		}
		if (c < 0 && errno == EINTR)
			continue;
		if (c < 0)
			return err_sys("copy");
		if (c == 0) {
			errno = EIO;
			return err_set(ERR_IO, "the old file shrank while it was copied");
		}
	}
	return 0;
}

int rootfs_upload_keep(int src, int dst, off_t n)
{
	off_t pos = 0, data, hole;
	int r;

	while (pos < n) {
		if ((data = lseek(src, pos, SEEK_DATA)) < 0) {
			if (errno == ENXIO)
				break;		/* only a hole is left */
			if (errno != EINVAL && errno != EOPNOTSUPP)
				return err_sys("copy");
			data = pos;		/* no SEEK_DATA here: copy it all */
			hole = n;
		} else if ((hole = lseek(src, data, SEEK_HOLE)) < 0)
			return err_sys("copy");
		if (data >= n)
			break;
		if (hole > n)
			hole = n;
		if ((r = copy_range(src, dst, data, hole)) != 0)
			return r;
		pos = hole;
	}
	if (ftruncate(dst, n) != 0 || lseek(dst, n, SEEK_SET) != n)
		return err_sys("copy");
	return 0;
}

int rootfs_upload_commit(const struct rootfs *fs, int fd, int dirfd,
    const char *tmp, const char *base, int noreplace)
{
	struct stat st;
	mode_t mode;

	(void)fs;
	if (fstat(fd, &st) != 0)
		return err_sys("%s", tmp);
	mode = key_mode(fd, st.st_mode & 0777);
	if (mode != (st.st_mode & 0777) && fchmod(fd, mode) != 0)
		return err_sys("%s", base);
	return fs_commit_upload(fd, dirfd, tmp, base, noreplace);
}

int rootfs_fchmod(const struct rootfs *fs, int fd, mode_t mode)
{
	(void)fs;
	if (fchmod(fd, key_mode(fd, mode & 0777)) != 0)
		return err_sys("chmod");
	return 0;
}

/* Landlock: after this the process can reach no file outside the root
 * whatever path it names, a second wall behind RESOLVE_IN_ROOT. Kernels
 * without Landlock keep only the first. Before the role is known
 * (ROLE_NONE) the root may be read and changed, as the widest role may;
 * a role that changes nothing may then only read it, in a layer of its
 * own. Signals and abstract sockets outside the sandbox are refused too:
 * a session that keeps uid 0 must not signal the daemons. */
int rootfs_lockdown(const struct rootfs *fs)
{
	struct sandbox_rule rule = { fs->rootfd, SANDBOX_READ };

	if (fs->role->role == ROLE_NONE || (fs->role->ops & ROOTFS_CHANGE))
		rule.access |= SANDBOX_WRITE;
	return sandbox_restrict(&rule, 1, SANDBOX_SCOPED);
}
