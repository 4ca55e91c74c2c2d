/* ftp.c: an FTP session process: reads commands from the control
 * connection through a capped buffer, dispatches through a table that
 * carries each command's needs, and reaches files only through openat2()
 * with RESOLVE_IN_ROOT on the files root (docs/ftpd.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "buf.h"
#include "conf.h"
#include "err.h"
#include "ftp.h"
#include "ftpd.h"
#include "tls.h"
#include "users.h"
#include "banned.h"

#define VPATH_MAX 1024

struct sess {
	const struct ftpd_ctx *ctx;
	const struct conf_ftpd *f;
	int fd, rootfd, pasvfd;
	struct buf in;
	char peer[INET6_ADDRSTRLEN];
	struct sockaddr_storage local;
	char user[64];
	enum role role;
	int logged_in, attempts;
	char cwd[VPATH_MAX];		/* virtual, "/" based */
	char rnfr[VPATH_MAX];
	long long rest;
	int quit;
	struct tls_server *tls;		/* NULL when tls = off */
	struct tls_conn *ctl;		/* after AUTH TLS */
	int prot_p, pbsz;
	struct sockaddr_storage port_to;	/* after PORT/EPRT */
	int port_set;
	time_t login_deadline;
};

/* A data connection, with TLS when PROT P. */
struct data {
	int fd;
	struct tls_conn *t;
};

static int tls_required(const struct sess *s)
{
	return !strcmp(s->f->tls, "required");
}

