/* net/: what only the direct transport (tcp+direct://, net/direct.h) does.
 * The transport contract itself (order, coalescing, bounds, dead peers)
 * runs over it as `test_net direct`. Here: frames larger than a read
 * buffer, a restarted peer reconnects and is reported up, a sender that
 * breaks the wire format loses its connection and nobody else's, senders
 * take turns, the inbound connection bound evicts the idlest, and schemes
 * do not mix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/direct.h"
#include "net/net.h"

#define WAIT_MS 5000 /* bound on every wait; the checks are not timing goals */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct net_transport *open_direct(char *url, size_t cap, int *port_out)
{
    char err[256];
    for (int tries = 0; tries < 50; tries++) {
        int port = 20000 + rand() % 40000;
        snprintf(url, cap, "tcp+direct://127.0.0.1:%d", port);
        struct net_transport *t;
        if (net_open(&t, url, err, sizeof err) == 0) {
            if (port_out) *port_out = port;
            return t;
        }
        assert_non_null(strstr(err, "in use")); /* anything else is a real failure */
    }
    fail_msg("no free tcp port");
    return NULL;
}

static struct net_transport *sender_to(const char *url, uint32_t id)
{
    char err[256];
    struct net_transport *t;
    assert_int_equal(net_open(&t, NULL, err, sizeof err), 0);
    assert_int_equal(net_add_peer(t, id, url, err, sizeof err), 0);
    return t;
}

/* One message of `len` bytes, all `v`, as one frame. */
static void send_msg(struct net_transport *t, uint32_t id, uint8_t v, size_t len)
{
    uint8_t *m = malloc(len);
    assert_non_null(m);
    memset(m, v, len);
    assert_int_equal(net_send(t, id, m, len), 0);
    net_flush(t);
    free(m);
}

/* Wait (bounded) for one frame, flushing `pump` meanwhile (a send-only
 * transport finishes its connects and writes in its flushes). Returns the
 * first message's first byte and its length, or -1. */
static int recv_msg(struct net_transport *t, struct net_transport *pump, size_t *mlen)
{
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < WAIT_MS) {
        if (pump) net_flush(pump);
        uint8_t *fr;
        size_t len;
        int rv = net_recv(t, 10, &fr, &len);
        assert_int_not_equal(rv, -1);
        if (rv == 0) continue;
        struct net_frame_iter it;
        assert_int_equal(net_frame_check(fr, len, &it), NET_FRAME_OK);
        const uint8_t *m;
        size_t ml;
        assert_true(net_frame_next(&it, &m, &ml));
        for (size_t i = 0; i < ml; i++)
            assert_int_equal(m[i], m[0]); /* arrived whole */
        int v = m[0];
        if (mlen) *mlen = ml;
        net_frame_free(fr);
        return v;
    }
    return -1;
}

/* Send one-message frames of `v` from a to peer id until b receives one
 * carrying it (a connection may lose what was sent while it went): true,
 * or false after WAIT_MS. Frames of other content are skipped. */
static bool send_until_received(struct net_transport *a, uint32_t id, struct net_transport *b,
                                uint8_t v)
{
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < WAIT_MS) {
        send_msg(a, id, v, 10);
        uint8_t *fr;
        size_t len;
        if (net_recv(b, 20, &fr, &len) != 1) continue;
        struct net_frame_iter it;
        const uint8_t *m;
        size_t ml;
        bool ours = net_frame_check(fr, len, &it) == NET_FRAME_OK && net_frame_next(&it, &m, &ml) &&
                    ml == 10 && m[0] == v;
        net_frame_free(fr);
        if (ours) return true;
    }
    return false;
}

/* Messages up to NET_MSG_MAX cross in one piece, whatever the read
 * buffer's size, and small ones queued behind them follow in order. */
static void test_big_frames(void **state)
{
    (void)state;
    char url[128];
    struct net_transport *b = open_direct(url, sizeof url, NULL);
    struct net_transport *a = sender_to(url, 0);
    const size_t sizes[] = {
        1, NET_DIRECT_RBUF - 40, NET_DIRECT_RBUF, 3 * NET_DIRECT_RBUF + 7, NET_MSG_MAX, 100};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        send_msg(a, 0, (uint8_t)(i + 1), sizes[i]);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t ml = 0;
        assert_int_equal(recv_msg(b, a, &ml), (int)(i + 1));
        assert_int_equal(ml, sizes[i]);
    }
    struct net_peer_stats st;
    net_peer_stats(a, 0, &st);
    assert_int_equal(st.frames_dropped, 0);
    assert_int_equal(st.queued_bytes, 0);
    net_close(a);
    net_close(b);
}

/* A peer that restarts on the same address gets our frames again, and
 * net_peers_up reports each connection once. */
