/* users.h: nodebak's FTP/SFTP users file (docs/ftpd.md, "Users"): one line
 * per user, "NAME:ROLE:HASH" with a crypt(3) yescrypt hash, and each
 * user's public keys in OpenSSH authorized_keys format in
 * "<users file>.keys/NAME". Shared by nodebak-ftpd and the console's
 * `user` commands. */
#ifndef NODEBAK_USERS_H
#define NODEBAK_USERS_H
#include <stddef.h>

struct buf;

/* ROLE_ARCHIVER: downloads backups/ only (an off-box puller), no console.
 * What each role may do in the files root is ftpd/rootfs.c's role table. */
enum role { ROLE_NONE = 0, ROLE_READONLY = 1, ROLE_ADMIN = 2,
	ROLE_ARCHIVER = 3 };

struct users;

/* Load path; a missing file is no users. ERR_FORMAT names a bad line. */
int users_load(const char *path, struct users **out);
/* The parsing of users_load() without the files, for tests and fuzzing:
 * text (len bytes, read up to a NUL as from a file) is a users file's
 * content, path names it in errors and is where its keys would be. *out
 * is the caller's (users_free()); ERR_FORMAT names a bad line, ERR_TOOBIG
 * a text longer than a users file may be. No keys are read. */
int users_parse(const char *path, const char *text, size_t len,
    struct users **out);
/* Add the keys of an authorized_keys text (len bytes) to user name, as
 * users_load() does from "<path>.keys/NAME": lines that are not keys are
 * skipped. ERR_NOTFOUND for an unknown user, ERR_TOOBIG for a text longer
 * than a keys file may be. */
int users_parse_keys(struct users *u, const char *name, const char *text,
    size_t len);
void users_free(struct users *u);
/* 0 and *rolep on a match; ERR_DENIED for a wrong password or an unknown
 * user (the same work is done either way). */
int users_check_password(const struct users *u, const char *name,
    const char *password, enum role *rolep);
int users_role(const struct users *u, const char *name, enum role *rolep);
/* 0 when the OpenSSH public key (type, e.g. "ssh-ed25519", and base64
 * blob) is one of name's authorized keys, ERR_DENIED otherwise. */
int users_key_allowed(const struct users *u, const char *name,
    const char *type, const char *blob_b64);
/* Why name's open sessions must end after the users file went from old to
 * cur: "user deleted", "role changed" or "a key deleted" (static strings),
 * or NULL when none of these happened. A password change is not a reason:
 * it is for the next login (docs/ftpd.md, "Users"). */
const char *users_revoked(const struct users *old, const struct users *cur,
    const char *name);

/* 1 when a and b hold the same users, roles, hashes and keys. */
int users_same(const struct users *a, const struct users *b);

/* What stat(2) says of the users file and of its keys folder: each edit
 * (an atomic rename) changes the inode or the times of one of them. The
 * listener compares two to know whether to load the file again. */
struct users_file_stamp {
	unsigned long long dev, ino;
	long long size, mtime_s, ctime_s;
	long mtime_ns, ctime_ns;
	int err;			/* stat's errno, 0 when it exists */
};
struct users_stamp {
	struct users_file_stamp file, keys;
};
/* Fill *out for the users file path (never fails: a missing file is a
 * stamp too). */
void users_stamp(const char *path, struct users_stamp *out);
/* 1 when a and b are the same stamp. */
int users_stamp_eq(const struct users_stamp *a, const struct users_stamp *b);

/* "admin", "readonly", "archiver"; "none" for ROLE_NONE (static). */
const char *role_name(enum role r);
/* 0 and *out for a role's name; ERR_INVAL naming the roles otherwise. */
int role_parse(const char *s, enum role *out);
/* 1 when the role may run the console (SSH exec and shell), else 0. */
int role_has_console(enum role r);
/* 1 when s is an acceptable user name (1-32 of a-z0-9._-, starting with a
 * letter). */
int users_name_ok(const char *s);

/* Append the users file's text for u ("NAME:ROLE:HASH" lines after a
 * comment) to out: 0, or ERR_TOOBIG from out. */
int users_format(const struct users *u, struct buf *out);

/* Editing (the console). Each rewrites the file atomically, mode 0600. */
int users_add(const char *path, const char *name, enum role role,
    const char *password);
/* users_del and users_set_role refuse, with ERR_DENIED and one line, to
 * leave the file without an admin. */
int users_del(const char *path, const char *name);
/* A new password for name: ERR_NOTFOUND, ERR_INVAL (shorter than 8). */
int users_passwd(const char *path, const char *name, const char *password);
/* A new role for name: ERR_NOTFOUND, ERR_DENIED (the last admin). */
int users_set_role(const char *path, const char *name, enum role role);
/* Append "NAME ROLE KEYS\n" lines for every user to out. */
int users_list(const char *path, struct buf *out);
/* Add the authorized_keys lines of file (each checked) to name's keys;
 * *added gets how many. */
int users_key_add(const char *path, const char *name, const char *file,
    int *added);
/* Remove name's key number index (1-based, as users_key_list shows). */
int users_key_del(const char *path, const char *name, int index);
/* Append name's keys, "N TYPE FINGERPRINT COMMENT\n" each, to out. */
int users_key_list(const char *path, const char *name, struct buf *out);

#endif
