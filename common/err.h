/* err.h: project error codes and the one-line message that goes with them.
 * Functions that can fail return 0 or a negative ERR_* code; the code that
 * detected the failure records a one-line reason with err_set(), which the
 * caller shows to a person with err_msg(). */
#ifndef NODEBAK_ERR_H
#define NODEBAK_ERR_H

enum {
	ERR_OK = 0,
	ERR_SYS = -1,		/* a system call failed; errno-based text */
	ERR_NOMEM = -2,
	ERR_INVAL = -3,		/* bad argument or configuration value */
	ERR_FORMAT = -4,	/* malformed archive, manifest or message */
	ERR_SIG = -5,		/* signature does not verify */
	ERR_UNTRUSTED = -6,	/* signed by a key that is not trusted */
	ERR_EXISTS = -7,
	ERR_NOTFOUND = -8,
	ERR_TOOBIG = -9,	/* a configured or format limit was exceeded */
	ERR_BUSY = -10,		/* another mutating operation is running */
	ERR_IO = -11,
	ERR_DB = -12,
	ERR_CRYPTO = -13,
	ERR_PROTO = -14,	/* control protocol violation */
	ERR_DENIED = -15,	/* role or policy forbids it */
	ERR_CANCELLED = -16,
	ERR_NOSPC = -17,	/* disk full or file size limit */
	ERR_MISMATCH = -18,	/* content differs from what was signed */
	ERR_REFUSED = -19,	/* refused by a safety rule (--force can name it) */
	ERR_NOKEY = -20,	/* no identity given can decrypt it */
	ERR_AGAIN = -21,	/* what was being read changed under the reader: start again */
};

/* Record a one-line reason for the calling thread and return code. */
int err_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* As err_set(), appending ": strerror(errno)"; maps ENOSPC/EFBIG/EDQUOT
 * to ERR_NOSPC. Returns the code. */
int err_sys(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prefix the current message with "prefix: " (keeps the code). */
int err_prefix(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The calling thread's last message (never NULL). */
const char *err_msg(void);
/* A generic text for a code. */
const char *err_str(int code);

#endif
