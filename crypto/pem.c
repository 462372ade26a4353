/* PEM (PKCS#8) private key files. OpenSSL writes and reads them so that
 * `openssl pkey -in replica-0.pem -noout -text` can inspect a key; the key
 * itself is used through libsodium (docs/design.md "Messages and crypto").
 * Only the 32-byte seed is stored: the public key is derived on load. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"

static void set_err(char *err, size_t errlen, const char *fmt, const char *path, const char *why)
{
    if (err != NULL && errlen > 0) snprintf(err, errlen, fmt, path, why);
}

/* The most recent OpenSSL error as text (and clear the queue so a later
 * call does not report a stale error). */
static const char *ossl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0)
        snprintf(buf, cap, "unknown OpenSSL error");
    else
        ERR_error_string_n(e, buf, cap);
    ERR_clear_error();
    return buf;
}

int crypto_key_write_pem(const char *path, const struct crypto_keypair *kp, char *err,
                         size_t errlen)
{
    char why[256];
    /* sk is seed || pk (libsodium layout): the seed is the RFC 8032 private key. */
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, kp->sk, CRYPTO_SEED_LEN);
    if (pkey == NULL) {
        set_err(err, errlen, "%s: cannot build Ed25519 key: %s", path,
                ossl_reason(why, sizeof why));
        return -1;
    }
    /* 0600 from creation on; fchmod too because O_CREAT's mode does not
     * apply to a file that already existed with a looser mode. */
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_err(err, errlen, "%s: cannot create key file: %s", path, strerror(errno));
        EVP_PKEY_free(pkey);
        return -1;
    }
    if (fchmod(fd, 0600) != 0) {
        set_err(err, errlen, "%s: cannot set mode 0600: %s", path, strerror(errno));
        close(fd);
        EVP_PKEY_free(pkey);
        return -1;
    }
    FILE *fp = fdopen(fd, "w");
    if (fp == NULL) {
        set_err(err, errlen, "%s: fdopen: %s", path, strerror(errno));
        close(fd);
        EVP_PKEY_free(pkey);
        return -1;
    }
    int ok = PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL) == 1;
    if (!ok) ossl_reason(why, sizeof why);
    EVP_PKEY_free(pkey);
    /* fflush+fsync before close: a key file that is lost on power failure
     * after keygen reported success would be a silent identity loss. */
    int io_ok = fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    int saved = errno;
    if (fclose(fp) != 0 && io_ok) {
        io_ok = 0;
        saved = errno;
    }
    if (!ok) {
        set_err(err, errlen, "%s: cannot write PEM key: %s", path, why);
        return -1;
    }
    if (!io_ok) {
        set_err(err, errlen, "%s: cannot write key file: %s", path, strerror(saved));
        return -1;
    }
    return 0;
}

int crypto_key_read_pem(const char *path, struct crypto_keypair *kp, char *err, size_t errlen)
{
    char why[256];
    FILE *fp = fopen(path, "re");
    if (fp == NULL) {
        set_err(err, errlen, "%s: cannot open key file: %s", path, strerror(errno));
        return -1;
    }
    EVP_PKEY *pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    if (pkey == NULL) {
        set_err(err, errlen, "%s: not a PEM private key: %s", path, ossl_reason(why, sizeof why));
        return -1;
    }
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
        const char *type = OBJ_nid2sn(EVP_PKEY_get_base_id(pkey));
        snprintf(why, sizeof why, "%s", type != NULL ? type : "unknown");
        set_err(err, errlen, "%s: wrong key type %s (expected ED25519)", path, why);
        EVP_PKEY_free(pkey);
        return -1;
    }
    uint8_t seed[CRYPTO_SEED_LEN];
    size_t seedlen = sizeof seed;
    int ok = EVP_PKEY_get_raw_private_key(pkey, seed, &seedlen) == 1 && seedlen == sizeof seed;
    EVP_PKEY_free(pkey);
    if (!ok) {
        set_err(err, errlen, "%s: cannot extract Ed25519 seed: %s", path,
                ossl_reason(why, sizeof why));
        sodium_memzero(seed, sizeof seed);
        return -1;
    }
    crypto_keypair_from_seed(kp, seed);
    sodium_memzero(seed, sizeof seed);
    return 0;
}
