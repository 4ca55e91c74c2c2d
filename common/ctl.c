/* ctl.c: control protocol frames (see ctl.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "err.h"
#include "fsutil.h"
#include "banned.h"

#define HEADER_MAX 32

void ctl_init(struct ctl *c, int fd)
{
	c->fd = fd;
	buf_init(&c->in, CTL_MAX_PAYLOAD + HEADER_MAX + 65536);
}

void ctl_free(struct ctl *c)
{
	buf_free(&c->in);
}

int ctl_send(struct ctl *c, const char *type, const void *p, size_t len)
{
	char hdr[HEADER_MAX];
	int n, r;

	if (len > CTL_MAX_PAYLOAD || strlen(type) > CTL_TYPE_MAX)
		return err_set(ERR_TOOBIG, "control message too large");
	n = snprintf(hdr, sizeof hdr, "%s %zu\n", type, len);
	if ((r = fs_write_all(c->fd, hdr, (size_t)n, "control socket")) != 0)
		return r;
	return len ? fs_write_all(c->fd, p, len, "control socket") : 0;
}

int ctl_sends(struct ctl *c, const char *type, const char *s)
{
	return ctl_send(c, type, s, strlen(s));
}

int ctl_vsendf(struct ctl *c, const char *type, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT(CTL_MAX_PAYLOAD);
	int r = buf_vaddf(&b, fmt, ap);

	if (r == 0)
		r = ctl_send(c, type, buf_cstr(&b), b.len);
	buf_free(&b);
	return r;
}

int ctl_sendf(struct ctl *c, const char *type, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ctl_vsendf(c, type, fmt, ap);
	va_end(ap);
	return r;
}

static int fill(struct ctl *c)
{
	char chunk[65536];
	ssize_t n;
	int r;

	do
		n = read(c->fd, chunk, sizeof chunk);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_sys("control socket");
	if (n == 0)
		return err_set(ERR_NOTFOUND, "control connection closed");
	if ((r = buf_add(&c->in, chunk, (size_t)n)) != 0)
		return err_set(ERR_PROTO, "control message too large");
	return 0;
}

/* Parse "type len\n" at the start of c->in; *hlen gets its size, or 0 when
 * more bytes are needed. */
static int parse_header(struct ctl *c, char type[CTL_TYPE_MAX + 1],
    size_t *len, size_t *hlen)
{
	const char *p = c->in.p, *nl;
	size_t tl = 0, avail = c->in.len;
	unsigned long long v = 0;

	*hlen = 0;
	nl = avail ? memchr(p, '\n', avail < HEADER_MAX ? avail : HEADER_MAX) : NULL;
	if (nl == NULL)
		return avail >= HEADER_MAX ?
		    err_set(ERR_PROTO, "malformed control frame header") : 0;
	while (p + tl < nl && p[tl] >= 'a' && p[tl] <= 'z')
		tl++;
	if (tl == 0 || tl > CTL_TYPE_MAX || p[tl] != ' ' || p + tl + 1 >= nl)
		return err_set(ERR_PROTO, "malformed control frame header");
	for (const char *d = p + tl + 1; d < nl; d++) {
		if (*d < '0' || *d > '9' || v > CTL_MAX_PAYLOAD)
			return err_set(ERR_PROTO, "malformed control frame length");
		v = v * 10 + (unsigned)(*d - '0');
	}
	if (v > CTL_MAX_PAYLOAD)
		return err_set(ERR_PROTO, "control frame too large");
	memcpy(type, p, tl);
	type[tl] = '\0';
	*len = (size_t)v;
	*hlen = (size_t)(nl - p) + 1;
	return 0;
}

int ctl_recv(struct ctl *c, char type[CTL_TYPE_MAX + 1], struct buf *payload)
{
	size_t len = 0, hlen = 0;
	int r;

	buf_reset(payload);
	for (;;) {
		if ((r = parse_header(c, type, &len, &hlen)) != 0)
			return r;
		if (hlen && c->in.len >= hlen + len)
			break;
		if ((r = fill(c)) != 0) {
			if (r == ERR_NOTFOUND && c->in.len)
				return err_set(ERR_PROTO, "control frame truncated");
			return r;
		}
	}
	if ((r = buf_add(payload, c->in.p + hlen, len)) != 0)
		return r;
	buf_consume(&c->in, hlen + len);
	return 0;
}
