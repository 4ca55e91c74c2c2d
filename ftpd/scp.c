/* scp.c: the legacy SCP protocol's source (-f) and sink (-t) (scp.h,
 * docs/sftp.md "Legacy SCP"): a strict parser of its control lines, with
 * every file touched through the files root policy (rootfs.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "rootfs.h"
#include "scp.h"
#include "xmalloc.h"
#include "banned.h"

#define SCP_CHUNK (64 * 1024)	/* one IPC message's worth of file data */
#define SCP_MAX_WORDS 64
#define SCP_NAME_MAX 255
#define SCP_MAX_MATCHES 10000	/* names one wildcard may send */

struct scp {
	const struct scp_io *io;
	const struct scp_params *p;
	struct rootfs fs;
	int recursive, preserve, want_dir, sink;
	int timeout_ms;
	struct buf in;		/* bytes from the client not yet used */
	struct buf line;	/* the control line being parsed */
	char *chunk;		/* a source's read buffer */
	int errors;		/* files that did not go through */
	int fatal;		/* the stream cannot be trusted any more */
};

/* ---- replies ---- */

static int put(struct scp *s, const void *p, size_t len)
{
	return s->io->write(s->io->ctx, p, len);
}

/* One error line to the client, \x01 (this file failed, go on) or, when
 * fatal, \x02 (the session ends), with control bytes made '?'. */
