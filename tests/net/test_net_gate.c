/* net/gate.c and the transport's socket renewal (net/gate.h): a PUSH
 * socket carries one connection; when it goes, the gate shuts (no frame is
 * handed to the socket again, no new connection is admitted) and the
 * transport replaces the socket, so the peer comes back on a new one.
 * Why: nng 1.5.2 can leave a freed connection on a PUSH socket's ready list
 * (nanomsg/nng#1653); see net/gate.h for the crashes it caused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/util/platform.h>

#include "net/gate.h"
#include "net/net.h"
#include "net/sendq.h"

#define WAIT_MS 5000

static void free_url(char *url, size_t len)
{
    char err[256];
    for (int tries = 0; tries < 50; tries++) {
        snprintf(url, len, "tcp://127.0.0.1:%d", 20000 + rand() % 40000);
        struct net_transport *t;
        if (net_open(&t, url, err, sizeof err) == 0) {
            net_close(t);
            return;
        }
    }
    fail_msg("no free tcp port");
}

static nng_socket pull_on(const char *url)
{
    nng_socket s;
    assert_int_equal(nng_pull0_open(&s), 0);
    int rv = -1;
    for (int i = 0; i < 100 && rv != 0; i++)
        if ((rv = nng_listen(s, url, NULL, 0)) != 0) nng_msleep(20);
    assert_int_equal(rv, 0);
    return s;
}

static bool wait_ups(struct net_gate *g, unsigned want)
{
    uint64_t end = net_now_ms() + WAIT_MS;
    while (atomic_load(&g->ups) < want && net_now_ms() < end)
        nng_msleep(5);
    return atomic_load(&g->ups) >= want;
}

/* The gate alone on a real socket: open while its connection lives, shut
 * once it goes; a shut gate refuses sends and later connections. */
static void test_gate_shuts_when_its_connection_goes(void **state)
{
    (void)state;
    char url[64];
    free_url(url, sizeof url);
    nng_socket pull = pull_on(url);

    nng_socket push;
    assert_int_equal(nng_push0_open(&push), 0);
    struct net_gate *g = net_gate_new(NULL);
    assert_non_null(g);
    assert_int_equal(net_gate_watch(g, push), 0);
    nng_dialer d;
    assert_int_equal(nng_dialer_create(&d, push, url), 0);
    g->dialer = d;
    assert_int_equal(nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, 20), 0);
    assert_int_equal(nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, 40), 0);
    assert_int_equal(nng_dialer_start(d, NNG_FLAG_NONBLOCK), 0);
    assert_true(wait_ups(g, 1));
    assert_false(net_gate_is_shut(g));
    assert_true(net_gate_enter(g));
    assert_int_equal(nng_send(push, "x", 1, 0), 0);
    net_gate_leave(g);
    char *buf;
    size_t len;
    assert_int_equal(nng_recv(pull, &buf, &len, NNG_FLAG_ALLOC), 0);
    nng_free(buf, len);

    /* The receiver goes: the connection's removal shuts the gate. */
    nng_close(pull);
    uint64_t end = net_now_ms() + WAIT_MS;
    while (!net_gate_is_shut(g) && net_now_ms() < end)
        nng_msleep(5);
    assert_true(net_gate_is_shut(g));
    assert_false(net_gate_enter(g));
    /* ...and its dialer no longer redials every 20 ms. */
    nng_duration mint = 0;
    assert_int_equal(nng_dialer_get_ms(d, NNG_OPT_RECONNMINT, &mint), 0);
    assert_int_equal(mint, NET_GATE_SHUT_REDIAL_MS);

    /* It comes back; every connection the dialer makes now is refused
     * before it starts: none is counted. */
    pull = pull_on(url);
    nng_msleep(1500);
    assert_int_equal(atomic_load(&g->ups), 1);

    /* A queue behind the shut gate takes no frame. */
    struct net_sendq q;
    assert_int_equal(net_sendq_init(&q, push, g, 1 << 20), 0);
    nng_msg *m;
    assert_int_equal(nng_msg_alloc(&m, 8), 0);
    assert_int_equal(net_sendq_put(&q, m), -1);
    nng_msg_free(m);
    net_sendq_fini(&q);

    nng_close(push);
    net_gate_free(g);
    nng_close(pull);
}

/* Send one 4-byte message and wait for it at b. */
static bool round_trip(struct net_transport *a, struct net_transport *b, uint32_t tag)
{
    uint8_t msg[4];
    memcpy(msg, &tag, 4);
    uint64_t end = net_now_ms() + WAIT_MS;
    while (net_now_ms() < end) {
        assert_int_equal(net_send(a, 1, msg, 4), 0);
        net_flush(a);
        uint8_t *fr;
        size_t len;
        if (net_recv(b, 100, &fr, &len) != 1) continue;
        struct net_frame_iter it;
        assert_int_equal(net_frame_check(fr, len, &it), NET_FRAME_OK);
        const uint8_t *mm;
        size_t ml;
        bool seen = false;
        while (net_frame_next(&it, &mm, &ml))
            if (ml == 4 && memcmp(mm, &tag, 4) == 0) seen = true;
        net_frame_free(fr);
        if (seen) return true;
    }
    return false;
}

/* Through the transport: after its peer restarts, a sender that sends
 * nothing still reconnects (net_peers_up renews the socket; the old one
 * would refuse every connection), and frames flow again. */
static void test_peer_restart_gets_a_new_socket(void **state)
{
    (void)state;
    char url[64], err[256];
    free_url(url, sizeof url);
    struct net_transport *a, *b;
    assert_int_equal(net_open(&a, NULL, err, sizeof err), 0);
    assert_int_equal(net_add_peer(a, 1, url, err, sizeof err), 0);
    assert_int_equal(net_open(&b, url, err, sizeof err), 0);
    assert_true(round_trip(a, b, 1));
    (void)net_peers_up(a); /* the first connection */

    net_close(b);
    int rv = -1;
    for (int i = 0; i < 100 && rv != 0; i++)
        if ((rv = net_open(&b, url, err, sizeof err)) != 0) nng_msleep(20);
    assert_int_equal(rv, 0);
    uint64_t end = net_now_ms() + WAIT_MS, up = 0;
    while (!(up & 2) && net_now_ms() < end) {
        up |= net_peers_up(a);
        nng_msleep(10);
    }
    assert_true(up & 2);
    assert_true(round_trip(a, b, 2));
    net_close(a);
    net_close(b);
}

int main(void)
{
    srand((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gate_shuts_when_its_connection_goes),
        cmocka_unit_test(test_peer_restart_gets_a_new_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
