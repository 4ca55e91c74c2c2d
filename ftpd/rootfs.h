/* rootfs.h: the files root as both file servers see it, one policy for FTP
 * (ftp.c) and SFTP (sftp.c), so that a rule fixed for one holds for the
 * other (docs/ftpd.md, "Files root policy"):
 * - virtual paths: "/" is the files root; every path is resolved beneath
 *   it with openat2(RESOLVE_IN_ROOT), so no "..", absolute path or
 *   symlink leads out of it; changes act on the last name relative to the
 *   parent folder opened that way;
 * - internal names: any component starting with ".nodebak" is invisible
 *   and inaccessible to everyone;
 * - the role table: what each role may list, read, write, delete and
 *   rename, where, whether it follows symlinks and whether it may see
 *   private keys;
 * - private keys, by name (*.key in any case) and by content (common/
 *   crypto.c), hidden from roles that may not read them;
 * - upload modes: a new file's mode less the configured umask, a
 *   replaced file's mode kept, a private key never left readable by
 *   group or others;
 * - the Landlock sandbox that confines a session process to the root.
 * Functions return 0 or a negative ERR_* code: ERR_NOTFOUND (internal
 * name), ERR_DENIED (the role, a private key), ERR_INVAL (a path that
 * cannot be), or ERR_SYS with errno kept from the failing call; the
 * servers map these to their protocol's replies. */
#ifndef NODEBAK_ROOTFS_H
#define NODEBAK_ROOTFS_H
#include <stddef.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "users.h"

struct buf;

#define ROOTFS_PATH_MAX 4096	/* longest virtual path rootfs_normalise() takes */
#define ROOTFS_INTERNAL_PREFIX ".nodebak"

/* What a request does to a path (the columns of the role table). */
enum rootfs_op {
	ROOTFS_LIST = 1,	/* see it: stat, list a folder, read a link */
	ROOTFS_READ = 2,	/* download a file's bytes */
	ROOTFS_WRITE = 4,	/* create, upload, make a folder, set attributes */
	ROOTFS_DELETE = 8,	/* remove a file or a folder */
	ROOTFS_RENAME = 16,	/* either end of a rename */
};

struct rootfs_role;		/* one row of the role table (rootfs.c) */

#define ROOTFS_UMASK 0027	/* [ftpd] umask's default */
#define ROOTFS_NEW_FILE 0666	/* a new file's mode before the umask */

struct rootfs {
	int rootfd;		/* O_PATH descriptor of the files root */
	const struct rootfs_role *role;
	mode_t umask;		/* taken from new files' and folders' modes */
};

/* Open the files root at dir for role (ROLE_NONE may do nothing until
 * rootfs_set_role()). 0, or ERR_SYS naming dir. */
int rootfs_open(struct rootfs *fs, const char *dir, enum role role);
void rootfs_set_role(struct rootfs *fs, enum role role);
/* The bits taken from a new file's or folder's mode ([ftpd] umask;
 * rootfs_open() sets ROOTFS_UMASK). */
void rootfs_set_umask(struct rootfs *fs, mode_t umask);
void rootfs_close(struct rootfs *fs);

/* 1 when a file name of n bytes is internal (starts with ".nodebak"). */
int rootfs_internal(const char *name, size_t n);

/* Normalise the client's path p (len bytes, relative paths are taken from
 * "/") into the virtual absolute path out ("/" or "/a/b"), lexically: "."
 * and empty components dropped, ".." stops at "/". ERR_INVAL for a NUL
 * byte or a path longer than ROOTFS_PATH_MAX. (FTP's paths, relative to a
 * working folder and without control bytes, are ftp_vpath()'s.) */
int rootfs_normalise(const char *p, size_t len, struct buf *out);

/* 0 when the role may do op (a ROOTFS_* bit) at all, else ERR_DENIED. */
int rootfs_may(const struct rootfs *fs, unsigned op);
/* 0 when the role may do op on the virtual path vpath (a normalised
 * path), by its name alone: ERR_NOTFOUND for an internal name,
 * ERR_DENIED for the role (outside its folders, a change to "/", a *.key
 * name it may not see). Every function below checks this itself; a server
 * calls it first only to choose its reply. */
int rootfs_check(const struct rootfs *fs, const char *vpath, unsigned op);
/* 1 when the entry name of the folder vdir (open as dirfd, from which name
 * is looked at without following it) is listed for the role: not internal,
 * within its folders, and not a private key by name or content when the
 * role may not see keys. "." and ".." are listed. */
