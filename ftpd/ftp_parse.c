/* ftp_parse.c: the FTP server's parsers of untrusted input (command lines,
 * client paths, PORT/EPRT/EPSV arguments), kept apart from the session so
 * that they can be unit tested and fuzzed (see ftp_parse.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "buf.h"
#include "err.h"
#include "ftp_parse.h"
#include "rootfs.h"
#include "banned.h"

int ftp_take_line(struct buf *in, char **linep)
{
	char *nl = in->len ? memchr(in->p, '\n', in->len) : NULL;
	size_t l, r, w;
	char *line;

	*linep = NULL;
	if (nl == NULL)
		return 0;
	l = (size_t)(nl - in->p);
	if (memchr(in->p, '\0', l)) {
		buf_consume(in, l + 1);
		return -2;
	}
	if ((line = strndup(in->p, l)) == NULL)
		return -1;
	buf_consume(in, l + 1);
	for (r = w = 0; r < l; ) {
		unsigned char c = (unsigned char)line[r];
		if (c != 0xff) {
			line[w++] = line[r++];
			continue;
		}
		c = r + 1 < l ? (unsigned char)line[r + 1] : 0;
		if (c == 0xff) {
			line[w++] = (char)0xff;
			r += 2;
		} else if (c >= 0xfb && c <= 0xfe)	/* WILL WONT DO DONT opt */
			r += 3;
		else
			r += 2;
	}
	line[w] = '\0';
	if (w && line[w - 1] == '\r')
		line[w - 1] = '\0';
	*linep = line;
	return 1;
}

int ftp_vpath(const char *cwd, const char *arg, char *out, size_t outsz)
{
	char tmp[FTP_VPATH_MAX * 2];
	size_t o = 0;
	const char *p;
	int len;

	if (outsz < 2)		/* room for "/" */
		return ERR_TOOBIG;
	for (p = arg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return ERR_INVAL;
	if (arg[0] == '/')
		len = snprintf(tmp, sizeof tmp, "%s", arg);
	else
		len = snprintf(tmp, sizeof tmp, "%s/%s", cwd, arg);
	/* A cut path names another file ("a/./././.../b" became "/a"): with
	 * max_line above about 1,000 a command line can be that long. */
	if (len < 0 || (size_t)len >= sizeof tmp)
		return ERR_TOOBIG;
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
			if (rootfs_internal(p, n))
				return ERR_NOTFOUND;
			if (o + n + 2 >= outsz)
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

/* A decimal number of 1 to maxdig digits at *pp, at most max; *pp moves
 * past it. Digits only: sscanf's %u also took blanks and a sign, and
 * stopped quietly at its width ("2089" was read as 208). */
static int decimal(const char **pp, int maxdig, unsigned max, unsigned *v)
{
	const char *p = *pp;
	unsigned n = 0;
	int i;

	for (i = 0; i < maxdig && p[i] >= '0' && p[i] <= '9'; i++)
		n = n * 10 + (unsigned)(p[i] - '0');
	if (i == 0 || (p[i] >= '0' && p[i] <= '9') || n > max)
		return -1;
	*pp = p + i;
	*v = n;
	return 0;
}

int ftp_parse_port(const char *arg, struct sockaddr_storage *a)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)a;
	const char *p = arg;
	unsigned h[6];

	memset(a, 0, sizeof *a);
	for (int i = 0; i < 6; i++) {
		if (decimal(&p, 3, 255, &h[i]) != 0 || *p != (i < 5 ? ',' : '\0'))
			return ERR_FORMAT;
		if (i < 5)
			p++;
	}
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl((uint32_t)h[0] << 24 | h[1] << 16 |
	    h[2] << 8 | h[3]);
	sin->sin_port = htons((uint16_t)(h[4] * 256 + h[5]));
	return 0;
}

int ftp_parse_eprt(const char *arg, struct sockaddr_storage *a)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *p1, *p2, *p3, *q;
	char d = arg[0];
	unsigned port;
	int af;

	memset(a, 0, sizeof *a);
	if (!d || (p1 = strchr(arg + 1, d)) == NULL ||
	    (p2 = strchr(p1 + 1, d)) == NULL || (p3 = strchr(p2 + 1, d)) == NULL ||
	    p3[1] != '\0' || (size_t)(p2 - p1 - 1) >= sizeof host)
		return ERR_FORMAT;
	if (p1 != arg + 2 || (arg[1] != '1' && arg[1] != '2'))
		return ERR_PROTO;
	af = arg[1] == '1' ? AF_INET : AF_INET6;
	snprintf(host, sizeof host, "%.*s", (int)(p2 - p1 - 1), p1 + 1);
	/* the whole field, or the client meant another port */
	q = p2 + 1;
	if (decimal(&q, 5, 65535, &port) != 0 || q != p3)
		return ERR_INVAL;
	a->ss_family = (sa_family_t)af;
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)a;
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			goto bad;
		sin->sin_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)a;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			goto bad;
		sin6->sin6_port = htons((uint16_t)port);
	}
	return 0;
bad:
	memset(a, 0, sizeof *a);
	return ERR_INVAL;
}

int ftp_parse_epsv(const char *arg)
{
	if (!strcasecmp(arg, "ALL"))
		return FTP_EPSV_ALL;
	if (!*arg)
		return 0;
	if (!strcmp(arg, "1") || !strcmp(arg, "2"))
		return arg[0] - '0';
	return ERR_PROTO;
}
