/* t_ftp_parse.c: the FTP server's input parsers (ftpd/ftp_parse.c):
 * command lines, virtual paths, PORT, EPRT and EPSV arguments. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "err.h"
#include "ftp_parse.h"
#include "tap.h"

/* Take one line off b: the return code, the line in out ("" if none). */
static int take(struct buf *b, char *out, size_t n)
{
	char *line = (char *)"unset";
	int r = ftp_take_line(b, &line);

	snprintf(out, n, "%s", r == 1 ? line : "");
	if (r == 1)
		free(line);
	else if (line != NULL)
		r = 99;		/* *linep must be NULL without a line */
	return r;
}

/* One line fed whole into a fresh buffer: the line taken ("" if none). */
static int take1(const char *in, size_t len, char *out, size_t n)
{
	struct buf b = BUF_INIT(64);
	int r;

	if (buf_add(&b, in, len) != 0)
		return 98;
	r = take(&b, out, n);
	if (r == 1 && b.len != 0)
		r = 97;		/* the whole line must be consumed */
	buf_free(&b);
	return r;
}

static void t_take_line(void)
{
	struct buf b = BUF_INIT(64);
	char l[64];

	ok(buf_adds(&b, "USER a\r\nPASS b\nNO") == 0 && take(&b, l, sizeof l) == 1 &&
	    !strcmp(l, "USER a"), "take_line: CRLF line, CR dropped");
	ok(take(&b, l, sizeof l) == 1 && !strcmp(l, "PASS b"), "take_line: bare LF");
	ok(take(&b, l, sizeof l) == 0 && b.len == 2 && !strcmp(buf_cstr(&b), "NO"),
	    "take_line: partial line: 0, left in the buffer");
	ok(buf_adds(&b, "OP\r\n") == 0 && take(&b, l, sizeof l) == 1 &&
	    !strcmp(l, "NOOP") && b.len == 0, "take_line: partial line completed");
	ok(take(&b, l, sizeof l) == 0, "take_line: empty buffer: 0");
	ok(buf_add(&b, "AB\0C\r\nNOOP\r\n", 12) == 0 && take(&b, l, sizeof l) == -2 &&
	    b.len == 6, "take_line: NUL in the line: -2, the line consumed");
	ok(take(&b, l, sizeof l) == 1 && !strcmp(l, "NOOP"),
	    "take_line: the next line after a NUL line is read");
	buf_free(&b);
	ok(take1("\r\n", 2, l, sizeof l) == 1 && !strcmp(l, ""),
	    "take_line: empty line");
	ok(take1("A\rB\r\n", 5, l, sizeof l) == 1 && !strcmp(l, "A\rB"),
	    "take_line: only the CR before LF is dropped");
	ok(take1("a\xff\xff" "b\r\n", 6, l, sizeof l) == 1 && !strcmp(l, "a\xff" "b"),
	    "take_line: IAC IAC is one 0xff");
	ok(take1("\xff\xf4\xff\xf2" "ABOR\r\n", 10, l, sizeof l) == 1 &&
	    !strcmp(l, "ABOR"), "take_line: IAC IP, IAC DM removed");
	ok(take1("NO\xff\xfb\x01" "OP\r\n", 9, l, sizeof l) == 1 && !strcmp(l, "NOOP"),
	    "take_line: IAC WILL x removed");
	ok(take1("\xff\xfc\x01\xff\xfd\x03\xff\xfe\x18" "NOOP\n", 14, l, sizeof l) == 1 &&
	    !strcmp(l, "NOOP"), "take_line: IAC WONT/DO/DONT x removed");
	ok(take1("ABOR\xff\n", 6, l, sizeof l) == 1 && !strcmp(l, "ABOR"),
	    "take_line: IAC at the end of a line dropped");
	ok(take1("ABOR\xff\r\n", 7, l, sizeof l) == 1 && !strcmp(l, "ABOR"),
	    "take_line: IAC before CRLF takes the CR as its command");
	ok(take1("ABOR\xff\xfb\n", 7, l, sizeof l) == 1 && !strcmp(l, "ABOR"),
	    "take_line: IAC WILL without an option at the end of a line");
	ok(take1("a\xff\xff\xff\xf4\xff\n", 7, l, sizeof l) == 1 && !strcmp(l, "a\xff"),
	    "take_line: IAC IAC, IAC IP, lone IAC together");
}

