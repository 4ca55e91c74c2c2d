/* sftp.c: the SFTP v3 server: packet framing, the request table and the
 * handlers (see sftp.h and docs/sftp.md). Requests are handled one at a
 * time in arrival order, which gives the serial semantics the draft asks
 * for overlapping reads and writes; replies are batched and flushed
 * before the server waits for more input. All file system access goes
 * through rootfs.c, the files root policy shared with FTP. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "rootfs.h"
#include "sftp.h"
#include "xmalloc.h"
#include "banned.h"

/* Packet types (draft-ietf-secsh-filexfer-02 section 3). */
enum {
	FXP_INIT = 1, FXP_VERSION = 2, FXP_OPEN = 3, FXP_CLOSE = 4,
	FXP_READ = 5, FXP_WRITE = 6, FXP_LSTAT = 7, FXP_FSTAT = 8,
	FXP_SETSTAT = 9, FXP_FSETSTAT = 10, FXP_OPENDIR = 11,
	FXP_READDIR = 12, FXP_REMOVE = 13, FXP_MKDIR = 14, FXP_RMDIR = 15,
	FXP_REALPATH = 16, FXP_STAT = 17, FXP_RENAME = 18,
	FXP_READLINK = 19, FXP_SYMLINK = 20,
	FXP_STATUS = 101, FXP_HANDLE = 102, FXP_DATA = 103, FXP_NAME = 104,
	FXP_ATTRS = 105, FXP_EXTENDED = 200, FXP_EXTENDED_REPLY = 201,
};

enum {
	FX_OK = 0, FX_EOF = 1, FX_NO_SUCH_FILE = 2, FX_PERMISSION_DENIED = 3,
	FX_FAILURE = 4, FX_BAD_MESSAGE = 5, FX_OP_UNSUPPORTED = 8,
};

#define ATTR_SIZE	0x00000001
#define ATTR_UIDGID	0x00000002
#define ATTR_PERMISSIONS 0x00000004
#define ATTR_ACMODTIME	0x00000008
#define ATTR_EXTENDED	0x80000000

#define FXF_READ	0x01
#define FXF_WRITE	0x02
#define FXF_APPEND	0x04
#define FXF_CREAT	0x08
#define FXF_TRUNC	0x10
#define FXF_EXCL	0x20

#define HANDLE_LEN	8		/* slot (4 bytes) + generation (4) */
#define READDIR_BATCH	100
#define OUT_FLUSH	(1024 * 1024)	/* flush replies beyond this */
#define IN_CHUNK	(256 * 1024)
#define MAX_ATTR_EXT	64		/* extended attribute pairs accepted */

enum hkind { H_FREE, H_FILE, H_DIR };

struct handle {
	enum hkind kind;
	uint32_t gen;
	int fd;			/* the file, or the upload's hidden file */
	DIR *dir;
	char *vpath;
	int writable;
	/* Uploads: the folder, the hidden name and the final name. */
	int dirfd;
	char tmp[32];
	char *base;
	int excl;
	int set_times;		/* times from FSETSTAT, set at CLOSE */
	struct timespec times[2];
	unsigned long long rbytes, wbytes;
	struct timespec start;
};

struct sftp {
	const struct sftp_io *io;
	const struct sftp_params *p;
	struct rootfs fs;
	struct handle *h;
	uint32_t nh;
	uint32_t gen;
	struct buf in, out;
	struct buf path, path2, tmp;
	unsigned char *data;	/* READ scratch, SFTP_MAX_DATA bytes */
};

/* A request being parsed: every get_* fails once the bytes run out. */
struct msg {
	const unsigned char *p;
	size_t len, off;
};

struct attrs {
	uint32_t flags;
	uint64_t size;
	uint32_t uid, gid, perm, atime, mtime;
};

/* ---- parsing ---- */

static int get_u32(struct msg *m, uint32_t *v)
{
	if (m->len - m->off < 4)
		return ERR_FORMAT;
	*v = (uint32_t)m->p[m->off] << 24 | (uint32_t)m->p[m->off + 1] << 16 |
	    (uint32_t)m->p[m->off + 2] << 8 | m->p[m->off + 3];
	m->off += 4;
	return 0;
}

static int get_u64(struct msg *m, uint64_t *v)
{
	uint32_t hi, lo;
	int r;

	if ((r = get_u32(m, &hi)) != 0 || (r = get_u32(m, &lo)) != 0)
		return r;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

/* A string: *sp points into the packet (not NUL-terminated). */
static int get_str(struct msg *m, const char **sp, size_t *lenp)
{
	uint32_t n;
	int r;

	if ((r = get_u32(m, &n)) != 0)
		return r;
	if (m->len - m->off < n)
		return ERR_FORMAT;
	*sp = (const char *)m->p + m->off;
	*lenp = n;
	m->off += n;
	return 0;
}

static int get_attrs(struct msg *m, struct attrs *a)
{
	const char *s;
	size_t n;
	uint32_t count, i;
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = get_u32(m, &a->flags)) != 0)
		return r;
	if ((a->flags & ATTR_SIZE) && (r = get_u64(m, &a->size)) != 0)
		return r;
	if ((a->flags & ATTR_UIDGID) && ((r = get_u32(m, &a->uid)) != 0 ||
	    (r = get_u32(m, &a->gid)) != 0))
		return r;
	if ((a->flags & ATTR_PERMISSIONS) && (r = get_u32(m, &a->perm)) != 0)
		return r;
	if ((a->flags & ATTR_ACMODTIME) && ((r = get_u32(m, &a->atime)) != 0 ||
	    (r = get_u32(m, &a->mtime)) != 0))
		return r;
	if (!(a->flags & ATTR_EXTENDED))
		return 0;
	if ((r = get_u32(m, &count)) != 0)
		return r;
	if (count > MAX_ATTR_EXT)
		return ERR_FORMAT;
	for (i = 0; i < count; i++)
		if ((r = get_str(m, &s, &n)) != 0 || (r = get_str(m, &s, &n)) != 0)
			return r;
	return 0;
}

