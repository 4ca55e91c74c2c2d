/* users.c: the FTP/SFTP users file and authorized keys (see users.h). */
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "fsutil.h"
#include "users.h"
#include "xmalloc.h"
#include "banned.h"

#define USERS_MAX_BYTES (1u << 20)
#define KEYS_MAX_BYTES (256u << 10)
#define MAX_USERS 1000

struct user {
	char name[33];
	enum role role;
	char *hash;
	char **keys;		/* "TYPE BLOB" of each authorized key */
	size_t nkeys;
};

struct users {
	char *path;
	struct user *u;
	size_t n;
};

/* A hash of a random password, checked against when the user is unknown,
 * so that unknown names cost the same as wrong passwords. */
static const char dummy_hash[] =
    "$y$j9T$Od96uFSZG12HFxY2qiN1C.$gfqemBL2JtCwq1nm187UFJEYee1tXt6n4qfjyloaR.4";

static int timingsafe_eq(const char *a, const char *b, size_t n)
{
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* The roles by name, and whether each has a console (docs/ftpd.md,
 * "Users"); the files root rules per role are in ftpd/rootfs.c. */
static const struct role_row {
	enum role role;
	const char *name;
	int console;
} role_rows[] = {
	{ ROLE_ADMIN, "admin", 1 },
	{ ROLE_READONLY, "readonly", 1 },
	{ ROLE_ARCHIVER, "archiver", 0 },
};

static const struct role_row *role_find(enum role r)
{
	for (size_t i = 0; i < sizeof role_rows / sizeof role_rows[0]; i++)
		if (role_rows[i].role == r)
			return &role_rows[i];
	return NULL;
}

const char *role_name(enum role r)
{
	const struct role_row *row = role_find(r);

	return row ? row->name : "none";
}

int role_parse(const char *s, enum role *out)
{
	for (size_t i = 0; i < sizeof role_rows / sizeof role_rows[0]; i++)
		if (!strcmp(s, role_rows[i].name)) {
			*out = role_rows[i].role;
			return 0;
		}
	return err_set(ERR_INVAL, "%s: roles are admin, readonly and archiver",
	    s);
}

int role_has_console(enum role r)
{
	const struct role_row *row = role_find(r);

	return row ? row->console : 0;
}

int users_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32 || !islower((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
		    s[i] != '.' && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

static char *keys_dir(const char *path)
{
	struct buf b = BUF_INIT(4096);

	buf_addf(&b, "%s.keys", path);
	return buf_detach(&b, NULL);
}

static char *keys_file(const char *path, const char *name)
{
	char *d = keys_dir(path), *f = fs_join(d, name);

	free(d);
	return f;
}

/* Parse one authorized_keys line: options are not supported; "TYPE BLOB
 * [COMMENT]". type, blob and comment point into line (modified). */
static int parse_key_line(char *line, char **type, char **blob,
    char **comment)
{
	char *sp;

	*comment = NULL;
	while (*line == ' ' || *line == '\t')
		line++;
	if (strncmp(line, "ssh-", 4) && strncmp(line, "ecdsa-", 6) &&
	    strncmp(line, "sk-", 3))
		return -1;
	*type = line;
	if ((sp = strchr(line, ' ')) == NULL)
		return -1;
	*sp = '\0';
	*blob = sp + 1;
	if ((sp = strchr(*blob, ' ')) != NULL) {
		*sp = '\0';
		*comment = sp + 1;
	}
	for (const char *p = *blob; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '+' && *p != '/' && *p != '=')
			return -1;
	return **blob ? 0 : -1;
}

/* Add the keys of an authorized_keys text (modified) to us; lines that
 * are not keys are skipped, as OpenSSH does. */
static void parse_keys(struct user *us, char *text)
{
	char *line, *next;

	for (line = text; line && *line; line = next) {
		char *type, *blob, *comment;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '#' || parse_key_line(line, &type, &blob,
		    &comment) != 0)
			continue;
		/* "TYPE BLOB" is shorter than the text, so it fits the cap;
		 * were it not, a NULL key would crash users_key_allowed(). */
		struct buf k = BUF_INIT(KEYS_MAX_BYTES);
		if (buf_addf(&k, "%s %s", type, blob) != 0)
			continue;
		us->keys = xreallocarray(us->keys, us->nkeys + 1,
		    sizeof *us->keys);
		us->keys[us->nkeys++] = buf_detach(&k, NULL);
	}
}

static void load_keys(struct users *u, struct user *us)
{
	struct buf b = BUF_INIT(KEYS_MAX_BYTES);
	char *f = keys_file(u->path, us->name);

	if (fs_exists(f) && fs_read_file(f, KEYS_MAX_BYTES, &b) == 0 && b.p)
		parse_keys(us, b.p);
	buf_free(&b);
	free(f);
}

/* Parse the users file's text (modified) into u; ERR_FORMAT names the
 * first bad line of path. */
static int parse_users(struct users *u, char *text, const char *path)
{
	char *line, *next;
	int lineno = 0;

	for (line = text; line && *line; line = next) {
		char *c1, *c2;
		struct user *us;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lineno++;
		if (*line == '#' || *line == '\0')
			continue;
		if ((c1 = strchr(line, ':')) == NULL ||
		    (c2 = strchr(c1 + 1, ':')) == NULL)
			goto bad;
		*c1 = *c2 = '\0';
		if (!users_name_ok(line) || u->n == MAX_USERS || c2[1] != '$')
			goto bad;
		u->u = xreallocarray(u->u, u->n + 1, sizeof *u->u);
		us = &u->u[u->n];
		memset(us, 0, sizeof *us);
		if (role_parse(c1 + 1, &us->role) != 0)
			goto bad;
		snprintf(us->name, sizeof us->name, "%s", line);
		us->hash = xstrdup(c2 + 1);
		u->n++;
	}
	return 0;
bad:
	return err_set(ERR_FORMAT, "%s:%d: expected NAME:ROLE:HASH", path, lineno);
}

int users_parse(const char *path, const char *text, size_t len,
    struct users **out)
{
	struct buf b = BUF_INIT(USERS_MAX_BYTES);
	struct users *u;
	int r;

	*out = NULL;
	if ((r = buf_add(&b, text, len)) != 0)
		return err_set(r, "%s: longer than %u bytes", path, USERS_MAX_BYTES);
	u = xcalloc(1, sizeof *u);
	u->path = xstrdup(path);
	r = parse_users(u, b.p, path);
	buf_free_secret(&b);
	if (r != 0) {
		users_free(u);
		return r;
	}
	*out = u;
	return 0;
}

int users_parse_keys(struct users *u, const char *name, const char *text,
    size_t len)
{
	struct buf b = BUF_INIT(KEYS_MAX_BYTES);
	struct user *us = NULL;
	int r;

	for (size_t i = 0; us == NULL && i < u->n; i++)
		if (!strcmp(u->u[i].name, name))
			us = &u->u[i];
	if (us == NULL)
		return err_set(ERR_NOTFOUND, "%s: no such user", name);
	if ((r = buf_add(&b, text, len)) != 0)
		return err_set(r, "%s's keys: longer than %u bytes", name,
		    KEYS_MAX_BYTES);
	if (b.p)
		parse_keys(us, b.p);
	buf_free(&b);
	return 0;
}

int users_load(const char *path, struct users **out)
{
	struct buf b = BUF_INIT(USERS_MAX_BYTES);
	struct users *u = NULL;
	int r = 0;

	*out = NULL;
	if (fs_exists(path) && (r = fs_read_file(path, USERS_MAX_BYTES, &b)) != 0)
		goto out;
	if ((r = users_parse(path, buf_cstr(&b), b.len, &u)) != 0)
		goto out;
	for (size_t i = 0; i < u->n; i++)
		load_keys(u, &u->u[i]);
	*out = u;
out:
	buf_free_secret(&b);
	return r;
}

void users_free(struct users *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n; i++) {
		freezero(u->u[i].hash, strlen(u->u[i].hash));
		for (size_t k = 0; k < u->u[i].nkeys; k++)
			free(u->u[i].keys[k]);
		free(u->u[i].keys);
	}
	free(u->u);
	free(u->path);
	free(u);
}

static const struct user *find(const struct users *u, const char *name)
{
	for (size_t i = 0; u && i < u->n; i++)
		if (!strcmp(u->u[i].name, name))
			return &u->u[i];
	return NULL;
}

int users_check_password(const struct users *u, const char *name,
    const char *password, enum role *rolep)
{
	const struct user *us = find(u, name);
	struct crypt_data *cd = xcalloc(1, sizeof *cd);
	const char *h = us ? us->hash : dummy_hash;
	const char *got = crypt_r(password, h, cd);
	int ok = got && got[0] == '$' && strlen(got) == strlen(h) &&
	    timingsafe_eq(got, h, strlen(h));

	explicit_bzero(cd, sizeof *cd);
	free(cd);
	if (!ok || us == NULL)
		return err_set(ERR_DENIED, "wrong user name or password");
	*rolep = us->role;
	return 0;
}

int users_role(const struct users *u, const char *name, enum role *rolep)
{
	const struct user *us = find(u, name);

	if (us == NULL)
		return err_set(ERR_NOTFOUND, "%s: no such user", name);
	*rolep = us->role;
	return 0;
}

int users_key_allowed(const struct users *u, const char *name,
    const char *type, const char *blob_b64)
{
	const struct user *us = find(u, name);
	size_t tl = strlen(type);

	for (size_t k = 0; us && k < us->nkeys; k++)
		if (!strncmp(us->keys[k], type, tl) && us->keys[k][tl] == ' ' &&
		    !strcmp(us->keys[k] + tl + 1, blob_b64))
			return 0;
	return err_set(ERR_DENIED, "key not authorized");
}

static int has_key(const struct user *us, const char *key)
{
	for (size_t k = 0; k < us->nkeys; k++)
		if (!strcmp(us->keys[k], key))
			return 1;
	return 0;
}

const char *users_revoked(const struct users *old, const struct users *cur,
    const char *name)
{
	const struct user *was = find(old, name), *is = find(cur, name);

	if (is == NULL)
		return "user deleted";
	if (was == NULL)
		return NULL;
	if (was->role != is->role)
		return "role changed";
	for (size_t k = 0; k < was->nkeys; k++)
		if (!has_key(is, was->keys[k]))
			return "a key deleted";
	return NULL;
}

int users_same(const struct users *a, const struct users *b)
{
	if (a == NULL || b == NULL || a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct user *x = &a->u[i], *y = find(b, x->name);
		if (y == NULL || x->role != y->role || strcmp(x->hash, y->hash) ||
		    x->nkeys != y->nkeys)
			return 0;
		for (size_t k = 0; k < x->nkeys; k++)
			if (strcmp(x->keys[k], y->keys[k]))
				return 0;
	}
	return 1;
}

static void stamp_one(const char *path, struct users_file_stamp *out)
{
	struct stat st;

	memset(out, 0, sizeof *out);
	if (stat(path, &st) != 0) {
		out->err = errno;
		return;
	}
	out->dev = (unsigned long long)st.st_dev;
	out->ino = (unsigned long long)st.st_ino;
	out->size = (long long)st.st_size;
	out->mtime_s = (long long)st.st_mtim.tv_sec;
	out->mtime_ns = st.st_mtim.tv_nsec;
	out->ctime_s = (long long)st.st_ctim.tv_sec;
	out->ctime_ns = st.st_ctim.tv_nsec;
}

void users_stamp(const char *path, struct users_stamp *out)
{
	char *kd = keys_dir(path);

	stamp_one(path, &out->file);
	stamp_one(kd, &out->keys);
	free(kd);
}

/* Field by field: a struct copy need not copy the padding. */
static int file_stamp_eq(const struct users_file_stamp *a,
    const struct users_file_stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime_s == b->mtime_s && a->mtime_ns == b->mtime_ns &&
	    a->ctime_s == b->ctime_s && a->ctime_ns == b->ctime_ns &&
	    a->err == b->err;
}

int users_stamp_eq(const struct users_stamp *a, const struct users_stamp *b)
{
	return file_stamp_eq(&a->file, &b->file) &&
	    file_stamp_eq(&a->keys, &b->keys);
}

int users_format(const struct users *u, struct buf *out)
{
	int r = buf_adds(out, "# nodebak users: NAME:ROLE:HASH (see docs/ftpd.md); "
	    "edit with nodebak user\n");

	for (size_t i = 0; r == 0 && i < u->n; i++)
		r = buf_addf(out, "%s:%s:%s\n", u->u[i].name,
		    role_name(u->u[i].role), u->u[i].hash);
	return r;
}

/* Rewrite the users file from u. */
static int save(const struct users *u)
{
	struct buf b = BUF_INIT(USERS_MAX_BYTES);
	int r = users_format(u, &b);

	if (r == 0 && (r = fs_mkdir_parent(u->path, 0700)) == 0)
		r = fs_write_atomic(u->path, b.p, b.len, 0600);
	buf_free_secret(&b);
	return r;
}

/* A new yescrypt hash of password into *out (the caller's, to freezero). */
static int hash_password(const char *password, char **out)
{
	struct crypt_data *cd;
	char *salt;
	const char *h;
	int r = 0;

	*out = NULL;
	if (strlen(password) < 8)
		return err_set(ERR_INVAL, "passwords have at least 8 characters");
	if ((salt = crypt_gensalt_ra("$y$", 0, NULL, 0)) == NULL)
		return err_sys("crypt_gensalt");
	cd = xcalloc(1, sizeof *cd);
	h = crypt_r(password, salt, cd);
	if (h == NULL || h[0] != '$')
		r = err_set(ERR_CRYPTO, "crypt(3) failed");
	else
		*out = xstrdup(h);
	free(salt);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return r;
}

/* How many admins u has. */
static size_t count_admins(const struct users *u)
{
	size_t n = 0;

	for (size_t i = 0; i < u->n; i++)
		if (u->u[i].role == ROLE_ADMIN)
			n++;
	return n;
}

/* ERR_DENIED when taking us's admin role away would leave no admin: the
 * console and every admin task over SSH would be gone with it. */
static int keep_an_admin(const struct users *u, const struct user *us)
{
	if (us->role == ROLE_ADMIN && count_admins(u) == 1)
		return err_set(ERR_DENIED, "%s is the last admin; add another "
		    "admin first", us->name);
	return 0;
}

int users_add(const char *path, const char *name, enum role role,
    const char *password)
{
	struct users *u;
	char *h = NULL;
	int r;

	if (!users_name_ok(name))
		return err_set(ERR_INVAL, "%s: user names are 1 to 32 of a-z0-9._- "
		    "starting with a letter", name);
	if (strlen(password) < 8)
		return err_set(ERR_INVAL, "passwords have at least 8 characters");
	if ((r = users_load(path, &u)) != 0)
		return r;
	if (find(u, name)) {
		users_free(u);
		return err_set(ERR_EXISTS, "%s: user exists; delete it first", name);
	}
	if ((r = hash_password(password, &h)) != 0) {
		users_free(u);
		return r;
	}
	u->u = xreallocarray(u->u, u->n + 1, sizeof *u->u);
	memset(&u->u[u->n], 0, sizeof u->u[u->n]);
	snprintf(u->u[u->n].name, sizeof u->u[u->n].name, "%s", name);
	u->u[u->n].role = role;
	u->u[u->n].hash = h;
	u->n++;
	r = save(u);
	users_free(u);
	return r;
}

int users_passwd(const char *path, const char *name, const char *password)
{
	struct users *u;
	struct user *us;
	char *h = NULL;
	int r;

	if ((r = users_load(path, &u)) != 0)
		return r;
	if ((us = (struct user *)find(u, name)) == NULL)
		r = err_set(ERR_NOTFOUND, "%s: no such user", name);
	else if ((r = hash_password(password, &h)) == 0) {
		freezero(us->hash, strlen(us->hash));
		us->hash = h;
		r = save(u);
	}
	users_free(u);
	return r;
}

int users_set_role(const char *path, const char *name, enum role role)
{
	struct users *u;
	struct user *us;
	int r;

	if ((r = users_load(path, &u)) != 0)
		return r;
	if ((us = (struct user *)find(u, name)) == NULL)
		r = err_set(ERR_NOTFOUND, "%s: no such user", name);
	else if (us->role != role && (r = keep_an_admin(u, us)) == 0) {
		us->role = role;
		r = save(u);
	}
	users_free(u);
	return r;
}

int users_del(const char *path, const char *name)
{
	struct users *u;
	char *kf;
	int r;

	if ((r = users_load(path, &u)) != 0)
		return r;
	for (size_t i = 0; i < u->n; i++) {
		if (strcmp(u->u[i].name, name))
			continue;
		if ((r = keep_an_admin(u, &u->u[i])) != 0) {
			users_free(u);
			return r;
		}
		freezero(u->u[i].hash, strlen(u->u[i].hash));
		for (size_t k = 0; k < u->u[i].nkeys; k++)
			free(u->u[i].keys[k]);
		free(u->u[i].keys);
		memmove(&u->u[i], &u->u[i + 1], (u->n - i - 1) * sizeof *u->u);
		u->n--;
		if ((r = save(u)) == 0) {
			kf = keys_file(path, name);
			unlink(kf);
			free(kf);
		}
		users_free(u);
		return r;
	}
	users_free(u);
	return err_set(ERR_NOTFOUND, "%s: no such user", name);
}

int users_list(const char *path, struct buf *out)
{
	struct users *u;
	int r;

	if ((r = users_load(path, &u)) != 0)
		return r;
	for (size_t i = 0; r == 0 && i < u->n; i++)
		r = buf_addf(out, "%-32s %-9s %zu key%s\n", u->u[i].name,
		    role_name(u->u[i].role), u->u[i].nkeys,
		    u->u[i].nkeys == 1 ? "" : "s");
	users_free(u);
	return r;
}

static int need_user(const char *path, const char *name)
{
	struct users *u;
	int r;

	if ((r = users_load(path, &u)) != 0)
		return r;
	r = find(u, name) ? 0 : err_set(ERR_NOTFOUND, "%s: no such user", name);
	users_free(u);
	return r;
}

int users_key_add(const char *path, const char *name, const char *file,
    int *added)
{
	struct buf in = BUF_INIT(KEYS_MAX_BYTES), cur = BUF_INIT(KEYS_MAX_BYTES);
	char *kd = keys_dir(path), *kf = keys_file(path, name), *line, *next;
	int r, lineno = 0;

	*added = 0;
	if ((r = need_user(path, name)) != 0 ||
	    (r = fs_read_file(file, KEYS_MAX_BYTES, &in)) != 0)
		goto out;
	if (fs_exists(kf) && (r = fs_read_file(kf, KEYS_MAX_BYTES, &cur)) != 0)
		goto out;
	for (line = in.p; line && *line; line = next) {
		char *type, *blob, *comment, fp[80], copy[16384];
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lineno++;
		if (*line == '#' || *line == '\0')
			continue;
		snprintf(copy, sizeof copy, "%s", line);
		if (parse_key_line(copy, &type, &blob, &comment) != 0 ||
		    ssh_key_fingerprint(blob, fp, sizeof fp) != 0) {
			r = err_set(ERR_FORMAT, "%s:%d: not an OpenSSH public key line",
			    file, lineno);
			goto out;
		}
		if ((r = buf_addf(&cur, "%s\n", line)) != 0)
			goto out;
		(*added)++;
	}
	if (*added == 0) {
		r = err_set(ERR_FORMAT, "%s: no public key in it", file);
		goto out;
	}
	if ((r = fs_mkdir_p(kd, 0700)) == 0)
		r = fs_write_atomic(kf, cur.p, cur.len, 0600);
out:
	buf_free(&in);
	buf_free(&cur);
	free(kd);
	free(kf);
	return r;
}

/* Call fn for each key line of name's file: index, line (modifiable). */
static int each_key(const char *path, const char *name, struct buf *b,
    int (*fn)(int idx, char *line, void *arg), void *arg)
{
	char *kf = keys_file(path, name), *line, *next;
	int r, idx = 0;

	if ((r = need_user(path, name)) != 0)
		goto out;
	if (fs_exists(kf) && (r = fs_read_file(kf, KEYS_MAX_BYTES, b)) != 0)
		goto out;
	for (line = b->p; r == 0 && line && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '#' || *line == '\0')
			continue;
		r = fn(++idx, line, arg);
	}
out:
	free(kf);
	return r;
}