/* ftp_vpath into a 1024-byte buffer: 0 and out equals want, or the code. */
static int vp_is(const char *cwd, const char *arg, const char *want)
{
	char out[FTP_VPATH_MAX];
	int r = ftp_vpath(cwd, arg, out, sizeof out);

	return r == 0 && !strcmp(out, want);
}

static int vp_err(const char *cwd, const char *arg)
{
	char out[FTP_VPATH_MAX];

	return ftp_vpath(cwd, arg, out, sizeof out);
}

/* "x/" and "./" dots times, then "y": "/x/y" when it fits the joining. */
static void long_dots(int want, size_t dots, char *out, size_t outsz)
{
	size_t n = 2 + 2 * dots + 2, o = 0;
	char *arg = malloc(n);
	int r;

	if (arg == NULL)
		return;
	arg[o++] = 'x';
	arg[o++] = '/';
	for (size_t i = 0; i < dots; i++) {
		arg[o++] = '.';
		arg[o++] = '/';
	}
	arg[o++] = 'y';
	arg[o] = '\0';
	r = ftp_vpath("/", arg, out, outsz);
	ok(r == want && (r != 0 || !strcmp(out, "/x/y")), "vpath: x/./.../y of %zu "
	    "bytes: %s", o, want ? "too big (not /x)" : "/x/y");
	free(arg);
}

static void t_vpath(void)
{
	static const char *ctl[] = { "a\tb", "a\nb", "a\rb", "\x01", "x\x1f",
		"a\x7f", "/backups/\x1b[2J" };
	static const char *internal[] = { ".nodebak-x", "/.nodebak-x",
		"a/.nodebak-x/b", "backups/.nodebak", ".nodebakery", ".nodebak-x/..",
		"/a/../.nodebak-x" };
	char big[FTP_VPATH_MAX + 8], out[FTP_VPATH_MAX];

	ok(vp_is("/", "..", "/"), "vpath: .. at / stays at /");
	ok(vp_is("/a/b", "..", "/a"), "vpath: .. from /a/b");
	ok(vp_is("/", "../../x", "/x"), "vpath: ../../x from / is /x");
	ok(vp_is("/a", "../../x", "/x"), "vpath: ../../x from /a is /x");
	ok(vp_is("/", "/a/./b/../c", "/a/c"), "vpath: /a/./b/../c");
	ok(vp_is("/", "a//b", "/a/b") && vp_is("/d", "a//b/", "/d/a/b"),
	    "vpath: a//b, trailing slash");
	ok(vp_is("/d", "/a", "/a"), "vpath: absolute path ignores cwd");
	ok(vp_is("/d", "", "/d") && vp_is("/d", ".", "/d"), "vpath: empty and .");
	ok(vp_is("/", "/", "/") && vp_is("/", "//..//.", "/"), "vpath: / forms");
	ok(vp_is("/", "...", "/...") && vp_is("/", "x.nodebak", "/x.nodebak") &&
	    vp_is("/", ".nodeba", "/.nodeba"), "vpath: ..., x.nodebak, .nodeba are names");
	ok(vp_is("/", "caf\xc3\xa9 \x80", "/caf\xc3\xa9 \x80"),
	    "vpath: bytes >= 0x80 and blanks kept");
	for (size_t i = 0; i < sizeof ctl / sizeof ctl[0]; i++)
		ok(vp_err("/", ctl[i]) == ERR_INVAL, "vpath: control byte refused: ctl[%zu]", i);
	for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++)
		ok(vp_err("/", internal[i]) == ERR_NOTFOUND, "vpath: internal name "
		    "refused: %s", internal[i]);
	ok(vp_err("/backups", ".nodebak-x") == ERR_NOTFOUND,
	    "vpath: internal name refused relative to a cwd");

	/* The longest result is outsz - 2 bytes ("/" and 1021 more). */
	memset(big, 'a', sizeof big);
	big[0] = '/';
	big[FTP_VPATH_MAX - 2] = '\0';
	ok(ftp_vpath("/", big, out, sizeof out) == 0 && strlen(out) == FTP_VPATH_MAX - 2,
	    "vpath: a path of %d bytes (the limit) fits", FTP_VPATH_MAX - 2);
	big[FTP_VPATH_MAX - 2] = 'a';
	big[FTP_VPATH_MAX - 1] = '\0';
	ok(ftp_vpath("/", big, out, sizeof out) == ERR_TOOBIG,
	    "vpath: a path of %d bytes is too big", FTP_VPATH_MAX - 1);
	ok(ftp_vpath("/", "/abcde", out, 8) == 0 && !strcmp(out, "/abcde") &&
	    ftp_vpath("/", "/abcdef", out, 8) == ERR_TOOBIG,
	    "vpath: the limit follows outsz");
	ok(ftp_vpath("/", "/a/b/../cd", out, 7) == 0 && !strcmp(out, "/a/cd") &&
	    ftp_vpath("/", "/a/b/cd", out, 7) == ERR_TOOBIG, "vpath: .. frees room");
	/* cwd/arg longer than the joining buffer: refused, not cut short */
	memset(big, 'a', sizeof big);
	for (size_t i = 0; i + 1 < sizeof big; i += 2)
		big[i + 1] = '/';
	big[sizeof big - 1] = '\0';
	ok(ftp_vpath("/", big, out, sizeof out) == ERR_TOOBIG,
	    "vpath: a/a/a/... of %zu bytes: its steps are too long", strlen(big));
	long_dots(ERR_TOOBIG, 1100, out, sizeof out);
	long_dots(0, 1000, out, sizeof out);
	ok(ftp_vpath("/", "..", out, 2) == 0 && !strcmp(out, "/") &&
	    ftp_vpath("/", "/", out, 1) == ERR_TOOBIG, "vpath: tiny outsz");
}

