/* ftp.c: an FTP session process: reads commands from the control
 * connection through a capped buffer, dispatches through a table that
 * carries each command's needs (cmds[]), and reaches files only through
 * rootfs.c, the files root policy it shares with SFTP (docs/ftpd.md).
 * Transfers run on a non-blocking data connection while the control
 * connection is watched for ABOR and STAT.
 *
 * Return convention (STYLE.md): command handlers (cmd_*) return 0 once
 * they have replied, whatever the reply said, or a negative ERR_* code
 * that ends the session; every other function that can fail returns 0 or
 * a negative ERR_* code (out parameters for what it makes) and says in
 * its comment whether it has sent a reply; reply() is the one sink and
 * cannot fail (a dead control connection is seen by the next read). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "buf.h"
#include "conf.h"
#include "err.h"
#include "ftp.h"
#include "ftp_parse.h"
#include "gate.h"
#include "log.h"
#include "fsutil.h"
#include "priv.h"
#include "rootfs.h"
#include "sysfilter.h"
#include "tls.h"
#include "users.h"
#include "xferlog.h"
#include "banned.h"

#define LISTING_MAX (64u << 20)

/* MLST facts (RFC 3659 section 7), in FEAT and output order. */
enum { F_TYPE = 1, F_SIZE = 2, F_MODIFY = 4, F_PERM = 8, F_ALL = 15 };
static const struct {
	const char *name;
	unsigned bit;
} facts_known[] = {
	{ "type", F_TYPE }, { "size", F_SIZE }, { "modify", F_MODIFY },
	{ "perm", F_PERM },
};

/* Listing forms: LIST, NLST, MLSD, and STAT PATH (on the control
 * connection). */
enum lform { L_LONG, L_NAMES, L_MLSD, L_STAT };

struct sess {
	const struct ftp_params *p;
	const struct conf_ftpd *f;
	struct xferlog xlog;
	int fd, pasvfd;
	struct rootfs fs;		/* the files root, with the role's policy */
	struct buf in;
	char peer[INET6_ADDRSTRLEN];
	struct sockaddr_storage peer_sa, local;
	char user[64];
	enum role role;
	int logged_in, attempts;
	char cwd[FTP_VPATH_MAX];	/* virtual, "/" based */
	char rnfr[FTP_VPATH_MAX];
	long long rest;
	int quit;
	struct tls_server *tls;		/* NULL when tls = off */
	struct tls_conn *ctl;		/* after AUTH TLS */
	int prot_p, pbsz;
	struct sockaddr_storage port_to;	/* after PORT/EPRT */
	int port_set;
	int epsv_all;			/* RFC 2428: only EPSV from now on */
	int type_ascii;
	unsigned facts;			/* OPTS MLST */
	time_t login_deadline;
	sigset_t waitmask;		/* while waiting for a command */
	/* The running transfer (for STAT and ABOR). */
	const char *xfer_path;
	unsigned long long xfer_done, xfer_size;
	int aborted;			/* ABOR arrived during it */
	int ctl_wait;			/* another command waits: stop watching */
};

/* A data connection, with TLS when PROT P. */
struct data {
	int fd;
	struct tls_conn *t;
};

/* Set by the drain signal (the listener got SIGTERM). */
static volatile sig_atomic_t draining;

static void on_drain(int sig)
{
	(void)sig;
	draining = 1;
}

static int tls_required(const struct sess *s)
{
	return !strcmp(s->f->tls, "required");
}

static int write_all(int fd, struct tls_conn *t, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = t ? tls_write(t, p, n) : write(fd, p, n);
		if (w <= 0)
			return ERR_IO;
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

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void addr_text(const struct sockaddr_storage *a, char *out, size_t n)
{
	if (a->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, out, (socklen_t)n);
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, out, (socklen_t)n);
}

/* Same host (family and address; ports are not compared). */
static int same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr, sizeof(struct in_addr));
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
}

/* RFC 2428's protocol number of the control connection: 1 or 2. */
static int net_prt(const struct sess *s)
{
	return s->local.ss_family == AF_INET ? 1 : 2;
}

/* The client's path arg as a virtual path from the session's cwd
 * (ftp_vpath(): no control bytes, no .nodebak* names, never above "/").
 * What the session may do with it is rootfs.c's policy, shared with
 * SFTP. */
static int vpath(const struct sess *s, const char *arg, char *out)
{
	return ftp_vpath(s->cwd, arg, out, FTP_VPATH_MAX);
}

/* PASV and EPSV: listen on a random port of pasv_ports on the control
 * connection's own address. */
static int pasv_open(struct sess *s, int extended)
{
	struct sockaddr_storage a = s->local;
	socklen_t len = a.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
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
		/* Each finished download leaves its port in TIME_WAIT on our
		 * side for a minute: without this, a client fetching many small
		 * files runs out of pasv_ports (a port with a listener on it is
		 * still refused). */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
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
		return 0;
	}
	port = (a.ss_family == AF_INET) ?
	    ntohs(((struct sockaddr_in *)&a)->sin_port) :
	    ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
	if (extended)
		reply(s, "229 Entering Extended Passive Mode (|||%u|)", port);
	else {
		unsigned char *ip = (unsigned char *)&((struct sockaddr_in *)&a)->sin_addr;
		reply(s, "227 Entering Passive Mode (%u,%u,%u,%u,%u,%u)", ip[0],
		    ip[1], ip[2], ip[3], port >> 8, port & 255);
	}
	return 0;
}

static int cmd_pasv(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
	(void)arg;
	if (s->epsv_all)
		reply(s, "501 EPSV ALL is in effect: use EPSV");
	else if (s->local.ss_family != AF_INET)
		reply(s, "425 PASV is IPv4 only: use EPSV");
	else
		return pasv_open(s, 0);
	return 0;
}

/* EPSV, EPSV 1|2, EPSV ALL (RFC 2428 section 3). */
static int cmd_epsv(struct sess *s, const char *cmd, const char *arg)
{
	int prt = ftp_parse_epsv(arg);

	(void)cmd;
	if (prt == FTP_EPSV_ALL) {
		s->epsv_all = 1;
		reply(s, "200 EPSV ALL ok: only EPSV from now on");
	} else if (prt < 0 || (prt != 0 && prt != net_prt(s)))
		reply(s, "522 Network protocol not supported, use (%d)", net_prt(s));
	else
		return pasv_open(s, 1);
	return 0;
}

/* PORT h1,h2,h3,h4,p1,p2 and EPRT |af|addr|port|: only to the control
 * connection's own address and to ports >= 1024 (no FTP bounce). */
static int cmd_port(struct sess *s, const char *cmd, const char *arg)
{
	struct sockaddr_storage a;
	unsigned port;
	int r;

	if (s->epsv_all) {
		reply(s, "501 EPSV ALL is in effect: use EPSV");
		return 0;
	}
	r = !strcmp(cmd, "PORT") ? ftp_parse_port(arg, &a) : ftp_parse_eprt(arg, &a);
	if (r == ERR_FORMAT) {
		reply(s, "501 Bad %s argument", cmd);
		return 0;
	}
	if (r == ERR_PROTO) {
		reply(s, "522 Network protocol not supported, use (%d)", net_prt(s));
		return 0;
	}
	port = a.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&a)->sin_port) :
	    ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
	/* a bad address or port gets the same answer as a refused one */
	if (r != 0 || !same_host(&a, &s->peer_sa) || port < 1024) {
		reply(s, "500 Illegal %s: only to your own address, port >= 1024", cmd);
		return 0;
	}
	if (s->pasvfd >= 0)
		close(s->pasvfd);
	s->pasvfd = -1;
	s->port_to = a;
	s->port_set = 1;
	reply(s, "200 %s command successful", cmd);
	return 0;
}