static int reply_err(struct scp *s, int fatal, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int reply_err(struct scp *s, int fatal, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	int n;

	line[0] = fatal ? '\2' : '\1';
	memcpy(line + 1, "scp: ", 5);
	va_start(ap, fmt);
	n = vsnprintf(line + 6, sizeof(line) - 7, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	n = (size_t)n > sizeof(line) - 8 ? (int)sizeof(line) - 8 : n;
	for (int i = 6; i < 6 + n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[6 + n] = '\n';
	log_info("ssh: %s: %s: scp: %.*s", s->p->peer, s->p->user, n, line + 6);
	s->errors++;
	if (fatal)
		s->fatal = 1;
	return put(s, line, (size_t)n + 7);
}

static const char *why(int r, int e)
{
	if (r == ERR_DENIED)
		return "Permission denied";
	if (r == ERR_NOTFOUND)
		return "No such file or directory";
	if (r == ERR_SYS || r == ERR_NOSPC)
		return strerror(e ? e : EIO);
	return err_str(r);
}

/* A file or folder the client named is refused; the session goes on. */
static int refuse(struct scp *s, const char *vpath, int r, int e)
{
	return reply_err(s, 0, "%s: %s", vpath, why(r, e));
}

static int ack(struct scp *s)
{
	return put(s, "", 1);
}

/* ---- the client's bytes ---- */

/* At least one unread byte in s->in: 1, 0 at the end of the stream, or
 * a negative ERR_* code. */
static int fill(struct scp *s)
{
	char *tail;
	int n, r;

	if (s->in.len > 0)
		return 1;
	if ((r = buf_space(&s->in, SCP_CHUNK, &tail)) != 0)
		return r;
	if ((n = s->io->read(s->io->ctx, tail, SCP_CHUNK, s->timeout_ms)) <= 0)
		return n;
	buf_commit(&s->in, (size_t)n);
	return 1;
}

/* The rest of a control line, without its newline, into s->line:
 * 0, ERR_TOOBIG past SCP_MAX_LINE, ERR_PROTO for a NUL byte or the end
 * of the stream before the newline. */
static int get_line(struct scp *s)
{
	const char *nl;
	size_t n;
	int r;

	buf_reset(&s->line);
	for (;;) {
		if ((r = fill(s)) <= 0)
			return r ? r : err_set(ERR_PROTO,
			    "a line without its newline");
		nl = memchr(s->in.p, '\n', s->in.len);
		n = nl ? (size_t)(nl - s->in.p) : s->in.len;
		if (s->line.len + n > SCP_MAX_LINE)
			return err_set(ERR_TOOBIG, "a line longer than %d bytes",
			    SCP_MAX_LINE);
		if ((r = buf_add(&s->line, s->in.p, n)) != 0)
			return r;
		buf_consume(&s->in, nl ? n + 1 : n);
		if (nl)
			break;
	}
	if (memchr(buf_cstr(&s->line), '\0', s->line.len))
		return err_set(ERR_PROTO, "a NUL byte in a line");
	return 0;
}

/* The client's answer to what was sent: 0 for OK, 1 for its error line
 * (logged; \x02 also sets fatal), or a negative ERR_* code when the
 * stream failed or broke the protocol (fatal). */
static int response(struct scp *s)
{
	char c;
	int r;

	if ((r = fill(s)) <= 0)
		return r ? r : err_set(ERR_IO, "the client went away");
	c = s->in.p[0];
	buf_consume(&s->in, 1);
	if (c == '\0')
		return 0;
	if (c != '\1' && c != '\2') {
		s->fatal = 1;
		return err_set(ERR_PROTO, "a reply that is not one");
	}
	if ((r = get_line(s)) != 0) {
		s->fatal = 1;
		return r;
	}
	log_info("ssh: %s: %s: scp: the client says: %s", s->p->peer,
	    s->p->user, buf_cstr(&s->line));
	s->errors++;
	if (c == '\2')
		s->fatal = 1;
	return 1;
}

/* ---- control lines ---- */

/* Decimal digits at *pp, at most max: 0, or ERR_PROTO. */
static int parse_dec(const char **pp, unsigned long long max,
    unsigned long long *v)
{
	const char *p = *pp;
	unsigned long long x = 0;

	if (*p < '0' || *p > '9')
		return ERR_PROTO;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (max - (unsigned)(*p - '0')) / 10)
			return ERR_PROTO;
		x = x * 10 + (unsigned)(*p - '0');
	}
	*pp = p;
	*v = x;
	return 0;
}

static int parse_char(const char **pp, char c)
{
	if (**pp != c)
		return ERR_PROTO;
	(*pp)++;
	return 0;
}

/* "T<mtime> <usec> <atime> <usec>" after the T. */
static int parse_times(const char *p, struct timespec t[2])
{
	unsigned long long v[4];

	for (int i = 0; i < 4; i++)
		if ((i && parse_char(&p, ' ') != 0) ||
		    parse_dec(&p, i % 2 ? 999999 : (unsigned long long)LONG_MAX,
		    &v[i]) != 0)
			return ERR_PROTO;
	if (*p)
		return ERR_PROTO;
	t[1].tv_sec = (time_t)v[0];	/* mtime first on the line */
	t[1].tv_nsec = (long)v[1] * 1000;
	t[0].tv_sec = (time_t)v[2];
	t[0].tv_nsec = (long)v[3] * 1000;
	return 0;
}

/* "<4 octal digits> <size> <name>" after the C or D. The name: one
 * component, never "." or "..", at most SCP_NAME_MAX bytes. */
static int parse_entry(const char *p, mode_t *mode, unsigned long long *size,
    const char **name)
{
	size_t n;

	*mode = 0;
	for (int i = 0; i < 4; i++, p++) {
		if (*p < '0' || *p > '7')
			return err_set(ERR_PROTO, "a mode of 4 octal digits");
		*mode = *mode << 3 | (mode_t)(*p - '0');
	}
	if (parse_char(&p, ' ') != 0 ||
	    parse_dec(&p, (unsigned long long)LLONG_MAX, size) != 0 ||
	    parse_char(&p, ' ') != 0)
		return err_set(ERR_PROTO, "a size in decimal digits");
	n = strlen(p);
	if (n == 0 || n > SCP_NAME_MAX || strchr(p, '/') ||
	    !strcmp(p, ".") || !strcmp(p, ".."))
		return err_set(ERR_PROTO, "unexpected file name");
	*name = p;
	return 0;
}

/* dir + "/" + name into out (max ROOTFS_PATH_MAX + 1): 0 or ERR_TOOBIG. */
static int join(struct buf *out, const char *dir, const char *name)
{
	buf_reset(out);
	return buf_addf(out, "%s/%s", strcmp(dir, "/") ? dir : "", name);
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void xfer(struct scp *s, const char *vpath, int upload,
    unsigned long long bytes, const struct timespec *t0, int complete)
{
	if (s->p->xfer)
		s->p->xfer(s->p->xfer_arg, vpath, upload, bytes, since(t0),
		    complete);
}

/* ---- sink: the client sends ---- */

static int sink(struct scp *s, const char *target, int depth);

/* size bytes of file data to fd; *errp: the first write error (the rest
 * is still read, so that the stream stays in step). 0 or ERR_*. */
static int sink_data(struct scp *s, int fd, unsigned long long size,
    int *errp)
{
	unsigned long long off = 0;
	size_t n;
	ssize_t w;
	int r;

	while (off < size) {
		if ((r = fill(s)) <= 0)
			return r ? r : err_set(ERR_IO, "the client went away "
			    "mid-file");
		n = s->in.len;
		if (n > size - off)
			n = (size_t)(size - off);
		for (size_t done = 0; !*errp && done < n; done += (size_t)w)
			if ((w = pwrite(fd, s->in.p + done, n - done,
			    (off_t)(off + done))) < 0)
				*errp = errno;
		buf_consume(&s->in, n);
		off += n;
	}
	return 0;
}

static int sink_file(struct scp *s, const char *vpath, mode_t mode,
    unsigned long long size, const struct timespec *times)
{
	struct timespec t0;
	struct statvfs sv;
	struct stat st;
	const char *base;
	char tmp[32];
	int dirfd, fd = -1, exists, e = 0, r, ok;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((r = rootfs_parent(&s->fs, vpath, ROOTFS_WRITE, &dirfd, &base)) != 0)
		return refuse(s, vpath, r, errno);
	exists = fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && S_ISDIR(st.st_mode))
		e = EISDIR;
	else if (exists && !S_ISREG(st.st_mode))
		e = EPERM;
	else if (fstatvfs(dirfd, &sv) == 0 &&
	    size > (unsigned long long)sv.f_bavail * sv.f_frsize)
		e = ENOSPC;	/* an absurd size is refused before a byte */
	else if (rootfs_upload_create(&s->fs, dirfd, exists ? &st : NULL,
	    mode & 0777, &fd, tmp, sizeof(tmp)) != 0)
		e = errno ? errno : EIO;
	if (e) {
		close(dirfd);
		return refuse(s, vpath, ERR_SYS, e);
	}
	if ((r = ack(s)) != 0 || (r = sink_data(s, fd, size, &e)) != 0 ||
	    (r = response(s)) < 0) {
		s->fatal = 1;
		ok = 0;
	} else
		ok = r == 0 && !e;
	if (ok && times && futimens(fd, times) != 0)
		e = errno;
	if (ok && !e && rootfs_upload_commit(&s->fs, fd, dirfd, tmp, base, 0))
		e = errno ? errno : EIO;
	ok = ok && !e;
	if (!ok)
		unlinkat(dirfd, tmp, 0);
	close(fd);
	close(dirfd);
	xfer(s, vpath, 1, size, &t0, ok);
	if (r < 0)
		return r;
	if (e)
		return refuse(s, vpath, ERR_SYS, e);
	return ack(s);
}

static int sink_dir(struct scp *s, const char *vpath, mode_t mode,
    const struct timespec *times, int depth)
{
	struct stat st;
	int fd, r;

	if (!s->recursive)
		return reply_err(s, 1, "a folder without -r");
	if (depth >= SCP_MAX_DEPTH)
		return reply_err(s, 0, "%s: more than %d folders deep", vpath,
		    SCP_MAX_DEPTH);
	if ((r = rootfs_check(&s->fs, vpath, ROOTFS_WRITE)) != 0)
		return refuse(s, vpath, r, 0);
	errno = 0;
	if ((r = rootfs_stat(&s->fs, vpath, 0, &st)) == 0) {
		if (!S_ISDIR(st.st_mode))
			return refuse(s, vpath, ERR_SYS, ENOTDIR);
	} else if (r != ERR_NOTFOUND ||
	    (r = rootfs_mkdir(&s->fs, vpath, (mode & 0777) | 0700)) != 0)
		return refuse(s, vpath, r, errno);
	if ((r = ack(s)) != 0 || (r = sink(s, vpath, depth + 1)) != 0 ||
	    s->fatal || !times)
		return r;
	if (rootfs_openat(&s->fs, vpath, ROOTFS_WRITE, O_RDONLY | O_DIRECTORY,
	    0, &fd) == 0) {
		if (futimens(fd, times) != 0)
			log_info("ssh: %s: %s: scp: %s: times: %s", s->p->peer,
			    s->p->user, vpath, strerror(errno));
		close(fd);
	}
	return 0;
}

/* A C or D line (already in s->line, after its letter). */
static int sink_entry(struct scp *s, int c, const char *target, int isdir,
    const struct timespec *times, int depth)
{
	struct buf vpath = BUF_INIT(ROOTFS_PATH_MAX + 1);
	unsigned long long size = 0;
	const char *name = NULL;
	mode_t mode;
	int r;

	if (parse_entry(buf_cstr(&s->line), &mode, &size, &name) != 0)
		return reply_err(s, 1, "protocol error: %s", err_msg());
	if (c == 'D' && size != 0)
		return reply_err(s, 1, "protocol error: a folder's size is 0");
	if (isdir ? join(&vpath, target, name) : buf_adds(&vpath, target))
		r = reply_err(s, 1, "%s/%s: path too long", target, name);
	else if (c == 'C')
		r = sink_file(s, vpath.p, mode, size, times);
	else
		r = sink_dir(s, vpath.p, mode, times, depth);
	buf_free(&vpath);
	return r;
}

/* Receive into target (a folder, or the one file's name) until the end
 * of the stream, or at depth > 0 until the folder's E line. */
static int sink(struct scp *s, const char *target, int depth)
{
	struct timespec times[2];
	struct stat st;
	int isdir, have_times = 0, c, r;

	isdir = rootfs_stat(&s->fs, target, 1, &st) == 0 && S_ISDIR(st.st_mode);
	if (depth == 0 && s->want_dir && !isdir)
		return reply_err(s, 1, "%s: Not a directory", target);
	if (depth == 0 && (r = ack(s)) != 0)
		return r;
	while (!s->fatal) {
		if ((r = fill(s)) <= 0) {
			if (r == 0 && depth > 0)
				r = err_set(ERR_IO, "the client went away");
			return r;
		}
		c = s->in.p[0];
		if (c == '\0' || !strchr("CDET\1\2", c))
			return reply_err(s, 1, "protocol error: unexpected "
			    "byte 0x%02x", (unsigned char)c);
		buf_consume(&s->in, 1);
		if ((r = get_line(s)) != 0)
			return reply_err(s, 1, "protocol error: %s", err_msg());
		if (c == '\1' || c == '\2') {
			log_info("ssh: %s: %s: scp: the client says: %s",
			    s->p->peer, s->p->user, buf_cstr(&s->line));
			s->errors++;
			s->fatal = c == '\2';
			continue;
		}
		if (c == 'E') {
			if (depth == 0 || s->line.len != 0)
				return reply_err(s, 1, "protocol error: "
				    "unexpected E");
			return ack(s);
		}
		if (c == 'T') {
			if (parse_times(buf_cstr(&s->line), times) != 0)
				return reply_err(s, 1, "protocol error: "
				    "bad T line");
			have_times = 1;
			if ((r = ack(s)) != 0)
				return r;
			continue;
		}
		r = sink_entry(s, c, target, isdir, have_times ? times : NULL,
		    depth);
		have_times = 0;
		if (r != 0)
			return r;
	}
	return 0;
}

/* ---- source: the client receives ---- */

static int send_path(struct scp *s, const char *vpath, int depth);

/* Send a T line (-p) and the C or D line, each answered: 0 and *okp. */
static int send_header(struct scp *s, const struct stat *st, int c,
    unsigned long long size, const char *name, int *okp)
{
	struct buf b = BUF_INIT(SCP_MAX_LINE);
	int r;

	*okp = 0;
	if (s->preserve) {
		if ((r = buf_addf(&b, "T%lld 0 %lld 0\n",
		    (long long)st->st_mtim.tv_sec,
		    (long long)st->st_atim.tv_sec)) != 0 ||
		    (r = put(s, b.p, b.len)) != 0 || (r = response(s)) != 0)
			goto out;
		buf_reset(&b);
	}
	if ((r = buf_addf(&b, "%c%04o %llu %s\n", c,
	    (unsigned)(st->st_mode & 0777), size, name)) == 0 &&
	    (r = put(s, b.p, b.len)) == 0 && (r = response(s)) == 0)
		*okp = 1;
out:
	buf_free(&b);
	return r < 0 ? r : 0;
}

static int send_file(struct scp *s, const char *vpath, const char *name)
{
	struct timespec t0;
	struct stat st;
	unsigned long long off = 0;
	ssize_t n;
	int fd, e = 0, ok, r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((r = rootfs_openat(&s->fs, vpath, ROOTFS_READ, O_RDONLY | O_NONBLOCK,
	    0, &fd)) != 0)
		return refuse(s, vpath, r, errno);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return reply_err(s, 0, "%s: not a regular file", vpath);
	}
	if ((r = send_header(s, &st, 'C', (unsigned long long)st.st_size, name,
	    &ok)) != 0 || !ok) {
		close(fd);
		return r;
	}
	/* The size was promised: a file that shrinks meanwhile is padded
	 * and reported, as OpenSSH's scp does. */
	while (r == 0 && off < (unsigned long long)st.st_size) {
		size_t want = (unsigned long long)st.st_size - off < SCP_CHUNK ?
		    (size_t)((unsigned long long)st.st_size - off) : SCP_CHUNK;
		if (e || (n = pread(fd, s->chunk, want, (off_t)off)) <= 0) {
			if (!e)
				e = n < 0 ? errno : EIO;
			memset(s->chunk, 0, want);
			n = (ssize_t)want;
		}
		r = put(s, s->chunk, (size_t)n);
		off += (unsigned long long)n;
	}
	close(fd);
	if (r == 0)
		r = e ? refuse(s, vpath, ERR_SYS, e) : ack(s);
	if (r == 0 && (r = response(s)) > 0)
		r = 0;
	xfer(s, vpath, 0, off, &t0, r == 0 && !e);
	return r;
}

