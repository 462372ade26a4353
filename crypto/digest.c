/* SHA-256 through OpenSSL EVP: it uses the CPU's SHA extensions, about 4x
 * libsodium's portable SHA-256 on our machines (docs/design.md "Messages and
 * crypto").
 *
 * The digest is fetched once (an implicit fetch per call costs a lock and a
 * lookup in the provider store), and every thread keeps its own EVP_MD_CTX,
 * so hashing is thread-safe without a lock or an allocation per call. A
 * pthread key frees a thread's context when the thread exits. */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

static pthread_once_t digest_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;
static pthread_key_t ctx_key;
static bool ctx_key_ok;
static _Thread_local EVP_MD_CTX *thread_ctx;

static void ctx_destroy(void *p)
{
    EVP_MD_CTX_free(p);
}

static void digest_setup(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    ctx_key_ok = pthread_key_create(&ctx_key, ctx_destroy) == 0;
}

int crypto_digest_init(void)
{
    pthread_once(&digest_once, digest_setup);
    return sha256_md != NULL && ctx_key_ok ? 0 : -1;
}

/* The digest functions return void, so a broken OpenSSL install is an
 * environment failure we cannot report: abort loudly rather than hand out
 * a wrong digest. */
static void digest_fail(const char *what)
{
    fprintf(stderr, "crypto: SHA-256 %s failed\n", what);
    abort();
}

static EVP_MD_CTX *get_ctx(void)
{
    if (thread_ctx != NULL) return thread_ctx;
    if (crypto_digest_init() != 0) digest_fail("init");
    thread_ctx = EVP_MD_CTX_new();
    if (thread_ctx == NULL) digest_fail("context allocation");
    if (pthread_setspecific(ctx_key, thread_ctx) != 0) digest_fail("context registration");
    return thread_ctx;
}

void crypto_sha256_2(const void *a, size_t alen, const void *b, size_t blen,
                     uint8_t out[CRYPTO_DIGEST_LEN])
{
    EVP_MD_CTX *ctx = get_ctx();
    unsigned int outlen = 0;
    if (EVP_DigestInit_ex2(ctx, sha256_md, NULL) != 1) digest_fail("init");
    if (alen > 0 && EVP_DigestUpdate(ctx, a, alen) != 1) digest_fail("update");
    if (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) digest_fail("update");
    if (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != CRYPTO_DIGEST_LEN)
        digest_fail("final");
}

void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_DIGEST_LEN])
{
    crypto_sha256_2(data, len, NULL, 0, out);
}
