/* ftp.h: one FTP session (RFC 959 subset with explicit and implicit FTPS;
 * docs/ftpd.md says what is missing). */
#ifndef NODEBAK_FTP_H
#define NODEBAK_FTP_H

struct conf;
struct priv;
struct users;

/* What the listener hands a session (none of it is owned by the session). */
struct ftp_params {
	const struct conf *conf;	/* files_dir and [ftpd] */
	const struct users *users;	/* logins */
	const struct priv *priv;	/* who to become before the first command */
	int implicit;			/* ftps_implicit_listen: TLS at connect */
	int drain_sig;			/* the listener's "finish and quit" signal */
	int gate;			/* gate.c: the listener's login counts; -1: none */
};

/* Serve the FTP control connection fd until QUIT, a timeout or an error.
 * Returns 0, ERR_DENIED when the session ended at the login attempt limit
 * (the listener then locks the address out), or another ERR_* code. */
int ftp_session(int fd, const struct ftp_params *p);

#endif
