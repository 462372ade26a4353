/* Key pairs (libsodium Ed25519), library initialisation and hex helpers. */
#include <sodium.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

int crypto_init(void)
{
    /* sodium_init returns 1 when already initialised: that is success. */
    if (sodium_init() < 0) return -1;
    return crypto_digest_init();
}

int crypto_keypair_generate(struct crypto_keypair *kp)
{
    return crypto_sign_keypair(kp->pk, kp->sk) == 0 ? 0 : -1;
}

void crypto_keypair_from_seed(struct crypto_keypair *kp, const uint8_t seed[CRYPTO_SEED_LEN])
{
    /* Cannot fail for a 32-byte seed; libsodium's sk is seed || pk. */
    (void)crypto_sign_seed_keypair(kp->pk, kp->sk, seed);
}

void crypto_to_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Exactly 2*len hex digits (either case), nothing before or after: a key
 * in cluster.json that is one digit short or has trailing junk is a typo,
 * not something to guess at. `out` is untouched on failure. */
int crypto_from_hex(const char *hex, uint8_t *out, size_t len)
{
    if (hex == NULL || strnlen(hex, 2 * len + 1) != 2 * len) return -1;
    for (size_t i = 0; i < 2 * len; i++)
        if (hex_value(hex[i]) < 0) return -1;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
    return 0;
}

int crypto_random_bytes(void *buf, size_t len)
{
    randombytes_buf(buf, len);
    return 0;
}