/* Active mode: connect to the PORT address within data_timeout. 0 and
 * *fdp (blocking), or ERR_IO. */
static int port_connect(struct sess *s, int *fdp)
{
	int fd = socket(s->port_to.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	socklen_t len = s->port_to.ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	struct pollfd p;
	int e = 0;
	socklen_t el = sizeof e;

	*fdp = -1;
	s->port_set = 0;
	if (fd < 0)
		return err_sys("data connection");
	if (connect(fd, (struct sockaddr *)&s->port_to, len) != 0 &&
	    errno != EINPROGRESS)
		goto fail;
	p.fd = fd;
	p.events = POLLOUT;
	while ((e = poll(&p, 1, (int)s->f->data_timeout * 1000)) < 0 && errno == EINTR)
		;
	e = e > 0 ? 0 : -1;
	if (e != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0)
		goto fail;
	if (fcntl(fd, F_SETFL, 0) != 0)
		goto fail;
	*fdp = fd;
	return 0;
fail:
	close(fd);
	return err_set(ERR_IO, "no data connection");
}

/* Blocking calls on fd (a TLS handshake, a reply) give up after sec. */
static void io_timeouts(int fd, long sec)
{
	struct timeval tv = { sec > 0 ? sec : 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* The dispatcher's check for commands that need a data connection
 * (F_DATA): PASV, EPSV, PORT or EPRT came first, and PROT P when TLS is
 * required. 0, or ERR_PROTO after the refusal was sent. */
static int data_ready(struct sess *s)
{
	if (s->pasvfd < 0 && !s->port_set) {
		reply(s, "425 Use PASV, EPSV, PORT or EPRT first");
		return ERR_PROTO;
	}
	if (tls_required(s) && !s->prot_p) {
		reply(s, "521 Data connections must be protected: PBSZ 0, PROT P");
		return ERR_PROTO;
	}
	return 0;
}

/* Send the 150 reply (its text: what), then accept the data connection
 * from the control connection's peer only; with PROT P, its TLS session
 * must resume the control connection's (vsftpd's require_ssl_reuse: proof
 * that the same client opened it). upload: the client sends, and reads
 * nothing, so no TLS 1.3 session ticket may be left unread in its socket
 * (tls.h). 0 and *d, left non-blocking, or ERR_IO after the failure reply
 * was sent. */
static int data_accept(struct sess *s, struct data *d, const char *what,
    int upload)
{
	struct pollfd p = { s->pasvfd, POLLIN, 0 };
	struct sockaddr_storage a;
	socklen_t len = sizeof a;
	int fd;

	d->fd = -1;
	d->t = NULL;
	reply(s, "150 %s", what);
	if (s->port_set) {
		(void)port_connect(s, &fd);
		goto connected;
	}
	for (;;) {
		int n = poll(&p, 1, (int)s->f->data_timeout * 1000);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fd = -1;
			break;
		}
		len = sizeof a;
		fd = accept4(s->pasvfd, (struct sockaddr *)&a, &len, SOCK_CLOEXEC);
		if (fd < 0)
			break;
		if (same_host(&a, &s->peer_sa))
			break;
		close(fd);	/* a stranger: keep waiting */
	}
	close(s->pasvfd);
	s->pasvfd = -1;
connected:
	if (fd < 0) {
		reply(s, "425 No data connection");
		return ERR_IO;
	}
	io_timeouts(fd, s->f->data_timeout);
	if (s->prot_p) {
		if (tls_accept(s->tls, fd, s->f->data_timeout * 1000, upload,
		    &d->t) != 0) {
			close(fd);
			reply(s, "425 TLS handshake on the data connection failed");
			return ERR_IO;
		}
		if (!tls_resumed(d->t)) {
			tls_close(d->t);
			d->t = NULL;
			close(fd);
			reply(s, "522 Data connection must reuse the control "
			    "connection's TLS session");
			return ERR_IO;
		}
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	d->fd = fd;
	return 0;
}

static void data_close(struct data *d)
{
	if (d->fd >= 0)
		fcntl(d->fd, F_SETFL, 0);	/* close_notify is a blocking write */
	tls_close(d->t);
	d->t = NULL;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

/* During a transfer: read what the control connection has and answer
 * ABOR and STAT at once (RFC 959 section 4.1.3); anything else waits for
 * the end of the transfer. 0, or ERR_IO: stop the transfer (ABOR, the
 * control connection closed, or an overlong line). */
static int ctl_during_xfer(struct sess *s)
{
	char chunk[512], *line = NULL, *nl;
	int fl = fcntl(s->fd, F_GETFL), r;
	ssize_t n;

	fcntl(s->fd, F_SETFL, fl | O_NONBLOCK);
	n = s->ctl ? tls_read(s->ctl, chunk, sizeof chunk) : read(s->fd, chunk, sizeof chunk);
	fcntl(s->fd, F_SETFL, fl);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		s->quit = 1;
		return ERR_IO;
	}
	if (n > 0 && buf_add(&s->in, chunk, (size_t)n) != 0) {
		reply(s, "500 Line too long; closing");
		s->quit = 1;
		return ERR_IO;
	}
	/* Look at each complete line in a copy: ABOR and STAT are taken
	 * out of the input, any other command stays where it is. */
	while (s->in.len && (nl = memchr(s->in.p, '\n', s->in.len)) != NULL) {
		size_t l = (size_t)(nl - s->in.p) + 1;
		struct buf one = BUF_INIT(l);
		int act;

		r = buf_add(&one, s->in.p, l) == 0 ? ftp_take_line(&one, &line) : -1;
		buf_free(&one);
		if (r == -1) {
			s->quit = 1;
			return ERR_IO;
		}
		act = r == -2 || !strcasecmp(line, "ABOR") || !strcasecmp(line, "STAT");
		if (!act) {
			free(line);
			s->ctl_wait = 1;	/* it runs after the transfer */
			break;
		}
		buf_consume(&s->in, l);
		if (r == -2)
			reply(s, "501 NUL in command line");
		else if (!strcasecmp(line, "ABOR")) {
			free(line);
			s->aborted = 1;
			return ERR_IO;
		} else
			reply(s, "213 Transferring %s: %llu of %llu bytes", s->xfer_path,
			    s->xfer_done, s->xfer_size);
		free(line);
	}
	return 0;
}

/* 1 when the control connection has something to read now. */
static int ctl_ready(struct sess *s)
{
	struct pollfd p = { s->fd, POLLIN, 0 };

	if (s->ctl_wait)
		return 0;
	return (s->ctl && tls_pending(s->ctl)) || poll(&p, 1, 0) > 0;
}

/* Wait until the data connection is ready for ev, watching the control
 * connection. 0: ready; ERR_IO: nothing for data_timeout seconds, or
 * stop (ABOR, the control connection gone). */
static int xfer_wait(struct sess *s, struct data *d, short ev)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p[2] = { { d->fd, ev, 0 }, { s->fd, POLLIN, 0 } };
		double left = (double)s->f->data_timeout - since(&t0);
		int n;

		if (left <= 0)
			return err_set(ERR_IO, "data connection timed out");
		if (ctl_ready(s) && ctl_during_xfer(s) != 0)
			return ERR_IO;
		n = poll(p, s->ctl_wait ? 1 : 2, (int)(left * 1000) + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_sys("poll");
		if (p[0].revents)
			return 0;
	}
}

/* Send [off, end) of file fd, or of mem when fd < 0. sendfile(2) on plain
 * connections; on TLS, 256 KiB reads written as full 16 KiB records.
 * 0: all sent; ERR_IO: failed, timed out or aborted (s->aborted). */
static int xfer_send(struct sess *s, struct data *d, int fd, const char *mem,
    off_t off, off_t end)
{
	static char chunk[256 * 1024];
	size_t have = 0, pos = 0;	/* chunk[pos, have) is still to go */

	s->xfer_done = 0;
	s->xfer_size = (unsigned long long)(end - off);
	while (off < end || pos < have) {
		ssize_t w;
		int r;

		/* A look at the control connection per sendfile(2) call or per
		 * 256 KiB chunk, not per 16 KiB TLS record. */
		if (pos == have && ctl_ready(s) && ctl_during_xfer(s) != 0)
			return ERR_IO;
		if (d->t && fd >= 0) {
			if (pos == have) {
				size_t want = (size_t)(end - off) < sizeof chunk ?
				    (size_t)(end - off) : sizeof chunk;
				ssize_t n = pread(fd, chunk, want, off);
				if (n <= 0)
					return ERR_IO;
				pos = 0;
				have = (size_t)n;
				off += n;
			}
			w = tls_write(d->t, chunk + pos, have - pos);
			if (w > 0)
				pos += (size_t)w;
		} else if (d->t)
			w = tls_write(d->t, mem + off, (size_t)(end - off));
		else if (fd >= 0) {
			w = sendfile(d->fd, fd, &off, (size_t)(end - off) < (1u << 20) ?
			    (size_t)(end - off) : (1u << 20));
			if (w == 0)
				return ERR_IO;	/* the file shrank */
		} else
			w = write(d->fd, mem + off, (size_t)(end - off));
		if (w > 0) {
			if (fd < 0)
				off += w;
			s->xfer_done += (unsigned long long)w;
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			r = xfer_wait(s, d, d->t && errno == EAGAIN ? (short)tls_want(d->t) :
			    POLLOUT);
			if (r != 0)
				return r;
			continue;
		}
		return ERR_IO;
	}
	return 0;
}

/* Receive until the client's clean end into fd. 0: complete; ERR_IO:
 * failed, timed out or aborted. A TLS upload must end with close_notify: a bare
 * TCP FIN could be a truncation. */
static int xfer_recv(struct sess *s, struct data *d, int fd)
{
	static char chunk[256 * 1024];

	s->xfer_done = 0;
	s->xfer_size = 0;
	for (;;) {
		size_t have = 0;
		ssize_t n = 1;
		int e;

		if (ctl_ready(s) && ctl_during_xfer(s) != 0)
			return ERR_IO;
		/* Fill the chunk first (TLS reads return one 16 KiB record):
		 * one write(2) and one look at the control connection per
		 * 256 KiB. */
		while (have < sizeof chunk && (n = d->t ?
		    tls_read(d->t, chunk + have, sizeof chunk - have) :
		    read(d->fd, chunk + have, sizeof chunk - have)) > 0)
			have += (size_t)n;
		e = errno;
		if (have && write_all(fd, NULL, chunk, have) != 0)
			return err_sys("upload");
		s->xfer_done += have;
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (e != EAGAIN && e != EINTR)
			return ERR_IO;
		if (xfer_wait(s, d, d->t && e == EAGAIN ? (short)tls_want(d->t) :
		    POLLIN) != 0)
			return ERR_IO;
	}
}

/* The transfer's last reply for its result r (0 or an ERR_* code): RFC
 * 959 wants 426 for the transfer and then 226 for the ABOR itself. */
static void xfer_reply(struct sess *s, int r, const char *fail)
{
	if (r == 0)
		reply(s, "226 Transfer complete");
	else if (s->aborted) {
		reply(s, "426 Transfer aborted");
		reply(s, "226 ABOR successful");
	} else
		reply(s, "%s", fail);
	s->aborted = 0;
	s->xfer_path = NULL;
}

/* What the session may know about vp: its stat, through the root, with
 * the role's rules (rootfs_stat(): readonly never sees a private key);
 * only files and folders are shown. 0, or rootfs's ERR_* code
 * (ERR_NOTFOUND for what is neither). */
static int vstat(const struct sess *s, const char *vp, struct stat *st)
{
	int r;

	if ((r = rootfs_stat(&s->fs, vp, 1, st)) != 0)
		return r;
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return err_set(ERR_NOTFOUND, "%s: not a file or folder", vp);
	return 0;
}

/* 1 when the role may do op anywhere (the MLST perm fact). */
static int may(const struct sess *s, unsigned op)
{
	return rootfs_may(&s->fs, op) == 0;
}

/* RFC 3659 facts of st, as selected by OPTS MLST. */
static void add_facts(const struct sess *s, struct buf *b, const struct stat *st)
{
	int dir = S_ISDIR(st->st_mode);
	char perm[8], *p = perm, when[32];
	struct tm tm;

	if (s->facts & F_TYPE)
		buf_addf(b, "type=%s;", dir ? "dir" : "file");
	if ((s->facts & F_SIZE) && !dir)
		buf_addf(b, "size=%lld;", (long long)st->st_size);
	if (s->facts & F_MODIFY) {
		gmtime_r(&st->st_mtime, &tm);
		strftime(when, sizeof when, "%Y%m%d%H%M%S", &tm);
		buf_addf(b, "modify=%s;", when);
	}
	if (s->facts & F_PERM) {
		/* RFC 3659 7.5.5, from the role table: admin "adfrw" and
		 * "cdeflmp", readonly "r" and "el". */
		if (dir) {
			if (may(s, ROOTFS_WRITE)) *p++ = 'c';
			if (may(s, ROOTFS_DELETE)) *p++ = 'd';
			if (may(s, ROOTFS_LIST)) *p++ = 'e';
			if (may(s, ROOTFS_RENAME)) *p++ = 'f';
			if (may(s, ROOTFS_LIST)) *p++ = 'l';
			if (may(s, ROOTFS_WRITE)) *p++ = 'm';
			if (may(s, ROOTFS_DELETE)) *p++ = 'p';
		} else {
			if (may(s, ROOTFS_WRITE)) *p++ = 'a';
			if (may(s, ROOTFS_DELETE)) *p++ = 'd';
			if (may(s, ROOTFS_RENAME)) *p++ = 'f';
			if (may(s, ROOTFS_READ)) *p++ = 'r';
			if (may(s, ROOTFS_WRITE)) *p++ = 'w';
		}
		*p = '\0';
		buf_addf(b, "perm=%s;", perm);
	}
}

/* One entry of a listing. Symlinks are shown as what they lead to inside
 * the root (and not at all when that is nothing). */
static int list_entry(const struct sess *s, struct buf *b, const char *vp,
    const char *name, enum lform form)
{
	struct stat st;
	char when[32];
	struct tm tm;

	if (form == L_NAMES)
		return buf_addf(b, "%s\r\n", name);
	if (vstat(s, vp, &st) != 0)
		return 0;
	if (form == L_MLSD) {
		add_facts(s, b, &st);
		return buf_addf(b, " %s\r\n", name);
	}
	gmtime_r(&st.st_mtime, &tm);
	if (st.st_mtime > time(NULL) - 180 * 86400 && st.st_mtime <= time(NULL) + 3600)
		strftime(when, sizeof when, "%b %e %H:%M", &tm);
	else
		strftime(when, sizeof when, "%b %e  %Y", &tm);
	return buf_addf(b, "%c%s 1 ftp ftp %13lld %s %s\r\n",
	    S_ISDIR(st.st_mode) ? 'd' : '-',
	    S_ISDIR(st.st_mode) ? "rwxr-xr-x" : "rw-r--r--",
	    (long long)st.st_size, when, name);
}

/* The listing of vp (a folder's entries, or the one file) into b. 0,
 * ERR_NOTFOUND (550), ERR_INVAL (MLSD of a file: 501) or ERR_TOOBIG
 * (451). */
static int build_listing(struct sess *s, const char *vp, const char *arg,
    enum lform form, struct buf *b)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int dfd;

	if (vstat(s, vp, &st) != 0)
		return ERR_NOTFOUND;
	if (!S_ISDIR(st.st_mode)) {
		const char *base = strrchr(vp, '/') + 1;
		if (form == L_MLSD)
			return ERR_INVAL;
		return list_entry(s, b, vp, form == L_NAMES ? arg : base, form) ?
		    ERR_TOOBIG : 0;
	}
	if (rootfs_openat(&s->fs, vp, ROOTFS_LIST, O_RDONLY | O_DIRECTORY, 0,
	    &dfd) != 0 || (d = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		return ERR_NOTFOUND;
	}
	while ((de = readdir(d)) != NULL) {
		char child[FTP_VPATH_MAX];
		int n;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !rootfs_visible(&s->fs, vp, dfd, de->d_name))
			continue;
		n = snprintf(child, sizeof child, "%s/%s", strcmp(vp, "/") ? vp : "",
		    de->d_name);
		if (n < 0 || (size_t)n >= sizeof child || strpbrk(de->d_name, "\r\n"))
			continue;
		if (list_entry(s, b, child, de->d_name, form) != 0) {
			closedir(d);
			return ERR_TOOBIG;
		}
	}
	closedir(d);
	return 0;
}

/* LIST, NLST, MLSD on the data connection; STAT PATH on the control one. */
static int list_common(struct sess *s, const char *arg, enum lform form)
{
	static const char *const what[] = { "LIST", "NLST", "MLSD", "STAT" };
	char vp[FTP_VPATH_MAX];
	struct buf b = BUF_INIT(LISTING_MAX);
	struct data dc;
	int r;

	/* "LIST -la": ls options are ignored (clients send them) */
	if (form != L_MLSD && arg && arg[0] == '-')
		arg = strchr(arg, ' ') ? strchr(arg, ' ') + 1 : "";
	if (vpath(s, arg && *arg ? arg : ".", vp) != 0)
		r = ERR_NOTFOUND;
	else
		r = build_listing(s, vp, arg && *arg ? arg : ".", form, &b);
	if (r == ERR_NOTFOUND)
		reply(s, "550 No such file or directory");
	else if (r == ERR_INVAL)
		reply(s, "501 Not a directory: %s", vp);
	else if (r != 0)
		reply(s, "451 Listing too long");
	else if (form == L_STAT) {
		struct buf t = BUF_INIT(LISTING_MAX + 256);
		if (buf_addf(&t, "213-Status of %s:\r\n%s213 End of status\r\n", vp,
		    buf_cstr(&b)) == 0)
			(void)write_all(s->fd, s->ctl, t.p, t.len);
		else
			reply(s, "451 Listing too long");
		buf_free(&t);
	} else if (data_accept(s, &dc, form == L_NAMES ? "Here comes the name list" :
	    "Here comes the directory listing", 0) == 0) {
		s->xfer_path = what[form];
		r = xfer_send(s, &dc, -1, buf_cstr(&b), 0, (off_t)b.len);
		data_close(&dc);
		xfer_reply(s, r, "426 Listing aborted");
	}
	buf_free(&b);
	return 0;
}

static int cmd_list(struct sess *s, const char *cmd, const char *arg)
{
	return list_common(s, arg, !strcmp(cmd, "NLST") ? L_NAMES :
	    !strcmp(cmd, "MLSD") ? L_MLSD : L_LONG);
}

/* MLST: the facts of one path, on the control connection. */
static int cmd_mlst(struct sess *s, const char *cmd, const char *arg)
{
	char vp[FTP_VPATH_MAX];
	struct buf b = BUF_INIT(4096);
	struct stat st;

	(void)cmd;
	if (vpath(s, *arg ? arg : ".", vp) != 0 || vstat(s, vp, &st) != 0) {
		reply(s, "550 No such file or directory");
		return 0;
	}
	add_facts(s, &b, &st);
	reply(s, "250-Listing %s\r\n %s %s\r\n250 End", vp, buf_cstr(&b), vp);
	buf_free(&b);
	return 0;
}

static int cmd_retr(struct sess *s, const char *cmd, const char *arg)
{
	char vp[FTP_VPATH_MAX], what[FTP_VPATH_MAX + 80];
	struct stat st;
	struct timespec t0;
	off_t off;
	struct data dc;
	int fd = -1, r = 0;

	(void)cmd;
	off = (off_t)s->rest;
	s->rest = 0;
	if (vpath(s, arg, vp) != 0 || rootfs_check(&s->fs, vp, ROOTFS_READ) != 0 ||
	    (r = rootfs_openat(&s->fs, vp, ROOTFS_READ, O_RDONLY, 0, &fd)) ==
	    ERR_SYS) {
		reply(s, "550 No such file");
		return 0;
	}
	if (r != 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)	/* r: a private key the role may not read */
			close(fd);
		reply(s, "550 Not a plain file or not allowed");
		return 0;
	}
	if (off > st.st_size) {
		close(fd);
		reply(s, "554 Restart offset %lld is past the end of %s (%lld bytes)",
		    (long long)off, vp, (long long)st.st_size);
		return 0;
	}
	snprintf(what, sizeof what, "Opening BINARY mode data connection for %s "
	    "(%lld bytes)", vp, (long long)(st.st_size - off));
	if (data_accept(s, &dc, what, 0) != 0) {
		close(fd);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	s->xfer_path = vp;
	r = xfer_send(s, &dc, fd, NULL, off, st.st_size);
	data_close(&dc);
	close(fd);
	xferlog_transfer(&s->xlog, "ftp", s->user, s->peer, vp, 0, s->xfer_done,
	    since(&t0), r == 0);
	xfer_reply(s, r, "426 Transfer failed or timed out");
	return 0;
}

/* STOR, APPE, and STOR after REST: the upload goes to
 * .nodebak-upload-XXXXXX beside the target (after a copy of the part of
 * the old file that is kept) and is renamed over it only when complete:
 * the target is always either wholly old or wholly new; the file and the
 * name are on disk before the 226 (rootfs_upload_commit), with the mode
 * the files root policy gives uploads. */
static int cmd_stor(struct sess *s, const char *cmd, const char *arg)
{
	char vp[FTP_VPATH_MAX], tmp[32];
	const char *base;
	struct timespec t0;
	struct stat st;
	struct data dc;
	int append = !strcmp(cmd, "APPE");
	off_t keep = append ? 0 : (off_t)s->rest;	/* APPE ignores REST */
	int dfd, src = -1, fd = -1, r;

	s->rest = 0;
	if (vpath(s, arg, vp) != 0 ||
	    rootfs_parent(&s->fs, vp, ROOTFS_WRITE, &dfd, &base) != 0) {
		reply(s, "553 Permission denied or no such folder");
		return 0;
	}
	if (append || keep > 0) {
		src = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (src >= 0 && (fstat(src, &st) != 0 || !S_ISREG(st.st_mode))) {
			close(src);
			close(dfd);
			reply(s, "553 Not a plain file: %s", vp);
			return 0;
		}
		if (src < 0 && (errno != ENOENT || keep > 0)) {
			close(dfd);
			reply(s, "554 Cannot resume %s: %s", vp, strerror(errno));
			return 0;
		}
		if (append)
			keep = src >= 0 ? st.st_size : 0;
		if (src >= 0 && keep > st.st_size) {
			close(src);
			close(dfd);
			reply(s, "554 Restart offset %lld is past the end of %s (%lld bytes)",
			    (long long)keep, vp, (long long)st.st_size);
			return 0;
		}
	}
	/* A replaced file keeps its mode (rootfs.h, upload modes). */
	if (src < 0 && fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0)
		st.st_mode = 0;
	(void)rootfs_upload_create(&s->fs, dfd, S_ISREG(st.st_mode) ? &st : NULL,
	    ROOTFS_NEW_FILE, &fd, tmp, sizeof tmp);
	if (fd < 0 || (src >= 0 && rootfs_upload_keep(src, fd, keep) != 0)) {
		reply(s, fd < 0 ? "553 Cannot create file" :
		    "451 Cannot copy the part of the old file to keep: %s",
		    strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlinkat(dfd, tmp, 0);
		}
		if (src >= 0)
			close(src);
		close(dfd);
		return 0;
	}
	if (src >= 0)
		close(src);
	if (data_accept(s, &dc, "Ok to send data", 1) != 0) {
		close(fd);
		unlinkat(dfd, tmp, 0);
		close(dfd);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	s->xfer_path = vp;
	r = xfer_recv(s, &dc, fd);
	data_close(&dc);
	if (r == 0 && rootfs_upload_commit(&s->fs, fd, dfd, tmp, base, 0) != 0)
		r = ERR_IO;
	close(fd);
	if (r != 0)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	xferlog_transfer(&s->xlog, "ftp", s->user, s->peer, vp, 1, s->xfer_done,
	    since(&t0), r == 0);
	xfer_reply(s, r, "451 Upload failed; nothing stored");
	return 0;
}


/* DELE, RMD, MKD (and XRMD, XMKD): one change relative to the parent's
 * descriptor (rootfs.c), so no component of the path can be a symlink
 * leading out. */
static int cmd_change(struct sess *s, const char *cmd, const char *arg)
{
	char vp[FTP_VPATH_MAX];
	int mkd = !strcmp(cmd, "MKD") || !strcmp(cmd, "XMKD");
	int rmd = !strcmp(cmd, "RMD") || !strcmp(cmd, "XRMD");
	const char *base, *name = mkd ? "MKD" : rmd ? "RMD" : "DELE";
	int dfd, r;

	if (vpath(s, arg, vp) != 0 || rootfs_parent(&s->fs, vp, mkd ?
	    ROOTFS_WRITE : ROOTFS_DELETE, &dfd, &base) != 0) {
		reply(s, "550 Permission denied or no such file");
		return 0;
	}
	if (mkd)
		r = rootfs_mkdirat(&s->fs, dfd, base, 0777);
	else
		r = unlinkat(dfd, base, rmd ? AT_REMOVEDIR : 0);
	close(dfd);
	s->rnfr[0] = '\0';
	if (r != 0)
		reply(s, "550 %s failed: %s", name, strerror(errno));
	else if (mkd)
		reply(s, "257 \"%s\" created", vp);
	else
		reply(s, "250 %s done", name);
	return 0;
}

/* RNFR: the path must exist and the role may rename it, or 550 (as
 * vsftpd); then 350 and RNTO names the new path. */
static int cmd_rnfr(struct sess *s, const char *cmd, const char *arg)
{
	char vp[FTP_VPATH_MAX];
	struct stat st;

	(void)cmd;
	if (vpath(s, arg, vp) != 0 ||
	    rootfs_check(&s->fs, vp, ROOTFS_RENAME) != 0)
		reply(s, "550 Permission denied");
	else if (rootfs_stat(&s->fs, vp, 0, &st) != 0)
		reply(s, "550 No such file or directory");
	else {
		snprintf(s->rnfr, sizeof s->rnfr, "%s", vp);
		reply(s, "350 Ready for RNTO");
	}
	return 0;
}

static int cmd_rnto(struct sess *s, const char *cmd, const char *arg)
{
	char vp[FTP_VPATH_MAX];

	(void)cmd;
	if (vpath(s, arg, vp) != 0 ||
	    rootfs_check(&s->fs, vp, ROOTFS_RENAME) != 0) {
		reply(s, "550 Permission denied or no such file");
		return 0;
	}
	if (!s->rnfr[0]) {
		errno = EINVAL;
		reply(s, "550 RNTO failed: %s", strerror(errno));
	} else if (rootfs_rename(&s->fs, s->rnfr, vp, 0) != 0)
		reply(s, "550 RNTO failed: %s", strerror(errno));
	else
		reply(s, "250 RNTO done");
	s->rnfr[0] = '\0';
	return 0;
}

static int cmd_user(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
	if (s->logged_in) {
		reply(s, "530 Already logged in");
		return 0;
	}
	snprintf(s->user, sizeof s->user, "%s", arg);
	reply(s, "331 Password required");
	return 0;
}

/* PASS: the listener is asked first (gate.c): a locked-out address or
 * user name is refused with why, even with the right password, and the
 * session ends; else the check waits the listener's delay, the same for
 * a right and a wrong password, and its outcome is counted there.
 * ERR_DENIED at the attempt limit ends the session (the listener then
 * locks the address out). Without a USER accepted (USER is refused
 * before TLS when it is required), 503. */
static int cmd_pass(struct sess *s, const char *cmd, const char *arg)
{
	struct gate_answer a;
	enum role role = ROLE_NONE;
	char why[200];
	int ok;

	(void)cmd;
	if (!s->user[0] || s->logged_in) {
		reply(s, "503 Send USER first");
		return 0;
	}
	if (gate_ask(s->p->gate, s->user, &a) != 0) {
		reply(s, "421 Cannot check logins now; try again later");
		return ERR_IO;
	}
	if (a.refused) {
		gate_why(&a, s->peer, s->user, why, sizeof why);
		log_info("ftp: %s: login refused: %s", s->peer, why);
		reply(s, "530 Login refused: %s", why);
		return ERR_IO;
	}
	gate_delay(&a);
	ok = users_check_password(s->p->users, s->user, arg, &role) == 0;
	if (gate_report(s->p->gate, s->user, ok, &a) != 0) {
		reply(s, "421 Cannot check logins now; try again later");
		return ERR_IO;
	}
	xferlog_login("ftp", s->user, s->peer, "password", ok, a.addr_failures,
	    a.user_failures);
	if (!ok) {
		s->attempts++;
		reply(s, "530 Login incorrect");
		if (s->attempts >= s->f->max_login_attempts)
			return ERR_DENIED;
		return 0;
	}
	s->role = role;
	rootfs_set_role(&s->fs, role);
	/* A second Landlock layer for the role: a readonly or archiver
	 * session can then not change the root even through a bug; and the
	 * narrower system call filter: nothing that confines or changes
	 * credentials any more. */
	if (rootfs_lockdown(&s->fs) != 0 ||
	    sysfilter_confine(SYSF_FTP_LOGGED_IN) != 0) {
		reply(s, "421 Cannot confine the session: %s", err_msg());
		return ERR_SYS;
	}
	s->logged_in = 1;
	reply(s, "230 Logged in as %s (%s)", s->user, role_name(role));
	return 0;
}

static int cmd_size_mdtm(struct sess *s, const char *cmd, const char *arg)
{
	char vp[FTP_VPATH_MAX], when[32];
	struct stat st;
	struct tm tm;

	if (vpath(s, arg, vp) != 0 || vstat(s, vp, &st) != 0) {
		reply(s, "550 No such file");
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		reply(s, "550 Not a plain file");
		return 0;
	}
	if (!strcmp(cmd, "SIZE")) {
		reply(s, "213 %lld", (long long)st.st_size);
		return 0;
	}
	gmtime_r(&st.st_mtime, &tm);
	strftime(when, sizeof when, "%Y%m%d%H%M%S", &tm);
	reply(s, "213 %s", when);
	return 0;
}

/* CWD, XCWD; CDUP and XCUP are CWD "..". */
static int cmd_cwd(struct sess *s, const char *cmd, const char *arg)
{
	char vp[FTP_VPATH_MAX];
	struct stat st;

	if (!strcmp(cmd, "CDUP") || !strcmp(cmd, "XCUP"))
		arg = "..";
	if (vpath(s, arg, vp) != 0 || vstat(s, vp, &st) != 0 || !S_ISDIR(st.st_mode)) {
		reply(s, "550 No such directory");
		return 0;
	}
	snprintf(s->cwd, sizeof s->cwd, "%s", vp);
	reply(s, "250 Directory is now \"%s\"", vp);
	return 0;
}

static int cmd_pwd(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
	(void)arg;
	reply(s, "257 \"%s\" is the current directory", s->cwd);
	return 0;
}

/* Milliseconds left of login_timeout (0 when none). */
static long login_left_ms(const struct sess *s)
{
	time_t left = s->login_deadline - time(NULL);

	return left > 0 ? (long)left * 1000 : 0;
}

/* 220, or 421 with why when the listener has the address locked out. */
static int greet(struct sess *s)
{
	struct gate_answer a;
	char why[200];

	if (gate_ask(s->p->gate, NULL, &a) != 0) {
		reply(s, "421 Cannot check logins now; try again later");
		return ERR_IO;
	}
	if (a.refused) {
		gate_why(&a, s->peer, NULL, why, sizeof why);
		log_info("ftp: %s: refused: %s", s->peer, why);
		reply(s, "421 %s", why);
		return ERR_IO;
	}
	reply(s, "220 nodebak-ftpd ready");
	return 0;
}

/* AUTH TLS: whatever the client pipelined after it in clear is dropped,
 * never executed (CVE-2011-0411 class). A failed handshake ends the
 * session (ERR_PROTO). */
static int cmd_auth(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
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
	if (tls_accept(s->tls, s->fd, s->logged_in ? s->f->idle_timeout * 1000 :
	    login_left_ms(s), 0, &s->ctl) != 0) {
		log_info("ftp: %s: AUTH TLS: %s", s->peer, err_msg());
		return ERR_PROTO;
	}
	return 0;
}

static int cmd_pbsz(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
	(void)arg;
	reply(s, s->ctl ? "200 PBSZ=0" : "503 AUTH TLS first");
	return 0;
}

static int cmd_prot(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
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
	return 0;
}

static void facts_text(const struct sess *s, char *out, size_t n, int stars)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof facts_known / sizeof facts_known[0]; i++) {
		int on = (s->facts & facts_known[i].bit) != 0;
		if (!stars && !on)
			continue;
		o += (size_t)snprintf(out + o, n - o, "%s%s;", facts_known[i].name,
		    stars && on ? "*" : "");
		if (o >= n)
			break;
	}
}

