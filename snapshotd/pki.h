/* pki.h: certificates and keys in the files root (pki list/inspect); the
 * snapshot daemon's only use of OpenSSL's X.509 interfaces. */
#ifndef NODEBAK_PKI_H
#define NODEBAK_PKI_H

struct buf;
struct node;

/* Describe the file name (in the files root) into out, in the console's
 * `pki inspect` layout. ERR_FORMAT when it is no certificate, key or CSR. */
int pki_inspect(const struct node *n, const char *name, struct buf *out);
/* 1 when name (in the files root) holds a certificate that has expired,
 * 0 when it has not or is no certificate / is missing. */
int pki_expired(const struct node *n, const char *name);
/* Append the certificate and key file names of the files root, one a line. */
int pki_list(const struct node *n, struct buf *out);
/* 1 when name is a plain file name (no '/', not hidden, not empty). */
int pki_name_ok(const char *name);

#endif
