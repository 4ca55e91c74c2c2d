/* t_users.c: common/users.c's parsing without the files (users_parse(),
 * users_parse_keys(), users_format()): good and bad lines, limits, key
 * lines OpenSSH would write and ones it would not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "tap.h"
#include "users.h"

#define HASH "$y$j9T$eDG.YhT7BtRzJS2b$cs2JJ411jI/xyPUMe8iwZLV0RoQ4falxoCkyGuwdeR3"
#define ED "AAAAC3NzaC1lZDI1NTE5AAAAINKi8vh851PtyOgLj9ZohYFnsrm7164ajY5PBizqxXoq"

static int parse(const char *text, struct users **u)
{
	return users_parse("/x/users", text, strlen(text), u);
}

static void t_lines(void)
{
	struct users *u;
	enum role role = ROLE_NONE;
	struct buf b = BUF_INIT(4096);
	int r;

	r = parse("# comment\n\nalice:admin:" HASH "\nbob:readonly:$6$s$h\n"
	    "arc-1:archiver:$x:y\n", &u);
	ok(r == 0, "users: comments, blank lines and three roles parse");
	ok(r == 0 && users_role(u, "bob", &role) == 0 && role == ROLE_READONLY,
	    "users: bob is readonly");
	ok(r == 0 && users_role(u, "arc-1", &role) == 0 && role == ROLE_ARCHIVER,
	    "users: a hash may hold a colon");
	ok(r == 0 && users_role(u, "carol", &role) == ERR_NOTFOUND,
	    "users: an unknown user is not found");
	ok(r == 0 && users_format(u, &b) == 0 && strstr(buf_cstr(&b),
	    "\nalice:admin:" HASH "\nbob:readonly:$6$s$h\narc-1:archiver:$x:y\n"),
	    "users: users_format() writes the users back in order");
	users_free(u);
	buf_free(&b);

	r = parse("alice:admin:" HASH "\nbob:root:" HASH "\n", &u);
	ok(r == ERR_FORMAT && u == NULL && strstr(err_msg(), "/x/users:2:"),
	    "users: an unknown role fails naming line 2 (%s)", err_msg());
	ok(parse("Alice:admin:" HASH "\n", &u) == ERR_FORMAT,
	    "users: a name with a capital letter fails");
	ok(parse("alice:admin:plain\n", &u) == ERR_FORMAT,
	    "users: a hash that is not crypt(3)'s ($...) fails");
	ok(parse("alice:admin\n", &u) == ERR_FORMAT,
	    "users: a line with one colon fails");
	ok(parse(" alice:admin:" HASH "\n", &u) == ERR_FORMAT,
	    "users: a line starting with a blank fails");
	ok(parse("abcdefghijklmnopqrstuvwxyz0123456:admin:" HASH "\n", &u) ==
	    ERR_FORMAT, "users: a 33-byte name fails");
	ok(parse("", &u) == 0 && users_role(u, "alice", &role) == ERR_NOTFOUND,
	    "users: an empty text is no users");
	users_free(u);
	ok(users_parse("/x/users", "alice:admin:" HASH "\0\nbob:root:x\n",
	    sizeof("alice:admin:" HASH "\0\nbob:root:x\n") - 1, &u) == 0,
	    "users: the text ends at a NUL, as users_load() reads it");
	users_free(u);
}

static void t_limits(void)
{
	struct buf b = BUF_INIT(2u << 20);
	struct users *u = NULL;
	int r;

	for (int i = 0; i < 1001; i++)
		buf_addf(&b, "u%d:readonly:$1$x\n", i);
	ok(parse(buf_cstr(&b), &u) == ERR_FORMAT && strstr(err_msg(), ":1001:"),
	    "users: the 1001st user fails (%s)", err_msg());
	buf_reset(&b);
	for (size_t i = 0; i < (1u << 20) + 1; i++)
		buf_addch(&b, '#');
	r = users_parse("/x/users", b.p, b.len, &u);
	ok(r == ERR_TOOBIG && u == NULL,
	    "users: a text over 1 MiB fails (%s)", err_msg());
	buf_free(&b);
}

static void t_keys(void)
{
	struct users *u;
	const char *keys =
	    "# alice's keys\n"
	    "ssh-ed25519 " ED " alice@laptop\n"
	    "  \tecdsa-sha2-nistp256 AAAAE2Vj+/= ops key with blanks\n"
	    "from=\"10.0.0.1\" ssh-ed25519 AAAAoptions\n"
	    "ssh-rsa\n"
	    "ssh-rsa not-base64\n"
	    "ssh-ed25519 AAAAcrlf\r\n"
	    "sk-ssh-ed25519@openssh.com AAAAsk";

	if (parse("alice:admin:" HASH "\nbob:readonly:" HASH "\n", &u) != 0) {
		ok(0, "users: parse for the key tests (%s)", err_msg());
		return;
	}
	ok(users_parse_keys(u, "alice", keys, strlen(keys)) == 0,
	    "keys: alice's keys parse");
	ok(users_key_allowed(u, "alice", "ssh-ed25519", ED) == 0,
	    "keys: a key with a comment is allowed");
	ok(users_key_allowed(u, "alice", "ecdsa-sha2-nistp256", "AAAAE2Vj+/=") == 0,
	    "keys: a key after leading blanks is allowed");
	ok(users_key_allowed(u, "alice", "sk-ssh-ed25519@openssh.com", "AAAAsk") == 0,
	    "keys: a last line without a line feed is allowed");
	ok(users_key_allowed(u, "alice", "ssh-ed25519", "AAAAoptions") ==
	    ERR_DENIED, "keys: a line with options is skipped (unsupported)");
	ok(users_key_allowed(u, "alice", "ssh-ed25519", "AAAAcrlf") == ERR_DENIED,
	    "keys: a line ending in CR LF is skipped");
	ok(users_key_allowed(u, "alice", "ssh-rsa", "not-base64") == ERR_DENIED,
	    "keys: a blob that is not base64 is skipped");
	ok(users_key_allowed(u, "alice", "ssh-ed2551", ED) == ERR_DENIED &&
	    users_key_allowed(u, "alice", "ssh-ed25519", "AAAAC3") == ERR_DENIED,
	    "keys: a prefix of a type or a blob is not the key");
	ok(users_key_allowed(u, "bob", "ssh-ed25519", ED) == ERR_DENIED,
	    "keys: alice's key is not bob's");
	ok(users_parse_keys(u, "carol", keys, strlen(keys)) == ERR_NOTFOUND,
	    "keys: keys for an unknown user fail");
	users_free(u);
}

/* A key line of 16 KiB and more was stored as a NULL key (its copy was
 * capped at 16 KiB), and the next public key offered for that user, by
 * any client before authentication, crashed the session in
 * users_key_allowed(). */