static void test_restarted_peer_reconnects(void **state)
{
    (void)state;
    char url[128], err[256];
    struct net_transport *b = open_direct(url, sizeof url, NULL);
    struct net_transport *a = sender_to(url, 5);
    send_msg(a, 5, 0x11, 10);
    assert_int_equal(recv_msg(b, a, NULL), 0x11);
    assert_int_equal(net_peers_up(a), 1ull << 5);
    assert_int_equal(net_peers_up(a), 0);
    net_close(b);
    assert_int_equal(net_open(&b, url, err, sizeof err), 0);
    /* Frames sent while the peer was away may be lost with the old
     * connection; keep sending until one arrives. */
    assert_true(send_until_received(a, 5, b, 0x22));
    assert_int_equal(net_peers_up(a), 1ull << 5);
    net_close(a);
    net_close(b);
}

/* A raw TCP connection to a direct listener. Closing it resets it (no
 * TIME_WAIT), so the test does not hold ephemeral ports that tests
 * running beside it may want to listen on. */
static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* True once the listener closed fd (bounded wait, keeping `t` turning). */
static bool closed_by_peer(int fd, struct net_transport *t)
{
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < WAIT_MS) {
        uint8_t *fr;
        size_t len;
        if (net_recv(t, 10, &fr, &len) == 1) {
            net_frame_free(fr);
            fail_msg("a frame from a connection that broke the format");
        }
        uint8_t c;
        ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
    }
    return false;
}

/* A wrong hello, a zero length, a length past the bound: that connection
 * is closed and delivers nothing; an honest sender carries on. */
static void test_junk_closes_only_its_connection(void **state)
{
    (void)state;
    char url[128];
    int port;
    struct net_transport *b = open_direct(url, sizeof url, &port);
    struct net_transport *a = sender_to(url, 0);
    send_msg(a, 0, 0x31, 10);
    assert_int_equal(recv_msg(b, a, NULL), 0x31);

    static const uint8_t zero_len[] = {'B', 'F', 'T', 'D', 'I', 'R', '0', '1', 0, 0, 0, 0};
    static const uint8_t too_long[] = {'B', 'F', 'T', 'D', 'I', 'R', '0', '1', 0x7f, 0, 0, 0};
    static const uint8_t bad_hello[] = {'\0', 'S', 'P', '\0', 0, 0x50, 0, 0}; /* nng's */
    const struct {
        const uint8_t *b;
        size_t n;
    } junk[] = {
        {zero_len, sizeof zero_len}, {too_long, sizeof too_long}, {bad_hello, sizeof bad_hello}};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        int fd = raw_connect(port);
        assert_int_equal(send(fd, junk[i].b, junk[i].n, 0), (ssize_t)junk[i].n);
        assert_true(closed_by_peer(fd, b));
        close(fd);
    }
    send_msg(a, 0, 0x32, 10);
    assert_int_equal(recv_msg(b, a, NULL), 0x32);
    net_close(a);
    net_close(b);
}

/* Random bytes on 200 connections, half of them behind a valid hello:
 * whatever they make of it, the listener carries on and an honest sender
 * still gets through (the frames themselves are the checker's business,
 * net_frame_check). */
static void test_random_junk(void **state)
{
    (void)state;
    char url[128];
    int port;
    struct net_transport *b = open_direct(url, sizeof url, &port);
    struct net_transport *a = sender_to(url, 0);
    uint32_t seed = (uint32_t)time(NULL);
    printf("# seed %u\n", seed);
    for (int k = 0; k < 200; k++) {
        uint8_t junk[600];
        size_t n = 1 + rand_r(&seed) % sizeof junk;
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)rand_r(&seed);
        if (k % 2 && n > NET_DIRECT_HELLO_LEN) memcpy(junk, NET_DIRECT_HELLO, NET_DIRECT_HELLO_LEN);
        int fd = raw_connect(port);
        (void)send(fd, junk, n, MSG_NOSIGNAL);
        close(fd);
        uint8_t *fr;
        size_t len;
        while (net_recv(b, 0, &fr, &len) == 1)
            net_frame_free(fr);
    }
    assert_true(send_until_received(a, 0, b, 0x51));
    net_close(a);
    net_close(b);
}

/* Two senders with a backlog each: receives alternate between them, so
 * a busy sender does not crowd out another. */
static void test_senders_take_turns(void **state)
{
    (void)state;
    char url[128];
    struct net_transport *b = open_direct(url, sizeof url, NULL);
    struct net_transport *s1 = sender_to(url, 0), *s2 = sender_to(url, 0);
    /* Both connected before the backlog builds. */
    send_msg(s1, 0, 1, 10);
    send_msg(s2, 0, 2, 10);
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        int v = recv_msg(b, i ? s2 : s1, NULL);
        assert_true(v == 1 || v == 2);
        seen |= v;
    }
    assert_int_equal(seen, 3);
    for (int i = 0; i < 40; i++) {
        send_msg(s1, 0, 1, 1000);
        send_msg(s2, 0, 2, 1000);
    }
    usleep(100000); /* both backlogs are in b's socket buffers */
    int last = 0, switches = 0, n1 = 0, n2 = 0;
    for (int i = 0; i < 80; i++) {
        int v = recv_msg(b, NULL, NULL);
        assert_true(v == 1 || v == 2);
        n1 += v == 1;
        n2 += v == 2;
        switches += last && v != last;
        last = v;
    }
    assert_int_equal(n1, 40);
    assert_int_equal(n2, 40);
    assert_true(switches >= 70); /* strict turns would give 79 */
    net_close(s1);
    net_close(s2);
    net_close(b);
}