static int list_one(int idx, char *line, void *arg)
{
	char *type, *blob, *comment, fp[80];

	if (parse_key_line(line, &type, &blob, &comment) != 0 ||
	    ssh_key_fingerprint(blob, fp, sizeof fp) != 0)
		return buf_addf(arg, "%d (unreadable line)\n", idx);
	return buf_addf(arg, "%d %s %s %s\n", idx, type, fp,
	    comment ? comment : "");
}

int users_key_list(const char *path, const char *name, struct buf *out)
{
	struct buf b = BUF_INIT(KEYS_MAX_BYTES);
	int r = each_key(path, name, &b, list_one, out);

	buf_free(&b);
	return r;
}

struct del_arg {
	int index, found;
	struct buf keep;
};

static int del_one(int idx, char *line, void *arg)
{
	struct del_arg *d = arg;

	if (idx == d->index) {
		d->found = 1;
		return 0;
	}
	return buf_addf(&d->keep, "%s\n", line);
}

int users_key_del(const char *path, const char *name, int index)
{
	struct buf b = BUF_INIT(KEYS_MAX_BYTES);
	struct del_arg d = { index, 0, BUF_INIT(KEYS_MAX_BYTES) };
	char *kf = keys_file(path, name);
	int r = each_key(path, name, &b, del_one, &d);

	if (r == 0 && !d.found)
		r = err_set(ERR_NOTFOUND, "%s has no key %d (see user key list %s)",
		    name, index, name);
	if (r == 0)
		r = fs_write_atomic(kf, d.keep.p ? d.keep.p : "", d.keep.len, 0600);
	buf_free(&b);
	buf_free(&d.keep);
	free(kf);
	return r;
}
