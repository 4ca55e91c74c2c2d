/* user.c: `user add|del|list|key ...` (docs/console.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "err.h"
#include "user.h"
#include "users.h"
#include "banned.h"

#define PW_MAX 1024

static int usage(void)
{
	fprintf(stderr, "Usage:\n"
	    "  user add <name> <admin|readonly|archiver> [--password-stdin]\n"
	    "  user del <name>\n"
	    "  user passwd <name> [--password-stdin]\n"
	    "  user role <name> <admin|readonly|archiver>\n"
	    "  user list\n"
	    "  user key add <name> <authorized_keys file>\n"
	    "  user key del <name> <number>\n"
	    "  user key list <name>\n");
	return 2;
}

/* Read one line into b without echo when stdin is a terminal. */
static int read_secret(const char *prompt, struct buf *b)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO), ch, r = 0;

	buf_reset(b);
	if (tty) {
		fprintf(stderr, "%s", prompt);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	while ((ch = getchar()) != EOF && ch != '\n')
		if (ch != '\r' && (r = buf_addch(b, (char)ch)) != 0)
			break;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (ch == EOF && b->len == 0)
		return err_set(ERR_CANCELLED, "no password given");
	return r;
}

/* The new password: asked twice on a terminal, or one line of standard
 * input (from_stdin). */
static int read_password(int from_stdin, struct buf *pw)
{
	struct buf again = BUF_INIT(PW_MAX);
	int r;

	if ((r = read_secret("Password: ", pw)) == 0 && !from_stdin &&
	    (r = read_secret("Password again: ", &again)) == 0 &&
	    (pw->len != again.len || memcmp(buf_cstr(pw), buf_cstr(&again), pw->len)))
		r = err_set(ERR_INVAL, "the passwords differ");
	buf_free_secret(&again);
	return r;
}

static int add(const struct conf *c, int argc, char **argv)
{
	struct buf pw = BUF_INIT(PW_MAX);
	enum role role;
	int r, from_stdin = argc == 5 && !strcmp(argv[4], "--password-stdin");

	if (argc != 4 && !from_stdin)
		return usage();
	if (role_parse(argv[3], &role) != 0) {
		fprintf(stderr, "user add: %s\n", err_msg());
		return 1;
	}
	if ((r = read_password(from_stdin, &pw)) == 0)
		r = users_add(c->ftpd.users, argv[2], role, buf_cstr(&pw));
	buf_free_secret(&pw);
	if (r != 0) {
		fprintf(stderr, "user add: %s\n", err_msg());
		return 1;
	}
	printf("User %s added with role %s\n", argv[2], role_name(role));
	return 0;
}

static int passwd(const struct conf *c, int argc, char **argv)
{
	struct buf pw = BUF_INIT(PW_MAX);
	int r, from_stdin = argc == 4 && !strcmp(argv[3], "--password-stdin");

	if (argc != 3 && !from_stdin)
		return usage();
	if ((r = read_password(from_stdin, &pw)) == 0)
		r = users_passwd(c->ftpd.users, argv[2], buf_cstr(&pw));
	buf_free_secret(&pw);
	if (r != 0) {
		fprintf(stderr, "user passwd: %s\n", err_msg());
		return 1;
	}
	printf("Password of %s changed (for its next login)\n", argv[2]);
	return 0;
}

static int set_role(const struct conf *c, int argc, char **argv)
{
	enum role role;

	if (argc != 4)
		return usage();
	if (role_parse(argv[3], &role) != 0 ||
	    users_set_role(c->ftpd.users, argv[2], role) != 0) {
		fprintf(stderr, "user role: %s\n", err_msg());
		return 1;
	}
	printf("User %s has role %s\n", argv[2], role_name(role));
	return 0;
}

static int key(const struct conf *c, int argc, char **argv)
{
	struct buf out = BUF_INIT(1 << 20);
	int r, added = 0, st = 0;
	char *end;
	long idx;

	if (argc == 5 && !strcmp(argv[2], "add")) {
		if ((r = users_key_add(c->ftpd.users, argv[3], argv[4], &added)) == 0)
			printf("%d key%s added for %s\n", added, added == 1 ? "" : "s",
			    argv[3]);
	} else if (argc == 5 && !strcmp(argv[2], "del")) {
		idx = strtol(argv[4], &end, 10);
		if (*end || idx < 1)
			return usage();
		if ((r = users_key_del(c->ftpd.users, argv[3], (int)idx)) == 0)
			printf("Key %ld of %s deleted\n", idx, argv[3]);
	} else if (argc == 4 && !strcmp(argv[2], "list")) {
		if ((r = users_key_list(c->ftpd.users, argv[3], &out)) == 0)
			fputs(out.len ? buf_cstr(&out) : "No keys.\n", stdout);
	} else
		return usage();
	if (r != 0) {
		fprintf(stderr, "user key %s: %s\n", argv[2], err_msg());
		st = 1;
	}
	buf_free(&out);
	return st;
}

int cmd_user(const struct conf *c, int argc, char **argv)
{
	struct buf out = BUF_INIT(1 << 20);
	int r;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "add"))
		return add(c, argc, argv);
	if (!strcmp(argv[1], "key"))
		return key(c, argc, argv);
	if (!strcmp(argv[1], "passwd"))
		return passwd(c, argc, argv);
	if (!strcmp(argv[1], "role"))
		return set_role(c, argc, argv);
	if (!strcmp(argv[1], "del") && argc == 3) {
		if (users_del(c->ftpd.users, argv[2]) != 0) {
			fprintf(stderr, "user del: %s\n", err_msg());
			return 1;
		}
		printf("User %s deleted\n", argv[2]);
		return 0;
	}
	if (!strcmp(argv[1], "list") && argc == 2) {
		if ((r = users_list(c->ftpd.users, &out)) != 0) {
			fprintf(stderr, "user list: %s\n", err_msg());
			buf_free(&out);
			return 1;
		}
		fputs(out.len ? buf_cstr(&out) : "No users.\n", stdout);
		buf_free(&out);
		return 0;
	}
	return usage();
}