static int write_all(int fd, struct tls_conn *t, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = t ? tls_write(t, p, n) : write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void reply(struct sess *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void reply(struct sess *s, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 3)
		n = (int)sizeof line - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	(void)write_all(s->fd, s->ctl, line, (size_t)n);
}

static int sys_openat2(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how;

	memset(&how, 0, sizeof how);
	how.flags = (unsigned long long)flags | O_CLOEXEC;
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* Resolve arg against cwd into a normalised virtual path ("/a/b").
 * Refuses control bytes and internal (.nodebak*) names. */
static int vpath(const struct sess *s, const char *arg, char *out)
{
	char tmp[VPATH_MAX * 2];
	size_t o = 0;
	const char *p;

	for (p = arg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return ERR_INVAL;
	if (arg[0] == '/')
		snprintf(tmp, sizeof tmp, "%s", arg);
	else
		snprintf(tmp, sizeof tmp, "%s/%s", s->cwd, arg);
	out[0] = '\0';
	for (p = tmp; *p;) {
		const char *e;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchr(p, '/');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n == 1 && p[0] == '.') {
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			if (n >= 8 && !strncmp(p, ".nodebak", 8))
				return ERR_NOTFOUND;
			if (o + n + 2 >= VPATH_MAX)
				return ERR_TOOBIG;
			out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		out[o] = '\0';
		p += n;
	}
	if (o == 0) {
		out[0] = '/';
		out[1] = '\0';
	}
	return 0;
}

/* Role policy (docs/ftpd.md): readonly sees backups/ only, never keys. */
static int allowed(const struct sess *s, const char *vp, int write)
{
	size_t n = strlen(vp);

	if (s->role == ROLE_ADMIN)
		return 1;
	if (write)
		return 0;
	if (!strcmp(vp, "/") || !strcmp(vp, "/backups"))
		return 1;
	if (strncmp(vp, "/backups/", 9) != 0)
		return 0;
	if (n >= 4 && !strcmp(vp + n - 4, ".key"))
		return 0;
	return 1;
}

static int vopen(const struct sess *s, const char *vp, int flags, mode_t mode)
{
	const char *rel = vp[1] ? vp + 1 : ".";

	return sys_openat2(s->rootfd, rel, flags, mode);
}

/* A file whose content starts with a PEM private key header. */
static int is_private_key(int fd)
{
	char head[64];
	ssize_t n = pread(fd, head, sizeof head - 1, 0);

	if (n <= 0)
		return 0;
	head[n] = '\0';
	return !strncmp(head, "-----BEGIN", 10) && strstr(head, "PRIVATE KEY");
}

/* Readonly users do not see what they may not download. */
static int hidden_key(const struct sess *s, int dfd, const char *name)
{
	int fd, r;

	if (s->role == ROLE_ADMIN)
		return 0;
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		return 0;
	r = is_private_key(fd);
	close(fd);
	return r;
}

/* Data connection: passive only in this build. */
static int pasv_open(struct sess *s, int extended)
{
	struct sockaddr_storage a = s->local;
	socklen_t len = sizeof a;
	long lo = 1024, hi = 65535;
	unsigned port;

	if (s->pasvfd >= 0)
		close(s->pasvfd);
	s->pasvfd = -1;
	s->port_set = 0;
	if (s->f->pasv_ports && *s->f->pasv_ports)
		sscanf(s->f->pasv_ports, "%ld-%ld", &lo, &hi);
	if (lo < 1024 || hi > 65535 || lo > hi)
		lo = 1024, hi = 65535;
	for (long tries = 0; tries < 64; tries++) {
		long p = lo + (long)((unsigned long)random() % (unsigned long)(hi - lo + 1));
		int fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		if (a.ss_family == AF_INET)
			((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)p);
		else
			((struct sockaddr_in6 *)&a)->sin6_port = htons((uint16_t)p);
		if (bind(fd, (struct sockaddr *)&a, len) == 0 && listen(fd, 1) == 0) {
			s->pasvfd = fd;
			break;
		}
		close(fd);
	}
	if (s->pasvfd < 0) {
		reply(s, "425 Cannot open a passive port");
		return -1;
	}
	port = (a.ss_family == AF_INET) ?
	    ntohs(((struct sockaddr_in *)&a)->sin_port) :
	    ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
	if (extended)
		reply(s, "229 Entering Extended Passive Mode (|||%u|)", port);
	else if (a.ss_family == AF_INET) {
		unsigned char *ip = (unsigned char *)&((struct sockaddr_in *)&a)->sin_addr;
		reply(s, "227 Entering Passive Mode (%u,%u,%u,%u,%u,%u)", ip[0],
		    ip[1], ip[2], ip[3], port >> 8, port & 255);
	} else
		reply(s, "522 Use EPSV on IPv6 (2)");
	return 0;
}

/* PORT h1,h2,h3,h4,p1,p2 and EPRT |af|addr|port|: only to the control
 * connection's own address and to ports >= 1024 (no FTP bounce). */
static void cmd_port(struct sess *s, const char *cmd, const char *arg)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned h[6], port = 0;
	struct sockaddr_storage a;
	int af = 0;

	memset(&a, 0, sizeof a);
	if (!strcmp(cmd, "PORT")) {
		if (sscanf(arg, "%3u,%3u,%3u,%3u,%3u,%3u", &h[0], &h[1], &h[2], &h[3],
		    &h[4], &h[5]) != 6 || h[0] > 255 || h[1] > 255 || h[2] > 255 ||
		    h[3] > 255 || h[4] > 255 || h[5] > 255) {
			reply(s, "501 Bad PORT argument");
			return;
		}
		snprintf(host, sizeof host, "%u.%u.%u.%u", h[0], h[1], h[2], h[3]);
		port = h[4] * 256 + h[5];
		af = AF_INET;
	} else {
		char d = arg[0];
		const char *p1, *p2, *p3;
		if (!d || (p1 = strchr(arg + 1, d)) == NULL ||
		    (p2 = strchr(p1 + 1, d)) == NULL || (p3 = strchr(p2 + 1, d)) == NULL ||
		    (size_t)(p2 - p1 - 1) >= sizeof host) {
			reply(s, "501 Bad EPRT argument");
			return;
		}
		af = arg[1] == '1' ? AF_INET : arg[1] == '2' ? AF_INET6 : 0;
		snprintf(host, sizeof host, "%.*s", (int)(p2 - p1 - 1), p1 + 1);
		if (sscanf(p2 + 1, "%5u", &port) != 1 || port > 65535)
			af = 0;
	}
	if (af == 0 || strcmp(host, s->peer) != 0 || port < 1024) {
		reply(s, "500 Illegal %s: only to your own address, port >= 1024", cmd);
		return;
	}
	a.ss_family = (sa_family_t)af;
	if (af == AF_INET) {
		inet_pton(AF_INET, host, &((struct sockaddr_in *)&a)->sin_addr);
		((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)port);
	} else {
		inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&a)->sin6_addr);
		((struct sockaddr_in6 *)&a)->sin6_port = htons((uint16_t)port);
	}
	if (s->pasvfd >= 0)
		close(s->pasvfd);
	s->pasvfd = -1;
	s->port_to = a;
	s->port_set = 1;
	reply(s, "200 %s command successful", cmd);
}

