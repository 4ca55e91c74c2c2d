/* ftpd.h: nodebak-ftpd's listener process and the context its session
 * processes share (docs/ftpd.md). */
#ifndef NODEBAK_FTPD_H
#define NODEBAK_FTPD_H
#include <sys/types.h>
#include <signal.h>

struct conf;
struct users;

struct ftpd_ctx {
	struct conf *conf;		/* owned; replaced on SIGHUP */
	struct users *users;		/* owned; reloaded on SIGHUP */
	const char *conf_path;
	/* Who sessions run as after login: a user to switch to, or (when the
	 * files root belongs to root) root without any capability. */
	int switch_user;
	uid_t uid;
	gid_t gid;
};

/* A session process's exit status when it ended at the login attempt
 * limit: the listener then refuses its address for lockout_seconds. */
#define FTPD_EXIT_LOCKOUT 3

/* Load the configuration, bind every listener, serve until SIGTERM
 * (sessions get shutdown_timeout seconds to finish); SIGHUP reloads the
 * users file, the configuration's limits and the host key. foreground: log
 * to stderr and stay attached. Returns the exit status. */
int ftpd_run(const char *conf_path, int foreground, int verbose);

/* In a session process after login: give up every privilege the session
 * does not need (see docs/ftpd.md, "Privileges"). 0 or an ERR_* code. */
int ftpd_drop_privileges(const struct ftpd_ctx *ctx);

/* Sent by the listener to every session on SIGTERM: an FTP session ends
 * after its running transfer (421); ignored by SSH sessions. */
#define FTPD_SIG_DRAIN SIGUSR1

/* One log line per login and per transfer, also appended in xferlog
 * format to [ftpd] xferlog when it is set. */
void ftpd_log_login(const struct ftpd_ctx *ctx, const char *proto,
    const char *user, const char *peer, const char *method, int ok);
void ftpd_log_xfer(const struct ftpd_ctx *ctx, const char *proto,
    const char *user, const char *peer, const char *vpath, int upload,
    unsigned long long bytes, double seconds, int complete);

#endif