static int send_dir(struct scp *s, const char *vpath, const char *name,
    int depth)
{
	struct buf child = BUF_INIT(ROOTFS_PATH_MAX + 1);
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, ok, r;

	if (depth >= SCP_MAX_DEPTH)
		return reply_err(s, 0, "%s: more than %d folders deep", vpath,
		    SCP_MAX_DEPTH);
	if ((r = rootfs_openat(&s->fs, vpath, ROOTFS_LIST, O_RDONLY |
	    O_DIRECTORY, 0, &fd)) != 0)
		return refuse(s, vpath, r, errno);
	if (fstat(fd, &st) != 0 || !(d = fdopendir(fd))) {
		close(fd);
		return refuse(s, vpath, ERR_SYS, errno);
	}
	if ((r = send_header(s, &st, 'D', 0, name, &ok)) != 0 || !ok)
		goto out;
	while (!s->fatal && (de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !rootfs_visible(&s->fs, vpath, dirfd(d), de->d_name))
			continue;
		if (join(&child, vpath, de->d_name) != 0)
			r = reply_err(s, 0, "%s/%s: path too long", vpath,
			    de->d_name);
		else
			r = send_path(s, child.p, depth + 1);
		if (r != 0)
			goto out;
	}
	if (!s->fatal && (r = put(s, "E\n", 2)) == 0 && (r = response(s)) > 0)
		r = 0;
out:
	closedir(d);
	buf_free(&child);
	return r;
}

