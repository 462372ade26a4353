/* crypto/: domain-separated signatures, SHA-256, hex, PEM key files and the
 * verification cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <sodium.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

static const uint64_t CLUSTER = 0x0123456789abcdefULL;
static const uint32_t DOMAIN = 11;

static void seeded_key(struct crypto_keypair *kp, uint8_t fill)
{
    uint8_t seed[CRYPTO_SEED_LEN];
    memset(seed, fill, sizeof seed);
    crypto_keypair_from_seed(kp, seed);
}

static int setup_init(void **state)
{
    (void)state;
    return crypto_init();
}

static void test_sign_verify(void **state)
{
    (void)state;
    struct crypto_keypair kp, other;
    seeded_key(&kp, 1);
    seeded_key(&other, 2);
    uint8_t msg[100], sig[CRYPTO_SIG_LEN];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)i;
    struct crypto_counters before, after;
    crypto_counters_get(&before);
    crypto_sign_msg(&kp, DOMAIN, CLUSTER, msg, sizeof msg, sig);
    assert_true(crypto_verify_msg(kp.pk, DOMAIN, CLUSTER, msg, sizeof msg, sig));
    /* Tampered message, wrong key, wrong cluster, wrong domain. */
    msg[50] ^= 1;
    assert_false(crypto_verify_msg(kp.pk, DOMAIN, CLUSTER, msg, sizeof msg, sig));
    msg[50] ^= 1;
    assert_false(crypto_verify_msg(other.pk, DOMAIN, CLUSTER, msg, sizeof msg, sig));
    assert_false(crypto_verify_msg(kp.pk, DOMAIN, CLUSTER + 1, msg, sizeof msg, sig));
    assert_false(crypto_verify_msg(kp.pk, DOMAIN + 1, CLUSTER, msg, sizeof msg, sig));
    /* Tampered signature. */
    sig[0] ^= 0x80;
    assert_false(crypto_verify_msg(kp.pk, DOMAIN, CLUSTER, msg, sizeof msg, sig));
    crypto_counters_get(&after);
    assert_int_equal(after.signs - before.signs, 1);
    assert_int_equal(after.verifies - before.verifies, 6);
    assert_int_equal(after.verify_fail - before.verify_fail, 5);
}

/* The signature is over exactly "BFTSIG01" || domain LE || cluster LE ||
 * SHA-256(msg) (the wire contract): compare with a construction by hand,
 * then check that a plain Ed25519 verify of those bytes accepts. */
static void test_signed_bytes_layout(void **state)
{
    (void)state;
    const uint8_t msg[] = "hello";
    uint8_t bytes[CRYPTO_SIGNED_LEN], want[CRYPTO_SIGNED_LEN];
    crypto_signed_bytes(0x04030201u, 0x0c0b0a0908070605ULL, msg, 5, bytes);
    memcpy(want, "BFTSIG01", 8);
    for (int i = 0; i < 12; i++)
        want[8 + i] = (uint8_t)(i + 1);
    crypto_sha256(msg, 5, want + 20);
    assert_memory_equal(bytes, want, sizeof want);
    struct crypto_keypair kp;
    seeded_key(&kp, 9);
    uint8_t sig[CRYPTO_SIG_LEN];
    crypto_sign_msg(&kp, 0x04030201u, 0x0c0b0a0908070605ULL, msg, 5, sig);
    assert_int_equal(crypto_sign_verify_detached(sig, want, sizeof want, kp.pk), 0);
}

static void test_keypair_seed_deterministic(void **state)
{
    (void)state;
    struct crypto_keypair a, b, c;
    seeded_key(&a, 7);
    seeded_key(&b, 7);
    seeded_key(&c, 8);
    assert_memory_equal(&a, &b, sizeof a);
    assert_memory_not_equal(a.pk, c.pk, CRYPTO_PK_LEN);
    struct crypto_keypair r1, r2;
    assert_int_equal(crypto_keypair_generate(&r1), 0);
    assert_int_equal(crypto_keypair_generate(&r2), 0);
    assert_memory_not_equal(r1.pk, r2.pk, CRYPTO_PK_LEN);
}

