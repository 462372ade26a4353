/* X.509 certificates for TLS between replicas and clients (docs/tls.md):
 * a cluster CA, and one ECDSA P-256 certificate per replica and client.
 * P-256 because the TLS stack under nng (mbedTLS 2.28) has no Ed25519
 * certificates. Issued and checked with OpenSSL; PEM files; private keys
 * mode 0600. */
#ifndef BFT_CRYPTO_X509_H
#define BFT_CRYPTO_X509_H

#include <stddef.h>

#define CRYPTO_X509_NAME_MAX 64 /* longest certificate name (CN) */
#define CRYPTO_X509_DAYS 3650   /* validity of what crypto_x509_* issues */

struct crypto_x509_ca;

/* A new self-signed CA named `name`. 0 or -1 with err. */
int crypto_x509_ca_create(struct crypto_x509_ca **out, const char *name, char *err, size_t errlen);
/* Write its certificate, and its private key (mode 0600) if key_path is
 * non-NULL. */
int crypto_x509_ca_write(const struct crypto_x509_ca *ca, const char *crt_path,
                         const char *key_path, char *err, size_t errlen);
void crypto_x509_ca_free(struct crypto_x509_ca *ca);
/* A fresh P-256 key and a certificate for `name` (CN and DNS
 * subjectAltName), usable as TLS server and client, signed by ca. */
int crypto_x509_issue(const struct crypto_x509_ca *ca, const char *name, const char *crt_path,
                      const char *key_path, char *err, size_t errlen);
/* Check what a TLS endpoint will load, so a bad file is a clear message at
 * start-up instead of failed handshakes later: every file readable PEM, the
 * key matches the certificate, the CA signed it, it is valid now and, if
 * expect_name is non-NULL, its CN is that name. */
int crypto_x509_check(const char *ca_path, const char *crt_path, const char *key_path,
                      const char *expect_name, char *err, size_t errlen);

#endif