static int send_path(struct scp *s, const char *vpath, int depth)
{
	const char *name = strrchr(vpath, '/') + 1;
	struct stat st;
	int r;

	if (!*name)
		return reply_err(s, 0, "/: name a file or a folder in it");
	if (strchr(name, '\n'))
		return reply_err(s, 0, "%s: a name with a newline", vpath);
	if ((r = rootfs_stat(&s->fs, vpath, 1, &st)) != 0)
		return refuse(s, vpath, r, errno);
	if (S_ISDIR(st.st_mode) && s->recursive)
		return send_dir(s, vpath, name, depth);
	if (!S_ISREG(st.st_mode))
		return reply_err(s, 0, "%s: not a regular file", vpath);
	return send_file(s, vpath, name);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in folder dirpath that the role may see and the wildcard
 * pattern matches (a leading dot only by a dot), sorted: 0, *np names in
 * *namesp (the caller frees them), or a reply already sent. */
static int glob_names(struct scp *s, const char *dirpath, const char *pattern,
    char ***namesp, size_t *np)
{
	struct dirent *de;
	DIR *d;
	int fd, r;

	*namesp = NULL;
	*np = 0;
	if ((r = rootfs_openat(&s->fs, dirpath, ROOTFS_LIST, O_RDONLY |
	    O_DIRECTORY, 0, &fd)) != 0)
		return refuse(s, dirpath, r, errno);
	if (!(d = fdopendir(fd))) {
		close(fd);
		return refuse(s, dirpath, ERR_SYS, errno);
	}
	while ((de = readdir(d)) != NULL && *np < SCP_MAX_MATCHES) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    fnmatch(pattern, de->d_name, FNM_PERIOD) != 0 ||
		    !rootfs_visible(&s->fs, dirpath, dirfd(d), de->d_name))
			continue;
		*namesp = xreallocarray(*namesp, *np + 1, sizeof(char *));
		(*namesp)[(*np)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*np)
		qsort(*namesp, *np, sizeof(char *), cmp_names);
	return 0;
}

