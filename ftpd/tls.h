/* tls.h: the TLS side of FTPS, the only module that includes OpenSSL's TLS
 * headers. TLS 1.2 and later only. */
#ifndef NODEBAK_TLS_H
#define NODEBAK_TLS_H
#include <sys/types.h>

struct tls_server;
struct tls_conn;

/* Load cert_path and key_path; when both are missing, make a self-signed
 * P-256 pair first (key mode 0600). *out owns the server context.
 * 0 or an ERR_* code with err_msg() naming the file. */
int tls_server_new(const char *cert_path, const char *key_path,
    struct tls_server **out);
void tls_server_free(struct tls_server *srv);

/* Handshake on fd, all of it within timeout_ms however the peer paces its
 * bytes (the socket is non-blocking meanwhile, its mode restored after).
 * no_tickets: issue no TLS 1.3
 * session ticket, for an upload's data connection (tickets are sent after
 * the handshake; on an upload the client never reads them, and a client
 * that closes a socket with unread bytes resets it, which discards the end
 * of the upload still queued for us to read). A download's data connection
 * keeps them: without, curl fetching several files in one session over
 * FTPS failed every file after the first ("transfer closed with 4096
 * bytes remaining", tests/ftp-tls.t). *out owns the connection (which
 * does not own fd). 0 or ERR_PROTO. */
int tls_accept(struct tls_server *srv, int fd, long timeout_ms,
    int no_tickets, struct tls_conn **out);
/* 1 when the handshake resumed an earlier session of this server. */
int tls_resumed(const struct tls_conn *c);
/* As read(2)/write(2): bytes, 0 at a clean end, -1 on error. On a
 * non-blocking socket, -1 with errno EAGAIN: wait for tls_want(c) (POLLIN
 * or POLLOUT) and call again with the same arguments. */
ssize_t tls_read(struct tls_conn *c, void *p, size_t n);
ssize_t tls_write(struct tls_conn *c, const void *p, size_t n);
int tls_want(const struct tls_conn *c);
/* 1 when decrypted bytes wait inside the TLS layer (poll cannot see them). */
int tls_pending(const struct tls_conn *c);
/* Send close_notify and free. */
void tls_close(struct tls_conn *c);

#endif
