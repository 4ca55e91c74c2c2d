/* ftp_parse.h: the FTP server's parsers of network input: command lines,
 * client paths, and the PORT, EPRT and EPSV arguments. Pure functions (no
 * sockets, no session), so that the unit tests and tests/fuzz/fuzz_ftp.c
 * reach them; the policy on what they return stays in ftp.c. */
#ifndef NODEBAK_FTP_PARSE_H
#define NODEBAK_FTP_PARSE_H
#include <stddef.h>

struct buf;
struct sockaddr_storage;

#define FTP_VPATH_MAX 1024	/* size of a virtual path buffer, NUL included */

/* Take one complete line (LF or CRLF ended) off the front of in: CR
 * dropped, Telnet commands (IAC IP, IAC DM, IAC WILL x, ...) removed, IAC
 * IAC kept as one 0xff byte. Returns 1 with *linep set to a malloc'ed
 * string the caller frees; 0 when in holds no complete line yet; -1 out of
 * memory (in unchanged); -2 the line held a NUL (consumed from in, no
 * line). *linep is NULL unless 1 is returned. */
int ftp_take_line(struct buf *in, char **linep);

/* Resolve the client's path arg against cwd (a path this function made)
 * into the normalised virtual path out ("/" or "/a/b"): "." and empty
 * components dropped, ".." stops at "/". Returns 0, ERR_INVAL for a control
 * byte or DEL in arg, ERR_NOTFOUND for a component, as written, that is an
 * internal name (rootfs_internal(): ".nodebak*"), ERR_TOOBIG when the result, a step on the way to it,
 * or cwd/arg joined (2 * FTP_VPATH_MAX bytes at most) would be longer than
 * outsz - 2 bytes. out's contents are unspecified on failure. */
int ftp_vpath(const char *cwd, const char *arg, char *out, size_t outsz);

/* PORT h1,h2,h3,h4,p1,p2 (six numbers of 1 to 3 digits, 0 to 255, and
 * nothing else) into *a (AF_INET, port in network order).
 * Returns 0, or ERR_FORMAT (bad syntax: 501); *a is zeroed first. */
int ftp_parse_port(const char *arg, struct sockaddr_storage *a);

/* EPRT |af|addr|port| (RFC 2428, any delimiter, nothing after the last
 * one; the port 1 to 5 digits) into *a (AF_INET or AF_INET6). Returns 0;
 * ERR_FORMAT for bad syntax (501); ERR_PROTO for a
 * network protocol other than 1 or 2 (522); ERR_INVAL when the address or
 * the port is not valid for it (ftp.c answers as for a refused address).
 * *a is zeroed first. */
int ftp_parse_eprt(const char *arg, struct sockaddr_storage *a);

/* The EPSV argument (RFC 2428 section 3): 0 for none, 1 or 2 for a
 * network protocol, FTP_EPSV_ALL for "ALL" (any case), ERR_PROTO for
 * anything else (522). */
#define FTP_EPSV_ALL 3
int ftp_parse_epsv(const char *arg);

#endif
