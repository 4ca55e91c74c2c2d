/* sshd_ctx.c: the SSH server's ties to the daemon (see sshd_ctx.h): its
 * options from the listener's context, logins against the users file,
 * privilege drop (priv.c) and logging (xferlog.c); the SSH protocol itself
 * is sshd.c. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "err.h"
#include "ftpd.h"
#include "priv.h"
#include "sshd.h"
#include "sshd_ctx.h"
#include "users.h"
#include "xferlog.h"
#include "banned.h"

static int check_password(void *arg, const char *user, const char *password,
    enum role *rolep)
{
	const struct ftpd_ctx *ctx = arg;

	return users_check_password(ctx->users, user, password, rolep);
}

static int check_pubkey(void *arg, const char *user, const char *type,
    const char *blob_b64, enum role *rolep)
{
	const struct ftpd_ctx *ctx = arg;
	int r;

	if ((r = users_key_allowed(ctx->users, user, type, blob_b64)) != 0)
		return r;
	return users_role(ctx->users, user, rolep);
}

/* Failed logins of this session (each session is its own process). */
static long failed_logins;
/* The xferlog file, opened after the privilege drop and before SFTP
 * confines the process to the files root. */
static struct xferlog xlog = { -1, NULL };

static int drop(void *arg)
{
	const struct ftpd_ctx *ctx = arg;
	int r;

	if ((r = priv_drop(&ctx->priv)) != 0)
		return r;
	xferlog_open(&xlog, ctx->conf->ftpd.xferlog);
	return 0;
}

static void login_log(void *arg, const char *user, const char *peer,
    const char *method, int ok, long addr_failures, long user_failures)
{
	if (!ok)
		failed_logins++;
	(void)arg;
	xferlog_login("sftp", user, peer, method, ok, addr_failures,
	    user_failures);
}

static void xfer_log(void *arg, const char *user, const char *peer,
    const char *vpath, int upload, unsigned long long bytes, double seconds,
    int complete)
{
	(void)arg;
	xferlog_transfer(&xlog, "sftp", user, peer, vpath, upload, bytes,
	    seconds, complete);
}

int sshd_init(struct ftpd_ctx *ctx)
{
	return sshd_host_key(ctx->conf->ftpd.host_key);
}

int sshd_session(int fd, int gate, const struct ftpd_ctx *ctx)
{
	const struct conf *c = ctx->conf;
	struct sshd_opts o;
	int r;

	memset(&o, 0, sizeof o);
	o.host_key = c->ftpd.host_key;
	o.files_dir = c->files_dir;
	o.conf_file = c->file;
	o.console = NULL;
	o.login_timeout = c->ftpd.login_timeout;
	o.idle_timeout = c->ftpd.idle_timeout;
	o.max_login_attempts = c->ftpd.max_login_attempts;
	o.max_handles = c->ftpd.max_handles;
	o.umask = c->ftpd.umask_bits;
	o.password = check_password;
	o.pubkey = check_pubkey;
	o.drop = drop;
	o.gate = gate;
	o.login_log = login_log;
	o.xfer_log = xfer_log;
	o.arg = (void *)(uintptr_t)ctx;
	r = sshd_serve(fd, &o);
	xferlog_close(&xlog);
	/* Cut off at the attempt limit: the listener locks the address out. */
	if (failed_logins >= c->ftpd.max_login_attempts)
		return ERR_DENIED;
	return r;
}
