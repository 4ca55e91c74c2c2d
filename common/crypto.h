/* crypto.h: hashing, Ed25519 signing and recognising private keys, the
 * only module that uses OpenSSL's EVP, PEM and ASN.1 interfaces (TLS lives
 * in ftpd/tls.c). */
#ifndef NODEBAK_CRYPTO_H
#define NODEBAK_CRYPTO_H
#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64
#define SIG_LEN 64
#define KEYID_HEX_LEN 16

struct buf;
struct sha256;
struct sigkey;

/* Streaming SHA-256. sha256_new() returns NULL on failure. */
struct sha256 *sha256_new(void);
void sha256_update(struct sha256 *h, const void *data, size_t len);
/* Writes 64 hex digits and a NUL to hex, and frees h. */
void sha256_final_hex(struct sha256 *h, char hex[SHA256_HEX_LEN + 1]);
/* MD5 as 32 hex digits: only to compare with an S3 part's ETag, which
 * is the MD5 of its bytes (never for integrity on its own). */
int md5_hex(const void *data, size_t len, char hex[33]);
/* SHA-256 of a whole file, as hex; *sizep gets its size. */
int sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1],
    uint64_t *sizep);
void hex_encode(const unsigned char *in, size_t len, char *out);
/* Decode exactly outlen bytes from 2*outlen lower-case hex digits. */
int hex_decode(const char *in, unsigned char *out, size_t outlen);

/* Generate a new Ed25519 key; write the private key (PKCS#8 PEM, mode
 * 0600, created exclusively) to priv_path and the public key (PEM) to
 * pub_path. */
int sigkey_generate(const char *priv_path, const char *pub_path);
int sigkey_load_private(const char *path, struct sigkey **out);
/* Parse a PEM public key (an Ed25519 SubjectPublicKeyInfo). */
int sigkey_parse_public(const char *pem, size_t len, struct sigkey **out);
int sigkey_load_public(const char *path, struct sigkey **out);
void sigkey_free(struct sigkey *k);
/* The key id: the first 8 bytes of SHA-256 over the raw public key, hex. */
const char *sigkey_id(const struct sigkey *k);
/* Append the public key as PEM to b. */
int sigkey_public_pem(const struct sigkey *k, struct buf *b);
/* Ed25519 over msg; sig gets 64 bytes. */
int sigkey_sign(const struct sigkey *k, const void *msg, size_t len,
    unsigned char sig[SIG_LEN]);
/* 0 when sig is k's signature over msg, ERR_SIG otherwise. */
int sigkey_verify(const struct sigkey *k, const void *msg, size_t len,
    const unsigned char sig[SIG_LEN]);

/* OpenSSH's "SHA256:<base64, no padding>" fingerprint of a public key
 * blob given in base64 (an authorized_keys line's second field). */
int ssh_key_fingerprint(const char *blob_b64, char *out, size_t outsz);

/* 1 when the n bytes at p, the start of a file (all of it when it is
 * small), hold a private key, whatever the file is called: a PEM or
 * OpenSSH armour line "-----BEGIN <anything> PRIVATE KEY-----" anywhere in
 * them (RSA, EC, DSA, ENCRYPTED, OPENSSH, PKCS#8 ...; any preamble such as
 * "EC PARAMETERS" before it), ssh.com's "---- BEGIN SSH2 ENCRYPTED PRIVATE
 * KEY ----", a PuTTY key file, or, when the n bytes are exactly one DER
 * structure, a key OpenSSL decodes as one (PKCS#8, encrypted PKCS#8,
 * traditional RSA, EC or DSA). 0 otherwise: certificates, requests, public
 * keys and text that only mentions private keys. Never fails. */
int crypto_looks_like_private_key(const unsigned char *p, size_t n);

/* Fill out with len random bytes. */
int random_bytes(void *out, size_t len);
/* A new random UUID (version 4), 36 characters and a NUL. */
int uuid_new(char out[37]);

#endif
