/* sshd_ipc.c: framing of the messages between an SSH connection's
 * network-facing process and its worker (see sshd_ipc.h). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "sshd_ipc.h"
#include "banned.h"

int ipc_write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t n;

	while (len > 0) {
		n = write(fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { fd, POLLOUT, 0 };
			poll(&pfd, 1, 1000);
			continue;
		}
		if (n <= 0)
			return err_set(ERR_IO, "privsep socket: %s",
			    n < 0 ? strerror(errno) : "closed");
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t len, int timeout_ms)
{
	char *c = p;
	ssize_t n;
	int r;

	while (len > 0) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		if ((r = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return err_set(ERR_IO, "privsep socket: timed out");
		n = read(fd, c, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return err_set(ERR_IO, "privsep socket: %s",
			    n < 0 ? strerror(errno) : "closed");
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

int ipc_send(int fd, int type, const void *p, size_t len)
{
	unsigned char h[5];
	int r;

	if (len > IPC_MAX)
		return err_set(ERR_TOOBIG, "privsep message too long");
	h[0] = (unsigned char)type;
	h[1] = (unsigned char)(len >> 24);
	h[2] = (unsigned char)(len >> 16);
	h[3] = (unsigned char)(len >> 8);
	h[4] = (unsigned char)len;
	if ((r = ipc_write_all(fd, h, sizeof h)) != 0)
		return r;
	return len ? ipc_write_all(fd, p, len) : 0;
}

int ipc_recv(int fd, int *typep, struct buf *out, int timeout_ms)
{
	unsigned char h[5];
	char chunk[4096];
	size_t len, n;
	int r;

	*typep = 0;
	buf_reset(out);
	if ((r = read_all(fd, h, sizeof h, timeout_ms)) != 0)
		return r;
	len = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];
	if (len > IPC_MAX)
		return err_set(ERR_PROTO, "privsep message of %zu bytes", len);
	while (len > 0) {
		n = len < sizeof chunk ? len : sizeof chunk;
		if ((r = read_all(fd, chunk, n, timeout_ms)) != 0 ||
		    (r = buf_add(out, chunk, n)) != 0)
			break;
		len -= n;
	}
	explicit_bzero(chunk, sizeof chunk);	/* passwords pass here */
	if (r == 0)
		*typep = h[0];
	return r;
}

int ipc_put_u32(struct buf *b, uint32_t v)
{
	unsigned char u[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
	    (unsigned char)(v >> 8), (unsigned char)v };

	return buf_add(b, u, 4);
}

int ipc_put_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	int r;

	if (n > IPC_MAX)
		return err_set(ERR_TOOBIG, "privsep string too long");
	if ((r = ipc_put_u32(b, (uint32_t)n)) != 0 || (r = buf_add(b, s, n)) != 0)
		return r;
	return buf_addch(b, '\0');
}

int ipc_get_u32(struct ipc_cur *c, uint32_t *v)
{
	const unsigned char *u = (const unsigned char *)c->p;

	*v = 0;
	if (c->left < 4)
		return err_set(ERR_PROTO, "privsep message too short");
	*v = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
	c->p += 4;
	c->left -= 4;
	return 0;
}

int ipc_get_str(struct ipc_cur *c, const char **s)
{
	uint32_t n;
	int r;

	*s = NULL;
	if ((r = ipc_get_u32(c, &n)) != 0)
		return r;
	if (c->left < (size_t)n + 1 || c->p[n] != '\0' || memchr(c->p, 0, n))
		return err_set(ERR_PROTO, "privsep string malformed");
	*s = c->p;
	c->p += n + 1;
	c->left -= (size_t)n + 1;
	return 0;
}
