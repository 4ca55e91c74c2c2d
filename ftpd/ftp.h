/* ftp.h: one FTP session (RFC 959 subset with explicit and implicit FTPS;
 * docs/ftpd.md says what is missing). */
#ifndef NODEBAK_FTP_H
#define NODEBAK_FTP_H

struct ftpd_ctx;

/* Serve the FTP control connection fd until QUIT, a timeout or an error.
 * Returns 0, ERR_DENIED when the session ended at the login attempt limit
 * (the listener then locks the address out), or another ERR_* code. */
int ftp_session(int fd, const struct ftpd_ctx *ctx, int implicit);

#endif
