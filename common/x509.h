/* x509.h: X.509 certificates, private keys and certificate signing
 * requests, read from bytes: the one home of OpenSSL's X.509, PEM and
 * chain-verification interfaces. The node's `pki` commands and `database
 * cluster certs` (snapshotd/pki*.c) and the renewal's preflight on the
 * operator's machine (client/renew/certcheck.c) make their checks here,
 * so the two judge a certificate the same way. Nothing here reads a
 * file or asks for a passphrase: an encrypted key is refused, saying so.
 * Every function that can fail returns 0 or an ERR_* code with one line
 * in err_msg() naming what (the name the caller gave). */
#ifndef NODEBAK_X509_H
#define NODEBAK_X509_H
#include <stddef.h>
#include <time.h>

struct buf;

/* One or more certificates: the first is the subject, the others are
 * taken as intermediates (or, given as ca, as trust anchors). */
struct x509_certs;
struct x509_key;

/* At most this many certificates are read from one file. */
#define X509_CHAIN_MAX 16

/* Every PEM certificate in p, or one DER certificate. ERR_FORMAT "<name>:
 * not a certificate" when there is none. */
int x509_certs_parse(const void *p, size_t len, const char *name,
    struct x509_certs **out);
/* An unencrypted private key, PEM or DER. ERR_FORMAT "<name>: not an
 * unencrypted private key" (with " (it is encrypted)" when it is). */
int x509_key_parse(const void *p, size_t len, const char *name,
    struct x509_key **out);
void x509_certs_free(struct x509_certs *c);
void x509_key_free(struct x509_key *k);

/* 1 when k is the private key of the first certificate of c, else 0. */
int x509_key_matches(const struct x509_certs *c, const struct x509_key *k);
/* Verify the first certificate of c (the others as intermediates)
 * against the certificates of ca (NULL: the system's trust store), its
 * dates judged at the time at; check_time 0 leaves the dates out. 0, or
 * ERR_CRYPTO with why set to OpenSSL's reason and the depth, as
 * "certificate has expired (depth 0)". */
int x509_verify(const struct x509_certs *c, const struct x509_certs *ca,
    time_t at, int check_time, char *why, size_t whysz);
/* The subject CN of the first certificate into out ("" when none). */
void x509_cn(const struct x509_certs *c, char *out, size_t outsz);
/* The first certificate's Not Before and Not After, UTC. */
int x509_dates(const struct x509_certs *c, time_t *not_before,
    time_t *not_after);

/* What x509_describe() found. */
struct x509_seen {
	int cert;			/* a certificate: the dates are set */
	time_t not_before, not_after;
};
/* Describe the certificate, private key, public key or CSR in p into
 * out, in the layout of the console's `pki inspect` ("File contains a PEM
 * encoded certificate" ...); the caller adds the certificate's status.
 * ERR_FORMAT naming name when it is none of these. */
int x509_describe(const void *p, size_t len, const char *name,
    struct buf *out, struct x509_seen *seen);

/* A new RSA 2048 key and a certificate signing request for it (SHA-256),
 * both PEM, from subject parts "CN:<cn>" (required), "O:", "OU:", "L:",
 * "ST:", "C:" and "subjectAltName:<a>,<b>" (IP addresses or DNS names).
 * key_pem holds a secret: free it with buf_free_secret(). */
int x509_csr_make(int argc, char *const argv[], const char *name,
    struct buf *key_pem, struct buf *csr_pem);

#endif
