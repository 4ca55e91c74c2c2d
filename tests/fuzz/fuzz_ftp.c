/* fuzz_ftp.c: libFuzzer target for the FTP server's input parsers
 * (ftpd/ftp_parse.c). The first byte picks the line cap (max_line, 64 to
 * 65344, as nodebak.conf allows); the rest is the control connection's
 * byte stream, fed in uneven pieces through a capped struct buf and split
 * by ftp_take_line(). Each line, and its argument after the first blank,
 * goes to ftp_vpath() (with a few cwds), ftp_parse_port(),
 * ftp_parse_eprt() and ftp_parse_epsv(), and the results are checked
 * against invariants and small independent reference parsers; any
 * violation aborts. Built by `make fuzz`; run:
 *   tests/bin/fuzz_ftp -max_total_time=60 tests/fuzz/corpus/ftp */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "err.h"
#include "ftp_parse.h"

#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "fuzz_ftp: %s:%d: %s\n", __FILE__, __LINE__, #c); \
	abort(); } } while (0)

static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* The reference normaliser: components of cwd/arg on a stack, no size
 * limit. Returns the malloc'ed result; *internal set if a component
 * starts with ".nodebak". */
static char *ref_vpath(const char *cwd, const char *arg, int *internal)
{
	size_t n = strlen(cwd) + strlen(arg) + 3, o = 0;
	char *all = malloc(n), *out = malloc(n), *tok, *save = NULL;

	CHECK(all && out);
	snprintf(all, n, "%s/%s", arg[0] == '/' ? "" : cwd, arg);
	*internal = 0;
	for (tok = strtok_r(all, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		if (!strncmp(tok, ".nodebak", 8))
			*internal = 1;
		o += (size_t)snprintf(out + o, n - o, "/%s", tok);
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	free(all);
	return out;
}

static void check_vpath(const char *cwd, const char *arg, size_t outsz)
{
	char out[FTP_VPATH_MAX];
	int r = ftp_vpath(cwd, arg, out, outsz), ctl = 0, internal;
	char *ref;

	for (const char *p = arg; *p; p++)
		ctl |= is_ctl((unsigned char)*p);
	CHECK(r == 0 || r == ERR_INVAL || r == ERR_NOTFOUND || r == ERR_TOOBIG);
	CHECK(ctl == (r == ERR_INVAL));
	if (ctl)
		return;
	ref = ref_vpath(cwd, arg, &internal);
	CHECK(internal == (r == ERR_NOTFOUND) || (internal && r == ERR_TOOBIG));
	if (r == 0) {
		size_t len = strlen(out);
		CHECK(out[0] == '/');
		CHECK(len <= outsz - 2 || len == 1);
		CHECK(len == 1 || out[len - 1] != '/');
		CHECK(!strstr(out, "//"));
		CHECK(!strstr(out, "/./") && !strstr(out, "/../"));
		CHECK(!(len >= 2 && !strcmp(out + len - 2, "/.")));
		CHECK(!(len >= 3 && !strcmp(out + len - 3, "/..")));
		CHECK(!strstr(out, "/.nodebak"));
		for (const char *p = out; *p; p++)
			CHECK(!is_ctl((unsigned char)*p));
		/* the path the client named, not a shortened one */
		CHECK(!strcmp(out, ref));
	} else if (r == ERR_TOOBIG)
		CHECK(strlen(cwd) + strlen(arg) >= outsz - 2);	/* a step was that long */
	free(ref);
}

/* Decimal digits only, 1 to maxdig of them, value at most max. */
static int ref_num(const char *p, size_t n, size_t maxdig, unsigned long max,
    unsigned long *v)
{
	*v = 0;
	if (n == 0 || n > maxdig)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned long)(p[i] - '0');
	}
	return *v <= max ? 0 : -1;
}

/* RFC 959: exactly h1,h2,h3,h4,p1,p2, each 0 to 255. */
static int ref_port(const char *arg, unsigned long h[6])
{
	const char *p = arg;

	for (int i = 0; i < 6; i++) {
		const char *e = i < 5 ? strchr(p, ',') : p + strlen(p);
		if (e == NULL || ref_num(p, (size_t)(e - p), 3, 255, &h[i]) != 0)
			return -1;
		p = i < 5 ? e + 1 : e;
	}
	return 0;
}

static void check_port(const char *arg)
{
	struct sockaddr_storage a;
	const struct sockaddr_in *in = (const struct sockaddr_in *)&a;
	int r = ftp_parse_port(arg, &a), rr;
	unsigned long h[6];

	CHECK(r == 0 || r == ERR_FORMAT);
	rr = ref_port(arg, h);
	CHECK((r == 0) == (rr == 0));
	if (r != 0) {
		CHECK(a.ss_family == 0);
		return;
	}
	CHECK(a.ss_family == AF_INET);
	CHECK(ntohl(in->sin_addr.s_addr) == (h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3]));
	CHECK(ntohs(in->sin_port) == h[4] * 256 + h[5]);
}

