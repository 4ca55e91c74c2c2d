/* pki.h: certificates and keys in the files root (pki list/inspect):
 * the files read and the console's words; the X.509 work itself is
 * common/x509.h's. */
#ifndef NODEBAK_PKI_H
#define NODEBAK_PKI_H

#include <stddef.h>
#include <time.h>

struct buf;
struct node;

/* Describe the file name (in the files root) into out, in the console's
 * `pki inspect` layout. ERR_FORMAT when it is no certificate, key or CSR. */
int pki_inspect(const struct node *n, const char *name, struct buf *out);
/* 1 when name (in the files root) holds a certificate that has expired
 * by clock_now() (clock.h), 0 when it has not or is no certificate / is
 * missing. */
int pki_expired(const struct node *n, const char *name);
/* The notAfter of the first certificate (PEM or DER) in name (files root)
 * into *out. 0, or an error naming the file (missing, no certificate). */
int pki_not_after(const struct node *n, const char *name, time_t *out);
/* Whole days from now to not_after, rounded down (negative once expired:
 * one second late is -1). */
long pki_days_left(time_t not_after, time_t now);
/* The words status and pki inspect print, into out: "(expired)" once
 * not_after has passed, "(expires today)" under a day before, else
 * "(expires in N day[s])". */
void pki_expiry_words(time_t not_after, time_t now, char *out, size_t outsz);
/* Append the certificate and key file names of the files root, one a line. */
int pki_list(const struct node *n, struct buf *out);
/* 1 when name is a plain file name (no '/', not hidden, not empty). */
int pki_name_ok(const char *name);
/* Append the file name of the files root to b (at most 1 MiB); the error
 * names the file ("no such file in the files root"). */
int pki_read(const struct node *n, const char *name, struct buf *b);

/* pki_tools.c: checks and requests. Each returns 0, or an error whose
 * err_msg() says exactly what is wrong, naming the files. */
/* The private key in key belongs to the certificate in cert. */
int pki_match(const struct node *n, const char *key, const char *cert);
/* The first certificate in cert (any further ones in the file are taken as
 * intermediates) verifies against the certificates in ca at clock_now()
 * (clock.h); ca NULL:
 * the system's trust store. */
int pki_verify(const struct node *n, const char *cert, const char *ca);
/* The subject CN of the first certificate in cert into out. */
int pki_cert_cn(const struct node *n, const char *cert, char *out,
    size_t outsz);
/* A new RSA 2048 key NAME.key (0600) and a CSR NAME.csr (SHA-256) in the
 * files root, from args "CN:<cn>" (required), "O:", "OU:", "L:", "ST:",
 * "C:", "subjectAltName:<a>,<b>" (IP addresses or DNS names). Refuses to
 * overwrite either file. */
int pki_csr(const struct node *n, const char *name, int argc,
    char *const argv[]);

#endif