/* The address *a as "text port" ("?" if it is not of family af). */
static const char *addr_is(const struct sockaddr_storage *a, int af)
{
	static char s[INET6_ADDRSTRLEN + 16];
	char t[INET6_ADDRSTRLEN];
	unsigned port;

	if (a->ss_family != af)
		return "?";
	if (af == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)a;
		inet_ntop(AF_INET, &in->sin_addr, t, sizeof t);
		port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
		inet_ntop(AF_INET6, &in6->sin6_addr, t, sizeof t);
		port = ntohs(in6->sin6_port);
	}
	snprintf(s, sizeof s, "%s %u", t, port);
	return s;
}

static void t_port(void)
{
	static const char *bad[] = { "127,0,0,256,7,208", "127,0,0,1,7,256",
		"127,0,0,1,7", "127,0,0,1,7,", "", ",,,,,", "a,b,c,d,e,f",
		"1000,0,0,1,7,208", "127.0.0.1,7,208", "127,0,0,1,7,208x",
		"127,0,0,1,7,2089", "127,0,0,1,7,1000", "127,0,0,1,7,208,1",
		"127,0,0,1,7,208 ", " 127,0,0,1,7,208", "127, 0,0,1,7,208",
		"+127,0,0,1,7,208", "127,0,0,1,-0,208", "127,,0,0,1,7,208" };
	struct sockaddr_storage a;

	ok(ftp_parse_port("127,0,0,1,7,208", &a) == 0 &&
	    !strcmp(addr_is(&a, AF_INET), "127.0.0.1 2000"), "PORT: good (%s)",
	    addr_is(&a, AF_INET));
	ok(ftp_parse_port("10,1,2,3,255,255", &a) == 0 &&
	    !strcmp(addr_is(&a, AF_INET), "10.1.2.3 65535"), "PORT: highest port");
	ok(ftp_parse_port("127,0,0,1,0,0", &a) == 0 &&
	    !strcmp(addr_is(&a, AF_INET), "127.0.0.1 0"),
	    "PORT: port 0 parses (ftp.c refuses ports < 1024)");
	ok(ftp_parse_port("127,000,0,01,7,208", &a) == 0 &&
	    !strcmp(addr_is(&a, AF_INET), "127.0.0.1 2000"), "PORT: leading zeros");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(ftp_parse_port(bad[i], &a) == ERR_FORMAT && a.ss_family == 0,
		    "PORT: refused: '%s'", bad[i]);
}

