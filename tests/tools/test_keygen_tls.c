/* tools/bftctl_keygen.c with --tls (docs/tls.md): a CA, one certificate
 * per replica and client that passes the start-up check under the name
 * the transport will use, private keys 0600, and a cluster.json that loads
 * with tls+tcp:// addresses and the CA path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cluster.h"
#include "config/cluster_net.h"
#include "crypto/x509.h"
#include "tools/bftctl.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/bft_test_keygen_tls_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void assert_mode(const char *path, unsigned mode)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, mode);
}

static void test_keygen_tls(void **state)
{
    (void)state;
    char out[128], err[512], path[700];
    snprintf(out, sizeof out, "%s/c", dir);
    struct keygen_opts o = {.out_dir = out,
                            .protocol = BFT_PROTO_PBFT,
                            .nodes = 4,
                            .clients = 3,
                            .f = 1,
                            .app = "orders",
                            .base_port = 7000,
                            .client_port = 7100,
                            .tls = true};
    assert_int_equal(ctl_keygen(&o, err, sizeof err), 0);
    struct bft_cluster c;
    snprintf(path, sizeof path, "%s/cluster.json", out);
    assert_int_equal(bft_cluster_load(&c, path, err, sizeof err), 0);
    assert_true(c.tls);
    snprintf(path, sizeof path, "%s/keys/ca.crt", out);
    assert_string_equal(c.tls_ca, path);
    assert_mode(path, 0644);
    snprintf(path, sizeof path, "%s/keys/ca.key", out);
    assert_mode(path, 0600);
    assert_string_equal(c.replicas[2].address, "tls+tcp://127.0.0.1:7002");
    assert_string_equal(c.clients[1].address, "tls+tcp://127.0.0.1:7100");

    /* Every member's files pass the start-up check under its own name. */
    char crt[700], key[700];
    for (uint32_t i = 0; i < c.n + c.n_clients; i++) {
        bool client = i >= c.n;
        uint32_t id = client ? i - c.n : i;
        char name[32];
        snprintf(name, sizeof name, "%s-%u", client ? "client" : "replica", id);
        bft_cluster_tls_paths(&c, client, id, crt, key, sizeof crt);
        assert_int_equal(crypto_x509_check(c.tls_ca, crt, key, name, err, sizeof err), 0);
        assert_mode(key, 0600);
        struct net_tls_files f;
        assert_int_equal(
            bft_cluster_tls_files(&c, client, id, &f, crt, key, sizeof crt, err, sizeof err), 0);
    }
    /* Two clusters never trust each other: each has its own CA. */
    char out2[128];
    snprintf(out2, sizeof out2, "%s/d", dir);
    o.out_dir = out2;
    assert_int_equal(ctl_keygen(&o, err, sizeof err), 0);
    snprintf(crt, sizeof crt, "%s/keys/replica-0.crt", out2);
    snprintf(key, sizeof key, "%s/keys/replica-0.key", out2);
    assert_int_equal(crypto_x509_check(c.tls_ca, crt, key, "replica-0", err, sizeof err), -1);
    assert_non_null(strstr(err, "not signed by the cluster CA"));
    bft_cluster_free(&c);

    /* Without --tls: no certificates, the direct transport's addresses
     * (net/direct.h), or nng's tcp:// with --transport nng. */
    char out3[128];
    snprintf(out3, sizeof out3, "%s/e", dir);
    o.out_dir = out3;
    o.tls = false;
    assert_int_equal(ctl_keygen(&o, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/cluster.json", out3);
    assert_int_equal(bft_cluster_load(&c, path, err, sizeof err), 0);
    assert_false(c.tls);
    assert_string_equal(c.replicas[0].address, "tcp+direct://127.0.0.1:7000");
    snprintf(path, sizeof path, "%s/keys/ca.crt", out3);
    assert_int_equal(access(path, F_OK), -1);
    bft_cluster_free(&c);
    o.transport = CTL_TRANSPORT_NNG;
    assert_int_equal(ctl_keygen(&o, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/cluster.json", out3);
    assert_int_equal(bft_cluster_load(&c, path, err, sizeof err), 0);
    assert_string_equal(c.replicas[0].address, "tcp://127.0.0.1:7000");
    bft_cluster_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_keygen_tls)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
