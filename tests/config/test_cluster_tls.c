/* config/: "tls" in cluster.json (load, validate, save) and the
 * cluster-aware transport opener's certificate checks (docs/tls.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cluster.h"
#include "config/cluster_net.h"
#include "crypto/x509.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bft_test_cluster_tls_XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
}

#define PK "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\""
#define RT(i) "{\"id\":" #i ",\"address\":\"tls+tcp://127.0.0.1:70" #i "\",\"public_key\":" PK "}"
#define RP(i) "{\"id\":" #i ",\"address\":\"tcp://127.0.0.1:70" #i "\",\"public_key\":" PK "}"
#define CT(i) "{\"id\":" #i ",\"address\":\"tls+tcp://127.0.0.1:7100\",\"public_key\":" PK "}"
#define HEAD "\"cluster_id\":\"00000000000000ff\",\"f\":1,\"protocol\":\"pbft\","
#define TLS "\"tls\":{\"ca\":\"ca.crt\"},"
#define REPS_TLS "\"replicas\":[" RT(0) "," RT(1) "," RT(2) "," RT(3) "]"
#define CLS_TLS "\"clients\":[" CT(0) "," CT(1) ",{\"id\":2,\"public_key\":" PK "}]"

/* A TLS cluster.json loads; the CA path resolves under keys_dir; clients
 * sharing one address share one certificate name; save writes it back. */
static void test_load_save(void **state)
{
    (void)state;
    char path[128], err[256] = "", name[32];
    snprintf(path, sizeof path, "%s/cluster.json", tmpdir);
    write_text(path, "{" HEAD TLS REPS_TLS "," CLS_TLS "}");
    struct bft_cluster c, back;
    assert_int_equal(bft_cluster_load(&c, path, err, sizeof err), 0);
    assert_true(c.tls);
    char want[200];
    snprintf(want, sizeof want, "%s/keys/ca.crt", tmpdir);
    assert_string_equal(c.tls_ca, want);
    bft_cluster_tls_name(&c, false, 3, name, sizeof name);
    assert_string_equal(name, "replica-3");
    bft_cluster_tls_name(&c, true, 1, name, sizeof name); /* shares client 0's endpoint */
    assert_string_equal(name, "client-0");
    bft_cluster_tls_name(&c, true, 2, name, sizeof name); /* no address: its own */
    assert_string_equal(name, "client-2");
    char crt[700], key[700];
    bft_cluster_tls_paths(&c, true, 2, crt, key, sizeof crt);
    snprintf(want, sizeof want, "%s/keys/client-2.crt", tmpdir);
    assert_string_equal(crt, want);

    char path2[128];
    snprintf(path2, sizeof path2, "%s/again.json", tmpdir);
    assert_int_equal(bft_cluster_save(&c, path2, err, sizeof err), 0);
    assert_int_equal(bft_cluster_load(&back, path2, err, sizeof err), 0);
    assert_true(back.tls);
    assert_string_equal(back.tls_ca, c.tls_ca);
    assert_string_equal(back.replicas[2].address, "tls+tcp://127.0.0.1:702");
    bft_cluster_free(&back);
    bft_cluster_free(&c);

    /* Without "tls" nothing changes. */
    write_text(path,
               "{" HEAD "\"replicas\":[" RP(0) "," RP(1) "," RP(2) "," RP(3) "],\"clients\":[]}");
    assert_int_equal(bft_cluster_load(&c, path, err, sizeof err), 0);
    assert_false(c.tls);
    bft_cluster_free(&c);
}

static const struct {
    const char *json;
    const char *expect;
} bad_cases[] = {
    {"{" HEAD "\"replicas\":[" RT(0) "," RP(1) "," RP(2) "," RP(3) "],\"clients\":[]}",
     "replicas[0].address: \"tls+tcp://127.0.0.1:700\": tls+tcp:// needs \"tls\""},
    {"{" HEAD TLS "\"replicas\":[" RT(0) "," RP(1) "," RT(2) "," RT(3) "],\"clients\":[]}",
     "replicas[1].address: \"tcp://127.0.0.1:701\": the cluster has \"tls\", so it must be "
     "tls+tcp://"},
    {"{" HEAD TLS REPS_TLS ",\"clients\":[{\"id\":0,\"address\":\"ipc:///x\",\"public_key\":" PK
     "}]}",
     "clients[0].address: \"ipc:///x\": the cluster has \"tls\""},
    {"{" HEAD "\"tls\":5," REPS_TLS ",\"clients\":[]}", "tls: must be an object"},
    {"{" HEAD "\"tls\":{}," REPS_TLS ",\"clients\":[]}", "tls.ca: missing"},
    {"{" HEAD "\"tls\":{\"ca\":\"\"}," REPS_TLS ",\"clients\":[]}", "tls.ca: empty"},
    {"{" HEAD "\"tls\":{\"ca\":7}," REPS_TLS ",\"clients\":[]}", "tls.ca: must be a string"},
};