/* Past its inbound bound (net_limit_inbound; NET_DIRECT_MAX_INBOUND at
 * most), each newcomer takes the place of the connection that delivered
 * nothing for longest, so idle connections cannot lock an honest peer out:
 * it redials and is back. The bound is lowered for the test: thousands of
 * connections would take as many ephemeral ports from the tests running
 * beside this one. */
static void test_inbound_bound(void **state)
{
    (void)state;
    char url[128], err[256];
    int port;
    struct net_transport *b = open_direct(url, sizeof url, &port);
    assert_int_equal(net_limit_inbound(b, 0), -1);
    assert_int_equal(net_limit_inbound(b, NET_DIRECT_MAX_INBOUND + 1), -1);
    enum { BOUND = 16, EXTRA = 8, N = BOUND + EXTRA };
    assert_int_equal(net_limit_inbound(b, BOUND), 0);
    struct net_transport *nng;
    assert_int_equal(net_open(&nng, NULL, err, sizeof err), 0);
    assert_int_equal(net_add_peer(nng, 0, "tcp://127.0.0.1:9", err, sizeof err), 0);
    assert_int_equal(net_limit_inbound(nng, BOUND), -1); /* nng has no such bound */
    net_close(nng);

    struct net_transport *a = sender_to(url, 0);
    send_msg(a, 0, 0x41, 10);
    assert_int_equal(recv_msg(b, a, NULL), 0x41);
    int fds[N];
    for (int n = 0; n < N; n++) {
        fds[n] = raw_connect(port);
        uint8_t *fr;
        size_t len;
        if (net_recv(b, 5, &fr, &len) == 1) net_frame_free(fr); /* accept as we go */
    }
    /* The honest sender's connection was the idlest: it went first, and it
     * comes back by redialling, evicting an idle one in turn. */
    assert_true(send_until_received(a, 0, b, 0x42));
    /* N raw + a = EXTRA + 1 over the bound: a went first, then EXTRA raw
     * ones (oldest first), and one more for a's return. */
    int closed = 0, first_open = -1;
    for (int i = 0; i < N; i++) {
        uint8_t c;
        ssize_t r = recv(fds[i], &c, 1, MSG_DONTWAIT);
        bool gone = r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
        closed += gone;
        if (!gone && first_open < 0) first_open = i;
    }
    assert_int_equal(closed, EXTRA + 1);
    assert_int_equal(first_open, EXTRA + 1);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    net_close(a);
    net_close(b);
}

static void test_schemes_do_not_mix(void **state)
{
    (void)state;
    char url[128], err[256];
    struct net_transport *b = open_direct(url, sizeof url, NULL);
    assert_int_equal(net_add_peer(b, 1, "tcp://127.0.0.1:9", err, sizeof err), -1);
    assert_non_null(strstr(err, "tcp+direct://"));
    assert_int_equal(net_add_peer(b, 1, "tcp+direct://127.0.0.1:9", err, sizeof err), 0);
    net_close(b);

    struct net_transport *s;
    assert_int_equal(net_open(&s, NULL, err, sizeof err), 0);
    assert_int_equal(net_add_peer(s, 0, "tcp://127.0.0.1:9", err, sizeof err), 0);
    assert_int_equal(net_add_peer(s, 1, "tcp+direct://127.0.0.1:9", err, sizeof err), -1);
    assert_non_null(strstr(err, "tcp+direct://"));
    net_close(s);

    /* Bad addresses are clear errors. */
    assert_int_equal(net_open(&s, "tcp+direct://127.0.0.1", err, sizeof err), -1);
    assert_non_null(strstr(err, "HOST:PORT"));
    assert_int_equal(net_open(&s, "tcp+direct://127.0.0.1:99999", err, sizeof err), -1);
    assert_non_null(strstr(err, "bad port"));
    assert_int_equal(net_open(&s, NULL, err, sizeof err), 0);
    assert_int_equal(net_add_peer(s, 0, "tcp+direct://no.such.host.invalid:1", err, sizeof err),
                     -1);
    assert_false(net_has_peer(s, 0));
    net_close(s);
}

int main(void)
{
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_frames),
        cmocka_unit_test(test_restarted_peer_reconnects),
        cmocka_unit_test(test_junk_closes_only_its_connection),
        cmocka_unit_test(test_random_junk),
        cmocka_unit_test(test_senders_take_turns),
        cmocka_unit_test(test_inbound_bound),
        cmocka_unit_test(test_schemes_do_not_mix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