/* OPTS UTF8 ON (names are bytes, shown as they are) and OPTS MLST. */
static int cmd_opts(struct sess *s, const char *cmd, const char *arg)
{
	char list[128];

	(void)cmd;
	if (!strncasecmp(arg, "UTF8", 4) && (arg[4] == ' ' || !arg[4]))
		reply(s, "200 UTF8 is always on");
	else if (!strncasecmp(arg, "MLST", 4) && (arg[4] == ' ' || !arg[4])) {
		char want[256], *tok, *save = NULL;
		s->facts = 0;
		snprintf(want, sizeof want, "%s", arg[4] ? arg + 5 : "");
		for (tok = strtok_r(want, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
			for (size_t i = 0; i < sizeof facts_known / sizeof facts_known[0]; i++)
				if (!strcasecmp(tok, facts_known[i].name))
					s->facts |= facts_known[i].bit;
		facts_text(s, list, sizeof list, 0);
		reply(s, "200 MLST OPTS %s", list);
	} else
		reply(s, "501 Option not understood");
	return 0;
}

/* STAT without an argument: the session's state (RFC 959: 211); with a
 * path, its listing on the control connection (213). */
static int cmd_stat(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
	if (*arg)
		return list_common(s, arg, L_STAT);
	reply(s, "211-nodebak-ftpd status:\r\n"
	    " Connected from %s\r\n"
	    " Logged in as %s (%s)\r\n"
	    " TYPE: %s; STRUcture: File; transfer MODE: Stream\r\n"
	    " Control connection: %s; data connections: %s\r\n"
	    " Idle timeout %ld s, data timeout %ld s\r\n"
	    "211 End of status", s->peer, s->user, role_name(s->role),
	    s->type_ascii ? "ASCII (sent unchanged)" : "BINARY",
	    s->ctl ? "TLS" : "plain", s->prot_p ? "TLS (PROT P)" : "plain (PROT C)",
	    s->f->idle_timeout, s->f->data_timeout);
	return 0;
}

static int cmd_feat(struct sess *s, const char *cmd, const char *arg)
{
	char list[128];

	(void)cmd;
	(void)arg;
	facts_text(s, list, sizeof list, 1);
	reply(s, "211-Features:\r\n%s EPRT\r\n EPSV\r\n MDTM\r\n MLST %s\r\n"
	    " PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End",
	    s->tls ? " AUTH TLS\r\n PBSZ\r\n PROT\r\n" : "", list);
	return 0;
}

static int cmd_type(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
	if (!strcasecmp(arg, "I") || !strcasecmp(arg, "L 8") ||
	    !strcasecmp(arg, "A") || !strcasecmp(arg, "A N")) {
		s->type_ascii = arg[0] == 'A' || arg[0] == 'a';
		reply(s, "200 Type set to %s", s->type_ascii ? "A" : "I");
	} else
		reply(s, "504 Type not supported");
	return 0;
}

static int cmd_mode(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
	reply(s, !strcasecmp(arg, "S") ? "200 Mode S" : "504 Only mode S");
	return 0;
}

static int cmd_stru(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
	reply(s, !strcasecmp(arg, "F") ? "200 Structure F" : "504 Only F");
	return 0;
}

static int cmd_rest(struct sess *s, const char *cmd, const char *arg)
{
	char *e;
	long long v;

	(void)cmd;
	errno = 0;
	v = strtoll(arg, &e, 10);
	if (*e || v < 0 || errno)
		reply(s, "501 Bad offset");
	else {
		s->rest = v;
		reply(s, "350 Restarting at %lld", v);
	}
	return 0;
}

/* ABOR with no transfer running (during one, ctl_during_xfer() takes it). */
static int cmd_abor(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
	(void)arg;
	if (s->pasvfd >= 0)
		close(s->pasvfd);
	s->pasvfd = -1;
	s->port_set = 0;
	reply(s, "225 No transfer to abort");
	return 0;
}

static int cmd_quit(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
	(void)arg;
	reply(s, "221 Goodbye");
	s->quit = 1;
	return 0;
}

static int cmd_syst(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
	(void)arg;
	reply(s, "215 UNIX Type: L8");
	return 0;
}

static int cmd_noop(struct sess *s, const char *cmd, const char *arg)
{
	(void)cmd;
	(void)arg;
	reply(s, "200 OK");
	return 0;
}

/* ALLO and ACCT (RFC 959): nothing to do here. */
static int cmd_not_needed(struct sess *s, const char *cmd, const char *arg)
{
	(void)arg;
	reply(s, "202 %s not needed here", cmd);
	return 0;
}

static int cmd_help(struct sess *s, const char *cmd, const char *arg);

/* Each command's needs, as in sftp-server.c's handlers[]: the dispatcher
 * refuses what the flags rule out, in this order, before the handler runs:
 * F_LOGIN: 530 until USER and PASS succeeded; unless F_PRE_TLS: 530 until
 * AUTH TLS when [ftpd] tls = required; F_ARG: 501 without an argument;
 * F_DATA: 425 without PASV, EPSV, PORT or EPRT first, 521 without PROT P
 * when TLS is required. PASS is F_PRE_TLS: without a USER accepted (USER
 * is refused before TLS) it is 503. Handlers return 0 once they have
 * replied, whatever they replied, or a negative ERR_* code that ends the
 * session. The order is HELP's. */
enum { F_LOGIN = 1, F_ARG = 2, F_DATA = 4, F_PRE_TLS = 8 };
typedef int (*cmd_fn)(struct sess *s, const char *cmd, const char *arg);
static const struct cmd {
	const char *name;
	unsigned flags;
	cmd_fn fn;
} cmds[] = {
	{ "USER", F_ARG, cmd_user },
	{ "PASS", F_PRE_TLS, cmd_pass },
	{ "QUIT", F_PRE_TLS, cmd_quit },
	{ "SYST", F_PRE_TLS, cmd_syst },
	{ "FEAT", F_PRE_TLS, cmd_feat },
	{ "NOOP", F_PRE_TLS, cmd_noop },
	{ "OPTS", F_PRE_TLS | F_ARG, cmd_opts },
	{ "HELP", F_PRE_TLS, cmd_help },
	{ "AUTH", F_PRE_TLS | F_ARG, cmd_auth },
	{ "PBSZ", F_PRE_TLS | F_ARG, cmd_pbsz },
	{ "PROT", F_PRE_TLS | F_ARG, cmd_prot },
	{ "PWD", F_LOGIN, cmd_pwd },
	{ "XPWD", F_LOGIN, cmd_pwd },		/* RFC 775 */
	{ "CWD", F_LOGIN | F_ARG, cmd_cwd },
	{ "XCWD", F_LOGIN | F_ARG, cmd_cwd },
	{ "CDUP", F_LOGIN, cmd_cwd },
	{ "XCUP", F_LOGIN, cmd_cwd },
	{ "TYPE", F_LOGIN | F_ARG, cmd_type },
	{ "MODE", F_LOGIN | F_ARG, cmd_mode },
	{ "STRU", F_LOGIN | F_ARG, cmd_stru },
	{ "PASV", F_LOGIN, cmd_pasv },
	{ "EPSV", F_LOGIN, cmd_epsv },
	{ "PORT", F_LOGIN | F_ARG, cmd_port },
	{ "EPRT", F_LOGIN | F_ARG, cmd_port },
	{ "LIST", F_LOGIN | F_DATA, cmd_list },
	{ "NLST", F_LOGIN | F_DATA, cmd_list },
	{ "MLSD", F_LOGIN | F_DATA, cmd_list },
	{ "MLST", F_LOGIN, cmd_mlst },
	{ "STAT", F_LOGIN, cmd_stat },
	{ "SIZE", F_LOGIN | F_ARG, cmd_size_mdtm },
	{ "MDTM", F_LOGIN | F_ARG, cmd_size_mdtm },
	{ "REST", F_LOGIN | F_ARG, cmd_rest },
	{ "RETR", F_LOGIN | F_ARG | F_DATA, cmd_retr },
	{ "STOR", F_LOGIN | F_ARG | F_DATA, cmd_stor },
	{ "APPE", F_LOGIN | F_ARG | F_DATA, cmd_stor },
	{ "DELE", F_LOGIN | F_ARG, cmd_change },
	{ "MKD", F_LOGIN | F_ARG, cmd_change },
	{ "XMKD", F_LOGIN | F_ARG, cmd_change },
	{ "RMD", F_LOGIN | F_ARG, cmd_change },
	{ "XRMD", F_LOGIN | F_ARG, cmd_change },
	{ "RNFR", F_LOGIN | F_ARG, cmd_rnfr },
	{ "RNTO", F_LOGIN | F_ARG, cmd_rnto },
	{ "ABOR", F_LOGIN, cmd_abor },
	{ "ALLO", F_LOGIN, cmd_not_needed },
	{ "ACCT", F_PRE_TLS | F_ARG, cmd_not_needed },
};

static int cmd_help(struct sess *s, const char *cmd, const char *arg)
{
	char list[512];
	size_t o = 0;

	(void)cmd;
	(void)arg;
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0] && o < sizeof list; i++)
		o += (size_t)snprintf(list + o, sizeof list - o, "%s%s",
		    i % 8 == 0 ? "\r\n " : " ", cmds[i].name);
	reply(s, "214-The following commands are recognized:%s\r\n214 Help OK",
	    list);
	return 0;
}

