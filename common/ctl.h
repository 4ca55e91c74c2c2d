/* ctl.h: framing of the snapshotd control protocol (docs/control-protocol.md).
 * A frame is "<type> <length>\n" followed by exactly length payload bytes;
 * type is 1 to 16 lower-case letters, length at most CTL_MAX_PAYLOAD. */
#ifndef NODEBAK_CTL_H
#define NODEBAK_CTL_H
#include <stdarg.h>
#include <stddef.h>

#include "buf.h"

#define CTL_VERSION "nodebak-ctl 1"
/* The options this daemon offers in its hello ("options progress"); a
 * console sends "option <name>" only for one offered, so new consoles
 * work with old daemons and old consoles never see what they did not
 * ask for (docs/control-protocol.md). */
#define CTL_OPTIONS "progress"
#define CTL_MAX_PAYLOAD (1u << 20)
#define CTL_MAX_ARGS 64
#define CTL_TYPE_MAX 16

struct ctl {
	int fd;
	struct buf in;		/* bytes read but not yet parsed */
};

void ctl_init(struct ctl *c, int fd);
void ctl_free(struct ctl *c);
/* Send one frame. */
int ctl_send(struct ctl *c, const char *type, const void *p, size_t len);
int ctl_sends(struct ctl *c, const char *type, const char *s);
int ctl_sendf(struct ctl *c, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ctl_vsendf(struct ctl *c, const char *type, const char *fmt, va_list ap);
/* Receive one frame (blocking): type gets the type, payload (reset first)
 * the bytes. ERR_PROTO on a malformed frame, ERR_NOTFOUND at end of
 * stream before any byte of a frame. */
int ctl_recv(struct ctl *c, char type[CTL_TYPE_MAX + 1], struct buf *payload);

#endif