/* A path whose last name holds a wildcard (*, ?, [) and names no file:
 * what it matches in its folder, as the shell behind OpenSSH's scp would
 * expand it (a wildcard in a folder's name is taken literally). */
static int send_glob(struct scp *s, const char *vpath)
{
	struct buf dir = BUF_INIT(ROOTFS_PATH_MAX + 1);
	struct buf child = BUF_INIT(ROOTFS_PATH_MAX + 1);
	const char *slash = strrchr(vpath, '/');
	char **names = NULL;
	size_t n = 0, i;
	int r;

	if ((r = buf_add(&dir, vpath, slash == vpath ? 1 :
	    (size_t)(slash - vpath))) != 0 ||
	    (r = glob_names(s, dir.p, slash + 1, &names, &n)) != 0)
		goto out;
	if (n == 0 && !s->fatal)
		r = refuse(s, vpath, ERR_NOTFOUND, 0);
	for (i = 0; i < n && r == 0 && !s->fatal; i++)
		r = join(&child, dir.p, names[i]) ? reply_err(s, 0,
		    "%s/%s: path too long", dir.p, names[i]) :
		    send_path(s, child.p, 0);
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	buf_free(&dir);
	buf_free(&child);
	return r;
}

static int source(struct scp *s, const char *const *paths, size_t n)
{
	struct buf vpath = BUF_INIT(ROOTFS_PATH_MAX + 1);
	int r;

	s->chunk = xmalloc(SCP_CHUNK);
	if ((r = response(s)) != 0)	/* the client's sink is ready */
		goto out;
	for (size_t i = 0; i < n && r == 0 && !s->fatal; i++) {
		struct stat st;

		if (rootfs_normalise(paths[i], strlen(paths[i]), &vpath) != 0)
			r = reply_err(s, 0, "%s: bad path", paths[i]);
		else if (strpbrk(strrchr(vpath.p, '/') + 1, "*?[") &&
		    rootfs_stat(&s->fs, vpath.p, 1, &st) == ERR_NOTFOUND)
			r = send_glob(s, vpath.p);
		else
			r = send_path(s, vpath.p, 0);
	}
out:
	buf_free(&vpath);
	return r < 0 ? r : 0;
}