/* 1 when the table's flags for c rule the command out now (the refusal
 * has been sent). */
static int refused(struct sess *s, const struct cmd *c, const char *arg)
{
	if ((c->flags & F_LOGIN) && !s->logged_in)
		reply(s, "530 Please log in with USER and PASS");
	else if (!(c->flags & F_PRE_TLS) && tls_required(s) && s->ctl == NULL)
		reply(s, "530 TLS is required: send AUTH TLS first");
	else if ((c->flags & F_ARG) && !*arg)
		reply(s, "501 %s needs an argument", c->name);
	else if ((c->flags & F_DATA) && data_ready(s) != 0)
		return 1;
	else
		return 0;
	return 1;
}

/* One command line: a lookup in cmds[], the flags' checks, the handler.
 * 0, or the handler's ERR_* code that ends the session. */
static int dispatch(struct sess *s, char *line)
{
	char *arg = strchr(line, ' ');

	if (arg)
		*arg++ = '\0';
	else
		arg = line + strlen(line);
	for (char *p = line; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		const struct cmd *c = &cmds[i];
		if (strcmp(c->name, line) != 0)
			continue;
		return refused(s, c, arg) ? 0 : c->fn(s, c->name, arg);
	}
	reply(s, "500 Unknown command");
	return 0;
}

