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
#include "fsutil.h"
#include "hostkey.h"
#include "user.h"
#include "xmalloc.h"
#include "banned.h"

#define LINE_MAX_LEN 4096
#define MAX_WORDS 64

struct conn {
	struct ctl ctl;
	char node[80];
};

static int connect_daemon(const struct conf *c, const char *role,
    struct conn *k)
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
		r = err_sys("cannot reach nodebak-snapshotd at %s (is it running?)",
		    c->socket);
		close(fd);
		return r;
	}
	ctl_init(&k->ctl, fd);
	if ((r = ctl_sends(&k->ctl, "hello", CTL_VERSION)) != 0 ||
	    (r = ctl_recv(&k->ctl, type, &p)) != 0)
		goto out;
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
out:
	buf_free(&p);
	if (r != 0) {
		close(fd);
		ctl_free(&k->ctl);
	}
	return r;
}

static void disconnect(struct conn *k)
{
	close(k->ctl.fd);
	ctl_free(&k->ctl);
}

/* Read one line from stdin into b (without the newline); 0 at EOF. */
static int read_line(struct buf *b)
{
	int ch;

	buf_reset(b);
	while ((ch = getchar()) != EOF && ch != '\n')
		if (buf_addch(b, (char)ch) != 0)
			return -1;
	if (ch == EOF && b->len == 0)
		return 0;
	if (b->len && b->p[b->len - 1] == '\r')
		b->p[--b->len] = '\0';
	return 1;
}

/* `key trust FILE [--node ID]`: when FILE is readable here, its content
 * goes along, so the operator's own copy is what gets trusted. */
static int send_attachment(struct conn *k, int argc, char **argv)
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

static int run_remote(struct conn *k, int argc, char **argv)
{
	struct buf p = BUF_INIT(CTL_MAX_PAYLOAD), line = BUF_INIT(LINE_MAX_LEN);
	char type[CTL_TYPE_MAX + 1];
	int r, status = 1;

	for (int i = 0; i < argc; i++)
		if ((r = ctl_sends(&k->ctl, "arg", argv[i])) != 0)
			goto fail;
	if ((r = send_attachment(k, argc, argv)) != 0 ||
	    (r = ctl_send(&k->ctl, "run", "", 0)) != 0)
		goto fail;
	while ((r = ctl_recv(&k->ctl, type, &p)) == 0) {
		if (!strcmp(type, "out")) {
			fwrite(p.p ? p.p : "", 1, p.len, stdout);
		} else if (!strcmp(type, "err")) {
			fflush(stdout);
			fwrite(p.p ? p.p : "", 1, p.len, stderr);
		} else if (!strcmp(type, "ask")) {
			int got;
			fwrite(p.p ? p.p : "", 1, p.len, stdout);
			fflush(stdout);
			got = read_line(&line);
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

static int run_one(const struct conf *c, struct conn *k, int argc, char **argv)
{
	if (!strcmp(argv[0], "user"))
		return cmd_user(c, argc, argv);
	if (!strcmp(argv[0], "ssh"))
		return cmd_ssh(c, argc, argv);
	return run_remote(k, argc, argv);
}

int console_main(const struct conf *c, const char *role, int argc,
    char **argv)
{
	struct buf line = BUF_INIT(LINE_MAX_LEN);
	char *words[MAX_WORDS];
	struct conn k;
	int status = 0, n, got;

	if (argc > 0 && !strcmp(argv[0], "ssh"))
		return cmd_ssh(c, argc, argv);
	if (argc > 0 && !strcmp(argv[0], "user")) {
		if (role && strcmp(role, "admin"))
			return fprintf(stderr, "user: not allowed for a readonly user\n"),
			    1;
		return cmd_user(c, argc, argv);
	}
	if (connect_daemon(c, role, &k) != 0) {
		fprintf(stderr, "nodebak: %s\n", err_msg());
		return 1;
	}
	if (argc > 0) {
		status = run_one(c, &k, argc, argv);
		disconnect(&k);
		return status;
	}
	for (;;) {
		printf("%s> ", k.node);
		fflush(stdout);
		if ((got = read_line(&line)) <= 0) {
			if (got < 0)
				fprintf(stderr, "nodebak: line longer than %d bytes\n",
				    LINE_MAX_LEN);
			else
				printf("\n");
			if (got == 0)
				break;
			/* Discard the rest of the overlong line. */
			while ((n = getchar()) != EOF && n != '\n')
				;
			continue;
		}
		if ((n = console_split(line.p ? line.p : (char *)"", words,
		    MAX_WORDS)) < 0) {
			fprintf(stderr, "nodebak: too many words or unbalanced quote\n");
			status = 2;
			continue;
		}
		if (n == 0)
			continue;
		if (!strcmp(words[0], "exit") || !strcmp(words[0], "quit"))
			break;
		if (!strcmp(words[0], "user") && role && strcmp(role, "admin")) {
			fprintf(stderr, "user: not allowed for a readonly user\n");
			status = 1;
			continue;
		}
		status = run_one(c, &k, n, words);
	}
	disconnect(&k);
	buf_free(&line);
	return status;
}