static void check_eprt(const char *arg)
{
	struct sockaddr_storage a;
	int r = ftp_parse_eprt(arg, &a);
	const char *p1, *p2, *p3;
	unsigned long port;
	unsigned char want[16];
	char host[64];

	CHECK(r == 0 || r == ERR_FORMAT || r == ERR_PROTO || r == ERR_INVAL);
	if (r != 0) {
		CHECK(a.ss_family == 0);
		return;
	}
	/* |af|addr|port| with the stated family, address and port, and
	 * nothing after the last delimiter */
	CHECK(arg[1] == '1' || arg[1] == '2');
	CHECK(a.ss_family == (arg[1] == '1' ? AF_INET : AF_INET6));
	p1 = arg + 2;
	CHECK(*p1 == arg[0]);
	CHECK((p2 = strchr(p1 + 1, arg[0])) != NULL && (size_t)(p2 - p1) < sizeof host);
	CHECK((p3 = strchr(p2 + 1, arg[0])) != NULL && p3[1] == '\0');
	CHECK(ref_num(p2 + 1, (size_t)(p3 - p2 - 1), 5, 65535, &port) == 0);
	snprintf(host, sizeof host, "%.*s", (int)(p2 - p1 - 1), p1 + 1);
	CHECK(inet_pton(a.ss_family, host, want) == 1);
	if (a.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a;
		CHECK(!memcmp(&in->sin_addr, want, 4) && ntohs(in->sin_port) == port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a;
		CHECK(!memcmp(&in6->sin6_addr, want, 16) && ntohs(in6->sin6_port) == port);
	}
}

static void check_epsv(const char *arg)
{
	int r = ftp_parse_epsv(arg);

	CHECK(r == 0 || r == 1 || r == 2 || r == FTP_EPSV_ALL || r == ERR_PROTO);
	CHECK((r == 0) == (arg[0] == '\0'));
}

static char long_cwd[FTP_VPATH_MAX - 1];

/* arg/arg/... past twice FTP_VPATH_MAX bytes: paths as long as a large
 * max_line allows, with "x/.." steps that keep the result short. */
static void check_repeated(const char *arg)
{
	size_t n = strlen(arg) + 1, k = 2 * FTP_VPATH_MAX / n + 2;
	char *rep;

	if (n < 2 || n > 64)
		return;
	CHECK((rep = malloc(n * k)) != NULL);
	for (size_t i = 0; i < k; i++) {
		memcpy(rep + i * n, arg, n - 1);
		rep[i * n + n - 1] = '/';
	}
	rep[n * k - 1] = '\0';
	check_vpath("/", rep, FTP_VPATH_MAX);
	free(rep);
}

static void check_arg(const char *arg)
{
	static const char *cwds[] = { "/", "/backups", "/a/b/c" };

	for (size_t i = 0; i < sizeof cwds / sizeof cwds[0]; i++)
		check_vpath(cwds[i], arg, FTP_VPATH_MAX);
	check_vpath(long_cwd, arg, FTP_VPATH_MAX);	/* the longest cwd */
	check_vpath("/a", arg, 8);
	check_repeated(arg);
	check_port(arg);
	check_eprt(arg);
	check_epsv(arg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf in;
	size_t off = 1, step = 0;
	char *line;
	int r;

	if (size < 1)
		return 0;
	if (!long_cwd[0]) {
		memset(long_cwd, 'c', sizeof long_cwd - 1);
		long_cwd[0] = '/';
		long_cwd[sizeof long_cwd - 1] = '\0';
	}
	buf_init(&in, 66 + (size_t)data[0] * 256);	/* max_line + 2 */
	while (off < size) {
		size_t n = 1 + (step++ * 37) % 61;
		if (n > size - off)
			n = size - off;
		if (buf_add(&in, data + off, n) != 0)
			buf_reset(&in);	/* "500 Line too long; closing" */
		off += n;
		while ((r = ftp_take_line(&in, &line)) != 0) {
			CHECK(r == 1 || r == -2);
			if (r == -2) {
				CHECK(line == NULL);
				continue;
			}
			CHECK(!strchr(line, '\n'));
			check_arg(line);
			if (strchr(line, ' '))
				check_arg(strchr(line, ' ') + 1);
			free(line);
		}
		CHECK(in.len == 0 || !memchr(in.p, '\n', in.len));
	}
	buf_free(&in);
	return 0;
}
