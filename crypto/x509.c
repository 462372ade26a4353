/* Cluster CA and endpoint certificates (contract in crypto/x509.h). */
#include "crypto/x509.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct crypto_x509_ca {
    EVP_PKEY *key;
    X509 *crt;
};

static int ssl_fail(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[160] = "";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    if (err && errlen) snprintf(err, errlen, "%s%s%s", what, buf[0] ? ": " : "", buf);
    return -1;
}

static EVP_PKEY *new_p256(void)
{
    return EVP_EC_gen("P-256");
}

static int add_ext(X509 *crt, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, crt, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!ext) return -1;
    int ok = X509_add_ext(crt, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* A certificate for `key` named `name`, valid from an hour ago (clock skew
 * between hosts) for CRYPTO_X509_DAYS, with a random serial. Not signed. */
static X509 *new_cert(EVP_PKEY *key, const char *name)
{
    X509 *crt = X509_new();
    unsigned char serial[8];
    BIGNUM *bn = NULL;
    bool ok = crt && RAND_bytes(serial, sizeof serial) == 1;
    serial[0] &= 0x7f; /* positive */
    ok = ok && (bn = BN_bin2bn(serial, sizeof serial, NULL)) != NULL;
    ok = ok && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt)) != NULL;
    BN_free(bn);
    ok = ok && X509_set_version(crt, 2) == 1;
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(crt), -3600) != NULL;
    ok = ok && X509_gmtime_adj(X509_getm_notAfter(crt), (long)CRYPTO_X509_DAYS * 86400) != NULL;
    ok = ok && X509_set_pubkey(crt, key) == 1;
    X509_NAME *n = crt ? X509_get_subject_name(crt) : NULL;
    ok = ok && X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)name, -1,
                                          -1, 0) == 1;
    if (!ok) {
        X509_free(crt);
        return NULL;
    }
    return crt;
}