/* ---- replies ---- */

static int put_u32(struct buf *b, uint32_t v)
{
	unsigned char x[4] = { v >> 24, v >> 16, v >> 8, v };

	return buf_add(b, x, 4);
}

static int put_u64(struct buf *b, uint64_t v)
{
	int r;

	if ((r = put_u32(b, (uint32_t)(v >> 32))) != 0)
		return r;
	return put_u32(b, (uint32_t)v);
}

static int put_str(struct buf *b, const void *s, size_t n)
{
	int r;

	if (n > UINT32_MAX)
		return ERR_TOOBIG;
	if ((r = put_u32(b, (uint32_t)n)) != 0)
		return r;
	return n ? buf_add(b, s, n) : 0;
}

static int put_cstr(struct buf *b, const char *s)
{
	return put_str(b, s, strlen(s));
}

/* Start a reply: a length to fill in by end_reply(), the type, the id. */
static int begin_reply(struct sftp *s, int type, uint32_t id, size_t *mark)
{
	int r;

	*mark = s->out.len;
	if ((r = put_u32(&s->out, 0)) != 0 ||
	    (r = buf_addch(&s->out, (char)type)) != 0)
		return r;
	return type == FXP_VERSION ? 0 : put_u32(&s->out, id);
}

static void end_reply(struct sftp *s, size_t mark)
{
	uint32_t n = (uint32_t)(s->out.len - mark - 4);
	unsigned char *p = (unsigned char *)s->out.p + mark;

	p[0] = n >> 24;
	p[1] = n >> 16;
	p[2] = n >> 8;
	p[3] = n;
}

static const char *status_text(int code)
{
	switch (code) {
	case FX_OK: return "Success";
	case FX_EOF: return "End of file";
	case FX_NO_SUCH_FILE: return "No such file";
	case FX_PERMISSION_DENIED: return "Permission denied";
	case FX_BAD_MESSAGE: return "Bad message";
	case FX_OP_UNSUPPORTED: return "Operation unsupported";
	default: return "Failure";
	}
}

static int send_status_msg(struct sftp *s, uint32_t id, int code,
    const char *text)
{
	size_t mark;
	int r;

	if ((r = begin_reply(s, FXP_STATUS, id, &mark)) != 0 ||
	    (r = put_u32(&s->out, (uint32_t)code)) != 0 ||
	    (r = put_cstr(&s->out, text ? text : status_text(code))) != 0 ||
	    (r = put_cstr(&s->out, "")) != 0)
		return r;
	end_reply(s, mark);
	return 0;
}

static int send_status(struct sftp *s, uint32_t id, int code)
{
	return send_status_msg(s, id, code, NULL);
}

/* The status for a failed rootfs call (r, with errno from the call). */
static int send_error(struct sftp *s, uint32_t id, int r, int errnum)
{
	int code = FX_FAILURE;

	if (r == ERR_NOTFOUND)
		code = FX_NO_SUCH_FILE;
	else if (r == ERR_DENIED)
		code = FX_PERMISSION_DENIED;
	else if (r == ERR_INVAL)
		code = FX_BAD_MESSAGE;
	else if (r == ERR_SYS || r == ERR_NOSPC) {
		switch (errnum) {
		case ENOENT: case ENOTDIR:
			code = FX_NO_SUCH_FILE;
			break;
		case EACCES: case EPERM: case EXDEV: case ELOOP: case EROFS:
			code = FX_PERMISSION_DENIED;
			break;
		default:
			return send_status_msg(s, id, FX_FAILURE,
			    strerror(errnum));
		}
	}
	return send_status(s, id, code);
}

static int put_attrs(struct buf *b, const struct stat *st)
{
	int r;

	if ((r = put_u32(b, ATTR_SIZE | ATTR_UIDGID | ATTR_PERMISSIONS |
	    ATTR_ACMODTIME)) != 0 ||
	    (r = put_u64(b, (uint64_t)st->st_size)) != 0 ||
	    (r = put_u32(b, st->st_uid)) != 0 ||
	    (r = put_u32(b, st->st_gid)) != 0 ||
	    (r = put_u32(b, st->st_mode)) != 0 ||
	    (r = put_u32(b, (uint32_t)st->st_atime)) != 0)
		return r;
	return put_u32(b, (uint32_t)st->st_mtime);
}

static void mode_string(mode_t m, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	out[0] = S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : S_ISREG(m) ? '-' :
	    S_ISCHR(m) ? 'c' : S_ISBLK(m) ? 'b' : S_ISFIFO(m) ? 'p' :
	    S_ISSOCK(m) ? 's' : '?';
	for (i = 0; i < 9; i++)
		out[i + 1] = (m & (0400 >> i)) ? rwx[i] : '-';
	out[10] = '\0';
}

/* An "ls -l" line (draft section 7): FileZilla parses it, so keep the
 * usual columns; the name never holds a newline here (checked by the
 * caller). */
static int long_name(struct buf *b, const struct stat *st, const char *name)
{
	char mode[11], when[32];
	struct tm tm;
	time_t now = time(NULL);
	const char *fmt;

	mode_string(st->st_mode, mode);
	fmt = (st->st_mtime > now - 182 * 86400 && st->st_mtime < now + 86400)
	    ? "%b %e %H:%M" : "%b %e  %Y";
	if (!localtime_r(&st->st_mtime, &tm) ||
	    !strftime(when, sizeof(when), fmt, &tm))
		snprintf(when, sizeof(when), "Jan  1  1970");
	return buf_addf(b, "%s %3lu %-8lu %-8lu %8llu %s %s", mode,
	    (unsigned long)st->st_nlink, (unsigned long)st->st_uid,
	    (unsigned long)st->st_gid, (unsigned long long)st->st_size,
	    when, name);
}

