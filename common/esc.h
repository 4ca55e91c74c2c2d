/* esc.h: the printable form of a name that came from an archive or a
 * client, for error messages, logs and console output. Such a name is
 * hostile: a newline or an ESC in it could forge lines of output or drive
 * the operator's terminal. */
#ifndef NODEBAK_ESC_H
#define NODEBAK_ESC_H
#include <stddef.h>

/* s with every byte outside 0x20..0x7e, and the backslash, written as
 * \n, \t, \r, \\ or \xNN; longer than 400 bytes of output, cut with
 * "...". The result lives in a per-thread ring of 8 buffers: good for
 * the arguments of one printf-style call, not to be kept. NULL -> "". */
const char *esc(const char *s);

/* The log's rule (log.c): s into out (outsz bytes, always terminated,
 * cut at a whole escape when it does not fit) with every control byte
 * (0x00..0x1f, 0x7f) written as \n, \t, \r or \xNN, so that nothing a
 * client sent can end a log line or drive a terminal; other bytes (UTF-8
 * names) are kept. Returns the length written. */
size_t esc_ctl(char *out, size_t outsz, const char *s);

#endif