static void test_rejects(void **state)
{
    (void)state;
    char path[128], err[256];
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        snprintf(path, sizeof path, "%s/bad%zu.json", tmpdir, i);
        write_text(path, bad_cases[i].json);
        struct bft_cluster c;
        memset(err, 0, sizeof err);
        int rv = bft_cluster_load(&c, path, err, sizeof err);
        if (rv == 0 || strstr(err, bad_cases[i].expect) == NULL)
            print_error("case %zu: rv=%d err=\"%s\" expected \"%s\"\n", i, rv, err,
                        bad_cases[i].expect);
        assert_int_equal(rv, -1);
        assert_non_null(strstr(err, bad_cases[i].expect));
        assert_null(c.clients);
    }
}

/* The TLS files of replica 0 as bft_cluster_tls_files sees them, after
 * `prep` has (mis)arranged the keys dir; returns the error text. */
static int files_of_replica0(const struct bft_cluster *c, char *err, size_t errlen)
{
    struct net_tls_files f;
    char crt[700], key[700];
    memset(err, 0, errlen);
    return bft_cluster_tls_files(c, false, 0, &f, crt, key, sizeof crt, err, errlen);
}

static void cp(const char *from, const char *to)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

/* Every way the files can be wrong is a message naming the file and the
 * problem, at open time; never a crash or a hang. */
static void test_files_checked(void **state)
{
    (void)state;
    char path[128], err[512], kd[128], a[200], b[200];
    snprintf(path, sizeof path, "%s/cluster.json", tmpdir);
    write_text(path, "{" HEAD TLS REPS_TLS "," CLS_TLS "}");
    struct bft_cluster c;
    assert_int_equal(bft_cluster_load(&c, path, err, sizeof err), 0);
    snprintf(kd, sizeof kd, "%s/keys", tmpdir);
    mkdir(kd, 0700);

    /* No CA yet. */
    assert_int_equal(files_of_replica0(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "ca.crt"));
    assert_non_null(strstr(err, "No such file"));

    struct crypto_x509_ca *ca, *other;
    assert_int_equal(crypto_x509_ca_create(&ca, "test CA", err, sizeof err), 0);
    assert_int_equal(crypto_x509_ca_create(&other, "other CA", err, sizeof err), 0);
    assert_int_equal(crypto_x509_ca_write(ca, c.tls_ca, NULL, err, sizeof err), 0);
    char crt0[200], key0[200], crt1[200], key1[200];
    bft_cluster_tls_paths(&c, false, 0, crt0, key0, sizeof crt0);
    bft_cluster_tls_paths(&c, false, 1, crt1, key1, sizeof crt1);

    /* Missing certificate. */
    assert_int_equal(files_of_replica0(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "replica-0.crt"));

    /* All good; and the key file is private. */
    assert_int_equal(crypto_x509_issue(ca, "replica-0", crt0, key0, err, sizeof err), 0);
    assert_int_equal(crypto_x509_issue(ca, "replica-1", crt1, key1, err, sizeof err), 0);
    assert_int_equal(files_of_replica0(&c, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(key0, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* Key of another certificate. */
    snprintf(a, sizeof a, "%s/saved.key", tmpdir);
    cp(key0, a);
    cp(key1, key0);
    assert_int_equal(files_of_replica0(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not match certificate"));
    cp(a, key0);

    /* Certificate of another member: the right CA, the wrong name. */
    snprintf(b, sizeof b, "%s/saved.crt", tmpdir);
    cp(crt0, b);
    cp(crt1, crt0);
    cp(key1, key0);
    assert_int_equal(files_of_replica0(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "is for \"replica-1\", expected \"replica-0\""));

    /* Signed by another CA. */
    assert_int_equal(crypto_x509_issue(other, "replica-0", crt0, key0, err, sizeof err), 0);
    assert_int_equal(files_of_replica0(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "not signed by the cluster CA"));

    /* Not PEM at all. */
    write_text(crt0, "hello\n");
    assert_int_equal(files_of_replica0(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a PEM certificate"));

    /* The opener reports the same, and opens nothing. */
    struct net_transport *t = NULL;
    assert_int_equal(
        bft_cluster_net_open(&c, false, 0, "tls+tcp://127.0.0.1:1", &t, err, sizeof err), -1);
    assert_null(t);
    assert_non_null(strstr(err, "replica-0.crt"));

    cp(b, crt0);
    cp(a, key0);
    assert_int_equal(files_of_replica0(&c, err, sizeof err), 0);
    crypto_x509_ca_free(ca);
    crypto_x509_ca_free(other);
    bft_cluster_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_save),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_files_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
