/* err.c: per-thread one-line error messages (see err.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "banned.h"

static _Thread_local char msg[1024];

/* The current message may be one of the arguments (err_set(ERR_DB, "%s",
 * err_msg())): format it apart, then copy. */
static void vset(const char *fmt, va_list ap)
{
	char text[sizeof msg];

	vsnprintf(text, sizeof text, fmt, ap);
	memcpy(msg, text, sizeof msg);
}

int err_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	return code;
}

int err_sys(const char *fmt, ...)
{
	int saved = errno, code = ERR_SYS;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	n = strlen(msg);
	snprintf(msg + n, sizeof msg - n, ": %s", strerror(saved));
	if (saved == ENOSPC || saved == EFBIG || saved == EDQUOT)
		code = ERR_NOSPC;
	else if (saved == ENOENT)
		code = ERR_NOTFOUND;
	else if (saved == EEXIST)
		code = ERR_EXISTS;
	else if (saved == ENOMEM)
		code = ERR_NOMEM;
	errno = saved;
	return code;
}

int err_prefix(int code, const char *fmt, ...)
{
	char old[sizeof msg], pre[256];
	va_list ap;

	memcpy(old, msg, sizeof old);
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof msg, "%s: %s", pre, old[0] ? old : err_str(code));
	return code;
}

const char *err_msg(void)
{
	return msg;
}

const char *err_str(int code)
{
	switch (code) {
	case ERR_OK: return "success";
	case ERR_SYS: return "system error";
	case ERR_NOMEM: return "out of memory";
	case ERR_INVAL: return "invalid argument";
	case ERR_FORMAT: return "malformed data";
	case ERR_SIG: return "bad signature";
	case ERR_UNTRUSTED: return "untrusted signing key";
	case ERR_EXISTS: return "already exists";
	case ERR_NOTFOUND: return "not found";
	case ERR_TOOBIG: return "limit exceeded";
	case ERR_BUSY: return "busy";
	case ERR_IO: return "input/output error";
	case ERR_DB: return "database error";
	case ERR_CRYPTO: return "cryptographic error";
	case ERR_PROTO: return "protocol error";
	case ERR_DENIED: return "permission denied";
	case ERR_CANCELLED: return "cancelled";
	case ERR_NOSPC: return "no space left";
	case ERR_MISMATCH: return "content mismatch";
	case ERR_REFUSED: return "refused";
	case ERR_NOKEY: return "no matching identity";
	case ERR_AGAIN: return "changed while being read";
	}
	return "unknown error";
}
