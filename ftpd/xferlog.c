/* xferlog.c: login and transfer lines for FTP and SFTP sessions (see
 * xferlog.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xferlog.h"
#include "banned.h"

void xferlog_open(struct xferlog *x, const char *path)
{
	x->fd = -1;
	x->path = path;
	tzset();	/* localtime_r() below, after /etc is out of reach */
	if (path == NULL || *path == '\0')
		return;
	x->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

void xferlog_close(struct xferlog *x)
{
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
}

static void xferlog_line(const struct xferlog *x, const char *line)
{
	if (x == NULL || x->fd < 0)
		return;
	if (write(x->fd, line, strlen(line)) < 0)
		log_warn("xferlog %s: %s", x->path, strerror(errno));
}

void xferlog_login(const char *proto, const char *user, const char *peer,
    const char *method, int ok, long addr_failures, long user_failures)
{
	if (addr_failures < 0)
		log_info("%s login %s: user %s from %s by %s", proto,
		    ok ? "ok" : "FAILED", user, peer, method);
	else
		log_info("%s login %s: user %s from %s by %s (failed logins: %ld "
		    "from %s, %ld for %s)", proto, ok ? "ok" : "FAILED", user, peer,
		    method, addr_failures, peer, user_failures, user);
}

void xferlog_transfer(const struct xferlog *x, const char *proto,
    const char *user, const char *peer, const char *vpath, int upload,
    unsigned long long bytes, double seconds, int complete)
{
	char when[32], line[2048], name[1024];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	/* xferlog(5): one field per word, so spaces in names become '_'. */
	for (i = 0; vpath[i] && i < sizeof name - 1; i++)
		name[i] = (vpath[i] <= ' ' || vpath[i] == 0x7f) ? '_' : vpath[i];
	name[i] = '\0';
	log_info("%s %s %s: user %s from %s, %llu bytes in %.3f s, %s", proto,
	    upload ? "upload" : "download", name, user, peer, bytes, seconds,
	    complete ? "complete" : "INCOMPLETE");
	localtime_r(&now, &tm);
	strftime(when, sizeof when, "%a %b %e %H:%M:%S %Y", &tm);
	snprintf(line, sizeof line, "%s %ld %s %llu %s b _ %c r %s %s 0 * %c\n",
	    when, (long)(seconds + 0.5), peer, bytes, name, upload ? 'i' : 'o',
	    user, proto, complete ? 'c' : 'i');
	xferlog_line(x, line);
}