static void t_long_blob(void)
{
	struct users *u;
	struct buf big = BUF_INIT(64u << 10);

	if (parse("bob:readonly:" HASH "\n", &u) != 0) {
		ok(0, "users: parse for the long blob test (%s)", err_msg());
		return;
	}
	/* A blob longer than any real key (16 KiB and more) is kept whole,
	 * and looking up another key then still works. */
	buf_adds(&big, "ssh-rsa ");
	for (int i = 0; i < 20000; i++)
		buf_addch(&big, 'A');
	buf_adds(&big, " big\n");
	ok(users_parse_keys(u, "bob", big.p, big.len) == 0,
	    "keys: a 20000-byte blob parses");
	ok(users_key_allowed(u, "bob", "ssh-ed25519", ED) == ERR_DENIED,
	    "keys: another key is refused after a 20000-byte blob");
	big.p[8 + 20000] = '\0';
	ok(users_key_allowed(u, "bob", "ssh-rsa", big.p + 8) == 0,
	    "keys: the 20000-byte blob itself is allowed");
	buf_free(&big);
	users_free(u);
}

/* Which edits end a user's open sessions (the listener's rule after a
 * reload): deletion, a key gone, a new role; not a new password. */
static void t_revoked(void)
{
	const char *two = "alice:admin:" HASH "\nbob:readonly:" HASH "\n";
	const char *k2 = "ssh-ed25519 " ED " a\nssh-rsa AAAAB3 b\n";
	const char *k1 = "ssh-rsa AAAAB3 b\n";	/* k2 without its first key */
	struct users *a = NULL, *b = NULL;
	const char *why;

	if (parse(two, &a) != 0 || users_parse_keys(a, "alice", k2,
	    strlen(k2)) != 0) {
		ok(0, "revoked: parse (%s)", err_msg());
		goto out;
	}
	ok(parse("alice:admin:" HASH "\n", &b) == 0 &&
	    users_parse_keys(b, "alice", k2, strlen(k2)) == 0 &&
	    (why = users_revoked(a, b, "bob")) && !strcmp(why, "user deleted") &&
	    users_revoked(a, b, "alice") == NULL && !users_same(a, b),
	    "revoked: a deleted user's sessions end, the others' do not");
	users_free(b);
	b = NULL;
	ok(parse(two, &b) == 0 && users_parse_keys(b, "alice", k1,
	    strlen(k1)) == 0 &&
	    (why = users_revoked(a, b, "alice")) && !strcmp(why, "a key deleted"),
	    "revoked: a deleted key ends its user's sessions");
	users_free(b);
	b = NULL;
	ok(parse("alice:readonly:" HASH "\nbob:readonly:" HASH "\n", &b) == 0 &&
	    users_parse_keys(b, "alice", k2, strlen(k2)) == 0 &&
	    (why = users_revoked(a, b, "alice")) && !strcmp(why, "role changed"),
	    "revoked: a new role ends the user's sessions");
	users_free(b);
	b = NULL;
	ok(parse("alice:admin:" HASH "\nbob:readonly:$y$other\n", &b) == 0 &&
	    users_parse_keys(b, "alice", k2, strlen(k2)) == 0 &&
	    users_revoked(a, b, "bob") == NULL && !users_same(a, b),
	    "revoked: a new password does not end sessions (but is a change)");
	users_free(b);
	b = NULL;
	ok(parse(two, &b) == 0 && users_parse_keys(b, "alice", k2,
	    strlen(k2)) == 0 && users_same(a, b),
	    "revoked: the same file twice is no change");
out:
	users_free(a);
	users_free(b);
}

void t_users(void)
{
	t_lines();
	t_limits();
	t_keys();
	t_long_blob();
	t_revoked();
}
