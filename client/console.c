/* console.c: the nodebak console (docs/console.md). The daemon executes
 * the commands; the console sends the words, prints what comes back and
 * answers confirmation prompts from standard input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "console.h"
#include "ctl.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "hostkey.h"
#include "progress.h"
#include "user.h"
#include "xmalloc.h"
#include "banned.h"

#define LINE_MAX_LEN 4096

struct console_conn {
	struct ctl ctl;
	char node[80];
	int broken;		/* the conversation failed: reconnect */
	int progress;		/* progress frames asked for: draw them */
};

/* Say in one line who may use the control socket: the peer check of
 * docs/control-protocol.md, "Access". Returns ERR_DENIED. */
static int refused(const struct conf *c, const char *what)
{
	if (getuid() == 0)
		return err_set(ERR_DENIED, "%s the control socket %s (the daemon "
		    "takes at most 64 consoles at once)", what, c->socket);
	if (c->socket_group && *c->socket_group)
		return err_set(ERR_DENIED, "%s the control socket %s: only root, "
		    "nodebak-snapshotd's user and members of group %s ([snapshotd] "
		    "socket_group) may use the console; uid %ld is not one",
		    what, c->socket, esc(c->socket_group), (long)getuid());
	return err_set(ERR_DENIED, "%s the control socket %s: only root and "
	    "nodebak-snapshotd's user may use the console (set [snapshotd] "
	    "socket_group to let a group use it); uid %ld is not one", what,
	    c->socket, (long)getuid());
}

/* 1 when the daemon's hello has an "options" line naming opt. */
static int offers(const char *hello, const char *opt)
{
	const char *l = strstr(hello, "\noptions ");
	size_t n = strlen(opt);

	if (l == NULL)
		return 0;
	for (l += 9; *l && *l != '\n'; ) {
		while (*l == ' ')
			l++;
		if (!strncmp(l, opt, n) && (l[n] == ' ' || l[n] == '\n' ||
		    l[n] == '\0'))
			return 1;
		l += strcspn(l, " \n");
	}
	return 0;
}

static int connect_daemon(const struct conf *c, const char *role,
    struct console_conn *k)
{
	struct buf p = BUF_INIT(4096);
	struct sockaddr_un sa;
	char type[CTL_TYPE_MAX + 1];
	const char *nl;
	int fd, r;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(c->socket) >= sizeof sa.sun_path)
		return err_set(ERR_INVAL, "%s: socket path too long", c->socket);
	memcpy(sa.sun_path, c->socket, strlen(c->socket) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return err_sys("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (errno == EACCES || errno == EPERM)
			r = refused(c, "permission denied on");
		else
			r = err_sys("cannot reach nodebak-snapshotd at %s (is it "
			    "running?)", c->socket);
		close(fd);
		return r;
	}
	ctl_init(&k->ctl, fd);
	if ((r = ctl_sends(&k->ctl, "hello", CTL_VERSION)) != 0 ||
	    (r = ctl_recv(&k->ctl, type, &p)) != 0) {
		/* The daemon closes a connection it refuses without a word. */
		if (r == ERR_NOTFOUND || (r == ERR_SYS && (errno == ECONNRESET ||
		    errno == EPIPE)))
			r = refused(c, "nodebak-snapshotd refused the connection on");
		goto out;
	}
	if (strcmp(type, "hello") || strncmp(buf_cstr(&p), CTL_VERSION "\nnode ",
	    strlen(CTL_VERSION) + 6)) {
		r = err_set(ERR_PROTO, "nodebak-snapshotd speaks another control "
		    "protocol version");
		goto out;
	}
	nl = strchr(p.p + strlen(CTL_VERSION) + 6, '\n');
	snprintf(k->node, sizeof k->node, "%.*s", nl ? (int)(nl - p.p -
	    strlen(CTL_VERSION) - 6) : 64, p.p + strlen(CTL_VERSION) + 6);
	if (role && (r = ctl_sends(&k->ctl, "role", role)) != 0)
		goto out;
	/* A progress line only for a person watching a terminal, and only
	 * from a daemon that offers it (older ones end the connection on a
	 * frame they do not know). */
	if (isatty(STDERR_FILENO) && offers(buf_cstr(&p), "progress")) {
		if ((r = ctl_sends(&k->ctl, "option", "progress")) != 0)
			goto out;
		k->progress = 1;
	}
out:
	buf_free(&p);
	if (r != 0) {
		close(fd);
		ctl_free(&k->ctl);
	}
	return r;
}

static void disconnect(struct console_conn *k)
{
	close(k->ctl.fd);
	ctl_free(&k->ctl);
}

int console_read_line(struct buf *b)
{
	int ch, r = 0;

	buf_reset(b);
	while ((ch = getchar()) != EOF && ch != '\n')
		if (r == 0 && buf_addch(b, (char)ch) != 0)
			r = err_set(ERR_TOOBIG, "line longer than %zu bytes", b->max);
	if (r != 0) {
		buf_reset(b);	/* the rest of the line was read and dropped */
		return r;
	}
	if (ch == EOF && b->len == 0)
		return 0;
	if (b->len && b->p[b->len - 1] == '\r')
		b->p[--b->len] = '\0';
	return 1;
}

/* `key trust FILE [--node ID]`: when FILE is readable here, its content
 * goes along, so the operator's own copy is what gets trusted. */