int crypto_x509_ca_create(struct crypto_x509_ca **out, const char *name, char *err, size_t errlen)
{
    *out = NULL;
    struct crypto_x509_ca *ca = calloc(1, sizeof *ca);
    if (!ca) return ssl_fail(err, errlen, "out of memory");
    bool ok = (ca->key = new_p256()) != NULL && (ca->crt = new_cert(ca->key, name)) != NULL;
    ok = ok && X509_set_issuer_name(ca->crt, X509_get_subject_name(ca->crt)) == 1;
    ok = ok && add_ext(ca->crt, ca->crt, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == 0;
    ok = ok && add_ext(ca->crt, ca->crt, NID_key_usage, "critical,keyCertSign,cRLSign") == 0;
    ok = ok && add_ext(ca->crt, ca->crt, NID_subject_key_identifier, "hash") == 0;
    ok = ok && X509_sign(ca->crt, ca->key, EVP_sha256()) > 0;
    if (!ok) {
        crypto_x509_ca_free(ca);
        return ssl_fail(err, errlen, "cannot create the CA certificate");
    }
    *out = ca;
    return 0;
}

void crypto_x509_ca_free(struct crypto_x509_ca *ca)
{
    if (!ca) return;
    EVP_PKEY_free(ca->key);
    X509_free(ca->crt);
    free(ca);
}

/* Create `path` with `mode` from the first byte on (a private key is never
 * readable by others, even briefly), then write with `put`. */
static int write_pem(const char *path, mode_t mode, int (*put)(FILE *, const void *),
                     const void *obj, char *err, size_t errlen)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode);
    if (fd < 0 || fchmod(fd, mode) != 0) {
        if (err && errlen) snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    FILE *fp = fdopen(fd, "w");
    if (!fp) {
        if (err && errlen) snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    bool ok = put(fp, obj) == 1;
    ok = (fflush(fp) == 0 && fsync(fileno(fp)) == 0) && ok;
    ok = fclose(fp) == 0 && ok;
    if (!ok) {
        if (err && errlen) snprintf(err, errlen, "%s: write failed", path);
        return -1;
    }
    return 0;
}

static int put_crt(FILE *fp, const void *o)
{
    return PEM_write_X509(fp, (X509 *)o);
}

static int put_key(FILE *fp, const void *o)
{
    return PEM_write_PrivateKey(fp, (EVP_PKEY *)o, NULL, NULL, 0, NULL, NULL);
}

int crypto_x509_ca_write(const struct crypto_x509_ca *ca, const char *crt_path,
                         const char *key_path, char *err, size_t errlen)
{
    if (write_pem(crt_path, 0644, put_crt, ca->crt, err, errlen) != 0) return -1;
    if (key_path && write_pem(key_path, 0600, put_key, ca->key, err, errlen) != 0) return -1;
    return 0;
}

int crypto_x509_issue(const struct crypto_x509_ca *ca, const char *name, const char *crt_path,
                      const char *key_path, char *err, size_t errlen)
{
    if (!name[0] || strlen(name) > CRYPTO_X509_NAME_MAX) {
        if (err && errlen)
            snprintf(err, errlen, "certificate name \"%s\": 1..%d characters", name,
                     CRYPTO_X509_NAME_MAX);
        return -1;
    }
    char san[CRYPTO_X509_NAME_MAX + 8];
    snprintf(san, sizeof san, "DNS:%s", name);
    EVP_PKEY *key = new_p256();
    X509 *crt = key ? new_cert(key, name) : NULL;
    bool ok = crt != NULL;
    ok = ok && X509_set_issuer_name(crt, X509_get_subject_name(ca->crt)) == 1;
    ok = ok && add_ext(crt, ca->crt, NID_basic_constraints, "critical,CA:FALSE") == 0;
    ok = ok && add_ext(crt, ca->crt, NID_key_usage, "critical,digitalSignature") == 0;
    /* Every endpoint both listens and dials (docs/tls.md). */
    ok = ok && add_ext(crt, ca->crt, NID_ext_key_usage, "serverAuth,clientAuth") == 0;
    ok = ok && add_ext(crt, ca->crt, NID_subject_alt_name, san) == 0;
    ok = ok && add_ext(crt, ca->crt, NID_authority_key_identifier, "keyid") == 0;
    ok = ok && X509_sign(crt, ca->key, EVP_sha256()) > 0;
    int rv = ok ? 0 : ssl_fail(err, errlen, "cannot issue a certificate");
    if (rv == 0) rv = write_pem(key_path, 0600, put_key, key, err, errlen);
    if (rv == 0) rv = write_pem(crt_path, 0644, put_crt, crt, err, errlen);
    X509_free(crt);
    EVP_PKEY_free(key);
    return rv;
}

static X509 *read_crt(const char *what, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "re");
    if (!fp) {
        if (err && errlen) snprintf(err, errlen, "TLS %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    X509 *crt = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    if (!crt) {
        char what2[700];
        snprintf(what2, sizeof what2, "TLS %s %s: not a PEM certificate", what, path);
        ssl_fail(err, errlen, what2);
    }
    return crt;
}

static EVP_PKEY *read_key(const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "re");
    if (!fp) {
        if (err && errlen) snprintf(err, errlen, "TLS private key %s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    if (!k) {
        char what[700];
        snprintf(what, sizeof what, "TLS private key %s: not a PEM private key", path);
        ssl_fail(err, errlen, what);
    }
    return k;
}

int crypto_x509_check(const char *ca_path, const char *crt_path, const char *key_path,
                      const char *expect_name, char *err, size_t errlen)
{
    X509 *ca = read_crt("CA certificate", ca_path, err, errlen);
    X509 *crt = ca ? read_crt("certificate", crt_path, err, errlen) : NULL;
    EVP_PKEY *key = crt ? read_key(key_path, err, errlen) : NULL;
    int rv = -1;
    if (!key) goto out;
    if (X509_check_private_key(crt, key) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "TLS private key %s does not match certificate %s", key_path,
                 crt_path);
        goto out;
    }
    EVP_PKEY *ca_pub = X509_get0_pubkey(ca);
    if (!ca_pub || X509_verify(crt, ca_pub) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "TLS certificate %s is not signed by the cluster CA %s", crt_path,
                 ca_path);
        goto out;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(crt)) <= 0 ||
        X509_cmp_current_time(X509_get0_notBefore(crt)) >= 0) {
        snprintf(err, errlen, "TLS certificate %s is not valid now (expired or not yet valid)",
                 crt_path);
        goto out;
    }
    if (expect_name) {
        char cn[CRYPTO_X509_NAME_MAX + 2] = "";
        int l = X509_NAME_get_text_by_NID(X509_get_subject_name(crt), NID_commonName, cn,
                                          (int)sizeof cn);
        if (l < 0 || strcmp(cn, expect_name) != 0) {
            snprintf(err, errlen, "TLS certificate %s is for \"%s\", expected \"%s\"", crt_path,
                     l < 0 ? "(no CN)" : cn, expect_name);
            goto out;
        }
    }
    rv = 0;
out:
    EVP_PKEY_free(key);
    X509_free(crt);
    X509_free(ca);
    return rv;
}