/* One line, CRLF or LF ended, at most max_line bytes. 0, or an ERR_*
 * code on a timeout, EOF or shutdown (421 sent): the session ends. */
static int read_line(struct sess *s, char **linep)
{
	time_t end = time(NULL) + (s->logged_in ? s->f->idle_timeout :
	    s->login_deadline - time(NULL));

	for (;;) {
		char chunk[512];
		struct pollfd p = { s->fd, POLLIN, 0 };
		time_t left = end - time(NULL);
		ssize_t n;
		int r;

		if (draining) {
			reply(s, "421 Server shutting down");
			return ERR_IO;
		}
		if ((r = ftp_take_line(&s->in, linep)) == 1)
			return 0;
		if (r == -1)
			return ERR_NOMEM;
		if (r == -2) {
			reply(s, "501 NUL in command line");
			continue;
		}
		if (!(s->ctl && tls_pending(s->ctl))) {
			struct timespec ts = { left > 0 ? left : 0, 0 };
			if (left <= 0) {
				if (!s->logged_in)
					log_info("ftp: %s: no login within %ld s "
					    "(login_timeout)", s->peer,
					    s->f->login_timeout);
				reply(s, "421 Timeout");
				return ERR_IO;
			}
			/* The drain signal is blocked except inside this wait, so
			 * it cannot slip in between the check above and the wait. */
			n = ppoll(&p, 1, &ts, &s->waitmask);
			if (n == 0 || (n < 0 && errno == EINTR))
				continue;
			if (n < 0)
				return err_sys("poll");
		}
		if (s->ctl)
			n = tls_read(s->ctl, chunk, sizeof chunk);
		else
			n = read(s->fd, chunk, sizeof chunk);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return ERR_IO;
		if (buf_add(&s->in, chunk, (size_t)n) != 0) {
			reply(s, "500 Line too long; closing");
			return ERR_TOOBIG;
		}
	}
}