static int send_name1(struct sftp *s, uint32_t id, const char *name)
{
	size_t mark;
	int r;

	if ((r = begin_reply(s, FXP_NAME, id, &mark)) != 0 ||
	    (r = put_u32(&s->out, 1)) != 0 ||
	    (r = put_cstr(&s->out, name)) != 0 ||
	    (r = put_cstr(&s->out, name)) != 0 ||
	    (r = put_u32(&s->out, 0)) != 0)
		return r;
	end_reply(s, mark);
	return 0;
}

static int send_attrs(struct sftp *s, uint32_t id, const struct stat *st)
{
	size_t mark;
	int r;

	if ((r = begin_reply(s, FXP_ATTRS, id, &mark)) != 0 ||
	    (r = put_attrs(&s->out, st)) != 0)
		return r;
	end_reply(s, mark);
	return 0;
}

/* ---- handles ---- */

static double elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int handle_new(struct sftp *s, enum hkind kind, struct handle **hp,
    uint32_t *slotp)
{
	uint32_t i;

	*hp = NULL;
	if (!s->h) {
		if (!(s->h = nreallocarray(NULL, s->nh, sizeof(*s->h))))
			return err_set(ERR_NOMEM, "out of memory");
		memset(s->h, 0, s->nh * sizeof(*s->h));
	}
	for (i = 0; i < s->nh; i++)
		if (s->h[i].kind == H_FREE)
			break;
	if (i == s->nh)
		return err_set(ERR_TOOBIG, "too many open handles");
	memset(&s->h[i], 0, sizeof(s->h[i]));
	s->h[i].kind = kind;
	s->h[i].gen = ++s->gen;
	s->h[i].fd = -1;
	s->h[i].dirfd = -1;
	clock_gettime(CLOCK_MONOTONIC, &s->h[i].start);
	*hp = &s->h[i];
	*slotp = i;
	return 0;
}

static struct handle *handle_get(struct sftp *s, const char *hs, size_t n,
    enum hkind kind)
{
	const unsigned char *u = (const unsigned char *)hs;
	uint32_t slot, gen;

	if (n != HANDLE_LEN || !s->h)
		return NULL;
	slot = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	    (uint32_t)u[2] << 8 | u[3];
	gen = (uint32_t)u[4] << 24 | (uint32_t)u[5] << 16 |
	    (uint32_t)u[6] << 8 | u[7];
	if (slot >= s->nh || s->h[slot].kind == H_FREE ||
	    s->h[slot].gen != gen || (kind != H_FREE && s->h[slot].kind != kind))
		return NULL;
	return &s->h[slot];
}

static int send_handle(struct sftp *s, uint32_t id, uint32_t slot)
{
	size_t mark;
	int r;

	if ((r = begin_reply(s, FXP_HANDLE, id, &mark)) != 0 ||
	    (r = put_u32(&s->out, HANDLE_LEN)) != 0 ||
	    (r = put_u32(&s->out, slot)) != 0 ||
	    (r = put_u32(&s->out, s->h[slot].gen)) != 0)
		return r;
	end_reply(s, mark);
	return 0;
}

/* Close h. An upload is made durable and renamed into place when commit
 * is set (rootfs_upload_commit: on disk before CLOSE is answered, as FTP STOR
 * is), otherwise its hidden file is removed. 0, or the errno of the
 * failure. */
static int handle_close(struct sftp *s, struct handle *h, int commit)
{
	int e = 0, complete = commit;

	if (h->dirfd >= 0 && commit) {
		if (h->set_times && futimens(h->fd, h->times) != 0)
			e = errno;
		if (!e && rootfs_upload_commit(&s->fs, h->fd, h->dirfd, h->tmp,
		    h->base, h->excl) != 0)
			e = errno;
		if (e)
			complete = 0;
	}
	if (h->dirfd >= 0 && !complete)
		unlinkat(h->dirfd, h->tmp, 0);
	if (h->dir)
		closedir(h->dir);
	else if (h->fd >= 0 && close(h->fd) != 0 && !e && h->writable)
		e = errno;
	if (h->dirfd >= 0)
		close(h->dirfd);
	if (h->kind == H_FILE && (h->rbytes || h->writable) && s->p->xfer)
		s->p->xfer(s->p->xfer_arg, h->vpath, h->writable,
		    h->writable ? h->wbytes : h->rbytes, elapsed(&h->start),
		    complete || !h->writable);
	free(h->vpath);
	free(h->base);
	memset(h, 0, sizeof(*h));
	h->kind = H_FREE;
	h->fd = h->dirfd = -1;
	return e;
}

/* ---- requests ---- */

/* Parse a path argument and check the policy for op (ROOTFS_*) before
 * the rest of the request is parsed: on failure the error reply has been
 * queued and *done is set. */
static int path_arg(struct sftp *s, struct msg *m, uint32_t id,
    struct buf *out, unsigned op, int *done)
{
	const char *p;
	size_t n;
	int r;