int rootfs_visible(const struct rootfs *fs, const char *vdir, int dirfd,
    const char *name);

/* Open vpath for op with open(2) flags (O_CLOEXEC and, unless O_PATH,
 * O_NOCTTY are added). A ROOTFS_READ or ROOTFS_LIST open of a regular
 * file that holds a private key is ERR_DENIED for a role that may not
 * see keys. *fdp: the new descriptor. */
int rootfs_openat(const struct rootfs *fs, const char *vpath, unsigned op,
    int flags, mode_t mode, int *fdp);
/* Check op on vpath, open the folder holding it (O_PATH) and point *basep
 * into vpath at the last component. ERR_INVAL for "/" itself. */
int rootfs_parent(const struct rootfs *fs, const char *vpath, unsigned op,
    int *dirfdp, const char **basep);
/* stat (follow: 1) or lstat (0) of vpath (ROOTFS_LIST); a private key
 * the role may not see is ERR_DENIED. */
int rootfs_stat(const struct rootfs *fs, const char *vpath, int follow,
    struct stat *st);
/* Make folder vpath with mode less the umask. */
int rootfs_mkdir(const struct rootfs *fs, const char *vpath, mode_t mode);
/* The same for the name base in dirfd (from rootfs_parent()). */
int rootfs_mkdirat(const struct rootfs *fs, int dirfd, const char *base,
    mode_t mode);
int rootfs_rmdir(const struct rootfs *fs, const char *vpath);
int rootfs_unlink(const struct rootfs *fs, const char *vpath);
/* Rename; noreplace: fail with EEXIST when to exists. */
int rootfs_rename(const struct rootfs *fs, const char *from, const char *to,
    int noreplace);
/* The target of symlink vpath, appended to out. */
int rootfs_readlink(const struct rootfs *fs, const char *vpath,
    struct buf *out);
int rootfs_statvfs(const struct rootfs *fs, const char *vpath,
    struct statvfs *sv);

/* Uploads (docs/ftpd.md, "Upload modes"), the one rule for FTP and SFTP:
 * the data goes to a hidden file ".nodebak-upload-XXXXXX" beside the
 * target base in dirfd, which rootfs_upload_commit() renames over it.
 * rootfs_upload_create() makes that file, exactly with the mode the
 * upload will have whatever the process umask: the mode of the regular
 * file it replaces (old: its lstat; NULL for a new file), else want (the
 * client's permission bits, ROOTFS_NEW_FILE when it names none) less the
 * umask. *fdp (read-write) and its name in tmpname (size >= 32). */
int rootfs_upload_create(const struct rootfs *fs, int dirfd,
    const struct stat *old, mode_t want, int *fdp, char *tmpname,
    size_t tmpsz);
/* Keep the first n bytes of the old file src in the upload file dst
 * (resumed and appending uploads, and SFTP's open without truncation):
 * only the data is copied and holes stay holes, so keeping a sparse file
 * costs its data, not its size; dst ends n bytes long, its position at
 * n. 0, or ERR_SYS or ERR_IO with errno set. */
int rootfs_upload_keep(int src, int dst, off_t n);
/* Make the upload durable and rename it over base (noreplace: fail with
 * EEXIST when base exists), after the key rule: a file that holds a
 * private key loses every group and other bit. 0, or ERR_SYS with errno
 * kept. The caller still closes fd and, on failure, removes tmp. */
int rootfs_upload_commit(const struct rootfs *fs, int fd, int dirfd,
    const char *tmp, const char *base, int noreplace);
/* fchmod(fd, mode & 0777) after the key rule (a private key keeps no
 * group or other bit): SFTP's SETSTAT. 0 or ERR_SYS. */
int rootfs_fchmod(const struct rootfs *fs, int fd, mode_t mode);

/* Restrict this process (Landlock) to the files root for good: to be
 * called once the session has everything else it needs open (the TLS
 * pair, the xferlog file, the time zone). Read and write before the role
 * is known (ROLE_NONE); read only for a role that changes nothing; call
 * it again once the role is set to narrow it (each call adds a layer).
 * No signals to processes outside the sandbox. 0 also when the kernel
 * has no Landlock; ERR_SYS when it has and it failed. */
int rootfs_lockdown(const struct rootfs *fs);

#endif