int ftp_session(int fd, const struct ftp_params *p)
{
	struct sess s;
	socklen_t len = sizeof s.local;
	socklen_t plen = sizeof s.peer_sa;
	struct sigaction sa;
	sigset_t drain;
	int r = 0;

	memset(&s, 0, sizeof s);
	s.p = p;
	s.f = &p->conf->ftpd;
	s.xlog.fd = -1;
	s.fd = fd;
	s.pasvfd = -1;
	s.facts = F_ALL;
	s.login_deadline = time(NULL) + s.f->login_timeout;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_drain;
	sigaction(p->drain_sig, &sa, NULL);
	/* Delivered only while waiting for a command (read_line's ppoll): a
	 * transfer, a handshake or a login delay is never interrupted. */
	sigemptyset(&drain);
	sigaddset(&drain, p->drain_sig);
	sigprocmask(SIG_BLOCK, &drain, &s.waitmask);
	sigdelset(&s.waitmask, p->drain_sig);
	/* Replies are small writes answered by the client's next command:
	 * without this, Nagle and delayed ACKs add 40 ms per file. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	/* ABOR sent as urgent data (Python's ftplib, lftp) stays in line. */
	setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &(int){ 1 }, sizeof(int));
	io_timeouts(fd, s.f->idle_timeout);
	buf_init(&s.in, (size_t)s.f->max_line + 2);
	snprintf(s.cwd, sizeof s.cwd, "/");
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	getsockname(fd, (struct sockaddr *)&s.local, &len);
	getpeername(fd, (struct sockaddr *)&s.peer_sa, &plen);
	addr_text(&s.peer_sa, s.peer, sizeof s.peer);
	if (rootfs_open(&s.fs, p->conf->files_dir, ROLE_NONE) != 0) {
		reply(&s, "421 Files root unavailable");
		return ERR_SYS;
	}
	rootfs_set_umask(&s.fs, (mode_t)s.f->umask_bits);
	if (strcmp(s.f->tls, "off") != 0 &&
	    tls_server_new(s.f->tls_cert, s.f->tls_key, &s.tls) != 0) {
		reply(&s, "421 TLS unavailable: %s", err_msg());
		rootfs_close(&s.fs);
		return ERR_CRYPTO;
	}
	/* Everything root was needed for is open (files root, TLS key, users
	 * in memory): drop before the first byte from the network is read. */
	if (priv_drop(p->priv) != 0) {
		reply(&s, "421 Cannot drop privileges");
		r = ERR_SYS;
		goto out;
	}
	/* What lies outside the files root is open now (the TLS pair, the
	 * xferlog file, the time zone): from here on the session reaches no
	 * other file, whatever path it is tricked into naming. */
	xferlog_open(&s.xlog, s.f->xferlog);
	/* Then its limits and the system calls it may make (docs/security.md,
	 * "What each sandbox allows"), still before the first byte is read. */
	if (rootfs_lockdown(&s.fs) != 0 ||
	    priv_limits(s.f->max_handles + 64, s.f->session_memory) != 0 ||
	    sysfilter_confine(SYSF_FTP_SESSION) != 0) {
		reply(&s, "421 Cannot confine the session: %s", err_msg());
		r = ERR_SYS;
		goto out;
	}
	if (p->implicit) {
		if (s.tls == NULL || tls_accept(s.tls, fd, login_left_ms(&s), 0,
		    &s.ctl) != 0) {
			log_info("ftp: %s: %s", s.peer, s.tls ? err_msg() :
			    "no TLS for implicit FTPS");
			goto out;
		}
		s.prot_p = 1;
	}
	if ((r = greet(&s)) != 0)
		goto out;
	while (!s.quit && r == 0) {
		char *line = NULL;
		if (read_line(&s, &line) != 0)
			break;
		r = dispatch(&s, line);
		s.ctl_wait = 0;
		free(line);
	}
out:
	xferlog_close(&s.xlog);
	tls_close(s.ctl);
	tls_server_free(s.tls);
	if (s.pasvfd >= 0)
		close(s.pasvfd);
	rootfs_close(&s.fs);
	buf_free(&s.in);
	return r;
}