static int send_attachment(struct console_conn *k, int argc, char **argv)
{
	struct buf b = BUF_INIT(16384);
	int r = 0;

	if ((argc == 3 || argc == 5) && !strcmp(argv[0], "key") &&
	    !strcmp(argv[1], "trust") &&
	    fs_exists(argv[2])) {
		if ((r = fs_read_file(argv[2], 16384, &b)) == 0)
			r = ctl_send(&k->ctl, "data", b.p ? b.p : "", b.len);
	}
	buf_free(&b);
	return r;
}

static int run_remote(struct console_conn *k, int argc, char **argv)
{
	struct buf p = BUF_INIT(CTL_MAX_PAYLOAD), line = BUF_INIT(LINE_MAX_LEN);
	struct progress_line pl;
	char type[CTL_TYPE_MAX + 1];
	int r, status = 1;

	progress_init(&pl, stderr);

	for (int i = 0; i < argc; i++)
		if ((r = ctl_sends(&k->ctl, "arg", argv[i])) != 0)
			goto fail;
	if ((r = send_attachment(k, argc, argv)) != 0 ||
	    (r = ctl_send(&k->ctl, "run", "", 0)) != 0)
		goto fail;
	while ((r = ctl_recv(&k->ctl, type, &p)) == 0) {
		if (!strcmp(type, "progress") && k->progress) {
			unsigned long long done, total;
			if (sscanf(buf_cstr(&p), "%llu %llu", &done, &total) != 2) {
				r = err_set(ERR_PROTO, "malformed progress frame from "
				    "the daemon");
				goto fail;
			}
			progress_show(&pl, done, total);
			continue;
		}
		progress_clear(&pl);
		if (!strcmp(type, "out")) {
			fwrite(p.p ? p.p : "", 1, p.len, stdout);
		} else if (!strcmp(type, "err")) {
			fflush(stdout);
			fwrite(p.p ? p.p : "", 1, p.len, stderr);
		} else if (!strcmp(type, "ask")) {
			int got;
			fwrite(p.p ? p.p : "", 1, p.len, stdout);
			fflush(stdout);
			got = console_read_line(&line);
			if (got <= 0 || strcmp(buf_cstr(&line), "Y"))
				printf("%sCancelled (type a capital Y to proceed)\n",
				    got == 0 ? "\n" : "");
			if ((r = ctl_sends(&k->ctl, "answer", got > 0 ?
			    buf_cstr(&line) : "")) != 0)
				goto fail;
		} else if (!strcmp(type, "exit")) {
			status = (int)strtol(buf_cstr(&p), NULL, 10);
			break;
		} else {
			r = err_set(ERR_PROTO, "unexpected message '%s' from the daemon",
			    type);
			goto fail;
		}
	}
	if (r != 0)
		goto fail;
	fflush(stdout);
	buf_free(&p);
	buf_free(&line);
	return status;
fail:
	progress_clear(&pl);
	k->broken = 1;
	fflush(stdout);
	fprintf(stderr, "nodebak: %s\n", err_msg());
	buf_free(&p);
	buf_free(&line);
	return 1;
}

int console_split(char *line, char **argv, int max)
{
	int n = 0;
	char *p = line, *w;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return n;
		if (n == max)
			return -1;
		if (*p == '"') {
			w = ++p;
			if ((p = strchr(p, '"')) == NULL)
				return -1;
			*p++ = '\0';
		} else {
			w = p;
			while (*p && *p != ' ' && *p != '\t')
				p++;
			if (*p)
				*p++ = '\0';
		}
		argv[n++] = w;
	}
}

int console_connect(const struct conf *c, const char *role,
    struct console_conn **out)
{
	struct console_conn *k = xcalloc(1, sizeof *k);
	int r;

	*out = NULL;
	if ((r = connect_daemon(c, role, k)) != 0) {
		free(k);
		return r;
	}
	*out = k;
	return 0;
}

const char *console_node(const struct console_conn *k)
{
	return k->node;
}

int console_broken(const struct console_conn *k)
{
	return k->broken;
}

void console_disconnect(struct console_conn *k)
{
	if (k == NULL)
		return;
	disconnect(k);
	free(k);
}

int console_run(const struct conf *c, const char *role,
    struct console_conn *k, int argc, char **argv)
{
	if (!strcmp(argv[0], "user")) {
		if (role && strcmp(role, "admin")) {
			fprintf(stderr, "user: not allowed for a readonly user\n");
			return 1;
		}
		return cmd_user(c, argc, argv);
	}
	if (!strcmp(argv[0], "ssh"))
		return cmd_ssh(c, argc, argv);
	if (k == NULL)
		return fprintf(stderr, "nodebak: not connected to "
		    "nodebak-snapshotd\n"), 1;
	return run_remote(k, argc, argv);
}

int console_main(const struct conf *c, const char *role, int argc,
    char **argv)
{
	struct console_conn *k = NULL;
	int status;

	if (strcmp(argv[0], "user") && strcmp(argv[0], "ssh") &&
	    console_connect(c, role, &k) != 0) {
		fprintf(stderr, "nodebak: %s\n", err_msg());
		return 1;
	}
	status = console_run(c, role, k, argc, argv);
	console_disconnect(k);
	return status;
}
