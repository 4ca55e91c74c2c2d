/* fsutil.h: durable file operations: atomic replace, fsync of folders,
 * bounded reads, recursive removal. All return 0 or an ERR_* code with
 * err_msg() naming the path. */
#ifndef NODEBAK_FSUTIL_H
#define NODEBAK_FSUTIL_H
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct buf;

int fs_mkdir_p(const char *path, mode_t mode);
/* fs_mkdir_p() of the folder that holds path. */
int fs_mkdir_parent(const char *path, mode_t mode);
/* fsync the folder at path / the folder holding path. */
int fs_fsync_dir(const char *path);
int fs_fsync_parent(const char *path);
/* Read a whole regular file of at most max bytes into b (appended). */
int fs_read_file(const char *path, size_t max, struct buf *b);
/* Write data to path via a temporary file in the same folder, fsync it,
 * rename it over path and fsync the folder. */
int fs_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode);
/* Make an upload durable under its final name, the rule both file servers
 * (FTP STOR, SFTP CLOSE) follow before they tell the client it is stored:
 * fd was written as tmp in the folder dirfd (an O_PATH descriptor will
 * do); fsync fd, rename tmp to base in the same folder (noreplace: fail
 * with EEXIST when base exists), fsync the folder. 0, or ERR_* with errno
 * kept from the failing call; tmp is then left for the caller to remove
 * when the rename was not done. */
int fs_commit_upload(int fd, int dirfd, const char *tmp, const char *base,
    int noreplace);
/* Write all of len bytes to fd (retrying short writes). */
int fs_write_all(int fd, const void *data, size_t len, const char *what);
/* Start writing len bytes of fd from off back to the disk now
 * (sync_file_range(2), SYNC_FILE_RANGE_WRITE, which does not wait), so
 * that the fsync closing a large file finds little left to write. Only
 * advice: fsync is what makes the bytes durable, and reports errors. */
void fs_writeback(int fd, off_t off, off_t len);
#define FS_WRITEBACK_CHUNK (8u << 20)	/* how much to write back at once */
/* Remove path and everything under it, never following symlinks.
 * A missing path is not an error. */
int fs_rm_rf(const char *path);
/* Copy regular file src to dst (created exclusively, mode), fsynced. */
int fs_copy_file(const char *src, const char *dst, mode_t mode);
/* The same from the open descriptor in (at its position; what names it
 * in errors); in stays open. */
int fs_copy_fd(int in, const char *what, const char *dst, mode_t mode);
/* Open rel beneath the folder dirfd with open(2) flags (O_CLOEXEC,
 * O_NOFOLLOW and, unless O_PATH, O_NOCTTY added) through openat2(2)
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: no component may be a symlink,
 * ".." above dirfd or absolute, checked by the kernel at every level, so
 * a folder swapped for a symlink while this runs cannot lead outside
 * dirfd. *fdp: the descriptor. ERR_DENIED when a symlink was met, else
 * ERR_SYS (ERR_NOTFOUND for a name that went away) naming rel. */
int fs_open_beneath(int dirfd, const char *rel, int flags, int *fdp);
/* 1 if path exists (lstat), 0 if not. */
int fs_exists(const char *path);
/* The names in folder dir for which keep(name) is true, sorted bytewise:
 * *names (a new array of new strings) and *count; free with
 * fs_list_free(). */
int fs_list_sorted(const char *dir, int (*keep)(const char *name),
    char ***names, size_t *count);
void fs_list_free(char **names, size_t count);
/* The identity of a file (st_dev, st_ino), to find who has it open. */
struct fs_fileid {
	dev_t dev;
	ino_t ino;
};
/* Fill ids[] with the identities of the paths that exist (*nids of them;
 * paths that do not exist are skipped). */
void fs_fileids(const char *const *paths, size_t npaths,
    struct fs_fileid *ids, size_t *nids);
/* What changes whenever a file's bytes or metadata change: its
 * identity, size, and modification and change times to the nanosecond
 * (the kernel sets the change time on every write, chmod, link or
 * rename; no system call can set it back). git trusts its index on the
 * same fields. */
struct fs_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};
/* lstat(2) of a regular file into *st: 0, or ERR_SYS (not a regular
 * file: ERR_INVAL) naming path. */
int fs_stamp(const char *path, struct fs_stamp *st);
/* 1 when a and b are the same file with the same bytes: identity, size
 * and modification time, and the change time too unless it may have
 * moved (renamed, FS_STAMP_RENAMED); else 0. */
enum { FS_STAMP_EXACT, FS_STAMP_RENAMED };
int fs_stamp_same(const struct fs_stamp *a, const struct fs_stamp *b,
    int how);
/* 1 when a process other than this one has one of the files open (any
 * of its file descriptors): *pid and comm (its name) say which; 0 when
 * none does. Looks through /proc, so it sees every process as root and
 * this user's otherwise. */
int fs_open_elsewhere(const struct fs_fileid *ids, size_t nids, pid_t *pid,
    char *comm, size_t commsz);
/* Join a and b with one '/' into a new string (caller frees). */
char *fs_join(const char *a, const char *b);

#endif