static void make_tmpdir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/bft_test_crypto_XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void test_pem_round_trip(void **state)
{
    (void)state;
    char dir[64], path[128], err[256];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/replica-0.pem", dir);
    struct crypto_keypair kp, back;
    assert_int_equal(crypto_keypair_generate(&kp), 0);
    err[0] = '\0';
    assert_int_equal(crypto_key_write_pem(path, &kp, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    memset(&back, 0, sizeof back);
    assert_int_equal(crypto_key_read_pem(path, &back, err, sizeof err), 0);
    assert_memory_equal(back.pk, kp.pk, CRYPTO_PK_LEN);
    assert_memory_equal(back.sk, kp.sk, CRYPTO_SK_LEN);

    /* Overwriting an existing looser-mode file tightens it to 0600. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(crypto_key_write_pem(path, &kp, err, sizeof err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* It really is PKCS#8 PEM. */
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[64] = {0};
    assert_non_null(fgets(line, sizeof line, fp));
    fclose(fp);
    assert_string_equal(line, "-----BEGIN PRIVATE KEY-----\n");
    unlink(path);
    rmdir(dir);
}

static void test_pem_errors(void **state)
{
    (void)state;
    char dir[64], path[128], err[256];
    struct crypto_keypair kp;
    make_tmpdir(dir, sizeof dir);

    snprintf(path, sizeof path, "%s/missing.pem", dir);
    err[0] = '\0';
    assert_int_equal(crypto_key_read_pem(path, &kp, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
    assert_non_null(strstr(err, "missing.pem"));

    snprintf(path, sizeof path, "%s/garbage.pem", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("this is not a key\n", fp);
    fclose(fp);
    err[0] = '\0';
    assert_int_equal(crypto_key_read_pem(path, &kp, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a PEM private key"));
    unlink(path);

    /* A valid PEM key of another type (X25519) is refused by type. */
    snprintf(path, sizeof path, "%s/x25519.pem", dir);
    uint8_t raw[32];
    memset(raw, 0x42, sizeof raw);
    EVP_PKEY *x = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, raw, sizeof raw);
    assert_non_null(x);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_PrivateKey(fp, x, NULL, NULL, 0, NULL, NULL), 1);
    fclose(fp);
    EVP_PKEY_free(x);
    err[0] = '\0';
    assert_int_equal(crypto_key_read_pem(path, &kp, err, sizeof err), -1);
    assert_non_null(strstr(err, "wrong key type"));
    unlink(path);

    /* Writing into a directory that does not exist fails with a message. */
    snprintf(path, sizeof path, "%s/nodir/x.pem", dir);
    seeded_key(&kp, 3);
    err[0] = '\0';
    assert_int_equal(crypto_key_write_pem(path, &kp, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    rmdir(dir);
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t in[CRYPTO_PK_LEN], out[CRYPTO_PK_LEN];
    char hex[2 * CRYPTO_PK_LEN + 1];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 5);
    crypto_to_hex(in, sizeof in, hex);
    assert_int_equal(strlen(hex), 64);
    assert_int_equal(crypto_from_hex(hex, out, sizeof out), 0);
    assert_memory_equal(in, out, sizeof in);

    uint8_t two[2];
    crypto_to_hex((const uint8_t *)"\x00\xff", 2, hex);
    assert_string_equal(hex, "00ff");
    assert_int_equal(crypto_from_hex("ABcd", two, 2), 0);
    assert_int_equal(two[0], 0xab);
    assert_int_equal(two[1], 0xcd);
    assert_int_equal(crypto_from_hex("abc", two, 2), -1);   /* short */
    assert_int_equal(crypto_from_hex("abcde", two, 2), -1); /* long */
    assert_int_equal(crypto_from_hex("abcg", two, 2), -1);  /* not hex */
    assert_int_equal(crypto_from_hex("ab c", two, 2), -1);  /* space */
    assert_int_equal(crypto_from_hex("", two, 2), -1);
}

static void test_sha256_vectors(void **state)
{
    (void)state;
    uint8_t d[CRYPTO_DIGEST_LEN], want[CRYPTO_DIGEST_LEN];
    /* FIPS 180-2 appendix B.1. */
    crypto_sha256("abc", 3, d);
    assert_int_equal(crypto_from_hex("ba7816bf8f01cfea414140de5dae2223"
                                     "b00361a396177a9cb410ff61f20015ad",
                                     want, sizeof want),
                     0);
    assert_memory_equal(d, want, sizeof d);
    crypto_sha256("", 0, d);
    assert_int_equal(crypto_from_hex("e3b0c44298fc1c149afbf4c8996fb924"
                                     "27ae41e4649b934ca495991b7852b855",
                                     want, sizeof want),
                     0);
    assert_memory_equal(d, want, sizeof d);

    const char *a = "the quick brown fox ", *b = "jumps over the lazy dog";
    char cat[128];
    snprintf(cat, sizeof cat, "%s%s", a, b);
    uint8_t d2[CRYPTO_DIGEST_LEN];
    crypto_sha256(cat, strlen(cat), d);
    crypto_sha256_2(a, strlen(a), b, strlen(b), d2);
    assert_memory_equal(d, d2, sizeof d);
    crypto_sha256_2(cat, strlen(cat), NULL, 0, d2);
    assert_memory_equal(d, d2, sizeof d);
}

static void test_vcache_hit_and_binding(void **state)
{
    (void)state;
    struct crypto_vcache *vc = crypto_vcache_new(64);
    assert_non_null(vc);
    struct crypto_keypair kp, other;
    seeded_key(&kp, 4);
    seeded_key(&other, 5);
    const uint8_t m1[] = "prepare v=1 n=7", m2[] = "prepare v=1 n=8";
    uint8_t sig[CRYPTO_SIG_LEN];
    crypto_sign_msg(&kp, DOMAIN, CLUSTER, m1, sizeof m1, sig);

    struct crypto_counters c0, c1, c2, c3;
    crypto_counters_get(&c0);
    assert_true(crypto_vcache_verify(vc, kp.pk, DOMAIN, CLUSTER, m1, sizeof m1, sig));
    crypto_counters_get(&c1);
    assert_int_equal(c1.verifies - c0.verifies, 1);
    assert_int_equal(c1.cache_hits - c0.cache_hits, 0);
    assert_true(crypto_vcache_verify(vc, kp.pk, DOMAIN, CLUSTER, m1, sizeof m1, sig));
    crypto_counters_get(&c2);
    assert_int_equal(c2.verifies - c1.verifies, 0);
    assert_int_equal(c2.cache_hits - c1.cache_hits, 1);

    /* Same signature on a different message / key / domain / cluster: a
     * real verification that fails, never a hit. */
    assert_false(crypto_vcache_verify(vc, kp.pk, DOMAIN, CLUSTER, m2, sizeof m2, sig));
    assert_false(crypto_vcache_verify(vc, other.pk, DOMAIN, CLUSTER, m1, sizeof m1, sig));
    assert_false(crypto_vcache_verify(vc, kp.pk, DOMAIN + 1, CLUSTER, m1, sizeof m1, sig));
    assert_false(crypto_vcache_verify(vc, kp.pk, DOMAIN, CLUSTER + 1, m1, sizeof m1, sig));
    crypto_counters_get(&c3);
    assert_int_equal(c3.cache_hits - c2.cache_hits, 0);
    assert_int_equal(c3.verifies - c2.verifies, 4);
    assert_int_equal(c3.verify_fail - c2.verify_fail, 4);

    /* Failures are not cached: a bad signature is checked every time. */
    uint8_t bad[CRYPTO_SIG_LEN];
    memcpy(bad, sig, sizeof bad);
    bad[10] ^= 1;
    assert_false(crypto_vcache_verify(vc, kp.pk, DOMAIN, CLUSTER, m1, sizeof m1, bad));
    assert_false(crypto_vcache_verify(vc, kp.pk, DOMAIN, CLUSTER, m1, sizeof m1, bad));
    assert_int_equal(crypto_vcache_count(vc), 1);
    crypto_vcache_free(vc);
}

static void test_vcache_bounded(void **state)
{
    (void)state;
    struct crypto_vcache *vc = crypto_vcache_new(256);
    assert_non_null(vc);
    size_t cap = crypto_vcache_capacity(vc);
    assert_true(cap >= 256 && cap < 1024);
    struct crypto_keypair kp;
    seeded_key(&kp, 6);
    uint8_t msg[8], sig[CRYPTO_SIG_LEN], first_sig[CRYPTO_SIG_LEN], first_msg[8];
    const uint32_t inserts = 100000;
    for (uint32_t i = 0; i < inserts; i++) {
        memcpy(msg, &i, sizeof i);
        memset(msg + 4, 0xa5, 4);
        crypto_sign_msg(&kp, DOMAIN, CLUSTER, msg, sizeof msg, sig);
        assert_true(crypto_vcache_verify(vc, kp.pk, DOMAIN, CLUSTER, msg, sizeof msg, sig));
        if (i == 0) {
            memcpy(first_sig, sig, sizeof sig);
            memcpy(first_msg, msg, sizeof msg);
        }
        assert_true(crypto_vcache_count(vc) <= cap);
    }
    assert_int_equal(crypto_vcache_capacity(vc), cap);
    /* With 100k distinct entries through the cache almost every way has
     * been filled. */
    assert_true(crypto_vcache_count(vc) > cap / 2);

    struct crypto_counters c0, c1;
    /* The most recent entry is still there... */
    crypto_counters_get(&c0);
    assert_true(crypto_vcache_verify(vc, kp.pk, DOMAIN, CLUSTER, msg, sizeof msg, sig));
    crypto_counters_get(&c1);
    assert_int_equal(c1.cache_hits - c0.cache_hits, 1);
    /* ...the first one was evicted long ago and is verified again. */
    assert_true(
        crypto_vcache_verify(vc, kp.pk, DOMAIN, CLUSTER, first_msg, sizeof first_msg, first_sig));
    crypto_counters_get(&c0);
    assert_int_equal(c0.verifies - c1.verifies, 1);
    crypto_vcache_free(vc);
}

static void test_vcache_sizes(void **state)
{
    (void)state;
    struct crypto_vcache *vc = crypto_vcache_new(0);
    assert_non_null(vc);
    assert_true(crypto_vcache_capacity(vc) >= 1);
    crypto_vcache_free(vc);
    vc = crypto_vcache_new(SIZE_MAX);
    assert_non_null(vc);
    assert_true(crypto_vcache_capacity(vc) <= (1u << 20));
    crypto_vcache_free(vc);
    crypto_vcache_free(NULL);

    /* A NULL cache still verifies, uncached. */
    struct crypto_keypair kp;
    seeded_key(&kp, 11);
    uint8_t sig[CRYPTO_SIG_LEN];
    const uint8_t m[] = "x";
    crypto_sign_msg(&kp, DOMAIN, CLUSTER, m, 1, sig);
    assert_true(crypto_vcache_verify(NULL, kp.pk, DOMAIN, CLUSTER, m, 1, sig));
    assert_false(crypto_vcache_verify(NULL, kp.pk, DOMAIN, CLUSTER + 1, m, 1, sig));
}

/* Digests and a shared cache from several threads at once (verify worker
 * pool): every result must match the single-threaded answer. */
struct mt_arg {
    struct crypto_vcache *vc;
    const struct crypto_keypair *kp;
    const uint8_t (*sigs)[CRYPTO_SIG_LEN];
    const uint8_t (*digests)[CRYPTO_DIGEST_LEN];
    int bad;
};
#define MT_MSGS 64

static void *mt_worker(void *p)
{
    struct mt_arg *a = p;
    for (int round = 0; round < 20; round++) {
        for (uint32_t i = 0; i < MT_MSGS; i++) {
            uint8_t d[CRYPTO_DIGEST_LEN];
            crypto_sha256(&i, sizeof i, d);
            if (memcmp(d, a->digests[i], sizeof d) != 0) a->bad++;
            if (!crypto_vcache_verify(a->vc, a->kp->pk, DOMAIN, CLUSTER, (const uint8_t *)&i,
                                      sizeof i, a->sigs[i]))
                a->bad++;
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct crypto_keypair kp;
    seeded_key(&kp, 10);
    static uint8_t sigs[MT_MSGS][CRYPTO_SIG_LEN], digests[MT_MSGS][CRYPTO_DIGEST_LEN];
    for (uint32_t i = 0; i < MT_MSGS; i++) {
        crypto_sha256(&i, sizeof i, digests[i]);
        crypto_sign_msg(&kp, DOMAIN, CLUSTER, (const uint8_t *)&i, sizeof i, sigs[i]);
    }
    struct crypto_vcache *vc = crypto_vcache_new(16); /* small: forces evictions */
    assert_non_null(vc);
    pthread_t th[4];
    struct mt_arg args[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (struct mt_arg){vc, &kp, sigs, digests, 0};
        assert_int_equal(pthread_create(&th[t], NULL, mt_worker, &args[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        assert_int_equal(args[t].bad, 0);
    }
    assert_true(crypto_vcache_count(vc) <= crypto_vcache_capacity(vc));
    crypto_vcache_free(vc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_signed_bytes_layout),
        cmocka_unit_test(test_keypair_seed_deterministic),
        cmocka_unit_test(test_pem_round_trip),
        cmocka_unit_test(test_pem_errors),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_vcache_hit_and_binding),
        cmocka_unit_test(test_vcache_bounded),
        cmocka_unit_test(test_vcache_sizes),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup_init, NULL);
}
