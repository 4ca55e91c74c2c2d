/* ftpd.h: nodebak-ftpd's listener process and the context its session
 * processes share (docs/ftpd.md). */
#ifndef NODEBAK_FTPD_H
#define NODEBAK_FTPD_H
#include <signal.h>

#include "priv.h"

struct conf;
struct users;

struct ftpd_ctx {
	struct conf *conf;		/* owned; replaced on SIGHUP */
	struct users *users;		/* owned; reloaded on SIGHUP */
	const char *conf_path;
	/* Who sessions run as after login: a user to switch to, or (when the
	 * files root belongs to root) root without any capability. */
	struct priv priv;
	/* Who an SSH connection's network-facing process becomes before
	 * the key exchange (priv_resolve_privsep()). */
	struct priv privsep;
};

/* A session process's exit status when it ended at the login attempt
 * limit: the listener then refuses its address for lockout_seconds. */
#define FTPD_EXIT_LOCKOUT 3

/* Load the configuration, bind every listener, serve until SIGTERM
 * (sessions get shutdown_timeout seconds to finish); SIGHUP reloads the
 * users file, the configuration's limits and the host key. foreground: log
 * to stderr and stay attached. Returns the exit status. */
int ftpd_run(const char *conf_path, int foreground, int verbose);

/* Sent by the listener to every session on SIGTERM: an FTP session ends
 * after its running transfer (421); ignored by SSH sessions. */
#define FTPD_SIG_DRAIN SIGUSR1

#endif
