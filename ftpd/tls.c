/* tls.c: OpenSSL behind a small API for FTPS: one server context per
 * session process, so the control connection's session is in the cache
 * when the data connections resume it (docs/ftpd.md, "FTPS"). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "err.h"
#include "fsutil.h"
#include "tls.h"
#include "xmalloc.h"
#include "banned.h"

struct tls_server {
	SSL_CTX *ctx;
};

struct tls_conn {
	SSL *ssl;
	int want;	/* POLLIN or POLLOUT after EAGAIN */
};

static int ssl_err(const char *what)
{
	char msg[256];

	ERR_error_string_n(ERR_get_error(), msg, sizeof msg);
	ERR_clear_error();
	return err_set(ERR_CRYPTO, "%s: %s", what, msg);
}

/* A self-signed certificate for the node, valid ten years. */
static int make_pair(const char *cert_path, const char *key_path)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509_NAME *nm;
	FILE *f = NULL;
	int fd, r = ERR_CRYPTO;

	if (pk == NULL || x == NULL)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400);
	X509_set_pubkey(x, pk);
	nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)"nodebak-ftpd", -1, -1, 0);
	X509_set_issuer_name(x, nm);
	if (X509_sign(x, pk, EVP_sha256()) == 0) {
		r = ssl_err("sign the self-signed certificate");
		goto out;
	}
	if ((r = fs_mkdir_parent(key_path, 0700)) != 0 ||
	    (r = fs_mkdir_parent(cert_path, 0700)) != 0)
		goto out;
	r = ERR_CRYPTO;
	if ((fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    (f = fdopen(fd, "w")) == NULL ||
	    !PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) || fclose(f) != 0) {
		r = err_sys("%s", key_path);
		goto out;
	}
	if ((f = fopen(cert_path, "wx")) == NULL || !PEM_write_X509(f, x) ||
	    fclose(f) != 0) {
		r = err_sys("%s", cert_path);
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_free(pk);
	X509_free(x);
	return r;
}

int tls_server_new(const char *cert_path, const char *key_path,
    struct tls_server **out)
{
	static const unsigned char sid[] = "nodebak-ftpd";
	struct tls_server *srv;
	SSL_CTX *ctx;
	int r;

	*out = NULL;
	if (access(cert_path, F_OK) != 0 && access(key_path, F_OK) != 0 &&
	    (r = make_pair(cert_path, key_path)) != 0)
		return r;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return ssl_err("TLS context");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	/* Data connections are non-blocking: a write may stop after any
	 * record and is retried from where it stopped. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		SSL_CTX_free(ctx);
		return ssl_err(cert_path);
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		SSL_CTX_free(ctx);
		return ssl_err(key_path);
	}
	srv = xcalloc(1, sizeof *srv);
	srv->ctx = ctx;
	*out = srv;
	return 0;
}

void tls_server_free(struct tls_server *srv)
{
	if (srv == NULL)
		return;
	SSL_CTX_free(srv->ctx);
	free(srv);
}

int tls_accept(struct tls_server *srv, int fd, long timeout_ms,
    int no_tickets, struct tls_conn **out)
{
	struct tls_conn *c;
	struct timespec ts;
	long long end;
	int r, fl, timed_out = 0;

	*out = NULL;
	c = xcalloc(1, sizeof *c);
	if ((c->ssl = SSL_new(srv->ctx)) == NULL || SSL_set_fd(c->ssl, fd) != 1) {
		SSL_free(c->ssl);
		free(c);
		return ssl_err("TLS connection");
	}
	if (no_tickets)
		SSL_set_num_tickets(c->ssl, 0);
	/* Non-blocking for the handshake, whatever the caller's mode: on a
	 * blocking socket SSL_accept waits inside read(2) for the rest of a
	 * record, so a client dripping a byte at a time would hold it past
	 * any deadline. The whole handshake gets timeout_ms. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + timeout_ms;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		goto fail;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		long long left;
		int n, e;
		if ((r = SSL_accept(c->ssl)) == 1) {
			fcntl(fd, F_SETFL, fl);
			*out = c;
			return 0;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE)
			p.events = POLLOUT;
		else if (e != SSL_ERROR_WANT_READ)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		left = end - ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
		n = 0;
		if (left > 0)
			while ((n = poll(&p, 1, left > INT_MAX ? INT_MAX :
			    (int)left)) < 0 && errno == EINTR)
				;
		if (n == 0) {
			timed_out = 1;
			break;
		}
		if (n < 0)
			break;
	}
	fcntl(fd, F_SETFL, fl);
fail:
	ERR_clear_error();
	SSL_free(c->ssl);
	free(c);
	if (timed_out)
		return err_set(ERR_PROTO, "TLS handshake not done within %ld s",
		    (timeout_ms + 999) / 1000);
	return err_set(ERR_PROTO, "TLS handshake failed");
}

int tls_resumed(const struct tls_conn *c)
{
	return SSL_session_reused(c->ssl) == 1;
}

int tls_pending(const struct tls_conn *c)
{
	return SSL_pending(c->ssl) > 0;
}

/* -1 with errno EAGAIN (and c->want set) when a non-blocking socket
 * must become readable or writable first; -1 with EIO on an error. */
static ssize_t would_block(struct tls_conn *c, int r)
{
	int e = SSL_get_error(c->ssl, r);

	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		c->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		errno = EAGAIN;
	} else if (e != SSL_ERROR_SYSCALL || errno == 0 || errno == EAGAIN)
		errno = EIO;
	return -1;
}

int tls_want(const struct tls_conn *c)
{
	return c->want;
}

ssize_t tls_read(struct tls_conn *c, void *p, size_t n)
{
	int r = SSL_read(c->ssl, p, n > 1u << 30 ? 1 << 30 : (int)n);

	if (r > 0)
		return r;
	if (SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN)
		return 0;
	return would_block(c, r);
}

ssize_t tls_write(struct tls_conn *c, const void *p, size_t n)
{
	int r = SSL_write(c->ssl, p, n > 1u << 30 ? 1 << 30 : (int)n);

	if (r > 0)
		return r;
	return would_block(c, r);
}

void tls_close(struct tls_conn *c)
{
	if (c == NULL)
		return;
	SSL_shutdown(c->ssl);
	ERR_clear_error();
	SSL_free(c->ssl);
	free(c);
}