/* ---- the command ---- */

/* Split command into words into out (strlen(command) + 1 bytes) as a
 * shell splits plain words: 'single' and "double" quotes and backslashes
 * (clients quote names with spaces); no expansion: an unquoted shell
 * operator or $ is refused rather than taken literally. */
static int split_words(const char *c, char *out, const char **words,
    size_t max, size_t *np)
{
	char *o = out;
	const char *e;

	*np = 0;
	for (;;) {
		while (*c == ' ' || *c == '\t')
			c++;
		if (!*c)
			return 0;
		if (*np == max)
			return err_set(ERR_INVAL, "too many arguments");
		words[(*np)++] = o;
		while (*c && *c != ' ' && *c != '\t') {
			if (*c == '\'') {
				if (!(e = strchr(c + 1, '\'')))
					return err_set(ERR_INVAL, "unmatched '");
				memcpy(o, c + 1, (size_t)(e - c - 1));
				o += e - c - 1;
				c = e + 1;
			} else if (*c == '"') {
				for (c++; *c != '"'; c++) {
					if (!*c)
						return err_set(ERR_INVAL,
						    "unmatched \"");
					if (*c == '\\' && c[1] &&
					    strchr("\"\\$`", c[1]))
						c++;
					*o++ = *c;
				}
				c++;
			} else if (*c == '\\') {
				if (!c[1])
					return err_set(ERR_INVAL, "a trailing \\");
				*o++ = c[1];
				c += 2;
			} else if (strchr(";&|<>`$(){}\n", *c)) {
				return err_set(ERR_INVAL, "shell syntax (%c) is "
				    "not supported", *c);
			} else
				*o++ = *c++;
		}
		*o++ = '\0';
	}
}