	*done = 1;
	if (get_str(m, &p, &n) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	if (rootfs_normalise(p, n, out) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	if ((r = rootfs_check(&s->fs, out->p, op)) != 0)
		return send_error(s, id, r, 0);
	*done = 0;
	return 0;
}

/* The answer to REALPATH and expand-path, both lexical: the normalised
 * s->path, when the role may see that name at all (a path outside its
 * folders is refused as a STAT of it would be, existing or not). */
static int send_realpath(struct sftp *s, uint32_t id)
{
	int r;

	if ((r = rootfs_check(&s->fs, s->path.p, ROOTFS_LIST)) != 0)
		return send_error(s, id, r, 0);
	return send_name1(s, id, s->path.p);
}

static int do_realpath(struct sftp *s, uint32_t id, struct msg *m)
{
	const char *p;
	size_t n;

	if (get_str(m, &p, &n) != 0 || rootfs_normalise(p, n, &s->path) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	return send_realpath(s, id);
}

/* expand-path@openssh.com: REALPATH that also takes "~" and "~user/"
 * (every user's home is the root). */
static int do_expand_path(struct sftp *s, uint32_t id, struct msg *m)
{
	const char *p;
	size_t n, i = 0;

	if (get_str(m, &p, &n) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	if (n > 0 && p[0] == '~')
		for (i = 1; i < n && p[i] != '/'; i++)
			;
	if (rootfs_normalise(p + i, n - i, &s->path) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	return send_realpath(s, id);
}

static int do_home_directory(struct sftp *s, uint32_t id, struct msg *m)
{
	(void)m;
	return send_name1(s, id, "/");
}

static int stat_common(struct sftp *s, uint32_t id, struct msg *m,
    int follow)
{
	struct stat st;
	int r, done;

	if ((r = path_arg(s, m, id, &s->path, ROOTFS_LIST, &done)) != 0 || done)
		return r;
	if ((r = rootfs_stat(&s->fs, s->path.p, follow, &st)) != 0)
		return send_error(s, id, r, errno);
	return send_attrs(s, id, &st);
}

static int do_stat(struct sftp *s, uint32_t id, struct msg *m)
{
	return stat_common(s, id, m, 1);
}

static int do_lstat(struct sftp *s, uint32_t id, struct msg *m)
{
	return stat_common(s, id, m, 0);
}

static int handle_fd(const struct handle *h)
{
	return h->dir ? dirfd(h->dir) : h->fd;
}

static int do_fstat(struct sftp *s, uint32_t id, struct msg *m)
{
	struct handle *h;
	struct stat st;
	const char *hs;
	size_t n;

	if (get_str(m, &hs, &n) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	if (!(h = handle_get(s, hs, n, H_FREE)))
		return send_status_msg(s, id, FX_FAILURE, "Bad handle");
	if (fstat(handle_fd(h), &st) != 0)
		return send_error(s, id, ERR_SYS, errno);
	return send_attrs(s, id, &st);
}

/* Apply SETSTAT attributes to the open descriptor fd: size, permission
 * bits (no set-id or sticky bits; a private key keeps no group or other
 * bit, rootfs_fchmod()) and times; owners are not changed. */
static int apply_attrs(const struct sftp *s, struct handle *h, int fd,
    const struct attrs *a)
{
	struct timespec ts[2];

	if ((a->flags & ATTR_SIZE) && ftruncate(fd, (off_t)a->size) != 0)
		return -1;
	if ((a->flags & ATTR_PERMISSIONS) &&
	    rootfs_fchmod(&s->fs, fd, a->perm & 0777) != 0)
		return -1;
	if (a->flags & ATTR_ACMODTIME) {
		ts[0].tv_sec = a->atime;
		ts[1].tv_sec = a->mtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (h) {	/* an upload: after its last WRITE */
			h->times[0] = ts[0];
			h->times[1] = ts[1];
			h->set_times = 1;
		} else if (futimens(fd, ts) != 0)
			return -1;
	}
	return 0;
}

static int do_setstat(struct sftp *s, uint32_t id, struct msg *m)
{
	struct attrs a;
	struct stat st;
	int r, done, fd, flags;

	if ((r = path_arg(s, m, id, &s->path, ROOTFS_WRITE, &done)) != 0 || done)
		return r;
	if (get_attrs(m, &a) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	if ((r = rootfs_stat(&s->fs, s->path.p, 0, &st)) != 0)
		return send_error(s, id, r, errno);
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return send_status(s, id, FX_PERMISSION_DENIED);
	flags = (a.flags & ATTR_SIZE) ? O_WRONLY : O_RDONLY;
	if ((r = rootfs_openat(&s->fs, s->path.p, ROOTFS_WRITE, flags |
	    O_NOFOLLOW | O_NONBLOCK, 0, &fd)) != 0)
		return send_error(s, id, r, errno);
	r = apply_attrs(s, NULL, fd, &a) ? errno : 0;
	close(fd);
	return r ? send_error(s, id, ERR_SYS, r) : send_status(s, id, FX_OK);
}

static int do_fsetstat(struct sftp *s, uint32_t id, struct msg *m)
{
	struct handle *h;
	struct attrs a;
	const char *hs;
	size_t n;

	if (get_str(m, &hs, &n) != 0 || get_attrs(m, &a) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	if (!(h = handle_get(s, hs, n, H_FREE)))
		return send_status_msg(s, id, FX_FAILURE, "Bad handle");
	if (rootfs_may(&s->fs, ROOTFS_WRITE) != 0)
		return send_status(s, id, FX_PERMISSION_DENIED);
	if ((a.flags & ATTR_SIZE) && !h->writable)
		return send_status(s, id, FX_PERMISSION_DENIED);
	if (apply_attrs(s, h->dirfd >= 0 ? h : NULL, handle_fd(h), &a) != 0)
		return send_error(s, id, ERR_SYS, errno);
	return send_status(s, id, FX_OK);
}

static int open_read(struct sftp *s, uint32_t id, uint32_t pflags)
{
	struct handle *h;
	struct stat st;
	uint32_t slot;
	int fd, r;

	(void)pflags;
	if ((r = rootfs_openat(&s->fs, s->path.p, ROOTFS_READ,
	    O_RDONLY | O_NONBLOCK, 0, &fd)) != 0)
		return send_error(s, id, r, errno);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return send_status_msg(s, id, FX_FAILURE, "Not a regular file");
	}
	if (handle_new(s, H_FILE, &h, &slot) != 0) {
		close(fd);
		return send_status_msg(s, id, FX_FAILURE, err_msg());
	}
	h->fd = fd;
	h->vpath = xstrdup(s->path.p);
	return send_handle(s, id, slot);
}

/* An upload writes a hidden file beside its target; CLOSE renames it into
 * place, so the name shows only complete files. Without TRUNC the old
 * contents are copied first (resume, APPEND, random access). */
static int open_write(struct sftp *s, uint32_t id, uint32_t pflags,
    const struct attrs *a)
{
	struct handle *h = NULL;
	const char *base;
	struct stat st;
	uint32_t slot;
	mode_t mode = (a->flags & ATTR_PERMISSIONS) ? (a->perm & 0777) :
	    ROOTFS_NEW_FILE;
	int dirfd = -1, fd = -1, oldfd = -1, exists, r, e;
	char tmp[32];

	if ((r = rootfs_parent(&s->fs, s->path.p, ROOTFS_WRITE, &dirfd,
	    &base)) != 0)
		return send_error(s, id, r, errno);
	exists = fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && S_ISDIR(st.st_mode))
		e = EISDIR;
	else if (exists && (pflags & FXF_EXCL))
		e = EEXIST;
	else if (!exists && !(pflags & FXF_CREAT))
		e = ENOENT;
	else if (exists && !S_ISREG(st.st_mode))
		e = EPERM;
	else
		e = 0;
	if (e) {
		close(dirfd);
		return send_error(s, id, ERR_SYS, e);
	}
	/* A replaced file keeps its mode (rootfs.h, upload modes). */
	if ((r = rootfs_upload_create(&s->fs, dirfd, exists ? &st : NULL, mode,
	    &fd, tmp, sizeof(tmp))) != 0) {
		e = errno;
		close(dirfd);
		return send_error(s, id, r, e);
	}
	if (exists && !(pflags & FXF_TRUNC)) {
		if ((oldfd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC)) < 0)
			goto fail;
		if (rootfs_upload_keep(oldfd, fd, st.st_size) != 0)
			goto fail;
		close(oldfd);
		oldfd = -1;
	}
	if (pflags & FXF_APPEND) {
		/* pwrite() on an O_APPEND descriptor appends on Linux. */
		if (fcntl(fd, F_SETFL, O_APPEND) != 0)
			goto fail;
	}
	if (handle_new(s, H_FILE, &h, &slot) != 0) {
		unlinkat(dirfd, tmp, 0);
		close(fd);
		close(dirfd);
		return send_status_msg(s, id, FX_FAILURE, err_msg());
	}
	h->fd = fd;
	h->dirfd = dirfd;
	h->writable = 1;
	h->excl = (pflags & FXF_EXCL) != 0;
	snprintf(h->tmp, sizeof(h->tmp), "%s", tmp);
	h->base = xstrdup(base);
	h->vpath = xstrdup(s->path.p);
	return send_handle(s, id, slot);
fail:
	e = errno;
	if (oldfd >= 0)
		close(oldfd);
	unlinkat(dirfd, tmp, 0);
	close(fd);
	close(dirfd);
	return send_error(s, id, ERR_SYS, e);
}

static int do_open(struct sftp *s, uint32_t id, struct msg *m)
{
	struct attrs a;
	uint32_t pflags;
	int r, done, write;

	if ((r = path_arg(s, m, id, &s->path, ROOTFS_LIST, &done)) != 0 || done)
		return r;
	if (get_u32(m, &pflags) != 0 || get_attrs(m, &a) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	write = (pflags & (FXF_WRITE | FXF_APPEND | FXF_CREAT | FXF_TRUNC)) != 0;
	if (write && (r = rootfs_check(&s->fs, s->path.p, ROOTFS_WRITE)) != 0)
		return send_error(s, id, r, 0);
	return write ? open_write(s, id, pflags, &a) : open_read(s, id, pflags);
}

static int do_close(struct sftp *s, uint32_t id, struct msg *m)
{
	struct handle *h;
	const char *hs;
	size_t n;
	int e;

	if (get_str(m, &hs, &n) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	if (!(h = handle_get(s, hs, n, H_FREE)))
		return send_status_msg(s, id, FX_FAILURE, "Bad handle");
	if ((e = handle_close(s, h, 1)) != 0)
		return send_error(s, id, ERR_SYS, e);
	return send_status(s, id, FX_OK);
}

/* A DATA reply's bytes before the data: length, type, id, data length. */
#define DATA_HEAD 13

static void be32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

static int do_read(struct sftp *s, uint32_t id, struct msg *m)
{
	struct handle *h;
	const char *hs;
	char *tail;
	size_t n;
	uint64_t off;
	uint32_t len;
	ssize_t got;
	int r;

	if (get_str(m, &hs, &n) != 0 || get_u64(m, &off) != 0 ||
	    get_u32(m, &len) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	if (!(h = handle_get(s, hs, n, H_FILE)))
		return send_status_msg(s, id, FX_FAILURE, "Bad handle");
	if (len > SFTP_MAX_DATA)	/* short reads are legal */
		len = SFTP_MAX_DATA;
	if (off > (uint64_t)INT64_MAX - len)	/* past any file */
		return send_status(s, id, FX_EOF);
	/* Read straight into the reply, after room for its header (length,
	 * type, id, data length): no copy of the bytes in this process. */
	if ((r = buf_space(&s->out, DATA_HEAD + (size_t)len, &tail)) != 0)
		return r;
	do
		got = pread(h->fd, tail + DATA_HEAD, len, (off_t)off);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return send_error(s, id, ERR_SYS, errno);
	if (got == 0 || len == 0)
		return send_status(s, id, FX_EOF);
	h->rbytes += (unsigned long long)got;
	/* The header by hand: buf_add() would write its NUL over the data. */
	be32(tail, (uint32_t)(DATA_HEAD - 4 + got));
	tail[4] = (char)FXP_DATA;
	be32(tail + 5, id);
	be32(tail + 9, (uint32_t)got);
	buf_commit(&s->out, DATA_HEAD + (size_t)got);
	return 0;
}

static int do_write(struct sftp *s, uint32_t id, struct msg *m)
{
	struct handle *h;
	const char *hs, *data;
	size_t n, len, done;
	uint64_t off;
	ssize_t w;

	if (get_str(m, &hs, &n) != 0 || get_u64(m, &off) != 0 ||
	    get_str(m, &data, &len) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	if (!(h = handle_get(s, hs, n, H_FILE)))
		return send_status_msg(s, id, FX_FAILURE, "Bad handle");
	if (!h->writable)
		return send_status(s, id, FX_PERMISSION_DENIED);
	if (off > INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return send_error(s, id, ERR_SYS, EFBIG);
	for (done = 0; done < len; done += (size_t)w) {
		w = pwrite(h->fd, data + done, len - done,
		    (off_t)(off + done));
		if (w < 0 && errno == EINTR) {
			w = 0;
			continue;
		}
		if (w <= 0)
			return send_error(s, id, ERR_SYS, w < 0 ? errno : ENOSPC);
	}
	h->wbytes += len;
	return send_status(s, id, FX_OK);
}

static int do_opendir(struct sftp *s, uint32_t id, struct msg *m)
{
	struct handle *h;
	uint32_t slot;
	DIR *d;
	int r, done, fd;

	if ((r = path_arg(s, m, id, &s->path, ROOTFS_LIST, &done)) != 0 || done)
		return r;
	if ((r = rootfs_openat(&s->fs, s->path.p, ROOTFS_LIST,
	    O_RDONLY | O_DIRECTORY, 0, &fd)) != 0)
		return send_error(s, id, r, errno);
	if (!(d = fdopendir(fd))) {
		r = errno;
		close(fd);
		return send_error(s, id, ERR_SYS, r);
	}
	if (handle_new(s, H_DIR, &h, &slot) != 0) {
		closedir(d);
		return send_status_msg(s, id, FX_FAILURE, err_msg());
	}
	h->dir = d;
	h->vpath = xstrdup(s->path.p);
	return send_handle(s, id, slot);
}

static int do_readdir(struct sftp *s, uint32_t id, struct msg *m)
{
	struct handle *h;
	struct dirent *de;
	struct stat st;
	const char *hs;
	size_t n, mark, countpos;
	uint32_t count = 0;
	unsigned char *cp;
	int r;

	if (get_str(m, &hs, &n) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	if (!(h = handle_get(s, hs, n, H_DIR)))
		return send_status_msg(s, id, FX_FAILURE, "Bad handle");
	if ((r = begin_reply(s, FXP_NAME, id, &mark)) != 0)
		return r;
	countpos = s->out.len;
	if ((r = put_u32(&s->out, 0)) != 0)
		return r;
	while (count < READDIR_BATCH && (de = readdir(h->dir)) != NULL) {
		if (strchr(de->d_name, '\n') ||
		    !rootfs_visible(&s->fs, h->vpath, dirfd(h->dir), de->d_name) ||
		    fstatat(dirfd(h->dir), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		buf_reset(&s->tmp);
		if ((r = long_name(&s->tmp, &st, de->d_name)) != 0 ||
		    (r = put_cstr(&s->out, de->d_name)) != 0 ||
		    (r = put_str(&s->out, s->tmp.p, s->tmp.len)) != 0 ||
		    (r = put_attrs(&s->out, &st)) != 0)
			return r;
		count++;
	}
	if (count == 0) {
		s->out.len = mark;	/* drop the started NAME reply */
		s->out.p[mark] = '\0';
		return send_status(s, id, FX_EOF);
	}
	cp = (unsigned char *)s->out.p + countpos;
	cp[0] = count >> 24;
	cp[1] = count >> 16;
	cp[2] = count >> 8;
	cp[3] = count;
	end_reply(s, mark);
	return 0;
}

static int do_remove(struct sftp *s, uint32_t id, struct msg *m)
{
	int r, done;

	if ((r = path_arg(s, m, id, &s->path, ROOTFS_DELETE, &done)) != 0 || done)
		return r;
	if ((r = rootfs_unlink(&s->fs, s->path.p)) != 0)
		return send_error(s, id, r, errno);
	return send_status(s, id, FX_OK);
}

static int do_mkdir(struct sftp *s, uint32_t id, struct msg *m)
{
	struct attrs a;
	int r, done;

	if ((r = path_arg(s, m, id, &s->path, ROOTFS_WRITE, &done)) != 0 || done)
		return r;
	if (get_attrs(m, &a) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	if ((r = rootfs_mkdir(&s->fs, s->path.p, (a.flags & ATTR_PERMISSIONS) ?
	    a.perm & 0777 : 0777)) != 0)
		return send_error(s, id, r, errno);
	return send_status(s, id, FX_OK);
}

static int do_rmdir(struct sftp *s, uint32_t id, struct msg *m)
{
	int r, done;

	if ((r = path_arg(s, m, id, &s->path, ROOTFS_DELETE, &done)) != 0 || done)
		return r;
	if ((r = rootfs_rmdir(&s->fs, s->path.p)) != 0)
		return send_error(s, id, r, errno);
	return send_status(s, id, FX_OK);
}

static int rename_common(struct sftp *s, uint32_t id, struct msg *m,
    int noreplace)
{
	int r, done;

	if ((r = path_arg(s, m, id, &s->path, ROOTFS_RENAME, &done)) != 0 || done ||
	    (r = path_arg(s, m, id, &s->path2, ROOTFS_RENAME, &done)) != 0 || done)
		return r;
	if ((r = rootfs_rename(&s->fs, s->path.p, s->path2.p, noreplace)) != 0)
		return send_error(s, id, r, errno);
	return send_status(s, id, FX_OK);
}

/* SFTP v3 RENAME must not replace an existing file. */
static int do_rename(struct sftp *s, uint32_t id, struct msg *m)
{
	return rename_common(s, id, m, 1);
}

static int do_posix_rename(struct sftp *s, uint32_t id, struct msg *m)
{
	return rename_common(s, id, m, 0);
}

static int do_readlink(struct sftp *s, uint32_t id, struct msg *m)
{
	int r, done;

	if ((r = path_arg(s, m, id, &s->path, ROOTFS_LIST, &done)) != 0 || done)
		return r;
	buf_reset(&s->tmp);
	if ((r = rootfs_readlink(&s->fs, s->path.p, &s->tmp)) != 0)
		return send_error(s, id, r, errno);
	return send_name1(s, id, buf_cstr(&s->tmp));
}

/* Links made by clients are refused: other programs (the snapshot daemon
 * archiving the files root) would follow them without our confinement. */
static int do_symlink(struct sftp *s, uint32_t id, struct msg *m)
{
	(void)m;
	if (rootfs_may(&s->fs, ROOTFS_WRITE) != 0)
		return send_status(s, id, FX_PERMISSION_DENIED);
	return send_status_msg(s, id, FX_OP_UNSUPPORTED,
	    "Symbolic links are not supported");
}

static int send_statvfs(struct sftp *s, uint32_t id, const struct statvfs *v)
{
	uint64_t flag = ((v->f_flag & ST_RDONLY) ||
	    rootfs_may(&s->fs, ROOTFS_WRITE) != 0 ? 1 : 0) |
	    ((v->f_flag & ST_NOSUID) ? 2 : 0);
	size_t mark;
	int r;

	if ((r = begin_reply(s, FXP_EXTENDED_REPLY, id, &mark)) != 0 ||
	    (r = put_u64(&s->out, v->f_bsize)) != 0 ||
	    (r = put_u64(&s->out, v->f_frsize)) != 0 ||
	    (r = put_u64(&s->out, v->f_blocks)) != 0 ||
	    (r = put_u64(&s->out, v->f_bfree)) != 0 ||
	    (r = put_u64(&s->out, v->f_bavail)) != 0 ||
	    (r = put_u64(&s->out, v->f_files)) != 0 ||
	    (r = put_u64(&s->out, v->f_ffree)) != 0 ||
	    (r = put_u64(&s->out, v->f_favail)) != 0 ||
	    (r = put_u64(&s->out, v->f_fsid)) != 0 ||
	    (r = put_u64(&s->out, flag)) != 0 ||
	    (r = put_u64(&s->out, v->f_namemax)) != 0)
		return r;
	end_reply(s, mark);
	return 0;
}

static int do_statvfs(struct sftp *s, uint32_t id, struct msg *m)
{
	struct statvfs v;
	int r, done;

	if ((r = path_arg(s, m, id, &s->path, ROOTFS_LIST, &done)) != 0 || done)
		return r;
	if ((r = rootfs_statvfs(&s->fs, s->path.p, &v)) != 0)
		return send_error(s, id, r, errno);
	return send_statvfs(s, id, &v);
}

static int do_fstatvfs(struct sftp *s, uint32_t id, struct msg *m)
{
	struct statvfs v;
	struct handle *h;
	const char *hs;
	size_t n;

	if (get_str(m, &hs, &n) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	if (!(h = handle_get(s, hs, n, H_FREE)))
		return send_status_msg(s, id, FX_FAILURE, "Bad handle");
	if (fstatvfs(handle_fd(h), &v) != 0)
		return send_error(s, id, ERR_SYS, errno);
	return send_statvfs(s, id, &v);
}

static int do_fsync(struct sftp *s, uint32_t id, struct msg *m)
{
	struct handle *h;
	const char *hs;
	size_t n;

	if (get_str(m, &hs, &n) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	if (!(h = handle_get(s, hs, n, H_FILE)))
		return send_status_msg(s, id, FX_FAILURE, "Bad handle");
	if (fsync(h->fd) != 0)
		return send_error(s, id, ERR_SYS, errno);
	return send_status(s, id, FX_OK);
}

static int do_limits(struct sftp *s, uint32_t id, struct msg *m)
{
	size_t mark;
	int r;

	(void)m;
	if ((r = begin_reply(s, FXP_EXTENDED_REPLY, id, &mark)) != 0 ||
	    (r = put_u64(&s->out, SFTP_MAX_PACKET)) != 0 ||
	    (r = put_u64(&s->out, SFTP_MAX_DATA)) != 0 ||
	    (r = put_u64(&s->out, SFTP_MAX_DATA)) != 0 ||
	    (r = put_u64(&s->out, s->nh)) != 0)
		return r;
	end_reply(s, mark);
	return 0;
}

typedef int (*handler_fn)(struct sftp *, uint32_t, struct msg *);

/* The request table (after sftp-server.c's handlers[]): role checks are
 * per path, in path_arg() and open. */
static const struct {
	int type;
	const char *name;
	handler_fn fn;
} requests[] = {
	{ FXP_OPEN, "open", do_open },
	{ FXP_CLOSE, "close", do_close },
	{ FXP_READ, "read", do_read },
	{ FXP_WRITE, "write", do_write },
	{ FXP_LSTAT, "lstat", do_lstat },
	{ FXP_FSTAT, "fstat", do_fstat },
	{ FXP_SETSTAT, "setstat", do_setstat },
	{ FXP_FSETSTAT, "fsetstat", do_fsetstat },
	{ FXP_OPENDIR, "opendir", do_opendir },
	{ FXP_READDIR, "readdir", do_readdir },
	{ FXP_REMOVE, "remove", do_remove },
	{ FXP_MKDIR, "mkdir", do_mkdir },
	{ FXP_RMDIR, "rmdir", do_rmdir },
	{ FXP_REALPATH, "realpath", do_realpath },
	{ FXP_STAT, "stat", do_stat },
	{ FXP_RENAME, "rename", do_rename },
	{ FXP_READLINK, "readlink", do_readlink },
	{ FXP_SYMLINK, "symlink", do_symlink },
};

/* Extensions: advertised in VERSION with their version string. */
static const struct {
	const char *name, *version;
	handler_fn fn;
} extensions[] = {
	{ "posix-rename@openssh.com", "1", do_posix_rename },
	{ "statvfs@openssh.com", "2", do_statvfs },
	{ "fstatvfs@openssh.com", "2", do_fstatvfs },
	{ "fsync@openssh.com", "1", do_fsync },
	{ "limits@openssh.com", "1", do_limits },
	{ "expand-path@openssh.com", "1", do_expand_path },
	{ "home-directory", "1", do_home_directory },
};

static int do_extended(struct sftp *s, uint32_t id, struct msg *m)
{
	const char *name;
	size_t n, i;

	if (get_str(m, &name, &n) != 0)
		return send_status(s, id, FX_BAD_MESSAGE);
	for (i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++)
		if (strlen(extensions[i].name) == n &&
		    !memcmp(extensions[i].name, name, n))
			return extensions[i].fn(s, id, m);
	return send_status(s, id, FX_OP_UNSUPPORTED);
}

static int send_version(struct sftp *s)
{
	size_t mark, i;
	int r;

	if ((r = begin_reply(s, FXP_VERSION, 0, &mark)) != 0 ||
	    (r = put_u32(&s->out, 3)) != 0)
		return r;
	for (i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++)
		if ((r = put_cstr(&s->out, extensions[i].name)) != 0 ||
		    (r = put_cstr(&s->out, extensions[i].version)) != 0)
			return r;
	end_reply(s, mark);
	return 0;
}

/* One packet (type and body, without the length). A negative return ends
 * the session. */
static int dispatch(struct sftp *s, const unsigned char *p, size_t len,
    int *inited)
{
	struct msg m = { p, len, 1 };
	uint32_t id, version;
	size_t i;

	if (!*inited) {
		if (p[0] != FXP_INIT || get_u32(&m, &version) != 0)
			return err_set(ERR_PROTO, "expected SSH_FXP_INIT");
		*inited = 1;
		return send_version(s);
	}
	if (get_u32(&m, &id) != 0)
		return err_set(ERR_PROTO, "packet without a request id");
	if (p[0] == FXP_EXTENDED)
		return do_extended(s, id, &m);
	for (i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
		if (requests[i].type == p[0])
			return requests[i].fn(s, id, &m);
	return send_status(s, id, FX_OP_UNSUPPORTED);
}

static int flush(struct sftp *s)
{
	int r;

	if (s->out.len == 0)
		return 0;
	r = s->io->write(s->io->ctx, s->out.p, s->out.len);
	buf_reset(&s->out);
	return r;
}

/* Handle every complete packet in the input, then drop them from it. */
static int drain(struct sftp *s, int *inited)
{
	const unsigned char *u;
	size_t off = 0;
	uint32_t len;
	int r = 0;

	while (s->in.len - off >= 4) {
		u = (const unsigned char *)s->in.p + off;
		len = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
		    (uint32_t)u[2] << 8 | u[3];
		if (len == 0 || len > SFTP_MAX_PACKET) {
			r = err_set(ERR_PROTO, "bad packet length %" PRIu32, len);
			break;
		}
		if (s->in.len - off - 4 < len)
			break;
		if ((r = dispatch(s, u + 4, len, inited)) != 0)
			break;
		off += 4 + (size_t)len;
		if (s->out.len >= OUT_FLUSH && (r = flush(s)) != 0)
			break;
	}
	buf_consume(&s->in, off);
	return r;
}

static void sftp_end(struct sftp *s)
{
	uint32_t i;

	for (i = 0; s->h && i < s->nh; i++)
		if (s->h[i].kind != H_FREE)
			handle_close(s, &s->h[i], 0);
	free(s->h);
	free(s->data);
	rootfs_close(&s->fs);
	buf_free(&s->in);
	buf_free(&s->out);
	buf_free(&s->path);
	buf_free(&s->path2);
	buf_free(&s->tmp);
}

int sftp_serve(const struct sftp_io *io, const struct sftp_params *p)
{
	struct sftp s;
	int r, inited = 0, timeout;
	char *tail;

	memset(&s, 0, sizeof(s));
	s.io = io;
	s.p = p;
	s.fs.rootfd = -1;
	s.nh = (uint32_t)(p->max_handles > 0 ? p->max_handles : 256);
	buf_init(&s.in, SFTP_MAX_PACKET + 4 + IN_CHUNK);
	buf_init(&s.out, OUT_FLUSH + SFTP_MAX_PACKET + 4096);
	buf_init(&s.path, ROOTFS_PATH_MAX + 16);
	buf_init(&s.path2, ROOTFS_PATH_MAX + 16);
	buf_init(&s.tmp, ROOTFS_PATH_MAX + 512);
	timeout = p->idle_timeout > 0 && p->idle_timeout < 86400 ?
	    (int)p->idle_timeout * 1000 : 300000;
	tzset();	/* longnames' local time, before /etc is out of reach */
	if ((r = rootfs_open(&s.fs, p->root, p->role)) != 0 ||
	    (p->lockdown && (r = rootfs_lockdown(&s.fs)) != 0))
		goto out;
	rootfs_set_umask(&s.fs, p->umask);
	if (!(s.data = nmalloc(SFTP_MAX_DATA))) {
		r = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		if ((r = drain(&s, &inited)) != 0 || (r = flush(&s)) != 0)
			break;
		/* Straight into the input buffer: it holds less than one
		 * packet after drain(), so IN_CHUNK more always fits. */
		if (buf_space(&s.in, IN_CHUNK, &tail) != 0) {
			r = err_set(ERR_PROTO, "input overflow");
			break;
		}
		r = io->read(io->ctx, tail, IN_CHUNK, timeout);
		if (r <= 0)
			break;
		buf_commit(&s.in, (size_t)r);
	}
out:
	sftp_end(&s);
	return r;
}
