/* sshd_standin.c: a stand-in listener for the SSH/SFTP tests while
 * bin/nodebak-ftpd (ftpd/main.c, ftpd.c, users.c) is not built: it reads
 * nodebak.conf, accepts on the first sftp_listen address, forks one
 * process per connection and runs the real sshd_serve() on it. Users come
 * from a plain test file (argv[2]) of "NAME ROLE PASSWORD" and
 * "NAME key TYPE BASE64" lines instead of the users file, and the console
 * program is argv[3] (bin/nodebak). No connection
 * limits: the tests that need the real listener's say so.
 * Built on the fly by tests/lib/sftp_util.py; not installed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"
#include "log.h"
#include "sshd.h"

static const char *users_file;

/* 0 when a line "user kind a [b]" matches; *readonly from the role. */
static int lookup(const char *user, const char *kind, const char *a,
    const char *b, int *readonly)
{
	char line[8192], u[128], k[64], x[4096], y[4096];
	char roles[64][2][128];
	int nroles = 0, ok = 0, i, n;
	FILE *f = fopen(users_file, "r");

	if (!f)
		return ERR_NOTFOUND;
	while (fgets(line, sizeof(line), f)) {
		y[0] = '\0';
		n = sscanf(line, "%127s %63s %4095s %4095s", u, k, x, y);
		if (n < 3)
			continue;
		if (strcmp(k, "key") && nroles < 64) {
			snprintf(roles[nroles][0], 128, "%s", u);
			snprintf(roles[nroles++][1], 128, "%s", k);
		}
		if (strcmp(u, user))
			continue;
		if (!strcmp(kind, "password") && strcmp(k, "key") &&
		    !strcmp(x, a))
			ok = 1;
		if (!strcmp(kind, "key") && !strcmp(k, "key") &&
		    !strcmp(x, a) && !strcmp(y, b))
			ok = 1;
	}
	fclose(f);
	for (i = 0; i < nroles; i++)
		if (!strcmp(roles[i][0], user))
			*readonly = strcmp(roles[i][1], "admin") != 0;
	return ok ? 0 : ERR_DENIED;
}

static int check_password(void *arg, const char *user, const char *pw,
    int *readonly)
{
	(void)arg;
	return lookup(user, "password", pw, NULL, readonly);
}

static int check_key(void *arg, const char *user, const char *type,
    const char *b64, int *readonly)
{
	(void)arg;
	return lookup(user, "key", type, b64, readonly);
}

static void login_log(void *arg, const char *user, const char *peer,
    const char *method, int ok)
{
	(void)arg;
	log_info("login %s from %s by %s: %s", user, peer, method,
	    ok ? "ok" : "refused");
}

static void xfer_log(void *arg, const char *user, const char *peer,
    const char *vpath, int upload, unsigned long long bytes, double secs,
    int complete)
{
	(void)arg;
	log_info("transfer %s %s %s %s %llu bytes %.3f s %s", user, peer,
	    upload ? "upload" : "download", vpath, bytes, secs,
	    complete ? "complete" : "incomplete");
}

int main(int argc, char **argv)
{
	struct sshd_opts o;
	struct sockaddr_in sa;
	struct conf *c;
	char addr[64], *colon;
	int s, one = 1, fd;
	pid_t pid;

	if (argc != 4) {
		fprintf(stderr, "usage: sshd_standin CONF USERS CONSOLE\n");
		return 2;
	}
	log_open("nodebak-ftpd-standin", 1, 0);
	if (conf_load(argv[1], &c) != 0) {
		fprintf(stderr, "%s\n", err_msg());
		return 1;
	}
	users_file = argv[2];
	snprintf(addr, sizeof(addr), "%s", c->ftpd.sftp_listen);
	if ((colon = strchr(addr, ' ')))
		*colon = '\0';
	if (!(colon = strrchr(addr, ':')))
		return 1;
	*colon = '\0';
	memset(&o, 0, sizeof(o));
	o.host_key = c->ftpd.host_key;
	o.files_dir = c->files_dir;
	o.conf_file = c->file;
	o.console = argv[3];
	o.login_timeout = c->ftpd.login_timeout;
	o.idle_timeout = c->ftpd.idle_timeout;
	o.max_login_attempts = c->ftpd.max_login_attempts;
	o.max_handles = c->ftpd.max_handles;
	o.password = check_password;
	o.pubkey = check_key;
	o.login_log = login_log;
	o.xfer_log = xfer_log;
	if (sshd_host_key(o.host_key) != 0) {
		fprintf(stderr, "%s\n", err_msg());
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)strtol(colon + 1, NULL, 10));
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
	    (s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(s, 128) != 0) {
		perror(c->ftpd.sftp_listen);
		return 1;
	}
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		if ((fd = accept(s, NULL, NULL)) < 0)
			continue;
		if ((pid = fork()) == 0) {
			close(s);
			_exit(sshd_serve(fd, &o) ? 1 : 0);
		}
		close(fd);
	}
}