/* The options OpenSSH's and PuTTY's clients send; *firstp: the first
 * path. */
static int parse_options(struct scp *s, const char *const *w, size_t n,
    size_t *firstp)
{
	int from = 0, to = 0;
	size_t i;

	for (i = 1; i < n && w[i][0] == '-'; i++) {
		if (!strcmp(w[i], "--")) {
			i++;
			break;
		}
		if (!w[i][1])
			return err_set(ERR_INVAL, "usage: a lone -");
		for (const char *f = w[i] + 1; *f; f++) {
			switch (*f) {
			case 'v': break;
			case 'r': s->recursive = 1; break;
			case 'p': s->preserve = 1; break;
			case 'd': s->want_dir = 1; break;
			case 't': to = 1; break;
			case 'f': from = 1; break;
			default:
				return err_set(ERR_INVAL, "unknown option -%c "
				    "(only -t, -f, -r, -p, -d, -v)", *f);
			}
		}
	}
	if (from == to)
		return err_set(ERR_INVAL, "one of -t and -f: only the server "
		    "side of legacy scp runs here");
	if (i == n || (to && n - i != 1))
		return err_set(ERR_INVAL, "%s", to ? "-t takes one target" :
		    "-f takes the files to send");
	s->sink = to;
	*firstp = i;
	return 0;
}

int scp_is_command(const char *command)
{
	while (*command == ' ' || *command == '\t')
		command++;
	return !strncmp(command, "scp", 3) && (!command[3] ||
	    command[3] == ' ' || command[3] == '\t');
}

static int serve(struct scp *s, const char *const *words, size_t n)
{
	struct buf target = BUF_INIT(ROOTFS_PATH_MAX + 1);
	size_t first = 0;
	int r;

	if (parse_options(s, words, n, &first) != 0)
		return reply_err(s, 1, "%s", err_msg());
	log_info("ssh: %s: %s: scp %s %s%s", s->p->peer, s->p->user,
	    s->sink ? "to" : "from", words[first], n - first > 1 ? " ..." : "");
	if ((r = rootfs_open(&s->fs, s->p->root, s->p->role)) != 0 ||
	    (s->p->lockdown && (r = rootfs_lockdown(&s->fs)) != 0)) {
		log_warn("ssh: %s: %s: scp: %s", s->p->peer, s->p->user,
		    err_msg());
		return reply_err(s, 1, "the files root cannot be opened");
	}
	rootfs_set_umask(&s->fs, s->p->umask);
	if (!s->sink)
		return source(s, words + first, n - first);
	if (rootfs_normalise(words[first], strlen(words[first]), &target) != 0)
		r = reply_err(s, 1, "%s: bad path", words[first]);
	else
		r = sink(s, target.p, 0);
	buf_free(&target);
	return r;
}

int scp_serve(const char *command, const struct scp_io *io,
    const struct scp_params *p, int *status)
{
	const char *words[SCP_MAX_WORDS];
	struct scp s;
	char *copy;
	size_t n;
	int r;

	*status = 1;
	memset(&s, 0, sizeof(s));
	s.io = io;
	s.p = p;
	s.fs.rootfd = -1;
	s.timeout_ms = p->idle_timeout > 0 ? (int)p->idle_timeout * 1000 : -1;
	buf_init(&s.in, SCP_CHUNK);
	buf_init(&s.line, SCP_MAX_LINE + 1);
	copy = xmalloc(strlen(command) + 1);
	if (split_words(command, copy, words, SCP_MAX_WORDS, &n) != 0)
		r = reply_err(&s, 1, "%s", err_msg());
	else
		r = serve(&s, words, n);
	if (s.fs.rootfd >= 0)
		rootfs_close(&s.fs);
	if (r == 0 && !s.errors)
		*status = 0;
	free(copy);
	free(s.chunk);
	buf_free(&s.in);
	buf_free(&s.line);
	return r;
}