/* Active mode: connect to the PORT address within data_timeout. */
static int port_connect(struct sess *s)
{
	int fd = socket(s->port_to.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	socklen_t len = s->port_to.ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	struct pollfd p;
	int e = 0;
	socklen_t el = sizeof e;

	s->port_set = 0;
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&s->port_to, len) != 0 &&
	    errno != EINPROGRESS)
		goto fail;
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, (int)s->f->data_timeout * 1000) <= 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0)
		goto fail;
	if (fcntl(fd, F_SETFL, 0) != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* Accept the data connection from the control connection's peer only;
 * with PROT P, its TLS session must resume the control connection's
 * (vsftpd's require_ssl_reuse: proof that the same client opened it). */
static int data_accept(struct sess *s, struct data *d)
{
	struct pollfd p = { s->pasvfd, POLLIN, 0 };
	struct sockaddr_storage a;
	socklen_t len = sizeof a;
	char who[INET6_ADDRSTRLEN];
	int fd;

	d->fd = -1;
	d->t = NULL;
	if (s->pasvfd < 0 && !s->port_set) {
		reply(s, "425 Use PASV, EPSV, PORT or EPRT first");
		return -1;
	}
	if (tls_required(s) && !s->prot_p) {
		reply(s, "521 Data connections must be protected: PBSZ 0, PROT P");
		return -1;
	}
	reply(s, "150 Opening data connection");
	if (s->port_set) {
		fd = port_connect(s);
		goto connected;
	}
	for (;;) {
		if (poll(&p, 1, (int)s->f->data_timeout * 1000) <= 0) {
			fd = -1;
			break;
		}
		len = sizeof a;
		fd = accept4(s->pasvfd, (struct sockaddr *)&a, &len, SOCK_CLOEXEC);
		if (fd < 0)
			break;
		if (a.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&a)->sin_addr, who, sizeof who);
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a)->sin6_addr, who, sizeof who);
		if (!strcmp(who, s->peer))
			break;
		close(fd);	/* a stranger: keep waiting */
	}
	close(s->pasvfd);
	s->pasvfd = -1;
connected:
	if (fd < 0) {
		reply(s, "425 No data connection");
		return -1;
	}
	if (s->prot_p) {
		if (tls_accept(s->tls, fd, (int)s->f->data_timeout, &d->t) != 0) {
			close(fd);
			reply(s, "425 TLS handshake on the data connection failed");
			return -1;
		}
		if (!tls_resumed(d->t)) {
			tls_close(d->t);
			d->t = NULL;
			close(fd);
			reply(s, "522 Data connection must reuse the control "
			    "connection's TLS session");
			return -1;
		}
	}
	d->fd = fd;
	return fd;
}

