/* tests/runtime/replica_fixture.h: a cluster dir and a client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/cluster.h"
#include "crypto/crypto.h"
#include "tests/runtime/replica_fixture.h"

uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool port_free(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* n replica ports at base.. and the client's at base+99, all free, below
 * the usual ephemeral range (a dialer cannot take them meanwhile). */
static uint16_t pick_base(uint32_t n)
{
    srand((unsigned)(getpid() ^ time(NULL)));
    for (int tries = 0; tries < 200; tries++) {
        uint16_t base = (uint16_t)(20000 + (rand() % 100) * 100);
        bool ok = port_free((uint16_t)(base + 99));
        for (uint32_t i = 0; ok && i < n; i++)
            ok = port_free((uint16_t)(base + i));
        if (ok) return base;
    }
    return 0;
}

/* What `bftctl keygen` writes: cluster.json and one PEM key per replica
 * and client, in a fresh temp dir. */
void make_cluster(struct cluster_dir *cd, int protocol, uint32_t n)
{
    snprintf(cd->dir, sizeof cd->dir, "/tmp/bft-replica-api.XXXXXX");
    assert_non_null(mkdtemp(cd->dir));
    snprintf(cd->cfg, sizeof cd->cfg, "%s/cluster.json", cd->dir);
    cd->n = n;
    uint16_t base = pick_base(n);
    assert_true(base != 0);
    struct bft_cluster c;
    memset(&c, 0, sizeof c);
    snprintf(c.dir, sizeof c.dir, "%s", cd->dir);
    snprintf(c.keys_dir, sizeof c.keys_dir, "%s/keys", cd->dir);
    assert_int_equal(mkdir(c.keys_dir, 0700), 0);
    c.cluster_id = 0x15aa15aa00000000ull | base;
    c.protocol = protocol;
    c.n = n;
    c.f = protocol == BFT_PROTO_RAFT ? (n - 1) / 2 : (n - 1) / 3;
    snprintf(c.app, sizeof c.app, "counter"); /* the app the options give */
    c.batch_max = 16;
    c.n_clients = 1;
    c.clients = calloc(1, sizeof *c.clients);
    assert_non_null(c.clients);
    char path[700], err[512];
    struct crypto_keypair kp;
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(crypto_keypair_generate(&kp), 0);
        c.replicas[i].id = i;
        snprintf(c.replicas[i].address, sizeof c.replicas[i].address, "tcp://127.0.0.1:%u",
                 (unsigned)(base + i));
        memcpy(c.replicas[i].pk, kp.pk, CRYPTO_PK_LEN);
        bft_cluster_replica_key_path(&c, i, path, sizeof path);
        assert_int_equal(crypto_key_write_pem(path, &kp, err, sizeof err), 0);
    }
    assert_int_equal(crypto_keypair_generate(&kp), 0);
    snprintf(c.clients[0].address, sizeof c.clients[0].address, "tcp://127.0.0.1:%u",
             (unsigned)(base + 99));
    memcpy(c.clients[0].pk, kp.pk, CRYPTO_PK_LEN);
    bft_cluster_client_key_path(&c, 0, path, sizeof path);
    assert_int_equal(crypto_key_write_pem(path, &kp, err, sizeof err), 0);
    assert_int_equal(bft_cluster_save(&c, cd->cfg, err, sizeof err), BFT_E_OK);
    free(c.clients);
}

void remove_cluster(const struct cluster_dir *cd)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cd->dir);
    assert_int_equal(system(cmd), 0);
}

static void c_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    struct cli *k = ctx;
    net_send(k->net, replica, msg, len);
}

static void c_done(void *ctx, uint64_t id, const uint8_t *res, size_t len)
{
    struct cli *k = ctx;
    if (id != k->want) return;
    k->done = true;
    k->res_len = len;
    memcpy(k->res, res, len);
}

void open_client(const struct cluster_dir *cd, struct cli *k)
{
    struct bft_cluster cl;
    char err[512], path[700];
    assert_int_equal(bft_cluster_load(&cl, cd->cfg, err, sizeof err), BFT_E_OK);
    struct bft_client_config cc = {.protocol = cl.protocol,
                                   .n = cl.n,
                                   .f = cl.f,
                                   .id = 0,
                                   .cluster_id = cl.cluster_id,
                                   .retransmit_ms = 300,
                                   .envelope = 1,
                                   .max_outstanding = 2};
    for (uint32_t i = 0; i < cl.n; i++)
        memcpy(cc.replica_pk[i], cl.replicas[i].pk, CRYPTO_PK_LEN);
    bft_cluster_client_key_path(&cl, 0, path, sizeof path);
    assert_int_equal(crypto_key_read_pem(path, &cc.key, err, sizeof err), 0);
    assert_int_equal(net_open(&k->net, cl.clients[0].address, err, sizeof err), 0);
    for (uint32_t i = 0; i < cl.n; i++)
        assert_int_equal(net_add_peer(k->net, i, cl.replicas[i].address, err, sizeof err), 0);
    struct bft_client_host h = {.ctx = k, .send = c_send, .done = c_done};
    assert_int_equal(bft_client_create(&k->c, &cc, &h), BFT_E_OK);
    bft_cluster_free(&cl);
}

bool client_wait(struct cli *k)
{
    uint64_t deadline = mono_ms() + OP_TIMEOUT_MS;
    bft_client_flush(k->c, mono_ms());
    net_flush(k->net);
    while (!k->done && mono_ms() < deadline) {
        uint8_t *frame;
        size_t len;
        if (net_recv(k->net, 5, &frame, &len) == 1) {
            struct net_frame_iter it;
            if (net_frame_check(frame, len, &it) == NET_FRAME_OK) {
                const uint8_t *m;
                size_t ml;
                while (net_frame_next(&it, &m, &ml))
                    bft_client_on_reply(k->c, m, ml, mono_ms());
            }
            net_frame_free(frame);
        }
        bft_client_tick(k->c, mono_ms());
        net_flush(k->net);
    }
    return k->done;
}