static void t_eprt(void)
{
	static const char *syntax[] = { "", "|", "|1|", "|1|127.0.0.1|",
		"|1|127.0.0.1|2000", "|1|127.0.0.1",
		"|1|0000:0000:0000:0000:0000:0000:0000:0000:0000:0000|2000|",
		"|1|127.0.0.1|2000|x", "|1|127.0.0.1|2000||" };
	static const char *proto[] = { "|3|127.0.0.1|2000|", "|0|127.0.0.1|2000|",
		"||127.0.0.1|2000|", "|12|127.0.0.1|2000|", "|a|127.0.0.1|2000|" };
	static const char *inval[] = { "|1|127.0.0.1|65536|", "|1|127.0.0.1|99999|",
		"|1|::1|2000|", "|2|127.0.0.1|2000|", "|1|127.0.0.1|x|",
		"|1|127.0.0.1||", "|1||2000|", "|1|127.0.0|2000|", "|1|localhost|2000|",
		"|1|127.0.0.1|100000|", "|1|127.0.0.1|200012|", "|1|127.0.0.1|2000x|",
		"|1|127.0.0.1| 2000|", "|1|127.0.0.1|+2000|", "|1|127.0.0.1|-0|",
		"|1|127.0.0.1|000002000|" };
	struct sockaddr_storage a;

	ok(ftp_parse_eprt("|1|127.0.0.1|2000|", &a) == 0 &&
	    !strcmp(addr_is(&a, AF_INET), "127.0.0.1 2000"), "EPRT: |1|127.0.0.1|2000|");
	ok(ftp_parse_eprt("|2|::1|2000|", &a) == 0 &&
	    !strcmp(addr_is(&a, AF_INET6), "::1 2000"), "EPRT: |2|::1|2000|");
	ok(ftp_parse_eprt("!1!127.0.0.1!2000!", &a) == 0 &&
	    !strcmp(addr_is(&a, AF_INET), "127.0.0.1 2000"), "EPRT: delimiter !");
	ok(ftp_parse_eprt("|2|::ffff:127.0.0.1|65535|", &a) == 0 &&
	    !strcmp(addr_is(&a, AF_INET6), "::ffff:127.0.0.1 65535"),
	    "EPRT: IPv4-mapped address, port 65535");
	ok(ftp_parse_eprt("|1|127.0.0.1|0|", &a) == 0 &&
	    !strcmp(addr_is(&a, AF_INET), "127.0.0.1 0"),
	    "EPRT: port 0 parses (ftp.c refuses ports < 1024)");
	for (size_t i = 0; i < sizeof syntax / sizeof syntax[0]; i++)
		ok(ftp_parse_eprt(syntax[i], &a) == ERR_FORMAT && a.ss_family == 0,
		    "EPRT: bad syntax (501): '%s'", syntax[i]);
	for (size_t i = 0; i < sizeof proto / sizeof proto[0]; i++)
		ok(ftp_parse_eprt(proto[i], &a) == ERR_PROTO && a.ss_family == 0,
		    "EPRT: protocol not supported (522): '%s'", proto[i]);
	for (size_t i = 0; i < sizeof inval / sizeof inval[0]; i++)
		ok(ftp_parse_eprt(inval[i], &a) == ERR_INVAL && a.ss_family == 0,
		    "EPRT: bad address or port: '%s'", inval[i]);
}

static void t_epsv(void)
{
	ok(ftp_parse_epsv("") == 0, "EPSV: no argument");
	ok(ftp_parse_epsv("1") == 1 && ftp_parse_epsv("2") == 2, "EPSV 1, EPSV 2");
	ok(ftp_parse_epsv("ALL") == FTP_EPSV_ALL && ftp_parse_epsv("all") == FTP_EPSV_ALL,
	    "EPSV ALL, any case");
	ok(ftp_parse_epsv("3") == ERR_PROTO && ftp_parse_epsv("12") == ERR_PROTO &&
	    ftp_parse_epsv("ALL ") == ERR_PROTO && ftp_parse_epsv(" 1") == ERR_PROTO,
	    "EPSV: anything else is 522");
}

void t_ftp_parse(void)
{
	t_take_line();
	t_vpath();
	t_port();
	t_eprt();
	t_epsv();
}