static void data_close(struct data *d)
{
	tls_close(d->t);
	d->t = NULL;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

static void list_entry(struct buf *b, int dfd, const char *name, int longf)
{
	struct stat st;
	char when[32];
	struct tm tm;

	if (!longf) {
		buf_addf(b, "%s\r\n", name);
		return;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return;
	gmtime_r(&st.st_mtime, &tm);
	strftime(when, sizeof when, "%b %e %H:%M", &tm);
	buf_addf(b, "%c%s 1 ftp ftp %13lld %s %s\r\n",
	    S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : '-',
	    S_ISDIR(st.st_mode) ? "rwxr-xr-x" : "rw-r--r--",
	    (long long)st.st_size, when, name);
}

static void cmd_list(struct sess *s, const char *arg, int longf)
{
	char vp[VPATH_MAX];
	struct buf b = BUF_INIT(64u << 20);
	DIR *d;
	struct dirent *de;
	struct data dc;
	int dfd;

	if (arg && arg[0] == '-')	/* "LIST -la": options are ignored */
		arg = strchr(arg, ' ') ? strchr(arg, ' ') + 1 : "";
	if (vpath(s, arg && *arg ? arg : ".", vp) != 0 || !allowed(s, vp, 0) ||
	    (dfd = vopen(s, vp, O_RDONLY | O_DIRECTORY, 0)) < 0) {
		reply(s, "550 No such directory");
		return;
	}
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		reply(s, "550 Cannot read directory");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char child[VPATH_MAX];
		if (de->d_name[0] == '.' && (!de->d_name[1] ||
		    !strcmp(de->d_name, "..") || !strncmp(de->d_name, ".nodebak", 8)))
			continue;
		if (strlen(vp) + strlen(de->d_name) + 2 > sizeof child)
			continue;
		memcpy(child, strcmp(vp, "/") ? vp : "", strcmp(vp, "/") ? strlen(vp) + 1 : 1);
		(void)!snprintf(child + strlen(child), sizeof child - strlen(child),
		    "/%s", de->d_name);
		if (!allowed(s, child, 0) || hidden_key(s, dirfd(d), de->d_name))
			continue;
		list_entry(&b, dirfd(d), de->d_name, longf);
	}
	closedir(d);
	if (data_accept(s, &dc) >= 0) {
		int w = write_all(dc.fd, dc.t, buf_cstr(&b), b.len);
		data_close(&dc);
		reply(s, w == 0 ? "226 Transfer complete" : "426 Transfer aborted");
	}
	buf_free(&b);
}

/* FTPS downloads: full 16 KiB TLS records from 256 KiB reads. */
static int send_tls(struct data *dc, int fd, off_t off, off_t size,
    unsigned long long *sent)
{
	static char chunk[256 * 1024];

	while (off < size) {
		ssize_t n = pread(fd, chunk, sizeof chunk, off);
		if (n <= 0 || write_all(dc->fd, dc->t, chunk, (size_t)n) != 0)
			return 0;
		off += n;
		*sent += (unsigned long long)n;
	}
	return 1;
}

static void cmd_retr(struct sess *s, const char *arg)
{
	char vp[VPATH_MAX];
	struct stat st;
	struct timespec t0, t1;
	off_t off;
	unsigned long long sent = 0;
	struct data dc;
	int fd, ok = 1;

	if (vpath(s, arg, vp) != 0 || !allowed(s, vp, 0) ||
	    (fd = vopen(s, vp, O_RDONLY, 0)) < 0) {
		reply(s, "550 No such file");
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (s->role != ROLE_ADMIN && is_private_key(fd))) {
		close(fd);
		reply(s, "550 Not a plain file or not allowed");
		return;
	}
	off = (off_t)s->rest;
	s->rest = 0;
	if (data_accept(s, &dc) < 0) {
		close(fd);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (dc.t)
		ok = send_tls(&dc, fd, off, st.st_size, &sent);
	else
		while (off < st.st_size) {
			ssize_t n = sendfile(dc.fd, fd, &off, 1u << 20);
			if (n <= 0) {
				ok = 0;
				break;
			}
			sent += (unsigned long long)n;
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	data_close(&dc);
	close(fd);
	ftpd_log_xfer(s->ctx, "ftp", s->user, s->peer, vp, 0, sent,
	    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, ok);
	reply(s, ok ? "226 Transfer complete" : "426 Transfer aborted");
}

/* The folder holding vp, opened inside the root, and vp's last name:
 * every change is made relative to that descriptor so no component of the
 * path can be a symlink leading out. */
static int parent_fd(const struct sess *s, const char *vp, const char **base)
{
	char dir[VPATH_MAX];
	const char *slash = strrchr(vp, '/');

	if (!strcmp(vp, "/"))
		return -1;
	snprintf(dir, sizeof dir, "%.*s", (int)(slash - vp), vp);
	*base = slash + 1;
	return vopen(s, dir[0] ? dir : "/", O_PATH | O_DIRECTORY, 0);
}

/* Upload to .nodebak-upload-XXXXXX beside the target, rename when done. */
static void cmd_stor(struct sess *s, const char *arg)
{
	char vp[VPATH_MAX], tmp[32], data[65536];
	const char *base;
	struct timespec t0, t1;
	unsigned long long got = 0;
	struct data dc;
	int dfd, fd = -1, ok = 1;

	if (vpath(s, arg, vp) != 0 || !allowed(s, vp, 1) ||
	    (dfd = parent_fd(s, vp, &base)) < 0) {
		reply(s, "553 Permission denied or no such folder");
		return;
	}
	for (int i = 0; i < 16 && fd < 0; i++) {
		snprintf(tmp, sizeof tmp, ".nodebak-upload-%06lx",
		    (unsigned long)random() & 0xffffff);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
	}
	if (fd < 0) {
		close(dfd);
		reply(s, "553 Cannot create file");
		return;
	}
	if (data_accept(s, &dc) < 0) {
		close(fd);
		unlinkat(dfd, tmp, 0);
		close(dfd);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { dc.fd, POLLIN, 0 };
		ssize_t n;
		if (poll(&p, 1, (int)s->f->data_timeout * 1000) <= 0) {
			ok = 0;
			break;
		}
		n = dc.t ? tls_read(dc.t, data, sizeof data) : read(dc.fd, data, sizeof data);
		if (n == 0)
			break;
		if (n < 0 || write(fd, data, (size_t)n) != n) {
			ok = 0;
			break;
		}
		got += (unsigned long long)n;
	}
	data_close(&dc);
	if (ok && fsync(fd) != 0)
		ok = 0;
	close(fd);
	if (ok && renameat(dfd, tmp, dfd, base) != 0)
		ok = 0;
	if (!ok)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ftpd_log_xfer(s->ctx, "ftp", s->user, s->peer, vp, 1, got,
	    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, ok);
	reply(s, ok ? "226 Transfer complete" : "451 Upload failed; nothing stored");
}

/* DELE, RMD, MKD, RNTO: one change relative to the parent's descriptor. */
static void cmd_change(struct sess *s, const char *cmd, const char *arg)
{
	char vp[VPATH_MAX], from[VPATH_MAX];
	const char *base, *fbase;
	int dfd, ffd = -1, r = -1;

	if (vpath(s, arg, vp) != 0 || !allowed(s, vp, 1) ||
	    (dfd = parent_fd(s, vp, &base)) < 0) {
		reply(s, "550 Permission denied or no such file");
		return;
	}
	if (!strcmp(cmd, "DELE"))
		r = unlinkat(dfd, base, 0);
	else if (!strcmp(cmd, "RMD"))
		r = unlinkat(dfd, base, AT_REMOVEDIR);
	else if (!strcmp(cmd, "MKD"))
		r = mkdirat(dfd, base, 0755);
	else if (!strcmp(cmd, "RNTO") && s->rnfr[0]) {
		snprintf(from, sizeof from, "%s", s->rnfr);
		if ((ffd = parent_fd(s, from, &fbase)) >= 0)
			r = renameat(ffd, fbase, dfd, base);
	}
	if (ffd >= 0)
		close(ffd);
	close(dfd);
	s->rnfr[0] = '\0';
	if (r != 0)
		reply(s, "550 %s failed: %s", cmd, strerror(errno));
	else if (!strcmp(cmd, "MKD"))
		reply(s, "257 \"%s\" created", vp);
	else
		reply(s, "250 %s done", cmd);
}

static void cmd_user(struct sess *s, const char *arg)
{
	if (s->logged_in) {
		reply(s, "530 Already logged in");
		return;
	}
	snprintf(s->user, sizeof s->user, "%s", arg);
	if (tls_required(s) && s->ctl == NULL)
		reply(s, "530 TLS is required: send AUTH TLS first");
	else
		reply(s, "331 Password required");
}

static int cmd_pass(struct sess *s, const char *arg)
{
	enum role role = ROLE_NONE;

	if (!s->user[0] || s->logged_in || (tls_required(s) && s->ctl == NULL)) {
		reply(s, "503 Send USER first");
		return 0;
	}
	if (users_check_password(s->ctx->users, s->user, arg, &role) != 0) {
		ftpd_log_login(s->ctx, "ftp", s->user, s->peer, "password", 0);
		s->attempts++;
		sleep((unsigned)(s->attempts < 5 ? s->attempts : 5));
		reply(s, "530 Login incorrect");
		if (s->attempts >= s->f->max_login_attempts)
			return ERR_DENIED;
		return 0;
	}
	ftpd_log_login(s->ctx, "ftp", s->user, s->peer, "password", 1);
	s->role = role;
	s->logged_in = 1;
	reply(s, "230 Logged in as %s (%s)", s->user, role_name(role));
	return 0;
}

static void cmd_size_mdtm(struct sess *s, const char *cmd, const char *arg)
{
	char vp[VPATH_MAX], when[32];
	struct stat st;
	struct tm tm;
	int fd;

	if (vpath(s, arg, vp) != 0 || !allowed(s, vp, 0) ||
	    (fd = vopen(s, vp, O_PATH, 0)) < 0) {
		reply(s, "550 No such file");
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		reply(s, "550 Not a plain file");
		return;
	}
	close(fd);
	if (!strcmp(cmd, "SIZE")) {
		reply(s, "213 %lld", (long long)st.st_size);
		return;
	}
	gmtime_r(&st.st_mtime, &tm);
	strftime(when, sizeof when, "%Y%m%d%H%M%S", &tm);
	reply(s, "213 %s", when);
}

static void cmd_cwd(struct sess *s, const char *arg)
{
	char vp[VPATH_MAX];
	int fd;

	if (vpath(s, arg, vp) != 0 || !allowed(s, vp, 0) ||
	    (fd = vopen(s, vp, O_PATH | O_DIRECTORY, 0)) < 0) {
		reply(s, "550 No such directory");
		return;
	}
	close(fd);
	snprintf(s->cwd, sizeof s->cwd, "%s", vp);
	reply(s, "250 Directory is now \"%s\"", vp);
}

/* AUTH TLS: whatever the client pipelined after it in clear is dropped,
 * never executed (CVE-2011-0411 class). */
static int cmd_auth(struct sess *s, const char *arg)
{
	if (s->tls == NULL) {
		reply(s, "502 TLS is off on this server");
		return 0;
	}
	if (s->ctl) {
		reply(s, "503 TLS is already on");
		return 0;
	}
	if (strcasecmp(arg, "TLS") && strcasecmp(arg, "SSL") &&
	    strcasecmp(arg, "TLS-C")) {
		reply(s, "504 AUTH TLS only");
		return 0;
	}
	reply(s, "234 Proceed with TLS");
	buf_reset(&s->in);
	if (tls_accept(s->tls, s->fd, (int)s->f->login_timeout, &s->ctl) != 0)
		return ERR_PROTO;
	return 0;
}

static void cmd_prot(struct sess *s, const char *arg)
{
	if (s->ctl == NULL)
		reply(s, "503 AUTH TLS first");
	else if (!strcasecmp(arg, "P")) {
		s->prot_p = 1;
		reply(s, "200 PROT P");
	} else if (!strcasecmp(arg, "C") && !tls_required(s)) {
		s->prot_p = 0;
		reply(s, "200 PROT C");
	} else
		reply(s, "536 Only PROT P here");
}

/* Each command's needs, as in sftp-server.c's handlers[]. */
enum { NEED_ARG = 1, NEED_LOGIN = 2 };
static const struct cmd {
	const char *name;
	int needs;
} cmds[] = {
	{ "USER", NEED_ARG }, { "PASS", 0 }, { "QUIT", 0 }, { "SYST", 0 },
	{ "FEAT", 0 }, { "NOOP", 0 }, { "OPTS", 0 }, { "HELP", 0 },
	{ "AUTH", 0 }, { "PWD", NEED_LOGIN }, { "XPWD", NEED_LOGIN },
	{ "CWD", NEED_LOGIN | NEED_ARG }, { "CDUP", NEED_LOGIN },
	{ "TYPE", NEED_LOGIN | NEED_ARG }, { "MODE", NEED_LOGIN | NEED_ARG },
	{ "STRU", NEED_LOGIN | NEED_ARG }, { "PASV", NEED_LOGIN },
	{ "EPSV", NEED_LOGIN }, { "PORT", NEED_LOGIN }, { "EPRT", NEED_LOGIN },
	{ "LIST", NEED_LOGIN }, { "NLST", NEED_LOGIN },
	{ "SIZE", NEED_LOGIN | NEED_ARG }, { "MDTM", NEED_LOGIN | NEED_ARG },
	{ "REST", NEED_LOGIN | NEED_ARG }, { "RETR", NEED_LOGIN | NEED_ARG },
	{ "STOR", NEED_LOGIN | NEED_ARG }, { "DELE", NEED_LOGIN | NEED_ARG },
	{ "MKD", NEED_LOGIN | NEED_ARG }, { "RMD", NEED_LOGIN | NEED_ARG },
	{ "RNFR", NEED_LOGIN | NEED_ARG }, { "RNTO", NEED_LOGIN | NEED_ARG },
	{ "ABOR", NEED_LOGIN }, { "PBSZ", NEED_ARG }, { "PROT", NEED_ARG },
};

static int dispatch(struct sess *s, char *line)
{
	char *arg = strchr(line, ' ');
	const struct cmd *c = NULL;
	char vp[VPATH_MAX];

	if (arg)
		*arg++ = '\0';
	else
		arg = line + strlen(line);
	for (char *p = line; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(cmds[i].name, line))
			c = &cmds[i];
	if (c == NULL) {
		reply(s, "500 Unknown command");
		return 0;
	}
	if ((c->needs & NEED_LOGIN) && !s->logged_in) {
		reply(s, "530 Please log in with USER and PASS");
		return 0;
	}
	if ((c->needs & NEED_ARG) && !*arg) {
		reply(s, "501 %s needs an argument", c->name);
		return 0;
	}
	if (!strcmp(line, "USER"))
		cmd_user(s, arg);
	else if (!strcmp(line, "PASS"))
		return cmd_pass(s, arg);
	else if (!strcmp(line, "QUIT")) {
		reply(s, "221 Goodbye");
		s->quit = 1;
	} else if (!strcmp(line, "SYST"))
		reply(s, "215 UNIX Type: L8");
	else if (!strcmp(line, "FEAT")) {
		reply(s, "211-Features:\r\n%s EPSV\r\n PASV\r\n SIZE\r\n MDTM\r\n"
		    " REST STREAM\r\n UTF8\r\n211 End", s->tls ?
		    " AUTH TLS\r\n PBSZ\r\n PROT\r\n" : "");
	} else if (!strcmp(line, "NOOP") || !strcmp(line, "OPTS"))
		reply(s, "200 OK");
	else if (!strcmp(line, "HELP"))
		reply(s, "214 See docs/ftpd.md");
	else if (!strcmp(line, "AUTH"))
		return cmd_auth(s, arg);
	else if (!strcmp(line, "PBSZ"))
		reply(s, s->ctl ? "200 PBSZ=0" : "503 AUTH TLS first");
	else if (!strcmp(line, "PROT"))
		cmd_prot(s, arg);
	else if (!strcmp(line, "PWD") || !strcmp(line, "XPWD"))
		reply(s, "257 \"%s\" is the current directory", s->cwd);
	else if (!strcmp(line, "CWD"))
		cmd_cwd(s, arg);
	else if (!strcmp(line, "CDUP"))
		cmd_cwd(s, "..");
	else if (!strcmp(line, "TYPE"))
		reply(s, (arg[0] == 'I' || arg[0] == 'A' || arg[0] == 'i' ||
		    arg[0] == 'a') ? "200 Type set" : "504 Type not supported");
	else if (!strcmp(line, "MODE"))
		reply(s, (arg[0] == 'S' || arg[0] == 's') ? "200 Mode S" : "504 Only mode S");
	else if (!strcmp(line, "STRU"))
		reply(s, (arg[0] == 'F' || arg[0] == 'f') ? "200 Structure F" : "504 Only F");
	else if (!strcmp(line, "PASV"))
		pasv_open(s, 0);
	else if (!strcmp(line, "EPSV"))
		pasv_open(s, 1);
	else if (!strcmp(line, "PORT") || !strcmp(line, "EPRT"))
		cmd_port(s, line, arg);
	else if (!strcmp(line, "LIST"))
		cmd_list(s, arg, 1);
	else if (!strcmp(line, "NLST"))
		cmd_list(s, arg, 0);
	else if (!strcmp(line, "SIZE") || !strcmp(line, "MDTM"))
		cmd_size_mdtm(s, line, arg);
	else if (!strcmp(line, "REST")) {
		char *e;
		long long v = strtoll(arg, &e, 10);
		if (*e || v < 0)
			reply(s, "501 Bad offset");
		else {
			s->rest = v;
			reply(s, "350 Restarting at %lld", v);
		}
	} else if (!strcmp(line, "RETR"))
		cmd_retr(s, arg);
	else if (!strcmp(line, "STOR"))
		cmd_stor(s, arg);
	else if (!strcmp(line, "RNFR")) {
		if (vpath(s, arg, vp) != 0 || !allowed(s, vp, 1))
			reply(s, "550 Permission denied");
		else {
			snprintf(s->rnfr, sizeof s->rnfr, "%s", vp);
			reply(s, "350 Ready for RNTO");
		}
	} else if (!strcmp(line, "ABOR"))
		reply(s, "226 Nothing to abort");
	else
		cmd_change(s, line, arg);
	return 0;
}

/* One line, CRLF or LF ended, at most max_line bytes; -1 on timeout/EOF. */
static int read_line(struct sess *s, char **linep)
{
	char *nl;
	int tmo = (int)(s->logged_in ? s->f->idle_timeout :
	    s->login_deadline - time(NULL));

	for (;;) {
		char chunk[512];
		struct pollfd p = { s->fd, POLLIN, 0 };
		ssize_t n;

		if (s->in.len && (nl = memchr(s->in.p, '\n', s->in.len)) != NULL) {
			size_t l = (size_t)(nl - s->in.p);
			*linep = strndup(s->in.p, l);
			buf_consume(&s->in, l + 1);
			if (*linep == NULL)
				return -1;
			l = strlen(*linep);
			if (l && (*linep)[l - 1] == '\r')
				(*linep)[l - 1] = '\0';
			return 0;
		}
		if (!(s->ctl && tls_pending(s->ctl)) &&
		    (tmo <= 0 || poll(&p, 1, tmo * 1000) <= 0)) {
			reply(s, "421 Timeout");
			return -1;
		}
		if (s->ctl)
			n = tls_read(s->ctl, chunk, sizeof chunk);
		else
			n = read(s->fd, chunk, sizeof chunk);
		if (n <= 0)
			return -1;
		if (buf_add(&s->in, chunk, (size_t)n) != 0) {
			reply(s, "500 Line too long; closing");
			return -1;
		}
	}
}

int ftp_session(int fd, const struct ftpd_ctx *ctx, int implicit)
{
	struct sess s;
	socklen_t len = sizeof s.local;
	struct sockaddr_storage peer;
	socklen_t plen = sizeof peer;
	int r = 0;

	memset(&s, 0, sizeof s);
	s.ctx = ctx;
	s.f = &ctx->conf->ftpd;
	s.fd = fd;
	s.pasvfd = -1;
	s.login_deadline = time(NULL) + s.f->login_timeout;
	/* Replies are small writes answered by the client's next command:
	 * without this, Nagle and delayed ACKs add 40 ms per file. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	buf_init(&s.in, (size_t)s.f->max_line + 2);
	snprintf(s.cwd, sizeof s.cwd, "/");
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	getsockname(fd, (struct sockaddr *)&s.local, &len);
	getpeername(fd, (struct sockaddr *)&peer, &plen);
	if (peer.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, s.peer, sizeof s.peer);
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, s.peer, sizeof s.peer);
	s.rootfd = open(ctx->conf->files_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s.rootfd < 0) {
		reply(&s, "421 Files root unavailable");
		return ERR_SYS;
	}
	if (strcmp(s.f->tls, "off") != 0 &&
	    tls_server_new(s.f->tls_cert, s.f->tls_key, &s.tls) != 0) {
		reply(&s, "421 TLS unavailable: %s", err_msg());
		close(s.rootfd);
		return ERR_CRYPTO;
	}
	/* Everything root was needed for is open (files root, TLS key, users
	 * in memory): drop before the first byte from the network is read. */
	if (ftpd_drop_privileges(ctx) != 0) {
		reply(&s, "421 Cannot drop privileges");
		r = ERR_SYS;
		goto out;
	}
	if (implicit) {
		if (s.tls == NULL || tls_accept(s.tls, fd, (int)s.f->login_timeout,
		    &s.ctl) != 0)
			goto out;
		s.prot_p = 1;
	}
	reply(&s, "220 nodebak-ftpd ready");
	while (!s.quit && r == 0) {
		char *line = NULL;
		if (read_line(&s, &line) != 0)
			break;
		r = dispatch(&s, line);
		free(line);
	}
out:
	tls_close(s.ctl);
	tls_server_free(s.tls);
	if (s.pasvfd >= 0)
		close(s.pasvfd);
	close(s.rootfd);
	buf_free(&s.in);
	return r;
}
