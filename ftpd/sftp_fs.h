/* sftp_fs.h: the SFTP server's view of the files root: virtual paths ("/"
 * is the files root), the role rules (readonly sees backups/ only and never
 * a private key; names starting with ".nodebak" are internal to everyone)
 * and every file system call made for a client, resolved inside the root
 * with openat2(RESOLVE_IN_ROOT) so that no "..", absolute path or symlink
 * leads out of it. Functions return 0 or a negative ERR_* code with errno
 * kept from the failing call, which sftp.c maps to an SFTP status. */
#ifndef NODEBAK_SFTP_FS_H
#define NODEBAK_SFTP_FS_H
#include <stddef.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

struct buf;

#define SFS_PATH_MAX 4096	/* longest virtual path accepted */

struct sfs {
	int rootfd;		/* O_PATH descriptor of the files root */
	int readonly;		/* 1: the readonly role */
};

/* Open the files root at dir. 0, or ERR_SYS naming dir. */
int sfs_open(struct sfs *fs, const char *dir, int readonly);
void sfs_close(struct sfs *fs);

/* Normalise the client's path p (len bytes, relative paths are taken from
 * "/") into the virtual absolute path out ("/" or "/a/b"), lexically: "."
 * and empty components dropped, ".." stops at "/". ERR_INVAL for a NUL
 * byte or a path longer than SFS_PATH_MAX. */
int sfs_normalise(const char *p, size_t len, struct buf *out);
/* 0 when the role may see the virtual path vpath, else ERR_NOTFOUND
 * (internal names) or ERR_DENIED (role). write: the request changes it. */
int sfs_allowed(const struct sfs *fs, const char *vpath, int write);
/* 1 when a folder entry called name in the folder vdir is listed. */
int sfs_visible(const struct sfs *fs, const char *vdir, const char *name);

/* Open vpath with open(2) flags (O_CLOEXEC and O_NOCTTY are added).
 * *fdp: the new descriptor. */
int sfs_openat(const struct sfs *fs, const char *vpath, int flags,
    mode_t mode, int *fdp);
/* Open the folder holding vpath (O_PATH) and point *basep into vpath at
 * the last component. ERR_INVAL for "/" itself. */
int sfs_parent(const struct sfs *fs, const char *vpath, int *dirfdp,
    const char **basep);
/* stat (follow: 1) or lstat (0) of vpath. */
int sfs_stat(const struct sfs *fs, const char *vpath, int follow,
    struct stat *st);
int sfs_mkdir(const struct sfs *fs, const char *vpath, mode_t mode);
int sfs_rmdir(const struct sfs *fs, const char *vpath);
int sfs_unlink(const struct sfs *fs, const char *vpath);
/* Rename; noreplace: fail with EEXIST when to exists (SFTP RENAME). */
int sfs_rename(const struct sfs *fs, const char *from, const char *to,
    int noreplace);
/* The target of symlink vpath, appended to out. */
int sfs_readlink(const struct sfs *fs, const char *vpath, struct buf *out);
int sfs_statvfs(const struct sfs *fs, const char *vpath,
    struct statvfs *sv);

/* Restrict this process (Landlock) to the files root for good: to be
 * called once the session has everything else it needs open. 0 also
 * when the kernel has no Landlock; ERR_SYS when it has and it failed. */
int sfs_lockdown(const struct sfs *fs);

/* Create a hidden upload file ".nodebak-upload-XXXXXX" in dirfd:
 * *fdp (read-write) and its name in tmpname (size >= 32). */
int sfs_mktemp(int dirfd, mode_t mode, int *fdp, char *tmpname,
    size_t tmpsz);

#endif
